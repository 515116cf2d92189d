/*
 * ws.c - libwebsockets: tafeld's only callback, its service loop, and the
 * link (struct tafel_link) through which the rest of server/ sends. The
 * only file that calls libwebsockets or touches a socket.
 *
 * One port serves HTTP (the web page from web/, and what core.c answers:
 * /healthz, /metrics, /schema.json) and the WebSocket protocol tafel.v1 at
 * /ws. This file turns socket events into calls on core.h; nothing here
 * decides what a request means or who may make it.
 */
#include "ws.h"

#include <assert.h>
#include <libwebsockets.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core.h"

static_assert(LWS_PRE <= TAFEL_HEADROOM, "frames keep TAFEL_HEADROOM bytes for lws' header");

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

static struct tafel_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---------------------------------------------------------------- the link */

static void link_want_write(void *h)
{
    lws_callback_on_writable(h);
}

static void link_rx_flow(void *h, bool on)
{
    lws_rx_flow_control(h, on ? 1 : 0);
}

static int link_write(void *h, unsigned char *buf, size_t len, bool raw)
{
    int n = lws_write(h, buf, len, raw ? LWS_WRITE_RAW : LWS_WRITE_TEXT);
    return n < (int)len ? -1 : 0;
}

static bool link_buffered(void *h)
{
    return lws_partial_buffered(h) != 0;
}

static void link_close_within(void *h, int secs)
{
    lws_set_timeout(h, PENDING_TIMEOUT_CLOSE_SEND, secs);
}

static const struct tafel_link ws_link = {link_want_write, link_rx_flow, link_write, link_buffered,
                                          link_close_within};

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
    unsigned status;
    const char *ctype;
    char *body = tafel_core_http(srv, uri, &status, &ctype);
    if (body || status == 500) {
        int rc = body ? http_respond(wsi, pss, status, ctype, body) : -1;
        free(body);
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
    lws_get_peer_simple(wsi, buf, sizeof(buf));
    return tafel_core_admit(srv, buf) ? 0 : 1;
}

static int ws_established(struct lws *wsi, struct pss *pss)
{
    char addr[64];
    lws_get_peer_simple(wsi, addr, sizeof(addr));
    pss->c = tafel_core_open(server_of(wsi), wsi, addr);
    return pss->c ? 0 : -1;
}

static void ws_closed(struct lws *wsi, struct pss *pss)
{
    if (pss->c)
        tafel_core_closed(server_of(wsi), pss->c);
    pss->c = NULL;
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
        tafel_core_message(srv, c, in, len);
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
    tafel_core_message(srv, c, c->rx.buf, c->rx.len);
    tafel_assembler_free(&c->rx);
    return 0;
}

static int ws_writeable(struct lws *wsi, struct pss *pss)
{
    struct conn *c = pss->c;
    if (!c)
        return -1;
    switch (tafel_core_writeable(server_of(wsi), c)) {
    case TAFEL_OUT_MORE:
        lws_callback_on_writable(wsi);
        return 0;
    case TAFEL_OUT_IDLE:
        return 0;
    case TAFEL_OUT_CLOSE:
        lws_close_reason(wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)c->close_reason, strlen(c->close_reason));
        return -1;
    default:
        return -1;
    }
}

/* ------------------------------------------------------------- the callback */

static int on_event(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
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
        if (signalled)
            tafel_core_drain(srv);
        tafel_core_wake(srv);
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

static int callback_tafel(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                          size_t len)
{
    int rc = on_event(wsi, reason, user, in, len);
    /* Whatever the event closed leaves its tables now, before the next. */
    struct tafel_server *srv = server_of(wsi);
    if (srv)
        tafel_core_settle(srv);
    return rc;
}

/* The writer thread's wake-up: lws_cancel_service() is the one lws call
 * that is safe from another thread; the loop then gets
 * EVENT_WAIT_CANCELLED. */
static void wake(void *ctx)
{
    lws_cancel_service(ctx);
}

static lws_sorted_usec_list_t sweep_sul;

static void sweep_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul;
    struct tafel_server *srv = lws_context_user(signal_ctx);
    tafel_core_tick(srv);
    lws_sul_schedule(signal_ctx, 0, &sweep_sul, sweep_cb, 250 * LWS_US_PER_MS);
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

    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx) {
        log_error("cannot listen on %s:%d", srv->cfg.host, srv->cfg.port);
        return 1;
    }
    signal_ctx = ctx;
    int rc = 1;
    srv->web_root = realpath(srv->cfg.web_dir, NULL);
    if (!srv->web_root)
        log_warn("web directory %s not found: the page will not be served", srv->cfg.web_dir);
    if (!tafel_core_start(srv, &ws_link, wake, ctx))
        goto cleanup;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int port = lws_get_vhost_listen_port(lws_get_vhost_by_name(ctx, "default"));
    log_info("listening on %s://%s:%d/ (data %s, seq %llu)", srv->cfg.tls_cert ? "https" : "http",
             srv->cfg.host, port, srv->cfg.data_dir,
             (unsigned long long)tafel_store_seq(srv->store));
    lws_sul_schedule(ctx, 0, &sweep_sul, sweep_cb, 250 * LWS_US_PER_MS);

    while (!srv->finished)
        if (lws_service(ctx, 0) < 0)
            break;
    rc = 0;
    log_info("stopped");

cleanup:
    lws_sul_cancel(&sweep_sul);
    /* The writer first (it commits what is queued and may still wake the
     * context); then the context, whose CLOSED callbacks let the
     * connections go; then the rest. */
    tafel_core_stop_writes(srv);
    lws_context_destroy(ctx);
    signal_ctx = NULL;
    tafel_core_stop(srv);
    free(srv->web_root);
    srv->web_root = NULL;
    return rc;
}
