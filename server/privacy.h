/*
 * privacy.h - an inhabitant's right of access and erasure (privacy.c):
 * `device.export` and `device.erase`, for everything one device token
 * contributed. Loop thread only; the work runs as writer jobs.
 */
#ifndef TAFEL_SERVER_PRIVACY_H
#define TAFEL_SERVER_PRIVACY_H

#include "conn.h"
#include "server.h"

/** `device.export {device}`: the participant's own data as one readable
 *  JSON document (`ok {export}`), audited ("device.export"). */
void handle_device_export(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/** `device.erase {device}`: its contributions deleted, its votes and
 *  feelings taken off, its device record removed, in one transaction,
 *  audited ("device.erase"); its connections are closed (4403) after the
 *  ok. */
void handle_device_erase(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

#endif
