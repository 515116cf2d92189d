/*
 * protocol.c - client messages parsed by one table, replies and events
 * serialised, server messages parsed for clients.
 *
 * Every message type is a row: its fields with their JSON type, whether
 * they are required, their limits and where the value lands in the output
 * struct (an offset). One checker walks the row, so "hello" and "key.create"
 * are validated by the same code and a handler only ever sees a request
 * whose every field has the type it expects. Documents inside `put` and
 * `patch` are handed to the schema (schema.c). Server messages use the same
 * checker with their own rows. Serialisers write straight into a buffer that
 * keeps `headroom` free in front, so the server can send it without a copy.
 */
#include "protocol_internal.h"
#include "tafel_limits.h"
#include "tafel_protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS(a)       (a), sizeof(a) / sizeof((a)[0])
#define REQ_MAX       128                          /* bytes of a string `req` */
#define TEN_YEARS     (10LL * 36525 * 86400 / 100) /* seconds, in Julian years */
#define DUMP_FLAGS    (JSON_COMPACT | JSON_PRESERVE_ORDER)
#define PAGE_MAX      1000                  /* largest `limit` of list and audit.list */
#define LABEL_MAX     TAFEL_LABEL_MAX_CHARS /* a key label is the author of its reflecties */
#define KEY_MAX       128                   /* an access key is 49 characters; a little room */
#define CODE_MAX      16
#define NAME_MAX_CP   40
#define REASON_MAX_CP 500 /* a moderator's reason: a sentence or two, kept in the audit log */
#define DEVICE_MAX    64  /* a device token is 43 characters; a little room */
#define DATA_ID_MAX   64

/* -------------------------------------------------------------- names */

static const char *const msg_names[] = {
#define TAFEL_MSG_NAME(e, wire) wire,
    TAFEL_MSG_LIST(TAFEL_MSG_NAME)
#undef TAFEL_MSG_NAME
        NULL};

static const char *const role_names[] = {"beheerder", "opgaveleider", "partner",
                                         "inwoner",   "waarnemer",    NULL};
_Static_assert(sizeof(role_names) / sizeof(role_names[0]) == TAFEL_ROLE__COUNT + 1,
               "one name per role");
/* For people, parallel to role_names: {Dutch, English}. */
static const char *const role_labels[][2] = {
    {"Beheerder", "Administrator"}, {"Opgaveleider", "Opgave lead"}, {"Partner", "Partner"},
    {"Inwoner", "Inhabitant"},      {"Waarnemer", "Observer"},
};
_Static_assert(sizeof(role_labels) / sizeof(role_labels[0]) == TAFEL_ROLE__COUNT,
               "one label per role");

static const char *const moderation_names[] = {"hide", "restore", "pin", "unpin", "approve", NULL};
static const char *const event_ops[] = {"put", "delete", NULL};

const char *tafel_msg_name(enum tafel_msg msg)
{
    return (int)msg >= 0 && msg < TAFEL_MSG__COUNT ? msg_names[msg] : NULL;
}

const char *tafel_moderation_name(enum tafel_moderation m)
{
    return (unsigned)m <= TAFEL_MOD_APPROVE ? moderation_names[m] : NULL;
}

const char *tafel_role_name(enum tafel_role role)
{
    return (int)role >= 0 && role < TAFEL_ROLE__COUNT ? role_names[role] : NULL;
}

const char *tafel_role_label(enum tafel_role role, bool english)
{
    return (int)role >= 0 && role < TAFEL_ROLE__COUNT ? role_labels[role][english ? 1 : 0] : NULL;
}

bool tafel_role_from_name(const char *name, enum tafel_role *role)
{
    int i = tafel__word_index(role_names, name);
    if (i < 0)
        return false;
    if (role)
        *role = (enum tafel_role)i;
    return true;
}

/* ------------------------------------------------------ message tables */

enum mtype {
    M_TEXT,     /* string, min..max code points, no control characters; one of words if set */
    M_NAME,     /* M_TEXT after trimming surrounding spaces in place (join's display name) */
    M_ID,       /* an id: 1..64 of [A-Za-z0-9_-] */
    M_ID_STAR,  /* an id, or "*" for all */
    M_IDS_STAR, /* an array of at most max ids, or "*" -> const json_t * */
    M_KIND,     /* a kind's wire name -> enum tafel_kind */
    M_WORD,     /* one of words -> its index, stored into an enum */
    M_OBJECT,   /* a JSON object -> const json_t * */
    M_INT,      /* a JSON integer min..max -> int64_t */
    M_UINT,     /* a JSON integer min..max, min >= 0 -> uint64_t */
    M_VOTE,     /* true/false or 1/0 -> int64_t 1/0 */
    M_SCALAR    /* string (at most max bytes), number, boolean or null -> const json_t * */
};

/*
 * One field of a message. `off` and `has_off` are offsets into the output
 * struct (struct tafel_request or struct tafel_server_msg); offset 0 is
 * `root` in both, never a flag, so has_off 0 means "no has_ flag".
 */
struct mfield {
    const char *name;
    enum mtype type;
    bool required;
    int64_t min, max;
    const char *const *words;
    size_t off;
    size_t has_off;
    int64_t dflt; /* M_INT, M_VOTE: the value when absent */
};

#define R(m) offsetof(struct tafel_request, m)
#define S(m) offsetof(struct tafel_server_msg, m)
#define MF(n, t, req, o, ...)                                                \
    {                                                                        \
        .name = (n), .type = (t), .required = (req), .off = (o), __VA_ARGS__ \
    }

/* Fields several messages share. */
#define KIND_F(req) MF("kind", M_KIND, req, R(kind), .has_off = R(has_kind))
#define ID_F        MF("id", M_ID, true, R(id))
#define REV_F(req) \
    MF("rev", M_INT, req, R(rev), .min = 1, .max = TAFEL_INT_MAX, .has_off = R(has_rev))
#define LIMIT_F  MF("limit", M_UINT, false, R(limit), .min = 1, .max = PAGE_MAX)
#define OPGAVE_F MF("opgave", M_ID_STAR, true, R(opgave))

static const struct mfield hello_f[] = {MF("key", M_TEXT, true, R(key), .min = 1, .max = KEY_MAX)};
static const struct mfield join_f[] = {
    MF("code", M_TEXT, true, R(code), .min = 1, .max = CODE_MAX),
    MF("name", M_NAME, true, R(name), .min = 1, .max = NAME_MAX_CP),
    MF("device", M_TEXT, false, R(device), .min = 1, .max = DEVICE_MAX),
};
static const struct mfield put_f[] = {KIND_F(true), MF("doc", M_OBJECT, true, R(doc))};
static const struct mfield patch_f[] = {KIND_F(true), ID_F, MF("set", M_OBJECT, true, R(set)),
                                        REV_F(false)};
static const struct mfield delete_f[] = {KIND_F(true), ID_F, REV_F(true)};
static const struct mfield get_f[] = {KIND_F(true), ID_F};
static const struct mfield list_f[] = {KIND_F(false), MF("opgave", M_ID, false, R(opgave)),
                                       LIMIT_F};
static const struct mfield sub_f[] = {
    OPGAVE_F,
    MF("since", M_UINT, false, R(since), .max = TAFEL_INT_MAX, .has_off = R(has_since)),
    MF("session", M_ID, false, R(session)),
    MF("data_id", M_TEXT, false, R(data_id), .min = 1, .max = DATA_ID_MAX),
};
static const struct mfield unsub_f[] = {OPGAVE_F};
static const struct mfield moderate_f[] = {
    ID_F, MF("action", M_WORD, true, R(moderation), .words = moderation_names),
    MF("reason", M_TEXT, false, R(reason), .min = 1, .max = REASON_MAX_CP)};
static const struct mfield vote_f[] = {ID_F, MF("value", M_VOTE, false, R(value), .dflt = 1)};
static const struct mfield feel_f[] = {ID_F,
                                       MF("value", M_INT, true, R(value), .min = -2, .max = 2)};
static const struct mfield id_f[] = {ID_F};
static const struct mfield key_create_f[] = {
    MF("role", M_WORD, true, R(role), .words = role_names),
    MF("opgaven", M_IDS_STAR, true, R(opgaven), .max = PAGE_MAX),
    /* A label is shown as its holder's name (author, presence): the same
     * rules as an inwoner's display name. */
    MF("label", M_NAME, true, R(label), .min = 1, .max = LABEL_MAX),
    MF("expires_in", M_INT, false, R(expires_in), .min = 1, .max = TEN_YEARS),
};
static const struct mfield key_revoke_f[] = {MF("key_id", M_ID, true, R(key_id)),
                                             MF("cascade", M_VOTE, false, R(cascade), .dflt = 0)};
static const struct mfield audit_list_f[] = {
    MF("after", M_UINT, false, R(after), .max = TAFEL_INT_MAX), LIMIT_F};
static const struct mfield device_f[] = {
    MF("device", M_TEXT, true, R(device), .min = 1, .max = DEVICE_MAX)};

struct mdef {
    const struct mfield *fields;
    size_t nfields;
    enum tafel_kind implied; /* the kind the message is about; TAFEL_KIND__COUNT if none */
};

#define NO_KIND TAFEL_KIND__COUNT

static const struct mdef messages[TAFEL_MSG__COUNT] = {
    [TAFEL_MSG_HELLO] = {ROWS(hello_f), NO_KIND},
    [TAFEL_MSG_JOIN] = {ROWS(join_f), NO_KIND},
    [TAFEL_MSG_PING] = {NULL, 0, NO_KIND},
    [TAFEL_MSG_PUT] = {ROWS(put_f), NO_KIND},
    [TAFEL_MSG_PATCH] = {ROWS(patch_f), NO_KIND},
    [TAFEL_MSG_DELETE] = {ROWS(delete_f), NO_KIND},
    [TAFEL_MSG_GET] = {ROWS(get_f), NO_KIND},
    [TAFEL_MSG_LIST] = {ROWS(list_f), NO_KIND},
    [TAFEL_MSG_SUB] = {ROWS(sub_f), NO_KIND},
    [TAFEL_MSG_UNSUB] = {ROWS(unsub_f), NO_KIND},
    [TAFEL_MSG_MODERATE] = {ROWS(moderate_f), TAFEL_KIND_REFLECTIE},
    [TAFEL_MSG_VOTE] = {ROWS(vote_f), TAFEL_KIND_REFLECTIE},
    [TAFEL_MSG_FEEL] = {ROWS(feel_f), TAFEL_KIND_MOMENT},
    [TAFEL_MSG_SESSION_OPEN] = {ROWS(id_f), TAFEL_KIND_SESSIE},
    [TAFEL_MSG_SESSION_CLOSE] = {ROWS(id_f), TAFEL_KIND_SESSIE},
    [TAFEL_MSG_KEY_CREATE] = {ROWS(key_create_f), NO_KIND},
    [TAFEL_MSG_KEY_LIST] = {NULL, 0, NO_KIND},
    [TAFEL_MSG_KEY_REVOKE] = {ROWS(key_revoke_f), NO_KIND},
    [TAFEL_MSG_AUDIT_LIST] = {ROWS(audit_list_f), NO_KIND},
    [TAFEL_MSG_DEVICE_EXPORT] = {ROWS(device_f), NO_KIND},
    [TAFEL_MSG_DEVICE_ERASE] = {ROWS(device_f), NO_KIND},
};

/* Server -> client: the envelope of the types a client acts on. */
static const struct mfield s_ok_f[] = {
    MF("req", M_SCALAR, false, S(req), .max = REQ_MAX),
    MF("seq", M_UINT, false, S(seq), .max = TAFEL_INT_MAX),
};
static const struct mfield s_error_f[] = {
    MF("req", M_SCALAR, false, S(req), .max = REQ_MAX),
    MF("code", M_TEXT, true, S(code), .min = 1, .max = 64),
    MF("message", M_TEXT, true, S(message), .max = 4096),
};
static const struct mfield s_event_f[] = {
    MF("seq", M_UINT, true, S(seq), .max = TAFEL_INT_MAX),
    MF("op", M_TEXT, true, S(op), .max = 16, .words = event_ops),
    MF("doc", M_OBJECT, true, S(doc)),
};
static const struct mfield s_snapshot_f[] = {MF("seq", M_UINT, true, S(seq), .max = TAFEL_INT_MAX)};

static const struct {
    const char *name;
    enum tafel_server_msg_type type;
    const struct mfield *fields;
    size_t nfields;
} server_messages[] = {
    {"ok", TAFEL_SMSG_OK, ROWS(s_ok_f)},
    {"error", TAFEL_SMSG_ERROR, ROWS(s_error_f)},
    {"event", TAFEL_SMSG_EVENT, ROWS(s_event_f)},
    {"snapshot", TAFEL_SMSG_SNAPSHOT, ROWS(s_snapshot_f)},
    {"presence", TAFEL_SMSG_PRESENCE, NULL, 0},
};

/* ------------------------------------------------------------ checker */

static void *at(void *out, size_t off)
{
    return (char *)out + off;
}

static bool id_or_star(const json_t *val)
{
    const char *s = json_string_value(val);
    return s && (strcmp(s, "*") == 0 || tafel__id_valid(s, json_string_length(val)));
}

/* `req` and other echoed scalars: never a container, a bounded string. */
static bool scalar_ok(const json_t *val, int64_t max_bytes)
{
    if (json_is_string(val))
        return (int64_t)json_string_length(val) <= max_bytes;
    return !json_is_object(val) && !json_is_array(val);
}

static bool ids_or_star(const json_t *val, int64_t max)
{
    size_t i;
    const json_t *item;
    if (json_is_string(val))
        return strcmp(json_string_value(val), "*") == 0;
    if (!json_is_array(val) || (int64_t)json_array_size(val) > max)
        return false;
    json_array_foreach(val, i, item)
    {
        if (!json_is_string(item) ||
            !tafel__id_valid(json_string_value(item), json_string_length(item)))
            return false;
    }
    return true;
}

/* Remove leading and trailing spaces of the string @p val in place. */
static int trim_spaces(json_t *val)
{
    const char *s = json_string_value(val);
    size_t len = json_string_length(val), start = 0;
    while (start < len && s[start] == ' ')
        start++;
    while (len > start && s[len - 1] == ' ')
        len--;
    if (start == 0 && len == json_string_length(val))
        return 0;
    /* setn copies before it frees the old text, so s may overlap. */
    return json_string_setn(val, s + start, len - start);
}

static enum tafel_err check_text(const struct mfield *f, json_t *val, void *out,
                                 struct tafel_errinfo *info)
{
    size_t cps;
    if (!json_is_string(val))
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "%s must be a string",
                                 f->name);
    if (f->type == M_NAME && trim_spaces(val) != 0)
        return tafel_errinfo_set(info, TAFEL_E_NOMEM, f->name, "out of memory");
    const char *s = json_string_value(val);
    if (!tafel__text_ok(s, json_string_length(val), false, &cps))
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name,
                                 "%s: control characters are not allowed", f->name);
    if (f->type == M_NAME && !tafel__name_ok(s, json_string_length(val)))
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name,
                                 "%s: use visible letters; no direction or invisible characters",
                                 f->name);
    if ((int64_t)cps > f->max)
        return tafel_errinfo_set(info, TAFEL_E_TOO_LARGE, f->name,
                                 "%s: longer than %lld characters", f->name, (long long)f->max);
    if ((int64_t)cps < f->min)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "%s must not be empty",
                                 f->name);
    if (f->words && tafel__word_index(f->words, s) < 0)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "%s: not one of the values",
                                 f->name);
    *(const char **)at(out, f->off) = s;
    return TAFEL_E_OK;
}

/* An integer field: exact JSON integer within min..max. */
static bool int_field(const struct mfield *f, const json_t *val, int64_t *x)
{
    if (!json_is_integer(val))
        return false;
    *x = json_integer_value(val);
    return *x >= f->min && *x <= f->max && *x <= TAFEL_INT_MAX && *x >= -TAFEL_INT_MAX;
}

/* Check the simple types and store them; false means "wrong type or value". */
static bool check_simple(const struct mfield *f, json_t *val, void *out)
{
    int64_t x = 0;
    int word;
    const struct tafel_kind_def *def;
    switch (f->type) {
    case M_ID:
        if (!json_is_string(val) ||
            !tafel__id_valid(json_string_value(val), json_string_length(val)))
            return false;
        *(const char **)at(out, f->off) = json_string_value(val);
        return true;
    case M_ID_STAR:
        if (!id_or_star(val))
            return false;
        *(const char **)at(out, f->off) = json_string_value(val);
        return true;
    case M_KIND:
        def = tafel_schema_kind_by_name(json_string_value(val));
        if (!def)
            return false;
        *(enum tafel_kind *)at(out, f->off) = def->kind;
        return true;
    case M_WORD:
        word = tafel__word_index(f->words, json_string_value(val));
        if (word < 0)
            return false;
        /* Both enums stored this way have int's size and representation. */
        memcpy(at(out, f->off), &word, sizeof(word));
        return true;
    case M_INT:
    case M_UINT:
        if (!int_field(f, val, &x))
            return false;
        if (f->type == M_INT)
            *(int64_t *)at(out, f->off) = x;
        else
            *(uint64_t *)at(out, f->off) = (uint64_t)x;
        return true;
    case M_VOTE:
        if (json_is_boolean(val))
            x = json_is_true(val);
        else if (!json_is_integer(val) ||
                 (json_integer_value(val) != 0 && json_integer_value(val) != 1))
            return false;
        else
            x = json_integer_value(val);
        *(int64_t *)at(out, f->off) = x;
        return true;
    default:
        /* the three kinds of JSON value stored as they are */
        if ((f->type == M_OBJECT && !json_is_object(val)) ||
            (f->type == M_IDS_STAR && !ids_or_star(val, f->max)) ||
            (f->type == M_SCALAR && !scalar_ok(val, f->max)))
            return false;
        *(const json_t **)at(out, f->off) = val;
        return true;
    }
}
_Static_assert(sizeof(enum tafel_role) == sizeof(int) &&
                   sizeof(enum tafel_moderation) == sizeof(int),
               "M_WORD stores an int");

/* What field @p f must be, for the error message. */
static const char *describe(const struct mfield *f, char *buf, size_t size)
{
    static const char *const words[] = {
        [M_ID] = "an id (1..64 of A-Z a-z 0-9 _ -)",
        [M_ID_STAR] = "an id or \"*\"",
        [M_IDS_STAR] = "an array of ids or \"*\"",
        [M_KIND] = "a kind",
        [M_OBJECT] = "an object",
        [M_VOTE] = "true, false, 1 or 0",
        [M_SCALAR] = "a string, number, boolean or null",
    };
    switch (f->type) {
    case M_INT:
    case M_UINT:
        snprintf(buf, size, "an integer %lld..%lld", (long long)f->min, (long long)f->max);
        return buf;
    case M_WORD:
        return tafel__join_words(f->words, buf, size);
    default:
        return words[f->type] ? words[f->type] : "valid";
    }
}

static enum tafel_err check_fields(const struct mfield *fields, size_t n, json_t *root, void *out,
                                   struct tafel_errinfo *info)
{
    for (size_t i = 0; i < n; i++) {
        const struct mfield *f = &fields[i];
        json_t *val = json_object_get(root, f->name);
        if (!val) {
            if (f->required)
                return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "%s is missing",
                                         f->name);
            if (f->type == M_INT || f->type == M_VOTE)
                *(int64_t *)at(out, f->off) = f->dflt;
            continue;
        }
        if (f->type == M_TEXT || f->type == M_NAME) {
            enum tafel_err e = check_text(f, val, out, info);
            if (e != TAFEL_E_OK)
                return e;
        } else if (!check_simple(f, val, out)) {
            if (f->type == M_KIND && json_is_string(val))
                return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "unknown kind");
            char buf[128];
            return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, f->name, "%s must be %s", f->name,
                                     describe(f, buf, sizeof(buf)));
        }
        if (f->has_off)
            *(bool *)at(out, f->has_off) = true;
    }
    return TAFEL_E_OK;
}

/* ------------------------------------------------------------ parsing */

/* jansson's grammar check, and the top level must be an object with a
 * string "type". On success *root is set (and owned by the caller) and
 * *type is the type's name. */
static enum tafel_err load_message(const char *buf, size_t len, json_t **root, const char **type,
                                   struct tafel_errinfo *info)
{
    json_error_t jerr;
    *root = json_loadb(buf ? buf : "", buf ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!*root)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "", "invalid JSON at byte %d: %s",
                                 jerr.position, jerr.text);
    if (!json_is_object(*root))
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "", "a message is a JSON object");
    json_t *t = json_object_get(*root, "type");
    if (!t)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "type", "type is missing");
    *type = json_string_value(t);
    if (!*type)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "type", "type must be a string");
    return TAFEL_E_OK;
}

static bool known_field(const struct mdef *m, const char *key)
{
    if (strcmp(key, "type") == 0 || strcmp(key, "req") == 0)
        return true;
    for (size_t i = 0; i < m->nfields; i++)
        if (strcmp(m->fields[i].name, key) == 0)
            return true;
    return false;
}

/* put: create without doc.id, replace with it; patch: a non-empty subset. */
static enum tafel_err check_documents(struct tafel_request *r, struct tafel_errinfo *info)
{
    if (r->set && json_object_size(r->set) == 0)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "set", "set has nothing to change");
    if (r->set)
        return tafel_schema_validate(r->kind, r->set, TAFEL_V_PATCH, info);
    if (!r->doc)
        return TAFEL_E_OK;
    const json_t *id = json_object_get(r->doc, "id");
    enum tafel_err e =
        tafel_schema_validate(r->kind, r->doc, id ? TAFEL_V_REPLACE : TAFEL_V_CREATE, info);
    if (e != TAFEL_E_OK)
        return e;
    const json_t *rev = json_object_get(r->doc, "rev");
    r->id = json_string_value(id);
    r->has_rev = rev != NULL;
    r->rev = json_integer_value(rev);
    r->opgave = json_string_value(json_object_get(r->doc, "opgave"));
    return TAFEL_E_OK;
}

/* A message refused by the pre-scan for a structural limit (depth, a long
 * string, a wide object) is still answered with its `req`, so the client can
 * match the error. Parsing it is safe here: it is within the size limit and
 * valid UTF-8, and jansson bounds its own depth. */
static void recover_req(const char *buf, size_t len, const struct tafel_limits *l, enum tafel_err e,
                        struct tafel_request *out)
{
    if (!buf || e == TAFEL_E_BAD_UTF8 || len > l->max_bytes)
        return;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    json_t *req = json_object_get(root, "req");
    out->root = root;
    out->req = req && scalar_ok(req, REQ_MAX) ? req : NULL;
}

enum tafel_err tafel_request_parse(const char *buf, size_t len, const struct tafel_limits *lim,
                                   struct tafel_request *out, struct tafel_errinfo *info)
{
    static const struct tafel_limits defaults = TAFEL_LIMITS_DEFAULT;
    const char *type = NULL, *key;
    json_t *val;
    memset(out, 0, sizeof(*out));
    tafel_errinfo_clear(info);
    const struct tafel_limits *l = lim ? lim : &defaults;
    enum tafel_err e = tafel__json_scan(buf ? buf : "", buf ? len : 0, l, info);
    if (e != TAFEL_E_OK) {
        recover_req(buf, len, l, e, out);
        return e;
    }
    e = load_message(buf, len, &out->root, &type, info);
    /* Echo `req` whenever the JSON parsed and it is a scalar, even when the
     * rest of the message is wrong. */
    val = json_object_get(out->root, "req");
    bool req_ok = !val || scalar_ok(val, REQ_MAX);
    out->req = req_ok ? val : NULL;
    if (e != TAFEL_E_OK)
        return e;
    int m = tafel__word_index(msg_names, type);
    if (m < 0)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "type", "unknown type");
    out->type = (enum tafel_msg)m;
    if (!req_ok)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "req",
                                 "req must be a scalar (a string of at most %d bytes)", REQ_MAX);
    const struct mdef *def = &messages[m];
    json_object_foreach(out->root, key, val)
    {
        if (!known_field(def, key))
            return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, key, "unknown field");
    }
    e = check_fields(def->fields, def->nfields, out->root, out, info);
    if (e != TAFEL_E_OK)
        return e;
    if (def->implied != NO_KIND) {
        out->kind = def->implied;
        out->has_kind = true;
    }
    return check_documents(out, info);
}

void tafel_request_free(struct tafel_request *r)
{
    if (!r)
        return;
    json_decref(r->root);
    memset(r, 0, sizeof(*r));
}

enum tafel_err tafel_server_msg_parse(const char *buf, size_t len, struct tafel_server_msg *out,
                                      struct tafel_errinfo *info)
{
    const char *type = NULL;
    memset(out, 0, sizeof(*out));
    tafel_errinfo_clear(info);
    if (buf && !tafel_utf8_valid(buf, len))
        return tafel_errinfo_set(info, TAFEL_E_BAD_UTF8, "", "invalid UTF-8");
    enum tafel_err e = load_message(buf, len, &out->root, &type, info);
    if (e != TAFEL_E_OK)
        return e;
    out->type = TAFEL_SMSG_OTHER;
    for (size_t i = 0; i < sizeof(server_messages) / sizeof(server_messages[0]); i++) {
        if (strcmp(server_messages[i].name, type) == 0) {
            out->type = server_messages[i].type;
            return check_fields(server_messages[i].fields, server_messages[i].nfields, out->root,
                                out, info);
        }
    }
    return TAFEL_E_OK;
}

void tafel_server_msg_free(struct tafel_server_msg *m)
{
    if (!m)
        return;
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}

/* -------------------------------------------------------- serialisers */

/* A growing buffer that keeps `headroom` bytes free in front and one byte
 * for the final NUL; jansson dumps straight into it. */
struct sink {
    char *buf;
    size_t used, cap;
};

static int sink_put(const char *data, size_t n, void *arg)
{
    struct sink *s = arg;
    if (n > SIZE_MAX / 2 - s->used)
        return -1;
    if (s->used + n + 1 > s->cap) {
        size_t cap = s->cap * 2 > s->used + n + 1 ? s->cap * 2 : s->used + n + 1;
        char *p = realloc(s->buf, cap);
        if (!p)
            return -1;
        s->buf = p;
        s->cap = cap;
    }
    memcpy(s->buf + s->used, data, n);
    s->used += n;
    return 0;
}

static bool sink_open(struct sink *s, size_t headroom, size_t expect)
{
    s->cap = headroom + expect + 1;
    s->used = headroom;
    s->buf = malloc(s->cap);
    return s->buf != NULL;
}

/* Hand the buffer over NUL-terminated, or free it after a failure. */
static char *sink_close(struct sink *s, bool ok, size_t headroom, size_t *len)
{
    if (!ok) {
        free(s->buf);
        return NULL;
    }
    s->buf[s->used] = '\0';
    if (len)
        *len = s->used - headroom;
    return s->buf;
}

char *tafel_msg_dump(const json_t *msg, size_t headroom, size_t *len)
{
    struct sink s;
    if (!msg || !sink_open(&s, headroom, 256))
        return NULL;
    bool ok = json_dump_callback(msg, sink_put, &s, DUMP_FLAGS) == 0;
    return sink_close(&s, ok, headroom, len);
}

/* The longest valid UTF-8 prefix of @p s as a JSON string: errinfo text
 * may have been cut in the middle of a character. */
static json_t *utf8_prefix_string(const char *s)
{
    size_t len = strlen(s), i = 0;
    while (i < len) {
        size_t n = tafel__utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0)
            break;
        i += n;
    }
    return json_stringn(s, i);
}

/* {"type":T[,"req":R]}; NULL when out of memory. */
static json_t *envelope(const char *type, const json_t *req)
{
    json_t *m = json_object();
    if (!m || json_object_set_new(m, "type", json_string(type)) != 0 ||
        (req && json_object_set_new(m, "req", json_deep_copy(req)) != 0)) {
        json_decref(m);
        return NULL;
    }
    return m;
}

/* Add the members of @p extra (may be NULL) to @p m, leaving the envelope's
 * "type" and "req" as they are, and dump it; @p m is released either way. */
static char *finish(json_t *m, const json_t *extra, size_t headroom, size_t *len)
{
    const char *key;
    json_t *val;
    char *out = NULL;
    if (!m)
        return NULL;
    /* Members are shared (reference counted), not copied; extra is left as it was. */
    json_object_foreach((json_t *)extra, key, val)
    {
        if (strcmp(key, "type") != 0 && strcmp(key, "req") != 0 &&
            json_object_set(m, key, val) != 0)
            goto cleanup;
    }
    out = tafel_msg_dump(m, headroom, len);
cleanup:
    json_decref(m);
    return out;
}

char *tafel_msg_ok(const json_t *req, const json_t *fields, size_t headroom, size_t *len)
{
    return finish(envelope("ok", req), fields, headroom, len);
}

char *tafel_msg_error(const json_t *req, const struct tafel_errinfo *err, const json_t *extra,
                      size_t headroom, size_t *len)
{
    enum tafel_err code = err ? err->code : TAFEL_E_INTERNAL;
    const char *message = err && err->message[0] ? err->message : tafel_strerror(code);
    json_t *m = envelope("error", req);
    if (m && (json_object_set_new(m, "code", json_string(tafel_err_wire(code))) != 0 ||
              json_object_set_new(m, "message", utf8_prefix_string(message)) != 0 ||
              (err && err->field[0] &&
               json_object_set_new(m, "field", utf8_prefix_string(err->field)) != 0))) {
        json_decref(m);
        m = NULL;
    }
    return finish(m, extra, headroom, len);
}

/* An event is `{"type":"event","op":OP,"doc":DOC,"seq":S}`: the head
 * before the document does not depend on the seq, so the writer can build a
 * put event around the stored bytes where they lie (tafel_msg_event_wrap). */
static const char *event_head(const char *op, size_t *len)
{
    static const char put[] = TAFEL_EVENT_PUT_HEAD;
    static const char del[] = "{\"type\":\"event\",\"op\":\"delete\",\"doc\":";
    bool is_put = strcmp(op, "put") == 0;
    *len = is_put ? sizeof(put) - 1 : sizeof(del) - 1;
    return is_put ? put : del;
}

size_t tafel_msg_event_wrap(char *buf, size_t headroom, size_t doc_len, uint64_t seq)
{
    memcpy(buf + headroom, TAFEL_EVENT_PUT_HEAD, TAFEL_EVENT_PUT_HEAD_LEN);
    char *tail = buf + headroom + TAFEL_EVENT_PUT_HEAD_LEN + doc_len;
    int n = snprintf(tail, TAFEL_EVENT_TAIL_ROOM, ",\"seq\":%llu}", (unsigned long long)seq);
    return TAFEL_EVENT_PUT_HEAD_LEN + doc_len + (size_t)n;
}

char *tafel_msg_event(uint64_t seq, const char *op, const char *doc_json, size_t doc_len,
                      size_t headroom, size_t *len)
{
    /* op is spliced unquoted-safe only if it is one of the known words. */
    if (!op || tafel__word_index(event_ops, op) < 0 || !doc_json)
        return NULL;
    size_t hl;
    const char *head = event_head(op, &hl);
    char *buf = malloc(headroom + hl + doc_len + TAFEL_EVENT_TAIL_ROOM);
    if (!buf)
        return NULL;
    memcpy(buf + headroom, head, hl);
    memcpy(buf + headroom + hl, doc_json, doc_len);
    int n = snprintf(buf + headroom + hl + doc_len, TAFEL_EVENT_TAIL_ROOM, ",\"seq\":%llu}",
                     (unsigned long long)seq);
    *len = hl + doc_len + (size_t)n;
    return buf;
}

char *tafel_msg_event_stub(uint64_t seq, const char *kind, const char *id, const char *opgave,
                           int64_t rev, size_t headroom, size_t *len)
{
    json_t *stub = json_pack("{s:s, s:s, s:s, s:I}", "id", id, "kind", kind, "opgave",
                             opgave ? opgave : "", "rev", (json_int_t)rev);
    char *text = stub ? json_dumps(stub, JSON_COMPACT) : NULL;
    json_decref(stub);
    char *out = text ? tafel_msg_event(seq, "delete", text, strlen(text), headroom, len) : NULL;
    free(text);
    return out;
}

char *tafel_msg_ok_doc(const json_t *req, const char *id, int64_t rev, uint64_t seq, int voted,
                       const char *doc_json, size_t doc_len, size_t headroom, size_t *len)
{
    char *r = req ? json_dumps(req, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (req && !r)
        return NULL;
    json_t *idj = json_string(id);
    char *ids = idj ? json_dumps(idj, JSON_ENCODE_ANY) : NULL;
    json_decref(idj);
    char head[256];
    int n = ids ? snprintf(head, sizeof(head),
                           "{\"type\":\"ok\"%s%s,\"id\":%s,\"rev\":%lld,\"seq\":%llu%s,\"doc\":",
                           r ? ",\"req\":" : "", r ? r : "", ids, (long long)rev,
                           (unsigned long long)seq,
                           voted < 0 ? ""
                           : voted   ? ",\"voted\":true"
                                     : ",\"voted\":false")
                : -1;
    free(r);
    free(ids);
    if (n < 0 || (size_t)n >= sizeof(head))
        return NULL; /* req is a short scalar: a longer one never gets here */
    char *buf = malloc(headroom + (size_t)n + doc_len + 2);
    if (!buf)
        return NULL;
    memcpy(buf + headroom, head, (size_t)n);
    memcpy(buf + headroom + n, doc_json, doc_len);
    memcpy(buf + headroom + n + doc_len, "}", 2);
    *len = (size_t)n + doc_len + 1;
    return buf;
}
