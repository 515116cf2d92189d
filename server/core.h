/*
 * core.h - the server as its transport sees it: start and stop, and one
 * call per thing that happens on a connection or to the loop. ws.c turns
 * libwebsockets' callbacks into these; a test or a fuzzer can make the same
 * calls with a link of its own (struct tafel_link) and no network at all.
 *
 * Loop thread only, except where a function says otherwise.
 */
#ifndef TAFEL_SERVER_CORE_H
#define TAFEL_SERVER_CORE_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "server.h"

/**
 * @brief Start the server's parts on @p srv (its cfg and store set): the
 * hub, the limits, the writer thread and the served schema. @p link sends;
 * @p wake (called from the writer thread with @p wake_ctx) must make the
 * loop call tafel_core_wake() soon. false on failure (logged); call
 * tafel_core_stop() either way.
 */
bool tafel_core_start(struct tafel_server *srv, const struct tafel_link *link,
                      void (*wake)(void *ctx), void *wake_ctx);

/** @brief Commit what is queued and stop the writer thread: wake is not
 *  called after it returns. Before the transport goes. */
void tafel_core_stop_writes(struct tafel_server *srv);

/** @brief Stop the writer if still running, and free the parts. Every
 *  connection must be gone (tafel_core_closed) first. */
void tafel_core_stop(struct tafel_server *srv);

/** @brief May a new connection from @p addr be opened? false while
 *  draining or at --max-connections / --max-per-address (logged). */
bool tafel_core_admit(struct tafel_server *srv, const char *addr);

/** @brief A connection from @p addr opened over transport handle @p io;
 *  NULL on OOM (refuse it). */
struct conn *tafel_core_open(struct tafel_server *srv, void *io, const char *addr);

/** @brief A complete text message from @p c. */
void tafel_core_message(struct tafel_server *srv, struct conn *c, const char *buf, size_t len);

enum tafel_out {
    TAFEL_OUT_IDLE,   /* nothing more is due now */
    TAFEL_OUT_MORE,   /* something went out; ask for writeable again */
    TAFEL_OUT_CLOSE,  /* send the close frame of c->close_code, c->close_reason */
    TAFEL_OUT_BROKEN, /* the write failed: drop the connection */
};

/** @brief @p c can take output: its queue first, then its close, then a
 *  sub's backlog, then live events. */
enum tafel_out tafel_core_writeable(struct tafel_server *srv, struct conn *c);

/** @brief The transport closed @p c (either side); @p c is freed once the
 *  last write holding it is answered. */
void tafel_core_closed(struct tafel_server *srv, struct conn *c);

/** @brief After each event the loop handled: let closed connections leave
 *  their tables (see conn_close). Cheap when there are none. */
void tafel_core_settle(struct tafel_server *srv);

/** @brief The writer woke the loop: answer finished writes; go on shutting
 *  down if draining. */
void tafel_core_wake(struct tafel_server *srv);

/** @brief Every 250 ms: timeouts, expiry, rate buckets, presence, draining. */
void tafel_core_tick(struct tafel_server *srv);

/** @brief SIGTERM or SIGINT: take nothing new, finish the writes in flight
 *  (at most 10 s), then close every connection and set srv->finished. */
void tafel_core_drain(struct tafel_server *srv);

/**
 * @brief The answer to an HTTP GET of @p uri that the server itself makes:
 * /healthz, /metrics, /schema.json. Sets @p status and @p ctype and returns
 * the body (malloc'd; caller frees), or NULL when @p uri is none of them
 * (then the transport serves the page's files) or on OOM (@p status 500).
 */
char *tafel_core_http(struct tafel_server *srv, const char *uri, unsigned *status,
                      const char **ctype);

#endif
