/*
 * writer.h - the writer thread: group commit of every write.
 *
 * An LMDB commit with sync costs ~0.3-1.3 ms and blocks its caller, so the
 * service loop never commits. It hands each write (a `struct wop`) to this
 * thread and goes on serving. The writer takes everything queued since its
 * last commit as one batch, applies it in ONE transaction with one sync
 * (tafel_store_write), serialises the replies and events off the loop, puts
 * the batch on the done list and wakes the loop with lws_cancel_service():
 * the only libwebsockets call made from this thread. The loop then sends the
 * acks (so an ack always follows the sync) and fans the events out.
 *
 * A wop belongs to exactly one thread at a time: the loop until submit, the
 * writer until it is on the done list, the loop again after take_done.
 */
#ifndef TAFEL_SERVER_WRITER_H
#define TAFEL_SERVER_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_protocol.h"
#include "tafel_store.h"

struct conn;
struct lws_context;
struct wop;

/** Runs in the writer thread instead of a document write (key.create,
 *  key.revoke): may use the store, fills the wop's results. */
typedef void (*wop_job_fn)(tafel_store *st, struct wop *op);

/** One queued write: a document operation or a job. */
struct wop {
    struct wop *next;
    struct conn *conn; /* reply goes here; a reference is held; NULL for none */
    json_t *req;       /* the request's req, echoed (owned) */
    enum tafel_msg msg;
    enum tafel_kind kind;

    /* document operations */
    struct tafel_write w; /* inputs point into the fields below */
    json_t *input;        /* owns what w.doc points to */
    json_t *prev;         /* the document before the change (set by the hook) */
    char kind_name[33];
    char id[TAFEL_ID_MAX + 1];
    char opgave[TAFEL_ID_MAX + 1];
    int64_t value;                        /* vote, feel */
    enum tafel_moderation moderation;     /* moderate */
    bool audit_logged;                    /* an administrative change: logged too */
    char quota_session[TAFEL_ID_MAX + 1]; /* a contribution counted against this session */
    uint64_t quota_bytes;                 /* ... with this many bytes reserved */
    bool quota_contribution;              /* ... and as one of its contributions */

    /* jobs */
    wop_job_fn job;
    json_t *job_args;   /* owned */
    json_t *job_result; /* owned; fields of the ok reply */
    struct tafel_errinfo job_err;

    /* results, serialised in the writer thread (all owned, NULL if none) */
    enum tafel_err batch_err; /* the whole batch failed (I/O, map full) */
    char *reply;              /* ok or error frame for conn */
    size_t reply_len;
    char *event_full; /* the event as moderators / permitted readers see it */
    size_t event_full_len;
    char *event_redacted; /* the same event for readers who may not see it
                             (a hidden reflectie: a delete stub); NULL if n/a */
    size_t event_redacted_len;
    bool batch_first;    /* the first op of its commit (for metrics) */
    unsigned batch_size; /* ops in the commit this op was part of */
    uint64_t commit_us;  /* that commit's duration */
};

/** Called in the writer thread after the commit, for every wop of the batch
 *  in order: serialise the reply and events into the wop. */
typedef void (*wop_finish_fn)(struct wop *op, size_t headroom);

struct tafel_writer;

/**
 * @brief Start the writer thread.
 * @param headroom  bytes to reserve before every serialised frame (LWS_PRE)
 * @param max_batch ops per transaction at most
 */
struct tafel_writer *tafel_writer_start(tafel_store *st, struct lws_context *ctx,
                                        wop_finish_fn finish, size_t headroom, size_t max_batch);

/** @brief Queue @p op (taken over). Loop thread. */
void tafel_writer_submit(struct tafel_writer *wr, struct wop *op);

/** @brief Take every finished wop, in commit order (a list via `next`), or
 *  NULL. Loop thread. */
struct wop *tafel_writer_take_done(struct tafel_writer *wr);

/**
 * @brief Hand wops the loop is done with back to the writer thread, which
 * frees them before its next batch (loop thread; drops each conn reference
 * and what the loop allocated first). Most of a wop's memory was allocated
 * by the writer thread: freeing it there keeps the two threads out of each
 * other's malloc arena, whose lock they otherwise contend for on every
 * write. A NULL list is fine.
 */
void tafel_writer_recycle(struct tafel_writer *wr, struct wop *list, void (*unref)(struct conn *));

/** @brief True when nothing is queued, committing or waiting to be taken. */
bool tafel_writer_idle(struct tafel_writer *wr);

/** @brief Finish what is queued, stop and join the thread, free it and
 *  every wop not yet taken (releasing their conn references with @p unref).
 *  NULL is fine. */
void tafel_writer_stop(struct tafel_writer *wr, void (*unref)(struct conn *));

/** @brief Release a wop and everything it owns (drops its conn reference
 *  through the callback given, since conn lifetime is the loop's). */
void wop_free(struct wop *op, void (*unref)(struct conn *));

#endif
