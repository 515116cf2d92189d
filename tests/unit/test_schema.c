/*
 * test_schema.c - the schema table is complete: every kind has its row,
 * labels and every permission cell; every field and every enumeration value
 * has its labels; /schema.json and the generated docs follow the table.
 *
 * These tests are what makes a new kind "one row": forget a label or a
 * permission cell in it and a test here fails, naming the kind, field or
 * cell. They walk the table, so a new kind is tested without a new test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tafel_protocol.h"
#include "tafel_schema.h"

/* A label or doc line is there and says something. */
static bool text_ok(const char *s)
{
    return s && s[0] != '\0' && s[0] != ' ';
}

/* The X-macro list, as the tests see it: each name must have its row. */
static const struct {
    enum tafel_kind kind;
    const char *name;
} listed[] = {
#define LISTED(e, wire) {TAFEL_KIND_##e, wire},
    TAFEL_KIND_LIST(LISTED)
#undef LISTED
};

static void test_every_kind_has_its_row(void **state)
{
    (void)state;
    assert_int_equal(sizeof(listed) / sizeof(listed[0]), TAFEL_KIND__COUNT);
    for (size_t i = 0; i < TAFEL_KIND__COUNT; i++) {
        const struct tafel_kind_def *def = tafel_schema_kind(listed[i].kind);
        assert_non_null(def);
        if (!def->name || def->kind != listed[i].kind)
            fail_msg("kind %s has no row in protocol/schema.c", listed[i].name);
        assert_string_equal(def->name, listed[i].name);
        assert_ptr_equal(tafel_schema_kind_by_name(listed[i].name), def);
        assert_non_null(def->fields);
        assert_true(def->nfields > 0);
    }
}

static void test_every_kind_has_labels(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        const char *const texts[] = {def->label_nl,  def->label_en, def->plural_nl,
                                     def->plural_en, def->doc,      def->doc_nl};
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
            if (!text_ok(texts[i]))
                fail_msg("kind %s: label, plural or doc %zu missing", def->name, i);
    }
}

static void check_field_labels(const char *kind, const struct tafel_field *f)
{
    if (!text_ok(f->label_nl) || !text_ok(f->label_en))
        fail_msg("%s.%s has no label_nl/label_en", kind, f->name);
    if (!text_ok(f->doc) || !text_ok(f->doc_nl))
        fail_msg("%s.%s has no doc/doc_nl", kind, f->name);
}

static void test_every_field_has_labels(void **state)
{
    (void)state;
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    for (size_t i = 0; i < ncommon; i++)
        check_field_labels("(common)", &common[i]);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        for (size_t i = 0; i < def->nfields; i++) {
            const struct tafel_field *f = &def->fields[i];
            check_field_labels(def->name, f);
            /* One name, one field: neither twice in a row nor a common one. */
            for (size_t j = 0; j < i; j++)
                if (strcmp(def->fields[j].name, f->name) == 0)
                    fail_msg("%s.%s appears twice", def->name, f->name);
            for (size_t j = 0; j < ncommon; j++)
                if (strcmp(common[j].name, f->name) == 0)
                    fail_msg("%s.%s is a common field", def->name, f->name);
        }
    }
}

static void check_values(const char *kind, const struct tafel_field *f)
{
    bool is_enum = f->type == TAFEL_F_ENUM || f->type == TAFEL_F_ENUM_SET;
    if (!is_enum) {
        if (f->values)
            fail_msg("%s.%s has values but is no enumeration", kind, f->name);
        return;
    }
    size_t n = tafel_schema_nvalues(f);
    if (n == 0)
        fail_msg("%s.%s is an enumeration without values", kind, f->name);
    for (size_t i = 0; i < n; i++) {
        const struct tafel_enum_value *v = &f->values[i];
        if (!text_ok(tafel_schema_value_label(v, false)) ||
            !text_ok(tafel_schema_value_label(v, true)))
            fail_msg("%s.%s value %s has no label", kind, f->name, v->value);
        /* Only the values of `kind` borrow their labels (from the kinds). */
        if ((!v->label_nl || !v->label_en) && !tafel_schema_kind_by_name(v->value))
            fail_msg("%s.%s value %s: label_nl and label_en are both needed", kind, f->name,
                     v->value);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->values[j].value, v->value) == 0)
                fail_msg("%s.%s value %s appears twice", kind, f->name, v->value);
    }
}

static void test_every_enum_value_has_labels(void **state)
{
    (void)state;
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    for (size_t i = 0; i < ncommon; i++)
        check_values("(common)", &common[i]);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        for (size_t i = 0; i < def->nfields; i++)
            check_values(def->name, &def->fields[i]);
    }
    /* The common field `kind` lists every kind, labelled as the kind. */
    const struct tafel_field *kind = &common[1];
    assert_string_equal(kind->name, "kind");
    assert_int_equal(tafel_schema_nvalues(kind), TAFEL_KIND__COUNT);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        assert_string_equal(kind->values[k].value, def->name);
        assert_string_equal(tafel_schema_value_label(&kind->values[k], true), def->label_en);
        assert_string_equal(tafel_schema_value_label(&kind->values[k], false), def->label_nl);
    }
}

/* The names of the cells of @p def that are not YES, NO or OWN, into @p buf;
 * true if there are none. */
static bool cells_complete(const struct tafel_kind_def *def, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
        for (int a = 0; a < TAFEL_ACT__COUNT; a++) {
            enum tafel_perm p = def->perm[r][a];
            if ((p == TAFEL_PERM_NO || p == TAFEL_PERM_YES || p == TAFEL_PERM_OWN) || used >= size)
                continue;
            int n = snprintf(buf + used, size - used, " %s/%s/%s", def->name,
                             tafel_role_name((enum tafel_role)r),
                             tafel_action_name((enum tafel_action)a));
            used += n > 0 ? (size_t)n : 0;
        }
    return buf[0] == '\0';
}

static void test_every_permission_cell_is_set(void **state)
{
    (void)state;
    char missing[1024];
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        if (!cells_complete(def, missing, sizeof(missing)))
            fail_msg("permission cells left unset in protocol/schema.c:%s", missing);
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
            for (int a = 0; a < TAFEL_ACT__COUNT; a++)
                assert_int_equal(
                    tafel_schema_perm(def->kind, (enum tafel_role)r, (enum tafel_action)a),
                    def->perm[r][a]);
    }
    /* The check itself: a row that forgets a cell, or a whole role, fails it. */
    struct tafel_kind_def row = *tafel_schema_kind(TAFEL_KIND_MOMENT);
    assert_true(cells_complete(&row, missing, sizeof(missing)));
    row.perm[TAFEL_ROLE_PARTNER][TAFEL_ACT_DELETE] = TAFEL_PERM_UNSET;
    assert_false(cells_complete(&row, missing, sizeof(missing)));
    assert_string_equal(missing, " moment/partner/delete");
    memset(row.perm[TAFEL_ROLE_WAARNEMER], 0, sizeof(row.perm[TAFEL_ROLE_WAARNEMER]));
    assert_false(cells_complete(&row, missing, sizeof(missing)));
    assert_non_null(strstr(missing, "moment/waarnemer/read"));
    /* Out of range is UNSET, never a cell of another kind. */
    assert_int_equal(tafel_schema_perm(TAFEL_KIND__COUNT, TAFEL_ROLE_BEHEERDER, TAFEL_ACT_READ),
                     TAFEL_PERM_UNSET);
    assert_int_equal(tafel_schema_perm(TAFEL_KIND_OPGAVE, TAFEL_ROLE__COUNT, TAFEL_ACT_READ),
                     TAFEL_PERM_UNSET);
    assert_int_equal(tafel_schema_perm(TAFEL_KIND_OPGAVE, TAFEL_ROLE_BEHEERDER, TAFEL_ACT__COUNT),
                     TAFEL_PERM_UNSET);
}

static void test_flags_agree_with_fields(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        bool has_moderated_field = false;
        for (size_t i = 0; i < def->nfields; i++)
            has_moderated_field |= (def->fields[i].flags & TAFEL_FF_MODERATE) != 0;
        if (def->moderated != has_moderated_field)
            fail_msg("kind %s: moderated is %d but its fields say %d", def->name, def->moderated,
                     has_moderated_field);
    }
    /* Today's audited kinds: the opgave itself and its members. */
    assert_true(tafel_schema_kind(TAFEL_KIND_OPGAVE)->audited);
    assert_true(tafel_schema_kind(TAFEL_KIND_LID)->audited);
    assert_false(tafel_schema_kind(TAFEL_KIND_REFLECTIE)->audited);
    assert_true(tafel_schema_kind(TAFEL_KIND_REFLECTIE)->moderated);
}

static void test_roles_and_actions_have_names(void **state)
{
    (void)state;
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
        assert_true(text_ok(tafel_role_name((enum tafel_role)r)));
        assert_true(text_ok(tafel_role_label((enum tafel_role)r, false)));
        assert_true(text_ok(tafel_role_label((enum tafel_role)r, true)));
    }
    assert_null(tafel_role_label(TAFEL_ROLE__COUNT, true));
    assert_string_equal(tafel_role_label(TAFEL_ROLE_BEHEERDER, false), "Beheerder");
    assert_string_equal(tafel_role_label(TAFEL_ROLE_BEHEERDER, true), "Administrator");
    static const char *const actions[] = {"read", "create", "update", "delete", "moderate"};
    assert_int_equal(TAFEL_ACT__COUNT, sizeof(actions) / sizeof(actions[0]));
    for (int a = 0; a < TAFEL_ACT__COUNT; a++)
        assert_string_equal(tafel_action_name((enum tafel_action)a), actions[a]);
    assert_null(tafel_action_name(TAFEL_ACT__COUNT));
    assert_string_equal(tafel_perm_name(TAFEL_PERM_YES), "yes");
    assert_string_equal(tafel_perm_name(TAFEL_PERM_NO), "no");
    assert_string_equal(tafel_perm_name(TAFEL_PERM_OWN), "own");
    assert_string_equal(tafel_perm_name(TAFEL_PERM_UNSET), "unset");
}

/* ------------------------------------------------------------ /schema.json */

static const char *nl_en(const json_t *o, const char *lang)
{
    const char *s = json_string_value(json_object_get(o, lang));
    assert_non_null(s);
    return s;
}

/* One field object against its row. */
static void check_field_json(const json_t *j, const struct tafel_field *f)
{
    static const char *const types[] = {"string", "enum",     "enum_set",   "int",
                                        "number", "bool",     "date",       "datetime",
                                        "ref",    "feelings", "string_set", "ref_set"};
    assert_string_equal(json_string_value(json_object_get(j, "name")), f->name);
    assert_string_equal(json_string_value(json_object_get(j, "type")), types[f->type]);
    assert_int_equal(json_is_true(json_object_get(j, "required")),
                     (f->flags & TAFEL_FF_REQUIRED) != 0);
    assert_int_equal(json_is_true(json_object_get(j, "server")), (f->flags & TAFEL_FF_SERVER) != 0);
    assert_int_equal(json_is_true(json_object_get(j, "moderate")),
                     (f->flags & TAFEL_FF_MODERATE) != 0);
    assert_int_equal(json_is_true(json_object_get(j, "immutable")),
                     (f->flags & TAFEL_FF_IMMUTABLE) != 0);
    assert_int_equal(json_is_true(json_object_get(j, "id")), (f->flags & TAFEL_FF_ID) != 0);
    assert_string_equal(nl_en(json_object_get(j, "label"), "nl"), f->label_nl);
    assert_string_equal(nl_en(json_object_get(j, "label"), "en"), f->label_en);
    assert_string_equal(nl_en(json_object_get(j, "doc"), "nl"), f->doc_nl);
    assert_string_equal(nl_en(json_object_get(j, "doc"), "en"), f->doc);
    bool num = f->type == TAFEL_F_INT || f->type == TAFEL_F_NUMBER;
    assert_int_equal(json_object_get(j, "min") != NULL, num);
    assert_int_equal(json_object_get(j, "max") != NULL, num);
    if (num) {
        assert_true(json_number_value(json_object_get(j, "min")) == f->min);
        assert_true(json_number_value(json_object_get(j, "max")) == f->max);
    }
    assert_int_equal(json_object_get(j, "min_len") != NULL, f->type == TAFEL_F_STRING);
    if (json_object_get(j, "max_len"))
        assert_int_equal(json_integer_value(json_object_get(j, "max_len")), f->max_len);
    bool ref = f->type == TAFEL_F_REF || f->type == TAFEL_F_REF_SET;
    assert_int_equal(json_object_get(j, "ref") != NULL, ref);
    if (f->type == TAFEL_F_REF_SET)
        assert_non_null(json_object_get(j, "max_len"));
    if (ref)
        assert_string_equal(json_string_value(json_object_get(j, "ref")),
                            tafel_schema_kind(f->ref)->name);
    const json_t *values = json_object_get(j, "values");
    assert_int_equal(json_array_size(values), tafel_schema_nvalues(f));
    for (size_t i = 0; i < json_array_size(values); i++) {
        const json_t *v = json_array_get(values, i);
        assert_string_equal(json_string_value(json_object_get(v, "value")), f->values[i].value);
        assert_string_equal(nl_en(json_object_get(v, "label"), "en"),
                            tafel_schema_value_label(&f->values[i], true));
    }
}

static void test_schema_json_follows_the_table(void **state)
{
    (void)state;
    json_t *doc = tafel_schema_json();
    assert_non_null(doc);
    /* Through text and back, as the page receives it. */
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    json_error_t err;
    doc = json_loads(text, 0, &err);
    free(text);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "protocol")), TAFEL_SUBPROTOCOL);
    const json_t *roles = json_object_get(doc, "roles");
    assert_int_equal(json_array_size(roles), TAFEL_ROLE__COUNT);
    for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
        const json_t *role = json_array_get(roles, (size_t)r);
        assert_string_equal(json_string_value(json_object_get(role, "name")),
                            tafel_role_name((enum tafel_role)r));
        assert_string_equal(nl_en(json_object_get(role, "label"), "en"),
                            tafel_role_label((enum tafel_role)r, true));
    }
    const json_t *actions = json_object_get(doc, "actions");
    assert_int_equal(json_array_size(actions), TAFEL_ACT__COUNT);
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    const json_t *cf = json_object_get(doc, "common_fields");
    assert_int_equal(json_array_size(cf), ncommon);
    for (size_t i = 0; i < ncommon; i++)
        check_field_json(json_array_get(cf, i), &common[i]);
    const json_t *kinds = json_object_get(doc, "kinds");
    assert_int_equal(json_array_size(kinds), TAFEL_KIND__COUNT);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        const json_t *kj = json_array_get(kinds, (size_t)k);
        assert_string_equal(json_string_value(json_object_get(kj, "name")), def->name);
        assert_string_equal(nl_en(json_object_get(kj, "label"), "nl"), def->label_nl);
        assert_string_equal(nl_en(json_object_get(kj, "plural"), "en"), def->plural_en);
        assert_string_equal(nl_en(json_object_get(kj, "doc"), "en"), def->doc);
        assert_int_equal(json_is_true(json_object_get(kj, "audited")), def->audited);
        assert_int_equal(json_is_true(json_object_get(kj, "moderated")), def->moderated);
        const json_t *perms = json_object_get(kj, "permissions");
        assert_int_equal(json_object_size(perms), TAFEL_ROLE__COUNT);
        const json_t *fields = json_object_get(kj, "fields");
        assert_int_equal(json_array_size(fields), def->nfields);
        for (size_t i = 0; i < def->nfields; i++)
            check_field_json(json_array_get(fields, i), &def->fields[i]);
    }
    /* A few values as the page will read them. */
    const json_t *opgave = json_array_get(kinds, 0);
    const json_t *complexity = json_array_get(json_object_get(opgave, "fields"), 10);
    assert_string_equal(json_string_value(json_object_get(complexity, "name")), "complexity");
    assert_true(json_is_integer(json_object_get(complexity, "min")));
    assert_int_equal(json_integer_value(json_object_get(complexity, "max")), 5);
    json_decref(doc);
}

/* ---------------------------------------------------------- the docs */

static void test_markdown_pages(void **state)
{
    (void)state;
    enum tafel_schema_page page;
    assert_true(tafel_schema_page_from_name("data-model", &page));
    assert_int_equal(page, TAFEL_PAGE_DATA_MODEL);
    assert_true(tafel_schema_page_from_name("permissions", &page));
    assert_int_equal(page, TAFEL_PAGE_PERMISSIONS);
    assert_false(tafel_schema_page_from_name("protocol", &page));
    assert_false(tafel_schema_page_from_name(NULL, &page));
    assert_null(tafel_schema_markdown(TAFEL_PAGE__COUNT));

    char *dm = tafel_schema_markdown(TAFEL_PAGE_DATA_MODEL);
    char *pm = tafel_schema_markdown(TAFEL_PAGE_PERMISSIONS);
    assert_non_null(dm);
    assert_non_null(pm);
    char want[256];
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        snprintf(want, sizeof(want), "\n## `%s` — ", def->name);
        assert_non_null(strstr(dm, want));
        for (size_t i = 0; i < def->nfields; i++) {
            snprintf(want, sizeof(want), "\n| `%s` | ", def->fields[i].name);
            assert_non_null(strstr(dm, want));
        }
        snprintf(want, sizeof(want), "\n| %s |", def->name);
        assert_non_null(strstr(pm, want));
    }
    /* Cells as letters: partner may create activiteiten, change its own. */
    assert_non_null(strstr(pm, "\n| activiteit | R C U D | R C U D | R C, U D own | R | R |\n"));
    assert_non_null(strstr(pm, "\n| lid | R C U D | R C U D | R | — | R |\n"));
    /* Same table, same bytes: the docs_generated test relies on it. */
    char *again = tafel_schema_markdown(TAFEL_PAGE_DATA_MODEL);
    assert_string_equal(again, dm);
    /* Prose is wrapped at 78 columns; tables, headings and comments are
     * single lines. */
    for (const char *line = dm; *line;) {
        size_t n = strcspn(line, "\n"), cols = 0;
        for (size_t i = 0; i < n; i++)
            cols += ((unsigned char)line[i] & 0xc0) != 0x80;
        if (!strchr("|<#", line[0]) && cols > 78)
            fail_msg("line longer than 78 columns: %.*s", (int)n, line);
        line += n + (line[n] == '\n');
    }
    assert_true(dm[strlen(dm) - 1] == '\n' && dm[strlen(dm) - 2] != '\n');
    free(again);
    free(dm);
    free(pm);
}

/* Secret fields are marked in the row, and one function removes them: a
 * session's join code, nothing of a reflectie. */
static void test_secret_fields(void **state)
{
    (void)state;
    assert_true(tafel_schema_has_secrets(TAFEL_KIND_SESSIE));
    assert_false(tafel_schema_has_secrets(TAFEL_KIND_REFLECTIE));
    json_t *s = json_pack("{s:s, s:s, s:s}", "id", "s1", "question", "Wat?", "join_code", "K7Q2");
    assert_true(tafel_schema_holds_secrets(TAFEL_KIND_SESSIE, s));
    tafel_schema_strip_secrets(TAFEL_KIND_SESSIE, s);
    assert_false(tafel_schema_holds_secrets(TAFEL_KIND_SESSIE, s));
    assert_null(json_object_get(s, "join_code"));
    assert_string_equal(json_string_value(json_object_get(s, "question")), "Wat?");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_has_its_row),
        cmocka_unit_test(test_every_kind_has_labels),
        cmocka_unit_test(test_every_field_has_labels),
        cmocka_unit_test(test_every_enum_value_has_labels),
        cmocka_unit_test(test_every_permission_cell_is_set),
        cmocka_unit_test(test_flags_agree_with_fields),
        cmocka_unit_test(test_roles_and_actions_have_names),
        cmocka_unit_test(test_schema_json_follows_the_table),
        cmocka_unit_test(test_markdown_pages),
        cmocka_unit_test(test_secret_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
