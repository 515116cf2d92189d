/*
 * rate.h - token buckets, the one rate-limit mechanism of tafeld: the write
 * rates per key, per session and per address and the large-read bucket of
 * each connection (all in quota.c).
 *
 * A bucket holds up to `burst` tokens and gains `rate` a second; a request
 * takes one. The caller owns the bucket and passes rate and burst each time
 * (they are settings, not state). Loop thread only; no allocation.
 */
#ifndef TAFEL_SERVER_RATE_H
#define TAFEL_SERVER_RATE_H

#include <stdint.h>

struct tafel_bucket {
    double tokens;
    int64_t ms; /* monotonic time of the last fill; 0: never used (it starts full) */
};

/** @brief Refill @p b up to @p now (monotonic ms) and return what it holds. */
double tafel_bucket_fill(struct tafel_bucket *b, double rate, double burst, int64_t now);

#endif
