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

/** @brief Reply with an error built from @p code and a message. */
void reply_error(struct conn *c, const json_t *req, enum tafel_err code, const char *field,
                 const char *message);

/** @brief True if the document text @p json of @p kind in @p opgave may be
 *  read by @p a; parses it for `hidden` only when that matters. On true,
 *  *doc (if non-NULL) receives the parsed document (caller decrefs). */
bool doc_readable(const struct tafel_actor *a, const char *kind, const char *opgave,
                  const char *json, size_t len, json_t **doc);

#endif
