/*
 * retention.h - the retention rules tafeld applies by itself, on a timer
 * (retention.c; what they mean for a municipality: docs/privacy.md):
 *
 *   --anonymise-after      an inwoner's display name on its contributions
 *                          becomes "Inwoner" this long after its session closed
 *   --delete-hidden-after  a hidden contribution is deleted this long after
 *                          it was hidden
 *   --strip-log-after      the change log's earlier versions of documents
 *                          lose their content at this age ...
 *   --retain-besluit, --retain-opgave  ... except besluiten and opgaven,
 *                          kept by terms of their own (default: for good)
 *   --retain-audit         audit entries are removed at this age (default:
 *                          kept for good)
 *
 * A run starts at the first tick and then every --retention-interval; it
 * goes in steps, one writer job per tick at most, each doing a bounded
 * amount of work, and ends with one audit entry "retention" (actor "tafeld")
 * that counts what each rule did. Loop thread only.
 */
#ifndef TAFEL_SERVER_RETENTION_H
#define TAFEL_SERVER_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "server.h"

/** The name an inwoner's contributions carry once anonymised. */
#define TAFEL_RETENTION_AUTHOR "Inwoner"

/** @brief From the sweep (every 250 ms): start a run when one is due, or the
 *  next step of the run under way when the last one is done. */
void tafel_retention_tick(struct tafel_server *srv);

/** @brief Free the rules' state; after the writer has stopped. */
void tafel_retention_free(struct tafel_server *srv);

#endif
