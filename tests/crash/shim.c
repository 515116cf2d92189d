/*
 * shim.c - the crash test's LD_PRELOAD library: it keeps an undo journal of
 * every write to one file (the data directory's data.mdb) that the file
 * system has not yet been asked to make durable, so that after `kill -9`
 * tests/crash/crash_test.py can put the file back the way a power cut would
 * have left it (docs/durability.md).
 *
 * Why: `kill -9` keeps the page cache, so a test that only kills the server
 * passes even with syncing turned off. A power cut loses whatever was
 * written but not synced. This shim records, before each write, the bytes
 * it is about to overwrite (and the file's size); a successful fsync or
 * fdatasync of the file makes every write before it durable, and so does the
 * return of a write through a descriptor opened with O_DSYNC or O_SYNC (LMDB
 * writes its meta page that way). The harness later undoes the writes that
 * were not durable: all of them, or a random subset of their pages.
 *
 * Environment:
 *   TAFEL_CRASH_FILE     the file to track (compared by device and inode on
 *                        every open, so any path to it counts)
 *   TAFEL_CRASH_JOURNAL  the journal to append to (created; must not be on
 *                        the tracked file's path)
 * Without both the shim does nothing but pass calls through.
 *
 * The journal only has to survive the death of this process, not a power
 * cut: it is appended with write(2) into the page cache and never synced.
 * Each record is written completely before the write it describes is
 * started, so a record cut short by the kill (the last one) describes a
 * write that never began. Records (native byte order, x86-64):
 *
 *   struct rec { char magic[4] "TCJ1"; u32 type; u64 id, off, len, size, old_len; }
 *   followed by old_len bytes
 *
 *   REC_WRITE   write number id will replace len bytes at off; the file had
 *               size bytes; the old_len bytes that follow are what was there
 *               (old_len = min(len, size - off), 0 beyond the end)
 *   REC_DURABLE write number id (through an O_DSYNC descriptor) returned:
 *               its bytes are on disk
 *   REC_SYNC    an fsync/fdatasync returned: writes up to number id are on
 *               disk
 *   REC_BASE    the journal was emptied after a sync that covered every
 *               write so far (id = writes so far, len = syncs so far); what
 *               the file holds now is the durable base
 *   REC_OPEN    the tracked file was opened (id = the descriptor, len = 1
 *               when it writes synchronously)
 *
 * What it does not model, and refuses loudly (abort) rather than pass a test
 * it cannot judge: a shared writable mapping of the file (LMDB's
 * MDB_WRITEMAP, whose msync it would have to follow), ftruncate/fallocate of
 * the file. LMDB 0.9.24 without MDB_WRITEMAP uses none of them on data.mdb:
 * pwrite and lseek+writev on one descriptor, fdatasync on it, pwrite on a
 * second O_DSYNC descriptor for the meta page. Descriptors duplicated with
 * dup/fcntl are not followed (LMDB does not duplicate them).
 */
/* Our wrappers replace the functions fortification would inline. */
#undef _FORTIFY_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FD      4096   /* descriptors we can follow; beyond: abort */
#define CHUNK       65536  /* pre-image copied in pieces of this size */
#define MAX_RETRIES 100000 /* EINTR and short writes of the journal */
#define MAX_IOV     1024   /* IOV_MAX on Linux */

enum { REC_WRITE = 1, REC_DURABLE = 2, REC_SYNC = 3, REC_BASE = 4, REC_OPEN = 5 };

struct rec {
    char magic[4];
    uint32_t type;
    uint64_t id;
    uint64_t off;
    uint64_t len;
    uint64_t size;
    uint64_t old_len;
};

/* Per descriptor: 0 not tracked, else TRACKED [| DSYNC] [| APPEND]. */
enum { TRACKED = 1, DSYNC = 2, APPEND = 4 };

/* The functions we wrap, as the next object (libc, or a sanitizer's
 * interceptors) defines them. */
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_close)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*real_pwritev64)(int, const struct iovec *, int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fallocate)(int, int, off_t, off_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static void *(*real_mmap64)(void *, size_t, int, int, int, off_t);

extern char **environ;

static pthread_once_t once = PTHREAD_ONCE_INIT;     /* the real functions */
static pthread_once_t act_once = PTHREAD_ONCE_INIT; /* the variables, the journal */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic unsigned char fds[MAX_FD];
static int active;       /* both variables set, journal open */
static int jfd = -1;     /* the journal (O_APPEND) */
static int rfd = -1;     /* the tracked file, read-only: the descriptors
                          * LMDB writes through may be write-only */
static struct stat want; /* device and inode of the tracked file, if it exists */
static const char *want_path;
static uint64_t writes; /* REC_WRITE ids given so far */
static uint64_t syncs;  /* syncs seen */

static void die(const char *what)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg), "crash shim: %s (errno %d); aborting\n", what, errno);
    /* The raw syscall path: stderr's FILE may be locked by the thread we
     * interrupted. */
    if (n > 0 && real_write)
        (void)!real_write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
    abort();
}

static void *next(const char *name)
{
    void *p = dlsym(RTLD_NEXT, name);
    return p;
}

static void resolve(void)
{
    real_open = (int (*)(const char *, int, ...))next("open");
    real_open64 = (int (*)(const char *, int, ...))next("open64");
    real_openat = (int (*)(int, const char *, int, ...))next("openat");
    real_openat64 = (int (*)(int, const char *, int, ...))next("openat64");
    real_close = (int (*)(int))next("close");
    real_write = (ssize_t(*)(int, const void *, size_t))next("write");
    real_pwrite = (ssize_t(*)(int, const void *, size_t, off_t))next("pwrite");
    real_pwrite64 = (ssize_t(*)(int, const void *, size_t, off_t))next("pwrite64");
    real_writev = (ssize_t(*)(int, const struct iovec *, int))next("writev");
    real_pwritev = (ssize_t(*)(int, const struct iovec *, int, off_t))next("pwritev");
    real_pwritev64 = (ssize_t(*)(int, const struct iovec *, int, off_t))next("pwritev64");
    real_fsync = (int (*)(int))next("fsync");
    real_fdatasync = (int (*)(int))next("fdatasync");
    real_ftruncate = (int (*)(int, off_t))next("ftruncate");
    real_ftruncate64 = (int (*)(int, off_t))next("ftruncate64");
    real_fallocate = (int (*)(int, int, off_t, off_t))next("fallocate");
    real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))next("mmap");
    real_mmap64 = (void *(*)(void *, size_t, int, int, int, off_t))next("mmap64");
    if (!real_open || !real_openat || !real_close || !real_write || !real_pwrite || !real_writev ||
        !real_pwritev || !real_fsync || !real_fdatasync || !real_ftruncate || !real_fallocate ||
        !real_mmap)
        die("libc function not found");
}

static void activate(void)
{
    want_path = getenv("TAFEL_CRASH_FILE");
    const char *journal = getenv("TAFEL_CRASH_JOURNAL");
    if (!want_path || !*want_path || !journal || !*journal)
        return;
    jfd = real_open(journal, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (jfd < 0)
        die("cannot open TAFEL_CRASH_JOURNAL");
    if (stat(want_path, &want) != 0)
        want.st_ino = 0; /* not there yet: compared again at each open */
    active = 1;
}

static void init(void)
{
    pthread_once(&once, resolve);
    /* A sanitizer's runtime calls in here before libc has set up the
     * environment: look for our variables only once it exists. */
    if (environ)
        pthread_once(&act_once, activate);
}

static unsigned fd_flags(int fd)
{
    if (fd < 0 || fd >= MAX_FD)
        return 0;
    return atomic_load_explicit(&fds[fd], memory_order_relaxed);
}

/* --------------------------------------------------------------- journal */

static void put_all(const void *p, size_t n)
{
    const char *c = p;
    for (int tries = 0; n > 0; tries++) {
        if (tries >= MAX_RETRIES)
            die("journal write makes no progress");
        ssize_t w = real_write(jfd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot write the journal");
        c += w;
        n -= (size_t)w;
    }
}

static void put_rec(uint32_t type, uint64_t id, uint64_t off, uint64_t len, uint64_t size,
                    uint64_t old_len)
{
    struct rec r = {.magic = {'T', 'C', 'J', '1'},
                    .type = type,
                    .id = id,
                    .off = off,
                    .len = len,
                    .size = size,
                    .old_len = old_len};
    put_all(&r, sizeof(r));
}

/* Journal the pre-image of [off, off+len) before the write; returns its id.
 * Called with mu held. */
static uint64_t before_write(uint64_t off, uint64_t len)
{
    static char buf[CHUNK]; /* under mu */
    struct stat sb;

    if (fstat(rfd, &sb) != 0)
        die("cannot stat the tracked file");
    uint64_t size = (uint64_t)sb.st_size;
    uint64_t old_len = off >= size ? 0 : (len < size - off ? len : size - off);
    uint64_t id = ++writes;
    put_rec(REC_WRITE, id, off, len, size, old_len);
    /* Bounded: each round copies at least one byte, or is one of a limited
     * number of interrupted reads, or dies. */
    int tries = 0;
    for (uint64_t done = 0; done < old_len;) {
        size_t want_n = old_len - done < CHUNK ? (size_t)(old_len - done) : CHUNK;
        ssize_t r = pread(rfd, buf, want_n, (off_t)(off + done));
        if (r < 0 && errno == EINTR && ++tries < MAX_RETRIES)
            continue;
        if (r <= 0)
            die("cannot read the bytes a write will replace");
        put_all(buf, (size_t)r);
        done += (uint64_t)r;
    }
    return id;
}

static void after_write(unsigned flags, uint64_t id, ssize_t rc)
{
    /* O_DSYNC: the call returns once its bytes are on disk. */
    if ((flags & DSYNC) && rc > 0)
        put_rec(REC_DURABLE, id, 0, (uint64_t)rc, 0, 0);
}

/* The offset a write(2)/writev(2) on fd will use. */
static uint64_t cur_offset(int fd, unsigned flags)
{
    struct stat sb;
    if (flags & APPEND) {
        if (fstat(fd, &sb) != 0)
            die("cannot stat the tracked file");
        return (uint64_t)sb.st_size;
    }
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0)
        die("cannot tell the tracked file's position");
    return (uint64_t)pos;
}

static uint64_t iov_len(const struct iovec *iov, int cnt)
{
    uint64_t n = 0;
    for (int i = 0; i < cnt && i < MAX_IOV; i++)
        n += iov[i].iov_len;
    return n;
}

/* ---------------------------------------------------------- descriptors */

static void track(int fd, int oflags)
{
    struct stat sb;
    char self[64];

    if (!active || fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        return;
    if (want.st_ino == 0 && stat(want_path, &want) != 0)
        return;
    if (sb.st_dev != want.st_dev || sb.st_ino != want.st_ino)
        return;
    if (fd >= MAX_FD)
        die("tracked file opened on a descriptor beyond the shim's table");
    unsigned flags = TRACKED;
    /* O_SYNC includes the O_DSYNC bit on Linux. */
    if (oflags & O_DSYNC)
        flags |= DSYNC;
    if (oflags & O_APPEND)
        flags |= APPEND;
    pthread_mutex_lock(&mu);
    if (rfd < 0) {
        snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
        rfd = real_open(self, O_RDONLY | O_CLOEXEC);
        if (rfd < 0)
            die("cannot open the tracked file for reading");
    }
    atomic_store(&fds[fd], (unsigned char)flags);
    put_rec(REC_OPEN, (uint64_t)fd, 0, (flags & DSYNC) ? 1 : 0, 0, 0);
    pthread_mutex_unlock(&mu);
}

static int open_mode(int oflags, va_list ap)
{
    /* The mode argument exists only with these flags (see open(2)). */
    if ((oflags & O_CREAT) || (oflags & O_TMPFILE) == O_TMPFILE)
        return va_arg(ap, int);
    return 0;
}

int open(const char *path, int oflags, ...)
{
    va_list ap;
    init();
    va_start(ap, oflags);
    int mode = open_mode(oflags, ap);
    va_end(ap);
    int fd = real_open(path, oflags, mode);
    track(fd, oflags);
    return fd;
}

int open64(const char *path, int oflags, ...)
{
    va_list ap;
    init();
    va_start(ap, oflags);
    int mode = open_mode(oflags, ap);
    va_end(ap);
    int fd = real_open64 ? real_open64(path, oflags, mode) : real_open(path, oflags, mode);
    track(fd, oflags);
    return fd;
}

int openat(int dirfd, const char *path, int oflags, ...)
{
    va_list ap;
    init();
    va_start(ap, oflags);
    int mode = open_mode(oflags, ap);
    va_end(ap);
    int fd = real_openat(dirfd, path, oflags, mode);
    track(fd, oflags);
    return fd;
}

int openat64(int dirfd, const char *path, int oflags, ...)
{
    va_list ap;
    init();
    va_start(ap, oflags);
    int mode = open_mode(oflags, ap);
    va_end(ap);
    int fd = real_openat64 ? real_openat64(dirfd, path, oflags, mode)
                           : real_openat(dirfd, path, oflags, mode);
    track(fd, oflags);
    return fd;
}

int close(int fd)
{
    init();
    /* Forget it first: once closed, the number may name another file. */
    if (fd_flags(fd))
        atomic_store(&fds[fd], 0);
    return real_close(fd);
}

/* ----------------------------------------------------------- the writes */

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    init();
    unsigned flags = fd_flags(fd);
    if (!flags)
        return real_pwrite(fd, buf, n, off);
    pthread_mutex_lock(&mu);
    uint64_t id = before_write((uint64_t)off, n);
    ssize_t rc = real_pwrite(fd, buf, n, off);
    int err = errno;
    after_write(flags, id, rc);
    pthread_mutex_unlock(&mu);
    errno = err;
    return rc;
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    init();
    if (!real_pwrite64 || fd_flags(fd))
        return pwrite(fd, buf, n, off);
    return real_pwrite64(fd, buf, n, off);
}

ssize_t write(int fd, const void *buf, size_t n)
{
    init();
    unsigned flags = fd_flags(fd);
    if (!flags)
        return real_write(fd, buf, n);
    pthread_mutex_lock(&mu);
    uint64_t id = before_write(cur_offset(fd, flags), n);
    ssize_t rc = real_write(fd, buf, n);
    int err = errno;
    after_write(flags, id, rc);
    pthread_mutex_unlock(&mu);
    errno = err;
    return rc;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    init();
    unsigned flags = fd_flags(fd);
    if (!flags)
        return real_writev(fd, iov, cnt);
    pthread_mutex_lock(&mu);
    uint64_t id = before_write(cur_offset(fd, flags), iov_len(iov, cnt));
    ssize_t rc = real_writev(fd, iov, cnt);
    int err = errno;
    after_write(flags, id, rc);
    pthread_mutex_unlock(&mu);
    errno = err;
    return rc;
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    init();
    unsigned flags = fd_flags(fd);
    if (!flags)
        return real_pwritev(fd, iov, cnt, off);
    pthread_mutex_lock(&mu);
    uint64_t id = before_write((uint64_t)off, iov_len(iov, cnt));
    ssize_t rc = real_pwritev(fd, iov, cnt, off);
    int err = errno;
    after_write(flags, id, rc);
    pthread_mutex_unlock(&mu);
    errno = err;
    return rc;
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    init();
    if (!real_pwritev64 || fd_flags(fd))
        return pwritev(fd, iov, cnt, off);
    return real_pwritev64(fd, iov, cnt, off);
}

/* ------------------------------------------------------------ the syncs */

static int after_sync(int fd, int rc, uint64_t covered)
{
    int err = errno;
    if (rc != 0 || !fd_flags(fd))
        return rc;
    pthread_mutex_lock(&mu);
    syncs++;
    put_rec(REC_SYNC, covered, 0, 0, 0, 0);
    /* Nothing was written while the sync ran: everything in the journal is
     * durable, so what the file holds now is the base. Start afresh, which
     * keeps the journal as small as one transaction. */
    if (covered == writes) {
        for (int tries = 0; real_ftruncate(jfd, 0) != 0; tries++)
            if (errno != EINTR || tries >= MAX_RETRIES)
                die("cannot empty the journal");
        put_rec(REC_BASE, writes, 0, syncs, 0, 0);
    }
    pthread_mutex_unlock(&mu);
    errno = err;
    return rc;
}

static uint64_t writes_now(int fd)
{
    uint64_t n = 0;
    if (!fd_flags(fd))
        return 0;
    pthread_mutex_lock(&mu);
    n = writes;
    pthread_mutex_unlock(&mu);
    return n;
}

int fsync(int fd)
{
    init();
    /* A sync covers the writes that returned before it began. */
    uint64_t covered = writes_now(fd);
    return after_sync(fd, real_fsync(fd), covered);
}

int fdatasync(int fd)
{
    init();
    uint64_t covered = writes_now(fd);
    return after_sync(fd, real_fdatasync(fd), covered);
}

/* ------------------------------------------------ what we do not model */

int ftruncate(int fd, off_t len)
{
    init();
    if (fd_flags(fd))
        die("ftruncate of the tracked file is not modelled");
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len)
{
    init();
    if (fd_flags(fd))
        die("ftruncate of the tracked file is not modelled");
    return real_ftruncate64 ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    init();
    if (fd_flags(fd))
        die("fallocate of the tracked file is not modelled");
    return real_fallocate(fd, mode, off, len);
}

static void check_map(int prot, int flags, int fd)
{
    /* A shared writable mapping (MDB_WRITEMAP) writes without a syscall. */
    if (fd_flags(fd) && (prot & PROT_WRITE) && (flags & MAP_SHARED))
        die("a shared writable mapping of the tracked file is not modelled");
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    init();
    check_map(prot, flags, fd);
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    init();
    check_map(prot, flags, fd);
    return real_mmap64 ? real_mmap64(addr, len, prot, flags, fd, off)
                       : real_mmap(addr, len, prot, flags, fd, off);
}
