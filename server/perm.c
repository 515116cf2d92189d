/*
 * perm.c - the permission matrix as one table; docs/permissions.md is this
 * table in words. A new kind or role is a new row or column here, not code.
 */
#include "perm.h"

#include <string.h>

/* Shorthands for one cell each: read, create, update, delete, moderate. */
#define N TAFEL_PERM_NO
#define Y TAFEL_PERM_YES
#define O TAFEL_PERM_OWN

/* matrix[kind][role] = {R, C, U, D, M}; roles in enum tafel_role order:
 * beheerder, opgaveleider, partner, inwoner, waarnemer. */
static const unsigned char matrix[TAFEL_KIND__COUNT][TAFEL_ROLE__COUNT][TAFEL_ACT__COUNT] = {
    [TAFEL_KIND_OPGAVE] =
        {{Y, Y, Y, Y, N}, {Y, N, Y, N, N}, {Y, N, N, N, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_ACTIELIJN] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, N, N, N, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_ACTIVITEIT] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, Y, O, O, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_INDICATOR] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, N, N, N, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_METING] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, Y, O, O, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_REFLECTIE] =
        {{Y, Y, Y, Y, Y}, {Y, Y, Y, Y, Y}, {Y, Y, O, O, N}, {Y, Y, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_SESSIE] =
        {{Y, Y, Y, Y, Y}, {Y, Y, Y, Y, Y}, {Y, N, N, N, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_MOMENT] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, Y, O, O, N}, {Y, N, N, N, N}, {Y, N, N, N, N}},
    [TAFEL_KIND_LID] =
        {{Y, Y, Y, Y, N}, {Y, Y, Y, Y, N}, {Y, N, N, N, N}, {N, N, N, N, N}, {Y, N, N, N, N}},
};

#undef N
#undef Y
#undef O

static const char *const action_names[] = {"read", "create", "update", "delete", "moderate"};

enum tafel_perm tafel_perm_cell(enum tafel_role role, enum tafel_kind kind,
                                enum tafel_action action)
{
    if ((unsigned)role >= TAFEL_ROLE__COUNT || (unsigned)kind >= TAFEL_KIND__COUNT ||
        (unsigned)action >= TAFEL_ACT__COUNT)
        return TAFEL_PERM_NO;
    return (enum tafel_perm)matrix[kind][role][action];
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
                                 "a %s may %s only its own %s documents", tafel_role_name(a->role),
                                 action_names[action], def ? def->name : "?");
    case TAFEL_PERM_NO:
        break;
    }
    return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, NULL, "a %s may not %s %s documents",
                             tafel_role_name(a->role), action_names[action], def ? def->name : "?");
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
