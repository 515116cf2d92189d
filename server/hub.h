/*
 * hub.h - fan-out: committed changes to every subscriber allowed to see them.
 *
 * Each committed change is serialised once (in the writer thread) and kept in
 * a fixed ring of recent events. Every subscribed connection has one cursor,
 * the last seq it has been sent or has skipped; when it becomes writeable it
 * sends the next event it may read. A connection that falls behind the ring
 * continues from the change log in LMDB, a chunk at a time; only one more
 * than --max-lag changes behind is closed (4408). So memory is bounded by the
 * ring, never by the slowest reader.
 *
 * Loop thread only.
 */
#ifndef TAFEL_SERVER_HUB_H
#define TAFEL_SERVER_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "server.h"

/* Change-record flags (tafel_write.flags), set by the writer's hook. */
#define TAFEL_CF_HIDDEN     0x1u /* the document after the change is a hidden reflectie */
#define TAFEL_CF_WAS_HIDDEN 0x2u /* ... and before the change it was hidden too */
#define TAFEL_CF_SECRET     0x4u /* the document holds a secret field (a join code) */
#define TAFEL_CF_REDACTS    0x8u /* a delete or a hide: earlier content is stripped */

struct hub *hub_new(tafel_store *st, size_t capacity);
void hub_free(struct hub *h);

/** @brief Count one more subscription to @p opgave ("*" for all); false on OOM. */
bool hub_follow(struct hub *h, const char *opgave);

/** @brief Count one subscription less; at none, the opgave's serialised
 *  events are freed: nothing of an unfollowed opgave stays in memory. */
void hub_unfollow(struct hub *h, const char *opgave);

/** @brief Forget the serialised events the ring holds (their seqs stay): a
 *  reader still behind them gets them from the change log, as it now is.
 *  For when the log's content changed behind the ring (retention stripped
 *  old versions). */
void hub_drop_content(struct hub *h);

/** @brief The seq of the newest change the hub knows of. */
uint64_t hub_seq(const struct hub *h);

/**
 * @brief Add a committed change (loop thread, in seq order). Takes over
 * @p full and @p redacted (either may be NULL: then readers get it from the
 * change log). Wakes the subscribers of @p opgave.
 */
void hub_append(struct tafel_server *srv, uint64_t seq, const char *opgave, enum tafel_kind kind,
                const char *id, uint32_t flags, char *full, size_t full_len, char *redacted,
                size_t redacted_len);

/** What a subscriber gets of one change: nothing, the event as stored, or
 *  its redacted form (a hidden reflectie: a delete stub; a session with a
 *  join code: the session without it). */
enum hub_view { HUB_SKIP, HUB_FULL, HUB_REDACTED };

/** @brief The `put` event of @p doc (a document of @p kind) without its
 *  TAFEL_FF_SECRET fields, as those who may not read them get it; @p headroom
 *  bytes free before it (as tafel_msg_event()). NULL on OOM. Any thread. */
char *hub_event_without_secrets(uint64_t seq, enum tafel_kind kind, const json_t *doc,
                                size_t headroom, size_t *len);

/** @brief What @p c gets of a change to document @p id, given the
 *  subscriptions @p subs. */
enum hub_view hub_view_for(const struct conn *c, const struct sub *subs, size_t nsubs, uint64_t seq,
                           const char *opgave, enum tafel_kind kind, const char *id,
                           uint32_t flags);

/**
 * @brief Send @p c its next live events if any are due: from the ring in one
 * write (conn_write_msgs), or, behind the ring, by queueing a chunk read from the change
 * log. Returns 1 if something was written or queued (call again on the next
 * WRITEABLE), 0 if @p c is current, -1 if the write failed.
 */
int hub_deliver(struct tafel_server *srv, struct conn *c);

/**
 * @brief Queue the changes in (from, to] that subscription @p s lets @p c
 * see, at most @p max_frames frames; returns the seq up to which the log was
 * read (== @p to when done), or 0 on error (then *err is set).
 */
uint64_t hub_queue_from_log(struct tafel_server *srv, struct conn *c, const struct sub *s,
                            size_t nsubs, uint64_t from, uint64_t to, size_t max_frames,
                            enum tafel_err *err);

#endif
