/*
 * conn.h - one WebSocket to tafeld, over the libwebsockets client.
 *
 * A `struct tafel_conn` owns the process's only lws context and at most one
 * connection at a time (watch reconnects on the same context). Sending
 * queues a frame that the lws callback writes on CLIENT_WRITEABLE; every
 * received message is reassembled from its fragments, parsed with
 * tafel_server_msg_parse() and queued in arrival order. Waiting is
 * bounded: every wait takes a timeout and also ends when the stop flag
 * (SIGINT in watch) is set.
 */
#ifndef TAFEL_CONN_H
#define TAFEL_CONN_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "tafel_protocol.h"

/** What a wait or a connect came to. */
enum conn_status {
    CONN_OK,
    CONN_FAILED,  /* could not connect: conn_error() says why */
    CONN_TIMEOUT, /* nothing within the time limit */
    CONN_CLOSED,  /* the connection ended: conn_close_code() (0 if no close frame) */
    CONN_STOPPED, /* the stop flag was set */
    CONN_NOMEM
};

/** A parsed ws:// or wss:// URL; strings owned by the struct. */
struct conn_url {
    bool tls;
    char *host;
    int port;
    char *path; /* begins with '/' */
};

/** @brief Parse @p url; false if it is not ws://HOST[:PORT][/PATH] or wss://.
 *  A missing path means "/ws". Free with conn_url_free(). */
bool conn_url_parse(const char *url, struct conn_url *out);
void conn_url_free(struct conn_url *u);

struct tafel_conn;

/**
 * @brief Create the lws context for @p url (TLS set up for wss://, with the
 * CA file @p ca when non-NULL). @p stop (may be NULL) is polled by every
 * wait. Returns NULL when the URL is invalid or lws cannot start (*bad_url
 * tells which). The result is freed with conn_free().
 */
struct tafel_conn *conn_new(const char *url, const char *ca, const volatile sig_atomic_t *stop,
                            bool *bad_url);

/** @brief Open the connection and wait until it is established. Drops any
 *  previous connection and anything still queued from it. */
enum conn_status conn_open(struct tafel_conn *c, int timeout_ms);

/** @brief Queue @p frame (@p len bytes after LWS_PRE bytes of headroom, as
 *  tafel_msg_dump() makes them; taken over, freed by the connection). */
enum conn_status conn_send(struct tafel_conn *c, char *frame, size_t len);

/**
 * @brief Wait for the next message, or, when @p req is non-NULL, for the
 * ok/error reply whose `req` equals it (other messages stay queued, in
 * order, for later waits). On CONN_OK *out owns the message; free it with
 * tafel_server_msg_free(). Messages queued before the connection ended are
 * still delivered before CONN_CLOSED.
 */
enum conn_status conn_wait(struct tafel_conn *c, const json_t *req, int timeout_ms,
                           struct tafel_server_msg *out);

/** @brief Let lws run for up to @p ms (or until stopped): for backoff
 *  pauses that must still notice SIGINT. */
enum conn_status conn_sleep(struct tafel_conn *c, int ms);

/** @brief Why the last connect failed (static buffer in @p c). */
const char *conn_error(const struct tafel_conn *c);

/** @brief The close code the server sent (0 if none) on the last connection. */
int conn_close_code(const struct tafel_conn *c);

/** @brief Close the connection politely (bounded wait) and free everything. */
void conn_free(struct tafel_conn *c);

#endif /* TAFEL_CONN_H */
