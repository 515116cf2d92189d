/*
 * subs.c - subscriptions: `sub` and `unsub`, the missed changes streamed
 * from the change log (backlog), snapshots, and presence.
 *
 * A `sub` answers in order: what the client missed (events after `since`,
 * or a snapshot), then `ok`, then live events. The backlog can be long, so it
 * is streamed a chunk per WRITEABLE (tafel_backlog_step) while the
 * connection's further requests wait (rx paused): the ok cannot overtake it.
 */
#include "subs.h"

#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "presence.h"

#define SNAPSHOT_CHUNK_BYTES (32 * 1024)
#define BACKLOG_CHUNK_FRAMES 256

/* ---------------------------------------------------------------- snapshot */

/* A snapshot is built from the stored text as it is: a document is parsed
 * only when the reader may see less of it than is stored (a hidden
 * reflectie, a session's join code). Chunks of about SNAPSHOT_CHUNK_BYTES
 * become one message each. */
struct snap_chunk {
    char *buf; /* "doc,doc,..." */
    size_t len, cap;
};

struct snap_ctx {
    const struct tafel_actor *actor;
    struct snap_chunk *chunks;
    size_t n, cap;
    bool oom;
};

static bool chunk_add(struct snap_ctx *sc, const char *text, size_t len)
{
    struct snap_chunk *ch = sc->n ? &sc->chunks[sc->n - 1] : NULL;
    if (!ch || (ch->len && ch->len + len + 1 > SNAPSHOT_CHUNK_BYTES)) {
        if (sc->n == sc->cap) {
            size_t cap = sc->cap ? sc->cap * 2 : 4;
            struct snap_chunk *grown = realloc(sc->chunks, cap * sizeof(*grown));
            if (!grown)
                return false;
            sc->chunks = grown;
            sc->cap = cap;
        }
        ch = &sc->chunks[sc->n++];
        memset(ch, 0, sizeof(*ch));
    }
    size_t need = ch->len + len + 2;
    if (need > ch->cap) {
        size_t cap = ch->cap ? ch->cap : 4096;
        while (cap < need)
            cap *= 2;
        char *grown = realloc(ch->buf, cap);
        if (!grown)
            return false;
        ch->buf = grown;
        ch->cap = cap;
    }
    if (ch->len)
        ch->buf[ch->len++] = ',';
    memcpy(ch->buf + ch->len, text, len);
    ch->len += len;
    return true;
}

static bool snap_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                    const char *json, size_t len)
{
    (void)id;
    struct snap_ctx *sc = ctx;
    if (!tafel_doc_needs_view(sc->actor, kind, opgave)) {
        const struct tafel_kind_def *def = tafel_schema_kind_by_name(kind);
        if (!def || !tafel_perm_can_read(sc->actor, def->kind, opgave, false))
            return true;
        sc->oom = !chunk_add(sc, json, len);
        return !sc->oom;
    }
    json_t *doc;
    if (!tafel_doc_readable(sc->actor, kind, opgave, json, len, &doc))
        return true;
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(doc);
    sc->oom = !text || !chunk_add(sc, text, strlen(text));
    free(text);
    return !sc->oom;
}

static void snap_free(struct snap_ctx *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        free(sc->chunks[i].buf);
    free(sc->chunks);
}

/* Build the snapshot of what @c may read in @opgave ("*": its whole scope)
 * as frames held by its backlog (counted in the server's queued bytes);
 * tafel_backlog_step() hands them to the connection one at a time, so a
 * snapshot of any size never trips the per-connection queue limit. Returns
 * the seq it corresponds to, or 0 with *err set. */
static uint64_t build_snapshot(struct tafel_server *srv, struct conn *c, const char *opgave,
                               enum tafel_err *err)
{
    struct backlog *b = &c->backlog;
    struct snap_ctx sc = {&c->actor, NULL, 0, 0, false};
    uint64_t seq = 0;
    if (strcmp(opgave, "*") != 0 || !c->actor.scope) {
        const char *only = strcmp(opgave, "*") == 0 ? NULL : opgave;
        *err = tafel_store_list(srv->store, only, NULL, snap_fn, &sc, &seq);
    } else {
        /* A scoped actor's "*": walk each opgave of its scope, never the
         * whole store. Each walk is its own view: the oldest view's seq is
         * the snapshot's, so the events after it miss nothing. */
        size_t i;
        json_t *v;
        *err = TAFEL_E_OK;
        json_array_foreach(c->actor.scope, i, v)
        {
            uint64_t view = 0;
            if (*err != TAFEL_E_OK || sc.oom)
                break;
            *err = tafel_store_list(srv->store, json_string_value(v), NULL, snap_fn, &sc, &view);
            if (i == 0 || view < seq)
                seq = view;
        }
    }
    if (*err == TAFEL_E_OK && sc.oom)
        *err = TAFEL_E_NOMEM;
    if (*err == TAFEL_E_OK && sc.n == 0 && !chunk_add(&sc, "", 0))
        *err = TAFEL_E_NOMEM;
    for (size_t i = 0; *err == TAFEL_E_OK && i < sc.n; i++) {
        /* opgave is an id or "*": nothing in it needs escaping. */
        char head[TAFEL_ID_MAX + 96];
        int hl = snprintf(head, sizeof(head),
                          "{\"type\":\"snapshot\",\"opgave\":\"%s\",\"seq\":%llu,\"docs\":[",
                          opgave, (unsigned long long)seq);
        const char *tail = i + 1 < sc.n ? "],\"more\":true}" : "],\"more\":false}";
        size_t tl = strlen(tail), len = (size_t)hl + sc.chunks[i].len + tl;
        char *buf = malloc(TAFEL_HEADROOM + len + 1);
        if (!buf) {
            *err = TAFEL_E_NOMEM;
            break;
        }
        char *p = buf + TAFEL_HEADROOM;
        memcpy(p, head, (size_t)hl);
        if (sc.chunks[i].len)
            memcpy(p + hl, sc.chunks[i].buf, sc.chunks[i].len);
        memcpy(p + hl + sc.chunks[i].len, tail, tl + 1);
        struct frame *f = frame_new(buf, len);
        if (!f) {
            *err = TAFEL_E_NOMEM;
            break;
        }
        if (b->snap_tail)
            b->snap_tail->next = f;
        else
            b->snap_head = f;
        b->snap_tail = f;
        b->snap_bytes += len;
        srv->queued_bytes += len;
    }
    snap_free(&sc);
    return *err == TAFEL_E_OK ? seq : 0;
}

/* ------------------------------------------------------------ subscriptions */

static struct sub *find_sub(struct conn *c, const char *opgave)
{
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].opgave, opgave) == 0)
            return &c->subs[i];
    return NULL;
}

/* Whether adding or removing @s changes who sits at its session's table: an
 * inwoner sits at the session it joined whatever it subscribes to, so only
 * join and close announce it. */
static bool sub_moves_presence(const struct conn *c, const struct sub *s)
{
    return s->session[0] && strcmp(s->session, c->actor.session) != 0;
}

static void remove_sub(struct tafel_server *srv, struct conn *c, const char *opgave)
{
    struct sub *s = find_sub(c, opgave);
    if (!s)
        return;
    size_t i = (size_t)(s - c->subs);
    struct sub gone = *s;
    hub_unfollow(srv->hub, opgave);
    memmove(&c->subs[i], &c->subs[i + 1], (c->nsubs - i - 1) * sizeof(*s));
    c->nsubs--;
    if (sub_moves_presence(c, &gone))
        tafel_presence_changed(srv, gone.opgave, gone.session);
}

/* The subscription is in place from @from_seq on: record it and say ok. */
static void sub_ready(struct tafel_server *srv, struct conn *c, const json_t *req,
                      const char *opgave, const char *session, uint64_t from_seq)
{
    if (c->nsubs == c->subs_cap) {
        size_t cap = c->subs_cap ? c->subs_cap * 2 : 1;
        struct sub *grown = realloc(c->subs, cap * sizeof(*grown));
        if (!grown) {
            conn_reply_error(c, req, TAFEL_E_NOMEM, NULL, NULL);
            return;
        }
        c->subs = grown;
        c->subs_cap = cap;
    }
    if (!hub_follow(srv->hub, opgave)) {
        conn_reply_error(c, req, TAFEL_E_NOMEM, NULL, NULL);
        return;
    }
    struct sub *s = &c->subs[c->nsubs++];
    memset(s, 0, sizeof(*s));
    snprintf(s->opgave, sizeof(s->opgave), "%s", opgave);
    s->from_seq = from_seq;
    snprintf(s->session, sizeof(s->session), "%s", session ? session : "");
    json_t *f = json_pack("{s:s, s:I}", "opgave", opgave, "seq", (json_int_t)from_seq);
    conn_send_ok(c, req, f);
    json_decref(f);
    /* Whoever names a session gets its full list (and the table its news). */
    if (s->session[0])
        tafel_presence_changed(srv, opgave, s->session);
}

/* True if @session is a sessie of @opgave. */
static bool session_in(struct tafel_server *srv, const char *session, const char *opgave)
{
    json_t *doc = NULL;
    const char *in = NULL;
    if (tafel_store_get(srv->store, "sessie", session, &doc) == TAFEL_E_OK)
        in = json_string_value(json_object_get(doc, "opgave"));
    bool ok = in && strcmp(in, opgave) == 0;
    json_decref(doc);
    return ok;
}

void handle_sub(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    const char *opgave = r->opgave;
    bool all = strcmp(opgave, "*") == 0;
    if (!all) {
        json_t *doc = NULL;
        if (!tafel_actor_sees_opgave(&c->actor, opgave) ||
            tafel_store_get(srv->store, "opgave", opgave, &doc) != TAFEL_E_OK) {
            json_decref(doc);
            conn_reply_error(c, r->req, TAFEL_E_NOT_FOUND, "opgave", "no such opgave");
            return;
        }
        json_decref(doc);
    }
    if (r->session && !session_in(srv, r->session, opgave)) {
        conn_reply_error(c, r->req, TAFEL_E_NOT_FOUND, "session", "no such session in this opgave");
        return;
    }
    /* An inwoner sits at the table of the session it joined, no other. */
    if (r->session && c->actor.session[0] && strcmp(r->session, c->actor.session) != 0) {
        conn_reply_error(c, r->req, TAFEL_E_FORBIDDEN, "session",
                         "an inwoner takes part in its own session only");
        return;
    }
    if (c->backlog.active) {
        conn_reply_error(c, r->req, TAFEL_E_CONFLICT, NULL, "a subscription is still catching up");
        return;
    }
    if (c->nsubs >= TAFEL_MAX_SUBS && !find_sub(c, opgave)) {
        conn_reply_error(c, r->req, TAFEL_E_TOO_LARGE, "opgave", "too many subscriptions");
        return;
    }
    /* A since from another history (a restored or replaced data directory)
     * or beyond what this one has seen means nothing here: the current
     * state instead. */
    bool since_ok = r->has_since && r->since <= hub_seq(srv->hub) &&
                    (!r->data_id || strcmp(r->data_id, tafel_store_data_id(srv->store)) == 0);
    remove_sub(srv, c, opgave);
    if (c->nsubs == 0)
        c->cursor = hub_seq(srv->hub);
    uint64_t cur = c->cursor;
    if (since_ok && r->since >= cur) {
        /* Nothing missed up to the live cursor; skip what it already has. */
        sub_ready(srv, c, r->req, opgave, r->session, r->since);
        return;
    }
    /* The snapshot or the missed changes go out from WRITEABLE, once what is
     * queued to this connection has gone: a client that does not read
     * never makes the server build the next one. */
    c->backlog.active = true;
    c->backlog.snapshot = !since_ok;
    snprintf(c->backlog.opgave, sizeof(c->backlog.opgave), "%s", opgave);
    snprintf(c->backlog.session, sizeof(c->backlog.session), "%s", r->session ? r->session : "");
    c->backlog.pos = since_ok ? r->since : 0;
    c->backlog.end = cur;
    c->backlog.req = r->req ? json_deep_copy(r->req) : NULL;
    conn_pause_rx(c);
    conn_want_write(c);
}

static void backlog_end(struct conn *c)
{
    conn_drop_backlog(c);
    conn_resume_rx(c);
}

/* The snapshot part of a sub: build it (when the output budget has room),
 * then one frame per call, then ok. */
static int snapshot_step(struct tafel_server *srv, struct conn *c)
{
    struct backlog *b = &c->backlog;
    if (!b->snap_built) {
        /* The sweep wakes this connection again when there is room. */
        if (srv->queued_bytes > srv->cfg.max_queued_bytes / 2)
            return 0;
        enum tafel_err err = TAFEL_E_OK;
        b->snap_seq = build_snapshot(srv, c, b->opgave, &err);
        b->snap_built = true;
        if (err != TAFEL_E_OK) {
            conn_reply_error(c, b->req, err, NULL, NULL);
            backlog_end(c);
            return 1;
        }
    }
    struct frame *f = b->snap_head;
    if (f) {
        b->snap_head = f->next;
        if (!b->snap_head)
            b->snap_tail = NULL;
        f->next = NULL;
        b->snap_bytes -= f->len;
        srv->queued_bytes -= f->len;
        conn_send(c, f);
        return 1;
    }
    sub_ready(srv, c, b->req, b->opgave, b->session, b->snap_seq);
    backlog_end(c);
    return 1;
}

int tafel_backlog_step(struct tafel_server *srv, struct conn *c)
{
    struct backlog *b = &c->backlog;
    if (b->snapshot)
        return snapshot_step(srv, c);
    struct sub tmp;
    memset(&tmp, 0, sizeof(tmp));
    snprintf(tmp.opgave, sizeof(tmp.opgave), "%s", b->opgave);
    enum tafel_err err = TAFEL_E_OK;
    uint64_t reached =
        hub_queue_from_log(srv, c, &tmp, 1, b->pos, b->end, BACKLOG_CHUNK_FRAMES, &err);
    bool done = reached >= b->end;
    if (err == TAFEL_E_TRIMMED) {
        /* Older than the retained log: the current state instead. */
        b->snapshot = true;
        return 1;
    } else if (err != TAFEL_E_OK) {
        conn_reply_error(c, b->req, err, NULL, NULL);
    } else if (done) {
        sub_ready(srv, c, b->req, b->opgave, b->session, b->end);
    } else {
        b->pos = reached;
        return 1;
    }
    backlog_end(c);
    return 1;
}

void handle_unsub(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    if (!find_sub(c, r->opgave)) {
        conn_reply_error(c, r->req, TAFEL_E_NOT_FOUND, "opgave", "not subscribed");
        return;
    }
    remove_sub(srv, c, r->opgave);
    conn_send_ok(c, r->req, NULL);
}

/* ----------------------------------------------------------------- leaving */

void tafel_conn_leave(struct tafel_server *srv, struct conn *c)
{
    size_t n = c->nsubs;
    c->nsubs = 0; /* the presence below must not count these */
    for (size_t i = 0; i < n; i++) {
        hub_unfollow(srv->hub, c->subs[i].opgave);
        if (sub_moves_presence(c, &c->subs[i]))
            tafel_presence_changed(srv, c->subs[i].opgave, c->subs[i].session);
    }
    if (c->authed && c->actor.session[0]) {
        const char *opgave = json_string_value(json_array_get(c->actor.scope, 0));
        if (opgave)
            tafel_presence_changed(srv, opgave, c->actor.session);
    }
}

void tafel_conns_settle(struct tafel_server *srv)
{
    while (srv->leavers) {
        struct conn *c = srv->leavers;
        srv->leavers = c->next_leaver;
        c->next_leaver = NULL;
        tafel_conn_leave(srv, c);
        conn_unref(c);
    }
}
