/*
 * metrics.h - /metrics in the Prometheus text format (metrics.c).
 */
#ifndef TAFEL_SERVER_METRICS_H
#define TAFEL_SERVER_METRICS_H

#include "server.h"

/** @brief The /metrics text (malloc'd; caller frees), NULL on OOM. */
char *tafel_metrics_render(struct tafel_server *srv);

#endif
