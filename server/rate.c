/*
 * rate.c - token buckets; see rate.h.
 */
#include "rate.h"

double tafel_bucket_fill(struct tafel_bucket *b, double rate, double burst, int64_t now)
{
    if (b->ms == 0)
        b->tokens = burst;
    else
        b->tokens += (double)(now - b->ms) * rate / 1000.0;
    if (b->tokens > burst)
        b->tokens = burst;
    b->ms = now;
    return b->tokens;
}
