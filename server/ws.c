/*
 * ws.c - tafeld's only libwebsockets callback, and the service loop.
 *
 * One port serves HTTP (the web page from web/, /healthz, /metrics,
 * /schema.json) and the WebSocket protocol tafel.v1 at /ws. This file turns
 * socket events into calls on the rest of server/: a complete message goes
 * to tafel_handle_request(), a finished write batch to
 * tafel_handle_write_done(), and WRITEABLE sends one queued frame or one
 * live event (one lws_write per callback, re-armed while more is due).
 * Nothing here decides what a request means or who may make it.
 */
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hub.h"
#include "server.h"
#include "strmap.h"
#include "tafel_time.h"
#include "writer.h"

/* The signal handler needs the context to wake the loop; nothing else uses
 * these. */
static struct lws_context *signal_ctx;
static volatile sig_atomic_t signalled;

/* Per-session data of both protocols: a WebSocket's conn, or an HTTP
 * response being written. Exists from the connection's first callback to its
 * last. */
struct pss {
    struct conn *c;
    char *body; /* LWS_PRE + response body, owned */
    size_t body_len;
};

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

void frame_free(struct frame *f)
{
    if (f) {
        free(f->buf);
        free(f);
    }
}

/* ------------------------------------------------------------- connections */

static struct tafel_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

void conn_ref(struct conn *c)
{
    c->refs++;
}

/* Drop what is still queued to @p c (its socket is gone). */
static void conn_drop_queue(struct tafel_server *srv, struct conn *c)
{
    while (c->q_head) {
        struct frame *f = c->q_head;
        c->q_head = f->next;
        frame_free(f);
    }
    c->q_tail = NULL;
    if (srv)
        srv->queued_bytes -= c->q_bytes;
    c->q_bytes = 0;
}

void conn_unref(struct conn *c)
{
    if (!c || --c->refs > 0)
        return;
    conn_drop_queue(NULL, c); /* empty since ws_closed(); kept for safety */
    json_decref(c->backlog.req);
    json_decref(c->refuse_req);
    json_decref(c->actor.scope);
    tafel_assembler_free(&c->rx);
    free(c->subs);
    free(c);
}

void conn_want_write(struct conn *c)
{
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

void conn_pause_rx(struct conn *c)
{
    if (c->wsi && !c->rx_paused) {
        c->rx_paused = true;
        lws_rx_flow_control(c->wsi, 0);
    }
}

void conn_resume_rx(struct conn *c)
{
    if (c->wsi && c->rx_paused) {
        c->rx_paused = false;
        lws_rx_flow_control(c->wsi, 1);
    }
}

void conn_close(struct conn *c, int code, const char *reason)
{
    if (!c->wsi || c->close_code)
        return;
    /* A closing connection gets no more events and has left the table:
     * close_code first, so the presence it causes no longer lists it. */
    c->close_code = code;
    snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
    tafel_conn_leave(server_of(c->wsi), c);
    /* A peer that never reads never becomes writeable: give the close frame
     * a few seconds to get out, then drop the socket. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
    conn_want_write(c);
}

/* What @p c holds of the output budget: its queue, a snapshot waiting to be
 * queued, and what lws still buffers of its last write. */
static size_t conn_held(const struct conn *c)
{
    return c->q_bytes + c->backlog.snap_bytes + c->inflight;
}

static struct conn *largest_holder(struct tafel_server *srv)
{
    struct conn *hog = NULL;
    for (struct conn *c = srv->conns; c; c = c->next)
        if (!c->close_code && conn_held(c) && (!hog || conn_held(c) > conn_held(hog)))
            hog = c;
    return hog;
}

/* Close @p c for not reading, and free at once what it holds. */
static void shed(struct tafel_server *srv, struct conn *c)
{
    log_warn("conn=%llu closed: --max-queued-bytes %zu reached, it held %zu bytes",
             (unsigned long long)c->id, srv->cfg.max_queued_bytes, conn_held(c));
    srv->m.slow_disconnects++;
    conn_close(c, 4408, "slow consumer: reconnect with since");
    conn_drop_queue(srv, c);
    tafel_backlog_drop(srv, c);
}

void conn_wrote(struct tafel_server *srv, struct conn *c, size_t len)
{
    /* lws keeps what the socket did not take and calls WRITEABLE again
     * only once it is gone: until then it counts against the budget. */
    if (c->wsi && lws_partial_buffered(c->wsi)) {
        c->inflight = len;
        srv->queued_bytes += len;
    }
}

static void conn_written(struct tafel_server *srv, struct conn *c)
{
    srv->queued_bytes -= c->inflight;
    c->inflight = 0;
}

void conn_send(struct conn *c, struct frame *f)
{
    if (!f)
        return;
    if (!c->wsi || c->close_code) {
        frame_free(f);
        return;
    }
    struct tafel_server *srv = server_of(c->wsi);
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
    char *buf = tafel_msg_error(req, err, extra, LWS_PRE, &len);
    if (buf)
        conn_send(c, frame_new(buf, len));
}

void conn_send_ok(struct conn *c, const json_t *req, const json_t *fields)
{
    size_t len;
    char *buf = tafel_msg_ok(req, fields, LWS_PRE, &len);
    if (buf)
        conn_send(c, frame_new(buf, len));
}

static void for_each_conn_close(struct tafel_server *srv,
                                bool (*match)(struct conn *, const char *), const char *what,
                                int code, const char *reason)
{
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (c->authed && match(c, what)) {
            conn_close(c, code, reason);
        }
    }
}

/* Every connection signed in with the key, whatever its role: an inwoner-role
 * key is a key like any other. Joined inwoners have no key. */
static bool conn_has_key(struct conn *c, const char *key_id)
{
    return c->actor.key_id[0] && strcmp(c->actor.key_id, key_id) == 0;
}

static bool conn_in_session(struct conn *c, const char *session)
{
    return c->actor.role == TAFEL_ROLE_INWONER && strcmp(c->actor.session, session) == 0;
}

void tafel_close_key(struct tafel_server *srv, const char *key_id, int code, const char *reason)
{
    for_each_conn_close(srv, conn_has_key, key_id, code, reason);
}

void tafel_close_session(struct tafel_server *srv, const char *session, int code,
                         const char *reason)
{
    for_each_conn_close(srv, conn_in_session, session, code, reason);
}

static unsigned conns_from(struct tafel_server *srv, const char *addr)
{
    unsigned n = 0;
    for (struct conn *c = srv->conns; c; c = c->next)
        n += strcmp(c->addr, addr) == 0;
    return n;
}

/* -------------------------------------------------------------------- http */

static int http_respond(struct lws *wsi, struct pss *pss, unsigned status, const char *ctype,
                        const char *body)
{
    size_t len = strlen(body);
    unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
                                       *end = hdr + sizeof(hdr) - 1;
    pss->body = malloc(LWS_PRE + len + 1);
    if (!pss->body)
        return -1;
    memcpy(pss->body + LWS_PRE, body, len + 1);
    pss->body_len = len;
    if (lws_add_http_common_headers(wsi, status, ctype, (lws_filepos_t)len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Serve @p uri from the web root: only a regular file whose real path lies
 * inside the root, so that a symlink (or anything else) cannot hand out a
 * file from elsewhere; no dot-files. Everything else is 404. */
static int serve_file(struct lws *wsi, struct tafel_server *srv, const char *uri)
{
    char path[PATH_MAX], real[PATH_MAX];
    size_t rlen = srv->web_root ? strlen(srv->web_root) : 0;
    struct stat sb;
    bool ok = rlen && uri[0] == '/' && !strstr(uri, "/.");
    if (ok) {
        const char *tail = uri[strlen(uri) - 1] == '/' ? "index.html" : "";
        int n = snprintf(path, sizeof(path), "%s%s%s", srv->web_root, uri, tail);
        ok = n > 0 && (size_t)n < sizeof(path) && realpath(path, real) &&
             strncmp(real, srv->web_root, rlen) == 0 && real[rlen] == '/' && stat(real, &sb) == 0 &&
             S_ISREG(sb.st_mode);
    }
    if (!ok)
        return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 0;
    const char *mime = lws_get_mimetype(real, NULL);
    int n = lws_serve_http_file(wsi, real, mime ? mime : "application/octet-stream", NULL, 0);
    return (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) ? -1 : 0;
}

static int http_request(struct lws *wsi, struct pss *pss)
{
    struct tafel_server *srv = server_of(wsi);
    char uri[256];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
        return lws_return_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL) ? -1 : 0;
    if (strcmp(uri, "/healthz") == 0) {
        /* A full disk refuses every write: a load balancer or monitor must
         * see it, not only the clients whose writes fail. */
        const char *status = srv->draining ? "draining" : srv->storage_full ? "no_space" : "ok";
        char body[128];
        snprintf(body, sizeof(body), "{\"status\":\"%s\",\"seq\":%llu}\n", status,
                 (unsigned long long)hub_seq(srv->hub));
        return http_respond(wsi, pss, strcmp(status, "ok") == 0 ? 200 : 503, "application/json",
                            body);
    }
    if (strcmp(uri, "/schema.json") == 0) {
        /* The kinds, fields, labels and permission cells the page builds
         * its forms and buttons from; built once at start (the table is
         * compiled in). */
        return http_respond(wsi, pss, 200, "application/json", srv->schema_json);
    }
    if (strcmp(uri, "/metrics") == 0) {
        char *text = tafel_metrics_render(srv);
        if (!text)
            return -1;
        int rc = http_respond(wsi, pss, 200, "text/plain; version=0.0.4", text);
        free(text);
        return rc;
    }
    if (strncmp(uri, "/join/", 6) == 0) {
        /* A join URL (from a QR code) opens the page, which reads the code
         * from its own location. */
        return serve_file(wsi, srv, "/index.html");
    }
    return serve_file(wsi, srv, uri);
}

static int http_writeable(struct lws *wsi, struct pss *pss)
{
    if (!pss->body)
        return 0;
    int n =
        lws_write(wsi, (unsigned char *)pss->body + LWS_PRE, pss->body_len, LWS_WRITE_HTTP_FINAL);
    free(pss->body);
    pss->body = NULL;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* --------------------------------------------------------------- websocket */

/* Refuse a WebSocket before the handshake completes: wrong path, no
 * tafel.v1, a foreign Origin, or a limit reached. */
static int ws_filter(struct lws *wsi)
{
    struct tafel_server *srv = server_of(wsi);
    char buf[256];
    if (srv->draining)
        return 1;
    if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_GET_URI) <= 0 || strcmp(buf, "/ws") != 0)
        return 1;
    if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_PROTOCOL) <= 0 ||
        !strstr(buf, TAFEL_SUBPROTOCOL))
        return 1;
    if (srv->cfg.norigins && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_ORIGIN) > 0) {
        bool ok = false;
        for (size_t i = 0; i < srv->cfg.norigins; i++)
            ok |= strcmp(buf, srv->cfg.origins[i]) == 0;
        if (!ok) {
            char esc[4 * 100 + 1];
            log_info("refused a connection from origin %s",
                     tafel_log_escape(buf, esc, sizeof(esc)));
            return 1;
        }
    }
    if (srv->m.connections_open >= srv->cfg.max_connections) {
        log_warn("refused a connection: --max-connections %u reached", srv->cfg.max_connections);
        return 1;
    }
    lws_get_peer_simple(wsi, buf, sizeof(buf));
    if (conns_from(srv, buf) >= srv->cfg.max_per_address) {
        log_warn("refused a connection from %s: --max-per-address reached", buf);
        return 1;
    }
    return 0;
}

static int ws_established(struct lws *wsi, struct pss *pss)
{
    struct tafel_server *srv = server_of(wsi);
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->wsi = wsi;
    c->refs = 1;
    c->id = ++srv->next_conn_id;
    c->opened_ms = tafel_time_mono_ms();
    lws_get_peer_simple(wsi, c->addr, sizeof(c->addr));
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    pss->c = c;
    srv->m.connections_total++;
    srv->m.connections_open++;
    log_debug("conn=%llu open from %s", (unsigned long long)c->id, c->addr);
    return 0;
}

static void ws_closed(struct lws *wsi, struct pss *pss)
{
    struct tafel_server *srv = server_of(wsi);
    struct conn *c = pss->c;
    if (!c)
        return;
    pss->c = NULL;
    c->wsi = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    srv->m.connections_open--;
    conn_drop_queue(srv, c);
    tafel_backlog_drop(srv, c);
    conn_written(srv, c);
    if (!c->close_code) /* else conn_close() did it */
        tafel_conn_leave(srv, c);
    log_debug("conn=%llu closed", (unsigned long long)c->id);
    conn_unref(c);
}

static void ws_message(struct tafel_server *srv, struct conn *c, const char *buf, size_t len)
{
    struct tafel_request r;
    struct tafel_errinfo info;
    struct tafel_limits lim = TAFEL_LIMITS_DEFAULT;
    lim.max_bytes = srv->cfg.max_message;
    srv->m.messages_in++;
    enum tafel_err err = tafel_request_parse(buf, len, &lim, &r, &info);
    if (err == TAFEL_E_BAD_UTF8) {
        conn_close(c, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
    } else if (err != TAFEL_E_OK) {
        /* Before hello/join anything malformed is simply "not signed in",
         * except a join whose display name cannot be shown as it is: that
         * person is told so, and may try another name until the hello
         * timeout. */
        const char *type = json_string_value(json_object_get(r.root, "type"));
        bool signing_in = type && strcmp(type, "join") == 0 && strcmp(info.field, "name") == 0;
        if (!c->authed && !signing_in)
            tafel_errinfo_set(&info, TAFEL_E_UNAUTHORIZED, NULL, "send hello or join first");
        conn_send_error(c, r.req, &info, NULL);
        if (!c->authed && !signing_in)
            conn_close(c, 4401, "unauthorized");
    } else {
        tafel_handle_request(srv, c, &r);
    }
    tafel_request_free(&r);
}

static int ws_receive(struct lws *wsi, struct pss *pss, const void *in, size_t len)
{
    struct tafel_server *srv = server_of(wsi);
    struct conn *c = pss->c;
    if (!c || c->close_code)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        conn_close(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text frames only");
        return 0;
    }
    /* A whole message in one RECEIVE (the common case: requests are small)
     * is parsed where lws put it, so an idle connection keeps no receive
     * buffer of its own. */
    if (c->rx.len == 0 && lws_is_final_fragment(wsi) && len <= srv->cfg.max_message) {
        ws_message(srv, c, in, len);
        return 0;
    }
    /* One RECEIVE is not one message: reassemble, and enforce the message
     * limit ourselves (rx_buffer_size is only a chunk size). */
    enum tafel_err err = tafel_assembler_add(&c->rx, in, len, srv->cfg.max_message);
    if (err == TAFEL_E_TOO_LARGE) {
        conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
        return 0;
    }
    if (err != TAFEL_E_OK)
        return -1;
    if (!lws_is_final_fragment(wsi))
        return 0;
    ws_message(srv, c, c->rx.buf, c->rx.len);
    tafel_assembler_free(&c->rx);
    return 0;
}

static int ws_writeable(struct lws *wsi, struct pss *pss)
{
    struct tafel_server *srv = server_of(wsi);
    struct conn *c = pss->c;
    if (!c)
        return -1;
    conn_written(srv, c);
    if (c->q_head && c->q_head->next && c->q_head->len + 10 <= HUB_BURST_BYTES) {
        /* Several replies or catch-up events queued: as consecutive frames in
         * one raw write, a syscall for many (a catch-up of 100,000 changes
         * would otherwise cost a send() each). */
        static unsigned char burst[LWS_PRE + HUB_BURST_BYTES]; /* loop thread only */
        unsigned char *out = burst + LWS_PRE;
        size_t used = 0, n = 0;
        while (c->q_head && used + 10 + c->q_head->len <= HUB_BURST_BYTES) {
            struct frame *f = c->q_head;
            c->q_head = f->next;
            c->q_bytes -= f->len;
            srv->queued_bytes -= f->len;
            used += hub_frame_header(out + used, f->len);
            memcpy(out + used, f->buf + LWS_PRE, f->len);
            used += f->len;
            n++;
            frame_free(f);
        }
        if (!c->q_head)
            c->q_tail = NULL;
        if (lws_write(wsi, out, used, LWS_WRITE_RAW) < (int)used)
            return -1;
        conn_wrote(srv, c, used);
        srv->m.messages_out += n;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->q_head) {
        struct frame *f = c->q_head;
        c->q_head = f->next;
        if (!c->q_head)
            c->q_tail = NULL;
        c->q_bytes -= f->len;
        srv->queued_bytes -= f->len;
        size_t len = f->len;
        int n = lws_write(wsi, (unsigned char *)f->buf + LWS_PRE, len, LWS_WRITE_TEXT);
        frame_free(f);
        if (n < 0)
            return -1;
        conn_wrote(srv, c, len);
        srv->m.messages_out++;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->close_code) {
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    }
    if (c->backlog.active) {
        int n = tafel_backlog_step(srv, c);
        if (n < 0)
            return -1;
        if (n > 0)
            lws_callback_on_writable(wsi);
        return 0;
    }
    int n = hub_deliver(srv, c);
    if (n < 0)
        return -1;
    if (n > 0)
        lws_callback_on_writable(wsi);
    return 0;
}

/* ------------------------------------------------------------- the callback */

static void writer_done(struct tafel_server *srv)
{
    struct wop *list = tafel_writer_take_done(srv->writer);
    for (struct wop *op = list; op; op = op->next)
        tafel_handle_write_done(srv, op);
    tafel_writer_recycle(srv->writer, list, conn_unref);
}

static void drain_step(struct tafel_server *srv)
{
    if (!srv->draining)
        return;
    bool idle = tafel_writer_idle(srv->writer);
    bool late = tafel_time_mono_ms() > srv->drain_deadline_ms;
    if (!idle && !late)
        return;
    bool open = false;
    for (struct conn *c = srv->conns; c; c = c->next) {
        open = true;
        conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    }
    if (!open || late)
        srv->finished = true;
}

static int callback_tafel(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    struct pss *pss = user;
    struct tafel_server *srv = server_of(wsi);

    switch (reason) {
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        return srv && srv->draining ? 1 : 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ws_filter(wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(wsi, pss);
    case LWS_CALLBACK_RECEIVE:
        return ws_receive(wsi, pss, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_writeable(wsi, pss);
    case LWS_CALLBACK_CLOSED:
        ws_closed(wsi, pss);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (!srv)
            return 0;
        if (signalled && !srv->draining) {
            srv->draining = true;
            srv->drain_deadline_ms = tafel_time_mono_ms() + 10000;
            log_info("signal received: finishing writes in flight, then closing");
        }
        writer_done(srv);
        drain_step(srv);
        return 0;
    case LWS_CALLBACK_HTTP:
        return http_request(wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && pss->body)
            return http_writeable(wsi, pss);
        break;
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss) {
            free(pss->body);
            pss->body = NULL;
        }
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static lws_sorted_usec_list_t sweep_sul;

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    struct tafel_server *srv = lws_context_user(signal_ctx);
    tafel_sweep(srv);
    tafel_rate_sweep(srv);
    tafel_presence_flush(srv, false);
    drain_step(srv);
    lws_sul_schedule(srv->ctx, 0, &sweep_sul, sweep_cb, 250 * LWS_US_PER_MS);
}

static void on_signal(int sig)
{
    (void)sig;
    signalled = 1;
    if (signal_ctx)
        lws_cancel_service(signal_ctx);
}

static void lws_log_bridge(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    if (level & LLL_ERR)
        log_error("lws: %.*s", (int)n, line);
    else
        log_debug("lws: %.*s", (int)n, line);
}

int tafel_server_run(struct tafel_server *srv)
{
    static const struct lws_protocols protocols[] = {
        {"http", callback_tafel, sizeof(struct pss), 0, 0, NULL, 0},
        /* lws allocates rx_buffer_size for every connection: 1 KiB chunks
         * (requests are small; larger ones are reassembled) keep an idle
         * connection cheap. tx_packet_size 0 would cap each send() at the
         * rx size too: let large replies go out in one. */
        {TAFEL_SUBPROTOCOL, callback_tafel, sizeof(struct pss), 1024, 0, NULL, 65536},
        {NULL, NULL, 0, 0, 0, NULL, 0}};
    /* Dead peers never become writeable: ping after 30 s of silence, drop
     * after 60 s without an answer. */
    static const lws_retry_bo_t idle_policy = {.secs_since_valid_ping = 30,
                                               .secs_since_valid_hangup = 60};
    /* No mounts: every HTTP request comes to http_request(), which serves
     * the page's files itself (see serve_file). */
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = srv->cfg.port;
    info.iface = srv->cfg.host;
    info.protocols = protocols;
    info.user = srv;
    info.retry_and_idle_policy = &idle_policy;
    info.options = LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 10;
    info.fd_limit_per_thread = srv->cfg.max_connections + 64;
    if (srv->cfg.tls_cert) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = srv->cfg.tls_cert;
        info.ssl_private_key_filepath = srv->cfg.tls_key;
    }

    srv->ctx = lws_create_context(&info);
    if (!srv->ctx) {
        log_error("cannot listen on %s:%d", srv->cfg.host, srv->cfg.port);
        return 1;
    }
    signal_ctx = srv->ctx;
    int rc = 1;
    srv->web_root = realpath(srv->cfg.web_dir, NULL);
    if (!srv->web_root)
        log_warn("web directory %s not found: the page will not be served", srv->cfg.web_dir);
    json_t *schema = tafel_schema_json();
    srv->schema_json = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
    json_decref(schema);
    srv->hub = hub_new(srv->store, srv->cfg.ring_size);
    srv->buckets = strmap_new();
    srv->quotas = strmap_new();
    srv->writer = srv->schema_json && srv->hub && srv->buckets && srv->quotas
                      ? tafel_writer_start(srv->store, srv->ctx, tafel_writer_finish, LWS_PRE, 1024)
                      : NULL;
    if (!srv->writer) {
        log_error("cannot start: out of memory or threads");
        goto cleanup;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int port = lws_get_vhost_listen_port(lws_get_vhost_by_name(srv->ctx, "default"));
    log_info("listening on %s://%s:%d/ (data %s, seq %llu)", srv->cfg.tls_cert ? "https" : "http",
             srv->cfg.host, port, srv->cfg.data_dir, (unsigned long long)hub_seq(srv->hub));
    lws_sul_schedule(srv->ctx, 0, &sweep_sul, sweep_cb, 250 * LWS_US_PER_MS);

    while (!srv->finished)
        if (lws_service(srv->ctx, 0) < 0)
            break;
    rc = 0;
    log_info("stopped");

cleanup:
    lws_sul_cancel(&sweep_sul);
    /* The writer first (it commits what is queued and may still wake the
     * context), its leftovers released with their conn references; then the
     * context, whose CLOSED callbacks free the conns. */
    tafel_writer_stop(srv->writer, conn_unref);
    srv->writer = NULL;
    lws_context_destroy(srv->ctx);
    signal_ctx = NULL;
    srv->ctx = NULL;
    hub_free(srv->hub);
    srv->hub = NULL;
    tafel_rate_free(srv);
    tafel_presence_free(srv);
    free(srv->web_root);
    srv->web_root = NULL;
    free(srv->schema_json);
    srv->schema_json = NULL;
    return rc;
}
