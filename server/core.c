/*
 * core.c - what happens to the server, whatever the transport: a
 * connection opens, sends a message, can take output, closes; the writer
 * finishes a batch; a tick passes; a signal asks it to stop. Each is
 * handed to the module that owns it. See core.h.
 */
#include "core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "dispatch.h"
#include "hub.h"
#include "quota.h"
#include "metrics.h"
#include "presence.h"
#include "retention.h"
#include "subs.h"
#include "tafel_time.h"
#include "writes.h"

#define DRAIN_MS 10000

bool tafel_core_start(struct tafel_server *srv, const struct tafel_link *link,
                      void (*wake)(void *ctx), void *wake_ctx)
{
    srv->link = link;
    srv->started_ms = tafel_time_mono_ms();
    srv->burst = malloc(TAFEL_HEADROOM + TAFEL_BURST_BYTES);
    srv->hub = hub_new(srv->store, srv->cfg.ring_size);
    bool ok =
        srv->burst && srv->hub && tafel_quota_init(srv) && tafel_writes_start(srv, wake, wake_ctx);
    if (!ok)
        log_error("cannot start: out of memory or threads");
    return ok;
}

void tafel_core_stop_writes(struct tafel_server *srv)
{
    /* The writes it finished and nobody answered drop their connection
     * references. */
    tafel_writes_stop(srv);
}

void tafel_core_stop(struct tafel_server *srv)
{
    tafel_writes_stop(srv);
    tafel_retention_free(srv);
    tafel_core_settle(srv);
    hub_free(srv->hub);
    srv->hub = NULL;
    tafel_quota_free(srv);
    tafel_presence_free(srv);
    tafel_auth_free(srv);
    free(srv->burst);
    srv->burst = NULL;
    free(srv->schema_json);
    srv->schema_json = NULL;
}

bool tafel_core_admit(struct tafel_server *srv, const char *addr)
{
    if (srv->draining)
        return false;
    if (srv->m.connections_open >= srv->cfg.max_connections) {
        log_warn("refused a connection: --max-connections %u reached", srv->cfg.max_connections);
        return false;
    }
    if (conn_count_from(srv, addr) >= srv->cfg.max_per_address) {
        log_warn("refused a connection from %s: --max-per-address reached", addr);
        return false;
    }
    return true;
}

struct conn *tafel_core_open(struct tafel_server *srv, void *io, const char *addr)
{
    struct conn *c = conn_open(srv, io, addr);
    if (c)
        log_debug("conn=%llu open from %s", (unsigned long long)c->id, c->addr);
    return c;
}

void tafel_core_message(struct tafel_server *srv, struct conn *c, const char *buf, size_t len)
{
    if (!c->close_code)
        tafel_dispatch(srv, c, buf, len);
}

enum tafel_out tafel_core_writeable(struct tafel_server *srv, struct conn *c)
{
    conn_written(c);
    int n = conn_flush(c);
    if (n != 0)
        return n < 0 ? TAFEL_OUT_BROKEN : TAFEL_OUT_MORE;
    if (c->close_code)
        return TAFEL_OUT_CLOSE;
    n = c->backlog.active ? tafel_backlog_step(srv, c) : hub_deliver(srv, c);
    return n < 0 ? TAFEL_OUT_BROKEN : n > 0 ? TAFEL_OUT_MORE : TAFEL_OUT_IDLE;
}

void tafel_core_closed(struct tafel_server *srv, struct conn *c)
{
    if (c->close_code)
        tafel_core_settle(srv); /* it may be among the leavers */
    else
        tafel_conn_leave(srv, c); /* the peer closed first */
    log_debug("conn=%llu closed", (unsigned long long)c->id);
    conn_gone(c);
}

void tafel_core_settle(struct tafel_server *srv)
{
    if (srv->leavers)
        tafel_conns_settle(srv);
}

static void drain_step(struct tafel_server *srv)
{
    if (!srv->draining)
        return;
    bool idle = tafel_writes_idle(srv);
    bool late = tafel_time_mono_ms() > srv->drain_deadline_ms;
    if (!idle && !late)
        return;
    bool open = false;
    for (struct conn *c = srv->conns; c; c = c->next) {
        open = true;
        conn_close(c, 1001, "server shutting down"); /* RFC 6455: going away */
    }
    if (!open || late)
        srv->finished = true;
}

void tafel_core_drain(struct tafel_server *srv)
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->drain_deadline_ms = tafel_time_mono_ms() + DRAIN_MS;
    log_info("signal received: finishing writes in flight, then closing");
}

void tafel_core_wake(struct tafel_server *srv)
{
    tafel_writes_done(srv);
    drain_step(srv);
    tafel_core_settle(srv);
}

void tafel_core_tick(struct tafel_server *srv)
{
    tafel_auth_sweep(srv);
    tafel_quota_sweep(srv);
    tafel_core_settle(srv);
    tafel_presence_flush(srv, false);
    tafel_retention_tick(srv);
    drain_step(srv);
    tafel_core_settle(srv);
}

char *tafel_core_http(struct tafel_server *srv, const char *uri, unsigned *status,
                      const char **ctype)
{
    char *body = NULL;
    *status = 200;
    *ctype = "application/json";
    if (strcmp(uri, "/healthz") == 0) {
        /* A full disk refuses every write: a load balancer or monitor must
         * see it, not only the clients whose writes fail. */
        const char *state = srv->draining ? "draining" : srv->storage_full ? "no_space" : "ok";
        body = malloc(128);
        if (body)
            snprintf(body, 128, "{\"status\":\"%s\",\"seq\":%llu}\n", state,
                     (unsigned long long)hub_seq(srv->hub));
        *status = strcmp(state, "ok") == 0 ? 200 : 503;
    } else if (strcmp(uri, "/schema.json") == 0) {
        /* The kinds, fields, labels and permission cells the page builds
         * its forms and buttons from; built on the first request (the table
         * is compiled in, so once is enough), not at every start. */
        if (!srv->schema_json) {
            json_t *schema = tafel_schema_json();
            srv->schema_json = schema ? json_dumps(schema, JSON_COMPACT) : NULL;
            json_decref(schema);
        }
        body = srv->schema_json ? strdup(srv->schema_json) : NULL;
    } else if (strcmp(uri, "/metrics") == 0) {
        body = tafel_metrics_render(srv);
        *ctype = "text/plain; version=0.0.4";
    } else {
        return NULL;
    }
    if (!body)
        *status = 500;
    return body;
}
