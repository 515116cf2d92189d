/*
 * store.c - the data directory as one LMDB environment: opening and creating
 * it, the lock that lets one process at a time write to it, the schema
 * version, the store's seq and identity, backups and compaction.
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
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_MAP_SIZE     ((size_t)64 << 20)
#define DEFAULT_MAP_SIZE_MAX ((size_t)64 << 30)
#define DATA_ID_LEN          (TAFEL_DATA_ID_STRLEN / 2)
#define COMPACT_FILE         "data.mdb.compact"

static const char *const db_names[DB__COUNT] = {
    [DB_META] = "meta",           [DB_DOCS] = "docs",
    [DB_BY_OPGAVE] = "by_opgave", [DB_CHANGES] = "changes",
    [DB_KEYS] = "keys",           [DB_KEY_HASH] = "key_hash",
    [DB_AUDIT] = "audit",         [DB_DOC_CHANGES] = "doc_changes",
    [DB_MARKS] = "marks",         [DB_DEVICES] = "devices",
};

/* ---------------------------------------------------------- directories */

/* Make @p dir ready to receive a new environment: create it (0700) or accept
 * it when empty (with @p lock_ok, when it holds nothing but its lock file: a
 * directory whose creation failed, or one we hold the lock of already).
 * *made tells whether we created it (to undo on failure). */
static enum tafel_err dir_prepare_new(const char *dir, bool lock_ok, bool *made,
                                      struct tafel_errinfo *info)
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
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            !(lock_ok && strcmp(e->d_name, TAFEL_STORE_LOCK_FILE) == 0)) {
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

/* Remove what a failed create (@p lock: its lock file too, still held) or
 * backup left behind. */
static void dir_undo(const char *dir, bool made, bool lock)
{
    char path[PATH_MAX];
    if (dir_file(path, sizeof(path), dir, "data.mdb"))
        unlink(path);
    if (dir_file(path, sizeof(path), dir, "lock.mdb"))
        unlink(path);
    if (lock && dir_file(path, sizeof(path), dir, TAFEL_STORE_LOCK_FILE))
        unlink(path);
    if (made)
        rmdir(dir);
}

/* fsync() @p path, a file or (for the names in it) a directory. */
static int path_sync(const char *path)
{
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (fsync(fd) != 0)
        rc = store__space_check(fd, errno);
    close(fd);
    return rc;
}

/* ---------------------------------------------------- the directory lock */

/*
 * LMDB lets any number of processes write to one environment in turn, so
 * two servers on one directory would both run, each telling its clients
 * only of its own changes. A writable open therefore takes an flock() on
 * the directory's lock file:
 *  - the kernel drops it when the process ends, however it ends, so a crash
 *    leaves no stale lock for an operator to remove;
 *  - it belongs to the open file description, so a second open within one
 *    process is refused too (a POSIX record lock would be granted again);
 *  - the file stays: removing a lock file races with one just opening it to
 *    lock it, and two processes could then each hold "the" lock.
 * The file holds the holder's PID for the message of whoever is refused,
 * and is emptied again at a clean close.
 */

/* How long a refused open waits for a holder that has locked but not yet
 * written its PID: LOCK_TRIES times 10 ms. */
#define LOCK_TRIES 50

/* The PID in lock file @p fd; 0 when it holds none. */
static long lock_pid(int fd)
{
    char buf[24], *end;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    long pid = strtol(buf, &end, 10);
    return pid > 0 && end != buf && (*end == '\n' || *end == '\0') ? pid : 0;
}

/* Lock @p dir into *fd (-1 unless TAFEL_E_OK). Without @p make, a missing
 * lock file (or directory) is no error and locks nothing. The PID is
 * written later (lock_claim), once the open is sure to go on: a refused
 * create must leave the directory as it was. */
static enum tafel_err lock_take(const char *dir, bool make, int *fd, struct tafel_errinfo *info)
{
    char path[PATH_MAX];
    long pid = 0;

    *fd = -1;
    if (!dir_file(path, sizeof(path), dir, TAFEL_STORE_LOCK_FILE))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "path too long: %s", dir);
    int lfd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (make ? O_CREAT : 0), 0600);
    if (lfd < 0) {
        if (!make && (errno == ENOENT || errno == ENOTDIR))
            return TAFEL_E_OK;
        return store__errinfo(info, errno, "cannot open the lock file of data directory %s", dir);
    }
    for (int i = 0; i < LOCK_TRIES && !pid; i++) {
        if (flock(lfd, LOCK_EX | LOCK_NB) == 0) {
            *fd = lfd;
            return TAFEL_E_OK;
        }
        if (errno != EWOULDBLOCK) {
            int e = errno;
            close(lfd);
            return store__errinfo(info, e, "cannot lock data directory %s", dir);
        }
        pid = lock_pid(lfd);
        if (!pid)
            usleep(10000);
    }
    close(lfd);
    if (pid)
        return tafel_errinfo_set(info, TAFEL_E_BUSY, NULL,
                                 "data directory %s is in use by tafeld (pid %ld)", dir, pid);
    return tafel_errinfo_set(info, TAFEL_E_BUSY, NULL,
                             "data directory %s is in use by another process", dir);
}

/* Write our PID into the lock file we hold. */
static int lock_claim(int fd)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0)
        return errno;
    ssize_t w = pwrite(fd, buf, (size_t)n, 0);
    return w == n ? 0 : w < 0 ? errno : EIO;
}

/* Give the lock up (-1: none held). Emptied first: the PID of a process
 * that no longer holds the lock would mislead; the lock ends with close()
 * whether or not that worked. */
static void lock_release(int fd)
{
    if (fd < 0)
        return;
    int rc = ftruncate(fd, 0);
    (void)rc;
    close(fd);
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

static enum tafel_err schema_load(tafel_store *st, const char *dir, bool read_only,
                                  struct tafel_errinfo *info)
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
    /* A reader can do without an up-to-date index and without an identity
     * (a backup makes its own), not without the databases. */
    if (read_only && gap.create)
        return tafel_errinfo_set(info, TAFEL_E_SCHEMA_VERSION, NULL,
                                 "data directory %s was written by an older build and lacks "
                                 "databases: open it once for writing (tafeld serve) first",
                                 dir);
    if (read_only)
        return TAFEL_E_OK;
    rc = store__write_run(st, schema_upgrade_fn, &gap);
    if (rc)
        return store__errinfo(info, rc, "cannot bring data directory %s up to date", dir);
    return TAFEL_E_OK;
}

static int env_open(tafel_store *st, const char *dir, const struct tafel_store_options *opt,
                    bool create, bool read_only)
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
#ifdef TAFEL_UNSAFE_NOSYNC
    /* Only to show that tests/crash/crash_test.py catches it (docs/durability.md):
     * an ok then no longer means on disk. */
    unsigned nosync = MDB_NOSYNC | MDB_NOMETASYNC;
#else
    unsigned nosync = 0;
#endif
    /* MDB_RDONLY: a reader that cannot write even by mistake, beside the
     * server that holds the directory's lock. */
    if (!rc)
        rc = mdb_env_open(st->env, dir, MDB_NOTLS | (read_only ? MDB_RDONLY : 0) | nosync, 0600);
    if (!rc && !create && !read_only) {
        mdb_env_info(st->env, &ei);
        if (ei.me_mapsize < want)
            rc = mdb_env_set_mapsize(st->env, want);
    }
    return rc;
}

static void store_free(tafel_store *st, bool rwlock_made)
{
    if (!st)
        return;
    if (st->env)
        mdb_env_close(st->env); /* also after a failed mdb_env_open */
    /* After the environment: whoever locks next finds it closed. */
    lock_release(st->lock_fd);
    if (rwlock_made)
        pthread_rwlock_destroy(&st->resize_lock);
    sodium_memzero(st->hash_secret, sizeof(st->hash_secret));
    free(st);
}

enum tafel_err tafel_store_open(const char *dir, const struct tafel_store_options *opt, bool create,
                                tafel_store **out, struct tafel_errinfo *info)
{
    tafel_store *st = NULL;
    bool made = false, again, touched = false, rwlock_made = false;
    bool read_only = opt && opt->read_only;
    int lock_fd = -1;
    enum tafel_err err;
    int rc;

    tafel_errinfo_clear(info);
    if (!dir || !out)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no directory given");
    *out = NULL;
    if (create && read_only)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL,
                                 "cannot create data directory %s read-only", dir);
    if (sodium_init() < 0)
        return tafel_errinfo_set(info, TAFEL_E_IO, NULL, "libsodium cannot be initialised");
    /* A directory to create that a server has open: say who has it rather
     * than that it is not empty. */
    err = create ? lock_take(dir, false, &lock_fd, info) : TAFEL_E_OK;
    if (!err)
        err = create ? dir_prepare_new(dir, true, &made, info) : dir_check_existing(dir, info);
    if (!err && !read_only && lock_fd < 0)
        err = lock_take(dir, true, &lock_fd, info);
    /* Now under the lock: another create may have filled it meanwhile. */
    if (!err && create)
        err = dir_prepare_new(dir, true, &again, info);
    if (!err && lock_fd >= 0 && (rc = lock_claim(lock_fd)) != 0)
        err = store__errinfo(info, rc, "cannot lock data directory %s", dir);
    if (err)
        goto cleanup;
    touched = create;
    st = calloc(1, sizeof(*st));
    if (!st) {
        err = tafel_errinfo_set(info, TAFEL_E_NOMEM, NULL, "out of memory opening %s", dir);
        goto cleanup;
    }
    st->lock_fd = -1; /* released by the cleanup below until the open succeeded */
    rc = pthread_rwlock_init(&st->resize_lock, NULL);
    if (rc) {
        err = store__errinfo(info, rc, "cannot open data directory %s", dir);
        goto cleanup;
    }
    rwlock_made = true;
    rc = env_open(st, dir, opt, create, read_only);
    if (rc) {
        err = store__errinfo(info, rc, "cannot open data directory %s", dir);
        goto cleanup;
    }
    err = create ? schema_init(st, dir, info) : schema_load(st, dir, read_only, info);
    if (!err)
        atomic_store(&st->seq_cache, tafel_store_seq(st));
cleanup:
    if (err) {
        store_free(st, rwlock_made);
        /* Still holding the lock, so that nobody starts on what is undone. */
        if (touched)
            dir_undo(dir, made, true);
        lock_release(lock_fd);
        return err;
    }
    st->lock_fd = lock_fd;
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

/* ------------------------------------------------- backup and compaction */

/*
 * A backup is a logical copy: every record of the live store, read in one
 * read transaction (a consistent view while writers go on), appended in key
 * order to a new environment in one write transaction. mdb_env_copy2() with
 * MDB_CP_COMPACT would be faster, but it copies whole overflow pages, and the
 * unused tail of one may hold bytes of an earlier page of this process, such
 * as text deleted since. A new environment that was only ever given live
 * records has nothing else to hold: what was deleted or stripped is not in a
 * backup. Appending keeps its pages full, so the copy is compact anyway.
 *
 * Compaction is the same copy put in place of the live file, for the same
 * reason made this way: the live file keeps freed pages, and the unused
 * middle of pages LMDB rewrote, with their old bytes until they are reused.
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

/* Copy view @p from into the empty environment @p env, with a new data_id
 * when @p new_id, and commit (synced). */
static int backup_fill(tafel_store *st, MDB_txn *from, MDB_env *env, bool new_id)
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
    /* A restored backup is another history than the live directory's; a
     * compacted directory is the same one. */
    if (!rc && new_id)
        rc = data_id_put(to, dst[DB_META], data_id);
    if (!rc)
        return mdb_txn_commit(to);
    mdb_txn_abort(to);
    return rc;
}

/* Create the (empty) data file with its mode set, whatever the umask: LMDB
 * takes an empty file for a new environment and keeps the mode. */
static int backup_file(const char *file)
{
    int rc = 0;
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno;
    if (fchmod(fd, 0600) != 0)
        rc = errno;
    close(fd);
    return rc;
}

/* Copy the live records of @p st into the new data file @p file. */
static int backup_copy(tafel_store *st, const char *file, bool new_id)
{
    MDB_env *env;
    MDB_txn *from;
    int fd = -1;
    /* The live map holds the live records with room to spare; should the
     * copy need more after all, it starts again in a larger map. */
    size_t size = tafel_store_map_size(st);
    int rc = backup_file(file);
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
        rc = mdb_env_open(env, file, MDB_NOLOCK | MDB_NOSUBDIR, 0600);
    if (!rc)
        rc = mdb_env_get_fd(env, &fd);
    while (!rc) {
        rc = store__read_begin(st, &from);
        if (rc)
            break;
        rc = backup_fill(st, from, env, new_id);
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

enum tafel_err tafel_store_backup(tafel_store *st, const char *path, struct tafel_errinfo *info)
{
    char file[PATH_MAX];
    bool made;
    enum tafel_err err;

    tafel_errinfo_clear(info);
    if (!path)
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no backup directory given");
    if (!dir_file(file, sizeof(file), path, "data.mdb"))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "path too long: %s", path);
    err = dir_prepare_new(path, false, &made, info);
    if (err)
        return err;
    /* Whatever the umask, and whatever mode an existing empty directory had;
     * closed before anything is written into it. */
    int rc = chmod(path, 0700) != 0 ? errno : 0;
    if (!rc)
        rc = backup_copy(st, file, true);
    /* The file's data was synced by the commit; its name needs the directory's. */
    if (!rc)
        rc = path_sync(path);
    if (rc) {
        dir_undo(path, made, false);
        return store__errinfo(info, rc, "backup to %s failed", path);
    }
    return TAFEL_E_OK;
}

static int file_size(const char *path, uint64_t *size)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno;
    *size = (uint64_t)sb.st_size;
    return 0;
}

enum tafel_err tafel_store_compact(const char *dir, const struct tafel_store_options *opt,
                                   uint64_t *before, uint64_t *after, struct tafel_errinfo *info)
{
    char data[PATH_MAX], copy[PATH_MAX], lmdb_lock[PATH_MAX];
    uint64_t size = 0;
    tafel_store *st;

    tafel_errinfo_clear(info);
    if (!dir || (opt && opt->read_only))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "no writable directory given");
    if (!dir_file(data, sizeof(data), dir, "data.mdb") ||
        !dir_file(copy, sizeof(copy), dir, COMPACT_FILE) ||
        !dir_file(lmdb_lock, sizeof(lmdb_lock), dir, "lock.mdb"))
        return tafel_errinfo_set(info, TAFEL_E_INVALID_ARG, NULL, "path too long: %s", dir);
    /* Brings an older directory up to date, and refuses while a server runs. */
    enum tafel_err err = tafel_store_open(dir, opt, false, &st, info);
    if (err)
        return err;
    /* The directory's lock outlives the environment: held until the new
     * file is in place. */
    int lock_fd = st->lock_fd;
    st->lock_fd = -1;
    int rc = file_size(data, &size);
    if (!rc && before)
        *before = size;
    /* A copy an interrupted run left: never renamed, so not the data. */
    if (!rc && unlink(copy) != 0 && errno != ENOENT)
        rc = errno;
    if (!rc)
        rc = backup_copy(st, copy, false);
    if (!rc)
        rc = path_sync(copy);
    /* Nothing may read or write the old file any more. */
    tafel_store_close(st);
    if (!rc && rename(copy, data) != 0)
        rc = errno;
    /* LMDB's lock file records the old file's last transaction, which its
     * readers and writer would go by; the next to open makes a new one.
     * (A crash before this leaves it to the next opener, which, alone with
     * it, starts it afresh all the same.) */
    if (!rc && unlink(lmdb_lock) != 0 && errno != ENOENT)
        rc = errno;
    if (!rc)
        rc = path_sync(dir);
    if (!rc && after)
        rc = file_size(data, after);
    if (rc) {
        unlink(copy); /* gone already once renamed */
        err = store__errinfo(info, rc, "compaction of %s failed", dir);
    }
    lock_release(lock_fd);
    return err;
}
