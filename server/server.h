/*
 * server.h - tafeld's state: its settings, its counters, and the server
 * object every part of server/ hangs off. Internal to server/.
 *
 * Threads: the service loop (the "loop", ws.c) owns every socket, every
 * `struct conn` and the hub; the writer thread (writer.c) owns LMDB write
 * transactions. They meet only in the writer's queues, under its mutex.
 */
#ifndef TAFEL_SERVER_H
#define TAFEL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "log.h"
#include "tafel_store.h"

struct tafel_writes;
struct tafel_retention;

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
    /* Retention (retention.c, docs/privacy.md): terms in ms; 0 turns a rule
     * off, i.e. keeps what it would remove. */
    int64_t anonymise_after_ms;     /* inwoners' names, after their session closed */
    int64_t delete_hidden_after_ms; /* hidden contributions, after they were hidden */
    int64_t strip_log_after_ms;     /* change-log content of earlier versions */
    int64_t retain_besluit_ms;      /* ... of besluiten: their own term */
    int64_t retain_opgave_ms;       /* ... of opgaven: their own term */
    int64_t retain_audit_ms;        /* audit entries */
    int64_t retention_interval_ms;  /* between runs; 0: no runs at all */
};

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

struct conn;
struct presence;
struct hub;
struct strmap;
struct join_guard;

struct tafel_server {
    struct tafel_config cfg;
    tafel_store *store;
    const struct tafel_link *link; /* the transport (ws.c) */
    void *loop;                    /* the transport's loop (ws.c: its lws_context) */
    struct tafel_writes *writes;   /* the writer thread and its state (writes.c) */
    struct hub *hub;
    struct conn *conns;   /* live connections */
    struct conn *leavers; /* closed, not yet taken from their tables (conn_close) */
    uint64_t next_conn_id;
    struct tafel_metrics m;
    int64_t started_ms;
    bool draining; /* SIGTERM seen: accept nothing new, finish, close */
    bool finished; /* everything closed: leave the loop */
    int64_t drain_deadline_ms;
    struct join_guard *join_guard; /* failed joins per address (auth.c) */
    struct strmap *buckets;        /* write-rate buckets per key, session, address (quota.c) */
    struct strmap *quotas;         /* what each session holds (quota.c) */
    struct presence *presence;     /* sessions whose table changed (presence.c) */
    size_t queued_bytes;           /* output queued to every connection together */
    unsigned char *burst;          /* TAFEL_HEADROOM + TAFEL_BURST_BYTES: frames for one write */
    bool storage_full;             /* the last write failed for lack of space */
    char *web_root;                /* real path of cfg.web_dir (malloc'd), NULL if absent */
    char *schema_json; /* GET /schema.json: tafel_schema_json(), dumped when first asked */
    struct tafel_retention *retention; /* the retention rules' runs (retention.c) */
};

#endif
