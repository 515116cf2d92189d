/*
 * docs.c - documents: the write batch (key check, rev checks, common fields,
 * the caller's check hook, index, change record, marks and audit entry, all
 * in one transaction) and the reads (one document, a listing by opgave or
 * kind).
 *
 * Layout:
 *   docs       "kind\0id"         -> "opgave\0" JSON text "\0"
 *   by_opgave  "opgave\0kind\0id" -> empty
 *   marks      "kind\0id\0mark"   -> i64 (BE, two's complement)
 * The opgave leads the stored value so that a listing can name it without
 * parsing the JSON; the trailing NUL lets the text be used as a C string.
 * A mark is a record of its own beside the document (not a member of it):
 * one actor's vote costs the same whether there are ten or ten thousand, and
 * the document and its change records do not grow with them.
 */
#include "store_base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tafel_time.h"

#define KEY_MAX         (TAFEL_ID_MAX + 1 + STORE_KIND_MAX + 1 + TAFEL_ID_MAX + 1)
#define NEW_ID_LEN      12
#define NEW_ID_TIME_LEN 9
/* Three random characters (32,768 values) after the time: ids made in the
 * same ms collide now and then (likely past ~180 of them); a collision only
 * costs another try. */
#define NEW_ID_TRIES 16
#define OPGAVE_KIND  "opgave"
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Owned by the store: members of these names in a doc or patch are ignored. */
static const char *const common_fields[] = {"id",         "kind",       "rev", "opgave",
                                            "created_at", "updated_at", "by"};

/* ------------------------------------------------------------------ keys */

/* Kinds, ids, opgaven and actors become parts of NUL-separated keys and JSON
 * strings: printable ASCII only, bounded, so both are always well formed. */
bool store__name_ok(const char *s, size_t max, bool empty_ok)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        if (n >= max || s[n] <= ' ' || s[n] > '~')
            return false;
    }
    return n > 0 || empty_ok;
}

/* Join @p n parts with NUL separators into @p buf (KEY_MAX bytes; the parts
 * are bounded by store__name_ok()). A last part "" leaves a trailing
 * separator, which makes a prefix that matches whole parts only. */
static MDB_val key_join(char *buf, const char *const *parts, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(parts[i]);
        memcpy(buf + len, parts[i], l);
        len += l;
        if (i + 1 < n)
            buf[len++] = '\0';
    }
    return (MDB_val){.mv_size = len, .mv_data = buf};
}

static MDB_val doc_key(char *buf, const char *kind, const char *id)
{
    const char *parts[] = {kind, id};
    return key_join(buf, parts, ARRAY_LEN(parts));
}

static MDB_val index_key(char *buf, const char *opgave, const char *kind, const char *id)
{
    const char *parts[] = {opgave, kind, id};
    return key_join(buf, parts, ARRAY_LEN(parts));
}

/* A document's mark, or with @p mark "" the prefix of all its marks. */
static MDB_val mark_key(char *buf, const char *kind, const char *id, const char *mark)
{
    const char *parts[] = {kind, id, mark};
    return key_join(buf, parts, ARRAY_LEN(parts));
}

/* Split key @p k of @p n NUL-separated parts, copied into @p buf (KEY_MAX + 1). */
static int key_split(const MDB_val *k, char *buf, const char **parts, int n)
{
    const char *p = buf, *end = buf + k->mv_size;
    if (k->mv_size > KEY_MAX)
        return MDB_CORRUPTED;
    memcpy(buf, k->mv_data, k->mv_size);
    buf[k->mv_size] = '\0';
    for (int i = 0; i < n; i++) {
        if (p > end)
            return MDB_CORRUPTED;
        parts[i] = p;
        p += strlen(p) + 1;
    }
    return p == end + 1 ? 0 : MDB_CORRUPTED;
}

/* A stored document value, pointing into the map. */
struct doc_val {
    const char *opgave;
    MDB_val json; /* text and its NUL */
};

static int doc_split(const MDB_val *v, struct doc_val *out)
{
    const char *s = v->mv_data;
    const char *nul = memchr(s, '\0', v->mv_size);
    if (!nul || nul == s + v->mv_size - 1 || s[v->mv_size - 1] != '\0')
        return MDB_CORRUPTED;
    out->opgave = s;
    out->json.mv_data = (void *)(nul + 1);
    out->json.mv_size = v->mv_size - (size_t)(nul + 1 - s);
    return 0;
}

static int doc_get(tafel_store *st, MDB_txn *txn, const char *kind, const char *id,
                   struct doc_val *out)
{
    char kbuf[KEY_MAX];
    MDB_val k = doc_key(kbuf, kind, id), d;
    int rc = mdb_get(txn, st->dbi[DB_DOCS], &k, &d);
    return rc ? rc : doc_split(&d, out);
}

/* ----------------------------------------------------------------- batch */

/* What the hook may change in a struct tafel_write, as the caller gave it:
 * restored before every attempt, so that a run after map growth starts from
 * what the caller asked, not from what the hook decided the last time. */
struct op_in {
    uint32_t flags;
    bool redact_history, mark_set, mark_clear;
    int64_t mark_value;
};

struct batch {
    struct tafel_write *ops;
    size_t n;
    int64_t now_ms;
    char now[TAFEL_TIME_STRLEN]; /* now_ms as the documents show it: formatted once */
    const struct op_in *in;      /* per op */
    uint64_t seq;                /* last seq given out in this attempt */
    /* The last key checked in this attempt: a batch is usually one
     * connection's, so one key; its record is read once. */
    const char *key_id;
    enum tafel_err key_verdict;
    /* Run in the same transaction after the ops (store__write_with). */
    store_write_fn also;
    void *also_ctx;
};

/* What one op has decided before it writes anything. */
struct op_state {
    char id[TAFEL_ID_MAX + 1];
    char opgave[TAFEL_ID_MAX + 1];
    char created_at[TAFEL_TIME_STRLEN];
    int64_t rev; /* after the op; for a delete the deleted rev */
    bool create;
    json_t *current;  /* owned; NULL on create */
    json_t *proposed; /* owned; NULL for a delete */
};

static int reject(struct tafel_write *w, enum tafel_err code, const char *field, const char *msg)
{
    w->result = code;
    tafel_errinfo_set(&w->info, code, field, "%s", msg);
    return 0;
}

static const char *op_invalid_field(const struct tafel_write *w)
{
    bool create = w->op == TAFEL_OP_PUT && !w->id;

    if (w->op != TAFEL_OP_PUT && w->op != TAFEL_OP_PATCH && w->op != TAFEL_OP_DELETE)
        return "op";
    if (!store__name_ok(w->kind, STORE_KIND_MAX, false))
        return "kind";
    if (!create && !store__name_ok(w->id, TAFEL_ID_MAX, false))
        return "id";
    if (w->op != TAFEL_OP_DELETE && !json_is_object(w->doc))
        return "doc";
    if (create && strcmp(w->kind, OPGAVE_KIND) != 0 &&
        !store__name_ok(w->opgave, TAFEL_ID_MAX, false))
        return "opgave";
    if (w->actor && !store__name_ok(w->actor, TAFEL_ID_MAX, true))
        return "actor";
    if (w->key_id && !store__name_ok(w->key_id, TAFEL_ID_MAX, false))
        return "key_id";
    if (w->mark && !store__name_ok(w->mark, TAFEL_ID_MAX, false))
        return "mark";
    return NULL;
}

/* Inside the transaction, so that a revocation committed before it refuses
 * the op and one committed after it finds the op already written: there is
 * no moment in between. */
static int op_key_check(tafel_store *st, MDB_txn *txn, struct batch *b, struct tafel_write *w)
{
    if (!b->key_id || strcmp(b->key_id, w->key_id) != 0) {
        int rc = store__key_status(st, txn, w->key_id, b->now_ms, &b->key_verdict);
        if (rc)
            return rc;
        b->key_id = w->key_id;
    }
    if (b->key_verdict == TAFEL_E_KEY_EXPIRED)
        return reject(w, TAFEL_E_KEY_EXPIRED, "key_id", "the access key has expired");
    if (b->key_verdict != TAFEL_E_OK)
        return reject(w, b->key_verdict, "key_id", "the access key was revoked");
    return 0;
}

/* Read the op's mark into w->mark_had, w->mark_prev for the hook. */
static int mark_read(tafel_store *st, MDB_txn *txn, struct tafel_write *w, const char *id)
{
    char kbuf[KEY_MAX];
    MDB_val k = mark_key(kbuf, w->kind, id, w->mark), d;
    int rc = mdb_get(txn, st->dbi[DB_MARKS], &k, &d);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (d.mv_size != 8)
        return MDB_CORRUPTED;
    w->mark_had = true;
    w->mark_prev = (int64_t)store__get_u64(d.mv_data);
    return 0;
}

/* Store or remove the op's mark, as the hook (or the caller) decided. */
static int mark_apply(tafel_store *st, MDB_txn *txn, const struct tafel_write *w, const char *id)
{
    char kbuf[KEY_MAX];
    unsigned char vbuf[8];
    MDB_val k = mark_key(kbuf, w->kind, id, w->mark), d = {sizeof(vbuf), vbuf};

    if (w->mark_set) {
        store__put_u64(vbuf, (uint64_t)w->mark_value);
        return mdb_put(txn, st->dbi[DB_MARKS], &k, &d, 0);
    }
    if (!w->mark_clear)
        return 0;
    int rc = mdb_del(txn, st->dbi[DB_MARKS], &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A deleted document's marks go with it. */
static int marks_drop(tafel_store *st, MDB_txn *txn, const char *kind, const char *id)
{
    char pbuf[KEY_MAX];
    MDB_val prefix = mark_key(pbuf, kind, id, ""), k = prefix, d;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, st->dbi[DB_MARKS], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size < prefix.mv_size || memcmp(k.mv_data, prefix.mv_data, prefix.mv_size) != 0)
            break;
        rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Set the common fields of @p p from the op's state. */
static json_t *ascii(const char *s)
{
    /* Ids, kind names and timestamps are ASCII the store made or checked
     * (op_invalid_field): no UTF-8 check needed. */
    return json_stringn_nocheck(s, strlen(s));
}

static int stamp(json_t *p, const struct tafel_write *w, const struct op_state *s, const char *now)
{
    json_t *v[ARRAY_LEN(common_fields)] = {
        ascii(s->id),
        ascii(w->kind),
        json_integer(s->rev),
        ascii(s->opgave),
        ascii(s->created_at),
        ascii(now),
        json_string(w->actor ? w->actor : ""),
    };
    int rc = 0;
    /* json_object_set_new() consumes its value even when it fails. */
    for (size_t i = 0; i < ARRAY_LEN(common_fields); i++) {
        if (json_object_set_new_nocheck(p, common_fields[i], v[i]) != 0)
            rc = ENOMEM;
    }
    return rc;
}

static bool is_common(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(common_fields); i++) {
        if (strcmp(name, common_fields[i]) == 0)
            return true;
    }
    return false;
}

/* PATCH: set the members of @p set on @p p; null removes. */
static int merge(json_t *p, const json_t *set)
{
    const char *name;
    json_t *v;

    json_object_foreach((json_t *)set, name, v)
    {
        if (is_common(name))
            continue;
        if (json_is_null(v))
            json_object_del(p, name);
        else if (json_object_set(p, name, v) != 0) /* shared: see propose() */
            return ENOMEM;
    }
    return 0;
}

static int propose(struct tafel_write *w, struct op_state *s, const char *now)
{
    /* A shallow copy: the hook and the store set and remove members of the
     * proposal only, never change a value in place, so the values can be
     * shared (reference counted, atomically: the caller's doc may belong to
     * another thread) with the caller's doc and the current document. */
    const json_t *base = w->op == TAFEL_OP_PUT ? w->doc : s->current;
    s->proposed = json_copy((json_t *)base);
    if (!s->proposed)
        return ENOMEM;
    if (w->op == TAFEL_OP_PATCH) {
        int rc = merge(s->proposed, w->doc);
        if (rc)
            return rc;
    }
    return stamp(s->proposed, w, s, now);
}

/* A new document id: 9 base32 characters of the time in ms (45 bits, good
 * until the year 3084), then 3 random ones. The alphabet is in ASCII order,
 * so ids sort by creation time: the documents of one commit land next to
 * each other at the right edge of the docs and by_opgave B-trees and dirty a
 * few pages, where uniformly random ids dirtied about two pages per document
 * (each a 4 KiB write before the sync). Ids are names, not secrets: access
 * is decided by scope, never by knowing an id. */
static void new_id(char *out, int64_t now_ms)
{
    uint64_t t = now_ms > 0 ? (uint64_t)now_ms : 0;
    for (int i = NEW_ID_TIME_LEN - 1; i >= 0; i--) {
        out[i] = store__base32[t & 31];
        t >>= 5;
    }
    store__random_base32(out + NEW_ID_TIME_LEN, NEW_ID_LEN - NEW_ID_TIME_LEN);
}

static int op_new(tafel_store *st, MDB_txn *txn, struct tafel_write *w, struct op_state *s,
                  int64_t now_ms, const char *now)
{
    struct doc_val dv;
    int rc = MDB_KEYEXIST;

    for (int i = 0; i < NEW_ID_TRIES && rc == MDB_KEYEXIST; i++) {
        new_id(s->id, now_ms);
        rc = doc_get(st, txn, w->kind, s->id, &dv);
        rc = rc == MDB_NOTFOUND ? 0 : rc ? rc : MDB_KEYEXIST;
    }
    if (rc == MDB_KEYEXIST)
        return reject(w, TAFEL_E_EXISTS, "id", "could not find a free id");
    if (rc)
        return rc;
    s->create = true;
    s->rev = 1;
    snprintf(s->opgave, sizeof(s->opgave), "%s",
             strcmp(w->kind, OPGAVE_KIND) == 0 ? s->id : w->opgave);
    memcpy(s->created_at, now, sizeof(s->created_at));
    return 0;
}

static int op_load(tafel_store *st, MDB_txn *txn, struct tafel_write *w, struct op_state *s)
{
    struct doc_val dv;
    json_t *created;
    int rc = doc_get(st, txn, w->kind, w->id, &dv);

    snprintf(s->id, sizeof(s->id), "%s", w->id);
    if (rc == MDB_NOTFOUND)
        return reject(w, TAFEL_E_NOT_FOUND, "id", "no such document");
    if (!rc)
        rc = store__parse(&dv.json, &s->current);
    if (rc)
        return rc;
    /* The opgave is kept from the stored document: no op moves one. */
    snprintf(s->opgave, sizeof(s->opgave), "%s", dv.opgave);
    created = json_object_get(s->current, "created_at");
    snprintf(s->created_at, sizeof(s->created_at), "%s",
             json_is_string(created) ? json_string_value(created) : "");
    int64_t rev = json_integer_value(json_object_get(s->current, "rev"));
    bool any_rev = w->op == TAFEL_OP_PATCH && w->expected_rev == 0;
    if (!any_rev && w->expected_rev != rev) {
        w->stored = json_incref(s->current);
        return reject(w, TAFEL_E_CONFLICT, "rev", "the document was changed meanwhile");
    }
    s->rev = w->op == TAFEL_OP_DELETE ? rev : rev + 1;
    return 0;
}

static int op_hook(struct tafel_write *w, struct op_state *s, const char *now)
{
    if (!w->check)
        return 0;
    enum tafel_err e = w->check(w->check_ctx, w, s->current, s->proposed);
    if (e != TAFEL_E_OK) {
        w->result = e;
        if (w->info.code == TAFEL_E_OK)
            tafel_errinfo_set(&w->info, e, NULL, NULL);
        return 0;
    }
    /* The hook may fill fields, not change what the store owns. */
    return s->proposed ? stamp(s->proposed, w, s, now) : 0;
}

/*
 * Decide everything that can reject the op before its first write. LMDB's
 * only undo short of committing is a nested transaction per op; instead an op
 * is rejected while it has written nothing, so the earlier ops of the batch
 * stay and no trace of it remains. Failures of the writes that follow (map
 * full, I/O) abort the whole batch, never one op.
 */
static int op_decide(tafel_store *st, MDB_txn *txn, struct batch *b, struct tafel_write *w,
                     struct op_state *s)
{
    const char *field = op_invalid_field(w);
    if (field)
        return reject(w, TAFEL_E_BAD_REQUEST, field, "missing or invalid field");
    int rc = w->key_id ? op_key_check(st, txn, b, w) : 0;
    if (rc || w->result != TAFEL_E_OK)
        return rc;
    rc = w->id ? op_load(st, txn, w, s) : op_new(st, txn, w, s, b->now_ms, b->now);
    if (rc || w->result != TAFEL_E_OK)
        return rc;
    if (w->op != TAFEL_OP_DELETE) {
        rc = propose(w, s, b->now);
        if (rc)
            return rc;
    }
    if (w->mark) {
        rc = mark_read(st, txn, w, s->id);
        if (rc)
            return rc;
    }
    return op_hook(w, s, b->now);
}

static int doc_write(tafel_store *st, MDB_txn *txn, const struct tafel_write *w,
                     const struct op_state *s, const char *text, size_t len)
{
    char kbuf[KEY_MAX], ibuf[KEY_MAX];
    MDB_val k = doc_key(kbuf, w->kind, s->id);
    MDB_val ik = index_key(ibuf, s->opgave, w->kind, s->id), empty = {0, NULL};
    size_t olen = strlen(s->opgave);
    int rc;

    if (w->op == TAFEL_OP_DELETE) {
        rc = mdb_del(txn, st->dbi[DB_DOCS], &k, NULL);
        return rc ? rc : mdb_del(txn, st->dbi[DB_BY_OPGAVE], &ik, NULL);
    }
    MDB_val d = {.mv_size = olen + 1 + len + 1, .mv_data = NULL};
    rc = mdb_put(txn, st->dbi[DB_DOCS], &k, &d, MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(d.mv_data, s->opgave, olen + 1);
    memcpy((char *)d.mv_data + olen + 1, text, len + 1);
    /* The index key never changes after create: the opgave is kept. */
    return s->create ? mdb_put(txn, st->dbi[DB_BY_OPGAVE], &ik, &empty, 0) : 0;
}

static int op_audit(tafel_store *st, MDB_txn *txn, const struct tafel_write *w,
                    const struct op_state *s, int64_t now_ms)
{
    char target[KEY_MAX];
    /* The opgave, so that an audit reader scoped to some opgaven sees the
     * entries about them (and only those). */
    json_t *detail = json_pack("{s:I, s:s}", "rev", (json_int_t)s->rev, "opgave", s->opgave);
    if (!detail || (w->audit_detail && json_object_update(detail, (json_t *)w->audit_detail)))
        return json_decref(detail), ENOMEM;
    snprintf(target, sizeof(target), "%s/%s", w->kind, s->id);
    int rc = store__audit_put(st, txn, w->actor, w->audit_action, target, detail, now_ms);
    json_decref(detail);
    return rc;
}

/* Write the decided op: earlier log content stripped, document, index,
 * change record, marks, audit entry. w->redact_history is read here, after
 * the hook: the hook decides it once it has seen the document. */
static int op_write(tafel_store *st, MDB_txn *txn, struct batch *b, struct tafel_write *w,
                    struct op_state *s)
{
    bool del = w->op == TAFEL_OP_DELETE;
    /* A delete's change record holds no content: not even its last version
     * may be replayed from the log. */
    size_t len = 0;
    char *block = del ? NULL : store__dump(s->proposed, w->text_before, w->text_after, &len);
    if (!del && !block)
        return ENOMEM;
    char *text = block ? block + w->text_before : NULL;
    struct store_change_in c = {
        .seq = b->seq + 1,
        .op = w->op == TAFEL_OP_DELETE ? TAFEL_OP_DELETE : TAFEL_OP_PUT,
        .kind = w->kind,
        .id = s->id,
        .opgave = s->opgave,
        .actor = w->actor ? w->actor : "",
        .rev = s->rev,
        .at_ms = b->now_ms,
        .flags = w->flags,
        .doc = text,
        .doc_len = len,
    };
    int rc = 0;
    if (del || (w->redact_history && !s->create))
        rc = store__changes_strip(st, txn, w->kind, s->id);
    if (!rc)
        rc = doc_write(st, txn, w, s, text, len);
    if (!rc)
        rc = store__change_put(st, txn, &c);
    if (!rc && del)
        rc = marks_drop(st, txn, w->kind, s->id);
    else if (!rc && w->mark)
        rc = mark_apply(st, txn, w, s->id);
    if (!rc && w->audit_action)
        rc = op_audit(st, txn, w, s, b->now_ms);
    if (rc) {
        free(block);
        return rc;
    }
    if (w->keep_text) {
        w->text = block; /* ownership passes to the caller */
        w->text_len = len;
    } else {
        free(block);
    }
    b->seq = c.seq;
    w->seq = c.seq;
    w->new_rev = s->rev;
    w->stored = s->proposed; /* ownership passes to the caller */
    s->proposed = NULL;
    return 0;
}

static int op_apply(tafel_store *st, MDB_txn *txn, struct batch *b, struct tafel_write *w)
{
    struct op_state s = {0};
    int rc = op_decide(st, txn, b, w, &s);
    snprintf(w->new_id, sizeof(w->new_id), "%s", s.id);
    if (!rc && w->result == TAFEL_E_OK)
        rc = op_write(st, txn, b, w, &s);
    json_decref(s.current);
    json_decref(s.proposed);
    return rc;
}

static void batch_reset(struct batch *b)
{
    b->key_id = NULL;
    for (size_t i = 0; i < b->n; i++) {
        struct tafel_write *w = &b->ops[i];
        json_decref(w->stored);
        w->stored = NULL;
        free(w->text);
        w->text = NULL;
        w->text_len = 0;
        w->result = TAFEL_E_OK;
        tafel_errinfo_clear(&w->info);
        w->new_id[0] = '\0';
        w->new_rev = 0;
        w->seq = 0;
        w->mark_had = false;
        w->mark_prev = 0;
        w->flags = b->in[i].flags;
        w->redact_history = b->in[i].redact_history;
        w->mark_set = b->in[i].mark_set;
        w->mark_clear = b->in[i].mark_clear;
        w->mark_value = b->in[i].mark_value;
    }
}

/* Runs again from scratch after the map grew, so the hooks may see an op
 * twice: they must decide the same way and keep no state of their own. */
static int batch_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct batch *b = ctx;
    uint64_t first;

    batch_reset(b);
    int rc = store__seq_get(st, txn, &b->seq);
    first = b->seq;
    for (size_t i = 0; i < b->n && !rc; i++)
        rc = op_apply(st, txn, b, &b->ops[i]);
    if (!rc && b->also)
        rc = b->also(st, txn, b->also_ctx);
    if (!rc && b->seq != first)
        rc = store__seq_put(st, txn, b->seq);
    if (!rc && b->seq != first)
        rc = store__changes_trim(st, txn, b->seq);
    return rc;
}

enum tafel_err tafel_store_write(tafel_store *st, struct tafel_write *ops, size_t n, int64_t now_ms)
{
    return store__write_with(st, ops, n, now_ms, NULL, NULL);
}

enum tafel_err store__write_with(tafel_store *st, struct tafel_write *ops, size_t n, int64_t now_ms,
                                 store_write_fn also, void *also_ctx)
{
    struct op_in *in;
    struct batch b = {.ops = ops, .n = n, .now_ms = now_ms, .also = also, .also_ctx = also_ctx};
    int rc;

    if (n == 0 && !also)
        return TAFEL_E_OK;
    tafel_time_format(now_ms, b.now);
    for (size_t i = 0; i < n; i++) {
        ops[i].stored = NULL; /* results are outputs: never free what the caller left there */
        ops[i].text = NULL;
    }
    in = malloc((n ? n : 1) * sizeof(*in));
    if (!in) {
        rc = ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        in[i] = (struct op_in){.flags = ops[i].flags,
                               .redact_history = ops[i].redact_history,
                               .mark_set = ops[i].mark_set,
                               .mark_clear = ops[i].mark_clear,
                               .mark_value = ops[i].mark_value};
    b.in = in;
    rc = store__write_run(st, batch_fn, &b);
    if (!rc)
        atomic_store(&st->seq_cache, b.seq);
cleanup:
    if (rc) {
        enum tafel_err err = store__err(rc);
        if (in)
            batch_reset(&b);
        for (size_t i = 0; i < n; i++) {
            ops[i].result = err;
            store__errinfo(&ops[i].info, rc, "the batch was not written");
        }
    }
    free(in);
    return store__err(rc);
}

/* ----------------------------------------------------------------- reads */

enum tafel_err tafel_store_get(tafel_store *st, const char *kind, const char *id, json_t **out)
{
    struct doc_val dv;
    MDB_txn *txn;

    if (!out)
        return TAFEL_E_INVALID_ARG;
    *out = NULL;
    /* A name that could never have been stored is simply not there. */
    if (!store__name_ok(kind, STORE_KIND_MAX, false) || !store__name_ok(id, TAFEL_ID_MAX, false))
        return TAFEL_E_NOT_FOUND;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = doc_get(st, txn, kind, id, &dv);
    if (!rc)
        rc = store__parse(&dv.json, out);
    store__read_end(st, txn);
    return store__err(rc);
}

struct listing {
    tafel_store *st;
    MDB_txn *txn;
    tafel_doc_fn fn;
    void *ctx;
    bool stopped;
};

/* One entry of a walk over docs (key kind\0id) or by_opgave (opgave\0kind\0id). */
static int list_emit(struct listing *l, enum store_db db, const MDB_val *k, const MDB_val *d)
{
    char buf[KEY_MAX + 1];
    const char *parts[3];
    struct doc_val dv;
    int rc;

    if (db == DB_DOCS) {
        rc = key_split(k, buf, parts + 1, 2);
        if (!rc)
            rc = doc_split(d, &dv);
    } else {
        rc = key_split(k, buf, parts, 3);
        if (!rc)
            rc = doc_get(l->st, l->txn, parts[1], parts[2], &dv);
        /* Writes keep the index and the documents in step: an entry without
         * its document is damage, not the end of the list. */
        if (rc == MDB_NOTFOUND)
            rc = MDB_CORRUPTED;
    }
    if (rc)
        return rc;
    l->stopped =
        !l->fn(l->ctx, parts[1], parts[2], dv.opgave, dv.json.mv_data, dv.json.mv_size - 1);
    return 0;
}

static int list_walk(struct listing *l, enum store_db db, const MDB_val *prefix)
{
    MDB_cursor *cur;
    MDB_val k = *prefix, d;
    int rc = mdb_cursor_open(l->txn, l->st->dbi[db], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, prefix->mv_size ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size < prefix->mv_size || memcmp(k.mv_data, prefix->mv_data, prefix->mv_size) != 0)
            break;
        rc = list_emit(l, db, &k, &d);
        if (rc || l->stopped)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

enum tafel_err tafel_store_list(tafel_store *st, const char *opgave, const char *kind,
                                tafel_doc_fn fn, void *ctx, uint64_t *seq)
{
    struct listing l = {.st = st, .fn = fn, .ctx = ctx};
    char pbuf[KEY_MAX];
    MDB_val prefix = {0, pbuf};

    if (!fn || (opgave && !store__name_ok(opgave, TAFEL_ID_MAX, false)) ||
        (kind && !store__name_ok(kind, STORE_KIND_MAX, false)))
        return TAFEL_E_INVALID_ARG;
    if (opgave) {
        const char *parts[] = {opgave, kind ? kind : "", ""};
        prefix = key_join(pbuf, parts, kind ? 3 : 2);
    } else if (kind) {
        const char *parts[] = {kind, ""};
        prefix = key_join(pbuf, parts, 2);
    }
    int rc = store__read_begin(st, &l.txn);
    if (rc)
        return store__err(rc);
    uint64_t view_seq = 0;
    rc = store__seq_get(st, l.txn, &view_seq);
    if (!rc)
        rc = list_walk(&l, opgave ? DB_BY_OPGAVE : DB_DOCS, &prefix);
    store__read_end(st, l.txn);
    if (seq)
        *seq = view_seq;
    return store__err(rc);
}
