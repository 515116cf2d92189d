/*
 * reads.c - the requests that only read: ping, get, list, key.list and
 * audit.list. Each answers from one LMDB read transaction in the loop
 * (reads never wait for the writer), with what the actor may see of it.
 */
#include "reads.h"

#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "tafel_time.h"

void handle_ping(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    json_t *f = json_pack("{s:I}", "seq", (json_int_t)hub_seq(srv->hub));
    conn_send_ok(c, r->req, f);
    json_decref(f);
}

void handle_get(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    json_t *doc = NULL;
    struct tafel_errinfo info;
    const struct tafel_kind_def *def = tafel_schema_kind(r->kind);
    enum tafel_err err = tafel_store_get(srv->store, def->name, r->id, &doc);
    if (err == TAFEL_E_NOT_FOUND)
        tafel_errinfo_set(&info, err, "id", "no such document");
    else if (err != TAFEL_E_OK)
        tafel_errinfo_set(&info, err, NULL, NULL);
    if (err == TAFEL_E_OK) {
        const char *opgave = json_string_value(json_object_get(doc, "opgave"));
        bool hidden = json_is_true(json_object_get(doc, "hidden"));
        err = tafel_perm_visible(&c->actor, r->kind, opgave, hidden, &info);
        if (err == TAFEL_E_OK)
            err = tafel_perm_check(&c->actor, r->kind, TAFEL_ACT_READ, opgave, NULL, &info);
    }
    if (err != TAFEL_E_OK) {
        conn_send_error(c, r->req, &info, NULL);
    } else {
        tafel_doc_hide_secrets(&c->actor, r->kind, doc);
        json_t *f = json_pack("{s:O}", "doc", doc);
        conn_send_ok(c, r->req, f);
        json_decref(f);
    }
    json_decref(doc);
}

/* A list answer holds at most `limit` documents and about LIST_MAX_BYTES of
 * them (then `more`): one reply must fit a connection's queue however large
 * the documents are. */
#define LIST_MAX_BYTES (1024 * 1024)

struct list_ctx {
    const struct tafel_actor *actor;
    json_t *docs;
    size_t limit, bytes;
    bool more, oom;
};

static bool list_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                    const char *json, size_t len)
{
    (void)id;
    struct list_ctx *lc = ctx;
    json_t *doc;
    if (!tafel_doc_readable(lc->actor, kind, opgave, json, len, &doc))
        return true;
    if (json_array_size(lc->docs) >= lc->limit ||
        (json_array_size(lc->docs) && lc->bytes + len > LIST_MAX_BYTES)) {
        json_decref(doc);
        lc->more = true;
        return false;
    }
    lc->bytes += len;
    if (json_array_append_new(lc->docs, doc) != 0) {
        lc->oom = true;
        return false;
    }
    return true;
}

void handle_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    const char *kind = r->has_kind ? tafel_schema_kind(r->kind)->name : NULL;
    if (r->opgave && !tafel_actor_sees_opgave(&c->actor, r->opgave)) {
        conn_reply_error(c, r->req, TAFEL_E_NOT_FOUND, "opgave", "no such opgave");
        return;
    }
    struct list_ctx lc = {&c->actor, json_array(), r->limit ? r->limit : 1000, 0, false, false};
    uint64_t seq = 0;
    enum tafel_err err = TAFEL_E_OK;
    if (r->opgave || !c->actor.scope) {
        err = tafel_store_list(srv->store, r->opgave, kind, list_fn, &lc, &seq);
    } else {
        /* A scoped actor: walk each opgave of its scope, never the rest.
         * Each walk is its own view; answer the oldest view's seq, so that a
         * client subscribing with it as `since` misses nothing (at worst it
         * sees a change again). */
        size_t i;
        json_t *v;
        json_array_foreach(c->actor.scope, i, v)
        {
            if (lc.more || err != TAFEL_E_OK)
                break;
            uint64_t view = 0;
            err = tafel_store_list(srv->store, json_string_value(v), kind, list_fn, &lc, &view);
            if (i == 0 || view < seq)
                seq = view;
        }
    }
    if (err == TAFEL_E_OK && lc.oom)
        err = TAFEL_E_NOMEM;
    if (err != TAFEL_E_OK) {
        conn_reply_error(c, r->req, err, NULL, NULL);
    } else {
        json_t *f =
            json_pack("{s:I, s:O, s:b}", "seq", (json_int_t)seq, "docs", lc.docs, "more", lc.more);
        conn_send_ok(c, r->req, f);
        json_decref(f);
    }
    json_decref(lc.docs);
}

/* ------------------------------------------------------------- admin reads */

struct key_list_ctx {
    const struct tafel_actor *actor;
    json_t *keys;
};

static json_t *time_or_null(int64_t ms)
{
    char buf[TAFEL_TIME_STRLEN];
    return ms ? json_string(tafel_time_format(ms, buf)) : json_null();
}

static bool key_list_fn(void *ctx, const struct tafel_key_info *k)
{
    struct key_list_ctx *kc = ctx;
    /* An opgaveleider sees the keys it made; a beheerder those inside its
     * scope (all, when it has none). */
    if (kc->actor->role != TAFEL_ROLE_BEHEERDER && strcmp(k->created_by, kc->actor->id) != 0)
        return true;
    if (!tafel_actor_covers(kc->actor, k->opgaven))
        return true;
    json_t *o = json_pack("{s:s, s:s, s:O, s:s, s:o, s:o, s:o, s:s}", "key_id", k->key_id, "role",
                          k->role, "opgaven", k->opgaven, "label", k->label, "created_at",
                          time_or_null(k->created_ms), "expires_at", time_or_null(k->expires_ms),
                          "revoked_at", time_or_null(k->revoked_ms), "created_by", k->created_by);
    if (o)
        json_array_append_new(kc->keys, o);
    return true;
}

void handle_key_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct key_list_ctx kc = {&c->actor, json_array()};
    enum tafel_err err = tafel_store_key_list(srv->store, key_list_fn, &kc);
    if (err != TAFEL_E_OK) {
        conn_reply_error(c, r->req, err, NULL, NULL);
    } else {
        json_t *f = json_pack("{s:O}", "keys", kc.keys);
        conn_send_ok(c, r->req, f);
        json_decref(f);
    }
    json_decref(kc.keys);
}

/* A scoped reader's walk skips what lies outside its scope; it reads at most
 * AUDIT_SCAN_MAX entries per request, so one request cannot make the loop
 * walk a long audit log (the reply says where to go on: `next`). */
#define AUDIT_SCAN_MAX 10000

struct audit_ctx {
    const struct tafel_actor *actor;
    json_t *entries;
    size_t limit;
    uint64_t next; /* the entry the next page starts after */
    bool more;
};

/* A scoped beheerder reads the entries about its opgaven only: a document's
 * (detail.opgave) or a key's (detail.opgaven). Anything else, older entries
 * without an opgave included, is outside every scope. */
static bool audit_in_scope(const struct tafel_actor *a, const json_t *e)
{
    if (!a->scope)
        return true;
    const json_t *detail = json_object_get(e, "detail");
    const char *opgave = json_string_value(json_object_get(detail, "opgave"));
    if (opgave)
        return tafel_actor_sees_opgave(a, opgave);
    return tafel_actor_covers(a, json_object_get(detail, "opgaven"));
}

static bool audit_fn(void *ctx, uint64_t n, const char *json, size_t len)
{
    struct audit_ctx *ac = ctx;
    json_t *e = json_loadb(json, len, 0, NULL);
    if (!e || !audit_in_scope(ac->actor, e)) {
        json_decref(e);
        ac->next = n;
        return true;
    }
    if (json_array_size(ac->entries) >= ac->limit) {
        json_decref(e);
        ac->more = true;
        return false;
    }
    json_array_append_new(ac->entries, e);
    ac->next = n;
    return true;
}

static bool audit_last_fn(void *ctx, uint64_t n, const char *json, size_t len)
{
    (void)json, (void)len;
    *(uint64_t *)ctx = n;
    return false;
}

void handle_audit_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct audit_ctx ac = {&c->actor, json_array(), r->limit ? r->limit : 100, r->after, false};
    /* Unscoped: one more than asked tells whether there is more. Scoped:
     * the walk skips what is outside, reading on until the page is full or
     * AUDIT_SCAN_MAX entries were read. */
    uint64_t walk = c->actor.scope ? AUDIT_SCAN_MAX : ac.limit + 1;
    uint64_t last = 0;
    enum tafel_err err = tafel_store_audit_list(srv->store, r->after, walk, audit_fn, &ac);
    if (err == TAFEL_E_OK && c->actor.scope && !ac.more &&
        tafel_store_audit_list(srv->store, ac.next, 1, audit_last_fn, &last) == TAFEL_E_OK && last)
        ac.more = true; /* the walk stopped at AUDIT_SCAN_MAX with entries left */
    if (err != TAFEL_E_OK) {
        conn_reply_error(c, r->req, err, NULL, NULL);
    } else {
        json_t *f = json_pack("{s:O, s:b, s:I}", "entries", ac.entries, "more", ac.more, "next",
                              (json_int_t)ac.next);
        conn_send_ok(c, r->req, f);
        json_decref(f);
    }
    json_decref(ac.entries);
}
