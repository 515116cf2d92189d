/*
 * store.c - the data directory as one LMDB environment: opening and creating
 * it, the schema version, the store's seq and identity, and backups.
 *
 * It stands on top of storage/: its transactions run through store_base.c
 * like everyone else's, and bringing an older directory up to date asks
 * changes.c to rebuild the log's index. Nothing in storage/ calls back into
 * this file.
 *
 * A directory written by an older build of the same schema version lacks
 * the databases added since (store_base.h); opening it creates them and
 * fills them in, in one write transaction, so that nothing asks the operator
 * for a migration step.
 */
#include "store_base.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE     ((size_t)64 << 20)
#define DEFAULT_MAP_SIZE_MAX ((size_t)64 << 30)
#define DATA_ID_LEN          (TAFEL_DATA_ID_STRLEN / 2)

static const char *const db_names[DB__COUNT] = {
    [DB_META] = "meta",           [DB_DOCS] = "docs",
    [DB_BY_OPGAVE] = "by_opgave", [DB_CHANGES] = "changes",
    [DB_KEYS] = "keys",           [DB_KEY_HASH] = "key_hash",
    [DB_AUDIT] = "audit",         [DB_DOC_CHANGES] = "doc_changes",
    [DB_MARKS] = "marks",         [DB_DEVICES] = "devices",
};

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
    MDB_val k = store__str_val(META_DATA_ID), d = {.mv_size = TAFEL_DATA_ID_STRLEN, .mv_data = out};
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(out, TAFEL_DATA_ID_STRLEN + 1, rnd, sizeof(rnd));
    return mdb_put(txn, meta, &k, &d, 0);
}

static int schema_init_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    MDB_val k = store__str_val(META_SECRET);
    MDB_val d = {.mv_size = STORE_HASH_SECRET_LEN, .mv_data = st->hash_secret};
    int rc = open_dbis(st, txn, MDB_CREATE, 0, DB__COUNT);
    (void)ctx;
    if (!rc)
        rc = store__meta_put_u64(st, txn, META_SCHEMA, TAFEL_STORE_SCHEMA_VERSION);
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
    MDB_val k = store__str_val(META_DATA_ID), d;
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
    MDB_val k = store__str_val(META_SECRET), d;
    int rc = mdb_dbi_open(txn, db_names[DB_META], 0, &st->dbi[DB_META]);
    if (!rc)
        rc = store__meta_get_u64(st, txn, META_SCHEMA, &version);
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
