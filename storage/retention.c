/*
 * retention.c - what the server's retention rules (server/retention.c,
 * docs/privacy.md) need of the store beyond ordinary writes: a paged walk
 * over one kind's documents, so that a run looks at a few hundred at a time
 * and goes on where it stopped; the change log's content stripped by age
 * (the walk itself is in changes.c, which owns the record format); and the
 * audit entries older than their term removed.
 *
 * The rules' changes to documents (a name anonymised, a hidden contribution
 * deleted) are not made here: they are tafel_store_write() batches like any
 * other write, with their change records and events.
 */
#include "store_base.h"

#include <stdio.h>
#include <string.h>

#include "tafel_time.h"

/* "kind\0id" of the docs database; see docs.c. */
#define DOC_KEY_MAX (STORE_KIND_MAX + 1 + TAFEL_ID_MAX)

/* ------------------------------------------------------ the paged walk */

struct list_after {
    const char *kind;
    const char *after;
    size_t limit;
    tafel_doc_fn fn;
    void *ctx;
    char *last;
    bool more;
};

/* One stored document: key "kind\0id", value "opgave\0" JSON text "\0"
 * (the layout of tafel_store.h). */
static int emit(struct list_after *la, const MDB_val *k, const MDB_val *d, size_t klen, bool *stop)
{
    char id[TAFEL_ID_MAX + 1];
    size_t idlen = k->mv_size - klen - 1;
    const char *v = d->mv_data;
    const char *nul = memchr(v, '\0', d->mv_size);
    if (idlen == 0 || idlen > TAFEL_ID_MAX || !nul || nul == v + d->mv_size - 1 ||
        v[d->mv_size - 1] != '\0')
        return MDB_CORRUPTED;
    memcpy(id, (const char *)k->mv_data + klen + 1, idlen);
    id[idlen] = '\0';
    const char *json = nul + 1;
    size_t len = d->mv_size - (size_t)(json - v) - 1;
    snprintf(la->last, TAFEL_ID_MAX + 1, "%s", id);
    *stop = !la->fn(la->ctx, la->kind, id, v, json, len);
    return 0;
}

static int list_after_txn(tafel_store *st, MDB_txn *txn, struct list_after *la)
{
    unsigned char kbuf[DOC_KEY_MAX];
    size_t klen = strlen(la->kind), alen = strlen(la->after);
    MDB_cursor *cur;
    MDB_val k, d;
    memcpy(kbuf, la->kind, klen);
    kbuf[klen] = '\0';
    memcpy(kbuf + klen + 1, la->after, alen);
    k = (MDB_val){.mv_size = klen + 1 + alen, .mv_data = kbuf};
    int rc = mdb_cursor_open(txn, st->dbi[DB_DOCS], &cur);
    if (rc)
        return rc;
    size_t count = 0;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    /* Past @after itself: it was handed out by the call before. */
    if (!rc && alen && k.mv_size == klen + 1 + alen && memcmp(k.mv_data, kbuf, k.mv_size) == 0)
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size <= klen + 1 || memcmp(k.mv_data, kbuf, klen + 1) != 0)
            break; /* past this kind */
        if (la->limit && count == la->limit) {
            la->more = true;
            break;
        }
        bool stop = false;
        rc = emit(la, &k, &d, klen, &stop);
        count++;
        if (rc)
            break;
        if (stop) {
            la->more = true;
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

enum tafel_err tafel_store_list_after(tafel_store *st, const char *kind, const char *after,
                                      size_t limit, tafel_doc_fn fn, void *ctx,
                                      char last[TAFEL_ID_MAX + 1], bool *more)
{
    if (!fn || !last || !more || !store__name_ok(kind, STORE_KIND_MAX, false) || !after ||
        (after[0] && !store__name_ok(after, TAFEL_ID_MAX, false)))
        return TAFEL_E_INVALID_ARG;
    struct list_after la = {kind, after, limit, fn, ctx, last, false};
    if (last != after)
        snprintf(last, TAFEL_ID_MAX + 1, "%s", after);
    *more = false;
    MDB_txn *txn;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = list_after_txn(st, txn, &la);
    store__read_end(st, txn);
    *more = la.more;
    return store__err(rc);
}

/* ------------------------------------------------- the log's content by age */

struct strip_aged {
    const struct tafel_log_terms *t;
    uint64_t from, max_scan, next, stripped;
};

static int strip_aged_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct strip_aged *sa = ctx; /* outputs are set afresh on a second run */
    return store__changes_strip_aged(st, txn, sa->t, sa->from, sa->max_scan, &sa->next,
                                     &sa->stripped);
}

enum tafel_err tafel_store_log_strip_aged(tafel_store *st, const struct tafel_log_terms *t,
                                          uint64_t from, uint64_t max_scan, uint64_t *next,
                                          uint64_t *stripped)
{
    struct strip_aged sa = {t, from, max_scan, 0, 0};
    if (next)
        *next = 0;
    if (stripped)
        *stripped = 0;
    if (!t || (t->nown && !t->own) || max_scan == 0)
        return TAFEL_E_INVALID_ARG;
    int rc = store__write_run(st, strip_aged_fn, &sa);
    if (rc)
        return store__err(rc);
    if (next)
        *next = sa.next;
    if (stripped)
        *stripped = sa.stripped;
    return TAFEL_E_OK;
}

/* ------------------------------------------------------- the audit's term */

struct audit_expire {
    int64_t before_ms;
    uint64_t max, removed;
    bool more;
};

static int audit_expire_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct audit_expire *ae = ctx;
    MDB_cursor *cur;
    MDB_val k, d;
    uint64_t newest;
    ae->removed = 0;
    ae->more = false;
    int rc = store__edge_key(st, txn, DB_AUDIT, MDB_LAST, &newest);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc; /* an empty trail keeps nothing */
    rc = mdb_cursor_open(txn, st->dbi[DB_AUDIT], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        json_t *rec = NULL;
        int64_t at = 0;
        if (k.mv_size != 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (store__get_u64(k.mv_data) >= newest)
            break;
        rc = store__parse(&d, &rec);
        if (rc)
            break;
        bool dated = tafel_time_parse(json_string_value(json_object_get(rec, "at")), &at);
        json_decref(rec);
        if (!dated) {
            rc = MDB_CORRUPTED;
            break;
        }
        /* Entries are appended in time order: the first young one ends it. */
        if (at >= ae->before_ms)
            break;
        if (ae->max && ae->removed == ae->max) {
            ae->more = true;
            break;
        }
        rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
        ae->removed++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

enum tafel_err tafel_store_audit_expire(tafel_store *st, int64_t before_ms, uint64_t max,
                                        uint64_t *removed, bool *more)
{
    struct audit_expire ae = {before_ms, max, 0, false};
    if (removed)
        *removed = 0;
    if (more)
        *more = false;
    if (before_ms <= 0)
        return TAFEL_E_OK;
    int rc = store__write_run(st, audit_expire_fn, &ae);
    if (rc)
        return store__err(rc);
    if (removed)
        *removed = ae.removed;
    if (more)
        *more = ae.more;
    return TAFEL_E_OK;
}
