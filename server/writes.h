/*
 * writes.h - every change goes through here (writes.c): a request becomes a
 * writer operation (`struct wop`), the writer thread (writer.c) commits it
 * with the stored document in hand and serialises the answers, and the loop
 * sends them and hands the events to the hub.
 *
 * Jobs are writer operations that are not document writes (key.create,
 * key.revoke, a joining device): they run in the writer thread between the
 * runs of document writes, in the order they were submitted.
 */
#ifndef TAFEL_SERVER_WRITES_H
#define TAFEL_SERVER_WRITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "conn.h"
#include "server.h"
#include "writer.h"

struct wop;

/** Runs in the writer thread instead of a document write: may use the
 *  store, fills the wop's job_result or job_err. */
typedef void (*wop_job_fn)(tafel_store *st, struct wop *op);
/** Runs in the loop when a job is done, instead of the plain reply: answers
 *  the connection itself. */
typedef void (*wop_done_fn)(struct tafel_server *srv, struct wop *op);

/** One queued write: a document operation or a job. Owned by one thread at
 *  a time (see writer.h). */
struct wop {
    struct tafel_witem link; /* the writer's queue; first member */
    struct conn *conn;       /* reply goes here; a reference is held */
    json_t *req;             /* the request's req, echoed (a reference) */
    json_t *root;            /* the parsed request, which `w` points into (a reference) */
    enum tafel_msg msg;
    enum tafel_kind kind;

    /* document operations */
    struct tafel_write w; /* inputs point into the fields below or into root */
    json_t *input;        /* an interaction's empty patch, which the hook fills (owned) */
    json_t *audit_detail; /* a moderation's action and reason, for its audit entry (owned) */
    json_t *prev;         /* the document before the change (set by the hook) */
    char id[TAFEL_ID_MAX + 1];
    char opgave[TAFEL_ID_MAX + 1];
    int64_t value;                        /* vote, feel */
    enum tafel_moderation moderation;     /* moderate */
    bool audit_logged;                    /* an administrative change: logged too */
    bool premoderated;                    /* a contribution to a pre-moderated session */
    char quota_session[TAFEL_ID_MAX + 1]; /* a write counted against this session */
    uint64_t quota_bytes;                 /* ... with this many bytes reserved */
    bool quota_contribution;              /* ... and as one of its contributions */

    /* jobs */
    wop_job_fn job;
    wop_done_fn done;
    json_t *job_args;   /* owned */
    json_t *job_result; /* owned; fields of the ok reply */
    struct tafel_errinfo job_err;
    void *job_ctx; /* a server job's own state (tafel_submit_server_job), not owned */

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

/** @brief Start the writer thread for @p srv; @p wake (writer thread) wakes
 *  the loop, which then calls tafel_writes_done(). false on failure. */
bool tafel_writes_start(struct tafel_server *srv, void (*wake)(void *ctx), void *wake_ctx);
/** @brief Loop: answer every write the writer finished and fan its events
 *  out. */
void tafel_writes_done(struct tafel_server *srv);
/** @brief True when no write is queued, committing or unanswered. */
bool tafel_writes_idle(struct tafel_server *srv);
/** @brief Commit what is queued, stop the thread, free everything (the
 *  finished writes never answered drop their connection references). */
void tafel_writes_stop(struct tafel_server *srv);

/* The handlers of the write requests: put patch delete moderate vote feel
 * session.open session.close, and key.create, key.revoke. */
void handle_write(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_key_create(struct tafel_server *srv, struct conn *c, struct tafel_request *r);
void handle_key_revoke(struct tafel_server *srv, struct conn *c, struct tafel_request *r);

/** @brief Run @p job in the writer thread for @p c's request @p r, with
 *  @p args (taken over; NULL means out of memory: replies so). When it is
 *  done the loop calls @p done, or, if NULL, sends the plain reply. */
void tafel_submit_job(struct tafel_server *srv, struct conn *c, const struct tafel_request *r,
                      wop_job_fn job, wop_done_fn done, json_t *args);

/** @brief tafel_submit_job() with @p ctx in the wop's job_ctx, for a job
 *  whose results are more than reply fields (privacy.c: an erasure's
 *  events); @p done frees it. false (the error answered, nothing queued)
 *  on OOM: then the caller still owns @p ctx. */
bool tafel_submit_job_ctx(struct tafel_server *srv, struct conn *c, const struct tafel_request *r,
                          wop_job_fn job, wop_done_fn done, json_t *args, void *ctx);

/** @brief Run @p job in the writer thread for the server itself (no
 *  connection, no request: e.g. the retention rules), with @p ctx in the
 *  wop's job_ctx; @p done (not NULL) runs in the loop when it is done, and
 *  also answers nobody. false on OOM (nothing queued). */
bool tafel_submit_server_job(struct tafel_server *srv, wop_job_fn job, wop_done_fn done, void *ctx);

#endif
