/*
 * fuzz_request.c - libFuzzer target for the two parsers a peer can reach.
 *
 * The same bytes go to tafel_request_parse() (what a server reads from any
 * client, before authentication) and tafel_server_msg_parse() (what a client
 * reads from a server). Both must return, never crash, and leave nothing
 * behind once freed; when a request parses, replying to it must work too,
 * since the server echoes `req` into every reply.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "tafel_protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct tafel_request r;
    struct tafel_errinfo info;
    size_t len;
    enum tafel_err e = tafel_request_parse(buf, size, NULL, &r, &info);
    char *reply = e == TAFEL_E_OK ? tafel_msg_ok(r.req, r.doc, 16, &len)
                                  : tafel_msg_error(r.req, &info, NULL, 16, &len);
    if (!reply)
        abort(); /* only out of memory may fail, and the fuzzer has plenty */
    free(reply);
    tafel_request_free(&r);

    struct tafel_server_msg m;
    tafel_server_msg_parse(buf, size, &m, &info);
    tafel_server_msg_free(&m);
    return 0;
}
