/*
 * store.c - the data directory as one LMDB environment: opening and creating
 * it, the schema version, the transaction runners that grow the map when it
 * is full, the one mapping of LMDB codes onto enum tafel_err, and backups.
 *
 * Everything else in storage/ runs inside the transactions started here, so
 * that the rules LMDB imposes on a process (no transaction may be active while
 * the map is resized; a map grown by another process must be adopted before a
 * transaction can begin) are kept in one file.
 *
 * A directory written by an older build of the same schema version lacks
 * the databases added since (store_internal.h); opening it creates them and
 * fills them in, in one write transaction, so that nothing asks the operator
 * for a migration step.
 */
#include "store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE     ((size_t)64 << 20)
#define DEFAULT_MAP_SIZE_MAX ((size_t)64 << 30)
/* Less than this left on the file system after a short write: it was full. */
#define NEARLY_FULL ((unsigned long long)1 << 20)
#define DATA_ID_LEN (TAFEL_DATA_ID_STRLEN / 2)

static const char *const db_names[DB__COUNT] = {
    [DB_META] = "meta",           [DB_DOCS] = "docs",
    [DB_BY_OPGAVE] = "by_opgave", [DB_CHANGES] = "changes",
    [DB_KEYS] = "keys",           [DB_KEY_HASH] = "key_hash",
    [DB_AUDIT] = "audit",         [DB_DOC_CHANGES] = "doc_changes",
    [DB_MARKS] = "marks",         [DB_DEVICES] = "devices",
};

/* Keys of the meta database. */
#define META_SCHEMA  "schema_version"
#define META_SEQ     "seq"
#define META_SECRET  "hash_secret"
#define META_DATA_ID "data_id"

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

static int open_dbis(tafel_store *st, MDB_txn *txn, unsigned flags, int first, int end)
{
    for (int i = first; i < end; i++) {
        int rc = mdb_dbi_open(txn, db_names[i], flags, &st->dbi[i]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Make a new identity for the directory of @p txn's environment, whose meta
 * database is @p meta, into @p out (TAFEL_DATA_ID_STRLEN + 1 bytes). */
static int data_id_put(MDB_txn *txn, MDB_dbi meta, char *out)
{
    unsigned char rnd[DATA_ID_LEN];
    MDB_val k = str_val(META_DATA_ID), d = {.mv_size = TAFEL_DATA_ID_STRLEN, .mv_data = out};
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(out, TAFEL_DATA_ID_STRLEN + 1, rnd, sizeof(rnd));
    return mdb_put(txn, meta, &k, &d, 0);
}

static int schema_init_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    MDB_val k = str_val(META_SECRET);
    MDB_val d = {.mv_size = STORE_HASH_SECRET_LEN, .mv_data = st->hash_secret};
    int rc = open_dbis(st, txn, MDB_CREATE, 0, DB__COUNT);
    (void)ctx;
    if (!rc)
        rc = meta_put_u64(st, txn, META_SCHEMA, TAFEL_STORE_SCHEMA_VERSION);
    if (!rc)
        rc = store__seq_put(st, txn, 0);
    if (!rc) {
        randombytes_buf(st->hash_secret, sizeof(st->hash_secret));
        rc = mdb_put(txn, st->dbi[DB_META], &k, &d, 0);
    }
    if (!rc)
        rc = data_id_put(txn, st->dbi[DB_META], st->data_id);
    return rc;
}

static enum tafel_err schema_init(tafel_store *st, const char *dir, struct tafel_errinfo *info)
{
    int rc = store__write_run(st, schema_init_fn, NULL);
    if (rc)
        return store__errinfo(info, rc, "cannot initialise data directory %s", dir);
    return TAFEL_E_OK;
}

/* What a directory of an older build lacks, found by schema_check(). */
struct schema_gap {
    bool create;  /* databases of DB__FIRST_ADDED on */
    bool reindex; /* doc_changes missing, or behind the log */
    bool data_id;
};

/* Inside a read txn: the databases added since the first directories, the
 * identity, and whether the log's index is up to date. */
static int schema_gaps(tafel_store *st, MDB_txn *txn, struct schema_gap *gap)
{
    MDB_val k = str_val(META_DATA_ID), d;
    int rc = 0;
    for (int i = DB__FIRST_ADDED; i < DB__COUNT && !rc; i++) {
        rc = mdb_dbi_open(txn, db_names[i], 0, &st->dbi[i]);
        if (rc == MDB_NOTFOUND) {
            gap->create = true;
            gap->reindex |= i == DB_DOC_CHANGES;
            rc = 0;
        }
    }
    if (!rc) {
        rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
        if (rc == MDB_NOTFOUND) {
            gap->data_id = true;
            rc = 0;
        } else if (!rc && d.mv_size != TAFEL_DATA_ID_STRLEN) {
            rc = MDB_CORRUPTED;
        } else if (!rc) {
            memcpy(st->data_id, d.mv_data, TAFEL_DATA_ID_STRLEN);
            st->data_id[TAFEL_DATA_ID_STRLEN] = '\0';
        }
    }
    /* An older build that wrote to the directory after this one left its
     * records out of the index. */
    bool indexed = true;
    if (!rc && !gap->reindex)
        rc = store__changes_indexed(st, txn, &indexed);
    gap->reindex |= !indexed;
    return rc;
}

/* Inside a read txn: check the version, open the databases, read the secret. */
static enum tafel_err schema_check(tafel_store *st, MDB_txn *txn, const char *dir,
                                   struct schema_gap *gap, struct tafel_errinfo *info)
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
    rc = open_dbis(st, txn, 0, 0, DB__FIRST_ADDED);
    if (!rc)
        rc = mdb_get(txn, st->dbi[DB_META], &k, &d);
    if (!rc && d.mv_size != STORE_HASH_SECRET_LEN)
        rc = MDB_CORRUPTED;
    if (!rc)
        memcpy(st->hash_secret, d.mv_data, STORE_HASH_SECRET_LEN);
    if (!rc)
        rc = schema_gaps(st, txn, gap);
    if (rc)
        return store__errinfo(info, rc, "data directory %s is incomplete", dir);
    return TAFEL_E_OK;
}

/* Fill in what schema_gaps() found missing. Runs again from scratch after
 * the map grew: the aborted attempt left nothing, handles included. */
static int schema_upgrade_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    const struct schema_gap *gap = ctx;
    int rc = open_dbis(st, txn, MDB_CREATE, DB__FIRST_ADDED, DB__COUNT);
    if (!rc && gap->reindex)
        rc = store__changes_reindex(st, txn);
    if (!rc && gap->data_id)
        rc = data_id_put(txn, st->dbi[DB_META], st->data_id);
    return rc;
}

static enum tafel_err schema_load(tafel_store *st, const char *dir, struct tafel_errinfo *info)
{
    struct schema_gap gap = {0};
    MDB_txn *txn;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__errinfo(info, rc, "cannot read data directory %s", dir);
    enum tafel_err err = schema_check(st, txn, dir, &gap, info);
    if (err == TAFEL_E_OK) {
        /* Commit, not abort: handles opened in a read txn survive only a commit. */
        rc = mdb_txn_commit(txn);
        if (rc)
            err = store__errinfo(info, rc, "cannot read data directory %s", dir);
    } else {
        mdb_txn_abort(txn);
    }
    pthread_rwlock_unlock(&st->resize_lock);
    if (err || !(gap.create || gap.reindex || gap.data_id))
        return err;
    rc = store__write_run(st, schema_upgrade_fn, &gap);
    if (rc)
        return store__errinfo(info, rc, "cannot bring data directory %s up to date", dir);
    return TAFEL_E_OK;
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
    rc = mdb_env_set_maxdbs(st->env, DB__COUNT); /* a handle per named database */
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

const char *tafel_store_data_id(tafel_store *st)
{
    return st->data_id;
}

/* --------------------------------------------------------------- backup */

/*
 * A backup is a logical copy: every record of the live store, read in one
 * read transaction (a consistent view while writers go on), appended in key
 * order to a new environment in one write transaction. mdb_env_copy2() with
 * MDB_CP_COMPACT would be faster, but it copies whole overflow pages, and the
 * unused tail of one may hold bytes of an earlier page of this process, such
 * as text deleted since. A new environment that was only ever given live
 * records has nothing else to hold: what was deleted or stripped is not in a
 * backup. Appending keeps its pages full, so the copy is compact anyway.
 */

static int backup_db(MDB_txn *from, MDB_dbi src, MDB_txn *to, MDB_dbi dst)
{
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(from, src, &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        rc = mdb_put(to, dst, &k, &d, MDB_APPEND);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Copy view @p from into the empty environment @p env, with a new data_id,
 * and commit (synced). */
static int backup_fill(tafel_store *st, MDB_txn *from, MDB_env *env)
{
    char data_id[TAFEL_DATA_ID_STRLEN + 1];
    MDB_dbi dst[DB__COUNT];
    MDB_txn *to;
    int rc = mdb_txn_begin(env, NULL, 0, &to);
    if (rc)
        return rc;
    for (int i = 0; i < DB__COUNT && !rc; i++) {
        rc = mdb_dbi_open(to, db_names[i], MDB_CREATE, &dst[i]);
        if (!rc)
            rc = backup_db(from, st->dbi[i], to, dst[i]);
    }
    /* A restored backup is another history than the live directory's. */
    if (!rc)
        rc = data_id_put(to, dst[DB_META], data_id);
    if (!rc)
        return mdb_txn_commit(to);
    mdb_txn_abort(to);
    return rc;
}

/* Create the (empty) data file with its mode set, whatever the umask: LMDB
 * takes an empty file for a new environment and keeps the mode. */
static int backup_file(const char *path)
{
    char file[PATH_MAX];
    int rc = 0;

    if (!dir_file(file, sizeof(file), path, "data.mdb"))
        return ENAMETOOLONG;
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    if (fchmod(fd, 0600) != 0)
        rc = errno;
    close(fd);
    return rc;
}

static int backup_copy(tafel_store *st, const char *path)
{
    MDB_env *env;
    MDB_txn *from;
    int fd = -1;
    /* The live map holds the live records with room to spare; should the
     * copy need more after all, it starts again in a larger map. */
    size_t size = tafel_store_map_size(st);
    int rc = backup_file(path);
    if (rc)
        return rc;
    rc = mdb_env_create(&env);
    if (rc)
        return rc;
    rc = mdb_env_set_maxdbs(env, DB__COUNT);
    if (!rc)
        rc = mdb_env_set_mapsize(env, size);
    /* No lock file: nobody else knows of this environment yet. */
    if (!rc)
        rc = mdb_env_open(env, path, MDB_NOLOCK, 0600);
    if (!rc)
        rc = mdb_env_get_fd(env, &fd);
    while (!rc) {
        rc = store__read_begin(st, &from);
        if (rc)
            break;
        rc = backup_fill(st, from, env);
        store__read_end(st, from);
        if (rc != MDB_MAP_FULL || size >= st->map_size_max)
            break;
        size = size > st->map_size_max / 2 ? st->map_size_max : size * 2;
        rc = mdb_env_set_mapsize(env, size);
    }
    if (rc && fd >= 0)
        rc = store__space_check(fd, rc);
    mdb_env_close(env);
    return rc;
}

/* The file's data was synced by the commit; its name needs the directory's. */
static int backup_seal(const char *path)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (fsync(fd) != 0)
        rc = store__space_check(fd, errno);
    close(fd);
    return rc;
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
    /* Whatever the umask, and whatever mode an existing empty directory had;
     * closed before anything is written into it. */
    int rc = chmod(path, 0700) != 0 ? errno : 0;
    if (!rc)
        rc = backup_copy(st, path);
    if (!rc)
        rc = backup_seal(path);
    if (rc) {
        dir_undo(path, made);
        return store__errinfo(info, rc, "backup to %s failed", path);
    }
    return TAFEL_E_OK;
}
