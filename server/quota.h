/*
 * quota.h - how much a client may do: the write rates per key, per joined
 * session and per peer address, the large-read bucket of a connection, and
 * what a session may hold (its contributions and the bytes its participants
 * store). The request table (dispatch.c) applies the rates before a handler
 * runs; the write handlers reserve and settle the session quotas.
 *
 * Loop thread only.
 */
#ifndef TAFEL_SERVER_QUOTA_H
#define TAFEL_SERVER_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "conn.h"
#include "server.h"

/** @brief Set up the rate buckets and quotas of @p srv; false on OOM. */
bool tafel_quota_init(struct tafel_server *srv);
/** @brief Free them (NULL members are fine). */
void tafel_quota_free(struct tafel_server *srv);
/** @brief Forget buckets that are full again (the sweep). */
void tafel_quota_sweep(struct tafel_server *srv);

/** @brief NULL when @p c may write now (a token taken from its key's, its
 *  session's and its address's buckets), else the sentence to refuse with. */
const char *tafel_write_refusal(struct tafel_server *srv, struct conn *c);

/** @brief May @p c start another large read (sub, list) now? Takes a token. */
bool tafel_read_rate_ok(struct conn *c);

/**
 * @brief Reserve room in @p session (of @p opgave) for a write of about
 * @p bytes, counted as one more contribution when @p contribution.
 * TAFEL_E_OK, TAFEL_E_NOMEM, or TAFEL_E_TOO_LARGE (field "session") with
 * @p info when the session is full. Every reservation is settled once.
 */
enum tafel_err tafel_quota_reserve(struct tafel_server *srv, const char *session,
                                   const char *opgave, uint64_t bytes, bool contribution,
                                   struct tafel_errinfo *info);

/** @brief A reservation is done: release it and, if @p stored, count
 *  @p stored_bytes (and the contribution) as held by @p session. */
void tafel_quota_settle(struct tafel_server *srv, const char *session, uint64_t bytes,
                        bool contribution, bool stored, uint64_t stored_bytes);

/** @brief A contribution @p doc was deleted: its session has room again. */
void tafel_quota_credit(struct tafel_server *srv, const json_t *doc);

/** @brief Charge @p bytes of what a new participant costs (its device
 *  record) to @p session, after the session's and the address's write rates:
 *  TAFEL_E_OK, TAFEL_E_RATE_LIMITED or TAFEL_E_TOO_LARGE (with @p info). */
enum tafel_err tafel_session_charge(struct tafel_server *srv, struct conn *c, const char *session,
                                    const char *opgave, uint64_t bytes, struct tafel_errinfo *info);

#endif
