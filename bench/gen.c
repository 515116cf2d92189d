/*
 * gen.c - build a data directory of D documents for the cold-start scenario.
 *
 * A million documents through the server would take minutes of group commits
 * and measure the writes, not the start. The load generator is our own tool,
 * so it may use storage/ directly: one opgave and D - 1 reflecties written by
 * tafel_store_write() in large transactions (one sync each). The result is
 * what the server itself would have stored (common fields, change log, the
 * by-opgave index), minus the schema check the server's hook adds, which
 * these fixed, valid documents do not need.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tafel_store.h"
#include "tafel_time.h"

/* Write one batch (unless a document could not be built: out of memory);
 * the documents and the stored copies it returns are ours to release. */
static int write_batch(tafel_store *st, struct tafel_write *ops, size_t n, char *err, size_t errlen)
{
    bool built = true;
    for (size_t i = 0; i < n; i++)
        built &= ops[i].doc != NULL;
    enum tafel_err rc = built ? tafel_store_write(st, ops, n, tafel_time_now_ms()) : TAFEL_E_NOMEM;
    int ret = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == TAFEL_E_OK && ops[i].result != TAFEL_E_OK && ret == 0) {
            snprintf(err, errlen, "storage refused a generated document: %s",
                     tafel_strerror(ops[i].result));
            ret = -1;
        }
        json_decref(ops[i].stored);
        ops[i].stored = NULL;
        json_decref((json_t *)ops[i].doc);
        ops[i].doc = NULL;
    }
    if (rc != TAFEL_E_OK) {
        snprintf(err, errlen, "storage write failed: %s", tafel_strerror(rc));
        ret = -1;
    }
    return ret;
}

int bench_generate(const char *dir, uint64_t docs, size_t batch, char *err, size_t errlen)
{
    tafel_store *st = NULL;
    struct tafel_errinfo info = {0};
    struct tafel_write *ops = calloc(batch ? batch : 1, sizeof(*ops));
    int ret = -1;
    if (!ops || docs == 0 || batch == 0) {
        snprintf(err, errlen, "generator: nothing to do or out of memory");
        goto cleanup;
    }
    if (tafel_store_open(dir, NULL, false, &st, &info) != TAFEL_E_OK) {
        snprintf(err, errlen, "generator: %s", info.message[0] ? info.message : "cannot open");
        goto cleanup;
    }
    ops[0] = (struct tafel_write){.op = TAFEL_OP_PUT, .kind = "opgave", .actor = "bench"};
    ops[0].doc = json_pack("{s:s}", "title", "tafel-bench cold start");
    if (write_batch(st, ops, 1, err, errlen) < 0)
        goto cleanup;
    char opgave[TAFEL_ID_MAX + 1];
    snprintf(opgave, sizeof(opgave), "%s", ops[0].new_id);
    for (uint64_t done = 1; done < docs;) {
        size_t n = docs - done < batch ? (size_t)(docs - done) : batch;
        for (size_t i = 0; i < n; i++) {
            char text[64];
            snprintf(text, sizeof(text), "generated reflectie %llu",
                     (unsigned long long)(done + i));
            ops[i] = (struct tafel_write){
                .op = TAFEL_OP_PUT, .kind = "reflectie", .opgave = opgave, .actor = "bench"};
            ops[i].doc = json_pack("{s:s,s:s}", "sort", "idee", "text", text);
        }
        if (write_batch(st, ops, n, err, errlen) < 0)
            goto cleanup;
        done += n;
    }
    ret = 0;
cleanup:
    tafel_store_close(st);
    free(ops);
    return ret;
}
