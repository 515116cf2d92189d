/*
 * server.h - tafeld's internal model: the server, its connections and the
 * frames queued to them. Internal to server/.
 *
 * Threads: the libwebsockets service loop (the "loop") owns every socket,
 * every `struct conn` and the hub; the writer thread (writer.c) owns LMDB
 * write transactions. They meet only in the writer's queues, under its mutex.
 */
#ifndef TAFEL_SERVER_H
#define TAFEL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "log.h"
#include "perm.h"
#include "rate.h"
#include "tafel_assembler.h"
#include "tafel_protocol.h"
#include "tafel_store.h"

struct lws;
struct lws_context;
struct tafel_writer;
struct tafel_server;

/* ------------------------------------------------------------- settings */

#define TAFEL_MAX_ORIGINS 16

struct tafel_config {
    const char *data_dir;
    char host[64];
    int port;
    size_t max_message; /* bytes; over it: close 1009 */
    const char *origins[TAFEL_MAX_ORIGINS];
    size_t norigins; /* 0: any Origin (and non-browser clients) */
    const char *tls_cert, *tls_key;
    unsigned max_connections;
    unsigned max_per_address;
    double write_rate;                  /* writes/s per key, burst 2x; 0 = unlimited */
    double session_write_rate;          /* writes/s per joined session, burst 2x; 0 = unlimited */
    double address_write_rate;          /* writes/s per peer address, burst 2x; 0 = unlimited */
    uint64_t session_max_contributions; /* reflecties per session; 0 = no quota */
    uint64_t session_max_bytes;         /* stored reflectie bytes per session; 0 = no quota */
    size_t max_queued_bytes;            /* output queued to all connections together */
    uint64_t max_lag;                   /* changes behind before 4408 */
    uint64_t retain;                    /* change-log entries kept; 0 = all */
    size_t ring_size;                   /* recent events kept serialised in memory */
    size_t max_queue_bytes;             /* replies queued to one connection before 4408 */
    const char *web_dir;
};

/* ---------------------------------------------------------------- frames */

/** One message ready to send: `buf` has LWS_PRE bytes of headroom before the
 *  `len` bytes of JSON (as the protocol/ serialisers return it). */
struct frame {
    struct frame *next;
    char *buf; /* owned; free() */
    size_t len;
};

/** @brief Wrap a serialised buffer (taken over) in a frame; NULL on OOM
 *  (then @p buf is freed). */
struct frame *frame_new(char *buf, size_t len);
void frame_free(struct frame *f);

/* ------------------------------------------------------------ connections */

/** One subscription of a connection: an opgave (or "*") and the seq from
 *  which its live events are due (what came before was sent as backlog or
 *  is in the snapshot). */
struct sub {
    char opgave[TAFEL_ID_MAX + 1]; /* "*" for all in scope */
    uint64_t from_seq;
    char session[TAFEL_ID_MAX + 1]; /* present in this session, "" if none */
    bool presence_sent;             /* has had the session's full presence list */
};

#define TAFEL_MAX_SUBS 16

/** A `sub` still being answered: its missed changes streamed from the
 *  change log, or its snapshot waiting for the connection's output to drain;
 *  the connection reads no further requests meanwhile. */
struct backlog {
    bool active;
    bool snapshot; /* send a snapshot (when the queue is empty), not the log */
    char opgave[TAFEL_ID_MAX + 1];
    char session[TAFEL_ID_MAX + 1];
    uint64_t pos, end; /* changes in (pos, end] remain */
    json_t *req;       /* the sub's req, echoed in the final ok (owned) */
    /* snapshot: its frames once built (owned; counted in queued_bytes) */
    bool snap_built;
    uint64_t snap_seq;
    struct frame *snap_head, *snap_tail;
    size_t snap_bytes;
};

/**
 * A WebSocket connection, from ESTABLISHED until the last reference goes.
 * lws's per-session data holds only a pointer to it, because writes queued
 * to the writer thread may outlive the socket: they hold a reference, and
 * `wsi` is NULL once the socket closed.
 */
struct conn {
    struct lws *wsi; /* NULL once closed */
    unsigned refs;
    uint64_t id;
    struct conn *prev, *next; /* server's list of live connections */
    char addr[64];            /* peer address, for per-address limits */
    int64_t opened_ms;        /* monotonic */

    bool authed;
    struct tafel_actor actor;
    int64_t refuse_at_ms; /* a failed join is answered then (monotonic); 0: none */
    json_t *refuse_req;   /* ... echoing this req (owned) */

    /* receive: reassembly of fragmented messages */
    struct tafel_assembler rx;
    bool rx_paused;

    /* send: replies and catch-up frames first, then live events by cursor */
    struct frame *q_head, *q_tail;
    size_t q_bytes;  /* counted in the server's queued_bytes too */
    size_t inflight; /* of the last write, what lws still buffers (also counted) */
    uint64_t cursor; /* every change <= cursor has been sent or skipped */
    /* Most connections hold one subscription: the array grows on demand (up
     * to TAFEL_MAX_SUBS) instead of 16 fixed slots of ~2.3 KB per connection. */
    struct sub *subs; /* owned; subs_cap slots */
    size_t nsubs, subs_cap;
    struct backlog backlog;
    bool presence_sent; /* an inwoner: has had its session's full presence list */

    struct tafel_bucket reads; /* sub and list, which build large replies */
    /* closing: set, then the next WRITEABLE closes with it */
    int close_code;
    char close_reason[64];
};

void conn_ref(struct conn *c);
/** @brief Drop a reference; frees @p c on the last one. */
void conn_unref(struct conn *c);

/** @brief Queue a frame (taken over) to @p c and ask for WRITEABLE. Frames
 *  for a closed connection are dropped. A queue over max_queue_bytes closes
 *  the connection with 4408. */
void conn_send(struct conn *c, struct frame *f);

/** @brief After an lws_write of @p len bytes to @p c: what lws had to keep
 *  counts against the output budget until the next WRITEABLE (ws.c). */
void conn_wrote(struct tafel_server *srv, struct conn *c, size_t len);

/** @brief Serialise and queue an error reply. */
void conn_send_error(struct conn *c, const json_t *req, const struct tafel_errinfo *err,
                     const json_t *extra);

/** @brief Serialise and queue `ok` with @p fields (not stolen, may be NULL). */
void conn_send_ok(struct conn *c, const json_t *req, const json_t *fields);

/** @brief Close @p c with @p code and @p reason after what is queued; it
 *  gets no more events. */
void conn_close(struct conn *c, int code, const char *reason);

/* ---------------------------------------------------------------- metrics */

struct tafel_metrics {
    uint64_t connections_total, connections_open;
    uint64_t messages_in, messages_out;
    uint64_t commits, committed_ops, rejected_ops;
    uint64_t batch_hist[8]; /* ops per commit: 1, 2-3, 4-7, ..., >=128 */
    uint64_t commit_us_sum, commit_us_max;
    uint64_t commit_us_hist[8]; /* <=250us, 500, 1ms, 2, 4, 8, 16, >16ms */
    uint64_t subscribers;
    uint64_t slow_disconnects;
    uint64_t events_delivered;
    uint64_t log_fallbacks;
};

/* ----------------------------------------------------------------- server */

struct presence;

struct hub;
struct strmap;

struct tafel_server {
    struct tafel_config cfg;
    tafel_store *store;
    struct lws_context *ctx;
    struct tafel_writer *writer;
    struct hub *hub;
    struct conn *conns; /* live connections */
    uint64_t next_conn_id;
    struct tafel_metrics m;
    int64_t started_ms;
    bool draining; /* SIGTERM seen: accept nothing new, finish, close */
    bool finished; /* everything closed: leave the loop */
    int64_t drain_deadline_ms;
    struct join_guard *join_guard; /* failed joins per address */
    struct strmap *buckets;        /* write-rate buckets per key, session, address (writes.c) */
    struct strmap *quotas;         /* contributions per session (writes.c) */
    struct presence *presence;     /* sessions whose table changed (presence.c) */
    size_t queued_bytes;           /* output queued to every connection together */
    bool storage_full;             /* the last write failed for lack of space */
    char *web_root;                /* real path of cfg.web_dir (malloc'd), NULL if absent */
    char *schema_json;             /* GET /schema.json: tafel_schema_json(), dumped at start */
};

/* handlers.c: dispatch one parsed request of an authenticated or
 * unauthenticated connection. */
void tafel_handle_request(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/* handlers.c: the writer finished a batch (loop thread). */
struct wop;
void tafel_handle_write_done(struct tafel_server *srv, struct wop *op);

/* presence.c: who sits at @p session's table changed; the news goes out,
 * coalesced, with the next tafel_presence_flush(). */
void tafel_presence_changed(struct tafel_server *srv, const char *opgave, const char *session);
/* presence.c: send what changed at each table since the last flush: the full
 * list to whoever sits there newly, deltas to the others. */
void tafel_presence_flush(struct tafel_server *srv, bool force);
void tafel_presence_free(struct tafel_server *srv);

/* ws.c: close every connection signed in with key @p key_id (any role). */
void tafel_close_key(struct tafel_server *srv, const char *key_id, int code, const char *reason);
/* ws.c: close every inwoner joined to @p session with @p code. */
void tafel_close_session(struct tafel_server *srv, const char *session, int code,
                         const char *reason);
/* ws.c: request WRITEABLE for @p c (no-op once closed). */
void conn_want_write(struct conn *c);
/* ws.c: resume reading requests of @p c. */
void conn_resume_rx(struct conn *c);
void conn_pause_rx(struct conn *c);

/* auth.c: the periodic sweep: hello timeout, key expiry, join-guard ageing. */
void tafel_sweep(struct tafel_server *srv);
/* writes.c: forget rate buckets that are full again; free them all. */
void tafel_rate_sweep(struct tafel_server *srv);
void tafel_rate_free(struct tafel_server *srv);
/* handlers.c: may @p c start another large read now (its read bucket)? */
bool tafel_read_rate_ok(struct conn *c);
/* writes.c: NULL when @p c may write now (a token taken from its key's, its
 * session's and its address's buckets), else the sentence to refuse with. */
const char *tafel_write_refusal(struct tafel_server *srv, struct conn *c);
/* subs.c: @c leaves: its subscriptions end and whoever shares a session's
 * table with it learns it left (once per connection: at conn_close(), or
 * when the peer closed first; @c must no longer count as present). */
void tafel_conn_leave(struct tafel_server *srv, struct conn *c);
/* subs.c: free what a sub still being answered holds (its snapshot frames
 * are counted in queued_bytes); the connection is going. */
void tafel_backlog_drop(struct tafel_server *srv, struct conn *c);
/* subs.c: stream the next chunk of a sub's backlog, or its snapshot; 1 when
 * it made progress (call again on WRITEABLE), 0 when it waits for the output
 * budget (the sweep wakes it), <0 on a fatal error. */
int tafel_backlog_step(struct tafel_server *srv, struct conn *c);
/* metrics.c: /metrics text (malloc'd), NULL on OOM. */
char *tafel_metrics_render(struct tafel_server *srv);
/* writes.c, in the writer thread: serialise a finished wop's reply/events. */
void tafel_writer_finish(struct wop *op, size_t headroom);

/* ws.c: run the server until SIGTERM/SIGINT has been handled. Returns a
 * process exit code. */
int tafel_server_run(struct tafel_server *srv);

#endif
