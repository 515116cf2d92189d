/*
 * scenarios.c - the five measurements of tafel-bench, and the three kinds of
 * connection they are made of.
 *
 *   ctl      one connection for setup (hello, create the opgave and keys,
 *            rare replies): messages parsed with jansson, one at a time.
 *   fleet    many subscribers: connect (a bounded number at a time, so the
 *            server's listen backlog is not what we measure), hello, sub,
 *            then check every event: seq strictly increasing per subscriber,
 *            and for fan-out the write number k exactly the next one
 *            (nothing lost, nothing twice) and the latency from the send time
 *            embedded in the document. Events are scanned, not parsed: at
 *            200,000 a second a full JSON parse per event would make the load
 *            generator the bottleneck.
 *   writers  connections that `put` reflecties, each with up to `depth`
 *            requests in flight, either as fast as acks come back (writes,
 *            catch-up) or paced by a timer at a fixed rate (fan-out). Replies
 *            on one connection come in request order, which is checked.
 *
 * Each scenario measures one phase between two readings of the server's
 * /proc figures and our own getrusage(), after setup and before teardown,
 * so neither is counted.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETUP_NS (60 * BENCH_NS_PER_S)
/* After the last write, how long events may take to arrive before they
 * count as lost. */
#define DRAIN_NS (30 * BENCH_NS_PER_S)

/* ------------------------------------------------------------- scanning */

static bool is_type(const char *m, size_t len, const char *type)
{
    char pat[48];
    int n = snprintf(pat, sizeof(pat), "\"type\":\"%s\"", type);
    return memmem(m, len, pat, (size_t)n) != NULL;
}

/* The unsigned number after the first @p key in @p m, or -1. */
static long long scan_num(const char *m, size_t len, const char *key)
{
    size_t kl = strlen(key);
    const char *p = memmem(m, len, key, kl);
    if (!p)
        return -1;
    const char *end = m + len;
    p += kl;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    long long v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
    return v;
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* tafeld names the thread that runs every write transaction (and its sync)
 * so that its CPU can be told apart from the event loop's. */
#define WRITER_THREAD "tafel-writer"

/* Server, its writer thread's and load-generator CPU over one phase. */
struct cpu_mark {
    int64_t wall, server, self;
    pid_t writer_tid; /* -1: no thread of that name (an older tafeld) */
    int64_t writer;   /* its CPU, -1 when unknown */
};

static void cpu_mark(struct cpu_mark *m, const struct bench_server *s)
{
    m->wall = bench_now_ns();
    m->server = bench_proc_cpu_ns(s->watch_pid);
    /* Looked up at every mark: a thread id that changed between two marks
     * is a different thread, whose CPU cannot be subtracted. */
    m->writer_tid = bench_proc_thread(s->watch_pid, WRITER_THREAD);
    m->writer = bench_proc_thread_cpu_ns(s->watch_pid, m->writer_tid);
    m->self = bench_self_cpu_ns();
}

/* Figures for the CPU both sides used between @p a and @p b, as % of one core. */
static void cpu_figures(struct bench_run *r, const struct cpu_mark *a, const struct cpu_mark *b)
{
    double wall = (double)(b->wall - a->wall);
    if (wall <= 0)
        return;
    if (a->server >= 0 && b->server >= 0) {
        bench_fig(r, "server CPU", "s", (double)(b->server - a->server) / 1e9, BENCH_NO_TARGET, 0);
        bench_fig(r, "server CPU (of one core)", "%",
                  100.0 * (double)(b->server - a->server) / wall, BENCH_NO_TARGET, 0);
    }
    bench_fig(r, "load generator CPU", "s", (double)(b->self - a->self) / 1e9, BENCH_NO_TARGET, 0);
    bench_fig(r, "load generator CPU (of one core)", "%",
              100.0 * (double)(b->self - a->self) / wall, BENCH_NO_TARGET, 0);
}

/* The server's CPU between @p a and @p b per unit of work (@p n acked
 * writes, delivered events), in µs: what a unit costs, whatever the rate. */
static void server_cpu_per(struct bench_run *r, const char *name, const struct cpu_mark *a,
                           const struct cpu_mark *b, uint64_t n)
{
    if (n && a->server >= 0 && b->server >= 0)
        bench_fig(r, name, "µs", (double)(b->server - a->server) / 1e3 / (double)n, BENCH_NO_TARGET,
                  0);
}

/* The writer thread's CPU between @p a and @p b: per acked write (of @p n)
 * and as % of one core, the core that bounds the write rate. Nothing when
 * the thread was not found at both marks (an older tafeld did not name it).
 * @return whether the figures were added. */
static bool writer_cpu_figures(struct bench_run *r, const struct cpu_mark *a,
                               const struct cpu_mark *b, uint64_t n)
{
    double wall = (double)(b->wall - a->wall);
    if (a->writer_tid <= 0 || a->writer_tid != b->writer_tid || a->writer < 0 || b->writer < 0 ||
        wall <= 0 || !n)
        return false;
    double cpu = (double)(b->writer - a->writer);
    bench_fig(r, "writer thread CPU (of one core)", "%", 100.0 * cpu / wall, BENCH_NO_TARGET, 0);
    bench_fig(r, "writer thread CPU per write", "µs", cpu / 1e3 / (double)n, BENCH_AT_MOST, 10);
    return true;
}

/* Run the loop until @p done, failing with "timed out waiting for WHAT". */
static int run_until(struct bench_loop *L, bool (*done)(void *), void *arg, const char *what,
                     int64_t deadline, char *err, size_t errlen)
{
    struct bench_wait w = {.done = done, .arg = arg, .what = what};
    return bench_loop_run(L, &w, deadline, err, errlen);
}

/* ----------------------------------------------------------------- ctl */

/* A setup connection. `ws` is first so the loop's struct wsc * is ours. */
struct ctl {
    struct wsc ws;
    json_t *reply; /* the last reply (not an event), owned */
    int req;
};

static void ctl_message(struct wsc *c, const char *msg, size_t len)
{
    struct ctl *k = (struct ctl *)c;
    if (is_type(msg, len, "event") || is_type(msg, len, "snapshot") ||
        is_type(msg, len, "presence"))
        return;
    json_decref(k->reply);
    k->reply = json_loadb(msg, len, 0, NULL);
    if (!k->reply)
        k->reply = json_pack("{s:s,s:s}", "type", "error", "message", "unparseable reply");
}

static const struct wsc_ops ctl_ops = {.on_message = ctl_message};

static bool ctl_replied(void *arg)
{
    struct ctl *k = arg;
    return k->reply || k->ws.state == WSC_IDLE;
}

static bool ctl_opened(void *arg)
{
    struct ctl *k = arg;
    return k->ws.state == WSC_OPEN || k->ws.state == WSC_IDLE;
}

/* Send @p text (a request with "req") and wait for its reply: 0 and the reply
 * in *out (may be NULL; else json_decref it), -1 on error or refusal. */
static int ctl_call(struct ctl *k, const char *text, json_t **out, char *err, size_t errlen)
{
    json_decref(k->reply);
    k->reply = NULL;
    if (wsc_send(&k->ws, text, strlen(text)) < 0) {
        snprintf(err, errlen, "setup connection is not open: %s", k->ws.error);
        return -1;
    }
    if (run_until(k->ws.loop, ctl_replied, k, "for a setup reply", bench_now_ns() + SETUP_NS, err,
                  errlen) < 0)
        return -1;
    if (!k->reply) {
        snprintf(err, errlen, "setup connection closed (code %d) %s", k->ws.close_code,
                 k->ws.error);
        return -1;
    }
    const char *type = json_string_value(json_object_get(k->reply, "type"));
    if (!type || strcmp(type, "ok") != 0) {
        snprintf(err, errlen, "server refused %.80s: %s %s", text,
                 json_string_value(json_object_get(k->reply, "code")),
                 json_string_value(json_object_get(k->reply, "message")));
        return -1;
    }
    if (out)
        *out = k->reply;
    else
        json_decref(k->reply);
    k->reply = NULL;
    return 0;
}

static int ctl_open(struct bench_loop *L, struct ctl *k, const char *key, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (wsc_connect(L, &k->ws, 0, &ctl_ops) < 0) {
        snprintf(err, errlen, "setup connection: %s", k->ws.error);
        return -1;
    }
    if (run_until(L, ctl_opened, k, "for the setup connection", bench_now_ns() + SETUP_NS, err,
                  errlen) < 0)
        return -1;
    char hello[160];
    snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"req\":%d,\"key\":\"%s\"}", ++k->req, key);
    return ctl_call(k, hello, NULL, err, errlen);
}

static void ctl_free(struct ctl *k)
{
    wsc_reset(&k->ws);
    json_decref(k->reply);
    k->reply = NULL;
}

/* What every scenario sets up first: an opgave of its own, a waarnemer key
 * for subscribers and an opgaveleider key for writers, both scoped to it. */
struct setup {
    struct ctl admin;
    char opgave[72];
    char reader_key[80];
    char writer_key[80];
    uint64_t seq; /* the server's seq when setup finished */
};

static int make_key(struct setup *su, const char *role, char *out, size_t outlen, char *err,
                    size_t errlen)
{
    char req[256];
    json_t *reply = NULL;
    snprintf(req, sizeof(req),
             "{\"type\":\"key.create\",\"req\":%d,\"role\":\"%s\",\"opgaven\":[\"%s\"],"
             "\"label\":\"tafel-bench %s\"}",
             ++su->admin.req, role, su->opgave, role);
    if (ctl_call(&su->admin, req, &reply, err, errlen) < 0)
        return -1;
    const char *key = json_string_value(json_object_get(reply, "key"));
    snprintf(out, outlen, "%s", key ? key : "");
    json_decref(reply);
    return key ? 0 : -1;
}

static int setup_open(struct bench_loop *L, const struct bench_server *s, struct setup *su,
                      char *err, size_t errlen)
{
    memset(su, 0, sizeof(*su));
    if (ctl_open(L, &su->admin, s->key, err, errlen) < 0)
        return -1;
    char req[160];
    json_t *reply = NULL;
    snprintf(
        req, sizeof(req),
        "{\"type\":\"put\",\"req\":%d,\"kind\":\"opgave\",\"doc\":{\"title\":\"tafel-bench\"}}",
        ++su->admin.req);
    if (ctl_call(&su->admin, req, &reply, err, errlen) < 0)
        return -1;
    const char *id = json_string_value(json_object_get(reply, "id"));
    snprintf(su->opgave, sizeof(su->opgave), "%s", id ? id : "");
    su->seq = (uint64_t)json_integer_value(json_object_get(reply, "seq"));
    json_decref(reply);
    if (!su->opgave[0] ||
        make_key(su, "waarnemer", su->reader_key, sizeof(su->reader_key), err, errlen) < 0 ||
        make_key(su, "opgaveleider", su->writer_key, sizeof(su->writer_key), err, errlen) < 0)
        return -1;
    return 0;
}

/* --------------------------------------------------------------- fleet */

enum phase { P_WAIT, P_HELLO, P_SUB, P_READY, P_FAILED, P_DONE };

struct fleet {
    struct bench_loop *L;
    struct wsc *c;
    unsigned char *phase;
    uint64_t *got;      /* events received */
    uint64_t *last_seq; /* last seq seen (the sub's since, or the ok's seq) */
    uint64_t *next_k;   /* fan-out: the write number expected next */
    size_t n, launched, connecting, ready, failed;
    size_t concurrency;
    const char *key, *opgave;
    long long since; /* -1: sub without since */
    bool latency;    /* events carry "t=NS k=K": check k, record latency */
    struct bench_hist hist;
    uint64_t events, dups, gaps;
    int64_t last_ready_ns, sub_sent_ns, last_event_ns;
    char error[200];
};

static void fleet_fail(struct fleet *f, uint32_t i, const char *why)
{
    if (f->phase[i] == P_FAILED || f->phase[i] == P_DONE)
        return;
    if (f->phase[i] != P_READY)
        f->connecting--;
    f->phase[i] = P_FAILED;
    f->failed++;
    if (!f->error[0])
        snprintf(f->error, sizeof(f->error), "subscriber %u: %.160s", i, why);
    wsc_reset(&f->c[i]);
}

static void fleet_event(struct fleet *f, uint32_t i, const char *msg, size_t len)
{
    int64_t now = bench_now_ns();
    long long seq = scan_num(msg, len, "\"seq\":");
    if (seq < 0 || (uint64_t)seq <= f->last_seq[i])
        f->dups++;
    else
        f->last_seq[i] = (uint64_t)seq;
    f->got[i]++;
    f->events++;
    f->last_event_ns = now;
    if (!f->latency)
        return;
    long long t = scan_num(msg, len, "\"text\":\"t=");
    long long k = scan_num(msg, len, " k=");
    if (t < 0 || k < 0) {
        f->dups++; /* an event that is not one of ours counts as wrong */
        return;
    }
    bench_hist_add(&f->hist, now - t);
    if ((uint64_t)k < f->next_k[i])
        f->dups++;
    else if ((uint64_t)k > f->next_k[i])
        f->gaps += (uint64_t)k - f->next_k[i];
    f->next_k[i] = (uint64_t)k + 1;
}

static void fleet_on_open(struct wsc *c)
{
    struct fleet *f = c->user;
    char hello[160];
    int n = snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"req\":1,\"key\":\"%s\"}", f->key);
    f->phase[c->id] = P_HELLO;
    wsc_send(c, hello, (size_t)n);
}

static void fleet_on_message(struct wsc *c, const char *msg, size_t len)
{
    struct fleet *f = c->user;
    uint32_t i = c->id;
    if (is_type(msg, len, "event")) {
        fleet_event(f, i, msg, len);
        return;
    }
    bool ok = is_type(msg, len, "ok");
    if (!ok && !is_type(msg, len, "error"))
        return; /* snapshot, presence: not what we measure */
    if (!ok) {
        char why[160];
        snprintf(why, sizeof(why), "error reply %.120s", msg);
        fleet_fail(f, i, why);
        return;
    }
    if (f->phase[i] == P_HELLO) {
        char sub[160];
        int n = f->since >= 0
                    ? snprintf(sub, sizeof(sub),
                               "{\"type\":\"sub\",\"req\":2,\"opgave\":\"%s\",\"since\":%lld}",
                               f->opgave, f->since)
                    : snprintf(sub, sizeof(sub), "{\"type\":\"sub\",\"req\":2,\"opgave\":\"%s\"}",
                               f->opgave);
        f->phase[i] = P_SUB;
        f->sub_sent_ns = bench_now_ns();
        wsc_send(c, sub, (size_t)n);
    } else if (f->phase[i] == P_SUB) {
        /* The sub's ok says which seq the subscriber is current to: live
         * events continue after it. */
        long long seq = scan_num(msg, len, "\"seq\":");
        if (seq > 0 && (uint64_t)seq > f->last_seq[i])
            f->last_seq[i] = (uint64_t)seq;
        f->phase[i] = P_READY;
        f->connecting--;
        f->ready++;
        f->last_ready_ns = bench_now_ns();
    }
}

static void fleet_on_close(struct wsc *c)
{
    struct fleet *f = c->user;
    char why[200];
    snprintf(why, sizeof(why), "connection closed (code %d) %s", c->close_code, c->error);
    fleet_fail(f, c->id, why);
}

static const struct wsc_ops fleet_ops = {fleet_on_open, fleet_on_message, fleet_on_close};

static int fleet_init(struct fleet *f, struct bench_loop *L, size_t n, const char *key,
                      const char *opgave, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    f->L = L;
    f->n = n;
    f->key = key;
    f->opgave = opgave;
    f->since = -1;
    f->concurrency = 256;
    f->c = calloc(n, sizeof(*f->c));
    f->phase = calloc(n, 1);
    f->got = calloc(n, sizeof(uint64_t));
    f->last_seq = calloc(n, sizeof(uint64_t));
    f->next_k = calloc(n, sizeof(uint64_t));
    for (size_t i = 0; f->c && i < n; i++)
        f->c[i].fd = -1;
    if (f->c && f->phase && f->got && f->last_seq && f->next_k && bench_hist_init(&f->hist) == 0)
        return 0;
    snprintf(err, errlen, "out of memory for %zu connections", n);
    return -1;
}

static void fleet_free(struct fleet *f)
{
    for (size_t i = 0; f->c && i < f->n; i++)
        wsc_reset(&f->c[i]);
    free(f->c);
    free(f->phase);
    free(f->got);
    free(f->last_seq);
    free(f->next_k);
    bench_hist_free(&f->hist);
}

/* Start connections while fewer than `concurrency` are in progress. */
static void fleet_launch(struct fleet *f)
{
    while (f->launched < f->n && f->connecting < f->concurrency) {
        uint32_t i = (uint32_t)f->launched++;
        f->connecting++;
        f->phase[i] = P_WAIT;
        if (wsc_connect(f->L, &f->c[i], i, &fleet_ops) < 0) {
            char why[160];
            snprintf(why, sizeof(why), "%s", f->c[i].error);
            fleet_fail(f, i, why);
            continue;
        }
        f->c[i].user = f;
        if (f->since >= 0)
            f->last_seq[i] = (uint64_t)f->since;
    }
}

static bool fleet_connected(void *arg)
{
    struct fleet *f = arg;
    fleet_launch(f);
    return f->failed || f->ready == f->n;
}

/* Connect and subscribe every member; 0 when all are subscribed. */
static int fleet_connect(struct fleet *f, int64_t deadline, char *err, size_t errlen)
{
    if (run_until(f->L, fleet_connected, f, "for subscribers to connect", deadline, err, errlen) <
        0)
        return -1;
    if (f->failed) {
        snprintf(err, errlen, "%zu of %zu subscribers failed; first: %s", f->failed, f->n,
                 f->error);
        return -1;
    }
    return 0;
}

/* Polite close of every member (bounded), then drop what is left. Only
 * this group is waited for: the setup connection and other groups stay open
 * on the same loop. */
struct group {
    struct wsc *c;
    size_t n;
};

static bool group_closed(void *arg)
{
    const struct group *g = arg;
    for (size_t i = 0; i < g->n; i++)
        if (g->c[i].state != WSC_IDLE)
            return false;
    return true;
}

static void close_all(struct bench_loop *L, struct wsc *c, unsigned char *phase, size_t n)
{
    char err[200];
    struct group g = {c, n};
    for (size_t i = 0; i < n; i++) {
        phase[i] = P_DONE;
        wsc_close(&c[i], 1000);
    }
    run_until(L, group_closed, &g, "for connections to close", bench_now_ns() + 5 * BENCH_NS_PER_S,
              err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        wsc_reset(&c[i]);
}

/* ------------------------------------------------------------- writers */

struct writers {
    struct bench_loop *L;
    struct wsc *c;
    unsigned char *phase;
    uint64_t *sent, *acked; /* per connection */
    int64_t *t_sent;        /* n * depth: send time of request r at [i * depth + r % depth] */
    size_t n, depth, ready, failed;
    const char *key, *opgave;
    bool running;              /* issue writes (else only connect) */
    bool paced;                /* writes are issued by a timer, not by acks */
    int64_t start_ns, stop_ns; /* issue until stop_ns (0: no time limit) */
    uint64_t limit;            /* issue at most this many in total (0: no limit) */
    uint64_t total_sent, total_acked, acked_in_window, errors;
    struct bench_hist hist; /* request to ack */
    char error[200];
};

static void writers_fail(struct writers *w, uint32_t i, const char *why)
{
    if (w->phase[i] == P_FAILED || w->phase[i] == P_DONE)
        return;
    w->phase[i] = P_FAILED;
    w->failed++;
    if (!w->error[0])
        snprintf(w->error, sizeof(w->error), "writer %u: %.160s", i, why);
    wsc_reset(&w->c[i]);
}

static bool writers_may_issue(const struct writers *w, int64_t now)
{
    return w->running && (!w->limit || w->total_sent < w->limit) &&
           (!w->stop_ns || now < w->stop_ns);
}

/* One `put` of a reflectie whose text carries its send time and number. */
static void writers_send(struct writers *w, uint32_t i)
{
    if (w->sent[i] - w->acked[i] >= w->depth) {
        writers_fail(w, i,
                     "more writes in flight than --depth allows: the server is not keeping up");
        return;
    }
    char buf[320];
    uint64_t req = w->sent[i] + 1;
    int64_t t = bench_now_ns();
    int n = snprintf(buf, sizeof(buf),
                     "{\"type\":\"put\",\"req\":%llu,\"kind\":\"reflectie\",\"doc\":{\"opgave\":"
                     "\"%s\",\"sort\":\"idee\",\"text\":\"t=%lld k=%llu\"}}",
                     (unsigned long long)req, w->opgave, (long long)t,
                     (unsigned long long)w->total_sent);
    w->t_sent[i * w->depth + req % w->depth] = t;
    w->sent[i]++;
    w->total_sent++;
    wsc_send(&w->c[i], buf, (size_t)n);
}

static void writers_on_open(struct wsc *c)
{
    struct writers *w = c->user;
    char hello[160];
    int n = snprintf(hello, sizeof(hello), "{\"type\":\"hello\",\"req\":0,\"key\":\"%s\"}", w->key);
    w->phase[c->id] = P_HELLO;
    wsc_send(c, hello, (size_t)n);
}

/* Fill connection @p i's window (closed loop: as fast as acks come back). */
static void writers_fill(struct writers *w, uint32_t i, int64_t now)
{
    while (w->phase[i] == P_READY && w->sent[i] - w->acked[i] < w->depth &&
           writers_may_issue(w, now))
        writers_send(w, i);
}

static void writers_on_message(struct wsc *c, const char *msg, size_t len)
{
    struct writers *w = c->user;
    uint32_t i = c->id;
    if (is_type(msg, len, "error")) {
        char why[200];
        snprintf(why, sizeof(why), "error reply %.150s", msg);
        w->errors++;
        writers_fail(w, i, why);
        return;
    }
    if (!is_type(msg, len, "ok"))
        return;
    int64_t now = bench_now_ns();
    if (w->phase[i] == P_HELLO) {
        w->phase[i] = P_READY;
        w->ready++;
        if (!w->paced)
            writers_fill(w, i, now);
        return;
    }
    long long req = scan_num(msg, len, "\"req\":");
    if (req != (long long)w->acked[i] + 1) {
        writers_fail(w, i, "reply out of request order");
        return;
    }
    bench_hist_add(&w->hist, now - w->t_sent[i * w->depth + (uint64_t)req % w->depth]);
    w->acked[i]++;
    w->total_acked++;
    if (!w->stop_ns || now <= w->stop_ns)
        w->acked_in_window++;
    if (!w->paced)
        writers_fill(w, i, now);
}

static void writers_on_close(struct wsc *c)
{
    struct writers *w = c->user;
    char why[200];
    snprintf(why, sizeof(why), "connection closed (code %d) %s", c->close_code, c->error);
    writers_fail(w, c->id, why);
}

static const struct wsc_ops writers_ops = {writers_on_open, writers_on_message, writers_on_close};

static bool writers_connected(void *arg)
{
    struct writers *w = arg;
    return w->failed || w->ready == w->n;
}

/* Connect and authenticate @p n writers with @p depth requests in flight each. */
static int writers_start(struct writers *w, struct bench_loop *L, size_t n, size_t depth,
                         const char *key, const char *opgave, char *err, size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->L = L;
    w->n = n;
    w->depth = depth;
    w->key = key;
    w->opgave = opgave;
    w->c = calloc(n, sizeof(*w->c));
    w->phase = calloc(n, 1);
    w->sent = calloc(n, sizeof(uint64_t));
    w->acked = calloc(n, sizeof(uint64_t));
    w->t_sent = calloc(n * depth, sizeof(int64_t));
    if (!w->c || !w->phase || !w->sent || !w->acked || !w->t_sent ||
        bench_hist_init(&w->hist) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        if (wsc_connect(L, &w->c[i], i, &writers_ops) < 0) {
            snprintf(err, errlen, "writer %u: %s", i, w->c[i].error);
            return -1;
        }
        w->c[i].user = w;
    }
    if (run_until(L, writers_connected, w, "for writers to connect", bench_now_ns() + SETUP_NS, err,
                  errlen) < 0)
        return -1;
    if (w->failed) {
        snprintf(err, errlen, "%s", w->error);
        return -1;
    }
    return 0;
}

/* Start issuing: closed loop from now until @p stop_ns or @p limit writes. */
static void writers_go(struct writers *w, int64_t stop_ns, uint64_t limit)
{
    w->running = true;
    w->start_ns = bench_now_ns();
    w->stop_ns = stop_ns;
    w->limit = limit;
    for (uint32_t i = 0; i < w->n && !w->paced; i++)
        writers_fill(w, i, w->start_ns);
}

static bool writers_drained(void *arg)
{
    struct writers *w = arg;
    return w->failed || (!writers_may_issue(w, bench_now_ns()) && w->total_acked == w->total_sent);
}

static void writers_free(struct writers *w)
{
    for (size_t i = 0; w->c && i < w->n; i++)
        wsc_reset(&w->c[i]);
    free(w->c);
    free(w->phase);
    free(w->sent);
    free(w->acked);
    free(w->t_sent);
    bench_hist_free(&w->hist);
}

/* ------------------------------------------------------------ scenarios */

/* Resources every scenario holds, released in one place. */
struct scene {
    struct bench_loop *L;
    struct setup su;
    struct fleet subs;
    struct writers wr;
};

static int scene_open(struct scene *sc, const struct bench_server *s, char *err, size_t errlen)
{
    memset(sc, 0, sizeof(*sc));
    sc->L = bench_loop_new(s->host, s->port, s->pid);
    if (!sc->L) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    return setup_open(sc->L, s, &sc->su, err, errlen);
}

static void scene_close(struct scene *sc)
{
    if (sc->subs.c)
        close_all(sc->L, sc->subs.c, sc->subs.phase, sc->subs.n);
    if (sc->wr.c)
        close_all(sc->L, sc->wr.c, sc->wr.phase, sc->wr.n);
    fleet_free(&sc->subs);
    writers_free(&sc->wr);
    ctl_free(&sc->su.admin);
    bench_loop_free(sc->L);
}

static const char *const event_latency[3] = {"latency p50", "latency p99", "latency max"};
static const char *const ack_latency[3] = {"ack latency p50", "ack latency p99", "ack latency max"};

/* p50, p99 (against @p p99_target ms when > 0) and max of @p h, in ms. */
static void latency_figures(struct bench_run *r, const char *const names[3],
                            const struct bench_hist *h, double p99_target)
{
    bench_fig(r, names[0], "ms", ms(bench_hist_quantile(h, 0.50)), BENCH_NO_TARGET, 0);
    bench_fig(r, names[1], "ms", ms(bench_hist_quantile(h, 0.99)),
              p99_target > 0 ? BENCH_AT_MOST : BENCH_NO_TARGET, p99_target);
    bench_fig(r, names[2], "ms", ms(h->max), BENCH_NO_TARGET, 0);
}

static bool fleet_broken(void *arg)
{
    struct fleet *f = arg;
    return f->failed > 0;
}

int bench_connections(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                      char *err, size_t errlen)
{
    struct scene sc;
    int ret = -1;
    if (scene_open(&sc, s, err, errlen) < 0 ||
        fleet_init(&sc.subs, sc.L, (size_t)o->count, sc.su.reader_key, sc.su.opgave, err, errlen) <
            0)
        goto cleanup;
    sc.subs.concurrency = (size_t)o->concurrency;
    int64_t rss0 = bench_proc_rss(s->watch_pid);
    struct cpu_mark a, b;
    cpu_mark(&a, s);
    int64_t deadline = a.wall + SETUP_NS + o->count * 10 * BENCH_NS_PER_MS + o->slack_ns;
    if (fleet_connect(&sc.subs, deadline, err, errlen) < 0)
        goto cleanup;
    cpu_mark(&b, s);
    /* Let the server settle (deferred frees, the first idle pings are 30 s
     * away) and check that every connection is still open a second later. */
    char quiet[200];
    run_until(sc.L, fleet_broken, &sc.subs, "", bench_now_ns() + BENCH_NS_PER_S, quiet,
              sizeof(quiet));
    if (sc.subs.failed) {
        snprintf(err, errlen, "%zu connections dropped while idle; first: %s", sc.subs.failed,
                 sc.subs.error);
        goto cleanup;
    }
    int64_t rss1 = bench_proc_rss(s->watch_pid);
    double secs = (double)(sc.subs.last_ready_ns - a.wall) / 1e9;
    bench_fig(r, "connections open", "conns", (double)o->count, BENCH_AT_LEAST, 10000);
    bench_fig(r, "time to connect all", "s", secs, BENCH_NO_TARGET, 0);
    bench_fig(r, "connections per second", "conn/s", (double)o->count / secs, BENCH_NO_TARGET, 0);
    if (rss0 > 0 && rss1 > 0) {
        bench_fig(r, "server RSS before", "MiB", (double)rss0 / 1048576.0, BENCH_NO_TARGET, 0);
        bench_fig(r, "server RSS after", "MiB", (double)rss1 / 1048576.0, BENCH_NO_TARGET, 0);
        bench_fig(r, "server memory per connection", "KiB",
                  (double)(rss1 - rss0) / 1024.0 / (double)o->count, BENCH_AT_MOST, 8);
    }
    cpu_figures(r, &a, &b);
    snprintf(r->note, sizeof(r->note),
             "each connection: TCP, upgrade, hello (waarnemer key), sub to one opgave; %ld "
             "handshakes in flight at most; memory = (VmRSS after - before) / count",
             o->concurrency);
    ret = 0;
cleanup:
    scene_close(&sc);
    return ret;
}

/* Fan-out: one paced writer, S subscribers checking every event. */
struct fanout {
    struct fleet *subs;
    struct writers *wr;
    uint64_t planned;
    double rate;
};

static int64_t fanout_tick(void *arg, int64_t now)
{
    struct fanout *fo = arg;
    struct writers *w = fo->wr;
    uint64_t due = (uint64_t)((double)(now - w->start_ns) * fo->rate / 1e9) + 1;
    if (due > fo->planned)
        due = fo->planned;
    while (w->total_sent < due && !w->failed)
        writers_send(w, 0);
    if (w->total_sent >= fo->planned)
        return 0;
    return w->start_ns + (int64_t)((double)w->total_sent * 1e9 / fo->rate);
}

static bool fanout_done(void *arg)
{
    struct fanout *fo = arg;
    return fo->wr->failed || fo->subs->failed ||
           (fo->wr->total_acked == fo->planned && fo->subs->events >= fo->subs->n * fo->planned);
}

int bench_fanout(const struct bench_opts *o, struct bench_server *s, struct bench_run *r, char *err,
                 size_t errlen)
{
    struct scene sc;
    int ret = -1;
    if (scene_open(&sc, s, err, errlen) < 0 ||
        fleet_init(&sc.subs, sc.L, (size_t)o->subscribers, sc.su.reader_key, sc.su.opgave, err,
                   errlen) < 0)
        goto cleanup;
    sc.subs.latency = true;
    if (fleet_connect(&sc.subs, bench_now_ns() + SETUP_NS + o->slack_ns, err, errlen) < 0)
        goto cleanup;
    struct fanout fo = {&sc.subs, &sc.wr, (uint64_t)((double)o->rate * o->duration),
                        (double)o->rate};
    /* The writer's window: everything it may have in flight in DRAIN_NS. */
    size_t depth = (size_t)(o->rate * 30 + 64);
    if (writers_start(&sc.wr, sc.L, 1, depth, sc.su.writer_key, sc.su.opgave, err, errlen) < 0)
        goto cleanup;
    sc.wr.paced = true;
    struct cpu_mark a, b;
    cpu_mark(&a, s);
    writers_go(&sc.wr, 0, fo.planned);
    struct bench_wait w = {.done = fanout_done,
                           .tick = fanout_tick,
                           .arg = &fo,
                           .next_tick = sc.wr.start_ns,
                           .what = "for events to arrive"};
    int64_t deadline = a.wall + (int64_t)(o->duration * 1e9) + DRAIN_NS + o->slack_ns;
    int rc = bench_loop_run(sc.L, &w, deadline, err, errlen);
    cpu_mark(&b, s);
    uint64_t expected = sc.subs.n * sc.wr.total_acked;
    uint64_t lost = expected > sc.subs.events ? expected - sc.subs.events : 0;
    if (sc.wr.failed || sc.subs.failed) {
        snprintf(err, errlen, "%s", sc.wr.failed ? sc.wr.error : sc.subs.error);
        rc = -1;
    } else if (rc == 0 && (sc.subs.dups || sc.subs.gaps)) {
        snprintf(err, errlen, "events out of order: %llu duplicate or early, %llu missing",
                 (unsigned long long)sc.subs.dups, (unsigned long long)sc.subs.gaps);
        rc = -1;
    } else if (rc < 0) {
        size_t behind = 0;
        for (size_t i = 0; i < sc.subs.n; i++)
            behind += sc.subs.got[i] < sc.wr.total_acked;
        snprintf(err + strlen(err), errlen - strlen(err),
                 ": %llu of %llu events lost (%zu subscribers short), %llu of %llu writes acked",
                 (unsigned long long)lost, (unsigned long long)expected, behind,
                 (unsigned long long)sc.wr.total_acked, (unsigned long long)fo.planned);
    }
    double secs = (double)(sc.subs.last_event_ns - sc.wr.start_ns) / 1e9;
    latency_figures(r, event_latency, &sc.subs.hist, o->rate >= 1000 ? 5 : 20);
    bench_fig(r, "events delivered per second", "ev/s",
              secs > 0 ? (double)sc.subs.events / secs : 0, BENCH_AT_LEAST,
              0.98 * (double)o->rate * (double)o->subscribers);
    bench_fig(r, "events lost", "events", (double)lost, BENCH_AT_MOST, 0);
    bench_fig(r, "writes acked", "writes", (double)sc.wr.total_acked, BENCH_NO_TARGET, 0);
    latency_figures(r, ack_latency, &sc.wr.hist, 0);
    cpu_figures(r, &a, &b);
    server_cpu_per(r, "server CPU per delivery", &a, &b, sc.subs.events);
    snprintf(r->note, sizeof(r->note),
             "latency: from just before the writer's send to each subscriber's receipt (send time "
             "embedded in the document); p99 target %d ms at this rate; delivered/s target = "
             "98%% of S x R; CPU per delivery = server CPU over the phase (writes included) / "
             "events delivered",
             o->rate >= 1000 ? 5 : 20);
    ret = rc;
cleanup:
    scene_close(&sc);
    return ret;
}

int bench_writes(const struct bench_opts *o, struct bench_server *s, struct bench_run *r, char *err,
                 size_t errlen)
{
    struct scene sc;
    int ret = -1;
    char *m0 = NULL, *m1 = NULL;
    if (scene_open(&sc, s, err, errlen) < 0 ||
        writers_start(&sc.wr, sc.L, (size_t)o->writers, (size_t)o->depth, sc.su.writer_key,
                      sc.su.opgave, err, errlen) < 0)
        goto cleanup;
    if (bench_http_get(s->host, s->port, "/metrics", 5000, &m0) != 200) {
        snprintf(err, errlen, "GET /metrics failed");
        goto cleanup;
    }
    struct cpu_mark a, b;
    cpu_mark(&a, s);
    int64_t dur = (int64_t)(o->duration * 1e9);
    writers_go(&sc.wr, a.wall + dur, 0);
    if (run_until(sc.L, writers_drained, &sc.wr, "for write acks",
                  a.wall + dur + DRAIN_NS + o->slack_ns, err, errlen) < 0)
        goto cleanup;
    cpu_mark(&b, s);
    if (sc.wr.failed) {
        snprintf(err, errlen, "%s", sc.wr.error);
        goto cleanup;
    }
    if (bench_http_get(s->host, s->port, "/metrics", 5000, &m1) != 200) {
        snprintf(err, errlen, "GET /metrics failed");
        goto cleanup;
    }
    double bsum = bench_metric(m1, "tafel_commit_batch_size_sum") -
                  bench_metric(m0, "tafel_commit_batch_size_sum");
    double bcount = bench_metric(m1, "tafel_commit_batch_size_count") -
                    bench_metric(m0, "tafel_commit_batch_size_count");
    double commits =
        bench_metric(m1, "tafel_commits_total") - bench_metric(m0, "tafel_commits_total");
    bench_fig(r, "acked writes per second", "w/s", (double)sc.wr.acked_in_window / o->duration,
              BENCH_AT_LEAST, 50000);
    latency_figures(r, ack_latency, &sc.wr.hist, 0);
    bench_fig(r, "mean commit batch size", "writes", bcount > 0 ? bsum / bcount : 0,
              BENCH_NO_TARGET, 0);
    bench_fig(r, "commits per second", "c/s", commits / o->duration, BENCH_NO_TARGET, 0);
    cpu_figures(r, &a, &b);
    /* Every write issued in the phase is acked in it (drained), so the CPU
     * of the phase divides by all of them, not only those in the window. */
    server_cpu_per(r, "server CPU per write", &a, &b, sc.wr.total_acked);
    bool writer = writer_cpu_figures(r, &a, &b, sc.wr.total_acked);
    snprintf(r->note, sizeof(r->note),
             "%ld writers, %ld put(s) in flight each, closed loop for %.1f s; every ack follows "
             "its sync (the server's contract); batch size from /metrics deltas; CPU per write = "
             "CPU over the phase / acked writes; %s",
             o->writers, o->depth, o->duration,
             writer ? "writer thread = the server's thread named " WRITER_THREAD
                    : "no thread named " WRITER_THREAD " (an older tafeld): no writer figures");
    ret = 0;
cleanup:
    free(m0);
    free(m1);
    scene_close(&sc);
    return ret;
}

int bench_catchup(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                  char *err, size_t errlen)
{
    struct scene sc;
    struct fleet back;
    int ret = -1;
    memset(&back, 0, sizeof(back));
    if (scene_open(&sc, s, err, errlen) < 0 ||
        fleet_init(&sc.subs, sc.L, 1, sc.su.reader_key, sc.su.opgave, err, errlen) < 0 ||
        fleet_connect(&sc.subs, bench_now_ns() + SETUP_NS, err, errlen) < 0)
        goto cleanup;
    /* The subscriber leaves, M changes happen, it comes back with since. */
    uint64_t since = sc.subs.last_seq[0];
    close_all(sc.L, sc.subs.c, sc.subs.phase, 1);
    if (writers_start(&sc.wr, sc.L, 8, 64, sc.su.writer_key, sc.su.opgave, err, errlen) < 0)
        goto cleanup;
    writers_go(&sc.wr, 0, (uint64_t)o->changes);
    if (run_until(sc.L, writers_drained, &sc.wr, "for the changes to be written",
                  bench_now_ns() + SETUP_NS + o->changes * BENCH_NS_PER_MS + o->slack_ns, err,
                  errlen) < 0)
        goto cleanup;
    if (sc.wr.failed) {
        snprintf(err, errlen, "%s", sc.wr.error);
        goto cleanup;
    }
    if (fleet_init(&back, sc.L, 1, sc.su.reader_key, sc.su.opgave, err, errlen) < 0)
        goto cleanup;
    back.since = (long long)since;
    struct cpu_mark a, b;
    cpu_mark(&a, s);
    if (fleet_connect(&back, a.wall + SETUP_NS + o->slack_ns, err, errlen) < 0)
        goto cleanup;
    cpu_mark(&b, s);
    if (back.got[0] != (uint64_t)o->changes || back.dups) {
        snprintf(err, errlen,
                 "catch-up after seq %llu delivered %llu events (%llu out of order), expected %ld",
                 (unsigned long long)since, (unsigned long long)back.got[0],
                 (unsigned long long)back.dups, o->changes);
        goto cleanup;
    }
    double total = ms(back.last_ready_ns - a.wall);
    bench_fig(r, "time until current", "ms", total, BENCH_AT_MOST, 1000);
    bench_fig(r, "sub to its ok", "ms", ms(back.last_ready_ns - back.sub_sent_ns), BENCH_NO_TARGET,
              0);
    bench_fig(r, "catch-up events per second", "ev/s", (double)o->changes / (total / 1000.0),
              BENCH_NO_TARGET, 0);
    bench_fig(r, "changes written per second", "w/s",
              (double)o->changes * 1e9 / (double)(a.wall - sc.wr.start_ns), BENCH_NO_TARGET, 0);
    cpu_figures(r, &a, &b);
    snprintf(r->note, sizeof(r->note),
             "time until current: from the reconnect's TCP connect through upgrade, hello and "
             "sub since=%llu to the sub's ok, after all %ld events; changes written by 8 "
             "writers x 64 in flight",
             (unsigned long long)since, o->changes);
    ret = 0;
cleanup:
    if (back.c)
        close_all(sc.L, back.c, back.phase, back.n);
    fleet_free(&back);
    scene_close(&sc);
    return ret;
}

int bench_coldstart(const struct bench_opts *o, struct bench_server *s, struct bench_run *r,
                    char *err, size_t errlen)
{
    char *body = NULL;
    if (bench_server_start(o->tafeld, s, NULL, 120 * BENCH_NS_PER_S + o->slack_ns, err, errlen) < 0)
        return -1;
    int64_t rss = bench_proc_rss(s->watch_pid);
    int64_t cpu = bench_proc_cpu_ns(s->watch_pid);
    int status = bench_http_get(s->host, s->port, "/healthz", 5000, &body);
    long long seq = body ? scan_num(body, strlen(body), "\"seq\":") : -1;
    free(body);
    bench_fig(r, "time until /healthz answers", "ms", ms(s->ready_ns - s->start_ns), BENCH_AT_MOST,
              1000);
    bench_fig(r, "documents (healthz seq)", "docs", (double)seq, BENCH_NO_TARGET, 0);
    if (rss > 0)
        bench_fig(r, "server RSS when ready", "MiB", (double)rss / 1048576.0, BENCH_NO_TARGET, 0);
    if (cpu >= 0)
        bench_fig(r, "server CPU until ready", "s", (double)cpu / 1e9, BENCH_NO_TARGET, 0);
    int rc = bench_server_stop(s, err, errlen);
    if (rc == 0 && (status != 200 || seq < o->docs)) {
        snprintf(err, errlen, "/healthz answered %d with seq %lld, expected at least %ld", status,
                 seq, o->docs);
        rc = -1;
    }
    return rc;
}
