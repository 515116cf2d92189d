/*
 * presence.c - who sits at a session's table, told only to those at it.
 *
 * A join, a leave or a `sub` naming a session only marks that session's
 * table as changed. tafel_presence_flush(), called from the sweep, sends what
 * changed at most once per PRESENCE_INTERVAL_MS per table: the full list to a
 * connection that newly sits there, a delta (joined, left) to those that
 * already had it. So 400 phones joining one session cost each phone a few
 * small deltas instead of 400 full lists, and nobody outside the table (the
 * other sessions, a portfolio view) hears of it at all.
 *
 * Loop thread only.
 */
#include "presence.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "tafel_time.h"

#define PRESENCE_INTERVAL_MS 500

/** One session's table with changes to announce. */
struct presence {
    struct presence *next;
    char session[TAFEL_ID_MAX + 1];
    char opgave[TAFEL_ID_MAX + 1];
    json_t *announced; /* actor id -> {actor, name, role}: what the table last heard */
    bool dirty;
    int64_t last_ms; /* monotonic time of the last flush */
};

/* Where @p c keeps whether it has had @p session's full list; NULL when it
 * does not sit at that table. Inwoners sit at the session they joined; key
 * holders at the one their subscription names. */
static bool *seat(struct conn *c, const char *session)
{
    if (!c->authed || c->close_code || !c->io)
        return NULL;
    if (c->actor.session[0] && strcmp(c->actor.session, session) == 0)
        return &c->presence_sent;
    for (size_t i = 0; i < c->nsubs; i++)
        if (strcmp(c->subs[i].session, session) == 0)
            return &c->subs[i].presence_sent;
    return NULL;
}

void tafel_presence_changed(struct tafel_server *srv, const char *opgave, const char *session)
{
    struct presence *p;
    for (p = srv->presence; p; p = p->next)
        if (strcmp(p->session, session) == 0)
            break;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p || !(p->announced = json_object())) {
            free(p);
            log_error("presence of session %s dropped: out of memory", session);
            return;
        }
        snprintf(p->session, sizeof(p->session), "%s", session);
        snprintf(p->opgave, sizeof(p->opgave), "%s", opgave);
        p->next = srv->presence;
        srv->presence = p;
    }
    p->dirty = true;
}

static char *presence_msg(const struct presence *p, const char *what, json_t *list, size_t *len)
{
    json_t *msg = json_pack("{s:s, s:s, s:s}", "type", "presence", "session", p->session, "opgave",
                            p->opgave);
    if (msg && what)
        json_object_set(msg, what, list);
    char *text = msg ? tafel_msg_dump(msg, 0, len) : NULL;
    json_decref(msg);
    return text;
}

/* Announce what changed at @p p's table; false when nobody sits there any
 * more (the table can go). */
static bool flush_one(struct tafel_server *srv, struct presence *p, int64_t now)
{
    json_t *current = json_object(), *present = json_array(), *joined = json_array(),
           *left = json_array();
    bool ok = current && present && joined && left;
    for (struct conn *c = srv->conns; ok && c; c = c->next) {
        if (!seat(c, p->session) || json_object_get(current, c->actor.id))
            continue;
        json_t *who = json_pack("{s:s, s:s, s:s}", "actor", c->actor.id, "name", c->actor.name,
                                "role", tafel_role_name(c->actor.role));
        ok = who && json_object_set_new(current, c->actor.id, who) == 0 &&
             json_array_append(present, who) == 0;
        if (ok && !json_object_get(p->announced, c->actor.id))
            ok = json_array_append(joined, who) == 0;
    }
    const char *id;
    json_t *v;
    json_object_foreach(p->announced, id, v)
    {
        if (ok && !json_object_get(current, id))
            ok = json_array_append_new(left, json_string(id)) == 0;
    }
    size_t full_len = 0, delta_len = 0;
    char *full = ok ? presence_msg(p, "present", present, &full_len) : NULL;
    char *delta = NULL;
    if (full && (json_array_size(joined) || json_array_size(left))) {
        json_t *msg = json_pack("{s:s, s:s, s:s, s:O, s:O}", "type", "presence", "session",
                                p->session, "opgave", p->opgave, "joined", joined, "left", left);
        delta = msg ? tafel_msg_dump(msg, 0, &delta_len) : NULL;
        json_decref(msg);
    }
    if (full) {
        for (struct conn *c = srv->conns; c; c = c->next) {
            bool *had = seat(c, p->session);
            if (had && !*had) {
                conn_send(c, frame_copy(full, full_len));
                *had = true;
            } else if (had && delta) {
                conn_send(c, frame_copy(delta, delta_len));
            }
        }
        json_decref(p->announced);
        p->announced = json_incref(current);
    } else {
        log_error("presence of session %s not sent: out of memory", p->session);
    }
    free(full);
    free(delta);
    json_decref(present);
    json_decref(joined);
    json_decref(left);
    p->dirty = false;
    p->last_ms = now;
    bool anyone = json_object_size(current) > 0;
    json_decref(current);
    return anyone;
}

void tafel_presence_flush(struct tafel_server *srv, bool force)
{
    int64_t now = tafel_time_mono_ms();
    for (struct presence **pp = &srv->presence; *pp;) {
        struct presence *p = *pp;
        if (!p->dirty || (!force && now - p->last_ms < PRESENCE_INTERVAL_MS)) {
            pp = &p->next;
            continue;
        }
        if (flush_one(srv, p, now)) {
            pp = &p->next;
        } else {
            *pp = p->next;
            json_decref(p->announced);
            free(p);
        }
    }
}

void tafel_presence_free(struct tafel_server *srv)
{
    while (srv->presence) {
        struct presence *p = srv->presence;
        srv->presence = p->next;
        json_decref(p->announced);
        free(p);
    }
}
