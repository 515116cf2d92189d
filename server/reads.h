/*
 * reads.h - the handlers of the requests that only read (reads.c). Called
 * by the request table (dispatch.c) once the route's checks passed.
 */
#ifndef TAFEL_SERVER_READS_H
#define TAFEL_SERVER_READS_H

#include "conn.h"
#include "server.h"

void handle_ping(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_get(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_key_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_audit_list(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

#endif
