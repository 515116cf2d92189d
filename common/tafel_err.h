/*
 * tafel_err.h - the one list of Tafel's error codes.
 *
 * Every module reports failure as an `enum tafel_err`. The list below is the
 * single source: it generates the enum, tafel_strerror() (a sentence for logs
 * and humans), tafel_err_name() (a stable identifier for logs) and
 * tafel_err_wire() (the wire code of ../shared/PROTOCOL.md that the server
 * sends). Adding an error is adding one line here; nothing can drift.
 *
 * Internal conditions (out of memory, I/O, map full, ...) map onto the wire
 * codes a client can act on: the client never sees LMDB or libc detail.
 */
#ifndef TAFEL_ERR_H
#define TAFEL_ERR_H

#include <stddef.h>

/* X(NAME, wire code, description) */
#define TAFEL_ERR_LIST(X)                                                         \
    X(OK, "ok", "success")                                                        \
    X(BAD_REQUEST, "bad_request", "malformed or invalid request")                 \
    X(UNAUTHORIZED, "unauthorized", "not authenticated")                          \
    X(FORBIDDEN, "forbidden", "not permitted for this role or opgave")            \
    X(NOT_FOUND, "not_found", "no such document")                                 \
    X(CONFLICT, "conflict", "stale revision or already exists")                   \
    X(TOO_LARGE, "too_large", "message or value too large")                       \
    X(RATE_LIMITED, "rate_limited", "too many requests, slow down")               \
    X(UNAVAILABLE, "unavailable", "temporarily unavailable")                      \
    X(INTERNAL, "internal", "internal error")                                     \
    /* Internal conditions below; each maps to one of the wire codes above. */    \
    X(BAD_UTF8, "bad_request", "invalid UTF-8")                                   \
    X(NOMEM, "internal", "out of memory")                                         \
    X(IO, "internal", "storage I/O error")                                        \
    X(MAP_FULL, "unavailable", "storage full: map size ceiling reached")          \
    X(NO_SPACE, "unavailable", "storage full: no space left on device")           \
    X(SCHEMA_VERSION, "internal", "data directory has another schema version")    \
    X(EXISTS, "conflict", "already exists")                                       \
    X(TRIMMED, "not_found", "changes older than the retained log were asked for") \
    X(KEY_REVOKED, "unauthorized", "access key revoked")                          \
    X(KEY_EXPIRED, "unauthorized", "access key expired")                          \
    X(INVALID_ARG, "internal", "invalid argument to an internal call")            \
    X(BUSY, "unavailable", "data directory in use by another process")

enum tafel_err {
#define TAFEL_ERR_ENUM(name, wire, desc) TAFEL_E_##name,
    TAFEL_ERR_LIST(TAFEL_ERR_ENUM)
#undef TAFEL_ERR_ENUM
        TAFEL_E__COUNT
};

/** @brief A sentence describing @p err; static storage, never NULL. */
const char *tafel_strerror(enum tafel_err err);

/** @brief The error's stable name, e.g. "MAP_FULL"; static storage, never NULL. */
const char *tafel_err_name(enum tafel_err err);

/** @brief The wire code of ../shared/PROTOCOL.md for @p err, e.g. "conflict";
 *  static storage, never NULL. Out-of-range values give "internal". */
const char *tafel_err_wire(enum tafel_err err);

/**
 * Detail that travels with an error: which field was wrong and a human
 * sentence. Fixed-size so that filling it never allocates (and so never fails);
 * text is truncated to fit. Used by protocol/ and storage/ alike.
 */
struct tafel_errinfo {
    enum tafel_err code;
    char field[64];    /* offending field's name (dotted path), "" if none */
    char message[256]; /* human readable, sanitised: printable ASCII/UTF-8 only */
};

/** @brief Set @p info (may be NULL) to @p code with printf-style message;
 *  @p field may be NULL. Returns @p code, so `return tafel_errinfo_set(...)`. */
enum tafel_err tafel_errinfo_set(struct tafel_errinfo *info, enum tafel_err code, const char *field,
                                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/** @brief Reset @p info to TAFEL_E_OK with empty field and message. */
void tafel_errinfo_clear(struct tafel_errinfo *info);

#endif /* TAFEL_ERR_H */
