/*
 * privacy.c - the store's part of an inhabitant's right of access and
 * erasure: a device record found by its token alone (a beheerder at the
 * municipality's desk is handed the token, not a session), which documents
 * carry a participant's mark (its votes), and the erasure itself, written
 * in one transaction with the device record's removal and its audit entry.
 *
 * Layouts read here are the other files': devices (devices.c: keyed hash
 * of the token -> {"session","actor","created_at","hash"}) and marks
 * (docs.c: "kind\0id\0mark" -> i64).
 */
#include "store_base.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define HASH_LEN     crypto_generichash_BYTES
#define MARK_KEY_MAX (STORE_KIND_MAX + 1 + TAFEL_ID_MAX + 1 + TAFEL_ID_MAX)
/* What the erasure's also-step returns when an op was rejected: not an LMDB
 * or errno code the store could return by itself. */
#define ERASE_OP_REJECTED (-40001)

/* Copy member @p name of @p rec into @p out (@p size bytes); false if it is
 * missing or does not fit. */
static bool copy_member(const json_t *rec, const char *name, char *out, size_t size)
{
    const char *v = json_string_value(json_object_get(rec, name));
    if (!v || strlen(v) >= size)
        return false;
    memcpy(out, v, strlen(v) + 1);
    return true;
}

/* Inside @p txn: the record under @p hash into @p out. */
static int device_read(tafel_store *st, MDB_txn *txn, const unsigned char *hash,
                       struct tafel_device_info *out)
{
    MDB_val k = {.mv_size = HASH_LEN, .mv_data = (void *)hash}, d;
    json_t *rec = NULL;
    int rc = mdb_get(txn, st->dbi[DB_DEVICES], &k, &d);
    if (!rc)
        rc = store__parse(&d, &rec);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    if (!copy_member(rec, "session", out->session, sizeof(out->session)) ||
        !copy_member(rec, "actor", out->actor, sizeof(out->actor)))
        rc = MDB_CORRUPTED;
    else if (!copy_member(rec, "created_at", out->created_at, sizeof(out->created_at)))
        out->created_at[0] = '\0';
    json_decref(rec);
    return rc;
}

enum tafel_err tafel_store_device_get(tafel_store *st, const char *token,
                                      struct tafel_device_info *out)
{
    unsigned char hash[HASH_LEN];
    MDB_txn *txn;
    if (!out)
        return TAFEL_E_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    if (!store__device_key(st, token, hash))
        return TAFEL_E_NOT_FOUND; /* a malformed token was never handed out */
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = device_read(st, txn, hash, out);
    store__read_end(st, txn);
    if (rc)
        memset(out, 0, sizeof(*out));
    return store__err(rc);
}

enum tafel_err tafel_store_marks_held(tafel_store *st, const char *kind, const char *const *ids,
                                      size_t n, const char *mark, bool *held)
{
    char kbuf[MARK_KEY_MAX];
    MDB_txn *txn;
    if (!store__name_ok(kind, STORE_KIND_MAX, false) ||
        !store__name_ok(mark, TAFEL_ID_MAX, false) || (n && (!ids || !held)))
        return TAFEL_E_INVALID_ARG;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    size_t klen = strlen(kind), mlen = strlen(mark);
    for (size_t i = 0; i < n && !rc; i++) {
        held[i] = false;
        if (!store__name_ok(ids[i], TAFEL_ID_MAX, false))
            continue; /* never stored, so never marked */
        size_t ilen = strlen(ids[i]);
        memcpy(kbuf, kind, klen);
        kbuf[klen] = '\0';
        memcpy(kbuf + klen + 1, ids[i], ilen);
        kbuf[klen + 1 + ilen] = '\0';
        memcpy(kbuf + klen + 2 + ilen, mark, mlen);
        MDB_val k = {.mv_size = klen + 2 + ilen + mlen, .mv_data = kbuf}, d;
        rc = mdb_get(txn, st->dbi[DB_MARKS], &k, &d);
        held[i] = rc == 0;
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    store__read_end(st, txn);
    return store__err(rc);
}

/* ------------------------------------------------------------------ erase */

struct erase {
    const unsigned char *hash;
    const char *actor;
    struct tafel_write *ops;
    size_t n;
    int64_t now_ms;
    const struct tafel_audit_entry *audit;
    /* what went wrong, for the caller (set on the last attempt) */
    enum tafel_err rejected;
    struct tafel_errinfo info;
};

/* Runs after the ops, in their transaction: nothing of the erasure stays
 * unless all of it does. */
static int erase_also(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct erase *e = ctx;
    struct tafel_device_info dev;
    e->rejected = TAFEL_E_OK;
    tafel_errinfo_clear(&e->info);
    for (size_t i = 0; i < e->n; i++) {
        if (e->ops[i].result != TAFEL_E_OK) {
            e->rejected = e->ops[i].result;
            e->info = e->ops[i].info;
            return ERASE_OP_REJECTED;
        }
    }
    int rc = device_read(st, txn, e->hash, &dev);
    if (!rc && strcmp(dev.actor, e->actor) != 0)
        rc = MDB_NOTFOUND; /* another participant's token: not this erasure's */
    if (rc == MDB_NOTFOUND) {
        e->rejected = TAFEL_E_NOT_FOUND;
        tafel_errinfo_set(&e->info, TAFEL_E_NOT_FOUND, "device", "no such device");
        return ERASE_OP_REJECTED;
    }
    MDB_val k = {.mv_size = HASH_LEN, .mv_data = (void *)e->hash};
    if (!rc)
        rc = mdb_del(txn, st->dbi[DB_DEVICES], &k, NULL);
    if (!rc && e->audit)
        rc = store__audit_put(st, txn, e->audit->actor, e->audit->action, e->audit->target,
                              e->audit->detail, e->now_ms);
    return rc;
}

enum tafel_err tafel_store_device_erase(tafel_store *st, const char *token, const char *actor,
                                        struct tafel_write *ops, size_t n, int64_t now_ms,
                                        const struct tafel_audit_entry *audit,
                                        struct tafel_errinfo *info)
{
    unsigned char hash[HASH_LEN];
    if ((n && !ops) || !store__name_ok(actor, TAFEL_ID_MAX, false) ||
        (audit && (!audit->action || !audit->actor)))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "invalid argument");
    if (!store__device_key(st, token, hash))
        return tafel_errinfo_set(info, TAFEL_E_NOT_FOUND, "device", "no such device");
    struct erase e = {
        .hash = hash, .actor = actor, .ops = ops, .n = n, .now_ms = now_ms, .audit = audit};
    enum tafel_err err = store__write_with(st, ops, n, now_ms, erase_also, &e);
    sodium_memzero(hash, sizeof(hash));
    if (err == TAFEL_E_OK)
        return TAFEL_E_OK;
    if (e.rejected != TAFEL_E_OK) {
        /* store__write_with() set every op to its own reading of the abort;
         * the reason is the rejection. */
        for (size_t i = 0; i < n; i++) {
            ops[i].result = e.rejected;
            ops[i].info = e.info;
        }
        if (info)
            *info = e.info;
        return e.rejected;
    }
    if (info)
        *info = n ? ops[0].info : (struct tafel_errinfo){0};
    if (info && info->code == TAFEL_E_OK)
        tafel_errinfo_set(info, err, NULL, "%s", tafel_strerror(err));
    return err;
}
