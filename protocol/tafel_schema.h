/*
 * tafel_schema.h - the kinds of document Tafel stores, as one table.
 *
 * Each kind of ../shared/PROTOCOL.md is a row (TAFEL_KIND_LIST below names
 * them): its fields with type, limits, enumeration and flags, its labels in
 * Dutch and English, its permission cells (role x action) and whether its
 * writes are audited. Validation (here), the permission checks (server/
 * perm.c), GET /schema.json (the page builds its forms, labels and buttons
 * from it), the CLI's generic commands and docs/data-model.md and
 * docs/permissions.md (tafeld schema --markdown) all follow this table: a
 * new kind is one line in TAFEL_KIND_LIST and one row in schema.c, never a
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

/* X(ENUM, "wire name") - every kind, in table order (the order of
 * /schema.json, of the docs and of `tafel --help`). A new kind is a line
 * here and its row in schema.c; tests/unit/test_schema.c fails until the
 * row is complete (labels, every permission cell). */
#define TAFEL_KIND_LIST(X)      \
    X(OPGAVE, "opgave")         \
    X(ACTIELIJN, "actielijn")   \
    X(ACTIVITEIT, "activiteit") \
    X(INDICATOR, "indicator")   \
    X(METING, "meting")         \
    X(REFLECTIE, "reflectie")   \
    X(SESSIE, "sessie")         \
    X(MOMENT, "moment")         \
    X(LID, "lid")               \
    X(BESLUIT, "besluit")

enum tafel_kind {
#define TAFEL_KIND_ENUM(e, wire) TAFEL_KIND_##e,
    TAFEL_KIND_LIST(TAFEL_KIND_ENUM)
#undef TAFEL_KIND_ENUM
        TAFEL_KIND__COUNT
};

/* ----------------------------------------------------------------- roles */

/* Who a connection is (the role of its key, or inwoner after a join). */
enum tafel_role {
    TAFEL_ROLE_BEHEERDER,    /* administrator */
    TAFEL_ROLE_OPGAVELEIDER, /* mission lead, moderates its opgaven */
    TAFEL_ROLE_PARTNER,      /* member organisation */
    TAFEL_ROLE_INWONER,      /* inhabitant, joined a session by code */
    TAFEL_ROLE_WAARNEMER,    /* observer: reads only */
    TAFEL_ROLE__COUNT
};

/** @brief Wire name of @p role ("beheerder", ...); NULL if out of range. */
const char *tafel_role_name(enum tafel_role role);

/** @brief Role by wire name; false if @p name is not one. */
bool tafel_role_from_name(const char *name, enum tafel_role *role);

/** @brief The label of @p role for people ("Beheerder" / "Administrator"),
 *  Dutch unless @p english; static storage, NULL if out of range. */
const char *tafel_role_label(enum tafel_role role, bool english);

/* ----------------------------------------------------------- permissions */

/* X(ENUM, "name") - what a role may do with a document of a kind. */
#define TAFEL_ACTION_LIST(X) \
    X(READ, "read")          \
    X(CREATE, "create")      \
    X(UPDATE, "update")      \
    X(DELETE, "delete")      \
    X(MODERATE, "moderate")

enum tafel_action {
#define TAFEL_ACTION_ENUM(e, name) TAFEL_ACT_##e,
    TAFEL_ACTION_LIST(TAFEL_ACTION_ENUM)
#undef TAFEL_ACTION_ENUM
        TAFEL_ACT__COUNT
};

/** @brief "read", "create", ...; NULL if out of range. */
const char *tafel_action_name(enum tafel_action action);

/**
 * A permission cell. UNSET is 0 on purpose: a cell a row forgets is UNSET,
 * which the unit tests refuse (and tafel_perm_cell() treats as NO), so that
 * a forgotten cell is caught rather than denying (or allowing) by accident.
 */
enum tafel_perm {
    TAFEL_PERM_UNSET, /* not written in the row: a bug */
    TAFEL_PERM_NO,
    TAFEL_PERM_YES,
    TAFEL_PERM_OWN /* only documents the actor created (created_by == actor id) */
};

/** @brief "yes", "no", "own" ("unset" for TAFEL_PERM_UNSET or out of range). */
const char *tafel_perm_name(enum tafel_perm perm);

/* ---------------------------------------------------------------- fields */

enum tafel_ftype {
    TAFEL_F_STRING,     /* UTF-8 string, min_len..max_len code points, no control chars but \n\t */
    TAFEL_F_ENUM,       /* string, one of `values` */
    TAFEL_F_ENUM_SET,   /* array of distinct strings, each one of `values`, at most max_len items */
    TAFEL_F_INT,        /* JSON integer within min..max */
    TAFEL_F_NUMBER,     /* JSON integer or real within min..max, finite */
    TAFEL_F_BOOL,       /* true/false */
    TAFEL_F_DATE,       /* "YYYY-MM-DD", a real calendar date */
    TAFEL_F_DATETIME,   /* RFC 3339 timestamp */
    TAFEL_F_REF,        /* id of a document of kind `ref`, same opgave (checked by the server) */
    TAFEL_F_FEELINGS,   /* object: actor id -> integer min..max (gevoelsgrafiek), max_len members */
    TAFEL_F_STRING_SET, /* array of distinct strings (ids), at most max_len items of <=64 bytes */
    TAFEL_F_REF_SET     /* array of distinct ids, each of a document of kind `ref` in the same
                           opgave (checked by the server), at most max_len items */
};

/** @brief The type's name in /schema.json ("string", "enum_set", ...). */
const char *tafel_ftype_name(enum tafel_ftype type);

/* Field flags. */
#define TAFEL_FF_REQUIRED  0x01u /* must be present (and non-null) in a full document */
#define TAFEL_FF_SERVER    0x02u /* set by the server only; a client sending it gets bad_request */
#define TAFEL_FF_MODERATE  0x04u /* only a moderator of the opgave may set or change it */
#define TAFEL_FF_IMMUTABLE 0x08u /* may be set on create, never changed afterwards */
#define TAFEL_FF_ID        0x10u /* STRING: an id, 1..64 characters of [A-Za-z0-9_-] */
#define TAFEL_FF_SECRET                                               \
    0x20u /* read only by the opgave's moderators and by the inwoners \
             joined to this very document (a session's join code) */

/** One value of an enumeration: the wire word (Dutch, as the users speak)
 *  and its label for people. The values of the common field `kind` have NULL
 *  labels: theirs are the kinds' own (see tafel_schema_value_label()). */
struct tafel_enum_value {
    const char *value;
    const char *label_nl;
    const char *label_en;
};

struct tafel_field {
    const char *name;
    enum tafel_ftype type;
    unsigned flags;
    int64_t min_len,
        max_len; /* STRING: code points; ENUM_SET, STRING_SET, REF_SET: items; FEELINGS: members */
    double min, max;                       /* INT, NUMBER; FEELINGS: each value */
    const struct tafel_enum_value *values; /* ENUM, ENUM_SET: ends with {NULL} */
    enum tafel_kind ref;                   /* REF, REF_SET: the referenced kind */
    const char *label_nl;                  /* the form label, Dutch ("Streefdatum") */
    const char *label_en;                  /* the same in English ("Target date") */
    const char *doc;                       /* one line for docs and /schema.json, English */
    const char *doc_nl;                    /* the same in Dutch */
};

/** @brief The label of enumeration value @p v, Dutch unless @p english:
 *  its own, or for a value of the common field `kind` that kind's label.
 *  NULL only if neither exists (a bug the unit tests catch). */
const char *tafel_schema_value_label(const struct tafel_enum_value *v, bool english);

/** @brief The number of values of @p f (0 unless ENUM or ENUM_SET). */
size_t tafel_schema_nvalues(const struct tafel_field *f);

/* ----------------------------------------------------------------- kinds */

struct tafel_kind_def {
    enum tafel_kind kind;
    const char *name;      /* wire name, e.g. "opgave" (from TAFEL_KIND_LIST) */
    const char *label_nl;  /* short noun for headings and buttons: "Actielijn" */
    const char *label_en;  /* "Action line" */
    const char *plural_nl; /* "Actielijnen" */
    const char *plural_en; /* "Action lines" */
    const char *doc;       /* one line, English */
    const char *doc_nl;    /* one line, Dutch */
    const char *about;     /* docs/data-model.md: a paragraph about the kind (English,
                              Markdown), or NULL */
    bool audited;          /* put, patch and delete write an audit entry */
    bool moderated;        /* has fields only a moderator sets (TAFEL_FF_MODERATE) */
    /* Who may do what: perm[role][action]. Every cell must be written (see
     * enum tafel_perm). Scope (which opgaven) and the hidden flag are
     * server/perm.c's; the cells say what a role may do inside its scope. */
    enum tafel_perm perm[TAFEL_ROLE__COUNT][TAFEL_ACT__COUNT];
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

/** @brief The permission cell of @p role for @p action on @p kind, as the
 *  row has it (TAFEL_PERM_UNSET when out of range). server/perm.c decides
 *  with it; this is the table itself. */
enum tafel_perm tafel_schema_perm(enum tafel_kind kind, enum tafel_role role,
                                  enum tafel_action action);

/**
 * @brief The whole table as the JSON document tafeld serves at /schema.json
 * (docs/protocol.md, "GET /schema.json", describes its shape):
 * protocol, roles (name, label), actions, common_fields and kinds (name,
 * label, plural, doc, audited, moderated, permissions, fields), in table
 * order. A new reference; NULL only when out of memory.
 */
json_t *tafel_schema_json(void);

/** The generated documentation pages (tafeld schema --markdown NAME). */
enum tafel_schema_page {
    TAFEL_PAGE_DATA_MODEL,  /* docs/data-model.md, "data-model" */
    TAFEL_PAGE_PERMISSIONS, /* docs/permissions.md, "permissions" */
    TAFEL_PAGE__COUNT
};

/** @brief The page called @p name ("data-model", "permissions"); false if none. */
bool tafel_schema_page_from_name(const char *name, enum tafel_schema_page *page);

/** @brief The command-line name of @p page; NULL if out of range. */
const char *tafel_schema_page_name(enum tafel_schema_page page);

/**
 * @brief @p page as Markdown, written from the table: the per-kind, per-field
 * and per-cell parts from the rows, the rest fixed English prose. The same
 * table gives the same bytes (the docs_generated test compares them with the
 * committed docs/). A malloc'd string the caller frees; NULL when out of
 * memory or @p page is out of range.
 */
char *tafel_schema_markdown(enum tafel_schema_page page);

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

/** @brief True if the row of @p kind has a TAFEL_FF_SECRET field. */
bool tafel_schema_has_secrets(enum tafel_kind kind);

/** @brief True if @p doc (a document of @p kind) holds a TAFEL_FF_SECRET field. */
bool tafel_schema_holds_secrets(enum tafel_kind kind, const json_t *doc);

/** @brief Remove every TAFEL_FF_SECRET field of @p kind from @p doc: the
 *  document as those who may not read them see it. */
void tafel_schema_strip_secrets(enum tafel_kind kind, json_t *doc);

#endif /* TAFEL_SCHEMA_H */
