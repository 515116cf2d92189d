/*
 * conn.c - connections: their lifetime, the output queue and the output
 * budget, the packing of due messages into one write, and closing; see
 * conn.h. Sockets are the link's (ws.c): nothing here calls libwebsockets.
 */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"
#include "tafel_time.h"

/* ------------------------------------------------------------------ frames */

struct frame *frame_new(char *buf, size_t len)
{
    struct frame *f = malloc(sizeof(*f));
    if (!f) {
        free(buf);
        return NULL;
    }
    f->next = NULL;
    f->buf = buf;
    f->len = len;
    return f;
}

struct frame *frame_copy(const char *text, size_t len)
{
    char *buf = malloc(TAFEL_HEADROOM + len + 1);
    if (!buf)
        return NULL;
    memcpy(buf + TAFEL_HEADROOM, text, len);
    buf[TAFEL_HEADROOM + len] = '\0';
    return frame_new(buf, len);
}

void frame_free(struct frame *f)
{
    if (f) {
        free(f->buf);
        free(f);
    }
}

/* ---------------------------------------------------------------- lifetime */

struct conn *conn_open(struct tafel_server *srv, void *io, const char *addr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->io = io;
    c->srv = srv;
    c->refs = 1;
    c->id = ++srv->next_conn_id;
    c->opened_ms = tafel_time_mono_ms();
    snprintf(c->addr, sizeof(c->addr), "%s", addr);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->m.connections_total++;
    srv->m.connections_open++;
    return c;
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

void conn_unref(struct conn *c)
{
    if (!c || --c->refs > 0)
        return;
    json_decref(c->backlog.req);
    json_decref(c->refuse_req);
    json_decref(c->actor.scope);
    tafel_assembler_free(&c->rx);
    free(c->subs);
    free(c);
}

void conn_drop_backlog(struct conn *c)
{
    struct backlog *b = &c->backlog;
    while (b->snap_head) {
        struct frame *f = b->snap_head;
        b->snap_head = f->next;
        frame_free(f);
    }
    c->srv->queued_bytes -= b->snap_bytes;
    json_decref(b->req);
    memset(b, 0, sizeof(*b));
}

void conn_drop_output(struct conn *c)
{
    while (c->q_head) {
        struct frame *f = c->q_head;
        c->q_head = f->next;
        frame_free(f);
    }
    c->q_tail = NULL;
    c->srv->queued_bytes -= c->q_bytes;
    c->q_bytes = 0;
    conn_drop_backlog(c);
}

void conn_gone(struct conn *c)
{
    struct tafel_server *srv = c->srv;
    c->io = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->m.connections_open--;
    conn_drop_output(c);
    conn_written(c);
    conn_unref(c);
}

/* ------------------------------------------------------------------ the link */

void conn_want_write(struct conn *c)
{
    if (c->io)
        c->srv->link->want_write(c->io);
}

void conn_pause_rx(struct conn *c)
{
    if (c->io && !c->rx_paused) {
        c->rx_paused = true;
        c->srv->link->rx_flow(c->io, false);
    }
}

void conn_resume_rx(struct conn *c)
{
    if (c->io && c->rx_paused) {
        c->rx_paused = false;
        c->srv->link->rx_flow(c->io, true);
    }
}

/* ----------------------------------------------------------------- closing */

void conn_close(struct conn *c, int code, const char *reason)
{
    if (!c->io || c->close_code)
        return;
    /* A closing connection gets no more events, and its presence no longer
     * counts (close_code is checked there); what it followed is released
     * once the current callback is done (tafel_conns_settle), so that no
     * caller here, halfway through a walk of the connections, sees the
     * tables change under it. */
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    conn_ref(c);
    c->next_leaver = c->srv->leavers;
    c->srv->leavers = c;
    /* Read again what a paused connection still sends (it is ignored now):
     * a socket closed with unread input is reset, and the peer may lose the
     * close frame, seeing 1006 instead of the code. */
    conn_resume_rx(c);
    /* A peer that never reads never becomes writeable: give the close frame
     * a few seconds to get out, then drop the socket. */
    c->srv->link->close_within(c->io, 5);
    conn_want_write(c);
}

static void close_matching(struct tafel_server *srv, bool (*match)(struct conn *, const char *),
                           const char *what, int code, const char *reason)
{
    for (struct conn *c = srv->conns; c; c = c->next)
        if (c->authed && match(c, what))
            conn_close(c, code, reason);
}

/* Every connection signed in with the key, whatever its role: an inwoner-role
 * key is a key like any other. Joined inwoners have no key. */
static bool has_key(struct conn *c, const char *key_id)
{
    return c->actor.key_id[0] && strcmp(c->actor.key_id, key_id) == 0;
}

static bool in_session(struct conn *c, const char *session)
{
    return c->actor.role == TAFEL_ROLE_INWONER && strcmp(c->actor.session, session) == 0;
}

void conn_close_key(struct tafel_server *srv, const char *key_id, int code, const char *reason)
{
    close_matching(srv, has_key, key_id, code, reason);
}

void conn_close_session(struct tafel_server *srv, const char *session, int code, const char *reason)
{
    close_matching(srv, in_session, session, code, reason);
}

unsigned conn_count_from(const struct tafel_server *srv, const char *addr)
{
    unsigned n = 0;
    for (const struct conn *c = srv->conns; c; c = c->next)
        n += strcmp(c->addr, addr) == 0;
    return n;
}

/* ------------------------------------------------------------- the budget */

/* What @p c holds of the output budget: its queue, a snapshot waiting to be
 * queued, and what the transport still holds of its last write. */
static size_t held(const struct conn *c)
{
    return c->q_bytes + c->backlog.snap_bytes + c->inflight;
}

static struct conn *largest_holder(struct tafel_server *srv)
{
    struct conn *hog = NULL;
    for (struct conn *c = srv->conns; c; c = c->next)
        if (!c->close_code && held(c) && (!hog || held(c) > held(hog)))
            hog = c;
    return hog;
}

/* Close @p c for not reading, and free at once what it holds. */
static void shed(struct tafel_server *srv, struct conn *c)
{
    log_warn("conn=%llu closed: --max-queued-bytes %zu reached, it held %zu bytes",
             (unsigned long long)c->id, srv->cfg.max_queued_bytes, held(c));
    srv->m.slow_disconnects++;
    conn_close(c, 4408, "slow consumer: reconnect with since");
    conn_drop_output(c);
}

void conn_send(struct conn *c, struct frame *f)
{
    if (!f)
        return;
    if (!c->io || c->close_code) {
        frame_free(f);
        return;
    }
    struct tafel_server *srv = c->srv;
    if (c->q_bytes + f->len > srv->cfg.max_queue_bytes) {
        frame_free(f);
        srv->m.slow_disconnects++;
        conn_close(c, 4408, "slow consumer: reconnect with since");
        return;
    }
    /* All connections together hold at most max_queued_bytes, so that no
     * set of clients that do not read can grow the server without bound.
     * Over it, the connection holding the most goes first: that is the one
     * not reading, rather than whoever happens to be sent something next. */
    while (srv->queued_bytes + f->len > srv->cfg.max_queued_bytes) {
        struct conn *hog = largest_holder(srv);
        if (!hog || hog == c) {
            frame_free(f);
            shed(srv, c);
            return;
        }
        shed(srv, hog);
    }
    if (c->q_tail)
        c->q_tail->next = f;
    else
        c->q_head = f;
    c->q_tail = f;
    c->q_bytes += f->len;
    srv->queued_bytes += f->len;
    conn_want_write(c);
}

void conn_send_error(struct conn *c, const json_t *req, const struct tafel_errinfo *err,
                     const json_t *extra)
{
    size_t len;
    char *buf = tafel_msg_error(req, err, extra, TAFEL_HEADROOM, &len);
    if (buf)
        conn_send(c, frame_new(buf, len));
}

void conn_reply_error(struct conn *c, const json_t *req, enum tafel_err code, const char *field,
                      const char *message)
{
    struct tafel_errinfo info;
    tafel_errinfo_set(&info, code, field, "%s", message ? message : tafel_strerror(code));
    conn_send_error(c, req, &info, NULL);
}

void conn_send_ok(struct conn *c, const json_t *req, const json_t *fields)
{
    size_t len;
    char *buf = tafel_msg_ok(req, fields, TAFEL_HEADROOM, &len);
    if (buf)
        conn_send(c, frame_new(buf, len));
}

/* ------------------------------------------------------------------ writing */

/* The header of an unmasked, final text frame of @p len bytes at @p out
 * (room for 10 bytes); returns its length (2, 4 or 10). */
static size_t frame_header(unsigned char *out, size_t len)
{
    out[0] = 0x81;
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

bool conn_burst_fits(size_t used, size_t n, size_t len)
{
    return n < TAFEL_BURST_MSGS && used + 10 * (n + 1) + len <= TAFEL_BURST_BYTES;
}

/* What the transport kept of a write counts against the budget until it is
 * gone (conn_written). */
static void wrote(struct conn *c, size_t len)
{
    if (c->io && c->srv->link->buffered(c->io)) {
        c->inflight = len;
        c->srv->queued_bytes += len;
    }
}

void conn_written(struct conn *c)
{
    c->srv->queued_bytes -= c->inflight;
    c->inflight = 0;
}

/*
 * Several due messages go out as consecutive WebSocket frames in one write:
 * still one message per event on the wire, but one syscall (and one wake-up
 * of the reader) for many. Sending each alone costs a loopback send() of
 * ~5 us, which at 200,000 deliveries a second is more than a core; packing
 * makes the cost per message fall exactly when the loop falls behind. A
 * lone message goes out from its own buffer, without a copy.
 */
int conn_write_msgs(struct conn *c, const char *const *msg, const size_t *len, size_t n)
{
    struct tafel_server *srv = c->srv;
    if (!n)
        return 0;
    unsigned char *buf;
    size_t used = 0;
    bool raw = n > 1;
    if (!raw) {
        buf = (unsigned char *)msg[0];
        used = len[0];
    } else {
        buf = srv->burst + TAFEL_HEADROOM;
        for (size_t i = 0; i < n; i++) {
            used += frame_header(buf + used, len[i]);
            memcpy(buf + used, msg[i], len[i]);
            used += len[i];
        }
    }
    if (srv->link->write(c->io, buf, used, raw) < 0)
        return -1;
    wrote(c, used);
    srv->m.messages_out += n;
    return 0;
}

int conn_flush(struct conn *c)
{
    if (!c->q_head)
        return 0;
    const char *msg[TAFEL_BURST_MSGS] = {NULL};
    size_t len[TAFEL_BURST_MSGS] = {0}, n = 0, used = 0;
    struct frame *f = c->q_head;
    for (; f && (n == 0 || conn_burst_fits(used, n, f->len)); f = f->next) {
        msg[n] = f->buf + TAFEL_HEADROOM;
        len[n] = f->len;
        used += f->len;
        n++;
    }
    int rc = conn_write_msgs(c, msg, len, n);
    /* Written or copied by the transport: the frames can go. */
    while (n--) {
        struct frame *sent = c->q_head;
        c->q_head = sent->next;
        c->q_bytes -= sent->len;
        c->srv->queued_bytes -= sent->len;
        frame_free(sent);
    }
    if (!c->q_head)
        c->q_tail = NULL;
    return rc < 0 ? -1 : 1;
}
