/*
 * subs.h - subscriptions (subs.c): `sub` and `unsub`, the missed changes
 * or the snapshot a `sub` streams before its ok, and a connection leaving
 * its tables. Loop thread only.
 */
#ifndef TAFEL_SERVER_SUBS_H
#define TAFEL_SERVER_SUBS_H

#include "conn.h"
#include "server.h"

void handle_sub(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_unsub(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/** @brief Stream the next chunk of @p c's sub backlog, or its snapshot; 1
 *  when it made progress (call again when writeable), 0 when it waits for
 *  the output budget (the sweep wakes it), <0 on a fatal error. */
int tafel_backlog_step(struct tafel_server *srv, struct conn *c);

/** @brief @p c leaves: its subscriptions end and whoever shares a session's
 *  table with it learns it left. Once per connection: for a connection
 *  closed by the server from tafel_conns_settle(), else when the peer
 *  closed. */
void tafel_conn_leave(struct tafel_server *srv, struct conn *c);

/** @brief Let every connection closed since the last call (srv->leavers,
 *  see conn_close()) leave its tables. The loop calls it after each event. */
void tafel_conns_settle(struct tafel_server *srv);

#endif
