/*
 * tafel_schema.h - the kinds of document Tafel stores, as one table.
 *
 * Each kind of ../shared/PROTOCOL.md (opgave actielijn activiteit indicator
 * meting reflectie sessie moment lid) is a row: its fields with type,
 * limits, enumeration and flags. Validation, the CLI's generic commands and
 * docs/data-model.md all follow this table; a new kind is a new row, never a
 * new file of near-identical code. Pure C + jansson, no I/O.
 *
 * Common fields (id kind rev opgave created_at updated_at by created_by) are the
 * server's: a client may send `id`, `kind`, `rev` and (on create) `opgave`,
 * never the others. They are described by tafel_schema_common_fields().
 */
#ifndef TAFEL_SCHEMA_H
#define TAFEL_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_err.h"

enum tafel_kind {
    TAFEL_KIND_OPGAVE,
    TAFEL_KIND_ACTIELIJN,
    TAFEL_KIND_ACTIVITEIT,
    TAFEL_KIND_INDICATOR,
    TAFEL_KIND_METING,
    TAFEL_KIND_REFLECTIE,
    TAFEL_KIND_SESSIE,
    TAFEL_KIND_MOMENT,
    TAFEL_KIND_LID,
    TAFEL_KIND__COUNT
};

enum tafel_ftype {
    TAFEL_F_STRING,    /* UTF-8 string, min_len..max_len code points, no control chars but \n\t */
    TAFEL_F_ENUM,      /* string, one of `values` */
    TAFEL_F_ENUM_SET,  /* array of distinct strings, each one of `values`, at most max_len items */
    TAFEL_F_INT,       /* JSON integer within min..max */
    TAFEL_F_NUMBER,    /* JSON integer or real within min..max, finite */
    TAFEL_F_BOOL,      /* true/false */
    TAFEL_F_DATE,      /* "YYYY-MM-DD", a real calendar date */
    TAFEL_F_DATETIME,  /* RFC 3339 timestamp */
    TAFEL_F_REF,       /* id of a document of kind `ref`, same opgave (checked by the server) */
    TAFEL_F_FEELINGS,  /* object: actor id -> integer -2..+2 (gevoelsgrafiek) */
    TAFEL_F_STRING_SET /* array of distinct strings (ids), at most max_len items of <=64 bytes */
};

/* Field flags. */
#define TAFEL_FF_REQUIRED  0x01u /* must be present (and non-null) in a full document */
#define TAFEL_FF_SERVER    0x02u /* set by the server only; a client sending it gets bad_request */
#define TAFEL_FF_MODERATE  0x04u /* only a moderator of the opgave may set or change it */
#define TAFEL_FF_IMMUTABLE 0x08u /* may be set on create, never changed afterwards */
#define TAFEL_FF_ID        0x10u /* STRING: an id, 1..64 characters of [A-Za-z0-9_-] */

struct tafel_field {
    const char *name;
    enum tafel_ftype type;
    unsigned flags;
    int64_t min_len, max_len;  /* STRING: code points; ENUM_SET/STRING_SET: items */
    double min, max;           /* INT, NUMBER */
    const char *const *values; /* ENUM, ENUM_SET: NULL-terminated */
    enum tafel_kind ref;       /* REF: the referenced kind */
    const char *doc;           /* one line for docs and --help, English */
    const char *doc_nl;        /* the same in Dutch, for the CLI and page */
};

struct tafel_kind_def {
    enum tafel_kind kind;
    const char *name;   /* wire name, e.g. "opgave" */
    const char *doc;    /* one line, English */
    const char *doc_nl; /* one line, Dutch */
    const struct tafel_field *fields;
    size_t nfields;
};

/** @brief The definition of @p kind; static storage. NULL if out of range. */
const struct tafel_kind_def *tafel_schema_kind(enum tafel_kind kind);

/** @brief Look up a kind by wire name; NULL (not an error code) if unknown. */
const struct tafel_kind_def *tafel_schema_kind_by_name(const char *name);

/** @brief The field @p name of @p def, or NULL. */
const struct tafel_field *tafel_schema_field(const struct tafel_kind_def *def, const char *name);

/** @brief The common fields every document has (id kind rev opgave
 *  created_at updated_at by created_by), as a table; *n receives the count. */
const struct tafel_field *tafel_schema_common_fields(size_t *n);

/** How a document reaches validation. */
enum tafel_validate_mode {
    TAFEL_V_CREATE,  /* put without id: full document, client fields only, no id/rev */
    TAFEL_V_REPLACE, /* put with id: full document, `id` and `rev` required */
    TAFEL_V_PATCH,   /* patch `set`: any subset of client fields; null removes an optional field */
    TAFEL_V_STORED   /* a complete stored document: every field, server fields included */
};

/**
 * @brief Check @p doc against the schema row of @p kind.
 *
 * Unknown fields, wrong types, values outside limits or enumerations, a
 * missing required field (not in PATCH) and server fields (except in STORED)
 * are errors: returns TAFEL_E_BAD_REQUEST (TAFEL_E_TOO_LARGE for a string or
 * array over its limit) with `info->field` naming the field ("doc.title";
 * "set.title" in PATCH mode). TAFEL_E_NOMEM only when the distinctness
 * check of a set cannot allocate. @p doc is not changed. In PATCH mode an
 * IMMUTABLE field is refused; in REPLACE mode compare with the stored
 * document with tafel_schema_touches_flag(). Moderation flags are not
 * checked here: see tafel_schema_touches_flag().
 */
enum tafel_err tafel_schema_validate(enum tafel_kind kind, const json_t *doc,
                                     enum tafel_validate_mode mode, struct tafel_errinfo *info);

/**
 * @brief True if applying @p set (a patch, or a full new document when
 * @p current is NULL or for a replace) would set or change any field carrying
 * @p flag (e.g. TAFEL_FF_MODERATE) relative to @p current (may be NULL).
 * Writes the first such field's name to *field (static storage) if non-NULL.
 * @p set is read as a full document (a field it lacks is removed) when
 * @p current is NULL or @p set has an `id` (a replace; a patch's `set` never
 * has one), otherwise as a patch (a field it lacks is unchanged). JSON null
 * counts as absent.
 */
bool tafel_schema_touches_flag(enum tafel_kind kind, const json_t *current, const json_t *set,
                               unsigned flag, const char **field);

#endif /* TAFEL_SCHEMA_H */
