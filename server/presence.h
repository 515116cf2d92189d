/*
 * presence.h - who sits at a session's table, told only to those at it
 * (presence.c). Loop thread only.
 */
#ifndef TAFEL_SERVER_PRESENCE_H
#define TAFEL_SERVER_PRESENCE_H

#include <stdbool.h>

#include "server.h"

/** @brief Who sits at @p session's table changed; the news goes out,
 *  coalesced, with the next tafel_presence_flush(). */
void tafel_presence_changed(struct tafel_server *srv, const char *opgave, const char *session);
/** @brief Send what changed at each table since the last flush (at most
 *  every 500 ms per table unless @p force): the full list to whoever sits
 *  there newly, deltas to the others. */
void tafel_presence_flush(struct tafel_server *srv, bool force);
void tafel_presence_free(struct tafel_server *srv);

#endif
