/*
 * test_storage.c - storage/ on real LMDB in a temporary directory: documents,
 * the batch's per-op results and gap-free seq, the change log and its
 * retention, map growth, backups, schema versions, access keys and audit.
 *
 * Every test gets a fresh directory under /tmp (mkdtemp) with a store opened
 * in "data"; tests that need other options open further stores beside it.
 * The directory is removed afterwards, whatever the outcome.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tafel_store.h"

#define NOW 1767225600000LL /* 2026-01-01T00:00:00Z */

struct fx {
    char root[64];
    char dir[128];
    tafel_store *st;
};

/* ------------------------------------------------------------- fixture */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void path_in(const struct fx *f, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", f->root, name);
}

static tafel_store *open_store(const char *dir, const struct tafel_store_options *opt, bool create)
{
    struct tafel_errinfo info;
    tafel_store *st = NULL;
    enum tafel_err err = tafel_store_open(dir, opt, create, &st, &info);
    if (err != TAFEL_E_OK)
        print_error("open %s: %s: %s\n", dir, tafel_err_name(err), info.message);
    assert_int_equal(err, TAFEL_E_OK);
    return st;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/tafel-store-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    path_in(f, "data", f->dir, sizeof(f->dir));
    f->st = open_store(f->dir, NULL, true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    tafel_store_close(f->st);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Replace the fixture's store by a new one in @p name with @p opt. */
static void use_new_store(struct fx *f, const char *name, const struct tafel_store_options *opt)
{
    tafel_store_close(f->st);
    path_in(f, name, f->dir, sizeof(f->dir));
    f->st = open_store(f->dir, opt, true);
}

/* ------------------------------------------------------------- helpers */

static json_t *js(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    return j;
}

static struct tafel_write op_put(const char *kind, const char *id, int64_t rev, const json_t *doc,
                                 const char *opgave)
{
    return (struct tafel_write){.op = TAFEL_OP_PUT,
                                .kind = kind,
                                .id = id,
                                .expected_rev = rev,
                                .doc = doc,
                                .opgave = opgave,
                                .actor = "u1"};
}

static void release(struct tafel_write *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(ops[i].stored);
        ops[i].stored = NULL;
    }
}

/* Apply one op; expect @p want. The result stays in *w (stored released). */
static void write1(tafel_store *st, struct tafel_write *w, enum tafel_err want)
{
    assert_int_equal(tafel_store_write(st, w, 1, NOW), TAFEL_E_OK);
    if (w->result != want)
        print_error("op result %s (%s)\n", tafel_err_name(w->result), w->info.message);
    assert_int_equal(w->result, want);
    release(w, 1);
}

/* Create a document from JSON text; its id into @p id (TAFEL_ID_MAX + 1). */
static void create(tafel_store *st, const char *kind, const char *opgave, const char *text,
                   char *id)
{
    json_t *doc = js(text);
    struct tafel_write w = op_put(kind, NULL, 0, doc, opgave);
    write1(st, &w, TAFEL_E_OK);
    assert_int_equal(w.new_rev, 1);
    strcpy(id, w.new_id);
    json_decref(doc);
}

static int64_t int_member(const json_t *doc, const char *name)
{
    json_t *v = json_object_get(doc, name);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static const char *str_member(const json_t *doc, const char *name)
{
    json_t *v = json_object_get(doc, name);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

/* Listing into a text buffer: "kind/id@opgave json\n" per document. */
struct listed {
    char text[1 << 16];
    size_t len;
    int count;
    int stop_after; /* 0: never */
};

static bool list_cb(void *ctx, const char *kind, const char *id, const char *opgave,
                    const char *json, size_t len)
{
    struct listed *l = ctx;
    assert_int_equal(strlen(json), len);
    l->len += (size_t)snprintf(l->text + l->len, sizeof(l->text) - l->len, "%s/%s@%s %s\n", kind,
                               id, opgave, json);
    assert_true(l->len < sizeof(l->text));
    l->count++;
    return l->stop_after == 0 || l->count < l->stop_after;
}

static int list_count(tafel_store *st, const char *opgave, const char *kind, struct listed *l)
{
    memset(l, 0, sizeof(*l));
    assert_int_equal(tafel_store_list(st, opgave, kind, list_cb, l, NULL), TAFEL_E_OK);
    return l->count;
}

/* Counting only, for listings too large to keep as text. */
static bool count_cb(void *ctx, const char *kind, const char *id, const char *opgave,
                     const char *json, size_t len)
{
    (void)kind, (void)id, (void)opgave;
    assert_int_equal(strlen(json), len);
    ++*(int *)ctx;
    return true;
}

static int count_docs(tafel_store *st, const char *opgave, const char *kind)
{
    int n = 0;
    assert_int_equal(tafel_store_list(st, opgave, kind, count_cb, &n, NULL), TAFEL_E_OK);
    return n;
}

/* Change-log walk into an array. */
struct walked {
    int n;
    uint64_t seq[64];
    enum tafel_op op[64];
    int64_t rev[64];
    uint32_t flags[64];
    char id[64][TAFEL_ID_MAX + 1];
    char last_doc[4096];
};

static bool change_cb(void *ctx, const struct tafel_change *c)
{
    struct walked *w = ctx;
    assert_true(w->n < 64);
    assert_int_equal(strlen(c->doc), c->doc_len);
    w->seq[w->n] = c->seq;
    w->op[w->n] = c->op;
    w->rev[w->n] = c->rev;
    w->flags[w->n] = c->flags;
    snprintf(w->id[w->n], sizeof(w->id[0]), "%s", c->id);
    snprintf(w->last_doc, sizeof(w->last_doc), "%s", c->doc);
    w->n++;
    return true;
}

static enum tafel_err walk(tafel_store *st, uint64_t since, uint64_t limit, struct walked *w,
                           uint64_t *last)
{
    memset(w, 0, sizeof(*w));
    return tafel_store_changes(st, since, limit, change_cb, w, last);
}

/* ---------------------------------------------------------- directories */

static void test_create_on_existing_is_exists(void **state)
{
    struct fx *f = *state;
    struct tafel_errinfo info;
    tafel_store *st = NULL;

    assert_int_equal(tafel_store_open(f->dir, NULL, true, &st, &info), TAFEL_E_EXISTS);
    assert_null(st);
    assert_non_null(strstr(info.message, f->dir));
    /* the failed create left the existing directory alone */
    tafel_store_close(f->st);
    f->st = open_store(f->dir, NULL, false);
}

static void test_open_without_data_is_not_found(void **state)
{
    struct fx *f = *state;
    struct tafel_errinfo info;
    tafel_store *st = NULL;
    char empty[128], missing[128];

    path_in(f, "empty", empty, sizeof(empty));
    path_in(f, "missing", missing, sizeof(missing));
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_int_equal(tafel_store_open(empty, NULL, false, &st, &info), TAFEL_E_NOT_FOUND);
    assert_non_null(strstr(info.message, empty));
    assert_int_equal(tafel_store_open(missing, NULL, false, &st, &info), TAFEL_E_NOT_FOUND);
    assert_null(st);
    /* an empty directory may be created into, and gets mode 0700 when made */
    st = open_store(empty, NULL, true);
    tafel_store_close(st);
    st = open_store(missing, NULL, true);
    tafel_store_close(st);
    struct stat sb;
    assert_int_equal(stat(missing, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
}

/* Write schema version @p v into meta with raw LMDB calls. */
static void raw_set_schema(const char *dir, uint64_t v)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned char buf[8];
    MDB_val k = {strlen("schema_version"), "schema_version"}, d = {8, buf};

    for (int i = 7; i >= 0; i--, v >>= 8)
        buf[i] = (unsigned char)v;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_foreign_schema_version_refused(void **state)
{
    struct fx *f = *state;
    struct tafel_errinfo info;
    tafel_store *st = NULL;

    tafel_store_close(f->st);
    f->st = NULL;
    raw_set_schema(f->dir, 7);
    assert_int_equal(tafel_store_open(f->dir, NULL, false, &st, &info), TAFEL_E_SCHEMA_VERSION);
    assert_null(st);
    assert_non_null(strstr(info.message, "schema version 7"));
    assert_non_null(strstr(info.message, "reads version 1"));
    assert_non_null(strstr(info.message, f->dir));
    raw_set_schema(f->dir, TAFEL_STORE_SCHEMA_VERSION);
    f->st = open_store(f->dir, NULL, false);
}

/* --------------------------------------------------------------- reopen */

static void test_survives_close_and_reopen(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    struct tafel_key_info k;
    json_t *all = json_string("*"), *doc = NULL;

    create(f->st, "opgave", NULL, "{\"titel\":\"Bos\"}", o);
    assert_int_equal(
        tafel_store_key_create(f->st, "beheerder", all, "lead", 0, "", NOW, secret, key_id),
        TAFEL_E_OK);
    assert_int_equal(tafel_store_seq(f->st), 1);
    tafel_store_close(f->st);
    f->st = open_store(f->dir, NULL, false);

    assert_int_equal(tafel_store_seq(f->st), 1);
    assert_int_equal(tafel_store_get(f->st, "opgave", o, &doc), TAFEL_E_OK);
    assert_string_equal(str_member(doc, "titel"), "Bos");
    assert_string_equal(str_member(doc, "opgave"), o);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_OK);
    assert_string_equal(k.key_id, key_id);
    tafel_key_info_free(&k);
    /* the next write continues the seq */
    create(f->st, "reflectie", o, "{}", key_id);
    assert_int_equal(tafel_store_seq(f->st), 2);
    json_decref(doc);
    json_decref(all);
}

/* ---------------------------------------------------------------- writes */

static void test_create_fills_common_fields(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    json_t *doc = NULL;

    create(f->st, "opgave", NULL, "{}", o);
    assert_int_equal(strlen(o), 12);
    assert_int_equal(strspn(o, "0123456789abcdefghjkmnpqrstvwxyz"), 12);
    /* common fields in the client's doc are ignored */
    create(f->st, "reflectie", o,
           "{\"id\":\"mine\",\"rev\":50,\"opgave\":\"x\",\"by\":\"eve\",\"tekst\":\"hoi\"}", r);
    assert_string_not_equal(r, o);
    assert_int_equal(tafel_store_get(f->st, "reflectie", r, &doc), TAFEL_E_OK);
    assert_string_equal(str_member(doc, "id"), r);
    assert_string_equal(str_member(doc, "kind"), "reflectie");
    assert_int_equal(int_member(doc, "rev"), 1);
    assert_string_equal(str_member(doc, "opgave"), o);
    assert_string_equal(str_member(doc, "by"), "u1");
    assert_string_equal(str_member(doc, "created_at"), "2026-01-01T00:00:00.000Z");
    assert_string_equal(str_member(doc, "updated_at"), "2026-01-01T00:00:00.000Z");
    assert_string_equal(str_member(doc, "tekst"), "hoi");
    json_decref(doc);
}

static void test_create_without_opgave_rejected(void **state)
{
    struct fx *f = *state;
    json_t *doc = js("{}");
    struct tafel_write w = op_put("reflectie", NULL, 0, doc, NULL);
    struct listed l;

    write1(f->st, &w, TAFEL_E_BAD_REQUEST);
    assert_string_equal(w.info.field, "opgave");
    assert_int_equal(w.seq, 0);
    assert_int_equal(tafel_store_seq(f->st), 0);
    assert_int_equal(list_count(f->st, NULL, NULL, &l), 0);
    json_decref(doc);
}

static void test_stale_rev_conflict_returns_current(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1];
    json_t *v2 = js("{\"titel\":\"twee\"}"), *v3 = js("{\"titel\":\"drie\"}");

    create(f->st, "opgave", NULL, "{\"titel\":\"een\"}", o);
    struct tafel_write w = op_put("opgave", o, 1, v2, NULL);
    write1(f->st, &w, TAFEL_E_OK);
    assert_int_equal(w.new_rev, 2);

    w = op_put("opgave", o, 1, v3, NULL);
    assert_int_equal(tafel_store_write(f->st, &w, 1, NOW), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_CONFLICT);
    assert_non_null(w.stored);
    assert_int_equal(int_member(w.stored, "rev"), 2);
    assert_string_equal(str_member(w.stored, "titel"), "twee");
    release(&w, 1);

    struct tafel_write d = {.op = TAFEL_OP_DELETE, .kind = "opgave", .id = o, .expected_rev = 1};
    assert_int_equal(tafel_store_write(f->st, &d, 1, NOW), TAFEL_E_OK);
    assert_int_equal(d.result, TAFEL_E_CONFLICT);
    assert_int_equal(int_member(d.stored, "rev"), 2);
    release(&d, 1);
    assert_int_equal(tafel_store_seq(f->st), 2);
    json_decref(v2);
    json_decref(v3);
}

struct hook_ctx {
    int calls;
};

/* Rejects documents with "bad"; otherwise fills "code" and sets a flag. */
static enum tafel_err check_hook(void *ctx, struct tafel_write *w, const json_t *current,
                                 json_t *proposed)
{
    struct hook_ctx *h = ctx;
    (void)current;
    h->calls++;
    if (proposed && json_object_get(proposed, "bad")) {
        tafel_errinfo_set(&w->info, TAFEL_E_FORBIDDEN, "bad", "no bad documents");
        return TAFEL_E_FORBIDDEN;
    }
    if (proposed)
        json_object_set_new(proposed, "code", json_string("XK42"));
    w->flags |= 0x4;
    return TAFEL_E_OK;
}

static void test_seq_gap_free_with_mixed_results(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    struct hook_ctx h = {0};
    json_t *good = js("{\"t\":1}"), *bad = js("{\"bad\":true}");
    struct listed l;
    struct walked wk;

    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{}", r); /* seq 2 */
    struct tafel_write ops[5] = {
        op_put("reflectie", NULL, 0, good, o), /* ok: seq 3 */
        op_put("reflectie", r, 7, good, o),    /* conflict */
        {.op = TAFEL_OP_PATCH, .kind = "reflectie", .id = "nothere", .doc = good},
        op_put("reflectie", NULL, 0, bad, o), /* rejected by the hook */
        op_put("reflectie", r, 1, good, o),   /* ok: seq 4 */
    };
    for (int i = 0; i < 5; i++) {
        ops[i].check = check_hook;
        ops[i].check_ctx = &h;
        ops[i].flags = 0x1;
    }
    ops[2].check = NULL;
    assert_int_equal(tafel_store_write(f->st, ops, 5, NOW), TAFEL_E_OK);
    enum tafel_err want[5] = {TAFEL_E_OK, TAFEL_E_CONFLICT, TAFEL_E_NOT_FOUND, TAFEL_E_FORBIDDEN,
                              TAFEL_E_OK};
    uint64_t want_seq[5] = {3, 0, 0, 0, 4};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ops[i].result, want[i]);
        assert_int_equal(ops[i].seq, want_seq[i]);
    }
    assert_int_equal(h.calls, 3); /* not for the conflict: decided before the hook */
    assert_string_equal(ops[3].info.message, "no bad documents");
    assert_null(ops[3].stored);
    assert_string_equal(str_member(ops[0].stored, "code"), "XK42");
    assert_int_equal(ops[0].flags, 0x5);
    assert_int_equal(ops[4].new_rev, 2);
    release(ops, 5);

    assert_int_equal(tafel_store_seq(f->st), 4);
    assert_int_equal(list_count(f->st, o, "reflectie", &l), 2); /* nothing of the rejected one */
    assert_null(strstr(l.text, "\"bad\""));
    assert_int_equal(walk(f->st, 2, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 2);
    assert_int_equal(wk.seq[0], 3);
    assert_int_equal(wk.seq[1], 4);
    assert_int_equal(wk.flags[0], 0x5);
    assert_string_equal(wk.id[1], r);

    /* the next batch continues without a gap */
    struct tafel_write next = op_put("reflectie", NULL, 0, good, o);
    write1(f->st, &next, TAFEL_E_OK);
    assert_int_equal(next.seq, 5);
    json_decref(good);
    json_decref(bad);
}

static void test_patch_merges_and_null_removes(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1];
    json_t *set = js("{\"b\":null,\"d\":\"nieuw\",\"rev\":99,\"id\":\"hack\",\"c\":{\"y\":2}}");
    json_t *doc = NULL;

    create(f->st, "opgave", NULL, "{\"a\":1,\"b\":2,\"c\":{\"x\":1}}", o);
    struct tafel_write w = {
        .op = TAFEL_OP_PATCH, .kind = "opgave", .id = o, .doc = set, .actor = "u2"};
    assert_int_equal(tafel_store_write(f->st, &w, 1, NOW + 1000), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_OK);
    release(&w, 1);
    assert_int_equal(tafel_store_get(f->st, "opgave", o, &doc), TAFEL_E_OK);
    assert_int_equal(int_member(doc, "a"), 1);
    assert_null(json_object_get(doc, "b"));
    assert_string_equal(str_member(doc, "d"), "nieuw");
    assert_int_equal(int_member(json_object_get(doc, "c"), "y"), 2);
    assert_null(json_object_get(json_object_get(doc, "c"), "x")); /* top-level merge */
    assert_int_equal(int_member(doc, "rev"), 2);
    assert_string_equal(str_member(doc, "id"), o);
    assert_string_equal(str_member(doc, "by"), "u2");
    assert_string_equal(str_member(doc, "created_at"), "2026-01-01T00:00:00.000Z");
    assert_string_equal(str_member(doc, "updated_at"), "2026-01-01T00:00:01.000Z");
    json_decref(doc);

    w.expected_rev = 1;
    write1(f->st, &w, TAFEL_E_CONFLICT);
    w.expected_rev = 2;
    write1(f->st, &w, TAFEL_E_OK);
    assert_int_equal(w.new_rev, 3);
    json_decref(set);
}

static void test_opgave_cannot_be_moved(void **state)
{
    struct fx *f = *state;
    char a[TAFEL_ID_MAX + 1], b[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    struct listed l;
    json_t *doc = NULL;

    create(f->st, "opgave", NULL, "{}", a);
    create(f->st, "opgave", NULL, "{}", b);
    create(f->st, "reflectie", a, "{}", r);
    doc = js("{}");
    json_object_set_new(doc, "opgave", json_string(b));
    struct tafel_write w = op_put("reflectie", r, 1, doc, b);
    write1(f->st, &w, TAFEL_E_OK);
    assert_int_equal(list_count(f->st, a, "reflectie", &l), 1);
    assert_non_null(strstr(l.text, r));
    assert_int_equal(list_count(f->st, b, "reflectie", &l), 0);
    json_decref(doc);
}

static void test_delete_then_get_not_found(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    json_t *doc = NULL;
    struct walked wk;
    struct listed l;
    uint64_t last = 0;

    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{\"tekst\":\"weg\"}", r);
    struct tafel_write d = {
        .op = TAFEL_OP_DELETE, .kind = "reflectie", .id = r, .expected_rev = 1, .actor = "u1"};
    write1(f->st, &d, TAFEL_E_OK);
    assert_int_equal(d.new_rev, 1);
    assert_int_equal(d.seq, 3);
    assert_int_equal(tafel_store_get(f->st, "reflectie", r, &doc), TAFEL_E_NOT_FOUND);
    assert_null(doc);
    assert_int_equal(list_count(f->st, o, NULL, &l), 1); /* only the opgave itself */

    assert_int_equal(walk(f->st, 2, 0, &wk, &last), TAFEL_E_OK);
    assert_int_equal(wk.n, 1);
    assert_int_equal(last, 3);
    assert_int_equal(wk.op[0], TAFEL_OP_DELETE);
    assert_int_equal(wk.rev[0], 1);
    assert_string_equal(wk.id[0], r);
    assert_non_null(strstr(wk.last_doc, "\"weg\"")); /* the last version */

    write1(f->st, &d, TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_seq(f->st), 3);
}

/* Writes while a read is in progress (and vice versa) from two threads. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stage; /* 1: writer inside its txn, 2: reader done */
    tafel_store *st;
    const char *id;
};

static enum tafel_err gate_hook(void *ctx, struct tafel_write *w, const json_t *cur, json_t *p)
{
    struct gate *g = ctx;
    (void)w, (void)cur, (void)p;
    pthread_mutex_lock(&g->mu);
    g->stage = 1;
    pthread_cond_broadcast(&g->cv);
    while (g->stage != 2)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
    return TAFEL_E_OK;
}

static void *gate_writer(void *arg)
{
    struct gate *g = arg;
    json_t *doc = json_pack("{s:i}", "v", 2);
    struct tafel_write w = op_put("opgave", g->id, 1, doc, NULL);
    w.check = gate_hook;
    w.check_ctx = g;
    tafel_store_write(g->st, &w, 1, NOW);
    release(&w, 1);
    json_decref(doc);
    return (void *)(intptr_t)w.result;
}

static void test_reads_run_during_write(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1];
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, f->st, o};
    pthread_t t;
    json_t *doc = NULL;
    void *res;

    create(f->st, "opgave", NULL, "{\"v\":1}", o);
    assert_int_equal(pthread_create(&t, NULL, gate_writer, &g), 0);
    pthread_mutex_lock(&g.mu);
    while (g.stage != 1)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    /* the writer holds its transaction open: reads see the last commit */
    assert_int_equal(tafel_store_get(f->st, "opgave", o, &doc), TAFEL_E_OK);
    assert_int_equal(int_member(doc, "v"), 1);
    json_decref(doc);
    pthread_mutex_lock(&g.mu);
    g.stage = 2;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(pthread_join(t, &res), 0);
    assert_int_equal((intptr_t)res, TAFEL_E_OK);
    assert_int_equal(tafel_store_get(f->st, "opgave", o, &doc), TAFEL_E_OK);
    assert_int_equal(int_member(doc, "v"), 2);
    json_decref(doc);
}

/* ---------------------------------------------------------------- lists */

static void test_list_by_opgave_and_kind(void **state)
{
    struct fx *f = *state;
    char a[TAFEL_ID_MAX + 1], b[TAFEL_ID_MAX + 1], id[TAFEL_ID_MAX + 1];
    struct listed l;
    uint64_t seq = 0;

    create(f->st, "opgave", NULL, "{}", a);
    create(f->st, "opgave", NULL, "{}", b);
    create(f->st, "reflectie", a, "{}", id);
    create(f->st, "reflectie", a, "{}", id);
    create(f->st, "reflectiex", a, "{}", id); /* a kind that "reflectie" is a prefix of */
    create(f->st, "meting", a, "{}", id);
    create(f->st, "reflectie", b, "{}", id);

    assert_int_equal(list_count(f->st, a, NULL, &l), 5);
    assert_null(strstr(l.text, b));
    assert_int_equal(list_count(f->st, a, "reflectie", &l), 2);
    assert_null(strstr(l.text, "reflectiex"));
    assert_int_equal(list_count(f->st, b, NULL, &l), 2);
    assert_int_equal(list_count(f->st, b, "meting", &l), 0);
    assert_int_equal(list_count(f->st, NULL, "reflectie", &l), 3);
    assert_int_equal(list_count(f->st, NULL, "opgave", &l), 2);
    assert_int_equal(list_count(f->st, NULL, NULL, &l), 7);

    memset(&l, 0, sizeof(l));
    l.stop_after = 2;
    assert_int_equal(tafel_store_list(f->st, a, NULL, list_cb, &l, &seq), TAFEL_E_OK);
    assert_int_equal(l.count, 2);
    assert_int_equal(seq, 7);
}

/* ----------------------------------------------------------- change log */

static void test_change_log_walk_limit_and_trim(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.retain_changes = 5};
    char o[TAFEL_ID_MAX + 1], id[TAFEL_ID_MAX + 1];
    struct walked wk;
    uint64_t last = 0;

    /* without retention everything stays */
    create(f->st, "opgave", NULL, "{}", o);
    assert_int_equal(walk(f->st, 0, 0, &wk, &last), TAFEL_E_OK);
    assert_int_equal(wk.n, 1);

    use_new_store(f, "retained", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    for (int i = 0; i < 11; i++)
        create(f->st, "reflectie", o, "{}", id); /* seq 12 */
    assert_int_equal(walk(f->st, 0, 0, &wk, &last), TAFEL_E_TRIMMED);
    assert_int_equal(wk.n, 0);
    assert_int_equal(walk(f->st, 6, 0, &wk, &last), TAFEL_E_TRIMMED);
    assert_int_equal(walk(f->st, 7, 0, &wk, &last), TAFEL_E_OK);
    assert_int_equal(wk.n, 5);
    assert_int_equal(wk.seq[0], 8);
    assert_int_equal(last, 12);
    assert_string_equal(wk.id[4], id);
    assert_int_equal(walk(f->st, 7, 2, &wk, &last), TAFEL_E_OK);
    assert_int_equal(wk.n, 2);
    assert_int_equal(last, 9);
    assert_int_equal(walk(f->st, 12, 0, &wk, &last), TAFEL_E_OK);
    assert_int_equal(wk.n, 0);
    assert_int_equal(last, 12);
    assert_int_equal(walk(f->st, 13, 0, &wk, &last), TAFEL_E_TRIMMED);
}

static bool change_fields_cb(void *ctx, const struct tafel_change *c)
{
    json_t **out = ctx;
    assert_string_equal(c->kind, "reflectie");
    assert_string_equal(c->actor, "u1");
    assert_int_equal(c->at_ms, NOW);
    assert_int_equal(c->op, TAFEL_OP_PUT);
    *out = json_loadb(c->doc, c->doc_len, 0, NULL);
    assert_non_null(*out);
    assert_string_equal(c->opgave, str_member(*out, "opgave"));
    assert_string_equal(c->id, str_member(*out, "id"));
    return false;
}

static void test_change_record_matches_document(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    json_t *from_log = NULL, *doc = NULL;

    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{\"tekst\":\"é ok\",\"n\":[1,2]}", r);
    assert_int_equal(tafel_store_changes(f->st, 1, 0, change_fields_cb, &from_log, NULL),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_get(f->st, "reflectie", r, &doc), TAFEL_E_OK);
    assert_true(json_equal(from_log, doc));
    json_decref(from_log);
    json_decref(doc);
}

/* ------------------------------------------------------------ map growth */

/* Write @p n docs of about 2 KB in batches of @p per; returns the first
 * failing batch's code (TAFEL_E_OK if none). */
static enum tafel_err fill(tafel_store *st, const char *opgave, int n, int per)
{
    char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    json_t *doc = json_pack("{s:s}", "blob", big);
    struct tafel_write ops[16];
    enum tafel_err err = TAFEL_E_OK;

    for (int done = 0; done < n && err == TAFEL_E_OK; done += per) {
        for (int i = 0; i < per; i++)
            ops[i] = op_put("meting", NULL, 0, doc, opgave);
        err = tafel_store_write(st, ops, (size_t)per, NOW);
        for (int i = 0; i < per; i++) {
            assert_int_equal(ops[i].result, err);
            if (err != TAFEL_E_OK)
                assert_null(ops[i].stored);
        }
        release(ops, (size_t)per);
    }
    json_decref(doc);
    return err;
}

static void test_map_grows(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.map_size = 256 << 10, .map_size_max = 64 << 20};
    char o[TAFEL_ID_MAX + 1];

    use_new_store(f, "small", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    assert_int_equal(tafel_store_map_size(f->st), 256 << 10);
    assert_int_equal(fill(f->st, o, 400, 10), TAFEL_E_OK);
    assert_true(tafel_store_map_size(f->st) > (256 << 10));
    assert_int_equal(tafel_store_seq(f->st), 401);
    assert_int_equal(count_docs(f->st, o, "meting"), 400);
    /* the grown size is kept across a reopen */
    size_t grown = tafel_store_map_size(f->st);
    tafel_store_close(f->st);
    f->st = open_store(f->dir, &opt, false);
    assert_int_equal(tafel_store_map_size(f->st), grown);
}

/* A reader thread listing and walking the log while the writer grows the map. */
struct busy_reader {
    tafel_store *st;
    const char *opgave;
    atomic_bool stop;
    int rounds, failures;
};

static void *busy_read(void *arg)
{
    struct busy_reader *r = arg;
    while (!atomic_load(&r->stop)) {
        int n = 0;
        uint64_t seq = 0;
        if (tafel_store_list(r->st, r->opgave, NULL, count_cb, &n, &seq) != TAFEL_E_OK ||
            (uint64_t)n != seq) /* a consistent view: one doc per change so far */
            r->failures++;
        r->rounds++;
    }
    return NULL;
}

static void test_map_grows_under_concurrent_reads(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.map_size = 256 << 10, .map_size_max = 64 << 20};
    char o[TAFEL_ID_MAX + 1];
    pthread_t t;

    use_new_store(f, "busy", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    struct busy_reader r = {.st = f->st, .opgave = o};
    assert_int_equal(pthread_create(&t, NULL, busy_read, &r), 0);
    assert_int_equal(fill(f->st, o, 300, 5), TAFEL_E_OK);
    atomic_store(&r.stop, true);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_true(tafel_store_map_size(f->st) > (256 << 10));
    assert_true(r.rounds > 0);
    assert_int_equal(r.failures, 0);
    assert_int_equal(count_docs(f->st, o, NULL), 301);
}

static void test_map_ceiling_is_map_full_and_atomic(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.map_size = 256 << 10, .map_size_max = 512 << 10};
    char o[TAFEL_ID_MAX + 1];
    struct walked wk;

    use_new_store(f, "capped", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    /* batches of 8 until the ceiling stops one */
    uint64_t before = 0;
    enum tafel_err err = TAFEL_E_OK;
    for (int i = 0; i < 200 && err == TAFEL_E_OK; i++) {
        before = tafel_store_seq(f->st);
        err = fill(f->st, o, 8, 8);
    }
    assert_int_equal(err, TAFEL_E_MAP_FULL);
    assert_int_equal(tafel_store_map_size(f->st), 512 << 10);
    /* nothing of the failed batch: seq, documents and log as before it */
    assert_int_equal(tafel_store_seq(f->st), before);
    assert_int_equal(count_docs(f->st, o, "meting"), (int)before - 1);
    assert_int_equal(walk(f->st, before, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 0);
}

/* --------------------------------------------------------------- backup */

static void test_backup_opens_identical(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], id[TAFEL_ID_MAX + 1], bdir[128];
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    struct tafel_errinfo info;
    struct tafel_key_info k;
    static struct listed live, copy;
    json_t *all = json_string("*");

    create(f->st, "opgave", NULL, "{\"titel\":\"Bos\"}", o);
    for (int i = 0; i < 5; i++)
        create(f->st, "reflectie", o, "{\"t\":\"abc\"}", id);
    assert_int_equal(tafel_store_key_create(f->st, "lid", all, "", 0, "u1", NOW, secret, key_id),
                     TAFEL_E_OK);
    path_in(f, "backup", bdir, sizeof(bdir));
    assert_int_equal(tafel_store_backup(f->st, bdir, &info), TAFEL_E_OK);
    /* a second backup into the same, now non-empty, directory is refused */
    assert_int_equal(tafel_store_backup(f->st, bdir, &info), TAFEL_E_EXISTS);
    create(f->st, "reflectie", o, "{}", id); /* after the backup: not in it */

    tafel_store *b = open_store(bdir, NULL, false);
    assert_int_equal(tafel_store_seq(b), 6);
    assert_int_equal(tafel_store_seq(f->st), 7);
    list_count(b, NULL, NULL, &copy);
    struct tafel_write d = {
        .op = TAFEL_OP_DELETE, .kind = "reflectie", .id = id, .expected_rev = 1};
    write1(f->st, &d, TAFEL_E_OK);
    list_count(f->st, NULL, NULL, &live);
    assert_int_equal(copy.count, 6);
    assert_string_equal(copy.text, live.text);
    assert_int_equal(tafel_store_key_verify(b, secret, NOW, &k), TAFEL_E_OK);
    tafel_key_info_free(&k);
    tafel_store_close(b);
    json_decref(all);
}

/* ----------------------------------------------------------- access keys */

static void test_key_verify(void **state)
{
    struct fx *f = *state;
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1], bad[TAFEL_KEY_STRLEN + 8];
    struct tafel_key_info k;
    json_t *opg = js("[\"o1\",\"o2\"]");

    assert_int_equal(
        tafel_store_key_create(f->st, "opgaveleider", opg, "Anna", 0, "u1", NOW, secret, key_id),
        TAFEL_E_OK);
    assert_int_equal(strlen(secret), TAFEL_KEY_STRLEN);
    assert_memory_equal(secret, "tafel_", 6);
    assert_int_equal(key_id[0], 'k');
    assert_int_equal(strlen(key_id), 11);

    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_OK);
    assert_string_equal(k.key_id, key_id);
    assert_string_equal(k.role, "opgaveleider");
    assert_string_equal(k.label, "Anna");
    assert_string_equal(k.created_by, "u1");
    assert_int_equal(k.created_ms, NOW);
    assert_true(json_equal(k.opgaven, opg));
    tafel_key_info_free(&k);

    /* same shape, another secret */
    strcpy(bad, secret);
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    assert_int_equal(tafel_store_key_verify(f->st, bad, NOW, &k), TAFEL_E_UNAUTHORIZED);
    assert_null(k.opgaven);
    /* malformed: prefix, length, alphabet */
    strcpy(bad, secret);
    bad[0] = 'T';
    assert_int_equal(tafel_store_key_verify(f->st, bad, NOW, &k), TAFEL_E_UNAUTHORIZED);
    strcpy(bad, secret);
    bad[TAFEL_KEY_STRLEN - 1] = '\0';
    assert_int_equal(tafel_store_key_verify(f->st, bad, NOW, &k), TAFEL_E_UNAUTHORIZED);
    snprintf(bad, sizeof(bad), "%sA", secret);
    assert_int_equal(tafel_store_key_verify(f->st, bad, NOW, &k), TAFEL_E_UNAUTHORIZED);
    strcpy(bad, secret);
    bad[20] = '+';
    assert_int_equal(tafel_store_key_verify(f->st, bad, NOW, &k), TAFEL_E_UNAUTHORIZED);
    assert_int_equal(tafel_store_key_verify(f->st, "", NOW, &k), TAFEL_E_UNAUTHORIZED);
    json_decref(opg);
}

static void test_key_expired_and_revoked(void **state)
{
    struct fx *f = *state;
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    struct tafel_key_info k;
    json_t *all = json_string("*");

    assert_int_equal(
        tafel_store_key_create(f->st, "lid", all, "", NOW + 1000, "", NOW, secret, key_id),
        TAFEL_E_OK);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW + 999, &k), TAFEL_E_OK);
    tafel_key_info_free(&k);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW + 1000, &k), TAFEL_E_KEY_EXPIRED);

    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u9", NOW + 10), TAFEL_E_OK);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_KEY_REVOKED);
    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u9", NOW + 20), TAFEL_E_OK);
    assert_int_equal(tafel_store_key_get(f->st, key_id, &k), TAFEL_E_OK);
    assert_int_equal(k.revoked_ms, NOW + 10); /* idempotent: the first revocation stands */
    tafel_key_info_free(&k);
    assert_int_equal(tafel_store_key_revoke(f->st, "knothere", "u9", NOW), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_key_get(f->st, "knothere", &k), TAFEL_E_NOT_FOUND);
    json_decref(all);
}

struct key_seen {
    int n;
    char ids[4][TAFEL_ID_MAX + 1];
    int64_t revoked[4];
};

static bool key_cb(void *ctx, const struct tafel_key_info *k)
{
    struct key_seen *s = ctx;
    assert_true(s->n < 4);
    strcpy(s->ids[s->n], k->key_id);
    s->revoked[s->n] = k->revoked_ms;
    s->n++;
    return true;
}

static void test_key_list(void **state)
{
    struct fx *f = *state;
    char secret[TAFEL_KEY_STRLEN + 1], id[3][TAFEL_ID_MAX + 1];
    struct key_seen seen = {0};
    json_t *all = json_string("*");

    for (int i = 0; i < 3; i++)
        assert_int_equal(tafel_store_key_create(f->st, "lid", all, "", 0, "", NOW, secret, id[i]),
                         TAFEL_E_OK);
    assert_int_equal(tafel_store_key_revoke(f->st, id[1], "u1", NOW), TAFEL_E_OK);
    assert_int_equal(tafel_store_key_list(f->st, key_cb, &seen), TAFEL_E_OK);
    assert_int_equal(seen.n, 3);
    for (int i = 0; i < 3; i++) {
        if (i > 0)
            assert_true(strcmp(seen.ids[i - 1], seen.ids[i]) < 0);
        bool is_revoked = strcmp(seen.ids[i], id[1]) == 0;
        assert_int_equal(seen.revoked[i] != 0, is_revoked);
    }
    json_decref(all);
}

/* The raw secret (text or bytes) is nowhere in the data file. */
static bool file_contains(const char *path, const void *needle, size_t len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    fclose(fp);
    bool found = memmem(buf, (size_t)size, needle, len) != NULL;
    free(buf);
    return found;
}

static void test_key_secret_not_stored(void **state)
{
    struct fx *f = *state;
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1], file[160];
    json_t *all = json_string("*");

    assert_int_equal(tafel_store_key_create(f->st, "lid", all, "", 0, "", NOW, secret, key_id),
                     TAFEL_E_OK);
    tafel_store_close(f->st);
    snprintf(file, sizeof(file), "%s/data.mdb", f->dir);
    assert_true(file_contains(file, key_id, strlen(key_id))); /* the check can see records */
    assert_false(file_contains(file, secret + 6, TAFEL_KEY_STRLEN - 6));
    assert_false(file_contains(file, secret + 6, 12));
    f->st = open_store(f->dir, NULL, false);
    json_decref(all);
}

/* ----------------------------------------------------------------- audit */

struct audit_seen {
    int n;
    uint64_t num[8];
    json_t *rec[8];
};

static bool audit_cb(void *ctx, uint64_t n, const char *json, size_t len)
{
    struct audit_seen *s = ctx;
    assert_true(s->n < 8);
    s->num[s->n] = n;
    s->rec[s->n] = json_loadb(json, len, 0, NULL);
    assert_non_null(s->rec[s->n]);
    assert_int_equal(int_member(s->rec[s->n], "n"), (int64_t)n);
    s->n++;
    return true;
}

static void audit_free(struct audit_seen *s)
{
    for (int i = 0; i < s->n; i++)
        json_decref(s->rec[i]);
    memset(s, 0, sizeof(*s));
}

static void test_audit_append_and_list(void **state)
{
    struct fx *f = *state;
    struct audit_seen s = {0};
    json_t *detail = js("{\"why\":\"test\"}");

    assert_int_equal(tafel_store_audit_append(f->st, "u1", "login", "", NULL, NOW), TAFEL_E_OK);
    assert_int_equal(tafel_store_audit_append(f->st, "u2", "export", "opgave/x", detail, NOW + 1),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_audit_append(f->st, "u3", "logout", "", NULL, NOW), TAFEL_E_OK);
    assert_int_equal(tafel_store_seq(f->st), 0); /* audit entries are not changes */

    assert_int_equal(tafel_store_audit_list(f->st, 0, 0, audit_cb, &s), TAFEL_E_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.num[2], 3);
    audit_free(&s);
    assert_int_equal(tafel_store_audit_list(f->st, 1, 1, audit_cb, &s), TAFEL_E_OK);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.num[0], 2);
    assert_string_equal(str_member(s.rec[0], "actor"), "u2");
    assert_string_equal(str_member(s.rec[0], "action"), "export");
    assert_string_equal(str_member(s.rec[0], "target"), "opgave/x");
    assert_string_equal(str_member(s.rec[0], "at"), "2026-01-01T00:00:00.001Z");
    assert_true(json_equal(json_object_get(s.rec[0], "detail"), detail));
    audit_free(&s);
    json_decref(detail);
}

static void test_audit_in_write_and_key_transactions(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    char target[80];
    struct audit_seen s = {0};
    json_t *doc = js("{}"), *opg = js("[\"o1\"]");

    struct tafel_write w = op_put("opgave", NULL, 0, doc, NULL);
    w.audit_action = "opgave.create";
    write1(f->st, &w, TAFEL_E_OK);
    strcpy(o, w.new_id);
    struct tafel_write bad = op_put("opgave", o, 5, doc, NULL); /* conflict: no audit */
    bad.audit_action = "opgave.update";
    write1(f->st, &bad, TAFEL_E_CONFLICT);
    assert_int_equal(
        tafel_store_key_create(f->st, "lid", opg, "Bram", 0, "u1", NOW, secret, key_id),
        TAFEL_E_OK);
    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u2", NOW), TAFEL_E_OK);

    assert_int_equal(tafel_store_audit_list(f->st, 0, 0, audit_cb, &s), TAFEL_E_OK);
    assert_int_equal(s.n, 3);
    snprintf(target, sizeof(target), "opgave/%s", o);
    assert_string_equal(str_member(s.rec[0], "action"), "opgave.create");
    assert_string_equal(str_member(s.rec[0], "target"), target);
    assert_int_equal(int_member(json_object_get(s.rec[0], "detail"), "rev"), 1);
    const char *actions[] = {"key.create", "key.revoke"};
    const char *actors[] = {"u1", "u2"};
    for (int i = 1; i < 3; i++) {
        json_t *detail = json_object_get(s.rec[i], "detail");
        assert_string_equal(str_member(s.rec[i], "action"), actions[i - 1]);
        assert_string_equal(str_member(s.rec[i], "actor"), actors[i - 1]);
        assert_string_equal(str_member(s.rec[i], "target"), key_id);
        assert_string_equal(str_member(detail, "role"), "lid");
        assert_string_equal(str_member(detail, "label"), "Bram");
        assert_true(json_equal(json_object_get(detail, "opgaven"), opg));
        char *text = json_dumps(s.rec[i], 0);
        assert_null(strstr(text, secret + 6));
        free(text);
    }
    audit_free(&s);
    json_decref(doc);
    json_decref(opg);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_create_on_existing_is_exists),
        T(test_open_without_data_is_not_found),
        T(test_foreign_schema_version_refused),
        T(test_survives_close_and_reopen),
        T(test_create_fills_common_fields),
        T(test_create_without_opgave_rejected),
        T(test_stale_rev_conflict_returns_current),
        T(test_seq_gap_free_with_mixed_results),
        T(test_patch_merges_and_null_removes),
        T(test_opgave_cannot_be_moved),
        T(test_delete_then_get_not_found),
        T(test_reads_run_during_write),
        T(test_list_by_opgave_and_kind),
        T(test_change_log_walk_limit_and_trim),
        T(test_change_record_matches_document),
        T(test_map_grows),
        T(test_map_grows_under_concurrent_reads),
        T(test_map_ceiling_is_map_full_and_atomic),
        T(test_backup_opens_identical),
        T(test_key_verify),
        T(test_key_expired_and_revoked),
        T(test_key_list),
        T(test_key_secret_not_stored),
        T(test_audit_append_and_list),
        T(test_audit_in_write_and_key_transactions),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
