/*
 * perm.c - who may do what. The cells are each kind's row in
 * protocol/schema.c (docs/permissions.md is written from them); this file
 * adds what a cell cannot say: scope, ownership, hidden documents. A new
 * kind or role is a new row or column there, not code here.
 */
#include "perm.h"

#include <string.h>

const char *tafel_role_article(enum tafel_role role)
{
    const char *n = tafel_role_name(role);
    return n && strchr("aeiou", n[0]) ? "an" : "a";
}

enum tafel_perm tafel_perm_cell(enum tafel_role role, enum tafel_kind kind,
                                enum tafel_action action)
{
    enum tafel_perm p = tafel_schema_perm(kind, role, action);
    /* UNSET (a forgotten cell, which the unit tests refuse) denies. */
    return p == TAFEL_PERM_YES || p == TAFEL_PERM_OWN ? p : TAFEL_PERM_NO;
}

bool tafel_actor_sees_opgave(const struct tafel_actor *a, const char *opgave)
{
    if (!a->scope)
        return true;
    if (!opgave)
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(a->scope, i, v)
    {
        const char *s = json_string_value(v);
        if (s && strcmp(s, opgave) == 0)
            return true;
    }
    return false;
}

bool tafel_actor_moderates(const struct tafel_actor *a, const char *opgave)
{
    return tafel_perm_cell(a->role, TAFEL_KIND_REFLECTIE, TAFEL_ACT_MODERATE) == TAFEL_PERM_YES &&
           tafel_actor_sees_opgave(a, opgave);
}

enum tafel_err tafel_perm_check(const struct tafel_actor *a, enum tafel_kind kind,
                                enum tafel_action action, const char *opgave,
                                const char *created_by, struct tafel_errinfo *info)
{
    /* Creating an opgave has no opgave to be scoped to yet: only an
     * unscoped actor may. */
    bool creating_opgave = kind == TAFEL_KIND_OPGAVE && action == TAFEL_ACT_CREATE;
    if (!creating_opgave && !tafel_actor_sees_opgave(a, opgave))
        return tafel_errinfo_set(info, TAFEL_E_NOT_FOUND, "id", "no such document");
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    switch (tafel_perm_cell(a->role, kind, action)) {
    case TAFEL_PERM_YES:
        if (creating_opgave && a->scope)
            break;
        return TAFEL_E_OK;
    case TAFEL_PERM_OWN:
        if (created_by && strcmp(created_by, a->id) == 0)
            return TAFEL_E_OK;
        return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, NULL,
                                 "%s %s may %s only its own %s documents",
                                 tafel_role_article(a->role), tafel_role_name(a->role),
                                 tafel_action_name(action), def ? def->name : "?");
    case TAFEL_PERM_NO:
    case TAFEL_PERM_UNSET: /* tafel_perm_cell() never returns it */
        break;
    }
    return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, NULL, "%s %s may not %s %s documents",
                             tafel_role_article(a->role), tafel_role_name(a->role),
                             tafel_action_name(action), def ? def->name : "?");
}

enum tafel_err tafel_perm_visible(const struct tafel_actor *a, enum tafel_kind kind,
                                  const char *opgave, bool hidden, struct tafel_errinfo *info)
{
    (void)kind;
    if (!tafel_actor_sees_opgave(a, opgave) || (hidden && !tafel_actor_moderates(a, opgave)))
        return tafel_errinfo_set(info, TAFEL_E_NOT_FOUND, "id", "no such document");
    return TAFEL_E_OK;
}

bool tafel_perm_can_read(const struct tafel_actor *a, enum tafel_kind kind, const char *opgave,
                         bool hidden)
{
    if (!tafel_actor_sees_opgave(a, opgave) ||
        tafel_perm_cell(a->role, kind, TAFEL_ACT_READ) != TAFEL_PERM_YES)
        return false;
    return !hidden || tafel_actor_moderates(a, opgave);
}

bool tafel_perm_can_interact(enum tafel_role role)
{
    return role != TAFEL_ROLE_WAARNEMER && (unsigned)role < TAFEL_ROLE__COUNT;
}

bool tafel_perm_sees_secrets(const struct tafel_actor *a, const char *opgave, const char *doc_id)
{
    return tafel_actor_moderates(a, opgave) ||
           (a->session[0] && doc_id && strcmp(a->session, doc_id) == 0);
}

/* ------------------------------------------------------ what an actor sees */

bool tafel_actor_covers(const struct tafel_actor *a, const json_t *opgaven)
{
    if (!a->scope)
        return true;
    if (!json_is_array(opgaven) || json_array_size(opgaven) == 0)
        return false; /* "*" or nothing: wider than any scope */
    size_t i;
    json_t *v;
    json_array_foreach(opgaven, i, v)
    {
        if (!tafel_actor_sees_opgave(a, json_string_value(v)))
            return false;
    }
    return true;
}

bool tafel_doc_needs_view(const struct tafel_actor *a, const char *kind, const char *opgave)
{
    if (tafel_actor_moderates(a, opgave))
        return false;
    /* A moderated kind (its row says so) may be hidden; a kind with secret
     * fields has them removed (doc_hide_secrets). */
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(kind);
    return def && (def->moderated || tafel_schema_has_secrets(def->kind));
}

void tafel_doc_hide_secrets(const struct tafel_actor *a, enum tafel_kind kind, json_t *doc)
{
    if (!tafel_schema_holds_secrets(kind, doc))
        return;
    const char *opgave = json_string_value(json_object_get(doc, "opgave"));
    if (!tafel_perm_sees_secrets(a, opgave, json_string_value(json_object_get(doc, "id"))))
        tafel_schema_strip_secrets(kind, doc);
}

bool tafel_doc_readable(const struct tafel_actor *a, const char *kind, const char *opgave,
                        const char *json, size_t len, json_t **doc)
{
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(kind);
    if (!def || !tafel_perm_can_read(a, def->kind, opgave, false))
        return false;
    json_t *d = NULL;
    if (doc || tafel_doc_needs_view(a, kind, opgave)) {
        d = json_loadb(json, len, 0, NULL);
        if (!d)
            return false;
        if (json_is_true(json_object_get(d, "hidden")) && !tafel_actor_moderates(a, opgave)) {
            json_decref(d);
            return false;
        }
        tafel_doc_hide_secrets(a, def->kind, d);
    }
    if (doc)
        *doc = d;
    else
        json_decref(d);
    return true;
}
