/*
 * quota.c - write rates, the read bucket and session quotas; see quota.h.
 */
#include "quota.h"

#include <stdlib.h>
#include <string.h>

#include "strmap.h"
#include "tafel_time.h"

/* sub and list build replies of up to megabytes (snapshots, lists): per
 * connection a burst of READ_BURST, then READ_RATE a second. A page needs a
 * few at start and one per view it opens. */
#define READ_BURST 10.0
#define READ_RATE  2.0

/* Write rates: token buckets of 2 x rate, refilled at the rate, kept per
 * key (its actor id), per joined session ("s:" + id) and per peer address
 * ("a:" + address). Per key alone is not enough: every join is a new actor,
 * so one join code in many hands would multiply the limit. */
struct bucket {
    struct tafel_bucket b;
    double rate; /* for the sweep: when it is full again */
};

static struct bucket *bucket_at(struct tafel_server *srv, const char *key, double rate, int64_t now)
{
    struct bucket *b = strmap_get(srv->buckets, key);
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b || !strmap_set(srv->buckets, key, b)) {
            free(b);
            return NULL;
        }
    }
    b->rate = rate;
    tafel_bucket_fill(&b->b, rate, 2 * rate, now);
    return b;
}

/* NULL when the write may go (a token taken from each bucket), else the
 * sentence to refuse it with. Tokens are taken only when all have one. */
static const char *rate_refusal(struct tafel_server *srv, struct conn *c, const char *session)
{
    char skey[TAFEL_ID_MAX + 3], akey[sizeof(c->addr) + 2];
    snprintf(skey, sizeof(skey), "s:%s", session ? session : "");
    snprintf(akey, sizeof(akey), "a:%s", c->addr);
    const struct {
        const char *key;
        double rate;
        const char *refusal;
    } limits[] = {
        {c->authed ? c->actor.id : NULL, srv->cfg.write_rate, "too many writes; slow down"},
        {session && session[0] ? skey : NULL, srv->cfg.session_write_rate,
         "too many writes in this session; slow down"},
        {akey, srv->cfg.address_write_rate, "too many writes from your network; slow down"},
    };
    struct bucket *b[3] = {NULL, NULL, NULL};
    int64_t now = tafel_time_mono_ms();
    for (size_t i = 0; i < 3; i++) {
        if (!limits[i].key || limits[i].rate <= 0)
            continue;
        b[i] = bucket_at(srv, limits[i].key, limits[i].rate, now);
        if (!b[i])
            return "out of memory";
        if (b[i]->b.tokens < 1)
            return limits[i].refusal;
    }
    for (size_t i = 0; i < 3; i++)
        if (b[i])
            b[i]->b.tokens -= 1;
    return NULL;
}

const char *tafel_write_refusal(struct tafel_server *srv, struct conn *c)
{
    return rate_refusal(srv, c, c->actor.session);
}

struct bucket_sweep {
    int64_t now;
    char (*idle)[TAFEL_ID_MAX + 3];
    size_t nidle, cap;
};

static void find_idle(void *ctx, const char *key, void *val)
{
    struct bucket_sweep *bs = ctx;
    struct tafel_bucket b = ((const struct bucket *)val)->b; /* a copy: only a look */
    double rate = ((const struct bucket *)val)->rate;
    /* Full again: forgetting it changes nothing. */
    if (bs->nidle < bs->cap && tafel_bucket_fill(&b, rate, 2 * rate, bs->now) >= 2 * rate)
        snprintf(bs->idle[bs->nidle++], TAFEL_ID_MAX + 3, "%s", key);
}

void tafel_quota_sweep(struct tafel_server *srv)
{
    char idle[64][TAFEL_ID_MAX + 3];
    struct bucket_sweep bs = {tafel_time_mono_ms(), idle, 0, 64};
    strmap_each(srv->buckets, find_idle, &bs);
    for (size_t i = 0; i < bs.nidle; i++)
        free(strmap_del(srv->buckets, idle[i]));
}

static void free_value(void *ctx, const char *key, void *val)
{
    (void)ctx, (void)key;
    free(val);
}

bool tafel_quota_init(struct tafel_server *srv)
{
    srv->buckets = strmap_new();
    srv->quotas = strmap_new();
    return srv->buckets && srv->quotas;
}

void tafel_quota_free(struct tafel_server *srv)
{
    if (srv->buckets)
        strmap_each(srv->buckets, free_value, NULL);
    strmap_free(srv->buckets);
    srv->buckets = NULL;
    if (srv->quotas)
        strmap_each(srv->quotas, free_value, NULL);
    strmap_free(srv->quotas);
    srv->quotas = NULL;
}

/* -------------------------------------------------------- session quotas */

/* What a session holds: its contributions (reflecties) and their stored
 * bytes, plus what is on its way to the writer. Counted from the store the
 * first time a session writes after start-up, then kept up to date here. */
struct quota {
    uint64_t count, bytes;
    uint64_t pending_count, pending_bytes;
};

struct quota_seed {
    char needle[TAFEL_ID_MAX + 16];
    struct quota *q;
};

static bool quota_seed_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                          const char *json, size_t len)
{
    (void)kind, (void)id, (void)opgave;
    struct quota_seed *qs = ctx;
    /* Stored text is compact JSON and ids need no escaping, so the member
     * appears exactly like this, and nowhere inside a string value (whose
     * quotes are escaped). */
    if (strstr(json, qs->needle)) {
        qs->q->count++;
        qs->q->bytes += len;
    }
    return true;
}

static struct quota *quota_of(struct tafel_server *srv, const char *session, const char *opgave)
{
    struct quota *q = strmap_get(srv->quotas, session);
    if (q)
        return q;
    q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    struct quota_seed qs = {{0}, q};
    snprintf(qs.needle, sizeof(qs.needle), "\"session\":\"%s\"", session);
    if (tafel_store_list(srv->store, opgave, "reflectie", quota_seed_fn, &qs, NULL) != TAFEL_E_OK ||
        !strmap_set(srv->quotas, session, q)) {
        free(q);
        return NULL;
    }
    return q;
}

/* Reserve room for a new contribution of about @p bytes in @p session;
 * TAFEL_E_OK, or TAFEL_E_TOO_LARGE with @p info when the session is full. */
enum tafel_err tafel_quota_reserve(struct tafel_server *srv, const char *session,
                                   const char *opgave, uint64_t bytes, bool contribution,
                                   struct tafel_errinfo *info)
{
    uint64_t max_n = srv->cfg.session_max_contributions, max_b = srv->cfg.session_max_bytes;
    if (!max_n && !max_b)
        return TAFEL_E_OK;
    struct quota *q = quota_of(srv, session, opgave);
    if (!q)
        return tafel_errinfo_set(info, TAFEL_E_NOMEM, NULL, "out of memory");
    if ((contribution && max_n && q->count + q->pending_count + 1 > max_n) ||
        (max_b && q->bytes + q->pending_bytes + bytes > max_b)) {
        log_warn("session %s is full: %llu contributions, %llu bytes", session,
                 (unsigned long long)q->count, (unsigned long long)q->bytes);
        return tafel_errinfo_set(info, TAFEL_E_TOO_LARGE, "session",
                                 "this session is full: it holds as much as it may (%llu "
                                 "contributions, %llu bytes)",
                                 (unsigned long long)max_n, (unsigned long long)max_b);
    }
    q->pending_count += contribution;
    q->pending_bytes += bytes;
    return TAFEL_E_OK;
}

enum tafel_err tafel_session_charge(struct tafel_server *srv, struct conn *c, const char *session,
                                    const char *opgave, uint64_t bytes, struct tafel_errinfo *info)
{
    const char *refusal = rate_refusal(srv, c, session);
    if (refusal)
        return tafel_errinfo_set(info, TAFEL_E_RATE_LIMITED, NULL, "%s", refusal);
    enum tafel_err err = tafel_quota_reserve(srv, session, opgave, bytes, false, info);
    struct quota *q = err == TAFEL_E_OK ? strmap_get(srv->quotas, session) : NULL;
    if (q) {
        q->pending_bytes -= bytes;
        q->bytes += bytes;
    }
    return err;
}

/* A contribution @p doc was deleted: its session has room again (a
 * moderator clearing spam must not leave the session full). */
void tafel_quota_credit(struct tafel_server *srv, const json_t *doc)
{
    const char *session = json_string_value(json_object_get(doc, "session"));
    struct quota *q = session ? strmap_get(srv->quotas, session) : NULL;
    if (!q)
        return; /* not counted yet: the count starts from the store */
    size_t bytes = json_dumpb(doc, NULL, 0, JSON_COMPACT);
    q->count = q->count ? q->count - 1 : 0;
    q->bytes = q->bytes > bytes ? q->bytes - bytes : 0;
}

void tafel_quota_settle(struct tafel_server *srv, const char *session, uint64_t bytes,
                        bool contribution, bool stored, uint64_t stored_bytes)
{
    struct quota *q = session && session[0] ? strmap_get(srv->quotas, session) : NULL;
    if (!q)
        return;
    q->pending_count -= contribution;
    q->pending_bytes -= bytes;
    if (stored) {
        q->count += contribution;
        q->bytes += stored_bytes;
    }
}

bool tafel_read_rate_ok(struct conn *c)
{
    if (tafel_bucket_fill(&c->reads, READ_RATE, READ_BURST, tafel_time_mono_ms()) < 1)
        return false;
    c->reads.tokens -= 1;
    return true;
}
