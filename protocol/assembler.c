/*
 * assembler.c - see tafel_assembler.h.
 */
#include "tafel_assembler.h"

#include <stdlib.h>
#include <string.h>

/* Buffers up to this size are kept between messages. */
#define KEEP_BYTES 4096

enum tafel_err tafel_assembler_add(struct tafel_assembler *a, const void *data, size_t n,
                                   size_t max)
{
    if (a->len + n > max) {
        a->len = 0;
        return TAFEL_E_TOO_LARGE;
    }
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        while (cap < a->len + n + 1)
            cap *= 2;
        char *p = realloc(a->buf, cap);
        if (!p)
            return TAFEL_E_NOMEM;
        a->buf = p;
        a->cap = cap;
    }
    memcpy(a->buf + a->len, data, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return TAFEL_E_OK;
}

void tafel_assembler_reset(struct tafel_assembler *a)
{
    a->len = 0;
    if (a->cap > KEEP_BYTES)
        tafel_assembler_free(a);
}

void tafel_assembler_free(struct tafel_assembler *a)
{
    free(a->buf);
    a->buf = NULL;
    a->len = a->cap = 0;
}
