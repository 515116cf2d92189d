/*
 * watch.c - `tafel watch [OPGAVE]`: every change, live, until Ctrl-C.
 *
 * The stream starts at the seq the server reported at sign-in, so what
 * follows is exactly the changes made from then on. The last seq shown is
 * remembered; after a dropped connection (server restart, 1001, slow
 * consumer 4408, network) the client reconnects with backoff (0.2 s
 * doubling to 5 s) and subscribes with `since` = that seq: the server
 * replays what was missed, and anything at or below it is skipped, so
 * nothing is missed and nothing is shown twice. With `since` goes the
 * data_id the seq belongs to (the data directory's identity from the
 * sign-in): after the server's data was restored from a backup, or is
 * otherwise not the history the seq counts in, the server answers with a
 * snapshot instead, and the watch continues from that snapshot's seq and
 * identity. A revoked or expired key (4401/4403) ends the watch with exit
 * code 4; SIGINT/SIGTERM end it with 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS   5000
#define POLL_MS          1000

/* Set by the signal handler; polled by every wait of the connection. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct watch {
    struct cli *cli;
    const char *opgave; /* an id, or "*" */
    uint64_t last;      /* the last seq shown (or the sign-in seq) */
    char *data_id;      /* owned: the data identity `last` counts in; NULL if unknown */
};

/* The data identity the server reported at the latest sign-in (or NULL). */
static const char *server_data_id(const struct watch *w)
{
    const char *id = json_string_value(json_object_get(w->cli->me, "data_id"));
    return id && *id ? id : NULL;
}

static void set_data_id(struct watch *w, const char *id)
{
    char *copy = id ? strdup(id) : NULL;
    free(w->data_id);
    w->data_id = copy;
}

/* The field that says what a document is about (title, text, question,
 * name; a meting's value): the first required text that can change, else
 * the first required number. */
static const char *summary_field(const struct tafel_kind_def *def)
{
    for (size_t i = 0; def && i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        if ((f->flags & TAFEL_FF_REQUIRED) && !(f->flags & TAFEL_FF_IMMUTABLE) &&
            f->type == TAFEL_F_STRING)
            return f->name;
    }
    for (size_t i = 0; def && i < def->nfields; i++)
        if ((def->fields[i].flags & TAFEL_FF_REQUIRED) && def->fields[i].type == TAFEL_F_NUMBER)
            return def->fields[i].name;
    return "id";
}

static void print_change(struct watch *w, uint64_t seq, const char *op, const json_t *doc)
{
    struct cli *cli = w->cli;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(kind);
    enum cli_text what = strcmp(op, "delete") == 0                              ? T_DELETED
                         : json_integer_value(json_object_get(doc, "rev")) == 1 ? T_CREATED
                                                                                : T_CHANGED;
    char *summary = out_value(cli, json_object_get(doc, summary_field(def)));
    for (char *p = summary; p && *p; p++)
        *p = (unsigned char)*p < 0x20 ? ' ' : *p;
    printf("#%llu  %s  %s %s  %s\n", (unsigned long long)seq, tr(cli, what), kind ? kind : "?",
           member_str(doc, "id"), summary ? summary : "");
    free(summary);
    fflush(stdout);
}

static void handle_snapshot(struct watch *w, const struct tafel_server_msg *m)
{
    const json_t *docs = json_object_get(m->root, "docs");
    if (w->cli->json) {
        out_json(m->root);
    } else {
        printf("#%llu  %s: %zu %s\n", (unsigned long long)m->seq, tr(w->cli, T_SNAPSHOT),
               json_array_size(docs), tr(w->cli, T_DOCUMENTS));
        size_t i;
        json_t *doc;
        json_array_foreach(docs, i, doc) print_change(w, m->seq, "put", doc);
    }
    if (!json_is_true(json_object_get(m->root, "more"))) {
        /* Events after a snapshot start after its seq, in the history of the
         * data the server has now (after a restore the seq may be lower). */
        w->last = m->seq;
        set_data_id(w, server_data_id(w));
    }
}

/* Presence: the full list (`present`), or what changed (`joined`: people,
 * `left`: actor ids). */
static void handle_presence(struct watch *w, const struct tafel_server_msg *m)
{
    if (w->cli->json)
        return; /* scripts get changes only: one event per line */
    const json_t *present = json_object_get(m->root, "present");
    const json_t *joined = json_object_get(m->root, "joined");
    const json_t *left = json_object_get(m->root, "left");
    size_t i;
    json_t *p;
    printf("%s %s:", tr(w->cli, T_PRESENT), member_str(m->root, "session"));
    if (json_is_array(present)) {
        json_array_foreach(present, i, p) printf("%s %s", i ? "," : "", member_str(p, "name"));
    }
    if (json_array_size(joined)) {
        printf(" %s:", tr(w->cli, T_ARRIVED));
        json_array_foreach(joined, i, p) printf("%s %s", i ? "," : "", member_str(p, "name"));
    }
    if (json_array_size(left)) {
        printf(" %s:", tr(w->cli, T_LEFT));
        json_array_foreach(left, i, p) printf("%s %s", i ? "," : "", json_string_value(p));
    }
    printf("\n");
    fflush(stdout);
}

static void handle(struct watch *w, const struct tafel_server_msg *m)
{
    switch (m->type) {
    case TAFEL_SMSG_EVENT:
        if (m->seq <= w->last)
            return; /* replayed after a reconnect: already shown */
        w->last = m->seq;
        if (w->cli->json)
            out_json(m->root);
        else
            print_change(w, m->seq, m->op, m->doc);
        return;
    case TAFEL_SMSG_SNAPSHOT:
        /* The server sends one when `since` cannot be continued: it is the
         * state now, whatever its seq. */
        handle_snapshot(w, m);
        return;
    case TAFEL_SMSG_PRESENCE:
        handle_presence(w, m);
        return;
    case TAFEL_SMSG_OK:
    case TAFEL_SMSG_ERROR:
    case TAFEL_SMSG_OTHER:
        return;
    }
}

/* Subscribe from w->last (of w->data_id). The replayed events stay queued
 * for stream(). */
static enum cli_exit subscribe(struct watch *w)
{
    json_t *msg =
        json_pack("{ss ss sI}", "type", "sub", "opgave", w->opgave, "since", (json_int_t)w->last);
    if (msg && w->data_id)
        json_object_set_new(msg, "data_id", json_string(w->data_id));
    json_t *reply = NULL;
    enum cli_exit rc = msg ? cli_request(w->cli, msg, &reply) : CLI_EXIT_OTHER;
    json_decref(msg);
    json_decref(reply);
    return rc;
}

/* Print messages until the connection ends (CONN_CLOSED) or Ctrl-C. */
static enum conn_status stream(struct watch *w)
{
    for (;;) {
        struct tafel_server_msg m;
        enum conn_status st = conn_wait(w->cli->conn, NULL, POLL_MS, &m);
        if (st == CONN_TIMEOUT)
            continue;
        if (st != CONN_OK)
            return st;
        handle(w, &m);
        tafel_server_msg_free(&m);
    }
}

static bool fatal(enum cli_exit rc)
{
    return rc == CLI_EXIT_AUTH || rc == CLI_EXIT_PERMISSION || rc == CLI_EXIT_NOT_FOUND ||
           rc == CLI_EXIT_USAGE;
}

/* Reconnect and sign in again, with backoff; returns OK, a fatal error, or
 * OTHER when interrupted. */
static enum cli_exit reconnect(struct watch *w)
{
    struct cli *cli = w->cli;
    int delay = BACKOFF_FIRST_MS;
    for (;;) {
        if (!cli->json) {
            fprintf(stderr, "tafel: %s %.1f s\n", tr(cli, T_RECONNECTING), delay / 1000.0);
        }
        if (conn_sleep(cli->conn, delay) == CONN_STOPPED)
            return CLI_EXIT_OTHER;
        json_decref(cli->me);
        cli->me = NULL;
        cli_clear_error(cli);
        enum cli_exit rc = cli_connect(cli);
        if (rc == CLI_EXIT_OK || fatal(rc) || interrupted)
            return rc;
        delay = delay * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : delay * 2;
    }
}

/* Subscribe, stream, reconnect: until Ctrl-C or a fatal error. */
static enum cli_exit watch_loop(struct watch *w)
{
    struct cli *cli = w->cli;
    enum cli_exit rc;
    for (bool first = true;; first = false) {
        rc = subscribe(w);
        if (first && rc == CLI_EXIT_OK && !cli->json)
            fprintf(stderr, "tafel: %s\n", tr(cli, T_WATCHING));
        if (rc == CLI_EXIT_OK && cli->json) {
            /* Scripts (and tests) wait for this instead of guessing: from
             * here on every change is printed. Again after each reconnect. */
            json_t *ready = json_pack("{s:s, s:s, s:I}", "type", "ready", "opgave", w->opgave,
                                      "seq", (json_int_t)w->last);
            if (ready)
                out_json(ready);
            json_decref(ready);
            fflush(stdout);
        }
        if (rc == CLI_EXIT_OK && stream(w) == CONN_STOPPED)
            interrupted = 1;
        if (interrupted)
            break;
        if (rc != CLI_EXIT_OK && fatal(rc))
            return rc;
        int code = conn_close_code(cli->conn);
        if (code == 4401 || code == 4403) {
            cli_clear_error(cli);
            return cli_fail(cli, CLI_EXIT_AUTH,
                            tr(cli, code == 4403 ? T_KEY_REVOKED : T_KEY_UNKNOWN), NULL,
                            code == 4403 ? T_HINT_REVOKED : T_HINT_UNKNOWN_KEY);
        }
        rc = reconnect(w);
        if (interrupted)
            break;
        if (rc != CLI_EXIT_OK)
            return rc;
        if (!cli->json)
            fprintf(stderr, "tafel: %s #%llu\n", tr(cli, T_RECONNECTED),
                    (unsigned long long)w->last);
    }
    cli_clear_error(cli);
    return CLI_EXIT_OK;
}

enum cli_exit cmd_watch(struct cli *cli, struct cli_args *a)
{
    if (a->npos > 2)
        return cli_usage(cli, T_TOO_MANY_ARGS, "tafel watch [OPGAVE]");
    struct watch w = {cli, a->npos == 2 ? a->pos[1] : "*", 0, NULL};
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli->stop = &interrupted;

    /* The first connection must work: a wrong URL or key should not hang. */
    enum cli_exit rc = cli_connect(cli);
    if (rc != CLI_EXIT_OK)
        return interrupted ? CLI_EXIT_OK : rc;
    w.last = (uint64_t)json_integer_value(json_object_get(cli->me, "seq"));
    set_data_id(&w, server_data_id(&w));
    rc = watch_loop(&w);
    free(w.data_id);
    return rc;
}
