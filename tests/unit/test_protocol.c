/*
 * test_protocol.c - the message parser, the schema validator, the pre-scan
 * and the serialisers of protocol/.
 *
 * Valid documents are generated from the schema table itself, so a new kind
 * or field is tested without a new test. Invalid input is a table of
 * {bytes, expected code, expected field}: every rejection must say what was
 * wrong and where, because that is what a client developer reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "protocol_internal.h"
#include "tafel_assembler.h"
#include "tafel_protocol.h"
#include "tafel_schema.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ helpers */

/* A valid value for @p f, chosen from its own limits. */
static json_t *sample_value(const struct tafel_field *f)
{
    switch (f->type) {
    case TAFEL_F_STRING:
        return json_string(f->min_len > 0 ? "Vitale kernen" : "");
    case TAFEL_F_ENUM:
        return json_string(f->values[0].value);
    case TAFEL_F_ENUM_SET:
        return json_pack("[s]", f->values[0].value);
    case TAFEL_F_INT:
        return json_integer((json_int_t)f->max);
    case TAFEL_F_NUMBER:
        return json_real(12.5);
    case TAFEL_F_BOOL:
        return json_true();
    case TAFEL_F_DATE:
        return json_string("2028-02-29");
    case TAFEL_F_DATETIME:
        return json_string("2026-11-23T09:15:02.123Z");
    case TAFEL_F_REF:
        return json_string("ref_1-A");
    case TAFEL_F_FEELINGS:
        return json_pack("{s:i,s:i}", "actor-1", -2, "actor-2", 2);
    case TAFEL_F_STRING_SET:
        return json_pack("[s,s]", "actor-1", "actor-2");
    case TAFEL_F_REF_SET:
        return json_pack("[s,s]", "ref_1-A", "ref_2-B");
    }
    return NULL;
}

/* Every field of @p def (server fields only if @p with_server), plus the
 * opgave a non-opgave document needs on create. */
static json_t *full_doc(const struct tafel_kind_def *def, bool with_server)
{
    json_t *doc = json_object();
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        if (with_server || !(f->flags & TAFEL_FF_SERVER))
            json_object_set_new(doc, f->name, sample_value(f));
    }
    if (def->kind != TAFEL_KIND_OPGAVE)
        json_object_set_new(doc, "opgave", json_string("opg-1"));
    return doc;
}

static enum tafel_err parse_json(const json_t *msg, struct tafel_request *r,
                                 struct tafel_errinfo *info)
{
    char *text = json_dumps(msg, JSON_COMPACT);
    assert_non_null(text);
    enum tafel_err e = tafel_request_parse(text, strlen(text), NULL, r, info);
    free(text);
    return e;
}

static enum tafel_err parse_str(const char *s, struct tafel_request *r, struct tafel_errinfo *info)
{
    return tafel_request_parse(s, strlen(s), NULL, r, info);
}

/* Parse @p s expecting @p code and @p field; print the message on mismatch. */
static void expect_error(const char *s, size_t len, enum tafel_err code, const char *field)
{
    struct tafel_request r;
    struct tafel_errinfo info;
    enum tafel_err e = tafel_request_parse(s, len, NULL, &r, &info);
    if (e != code || strcmp(info.field, field) != 0)
        print_error("input %.80s: got %s field \"%s\" (%s), want %s field \"%s\"\n", s,
                    tafel_err_name(e), info.field, info.message, tafel_err_name(code), field);
    assert_int_equal(e, code);
    assert_int_equal(info.code, code);
    assert_string_equal(info.field, field);
    assert_true(info.message[0] != '\0');
    tafel_request_free(&r);
}

/* ------------------------------------------------------ schema table */

static void test_schema_table_sane(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        assert_non_null(def);
        assert_int_equal(def->kind, k);
        assert_ptr_equal(tafel_schema_kind_by_name(def->name), def);
        assert_non_null(def->doc);
        assert_non_null(def->doc_nl);
        for (size_t i = 0; i < def->nfields; i++) {
            const struct tafel_field *f = &def->fields[i];
            assert_ptr_equal(tafel_schema_field(def, f->name), f);
            assert_non_null(f->doc);
            assert_non_null(f->doc_nl);
            if (f->type == TAFEL_F_ENUM || f->type == TAFEL_F_ENUM_SET)
                assert_non_null(f->values);
            if (f->type == TAFEL_F_REF || f->type == TAFEL_F_REF_SET)
                assert_non_null(tafel_schema_kind(f->ref));
            if (f->type == TAFEL_F_REF_SET)
                assert_true(f->max_len >= 1);
        }
    }
    assert_null(tafel_schema_kind(TAFEL_KIND__COUNT));
    assert_null(tafel_schema_kind_by_name("planeet"));
    assert_null(tafel_schema_kind_by_name(NULL));
    size_t n = 0;
    const struct tafel_field *common = tafel_schema_common_fields(&n);
    static const char *const contract[] = {"id",         "kind",       "rev", "opgave",
                                           "created_at", "updated_at", "by"};
    assert_true(n >= COUNT(contract));
    for (size_t i = 0; i < COUNT(contract); i++)
        assert_string_equal(common[i].name, contract[i]);
}

static void test_every_kind_valid_create(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        json_t *doc = full_doc(def, false);
        struct tafel_errinfo info;
        assert_int_equal(tafel_schema_validate(def->kind, doc, TAFEL_V_CREATE, &info), TAFEL_E_OK);
        /* The same document through the wire, with and without "kind". */
        json_object_set_new(doc, "kind", json_string(def->name));
        json_t *msg = json_pack("{s:s,s:s,s:O}", "type", "put", "kind", def->name, "doc", doc);
        struct tafel_request r;
        assert_int_equal(parse_json(msg, &r, &info), TAFEL_E_OK);
        assert_int_equal(r.type, TAFEL_MSG_PUT);
        assert_int_equal(r.kind, def->kind);
        assert_true(r.has_kind);
        assert_null(r.id);
        assert_false(r.has_rev);
        if (def->kind == TAFEL_KIND_OPGAVE)
            assert_null(r.opgave);
        else
            assert_string_equal(r.opgave, "opg-1");
        tafel_request_free(&r);
        json_decref(msg);
        json_decref(doc);
    }
}

static void test_every_required_field_missing(void **state)
{
    (void)state;
    char want[80];
    int checked = 0;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        for (size_t i = 0; i <= def->nfields; i++) {
            /* i == nfields: the opgave a child document needs on create. */
            const char *name = i < def->nfields ? def->fields[i].name : "opgave";
            if (i < def->nfields ? !(def->fields[i].flags & TAFEL_FF_REQUIRED)
                                 : def->kind == TAFEL_KIND_OPGAVE)
                continue;
            json_t *doc = full_doc(def, false);
            json_object_del(doc, name);
            json_t *msg = json_pack("{s:s,s:s,s:o}", "type", "put", "kind", def->name, "doc", doc);
            struct tafel_request r;
            struct tafel_errinfo info;
            assert_int_equal(parse_json(msg, &r, &info), TAFEL_E_BAD_REQUEST);
            snprintf(want, sizeof(want), "doc.%s", name);
            assert_string_equal(info.field, want);
            tafel_request_free(&r);
            json_decref(msg);
            checked++;
        }
    }
    assert_true(checked >= 20);
}

static void test_server_fields_refused(void **state)
{
    (void)state;
    char want[80];
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        for (size_t i = 0; i < def->nfields; i++) {
            const struct tafel_field *f = &def->fields[i];
            if (!(f->flags & TAFEL_FF_SERVER))
                continue;
            json_t *doc = full_doc(def, false);
            json_object_set_new(doc, f->name, sample_value(f));
            struct tafel_errinfo info;
            snprintf(want, sizeof(want), "doc.%s", f->name);
            assert_int_equal(tafel_schema_validate(def->kind, doc, TAFEL_V_CREATE, &info),
                             TAFEL_E_BAD_REQUEST);
            assert_string_equal(info.field, want);
            json_t *set = json_pack("{s:O}", f->name, json_object_get(doc, f->name));
            snprintf(want, sizeof(want), "set.%s", f->name);
            assert_int_equal(tafel_schema_validate(def->kind, set, TAFEL_V_PATCH, &info),
                             TAFEL_E_BAD_REQUEST);
            assert_string_equal(info.field, want);
            json_decref(set);
            json_decref(doc);
        }
    }
}

static void test_stored_documents(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        json_t *doc = full_doc(def, true);
        json_t *common =
            json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:s}", "id", "doc-1", "kind", def->name, "rev", 3,
                      "opgave", "opg-1", "created_at", "2026-01-01T00:00:00Z", "updated_at",
                      "2026-01-02T00:00:00.5+01:00", "by", "actor-1");
        json_object_update(doc, common);
        struct tafel_errinfo info;
        assert_int_equal(tafel_schema_validate(def->kind, doc, TAFEL_V_STORED, &info), TAFEL_E_OK);
        /* A stored document lacks none of the common fields. */
        json_object_del(doc, "updated_at");
        assert_int_equal(tafel_schema_validate(def->kind, doc, TAFEL_V_STORED, &info),
                         TAFEL_E_BAD_REQUEST);
        assert_string_equal(info.field, "doc.updated_at");
        /* ...and in a replace the server-only common fields are refused. */
        json_object_del(doc, "created_at");
        json_object_del(doc, "by");
        json_object_set_new(doc, "updated_at", json_string("2026-01-02T00:00:00Z"));
        assert_int_equal(tafel_schema_validate(def->kind, doc, TAFEL_V_REPLACE, &info),
                         TAFEL_E_BAD_REQUEST);
        json_decref(common);
        json_decref(doc);
    }
}

static void test_patch_modes(void **state)
{
    (void)state;
    struct tafel_errinfo info;
    /* null removes an optional field, never a required one */
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        for (size_t i = 0; i < def->nfields; i++) {
            const struct tafel_field *f = &def->fields[i];
            if (f->flags & (TAFEL_FF_SERVER | TAFEL_FF_IMMUTABLE))
                continue;
            json_t *set = json_pack("{s:n}", f->name);
            enum tafel_err want = (f->flags & TAFEL_FF_REQUIRED) ? TAFEL_E_BAD_REQUEST : TAFEL_E_OK;
            assert_int_equal(tafel_schema_validate(def->kind, set, TAFEL_V_PATCH, &info), want);
            json_object_set_new(set, f->name, sample_value(f));
            assert_int_equal(tafel_schema_validate(def->kind, set, TAFEL_V_PATCH, &info),
                             TAFEL_E_OK);
            json_decref(set);
        }
    }
    json_t *doc = json_pack("{s:s}", "title", "x");
    assert_int_equal(tafel_schema_validate(TAFEL_KIND__COUNT, doc, TAFEL_V_CREATE, &info),
                     TAFEL_E_INVALID_ARG);
    json_decref(doc);
}

/* A REF_SET field on a field of the test's own (no kind of the table needs
 * to use the type): an array of at most max_len distinct ids. Whether each
 * id names a document of the kind in the opgave is the server's check. */
static void test_ref_set_field(void **state)
{
    (void)state;
    static const struct tafel_field f = {.name = "answers",
                                         .type = TAFEL_F_REF_SET,
                                         .max_len = 3,
                                         .ref = TAFEL_KIND_REFLECTIE,
                                         .label_nl = "Antwoorden",
                                         .label_en = "Answers",
                                         .doc = "Answered reflections",
                                         .doc_nl = "Beantwoorde reflecties"};
    static const struct {
        const char *json;
        enum tafel_err code;
    } cases[] = {
        {"[]", TAFEL_E_OK},
        {"[\"r1\"]", TAFEL_E_OK},
        {"[\"r1\",\"R_2-x\",\"r3\"]", TAFEL_E_OK},
        {"[\"r1\",\"r2\",\"r3\",\"r4\"]", TAFEL_E_TOO_LARGE}, /* over max_len */
        {"[\"r1\",\"r1\"]", TAFEL_E_BAD_REQUEST},             /* not distinct */
        {"[\"\"]", TAFEL_E_BAD_REQUEST},                      /* empty id */
        {"[\"r 1\"]", TAFEL_E_BAD_REQUEST},                   /* not an id */
        {"[\"r/1\"]", TAFEL_E_BAD_REQUEST},
        {"[\"r\u00e91\"]", TAFEL_E_BAD_REQUEST},
        {"[1]", TAFEL_E_BAD_REQUEST},
        {"[null]", TAFEL_E_BAD_REQUEST},
        {"[[\"r1\"]]", TAFEL_E_BAD_REQUEST},
        {"\"r1\"", TAFEL_E_BAD_REQUEST}, /* one id is not a set */
        {"{}", TAFEL_E_BAD_REQUEST},
        {"true", TAFEL_E_BAD_REQUEST},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        json_error_t jerr;
        json_t *val = json_loads(cases[i].json, JSON_DECODE_ANY, &jerr);
        assert_non_null(val);
        struct tafel_errinfo info;
        memset(&info, 0, sizeof(info));
        enum tafel_err e = tafel__schema_check_field(&f, val, "doc", &info);
        if (e != cases[i].code)
            print_error("%s: got %s (%s), want %s\n", cases[i].json, tafel_err_name(e),
                        info.message, tafel_err_name(cases[i].code));
        assert_int_equal(e, cases[i].code);
        if (e != TAFEL_E_OK) {
            assert_string_equal(info.field, "doc.answers");
            assert_true(info.message[0] != '\0');
        }
        json_decref(val);
    }
    /* The longest id passes, one more character does not. */
    char id[66];
    memset(id, 'a', 65);
    id[65] = '\0';
    struct tafel_errinfo info;
    json_t *val = json_pack("[s]", id);
    assert_int_equal(tafel__schema_check_field(&f, val, "set", &info), TAFEL_E_BAD_REQUEST);
    assert_string_equal(info.field, "set.answers");
    json_decref(val);
    id[64] = '\0';
    val = json_pack("[s]", id);
    assert_int_equal(tafel__schema_check_field(&f, val, "set", &info), TAFEL_E_OK);
    json_decref(val);
    assert_string_equal(tafel_ftype_name(TAFEL_F_REF_SET), "ref_set");
}

static void test_touches_flag(void **state)
{
    (void)state;
    const char *field = NULL;
    json_t *current = json_pack("{s:s,s:s,s:s,s:b,s:b}", "id", "r1", "sort", "idee", "text",
                                "Meer bankjes", "hidden", 0, "pinned", 1);
    json_t *patch_text = json_pack("{s:s}", "text", "Meer bomen");
    json_t *patch_hide = json_pack("{s:b}", "hidden", 1);
    json_t *patch_same = json_pack("{s:b}", "pinned", 1);
    json_t *replace = json_pack("{s:s,s:i,s:s,s:s,s:b}", "id", "r1", "rev", 2, "sort", "idee",
                                "text", "x", "hidden", 0);
    json_t *create = json_pack("{s:s,s:s,s:b}", "sort", "idee", "text", "x", "pinned", 1);
    const unsigned mod = TAFEL_FF_MODERATE;
    assert_false(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, current, patch_text, mod, &field));
    assert_false(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, current, patch_same, mod, &field));
    assert_true(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, current, patch_hide, mod, &field));
    assert_string_equal(field, "hidden");
    /* A replace that leaves out `pinned` unpins. */
    assert_true(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, current, replace, mod, &field));
    assert_string_equal(field, "pinned");
    assert_true(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, NULL, create, mod, &field));
    assert_string_equal(field, "pinned");
    assert_false(tafel_schema_touches_flag(TAFEL_KIND_REFLECTIE, NULL, patch_text, mod, NULL));
    json_t *lid = json_pack("{s:s}", "actor", "k1");
    json_t *lid2 = json_pack("{s:s}", "actor", "k2");
    assert_true(tafel_schema_touches_flag(TAFEL_KIND_LID, lid, lid2, TAFEL_FF_IMMUTABLE, &field));
    assert_string_equal(field, "actor");
    assert_false(tafel_schema_touches_flag(TAFEL_KIND_LID, lid, lid, TAFEL_FF_IMMUTABLE, NULL));
    json_decref(lid);
    json_decref(lid2);
    json_decref(current);
    json_decref(patch_text);
    json_decref(patch_hide);
    json_decref(patch_same);
    json_decref(replace);
    json_decref(create);
}

/* ---------------------------------------------------- invalid inputs */

struct bad_case {
    const char *in;
    size_t len;
    enum tafel_err code;
    const char *field;
};

#define BAD(s, code, field)                     \
    {                                           \
        s, sizeof(s) - 1, TAFEL_E_##code, field \
    }
#define PUT_OPGAVE(extra) \
    "{\"type\":\"put\",\"kind\":\"opgave\",\"doc\":{\"title\":\"x\"" extra "}}"
#define KEYC(extra) "{\"type\":\"key.create\",\"role\":\"partner\",\"label\":\"l\"" extra "}"
#define DEL(rev)    "{\"type\":\"delete\",\"kind\":\"opgave\",\"id\":\"a\"" rev "}"
#define JOIN(name)  "{\"type\":\"join\",\"code\":\"K7Q2\",\"name\":" name "}"

static const struct bad_case bad_cases[] = {
    BAD("", BAD_REQUEST, ""),
    BAD("not json", BAD_REQUEST, ""),
    BAD("[{\"type\":\"ping\"}]", BAD_REQUEST, ""),
    BAD("\"ping\"", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\"} x", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\",\"type\":\"ping\"}", BAD_REQUEST, ""),
    BAD("{}", BAD_REQUEST, "type"),
    BAD("{\"req\":1}", BAD_REQUEST, "type"),
    BAD("{\"type\":\"fly\"}", BAD_REQUEST, "type"),
    BAD("{\"type\":7}", BAD_REQUEST, "type"),
    BAD("{\"type\":\"ping\",\"req\":{\"a\":1}}", BAD_REQUEST, "req"),
    BAD("{\"type\":\"ping\",\"req\":[1]}", BAD_REQUEST, "req"),
    BAD("{\"type\":\"ping\",\"colour\":1}", BAD_REQUEST, "colour"),
    BAD("{\"type\":\"hello\"}", BAD_REQUEST, "key"),
    BAD("{\"type\":\"hello\",\"key\":42}", BAD_REQUEST, "key"),
    BAD(JOIN("\"\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"   \""), BAD_REQUEST, "name"),
    BAD(JOIN("\"An\\nna\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""), TOO_LARGE, "name"),
    BAD(JOIN("null"), BAD_REQUEST, "name"),
    /* names that show as something else, or as nothing */
    BAD(JOIN("\"Anna\u202egnirK\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\u2067Anna\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"Anna\u200f\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\u200b\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\u200b\u200c\u2060\ufeff\""), BAD_REQUEST, "name"),
    BAD(JOIN("\" \u00a0\u3000 \""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\ufe0f\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\u2800\u2800\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\u0301\u0301\u0301\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"Anna\u2028Bram\""), BAD_REQUEST, "name"),
    BAD(JOIN("\"\U0001d173\U000e0101\""), BAD_REQUEST, "name"),
    BAD("{\"type\":\"join\",\"code\":\"K7Q2\",\"name\":\"A\",\"device\":\"\"}", BAD_REQUEST,
        "device"),
    BAD("{\"type\":\"key.revoke\",\"key_id\":\"k1\",\"cascade\":\"ja\"}", BAD_REQUEST, "cascade"),
    BAD("{\"type\":\"sub\",\"opgave\":\"*\",\"data_id\":7}", BAD_REQUEST, "data_id"),
    /* one label limit, in characters: 81 is too many */
    BAD("{\"type\":\"key.create\",\"role\":\"partner\",\"opgaven\":\"*\",\"label\":"
        "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
        TOO_LARGE, "label"),
    BAD("{\"type\":\"join\",\"code\":\"ABCDEFGHIJKLMNOPQ\",\"name\":\"A\"}", TOO_LARGE, "code"),
    BAD("{\"type\":\"get\",\"kind\":\"planeet\",\"id\":\"a\"}", BAD_REQUEST, "kind"),
    BAD("{\"type\":\"get\",\"kind\":3,\"id\":\"a\"}", BAD_REQUEST, "kind"),
    BAD("{\"type\":\"get\",\"kind\":\"opgave\",\"id\":\"a b\"}", BAD_REQUEST, "id"),
    BAD("{\"type\":\"get\",\"kind\":\"opgave\",\"id\":\"\"}", BAD_REQUEST, "id"),
    BAD("{\"type\":\"get\",\"kind\":\"opgave\"}", BAD_REQUEST, "id"),
    BAD("{\"type\":\"get\",\"id\":\"a\"}", BAD_REQUEST, "kind"),
    BAD(DEL(""), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":0"), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":1.5"), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":1e3"), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":\"1\""), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":9007199254740993"), BAD_REQUEST, "rev"),
    BAD(DEL(",\"rev\":99999999999999999999999"), BAD_REQUEST, ""),
    BAD("{\"type\":\"put\",\"kind\":\"opgave\",\"doc\":[]}", BAD_REQUEST, "doc"),
    BAD("{\"type\":\"put\",\"kind\":\"opgave\"}", BAD_REQUEST, "doc"),
    BAD(PUT_OPGAVE(",\"traffic_light\":\"paars\""), BAD_REQUEST, "doc.traffic_light"),
    BAD(PUT_OPGAVE(",\"way_of_working\":\"Project\""), BAD_REQUEST, "doc.way_of_working"),
    BAD(PUT_OPGAVE(",\"complexity\":6"), BAD_REQUEST, "doc.complexity"),
    BAD(PUT_OPGAVE(",\"complexity\":2.0"), BAD_REQUEST, "doc.complexity"),
    BAD(PUT_OPGAVE(",\"horizon_years\":-1"), BAD_REQUEST, "doc.horizon_years"),
    BAD(PUT_OPGAVE(",\"target_date\":\"2026-02-30\""), BAD_REQUEST, "doc.target_date"),
    BAD(PUT_OPGAVE(",\"target_date\":\"2026-2-3\""), BAD_REQUEST, "doc.target_date"),
    BAD(PUT_OPGAVE(",\"colour\":\"rood\""), BAD_REQUEST, "doc.colour"),
    BAD(PUT_OPGAVE(",\"domains\":[\"fysiek\",\"fysiek\"]"), BAD_REQUEST, "doc.domains"),
    BAD(PUT_OPGAVE(",\"domains\":\"fysiek\""), BAD_REQUEST, "doc.domains"),
    BAD(PUT_OPGAVE(",\"domains\":[\"fysiek\",\"sociaal\",\"bedrijfsvoering\",\"x\"]"), TOO_LARGE,
        "doc.domains"),
    BAD(PUT_OPGAVE(",\"goal\":null"), BAD_REQUEST, "doc.goal"),
    BAD(PUT_OPGAVE(",\"goal\":\"bel\\u0007\""), BAD_REQUEST, "doc.goal"),
    BAD(PUT_OPGAVE(",\"goal\":\"c1\\u0085\""), BAD_REQUEST, "doc.goal"),
    BAD(PUT_OPGAVE(",\"created_at\":\"2026-01-01T00:00:00Z\""), BAD_REQUEST, "doc.created_at"),
    BAD(PUT_OPGAVE(",\"kind\":\"actielijn\""), BAD_REQUEST, "doc.kind"),
    BAD(PUT_OPGAVE(",\"rev\":1"), BAD_REQUEST, "doc.rev"),
    BAD(PUT_OPGAVE(",\"id\":\"o1\""), BAD_REQUEST, "doc.rev"),
    BAD(PUT_OPGAVE(",\"id\":\"o 1\",\"rev\":1"), BAD_REQUEST, "doc.id"),
    BAD("{\"type\":\"put\",\"kind\":\"actielijn\",\"doc\":{\"title\":\"x\"}}", BAD_REQUEST,
        "doc.opgave"),
    BAD("{\"type\":\"put\",\"kind\":\"reflectie\",\"doc\":{\"opgave\":\"o1\",\"sort\":\"idee\","
        "\"text\":\"x\",\"votes\":3}}",
        BAD_REQUEST, "doc.votes"),
    BAD("{\"type\":\"put\",\"kind\":\"reflectie\",\"doc\":{\"opgave\":\"o1\",\"sort\":\"klacht\","
        "\"text\":\"x\"}}",
        BAD_REQUEST, "doc.sort"),
    BAD("{\"type\":\"put\",\"kind\":\"meting\",\"doc\":{\"opgave\":\"o1\",\"indicator\":\"i1\","
        "\"date\":\"2026-01-01\",\"value\":1e16}}",
        BAD_REQUEST, "doc.value"),
    BAD("{\"type\":\"put\",\"kind\":\"meting\",\"doc\":{\"opgave\":\"o1\",\"indicator\":\"i/1\","
        "\"date\":\"2026-01-01\",\"value\":1}}",
        BAD_REQUEST, "doc.indicator"),
    BAD("{\"type\":\"put\",\"kind\":\"sessie\",\"doc\":{\"opgave\":\"o1\",\"question\":\"q\","
        "\"starts_at\":\"morgen\"}}",
        BAD_REQUEST, "doc.starts_at"),
    BAD("{\"type\":\"put\",\"kind\":\"lid\",\"doc\":{\"opgave\":\"o1\",\"actor\":\"k1\","
        "\"name\":\"n\",\"role\":\"beheerder\"}}",
        BAD_REQUEST, "doc.role"),
    BAD("{\"type\":\"patch\",\"kind\":\"opgave\",\"id\":\"a\",\"set\":{\"rev\":2}}", BAD_REQUEST,
        "set.rev"),
    BAD("{\"type\":\"patch\",\"kind\":\"opgave\",\"id\":\"a\",\"set\":{\"title\":null}}",
        BAD_REQUEST, "set.title"),
    BAD("{\"type\":\"patch\",\"kind\":\"opgave\",\"id\":\"a\",\"set\":{}}", BAD_REQUEST, "set"),
    BAD("{\"type\":\"patch\",\"kind\":\"lid\",\"id\":\"a\",\"set\":{\"actor\":\"k2\"}}",
        BAD_REQUEST, "set.actor"),
    BAD("{\"type\":\"patch\",\"kind\":\"opgave\",\"id\":\"a\",\"set\":{\"title\":\"x\"},"
        "\"rev\":-1}",
        BAD_REQUEST, "rev"),
    BAD("{\"type\":\"moderate\",\"id\":\"r1\",\"action\":\"delete\"}", BAD_REQUEST, "action"),
    BAD("{\"type\":\"moderate\",\"id\":\"r1\"}", BAD_REQUEST, "action"),
    BAD("{\"type\":\"vote\",\"id\":\"r1\",\"value\":2}", BAD_REQUEST, "value"),
    BAD("{\"type\":\"vote\",\"id\":\"r1\",\"value\":\"yes\"}", BAD_REQUEST, "value"),
    BAD("{\"type\":\"feel\",\"id\":\"m1\",\"value\":3}", BAD_REQUEST, "value"),
    BAD("{\"type\":\"feel\",\"id\":\"m1\"}", BAD_REQUEST, "value"),
    BAD("{\"type\":\"session.open\"}", BAD_REQUEST, "id"),
    BAD(KEYC(",\"opgaven\":\"*\",\"role\":\"koning\""), BAD_REQUEST, ""),
    BAD("{\"type\":\"key.create\",\"role\":\"koning\",\"opgaven\":\"*\",\"label\":\"l\"}",
        BAD_REQUEST, "role"),
    BAD(KEYC(",\"opgaven\":\"all\""), BAD_REQUEST, "opgaven"),
    BAD(KEYC(",\"opgaven\":[\"a b\"]"), BAD_REQUEST, "opgaven"),
    BAD(KEYC(",\"opgaven\":{}"), BAD_REQUEST, "opgaven"),
    BAD(KEYC(""), BAD_REQUEST, "opgaven"),
    BAD(KEYC(",\"opgaven\":\"*\",\"expires_in\":0"), BAD_REQUEST, "expires_in"),
    BAD(KEYC(",\"opgaven\":\"*\",\"expires_in\":315576001"), BAD_REQUEST, "expires_in"),
    BAD("{\"type\":\"key.create\",\"role\":\"partner\",\"opgaven\":\"*\",\"label\":\"\"}",
        BAD_REQUEST, "label"),
    BAD("{\"type\":\"key.revoke\",\"key_id\":true}", BAD_REQUEST, "key_id"),
    BAD("{\"type\":\"sub\",\"opgave\":\"**\"}", BAD_REQUEST, "opgave"),
    BAD("{\"type\":\"sub\",\"opgave\":\"*\",\"since\":-1}", BAD_REQUEST, "since"),
    BAD("{\"type\":\"unsub\"}", BAD_REQUEST, "opgave"),
    BAD("{\"type\":\"sub\",\"opgave\":\"o1\",\"session\":\"*\"}", BAD_REQUEST, "session"),
    BAD("{\"type\":\"list\",\"kind\":\"opgave\",\"opgave\":\"*\"}", BAD_REQUEST, "opgave"),
    BAD("{\"type\":\"list\",\"limit\":1001}", BAD_REQUEST, "limit"),
    BAD("{\"type\":\"audit.list\",\"limit\":0}", BAD_REQUEST, "limit"),
    BAD("{\"type\":\"audit.list\",\"after\":0.5}", BAD_REQUEST, "after"),
    /* the pre-scan */
    BAD("{\"type\":\"ping\",\"req\":\"\xff\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\xc0\xaf\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\xe0\x80\xaf\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\xed\xa0\x80\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\xf4\x90\x80\x80\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\xe2\x82\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"\\\xe2\x82\"}", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":1}\xe2\x82", BAD_UTF8, ""),
    BAD("{\"type\":\"ping\",\"req\":\"a\\u0000b\"}", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\",\"req\":\"a\0b\"}", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\",\"req\":\"a\\\0b\"}", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\"}\0", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\",\"req\":[[[[[[[[1]]]]]]]]}", BAD_REQUEST, ""),
    BAD("{\"type\":\"ping\",\"x\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}",
        BAD_REQUEST, ""),
    BAD("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", BAD_REQUEST, ""),
};

static void test_bad_inputs(void **state)
{
    (void)state;
    assert_true(COUNT(bad_cases) >= 40);
    for (size_t i = 0; i < COUNT(bad_cases); i++)
        expect_error(bad_cases[i].in, bad_cases[i].len, bad_cases[i].code, bad_cases[i].field);
}

/* A message of @p n bytes: {"type":"ping","req":"xxxx..."} padded. */
static char *ping_with_req(size_t n)
{
    char *s = malloc(n + 1);
    assert_non_null(s);
    memset(s, 'x', n);
    memcpy(s, "{\"type\":\"ping\",\"req\":\"", 22);
    memcpy(s + n - 2, "\"}", 2);
    s[n] = '\0';
    return s;
}

/* "[1,1,...]" with @p items items inside a message, or an object of members. */
static char *wide(size_t items, bool object)
{
    size_t cap = items * 16 + 64, used = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    used += (size_t)snprintf(s, cap, "{\"type\":\"ping\",\"x\":%c", object ? '{' : '[');
    for (size_t i = 0; i < items; i++)
        used += (size_t)snprintf(s + used, cap - used, object ? "%s\"k%zu\":1" : "%s%zu",
                                 i ? "," : "", i);
    snprintf(s + used, cap - used, "%c}", object ? '}' : ']');
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    char *s = ping_with_req(65537);
    expect_error(s, strlen(s), TAFEL_E_TOO_LARGE, "");
    free(s);
    s = ping_with_req(16384 + 25); /* a 16,385-byte string */
    expect_error(s, strlen(s), TAFEL_E_TOO_LARGE, "");
    free(s);
    s = ping_with_req(200); /* fits the scan, too long for req */
    expect_error(s, strlen(s), TAFEL_E_BAD_REQUEST, "req");
    free(s);
    s = wide(1001, false);
    expect_error(s, strlen(s), TAFEL_E_TOO_LARGE, "");
    free(s);
    s = wide(257, true);
    expect_error(s, strlen(s), TAFEL_E_TOO_LARGE, "");
    free(s);
    /* at the limits: the scan lets them through, the message table does not */
    s = wide(1000, false);
    expect_error(s, strlen(s), TAFEL_E_BAD_REQUEST, "x");
    free(s);
    s = wide(256, true);
    expect_error(s, strlen(s), TAFEL_E_BAD_REQUEST, "x");
    free(s);
    const char *deep8 = "{\"type\":\"ping\",\"x\":[[[[[[[1]]]]]]]}"; /* depth 8 */
    expect_error(deep8, strlen(deep8), TAFEL_E_BAD_REQUEST, "x");

    /* a title of 201 code points (2 bytes each) is too large, 200 fits */
    char title[512];
    char msg[700];
    for (int n = 200; n <= 201; n++) {
        title[0] = '\0';
        for (int i = 0; i < n; i++)
            strcat(title, "\xc3\xa9");
        snprintf(msg, sizeof(msg),
                 "{\"type\":\"put\",\"kind\":\"opgave\",\"doc\":{\"title\":\"%s\"}}", title);
        struct tafel_request r;
        struct tafel_errinfo info;
        assert_int_equal(parse_str(msg, &r, &info), n == 200 ? TAFEL_E_OK : TAFEL_E_TOO_LARGE);
        assert_string_equal(info.field, n == 200 ? "" : "doc.title");
        tafel_request_free(&r);
    }

    /* escapes count decoded: 3 bytes of \u20ac each, under a 10-byte limit */
    struct tafel_limits lim = {1024, 2, 10, 3, 3};
    struct tafel_request r;
    struct tafel_errinfo info;
    const char *euro3 = "{\"type\":\"ping\",\"req\":\"\\u20ac\\u20ac\\u20ac\"}";
    const char *euro4 = "{\"type\":\"ping\",\"req\":\"\\u20ac\\u20ac\\u20ac\\u20ac\"}";
    const char *deep = "{\"type\":\"ping\",\"req\":[[]]}";
    const char *four = "{\"type\":\"ping\",\"req\":1,\"a\":1,\"b\":2}";
    assert_int_equal(tafel_request_parse(euro3, strlen(euro3), &lim, &r, &info), TAFEL_E_OK);
    tafel_request_free(&r);
    assert_int_equal(tafel_request_parse(euro4, strlen(euro4), &lim, &r, &info), TAFEL_E_TOO_LARGE);
    tafel_request_free(&r);
    assert_int_equal(tafel_request_parse(deep, strlen(deep), &lim, &r, &info), TAFEL_E_BAD_REQUEST);
    tafel_request_free(&r);
    assert_int_equal(tafel_request_parse(four, strlen(four), &lim, &r, &info), TAFEL_E_TOO_LARGE);
    tafel_request_free(&r);
}

static void test_utf8(void **state)
{
    (void)state;
    static const char *const good[] = {"",
                                       "abc",
                                       "\xc3\xa9",
                                       "\xe2\x82\xac",
                                       "\xef\xbf\xbf",
                                       "\xf0\x9f\x8c\xb7",
                                       "\xf4\x8f\xbf\xbf",
                                       "\xed\x9f\xbf"};
    static const char *const bad[] = {"\x80",
                                      "\xc1\xbf",
                                      "\xc3",
                                      "\xe0\x9f\xbf",
                                      "\xed\xa0\x80",
                                      "\xed\xbf\xbf",
                                      "\xf0\x8f\xbf\xbf",
                                      "\xf4\x90\x80\x80",
                                      "\xf5\x80\x80\x80",
                                      "\xe2\x82",
                                      "\xe2\x28\xa1",
                                      "\xff"};
    for (size_t i = 0; i < COUNT(good); i++)
        assert_true(tafel_utf8_valid(good[i], strlen(good[i])));
    for (size_t i = 0; i < COUNT(bad); i++)
        assert_false(tafel_utf8_valid(bad[i], strlen(bad[i])));
    assert_true(tafel_utf8_valid("a\0b", 3));
}

/* ------------------------------------------------------ valid messages */

static void test_auth_messages(void **state)
{
    (void)state;
    struct tafel_request r;
    struct tafel_errinfo info;
    assert_int_equal(
        parse_str("{\"type\":\"hello\",\"key\":\"tafel_abc\",\"req\":\"h1\"}", &r, &info),
        TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_HELLO);
    assert_string_equal(r.key, "tafel_abc");
    assert_string_equal(json_string_value(r.req), "h1");
    tafel_request_free(&r);
    assert_null(r.root);

    /* the display name is trimmed; 40 code points of é fit */
    assert_int_equal(
        parse_str("{\"type\":\"join\",\"code\":\"K7Q2\",\"name\":\"  Anna de Vries \"}", &r, &info),
        TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_JOIN);
    assert_string_equal(r.code, "K7Q2");
    assert_string_equal(r.name, "Anna de Vries");
    assert_null(r.req);
    assert_null(r.device);
    tafel_request_free(&r);

    /* a device token; an emoji with a zero-width joiner is a visible name */
    assert_int_equal(parse_str("{\"type\":\"join\",\"code\":\"K7Q2\",\"name\":"
                               "\"\\ud83d\\udc69\\u200d\\ud83c\\udf3e Fatima\",\"device\":\"abc\"}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_string_equal(r.device, "abc");
    tafel_request_free(&r);

    /* 80 characters of two bytes each make a label */
    char label[400] =
        "{\"type\":\"key.create\",\"role\":\"partner\",\"opgaven\":\"*\",\"label\":\"";
    for (int i = 0; i < 80; i++)
        strcat(label, "\xc3\xa9");
    strcat(label, "\"}");
    assert_int_equal(parse_str(label, &r, &info), TAFEL_E_OK);
    assert_int_equal(strlen(r.label), 160);
    tafel_request_free(&r);

    assert_int_equal(
        parse_str("{\"type\":\"key.revoke\",\"key_id\":\"k1\",\"cascade\":true}", &r, &info),
        TAFEL_E_OK);
    assert_int_equal(r.cascade, 1);
    tafel_request_free(&r);

    assert_int_equal(parse_str("{\"type\":\"ping\",\"req\":null}", &r, &info), TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_PING);
    assert_true(json_is_null(r.req));
    tafel_request_free(&r);
}

static void test_document_messages(void **state)
{
    (void)state;
    struct tafel_request r;
    struct tafel_errinfo info;
    assert_int_equal(parse_str("{\"type\":\"put\",\"kind\":\"opgave\",\"req\":3,\"doc\":{\"id\":"
                               "\"o1\",\"rev\":4,\"kind\":\"opgave\",\"opgave\":\"o1\",\"title\":"
                               "\"Vitale kernen\",\"traffic_light\":\"oranje\"}}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_PUT);
    assert_string_equal(r.id, "o1");
    assert_true(r.has_rev);
    assert_int_equal(r.rev, 4);
    assert_string_equal(r.opgave, "o1");
    assert_int_equal(json_integer_value(r.req), 3);
    assert_string_equal(json_string_value(json_object_get(r.doc, "title")), "Vitale kernen");
    tafel_request_free(&r);

    assert_int_equal(parse_str("{\"type\":\"patch\",\"kind\":\"activiteit\",\"id\":\"a1\",\"set\":"
                               "{\"status\":\"lopend\",\"description\":null},\"rev\":2}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_PATCH);
    assert_int_equal(r.kind, TAFEL_KIND_ACTIVITEIT);
    assert_string_equal(r.id, "a1");
    assert_true(r.has_rev);
    assert_int_equal(r.rev, 2);
    assert_int_equal(json_object_size(r.set), 2);
    tafel_request_free(&r);

    assert_int_equal(parse_str("{\"type\":\"patch\",\"kind\":\"opgave\",\"id\":\"a1\",\"set\":"
                               "{\"complexity\":3}}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_false(r.has_rev);
    tafel_request_free(&r);

    assert_int_equal(
        parse_str(
            "{\"type\":\"delete\",\"kind\":\"meting\",\"id\":\"m-9\",\"rev\":9007199254740992}", &r,
            &info),
        TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_DELETE);
    assert_int_equal(r.kind, TAFEL_KIND_METING);
    assert_int_equal(r.rev, TAFEL_INT_MAX);
    tafel_request_free(&r);

    assert_int_equal(parse_str("{\"type\":\"get\",\"kind\":\"lid\",\"id\":\"l1\"}", &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_GET);
    assert_int_equal(r.kind, TAFEL_KIND_LID);
    assert_string_equal(r.id, "l1");
    tafel_request_free(&r);

    assert_int_equal(parse_str("{\"type\":\"list\"}", &r, &info), TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_LIST);
    assert_false(r.has_kind);
    assert_null(r.opgave);
    assert_int_equal(r.limit, 0);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"list\",\"kind\":\"indicator\",\"opgave\":\"o1\","
                               "\"limit\":50}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_true(r.has_kind);
    assert_int_equal(r.kind, TAFEL_KIND_INDICATOR);
    assert_string_equal(r.opgave, "o1");
    assert_int_equal(r.limit, 50);
    tafel_request_free(&r);
}

static void test_live_messages(void **state)
{
    (void)state;
    struct tafel_request r;
    struct tafel_errinfo info;
    assert_int_equal(parse_str("{\"type\":\"sub\",\"opgave\":\"*\",\"since\":120}", &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_SUB);
    assert_string_equal(r.opgave, "*");
    assert_true(r.has_since);
    assert_int_equal(r.since, 120);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"sub\",\"opgave\":\"o1\"}", &r, &info), TAFEL_E_OK);
    assert_false(r.has_since);
    assert_null(r.session);
    tafel_request_free(&r);
    assert_int_equal(
        parse_str("{\"type\":\"sub\",\"opgave\":\"o1\",\"session\":\"s1\"}", &r, &info),
        TAFEL_E_OK);
    assert_string_equal(r.session, "s1");
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"unsub\",\"opgave\":\"o1\"}", &r, &info), TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_UNSUB);
    assert_string_equal(r.opgave, "o1");
    tafel_request_free(&r);

    static const struct {
        const char *in;
        enum tafel_msg type;
        enum tafel_kind kind;
        int64_t value;
    } implied[] = {
        {"{\"type\":\"moderate\",\"id\":\"r1\",\"action\":\"pin\"}", TAFEL_MSG_MODERATE,
         TAFEL_KIND_REFLECTIE, 0},
        {"{\"type\":\"vote\",\"id\":\"r1\"}", TAFEL_MSG_VOTE, TAFEL_KIND_REFLECTIE, 1},
        {"{\"type\":\"vote\",\"id\":\"r1\",\"value\":false}", TAFEL_MSG_VOTE, TAFEL_KIND_REFLECTIE,
         0},
        {"{\"type\":\"vote\",\"id\":\"r1\",\"value\":0}", TAFEL_MSG_VOTE, TAFEL_KIND_REFLECTIE, 0},
        {"{\"type\":\"vote\",\"id\":\"r1\",\"value\":true}", TAFEL_MSG_VOTE, TAFEL_KIND_REFLECTIE,
         1},
        {"{\"type\":\"feel\",\"id\":\"r1\",\"value\":-2}", TAFEL_MSG_FEEL, TAFEL_KIND_MOMENT, -2},
        {"{\"type\":\"session.open\",\"id\":\"r1\"}", TAFEL_MSG_SESSION_OPEN, TAFEL_KIND_SESSIE, 0},
        {"{\"type\":\"session.close\",\"id\":\"r1\"}", TAFEL_MSG_SESSION_CLOSE, TAFEL_KIND_SESSIE,
         0},
    };
    for (size_t i = 0; i < COUNT(implied); i++) {
        assert_int_equal(parse_str(implied[i].in, &r, &info), TAFEL_E_OK);
        assert_int_equal(r.type, implied[i].type);
        assert_true(r.has_kind);
        assert_int_equal(r.kind, implied[i].kind);
        assert_string_equal(r.id, "r1");
        assert_int_equal(r.value, implied[i].value);
        tafel_request_free(&r);
    }
    assert_int_equal(
        parse_str("{\"type\":\"moderate\",\"id\":\"r1\",\"action\":\"restore\"}", &r, &info),
        TAFEL_E_OK);
    assert_int_equal(r.moderation, TAFEL_MOD_RESTORE);
    tafel_request_free(&r);
}

static void test_admin_messages(void **state)
{
    (void)state;
    struct tafel_request r;
    struct tafel_errinfo info;
    assert_int_equal(parse_str("{\"type\":\"key.create\",\"role\":\"partner\",\"opgaven\":[\"o1\","
                               "\"o2\"],\"label\":\"GGD Zeist\",\"expires_in\":315576000}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_KEY_CREATE);
    assert_int_equal(r.role, TAFEL_ROLE_PARTNER);
    assert_int_equal(json_array_size(r.opgaven), 2);
    assert_string_equal(r.label, "GGD Zeist");
    assert_int_equal(r.expires_in, 315576000);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"key.create\",\"role\":\"beheerder\",\"opgaven\":\"*\","
                               "\"label\":\"admin\"}",
                               &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.role, TAFEL_ROLE_BEHEERDER);
    assert_string_equal(json_string_value(r.opgaven), "*");
    assert_int_equal(r.expires_in, 0);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"key.list\"}", &r, &info), TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_KEY_LIST);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"key.revoke\",\"key_id\":\"k_12\"}", &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_KEY_REVOKE);
    assert_string_equal(r.key_id, "k_12");
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"audit.list\",\"after\":77,\"limit\":1000}", &r, &info),
                     TAFEL_E_OK);
    assert_int_equal(r.type, TAFEL_MSG_AUDIT_LIST);
    assert_int_equal(r.after, 77);
    assert_int_equal(r.limit, 1000);
    tafel_request_free(&r);
}

static void test_req_echo_on_error(void **state)
{
    (void)state;
    struct tafel_request r;
    struct tafel_errinfo info;
    assert_int_equal(parse_str("{\"type\":\"fly\",\"req\":\"abc\"}", &r, &info),
                     TAFEL_E_BAD_REQUEST);
    assert_non_null(r.root);
    assert_string_equal(json_string_value(r.req), "abc");
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"req\":17}", &r, &info), TAFEL_E_BAD_REQUEST);
    assert_int_equal(json_integer_value(r.req), 17);
    tafel_request_free(&r);
    assert_int_equal(
        parse_str("{\"type\":\"put\",\"req\":true,\"kind\":\"opgave\",\"doc\":{}}", &r, &info),
        TAFEL_E_BAD_REQUEST);
    assert_true(json_is_true(r.req));
    assert_string_equal(info.field, "doc.title");
    tafel_request_free(&r);
    /* not echoed when it is itself the problem, or the JSON did not parse */
    assert_int_equal(parse_str("{\"type\":\"ping\",\"req\":[1]}", &r, &info), TAFEL_E_BAD_REQUEST);
    assert_null(r.req);
    tafel_request_free(&r);
    assert_int_equal(parse_str("{\"type\":\"ping\",\"req\":1", &r, &info), TAFEL_E_BAD_REQUEST);
    assert_null(r.root);
    assert_null(r.req);
    tafel_request_free(&r);
    /* refused by the pre-scan (too deep, too long), yet well-formed: echoed */
    assert_int_equal(
        parse_str("{\"type\":\"ping\",\"req\":9,\"x\":[[[[[[[[[1]]]]]]]]]}", &r, &info),
        TAFEL_E_BAD_REQUEST);
    assert_int_equal(json_integer_value(r.req), 9);
    tafel_request_free(&r);
    char big[17100];
    int n = snprintf(big, sizeof(big), "{\"type\":\"ping\",\"req\":\"r\",\"x\":\"");
    memset(big + n, 'a', 17000);
    snprintf(big + n + 17000, sizeof(big) - (size_t)n - 17000, "\"}");
    assert_int_equal(parse_str(big, &r, &info), TAFEL_E_TOO_LARGE);
    assert_string_equal(json_string_value(r.req), "r");
    tafel_request_free(&r);
    tafel_request_free(NULL);
}

static void test_assembler(void **state)
{
    (void)state;
    struct tafel_assembler a = {0};
    assert_int_equal(tafel_assembler_add(&a, "{\"type\":", 8, 64), TAFEL_E_OK);
    assert_int_equal(tafel_assembler_add(&a, "\"ping\"}", 7, 64), TAFEL_E_OK);
    assert_int_equal(a.len, 15);
    assert_string_equal(a.buf, "{\"type\":\"ping\"}");
    tafel_assembler_reset(&a);
    assert_int_equal(a.len, 0);
    assert_non_null(a.buf); /* a small buffer is kept for the next message */
    /* over the limit across fragments: refused and emptied */
    assert_int_equal(tafel_assembler_add(&a, "0123456789", 10, 16), TAFEL_E_OK);
    assert_int_equal(tafel_assembler_add(&a, "0123456789", 10, 16), TAFEL_E_TOO_LARGE);
    assert_int_equal(a.len, 0);
    /* a large message grows the buffer, reset gives it back */
    char big[10000];
    memset(big, 'x', sizeof(big));
    assert_int_equal(tafel_assembler_add(&a, big, sizeof(big), 65536), TAFEL_E_OK);
    assert_true(a.cap > sizeof(big));
    tafel_assembler_reset(&a);
    assert_null(a.buf);
    assert_int_equal(a.cap, 0);
    tafel_assembler_free(&a);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(tafel_msg_name(TAFEL_MSG_KEY_CREATE), "key.create");
    assert_string_equal(tafel_msg_name(TAFEL_MSG_HELLO), "hello");
    assert_null(tafel_msg_name(TAFEL_MSG__COUNT));
    for (int i = 0; i < TAFEL_ROLE__COUNT; i++) {
        enum tafel_role role;
        assert_true(tafel_role_from_name(tafel_role_name((enum tafel_role)i), &role));
        assert_int_equal(role, i);
    }
    assert_string_equal(tafel_role_name(TAFEL_ROLE_INWONER), "inwoner");
    assert_null(tafel_role_name(TAFEL_ROLE__COUNT));
    assert_false(tafel_role_from_name("koning", NULL));
    assert_false(tafel_role_from_name(NULL, NULL));
}

/* ---------------------------------------------------------- serialisers */

/* Check a serialiser's buffer: headroom untouched, text, length, NUL. */
static void expect_frame(char *buf, size_t headroom, const size_t *lenp, const char *want)
{
    /* by pointer: the serialiser, an argument of the same call, sets it */
    size_t len = *lenp;
    assert_non_null(buf);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(buf + headroom, want, len);
    assert_int_equal(buf[headroom + len], '\0');
    memset(buf, 0x55, headroom); /* the caller may write there */
    free(buf);
}

static void test_serialise_ok(void **state)
{
    (void)state;
    size_t len = 0;
    json_t *req = json_integer(7);
    json_t *fields = json_pack("{s:s,s:i,s:i,s:s}", "id", "a1", "rev", 1, "seq", 42, "type", "x");
    expect_frame(tafel_msg_ok(req, fields, 16, &len), 16, &len,
                 "{\"type\":\"ok\",\"req\":7,\"id\":\"a1\",\"rev\":1,\"seq\":42}");
    assert_int_equal(fields->refcount, 1);
    expect_frame(tafel_msg_ok(NULL, NULL, 0, &len), 0, &len, "{\"type\":\"ok\"}");
    json_t *s = json_string("r-\xc3\xa9");
    expect_frame(tafel_msg_ok(s, NULL, 4, &len), 4, &len,
                 "{\"type\":\"ok\",\"req\":\"r-\xc3\xa9\"}");
    json_decref(s);
    json_t *doc = json_pack("{s:[i,i],s:{s:b}}", "b", 1, 2, "a", "x", 1);
    expect_frame(tafel_msg_dump(doc, 3, &len), 3, &len, "{\"b\":[1,2],\"a\":{\"x\":true}}");
    assert_null(tafel_msg_dump(NULL, 0, &len));
    json_decref(doc);
    json_decref(fields);
    json_decref(req);
}

static void test_serialise_error(void **state)
{
    (void)state;
    size_t len = 0;
    struct tafel_errinfo info;
    json_t *req = json_string("abc");
    tafel_errinfo_set(&info, TAFEL_E_BAD_REQUEST, "doc.title", "doc.title: required");
    expect_frame(tafel_msg_error(req, &info, NULL, 16, &len), 16, &len,
                 "{\"type\":\"error\",\"req\":\"abc\",\"code\":\"bad_request\",\"message\":"
                 "\"doc.title: required\",\"field\":\"doc.title\"}");
    /* an empty message becomes the code's sentence; extra adds `current` */
    tafel_errinfo_clear(&info);
    info.code = TAFEL_E_CONFLICT;
    json_t *extra = json_pack("{s:{s:s,s:i}}", "current", "id", "x", "rev", 3);
    expect_frame(tafel_msg_error(NULL, &info, extra, 0, &len), 0, &len,
                 "{\"type\":\"error\",\"code\":\"conflict\",\"message\":\"stale revision or "
                 "already exists\",\"current\":{\"id\":\"x\",\"rev\":3}}");
    json_decref(extra);
    /* internal codes travel as their wire code */
    tafel_errinfo_set(&info, TAFEL_E_MAP_FULL, NULL, NULL);
    expect_frame(tafel_msg_error(req, &info, NULL, 0, &len), 0, &len,
                 "{\"type\":\"error\",\"req\":\"abc\",\"code\":\"unavailable\",\"message\":"
                 "\"storage full: map size ceiling reached\"}");
    /* text cut in the middle of a character still makes valid JSON */
    tafel_errinfo_clear(&info);
    info.code = TAFEL_E_BAD_REQUEST;
    strcpy(info.message, "caf\xc3");
    expect_frame(tafel_msg_error(NULL, &info, NULL, 0, &len), 0, &len,
                 "{\"type\":\"error\",\"code\":\"bad_request\",\"message\":\"caf\"}");
    expect_frame(tafel_msg_error(NULL, NULL, NULL, 0, &len), 0, &len,
                 "{\"type\":\"error\",\"code\":\"internal\",\"message\":\"internal error\"}");
    json_decref(req);
}

static void test_serialise_event(void **state)
{
    (void)state;
    size_t len = 0;
    const char *doc = "{\"id\":\"a\",\"kind\":\"opgave\",\"rev\":2}";
    expect_frame(tafel_msg_event(42, "put", doc, strlen(doc), 8, &len), 8, &len,
                 "{\"type\":\"event\",\"op\":\"put\",\"doc\":{\"id\":\"a\",\"kind\":"
                 "\"opgave\",\"rev\":2},\"seq\":42}");
    expect_frame(tafel_msg_event(UINT64_MAX, "delete", "{}", 2, 0, &len), 0, &len,
                 "{\"type\":\"event\",\"op\":\"delete\",\"doc\":{},\"seq\":18446744073709551615}");
    /* In place, around stored bytes: the same bytes. */
    char block[8 + TAFEL_EVENT_PUT_HEAD_LEN + 40 + TAFEL_EVENT_TAIL_ROOM];
    memcpy(block + 8 + TAFEL_EVENT_PUT_HEAD_LEN, doc, strlen(doc));
    len = tafel_msg_event_wrap(block, 8, strlen(doc), 42);
    char *copy = tafel_msg_event(42, "put", doc, strlen(doc), 8, &(size_t){0});
    assert_non_null(copy);
    assert_int_equal(len, strlen(copy + 8));
    assert_memory_equal(block + 8, copy + 8, len);
    free(copy);
    size_t olen = 0;
    json_t *req = json_integer(7);
    expect_frame(tafel_msg_ok_doc(req, "x1", 3, 9, 1, doc, strlen(doc), 8, &olen), 8, &olen,
                 "{\"type\":\"ok\",\"req\":7,\"id\":\"x1\",\"rev\":3,\"seq\":9,\"voted\":true,"
                 "\"doc\":{\"id\":\"a\",\"kind\":\"opgave\",\"rev\":2}}");
    json_decref(req);
    assert_null(tafel_msg_event(1, "p\"ut", "{}", 2, 0, &len));
    assert_null(tafel_msg_event(1, NULL, "{}", 2, 0, &len));
}

static void test_server_messages(void **state)
{
    (void)state;
    struct tafel_server_msg m;
    struct tafel_errinfo info;
    static const struct {
        const char *in;
        enum tafel_err code;
        enum tafel_server_msg_type type;
    } cases[] = {
        {"{\"type\":\"ok\",\"req\":5,\"seq\":9,\"actor\":\"a1\"}", TAFEL_E_OK, TAFEL_SMSG_OK},
        {"{\"type\":\"error\",\"req\":\"x\",\"code\":\"conflict\",\"message\":\"stale\"}",
         TAFEL_E_OK, TAFEL_SMSG_ERROR},
        {"{\"type\":\"event\",\"seq\":3,\"op\":\"delete\",\"doc\":{\"id\":\"a\"}}", TAFEL_E_OK,
         TAFEL_SMSG_EVENT},
        {"{\"type\":\"snapshot\",\"seq\":3,\"docs\":[]}", TAFEL_E_OK, TAFEL_SMSG_SNAPSHOT},
        {"{\"type\":\"presence\",\"opgave\":\"o1\",\"count\":4}", TAFEL_E_OK, TAFEL_SMSG_PRESENCE},
        {"{\"type\":\"weather\",\"sun\":true}", TAFEL_E_OK, TAFEL_SMSG_OTHER},
        {"{\"type\":\"event\",\"seq\":3,\"op\":\"put\"}", TAFEL_E_BAD_REQUEST, TAFEL_SMSG_EVENT},
        {"{\"type\":\"event\",\"seq\":3,\"op\":\"move\",\"doc\":{}}", TAFEL_E_BAD_REQUEST,
         TAFEL_SMSG_EVENT},
        {"{\"type\":\"event\",\"seq\":-3,\"op\":\"put\",\"doc\":{}}", TAFEL_E_BAD_REQUEST,
         TAFEL_SMSG_EVENT},
        {"{\"type\":\"error\",\"message\":\"m\"}", TAFEL_E_BAD_REQUEST, TAFEL_SMSG_ERROR},
        {"{\"type\":\"ok\",\"req\":{}}", TAFEL_E_BAD_REQUEST, TAFEL_SMSG_OK},
        {"{\"seq\":1}", TAFEL_E_BAD_REQUEST, TAFEL_SMSG_OK},
        {"[]", TAFEL_E_BAD_REQUEST, TAFEL_SMSG_OK},
        {"{\"type\":\"ok\",\"x\":\"\xc3\x28\"}", TAFEL_E_BAD_UTF8, TAFEL_SMSG_OK},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        assert_int_equal(tafel_server_msg_parse(cases[i].in, strlen(cases[i].in), &m, &info),
                         cases[i].code);
        if (cases[i].code == TAFEL_E_OK)
            assert_int_equal(m.type, cases[i].type);
        tafel_server_msg_free(&m);
    }
    const char *ev = "{\"type\":\"event\",\"seq\":12,\"op\":\"put\",\"doc\":{\"id\":\"a\"}}";
    assert_int_equal(tafel_server_msg_parse(ev, strlen(ev), &m, &info), TAFEL_E_OK);
    assert_int_equal(m.seq, 12);
    assert_string_equal(m.op, "put");
    assert_string_equal(json_string_value(json_object_get(m.doc, "id")), "a");
    tafel_server_msg_free(&m);
    assert_null(m.root);

    /* what the serialisers write, a client reads back */
    struct tafel_errinfo err;
    size_t len;
    json_t *req = json_integer(99);
    tafel_errinfo_set(&err, TAFEL_E_FORBIDDEN, "opgave", "not your opgave");
    char *buf = tafel_msg_error(req, &err, NULL, 10, &len);
    assert_int_equal(tafel_server_msg_parse(buf + 10, len, &m, &info), TAFEL_E_OK);
    assert_int_equal(m.type, TAFEL_SMSG_ERROR);
    assert_int_equal(json_integer_value(m.req), 99);
    assert_string_equal(m.code, "forbidden");
    assert_string_equal(m.message, "not your opgave");
    tafel_server_msg_free(&m);
    free(buf);
    json_decref(req);
    tafel_server_msg_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_table_sane),
        cmocka_unit_test(test_every_kind_valid_create),
        cmocka_unit_test(test_every_required_field_missing),
        cmocka_unit_test(test_server_fields_refused),
        cmocka_unit_test(test_stored_documents),
        cmocka_unit_test(test_patch_modes),
        cmocka_unit_test(test_ref_set_field),
        cmocka_unit_test(test_touches_flag),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_auth_messages),
        cmocka_unit_test(test_document_messages),
        cmocka_unit_test(test_live_messages),
        cmocka_unit_test(test_admin_messages),
        cmocka_unit_test(test_req_echo_on_error),
        cmocka_unit_test(test_assembler),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_serialise_ok),
        cmocka_unit_test(test_serialise_error),
        cmocka_unit_test(test_serialise_event),
        cmocka_unit_test(test_server_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
