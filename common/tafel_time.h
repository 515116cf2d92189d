/*
 * tafel_time.h - wall-clock time as Tafel stores and sends it.
 *
 * Documents carry RFC 3339 UTC timestamps with millisecond precision
 * ("2026-11-23T09:15:02.123Z"); internally time is int64 milliseconds since
 * the Unix epoch, so that it can be passed in (tests choose the clock).
 */
#ifndef TAFEL_TIME_H
#define TAFEL_TIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Size of a buffer that holds any timestamp tafel_time_format() writes. */
#define TAFEL_TIME_STRLEN 40

/** @brief Milliseconds since the epoch, from CLOCK_REALTIME. */
int64_t tafel_time_now_ms(void);

/** @brief Milliseconds from CLOCK_MONOTONIC, for durations and deadlines. */
int64_t tafel_time_mono_ms(void);

/** @brief Write @p ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into @p buf
 *  (at least TAFEL_TIME_STRLEN bytes); years are clamped to 0000..9999.
 *  Returns @p buf. */
char *tafel_time_format(int64_t ms, char *buf);

/** @brief Parse an RFC 3339 timestamp (UTC "Z" or a numeric offset, optional
 *  fraction) into milliseconds. Returns false if @p s is not one. */
bool tafel_time_parse(const char *s, int64_t *ms);

/** @brief True if @p s is a valid calendar date "YYYY-MM-DD" (years
 *  1900..2999, real month lengths, leap years). */
bool tafel_date_valid(const char *s);

/** @brief Parse a duration: a number (a decimal fraction allowed, no sign)
 *  and a unit, s m h d w or y (365 days), e.g. "30d", "1.5h"; "0" is 0; a
 *  bare number is seconds only when @p bare_seconds. Longer than 1000 years
 *  is refused. Returns false if @p s is not one. */
bool tafel_duration_parse(const char *s, bool bare_seconds, int64_t *ms);

#endif /* TAFEL_TIME_H */
