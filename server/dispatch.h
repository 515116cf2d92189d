/*
 * dispatch.h - from one complete WebSocket message to the handler that
 * answers it: parse, then the request table's checks, then the handler.
 */
#ifndef TAFEL_SERVER_DISPATCH_H
#define TAFEL_SERVER_DISPATCH_H

#include <stddef.h>

#include "conn.h"
#include "server.h"

/** Route flags: what the table checks once, before any handler runs. */
#define TAFEL_RF_SIGN_IN  0x1u /* hello, join: the only messages before sign-in, and only then */
#define TAFEL_RF_WRITE    0x2u /* changes state: the write rates; never a waarnemer's */
#define TAFEL_RF_READ     0x4u /* builds a large reply: the connection's read bucket */
#define TAFEL_RF_DRAINING 0x8u /* still answered while the server shuts down */

/** @brief The roles (a mask of 1 << enum tafel_role) that may send @p type
 *  once signed in, and its route flags. For tests and docs. */
unsigned tafel_route_roles(enum tafel_msg type);
unsigned tafel_route_flags(enum tafel_msg type);

/**
 * @brief Handle the message @p buf of @p len bytes from @p c: parse it,
 * check it against the request table (sign-in, role, draining, rates) and
 * run its handler, or answer with the error. Closes @p c when the protocol
 * says so (invalid UTF-8: 1007; anything before sign-in: 4401).
 */
void tafel_dispatch(struct tafel_server *srv, struct conn *c, const char *buf, size_t len);

#endif
