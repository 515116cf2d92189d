/*
 * test_privacy_store.c - storage/privacy.c: a device record found by its
 * token alone, which documents hold an actor's mark, and the erasure being
 * all or nothing (its document ops, the device record, the audit entry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tafel_store.h"

#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */

struct fx {
    char dir[64];
    tafel_store *st;
};

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/tafel-privacy-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    rmdir(f->dir); /* tafel_store_open creates it */
    assert_int_equal(tafel_store_open(f->dir, NULL, true, &f->st, NULL), TAFEL_E_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tafel_store_close(f->st);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Create a reflectie in opgave "o1"; its id into @p id. */
static void create(tafel_store *st, const char *text, char *id)
{
    json_t *doc = json_pack("{s:s}", "text", text);
    struct tafel_write w = {
        .op = TAFEL_OP_PUT, .kind = "reflectie", .doc = doc, .opgave = "o1", .actor = "u1"};
    assert_int_equal(tafel_store_write(st, &w, 1, NOW), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_OK);
    strcpy(id, w.new_id);
    json_decref(w.stored);
    json_decref(doc);
}

/* Set actor @p mark's mark on reflectie @p id (a vote). */
static void mark(tafel_store *st, const char *id, const char *mark)
{
    json_t *empty = json_object();
    struct tafel_write w = {.op = TAFEL_OP_PATCH,
                            .kind = "reflectie",
                            .id = id,
                            .doc = empty,
                            .actor = mark,
                            .mark = mark,
                            .mark_set = true,
                            .mark_value = 1};
    assert_int_equal(tafel_store_write(st, &w, 1, NOW), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_OK);
    json_decref(w.stored);
    json_decref(empty);
}

static bool count_fn(void *ctx, uint64_t n, const char *json, size_t len)
{
    (void)n, (void)json, (void)len;
    (*(int *)ctx)++;
    return true;
}

static int audit_count(tafel_store *st)
{
    int n = 0;
    assert_int_equal(tafel_store_audit_list(st, 0, 0, count_fn, &n), TAFEL_E_OK);
    return n;
}

static bool exists(tafel_store *st, const char *id)
{
    json_t *doc = NULL;
    enum tafel_err err = tafel_store_get(st, "reflectie", id, &doc);
    json_decref(doc);
    return err == TAFEL_E_OK;
}

static void test_device_get(void **state)
{
    struct fx *f = *state;
    char token[TAFEL_DEVICE_STRLEN + 1], actor[TAFEL_ID_MAX + 1], bad[TAFEL_DEVICE_STRLEN + 1];
    struct tafel_device_info d;
    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, token, actor), TAFEL_E_OK);
    assert_int_equal(tafel_store_device_get(f->st, token, &d), TAFEL_E_OK);
    assert_string_equal(d.session, "s1");
    assert_string_equal(d.actor, actor);
    assert_string_equal(d.created_at, "2026-01-01T00:00:00.000Z");
    /* another token of the same shape, malformed ones: unknown, and nothing leaks */
    strcpy(bad, token);
    bad[3] = bad[3] == 'A' ? 'B' : 'A';
    assert_int_equal(tafel_store_device_get(f->st, bad, &d), TAFEL_E_NOT_FOUND);
    assert_string_equal(d.actor, "");
    assert_int_equal(tafel_store_device_get(f->st, "kort", &d), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_get(f->st, NULL, &d), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_get(f->st, token, NULL), TAFEL_E_INVALID_ARG);
}

static void test_marks_held(void **state)
{
    struct fx *f = *state;
    char r1[TAFEL_ID_MAX + 1], r2[TAFEL_ID_MAX + 1];
    create(f->st, "een", r1);
    create(f->st, "twee", r2);
    mark(f->st, r2, "iactor00001");
    mark(f->st, r1, "iactor00002");
    const char *ids[] = {r1, r2, "nooit", "geen spatie"};
    bool held[4] = {true, false, true, true};
    assert_int_equal(tafel_store_marks_held(f->st, "reflectie", ids, 4, "iactor00001", held),
                     TAFEL_E_OK);
    assert_false(held[0]);
    assert_true(held[1]);
    assert_false(held[2]);
    assert_false(held[3]);
    assert_int_equal(tafel_store_marks_held(f->st, "reflectie", ids, 0, "iactor00001", NULL),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_marks_held(f->st, "reflectie", ids, 1, "", held),
                     TAFEL_E_INVALID_ARG);
}

static void test_erase_all_or_nothing(void **state)
{
    struct fx *f = *state;
    char token[TAFEL_DEVICE_STRLEN + 1], actor[TAFEL_ID_MAX + 1], other[TAFEL_DEVICE_STRLEN + 1];
    char oactor[TAFEL_ID_MAX + 1], r1[TAFEL_ID_MAX + 1], r2[TAFEL_ID_MAX + 1];
    struct tafel_device_info d;
    struct tafel_errinfo info;
    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, token, actor), TAFEL_E_OK);
    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, other, oactor), TAFEL_E_OK);
    create(f->st, "eerste", r1);
    create(f->st, "tweede", r2);
    uint64_t seq = tafel_store_seq(f->st);
    int audits = audit_count(f->st);
    json_t *detail = json_pack("{s:s, s:i}", "participant", actor, "contributions", 2);
    struct tafel_audit_entry audit = {"kbeheer0001", "device.erase", "device/x", detail};
    struct tafel_write ops[2] = {
        {.op = TAFEL_OP_DELETE, .kind = "reflectie", .id = r1, .expected_rev = 1, .actor = "k1"},
        {.op = TAFEL_OP_DELETE, .kind = "reflectie", .id = r2, .expected_rev = 2, .actor = "k1"},
    };

    /* One op refused (a stale rev): nothing of it is written, not even the
     * first op, the device record or the audit entry. */
    assert_int_equal(tafel_store_device_erase(f->st, token, actor, ops, 2, NOW, &audit, &info),
                     TAFEL_E_CONFLICT);
    assert_int_equal(info.code, TAFEL_E_CONFLICT);
    assert_int_equal(ops[0].result, TAFEL_E_CONFLICT);
    assert_true(exists(f->st, r1));
    assert_true(exists(f->st, r2));
    assert_int_equal(tafel_store_device_get(f->st, token, &d), TAFEL_E_OK);
    assert_int_equal(tafel_store_seq(f->st), seq);
    assert_int_equal(audit_count(f->st), audits);

    /* Another participant's token with this actor: not this erasure's. */
    ops[1].expected_rev = 1;
    assert_int_equal(tafel_store_device_erase(f->st, other, actor, ops, 2, NOW, &audit, &info),
                     TAFEL_E_NOT_FOUND);
    assert_string_equal(info.field, "device");
    assert_true(exists(f->st, r1));
    assert_int_equal(tafel_store_device_get(f->st, other, &d), TAFEL_E_OK);
    assert_int_equal(tafel_store_seq(f->st), seq);

    /* All of it, in one commit. */
    assert_int_equal(tafel_store_device_erase(f->st, token, actor, ops, 2, NOW, &audit, &info),
                     TAFEL_E_OK);
    assert_int_equal(ops[0].seq, seq + 1);
    assert_int_equal(ops[1].seq, seq + 2);
    assert_false(exists(f->st, r1));
    assert_false(exists(f->st, r2));
    assert_int_equal(tafel_store_device_get(f->st, token, &d), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_get(f->st, other, &d), TAFEL_E_OK);
    assert_int_equal(audit_count(f->st), audits + 1);
    /* Gone is gone: again, nothing to erase. */
    assert_int_equal(tafel_store_device_erase(f->st, token, actor, NULL, 0, NOW, &audit, &info),
                     TAFEL_E_NOT_FOUND);

    /* No documents at all: the device record and the audit entry still go
     * and come. */
    assert_int_equal(tafel_store_device_erase(f->st, other, oactor, NULL, 0, NOW, &audit, &info),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_device_get(f->st, other, &d), TAFEL_E_NOT_FOUND);
    assert_int_equal(audit_count(f->st), audits + 2);
    assert_int_equal(tafel_store_seq(f->st), seq + 2);
    json_decref(detail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_device_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_erase_all_or_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
