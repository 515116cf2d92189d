/*
 * audit.c - the audit trail: who did what to which target, numbered in
 * order, never trimmed. Entries are appended inside the transaction of the
 * change they describe (writes, key creation and revocation), or on their
 * own for events that change nothing else.
 */
#include "store_base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tafel_time.h"

int store__audit_put(tafel_store *st, MDB_txn *txn, const char *actor, const char *action,
                     const char *target, const json_t *detail, int64_t now_ms)
{
    char at[TAFEL_TIME_STRLEN];
    unsigned char kbuf[8];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf};
    uint64_t n;
    char *text = NULL;
    json_t *rec = NULL;
    int rc = store__edge_key(st, txn, DB_AUDIT, MDB_LAST, &n);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    n = rc ? 1 : n + 1;
    /* A copy, so that the entry never shares (or changes the refcount of)
     * the caller's object. */
    json_t *copy = detail ? json_deep_copy(detail) : json_object();
    rec = json_pack("{s:I,s:s,s:s,s:s,s:s,s:o}", "n", (json_int_t)n, "at",
                    tafel_time_format(now_ms, at), "actor", actor ? actor : "", "action", action,
                    "target", target ? target : "", "detail", copy);
    if (rec)
        text = json_dumps(rec, JSON_COMPACT);
    if (!text) {
        rc = rec ? ENOMEM : EINVAL; /* json_pack fails on invalid UTF-8 too */
        goto cleanup;
    }
    store__put_u64(kbuf, n);
    rc = store__put_text(st, txn, DB_AUDIT, &k, text, strlen(text));
cleanup:
    free(text);
    json_decref(rec);
    return rc;
}

struct audit_in {
    const char *actor, *action, *target;
    const json_t *detail;
    int64_t now_ms;
};

static int audit_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    const struct audit_in *a = ctx;
    return store__audit_put(st, txn, a->actor, a->action, a->target, a->detail, a->now_ms);
}

enum tafel_err tafel_store_audit_append(tafel_store *st, const char *actor, const char *action,
                                        const char *target, const json_t *detail, int64_t now_ms)
{
    struct audit_in a = {actor, action, target, detail, now_ms};

    if (!action || (detail && !json_is_object(detail)))
        return TAFEL_E_INVALID_ARG;
    return store__err(store__write_run(st, audit_fn, &a));
}

enum tafel_err tafel_store_audit_list(tafel_store *st, uint64_t after, uint64_t limit,
                                      tafel_audit_fn fn, void *ctx)
{
    unsigned char kbuf[8];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf}, d;
    MDB_cursor *cur = NULL;
    MDB_txn *txn;
    uint64_t count = 0;

    if (!fn || after == UINT64_MAX)
        return fn ? TAFEL_E_OK : TAFEL_E_INVALID_ARG;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = mdb_cursor_open(txn, st->dbi[DB_AUDIT], &cur);
    if (rc)
        goto cleanup;
    store__put_u64(kbuf, after + 1);
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const char *text = d.mv_data;
        if (k.mv_size != 8 || d.mv_size == 0 || text[d.mv_size - 1] != '\0') {
            rc = MDB_CORRUPTED;
            break;
        }
        count++;
        if (!fn(ctx, store__get_u64(k.mv_data), text, d.mv_size - 1) || (limit && count >= limit))
            break;
    }
    if (rc == MDB_NOTFOUND)
        rc = 0;
cleanup:
    if (cur)
        mdb_cursor_close(cur);
    store__read_end(st, txn);
    return store__err(rc);
}
