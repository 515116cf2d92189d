/*
 * ws.h - tafeld over libwebsockets (ws.c).
 */
#ifndef TAFEL_SERVER_WS_H
#define TAFEL_SERVER_WS_H

#include "server.h"

/** @brief Listen on srv->cfg's address and serve until SIGTERM or SIGINT
 *  has been handled (srv->cfg and srv->store set). Returns a process exit
 *  code. */
int tafel_server_run(struct tafel_server *srv);

#endif
