/*
 * store.c - the data directory as one LMDB environment: opening and creating
 * it, the schema version, the transaction runners that grow the map when it
 * is full, the one mapping of LMDB codes onto enum tafel_err, and backups.
 *
 * Everything else in storage/ runs inside the transactions started here, so
 * that the rules LMDB imposes on a process (no transaction may be active while
 * the map is resized; a map grown by another process must be adopted before a
 * transaction can begin) are kept in one file.
 */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE     ((size_t)64 << 20)
#define DEFAULT_MAP_SIZE_MAX ((size_t)64 << 30)

static const char *const db_names[DB__COUNT] = {
    [DB_META] = "meta",       [DB_DOCS] = "docs", [DB_BY_OPGAVE] = "by_opgave",
    [DB_CHANGES] = "changes", [DB_KEYS] = "keys", [DB_KEY_HASH] = "key_hash",
    [DB_AUDIT] = "audit",
};

/* Keys of the meta database. */
#define META_SCHEMA "schema_version"
#define META_SEQ    "seq"
#define META_SECRET "hash_secret"

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
    default:
        return TAFEL_E_IO;
    }
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

static MDB_val str_val(const char *s)
{
    return (MDB_val){.mv_size = strlen(s), .mv_data = (void *)s};
}

static int meta_get_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t *v)
{
    MDB_val k = str_val(name), d;
    int rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
    if (rc)
        return rc;
    if (d.mv_size != 8)
        return MDB_CORRUPTED;
    *v = store__get_u64(d.mv_data);
    return 0;
}

static int meta_put_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t v)
{
    unsigned char buf[8];
    MDB_val k = str_val(name), d = {.mv_size = sizeof(buf), .mv_data = buf};
    store__put_u64(buf, v);
    return mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
}

int store__seq_get(tafel_store *st, MDB_txn *txn, uint64_t *seq)
{
    int rc = meta_get_u64(st, txn, META_SEQ, seq);
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        rc = 0;
    }
    return rc;
}

int store__seq_put(tafel_store *st, MDB_txn *txn, uint64_t seq)
{
    return meta_put_u64(st, txn, META_SEQ, seq);
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
        int rc = txn_begin(st, 0, &txn, &seen);
        if (rc)
            return rc;
        rc = fn(st, txn, ctx);
        if (rc == 0)
            rc = mdb_txn_commit(txn); /* frees txn, also on failure */
        else
            mdb_txn_abort(txn);
        pthread_rwlock_unlock(&st->resize_lock);
        if (rc != MDB_MAP_FULL)
            return rc;
        /* Nothing of the attempt is left: grow and run the body again. */
        rc = map_grow(st, seen);
        if (rc)
            return rc;
    }
}

/* ---------------------------------------------------------- directories */

/* Make @p dir ready to receive a new environment: create it (0700) or accept
 * it when empty. *made tells whether we created it (to undo on failure). */
static enum tafel_err dir_prepare_new(const char *dir, bool *made, struct tafel_errinfo *info)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    *made = false;
    if (!d) {
        if (errno != ENOENT)
            return store__errinfo(info, errno, "cannot open directory %s", dir);
        if (mkdir(dir, 0700) != 0)
            return store__errinfo(info, errno, "cannot create directory %s", dir);
        *made = true;
        return TAFEL_E_OK;
    }
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            closedir(d);
            return tafel_errinfo_set(info, TAFEL_E_EXISTS, NULL,
                                     "directory %s already exists and is not empty", dir);
        }
    }
    closedir(d);
    return TAFEL_E_OK;
}

static bool dir_file(char *buf, size_t cap, const char *dir, const char *name)
{
    int len = snprintf(buf, cap, "%s/%s", dir, name);
    return len > 0 && (size_t)len < cap;
}

/* Remove what a failed create or backup left behind. */
static void dir_undo(const char *dir, bool made)
{
    char path[PATH_MAX];
    if (dir_file(path, sizeof(path), dir, "data.mdb"))
        unlink(path);
    if (dir_file(path, sizeof(path), dir, "lock.mdb"))
        unlink(path);
    if (made)
        rmdir(dir);
}

static enum tafel_err dir_check_existing(const char *dir, struct tafel_errinfo *info)
{
    char path[PATH_MAX];
    struct stat sb;

    if (!dir_file(path, sizeof(path), dir, "data.mdb"))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "path too long: %s", dir);
    if (stat(path, &sb) == 0)
        return TAFEL_E_OK;
    if (errno == ENOENT || errno == ENOTDIR)
        return tafel_errinfo_set(info, TAFEL_E_NOT_FOUND, NULL,
                                 "no Tafel data directory at %s (create one first)", dir);
    return store__errinfo(info, errno, "cannot read data directory %s", dir);
}

/* --------------------------------------------------------- open / close */

static int open_dbis(tafel_store *st, MDB_txn *txn, unsigned flags)
{
    for (int i = 0; i < DB__COUNT; i++) {
        int rc = mdb_dbi_open(txn, db_names[i], flags, &st->dbi[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int schema_init_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    MDB_val k = str_val(META_SECRET);
    MDB_val d = {.mv_size = STORE_HASH_SECRET_LEN, .mv_data = st->hash_secret};
    int rc = open_dbis(st, txn, MDB_CREATE);
    (void)ctx;
    if (!rc)
        rc = meta_put_u64(st, txn, META_SCHEMA, TAFEL_STORE_SCHEMA_VERSION);
    if (!rc)
        rc = store__seq_put(st, txn, 0);
    if (!rc) {
        randombytes_buf(st->hash_secret, sizeof(st->hash_secret));
        rc = mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
    }
    return rc;
}

static enum tafel_err schema_init(tafel_store *st, const char *dir, struct tafel_errinfo *info)
{
    int rc = store__write_run(st, schema_init_fn, NULL);
    if (rc)
        return store__errinfo(info, rc, "cannot initialise data directory %s", dir);
    return TAFEL_E_OK;
}

/* Inside a read txn: check the version, open the databases, read the secret. */
static enum tafel_err schema_check(tafel_store *st, MDB_txn *txn, const char *dir,
                                   struct tafel_errinfo *info)
{
    uint64_t version;
    MDB_val k = str_val(META_SECRET), d;
    int rc = mdb_dbi_open(txn, db_names[DB_META], 0, &st->dbi[DB_META]);
    if (!rc)
        rc = meta_get_u64(st, txn, META_SCHEMA, &version);
    if (rc == MDB_NOTFOUND)
        return tafel_errinfo_set(info, TAFEL_E_NOT_FOUND, NULL,
                                 "%s holds an LMDB environment but no Tafel data", dir);
    if (rc)
        return store__errinfo(info, rc, "cannot read data directory %s", dir);
    if (version != TAFEL_STORE_SCHEMA_VERSION)
        return tafel_errinfo_set(info, TAFEL_E_SCHEMA_VERSION, NULL,
                                 "data directory %s has schema version %llu, this build reads "
                                 "version %d",
                                 dir, (unsigned long long)version, TAFEL_STORE_SCHEMA_VERSION);
    rc = open_dbis(st, txn, 0);
    if (!rc)
        rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
    if (!rc && d.mv_size != STORE_HASH_SECRET_LEN)
        rc = MDB_CORRUPTED;
    if (rc)
        return store__errinfo(info, rc, "data directory %s is incomplete", dir);
    memcpy(st->hash_secret, d.mv_data, STORE_HASH_SECRET_LEN);
    return TAFEL_E_OK;
}

static enum tafel_err schema_load(tafel_store *st, const char *dir, struct tafel_errinfo *info)
{
    MDB_txn *txn;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__errinfo(info, rc, "cannot read data directory %s", dir);
    enum tafel_err err = schema_check(st, txn, dir, info);
    if (err == TAFEL_E_OK) {
        /* Commit, not abort: handles opened in a read txn survive only a commit. */
        rc = mdb_txn_commit(txn);
        if (rc)
            err = store__errinfo(info, rc, "cannot read data directory %s", dir);
    } else {
        mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&st->resize_lock);
    return err;
}

static int env_open(tafel_store *st, const char *dir, const struct tafel_store_options *opt,
                    bool create)
{
    size_t want = opt && opt->map_size ? opt->map_size : DEFAULT_MAP_SIZE;
    MDB_envinfo ei;
    int rc;

    st->map_size_max = opt && opt->map_size_max ? opt->map_size_max : DEFAULT_MAP_SIZE_MAX;
    st->retain_changes = opt ? opt->retain_changes : 0;
    rc = mdb_env_create(&st->env);
    if (rc)
        return rc;
    rc = mdb_env_set_maxdbs(st->env, DB__COUNT);
    /* An existing environment keeps the size it grew to: 0 means "as
     * recorded in the file"; the option only ever enlarges it. */
    if (!rc)
        rc = mdb_env_set_mapsize(st->env, create ? want : 0);
    if (!rc)
        rc = mdb_env_open(st->env, dir, MDB_NOTLS, 0600);
    if (!rc && !create) {
        mdb_env_info(st->env, &ei);
        if (ei.me_mapsize < want)
            rc = mdb_env_set_mapsize(st->env, want);
    }
    return rc;
}

static void store_free(tafel_store *st, bool lock_made)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env); /* also after a failed mdb_env_open */
    if (lock_made)
        pthread_rwlock_destroy(&st->resize_lock);
    sodium_memzero(st->hash_secret, sizeof(st->hash_secret));
    free(st);
}

enum tafel_err tafel_store_open(const char *dir, const struct tafel_store_options *opt, bool create,
                                tafel_store **out, struct tafel_errinfo *info)
{
    tafel_store *st = NULL;
    bool made = false, touched = false, lock_made = false;
    enum tafel_err err;
    int rc;

    tafel_errinfo_clear(info);
    if (!dir || !out)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no directory given");
    *out = NULL;
    if (sodium_init() < 0)
        return tafel_errinfo_set(info, TAFEL_E_IO, NULL, "libsodium cannot be initialised");
    err = create ? dir_prepare_new(dir, &made, info) : dir_check_existing(dir, info);
    if (err)
        return err;
    touched = create;
    st = calloc(1, sizeof(*st));
    if (!st) {
        err = tafel_errinfo_set(info, TAFEL_E_NOMEM, NULL, "out of memory opening %s", dir);
        goto cleanup;
    }
    rc = pthread_rwlock_init(&st->resize_lock, NULL);
    if (rc) {
        err = store__errinfo(info, rc, "cannot open data directory %s", dir);
        goto cleanup;
    }
    lock_made = true;
    rc = env_open(st, dir, opt, create);
    if (rc) {
        err = store__errinfo(info, rc, "cannot open data directory %s", dir);
        goto cleanup;
    }
    err = create ? schema_init(st, dir, info) : schema_load(st, dir, info);
    if (!err)
        atomic_store(&st->seq_cache, tafel_store_seq(st));
cleanup:
    if (err) {
        store_free(st, lock_made);
        if (touched)
            dir_undo(dir, made);
        return err;
    }
    *out = st;
    return TAFEL_E_OK;
}

void tafel_store_close(tafel_store *st)
{
    store_free(st, true);
}

uint64_t tafel_store_seq(tafel_store *st)
{
    MDB_txn *txn;
    uint64_t seq;

    if (store__read_begin(st, &txn) != 0)
        return atomic_load(&st->seq_cache);
    int rc = store__seq_get(st, txn, &seq);
    store__read_end(st, txn);
    if (rc)
        return atomic_load(&st->seq_cache);
    atomic_store(&st->seq_cache, seq);
    return seq;
}

size_t tafel_store_map_size(tafel_store *st)
{
    size_t size;
    pthread_rwlock_rdlock(&st->resize_lock);
    size = map_size_locked(st);
    pthread_rwlock_unlock(&st->resize_lock);
    return size;
}

/* --------------------------------------------------------------- backup */

static int backup_copy(tafel_store *st, const char *path)
{
    char file[PATH_MAX];

    if (!dir_file(file, sizeof(file), path, "data.mdb"))
        return ENAMETOOLONG;
    for (;;) {
        /* The copy runs its own read txn inside LMDB: hold the lock like one. */
        int rc = pthread_rwlock_rdlock(&st->resize_lock);
        if (rc)
            return rc;
        rc = mdb_env_copy2(st->env, path, MDB_CP_COMPACT);
        pthread_rwlock_unlock(&st->resize_lock);
        if (rc != MDB_MAP_RESIZED)
            return rc;
        unlink(file); /* the copy creates its file exclusively */
        rc = map_adopt(st);
        if (rc)
            return rc;
    }
}

enum tafel_err tafel_store_backup(tafel_store *st, const char *path, struct tafel_errinfo *info)
{
    bool made;
    enum tafel_err err;

    tafel_errinfo_clear(info);
    if (!path)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no backup directory given");
    err = dir_prepare_new(path, &made, info);
    if (err)
        return err;
    int rc = backup_copy(st, path);
    if (rc) {
        dir_undo(path, made);
        return store__errinfo(info, rc, "backup to %s failed", path);
    }
    return TAFEL_E_OK;
}
