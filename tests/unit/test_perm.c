/*
 * test_perm.c - server/perm.c against the schema's permission cells, and
 * /schema.json's cells against what the server decides.
 *
 * perm.c (pure: jansson and the schema) comes from the library tafel_server.
 * The page decides which buttons to show from /schema.json's "permissions";
 * these tests make sure that what it reads is what tafeld enforces, cell by
 * cell, for scoped and unscoped actors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "perm.h"

static struct tafel_actor actor(enum tafel_role role, const char *id, json_t *scope)
{
    struct tafel_actor a;
    memset(&a, 0, sizeof(a));
    a.role = role;
    snprintf(a.id, sizeof(a.id), "%s", id);
    a.scope = scope;
    return a;
}

static void test_cells_come_from_the_rows(void **state)
{
    (void)state;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++)
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++)
            for (int a = 0; a < TAFEL_ACT__COUNT; a++) {
                enum tafel_perm cell =
                    tafel_perm_cell((enum tafel_role)r, (enum tafel_kind)k, (enum tafel_action)a);
                enum tafel_perm row =
                    tafel_schema_perm((enum tafel_kind)k, (enum tafel_role)r, (enum tafel_action)a);
                assert_true(row != TAFEL_PERM_UNSET);
                assert_int_equal(cell, row);
            }
    /* Out of range denies. */
    assert_int_equal(tafel_perm_cell(TAFEL_ROLE__COUNT, TAFEL_KIND_OPGAVE, TAFEL_ACT_READ),
                     TAFEL_PERM_NO);
    assert_int_equal(tafel_perm_cell(TAFEL_ROLE_BEHEERDER, TAFEL_KIND__COUNT, TAFEL_ACT_READ),
                     TAFEL_PERM_NO);
    assert_int_equal(tafel_perm_cell(TAFEL_ROLE_BEHEERDER, TAFEL_KIND_OPGAVE, TAFEL_ACT__COUNT),
                     TAFEL_PERM_NO);
}

/* docs/permissions.md before issue 11, cell by cell: moving the matrix into
 * the rows changed no decision. "RCUDM" per role, lower case = own. */
static void test_matrix_unchanged(void **state)
{
    (void)state;
    static const char *const before[TAFEL_KIND__COUNT][TAFEL_ROLE__COUNT] = {
        [TAFEL_KIND_OPGAVE] = {"RCUD-", "R-U--", "R----", "R----", "R----"},
        [TAFEL_KIND_ACTIELIJN] = {"RCUD-", "RCUD-", "R----", "R----", "R----"},
        [TAFEL_KIND_ACTIVITEIT] = {"RCUD-", "RCUD-", "RCud-", "R----", "R----"},
        [TAFEL_KIND_INDICATOR] = {"RCUD-", "RCUD-", "R----", "R----", "R----"},
        [TAFEL_KIND_METING] = {"RCUD-", "RCUD-", "RCud-", "R----", "R----"},
        [TAFEL_KIND_REFLECTIE] = {"RCUDM", "RCUDM", "RCud-", "RC---", "R----"},
        [TAFEL_KIND_SESSIE] = {"RCUDM", "RCUDM", "R----", "R----", "R----"},
        [TAFEL_KIND_MOMENT] = {"RCUD-", "RCUD-", "RCud-", "R----", "R----"},
        [TAFEL_KIND_LID] = {"RCUD-", "RCUD-", "R----", "-----", "R----"},
    };
    for (int k = 0; k < TAFEL_KIND__COUNT; k++)
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
            if (!before[k][r]) /* a kind added since: its own row is the truth */
                continue;
            for (int a = 0; a < TAFEL_ACT__COUNT; a++) {
                char c = before[k][r][a];
                enum tafel_perm want = c == '-'               ? TAFEL_PERM_NO
                                       : c >= 'a' && c <= 'z' ? TAFEL_PERM_OWN
                                                              : TAFEL_PERM_YES;
                assert_int_equal(
                    tafel_perm_cell((enum tafel_role)r, (enum tafel_kind)k, (enum tafel_action)a),
                    want);
            }
        }
}

/* The page reads /schema.json; every cell there must be tafel_perm_cell(). */
static void test_schema_json_cells_are_the_servers(void **state)
{
    (void)state;
    json_t *doc = tafel_schema_json();
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_non_null(text);
    doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    const json_t *kinds = json_object_get(doc, "kinds");
    assert_int_equal(json_array_size(kinds), TAFEL_KIND__COUNT);
    for (size_t k = 0; k < json_array_size(kinds); k++) {
        const json_t *kind = json_array_get(kinds, k);
        const struct tafel_kind_def *def =
            tafel_schema_kind_by_name(json_string_value(json_object_get(kind, "name")));
        assert_non_null(def);
        const json_t *perms = json_object_get(kind, "permissions");
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
            const json_t *cells = json_object_get(perms, tafel_role_name((enum tafel_role)r));
            assert_int_equal(json_object_size(cells), TAFEL_ACT__COUNT);
            for (int a = 0; a < TAFEL_ACT__COUNT; a++) {
                const char *got = json_string_value(
                    json_object_get(cells, tafel_action_name((enum tafel_action)a)));
                assert_non_null(got);
                assert_string_equal(got, tafel_perm_name(tafel_perm_cell(
                                             (enum tafel_role)r, def->kind, (enum tafel_action)a)));
            }
        }
    }
    /* A few cells by name, as perm.js will look them up. */
    const json_t *activiteit = json_array_get(kinds, TAFEL_KIND_ACTIVITEIT);
    const json_t *partner = json_object_get(json_object_get(activiteit, "permissions"), "partner");
    assert_string_equal(json_string_value(json_object_get(partner, "create")), "yes");
    assert_string_equal(json_string_value(json_object_get(partner, "update")), "own");
    assert_string_equal(json_string_value(json_object_get(partner, "delete")), "own");
    const json_t *lid = json_array_get(kinds, TAFEL_KIND_LID);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(lid, "permissions"), "inwoner"), "read")),
        "no");
    const json_t *reflectie = json_array_get(kinds, TAFEL_KIND_REFLECTIE);
    const json_t *rp = json_object_get(reflectie, "permissions");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rp, "inwoner"), "create")), "yes");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(rp, "opgaveleider"), "moderate")), "yes");
    json_decref(doc);
}

static void test_check_follows_the_cells(void **state)
{
    (void)state;
    struct tafel_errinfo info;
    json_t *scope = json_pack("[s]", "opg-1");
    struct tafel_actor partner = actor(TAFEL_ROLE_PARTNER, "k-partner", scope);
    /* YES */
    assert_int_equal(
        tafel_perm_check(&partner, TAFEL_KIND_ACTIVITEIT, TAFEL_ACT_CREATE, "opg-1", NULL, &info),
        TAFEL_E_OK);
    /* OWN: its own document, not another's */
    assert_int_equal(tafel_perm_check(&partner, TAFEL_KIND_ACTIVITEIT, TAFEL_ACT_UPDATE, "opg-1",
                                      "k-partner", &info),
                     TAFEL_E_OK);
    assert_int_equal(tafel_perm_check(&partner, TAFEL_KIND_ACTIVITEIT, TAFEL_ACT_DELETE, "opg-1",
                                      "k-other", &info),
                     TAFEL_E_FORBIDDEN);
    assert_non_null(strstr(info.message, "only its own activiteit"));
    /* NO */
    assert_int_equal(
        tafel_perm_check(&partner, TAFEL_KIND_ACTIELIJN, TAFEL_ACT_CREATE, "opg-1", NULL, &info),
        TAFEL_E_FORBIDDEN);
    assert_non_null(strstr(info.message, "may not create actielijn"));
    /* Outside the scope a document does not exist. */
    assert_int_equal(
        tafel_perm_check(&partner, TAFEL_KIND_ACTIVITEIT, TAFEL_ACT_READ, "opg-2", NULL, &info),
        TAFEL_E_NOT_FOUND);
    /* Moderation: the reflectie cell; hidden documents only for moderators. */
    struct tafel_actor lead = actor(TAFEL_ROLE_OPGAVELEIDER, "k-lead", scope);
    assert_true(tafel_actor_moderates(&lead, "opg-1"));
    assert_false(tafel_actor_moderates(&lead, "opg-2"));
    assert_false(tafel_actor_moderates(&partner, "opg-1"));
    assert_true(tafel_perm_can_read(&lead, TAFEL_KIND_REFLECTIE, "opg-1", true));
    assert_false(tafel_perm_can_read(&partner, TAFEL_KIND_REFLECTIE, "opg-1", true));
    assert_true(tafel_perm_can_read(&partner, TAFEL_KIND_REFLECTIE, "opg-1", false));
    /* An inwoner does not read members. */
    struct tafel_actor inwoner = actor(TAFEL_ROLE_INWONER, "d-1", scope);
    assert_false(tafel_perm_can_read(&inwoner, TAFEL_KIND_LID, "opg-1", false));
    /* A new opgave: only an unscoped beheerder. */
    struct tafel_actor admin = actor(TAFEL_ROLE_BEHEERDER, "k-admin", NULL);
    struct tafel_actor scoped_admin = actor(TAFEL_ROLE_BEHEERDER, "k-admin2", scope);
    assert_int_equal(
        tafel_perm_check(&admin, TAFEL_KIND_OPGAVE, TAFEL_ACT_CREATE, NULL, NULL, &info),
        TAFEL_E_OK);
    assert_int_equal(
        tafel_perm_check(&scoped_admin, TAFEL_KIND_OPGAVE, TAFEL_ACT_CREATE, NULL, NULL, &info),
        TAFEL_E_FORBIDDEN);
    json_decref(scope);
}

/* Every cell of every kind's row, as the table itself has it
 * (tafel_schema_kind()->perm), against what tafel_perm_check() decides, for
 * an actor scoped to the opgave and an unscoped one: YES allows, NO refuses,
 * OWN allows only the document's creator. A cell the docs and /schema.json
 * show but the check does not follow (or the other way round) fails here. */
static void check_cell(const struct tafel_actor *who, enum tafel_kind k, enum tafel_action a,
                       enum tafel_perm cell)
{
    struct tafel_errinfo info;
    /* Creating an opgave has no opgave yet, and only an unscoped actor may
     * (perm.h); every other check is inside the actor's scope. */
    bool new_opgave = k == TAFEL_KIND_OPGAVE && a == TAFEL_ACT_CREATE;
    const char *opgave = new_opgave ? NULL : "opg-1";
    enum tafel_err anyone = tafel_perm_check(who, k, a, opgave, NULL, &info);
    enum tafel_err own = tafel_perm_check(who, k, a, opgave, who->id, &info);
    enum tafel_err other = tafel_perm_check(who, k, a, opgave, "k-somebody-else", &info);
    enum tafel_err want_anyone, want_own;
    switch (cell) {
    case TAFEL_PERM_YES:
        want_anyone = want_own = new_opgave && who->scope ? TAFEL_E_FORBIDDEN : TAFEL_E_OK;
        break;
    case TAFEL_PERM_OWN:
        want_anyone = TAFEL_E_FORBIDDEN;
        want_own = TAFEL_E_OK;
        break;
    default:
        want_anyone = want_own = TAFEL_E_FORBIDDEN;
        break;
    }
    if (anyone != want_anyone || own != want_own || other != want_anyone)
        print_error("%s %s %s (%s): cell %s, check gave %s/%s/%s\n", tafel_role_name(who->role),
                    tafel_action_name(a), tafel_schema_kind(k)->name,
                    who->scope ? "scoped" : "unscoped", tafel_perm_name(cell),
                    tafel_err_name(anyone), tafel_err_name(own), tafel_err_name(other));
    assert_int_equal(anyone, want_anyone);
    assert_int_equal(own, want_own);
    assert_int_equal(other, want_anyone);
    /* Outside the scope the document does not exist, whatever the cell. */
    if (who->scope && !new_opgave) {
        assert_int_equal(tafel_perm_check(who, k, a, "opg-2", who->id, &info), TAFEL_E_NOT_FOUND);
        assert_int_equal(tafel_perm_check(who, k, a, NULL, who->id, &info), TAFEL_E_NOT_FOUND);
    }
}

static void test_check_follows_every_cell(void **state)
{
    (void)state;
    json_t *scope = json_pack("[s]", "opg-1");
    assert_non_null(scope);
    size_t checked = 0;
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        assert_non_null(def);
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
            struct tafel_actor scoped = actor((enum tafel_role)r, "k-me", scope);
            struct tafel_actor unscoped = actor((enum tafel_role)r, "k-me", NULL);
            for (int a = 0; a < TAFEL_ACT__COUNT; a++) {
                enum tafel_perm cell = def->perm[r][a];
                assert_true(cell == TAFEL_PERM_NO || cell == TAFEL_PERM_YES ||
                            cell == TAFEL_PERM_OWN);
                check_cell(&scoped, (enum tafel_kind)k, (enum tafel_action)a, cell);
                check_cell(&unscoped, (enum tafel_kind)k, (enum tafel_action)a, cell);
                checked++;
            }
        }
    }
    assert_int_equal(checked, TAFEL_KIND__COUNT * TAFEL_ROLE__COUNT * TAFEL_ACT__COUNT);
    json_decref(scope);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cells_come_from_the_rows),
        cmocka_unit_test(test_matrix_unchanged),
        cmocka_unit_test(test_schema_json_cells_are_the_servers),
        cmocka_unit_test(test_check_follows_the_cells),
        cmocka_unit_test(test_check_follows_every_cell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
