/*
 * writer.c - the writer thread and its queues; see writer.h for why.
 */
#include "writer.h"

#include <pthread.h>
#include <stdlib.h>

struct tafel_writer {
    struct tafel_writer_cbs cbs;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tafel_witem *todo_head, *todo_tail; /* submitted, not yet taken */
    struct tafel_witem *done_head, *done_tail; /* committed, not yet taken by the loop */
    struct tafel_witem *spent;                 /* handed back by the loop, to be released here */
    size_t busy;                               /* items in the batch under way */
    bool stop;
};

static void append(struct tafel_witem **head, struct tafel_witem **tail, struct tafel_witem *list)
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

/* Detach at most max_batch items from the todo list. Caller holds the mutex. */
static struct tafel_witem *take_batch(struct tafel_writer *wr, size_t *n)
{
    struct tafel_witem *head = wr->todo_head, *last = NULL, *p = head;
    *n = 0;
    while (p && *n < wr->cbs.max_batch) {
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

static void release_all(struct tafel_writer *wr, struct tafel_witem *list)
{
    while (list) {
        struct tafel_witem *next = list->next;
        wr->cbs.release(wr->cbs.ctx, list);
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
            break; /* tafel_writer_stop() releases what is spent */
        struct tafel_witem *spent = wr->spent;
        wr->spent = NULL;
        size_t n = 0;
        struct tafel_witem *batch = wr->todo_head ? take_batch(wr, &n) : NULL;
        wr->busy = n;
        pthread_mutex_unlock(&wr->mu);

        if (batch) {
            wr->cbs.apply(wr->cbs.ctx, batch, n);
            pthread_mutex_lock(&wr->mu);
            append(&wr->done_head, &wr->done_tail, batch);
            wr->busy = 0;
            pthread_mutex_unlock(&wr->mu);
            wr->cbs.wake(wr->cbs.ctx);
        }
        /* After the answers are on their way, not before the commit. */
        release_all(wr, spent);
        pthread_mutex_lock(&wr->mu);
    }
    pthread_mutex_unlock(&wr->mu);
    return NULL;
}

struct tafel_writer *tafel_writer_start(const struct tafel_writer_cbs *cbs)
{
    struct tafel_writer *wr = calloc(1, sizeof(*wr));
    if (!wr)
        return NULL;
    wr->cbs = *cbs;
    pthread_mutex_init(&wr->mu, NULL);
    pthread_cond_init(&wr->cv, NULL);
    if (pthread_create(&wr->thread, NULL, writer_main, wr) != 0) {
        pthread_mutex_destroy(&wr->mu);
        pthread_cond_destroy(&wr->cv);
        free(wr);
        return NULL;
    }
    /* Named so that top -H, perf and tafel-bench can tell its CPU apart. */
    pthread_setname_np(wr->thread, "tafel-writer");
    return wr;
}

void tafel_writer_submit(struct tafel_writer *wr, struct tafel_witem *item)
{
    item->next = NULL;
    pthread_mutex_lock(&wr->mu);
    append(&wr->todo_head, &wr->todo_tail, item);
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
}

struct tafel_witem *tafel_writer_take_done(struct tafel_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    struct tafel_witem *list = wr->done_head;
    wr->done_head = wr->done_tail = NULL;
    pthread_mutex_unlock(&wr->mu);
    return list;
}

void tafel_writer_recycle(struct tafel_writer *wr, struct tafel_witem *list)
{
    if (!list)
        return;
    struct tafel_witem *last = list;
    while (last->next)
        last = last->next;
    pthread_mutex_lock(&wr->mu);
    last->next = wr->spent;
    wr->spent = list;
    pthread_cond_signal(&wr->cv); /* an idle writer releases them now */
    pthread_mutex_unlock(&wr->mu);
}

bool tafel_writer_idle(struct tafel_writer *wr)
{
    pthread_mutex_lock(&wr->mu);
    bool idle = !wr->todo_head && !wr->done_head && wr->busy == 0;
    pthread_mutex_unlock(&wr->mu);
    return idle;
}

struct tafel_witem *tafel_writer_stop(struct tafel_writer *wr)
{
    if (!wr)
        return NULL;
    pthread_mutex_lock(&wr->mu);
    wr->stop = true;
    pthread_cond_signal(&wr->cv);
    pthread_mutex_unlock(&wr->mu);
    pthread_join(wr->thread, NULL);
    release_all(wr, wr->spent);
    struct tafel_witem *left = wr->done_head;
    pthread_mutex_destroy(&wr->mu);
    pthread_cond_destroy(&wr->cv);
    free(wr);
    return left;
}
