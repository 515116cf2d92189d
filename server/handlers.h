/*
 * handlers.h - what the request handlers share, internal to server/.
 *
 * handlers.c holds the request table (message type -> handler, whether the
 * connection must be signed in, whether it writes) and the read and admin
 * handlers; auth.c signs connections in; subs.c handles subscriptions,
 * snapshots and presence; writes.c turns writes into writer operations and
 * back into replies and events. Handlers never touch sockets: they queue
 * frames with conn_send*().
 */
#ifndef TAFEL_SERVER_HANDLERS_H
#define TAFEL_SERVER_HANDLERS_H

#include "server.h"
#include "writer.h"

/* auth.c */
void handle_hello(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_join(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
/** Per-address failed-join accounting; freed with the server. */
void join_guard_free(struct join_guard *g);

/* subs.c */
void handle_sub(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_unsub(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/* writes.c: put patch delete moderate vote feel session.open session.close */
void handle_write(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
/* writes.c: key.create and key.revoke, which commit in the writer thread too */
void handle_key_create(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_key_revoke(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/** @brief Run @p job in the writer thread for @p c's request @p r, with
 *  @p args (taken over; NULL means out of memory: replies so). The reply is
 *  sent from tafel_handle_write_done(). */
void tafel_submit_job(struct tafel_server *srv, struct conn *c, const struct tafel_request *r,
                      wop_job_fn job, json_t *args);

/* writes.c: charge @p bytes of what a new participant costs (its device
 * record) to @p session, after the session's and the address's write rates:
 * TAFEL_E_OK, TAFEL_E_RATE_LIMITED or TAFEL_E_TOO_LARGE (with @p info). */
enum tafel_err tafel_session_charge(struct tafel_server *srv, struct conn *c, const char *session,
                                    const char *opgave, uint64_t bytes, struct tafel_errinfo *info);

/* auth.c: a join's device job is done (loop thread): sign the connection
 * in, or refuse it. */
void tafel_join_finish(struct tafel_server *srv, struct wop *op);

/** @brief Reply with an error built from @p code and a message. */
void reply_error(struct conn *c, const json_t *req, enum tafel_err code, const char *field,
                 const char *message);

/** @brief True if what @p a may see of a document of @p kind in @p opgave
 *  can differ from the stored text (a document of a moderated kind, such
 *  as a reflectie, that may be hidden; a session's join code): then it must
 *  be parsed and passed through doc_readable(). */
bool doc_needs_view(const struct tafel_actor *a, const char *kind, const char *opgave);

/** @brief Remove from @p doc (a stored document of @p kind) what @p a may not
 *  see of it: a session's join code, unless @p a moderates its opgave or
 *  joined that session. */
void doc_hide_secrets(const struct tafel_actor *a, enum tafel_kind kind, json_t *doc);

/** @brief True if every opgave of @p opgaven (an array of ids, or "*") lies
 *  in @p a's scope; an unscoped actor covers everything. */
bool tafel_actor_covers(const struct tafel_actor *a, const json_t *opgaven);

/** @brief True if the document text @p json of @p kind in @p opgave may be
 *  read by @p a; parses it for `hidden` only when that matters. On true,
 *  *doc (if non-NULL) receives the parsed document with what @p a may not
 *  see removed (caller decrefs). */
bool doc_readable(const struct tafel_actor *a, const char *kind, const char *opgave,
                  const char *json, size_t len, json_t **doc);

#endif
