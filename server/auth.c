/*
 * auth.c - signing a connection in: `hello` with an access key, `join` with
 * a session's join code; the guard against guessing join codes; and the
 * periodic sweep that drops connections that never signed in or whose key
 * expired.
 *
 * Never log a key or a join code: log the key id, the session id.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handlers.h"
#include "hub.h"
#include "tafel_time.h"

#define HELLO_TIMEOUT_MS   10000
#define JOIN_FAILS_ALLOWED 10
#define JOIN_WINDOW_MS     60000

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

void join_guard_free(struct join_guard *g)
{
    while (g) {
        struct join_guard *next = g->next;
        free(g);
        g = next;
    }
}

static void signed_in(struct tafel_server *srv, struct conn *c, const json_t *req,
                      const char *session)
{
    c->authed = true;
    json_t *f = json_pack("{s:s, s:s, s:s, s:o, s:I}", "actor", c->actor.id, "role",
                          tafel_role_name(c->actor.role), "name", c->actor.name, "opgaven",
                          c->actor.scope ? json_incref(c->actor.scope) : json_string("*"), "seq",
                          (json_int_t)hub_seq(srv->hub));
    if (f && session)
        json_object_set_new(f, "session", json_string(session));
    conn_send_ok(c, req, f);
    json_decref(f);
}

static void refuse(struct conn *c, const json_t *req, enum tafel_err code, const char *msg,
                   int close_code)
{
    reply_error(c, req, code, NULL, msg);
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
    snprintf(c->actor.name, sizeof(c->actor.name), "%s", k.label);
    c->actor.scope = json_is_array(k.opgaven) ? json_incref(k.opgaven) : NULL;
    c->actor.expires_ms = k.expires_ms;
    tafel_key_info_free(&k);
    log_info("conn=%llu hello key=%s role=%s", (unsigned long long)c->id, c->actor.id,
             tafel_role_name(role));
    signed_in(srv, c, r->req, NULL);
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

void handle_join(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct join_guard *g = guard_find(srv, c->addr, false);
    int64_t now = tafel_time_mono_ms();
    if (g && now - g->window_start > JOIN_WINDOW_MS) {
        g->fails = 0;
        g->window_start = now;
    }
    if (g && g->fails >= JOIN_FAILS_ALLOWED) {
        log_warn("conn=%llu join refused: too many failed joins from %s", (unsigned long long)c->id,
                 c->addr);
        refuse(c, r->req, TAFEL_E_RATE_LIMITED, "too many failed joins; wait a minute", 4429);
        return;
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
    if (err != TAFEL_E_OK || !fs.found) {
        g = guard_find(srv, c->addr, true);
        if (g)
            g->fails++;
        log_info("conn=%llu join refused: no open session with that code",
                 (unsigned long long)c->id);
        refuse(c, r->req, TAFEL_E_UNAUTHORIZED, "no open session with that code", 4401);
        json_decref(fs.found);
        return;
    }
    const char *session = json_string_value(json_object_get(fs.found, "id"));
    const char *opgave = json_string_value(json_object_get(fs.found, "opgave"));
    c->actor.role = TAFEL_ROLE_INWONER;
    /* An inwoner is this connection only: a fresh random actor id. */
    static const char alphabet[] = "abcdefghjkmnpqrstvwxyz0123456789";
    char id[12] = "i";
    for (int i = 1; i < 11; i++)
        id[i] = alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    id[11] = '\0';
    snprintf(c->actor.id, sizeof(c->actor.id), "%s", id);
    snprintf(c->actor.name, sizeof(c->actor.name), "%s", r->name);
    snprintf(c->actor.session, sizeof(c->actor.session), "%s", session);
    c->actor.scope = json_pack("[s]", opgave);
    log_info("conn=%llu join session=%s actor=%s", (unsigned long long)c->id, session, id);
    signed_in(srv, c, r->req, session);
    tafel_presence_changed(srv, opgave, session);
    json_decref(fs.found);
}

void tafel_sweep(struct tafel_server *srv)
{
    int64_t mono = tafel_time_mono_ms(), now = tafel_time_now_ms();
    for (struct conn *c = srv->conns; c; c = c->next) {
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
