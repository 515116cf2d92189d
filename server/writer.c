/*
 * writer.c - the writer thread and its two queues; see writer.h for why.
 *
 * Group commit falls out of the queue: while one transaction syncs, new
 * writes pile up, and the next transaction takes them all. Under load the
 * batches grow by themselves; idle, a single write is committed at once.
 */
#include "writer.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tafel_time.h"

struct tafel_writer {
    tafel_store *store;
    struct lws_context *ctx;
    wop_finish_fn finish;
    size_t headroom, max_batch;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct wop *todo_head, *todo_tail; /* submitted, not yet taken */
    struct wop *done_head, *done_tail; /* committed, not yet taken by the loop */
    struct wop *spent;                 /* handed back by the loop, to be freed here */
    unsigned busy;                     /* ops in the transaction under way */
    bool stop;

    struct tafel_write *ops; /* scratch array of max_batch, writer thread only */
};

static void append(struct wop **head, struct wop **tail, struct wop *list)
{
    if (!list)
        return;
    if (*tail)
        (*tail)->next = list;
    else
        *head = list;
    while (list->next)
        list = list->next;
    *tail = list;
}

/* Detach at most max ops from the todo list. Caller holds the mutex. */
static struct wop *take_batch(struct tafel_writer *wr, size_t *n)
{
    struct wop *head = wr->todo_head, *last = NULL, *p = head;
    *n = 0;
    while (p && *n < wr->max_batch) {
        last = p;
        p = p->next;
        (*n)++;
    }
    if (last)
        last->next = NULL;
    wr->todo_head = p;
    if (!p)
        wr->todo_tail = NULL;
    return head;
}

/* Commit the document ops from @p run up to (not including) @p end in one
 * transaction with one sync, and serialise their results. */
static void commit_run(struct tafel_writer *wr, struct wop *run, struct wop *end, size_t n)
{
    size_t i = 0;
    for (struct wop *op = run; op != end; op = op->next)
        wr->ops[i++] = op->w;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    enum tafel_err err = tafel_store_write(wr->store, wr->ops, n, tafel_time_now_ms());
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t us = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000);
    if (err != TAFEL_E_OK)
        log_error("commit of %zu ops failed: %s", n, tafel_strerror(err));
    i = 0;
    for (struct wop *op = run; op != end; op = op->next) {
        op->w = wr->ops[i++];
        op->batch_err = err;
        op->batch_first = op == run;
        op->batch_size = (unsigned)n;
        op->commit_us = us;
        wr->finish(op, wr->headroom);
    }
}

/* A batch in submission order: runs of document ops each commit together;
 * a job (key administration, a device) runs between them, in its place, so
 * that a write queued after a key.revoke is checked against the revoked key
 * inside its own transaction and never commits. */
static void commit_batch(struct tafel_writer *wr, struct wop *batch)
{
    struct wop *op = batch;
    while (op) {
        struct wop *run = op;
        size_t n = 0;
        while (op && !op->job) {
            op = op->next;
            n++;
        }
        if (n)
            commit_run(wr, run, op, n);
        if (op) {
            op->job(wr->store, op); /* commits on its own; jobs are rare */
            op->batch_first = false;
            wr->finish(op, wr->headroom);
            op = op->next;
        }
    }
}

/* Free wops the loop has handed back (their conn references are gone). */
static void free_spent(struct wop *list)
{
    while (list) {
        struct wop *next = list->next;
        wop_free(list, NULL);
        list = next;
    }
}

static void *writer_main(void *arg)
{
    struct tafel_writer *wr = arg;
    pthread_mutex_lock(&wr->mu);
    for (;;) {
        while (!wr->todo_head && !wr->spent && !wr->stop)
            pthread_cond_wait(&wr->cv, &wr->mu);
        if (!wr->todo_head && wr->stop)
            break; /* tafel_writer_stop() frees what is spent */
        struct wop *spent = wr->spent;
        wr->spent = NULL;
        size_t n = 0;
        struct wop *batch = wr->todo_head ? take_batch(wr, &n) : NULL;
        wr->busy = (unsigned)n;
        pthread_mutex_unlock(&wr->mu);

        if (batch) {
            commit_batch(wr, batch);
            pthread_mutex_lock(&wr->mu);
            append(&wr->done_head, &wr->done_tail, batch);
            wr->busy = 0;
            pthread_mutex_unlock(&wr->mu);
            lws_cancel_service(wr->ctx);
        }
        /* After the acks are on their way, not before the commit. */
        free_spent(spent);
        pthread_mutex_lock(&wr->mu);
    }
    pthread_mutex_unlock(&wr->mu);
    return NULL;
}

struct tafel_writer *tafel_writer_start(tafel_store *st, struct lws_context *ctx,
                                        wop_finish_fn finish, size_t headroom, size_t max_batch)
{
    struct tafel_writer *wr = calloc(1, sizeof(*wr));
    if (!wr)
        return NULL;
    wr->ops = calloc(max_batch, sizeof(*wr->ops));
    if (!wr->ops)
        goto fail;
    wr->store = st;
    wr->ctx = ctx;
    wr->finish = finish;
    wr->headroom = headroom;
    wr->max_batch = max_batch;
    pthread_mutex_init(&wr->mu, NULL);
    pthread_cond_init(&wr->cv, NULL);
    if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
        pthread_mutex_destroy(&wr->mu);
        pthread_cond_destroy(&wr->cv);
        goto fail;
    }
    /* Named so that top -H, perf and tafel-bench can tell its CPU apart. */
    pthread_setname_np(wr->thread, "tafel-writer");
    return wr;
fail:
    free(wr->ops);
    free(wr);
    return NULL;
}

void tafel_writer_submit(struct tafel_writer *wr, struct wop *op)
{
    op->next = NULL;
    pthread_mutex_lock(&wr->mu);
    append(&wr->todo_head, &wr->todo_tail, op);
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
}

struct wop *tafel_writer_take_done(struct tafel_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    struct wop *list = wr->done_head;
    wr->done_head = wr->done_tail = NULL;
    pthread_mutex_unlock(&wr->mu);
    return list;
}

void tafel_writer_recycle(struct tafel_writer *wr, struct wop *list, void (*unref)(struct conn *))
{
    if (!list)
        return;
    struct wop *last = list;
    for (struct wop *op = list; op; op = op->next) {
        /* What only the loop may release, or what it allocated itself. */
        if (op->conn && unref)
            unref(op->conn);
        op->conn = NULL;
        json_decref(op->req);
        json_decref(op->input);
        json_decref(op->job_args);
        op->req = op->input = op->job_args = NULL;
        op->w.doc = NULL; /* pointed into input */
        last = op;
    }
    pthread_mutex_lock(&wr->mu);
    last->next = wr->spent;
    wr->spent = list;
    pthread_cond_signal(&wr->cv); /* an idle writer frees them now */
    pthread_mutex_unlock(&wr->mu);
}

bool tafel_writer_idle(struct tafel_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    bool idle = !wr->todo_head && !wr->done_head && wr->busy == 0;
    pthread_mutex_unlock(&wr->mu);
    return idle;
}

void tafel_writer_stop(struct tafel_writer *wr, void (*unref)(struct conn *))
{
    if (!wr)
        return;
    pthread_mutex_lock(&wr->mu);
    wr->stop = true;
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
    pthread_join(wr->thread, NULL);
    free_spent(wr->spent);
    for (struct wop *op = wr->done_head, *next; op; op = next) {
        next = op->next;
        wop_free(op, unref);
    }
    pthread_mutex_destroy(&wr->mu);
    pthread_cond_destroy(&wr->cv);
    free(wr->ops);
    free(wr);
}

void wop_free(struct wop *op, void (*unref)(struct conn *))
{
    if (!op)
        return;
    if (op->conn && unref)
        unref(op->conn);
    json_decref(op->req);
    json_decref(op->input);
    json_decref(op->prev);
    json_decref(op->w.stored);
    json_decref(op->job_args);
    json_decref(op->job_result);
    free(op->reply);
    free(op->event_full);
    free(op->event_redacted);
    free(op);
}
