/*
 * metrics.c - /metrics in the Prometheus text format, from the counters the
 * loop keeps in struct tafel_metrics (loop thread only, so no atomics).
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "conn.h"
#include "tafel_time.h"

struct out {
    char *buf;
    size_t len, cap;
    bool oom;
};

static void emit(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void emit(struct out *o, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            o->oom = true;
            return;
        }
        if ((size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        char *p = realloc(o->buf, o->cap * 2 + (size_t)n);
        if (!p) {
            o->oom = true;
            return;
        }
        o->buf = p;
        o->cap = o->cap * 2 + (size_t)n;
    }
}

static void metric(struct out *o, const char *name, const char *type, const char *help,
                   unsigned long long value)
{
    emit(o, "# HELP tafel_%s %s\n# TYPE tafel_%s %s\ntafel_%s %llu\n", name, help, name, type, name,
         value);
}

static void histogram(struct out *o, const char *name, const char *help, const uint64_t *counts,
                      const double *bounds, size_t n, double sum)
{
    emit(o, "# HELP tafel_%s %s\n# TYPE tafel_%s histogram\n", name, help, name);
    unsigned long long total = 0;
    for (size_t i = 0; i < n; i++) {
        total += counts[i];
        if (i + 1 < n)
            emit(o, "tafel_%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], total);
    }
    emit(o, "tafel_%s_bucket{le=\"+Inf\"} %llu\ntafel_%s_sum %g\ntafel_%s_count %llu\n", name,
         total, name, sum, name, total);
}

char *tafel_metrics_render(struct tafel_server *srv)
{
    const struct tafel_metrics *m = &srv->m;
    struct out o = {malloc(4096), 0, 4096, false};
    if (!o.buf)
        return NULL;
    unsigned long long subscribers = 0;
    for (struct conn *c = srv->conns; c; c = c->next)
        subscribers += c->nsubs > 0;
    metric(&o, "connections_open", "gauge", "WebSocket connections open now.", m->connections_open);
    metric(&o, "connections_total", "counter", "WebSocket connections accepted.",
           m->connections_total);
    metric(&o, "subscribers", "gauge", "Connections with at least one subscription.", subscribers);
    metric(&o, "messages_in_total", "counter", "Messages received.", m->messages_in);
    metric(&o, "messages_out_total", "counter", "Messages sent.", m->messages_out);
    metric(&o, "events_delivered_total", "counter", "Live events sent from the shared ring.",
           m->events_delivered);
    metric(&o, "commits_total", "counter", "Write transactions committed.", m->commits);
    metric(&o, "committed_ops_total", "counter", "Write operations committed.", m->committed_ops);
    metric(&o, "rejected_ops_total", "counter",
           "Write operations rejected (conflict, permission, validation).", m->rejected_ops);
    metric(&o, "slow_consumer_disconnects_total", "counter",
           "Connections closed with 4408 for falling behind.", m->slow_disconnects);
    metric(&o, "log_fallbacks_total", "counter",
           "Deliveries read from the change log because a reader was behind the ring.",
           m->log_fallbacks);
    metric(&o, "seq", "gauge", "Last committed change.", hub_seq(srv->hub));
    static const double batch_bounds[] = {1, 3, 7, 15, 31, 63, 127};
    double batch_sum = (double)m->committed_ops + (double)m->rejected_ops;
    histogram(&o, "commit_batch_size", "Operations per write transaction.", m->batch_hist,
              batch_bounds, 8, batch_sum);
    static const double us_bounds[] = {0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016};
    histogram(&o, "commit_seconds", "Duration of a write transaction including its sync.",
              m->commit_us_hist, us_bounds, 8, (double)m->commit_us_sum / 1e6);
    metric(&o, "commit_max_microseconds", "gauge", "Longest commit so far.", m->commit_us_max);
    metric(&o, "uptime_seconds", "gauge", "Seconds since start.",
           (unsigned long long)((tafel_time_mono_ms() - srv->started_ms) / 1000));
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    return o.buf;
}
