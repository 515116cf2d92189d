/*
 * main.c - the `tafel` command-line client. Issue #4 fills it in; until then
 * it answers --version so the build can be exercised.
 */
#include <stdio.h>
#include <string.h>

#include "tafel_protocol.h"

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        printf("tafel %s (protocol %s)\n", TAFEL_VERSION, TAFEL_SUBPROTOCOL);
        return 0;
    }
    fprintf(stderr, "usage: tafel [--version]\n");
    return 2;
}
