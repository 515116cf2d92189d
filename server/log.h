/*
 * log.h - tafeld's log: one event a line on stderr.
 *
 * Lines look like `2026-11-23T09:15:02.123Z info conn=12 hello role=partner`.
 * Callers never pass a key, a join code or document text: log what happened
 * and to what (ids), not the secrets or the contents.
 */
#ifndef TAFEL_SERVER_LOG_H
#define TAFEL_SERVER_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum tafel_log_level { TAFEL_LOG_ERROR, TAFEL_LOG_WARN, TAFEL_LOG_INFO, TAFEL_LOG_DEBUG };

/** @brief Set the threshold (process-wide; set once at start-up). */
void tafel_log_set_level(enum tafel_log_level level);

/** @brief Parse "error|warn|info|debug"; false if @p s is none of them. */
bool tafel_log_level_parse(const char *s, enum tafel_log_level *out);

/** @brief Write one line if @p level passes the threshold. Thread-safe
 *  (one fprintf per line). */
void tafel_log(enum tafel_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * @brief Copy @p in to @p out (@p n bytes, NUL-terminated, truncated to fit)
 * with every byte that is not printable (C0/C1 controls, DEL, invalid UTF-8)
 * written as \\xHH. Every log line passes through it; returns @p out.
 */
const char *tafel_log_escape(const char *in, char *out, size_t n);

#define log_error(...) tafel_log(TAFEL_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  tafel_log(TAFEL_LOG_WARN, __VA_ARGS__)
#define log_info(...)  tafel_log(TAFEL_LOG_INFO, __VA_ARGS__)
#define log_debug(...) tafel_log(TAFEL_LOG_DEBUG, __VA_ARGS__)

#endif
