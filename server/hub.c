/*
 * hub.c - the ring of recent events and delivery by cursor; see hub.h.
 */
#include "hub.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

struct hub_event {
    uint64_t seq;
    char opgave[TAFEL_ID_MAX + 1];
    enum tafel_kind kind;
    uint32_t flags;
    char *full, *redacted; /* LWS_PRE headroom + JSON; NULL: read the log */
    size_t full_len, redacted_len;
};

struct hub {
    tafel_store *store;
    struct hub_event *ring;
    size_t cap;
    uint64_t first;           /* seq of the oldest event in the ring */
    uint64_t last;            /* seq of the newest change (ring or not) */
    struct strmap *followers; /* opgave id or "*" -> subscriptions (as an integer) */
};

struct hub *hub_new(tafel_store *st, size_t capacity)
{
    struct hub *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->ring = calloc(capacity, sizeof(*h->ring));
    h->followers = strmap_new();
    if (!h->ring || !h->followers) {
        free(h->ring);
        strmap_free(h->followers);
        free(h);
        return NULL;
    }
    h->store = st;
    h->cap = capacity;
    h->last = tafel_store_seq(st);
    h->first = h->last + 1; /* empty */
    return h;
}

static void event_clear(struct hub_event *e)
{
    free(e->full);
    free(e->redacted);
    memset(e, 0, sizeof(*e));
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->cap; i++)
        event_clear(&h->ring[i]);
    free(h->ring);
    strmap_free(h->followers);
    free(h);
}

static uintptr_t follower_count(const struct hub *h, const char *opgave)
{
    return (uintptr_t)strmap_get(h->followers, opgave);
}

bool hub_follow(struct hub *h, const char *opgave)
{
    return strmap_set(h->followers, opgave, (void *)(follower_count(h, opgave) + 1));
}

/* Nothing of an opgave nobody follows stays in memory: free its serialised
 * events (a later reader of them, if any, gets them from the change log). */
static void purge_unfollowed(struct hub *h, const char *opgave)
{
    bool any_all = follower_count(h, "*") > 0;
    for (size_t i = 0; i < h->cap; i++) {
        struct hub_event *e = &h->ring[i];
        if (!e->full && !e->redacted)
            continue;
        bool match = opgave ? strcmp(e->opgave, opgave) == 0 : true;
        if (match && !any_all && follower_count(h, e->opgave) == 0) {
            free(e->full);
            free(e->redacted);
            e->full = e->redacted = NULL;
        }
    }
}

void hub_unfollow(struct hub *h, const char *opgave)
{
    uintptr_t n = follower_count(h, opgave);
    if (n > 1) {
        strmap_set(h->followers, opgave, (void *)(n - 1));
        return;
    }
    strmap_del(h->followers, opgave);
    purge_unfollowed(h, strcmp(opgave, "*") == 0 ? NULL : opgave);
}

uint64_t hub_seq(const struct hub *h)
{
    return h->last;
}

static struct hub_event *slot(struct hub *h, uint64_t seq)
{
    return &h->ring[seq % h->cap];
}

static bool sub_matches(const struct conn *c, const struct sub *s, const char *opgave)
{
    if (strcmp(s->opgave, "*") == 0)
        return tafel_actor_sees_opgave(&c->actor, opgave);
    return strcmp(s->opgave, opgave) == 0;
}

enum hub_view hub_view_for(const struct conn *c, const struct sub *subs, size_t nsubs, uint64_t seq,
                           const char *opgave, enum tafel_kind kind, uint32_t flags)
{
    const struct sub *s = NULL;
    for (size_t i = 0; i < nsubs && !s; i++)
        if (sub_matches(c, &subs[i], opgave))
            s = &subs[i];
    if (!s || seq <= s->from_seq)
        return HUB_SKIP;
    if (!tafel_perm_can_read(&c->actor, kind, opgave, false))
        return HUB_SKIP;
    if (!(flags & TAFEL_CF_HIDDEN) || tafel_actor_moderates(&c->actor, opgave))
        return HUB_FULL;
    /* Hidden now: tell those who may not see it that it is gone, once. */
    return (flags & TAFEL_CF_WAS_HIDDEN) ? HUB_SKIP : HUB_REDACTED;
}

void hub_append(struct tafel_server *srv, uint64_t seq, const char *opgave, enum tafel_kind kind,
                uint32_t flags, char *full, size_t full_len, char *redacted, size_t redacted_len)
{
    struct hub *h = srv->hub;
    struct hub_event *e = slot(h, seq);
    if (e->seq) {
        /* Overwriting the oldest: readers behind it go to the change log. */
        event_clear(e);
        h->first = seq - h->cap + 1;
    }
    if (h->first > seq)
        h->first = seq;
    e->seq = seq;
    snprintf(e->opgave, sizeof(e->opgave), "%s", opgave);
    e->kind = kind;
    e->flags = flags;
    e->full = full;
    e->full_len = full_len;
    e->redacted = redacted;
    e->redacted_len = redacted_len;
    h->last = seq;

    for (struct conn *c = srv->conns; c; c = c->next) {
        if (!c->nsubs)
            continue;
        if (srv->cfg.max_lag && h->last - c->cursor > srv->cfg.max_lag) {
            /* A reader this far behind is closed rather than chased; it
             * resumes with `since`. */
            srv->m.slow_disconnects++;
            conn_close(c, 4408, "slow consumer: reconnect with since");
            continue;
        }
        for (size_t i = 0; i < c->nsubs; i++) {
            if (sub_matches(c, &c->subs[i], opgave)) {
                conn_want_write(c);
                break;
            }
        }
    }
}

/* ------------------------------------------------------ change-log reading */

struct log_walk {
    struct tafel_server *srv;
    struct conn *c;
    const struct sub *subs;
    size_t nsubs;
    uint64_t to;
    size_t max_frames, frames;
    uint64_t reached;
    bool oom;
};

/* The document a reader who may not see a hidden reflectie receives:
 * only what identifies it, so the client can remove it. */
static char *redacted_event(const struct tafel_change *ch, size_t *len)
{
    json_t *stub = json_pack("{s:s, s:s, s:s, s:I}", "id", ch->id, "kind", ch->kind, "opgave",
                             ch->opgave, "rev", (json_int_t)ch->rev);
    if (!stub)
        return NULL;
    char *text = json_dumps(stub, JSON_COMPACT);
    json_decref(stub);
    if (!text)
        return NULL;
    char *out = tafel_msg_event(ch->seq, "delete", text, strlen(text), LWS_PRE, len);
    free(text);
    return out;
}

static bool log_walk_fn(void *ctx, const struct tafel_change *ch)
{
    struct log_walk *lw = ctx;
    if (ch->seq > lw->to)
        return false;
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(ch->kind);
    enum hub_view v =
        def ? hub_view_for(lw->c, lw->subs, lw->nsubs, ch->seq, ch->opgave, def->kind, ch->flags)
            : HUB_SKIP;
    char *buf = NULL;
    size_t len = 0;
    if (v == HUB_FULL)
        buf = tafel_msg_event(ch->seq, ch->op == TAFEL_OP_DELETE ? "delete" : "put", ch->doc,
                              ch->doc_len, LWS_PRE, &len);
    else if (v == HUB_REDACTED)
        buf = redacted_event(ch, &len);
    if (v != HUB_SKIP) {
        struct frame *f = buf ? frame_new(buf, len) : NULL;
        if (!f) {
            lw->oom = true;
            return false;
        }
        conn_send(lw->c, f);
        lw->frames++;
    }
    lw->reached = ch->seq;
    return lw->frames < lw->max_frames;
}

uint64_t hub_queue_from_log(struct tafel_server *srv, struct conn *c, const struct sub *subs,
                            size_t nsubs, uint64_t from, uint64_t to, size_t max_frames,
                            enum tafel_err *err)
{
    struct log_walk lw = {srv, c, subs, nsubs, to, max_frames, 0, from, false};
    /* Scan at most a bounded number of entries per call so one far-behind
     * reader cannot stall the loop. */
    enum tafel_err e = tafel_store_changes(srv->store, from, 4096, log_walk_fn, &lw, NULL);
    if (e == TAFEL_E_OK && lw.oom)
        e = TAFEL_E_NOMEM;
    if (e != TAFEL_E_OK) {
        *err = e;
        return 0;
    }
    if (lw.reached == from && lw.frames == 0) {
        /* Nothing visible in the scanned window: the walk either ended at
         * `to` or the log holds nothing more. */
        uint64_t seq = tafel_store_seq(srv->store);
        lw.reached = seq < to ? seq : to;
    }
    srv->m.log_fallbacks++;
    return lw.reached;
}

/* --------------------------------------------------------------- delivery */

int hub_deliver(struct tafel_server *srv, struct conn *c)
{
    struct hub *h = srv->hub;
    while (c->cursor < h->last) {
        uint64_t next = c->cursor + 1;
        if (next < h->first) {
            /* Behind the ring: a chunk from the change log, as frames. */
            enum tafel_err err = TAFEL_E_OK;
            uint64_t reached =
                hub_queue_from_log(srv, c, c->subs, c->nsubs, c->cursor, h->first - 1, 64, &err);
            if (!reached || reached <= c->cursor) {
                /* The log no longer holds what this reader missed. */
                conn_close(c, 4408, "too far behind: reconnect with since");
                return 1;
            }
            c->cursor = reached;
            if (c->q_head)
                return 1;
            continue;
        }
        struct hub_event *e = slot(h, next);
        c->cursor = next;
        enum hub_view v = hub_view_for(c, c->subs, c->nsubs, e->seq, e->opgave, e->kind, e->flags);
        char *buf = v == HUB_FULL ? e->full : v == HUB_REDACTED ? e->redacted : NULL;
        size_t len = v == HUB_FULL ? e->full_len : e->redacted_len;
        if (v == HUB_SKIP)
            continue;
        if (!buf) {
            /* Not serialised (out of memory in the writer): the log has it. */
            enum tafel_err err;
            uint64_t reached =
                hub_queue_from_log(srv, c, c->subs, c->nsubs, next - 1, next, 1, &err);
            if (!reached)
                return -1;
            return c->q_head ? 1 : 0;
        }
        /* Shared buffer: lws_write puts the frame header into the headroom
         * and sends (or copies what the socket did not take) at once, so the
         * buffer can serve the next subscriber right after. */
        if (lws_write(c->wsi, (unsigned char *)buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
            return -1;
        srv->m.messages_out++;
        srv->m.events_delivered++;
        return 1;
    }
    return 0;
}
