/*
 * server.c - the tafeld under measurement: starting our own on a temporary
 * data directory, stopping it, and reading what it costs.
 *
 * By default tafel-bench starts the tafeld of its own build tree so that it
 * can read the process's resident memory and CPU time from /proc before and
 * after a phase: the figures a user asks for ("how much memory per
 * connection, how much CPU for 200,000 deliveries a second") are about the
 * server, not about us. The server logs at warn level (info logs a line per
 * hello and per write, which would measure stderr), so its port cannot be
 * read from the log: we take a free port from the kernel and hand it over,
 * and readiness is /healthz answering, which is also what cold start times.
 *
 * The HTTP client here is deliberately tiny and blocking: it is used only
 * between phases (/healthz, /metrics), never while measuring latency.
 */
#include "bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int64_t bench_self_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * BENCH_NS_PER_S +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------ temp dirs */

int bench_tmpdir_new(struct bench_server *s, char *err, size_t errlen)
{
    const char *base = getenv("TMPDIR");
    snprintf(s->tmpdir, sizeof(s->tmpdir), "%s/tafel-bench.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(s->tmpdir)) {
        snprintf(err, errlen, "mkdtemp %s: %s", s->tmpdir, strerror(errno));
        s->tmpdir[0] = '\0';
        return -1;
    }
    snprintf(s->datadir, sizeof(s->datadir), "%s/data", s->tmpdir);
    snprintf(s->logpath, sizeof(s->logpath), "%s/tafeld.log", s->tmpdir);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void bench_tmpdir_remove(struct bench_server *s)
{
    if (s->tmpdir[0])
        nftw(s->tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    s->tmpdir[0] = '\0';
}

/* The last ~1 KiB of the server's log, for an error message. */
static void log_tail(const struct bench_server *s, char *out, size_t outlen)
{
    out[0] = '\0';
    int fd = open(s->logpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > 1000 ? size - 1000 : 0;
    ssize_t n = pread(fd, out, outlen - 1, from);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

/* ------------------------------------------------------------- processes */

/* fork + exec @p argv with stdout to @p out_fd and stderr to the log. */
static pid_t spawn(char *const argv[], int out_fd, const struct bench_server *s)
{
    int log_fd = open(s->logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        /* Never outlive the load generator, however it ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        dup2(out_fd >= 0 ? out_fd : log_fd, 1);
        dup2(log_fd, 2);
        execv(argv[0], argv);
        dprintf(log_fd, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(log_fd);
    return pid;
}

/* Wait at most @p timeout_ms for @p pid; returns its status, -1 on timeout,
 * -2 when it is not (or no longer) our child to wait for. */
static int wait_for(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -2;
        sleep_ms(10);
    }
    return -1;
}

int bench_server_init(const char *tafeld, struct bench_server *s, char *err, size_t errlen)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        return -1;
    }
    char *argv[] = {(char *)tafeld, "init", "--data", s->datadir, NULL};
    pid_t pid = spawn(argv, pfd[1], s);
    close(pfd[1]);
    char out[4096];
    size_t len = 0;
    int64_t deadline = bench_now_ns() + 60 * BENCH_NS_PER_S;
    while (pid > 0 && len < sizeof(out) - 1 && bench_now_ns() < deadline) {
        struct pollfd p = {.fd = pfd[0], .events = POLLIN};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = read(pfd[0], out + len, sizeof(out) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(pfd[0]);
    out[len] = '\0';
    int status = pid > 0 ? wait_for(pid, 10000) : -1;
    if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char tail[1024];
        log_tail(s, tail, sizeof(tail));
        snprintf(err, errlen, "%s init --data %s failed: %s", tafeld, s->datadir, tail);
        if (status == -1 && pid > 0) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
        return -1;
    }
    /* The key is alone on the last non-empty line. */
    while (len && (out[len - 1] == '\n' || out[len - 1] == '\r'))
        out[--len] = '\0';
    char *line = strrchr(out, '\n');
    line = line ? line + 1 : out;
    if (strncmp(line, "tafel_", 6) != 0 || strlen(line) >= sizeof(s->key)) {
        snprintf(err, errlen, "tafeld init: no key on its last line");
        return -1;
    }
    snprintf(s->key, sizeof(s->key), "%s", line);
    return 0;
}

/* A port of 127.0.0.1 the kernel considers free right now. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int bench_server_start(const char *tafeld, struct bench_server *s, const char *const *extra,
                       int64_t timeout_ns, char *err, size_t errlen)
{
    snprintf(s->host, sizeof(s->host), "127.0.0.1");
    /* Another process may take the port between our probe and the server's
     * bind: then the server exits at once and we try another port. */
    for (int attempt = 0; attempt < 3; attempt++) {
        s->port = free_port();
        char listen[32], maxconn[24];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
        /* As many connections as the descriptors it inherits allow (we
         * raised our soft limit to the hard one), less a few for itself. */
        struct rlimit rl;
        long fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? (long)rl.rlim_cur
                       : 1000000;
        snprintf(maxconn, sizeof(maxconn), "%ld", fds > 1088 ? fds - 64 : 1024);
        const char *argv[32] = {tafeld,
                                "serve",
                                "--data",
                                s->datadir,
                                "--listen",
                                listen,
                                "--write-rate",
                                "0",
                                /* every simulated client comes from 127.0.0.1 */
                                "--address-write-rate",
                                "0",
                                "--max-per-address",
                                "1000000",
                                "--max-connections",
                                maxconn,
                                "--log-level",
                                "warn"};
        size_t n = 16;
        for (size_t i = 0; extra && extra[i] && n < 31; i++)
            argv[n++] = extra[i];
        argv[n] = NULL;
        s->start_ns = bench_now_ns();
        s->pid = spawn((char *const *)argv, -1, s);
        if (s->pid < 0) {
            snprintf(err, errlen, "cannot start %s: %s", tafeld, strerror(errno));
            return -1;
        }
        s->watch_pid = s->pid;
        int64_t deadline = s->start_ns + timeout_ns;
        int status;
        while (bench_now_ns() < deadline) {
            if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
                s->pid = s->watch_pid = 0;
                break;
            }
            if (bench_http_get(s->host, s->port, "/healthz", 1000, NULL) == 200) {
                s->ready_ns = bench_now_ns();
                return 0;
            }
            sleep_ms(1);
        }
        char tail[1024];
        log_tail(s, tail, sizeof(tail));
        if (s->pid) {
            snprintf(err, errlen, "tafeld did not answer /healthz within %.0f s; its log: %s",
                     (double)timeout_ns / 1e9, tail);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, NULL, 0);
            s->pid = s->watch_pid = 0;
            return -1;
        }
        snprintf(err, errlen, "tafeld exited at start; its log: %s", tail);
        if (!strstr(tail, "cannot listen"))
            return -1;
    }
    return -1;
}

int bench_server_stop(struct bench_server *s, char *err, size_t errlen)
{
    if (s->pid <= 0)
        return 0;
    pid_t pid = s->pid;
    s->pid = s->watch_pid = 0;
    kill(pid, SIGTERM);
    int status = wait_for(pid, 10000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        snprintf(err, errlen, "tafeld did not stop within 10 s of SIGTERM");
        return -1;
    }
    if (status == -2) {
        snprintf(err, errlen, "tafeld had already exited");
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char tail[1024];
    log_tail(s, tail, sizeof(tail));
    snprintf(err, errlen, "tafeld stopped with %s %d; its log: %s",
             WIFSIGNALED(status) ? "signal" : "status",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), tail);
    return -1;
}

/* ------------------------------------------------------------------ /proc */

int64_t bench_proc_rss(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = pid > 0 ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    long long kb = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* utime + stime in ns from a /proc stat file (a process's or a thread's), -1 when unreadable. */
static int64_t stat_cpu_ns(const char *path)
{
    char buf[1024];
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and ')': fields count from the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    return (int64_t)((utime + stime) * (BENCH_NS_PER_S / (unsigned long long)hz));
}

int64_t bench_proc_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    return pid > 0 ? stat_cpu_ns(path) : -1;
}

pid_t bench_proc_thread(pid_t pid, const char *comm)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = pid > 0 ? opendir(path) : NULL;
    if (!d)
        return -1;
    pid_t found = -1;
    struct dirent *e;
    while (found < 0 && (e = readdir(d))) {
        char cpath[96], name[64];
        char *end;
        long tid = strtol(e->d_name, &end, 10);
        if (tid <= 0 || *end) /* "." and ".." */
            continue;
        snprintf(cpath, sizeof(cpath), "%s/%ld/comm", path, tid);
        FILE *f = fopen(cpath, "r");
        if (!f)
            continue; /* the thread has just exited */
        /* comm is the name and a newline (at most 15 bytes of name). */
        if (fgets(name, sizeof(name), f)) {
            name[strcspn(name, "\n")] = '\0';
            if (strcmp(name, comm) == 0)
                found = (pid_t)tid;
        }
        fclose(f);
    }
    closedir(d);
    return found;
}

int64_t bench_proc_thread_cpu_ns(pid_t pid, pid_t tid)
{
    char path[80];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    return pid > 0 && tid > 0 ? stat_cpu_ns(path) : -1;
}

/* ------------------------------------------------------------------- HTTP */

int bench_http_get(const char *host, int port, const char *path, int timeout_ms, char **body)
{
    if (body)
        *body = NULL;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    char req[256];
    int rl =
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n",
                 path, host, port);
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap);
    int status = -1;
    if (!buf || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        send(fd, req, (size_t)rl, MSG_NOSIGNAL) != rl)
        goto cleanup;
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                goto cleanup;
            buf = nb;
            cap *= 2;
        }
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        /* Stop at Content-Length rather than relying on the server closing. */
        char *hend = strstr(buf, "\r\n\r\n");
        char *cl = hend ? strcasestr(buf, "\r\ncontent-length:") : NULL;
        if (cl && cl < hend && len >= (size_t)(hend + 4 - buf) + strtoul(cl + 17, NULL, 10))
            break;
    }
    if (len == 0)
        goto cleanup;
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
        status = -1;
        goto cleanup;
    }
    char *hend = strstr(buf, "\r\n\r\n");
    if (body && hend) {
        *body = strdup(hend + 4);
        if (!*body)
            status = -1;
    }
cleanup:
    free(buf);
    close(fd);
    return status;
}

double bench_metric(const char *text, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ' ')
            return strtod(p + nl + 1, NULL);
    }
    return -1;
}
