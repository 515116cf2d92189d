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

/** @brief True when @p c's address has failed too often within the window
 *  (wrong join codes, device tokens that match none): refuse at once with
 *  rate_limited. */
bool tafel_auth_guessing(struct tafel_server *srv, const struct conn *c);

/** @brief A device token from signed-in @p c matched no device it may name
 *  (device.export, device.erase): counted as a failed guess of its address
 *  and answered not_found (field device, echoing @p req) after the same
 *  delay as a wrong join code; @p c reads nothing else meanwhile. */
void tafel_auth_token_miss(struct tafel_server *srv, struct conn *c, const json_t *req);

/** @brief Free the per-address failed-join accounting of @p srv. */
void tafel_auth_free(struct tafel_server *srv);

#endif
