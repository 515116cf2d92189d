/*
 * protocol_internal.h - helpers shared by the files of protocol/ only.
 *
 * The pre-scan (json_scan.c), the schema (schema.c) and the message parser
 * (protocol.c) agree on what a UTF-8 sequence, an id and an acceptable piece
 * of text are; these declarations keep that knowledge in one place. Not
 * installed, not for other modules: the `tafel__` prefix marks them internal.
 */
#ifndef TAFEL_PROTOCOL_INTERNAL_H
#define TAFEL_PROTOCOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "tafel_protocol.h"

/** Deepest nesting the pre-scan can track, whatever the limits ask for. */
#define TAFEL_SCAN_MAX_DEPTH 64

/** Longest id: documents, actors, keys. */
#define TAFEL_ID_MAX 64

/** @brief Length of the valid UTF-8 sequence starting at @p p (@p n bytes
 *  available), or 0 if it is invalid, overlong, a surrogate or truncated. */
size_t tafel__utf8_seq(const unsigned char *p, size_t n);

/**
 * @brief The pre-scan: bound @p buf before jansson builds anything.
 *
 * One pass, no allocation. Checks size, UTF-8, NUL (raw or \u0000), nesting
 * depth, string bytes (decoded), array items and object members against
 * @p lim. Garbage that is not JSON passes if it breaks no limit: jansson
 * judges the grammar afterwards.
 * @return TAFEL_E_OK, TAFEL_E_TOO_LARGE, TAFEL_E_BAD_UTF8 or TAFEL_E_BAD_REQUEST.
 */
enum tafel_err tafel__json_scan(const char *buf, size_t len, const struct tafel_limits *lim,
                                struct tafel_errinfo *info);

/** @brief True if @p s (@p len bytes) is an id: 1..64 of [A-Za-z0-9_-]. */
bool tafel__id_valid(const char *s, size_t len);

/**
 * @brief Check user text (@p len bytes of valid UTF-8) for control
 * characters: C0, DEL and C1 are refused, except \n and \t when
 * @p multiline. Writes the number of code points to *@p cps.
 * @return true if the text has no forbidden character.
 */
bool tafel__text_ok(const char *s, size_t len, bool multiline, size_t *cps);

/** A display name a person can read as what it is: no bidi controls (they
 *  make one name show as another) and at least one visible character.
 *  @p s is valid UTF-8. */
bool tafel__name_ok(const char *s, size_t len);

/** @brief Index of @p s in the NULL-terminated @p words, or -1 (also for
 *  a NULL @p s). */
int tafel__word_index(const char *const *words, const char *s);

/** @brief Write @p words as "a|b|c" into @p buf (truncated to @p size);
 *  returns @p buf. For error messages. */
const char *tafel__join_words(const char *const *words, char *buf, size_t size);

/**
 * @brief Check one value @p val against the field definition @p f, as
 * tafel_schema_validate() checks a member of a document (type, limits,
 * items; not flags, not presence). `info->field` is "@p prefix.name".
 * For the unit tests: a field type can be tested on a field of their own
 * before any kind of the table uses it.
 */
enum tafel_err tafel__schema_check_field(const struct tafel_field *f, const json_t *val,
                                         const char *prefix, struct tafel_errinfo *info);

#endif /* TAFEL_PROTOCOL_INTERNAL_H */
