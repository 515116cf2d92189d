/*
 * perm.h - who may do what: the role x kind x action cells of each kind's
 * row (protocol/schema.c, docs/permissions.md is written from them), and the
 * scope rules (which opgaven an actor sees), and what an actor sees of a
 * stored document (hidden reflections, secret fields).
 *
 * Every request is checked here before its handler acts and, for what
 * depends on the stored document (ownership, hidden reflections), again in
 * the writer's hook against the document as it is inside the transaction.
 */
#ifndef TAFEL_SERVER_PERM_H
#define TAFEL_SERVER_PERM_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_err.h"
#include "tafel_protocol.h"
#include "tafel_schema.h"
#include "tafel_store.h"

/** Who a connection is, once authenticated. Immutable after hello/join, so
 *  the writer thread may read it while the connection lives. */
struct tafel_actor {
    enum tafel_role role;
    char id[TAFEL_ID_MAX + 1];                /* key id, or a joined inwoner's device actor id */
    char key_id[TAFEL_ID_MAX + 1];            /* the key signed in with; "" for a join by code */
    char name[4 * TAFEL_LABEL_MAX_CHARS + 1]; /* key label or display name (UTF-8) */
    json_t *scope;                            /* array of opgave ids; NULL = every opgave (owned) */
    char session[TAFEL_ID_MAX + 1];           /* inwoner: the session joined, else "" */
    int64_t expires_ms;                       /* 0: never */
};

/* enum tafel_action and enum tafel_perm are tafel_schema.h's: the cells are
 * part of each kind's row there. */

/** @brief The cell for @p role, @p kind, @p action, from the kind's row in
 *  protocol/schema.c: TAFEL_PERM_NO, _YES or _OWN. An unset cell (a row
 *  bug, refused by the unit tests) and anything out of range is NO. */
enum tafel_perm tafel_perm_cell(enum tafel_role role, enum tafel_kind kind,
                                enum tafel_action action);

/** @brief "a" or "an", for English messages about @p role ("an inwoner"). */
const char *tafel_role_article(enum tafel_role role);

/** @brief True if @p a's scope includes @p opgave. */
bool tafel_actor_sees_opgave(const struct tafel_actor *a, const char *opgave);

/** @brief True if @p a moderates @p opgave (may see hidden reflections). */
bool tafel_actor_moderates(const struct tafel_actor *a, const char *opgave);

/**
 * @brief May @p a do @p action on a document of @p kind in @p opgave,
 * created by @p created_by (NULL on create)?
 * @return TAFEL_E_OK; TAFEL_E_NOT_FOUND when the opgave is outside the scope
 *         (documents there do not exist for @p a); TAFEL_E_FORBIDDEN otherwise.
 */
enum tafel_err tafel_perm_check(const struct tafel_actor *a, enum tafel_kind kind,
                                enum tafel_action action, const char *opgave,
                                const char *created_by, struct tafel_errinfo *info);

/**
 * @brief Does a stored document exist for @p a at all? Outside its scope, or
 * a hidden reflection it does not moderate: TAFEL_E_NOT_FOUND. Whether the
 * role may then act on it is tafel_perm_check()'s (TAFEL_E_FORBIDDEN).
 */
enum tafel_err tafel_perm_visible(const struct tafel_actor *a, enum tafel_kind kind,
                                  const char *opgave, bool hidden, struct tafel_errinfo *info);

/** @brief May @p a read the secret fields (TAFEL_FF_SECRET: a session's join
 *  code, which lets anyone in) of document @p doc_id in @p opgave? Only the
 *  opgave's moderators, who hand it out, and the inwoners already joined to
 *  that very document (the session). */
bool tafel_perm_sees_secrets(const struct tafel_actor *a, const char *opgave, const char *doc_id);

/** @brief May @p a read a stored document (scope, hidden reflections)?
 *  @p hidden is the document's `hidden` field. */
bool tafel_perm_can_read(const struct tafel_actor *a, enum tafel_kind kind, const char *opgave,
                         bool hidden);

/** @brief True if @p role may vote and feel (everyone but waarnemer). */
bool tafel_perm_can_interact(enum tafel_role role);

/** @brief True if every opgave of @p opgaven (an array of ids, or "*") lies
 *  in @p a's scope; an unscoped actor covers everything. */
bool tafel_actor_covers(const struct tafel_actor *a, const json_t *opgaven);

/** @brief True if what @p a may see of a document of @p kind in @p opgave
 *  can differ from the stored text (a document of a moderated kind, such
 *  as a reflectie, that may be hidden; a session's join code): then it must
 *  be parsed and passed through tafel_doc_readable(). */
bool tafel_doc_needs_view(const struct tafel_actor *a, const char *kind, const char *opgave);

/** @brief Remove from @p doc (a stored document of @p kind) what @p a may not
 *  see of it: a session's join code, unless @p a moderates its opgave or
 *  joined that session. */
void tafel_doc_hide_secrets(const struct tafel_actor *a, enum tafel_kind kind, json_t *doc);

/** @brief True if the document text @p json of @p kind in @p opgave may be
 *  read by @p a; parses it for `hidden` only when that matters. On true,
 *  *doc (if non-NULL) receives the parsed document with what @p a may not
 *  see removed (caller decrefs). */
bool tafel_doc_readable(const struct tafel_actor *a, const char *kind, const char *opgave,
                        const char *json, size_t len, json_t **doc);

#endif
