/*
 * subs.c - subscriptions: `sub` and `unsub`, the missed changes streamed
 * from the change log (backlog), snapshots, and presence.
 *
 * A `sub` answers in order: what the client missed (events after `since`,
 * or a snapshot), then `ok`, then live events. The backlog can be long, so it
 * is streamed a chunk per WRITEABLE (tafel_backlog_step) while the
 * connection's further requests wait (rx paused): the ok cannot overtake it.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "handlers.h"
#include "hub.h"

#define SNAPSHOT_CHUNK_BYTES (32 * 1024)
#define BACKLOG_CHUNK_FRAMES 256

/* ---------------------------------------------------------------- snapshot */

struct snap_ctx {
    const struct tafel_actor *actor;
    json_t *chunks; /* array of arrays of documents */
    json_t *cur;
    size_t cur_bytes;
    bool oom;
};

static bool snap_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                    const char *json, size_t len)
{
    (void)id;
    struct snap_ctx *sc = ctx;
    json_t *doc;
    if (!doc_readable(sc->actor, kind, opgave, json, len, &doc))
        return true;
    if (!sc->cur || sc->cur_bytes + len > SNAPSHOT_CHUNK_BYTES) {
        sc->cur = json_array();
        sc->cur_bytes = 0;
        if (!sc->cur || json_array_append_new(sc->chunks, sc->cur) != 0) {
            json_decref(doc);
            sc->oom = true;
            return false;
        }
    }
    sc->cur_bytes += len;
    if (json_array_append_new(sc->cur, doc) != 0) {
        sc->oom = true;
        return false;
    }
    return true;
}

/* Queue a snapshot of what @c may read in @opgave ("*": its whole scope);
 * returns the seq it corresponds to, or 0 with *err set. */
static uint64_t send_snapshot(struct tafel_server *srv, struct conn *c, const char *opgave,
                              enum tafel_err *err)
{
    struct snap_ctx sc = {&c->actor, json_array(), NULL, 0, false};
    uint64_t seq = 0;
    const char *only = strcmp(opgave, "*") == 0 ? NULL : opgave;
    if (!sc.chunks) {
        *err = TAFEL_E_NOMEM;
        return 0;
    }
    *err = tafel_store_list(srv->store, only, NULL, snap_fn, &sc, &seq);
    if (*err == TAFEL_E_OK && sc.oom)
        *err = TAFEL_E_NOMEM;
    if (*err == TAFEL_E_OK && json_array_size(sc.chunks) == 0)
        json_array_append_new(sc.chunks, json_array());
    size_t n = json_array_size(sc.chunks);
    for (size_t i = 0; *err == TAFEL_E_OK && i < n; i++) {
        json_t *msg =
            json_pack("{s:s, s:s, s:I, s:O, s:b}", "type", "snapshot", "opgave", opgave, "seq",
                      (json_int_t)seq, "docs", json_array_get(sc.chunks, i), "more", i + 1 < n);
        size_t len;
        char *buf = msg ? tafel_msg_dump(msg, LWS_PRE, &len) : NULL;
        json_decref(msg);
        if (!buf) {
            *err = TAFEL_E_NOMEM;
            break;
        }
        conn_send(c, frame_new(buf, len));
    }
    json_decref(sc.chunks);
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
            reply_error(c, req, TAFEL_E_NOMEM, NULL, NULL);
            return;
        }
        c->subs = grown;
        c->subs_cap = cap;
    }
    if (!hub_follow(srv->hub, opgave)) {
        reply_error(c, req, TAFEL_E_NOMEM, NULL, NULL);
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
    if (sub_moves_presence(c, s))
        tafel_presence_changed(srv, opgave, s->session);
}

static void snapshot_and_ready(struct tafel_server *srv, struct conn *c, const json_t *req,
                               const char *opgave, const char *session)
{
    enum tafel_err err;
    uint64_t seq = send_snapshot(srv, c, opgave, &err);
    if (!seq && err != TAFEL_E_OK) {
        reply_error(c, req, err, NULL, NULL);
        return;
    }
    sub_ready(srv, c, req, opgave, session, seq);
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
            reply_error(c, r->req, TAFEL_E_NOT_FOUND, "opgave", "no such opgave");
            return;
        }
        json_decref(doc);
    }
    if (r->session && !session_in(srv, r->session, opgave)) {
        reply_error(c, r->req, TAFEL_E_NOT_FOUND, "session", "no such session in this opgave");
        return;
    }
    if (c->backlog.active) {
        reply_error(c, r->req, TAFEL_E_CONFLICT, NULL, "a subscription is still catching up");
        return;
    }
    /* Refuse before touching the subscription a re-sub replaces. */
    if (r->has_since && r->since > hub_seq(srv->hub)) {
        reply_error(c, r->req, TAFEL_E_BAD_REQUEST, "since", "since is ahead of the server");
        return;
    }
    if (c->nsubs >= TAFEL_MAX_SUBS && !find_sub(c, opgave)) {
        reply_error(c, r->req, TAFEL_E_TOO_LARGE, "opgave", "too many subscriptions");
        return;
    }
    remove_sub(srv, c, opgave);
    if (c->nsubs == 0)
        c->cursor = hub_seq(srv->hub);
    uint64_t cur = c->cursor;
    if (!r->has_since) {
        snapshot_and_ready(srv, c, r->req, opgave, r->session);
        return;
    }
    if (r->since >= cur) {
        /* Nothing missed up to the live cursor; skip what it already has. */
        sub_ready(srv, c, r->req, opgave, r->session, r->since);
        return;
    }
    c->backlog.active = true;
    snprintf(c->backlog.opgave, sizeof(c->backlog.opgave), "%s", opgave);
    snprintf(c->backlog.session, sizeof(c->backlog.session), "%s", r->session ? r->session : "");
    c->backlog.pos = r->since;
    c->backlog.end = cur;
    c->backlog.req = r->req ? json_deep_copy(r->req) : NULL;
    conn_pause_rx(c);
    conn_want_write(c);
}

int tafel_backlog_step(struct tafel_server *srv, struct conn *c)
{
    struct backlog *b = &c->backlog;
    struct sub tmp;
    memset(&tmp, 0, sizeof(tmp));
    snprintf(tmp.opgave, sizeof(tmp.opgave), "%s", b->opgave);
    enum tafel_err err = TAFEL_E_OK;
    uint64_t reached =
        hub_queue_from_log(srv, c, &tmp, 1, b->pos, b->end, BACKLOG_CHUNK_FRAMES, &err);
    bool done = reached >= b->end;
    if (err == TAFEL_E_TRIMMED) {
        /* Older than the retained log: the current state instead. */
        snapshot_and_ready(srv, c, b->req, b->opgave, b->session);
    } else if (err != TAFEL_E_OK) {
        reply_error(c, b->req, err, NULL, NULL);
    } else if (done) {
        sub_ready(srv, c, b->req, b->opgave, b->session, b->end);
    } else {
        b->pos = reached;
        return 0;
    }
    json_decref(b->req);
    memset(b, 0, sizeof(*b));
    conn_resume_rx(c);
    return 0;
}

void handle_unsub(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    if (!find_sub(c, r->opgave)) {
        reply_error(c, r->req, TAFEL_E_NOT_FOUND, "opgave", "not subscribed");
        return;
    }
    remove_sub(srv, c, r->opgave);
    conn_send_ok(c, r->req, NULL);
}

/* ----------------------------------------------------------------- presence */

static bool follows(const struct conn *c, const char *opgave)
{
    for (size_t i = 0; i < c->nsubs; i++) {
        const char *o = c->subs[i].opgave;
        if (strcmp(o, opgave) == 0 ||
            (strcmp(o, "*") == 0 && tafel_actor_sees_opgave(&c->actor, opgave)))
            return true;
    }
    return false;
}

/* Inwoners sit at the table of the session they joined; key holders at the
 * one their subscription names. */
static bool at_table(const struct conn *c, const char *session)
{
    if (strcmp(c->actor.session, session) == 0)
        return true;
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].session, session) == 0)
            return true;
    return false;
}

void tafel_presence_changed(struct tafel_server *srv, const char *opgave, const char *session)
{
    json_t *present = json_array();
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (c->authed && !c->close_code && at_table(c, session))
            json_array_append_new(present,
                                  json_pack("{s:s, s:s, s:s}", "actor", c->actor.id, "name",
                                            c->actor.name, "role", tafel_role_name(c->actor.role)));
    }
    json_t *msg = json_pack("{s:s, s:s, s:s, s:o}", "type", "presence", "session", session,
                            "opgave", opgave, "present", present);
    size_t len;
    char *text = msg ? tafel_msg_dump(msg, 0, &len) : NULL;
    json_decref(msg);
    if (!text)
        return;
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (!c->authed || !follows(c, opgave))
            continue;
        char *buf = malloc(LWS_PRE + len + 1);
        if (!buf)
            break;
        memcpy(buf + LWS_PRE, text, len + 1);
        conn_send(c, frame_new(buf, len));
    }
    free(text);
}

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
