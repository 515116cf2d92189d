/*
 * auth.h - signing a connection in (auth.c): `hello` with an access key,
 * `join` with a session's join code; and the sweep that closes what
 * expired. Loop thread only.
 */
#ifndef TAFEL_SERVER_AUTH_H
#define TAFEL_SERVER_AUTH_H

#include "conn.h"
#include "server.h"

void handle_hello(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_join(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/** @brief The periodic sweep: hello timeout, key expiry, failed joins
 *  answered after their delay, join-guard ageing. */
void tafel_auth_sweep(struct tafel_server *srv);

/** @brief Free the per-address failed-join accounting of @p srv. */
void tafel_auth_free(struct tafel_server *srv);

#endif
