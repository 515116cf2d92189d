/*
 * auth.c - signing a connection in: `hello` with an access key, `join` with
 * a session's join code; the guard against guessing join codes; and the
 * periodic sweep that drops connections that never signed in or whose key
 * expired.
 *
 * Never log a key or a join code: log the key id, the session id.
 */
#include "auth.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hub.h"
#include "quota.h"
#include "presence.h"
#include "tafel_time.h"
#include "writes.h"

#define HELLO_TIMEOUT_MS 10000
/* One town hall's Wi-Fi is one address for every phone in the room: a room
 * of people mistyping a code now and then stays far below this, a guesser
 * does not (and each failed guess costs its connection JOIN_FAIL_DELAY_MS
 * first). */
#define JOIN_FAILS_ALLOWED 100
#define JOIN_WINDOW_MS     60000
#define JOIN_FAIL_DELAY_MS 1000
/* What a device record costs on disk (record, index, change of the LMDB
 * pages), charged to its session's quota. */
#define DEVICE_RECORD_BYTES 320

/* Failed joins per address within the current window. */
struct join_guard {
    struct join_guard *next;
    char addr[64];
    unsigned fails;
    int64_t window_start;
};

static struct join_guard *guard_find(struct tafel_server *srv, const char *addr, bool create)
{
    for (struct join_guard *g = srv->join_guard; g; g = g->next)
        if (strcmp(g->addr, addr) == 0)
            return g;
    if (!create)
        return NULL;
    struct join_guard *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    snprintf(g->addr, sizeof(g->addr), "%s", addr);
    g->window_start = tafel_time_mono_ms();
    g->next = srv->join_guard;
    srv->join_guard = g;
    return g;
}

void tafel_auth_free(struct tafel_server *srv)
{
    while (srv->join_guard) {
        struct join_guard *next = srv->join_guard->next;
        free(srv->join_guard);
        srv->join_guard = next;
    }
}

static void signed_in(struct tafel_server *srv, struct conn *c, const json_t *req,
                      const char *session, const char *device)
{
    c->authed = true;
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "actor", c->actor.id, "role",
                  tafel_role_name(c->actor.role), "name", c->actor.name, "opgaven",
                  c->actor.scope ? json_incref(c->actor.scope) : json_string("*"), "seq",
                  (json_int_t)hub_seq(srv->hub), "data_id", tafel_store_data_id(srv->store));
    if (f && session)
        json_object_set_new(f, "session", json_string(session));
    if (f && device)
        json_object_set_new(f, "device", json_string(device));
    conn_send_ok(c, req, f);
    json_decref(f);
}

static void refuse(struct conn *c, const json_t *req, enum tafel_err code, const char *msg,
                   int close_code)
{
    conn_reply_error(c, req, code, NULL, msg);
    conn_close(c, close_code, tafel_err_wire(code));
}

void handle_hello(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct tafel_key_info k;
    memset(&k, 0, sizeof(k));
    enum tafel_err err = tafel_store_key_verify(srv->store, r->key, tafel_time_now_ms(), &k);
    enum tafel_role role;
    if (err == TAFEL_E_OK && !tafel_role_from_name(k.role, &role))
        err = TAFEL_E_UNAUTHORIZED;
    if (err != TAFEL_E_OK) {
        log_info("conn=%llu hello refused: %s", (unsigned long long)c->id, tafel_strerror(err));
        refuse(c, r->req, TAFEL_E_UNAUTHORIZED,
               err == TAFEL_E_KEY_REVOKED   ? "access key revoked"
               : err == TAFEL_E_KEY_EXPIRED ? "access key expired"
                                            : "unknown access key",
               4401);
        tafel_key_info_free(&k);
        return;
    }
    c->actor.role = role;
    snprintf(c->actor.id, sizeof(c->actor.id), "%s", k.key_id);
    snprintf(c->actor.key_id, sizeof(c->actor.key_id), "%s", k.key_id);
    snprintf(c->actor.name, sizeof(c->actor.name), "%s", k.label);
    c->actor.scope = json_is_array(k.opgaven) ? json_incref(k.opgaven) : NULL;
    c->actor.expires_ms = k.expires_ms;
    tafel_key_info_free(&k);
    log_info("conn=%llu hello key=%s role=%s", (unsigned long long)c->id, c->actor.id,
             tafel_role_name(role));
    signed_in(srv, c, r->req, NULL, NULL);
}

struct find_session {
    const char *code;
    json_t *found; /* the open sessie with that code */
};

static bool find_session_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                            const char *json, size_t len)
{
    (void)kind, (void)id, (void)opgave;
    struct find_session *fs = ctx;
    json_t *doc = json_loadb(json, len, 0, NULL);
    const char *state = json_string_value(json_object_get(doc, "state"));
    const char *code = json_string_value(json_object_get(doc, "join_code"));
    /* Lengths are public (every code has 8 characters); the contents are
     * compared in constant time. */
    if (state && code && strcmp(state, "open") == 0 && strlen(code) == strlen(fs->code) &&
        sodium_memcmp(code, fs->code, strlen(code)) == 0) {
        fs->found = doc;
        return false;
    }
    json_decref(doc);
    return true;
}

/* The connection is an inwoner at @p session's table from now on. */
static void join_complete(struct tafel_server *srv, struct conn *c, const json_t *req,
                          const char *session, const char *opgave, const char *name,
                          const char *actor, const char *device)
{
    c->actor.role = TAFEL_ROLE_INWONER;
    snprintf(c->actor.id, sizeof(c->actor.id), "%s", actor);
    snprintf(c->actor.name, sizeof(c->actor.name), "%s", name);
    snprintf(c->actor.session, sizeof(c->actor.session), "%s", session);
    c->actor.scope = json_pack("[s]", opgave);
    log_info("conn=%llu join session=%s actor=%s", (unsigned long long)c->id, session, actor);
    signed_in(srv, c, req, session, device);
    tafel_presence_changed(srv, opgave, session);
}

/* In the writer thread: a new device for a participant of a session. */
static void device_create_job(tafel_store *st, struct wop *op)
{
    char token[TAFEL_DEVICE_STRLEN + 1], actor[TAFEL_ID_MAX + 1];
    enum tafel_err err =
        tafel_store_device_create(st, json_string_value(json_object_get(op->job_args, "session")),
                                  tafel_time_now_ms(), token, actor);
    if (err != TAFEL_E_OK) {
        tafel_errinfo_set(&op->job_err, err, NULL, "%s", tafel_strerror(err));
        return;
    }
    op->job_result = json_pack("{s:s, s:s}", "actor", actor, "device", token);
    sodium_memzero(token, sizeof(token));
}

/* The device job is done (loop): sign the connection in, or refuse it. */
static void join_finish(struct tafel_server *srv, struct wop *op)
{
    struct conn *c = op->conn;
    conn_resume_rx(c);
    if (!c->io || c->close_code)
        return;
    if (op->job_err.code != TAFEL_E_OK || !op->job_result) {
        struct tafel_errinfo info = op->job_err;
        if (info.code == TAFEL_E_OK)
            tafel_errinfo_set(&info, TAFEL_E_NOMEM, NULL, "out of memory");
        log_warn("conn=%llu join failed: %s", (unsigned long long)c->id, info.message);
        conn_send_error(c, op->req, &info, NULL);
        conn_close(c, 1013, "try again later");
        return;
    }
    const json_t *a = op->job_args, *res = op->job_result;
    /* The session may have closed while the device was being written: its
     * inwoners were closed then, and this one must not slip in after. */
    json_t *s = NULL;
    const char *sid = json_string_value(json_object_get(a, "session"));
    bool open = tafel_store_get(srv->store, "sessie", sid, &s) == TAFEL_E_OK &&
                json_is_string(json_object_get(s, "state")) &&
                strcmp(json_string_value(json_object_get(s, "state")), "open") == 0;
    json_decref(s);
    if (!open) {
        log_info("conn=%llu join refused: session %s closed meanwhile", (unsigned long long)c->id,
                 sid);
        refuse(c, op->req, TAFEL_E_UNAUTHORIZED, "no open session with that code", 4401);
        return;
    }
    join_complete(srv, c, op->req, json_string_value(json_object_get(a, "session")),
                  json_string_value(json_object_get(a, "opgave")),
                  json_string_value(json_object_get(a, "name")),
                  json_string_value(json_object_get(res, "actor")),
                  json_string_value(json_object_get(res, "device")));
}

void handle_join(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct join_guard *g = guard_find(srv, c->addr, false);
    int64_t now = tafel_time_mono_ms();
    if (g && now - g->window_start > JOIN_WINDOW_MS) {
        g->fails = 0;
        g->window_start = now;
    }
    /* Codes are read aloud: accept any case. */
    char code[17];
    size_t n = strlen(r->code);
    if (n >= sizeof(code))
        n = sizeof(code) - 1;
    for (size_t i = 0; i < n; i++)
        code[i] = (char)((r->code[i] >= 'a' && r->code[i] <= 'z') ? r->code[i] - 32 : r->code[i]);
    code[n] = '\0';

    struct find_session fs = {code, NULL};
    enum tafel_err err = tafel_store_list(srv->store, NULL, "sessie", find_session_fn, &fs, NULL);
    const char *session = json_string_value(json_object_get(fs.found, "id"));
    const char *opgave = json_string_value(json_object_get(fs.found, "opgave"));
    /* The same device comes back as the same participant (one vote each);
     * a token of another session, or none, is a new participant. */
    char actor[TAFEL_ID_MAX + 1];
    bool known = err == TAFEL_E_OK && session && r->device &&
                 tafel_store_device_find(srv->store, r->device, session, actor) == TAFEL_E_OK;
    if (g && g->fails >= JOIN_FAILS_ALLOWED && !known) {
        /* A device that was already at this table (256 random bits, no
         * guess) is let back in even when someone else on the same network
         * has been guessing codes. */
        log_warn("conn=%llu join refused: too many failed joins from %s", (unsigned long long)c->id,
                 c->addr);
        refuse(c, r->req, TAFEL_E_RATE_LIMITED, "too many failed joins; wait a minute", 4429);
        json_decref(fs.found);
        return;
    }
    if (err != TAFEL_E_OK || !fs.found) {
        g = guard_find(srv, c->addr, true);
        if (g)
            g->fails++;
        log_info("conn=%llu join refused: no open session with that code",
                 (unsigned long long)c->id);
        /* The answer comes a second later (tafel_auth_sweep): guessing on one
         * connection is slow, and a typo costs a person nothing. */
        c->refuse_at_ms = now + JOIN_FAIL_DELAY_MS;
        c->refuse_req = r->req ? json_deep_copy(r->req) : NULL;
        conn_pause_rx(c);
        json_decref(fs.found);
        return;
    }
    if (known) {
        join_complete(srv, c, r->req, session, opgave, r->name, actor, r->device);
    } else {
        /* A new participant writes a device record: joins are writes of
         * their session (its rate and its quota), or a join code in many
         * hands fills the disk with them. */
        struct tafel_errinfo info;
        err = tafel_session_charge(srv, c, session, opgave, DEVICE_RECORD_BYTES, &info);
        if (err != TAFEL_E_OK) {
            log_warn("conn=%llu join refused: %s", (unsigned long long)c->id, info.message);
            conn_reply_error(c, r->req, err, info.field[0] ? info.field : NULL, info.message);
            conn_close(c, err == TAFEL_E_RATE_LIMITED ? 4429 : 4403, tafel_err_wire(err));
            json_decref(fs.found);
            return;
        }
        conn_pause_rx(c); /* nothing else is read before the join is answered */
        tafel_submit_job(
            srv, c, r, device_create_job, join_finish,
            json_pack("{s:s, s:s, s:s}", "session", session, "opgave", opgave, "name", r->name));
    }
    json_decref(fs.found);
}

bool tafel_auth_guessing(struct tafel_server *srv, const struct conn *c)
{
    struct join_guard *g = guard_find(srv, c->addr, false);
    return g && tafel_time_mono_ms() - g->window_start <= JOIN_WINDOW_MS &&
           g->fails >= JOIN_FAILS_ALLOWED;
}

void tafel_auth_token_miss(struct tafel_server *srv, struct conn *c, const json_t *req)
{
    /* A token is 256 random bits, no code of 8 characters, but a refusal
     * that comes at once would still let one connection try them as fast
     * as it can: the same guard as a wrong join code, the same delay. */
    struct join_guard *g = guard_find(srv, c->addr, true);
    int64_t now = tafel_time_mono_ms();
    if (g && now - g->window_start > JOIN_WINDOW_MS) {
        g->fails = 0;
        g->window_start = now;
    }
    if (g)
        g->fails++;
    c->refuse_at_ms = now + JOIN_FAIL_DELAY_MS;
    json_decref(c->refuse_req); /* rx is paused until it is answered; still, never leak one */
    c->refuse_req = req ? json_deep_copy(req) : NULL;
    conn_pause_rx(c);
}

void tafel_auth_sweep(struct tafel_server *srv)
{
    int64_t mono = tafel_time_mono_ms(), now = tafel_time_now_ms();
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (c->close_code)
            continue;
        if (c->refuse_at_ms && mono >= c->refuse_at_ms) {
            c->refuse_at_ms = 0;
            if (c->authed) { /* a device token that matched none: the connection stays */
                conn_reply_error(c, c->refuse_req, TAFEL_E_NOT_FOUND, "device", "no such device");
                conn_resume_rx(c);
            } else {
                refuse(c, c->refuse_req, TAFEL_E_UNAUTHORIZED, "no open session with that code",
                       4401);
            }
            json_decref(c->refuse_req);
            c->refuse_req = NULL;
        } else if (c->backlog.active && c->backlog.snapshot) {
            conn_want_write(c); /* a snapshot waiting for the output budget */
        }
        if (c->close_code)
            continue;
        if (!c->authed && mono - c->opened_ms > HELLO_TIMEOUT_MS) {
            refuse(c, NULL, TAFEL_E_UNAUTHORIZED, "no hello or join within 10 s", 4401);
        } else if (c->authed && c->actor.expires_ms && now >= c->actor.expires_ms) {
            log_info("conn=%llu key=%s expired", (unsigned long long)c->id, c->actor.id);
            conn_close(c, 4403, "access key expired");
        }
    }
    /* Forget addresses whose window has passed. */
    for (struct join_guard **pg = &srv->join_guard; *pg;) {
        struct join_guard *g = *pg;
        if (mono - g->window_start > JOIN_WINDOW_MS) {
            *pg = g->next;
            free(g);
        } else {
            pg = &g->next;
        }
    }
}
