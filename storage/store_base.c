/*
 * store_base.c - the ground floor of storage/: the transaction runners that
 * grow the map when it is full, the one mapping of LMDB codes onto
 * enum tafel_err, and the key/value helpers every concept file builds on.
 *
 * Everything in storage/ runs inside the transactions started here, so that
 * the rules LMDB imposes on a process (no transaction may be active while
 * the map is resized; a map grown by another process must be adopted before
 * a transaction can begin) are kept in one file. Nothing here knows
 * documents, the log or keys: the concept files and store.c, which opens
 * the directory, stand on this file and never the other way round.
 */
#include "store_base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Less than this left on the file system after a short write: it was full. */
#define NEARLY_FULL ((unsigned long long)1 << 20)

/* ------------------------------------------------------------ errors */

enum tafel_err store__err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return TAFEL_E_OK;
    case MDB_MAP_FULL:
        return TAFEL_E_MAP_FULL;
    case MDB_NOTFOUND:
        return TAFEL_E_NOT_FOUND;
    case MDB_KEYEXIST:
    case EEXIST:
        return TAFEL_E_EXISTS;
    case ENOMEM:
        return TAFEL_E_NOMEM;
    case EINVAL:
        return TAFEL_E_INVALID_ARG;
    case ENOSPC:
    case EDQUOT:
        return TAFEL_E_NO_SPACE;
    default:
        return TAFEL_E_IO;
    }
}

int store__space_check(int fd, int rc)
{
    struct statvfs sv;

    /* LMDB turns a short write into EIO; the file system cuts a write short
     * when it is full, and then little or nothing is left. (Root may also
     * write into the blocks reserved for it.) A quota cut short looks like
     * a disk with room: that stays EIO. */
    if (rc != EIO || fstatvfs(fd, &sv) != 0)
        return rc;
    unsigned long long left =
        (unsigned long long)(geteuid() == 0 ? sv.f_bfree : sv.f_bavail) * sv.f_frsize;
    return left < NEARLY_FULL ? ENOSPC : rc;
}

enum tafel_err store__errinfo(struct tafel_errinfo *info, int rc, const char *fmt, ...)
{
    char what[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    /* mdb_strerror() also describes errno values. */
    return tafel_errinfo_set(info, store__err(rc), NULL, "%s: %s", what, mdb_strerror(rc));
}

/* ------------------------------------------------------- small helpers */

void store__put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

uint64_t store__get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Crockford's alphabet in lower case: no i, l, o, u to misread; in ASCII
 * order, so encoded numbers sort like the numbers. */
const char store__base32[33] = "0123456789abcdefghjkmnpqrstvwxyz";

void store__random_base32(char *out, size_t n)
{
    /* 32 divides 256, so masking a random byte is unbiased. */
    unsigned char rnd[TAFEL_ID_MAX];

    if (n > sizeof(rnd))
        n = sizeof(rnd);
    randombytes_buf(rnd, n);
    for (size_t i = 0; i < n; i++)
        out[i] = store__base32[rnd[i] & 31];
    out[n] = '\0';
}

MDB_val store__str_val(const char *s)
{
    return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

int store__meta_get_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val k = store__str_val(name), d;
    int rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
    if (rc)
        return rc;
    if (d.mv_size != 8)
        return MDB_CORRUPTED;
    *v = store__get_u64(d.mv_data);
    return 0;
}

int store__meta_put_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t v)
{
    unsigned char buf[8];
    MDB_val k = store__str_val(name), d = {.mv_size = sizeof(buf), .mv_data = buf};
    store__put_u64(buf, v);
    return mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
}

int store__seq_get(tafel_store *st, MDB_txn *txn, uint64_t *seq)
{
    int rc = store__meta_get_u64(st, txn, META_SEQ, seq);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        rc = 0;
    }
    return rc;
}

int store__seq_put(tafel_store *st, MDB_txn *txn, uint64_t seq)
{
    return store__meta_put_u64(st, txn, META_SEQ, seq);
}

int store__edge_key(tafel_store *st, MDB_txn *txn, enum store_db db, MDB_cursor_op op, uint64_t *n)
{
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(txn, st->dbi[db], &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, op);
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    if (k.mv_size != 8)
        return MDB_CORRUPTED;
    *n = store__get_u64(k.mv_data);
    return 0;
}

int store__put_text(tafel_store *st, MDB_txn *txn, enum store_db db, MDB_val *key, const char *data,
                    size_t len)
{
    /* MDB_RESERVE: serialise straight into the page instead of a temporary. */
    MDB_val d = {.mv_size = len + 1, .mv_data = NULL};
    int rc = mdb_put(txn, st->dbi[db], key, &d, MDB_RESERVE);
    if (rc)
        return rc;
    memcpy(d.mv_data, data, len);
    ((char *)d.mv_data)[len] = '\0';
    return 0;
}

int store__parse(const MDB_val *v, json_t **out)
{
    const char *s = v->mv_data;
    if (v->mv_size == 0 || s[v->mv_size - 1] != '\0')
        return MDB_CORRUPTED;
    *out = json_loadb(s, v->mv_size - 1, JSON_REJECT_DUPLICATES, NULL);
    if (!*out)
        return MDB_CORRUPTED;
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return MDB_CORRUPTED;
    }
    return 0;
}

/* --------------------------------------------------------- map and txns */

/* Adopt a map grown by another process (MDB_MAP_RESIZED). */
static int map_adopt(tafel_store *st)
{
    int rc = pthread_rwlock_wrlock(&st->resize_lock);
    if (rc)
        return rc;
    rc = mdb_env_set_mapsize(st->env, 0);
    pthread_rwlock_unlock(&st->resize_lock);
    return rc;
}

/* Double the map (up to the ceiling) unless another thread already grew it
 * beyond @p seen since our transaction failed. */
static int map_grow(tafel_store *st, size_t seen)
{
    MDB_envinfo ei;
    MDB_stat ms;
    int rc = pthread_rwlock_wrlock(&st->resize_lock);
    if (rc)
        return rc;
    mdb_env_info(st->env, &ei);
    mdb_env_stat(st->env, &ms);
    if (ei.me_mapsize > seen)
        goto cleanup;
    size_t next = ei.me_mapsize > st->map_size_max / 2 ? st->map_size_max : ei.me_mapsize * 2;
    next -= next % ms.ms_psize;
    if (next <= ei.me_mapsize)
        rc = MDB_MAP_FULL;
    else
        rc = mdb_env_set_mapsize(st->env, next);
cleanup:
    pthread_rwlock_unlock(&st->resize_lock);
    return rc;
}

static size_t map_size_locked(tafel_store *st)
{
    MDB_envinfo ei;
    mdb_env_info(st->env, &ei);
    return ei.me_mapsize;
}

size_t tafel_store_map_size(tafel_store *st)
{
    size_t size;
    pthread_rwlock_rdlock(&st->resize_lock);
    size = map_size_locked(st);
    pthread_rwlock_unlock(&st->resize_lock);
    return size;
}

/* On success the resize lock is held shared until the txn ends. */
static int txn_begin(tafel_store *st, unsigned flags, MDB_txn **txn, size_t *map_size)
{
    for (;;) {
        int rc = pthread_rwlock_rdlock(&st->resize_lock);
        if (rc)
            return rc;
        rc = mdb_txn_begin(st->env, NULL, flags, txn);
        if (rc == 0) {
            if (map_size)
                *map_size = map_size_locked(st);
            return 0;
        }
        pthread_rwlock_unlock(&st->resize_lock);
        if (rc != MDB_MAP_RESIZED)
            return rc;
        rc = map_adopt(st);
        if (rc)
            return rc;
    }
}

int store__read_begin(tafel_store *st, MDB_txn **txn)
{
    return txn_begin(st, MDB_RDONLY, txn, NULL);
}

void store__read_end(tafel_store *st, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&st->resize_lock);
}

int store__write_run(tafel_store *st, store_write_fn fn, void *ctx)
{
    for (;;) {
        MDB_txn *txn;
        size_t seen;
        int fd;
        int rc = txn_begin(st, 0, &txn, &seen);
        if (rc)
            return rc;
        rc = fn(st, txn, ctx);
        /* A commit that fails (a full disk) aborts the transaction: the
         * environment stays as it was before it, usable, and the pages
         * written beyond the last commit are simply unused. */
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        else
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&st->resize_lock);
        if (rc == EIO && mdb_env_get_fd(st->env, &fd) == 0)
            rc = store__space_check(fd, rc);
        if (rc != MDB_MAP_FULL)
            return rc;
        /* Nothing of the attempt is left: grow and run the body again. */
        rc = map_grow(st, seen);
        if (rc)
            return rc;
    }
}
