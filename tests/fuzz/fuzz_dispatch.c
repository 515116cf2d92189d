/*
 * fuzz_dispatch.c - libFuzzer target for the request handler: the whole of
 * tafel_server (dispatch, permissions, the writer thread, the hub, output)
 * driven through core.h on a real store, with a link that records what
 * would go out and no network.
 *
 * Once per process it builds a template data directory: three opgaven A, B
 * and C, each with a document of every kind (a hidden reflectie and an open
 * sessie among them), a beheerder key scoped to "*", a partner key scoped to
 * A, and an inwoner who joined B's session. Every input starts from a fresh
 * copy of it (in a temporary directory, on /dev/shm when there is one so
 * that syncs cost nothing) with a server started by tafel_core_start() and
 * the three signed in, so that each input is reproducible on its own.
 *
 * An input is lines; the first byte of a line picks the sender ('b'
 * beheerder, 'p' partner, 'i' inwoner, 'n' a newcomer who joins B's session
 * as a new participant when it first sends; another byte modulo 4), the
 * rest is the message. Before sending, "$A" "$B" "$C" become the opgaven's
 * ids, "$A"+letter a document of that opgave (l actielijn, t activiteit,
 * i indicator, m meting, r reflectie, h hidden reflectie, o moment, d lid,
 * b besluit, s sessie; p and q the partner's activiteit and reflectie in A,
 * w the inwoner's reflectie in B), "$S" the inwoner's session, "$K" "$L"
 * the partner's and the beheerder's key ids, "$D" the data_id, "$0".."$7"
 * the ids in this input's latest `ok` replies. Other lines: "!X" closes X's
 * connection from the peer's side, "-X" makes X stop reading (its output
 * piles up; a connection the server closes meanwhile is dropped as the
 * transport would), "+X" makes it read again, "~" is a tick. A closed
 * connection signs in again before its next message (if it can no longer,
 * its messages are dropped). After each line the writer is waited for and
 * every output pumped until nothing is due, then the invariants are checked,
 * abort() on a violation (besides what ASan, UBSan and LSan find):
 *   - every frame sent is one JSON object with a "type"; a top-level "seq"
 *     is never ahead of the store;
 *   - tafel_store_seq never decreases, the change log holds every seq since
 *     the last check with no gap, the seq grew by exactly the number of
 *     writes committed, and the hub knows the store's seq;
 *   - no frame to the partner or an inwoner holds, anywhere in it, an
 *     "opgave" outside its scope (A, resp. B), a hidden reflectie (but its
 *     own contribution waiting for approval, in the `ok` to it), or a join
 *     code (but an inwoner's own session's).
 *
 * Run: build with clang and -DTAFEL_FUZZ=ON (target fuzz), then
 *   build-fuzz/tests/fuzz_dispatch -dict=tests/fuzz/dispatch.dict \
 *       build-fuzz/corpus-dispatch tests/fuzz/corpus_dispatch
 * TAFEL_FUZZ_LOG=debug shows the server's log, TAFEL_FUZZ_TRACE=1 every
 * message in and out; TAFEL_FUZZ_TMPDIR overrides where the data goes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core.h"
#include "hub.h"
#include "server.h"
#include "tafel_protocol.h"
#include "tafel_store.h"
#include "tafel_time.h"
#include "writes.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { BEHEERDER, PARTNER, INWONER, NEWCOMER, NACTORS };

#define MAX_LINES     64     /* messages per input at most */
#define MAX_PUMP      100000 /* writeable calls per settle before it is a livelock */
#define WRITER_WAIT_S 10     /* a write not answered by then is a hang */
#define RECENT        8      /* "$0".."$7" */
#define DOC_LETTERS   "ltimrhodbspqw"

/* One actor's connection as its transport sees it. */
struct peer {
    int actor;
    struct conn *c;            /* NULL: not open */
    bool want;                 /* asked for writeable */
    bool paused;               /* rx flow off */
    bool stalled;              /* reads nothing: its output waits */
    bool closing;              /* the server closes it (close_within) */
    bool gone;                 /* can no longer sign in (this input) */
    json_t *reply;             /* the latest ok or error (setup reads it) */
    char id[TAFEL_ID_MAX + 1]; /* its actor id, from its sign-in */
};

static struct {
    char root[256]; /* the temporary directory */
    char dir[300];  /* root/run: each input's data directory */
    char *tpl;      /* the template's data.mdb */
    size_t tpl_len;
    char key[NACTORS][TAFEL_KEY_STRLEN + 1]; /* beheerder and partner keys */
    char key_id[NACTORS][TAFEL_ID_MAX + 1];
    char device[TAFEL_DEVICE_STRLEN + 1]; /* the inwoner's device token */
    char code[32];                        /* its session's join code */
    char opgave[3][TAFEL_ID_MAX + 1];     /* A B C */
    char doc[3][sizeof(DOC_LETTERS)][TAFEL_ID_MAX + 1];
    char data_id[TAFEL_DATA_ID_STRLEN + 1];

    /* per input */
    struct tafel_server srv;
    struct peer peer[NACTORS];
    char recent[RECENT][TAFEL_ID_MAX + 1];
    uint64_t seq;       /* the store's seq at the last check */
    uint64_t committed; /* srv.m.committed_ops then */
    bool setup;         /* building the template: the invariants are not checked yet */
    bool trace;         /* TAFEL_FUZZ_TRACE: print what goes in and out */
} g;

/* ------------------------------------------------------------- failing */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void)
{
    if (g.root[0])
        nftw(g.root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    g.root[0] = '\0';
}

/* A crash (or a leak) ends the process without atexit: the next run removes
 * what a process no longer alive left in @p tmp. */
static void remove_stale(const char *tmp)
{
    DIR *d = opendir(tmp);
    char path[512];
    int pid, n;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (sscanf(e->d_name, "tafel-fuzz-%d-%n", &pid, &n) == 1 && n > 0 && pid > 0 &&
            kill(pid, 0) != 0 && errno == ESRCH) {
            snprintf(path, sizeof(path), "%s/%s", tmp, e->d_name);
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        }
    }
    if (d)
        closedir(d);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_dispatch: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    cleanup();
    abort();
}

static const char *const actor_name[NACTORS] = {"beheerder", "partner", "inwoner", "newcomer"};

/* Document @p letter (DOC_LETTERS) of opgave @p o (0 A, 1 B, 2 C). */
static char *doc_id(int o, char letter)
{
    return g.doc[o][strchr(DOC_LETTERS, letter) - DOC_LETTERS];
}

/* ----------------------------------------------------------- invariants */

/* The opgave @p actor is scoped to: A for the partner, B (their session's)
 * for the inwoners. */
static const char *scope_of(int actor)
{
    return g.opgave[actor == PARTNER ? 0 : 1];
}

static bool in_scope(int actor, const char *opgave)
{
    return strcmp(opgave, "*") == 0 || strcmp(opgave, scope_of(actor)) == 0;
}

/* A reflectie @p p may read although it is hidden: its own contribution to
 * a pre-moderated session, waiting for a moderator, in the `ok` to its own
 * write of it (@p own: the id that `ok` is about). */
static bool own_pending(const struct peer *p, const json_t *doc, const char *own)
{
    const char *id = json_string_value(json_object_get(doc, "id"));
    const char *by = json_string_value(json_object_get(doc, "created_by"));
    return own && id && by && strcmp(id, own) == 0 && strcmp(by, p->id) == 0 &&
           json_is_true(json_object_get(doc, "pending"));
}

/* What the partner or an inwoner may never read, anywhere in @p v. */
static void check_visible(const struct peer *p, const json_t *v, const char *frame, const char *own,
                          int depth)
{
    if (depth > 64)
        return;
    if (json_is_array(v)) {
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) check_visible(p, item, frame, own, depth + 1);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *opgave = json_string_value(json_object_get(v, "opgave"));
    const char *kind = json_string_value(json_object_get(v, "kind"));
    const char *id = json_string_value(json_object_get(v, "id"));
    if (opgave && !in_scope(p->actor, opgave))
        fail("the %s (scoped to %s) was sent opgave %s: %s", actor_name[p->actor],
             scope_of(p->actor), opgave, frame);
    if (kind && strcmp(kind, "reflectie") == 0 && json_is_true(json_object_get(v, "hidden")) &&
        !own_pending(p, v, own))
        fail("the %s, no moderator, was sent a hidden reflectie: %s", actor_name[p->actor], frame);
    if (json_object_get(v, "join_code") &&
        !(p->actor >= INWONER && kind && strcmp(kind, "sessie") == 0 && id &&
          strcmp(id, doc_id(1, 's')) == 0))
        fail("the %s was sent a join code: %s", actor_name[p->actor], frame);
    const char *name;
    const json_t *member;
    json_object_foreach((json_t *)v, name, member) check_visible(p, member, frame, own, depth + 1);
}

/* One message the server sent to @p p. */
static void received(struct peer *p, const char *buf, size_t len)
{
    if (g.trace)
        fprintf(stderr, "  -> %s: %.*s\n", actor_name[p->actor], (int)len, buf);
    json_error_t jerr;
    json_t *m = json_loadb(buf, len, 0, &jerr);
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!type)
        fail("the %s was sent something that is no message: %.*s", actor_name[p->actor],
             (int)(len > 2000 ? 2000 : len), buf);
    char *frame = strndup(buf, len > 2000 ? 2000 : len);
    json_t *seq = json_object_get(m, "seq");
    if (json_is_integer(seq) && (uint64_t)json_integer_value(seq) > tafel_store_seq(g.srv.store))
        fail("seq %lld sent to the %s is ahead of the store's %llu: %s",
             (long long)json_integer_value(seq), actor_name[p->actor],
             (unsigned long long)tafel_store_seq(g.srv.store), frame);
    const char *id = json_string_value(json_object_get(m, "id"));
    bool ok = strcmp(type, "ok") == 0;
    if (p->actor != BEHEERDER && !g.setup)
        check_visible(p, m, frame, ok ? id : NULL, 0);
    free(frame);
    if (ok || strcmp(type, "error") == 0) {
        json_decref(p->reply);
        p->reply = json_incref(m);
    }
    const char *actor = json_string_value(json_object_get(m, "actor"));
    if (ok && actor && json_object_get(m, "role")) /* signed in */
        snprintf(p->id, sizeof(p->id), "%s", actor);
    if (ok && id && strlen(id) <= TAFEL_ID_MAX) {
        memmove(g.recent[1], g.recent[0], sizeof(g.recent[0]) * (RECENT - 1));
        snprintf(g.recent[0], sizeof(g.recent[0]), "%s", id);
    }
    json_decref(m);
}

static bool check_change(void *ctx, const struct tafel_change *c)
{
    uint64_t *next = ctx;
    if (c->seq != *next)
        fail("the change log skips from seq %llu to %llu", (unsigned long long)*next - 1,
             (unsigned long long)c->seq);
    if (!c->kind || !c->id || !c->opgave)
        fail("change %llu has no kind, id or opgave", (unsigned long long)c->seq);
    (*next)++;
    return true;
}

static void check_log(void)
{
    tafel_store *st = g.srv.store;
    uint64_t seq = tafel_store_seq(st);
    if (seq < g.seq)
        fail("tafel_store_seq went back from %llu to %llu", (unsigned long long)g.seq,
             (unsigned long long)seq);
    uint64_t next = g.seq + 1, last = g.seq;
    enum tafel_err err = tafel_store_changes(st, g.seq, 0, check_change, &next, &last);
    if (err != TAFEL_E_OK || next != seq + 1)
        fail("the change log after seq %llu ends at %llu (%s), the store's seq is %llu",
             (unsigned long long)g.seq, (unsigned long long)next - 1, tafel_strerror(err),
             (unsigned long long)seq);
    if (seq - g.seq != g.srv.m.committed_ops - g.committed)
        fail("seq grew by %llu, but %llu writes were committed", (unsigned long long)(seq - g.seq),
             (unsigned long long)(g.srv.m.committed_ops - g.committed));
    if (hub_seq(g.srv.hub) != seq)
        fail("the hub is at seq %llu, the store at %llu", (unsigned long long)hub_seq(g.srv.hub),
             (unsigned long long)seq);
    g.seq = seq;
    g.committed = g.srv.m.committed_ops;
}

/* ------------------------------------------------------------- the link */

static void link_want_write(void *h)
{
    ((struct peer *)h)->want = true;
}

static void link_rx_flow(void *h, bool on)
{
    ((struct peer *)h)->paused = !on;
}

/* One text message, or with @p raw several unmasked final text frames. */
static int link_write(void *h, unsigned char *buf, size_t len, bool raw)
{
    struct peer *p = h;
    if (!raw) {
        received(p, (const char *)buf, len);
        return 0;
    }
    size_t at = 0;
    while (at < len) {
        if (len - at < 2 || buf[at] != 0x81)
            fail("a burst to the %s holds a bad frame header at %zu", actor_name[p->actor], at);
        uint64_t n = buf[at + 1] & 0x7f;
        size_t hdr = 2;
        if (buf[at + 1] & 0x80)
            fail("a burst to the %s holds a masked frame", actor_name[p->actor]);
        if (n >= 126) {
            hdr = n == 126 ? 4 : 10;
            if (len - at < hdr)
                fail("a burst to the %s ends inside a frame header", actor_name[p->actor]);
            n = 0;
            for (size_t i = 2; i < hdr; i++)
                n = n << 8 | buf[at + i];
        }
        if (n > len - at - hdr)
            fail("a burst to the %s ends inside a frame", actor_name[p->actor]);
        received(p, (const char *)buf + at + hdr, (size_t)n);
        at += hdr + (size_t)n;
    }
    return 0;
}

static bool link_buffered(void *h)
{
    (void)h;
    return false;
}

/* A stalled peer does not read the close frame either: the transport drops
 * it after the next message (settle). */
static void link_close_within(void *h, int secs)
{
    (void)secs;
    ((struct peer *)h)->closing = true;
}

static const struct tafel_link fuzz_link = {link_want_write, link_rx_flow, link_write,
                                            link_buffered, link_close_within};

/* The writer thread finished a batch: count it, for wait_writes(). */
static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static unsigned long wakes;

static void wake(void *ctx)
{
    (void)ctx;
    pthread_mutex_lock(&wake_mu);
    __atomic_add_fetch(&wakes, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

/* Answer what the writer finished until it is idle. A commit takes tens of
 * microseconds: yield to the writer for a while before sleeping, which on a
 * busy machine costs a scheduler tick per write. */
static void wait_writes(void)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WRITER_WAIT_S;
    for (;;) {
        unsigned long seen = __atomic_load_n(&wakes, __ATOMIC_ACQUIRE);
        tafel_core_wake(&g.srv);
        if (tafel_writes_idle(&g.srv))
            return;
        for (int spin = 0; spin < 1000 && __atomic_load_n(&wakes, __ATOMIC_ACQUIRE) == seen; spin++)
            sched_yield();
        pthread_mutex_lock(&wake_mu);
        int rc = 0;
        while (wakes == seen && rc == 0)
            rc = pthread_cond_timedwait(&wake_cv, &wake_mu, &deadline);
        pthread_mutex_unlock(&wake_mu);
        if (rc == ETIMEDOUT)
            fail("the writer has not answered in %d s", WRITER_WAIT_S);
    }
}

/* ------------------------------------------------------------- the loop */

static void peer_closed(struct peer *p)
{
    tafel_core_closed(&g.srv, p->c);
    tafel_core_settle(&g.srv);
    p->c = NULL;
    p->want = p->paused = p->closing = false;
}

/* Answer every write, then send everything due, until nothing is left. */
static void settle(void)
{
    struct tafel_server *srv = &g.srv;
    for (;;) {
        wait_writes();
        bool any = false;
        for (unsigned n = 0;; n++) {
            bool due = false;
            for (int a = 0; a < NACTORS; a++) {
                struct peer *p = &g.peer[a];
                if (p->c && p->stalled && p->closing) {
                    peer_closed(p);
                    due = any = true;
                }
                if (!p->c || !p->want || p->stalled)
                    continue;
                if (n > MAX_PUMP)
                    fail("the %s's output never ends", actor_name[a]);
                due = any = true;
                p->want = false;
                switch (tafel_core_writeable(srv, p->c)) {
                case TAFEL_OUT_MORE:
                    p->want = true;
                    break;
                case TAFEL_OUT_CLOSE:
                    peer_closed(p);
                    break;
                case TAFEL_OUT_BROKEN:
                    fail("a write to the %s broke, and the link never fails", actor_name[a]);
                case TAFEL_OUT_IDLE:
                    break;
                }
                tafel_core_settle(srv);
            }
            if (!due)
                break;
        }
        if (!any && tafel_writes_idle(srv))
            return;
    }
}

static void send_to(struct peer *p, const char *msg, size_t len)
{
    if (g.trace)
        fprintf(stderr, "%s <- %.*s\n", actor_name[p->actor], (int)len, msg);
    tafel_core_message(&g.srv, p->c, msg, len);
    tafel_core_settle(&g.srv);
    settle();
}

/* Open @p p's connection and sign in; false (and closed again) if it cannot. */
static bool sign_in(struct peer *p)
{
    static const char *const addr[NACTORS] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"};
    char msg[512];
    p->c = tafel_core_open(&g.srv, p, addr[p->actor]);
    if (!p->c)
        fail("tafel_core_open failed");
    if (p->actor == INWONER)
        snprintf(msg, sizeof(msg), "{\"type\":\"join\",\"code\":\"%s\",\"name\":\"Fatima\"%s%s%s}",
                 g.code, g.device[0] ? ",\"device\":\"" : "", g.device, g.device[0] ? "\"" : "");
    else if (p->actor == NEWCOMER) /* a new participant: a device record */
        snprintf(msg, sizeof(msg), "{\"type\":\"join\",\"code\":\"%s\",\"name\":\"Joost\"}",
                 g.code);
    else
        snprintf(msg, sizeof(msg), "{\"type\":\"hello\",\"key\":\"%s\"}", g.key[p->actor]);
    send_to(p, msg, strlen(msg));
    if (p->c && p->c->authed)
        return true;
    if (p->c)
        peer_closed(p);
    return false;
}

static void server_start(void)
{
    struct tafel_store_options opt = {0}; /* the defaults */
    struct tafel_errinfo info;
    struct tafel_server *srv = &g.srv;
    memset(srv, 0, sizeof(*srv));
    if (tafel_store_open(g.dir, &opt, false, &srv->store, &info) != TAFEL_E_OK)
        fail("cannot open %s: %s", g.dir, info.message);
    struct tafel_config *cfg = &srv->cfg;
    cfg->data_dir = g.dir;
    snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
    cfg->max_message = 65536;
    cfg->max_connections = 64;
    cfg->max_per_address = 16;
    /* Limits an input can reach: quotas, a slow consumer's 4408 (a stalled
     * peer's output piles up), a subscriber behind the ring. */
    cfg->session_max_contributions = 6;
    cfg->session_max_bytes = 16 * 1024;
    cfg->max_queued_bytes = 96 * 1024;
    cfg->max_lag = 24;
    cfg->ring_size = 8;
    cfg->max_queue_bytes = 64 * 1024;
    cfg->web_dir = "/nonexistent";
    if (!tafel_core_start(srv, &fuzz_link, wake, NULL))
        fail("tafel_core_start failed");
    memset(g.peer, 0, sizeof(g.peer));
    for (int a = 0; a < NACTORS; a++)
        g.peer[a].actor = a;
    g.seq = tafel_store_seq(srv->store);
    g.committed = 0;
    memset(g.recent, 0, sizeof(g.recent));
}

/* As ws.c: the writer first, then the connections, then the rest. */
static void server_stop(void)
{
    tafel_core_stop_writes(&g.srv);
    for (int a = 0; a < NACTORS; a++) {
        if (g.peer[a].c)
            peer_closed(&g.peer[a]);
        json_decref(g.peer[a].reply);
        g.peer[a].reply = NULL;
    }
    tafel_core_stop(&g.srv);
    tafel_store_close(g.srv.store);
    memset(&g.srv, 0, sizeof(g.srv));
}

/* ----------------------------------------------------------- the template */

/* Send @p msg (printf) as @p actor during setup; the ok reply, or fail. */
static json_t *setup_send(int actor, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static json_t *setup_send(int actor, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct peer *p = &g.peer[actor];
    json_decref(p->reply);
    p->reply = NULL;
    send_to(p, msg, strlen(msg));
    const char *type = json_string_value(json_object_get(p->reply, "type"));
    if (!type || strcmp(type, "ok") != 0) {
        char *got = p->reply ? json_dumps(p->reply, JSON_COMPACT) : NULL;
        fail("setup: %s sent %s and got %s", actor_name[actor], msg, got ? got : "nothing");
    }
    return p->reply;
}

static void setup_copy(char *out, size_t cap, const json_t *reply, const char *field)
{
    const char *v = json_string_value(json_object_get(reply, field));
    if (!v || strlen(v) >= cap)
        fail("setup: no %s in the reply", field);
    memcpy(out, v, strlen(v) + 1);
}

/* Create document @p letter of opgave @p o as @p actor from the JSON members
 * @p fields. */
static void setup_doc(int actor, int o, char letter, const char *kind, const char *fields)
{
    json_t *r =
        setup_send(actor, "{\"type\":\"put\",\"kind\":\"%s\",\"doc\":{\"opgave\":\"%s\",%s}}", kind,
                   g.opgave[o], fields);
    setup_copy(doc_id(o, letter), TAFEL_ID_MAX + 1, r, "id");
}

static void build_template(void)
{
    struct tafel_errinfo info;
    struct tafel_store_options opt = {0}; /* the defaults */
    tafel_store *st;
    if (tafel_store_open(g.dir, &opt, true, &st, &info) != TAFEL_E_OK)
        fail("cannot create %s: %s", g.dir, info.message);
    json_t *all = json_string("*");
    if (tafel_store_key_create(st, "beheerder", all, "fuzz beheerder", 0, "", tafel_time_now_ms(),
                               g.key[BEHEERDER], g.key_id[BEHEERDER]) != TAFEL_E_OK)
        fail("setup: cannot create the beheerder key");
    json_decref(all);
    snprintf(g.data_id, sizeof(g.data_id), "%s", tafel_store_data_id(st));
    tafel_store_close(st);

    server_start();
    if (!sign_in(&g.peer[BEHEERDER]))
        fail("setup: the beheerder cannot sign in");
    for (int o = 0; o < 3; o++) {
        json_t *r = setup_send(BEHEERDER,
                               "{\"type\":\"put\",\"kind\":\"opgave\",\"doc\":"
                               "{\"title\":\"Opgave %c\",\"traffic_light\":\"groen\"}}",
                               'A' + o);
        setup_copy(g.opgave[o], sizeof(g.opgave[o]), r, "id");
    }
    json_t *r = setup_send(BEHEERDER,
                           "{\"type\":\"key.create\",\"role\":\"partner\",\"opgaven\":[\"%s\"],"
                           "\"label\":\"fuzz partner\"}",
                           g.opgave[0]);
    setup_copy(g.key[PARTNER], sizeof(g.key[PARTNER]), r, "key");
    setup_copy(g.key_id[PARTNER], sizeof(g.key_id[PARTNER]), r, "key_id");
    char buf[512];
    for (int o = 0; o < 3; o++) {
        setup_doc(BEHEERDER, o, 'l', "actielijn", "\"title\":\"Actielijn\",\"position\":1");
        snprintf(buf, sizeof(buf), "\"actielijn\":\"%s\",\"title\":\"Activiteit\"", doc_id(o, 'l'));
        setup_doc(BEHEERDER, o, 't', "activiteit", buf);
        setup_doc(BEHEERDER, o, 'i', "indicator", "\"title\":\"Indicator\",\"type\":\"effect\"");
        snprintf(buf, sizeof(buf), "\"indicator\":\"%s\",\"date\":\"2026-01-01\",\"value\":3",
                 doc_id(o, 'i'));
        setup_doc(BEHEERDER, o, 'm', "meting", buf);
        setup_doc(BEHEERDER, o, 'r', "reflectie", "\"sort\":\"idee\",\"text\":\"Zichtbaar\"");
        setup_doc(BEHEERDER, o, 'h', "reflectie", "\"sort\":\"vraag\",\"text\":\"Verborgen\"");
        setup_send(BEHEERDER, "{\"type\":\"moderate\",\"id\":\"%s\",\"action\":\"hide\"}",
                   doc_id(o, 'h'));
        setup_doc(BEHEERDER, o, 'o', "moment", "\"date\":\"2026-02-01\",\"title\":\"Moment\"");
        snprintf(buf, sizeof(buf), "\"actor\":\"%s\",\"name\":\"Partner\",\"role\":\"partner\"",
                 g.key_id[PARTNER]);
        setup_doc(BEHEERDER, o, 'd', "lid", buf);
        snprintf(buf, sizeof(buf),
                 "\"text\":\"Besluit\",\"date\":\"2026-03-01\",\"decided_by\":\"college\","
                 "\"answers\":[\"%s\"],\"starts\":[\"%s\"]",
                 doc_id(o, 'r'), doc_id(o, 't'));
        setup_doc(BEHEERDER, o, 'b', "besluit", buf);
        setup_doc(BEHEERDER, o, 's', "sessie", "\"question\":\"Wat nu?\"");
        r = setup_send(BEHEERDER, "{\"type\":\"session.open\",\"id\":\"%s\"}", doc_id(o, 's'));
        if (o == 1)
            setup_copy(g.code, sizeof(g.code), json_object_get(r, "doc"), "join_code");
    }
    if (!sign_in(&g.peer[PARTNER]))
        fail("setup: the partner cannot sign in");
    snprintf(buf, sizeof(buf), "\"actielijn\":\"%s\",\"title\":\"Van de partner\"", doc_id(0, 'l'));
    setup_doc(PARTNER, 0, 'p', "activiteit", buf);
    setup_doc(PARTNER, 0, 'q', "reflectie", "\"sort\":\"goed\",\"text\":\"Van de partner\"");
    if (!sign_in(&g.peer[INWONER]))
        fail("setup: the inwoner cannot join");
    setup_copy(g.device, sizeof(g.device), g.peer[INWONER].reply, "device");
    snprintf(buf, sizeof(buf), "\"sort\":\"idee\",\"text\":\"Van een inwoner\",\"session\":\"%s\"",
             doc_id(1, 's'));
    setup_doc(INWONER, 1, 'w', "reflectie", buf);
    server_stop();

    /* Keep the directory's bytes; each input starts from a copy. */
    snprintf(buf, sizeof(buf), "%s/data.mdb", g.dir);
    FILE *f = fopen(buf, "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0)
        fail("cannot read %s", buf);
    long n = ftell(f);
    g.tpl = malloc((size_t)n);
    rewind(f);
    if (n <= 0 || !g.tpl || fread(g.tpl, 1, (size_t)n, f) != (size_t)n)
        fail("cannot read %s", buf);
    fclose(f);
    g.tpl_len = (size_t)n;
}

/* A fresh copy of the template in g.dir, and nothing else there (no lock
 * file of the last input's store). */
static void restore_template(void)
{
    char path[400];
    DIR *d = opendir(g.dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        snprintf(path, sizeof(path), "%s/%s", g.dir, e->d_name);
        if (e->d_name[0] != '.')
            unlink(path);
    }
    if (d)
        closedir(d);
    snprintf(path, sizeof(path), "%s/data.mdb", g.dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, g.tpl, g.tpl_len) != (ssize_t)g.tpl_len || close(fd) != 0)
        fail("cannot write %s: %s", path, strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *log = getenv("TAFEL_FUZZ_LOG");
    enum tafel_log_level level = TAFEL_LOG_ERROR;
    if (log && !tafel_log_level_parse(log, &level))
        level = TAFEL_LOG_DEBUG;
    tafel_log_set_level(level);
    g.trace = getenv("TAFEL_FUZZ_TRACE") != NULL;
    /* tmpfs if there is one: every write is synced, and a sync to a disk
     * costs a millisecond. */
    const char *tmp = getenv("TAFEL_FUZZ_TMPDIR");
    if (!tmp || !*tmp)
        tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    remove_stale(tmp);
    snprintf(g.root, sizeof(g.root), "%s/tafel-fuzz-%d-XXXXXX", tmp, (int)getpid());
    if (!mkdtemp(g.root)) {
        g.root[0] = '\0';
        fail("mkdtemp in %s: %s", tmp, strerror(errno));
    }
    atexit(cleanup);
    snprintf(g.dir, sizeof(g.dir), "%s/run", g.root);
    g.setup = true;
    build_template();
    g.setup = false;
    return 0;
}

/* ------------------------------------------------------------- one input */

/* @p line with the placeholders replaced, into @p out (NUL-terminated). */
static size_t expand(const char *line, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < len && n + 1 < cap; i++) {
        const char *val = NULL;
        if (line[i] == '$' && i + 1 < len) {
            char x = line[i + 1];
            const char *letter =
                i + 2 < len && line[i + 2] ? strchr(DOC_LETTERS, line[i + 2]) : NULL;
            if (x >= 'A' && x <= 'C' && letter) {
                val = g.doc[x - 'A'][letter - DOC_LETTERS];
                i += 2;
            } else if (x >= 'A' && x <= 'C') {
                val = g.opgave[x - 'A'];
                i++;
            } else if (x == 'S') {
                val = doc_id(1, 's'), i++;
            } else if (x == 'K') {
                val = g.key_id[PARTNER], i++;
            } else if (x == 'L') {
                val = g.key_id[BEHEERDER], i++;
            } else if (x == 'D') {
                val = g.data_id, i++;
            } else if (x >= '0' && x < '0' + RECENT) {
                val = g.recent[x - '0'], i++;
            }
        }
        if (!val) {
            out[n++] = line[i];
            continue;
        }
        size_t vl = strlen(val);
        if (n + vl + 1 > cap)
            break;
        memcpy(out + n, val, vl);
        n += vl;
    }
    out[n] = '\0';
    return n;
}

static int actor_of(unsigned char b)
{
    return b == 'b'   ? BEHEERDER
           : b == 'p' ? PARTNER
           : b == 'i' ? INWONER
           : b == 'n' ? NEWCOMER
                      : b % NACTORS;
}

static void run_line(const char *line, size_t len)
{
    static char msg[65536 + 1];
    if (len == 0)
        return;
    if (line[0] == '~') {
        tafel_core_tick(&g.srv);
        settle();
        return;
    }
    if (line[0] == '!' || line[0] == '-' || line[0] == '+') {
        struct peer *p = &g.peer[actor_of(len > 1 ? (unsigned char)line[1] : 0)];
        if (line[0] == '!' && p->c)
            peer_closed(p);
        p->stalled = line[0] == '-';
        settle();
        return;
    }
    struct peer *p = &g.peer[actor_of((unsigned char)line[0])];
    if (p->gone)
        return;
    if (!p->c && !sign_in(p)) {
        p->gone = true;
        return;
    }
    if (p->paused) /* the transport reads nothing from it meanwhile */
        return;
    size_t n = expand(line + 1, len - 1, msg, sizeof(msg));
    send_to(p, msg, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    restore_template();
    server_start();
    for (int a = 0; a < NEWCOMER; a++) /* the newcomer joins when it first sends */
        if (!sign_in(&g.peer[a]))
            fail("the %s cannot sign in to the template", actor_name[a]);
    check_log();
    const char *text = (const char *)data, *end = text + size;
    for (unsigned lines = 0; text < end && lines < MAX_LINES; lines++) {
        const char *nl = memchr(text, '\n', (size_t)(end - text));
        size_t len = nl ? (size_t)(nl - text) : (size_t)(end - text);
        run_line(text, len);
        check_log();
        text += len + 1;
    }
    server_stop();
    return 0;
}
