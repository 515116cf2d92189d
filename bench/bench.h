/*
 * bench.h - tafel-bench, Tafel's load generator: the pieces its files share.
 *
 * tafel-bench speaks tafel.v1 to a real tafeld and reports figures a user can
 * trust. It is one process with one epoll loop over non-blocking TCP sockets
 * and a minimal WebSocket client of its own (wsclient.c): a libwebsockets
 * client context costs several KiB and a callback round per event on the
 * client side, which at 10,000 connections or 200,000 deliveries a second
 * would make the load generator, not the server, the thing measured.
 *
 *   wsclient.c   the loop and the WebSocket client (handshake, masking,
 *                fragments, ping/pong, close)
 *   server.c     starting and stopping a tafeld of our own, /proc figures,
 *                tiny blocking HTTP GETs (/healthz, /metrics), temp dirs
 *   gen.c        building a data directory of D documents through storage/
 *   report.c     latency histograms, figures over runs, the table and JSON
 *   scenarios.c  the five scenarios
 *   main.c       the command line
 *
 * Every wait is bounded by a deadline; nothing here retries forever.
 */
#ifndef TAFEL_BENCH_H
#define TAFEL_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

/* ------------------------------------------------------------------ time */

/** @brief CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns(void);

/** @brief This process's CPU time (user + system) in nanoseconds. */
int64_t bench_self_cpu_ns(void);

#define BENCH_NS_PER_MS 1000000LL
#define BENCH_NS_PER_S  1000000000LL

/* ------------------------------------------------------- the event loop */

enum wsc_state {
    WSC_IDLE,       /* not connected (never, or closed) */
    WSC_CONNECTING, /* TCP connect in progress */
    WSC_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
    WSC_OPEN,       /* frames flow */
    WSC_CLOSING,    /* we sent a close frame, waiting for the peer's */
};

struct wsc;
struct bench_loop;

/** What a connection's owner is told. All optional. Called from the loop. */
struct wsc_ops {
    /** The WebSocket handshake completed. */
    void (*on_open)(struct wsc *c);
    /** One complete text message; @p msg is valid only during the call. */
    void (*on_message)(struct wsc *c, const char *msg, size_t len);
    /** The connection is gone (c->close_code: the peer's close code, 0 when
     *  the socket failed or closed without a close frame; c->error says why). */
    void (*on_close)(struct wsc *c);
};

/**
 * One client WebSocket. The caller owns the struct (typically an array of
 * them) and must keep it in place while it is not WSC_IDLE; the loop owns
 * the buffers, released by wsc_reset() and when the connection closes.
 */
struct wsc {
    int fd;
    enum wsc_state state;
    const struct wsc_ops *ops;
    uint32_t id; /* the caller's index, for its own per-connection arrays */
    void *user;  /* the caller's, set after wsc_connect() */
    struct bench_loop *loop;
    uint32_t epoll_mask;
    uint32_t mask_rng; /* xorshift state for the frame masks */
    char *in;          /* received bytes not yet consumed */
    size_t in_len, in_cap;
    char *out; /* bytes to send (framed and masked) */
    size_t out_off, out_len, out_cap;
    char *frag; /* a fragmented message being reassembled */
    size_t frag_len, frag_cap;
    bool in_frag;
    int close_code;  /* the peer's close code, when it sent one */
    char error[120]; /* why the connection failed, "" when it did not */
};

/**
 * @brief Create the loop (one epoll instance) for connections to
 * 127.0.0.1-style numeric @p host : @p port.
 * @param watch_pid  a server to watch: bench_loop_run() fails once it has
 *                   exited; 0 for none (a server we did not start)
 * @return NULL when out of memory or epoll_create fails (errno set).
 */
struct bench_loop *bench_loop_new(const char *host, int port, pid_t watch_pid);

/** @brief Free the loop; connections must have been reset first. NULL is fine. */
void bench_loop_free(struct bench_loop *L);

/** @brief Connections open right now (not WSC_IDLE). */
size_t bench_loop_open(const struct bench_loop *L);

/**
 * @brief Start connecting @p c (which must be WSC_IDLE) to the loop's
 * address: a non-blocking TCP connect, then the upgrade to tafel.v1.
 * @return 0, or -1 (c->error says why; on_close is not called).
 */
int wsc_connect(struct bench_loop *L, struct wsc *c, uint32_t id, const struct wsc_ops *ops);

/**
 * @brief Send one text message (framed and masked here). Sends at once what
 * the socket takes and queues the rest for EPOLLOUT.
 * @return 0, or -1 (not open, or out of memory).
 */
int wsc_send(struct wsc *c, const char *text, size_t len);

/** @brief Send a close frame with @p code; the socket closes when the peer answers. */
void wsc_close(struct wsc *c, int code);

/** @brief Drop the connection at once (no close handshake, no on_close) and free its buffers. */
void wsc_reset(struct wsc *c);

/**
 * What bench_loop_run() waits for. @p done is asked after every batch of
 * events; @p tick (may be NULL) is called when its last returned time (ns,
 * CLOCK_MONOTONIC) is reached and returns the next one (0: no more ticks).
 */
struct bench_wait {
    bool (*done)(void *arg);
    int64_t (*tick)(void *arg, int64_t now);
    void *arg;
    int64_t next_tick;
    const char *what; /* for the timeout message: "waiting for ..." */
};

/**
 * @brief Run the loop until w->done() or @p deadline_ns.
 * @param err  receives the reason on failure (at least 200 bytes)
 * @return 0 when done, -1 on timeout, a watched server that exited, or an
 *         epoll failure.
 */
int bench_loop_run(struct bench_loop *L, struct bench_wait *w, int64_t deadline_ns, char *err,
                   size_t errlen);

/* ---------------------------------------------------------------- server */

/** A tafeld to measure: one we started (pid > 0), or one we were pointed at. */
struct bench_server {
    char host[64];
    int port;
    pid_t pid;         /* started by us; 0 when external */
    pid_t watch_pid;   /* whose /proc figures we read (pid or --server-pid); 0: none */
    char tmpdir[256];  /* our temp dir ("" when external); removed by bench_server_stop */
    char datadir[300]; /* tmpdir/data */
    char logpath[300]; /* tmpdir/tafeld.log: its stderr */
    char key[80];      /* a beheerder key */
    int64_t start_ns;  /* when it was spawned */
    int64_t ready_ns;  /* when /healthz first answered 200 */
};

/** @brief Create a fresh temp dir for data (mode 0700) in @p s->tmpdir. */
int bench_tmpdir_new(struct bench_server *s, char *err, size_t errlen);

/** @brief `tafeld init --data s->datadir`, the beheerder key into s->key. */
int bench_server_init(const char *tafeld, struct bench_server *s, char *err, size_t errlen);

/**
 * @brief Start `tafeld serve` on s->datadir and a free port of 127.0.0.1 and
 * wait (at most @p timeout_ns) until /healthz answers 200. Extra arguments
 * (NULL-terminated, may be NULL) are appended.
 */
int bench_server_start(const char *tafeld, struct bench_server *s, const char *const *extra,
                       int64_t timeout_ns, char *err, size_t errlen);

/**
 * @brief Stop a server we started (SIGTERM, SIGKILL after 10 s).
 * @return 0 when it exited 0, else -1 with the reason (and its log's tail) in @p err.
 */
int bench_server_stop(struct bench_server *s, char *err, size_t errlen);

/** @brief Remove s->tmpdir and everything in it (if we made one). */
void bench_tmpdir_remove(struct bench_server *s);

/** @brief A watched server's resident memory (VmRSS) in bytes, -1 when unknown. */
int64_t bench_proc_rss(pid_t pid);

/** @brief A watched server's CPU time (utime + stime) in ns, -1 when unknown. */
int64_t bench_proc_cpu_ns(pid_t pid);

/**
 * @brief The thread of process @p pid whose name (/proc comm, as set by
 * pthread_setname_np) is @p comm, e.g. tafeld's "tafel-writer".
 * @return its thread id, -1 when there is none (a server that does not name
 *         its threads) or @p pid is unknown.
 */
pid_t bench_proc_thread(pid_t pid, const char *comm);

/** @brief CPU time (utime + stime) in ns of thread @p tid of @p pid, -1 when unknown. */
int64_t bench_proc_thread_cpu_ns(pid_t pid, pid_t tid);

/**
 * @brief Blocking `GET path` on host:port, at most @p timeout_ms.
 * @return the HTTP status (and the body, malloc'd, in *body; free() it), or
 *         -1 when the server did not answer.
 */
int bench_http_get(const char *host, int port, const char *path, int timeout_ms, char **body);

/** @brief Value of the metric line "NAME VALUE" in Prometheus @p text, or -1. */
double bench_metric(const char *text, const char *name);

/* ------------------------------------------------------------- generator */

/**
 * @brief Fill the data directory @p dir (made by `tafeld init`, no server
 * running on it) with one opgave and @p docs - 1 reflecties, written through
 * storage/ in transactions of @p batch documents.
 */
int bench_generate(const char *dir, uint64_t docs, size_t batch, char *err, size_t errlen);

/* ---------------------------------------------------------------- report */

/**
 * A latency histogram over nanoseconds: log-linear buckets (256 per power of
 * two above 256 ns), so a percentile is within 0.8 % of the truth, in bounded
 * memory however many samples there are. Max is exact.
 */
struct bench_hist {
    uint64_t *bucket;
    uint64_t count;
    int64_t max;
};

int bench_hist_init(struct bench_hist *h);
void bench_hist_free(struct bench_hist *h);
void bench_hist_add(struct bench_hist *h, int64_t ns);
/** @brief The @p q (0..1) quantile in ns (upper edge of its bucket), 0 when empty. */
int64_t bench_hist_quantile(const struct bench_hist *h, double q);

/** How a figure compares to its target. */
enum bench_cmp { BENCH_NO_TARGET, BENCH_AT_MOST, BENCH_AT_LEAST };

/** One figure of one run. */
struct bench_fig {
    const char *name; /* static: "p99 latency" */
    const char *unit; /* static: "ms" */
    double value;
    enum bench_cmp cmp;
    double target;
};

#define BENCH_MAX_FIGS 24

/** What one run of a scenario produced. */
struct bench_run {
    struct bench_fig fig[BENCH_MAX_FIGS];
    size_t nfig;
    char note[512]; /* how something was measured or built, shown once */
};

/** @brief Append a figure (ignored beyond BENCH_MAX_FIGS). */
void bench_fig(struct bench_run *r, const char *name, const char *unit, double value,
               enum bench_cmp cmp, double target);

/**
 * @brief Print the results of @p nruns runs (the median, min and max of each
 * figure, its target and met/missed) as a table on stdout, or with @p json as
 * one JSON object.
 * @param argv     the command line, printed with the results
 * @param options  the scenario's effective options (borrowed)
 * @param errors   what failed (array of strings, borrowed), empty when nothing
 */
void bench_report(const char *scenario, int argc, char **argv, const json_t *options,
                  const struct bench_run *runs, size_t nruns, const json_t *errors, bool json);

/* ------------------------------------------------------------- scenarios */

/** Everything the command line says. */
struct bench_opts {
    const char *tafeld; /* path of the tafeld to start */
    const char *url;    /* ws://HOST:PORT/ws of a running server, or NULL */
    const char *key;    /* its beheerder key (with url) */
    pid_t server_pid;   /* with url: whose /proc figures to read */
    int runs;
    bool json;
    int64_t slack_ns; /* added to every scenario's own deadline */
    /* scenario sizes */
    long count, concurrency; /* connections */
    long subscribers, rate;  /* fanout */
    double duration;         /* fanout, writes: seconds */
    long writers, depth;     /* writes: connections, requests in flight each */
    long changes;            /* catchup */
    long docs, batch;        /* coldstart */
    const char *data;        /* coldstart: reuse this data directory */
};

/**
 * A scenario's one run against server @p s (already started, or external).
 * Fills @p r; returns 0, or -1 with the reason in @p err (lost events, error
 * replies, a timeout, the server died).
 */
typedef int (*bench_scenario_fn)(const struct bench_opts *o, struct bench_server *s,
                                 struct bench_run *r, char *err, size_t errlen);

int bench_connections(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                      char *err, size_t errlen);
int bench_fanout(const struct bench_opts *o, struct bench_server *s, struct bench_run *r, char *err,
                 size_t errlen);
int bench_writes(const struct bench_opts *o, struct bench_server *s, struct bench_run *r, char *err,
                 size_t errlen);
int bench_catchup(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                  char *err, size_t errlen);
/** Cold start is the one that starts (and stops) the server itself, on
 *  s->datadir, which the caller has filled. */
int bench_coldstart(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                    char *err, size_t errlen);

#endif
