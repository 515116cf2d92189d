/*
 * dispatch.c - the request table, checked before any handler runs.
 *
 * One row per message type says which handler serves it, which roles may
 * send it, and with flags what is checked here, once: sign-in, shutting
 * down, the write rates, the read bucket. A request that fails a check never
 * reaches its handler, and a write refused here never reaches the writer
 * thread. The finer checks (kind, opgave, ownership) are perm.c's, made by
 * the handlers with the document in hand.
 */
#include "dispatch.h"

#include <string.h>

#include "auth.h"
#include "privacy.h"
#include "quota.h"
#include "reads.h"
#include "subs.h"
#include "writes.h"

typedef void (*handler_fn)(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/* Role masks for the table. */
#define R(role)  (1u << TAFEL_ROLE_##role)
#define ANY_ROLE 0x1fu
#define WRITERS  (ANY_ROLE & ~R(WAARNEMER)) /* a waarnemer reads, and only reads */
#define ADMIN    (R(BEHEERDER))
#define LEADS    (R(BEHEERDER) | R(OPGAVELEIDER))
#define PRIVACY  (R(BEHEERDER) | R(INWONER)) /* an inhabitant's own data; the desk's beheerder */

#define F_SIGN_IN  TAFEL_RF_SIGN_IN
#define F_WRITE    TAFEL_RF_WRITE
#define F_READ     TAFEL_RF_READ
#define F_DRAINING TAFEL_RF_DRAINING

struct route {
    handler_fn fn;
    unsigned roles; /* who may send it once signed in */
    unsigned flags;
};

static const struct route routes[TAFEL_MSG__COUNT] = {
    [TAFEL_MSG_HELLO] = {handle_hello, 0, F_SIGN_IN},
    [TAFEL_MSG_JOIN] = {handle_join, 0, F_SIGN_IN},
    [TAFEL_MSG_PING] = {handle_ping, ANY_ROLE, F_DRAINING},
    [TAFEL_MSG_PUT] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_PATCH] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_DELETE] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_GET] = {handle_get, ANY_ROLE, 0},
    [TAFEL_MSG_LIST] = {handle_list, ANY_ROLE, F_READ},
    [TAFEL_MSG_SUB] = {handle_sub, ANY_ROLE, F_READ},
    [TAFEL_MSG_UNSUB] = {handle_unsub, ANY_ROLE, 0},
    [TAFEL_MSG_MODERATE] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_VOTE] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_FEEL] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_SESSION_OPEN] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_SESSION_CLOSE] = {handle_write, WRITERS, F_WRITE},
    [TAFEL_MSG_KEY_CREATE] = {handle_key_create, LEADS, F_WRITE},
    [TAFEL_MSG_KEY_LIST] = {handle_key_list, LEADS, 0},
    [TAFEL_MSG_KEY_REVOKE] = {handle_key_revoke, LEADS, F_WRITE},
    [TAFEL_MSG_AUDIT_LIST] = {handle_audit_list, ADMIN, 0},
    [TAFEL_MSG_DEVICE_EXPORT] = {handle_device_export, PRIVACY, F_READ},
    [TAFEL_MSG_DEVICE_ERASE] = {handle_device_erase, PRIVACY, F_WRITE},
};

unsigned tafel_route_roles(enum tafel_msg type)
{
    return (unsigned)type < TAFEL_MSG__COUNT ? routes[type].roles : 0;
}

unsigned tafel_route_flags(enum tafel_msg type)
{
    return (unsigned)type < TAFEL_MSG__COUNT ? routes[type].flags : 0;
}

static void route(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    const struct route *rt = &routes[r->type];
    bool sign_in = rt->flags & F_SIGN_IN;
    if (!c->authed) {
        if (!sign_in) {
            conn_reply_error(c, r->req, TAFEL_E_UNAUTHORIZED, NULL, "send hello or join first");
            conn_close(c, 4401, "unauthorized");
            return;
        }
    } else if (sign_in) {
        conn_reply_error(c, r->req, TAFEL_E_BAD_REQUEST, "type", "already signed in");
        return;
    } else if (!(rt->roles & (1u << c->actor.role))) {
        struct tafel_errinfo info;
        if (c->actor.role == TAFEL_ROLE_WAARNEMER && (rt->flags & F_WRITE))
            tafel_errinfo_set(&info, TAFEL_E_FORBIDDEN, "type", "a waarnemer only reads");
        else
            tafel_errinfo_set(&info, TAFEL_E_FORBIDDEN, "type", "%s %s may not send %s",
                              tafel_role_article(c->actor.role), tafel_role_name(c->actor.role),
                              tafel_msg_name(r->type));
        conn_send_error(c, r->req, &info, NULL);
        return;
    }
    if (srv->draining && !(rt->flags & (F_SIGN_IN | F_DRAINING))) {
        conn_reply_error(c, r->req, TAFEL_E_UNAVAILABLE, NULL, "server shutting down");
        return;
    }
    if ((rt->flags & F_READ) && !tafel_read_rate_ok(c)) {
        conn_reply_error(c, r->req, TAFEL_E_RATE_LIMITED, NULL, "too many large reads; slow down");
        return;
    }
    const char *refusal = (rt->flags & F_WRITE) ? tafel_write_refusal(srv, c) : NULL;
    if (refusal) {
        conn_reply_error(c, r->req, TAFEL_E_RATE_LIMITED, NULL, refusal);
        return;
    }
    rt->fn(srv, c, r);
}

void tafel_dispatch(struct tafel_server *srv, struct conn *c, const char *buf, size_t len)
{
    struct tafel_request r;
    struct tafel_errinfo info;
    struct tafel_limits lim = TAFEL_LIMITS_DEFAULT;
    lim.max_bytes = srv->cfg.max_message;
    srv->m.messages_in++;
    enum tafel_err err = tafel_request_parse(buf, len, &lim, &r, &info);
    if (err == TAFEL_E_BAD_UTF8) {
        conn_close(c, 1007, "invalid UTF-8"); /* RFC 6455: invalid payload data */
    } else if (err != TAFEL_E_OK) {
        /* Before hello/join anything malformed is simply "not signed in",
         * except a join whose display name cannot be shown as it is: that
         * person is told so, and may try another name until the hello
         * timeout. */
        const char *type = json_string_value(json_object_get(r.root, "type"));
        bool signing_in = type && strcmp(type, "join") == 0 && strcmp(info.field, "name") == 0;
        if (!c->authed && !signing_in)
            tafel_errinfo_set(&info, TAFEL_E_UNAUTHORIZED, NULL, "send hello or join first");
        conn_send_error(c, r.req, &info, NULL);
        if (!c->authed && !signing_in)
            conn_close(c, 4401, "unauthorized");
    } else {
        route(srv, c, &r);
    }
    tafel_request_free(&r);
}
