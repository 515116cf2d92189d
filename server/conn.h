/*
 * conn.h - a client connection as the rest of server/ sees it: who it is,
 * what it follows, and the frames queued to it. Internal to server/.
 *
 * conn.c owns the output side: the queue, the output budget shared by every
 * connection, the packing of several due messages into one write, and
 * closing. It never touches a socket: it calls the server's link (struct
 * tafel_link, implemented by ws.c over libwebsockets, or by a test), so that
 * everything above it can be driven without a network.
 *
 * Loop thread only, except conn_ref()/conn_unref() pairs held by writes in
 * flight, which are taken and dropped in the loop too.
 */
#ifndef TAFEL_SERVER_CONN_H
#define TAFEL_SERVER_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "perm.h"
#include "rate.h"
#include "tafel_assembler.h"

struct tafel_server;

/* Every serialised message keeps this many bytes free before its first byte,
 * for the transport's frame header (libwebsockets' LWS_PRE; ws.c asserts it
 * fits). The protocol/ serialisers take it as their `headroom`. */
#define TAFEL_HEADROOM 16

/* Several due messages go out as consecutive frames in one write of at most
 * this many bytes and messages (conn_write_msgs). */
#define TAFEL_BURST_BYTES 16384
#define TAFEL_BURST_MSGS  64

/* ---------------------------------------------------------------- frames */

/** One message ready to send: `buf` has TAFEL_HEADROOM bytes before the `len`
 *  bytes of JSON (as the protocol/ serialisers return it). */
struct frame {
    struct frame *next;
    char *buf; /* owned; free() */
    size_t len;
};

/** @brief Wrap a serialised buffer (taken over) in a frame; NULL on OOM
 *  (then @p buf is freed). */
struct frame *frame_new(char *buf, size_t len);
/** @brief A frame holding a copy of @p len bytes at @p text; NULL on OOM. */
struct frame *frame_copy(const char *text, size_t len);
void frame_free(struct frame *f);

/* ------------------------------------------------------------- the link */

/**
 * What a connection's transport does for conn.c. ws.c is the one
 * implementation (over libwebsockets); tests bring their own. `h` is the
 * transport's handle of the connection (conn.io).
 */
struct tafel_link {
    /** Call back into the server when @p h can take more output. */
    void (*want_write)(void *h);
    /** Stop (false) or resume (true) reading requests from @p h. */
    void (*rx_flow)(void *h, bool on);
    /** Send @p len bytes at @p buf (TAFEL_HEADROOM writable bytes before
     *  it): one text message, or with @p raw ready-made frames. What the
     *  socket does not take the transport keeps and sends first. <0: the
     *  connection is broken. */
    int (*write)(void *h, unsigned char *buf, size_t len, bool raw);
    /** True while the transport still holds part of the last write. */
    bool (*buffered)(void *h);
    /** Drop @p h if it has not closed within @p secs. */
    void (*close_within)(void *h, int secs);
};

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
 * A WebSocket connection, from the handshake until the last reference goes.
 * The transport's per-connection data holds only a pointer to it, because
 * writes queued to the writer thread may outlive the socket: they hold a
 * reference, and `io` is NULL once the socket closed.
 */
struct conn {
    void *io; /* the transport's handle (ws.c: its struct lws); NULL once closed */
    struct tafel_server *srv;
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
    size_t inflight; /* of the last write, what the transport still holds (also counted) */
    uint64_t cursor; /* every change <= cursor has been sent or skipped */
    /* Most connections hold one subscription: the array grows on demand (up
     * to TAFEL_MAX_SUBS) instead of 16 fixed slots of ~2.3 KB per connection. */
    struct sub *subs; /* owned; subs_cap slots */
    size_t nsubs, subs_cap;
    struct backlog backlog;
    bool presence_sent; /* an inwoner: has had its session's full presence list */

    struct tafel_bucket reads; /* sub and list, which build large replies */
    /* closing: set, then the next writeable closes with it */
    int close_code;
    char close_reason[64];
    struct conn *next_leaver; /* on srv->leavers until tafel_conns_settle() */
};

/** @brief A new connection of @p srv over transport handle @p io from
 *  @p addr, added to the server's list; NULL on OOM. One reference, the
 *  transport's: dropped by conn_gone(). */
struct conn *conn_open(struct tafel_server *srv, void *io, const char *addr);

/** @brief The transport closed @p c: it leaves the list, what is queued to
 *  it is dropped, and the transport's reference goes. Whoever else holds one
 *  sees `io == NULL`. The caller has settled its leaving first. */
void conn_gone(struct conn *c);

void conn_ref(struct conn *c);
/** @brief Drop a reference; frees @p c on the last one. */
void conn_unref(struct conn *c);

/** @brief Queue a frame (taken over) to @p c and ask for writeable. Frames
 *  for a closed or closing connection are dropped. A queue over
 *  max_queue_bytes closes the connection with 4408; all queues together over
 *  max_queued_bytes close the connection holding the most. */
void conn_send(struct conn *c, struct frame *f);

/** @brief Serialise and queue an error reply. */
void conn_send_error(struct conn *c, const json_t *req, const struct tafel_errinfo *err,
                     const json_t *extra);
/** @brief Queue an error built from @p code and @p message (or the code's
 *  own text). */
void conn_reply_error(struct conn *c, const json_t *req, enum tafel_err code, const char *field,
                      const char *message);
/** @brief Serialise and queue `ok` with @p fields (not stolen, may be NULL). */
void conn_send_ok(struct conn *c, const json_t *req, const json_t *fields);

/**
 * @brief Close @p c with @p code and @p reason after what is queued; it
 * gets no more events, and it is put on the server's leavers so that
 * tafel_conns_settle() (subs.c, run by the loop after each callback) takes
 * it from every table and subscription. Idempotent.
 */
void conn_close(struct conn *c, int code, const char *reason);

/** @brief Close every connection signed in with key @p key_id (any role). */
void conn_close_key(struct tafel_server *srv, const char *key_id, int code, const char *reason);
/** @brief Close every inwoner joined to @p session. */
void conn_close_session(struct tafel_server *srv, const char *session, int code,
                        const char *reason);

/** @brief Connections open from @p addr. */
unsigned conn_count_from(const struct tafel_server *srv, const char *addr);

void conn_want_write(struct conn *c);
void conn_pause_rx(struct conn *c);
void conn_resume_rx(struct conn *c);

/** @brief End @p c's backlog: free what it holds (its snapshot frames, which
 *  count against the output budget, and its req). */
void conn_drop_backlog(struct conn *c);

/** @brief Drop @p c's queue and its backlog, freeing their part of the
 *  output budget (its socket is gone, or it is being shed). */
void conn_drop_output(struct conn *c);

/**
 * @brief Send @p n messages (@p msg[i] with TAFEL_HEADROOM bytes before
 * it, @p len[i] bytes) to @p c in one write: alone as it is, or several as
 * consecutive frames packed into the server's burst buffer. The caller keeps
 * @p n at most TAFEL_BURST_MSGS and the packed size within
 * conn_burst_fits(). 0, or <0 when the write failed.
 */
int conn_write_msgs(struct conn *c, const char *const *msg, const size_t *len, size_t n);

/** @brief True if a message of @p len bytes still fits a burst that holds
 *  @p used bytes of messages in @p n frames. */
bool conn_burst_fits(size_t used, size_t n, size_t len);

/**
 * @brief Writeable: send what is queued to @p c (several frames in one
 * write). 1 if something was sent (more may follow: ask again), 0 if the
 * queue is empty, <0 when the write failed.
 */
int conn_flush(struct conn *c);

/** @brief The transport sent all it held of @p c's last write. */
void conn_written(struct conn *c);

#endif
