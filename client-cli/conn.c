/*
 * conn.c - the lws client under every `tafel` command, and the request /
 * reply layer on top of it.
 *
 * One lws context per process, created for the URL's scheme (wss:// gets
 * OpenSSL and the optional --ca). The single protocol callback below is the
 * only code that sees lws events: it writes one queued frame per
 * CLIENT_WRITEABLE (re-armed while more wait), reassembles fragmented
 * messages, parses each with tafel_server_msg_parse() and queues it. The
 * rest of the client never touches lws: it sends frames and waits for
 * messages with a deadline. lws 4.x's lws_service() sleeps until the next
 * scheduled event, so every wait schedules a short wake-up tick: that bounds
 * the wait and lets SIGINT be noticed.
 *
 * Each connection attempt carries a generation number in its opaque user
 * data, so that late callbacks of an abandoned attempt (a timed-out connect
 * that lws finishes later) cannot be taken for the current connection.
 */
#include <libwebsockets.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"
#include "tafel_assembler.h"
#include "tafel_time.h"

#define RX_MAX  (64u << 20) /* a reply larger than this is refused: no list is that big */
#define TICK_MS 50          /* longest sleep inside a wait, for SIGINT and deadlines */

/* A frame waiting to be written: LWS_PRE bytes of headroom, then JSON. */
struct frame {
    struct frame *next;
    char *buf;
    size_t len;
};

/* A received, parsed message waiting for a conn_wait(). */
struct inmsg {
    struct inmsg *next;
    struct tafel_server_msg m;
};

enum conn_state { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_FAILED, ST_CLOSED };

/* The context's user data: lives from conn_new() to conn_free(). */
struct tafel_conn {
    struct lws_context *ctx;
    struct conn_url url;
    struct lws *wsi; /* the current connection; NULL when there is none */
    uintptr_t gen;   /* generation of the current connection attempt */
    enum conn_state state;
    bool closing; /* close politely once the queue is written */
    int close_code;
    char error[200];
    struct frame *out_head, *out_tail;
    struct tafel_assembler rx; /* the message being reassembled */
    struct inmsg *in_head, *in_tail;
    lws_sorted_usec_list_t tick;
    const volatile sig_atomic_t *stop;
};

/* ------------------------------------------------------------------ URLs */

bool conn_url_parse(const char *url, struct conn_url *out)
{
    memset(out, 0, sizeof(*out));
    const char *p;
    if (strncmp(url, "ws://", 5) == 0) {
        p = url + 5;
    } else if (strncmp(url, "wss://", 6) == 0) {
        p = url + 6;
        out->tls = true;
    } else {
        return false;
    }
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *host = p, *host_end, *colon;
    if (*p == '[') { /* [IPv6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return false;
        host = p + 1;
        host_end = rb;
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
    }
    long port = out->tls ? 443 : 80;
    if (colon) {
        char *e;
        port = strtol(colon + 1, &e, 10);
        if (e != end || colon + 1 == end || port < 1 || port > 65535)
            return false;
    }
    if (host_end == host)
        return false;
    out->host = strndup(host, (size_t)(host_end - host));
    out->path = strdup(slash && slash[1] ? slash : "/ws");
    out->port = (int)port;
    if (!out->host || !out->path) {
        conn_url_free(out);
        return false;
    }
    return true;
}

void conn_url_free(struct conn_url *u)
{
    free(u->host);
    free(u->path);
    memset(u, 0, sizeof(*u));
}

/* ---------------------------------------------------------------- queues */

static void out_clear(struct tafel_conn *c)
{
    while (c->out_head) {
        struct frame *f = c->out_head;
        c->out_head = f->next;
        free(f->buf);
        free(f);
    }
    c->out_tail = NULL;
}

static void in_clear(struct tafel_conn *c)
{
    while (c->in_head) {
        struct inmsg *m = c->in_head;
        c->in_head = m->next;
        tafel_server_msg_free(&m->m);
        free(m);
    }
    c->in_tail = NULL;
}

/* A complete message arrived: parse and queue it. A message that does not
 * parse is dropped: the protocol tells clients to ignore what they do not
 * understand, and a reply that never comes ends in a timeout. */
static int rx_complete(struct tafel_conn *c)
{
    struct inmsg *m = calloc(1, sizeof(*m));
    if (!m)
        return -1;
    enum tafel_err e = tafel_server_msg_parse(c->rx.buf, c->rx.len, &m->m, NULL);
    tafel_assembler_reset(&c->rx);
    if (e != TAFEL_E_OK) {
        tafel_server_msg_free(&m->m);
        free(m);
        return 0;
    }
    if (c->in_tail)
        c->in_tail->next = m;
    else
        c->in_head = m;
    c->in_tail = m;
    return 0;
}

/* ------------------------------------------------------------- callback */

static int write_one(struct tafel_conn *c, struct lws *wsi)
{
    struct frame *f = c->out_head;
    if (!f) {
        if (c->closing) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        return 0;
    }
    c->out_head = f->next;
    if (!c->out_head)
        c->out_tail = NULL;
    int n = lws_write(wsi, (unsigned char *)f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
    bool ok = n >= 0 && (size_t)n >= f->len;
    free(f->buf);
    free(f);
    if (!ok)
        return -1;
    if (c->out_head || c->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    struct lws_context *ctx = lws_get_context(wsi);
    struct tafel_conn *c = ctx ? lws_context_user(ctx) : NULL;
    if (!c)
        return 0;
    bool current = (uintptr_t)lws_get_opaque_user_data(wsi) == c->gen;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (current) {
            bool why = in && len;
            snprintf(c->error, sizeof(c->error), "%.*s", why ? (int)len : 17,
                     why ? (const char *)in : "connection failed");
            c->state = ST_FAILED;
            c->wsi = NULL;
        }
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!current)
            return -1;
        c->state = ST_OPEN;
        if (c->out_head)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!current)
            return -1;
        if (lws_frame_is_binary(wsi) || tafel_assembler_add(&c->rx, in, len, RX_MAX) != TAFEL_E_OK)
            return -1;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0)
            return rx_complete(c);
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!current)
            return -1;
        return write_one(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (current && len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (current) {
            c->state = ST_CLOSED;
            c->wsi = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols protocols[] = {
    {TAFEL_SUBPROTOCOL, callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* -------------------------------------------------------------- the loop */

static void tick_cb(lws_sorted_usec_list_t *sul)
{
    (void)sul; /* only there to wake lws_service() */
}

static bool stopped(const struct tafel_conn *c)
{
    return c->stop && *c->stop;
}

/* One round of lws service, sleeping at most until @p deadline (monotonic
 * ms) and never longer than TICK_MS. */
static void service_until(struct tafel_conn *c, int64_t deadline)
{
    int64_t wait = deadline - tafel_time_mono_ms();
    if (wait > TICK_MS)
        wait = TICK_MS;
    if (wait < 1)
        wait = 1;
    lws_sul_schedule(c->ctx, 0, &c->tick, tick_cb, (lws_usec_t)wait * 1000);
    lws_service(c->ctx, 0);
}

/* --------------------------------------------------------------- the API */

struct tafel_conn *conn_new(const char *url, const char *ca, const volatile sig_atomic_t *stop,
                            bool *bad_url)
{
    *bad_url = false;
    struct tafel_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (!conn_url_parse(url, &c->url)) {
        *bad_url = true;
        free(c);
        return NULL;
    }
    c->stop = stop;
    /* lws logs to stderr; the client prints one line of its own instead. */
    lws_set_log_level(getenv("TAFEL_LWS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : 0, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = c;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    if (c->url.tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = ca;
    }
    c->ctx = lws_create_context(&info);
    if (!c->ctx) {
        conn_url_free(&c->url);
        free(c);
        return NULL;
    }
    return c;
}

enum conn_status conn_open(struct tafel_conn *c, int timeout_ms)
{
    out_clear(c);
    in_clear(c);
    tafel_assembler_reset(&c->rx);
    c->close_code = 0;
    c->closing = false;
    c->error[0] = '\0';
    c->gen++;
    c->state = ST_CONNECTING;
    c->wsi = NULL;

    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = c->ctx;
    ci.address = c->url.host;
    ci.port = c->url.port;
    ci.path = c->url.path;
    ci.host = c->url.host;
    ci.origin = c->url.host;
    ci.protocol = TAFEL_SUBPROTOCOL;
    ci.local_protocol_name = TAFEL_SUBPROTOCOL;
    ci.ssl_connection = c->url.tls ? LCCSCF_USE_SSL : 0;
    ci.ietf_version_or_minus_one = -1;
    ci.opaque_user_data = (void *)c->gen;
    ci.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&ci) && c->state == ST_CONNECTING) {
        snprintf(c->error, sizeof(c->error), "%s", "connection failed");
        c->state = ST_FAILED;
    }
    int64_t deadline = tafel_time_mono_ms() + timeout_ms;
    while (c->state == ST_CONNECTING) {
        if (stopped(c))
            return CONN_STOPPED;
        if (tafel_time_mono_ms() >= deadline) {
            c->gen++; /* abandon the attempt: its late callbacks are ignored */
            c->wsi = NULL;
            c->state = ST_FAILED;
            snprintf(c->error, sizeof(c->error), "%s", "timed out");
            return CONN_TIMEOUT;
        }
        service_until(c, deadline);
    }
    if (c->state == ST_OPEN)
        return CONN_OK;
    return c->state == ST_CLOSED ? CONN_CLOSED : CONN_FAILED;
}

enum conn_status conn_send(struct tafel_conn *c, char *buf, size_t len)
{
    if (c->state != ST_OPEN || !c->wsi) {
        free(buf);
        return CONN_CLOSED;
    }
    struct frame *f = malloc(sizeof(*f));
    if (!f) {
        free(buf);
        return CONN_NOMEM;
    }
    f->next = NULL;
    f->buf = buf;
    f->len = len;
    if (c->out_tail)
        c->out_tail->next = f;
    else
        c->out_head = f;
    c->out_tail = f;
    lws_callback_on_writable(c->wsi);
    return CONN_OK;
}

/* Take the first queued message matching @p req (any message if NULL). */
static bool take(struct tafel_conn *c, const json_t *req, struct tafel_server_msg *out)
{
    struct inmsg *prev = NULL;
    for (struct inmsg *m = c->in_head; m; prev = m, m = m->next) {
        if (req && !((m->m.type == TAFEL_SMSG_OK || m->m.type == TAFEL_SMSG_ERROR) && m->m.req &&
                     json_equal(m->m.req, req)))
            continue;
        if (prev)
            prev->next = m->next;
        else
            c->in_head = m->next;
        if (c->in_tail == m)
            c->in_tail = prev;
        *out = m->m;
        free(m);
        return true;
    }
    return false;
}

enum conn_status conn_wait(struct tafel_conn *c, const json_t *req, int timeout_ms,
                           struct tafel_server_msg *out)
{
    memset(out, 0, sizeof(*out));
    int64_t deadline = tafel_time_mono_ms() + timeout_ms;
    for (;;) {
        if (take(c, req, out))
            return CONN_OK;
        if (c->state != ST_OPEN)
            return CONN_CLOSED;
        if (stopped(c))
            return CONN_STOPPED;
        if (tafel_time_mono_ms() >= deadline)
            return CONN_TIMEOUT;
        service_until(c, deadline);
    }
}

enum conn_status conn_sleep(struct tafel_conn *c, int ms)
{
    int64_t deadline = tafel_time_mono_ms() + ms;
    while (tafel_time_mono_ms() < deadline) {
        if (stopped(c))
            return CONN_STOPPED;
        service_until(c, deadline);
    }
    return CONN_OK;
}

const char *conn_error(const struct tafel_conn *c)
{
    return c->error;
}

int conn_close_code(const struct tafel_conn *c)
{
    return c->close_code;
}

void conn_free(struct tafel_conn *c)
{
    if (!c)
        return;
    if (c->wsi && c->state == ST_OPEN) {
        /* Send a close frame after what is queued; wait a little for it. */
        c->closing = true;
        lws_callback_on_writable(c->wsi);
        int64_t deadline = tafel_time_mono_ms() + 500;
        while (c->state == ST_OPEN && tafel_time_mono_ms() < deadline)
            service_until(c, deadline);
    }
    lws_sul_cancel(&c->tick);
    lws_context_destroy(c->ctx);
    out_clear(c);
    in_clear(c);
    tafel_assembler_free(&c->rx);
    conn_url_free(&c->url);
    free(c);
}

/* ---------------------------------------------- requests for the commands */

/* Turn a failed wait or connect into the error line. */
static enum cli_exit conn_fail(struct cli *cli, enum conn_status st)
{
    char detail[300];
    switch (st) {
    case CONN_FAILED:
        snprintf(detail, sizeof(detail), "%s (%s)", cli->url, conn_error(cli->conn));
        return cli_fail(cli, CLI_EXIT_CONNECTION, tr(cli, T_NO_CONNECT), detail, T_HINT_CONNECT);
    case CONN_TIMEOUT:
        snprintf(detail, sizeof(detail), "%d s", (cli->timeout_ms + 999) / 1000);
        return cli_fail(cli, CLI_EXIT_CONNECTION, tr(cli, T_NO_ANSWER), detail, T_HINT_TIMEOUT);
    case CONN_CLOSED: {
        int code = conn_close_code(cli->conn);
        if (code == 4401 || code == 4403)
            return cli_fail(cli, CLI_EXIT_AUTH,
                            tr(cli, code == 4403 ? T_KEY_REVOKED : T_KEY_UNKNOWN), NULL,
                            code == 4403 ? T_HINT_REVOKED : T_HINT_UNKNOWN_KEY);
        snprintf(detail, sizeof(detail), "%s (%d)", cli->url, code);
        return cli_fail(cli, CLI_EXIT_CONNECTION, tr(cli, T_CLOSED), detail, T_HINT_RETRY);
    }
    case CONN_NOMEM:
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    case CONN_STOPPED: /* interrupted: the caller (watch) decides; nothing to print */
        return CLI_EXIT_OTHER;
    case CONN_OK:
        break;
    }
    return CLI_EXIT_OK;
}

/* Serialise @p msg and check it with the server's own validator. */
static enum cli_exit frame_of(struct cli *cli, const json_t *msg, char **buf, size_t *len)
{
    *buf = tafel_msg_dump(msg, LWS_PRE, len);
    if (!*buf)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    struct tafel_request r;
    struct tafel_errinfo info;
    enum tafel_err e = tafel_request_parse(*buf + LWS_PRE, *len, NULL, &r, &info);
    tafel_request_free(&r);
    if (e == TAFEL_E_OK)
        return CLI_EXIT_OK;
    free(*buf);
    *buf = NULL;
    /* The validator's message names the field already ("doc.title: ..."). */
    bool named = *info.field && strncmp(info.message, info.field, strlen(info.field)) == 0;
    return cli_usage(cli, T_BAD_VALUE, "%s%s%s", named ? "" : info.field,
                     named || !*info.field ? "" : ": ", info.message);
}

/* Send one request and wait for its reply; the connection must be open. */
static enum cli_exit roundtrip(struct cli *cli, json_t *msg, json_t **reply)
{
    *reply = NULL;
    json_t *req = json_integer(++cli->next_req);
    if (!req || json_object_set_new(msg, "req", req) != 0)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    char *buf;
    size_t len;
    enum cli_exit rc = frame_of(cli, msg, &buf, &len);
    if (rc != CLI_EXIT_OK)
        return rc;
    enum conn_status st = conn_send(cli->conn, buf, len);
    struct tafel_server_msg m;
    if (st == CONN_OK)
        st = conn_wait(cli->conn, req, cli->timeout_ms, &m);
    if (st != CONN_OK)
        return conn_fail(cli, st);
    *reply = json_incref(m.root);
    bool ok = m.type == TAFEL_SMSG_OK;
    tafel_server_msg_free(&m);
    return ok ? CLI_EXIT_OK : cli_fail_reply(cli, *reply);
}

enum cli_exit cli_connect(struct cli *cli)
{
    if (cli->me)
        return CLI_EXIT_OK;
    if (!cli->url || !*cli->url)
        return cli_fail(cli, CLI_EXIT_USAGE, "TAFEL_URL", NULL, T_HINT_NO_URL);
    if (!cli->key || !*cli->key)
        return cli_fail(cli, CLI_EXIT_USAGE, "TAFEL_KEY", NULL, T_HINT_NO_KEY);
    if (!cli->conn) {
        bool bad_url;
        cli->conn = conn_new(cli->url, cli->ca, cli->stop, &bad_url);
        if (!cli->conn)
            return bad_url ? cli_usage(cli, T_BAD_URL, "%s", cli->url)
                           : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL,
                                      T_HINT_RETRY);
    }
    enum conn_status st = conn_open(cli->conn, cli->timeout_ms);
    if (st != CONN_OK)
        return conn_fail(cli, st);
    json_t *hello = json_pack("{ss ss}", "type", "hello", "key", cli->key);
    json_t *reply = NULL;
    enum cli_exit rc =
        hello ? roundtrip(cli, hello, &reply)
              : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    json_decref(hello);
    if (rc == CLI_EXIT_OK)
        cli->me = reply;
    else
        json_decref(reply);
    return rc;
}

enum cli_exit cli_request(struct cli *cli, json_t *msg, json_t **reply)
{
    *reply = NULL;
    /* Check before connecting: a typo should not need a server. */
    char *buf;
    size_t len;
    enum cli_exit rc = frame_of(cli, msg, &buf, &len);
    free(buf);
    if (rc == CLI_EXIT_OK)
        rc = cli_connect(cli);
    return rc == CLI_EXIT_OK ? roundtrip(cli, msg, reply) : rc;
}

enum cli_exit cli_get(struct cli *cli, const char *kind, const char *id, json_t **doc)
{
    *doc = NULL;
    json_t *msg = json_pack("{ss ss ss}", "type", "get", "kind", kind, "id", id);
    json_t *reply = NULL;
    enum cli_exit rc =
        msg ? cli_request(cli, msg, &reply)
            : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    if (rc == CLI_EXIT_OK)
        *doc = json_incref(json_object_get(reply, "doc"));
    json_decref(msg);
    json_decref(reply);
    return rc;
}

enum cli_exit cli_list(struct cli *cli, const char *kind, const char *opgave, json_t **docs,
                       bool *more)
{
    *docs = NULL;
    json_t *msg = json_pack("{ss}", "type", "list");
    if (msg && kind)
        json_object_set_new(msg, "kind", json_string(kind));
    if (msg && opgave)
        json_object_set_new(msg, "opgave", json_string(opgave));
    json_t *reply = NULL;
    enum cli_exit rc =
        msg ? cli_request(cli, msg, &reply)
            : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T_HINT_RETRY);
    if (rc == CLI_EXIT_OK) {
        json_t *arr = json_object_get(reply, "docs");
        *docs = json_is_array(arr) ? json_incref(arr) : json_array();
        if (more)
            *more = json_is_true(json_object_get(reply, "more"));
    }
    json_decref(msg);
    json_decref(reply);
    return rc;
}

char *cli_join_url(const struct cli *cli, const char *code)
{
    struct conn_url u;
    if (!cli->url || !conn_url_parse(cli->url, &u))
        return NULL;
    char *out = NULL;
    bool v6 = strchr(u.host, ':') != NULL;
    if (asprintf(&out, "%s://%s%s%s:%d/join/%s", u.tls ? "https" : "http", v6 ? "[" : "", u.host,
                 v6 ? "]" : "", u.port, code) < 0)
        out = NULL;
    conn_url_free(&u);
    return out;
}
