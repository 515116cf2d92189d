/*
 * schema_doc.c - the schema table for others to read: the JSON document
 * tafeld serves at /schema.json (the page builds its forms, labels and
 * buttons from it) and the Markdown pages docs/data-model.md and
 * docs/permissions.md.
 *
 * Everything per kind, per field, per enumeration value and per permission
 * cell comes from the rows in schema.c; what is here besides is fixed English
 * prose about all kinds at once. Output depends on the table only (no time,
 * no locale), so the committed docs can be compared byte for byte with a
 * fresh run (the docs_generated test). Pure C + jansson, no I/O.
 */
#include "tafel_protocol.h"
#include "tafel_schema.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ /schema.json */

/* Building a document of a few hundred objects: rather than test every
 * jansson call, remember that one failed (out of memory) and give up at
 * the end. */
struct jb {
    bool failed;
};

static void put(struct jb *b, json_t *obj, const char *key, json_t *val)
{
    if (!val || json_object_set_new(obj, key, val) != 0)
        b->failed = true;
}

static void append(struct jb *b, json_t *arr, json_t *val)
{
    if (!val || json_array_append_new(arr, val) != 0)
        b->failed = true;
}

/* {"nl": ..., "en": ...} */
static json_t *nl_en(const char *nl, const char *en)
{
    return json_pack("{s:s?,s:s?}", "nl", nl, "en", en);
}

/* A limit as a JSON number: an integer when it is one (every limit of the
 * table is), so that JavaScript reads 1000000000000000, not 1e15. */
static json_t *limit_value(double x)
{
    if (x >= -(double)TAFEL_INT_MAX && x <= (double)TAFEL_INT_MAX && x == (double)(json_int_t)x)
        return json_integer((json_int_t)x);
    return json_real(x);
}

static json_t *field_json(struct jb *b, const struct tafel_field *f)
{
    json_t *o = json_object();
    if (!o) {
        b->failed = true;
        return NULL;
    }
    put(b, o, "name", json_string(f->name));
    put(b, o, "type", json_string(tafel_ftype_name(f->type)));
    put(b, o, "required", json_boolean(f->flags & TAFEL_FF_REQUIRED));
    put(b, o, "server", json_boolean(f->flags & TAFEL_FF_SERVER));
    put(b, o, "moderate", json_boolean(f->flags & TAFEL_FF_MODERATE));
    put(b, o, "immutable", json_boolean(f->flags & TAFEL_FF_IMMUTABLE));
    put(b, o, "id", json_boolean(f->flags & TAFEL_FF_ID));
    put(b, o, "secret", json_boolean(f->flags & TAFEL_FF_SECRET));
    switch (f->type) {
    case TAFEL_F_STRING:
        put(b, o, "min_len", json_integer(f->min_len));
        put(b, o, "max_len", json_integer(f->max_len));
        break;
    case TAFEL_F_ENUM_SET:
    case TAFEL_F_STRING_SET:
    case TAFEL_F_FEELINGS:
        put(b, o, "max_len", json_integer(f->max_len));
        break;
    case TAFEL_F_INT:
    case TAFEL_F_NUMBER:
        put(b, o, "min", limit_value(f->min));
        put(b, o, "max", limit_value(f->max));
        break;
    case TAFEL_F_REF:
        put(b, o, "ref", json_string(tafel_schema_kind(f->ref)->name));
        break;
    case TAFEL_F_REF_SET:
        put(b, o, "ref", json_string(tafel_schema_kind(f->ref)->name));
        put(b, o, "max_len", json_integer(f->max_len));
        break;
    default:
        break;
    }
    if (f->type == TAFEL_F_ENUM || f->type == TAFEL_F_ENUM_SET) {
        json_t *values = json_array();
        for (size_t i = 0; values && i < tafel_schema_nvalues(f); i++) {
            const struct tafel_enum_value *v = &f->values[i];
            append(b, values,
                   json_pack("{s:s,s:o}", "value", v->value, "label",
                             nl_en(tafel_schema_value_label(v, false),
                                   tafel_schema_value_label(v, true))));
        }
        put(b, o, "values", values);
    }
    put(b, o, "label", nl_en(f->label_nl, f->label_en));
    put(b, o, "doc", nl_en(f->doc_nl, f->doc));
    return o;
}

static json_t *fields_json(struct jb *b, const struct tafel_field *fields, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        append(b, arr, field_json(b, &fields[i]));
    return arr;
}

static json_t *permissions_json(struct jb *b, const struct tafel_kind_def *def)
{
    json_t *roles = json_object();
    for (int r = 0; roles && r < TAFEL_ROLE__COUNT; r++) {
        json_t *cells = json_object();
        for (int a = 0; cells && a < TAFEL_ACT__COUNT; a++)
            put(b, cells, tafel_action_name((enum tafel_action)a),
                json_string(tafel_perm_name(def->perm[r][a])));
        put(b, roles, tafel_role_name((enum tafel_role)r), cells);
    }
    return roles;
}

static json_t *kind_json(struct jb *b, const struct tafel_kind_def *def)
{
    json_t *o = json_object();
    if (!o) {
        b->failed = true;
        return NULL;
    }
    put(b, o, "name", json_string(def->name));
    put(b, o, "label", nl_en(def->label_nl, def->label_en));
    put(b, o, "plural", nl_en(def->plural_nl, def->plural_en));
    put(b, o, "doc", nl_en(def->doc_nl, def->doc));
    put(b, o, "audited", json_boolean(def->audited));
    put(b, o, "moderated", json_boolean(def->moderated));
    put(b, o, "permissions", permissions_json(b, def));
    put(b, o, "fields", fields_json(b, def->fields, def->nfields));
    return o;
}

json_t *tafel_schema_json(void)
{
    struct jb b = {false};
    json_t *doc = json_object();
    if (!doc)
        return NULL;
    put(&b, doc, "protocol", json_string(TAFEL_SUBPROTOCOL));
    json_t *roles = json_array();
    for (int r = 0; roles && r < TAFEL_ROLE__COUNT; r++)
        append(&b, roles,
               json_pack("{s:s,s:o}", "name", tafel_role_name((enum tafel_role)r), "label",
                         nl_en(tafel_role_label((enum tafel_role)r, false),
                               tafel_role_label((enum tafel_role)r, true))));
    put(&b, doc, "roles", roles);
    json_t *actions = json_array();
    for (int a = 0; actions && a < TAFEL_ACT__COUNT; a++)
        append(&b, actions, json_string(tafel_action_name((enum tafel_action)a)));
    put(&b, doc, "actions", actions);
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    put(&b, doc, "common_fields", fields_json(&b, common, ncommon));
    json_t *kinds = json_array();
    for (int k = 0; kinds && k < TAFEL_KIND__COUNT; k++)
        append(&b, kinds, kind_json(&b, tafel_schema_kind((enum tafel_kind)k)));
    put(&b, doc, "kinds", kinds);
    if (b.failed) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ---------------------------------------------------------- Markdown text */

/* A growing string; `failed` once an allocation failed (the rest is then
 * skipped and the caller gets NULL). */
struct md {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void md_grow(struct md *m, size_t more)
{
    if (m->failed || m->len + more + 1 <= m->cap)
        return;
    size_t cap = m->cap ? m->cap : 4096;
    while (cap < m->len + more + 1)
        cap *= 2;
    char *p = realloc(m->buf, cap);
    if (!p) {
        m->failed = true;
        return;
    }
    m->buf = p;
    m->cap = cap;
}

static void md_put(struct md *m, const char *s, size_t n)
{
    md_grow(m, n);
    if (m->failed)
        return;
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = '\0';
}

static void md_puts(struct md *m, const char *s)
{
    md_put(m, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void md_printf(struct md *m, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        m->failed = true;
        return;
    }
    md_grow(m, (size_t)n);
    if (m->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(m->buf + m->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    m->len += (size_t)n;
}

#define WRAP 78 /* the docs' line length */

/* @p text as lines of at most WRAP columns (a longer word stands alone),
 * the first starting with @p first, the others with @p rest; then a blank
 * line. Prose is written through here so that a generated word of any
 * length (a kind's name, a count) still gives tidy lines. */
static void md_wrap(struct md *m, const char *first, const char *rest, const char *text)
{
    const char *lead = first;
    size_t col = 0;
    bool line_empty = true;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        /* A word ends at a space outside `code`: a code span stays on one
         * line. */
        size_t w = 0;
        bool code = false;
        while (p[w] && (code || (p[w] != ' ' && p[w] != '\n'))) {
            code ^= p[w] == '`';
            w++;
        }
        /* Columns, not bytes: count UTF-8 lead bytes only. */
        size_t cols = 0;
        for (size_t i = 0; i < w; i++)
            cols += ((unsigned char)p[i] & 0xc0) != 0x80;
        if (!line_empty && col + 1 + cols > WRAP) {
            md_puts(m, "\n");
            line_empty = true;
            lead = rest;
        }
        if (line_empty) {
            md_puts(m, lead);
            col = strlen(lead);
            line_empty = false;
        } else {
            md_puts(m, " ");
            col++;
        }
        md_put(m, p, w);
        col += cols;
        p += w;
    }
    md_puts(m, "\n\n");
}

static void para(struct md *m, const char *text)
{
    md_wrap(m, "", "", text);
}

/* A list item; the blank line after it is dropped when more items follow,
 * so that consecutive items form one list. */
static void bullet(struct md *m, const char *text, bool last)
{
    md_wrap(m, "- ", "  ", text);
    if (!last && !m->failed && m->len > 0)
        m->buf[--m->len] = '\0';
}

/* Text for a table cell: '|' would end the cell. */
static void md_cell(struct md *m, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            md_puts(m, "\\|");
        else if (*s == '\n')
            md_puts(m, " ");
        else
            md_put(m, s, 1);
    }
}

/* "nine" for 9: prose reads better with small counts in words. */
static const char *count_words(size_t n, char *buf, size_t size)
{
    static const char *const words[] = {
        "zero",     "one",     "two",     "three",     "four",     "five",     "six",
        "seven",    "eight",   "nine",    "ten",       "eleven",   "twelve",   "thirteen",
        "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty"};
    if (n < sizeof(words) / sizeof(words[0]))
        return words[n];
    snprintf(buf, size, "%zu", n);
    return buf;
}

/* 100000 -> "100,000": item counts are easier to read with separators. */
static void md_count(struct md *m, long long n)
{
    char digits[32], out[48];
    snprintf(digits, sizeof(digits), "%lld", n);
    size_t len = strlen(digits), j = 0;
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0 && len > 4)
            out[j++] = ',';
        out[j++] = digits[i];
    }
    out[j] = '\0';
    md_puts(m, out);
}

/* A limit for people: 2^53 and 10^15 as powers, the rest as integers. */
static void md_limit(struct md *m, double x)
{
    double a = x < 0 ? -x : x, p = 1e6;
    const char *sign = x < 0 ? "-" : "";
    int e = 6;
    while (p < a && e < 300) {
        p *= 10;
        e++;
    }
    if (a == (double)TAFEL_INT_MAX)
        md_printf(m, "%s2^53", sign);
    else if (a == p)
        md_printf(m, "%s10^%d", sign, e);
    else
        md_printf(m, "%.0f", x);
}

static bool same_words(const char *a, const char *b)
{
    return a && b && strcasecmp(a, b) == 0;
}

/* "`groen` green, `oranje` orange": the wire words, each with its English
 * label where that is another word. */
static void md_values(struct md *m, const struct tafel_field *f)
{
    for (size_t i = 0; i < tafel_schema_nvalues(f); i++) {
        const struct tafel_enum_value *v = &f->values[i];
        const char *en = v->label_en; /* NULL for a kind: its name is its label */
        md_printf(m, "%s`%s`", i ? ", " : "", v->value);
        if (en && !same_words(en, v->value)) {
            md_puts(m, " ");
            md_cell(m, en);
        }
    }
}

static void md_type(struct md *m, const struct tafel_field *f)
{
    md_puts(m, tafel_ftype_name(f->type));
    if (f->type == TAFEL_F_REF || f->type == TAFEL_F_REF_SET)
        md_printf(m, " → `%s`", tafel_schema_kind(f->ref)->name);
    if (f->flags & TAFEL_FF_ID)
        md_puts(m, " (id)");
}

static void md_limits(struct md *m, const struct tafel_field *f)
{
    switch (f->type) {
    case TAFEL_F_STRING:
        if (f->min_len > 0)
            md_printf(m, "%lld", (long long)f->min_len);
        md_printf(m, "..%lld", (long long)f->max_len);
        break;
    case TAFEL_F_ENUM:
        md_values(m, f);
        break;
    case TAFEL_F_ENUM_SET:
        md_puts(m, "at most ");
        md_count(m, f->max_len);
        md_puts(m, " of ");
        md_values(m, f);
        break;
    case TAFEL_F_INT:
    case TAFEL_F_NUMBER:
        md_limit(m, f->min);
        md_puts(m, "..");
        md_limit(m, f->max);
        break;
    case TAFEL_F_STRING_SET:
    case TAFEL_F_REF_SET:
        md_puts(m, "at most ");
        md_count(m, f->max_len);
        break;
    case TAFEL_F_FEELINGS:
        md_puts(m, "at most ");
        md_count(m, f->max_len);
        md_puts(m, " actors, values ");
        md_limit(m, f->min);
        md_puts(m, "..");
        md_limit(m, f->max);
        break;
    default:
        break;
    }
}

static void md_flags(struct md *m, unsigned flags)
{
    static const struct {
        unsigned flag;
        const char *word;
    } words[] = {{TAFEL_FF_REQUIRED, "required"},
                 {TAFEL_FF_IMMUTABLE, "immutable"},
                 {TAFEL_FF_SERVER, "server"},
                 {TAFEL_FF_MODERATE, "moderate"},
                 {TAFEL_FF_SECRET, "secret"}};
    bool any = false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (flags & words[i].flag) {
            md_printf(m, "%s%s", any ? ", " : "", words[i].word);
            any = true;
        }
}

/* "A shared societal mission" -> "a shared societal mission" in a heading. */
static void md_lower_first(struct md *m, const char *s)
{
    if (!s || !*s)
        return;
    char c = (char)tolower((unsigned char)s[0]);
    md_put(m, &c, 1);
    md_cell(m, s + 1);
}

static void field_table(struct md *m, const struct tafel_field *fields, size_t n)
{
    md_puts(m, "| field | type | limits | flags | label (nl / en) | meaning |\n"
               "| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < n; i++) {
        const struct tafel_field *f = &fields[i];
        md_printf(m, "| `%s` | ", f->name);
        md_type(m, f);
        md_puts(m, " | ");
        md_limits(m, f);
        md_puts(m, " | ");
        md_flags(m, f->flags);
        md_puts(m, " | ");
        md_cell(m, f->label_nl);
        md_puts(m, " / ");
        md_cell(m, f->label_en);
        md_puts(m, " | ");
        md_cell(m, f->doc);
        /* The Dutch line, where it says more than the label. */
        if (!same_words(f->doc_nl, f->label_nl)) {
            md_puts(m, " (*");
            md_lower_first(m, f->doc_nl);
            md_puts(m, "*)");
        }
        md_puts(m, " |\n");
    }
    md_puts(m, "\n");
}

static void kind_section(struct md *m, const struct tafel_kind_def *def)
{
    char line[512];
    md_printf(m, "## `%s` — ", def->name);
    md_lower_first(m, def->doc);
    if (!same_words(def->doc_nl, def->name)) {
        md_puts(m, " (*");
        md_lower_first(m, def->doc_nl);
        md_puts(m, "*)");
    }
    md_puts(m, "\n\n");
    if (def->about)
        para(m, def->about);
    snprintf(line, sizeof(line), "Label: *%s*, plural *%s* (English: %s, %s).", def->label_nl,
             def->plural_nl, def->label_en, def->plural_en);
    para(m, line);
    if (def->audited)
        para(m, "Audited: every `put`, `patch` and `delete` of this kind writes an entry to "
                "the audit log (`audit.list`).");
    if (def->moderated) {
        struct md names = {0};
        size_t n = 0, total = 0;
        for (size_t i = 0; i < def->nfields; i++)
            total += (def->fields[i].flags & TAFEL_FF_MODERATE) != 0;
        for (size_t i = 0; i < def->nfields; i++)
            if (def->fields[i].flags & TAFEL_FF_MODERATE)
                md_printf(&names, "%s`%s`",
                          ++n == 1     ? ""
                          : n == total ? " and "
                                       : ", ",
                          def->fields[i].name);
        snprintf(line, sizeof(line),
                 "Moderated: only a moderator of the opgave sets %s (through `moderate`); a "
                 "hidden document is seen only by its moderators.",
                 names.buf && !names.failed ? names.buf : "its moderated fields");
        free(names.buf);
        para(m, line);
    }
    field_table(m, def->fields, def->nfields);
}

static void data_model(struct md *m)
{
    char nbuf[24], intro[1024];
    md_puts(m, "# Data model\n\n");
    md_puts(m, "<!-- Generated by `tafeld schema --markdown data-model` from protocol/schema.c; "
               "edit the table, then run scripts/gen-docs.sh. -->\n\n");
    snprintf(intro, sizeof(intro),
             "Every document Tafel stores is a JSON object of one of %s **kinds**. This page "
             "describes each kind and each field. It is generated from the schema table in "
             "`protocol/schema.c` (one row per kind), which is what the server validates "
             "against, so this page and the server cannot disagree. The same table is served "
             "as `GET /schema.json` (see protocol.md): the web page builds its forms, labels "
             "and buttons from it.",
             count_words(TAFEL_KIND__COUNT, nbuf, sizeof(nbuf)));
    para(m, intro);
    para(m, "Field names are English identifiers; the values of enumerations are the Dutch "
            "words the users speak (`groen`, `mijlpaal`, `succesverhaal`...), shown here with "
            "their English labels. Every kind, field and enumeration value has a Dutch and an "
            "English label, the words the page and the CLI show; where a field's Dutch "
            "description says more than its label, it follows the meaning in *italics*. The "
            "domain itself is described in `../shared/DOMAIN.md`.");
    md_puts(m, "## Conventions\n\n");
    md_puts(
        m,
        "**Types** (as named in `/schema.json`)\n\n"
        "| type | JSON | rules |\n"
        "| --- | --- | --- |\n"
        "| string | string | length counted in Unicode code points; no control characters "
        "except newline and tab (C0, DEL and C1 are refused) |\n"
        "| enum | string | exactly one of the listed values |\n"
        "| enum_set | array of strings | distinct, each one of the listed values |\n"
        "| int | number | a JSON integer (no fraction, no exponent: `2.0` and `1e3` are refused), "
        "within the limits; never beyond ±2^53 |\n"
        "| number | number | integer or real, finite, within the limits |\n"
        "| bool | `true` / `false` | |\n"
        "| date | string | `YYYY-MM-DD`, a real calendar date, years 1900..2999 (`2026-02-30` is "
        "refused) |\n"
        "| datetime | string | RFC 3339: `2026-11-23T09:15:02.123Z`, or with a numeric offset "
        "`+01:00`; the server writes UTC with milliseconds |\n"
        "| ref | string | the id of a document of the named kind in the same opgave (existence "
        "is checked by the server) |\n"
        "| id | string | 1..64 characters of `A-Z a-z 0-9 _ -` (a string marked (id)) |\n"
        "| feelings | object | actor id (1..64 bytes) → integer within the limits |\n"
        "| string_set | array of strings | distinct, each 1..64 bytes without control "
        "characters |\n"
        "| ref_set | array of strings | distinct ids, each of a document of the named kind in "
        "the same opgave (existence is checked by the server) |\n\n");
    md_puts(m, "**Flags**\n\n"
               "| flag | meaning |\n"
               "| --- | --- |\n"
               "| required | must be present and not `null` in a full document (create, "
               "replace) |\n"
               "| server | set by the server only; a client that sends it gets `bad_request` "
               "naming the field |\n"
               "| moderate | only a moderator of the opgave (beheerder, opgaveleider) may set or "
               "change it |\n"
               "| immutable | set on create, never changed afterwards (a `patch` of it is "
               "`bad_request`) |\n"
               "| secret | read only by the opgave's moderators and by the inwoners joined to "
               "this very document; everyone else gets the document without it |\n\n");
    para(m, "A string or enum without a lower limit may be empty (`\"\"`). A field without "
            "\"required\" may be left out.");
    md_puts(m, "## How documents are validated\n\n");
    para(m, "A document reaches the validator in one of four ways:");
    bullet(m,
           "**create** (`put` without `doc.id`): the client fields of the kind. `id` and `rev` "
           "must be absent. `kind` may be sent and must then equal the message's kind. "
           "`opgave` (an id) is **required for every kind except `opgave`**. Other common "
           "fields are refused.",
           false);
    bullet(m,
           "**replace** (`put` with `doc.id`): as create, and `id` and `rev` (the stored "
           "revision) are required; `opgave` may be sent.",
           false);
    bullet(m,
           "**patch** (`patch`'s `set`): any non-empty subset of the client fields. `null` "
           "removes an optional field; `null` on a required field is `bad_request`. Common "
           "fields and immutable fields cannot be patched.",
           false);
    bullet(m,
           "**stored**: the complete document as the server stores it, server fields and "
           "common fields included.",
           true);
    para(m, "A `null` value is only meaningful in a patch; in a full document leave the field "
            "out instead. Unknown fields are `bad_request` (\"unknown field\"). Errors name the "
            "field as a dotted path: `doc.title` for `put`, `set.traffic_light` for `patch`. A "
            "string longer than its limit, or a set with too many items, is `too_large` rather "
            "than `bad_request`.");
    md_puts(m, "## Common fields\n\n");
    para(m, "Every stored document has these (`../shared/PROTOCOL.md`). They belong to the "
            "server: a client may send `id`, `kind`, `rev` and (on create) `opgave`, never the "
            "others.");
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    field_table(m, common, ncommon);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++)
        kind_section(m, tafel_schema_kind((enum tafel_kind)k));
}

/* "R C, U D own": the letters of the YES cells, then those of the OWN cells. */
static void md_cells(struct md *m, const struct tafel_kind_def *def, int role)
{
    static const char letters[TAFEL_ACT__COUNT] = {'R', 'C', 'U', 'D', 'M'};
    bool any = false, own = false;
    for (int a = 0; a < TAFEL_ACT__COUNT; a++)
        if (def->perm[role][a] == TAFEL_PERM_YES) {
            md_printf(m, "%s%c", any ? " " : "", letters[a]);
            any = true;
        }
    for (int a = 0; a < TAFEL_ACT__COUNT; a++)
        if (def->perm[role][a] == TAFEL_PERM_OWN) {
            md_printf(m, "%s%c", own ? " " : any ? ", " : "", letters[a]);
            own = any = true;
        }
    if (own)
        md_puts(m, " own");
    for (int a = 0; a < TAFEL_ACT__COUNT; a++)
        if (def->perm[role][a] != TAFEL_PERM_YES && def->perm[role][a] != TAFEL_PERM_NO &&
            def->perm[role][a] != TAFEL_PERM_OWN) {
            md_printf(m, "%s%c unset", any ? ", " : "", letters[a]);
            any = true;
        }
    if (!any)
        md_puts(m, "—");
}

/* "opgave and lid": the kinds whose row says @p audited. */
static void kinds_where(struct md *m, bool audited)
{
    size_t n = 0, total = 0;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++)
        total += tafel_schema_kind((enum tafel_kind)k)->audited == audited;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        if (def->audited != audited)
            continue;
        n++;
        md_printf(m, "%s`%s`", n == 1 ? "" : n == total ? " and " : ", ", def->name);
    }
    if (!total)
        md_puts(m, "no kind");
}

static void permissions(struct md *m)
{
    md_puts(m, "# Permissions\n\n");
    md_puts(m, "<!-- Generated by `tafeld schema --markdown permissions` from protocol/schema.c; "
               "edit the table, then run scripts/gen-docs.sh. -->\n\n");
    para(m, "Every request is checked on the server against this matrix, by the connection's "
            "role and the opgaven its key (or joined session) is scoped to. The matrix is the "
            "permission cells of each kind's row in `protocol/schema.c`, which `server/perm.c` "
            "reads; this page is generated from them. `GET /schema.json` serves the same cells "
            "(`\"yes\"`, `\"no\"`, `\"own\"` per role and action) to the web page, which shows "
            "only the buttons they allow.");
    para(m, "A connection never receives a document of an opgave outside its scope: not from "
            "`get`, `list`, `sub` (snapshots and events) nor in a `conflict`'s `current`. A "
            "request on such a document answers `not_found`, as if it did not exist; a request "
            "the role may not make on a visible document answers `forbidden`.");
    para(m, "Scope: a key is scoped to a list of opgaven or to all (`\"*\"`). An inwoner is "
            "scoped to the opgave of the session it joined.");
    md_puts(m, "## Roles\n\n| role | label (nl / en) |\n| --- | --- |\n");
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
        md_printf(m, "| %s | %s / %s |\n", tafel_role_name((enum tafel_role)r),
                  tafel_role_label((enum tafel_role)r, false),
                  tafel_role_label((enum tafel_role)r, true));
    md_puts(m, "\n## Role x kind x action\n\n");
    para(m, "R read · C create · U update (put replace, patch) · D delete · M moderate "
            "(reflectie: hide, restore, pin, unpin; sessie: open, close) · own: only documents "
            "the actor created (`created_by`).");
    md_puts(m, "| kind |");
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
        md_printf(m, " %s |", tafel_role_name((enum tafel_role)r));
    md_puts(m, "\n| --- |");
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
        md_puts(m, " --- |");
    md_puts(m, "\n");
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        md_printf(m, "| %s |", def->name);
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
            md_puts(m, " ");
            md_cells(m, def, r);
            md_puts(m, " |");
        }
        md_puts(m, "\n");
    }
    md_puts(m, "\nFurther rules:\n\n");
    bullet(m,
           "**Hidden reflections** (`hidden: true`) are read only by those who may moderate "
           "reflecties of that opgave (beheerder, opgaveleider); others receive a `delete` "
           "event when one is hidden and never see it in `get`, `list` or a snapshot.",
           false);
    bullet(m,
           "**`hidden` and `pinned`** change only through `moderate` (or a put/patch by a "
           "moderator).",
           false);
    bullet(m,
           "**Inwoners** write reflecties in their own session only: `session` is set to the "
           "session they joined.",
           false);
    bullet(m,
           "**`vote`** (reflectie) and **`feel`** (moment): every role that can read the "
           "document, except waarnemer.",
           false);
    bullet(m,
           "**Creating an opgave** takes a beheerder key scoped to all opgaven (`\"*\"`): a new "
           "opgave is outside every scoped key until a key names it, so a scoped key could not "
           "see what it created.",
           false);
    struct md audited = {0};
    md_puts(&audited, "**Audit**: `put`, `patch` and `delete` of ");
    kinds_where(&audited, true);
    md_puts(&audited, " (the kinds whose row is marked audited), and every `moderate`, "
                      "`session.open` and `session.close`, write an entry to the audit log, as "
                      "do `key.create` and `key.revoke`.");
    if (audited.failed)
        m->failed = true;
    else
        bullet(m, audited.buf, true);
    free(audited.buf);
    md_puts(m, "## Administration\n\n");
    md_puts(m,
            "| action | beheerder (`\"*\"`) | beheerder scoped to some opgaven | opgaveleider | "
            "others |\n"
            "| --- | --- | --- | --- | --- |\n"
            "| `key.create` | any role, any scope | any role, scoped to a non-empty subset of its "
            "own opgaven | partner, inwoner, waarnemer keys scoped to a non-empty subset of its "
            "own opgaven | — |\n"
            "| `key.list` | all keys | keys whose opgaven all lie in its scope | keys it created "
            "| — |\n"
            "| `key.revoke` | any key | keys whose opgaven all lie in its scope (others: "
            "`not_found`) | keys it created | — |\n"
            "| `audit.list` | all entries | entries about its opgaven (a document's "
            "`detail.opgave`, a key's `detail.opgaven`) | — | — |\n\n");
    para(m, "A scoped key acts only inside its scope, whatever its role: it never makes a "
            "`\"*\"` key or a key for an opgave it does not see. A created key's expiry is "
            "capped at its creator's, and `key.revoke` with `cascade` revokes what the key "
            "created as well. Every connection on a revoked or expired key, of any role, is "
            "closed with 4403 within a second.");
    para(m, "A sessie's `join_code` is read only by the moderators of its opgave and by the "
            "inwoners joined to that session; others read sessies without it.");
    para(m, "Writes are rate limited per key or participant, per session and per address, and "
            "each session has a quota of contributions (see protocol.md, Rate limits); joins "
            "per address.");
}

static const char *const page_names[TAFEL_PAGE__COUNT] = {
    [TAFEL_PAGE_DATA_MODEL] = "data-model",
    [TAFEL_PAGE_PERMISSIONS] = "permissions",
};

bool tafel_schema_page_from_name(const char *name, enum tafel_schema_page *page)
{
    for (int i = 0; name && i < TAFEL_PAGE__COUNT; i++)
        if (strcmp(page_names[i], name) == 0) {
            if (page)
                *page = (enum tafel_schema_page)i;
            return true;
        }
    return false;
}

const char *tafel_schema_page_name(enum tafel_schema_page page)
{
    return (int)page >= 0 && page < TAFEL_PAGE__COUNT ? page_names[page] : NULL;
}

char *tafel_schema_markdown(enum tafel_schema_page page)
{
    struct md m = {0};
    switch (page) {
    case TAFEL_PAGE_DATA_MODEL:
        data_model(&m);
        break;
    case TAFEL_PAGE_PERMISSIONS:
        permissions(&m);
        break;
    default:
        return NULL;
    }
    /* One newline at the end, as an editor leaves it. */
    while (!m.failed && m.len > 1 && m.buf[m.len - 1] == '\n' && m.buf[m.len - 2] == '\n')
        m.buf[--m.len] = '\0';
    if (m.failed) {
        free(m.buf);
        return NULL;
    }
    return m.buf;
}
