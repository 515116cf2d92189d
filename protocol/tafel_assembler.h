/*
 * tafel_assembler.h - reassembling WebSocket fragments into one message.
 *
 * One receive callback is not one message: a message may arrive in several
 * fragments, and the transport's buffer size says nothing about the message
 * limit. Server and clients append each fragment here and take the message
 * when the last fragment came. Pure memory, no I/O.
 */
#ifndef TAFEL_ASSEMBLER_H
#define TAFEL_ASSEMBLER_H

#include <stddef.h>

#include "tafel_err.h"

struct tafel_assembler {
    char *buf; /* owned; NUL-terminated after each append */
    size_t len, cap;
};

/**
 * @brief Append @p n bytes of a fragment.
 * @return TAFEL_E_OK; TAFEL_E_TOO_LARGE when the message would exceed
 *         @p max bytes (the assembler is then emptied); TAFEL_E_NOMEM.
 */
enum tafel_err tafel_assembler_add(struct tafel_assembler *a, const void *data, size_t n,
                                   size_t max);

/** @brief Forget the message (after it was handled). Keeps a small buffer
 *  for the next one and frees a large one: most connections send small
 *  messages rarely. */
void tafel_assembler_reset(struct tafel_assembler *a);

/** @brief Free everything; the assembler may be reused afterwards. */
void tafel_assembler_free(struct tafel_assembler *a);

#endif
