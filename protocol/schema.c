/*
 * schema.c - the kinds of document as one table, and the one validator that
 * reads it.
 *
 * Each kind is a row of fields (type, limits, enumeration, flags) with an
 * English and a Dutch line of documentation; docs/data-model.md is written
 * from these rows. tafel_schema_validate() knows field types, never kinds:
 * a new kind or field is a new row here and nothing else. Field names are
 * English identifiers; enumeration values are the Dutch words the users
 * speak (groen, oranje, rood...).
 */
#include "protocol_internal.h"
#include "tafel_limits.h"
#include "tafel_schema.h"
#include "tafel_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Shorthand for the rows below: designated initializers keep each row
 * readable and leave unused members zero. */
#define F(n, t, fl, ...)                                     \
    {                                                        \
        .name = (n), .type = (t), .flags = (fl), __VA_ARGS__ \
    }
#define REQ          TAFEL_FF_REQUIRED
#define SRV          TAFEL_FF_SERVER
#define NUMBER_LIMIT 1e15 /* measurements, baselines and targets: beyond any real figure */

/* Fields several kinds share, word for word. */
#define TITLE                                                     \
    F("title", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 200, \
      .doc = "Short title, shown in lists", .doc_nl = "Korte titel")
#define DESCRIPTION(maxlen)                                                               \
    F("description", TAFEL_F_STRING, 0, .max_len = (maxlen), .doc = "Longer description", \
      .doc_nl = "Beschrijving")
#define SOURCE                                                                           \
    F("source", TAFEL_F_STRING, 0, .max_len = 200, .doc = "Where the figure comes from", \
      .doc_nl = "Bron")
#define NUMBER(n, fl, en, nl) \
    F(n, TAFEL_F_NUMBER, fl, .min = -NUMBER_LIMIT, .max = NUMBER_LIMIT, .doc = en, .doc_nl = nl)
#define NAME200(n, en, nl) F(n, TAFEL_F_STRING, 0, .max_len = 200, .doc = en, .doc_nl = nl)

#define ROWS(a) (a), sizeof(a) / sizeof((a)[0])

static const char *const kind_names[] = {"opgave", "actielijn", "activiteit", "indicator",
                                         "meting", "reflectie", "sessie",     "moment",
                                         "lid",    NULL};

static const char *const traffic_lights[] = {"groen", "oranje", "rood", NULL};
static const char *const ways_of_working[] = {"routine",        "project",      "programma",
                                              "bestuursproces", "improvisatie", NULL};
static const char *const domains[] = {"fysiek", "sociaal", "bedrijfsvoering", NULL};
static const char *const activity_states[] = {"gepland", "lopend", "afgerond", "gestopt", NULL};
static const char *const indicator_types[] = {"effect", "context", NULL};
static const char *const directions[] = {"omhoog", "omlaag", NULL};
static const char *const reflection_sorts[] = {"goed",  "beter", "geleerd", "succesverhaal",
                                               "vraag", "idee",  NULL};
static const char *const session_states[] = {"gepland", "open", "gesloten", NULL};
static const char *const moment_types[] = {"mijlpaal", "moment", NULL};
static const char *const member_roles[] = {"opgaveleider", "partner", "waarnemer", NULL};
static const char *const author_roles[] = {"beheerder", "opgaveleider", "partner",
                                           "inwoner",   "waarnemer",    NULL};

static const struct tafel_field opgave_fields[] = {
    TITLE,
    F("goal", TAFEL_F_STRING, 0, .max_len = 4000,
      .doc = "What is different from now when the opgave succeeds (SMART)",
      .doc_nl = "Doel: wat is er anders dan nu"),
    F("target_date", TAFEL_F_DATE, 0, .doc = "When the goal should be reached",
      .doc_nl = "Streefdatum"),
    NAME200("political_sponsor", "Political sponsor: the alderman who owns the opgave",
            "Bestuurlijk opdrachtgever (wethouder)"),
    NAME200("executive_sponsor", "Executive sponsor: the senior civil servant commissioning it",
            "Ambtelijk opdrachtgever"),
    NAME200("lead", "Lead: who carries it out", "Opdrachtnemer (opgaveleider)"),
    F("traffic_light", TAFEL_F_ENUM, 0, .values = traffic_lights,
      .doc = "Progress status for the portfolio meeting", .doc_nl = "Stoplicht"),
    F("traffic_light_note", TAFEL_F_STRING, 0, .max_len = 1000,
      .doc = "Short explanation of the traffic light", .doc_nl = "Toelichting bij het stoplicht"),
    F("way_of_working", TAFEL_F_ENUM, 0, .values = ways_of_working,
      .doc = "How the opgave is realised", .doc_nl = "Werkwijze"),
    F("domains", TAFEL_F_ENUM_SET, 0, .max_len = 3, .values = domains,
      .doc = "Domains the opgave touches", .doc_nl = "Domeinen"),
    F("complexity", TAFEL_F_INT, 0, .min = 1, .max = 5,
      .doc = "Complexity, 1 (simple) to 5 (very complex)", .doc_nl = "Complexiteit"),
    F("horizon_years", TAFEL_F_INT, 0, .min = 0, .max = 30, .doc = "Time horizon in years",
      .doc_nl = "Tijdshorizon (jaren)"),
    DESCRIPTION(4000),
};

static const struct tafel_field actielijn_fields[] = {
    TITLE,
    DESCRIPTION(4000),
    F("position", TAFEL_F_INT, 0, .min = 0, .max = 10000, .doc = "Order among the action lines",
      .doc_nl = "Volgorde"),
};

static const struct tafel_field activiteit_fields[] = {
    F("actielijn", TAFEL_F_REF, REQ, .ref = TAFEL_KIND_ACTIELIJN,
      .doc = "The action line it belongs to", .doc_nl = "Actielijn"),
    TITLE,
    DESCRIPTION(4000),
    NAME200("owner", "Partner organisation that delivers it", "Eigenaar (partnerorganisatie)"),
    F("owner_actor", TAFEL_F_STRING, SRV, .max_len = 64,
      .doc = "Actor id of the key that created it", .doc_nl = "Actor-id van de aanmaker"),
    F("status", TAFEL_F_ENUM, 0, .values = activity_states, .doc = "Where the activity stands",
      .doc_nl = "Status"),
    F("start_date", TAFEL_F_DATE, 0, .doc = "First day", .doc_nl = "Startdatum"),
    F("end_date", TAFEL_F_DATE, 0, .doc = "Last day", .doc_nl = "Einddatum"),
};

static const struct tafel_field indicator_fields[] = {
    TITLE,
    F("type", TAFEL_F_ENUM, REQ, .values = indicator_types,
      .doc = "Effect of the opgave, or context kept apart from it", .doc_nl = "Soort indicator"),
    F("unit", TAFEL_F_STRING, 0, .max_len = 50, .doc = "Unit of the values", .doc_nl = "Eenheid"),
    NUMBER("baseline", 0, "Value at the start", "Nulmeting"),
    NUMBER("target", 0, "Value to reach", "Streefwaarde"),
    F("direction", TAFEL_F_ENUM, 0, .values = directions, .doc = "Which way is better",
      .doc_nl = "Gewenste richting"),
    DESCRIPTION(4000),
    SOURCE,
};

static const struct tafel_field meting_fields[] = {
    F("indicator", TAFEL_F_REF, REQ, .ref = TAFEL_KIND_INDICATOR, .doc = "The indicator measured",
      .doc_nl = "Indicator"),
    F("date", TAFEL_F_DATE, REQ, .doc = "Date of the measurement", .doc_nl = "Peildatum"),
    NUMBER("value", REQ, "Measured value", "Waarde"),
    SOURCE,
    F("note", TAFEL_F_STRING, 0, .max_len = 1000, .doc = "Remark", .doc_nl = "Opmerking"),
};

static const struct tafel_field reflectie_fields[] = {
    F("sort", TAFEL_F_ENUM, REQ, .values = reflection_sorts, .doc = "What kind of contribution",
      .doc_nl = "Soort reflectie"),
    F("text", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 4000, .doc = "The contribution",
      .doc_nl = "Tekst"),
    F("session", TAFEL_F_REF, 0, .ref = TAFEL_KIND_SESSIE, .doc = "Session it was added in",
      .doc_nl = "Sessie"),
    F("hidden", TAFEL_F_BOOL, TAFEL_FF_MODERATE, .doc = "Hidden by a moderator",
      .doc_nl = "Verborgen"),
    F("pinned", TAFEL_F_BOOL, TAFEL_FF_MODERATE, .doc = "Pinned by a moderator",
      .doc_nl = "Vastgepind"),
    F("author", TAFEL_F_STRING, SRV, .max_len = TAFEL_LABEL_MAX_CHARS,
      .doc = "Display name of the contributor", .doc_nl = "Auteur"),
    F("author_role", TAFEL_F_ENUM, SRV, .values = author_roles,
      .doc = "Role of the contributor: inwoner for a participant who joined by code",
      .doc_nl = "Rol van de auteur"),
    F("votes", TAFEL_F_INT, SRV, .min = 0, .max = (double)TAFEL_INT_MAX, .doc = "Number of votes",
      .doc_nl = "Stemmen"),
    /* Written before votes became one mark per voter; a vote removes it. */
    F("voters", TAFEL_F_STRING_SET, SRV, .max_len = 100000,
      .doc = "No longer written (older data: actor ids that voted)", .doc_nl = "Stemmers (oud)"),
};

static const struct tafel_field sessie_fields[] = {
    F("question", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 1000,
      .doc = "The question the session works on", .doc_nl = "Vraag"),
    F("state", TAFEL_F_ENUM, SRV, .values = session_states,
      .doc = "Changed by session.open and session.close", .doc_nl = "Toestand"),
    F("join_code", TAFEL_F_STRING, SRV, .max_len = 16, .doc = "Short code participants join with",
      .doc_nl = "Deelnamecode"),
    F("starts_at", TAFEL_F_DATETIME, 0, .doc = "Planned start", .doc_nl = "Begint om"),
    F("opened_at", TAFEL_F_DATETIME, SRV, .doc = "When it was opened", .doc_nl = "Geopend om"),
    F("closed_at", TAFEL_F_DATETIME, SRV, .doc = "When it was closed", .doc_nl = "Gesloten om"),
};

static const struct tafel_field moment_fields[] = {
    F("date", TAFEL_F_DATE, REQ, .doc = "Date on the timeline", .doc_nl = "Datum"),
    TITLE,
    F("type", TAFEL_F_ENUM, 0, .values = moment_types, .doc = "Milestone or moment (default)",
      .doc_nl = "Mijlpaal of moment"),
    DESCRIPTION(2000),
    F("feelings", TAFEL_F_FEELINGS, SRV, .max_len = 100000, .min = -2, .max = 2,
      .doc = "Actor id -> -2..+2, set with the feel message", .doc_nl = "Gevoelsgrafiek"),
};

static const struct tafel_field lid_fields[] = {
    F("actor", TAFEL_F_STRING, REQ | TAFEL_FF_IMMUTABLE, .min_len = 1, .max_len = 64,
      .doc = "The member's key id", .doc_nl = "Actor-id van de sleutel"),
    F("name", TAFEL_F_STRING, REQ, .min_len = 1, .max_len = 200, .doc = "Name of the member",
      .doc_nl = "Naam"),
    F("role", TAFEL_F_ENUM, REQ, .values = member_roles, .doc = "Role in this opgave",
      .doc_nl = "Rol"),
    NAME200("organisation", "Organisation the member is from", "Organisatie"),
};

static const struct tafel_kind_def kinds[TAFEL_KIND__COUNT] = {
    {TAFEL_KIND_OPGAVE, "opgave", "A shared societal mission", "Maatschappelijke opgave",
     ROWS(opgave_fields)},
    {TAFEL_KIND_ACTIELIJN, "actielijn", "A line of action towards the goal", "Actielijn",
     ROWS(actielijn_fields)},
    {TAFEL_KIND_ACTIVITEIT, "activiteit", "An activity within an action line", "Activiteit",
     ROWS(activiteit_fields)},
    {TAFEL_KIND_INDICATOR, "indicator", "Something measured to steer by", "Indicator",
     ROWS(indicator_fields)},
    {TAFEL_KIND_METING, "meting", "A dated measurement of an indicator", "Meting",
     ROWS(meting_fields)},
    {TAFEL_KIND_REFLECTIE, "reflectie", "A reflection, idea or success story", "Reflectie",
     ROWS(reflectie_fields)},
    {TAFEL_KIND_SESSIE, "sessie", "A live session with participants", "Sessie",
     ROWS(sessie_fields)},
    {TAFEL_KIND_MOMENT, "moment", "A dated moment or milestone on the timeline", "Moment",
     ROWS(moment_fields)},
    {TAFEL_KIND_LID, "lid", "A member of the opgave", "Lid", ROWS(lid_fields)},
};

static const struct tafel_field common_fields[] = {
    F("id", TAFEL_F_STRING, TAFEL_FF_ID, .min_len = 1, .max_len = 64,
      .doc = "Assigned by the server, unique within the kind", .doc_nl = "Id"),
    F("kind", TAFEL_F_ENUM, 0, .values = kind_names, .doc = "The kind of document",
      .doc_nl = "Soort document"),
    F("rev", TAFEL_F_INT, 0, .min = 1, .max = (double)TAFEL_INT_MAX,
      .doc = "Revision: 1 on create, +1 on each change", .doc_nl = "Revisie"),
    F("opgave", TAFEL_F_STRING, TAFEL_FF_ID, .min_len = 1, .max_len = 64,
      .doc = "The opgave it belongs to; an opgave's is its own id", .doc_nl = "Opgave"),
    F("created_at", TAFEL_F_DATETIME, SRV, .doc = "When it was created", .doc_nl = "Aangemaakt"),
    F("updated_at", TAFEL_F_DATETIME, SRV, .doc = "When it last changed", .doc_nl = "Gewijzigd"),
    F("by", TAFEL_F_STRING, SRV, .min_len = 1, .max_len = 64, .doc = "Actor id of the last writer",
      .doc_nl = "Laatst gewijzigd door"),
    F("created_by", TAFEL_F_STRING, SRV, .min_len = 1, .max_len = 64,
      .doc = "Actor id of the creator (ownership: partners change their own documents)",
      .doc_nl = "Aangemaakt door"),
};

#define MODE(m)   (1u << (m))
#define FULL_DOCS (MODE(TAFEL_V_CREATE) | MODE(TAFEL_V_REPLACE) | MODE(TAFEL_V_STORED))
#define SAVED     (MODE(TAFEL_V_REPLACE) | MODE(TAFEL_V_STORED))

/* Where a client may send each common field (parallel to common_fields). */
static const struct {
    unsigned allowed;        /* modes in which it may be present */
    unsigned required;       /* modes in which it must be present */
    unsigned required_child; /* ... additionally, for every kind but opgave */
    bool is_kind;            /* must name the kind being validated */
} common_policy[] = {
    {SAVED, SAVED, 0, false},                                       /* id */
    {FULL_DOCS, MODE(TAFEL_V_STORED), 0, true},                     /* kind */
    {SAVED, SAVED, 0, false},                                       /* rev */
    {FULL_DOCS, MODE(TAFEL_V_STORED), MODE(TAFEL_V_CREATE), false}, /* opgave */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* created_at */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* updated_at */
    {MODE(TAFEL_V_STORED), MODE(TAFEL_V_STORED), 0, false},         /* by */
    {MODE(TAFEL_V_STORED), 0, 0, false},                            /* created_by */
};
_Static_assert(sizeof(common_policy) / sizeof(common_policy[0]) ==
                   sizeof(common_fields) / sizeof(common_fields[0]),
               "one policy per common field");

static const char *const mode_verbs[] = {"creating", "replacing", "patching", "storing"};

/* ------------------------------------------------------------ look-ups */

const struct tafel_kind_def *tafel_schema_kind(enum tafel_kind kind)
{
    return (int)kind >= 0 && kind < TAFEL_KIND__COUNT ? &kinds[kind] : NULL;
}

const struct tafel_kind_def *tafel_schema_kind_by_name(const char *name)
{
    for (size_t i = 0; name && i < TAFEL_KIND__COUNT; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

static const struct tafel_field *find_field(const struct tafel_field *fields, size_t n,
                                            const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].name, name) == 0)
            return &fields[i];
    return NULL;
}

const struct tafel_field *tafel_schema_field(const struct tafel_kind_def *def, const char *name)
{
    return def && name ? find_field(def->fields, def->nfields, name) : NULL;
}

const struct tafel_field *tafel_schema_common_fields(size_t *n)
{
    if (n)
        *n = sizeof(common_fields) / sizeof(common_fields[0]);
    return common_fields;
}

/* ---------------------------------------------------- text and ids */

bool tafel__id_valid(const char *s, size_t len)
{
    if (len < 1 || len > TAFEL_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

bool tafel__text_ok(const char *s, size_t len, bool multiline, size_t *cps)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        if ((c & 0xc0) != 0x80)
            n++;
        if (c < 0x20 && !(multiline && (c == '\n' || c == '\t')))
            return false;
        /* DEL, and C1 controls U+0080..U+009F (encoded C2 80..C2 9F). */
        if (c == 0x7f || (c == 0xc2 && i + 1 < len && p[i + 1] <= 0x9f))
            return false;
    }
    *cps = n;
    return true;
}

/* The next code point of valid UTF-8 at @p p (the parser checked it). */
static uint32_t next_cp(const unsigned char *p, size_t len, size_t *i)
{
    uint32_t c = p[*i];
    size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
    if (*i + n > len)
        n = len - *i;
    if (n > 1)
        c &= 0xff >> (n + 1);
    for (size_t k = 1; k < n; k++)
        c = c << 6 | (p[*i + k] & 0x3f);
    *i += n;
    return c;
}

/* Characters that reorder text: a name with one can show as another. */
static bool is_bidi_control(uint32_t c)
{
    return c == 0x061c || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) ||
           (c >= 0x2066 && c <= 0x2069);
}

/* Characters that show nothing: spaces, zero-width and other format
 * characters, fillers, variation selectors, tags. */
static bool is_invisible(uint32_t c)
{
    return c == 0x20 || c == 0xa0 || c == 0xad || c == 0x034f || c == 0x115f || c == 0x1160 ||
           c == 0x1680 || c == 0x180e || (c >= 0x2000 && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202f) || (c >= 0x205f && c <= 0x206f) || c == 0x3000 ||
           c == 0x3164 || (c >= 0xfe00 && c <= 0xfe0f) || c == 0xfeff || c == 0xffa0 ||
           (c >= 0xe0000 && c <= 0xe007f);
}

bool tafel__name_ok(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    bool visible = false;
    for (size_t i = 0; i < len;) {
        uint32_t c = next_cp(p, len, &i);
        if (is_bidi_control(c))
            return false;
        visible |= !is_invisible(c);
    }
    return visible;
}

/* ------------------------------------------------------- validation */

struct vctx {
    const struct tafel_kind_def *def;
    enum tafel_validate_mode mode;
    const char *prefix; /* "doc" or "set": the errinfo path */
    struct tafel_errinfo *info;
};

/* Set the error for @p field (NULL: the document itself) as "prefix.field". */
__attribute__((format(printf, 4, 5))) static enum tafel_err
fail(const struct vctx *v, enum tafel_err code, const char *field, const char *fmt, ...)
{
    char path[64], msg[200];
    va_list ap;
    if (field)
        snprintf(path, sizeof(path), "%s.%s", v->prefix, field);
    else
        snprintf(path, sizeof(path), "%s", v->prefix);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return tafel_errinfo_set(v->info, code, path, "%s: %s", path, msg);
}

/* The value of a JSON string without an embedded NUL, or NULL. */
static const char *plain_string(const json_t *val)
{
    const char *s = json_string_value(val);
    return s && strlen(s) == json_string_length(val) ? s : NULL;
}

int tafel__word_index(const char *const *words, const char *s)
{
    for (int i = 0; s && words[i]; i++)
        if (strcmp(words[i], s) == 0)
            return i;
    return -1;
}

const char *tafel__join_words(const char *const *words, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (; *words && used < size; words++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? "|" : "", *words);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

static bool in_values(const char *const *values, const char *s)
{
    return tafel__word_index(values, s) >= 0;
}

/* Integers must be exact: compare as integers against 2^53 first, then as
 * doubles (exact below 2^53) against the field's limits. */
static bool int_in_range(json_int_t x, double min, double max)
{
    if (x > TAFEL_INT_MAX || x < -TAFEL_INT_MAX)
        return false;
    return (double)x >= min && (double)x <= max;
}

static enum tafel_err check_string(const struct vctx *v, const struct tafel_field *f,
                                   const json_t *val)
{
    const char *s = plain_string(val);
    size_t cps;
    if (!s)
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be a string");
    if (!tafel__text_ok(s, json_string_length(val), true, &cps))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "control characters are not allowed");
    if ((int64_t)cps > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "longer than %lld characters",
                    (long long)f->max_len);
    if ((int64_t)cps < f->min_len)
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "shorter than %lld characters",
                    (long long)f->min_len);
    if ((f->flags & TAFEL_FF_ID) && !tafel__id_valid(s, json_string_length(val)))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "not a valid id");
    return TAFEL_E_OK;
}

/* One item of an ENUM_SET or STRING_SET. */
static bool set_item_ok(const struct tafel_field *f, const json_t *item)
{
    const char *s = plain_string(item);
    size_t cps;
    if (f->type == TAFEL_F_ENUM_SET)
        return in_values(f->values, s);
    return s && json_string_length(item) >= 1 && json_string_length(item) <= TAFEL_ID_MAX &&
           tafel__text_ok(s, json_string_length(item), false, &cps);
}

/* Arrays of distinct strings: a jansson object serves as the hash set, so
 * that 100,000 voters cost linear time. */
static enum tafel_err check_set(const struct vctx *v, const struct tafel_field *f,
                                const json_t *val)
{
    enum tafel_err e = TAFEL_E_OK;
    json_t *seen = NULL;
    size_t i;
    const json_t *item;
    if (!json_is_array(val))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be an array");
    if ((int64_t)json_array_size(val) > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "more than %lld items", (long long)f->max_len);
    seen = json_object();
    if (!seen)
        return fail(v, TAFEL_E_NOMEM, f->name, "out of memory");
    json_array_foreach(val, i, item)
    {
        if (!set_item_ok(f, item)) {
            e = fail(v, TAFEL_E_BAD_REQUEST, f->name, "item %zu is not allowed", i);
            goto cleanup;
        }
        const char *s = json_string_value(item);
        if (json_object_get(seen, s)) {
            e = fail(v, TAFEL_E_BAD_REQUEST, f->name, "\"%s\" appears twice", s);
            goto cleanup;
        }
        if (json_object_set_new_nocheck(seen, s, json_null()) != 0) {
            e = fail(v, TAFEL_E_NOMEM, f->name, "out of memory");
            goto cleanup;
        }
    }
cleanup:
    json_decref(seen);
    return e;
}

static enum tafel_err check_feelings(const struct vctx *v, const struct tafel_field *f,
                                     const json_t *val)
{
    const char *actor;
    size_t n, cps;
    json_t *x;
    if (!json_is_object(val))
        return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be an object");
    if ((int64_t)json_object_size(val) > f->max_len)
        return fail(v, TAFEL_E_TOO_LARGE, f->name, "more than %lld members", (long long)f->max_len);
    /* json_object_foreach wants a mutable object; iteration changes nothing. */
    json_object_keylen_foreach((json_t *)val, actor, n, x)
    {
        if (n < 1 || n > TAFEL_ID_MAX || strlen(actor) != n ||
            !tafel__text_ok(actor, n, false, &cps))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "a key is not an actor id");
        if (!json_is_integer(x) || !int_in_range(json_integer_value(x), f->min, f->max))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "values must be integers %g..%g", f->min,
                        f->max);
    }
    return TAFEL_E_OK;
}

/* True when the scalar @p val has the simple type @p t and lies within the
 * field's limits; the types with more to say have their own functions. */
static bool scalar_ok(const struct tafel_field *f, const json_t *val)
{
    const char *s = plain_string(val);
    int64_t ms;
    switch (f->type) {
    case TAFEL_F_ENUM:
        return in_values(f->values, s);
    case TAFEL_F_INT:
        return json_is_integer(val) && int_in_range(json_integer_value(val), f->min, f->max);
    case TAFEL_F_NUMBER:
        return json_is_number(val) && isfinite(json_number_value(val)) &&
               json_number_value(val) >= f->min && json_number_value(val) <= f->max;
    case TAFEL_F_BOOL:
        return json_is_boolean(val);
    case TAFEL_F_DATE:
        return tafel_date_valid(s);
    case TAFEL_F_DATETIME:
        return s && tafel_time_parse(s, &ms);
    case TAFEL_F_REF:
        return s && tafel__id_valid(s, strlen(s));
    default:
        return false;
    }
}

/* What scalar_ok() expected, for the error message. */
static const char *expected(const struct tafel_field *f, char *buf, size_t size)
{
    switch (f->type) {
    case TAFEL_F_ENUM:
        return tafel__join_words(f->values, buf, size);
    case TAFEL_F_INT:
        snprintf(buf, size, "an integer %.0f..%.0f", f->min, f->max);
        return buf;
    case TAFEL_F_NUMBER:
        snprintf(buf, size, "a number %g..%g", f->min, f->max);
        return buf;
    case TAFEL_F_BOOL:
        return "true or false";
    case TAFEL_F_DATE:
        return "a date YYYY-MM-DD";
    case TAFEL_F_DATETIME:
        return "an RFC 3339 timestamp";
    default:
        return "an id";
    }
}

static enum tafel_err check_value(const struct vctx *v, const struct tafel_field *f,
                                  const json_t *val)
{
    char buf[160];
    switch (f->type) {
    case TAFEL_F_STRING:
        return check_string(v, f, val);
    case TAFEL_F_ENUM_SET:
    case TAFEL_F_STRING_SET:
        return check_set(v, f, val);
    case TAFEL_F_FEELINGS:
        return check_feelings(v, f, val);
    default:
        if (!scalar_ok(f, val))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "must be %s",
                        expected(f, buf, sizeof(buf)));
        return TAFEL_E_OK;
    }
}

static enum tafel_err check_member(const struct vctx *v, const char *key, const json_t *val)
{
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    const struct tafel_field *f = tafel_schema_field(v->def, key);
    const struct tafel_field *c = f ? NULL : find_field(common, ncommon, key);
    if (c) {
        size_t i = (size_t)(c - common);
        if (!(common_policy[i].allowed & MODE(v->mode)))
            return fail(v, TAFEL_E_BAD_REQUEST, key, "may not be sent when %s",
                        mode_verbs[v->mode]);
        enum tafel_err e = check_value(v, c, val);
        if (e == TAFEL_E_OK && common_policy[i].is_kind &&
            strcmp(json_string_value(val), v->def->name) != 0)
            e = fail(v, TAFEL_E_BAD_REQUEST, key, "must be \"%s\"", v->def->name);
        return e;
    }
    if (!f)
        return fail(v, TAFEL_E_BAD_REQUEST, key, "unknown field");
    if ((f->flags & TAFEL_FF_SERVER) && v->mode != TAFEL_V_STORED)
        return fail(v, TAFEL_E_BAD_REQUEST, key, "is set by the server");
    if (json_is_null(val)) {
        if (v->mode != TAFEL_V_PATCH)
            return fail(v, TAFEL_E_BAD_REQUEST, key, "null only removes a field in a patch");
        if (f->flags & TAFEL_FF_REQUIRED)
            return fail(v, TAFEL_E_BAD_REQUEST, key, "required, cannot be removed");
        return TAFEL_E_OK;
    }
    if (v->mode == TAFEL_V_PATCH && (f->flags & TAFEL_FF_IMMUTABLE))
        return fail(v, TAFEL_E_BAD_REQUEST, key, "cannot be changed");
    return check_value(v, f, val);
}

static enum tafel_err check_required(const struct vctx *v, const json_t *doc)
{
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    bool child = v->def->kind != TAFEL_KIND_OPGAVE;
    for (size_t i = 0; i < ncommon; i++) {
        unsigned req = common_policy[i].required | (child ? common_policy[i].required_child : 0);
        if ((req & MODE(v->mode)) && !json_object_get(doc, common[i].name))
            return fail(v, TAFEL_E_BAD_REQUEST, common[i].name, "required");
    }
    if (v->mode == TAFEL_V_PATCH)
        return TAFEL_E_OK;
    for (size_t i = 0; i < v->def->nfields; i++) {
        const struct tafel_field *f = &v->def->fields[i];
        bool client_sends = !(f->flags & TAFEL_FF_SERVER) || v->mode == TAFEL_V_STORED;
        if ((f->flags & TAFEL_FF_REQUIRED) && client_sends && !json_object_get(doc, f->name))
            return fail(v, TAFEL_E_BAD_REQUEST, f->name, "required");
    }
    return TAFEL_E_OK;
}

enum tafel_err tafel_schema_validate(enum tafel_kind kind, const json_t *doc,
                                     enum tafel_validate_mode mode, struct tafel_errinfo *info)
{
    const char *key;
    json_t *val;
    struct vctx v = {tafel_schema_kind(kind), mode, mode == TAFEL_V_PATCH ? "set" : "doc", info};
    if (!v.def || (int)mode < 0 || mode > TAFEL_V_STORED)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no such kind or mode");
    if (!json_is_object(doc))
        return fail(&v, TAFEL_E_BAD_REQUEST, NULL, "must be an object");
    /* json_object_foreach wants a mutable object; iteration changes nothing. */
    json_object_foreach((json_t *)doc, key, val)
    {
        enum tafel_err e = check_member(&v, key, val);
        if (e != TAFEL_E_OK)
            return e;
    }
    return check_required(&v, doc);
}

/* --------------------------------------------------------- flags */

/* Equal as stored values: JSON null and absence are the same. */
static bool same_value(const json_t *a, const json_t *b)
{
    a = json_is_null(a) ? NULL : a;
    b = json_is_null(b) ? NULL : b;
    if (!a || !b)
        return a == b;
    return json_equal(a, b);
}

bool tafel_schema_touches_flag(enum tafel_kind kind, const json_t *current, const json_t *set,
                               unsigned flag, const char **field)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    if (!def || !json_is_object(set))
        return false;
    bool full = current == NULL || json_object_get(set, "id") != NULL;
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        const json_t *now = json_object_get(set, f->name);
        if (!(f->flags & flag) || (!now && !full))
            continue;
        if (!same_value(current ? json_object_get(current, f->name) : NULL, now)) {
            if (field)
                *field = f->name;
            return true;
        }
    }
    return false;
}
