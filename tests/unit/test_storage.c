/*
 * test_storage.c - storage/ on real LMDB in a temporary directory: documents,
 * the batch's per-op results and gap-free seq, the change log and its
 * retention, stripped history, marks, the write's key check, map growth,
 * backups and data ids, schema versions and older directories, the
 * directory's lock and compaction, access keys (cascading revocation, label
 * limits), devices and audit.
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

#include <dirent.h>
#include <ftw.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    bool no_doc[64]; /* doc NULL: a delete or stripped */
    char last_doc[16384];
};

static bool change_cb(void *ctx, const struct tafel_change *c)
{
    struct walked *w = ctx;
    assert_true(w->n < 64);
    if (c->doc)
        assert_int_equal(strlen(c->doc), c->doc_len);
    else
        assert_int_equal(c->doc_len, 0);
    w->seq[w->n] = c->seq;
    w->op[w->n] = c->op;
    w->rev[w->n] = c->rev;
    w->flags[w->n] = c->flags;
    w->no_doc[w->n] = c->doc == NULL;
    snprintf(w->id[w->n], sizeof(w->id[0]), "%s", c->id);
    snprintf(w->last_doc, sizeof(w->last_doc), "%s", c->doc ? c->doc : "");
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

    /* While it is open, its lock refuses the create first. */
    assert_int_equal(tafel_store_open(f->dir, NULL, true, &st, &info), TAFEL_E_BUSY);
    tafel_store_close(f->st);
    f->st = NULL;
    assert_int_equal(tafel_store_open(f->dir, NULL, true, &st, &info), TAFEL_E_EXISTS);
    assert_null(st);
    assert_non_null(strstr(info.message, f->dir));
    /* the failed create left the existing directory alone */
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
    assert_true(wk.no_doc[0]); /* a delete holds no content, not even the last version */

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

    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u9", NOW + 10, false, NULL),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_KEY_REVOKED);
    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u9", NOW + 20, false, NULL),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_key_get(f->st, key_id, &k), TAFEL_E_OK);
    assert_int_equal(k.revoked_ms, NOW + 10); /* idempotent: the first revocation stands */
    tafel_key_info_free(&k);
    assert_int_equal(tafel_store_key_revoke(f->st, "knothere", "u9", NOW, false, NULL),
                     TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_key_get(f->st, "knothere", &k), TAFEL_E_NOT_FOUND);
    json_decref(all);
}

/* A key revoked (or expired) cannot create or revoke keys any more, even
 * when its job was queued before the revocation committed: checked inside
 * the transaction. */
static void test_key_admin_by_a_revoked_key(void **state)
{
    struct fx *f = *state;
    char secret[TAFEL_KEY_STRLEN + 1], lead[TAFEL_ID_MAX + 1], other[TAFEL_ID_MAX + 1],
        child[TAFEL_ID_MAX + 1], late[TAFEL_ID_MAX + 1];
    struct tafel_key_info k;
    json_t *all = json_string("*");

    assert_int_equal(tafel_store_key_create(f->st, "opgaveleider", all, "Lead", NOW + 5000, "", NOW,
                                            secret, lead),
                     TAFEL_E_OK);
    assert_int_equal(
        tafel_store_key_create(f->st, "partner", all, "Other", 0, "", NOW, secret, other),
        TAFEL_E_OK);
    assert_int_equal(
        tafel_store_key_create(f->st, "partner", all, "Child", 0, lead, NOW, secret, child),
        TAFEL_E_OK);
    /* expired: refused */
    assert_int_equal(
        tafel_store_key_create(f->st, "partner", all, "Late", 0, lead, NOW + 5000, secret, late),
        TAFEL_E_KEY_EXPIRED);
    assert_int_equal(tafel_store_key_revoke(f->st, lead, "", NOW + 10, false, NULL), TAFEL_E_OK);
    assert_int_equal(
        tafel_store_key_create(f->st, "partner", all, "Late", 0, lead, NOW + 20, secret, late),
        TAFEL_E_KEY_REVOKED);
    assert_int_equal(tafel_store_key_revoke(f->st, other, lead, NOW + 20, false, NULL),
                     TAFEL_E_KEY_REVOKED);
    assert_int_equal(tafel_store_key_get(f->st, other, &k), TAFEL_E_OK);
    assert_int_equal(k.revoked_ms, 0); /* untouched */
    tafel_key_info_free(&k);
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
    assert_int_equal(tafel_store_key_revoke(f->st, id[1], "u1", NOW, false, NULL), TAFEL_E_OK);
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
    assert_int_equal(tafel_store_key_revoke(f->st, key_id, "u2", NOW, false, NULL), TAFEL_E_OK);

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

/* ------------------------------------------------- raw LMDB, for checks */

/* Open @p dir with LMDB alone (the store must be closed: one process may
 * not have an environment open twice). */
static MDB_env *raw_open(const char *dir)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    return env;
}

/* Entries of named database @p name, or -1 when there is no such database. */
static long raw_count(const char *dir, const char *name)
{
    MDB_env *env = raw_open(dir);
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat ms;
    long n = -1;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    if (mdb_dbi_open(txn, name, 0, &dbi) == 0) {
        assert_int_equal(mdb_stat(txn, dbi, &ms), 0);
        n = (long)ms.ms_entries;
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return n;
}

/* Close the fixture's store, count @p name raw, reopen. */
static long count_closed(struct fx *f, const char *name)
{
    tafel_store_close(f->st);
    long n = raw_count(f->dir, name);
    f->st = open_store(f->dir, NULL, false);
    return n;
}

static void patch_doc(tafel_store *st, const char *kind, const char *id, const char *set_text,
                      bool redact)
{
    json_t *set = js(set_text);
    struct tafel_write w = {.op = TAFEL_OP_PATCH,
                            .kind = kind,
                            .id = id,
                            .doc = set,
                            .actor = "u1",
                            .redact_history = redact};
    write1(st, &w, TAFEL_E_OK);
    json_decref(set);
}

static void delete_doc(tafel_store *st, const char *kind, const char *id, int64_t rev)
{
    struct tafel_write d = {
        .op = TAFEL_OP_DELETE, .kind = kind, .id = id, .expected_rev = rev, .actor = "u1"};
    write1(st, &d, TAFEL_E_OK);
}

/* Of the walk @p wk: how many entries of document @p id there are and how
 * many of those have no content. */
static void entries_of(const struct walked *wk, const char *id, int *total, int *bare)
{
    *total = *bare = 0;
    for (int i = 0; i < wk->n; i++) {
        if (strcmp(wk->id[i], id) == 0) {
            ++*total;
            *bare += wk->no_doc[i];
        }
    }
}

/* A JSON document with a text member of about @p size bytes holding @p marker. */
static json_t *doc_with(const char *marker, size_t size)
{
    char *text = malloc(size + 1);
    size_t ml = strlen(marker);
    for (size_t i = 0; i < size; i++)
        text[i] = i % (ml + 1) == ml ? ' ' : marker[i % (ml + 1)];
    text[size] = '\0';
    json_t *doc = json_pack("{s:s}", "tekst", text);
    free(text);
    return doc;
}

static void create_doc(tafel_store *st, const char *kind, const char *opgave, json_t *doc, char *id)
{
    struct tafel_write w = op_put(kind, NULL, 0, doc, opgave);
    write1(st, &w, TAFEL_E_OK);
    strcpy(id, w.new_id);
    json_decref(doc);
}

/* -------------------------------------------------- stripped history */

static void test_delete_strips_history(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], small[TAFEL_ID_MAX + 1], mid[TAFEL_ID_MAX + 1];
    char big[TAFEL_ID_MAX + 1], keep[TAFEL_ID_MAX + 1], bdir[128], file[160];
    struct tafel_errinfo info;
    struct walked wk;
    int total, bare;

    create(f->st, "opgave", NULL, "{}", o);
    /* Inline values, a one-page overflow value and a multi-page one. */
    create_doc(f->st, "reflectie", o, doc_with("GEHEIM-klein", 40), small);
    patch_doc(f->st, "reflectie", small, "{\"tekst\":\"GEHEIM-klein-twee\"}", false);
    create_doc(f->st, "reflectie", o, doc_with("GEHEIM-midden", 3000), mid);
    create_doc(f->st, "reflectie", o, doc_with("GEHEIM-groot", 12000), big);
    patch_doc(f->st, "reflectie", big, "{\"extra\":1}", false);
    create_doc(f->st, "reflectie", o, doc_with("ZICHTBAAR-blijft", 3000), keep);
    delete_doc(f->st, "reflectie", small, 2);
    delete_doc(f->st, "reflectie", mid, 1);
    delete_doc(f->st, "reflectie", big, 2);

    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 10);
    entries_of(&wk, small, &total, &bare);
    assert_int_equal(total, 3);
    assert_int_equal(bare, 3);
    entries_of(&wk, mid, &total, &bare);
    assert_int_equal(bare, total);
    entries_of(&wk, big, &total, &bare);
    assert_int_equal(total, 3);
    assert_int_equal(bare, 3);
    entries_of(&wk, keep, &total, &bare);
    assert_int_equal(total, 1);
    assert_int_equal(bare, 0);
    /* What a stripped entry keeps: seq, op, id, rev. */
    assert_int_equal(wk.seq[1], 2);
    assert_string_equal(wk.id[1], small);
    assert_int_equal(wk.op[1], TAFEL_OP_PUT);
    assert_int_equal(wk.rev[1], 1);
    assert_int_equal(wk.op[9], TAFEL_OP_DELETE);
    assert_int_equal(wk.rev[9], 2);

    /* Churn: documents of one or two pages written, deleted, replaced. The
     * live file keeps freed pages (and LMDB writes whole pages from buffers
     * it reuses), so their bytes linger there; a backup must not have them.
     * (A compacting mdb_env_copy2() here copies some along.) */
    char ids[50][TAFEL_ID_MAX + 1];
    for (int i = 0; i < 50; i++)
        create_doc(
            f->st, "reflectie", o,
            doc_with(i % 2 ? "GEHEIM-churn" : "ZICHTBAAR-churn", 1000 + (size_t)i * 37 % 3500),
            ids[i]);
    for (int i = 1; i < 50; i += 2)
        delete_doc(f->st, "reflectie", ids[i], 1);
    for (int i = 0; i < 50; i += 2) {
        json_t *doc = doc_with("ZICHTBAAR-nieuw", 2100 + (size_t)i * 53 % 1900);
        struct tafel_write w = op_put("reflectie", ids[i], 1, doc, NULL);
        write1(f->st, &w, TAFEL_E_OK);
        json_decref(doc);
    }

    /* No byte of the deleted text in a backup; the living text is there. */
    path_in(f, "backup", bdir, sizeof(bdir));
    assert_int_equal(tafel_store_backup(f->st, bdir, &info), TAFEL_E_OK);
    snprintf(file, sizeof(file), "%s/data.mdb", bdir);
    assert_true(file_contains(file, "ZICHTBAAR-blijft", 16));
    assert_true(file_contains(file, "ZICHTBAAR-nieuw", 15));
    assert_false(file_contains(file, "GEHEIM", 6));
    /* nor index entries of it: the opgave, keep, and 25 documents twice */
    assert_int_equal(raw_count(bdir, "doc_changes"), 52);
}

/* Hides a document ("hidden": true in the proposal) and then asks for its
 * history to be stripped: decided inside the transaction, after the hook
 * has seen the document. */
static enum tafel_err hide_hook(void *ctx, struct tafel_write *w, const json_t *current,
                                json_t *proposed)
{
    int *calls = ctx;
    ++*calls;
    assert_false(w->redact_history); /* the caller's value, also on a retry */
    if (proposed && json_is_true(json_object_get(proposed, "hidden")) &&
        !(current && json_is_true(json_object_get(current, "hidden"))))
        w->redact_history = true;
    return TAFEL_E_OK;
}

static void test_redact_history_from_hook(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1], other[TAFEL_ID_MAX + 1];
    struct walked wk;
    int calls = 0;
    json_t *hide = js("{\"hidden\":true}");

    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{\"tekst\":\"GEHEIM-een\"}", r);         /* 2 */
    create(f->st, "reflectie", o, "{\"tekst\":\"ander\"}", other);          /* 3 */
    patch_doc(f->st, "reflectie", r, "{\"tekst\":\"GEHEIM-twee\"}", false); /* 4 */
    struct tafel_write w = {.op = TAFEL_OP_PATCH,
                            .kind = "reflectie",
                            .id = r,
                            .doc = hide,
                            .actor = "m1",
                            .check = hide_hook,
                            .check_ctx = &calls};
    write1(f->st, &w, TAFEL_E_OK); /* 5 */
    assert_int_equal(calls, 1);
    assert_true(w.redact_history); /* the hook's decision is what the store applied */

    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 5);
    assert_true(wk.no_doc[1]);  /* r, rev 1 */
    assert_false(wk.no_doc[2]); /* other */
    assert_true(wk.no_doc[3]);  /* r, rev 2 */
    assert_false(wk.no_doc[4]); /* r hidden: its own entry keeps its content */
    assert_non_null(strstr(wk.last_doc, "GEHEIM-twee"));
    assert_int_equal(wk.rev[3], 2);

    /* The hook decides per write: a later change while hidden strips nothing. */
    json_t *set = js("{\"pinned\":true}");
    w.doc = set;
    w.redact_history = false;
    write1(f->st, &w, TAFEL_E_OK); /* 6 */
    assert_false(w.redact_history);
    assert_int_equal(walk(f->st, 4, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 2);
    assert_false(wk.no_doc[0]);
    assert_false(wk.no_doc[1]);
    /* The caller may ask for it too, without a hook; create has nothing earlier. */
    patch_doc(f->st, "reflectie", r, "{\"pinned\":false}", true); /* 7 */
    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 7);
    for (int i = 0; i < 6; i++)
        assert_int_equal(wk.no_doc[i], strcmp(wk.id[i], r) == 0);
    assert_false(wk.no_doc[6]);
    /* Only r's last entry and the other two documents' are still indexed. */
    assert_int_equal(count_closed(f, "doc_changes"), 3);
    json_decref(hide);
    json_decref(set);
}

static void test_doc_changes_trimmed_with_log(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.retain_changes = 4};
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1];
    struct walked wk;

    use_new_store(f, "retained", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{\"tekst\":\"een\"}", r);
    for (int i = 0; i < 8; i++)
        patch_doc(f->st, "reflectie", r, "{\"n\":1}", false); /* seq 10 */
    tafel_store_close(f->st);
    assert_int_equal(raw_count(f->dir, "changes"), 4);
    assert_int_equal(raw_count(f->dir, "doc_changes"), 4);
    f->st = open_store(f->dir, &opt, false);
    /* Stripping after a trim finds only retained entries. */
    patch_doc(f->st, "reflectie", r, "{\"n\":2}", true); /* seq 11 */
    assert_int_equal(walk(f->st, 7, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 4);
    for (int i = 0; i < 3; i++)
        assert_true(wk.no_doc[i]);
    assert_false(wk.no_doc[3]);
    tafel_store_close(f->st);
    assert_int_equal(raw_count(f->dir, "doc_changes"), 1);
    f->st = open_store(f->dir, &opt, false);
}

/* ----------------------------------------------------------------- marks */

/* One vote per mark: a second vote of the same actor takes it back. Keeps
 * the count in the document and nothing about who voted. */
static enum tafel_err vote_hook(void *ctx, struct tafel_write *w, const json_t *current,
                                json_t *proposed)
{
    int *calls = ctx;
    ++*calls;
    /* the caller's values, also when run again after the map grew */
    assert_false(w->mark_set);
    assert_false(w->mark_clear);
    json_int_t votes = json_integer_value(json_object_get(current, "votes"));
    if (w->mark_had) {
        assert_int_equal(w->mark_prev, 1);
        w->mark_clear = true;
        votes--;
    } else {
        assert_int_equal(w->mark_prev, 0);
        w->mark_set = true;
        w->mark_value = 1;
        votes++;
    }
    json_object_set_new(proposed, "votes", json_integer(votes));
    return TAFEL_E_OK;
}

static struct tafel_write vote_op(const char *id, const char *actor, const json_t *empty,
                                  int *calls)
{
    return (struct tafel_write){.op = TAFEL_OP_PATCH,
                                .kind = "reflectie",
                                .id = id,
                                .doc = empty,
                                .actor = actor,
                                .mark = actor,
                                .check = vote_hook,
                                .check_ctx = calls};
}

static bool last_change_cb(void *ctx, const struct tafel_change *c)
{
    size_t *len = ctx;
    *len = c->doc_len;
    return true;
}

static size_t last_record_len(tafel_store *st)
{
    size_t len = 0;
    assert_int_equal(
        tafel_store_changes(st, tafel_store_seq(st) - 1, 0, last_change_cb, &len, NULL),
        TAFEL_E_OK);
    return len;
}

static void test_marks_constant_cost(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.map_size = 256 << 10, .map_size_max = 64 << 20};
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1], other[TAFEL_ID_MAX + 1];
    char actors[1000][12];
    struct tafel_write ops[50];
    json_t *empty = js("{}"), *doc = NULL;
    int calls = 0;

    use_new_store(f, "votes", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    create(f->st, "reflectie", o, "{\"tekst\":\"stem op mij\",\"votes\":0}", r);
    create(f->st, "reflectie", o, "{\"votes\":0}", other);
    for (int i = 0; i < 1000; i++)
        snprintf(actors[i], sizeof(actors[i]), "i%010d", i);

    struct tafel_write first = vote_op(r, actors[0], empty, &calls);
    write1(f->st, &first, TAFEL_E_OK);
    assert_false(first.mark_had);
    size_t doc1 = last_record_len(f->st);
    /* 999 more voters, in batches that see each other's marks */
    for (int b = 0; b < 999; b += 50) {
        size_t n = b + 50 <= 999 ? 50 : 999 - (size_t)b;
        for (size_t i = 0; i < n; i++)
            ops[i] = vote_op(r, actors[1 + b + i], empty, &calls);
        assert_int_equal(tafel_store_write(f->st, ops, n, NOW), TAFEL_E_OK);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(ops[i].result, TAFEL_E_OK);
            assert_false(ops[i].mark_had);
        }
        release(ops, n);
    }
    assert_true(calls >= 1000);
    assert_true(tafel_store_map_size(f->st) > (256 << 10)); /* batches ran again */
    assert_int_equal(tafel_store_get(f->st, "reflectie", r, &doc), TAFEL_E_OK);
    assert_int_equal(int_member(doc, "votes"), 1000);
    size_t doc1000 = last_record_len(f->st);
    char *text = json_dumps(doc, JSON_COMPACT);
    /* "votes":1 became "votes":1000, rev 2 became rev 1001: nothing else grew */
    assert_int_equal(doc1000, doc1 + 6);
    assert_true(strlen(text) <= doc1000);
    free(text);
    json_decref(doc);

    /* The same voter again: the mark is there, the hook takes the vote back. */
    struct tafel_write again = vote_op(r, actors[7], empty, &calls);
    write1(f->st, &again, TAFEL_E_OK);
    assert_true(again.mark_had);
    assert_int_equal(again.mark_prev, 1);
    assert_true(again.mark_clear); /* the hook's decision stays in the op */
    again = vote_op(r, actors[7], empty, &calls);
    write1(f->st, &again, TAFEL_E_OK);
    assert_false(again.mark_had);
    assert_int_equal(again.mark_prev, 0);
    /* Marks are per document. */
    struct tafel_write elsewhere = vote_op(other, actors[7], empty, &calls);
    write1(f->st, &elsewhere, TAFEL_E_OK);
    assert_false(elsewhere.mark_had);
    assert_int_equal(count_closed(f, "marks"), 1001);
    /* A mark set by the caller, without a hook. */
    struct tafel_write plain = {.op = TAFEL_OP_PATCH,
                                .kind = "reflectie",
                                .id = other,
                                .doc = empty,
                                .mark = "k1",
                                .mark_set = true,
                                .mark_value = -5};
    write1(f->st, &plain, TAFEL_E_OK);
    plain.mark_set = false;
    write1(f->st, &plain, TAFEL_E_OK);
    assert_true(plain.mark_had);
    assert_int_equal(plain.mark_prev, -5);
    /* Deleting a document deletes its marks, and only its. */
    delete_doc(f->st, "reflectie", r, 1003);
    assert_int_equal(count_closed(f, "marks"), 2);
    plain.mark = "bad mark";
    write1(f->st, &plain, TAFEL_E_BAD_REQUEST);
    assert_string_equal(plain.info.field, "mark");
    json_decref(empty);
}

/* A batch that grows the map: the hook is run again with what the caller
 * gave, not what it set the first time. */
static enum tafel_err setter_hook(void *ctx, struct tafel_write *w, const json_t *current,
                                  json_t *proposed)
{
    int *calls = ctx;
    (void)current, (void)proposed;
    ++*calls;
    assert_false(w->redact_history);
    assert_false(w->mark_set);
    assert_int_equal(w->mark_value, 7);
    assert_int_equal(w->flags, 0x1);
    w->redact_history = true;
    w->mark_set = true;
    w->mark_value = 8;
    w->flags |= 0x2;
    return TAFEL_E_OK;
}

static void test_hook_fields_restored_on_retry(void **state)
{
    struct fx *f = *state;
    struct tafel_store_options opt = {.map_size = 256 << 10, .map_size_max = 64 << 20};
    char o[TAFEL_ID_MAX + 1];
    struct tafel_write ops[12];
    int calls = 0;

    use_new_store(f, "retry", &opt);
    create(f->st, "opgave", NULL, "{}", o);
    json_t *big = doc_with("groot", 40000);
    for (int i = 0; i < 12; i++) {
        ops[i] = op_put("meting", NULL, 0, big, o);
        ops[i].check = setter_hook;
        ops[i].check_ctx = &calls;
        ops[i].mark = "a1";
        ops[i].mark_value = 7;
        ops[i].flags = 0x1;
    }
    assert_int_equal(tafel_store_write(f->st, ops, 12, NOW), TAFEL_E_OK);
    assert_true(calls > 12); /* the batch ran more than once */
    for (int i = 0; i < 12; i++) {
        assert_int_equal(ops[i].result, TAFEL_E_OK);
        assert_int_equal(ops[i].flags, 0x3);
    }
    release(ops, 12);
    json_decref(big);
}

/* ------------------------------------------------- the write's key check */

static void test_write_refused_for_revoked_key(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], secret[TAFEL_KEY_STRLEN + 1], good[TAFEL_ID_MAX + 1];
    char gone[TAFEL_ID_MAX + 1], old[TAFEL_ID_MAX + 1];
    json_t *all = json_string("*"), *doc = js("{\"v\":1}");
    struct listed l;

    create(f->st, "opgave", NULL, "{}", o);
    assert_int_equal(tafel_store_key_create(f->st, "lid", all, "", 0, "", NOW, secret, good),
                     TAFEL_E_OK);
    assert_int_equal(tafel_store_key_create(f->st, "lid", all, "", 0, "", NOW, secret, gone),
                     TAFEL_E_OK);
    assert_int_equal(
        tafel_store_key_create(f->st, "lid", all, "", NOW + 1000, "", NOW, secret, old),
        TAFEL_E_OK);
    struct tafel_write w = op_put("reflectie", NULL, 0, doc, o);
    w.key_id = gone;
    write1(f->st, &w, TAFEL_E_OK);
    assert_int_equal(tafel_store_key_revoke(f->st, gone, "u9", NOW, false, NULL), TAFEL_E_OK);
    write1(f->st, &w, TAFEL_E_KEY_REVOKED);
    assert_string_equal(w.info.field, "key_id");
    assert_int_equal(w.seq, 0);
    w.key_id = "knothere";
    write1(f->st, &w, TAFEL_E_KEY_REVOKED);
    w.key_id = "k ey";
    write1(f->st, &w, TAFEL_E_BAD_REQUEST);
    w.key_id = old;
    assert_int_equal(tafel_store_write(f->st, &w, 1, NOW + 999), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_OK);
    release(&w, 1);
    assert_int_equal(tafel_store_write(f->st, &w, 1, NOW + 1000), TAFEL_E_OK);
    assert_int_equal(w.result, TAFEL_E_KEY_EXPIRED);
    assert_int_equal(tafel_store_seq(f->st), 3);

    /* In a batch only the ops of that key are refused; no gap in seq. */
    struct tafel_write ops[4] = {
        op_put("reflectie", NULL, 0, doc, o),
        op_put("reflectie", NULL, 0, doc, o),
        op_put("reflectie", NULL, 0, doc, o),
        op_put("reflectie", NULL, 0, doc, o),
    };
    ops[0].key_id = good;
    ops[1].key_id = gone;
    ops[3].key_id = good;
    assert_int_equal(tafel_store_write(f->st, ops, 4, NOW), TAFEL_E_OK);
    assert_int_equal(ops[0].result, TAFEL_E_OK);
    assert_int_equal(ops[1].result, TAFEL_E_KEY_REVOKED);
    assert_int_equal(ops[2].result, TAFEL_E_OK);
    assert_int_equal(ops[3].result, TAFEL_E_OK);
    assert_int_equal(ops[0].seq, 4);
    assert_int_equal(ops[2].seq, 5);
    assert_int_equal(ops[3].seq, 6);
    release(ops, 4);
    assert_int_equal(list_count(f->st, o, "reflectie", &l), 5);
    json_decref(all);
    json_decref(doc);
}

/* ----------------------------------------------------- data ids, backups */

static bool is_hex_id(const char *s)
{
    return strlen(s) == TAFEL_DATA_ID_STRLEN && strspn(s, "0123456789abcdef") == strlen(s);
}

static void test_data_id_stable_and_new_in_backup(void **state)
{
    struct fx *f = *state;
    char id[TAFEL_DATA_ID_STRLEN + 1], bid[TAFEL_DATA_ID_STRLEN + 1], b1[128], b2[128];
    char o[TAFEL_ID_MAX + 1];
    struct tafel_errinfo info;

    create(f->st, "opgave", NULL, "{}", o);
    strcpy(id, tafel_store_data_id(f->st));
    assert_true(is_hex_id(id));
    tafel_store_close(f->st);
    f->st = open_store(f->dir, NULL, false);
    assert_string_equal(tafel_store_data_id(f->st), id);

    path_in(f, "b1", b1, sizeof(b1));
    path_in(f, "b2", b2, sizeof(b2));
    assert_int_equal(tafel_store_backup(f->st, b1, &info), TAFEL_E_OK);
    assert_int_equal(tafel_store_backup(f->st, b2, &info), TAFEL_E_OK);
    assert_string_equal(tafel_store_data_id(f->st), id); /* the live one stays */
    tafel_store *b = open_store(b1, NULL, false);
    strcpy(bid, tafel_store_data_id(b));
    assert_true(is_hex_id(bid));
    assert_string_not_equal(bid, id);
    assert_int_equal(tafel_store_seq(b), 1);
    tafel_store_close(b);
    b = open_store(b1, NULL, false);
    assert_string_equal(tafel_store_data_id(b), bid);
    tafel_store_close(b);
    b = open_store(b2, NULL, false);
    assert_string_not_equal(tafel_store_data_id(b), bid);
    assert_string_not_equal(tafel_store_data_id(b), id);
    tafel_store_close(b);
}

static void test_backup_modes(void **state)
{
    struct fx *f = *state;
    char bdir[128], edir[128], file[160];
    struct tafel_errinfo info;
    struct stat sb;

    /* The modes must not come from the umask: this one would leave
     * r-x------ and r--------. */
    mode_t old = umask(0277);
    path_in(f, "backup", bdir, sizeof(bdir));
    path_in(f, "empty", edir, sizeof(edir));
    assert_int_equal(mkdir(edir, 0755), 0);
    enum tafel_err e1 = tafel_store_backup(f->st, bdir, &info);
    enum tafel_err e2 = tafel_store_backup(f->st, edir, &info);
    umask(old);
    assert_int_equal(e1, TAFEL_E_OK);
    assert_int_equal(e2, TAFEL_E_OK);
    const char *dirs[] = {bdir, edir};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(stat(dirs[i], &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0700);
        snprintf(file, sizeof(file), "%s/data.mdb", dirs[i]);
        assert_int_equal(stat(file, &sb), 0);
        assert_int_equal(sb.st_mode & 07777, 0600);
        snprintf(file, sizeof(file), "%s/lock.mdb", dirs[i]);
        assert_int_equal(access(file, F_OK), -1); /* nothing but the data */
    }
}

/* ------------------------------------------- the lock and compaction */

/* The PID in @p dir's lock file; 0 when it is empty. */
static long lock_file_pid(const char *dir)
{
    char path[192], buf[32];
    snprintf(path, sizeof(path), "%s/%s", dir, TAFEL_STORE_LOCK_FILE);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    return n ? strtol(buf, NULL, 10) : 0;
}

static void test_one_writer_per_directory(void **state)
{
    struct fx *f = *state;
    struct tafel_errinfo info;
    struct tafel_store_options ro = {.read_only = true};
    tafel_store *st = NULL;
    char o[TAFEL_ID_MAX + 1], want[64], bdir[128];
    uint64_t before, after;

    create(f->st, "opgave", NULL, "{}", o);
    assert_int_equal(lock_file_pid(f->dir), (long)getpid());
    snprintf(want, sizeof(want), "is in use by tafeld (pid %ld)", (long)getpid());
    /* Also within one process: an flock() belongs to the open file
     * description, and each open makes its own. */
    assert_int_equal(tafel_store_open(f->dir, NULL, false, &st, &info), TAFEL_E_BUSY);
    assert_null(st);
    assert_non_null(strstr(info.message, want));
    assert_non_null(strstr(info.message, f->dir));
    assert_int_equal(tafel_store_open(f->dir, NULL, true, &st, &info), TAFEL_E_BUSY);
    assert_non_null(strstr(info.message, want));
    assert_int_equal(tafel_store_compact(f->dir, NULL, &before, &after, &info), TAFEL_E_BUSY);
    assert_non_null(strstr(info.message, want));

    /* A reader needs no lock, and cannot write. */
    tafel_store *r = open_store(f->dir, &ro, false);
    assert_int_equal(tafel_store_seq(r), 1);
    assert_string_equal(tafel_store_data_id(r), tafel_store_data_id(f->st));
    json_t *doc = js("{}");
    struct tafel_write w = op_put("opgave", NULL, 0, doc, NULL);
    assert_int_not_equal(tafel_store_write(r, &w, 1, NOW), TAFEL_E_OK);
    json_decref(doc);
    path_in(f, "backup", bdir, sizeof(bdir));
    assert_int_equal(tafel_store_backup(r, bdir, &info), TAFEL_E_OK);
    tafel_store_close(r);
    assert_int_equal(tafel_store_open(bdir, &ro, true, &st, &info), TAFEL_E_INVALID_ARG);
    /* The refused opens left the lock to its holder: the writer goes on. */
    create(f->st, "opgave", NULL, "{}", o);

    /* Closing releases it (and empties the file); the next open takes it. */
    tafel_store_close(f->st);
    f->st = NULL;
    assert_int_equal(lock_file_pid(f->dir), 0);
    f->st = open_store(f->dir, NULL, false);
    assert_int_equal(lock_file_pid(f->dir), (long)getpid());
    assert_int_equal(tafel_store_seq(f->st), 2);
}

/* Whether any file in @p dir holds @p needle. */
static bool dir_contains(const char *dir, const char *needle)
{
    char path[512];
    struct stat sb;
    struct dirent *e;
    bool found = false;
    DIR *d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0)
            found |= file_contains(path, needle, strlen(needle));
    }
    closedir(d);
    return found;
}

static void test_compact_purges_deleted_bytes(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], keep[TAFEL_ID_MAX + 1], ids[40][TAFEL_ID_MAX + 1];
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1], id[TAFEL_DATA_ID_STRLEN + 1];
    char file[192], stale[192], lmdb_lock[192];
    struct tafel_errinfo info;
    struct tafel_key_info k;
    static struct listed live, compacted;
    uint64_t before = 0, after = 0;
    struct stat sb;
    json_t *all = json_string("*");

    create(f->st, "opgave", NULL, "{}", o);
    create_doc(f->st, "reflectie", o, doc_with("ZICHTBAAR-blijft", 3000), keep);
    assert_int_equal(
        tafel_store_key_create(f->st, "beheerder", all, "k", 0, "", NOW, secret, key_id),
        TAFEL_E_OK);
    /* Inline and overflow values, every other one deleted. */
    for (int i = 0; i < 40; i++)
        create_doc(f->st, "reflectie", o,
                   doc_with(i % 2 ? "GEHEIM-weg" : "ZICHTBAAR-ook", 200 + (size_t)i * 97 % 4000),
                   ids[i]);
    for (int i = 1; i < 40; i += 2)
        delete_doc(f->st, "reflectie", ids[i], 1);
    list_count(f->st, NULL, NULL, &live);
    uint64_t seq = tafel_store_seq(f->st);
    strcpy(id, tafel_store_data_id(f->st));
    tafel_store_close(f->st);
    f->st = NULL;
    snprintf(file, sizeof(file), "%s/data.mdb", f->dir);
    snprintf(stale, sizeof(stale), "%s/data.mdb.compact", f->dir);
    snprintf(lmdb_lock, sizeof(lmdb_lock), "%s/lock.mdb", f->dir);
    /* What there is to purge: the live file keeps the deleted text. */
    assert_true(file_contains(file, "GEHEIM-weg", 10));
    /* A copy an interrupted run left behind is no obstacle. */
    FILE *fp = fopen(stale, "w");
    assert_non_null(fp);
    fputs("GEHEIM-weg", fp);
    fclose(fp);

    assert_int_equal(tafel_store_compact(f->dir, NULL, &before, &after, &info), TAFEL_E_OK);
    assert_true(after < before);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, after);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_false(dir_contains(f->dir, "GEHEIM"));
    assert_true(file_contains(file, "ZICHTBAAR-blijft", 16));
    assert_int_equal(access(stale, F_OK), -1);
    assert_int_equal(access(lmdb_lock, F_OK), -1); /* it described the old file */
    assert_int_equal(lock_file_pid(f->dir), 0);

    /* The same directory: content, seq, identity and keys; the seq goes on. */
    f->st = open_store(f->dir, NULL, false);
    assert_int_equal(tafel_store_seq(f->st), seq);
    assert_string_equal(tafel_store_data_id(f->st), id);
    list_count(f->st, NULL, NULL, &compacted);
    assert_int_equal(compacted.count, 22);
    assert_string_equal(compacted.text, live.text);
    assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_OK);
    tafel_key_info_free(&k);
    char next[TAFEL_ID_MAX + 1];
    create(f->st, "reflectie", o, "{}", next);
    assert_int_equal(tafel_store_seq(f->st), seq + 1);
    json_decref(all);
}

/* --------------------------------------------------------------- devices */

static void test_devices(void **state)
{
    struct fx *f = *state;
    char token[TAFEL_DEVICE_STRLEN + 1], token2[TAFEL_DEVICE_STRLEN + 1];
    char actor[TAFEL_ID_MAX + 1], actor2[TAFEL_ID_MAX + 1], found[TAFEL_ID_MAX + 1];
    char bad[TAFEL_DEVICE_STRLEN + 8], file[160];

    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, token, actor), TAFEL_E_OK);
    assert_int_equal(strlen(token), TAFEL_DEVICE_STRLEN);
    assert_int_equal(
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        TAFEL_DEVICE_STRLEN);
    assert_int_equal(strlen(actor), 11);
    assert_int_equal(actor[0], 'i');
    assert_int_equal(strspn(actor + 1, "0123456789abcdefghjkmnpqrstvwxyz"), 10);
    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, token2, actor2), TAFEL_E_OK);
    assert_string_not_equal(token, token2);
    assert_string_not_equal(actor, actor2);

    assert_int_equal(tafel_store_device_find(f->st, token, "s1", found), TAFEL_E_OK);
    assert_string_equal(found, actor);
    assert_int_equal(tafel_store_device_find(f->st, token2, "s1", found), TAFEL_E_OK);
    assert_string_equal(found, actor2);
    /* another session's token is unknown here */
    assert_int_equal(tafel_store_device_find(f->st, token, "s2", found), TAFEL_E_NOT_FOUND);
    assert_string_equal(found, "");
    /* same shape, another token; malformed ones */
    strcpy(bad, token);
    bad[5] = bad[5] == 'A' ? 'B' : 'A';
    assert_int_equal(tafel_store_device_find(f->st, bad, "s1", found), TAFEL_E_NOT_FOUND);
    strcpy(bad, token);
    bad[20] = '+';
    assert_int_equal(tafel_store_device_find(f->st, bad, "s1", found), TAFEL_E_NOT_FOUND);
    snprintf(bad, sizeof(bad), "%sA", token);
    assert_int_equal(tafel_store_device_find(f->st, bad, "s1", found), TAFEL_E_NOT_FOUND);
    strcpy(bad, token);
    bad[TAFEL_DEVICE_STRLEN - 1] = '\0';
    assert_int_equal(tafel_store_device_find(f->st, bad, "s1", found), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_find(f->st, "", "s1", found), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_find(f->st, NULL, "s1", found), TAFEL_E_NOT_FOUND);
    assert_int_equal(tafel_store_device_create(f->st, "", NOW, token2, actor2),
                     TAFEL_E_INVALID_ARG);

    /* durable, and the token itself is nowhere on disk */
    tafel_store_close(f->st);
    snprintf(file, sizeof(file), "%s/data.mdb", f->dir);
    assert_true(file_contains(file, actor, strlen(actor)));
    assert_false(file_contains(file, token, 12));
    f->st = open_store(f->dir, NULL, false);
    assert_int_equal(tafel_store_device_find(f->st, token, "s1", found), TAFEL_E_OK);
    assert_string_equal(found, actor);
}

/* ---------------------------------------------------- keys: cascade, label */

static void key_by(tafel_store *st, const char *created_by, char *id)
{
    char secret[TAFEL_KEY_STRLEN + 1];
    json_t *all = json_string("*");
    assert_int_equal(tafel_store_key_create(st, "lid", all, "", 0, created_by, NOW, secret, id),
                     TAFEL_E_OK);
    json_decref(all);
}

static int64_t revoked_ms(tafel_store *st, const char *id)
{
    struct tafel_key_info k;
    assert_int_equal(tafel_store_key_get(st, id, &k), TAFEL_E_OK);
    tafel_key_info_free(&k);
    return k.revoked_ms;
}

static bool array_has(const json_t *a, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach((json_t *)a, i, v)
    {
        if (strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static void test_key_revoke_cascade(void **state)
{
    struct fx *f = *state;
    char root[TAFEL_ID_MAX + 1], a[TAFEL_ID_MAX + 1], b[TAFEL_ID_MAX + 1];
    char a1[TAFEL_ID_MAX + 1], a1x[TAFEL_ID_MAX + 1], other[TAFEL_ID_MAX + 1];
    struct audit_seen s = {0};
    json_t *revoked = NULL;

    /* root -> a -> a1 -> a1x, root -> b; other stands alone */
    key_by(f->st, "", root);
    key_by(f->st, root, a);
    key_by(f->st, root, b);
    key_by(f->st, a, a1);
    key_by(f->st, a1, a1x);
    key_by(f->st, "", other);
    /* a1 was revoked before: what it created goes all the same */
    assert_int_equal(tafel_store_key_revoke(f->st, a1, "u1", NOW, false, &revoked), TAFEL_E_OK);
    assert_int_equal(json_array_size(revoked), 1);
    assert_string_equal(json_string_value(json_array_get(revoked, 0)), a1);
    json_decref(revoked);
    assert_int_equal(revoked_ms(f->st, a1x), 0); /* no cascade: only the key itself */

    assert_int_equal(tafel_store_key_revoke(f->st, root, "u2", NOW + 5, true, &revoked),
                     TAFEL_E_OK);
    assert_int_equal(json_array_size(revoked), 4);
    assert_string_equal(json_string_value(json_array_get(revoked, 0)), root);
    assert_true(array_has(revoked, a));
    assert_true(array_has(revoked, b));
    assert_true(array_has(revoked, a1x));
    assert_false(array_has(revoked, a1)); /* already revoked: not by this call */
    json_decref(revoked);
    assert_int_equal(revoked_ms(f->st, a1), NOW); /* the first revocation stands */
    assert_int_equal(revoked_ms(f->st, a1x), NOW + 5);
    assert_int_equal(revoked_ms(f->st, other), 0);

    /* one audit entry per key revoked now, marked as a cascade */
    assert_int_equal(tafel_store_audit_list(f->st, 7, 0, audit_cb, &s), TAFEL_E_OK);
    assert_int_equal(s.n, 4);
    for (int i = 0; i < s.n; i++) {
        assert_string_equal(str_member(s.rec[i], "action"), "key.revoke");
        assert_string_equal(str_member(s.rec[i], "actor"), "u2");
        assert_true(json_is_true(json_object_get(json_object_get(s.rec[i], "detail"), "cascade")));
    }
    audit_free(&s);

    /* Asked directly, a revoked key is named again; nothing is audited. */
    assert_int_equal(tafel_store_key_revoke(f->st, root, "u2", NOW + 9, true, &revoked),
                     TAFEL_E_OK);
    assert_int_equal(json_array_size(revoked), 1);
    json_decref(revoked);
    assert_int_equal(tafel_store_audit_list(f->st, 11, 0, audit_cb, &s), TAFEL_E_OK);
    assert_int_equal(s.n, 0);
    json_t *left = json_array(); /* whatever the caller left there is not kept */
    revoked = left;
    assert_int_equal(tafel_store_key_revoke(f->st, "knothere", "u2", NOW, true, &revoked),
                     TAFEL_E_NOT_FOUND);
    assert_null(revoked);
    json_decref(left);
    assert_int_equal(tafel_store_key_revoke(f->st, other, "u2", NOW, true, NULL), TAFEL_E_OK);
    assert_int_equal(revoked_ms(f->st, other), NOW);
}

static void repeat(char *out, const char *unit, int n)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++)
        strcat(out, unit);
}

static void test_key_label_limit(void **state)
{
    struct fx *f = *state;
    char label[4 * 90 + 1], secret[TAFEL_KEY_STRLEN + 1], id[TAFEL_ID_MAX + 1];
    struct tafel_key_info k;
    struct key_seen seen = {0};
    json_t *all = json_string("*");
    const char *units[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}; /* a é € 😀 */

    for (int u = 0; u < 4; u++) {
        repeat(label, units[u], TAFEL_LABEL_MAX_CHARS);
        assert_int_equal(tafel_store_key_create(f->st, "lid", all, label, 0, "", NOW, secret, id),
                         TAFEL_E_OK);
        assert_int_equal(tafel_store_key_verify(f->st, secret, NOW, &k), TAFEL_E_OK);
        assert_string_equal(k.label, label); /* whole, not cut */
        tafel_key_info_free(&k);
        repeat(label, units[u], TAFEL_LABEL_MAX_CHARS + 1);
        assert_int_equal(tafel_store_key_create(f->st, "lid", all, label, 0, "", NOW, secret, id),
                         TAFEL_E_TOO_LARGE);
    }
    assert_int_equal(tafel_store_key_list(f->st, key_cb, &seen), TAFEL_E_OK);
    assert_int_equal(seen.n, 4); /* nothing of the refused ones */
    /* invalid UTF-8 is not a label */
    assert_int_equal(tafel_store_key_create(f->st, "lid", all, "\xff", 0, "", NOW, secret, id),
                     TAFEL_E_INVALID_ARG);
    json_decref(all);
}

/* ---------------------------------------------- directories of older builds */

/* Turn the closed directory @p dir into what the build before doc_changes,
 * marks, devices and data_id left: those removed, and document @p del
 * ("kind\0id" parts, opgave @p opgave) deleted the old way, its delete
 * record holding the last version (a copy of its last record, op 1). */
static void raw_make_old(const char *dir, const char *kind, const char *del, const char *opgave)
{
    MDB_env *env = raw_open(dir);
    MDB_txn *txn;
    MDB_dbi meta, docs, by, changes, dbi;
    MDB_cursor *cur;
    MDB_val k, d;
    char kbuf[200];
    unsigned char seqbuf[8], *rec;
    size_t kl = strlen(kind), dl = strlen(del), ol = strlen(opgave);

    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    assert_int_equal(mdb_dbi_open(txn, "docs", 0, &docs), 0);
    assert_int_equal(mdb_dbi_open(txn, "by_opgave", 0, &by), 0);
    assert_int_equal(mdb_dbi_open(txn, "changes", 0, &changes), 0);
    const char *added[] = {"doc_changes", "marks", "devices"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(mdb_dbi_open(txn, added[i], 0, &dbi), 0);
        assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    }
    k = (MDB_val){strlen("data_id"), "data_id"};
    assert_int_equal(mdb_del(txn, meta, &k, NULL), 0);

    /* the old delete: the document's last record again, as op 1 (byte 1;
     * byte 3 is the id's length, the id follows kind\0 at byte 32) */
    assert_int_equal(mdb_cursor_open(txn, changes, &cur), 0);
    uint64_t last = 0;
    rec = NULL;
    size_t rec_len = 0;
    assert_int_equal(mdb_cursor_get(cur, &k, &d, MDB_LAST), 0);
    for (int i = 0; i < 8; i++)
        last = last << 8 | ((unsigned char *)k.mv_data)[i];
    do {
        const unsigned char *p = d.mv_data;
        if (p[3] == dl && memcmp(p + 32 + p[2] + 1, del, dl) == 0) {
            rec = malloc(d.mv_size);
            memcpy(rec, d.mv_data, d.mv_size);
            rec_len = d.mv_size;
            break;
        }
    } while (mdb_cursor_get(cur, &k, &d, MDB_PREV) == 0);
    mdb_cursor_close(cur);
    assert_non_null(rec);
    rec[1] = 1;
    for (int i = 7; i >= 0; i--)
        seqbuf[i] = (unsigned char)((last + 1) >> (8 * (7 - i)));
    k = (MDB_val){8, seqbuf};
    d = (MDB_val){rec_len, rec};
    assert_int_equal(mdb_put(txn, changes, &k, &d, MDB_APPEND), 0);
    k = (MDB_val){strlen("seq"), "seq"};
    d = (MDB_val){8, seqbuf};
    assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
    memcpy(kbuf, kind, kl + 1);
    memcpy(kbuf + kl + 1, del, dl);
    k = (MDB_val){kl + 1 + dl, kbuf};
    assert_int_equal(mdb_del(txn, docs, &k, NULL), 0);
    memcpy(kbuf, opgave, ol + 1);
    memcpy(kbuf + ol + 1, kind, kl + 1);
    memcpy(kbuf + ol + 1 + kl + 1, del, dl);
    k = (MDB_val){ol + 1 + kl + 1 + dl, kbuf};
    assert_int_equal(mdb_del(txn, by, &k, NULL), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    free(rec);
}

static void test_older_directory_brought_up_to_date(void **state)
{
    struct fx *f = *state;
    char o[TAFEL_ID_MAX + 1], r[TAFEL_ID_MAX + 1], gone[TAFEL_ID_MAX + 1];
    char keep[TAFEL_ID_MAX + 1], id[TAFEL_DATA_ID_STRLEN + 1], file[160];
    char token[TAFEL_DEVICE_STRLEN + 1], actor[TAFEL_ID_MAX + 1];
    struct walked wk;
    int total, bare;

    create(f->st, "opgave", NULL, "{}", o);                                  /* 1 */
    create(f->st, "reflectie", o, "{\"tekst\":\"GEHEIM-oud-1\"}", r);        /* 2 */
    patch_doc(f->st, "reflectie", r, "{\"tekst\":\"GEHEIM-oud-2\"}", false); /* 3 */
    create_doc(f->st, "reflectie", o, doc_with("GEHEIM-weg", 5000), gone);   /* 4 */
    patch_doc(f->st, "reflectie", gone, "{\"n\":1}", false);                 /* 5 */
    create(f->st, "reflectie", o, "{\"tekst\":\"ZICHTBAAR\"}", keep);        /* 6 */
    tafel_store_close(f->st);
    f->st = NULL;
    raw_make_old(f->dir, "reflectie", gone, o); /* 7: the old delete */
    assert_int_equal(raw_count(f->dir, "doc_changes"), -1);
    /* A reader cannot bring it up to date, and does not make do without
     * the databases. */
    struct tafel_store_options ro = {.read_only = true};
    struct tafel_errinfo info;
    tafel_store *reader = NULL;
    assert_int_equal(tafel_store_open(f->dir, &ro, false, &reader, &info), TAFEL_E_SCHEMA_VERSION);
    assert_null(reader);
    assert_non_null(strstr(info.message, "older build"));
    snprintf(file, sizeof(file), "%s/data.mdb", f->dir);

    /* Opening creates what is missing and rebuilds the index from the log. */
    f->st = open_store(f->dir, NULL, false);
    strcpy(id, tafel_store_data_id(f->st));
    assert_true(is_hex_id(id));
    assert_int_equal(tafel_store_seq(f->st), 7);
    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    assert_int_equal(wk.n, 7);
    entries_of(&wk, gone, &total, &bare); /* the old delete applied as now */
    assert_int_equal(total, 3);
    assert_int_equal(bare, 3);
    assert_int_equal(wk.op[6], TAFEL_OP_DELETE);
    entries_of(&wk, r, &total, &bare);
    assert_int_equal(bare, 0);
    /* the index found r's old entries: */
    patch_doc(f->st, "reflectie", r, "{\"hidden\":true}", true); /* 8 */
    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    entries_of(&wk, r, &total, &bare);
    assert_int_equal(total, 3);
    assert_int_equal(bare, 2);
    /* devices and marks work */
    assert_int_equal(tafel_store_device_create(f->st, "s1", NOW, token, actor), TAFEL_E_OK);
    tafel_store_close(f->st);
    assert_int_equal(raw_count(f->dir, "doc_changes"), 3); /* opgave, keep, r's last */
    assert_int_equal(raw_count(f->dir, "marks"), 0);
    assert_int_equal(raw_count(f->dir, "devices"), 1);

    /* An older build writing after this one: its records are not indexed.
     * Simulated by emptying the index; opening rebuilds it, same data_id. */
    f->st = open_store(f->dir, NULL, false);
    patch_doc(f->st, "reflectie", keep, "{\"n\":2}", false); /* 9 */
    tafel_store_close(f->st);
    MDB_env *env = raw_open(f->dir);
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "doc_changes", 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    f->st = open_store(f->dir, NULL, false);
    assert_string_equal(tafel_store_data_id(f->st), id);
    assert_int_equal(tafel_store_device_find(f->st, token, "s1", actor), TAFEL_E_OK);
    patch_doc(f->st, "reflectie", keep, "{\"n\":3}", true); /* 10 */
    assert_int_equal(walk(f->st, 0, 0, &wk, NULL), TAFEL_E_OK);
    entries_of(&wk, keep, &total, &bare);
    assert_int_equal(total, 3);
    assert_int_equal(bare, 2);
    tafel_store_close(f->st);
    assert_int_equal(raw_count(f->dir, "doc_changes"), 3); /* opgave, r's last, keep's last */
    f->st = open_store(f->dir, NULL, false);
}

static void test_no_space_is_unavailable(void **state)
{
    (void)state;
    /* The server answers it as `unavailable` with this sentence. */
    assert_string_equal(tafel_err_wire(TAFEL_E_NO_SPACE), "unavailable");
    assert_string_equal(tafel_strerror(TAFEL_E_NO_SPACE), "storage full: no space left on device");
    assert_string_equal(tafel_err_name(TAFEL_E_NO_SPACE), "NO_SPACE");
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
        T(test_key_admin_by_a_revoked_key),
        T(test_key_list),
        T(test_key_secret_not_stored),
        T(test_audit_append_and_list),
        T(test_audit_in_write_and_key_transactions),
        T(test_delete_strips_history),
        T(test_redact_history_from_hook),
        T(test_doc_changes_trimmed_with_log),
        T(test_marks_constant_cost),
        T(test_hook_fields_restored_on_retry),
        T(test_write_refused_for_revoked_key),
        T(test_data_id_stable_and_new_in_backup),
        T(test_backup_modes),
        T(test_one_writer_per_directory),
        T(test_compact_purges_deleted_bytes),
        T(test_devices),
        T(test_key_revoke_cascade),
        T(test_key_label_limit),
        T(test_older_directory_brought_up_to_date),
        T(test_no_space_is_unavailable),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
