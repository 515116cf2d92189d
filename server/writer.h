/*
 * writer.h - the writer thread: a generic group-commit queue.
 *
 * An LMDB commit with sync costs ~0.3-1.3 ms and blocks its caller, so the
 * service loop never commits. It hands each write (an item, opaque here) to
 * this thread and goes on serving. The writer takes everything queued since
 * its last batch and hands it to `apply`, which commits it (in one
 * transaction with one sync where it can) and prepares the results; then it
 * puts the batch on the done list and calls `wake`, the only call into the
 * loop's world made from this thread. The loop takes the done list, answers
 * (so an answer always follows the sync) and hands the items back with
 * tafel_writer_recycle(); the writer frees them with `release`.
 *
 * Group commit falls out of the queue: while one batch syncs, new items pile
 * up, and the next batch takes them all. Under load the batches grow by
 * themselves; idle, a single item is committed at once.
 *
 * An item belongs to exactly one thread at a time: the loop until submit,
 * the writer until it is on the done list, the loop after take_done, the
 * writer again after recycle.
 */
#ifndef TAFEL_SERVER_WRITER_H
#define TAFEL_SERVER_WRITER_H

#include <stdbool.h>
#include <stddef.h>

/** The link of a queued item: embed it in the item (writes.c's struct
 *  wop); the writer sees nothing else of it. */
struct tafel_witem {
    struct tafel_witem *next;
};

struct tafel_writer_cbs {
    void *ctx; /* passed to every callback */
    /** Writer thread: commit the @p n items of @p batch (a list via
     *  `next`, in submission order) and fill in their results. */
    void (*apply)(void *ctx, struct tafel_witem *batch, size_t n);
    /** Writer thread, or tafel_writer_stop()'s caller: free an item the
     *  loop handed back. */
    void (*release)(void *ctx, struct tafel_witem *item);
    /** Writer thread: a batch is on the done list; wake the loop. */
    void (*wake)(void *ctx);
    size_t max_batch; /* items per batch at most */
};

struct tafel_writer;

/** @brief Start the writer thread (named "tafel-writer"); NULL on failure.
 *  @p cbs is copied. */
struct tafel_writer *tafel_writer_start(const struct tafel_writer_cbs *cbs);

/** @brief Queue @p item (taken over). Loop thread. */
void tafel_writer_submit(struct tafel_writer *wr, struct tafel_witem *item);

/** @brief Take every finished item, in commit order (a list via `next`), or
 *  NULL. Loop thread. */
struct tafel_witem *tafel_writer_take_done(struct tafel_writer *wr);

/**
 * @brief Hand items the loop is done with back to the writer thread, which
 * releases them before its next batch (loop thread; the loop has released
 * what only it may first). Most of an item's memory was allocated by the
 * writer thread: freeing it there keeps the two threads out of each other's
 * malloc arena, whose lock they otherwise contend for on every write. A NULL
 * list is fine.
 */
void tafel_writer_recycle(struct tafel_writer *wr, struct tafel_witem *list);

/** @brief True when nothing is queued, committing or waiting to be taken. */
bool tafel_writer_idle(struct tafel_writer *wr);

/** @brief Finish what is queued, stop and join the thread, release what was
 *  handed back, and free the writer. Returns the finished items the loop
 *  never took (a list; the caller releases them). NULL @p wr is fine. */
struct tafel_witem *tafel_writer_stop(struct tafel_writer *wr);

#endif
