/*
 * test_server.c - server/ (the library tafel_server) driven through its own
 * interfaces, with no network:
 *
 *  - the request table (dispatch.c): every message type has a row; what
 *    changes state is a write, never a waarnemer's; sign-in, reads, draining
 *    and the administrative messages have the flags and roles the protocol
 *    promises; and no role has a write cell in a kind's row that the table
 *    would refuse before perm.c is asked;
 *  - the hub's cursors, through a real server (tafel_core_*) on a temporary
 *    data directory, with a link that records what would go on the wire:
 *    a subscriber gets every event once and in order across the ring's
 *    wrap-around, one left behind the ring catches up from the change log,
 *    and one more than --max-lag behind is closed with 4408;
 *  - the writer's queues (writer.c) with callbacks of the test's own: order,
 *    batch sizes, hand-back and release, idle, stop.
 *
 * Why here and not only in the integration tests: these are the invariants
 * whose failure looks like a flaky client (a lost or doubled event, a write
 * answered before its commit, a waarnemer's write reaching the writer), and
 * through core.h they can be checked exactly, with ring and lag small
 * enough to wrap many times in a test.
 *
 * Every wait is bounded (SETTLE_MAX, PUMP_MAX, WAIT_SECS); the suite also
 * runs under ASan and UBSan, so everything is freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "dispatch.h"
#include "hub.h"
#include "perm.h"
#include "tafel_time.h"
#include "writer.h"
#include "writes.h"

#define ROLE(r) (1u << TAFEL_ROLE_##r)

/* ================================================== the request table */

/* The messages that change state (docs/protocol.md): each is a write, so
 * the write rates apply and a waarnemer's is refused by the table. */
static bool changes_state(enum tafel_msg m)
{
    switch (m) {
    case TAFEL_MSG_PUT:
    case TAFEL_MSG_PATCH:
    case TAFEL_MSG_DELETE:
    case TAFEL_MSG_MODERATE:
    case TAFEL_MSG_VOTE:
    case TAFEL_MSG_FEEL:
    case TAFEL_MSG_SESSION_OPEN:
    case TAFEL_MSG_SESSION_CLOSE:
    case TAFEL_MSG_KEY_CREATE:
    case TAFEL_MSG_KEY_REVOKE:
    case TAFEL_MSG_DEVICE_ERASE:
        return true;
    default: /* device.export too: it only reads (and is audited) */
        return false;
    }
}

/* A message type without a row would be refused to everyone (roles 0 and no
 * sign-in): a new line in TAFEL_MSG_LIST must come with its row. */
static void test_every_message_has_a_row(void **state)
{
    (void)state;
    const unsigned all_roles = (1u << TAFEL_ROLE__COUNT) - 1;
    for (int m = 0; m < TAFEL_MSG__COUNT; m++) {
        const char *name = tafel_msg_name((enum tafel_msg)m);
        assert_non_null(name);
        unsigned roles = tafel_route_roles((enum tafel_msg)m);
        unsigned flags = tafel_route_flags((enum tafel_msg)m);
        if (roles == 0 && !(flags & TAFEL_RF_SIGN_IN))
            print_error("%s has no row in the request table\n", name);
        assert_true(roles != 0 || (flags & TAFEL_RF_SIGN_IN));
        assert_int_equal(roles & ~all_roles, 0); /* no role that does not exist */
    }
    /* Out of range: nobody, nothing. */
    assert_int_equal(tafel_route_roles(TAFEL_MSG__COUNT), 0);
    assert_int_equal(tafel_route_flags(TAFEL_MSG__COUNT), 0);
}

static void test_route_flags(void **state)
{
    (void)state;
    for (int m = 0; m < TAFEL_MSG__COUNT; m++) {
        enum tafel_msg msg = (enum tafel_msg)m;
        unsigned flags = tafel_route_flags(msg);
        /* Exactly the state-changing ones are writes: a read marked as one
         * would be refused to a waarnemer and counted against write rates. */
        if (changes_state(msg) != !!(flags & TAFEL_RF_WRITE))
            print_error("%s: changes state %d, TAFEL_RF_WRITE %d\n", tafel_msg_name(msg),
                        changes_state(msg), !!(flags & TAFEL_RF_WRITE));
        assert_int_equal(changes_state(msg), !!(flags & TAFEL_RF_WRITE));
        /* Only hello and join sign in, and only before sign-in (no roles). */
        bool signs_in = msg == TAFEL_MSG_HELLO || msg == TAFEL_MSG_JOIN;
        assert_int_equal(signs_in, !!(flags & TAFEL_RF_SIGN_IN));
        if (signs_in)
            assert_int_equal(tafel_route_roles(msg), 0);
    }
    /* A client keeps its connection alive while the server drains. */
    assert_true(tafel_route_flags(TAFEL_MSG_PING) & TAFEL_RF_DRAINING);
    /* sub and list build large replies: the read bucket. */
    assert_true(tafel_route_flags(TAFEL_MSG_SUB) & TAFEL_RF_READ);
    assert_true(tafel_route_flags(TAFEL_MSG_LIST) & TAFEL_RF_READ);
    /* The audit log is the administrator's; keys are handed out by leads. */
    assert_int_equal(tafel_route_roles(TAFEL_MSG_AUDIT_LIST), ROLE(BEHEERDER));
    const unsigned leads = ROLE(BEHEERDER) | ROLE(OPGAVELEIDER);
    assert_int_equal(tafel_route_roles(TAFEL_MSG_KEY_CREATE), leads);
    assert_int_equal(tafel_route_roles(TAFEL_MSG_KEY_LIST), leads);
    assert_int_equal(tafel_route_roles(TAFEL_MSG_KEY_REVOKE), leads);
}

/* The request table refuses before perm.c looks at a kind's row: a cell
 * that allows what the table refuses is a promise (docs/permissions.md,
 * /schema.json, the page's buttons) the server does not keep. */
static void test_cells_within_the_table(void **state)
{
    (void)state;
    /* A waarnemer reads, and only reads: no write message, no write cell. */
    for (int m = 0; m < TAFEL_MSG__COUNT; m++)
        if (tafel_route_flags((enum tafel_msg)m) & TAFEL_RF_WRITE)
            assert_int_equal(tafel_route_roles((enum tafel_msg)m) & ROLE(WAARNEMER), 0);
    for (int k = 0; k < TAFEL_KIND__COUNT; k++) {
        const struct tafel_kind_def *def = tafel_schema_kind((enum tafel_kind)k);
        assert_non_null(def);
        static const enum tafel_action writes[] = {TAFEL_ACT_CREATE, TAFEL_ACT_UPDATE,
                                                   TAFEL_ACT_DELETE, TAFEL_ACT_MODERATE};
        for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
            assert_int_equal(def->perm[TAFEL_ROLE_WAARNEMER][writes[i]], TAFEL_PERM_NO);
        /* Every role: a write cell other than NO needs the message that
         * carries it. put creates and replaces (update), patch updates. */
        for (int r = 0; r < TAFEL_ROLE__COUNT; r++) {
            unsigned me = 1u << r;
            const enum tafel_perm *cell = def->perm[r];
            bool ok = true;
            if (cell[TAFEL_ACT_CREATE] != TAFEL_PERM_NO)
                ok = ok && (tafel_route_roles(TAFEL_MSG_PUT) & me);
            if (cell[TAFEL_ACT_UPDATE] != TAFEL_PERM_NO)
                ok = ok && (tafel_route_roles(TAFEL_MSG_PUT) & me) &&
                     (tafel_route_roles(TAFEL_MSG_PATCH) & me);
            if (cell[TAFEL_ACT_DELETE] != TAFEL_PERM_NO)
                ok = ok && (tafel_route_roles(TAFEL_MSG_DELETE) & me);
            if (cell[TAFEL_ACT_MODERATE] != TAFEL_PERM_NO)
                ok = ok && (tafel_route_roles(TAFEL_MSG_MODERATE) & me);
            if (!ok)
                print_error("%s: the %s row allows a write the table refuses\n", def->name,
                            tafel_role_name((enum tafel_role)r));
            assert_true(ok);
        }
    }
}

/* ========================================= a server with a recording link */

#define RING       8     /* cfg.ring_size: wraps every 8 writes */
#define MAX_LAG    20    /* cfg.max_lag */
#define MAX_PEERS  4     /* connections per test */
#define PUMP_MAX   1000  /* writeable calls until a connection is idle */
#define SETTLE_MAX 10000 /* 1 ms polls of the writer thread (10 s) */

/* One connection's transport: what the server wrote to it, as messages. */
struct peer {
    const char *name;
    struct conn *c; /* NULL once closed */
    char **msgs;    /* every message written, in order (NUL-terminated) */
    size_t nmsgs, cap;
    size_t seen;       /* the first msgs not yet looked at */
    size_t writes;     /* write() calls */
    size_t raw_writes; /* ... of several frames packed */
    bool bad_frame;    /* a raw write that is not well-formed frames */
    int close_secs;    /* close_within() was asked for */
};

struct fx {
    char root[64];
    char dir[128];
    tafel_store *st;
    struct tafel_server srv;
    bool starting; /* tafel_core_start() was called: tafel_core_stop() too */
    bool started;
    atomic_uint wakes; /* the writer's wake-ups (we poll instead) */
    char key[TAFEL_KEY_STRLEN + 1];
    struct peer peers[MAX_PEERS];
    size_t npeers;
};

static void record(struct peer *p, const unsigned char *m, size_t len)
{
    if (p->nmsgs == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        char **grown = realloc(p->msgs, cap * sizeof(*grown));
        assert_non_null(grown);
        p->msgs = grown;
        p->cap = cap;
    }
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, m, len);
    copy[len] = '\0';
    p->msgs[p->nmsgs++] = copy;
}

static void link_want_write(void *h)
{
    (void)h; /* the tests pump every connection they look at */
}

static void link_rx_flow(void *h, bool on)
{
    (void)h, (void)on;
}

/* A raw write is consecutive unmasked final text frames (conn_write_msgs):
 * split it back into the messages a client would read. */
static int link_write(void *h, unsigned char *buf, size_t len, bool raw)
{
    struct peer *p = h;
    p->writes++;
    if (!raw) {
        record(p, buf, len);
        return 0;
    }
    p->raw_writes++;
    size_t at = 0;
    while (at < len) {
        if (len - at < 2 || buf[at] != 0x81 || (buf[at + 1] & 0x80)) {
            p->bad_frame = true;
            return -1;
        }
        uint64_t n = buf[at + 1];
        size_t head = 2;
        if (n == 126) {
            head = 4;
            if (len - at < head) {
                p->bad_frame = true;
                return -1;
            }
            n = (uint64_t)buf[at + 2] << 8 | buf[at + 3];
        } else if (n == 127) {
            head = 10;
            if (len - at < head) {
                p->bad_frame = true;
                return -1;
            }
            n = 0;
            for (int i = 0; i < 8; i++)
                n = n << 8 | buf[at + 2 + i];
        }
        if (n > len - at - head) {
            p->bad_frame = true;
            return -1;
        }
        record(p, buf + at + head, (size_t)n);
        at += head + (size_t)n;
    }
    return 0;
}

static bool link_buffered(void *h)
{
    (void)h; /* the "socket" takes everything at once */
    return false;
}

static void link_close_within(void *h, int secs)
{
    ((struct peer *)h)->close_secs = secs;
}

static const struct tafel_link test_link = {link_want_write, link_rx_flow, link_write,
                                            link_buffered, link_close_within};

/* Called from the writer thread: the tests poll tafel_core_wake() instead. */
static void wake_fn(void *ctx)
{
    atomic_fetch_add((atomic_uint *)ctx, 1);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Answer every write the writer thread has (bounded): the loop's side of
 * the writer's wake-up. False if it is still busy after SETTLE_MAX ms. */
static bool writes_settle(struct fx *f)
{
    for (int i = 0; i < SETTLE_MAX; i++) {
        tafel_core_wake(&f->srv);
        if (tafel_writes_idle(&f->srv))
            return true;
        usleep(1000);
    }
    return false;
}

static void settle_writes(struct fx *f)
{
    if (!writes_settle(f))
        fail_msg("the writer thread did not finish within %d ms", SETTLE_MAX);
}

static void fx_free(struct fx *f)
{
    if (f->started) {
        writes_settle(f);
        /* As the transport's CLOSED callbacks: every connection goes
         * before tafel_core_stop(). */
        for (size_t i = 0; i < f->npeers; i++)
            if (f->peers[i].c) {
                tafel_core_closed(&f->srv, f->peers[i].c);
                f->peers[i].c = NULL;
            }
        tafel_core_settle(&f->srv);
    }
    if (f->starting)
        tafel_core_stop(&f->srv);
    tafel_store_close(f->st);
    for (size_t i = 0; i < f->npeers; i++) {
        for (size_t j = 0; j < f->peers[i].nmsgs; j++)
            free(f->peers[i].msgs[j]);
        free(f->peers[i].msgs);
    }
    if (f->root[0])
        nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
}

static int setup_server(void **state)
{
    tafel_log_set_level(TAFEL_LOG_WARN);
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    snprintf(f->root, sizeof(f->root), "/tmp/tafel-server-XXXXXX");
    if (!mkdtemp(f->root)) {
        f->root[0] = '\0';
        fx_free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/data", f->root);
    struct tafel_errinfo info;
    if (tafel_store_open(f->dir, NULL, true, &f->st, &info) != TAFEL_E_OK) {
        print_error("open %s: %s\n", f->dir, info.message);
        fx_free(f);
        return -1;
    }
    /* An unscoped beheerder: reads and writes everything. */
    char key_id[TAFEL_ID_MAX + 1];
    json_t *all = json_string("*");
    enum tafel_err err = tafel_store_key_create(f->st, "beheerder", all, "test", 0, "test",
                                                tafel_time_now_ms(), f->key, key_id);
    json_decref(all);
    if (err != TAFEL_E_OK) {
        fx_free(f);
        return -1;
    }
    struct tafel_config *cfg = &f->srv.cfg;
    cfg->data_dir = f->dir;
    snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
    cfg->max_message = 65536;
    cfg->max_connections = 1000;
    cfg->max_per_address = 1000;
    cfg->max_queued_bytes = 64u << 20; /* no connection is shed for its queue here */
    cfg->max_queue_bytes = 16u << 20;
    cfg->max_lag = MAX_LAG;
    cfg->ring_size = RING;
    f->srv.store = f->st;
    f->starting = true;
    f->started = tafel_core_start(&f->srv, &test_link, wake_fn, &f->wakes);
    if (!f->started) {
        fx_free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown_server(void **state)
{
    fx_free(*state);
    return 0;
}

static struct peer *connect_peer(struct fx *f, const char *name)
{
    assert_true(f->npeers < MAX_PEERS);
    struct peer *p = &f->peers[f->npeers++];
    p->name = name;
    assert_true(tafel_core_admit(&f->srv, "127.0.0.1"));
    p->c = tafel_core_open(&f->srv, p, "127.0.0.1");
    assert_non_null(p->c);
    return p;
}

/* One complete text message from @p p, as the transport hands it over. */
static void say(struct fx *f, struct peer *p, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct fx *f, struct peer *p, const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    tafel_core_message(&f->srv, p->c, buf, (size_t)n);
    tafel_core_settle(&f->srv); /* after each event, as the transport does */
}

/* Writeable until nothing more is due, as the transport calls it while the
 * socket takes output; returns the last answer (not MORE). */
static enum tafel_out pump(struct fx *f, struct peer *p)
{
    for (int i = 0; i < PUMP_MAX; i++) {
        enum tafel_out out = tafel_core_writeable(&f->srv, p->c);
        tafel_core_settle(&f->srv);
        if (out != TAFEL_OUT_MORE)
            return out;
    }
    fail_msg("%s still has output after %d writeable calls", p->name, PUMP_MAX);
    return TAFEL_OUT_BROKEN;
}

/* The next message written to @p p, which must be of @p type (parsed). */
static json_t *expect_msg(struct peer *p, const char *type)
{
    if (p->seen >= p->nmsgs)
        fail_msg("%s: expected a %s message, got nothing", p->name, type);
    const char *text = p->msgs[p->seen++];
    json_t *m = json_loads(text, 0, NULL);
    if (!m)
        fail_msg("%s: not JSON: %.200s", p->name, text);
    const char *got = json_string_value(json_object_get(m, "type"));
    if (!got || strcmp(got, type) != 0)
        fail_msg("%s: expected %s, got %.300s", p->name, type, text);
    return m;
}

static void expect_nothing_more(struct peer *p)
{
    if (p->seen < p->nmsgs)
        fail_msg("%s: unexpected message %.300s", p->name, p->msgs[p->seen]);
    assert_false(p->bad_frame);
}

static struct peer *signed_in(struct fx *f, const char *name)
{
    struct peer *p = connect_peer(f, name);
    say(f, p, "{\"type\":\"hello\",\"req\":\"h\",\"key\":\"%s\"}", f->key);
    assert_int_equal(pump(f, p), TAFEL_OUT_IDLE);
    json_decref(expect_msg(p, "ok"));
    assert_true(p->c->authed);
    return p;
}

/* Follow every opgave from now on: `since` the hub's seq, so nothing is
 * missed and no snapshot is sent, only live events. */
static void subscribe(struct fx *f, struct peer *p)
{
    say(f, p, "{\"type\":\"sub\",\"req\":\"s\",\"opgave\":\"*\",\"since\":%llu}",
        (unsigned long long)hub_seq(f->srv.hub));
    assert_int_equal(pump(f, p), TAFEL_OUT_IDLE);
    json_decref(expect_msg(p, "ok"));
    assert_int_equal(p->c->nsubs, 1);
}

/* @p n new opgaven "o<first>".. from @p w, sent together (the writer may
 * commit them in one batch), committed and answered in order. @p pad: the
 * length of each one's goal, to make events large. */
static void write_opgaven_padded(struct fx *f, struct peer *w, int first, int n, size_t pad)
{
    char goal[4001];
    assert_true(pad < sizeof(goal));
    memset(goal, 'g', pad);
    goal[pad] = '\0';
    for (int i = first; i < first + n; i++)
        say(f, w,
            "{\"type\":\"put\",\"req\":%d,\"kind\":\"opgave\",\"doc\":{\"title\":\"o%d\"%s%s%s}}",
            i, i, pad ? ",\"goal\":\"" : "", goal, pad ? "\"" : "");
    settle_writes(f);
    assert_int_equal(pump(f, w), TAFEL_OUT_IDLE);
    for (int i = first; i < first + n; i++) {
        json_t *ok = expect_msg(w, "ok");
        assert_int_equal(json_integer_value(json_object_get(ok, "req")), i);
        json_decref(ok);
    }
    expect_nothing_more(w); /* a writer without subs gets no events */
}

static void write_opgaven(struct fx *f, struct peer *w, int first, int n)
{
    write_opgaven_padded(f, w, first, n, 0);
}

/* @p p's new messages are exactly the events of "o<from>".."o<to - 1>",
 * each once, in order, at the seqs after *seq (which it advances). */
static void expect_events(struct peer *p, int from, int to, uint64_t *seq)
{
    for (int i = from; i < to; i++) {
        json_t *ev = expect_msg(p, "event");
        uint64_t got = (uint64_t)json_integer_value(json_object_get(ev, "seq"));
        const char *title = json_string_value(json_object_get(json_object_get(ev, "doc"), "title"));
        char want[32];
        snprintf(want, sizeof(want), "o%d", i);
        if (got != *seq + 1 || !title || strcmp(title, want) != 0)
            fail_msg("%s: expected seq %llu (%s), got seq %llu (%s)", p->name,
                     (unsigned long long)(*seq + 1), want, (unsigned long long)got,
                     title ? title : "?");
        assert_string_equal(json_string_value(json_object_get(ev, "op")), "put");
        *seq = got;
        json_decref(ev);
    }
    expect_nothing_more(p);
}

/* (a) Read a few at a time, a subscriber is always within the ring: it gets
 * every event once, in order, however often the ring wraps, and all from
 * the ring (never the change log). Every other round the events are large,
 * so that the due ones do not all fit one write (TAFEL_BURST_BYTES): the
 * rest must follow in the next, none skipped. */
static void test_hub_wraps_the_ring(void **state)
{
    struct fx *f = *state;
    struct peer *w = signed_in(f, "writer");
    struct peer *s = signed_in(f, "subscriber");
    subscribe(f, s);
    uint64_t seq = hub_seq(f->srv.hub);
    uint64_t fallbacks = f->srv.m.log_fallbacks;
    const int total = 5 * RING + 3;
    int done = 0;
    /* Groups of 1, 2, ... 6, 1, ...: the wrap falls at every offset. */
    for (int round = 0; done < total; round++) {
        int n = 1 + round % 6;
        if (n > total - done)
            n = total - done;
        size_t writes = s->writes;
        write_opgaven_padded(f, w, done, n, round % 2 ? 3900 : 0);
        assert_int_equal(pump(f, s), TAFEL_OUT_IDLE);
        expect_events(s, done, done + n, &seq);
        if (round % 2 && n * 3900 > TAFEL_BURST_BYTES)
            assert_true(s->writes - writes > 1); /* did not fit one write */
        done += n;
    }
    assert_int_equal(seq, hub_seq(f->srv.hub));
    assert_int_equal(f->srv.m.log_fallbacks, fallbacks);
    assert_true(s->raw_writes > 0); /* several events went out in one write */
    assert_int_equal(s->c->close_code, 0);
}

/* (b) Left unread while more than the ring's worth of changes commit (but
 * within --max-lag), a subscriber still gets every event once and in order:
 * what the ring lost from the change log, the rest from the ring. The lags
 * straddle the ring's size, where an off-by-one between ring and log would
 * lose, repeat or reorder an event. */
static void test_hub_behind_the_ring_reads_the_log(void **state)
{
    struct fx *f = *state;
    struct peer *w = signed_in(f, "writer");
    struct peer *s = signed_in(f, "subscriber");
    subscribe(f, s);
    uint64_t seq = hub_seq(f->srv.hub);
    static const int lags[] = {RING - 1, RING, RING + 1, RING + 2, 2 * RING + 3, MAX_LAG, 1};
    int done = 0;
    for (size_t l = 0; l < sizeof(lags) / sizeof(lags[0]); l++) {
        assert_true(lags[l] <= MAX_LAG);
        uint64_t fallbacks = f->srv.m.log_fallbacks;
        for (int i = 0; i < lags[l]; i += 2)
            write_opgaven(f, w, done + i, i + 2 <= lags[l] ? 2 : lags[l] - i);
        assert_int_equal(s->c->close_code, 0);
        assert_int_equal(s->nmsgs, s->seen); /* nothing sent without writeable */
        assert_int_equal(pump(f, s), TAFEL_OUT_IDLE);
        expect_events(s, done, done + lags[l], &seq);
        /* From the log exactly when the ring no longer held them all. */
        if (lags[l] > RING)
            assert_true(f->srv.m.log_fallbacks > fallbacks);
        else
            assert_int_equal(f->srv.m.log_fallbacks, fallbacks);
        done += lags[l];
    }
    assert_int_equal(s->c->close_code, 0);
}

static bool change_id(void *ctx, const struct tafel_change *c)
{
    snprintf(ctx, TAFEL_ID_MAX + 1, "%s", c->id);
    return false;
}

/* (d) When retention strips old versions from the change log, the ring
 * must not replay them from memory to a subscriber still behind: after
 * hub_drop_content() it gets the stripped version as the log has it (a
 * delete stub) and the current one in full, nothing twice, nothing lost. */
static void test_hub_forgets_what_the_log_lost(void **state)
{
    struct fx *f = *state;
    struct peer *w = signed_in(f, "writer");
    struct peer *s = signed_in(f, "subscriber");
    subscribe(f, s);
    uint64_t seq = hub_seq(f->srv.hub);
    write_opgaven(f, w, 0, 1);
    /* The opgave just written is the newest change: its id from the log. */
    char id[TAFEL_ID_MAX + 1] = "";
    assert_int_equal(tafel_store_changes(f->st, seq, 1, change_id, id, NULL), TAFEL_E_OK);
    assert_true(id[0]);
    say(f, w,
        "{\"type\":\"patch\",\"req\":90,\"kind\":\"opgave\",\"id\":\"%s\","
        "\"set\":{\"title\":\"o0 nieuw\"}}",
        id);
    settle_writes(f);
    assert_int_equal(pump(f, w), TAFEL_OUT_IDLE);
    json_decref(expect_msg(w, "ok"));
    /* Strip every version made before now that a later one replaced. */
    uint64_t next = 0, stripped = 0;
    const struct tafel_log_terms terms = {tafel_time_now_ms() + 1000, NULL, 0};
    assert_int_equal(tafel_store_log_strip_aged(f->st, &terms, 0, 1000, &next, &stripped),
                     TAFEL_E_OK);
    assert_int_equal(stripped, 1);
    hub_drop_content(f->srv.hub);
    assert_int_equal(pump(f, s), TAFEL_OUT_IDLE);
    json_t *ev = expect_msg(s, "event");
    assert_string_equal(json_string_value(json_object_get(ev, "op")), "delete");
    assert_null(json_object_get(json_object_get(ev, "doc"), "title"));
    assert_int_equal(json_integer_value(json_object_get(ev, "seq")), seq + 1);
    json_decref(ev);
    ev = expect_msg(s, "event");
    assert_string_equal(json_string_value(json_object_get(json_object_get(ev, "doc"), "title")),
                        "o0 nieuw");
    assert_int_equal(json_integer_value(json_object_get(ev, "seq")), seq + 2);
    json_decref(ev);
    expect_nothing_more(s);
}

/* (c) More than --max-lag changes behind, a subscriber is closed with 4408
 * at the change that puts it there, not one earlier; one that reads on is
 * not touched. */
static void test_hub_closes_past_max_lag(void **state)
{
    struct fx *f = *state;
    struct peer *w = signed_in(f, "writer");
    struct peer *slow = signed_in(f, "slow");
    struct peer *live = signed_in(f, "live");
    subscribe(f, slow);
    subscribe(f, live);
    uint64_t seq = hub_seq(f->srv.hub);
    uint64_t shed = f->srv.m.slow_disconnects;
    for (int i = 0; i < MAX_LAG; i++) {
        write_opgaven(f, w, i, 1);
        assert_int_equal(slow->c->close_code, 0); /* exactly max_lag behind: kept */
        assert_int_equal(pump(f, live), TAFEL_OUT_IDLE);
        expect_events(live, i, i + 1, &seq);
    }
    write_opgaven(f, w, MAX_LAG, 1);
    assert_int_equal(slow->c->close_code, 4408);
    assert_true(slow->close_secs > 0); /* a peer that never reads is dropped */
    assert_int_equal(f->srv.m.slow_disconnects, shed + 1);
    /* Its next writeable sends the close, and no event before it. */
    assert_int_equal(pump(f, slow), TAFEL_OUT_CLOSE);
    expect_nothing_more(slow);
    tafel_core_closed(&f->srv, slow->c);
    slow->c = NULL;
    tafel_core_settle(&f->srv);
    /* The reader that kept up goes on. */
    assert_int_equal(live->c->close_code, 0);
    assert_int_equal(pump(f, live), TAFEL_OUT_IDLE);
    expect_events(live, MAX_LAG, MAX_LAG + 1, &seq);
    write_opgaven(f, w, MAX_LAG + 1, 2);
    assert_int_equal(pump(f, live), TAFEL_OUT_IDLE);
    expect_events(live, MAX_LAG + 1, MAX_LAG + 3, &seq);
}

/* ====================================================== the writer's queues */

#define WAIT_SECS 10 /* any wait for the writer thread */
#define MAX_ITEMS 64

struct witem {
    struct tafel_witem link; /* first member: the writer's list */
    int n;
    int applied, released; /* how often each callback saw it */
};

/* What the callbacks saw. They run in the writer thread: they record, and
 * the test thread asserts. */
struct wctx {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t batches[MAX_ITEMS]; /* sizes, in order */
    size_t nbatches;
    int order[MAX_ITEMS]; /* item numbers as applied */
    size_t napplied;
    bool miscounted; /* a batch whose list length was not its n */
    size_t hold_at;  /* apply waits (bounded) once this many are applied; 0: never */
    size_t wakes;
    size_t woken_items; /* napplied at the last wake: all of those are done */
    size_t released;
};

static void w_apply(void *ctx, struct tafel_witem *batch, size_t n)
{
    struct wctx *w = ctx;
    pthread_mutex_lock(&w->mu);
    size_t count = 0;
    for (struct tafel_witem *it = batch; it; it = it->next) {
        struct witem *item = (struct witem *)it;
        item->applied++;
        if (w->napplied < MAX_ITEMS)
            w->order[w->napplied] = item->n;
        w->napplied++;
        count++;
    }
    w->miscounted |= count != n;
    if (w->nbatches < MAX_ITEMS)
        w->batches[w->nbatches] = n;
    w->nbatches++;
    pthread_cond_broadcast(&w->cv);
    /* A slow commit: what is submitted meanwhile piles up for the next. */
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECS;
    while (w->hold_at && w->napplied >= w->hold_at)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&w->mu);
}

static void w_release(void *ctx, struct tafel_witem *it)
{
    struct wctx *w = ctx;
    pthread_mutex_lock(&w->mu);
    ((struct witem *)it)->released++;
    w->released++;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void w_wake(void *ctx)
{
    struct wctx *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->wakes++;
    w->woken_items = w->napplied;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void wctx_init(struct wctx *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

static void wctx_destroy(struct wctx *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* Wait (at most WAIT_SECS) until the counter at @p what reaches @p want. */
static void wait_count(struct wctx *w, const size_t *what, size_t want, const char *name)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_SECS;
    pthread_mutex_lock(&w->mu);
    while (*what < want)
        if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT)
            break;
    size_t got = *what;
    pthread_mutex_unlock(&w->mu);
    if (got < want)
        fail_msg("%s: %zu after %d s, wanted %zu", name, got, WAIT_SECS, want);
}

/* Hold the writer thread in the commit that reaches @p at items; 0 lets it
 * go on. */
static void set_hold(struct wctx *w, size_t at)
{
    pthread_mutex_lock(&w->mu);
    w->hold_at = at;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Walk @p list: it must be @p items[from..to) in order; returns its last
 * link (NULL for an empty list). */
static struct tafel_witem *expect_list(struct tafel_witem *list, struct witem *items, int from,
                                       int to)
{
    struct tafel_witem *last = NULL;
    int i = from;
    for (struct tafel_witem *it = list; it; it = it->next, i++) {
        assert_true(i < to);
        assert_ptr_equal(it, &items[i].link);
        last = it;
    }
    assert_int_equal(i, to);
    return last;
}

/* Items are applied in submission order, in batches of at most max_batch
 * that grow while a commit is slow; take_done hands them over in that
 * order, only after their batch; recycle releases each exactly once; the
 * writer is idle at the end and stop has nothing left. */
static void test_writer_batches_in_order(void **state)
{
    (void)state;
    enum { N = 37, MAX_BATCH = 4 };
    static struct wctx w;
    static struct witem items[N];
    wctx_init(&w);
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++)
        items[i].n = i;
    struct tafel_writer_cbs cbs = {&w, w_apply, w_release, w_wake, MAX_BATCH};
    struct tafel_writer *wr = tafel_writer_start(&cbs);
    assert_non_null(wr);

    /* The first item alone, held in its commit ... */
    set_hold(&w, 1);
    tafel_writer_submit(wr, &items[0].link);
    wait_count(&w, &w.napplied, 1, "applied");
    assert_false(tafel_writer_idle(wr));
    assert_null(tafel_writer_take_done(wr)); /* no answer before the commit */
    /* ... while the rest piles up: then batches of exactly max_batch. */
    for (int i = 1; i < N; i++)
        tafel_writer_submit(wr, &items[i].link);
    set_hold(&w, 0);
    const size_t nbatches = 1 + (N - 1 + MAX_BATCH - 1) / MAX_BATCH;
    wait_count(&w, &w.wakes, nbatches, "wakes");

    pthread_mutex_lock(&w.mu);
    size_t napplied = w.napplied, got_batches = w.nbatches;
    bool miscounted = w.miscounted;
    pthread_mutex_unlock(&w.mu);
    assert_false(miscounted);
    assert_int_equal(napplied, N);
    assert_int_equal(got_batches, nbatches);
    assert_int_equal(w.batches[0], 1);
    size_t rest = N - 1;
    for (size_t b = 1; b < nbatches; b++) {
        assert_int_equal(w.batches[b], rest < MAX_BATCH ? rest : MAX_BATCH);
        rest -= w.batches[b];
    }
    assert_int_equal(rest, 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(w.order[i], i);
        assert_int_equal(items[i].applied, 1);
    }

    /* Committed but not taken: the loop still has answers to send. */
    assert_false(tafel_writer_idle(wr));
    /* Everything done, in order, once; the loop owns it now. */
    struct tafel_witem *done = tafel_writer_take_done(wr);
    expect_list(done, items, 0, N);
    assert_null(tafel_writer_take_done(wr));
    assert_true(tafel_writer_idle(wr));
    pthread_mutex_lock(&w.mu);
    assert_int_equal(w.released, 0);
    pthread_mutex_unlock(&w.mu);

    /* Handed back in two lists: each item released exactly once. */
    items[9].link.next = NULL;
    tafel_writer_recycle(wr, done);
    tafel_writer_recycle(wr, &items[10].link);
    tafel_writer_recycle(wr, NULL); /* fine, and nothing */
    wait_count(&w, &w.released, N, "released");
    assert_true(tafel_writer_idle(wr));

    assert_null(tafel_writer_stop(wr));
    assert_int_equal(w.released, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].applied, 1);
        assert_int_equal(items[i].released, 1);
    }
    wctx_destroy(&w);
}

/* stop finishes what is queued, releases what was handed back, and returns
 * the finished items the loop never took, in order, unreleased; the items
 * the loop still holds are left alone. */
static void test_writer_stop_returns_untaken(void **state)
{
    (void)state;
    enum { N = 10, MAX_BATCH = 3 };
    static struct wctx w;
    static struct witem items[N];
    wctx_init(&w);
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++)
        items[i].n = i;
    struct tafel_writer_cbs cbs = {&w, w_apply, w_release, w_wake, MAX_BATCH};
    struct tafel_writer *wr = tafel_writer_start(&cbs);
    assert_non_null(wr);

    for (int i = 0; i < 5; i++)
        tafel_writer_submit(wr, &items[i].link);
    wait_count(&w, &w.woken_items, 5, "done before a wake");
    /* The wake follows the batch onto the done list: one take has all. */
    struct tafel_witem *head = tafel_writer_take_done(wr);
    expect_list(head, items, 0, 5);
    assert_true(tafel_writer_idle(wr));

    /* 0 and 1 back to the writer; 2..4 stay with the loop. */
    items[1].link.next = NULL;
    tafel_writer_recycle(wr, head);
    for (int i = 5; i < N; i++)
        tafel_writer_submit(wr, &items[i].link);
    struct tafel_witem *left = tafel_writer_stop(wr);
    expect_list(left, items, 5, N);

    assert_false(w.miscounted);
    assert_int_equal(w.napplied, N);
    for (size_t b = 0; b < w.nbatches && b < MAX_ITEMS; b++)
        assert_true(w.batches[b] >= 1 && w.batches[b] <= MAX_BATCH);
    for (int i = 0; i < N; i++) {
        assert_int_equal(w.order[i], i);
        assert_int_equal(items[i].applied, 1);
        assert_int_equal(items[i].released, i < 2 ? 1 : 0);
    }
    assert_int_equal(w.released, 2);
    wctx_destroy(&w);
}

static void *let_go(void *arg)
{
    usleep(5000); /* long enough for the test thread to be in stop */
    set_hold(arg, 0);
    return NULL;
}

/* Items handed back while the last commit runs are released by stop, once,
 * whether the writer thread or stop itself gets to them. */
static void test_writer_stop_releases_handed_back(void **state)
{
    (void)state;
    enum { N = 4 };
    static struct wctx w;
    static struct witem items[N];
    wctx_init(&w);
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++)
        items[i].n = i;
    struct tafel_writer_cbs cbs = {&w, w_apply, w_release, w_wake, 8};
    struct tafel_writer *wr = tafel_writer_start(&cbs);
    assert_non_null(wr);

    tafel_writer_submit(wr, &items[0].link);
    tafel_writer_submit(wr, &items[1].link);
    wait_count(&w, &w.woken_items, 2, "done before a wake");
    struct tafel_witem *head = tafel_writer_take_done(wr);
    expect_list(head, items, 0, 2);

    /* The last items' commit is held; 0 and 1 come back meanwhile. */
    set_hold(&w, N);
    tafel_writer_submit(wr, &items[2].link);
    tafel_writer_submit(wr, &items[3].link);
    wait_count(&w, &w.napplied, N, "applied");
    tafel_writer_recycle(wr, head);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, let_go, &w), 0);
    struct tafel_witem *left = tafel_writer_stop(wr);
    pthread_join(t, NULL);

    expect_list(left, items, 2, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].applied, 1);
        assert_int_equal(items[i].released, i < 2 ? 1 : 0);
    }
    assert_int_equal(w.released, 2);
    wctx_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_message_has_a_row),
        cmocka_unit_test(test_route_flags),
        cmocka_unit_test(test_cells_within_the_table),
        cmocka_unit_test_setup_teardown(test_hub_wraps_the_ring, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_hub_behind_the_ring_reads_the_log, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_hub_forgets_what_the_log_lost, setup_server,
                                        teardown_server),
        cmocka_unit_test_setup_teardown(test_hub_closes_past_max_lag, setup_server,
                                        teardown_server),
        cmocka_unit_test(test_writer_batches_in_order),
        cmocka_unit_test(test_writer_stop_returns_untaken),
        cmocka_unit_test(test_writer_stop_releases_handed_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
