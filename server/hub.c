/*
 * hub.c - the ring of recent events and delivery by cursor; see hub.h.
 */
#include "hub.h"

#include <stdlib.h>
#include <string.h>

#include "perm.h"
#include "strmap.h"

struct hub_event {
    uint64_t seq;
    char opgave[TAFEL_ID_MAX + 1];
    char id[TAFEL_ID_MAX + 1];
    enum tafel_kind kind;
    uint32_t flags;
    char *full, *redacted; /* TAFEL_HEADROOM + JSON; NULL: read the log */
    size_t full_len, redacted_len;
};

struct hub {
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

void hub_drop_content(struct hub *h)
{
    for (size_t i = 0; i < h->cap; i++) {
        struct hub_event *e = &h->ring[i];
        free(e->full);
        free(e->redacted);
        e->full = e->redacted = NULL;
    }
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
                           const char *opgave, enum tafel_kind kind, const char *id, uint32_t flags)
{
    const struct sub *s = NULL;
    for (size_t i = 0; i < nsubs && !s; i++)
        if (sub_matches(c, &subs[i], opgave))
            s = &subs[i];
    if (!s || seq <= s->from_seq)
        return HUB_SKIP;
    if (!tafel_perm_can_read(&c->actor, kind, opgave, false))
        return HUB_SKIP;
    if (flags & TAFEL_CF_SECRET)
        return tafel_perm_sees_secrets(&c->actor, opgave, id) ? HUB_FULL : HUB_REDACTED;
    if (!(flags & TAFEL_CF_HIDDEN) || tafel_actor_moderates(&c->actor, opgave))
        return HUB_FULL;
    /* Hidden now: tell those who may not see it that it is gone, once. */
    return (flags & TAFEL_CF_WAS_HIDDEN) ? HUB_SKIP : HUB_REDACTED;
}

void hub_append(struct tafel_server *srv, uint64_t seq, const char *opgave, enum tafel_kind kind,
                const char *id, uint32_t flags, char *full, size_t full_len, char *redacted,
                size_t redacted_len)
{
    struct hub *h = srv->hub;
    if (flags & TAFEL_CF_REDACTS) {
        /* The change log lost this document's earlier content in the same
         * commit: so does the ring, and a reader still behind those events
         * gets them from the log, as stubs. */
        for (size_t i = 0; i < h->cap; i++) {
            struct hub_event *old = &h->ring[i];
            if (old->seq && old->kind == kind && strcmp(old->id, id) == 0) {
                free(old->full);
                free(old->redacted);
                old->full = old->redacted = NULL;
            }
        }
    }
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
    snprintf(e->id, sizeof(e->id), "%s", id);
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

/* A delete stub: only what identifies the document, so the client can
 * remove it. What a reader who may not see a hidden reflectie receives, and
 * what every delete and every entry whose content was stripped (the
 * document was hidden or deleted later) replays as. */
static char *stub_event(const struct tafel_change *ch, size_t *len)
{
    return tafel_msg_event_stub(ch->seq, ch->kind, ch->id, ch->opgave, ch->rev, TAFEL_HEADROOM,
                                len);
}

char *hub_event_without_secrets(uint64_t seq, enum tafel_kind kind, const json_t *doc,
                                size_t headroom, size_t *len)
{
    json_t *open = json_copy((json_t *)doc); /* shallow: only the secret members go */
    if (!open)
        return NULL;
    tafel_schema_strip_secrets(kind, open);
    char *text = json_dumps(open, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(open);
    char *out = text ? tafel_msg_event(seq, "put", text, strlen(text), headroom, len) : NULL;
    free(text);
    return out;
}

/* A change-log entry's put without its secret fields. */
static char *without_secrets_event(const struct tafel_change *ch, enum tafel_kind kind, size_t *len)
{
    json_t *doc = json_loadb(ch->doc, ch->doc_len, 0, NULL);
    char *out = doc ? hub_event_without_secrets(ch->seq, kind, doc, TAFEL_HEADROOM, len) : NULL;
    json_decref(doc);
    return out;
}

static bool log_walk_fn(void *ctx, const struct tafel_change *ch)
{
    struct log_walk *lw = ctx;
    if (ch->seq > lw->to)
        return false;
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(ch->kind);
    enum hub_view v = def ? hub_view_for(lw->c, lw->subs, lw->nsubs, ch->seq, ch->opgave, def->kind,
                                         ch->id, ch->flags)
                          : HUB_SKIP;
    char *buf = NULL;
    size_t len = 0;
    if (v != HUB_SKIP && (!ch->doc || ch->op == TAFEL_OP_DELETE))
        buf = stub_event(ch, &len); /* no content left: never more than now */
    else if (v == HUB_FULL)
        buf = tafel_msg_event(ch->seq, "put", ch->doc, ch->doc_len, TAFEL_HEADROOM, &len);
    else if (v == HUB_REDACTED)
        buf = (ch->flags & TAFEL_CF_SECRET) ? without_secrets_event(ch, def->kind, &len)
                                            : stub_event(ch, &len);
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

/* The next ring event @p c may read after its cursor, with the cursor moved
 * past it and past what it skips. NULL (cursor unchanged at the first event
 * that needs more than the ring) when none is due from the ring. */
static const char *next_from_ring(struct hub *h, struct conn *c, size_t *len)
{
    while (c->cursor < h->last) {
        uint64_t next = c->cursor + 1;
        if (next < h->first)
            return NULL;
        struct hub_event *e = slot(h, next);
        enum hub_view v =
            hub_view_for(c, c->subs, c->nsubs, e->seq, e->opgave, e->kind, e->id, e->flags);
        if (v == HUB_SKIP) {
            c->cursor = next;
            continue;
        }
        const char *buf = v == HUB_FULL ? e->full : e->redacted;
        if (!buf)
            return NULL; /* not serialised: the caller reads the log */
        *len = v == HUB_FULL ? e->full_len : e->redacted_len;
        c->cursor = next;
        return buf + TAFEL_HEADROOM;
    }
    return NULL;
}

int hub_deliver(struct tafel_server *srv, struct conn *c)
{
    struct hub *h = srv->hub;
    if (!c->nsubs) {
        /* Nothing to deliver to a connection without subscriptions (a writer,
         * a setup connection): skip ahead instead of walking the ring or, once
         * it has been overwritten, the change log for events none of which it
         * gets. A first `sub` sets the cursor anew anyway. */
        c->cursor = h->last;
        return 0;
    }
    /* Every due event the ring holds, up to a burst: one write. */
    const char *msg[TAFEL_BURST_MSGS] = {NULL};
    size_t len[TAFEL_BURST_MSGS] = {0}, n = 0, used = 0;
    while (n < TAFEL_BURST_MSGS) {
        uint64_t at = c->cursor;
        size_t l;
        const char *m = next_from_ring(h, c, &l);
        if (!m)
            break;
        if (n && !conn_burst_fits(used, n, l)) {
            c->cursor = at; /* this one goes next time */
            break;
        }
        msg[n] = m;
        len[n] = l;
        used += l;
        n++;
    }
    if (n) {
        /* The cursor is at the last event taken, or past events skipped
         * after it: never past one that is due and was not taken. */
        if (conn_write_msgs(c, msg, len, n) < 0)
            return -1;
        srv->m.events_delivered += n;
        return 1;
    }
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
        /* Due but not serialised (out of memory in the writer): the log has it. */
        enum tafel_err err;
        c->cursor = next;
        if (!hub_queue_from_log(srv, c, c->subs, c->nsubs, next - 1, next, 1, &err))
            return -1;
        return c->q_head || c->cursor < h->last ? 1 : 0;
    }
    return 0;
}
