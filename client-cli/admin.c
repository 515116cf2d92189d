/*
 * admin.c - access keys, the audit log and `whoami`: the beheerder's and
 * opgaveleider's administrative commands.
 *
 * A new key is printed exactly once (the server keeps only a keyed hash).
 * Listings are tables for people and JSON arrays for scripts, like every
 * list of the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tafel_time.h"

/* Send @p msg (stolen; NULL means out of memory) and hand back the reply. */
static enum cli_exit send_msg(struct cli *cli, json_t *msg, json_t **reply)
{
    *reply = NULL;
    if (!msg)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    enum cli_exit rc = cli_request(cli, msg, reply);
    json_decref(msg);
    return rc;
}

static enum cli_exit key_create(struct cli *cli, struct cli_args *a)
{
    bool twice = false;
    const char *role = cli_opt(cli, a, "role", &twice);
    const char *label = cli_opt(cli, a, "label", &twice);
    const char *expires = cli_opt(cli, a, "expires", &twice);
    if (twice)
        return CLI_EXIT_USAGE;
    if (!role || !label)
        return cli_usage(cli, T_MISSING_ARG, "%s", role ? "--label" : "--role");
    json_t *msg = json_pack("{ss ss ss}", "type", "key.create", "role", role, "label", label);
    json_t *opgaven = json_array();
    const char *o;
    for (size_t i = 0; (o = cli_opt_nth(a, "opgave", i)) != NULL; i++)
        json_array_append_new(opgaven, json_string(o));
    /* no --opgave: every opgave (what a beheerder key usually is) */
    json_object_set_new(msg, "opgaven", json_array_size(opgaven) ? opgaven : json_string("*"));
    if (!json_array_size(opgaven))
        json_decref(opgaven);
    if (expires) {
        int64_t ms = 0; /* "30d", "12h", "90m", "3600s" or plain seconds */
        long long secs = tafel_duration_parse(expires, true, &ms) ? (ms + 999) / 1000 : 0;
        if (!secs) {
            json_decref(msg);
            return cli_usage(cli, T_BAD_DURATION, "--expires %s", expires);
        }
        json_object_set_new(msg, "expires_in", json_integer(secs));
    }
    json_t *reply;
    enum cli_exit rc = send_msg(cli, msg, &reply);
    if (rc == CLI_EXIT_OK && cli->json) {
        json_object_del(reply, "type");
        json_object_del(reply, "req");
        out_json(reply);
    } else if (rc == CLI_EXIT_OK) {
        const char *exp = json_string_value(json_object_get(reply, "expires_at"));
        printf("%s: %s\n%s: %s\n%s: %s\n%s\n", tr(cli, T_KEY), member_str(reply, "key"),
               tr(cli, T_KEY_ID), member_str(reply, "key_id"), tr(cli, T_EXPIRES),
               exp ? exp : tr(cli, T_NEVER), tr(cli, T_KEY_SHOWN_ONCE));
    }
    json_decref(reply);
    return rc;
}

/* Print the array @p member of @p reply as JSON or as a table of @p cols. */
static void print_rows(struct cli *cli, const json_t *reply, const char *member,
                       const char *const *cols, const enum cli_text *heads, size_t ncols)
{
    const json_t *rows = json_object_get(reply, member);
    if (cli->json) {
        out_json(rows);
        return;
    }
    struct out_table t;
    out_table_init(&t);
    out_table_new_row(&t);
    for (size_t c = 0; c < ncols; c++)
        out_table_add(&t, strdup(tr(cli, heads[c])));
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        out_table_new_row(&t);
        for (size_t c = 0; c < ncols; c++)
            out_table_add(&t, out_value(cli, json_object_get(row, cols[c])));
    }
    out_table_print(&t);
    if (json_array_size(rows) == 0)
        printf("%s\n", tr(cli, T_NONE));
}

static enum cli_exit key_list(struct cli *cli, struct cli_args *a)
{
    if (a->npos != 2 || cli_opt_unused(a))
        return cli_usage(cli, T_TOO_MANY_ARGS, "tafel key list");
    json_t *reply;
    enum cli_exit rc = send_msg(cli, json_pack("{ss}", "type", "key.list"), &reply);
    static const char *const cols[] = {"key_id", "role",       "opgaven",
                                       "label",  "expires_at", "revoked_at"};
    static const enum cli_text heads[] = {T_KEY_ID,    T_ROLE,    T_OPGAVEN,
                                          T_LABEL_COL, T_EXPIRES, T_REVOKED};
    if (rc == CLI_EXIT_OK)
        print_rows(cli, reply, "keys", cols, heads, 6);
    json_decref(reply);
    return rc;
}

/* `key revoke ID [--cascade]`: with --cascade the server also revokes,
 * recursively, the keys this key created; `revoked` lists every key id the
 * call revoked, and each is printed. */
static enum cli_exit key_revoke(struct cli *cli, struct cli_args *a)
{
    bool bad = false;
    bool cascade = cli_flag(cli, a, "cascade", &bad);
    if (bad)
        return CLI_EXIT_USAGE;
    if (a->npos != 3 || cli_opt_unused(a))
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS,
                         "tafel key revoke KEY_ID [--cascade]");
    json_t *msg = json_pack("{ss ss}", "type", "key.revoke", "key_id", a->pos[2]);
    if (msg && cascade)
        json_object_set_new(msg, "cascade", json_true());
    json_t *reply;
    enum cli_exit rc = send_msg(cli, msg, &reply);
    if (rc == CLI_EXIT_OK && cli->json) {
        json_object_del(reply, "type");
        json_object_del(reply, "req");
        out_json(reply);
    } else if (rc == CLI_EXIT_OK) {
        const json_t *revoked = json_object_get(reply, "revoked");
        size_t i;
        const json_t *id;
        json_array_foreach(revoked, i, id)
        {
            if (json_is_string(id))
                printf("%s: %s\n", tr(cli, T_KEY_REVOKED_OK), json_string_value(id));
        }
        if (!json_is_array(revoked)) /* a server without the list: the one asked for */
            printf("%s: %s\n", tr(cli, T_KEY_REVOKED_OK), a->pos[2]);
    }
    json_decref(reply);
    return rc;
}

enum cli_exit cmd_key(struct cli *cli, struct cli_args *a)
{
    const char *verb = a->npos >= 2 ? a->pos[1] : "";
    bool bad = false;
    if (strcmp(verb, "revoke") != 0 && cli_flag(cli, a, "cascade", &bad))
        return bad ? CLI_EXIT_USAGE : cli_usage(cli, T_UNKNOWN_OPTION, "--cascade");
    if (strcmp(verb, "create") == 0 && a->npos == 2)
        return key_create(cli, a);
    if (strcmp(verb, "list") == 0)
        return key_list(cli, a);
    if (strcmp(verb, "revoke") == 0)
        return key_revoke(cli, a);
    return cli_usage(cli, a->npos < 2 ? T_MISSING_ARG : T_UNKNOWN_COMMAND, "%s",
                     "tafel key create|list|revoke");
}

/* A non-negative integer option into @p msg; false with the error recorded. */
static bool uint_opt(struct cli *cli, struct cli_args *a, const char *name, json_t *msg)
{
    bool twice = false;
    const char *v = cli_opt(cli, a, name, &twice);
    if (twice)
        return false;
    if (!v)
        return true;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0) {
        cli_usage(cli, T_BAD_VALUE, "--%s %s: %s %s", name, v, tr(cli, T_EXPECTED),
                  tr(cli, T_INTEGER));
        return false;
    }
    json_object_set_new(msg, name, json_integer(n));
    return true;
}

enum cli_exit cmd_audit(struct cli *cli, struct cli_args *a)
{
    if (a->npos != 1)
        return cli_usage(cli, T_TOO_MANY_ARGS, "tafel audit [--after N] [--limit N]");
    json_t *msg = json_pack("{ss}", "type", "audit.list");
    if (msg && (!uint_opt(cli, a, "after", msg) || !uint_opt(cli, a, "limit", msg))) {
        json_decref(msg);
        return CLI_EXIT_USAGE;
    }
    json_t *reply;
    enum cli_exit rc = send_msg(cli, msg, &reply);
    static const char *const cols[] = {"n", "at", "actor", "action", "target"};
    static const enum cli_text heads[] = {T_AUDIT_N, T_AUDIT_AT, T_AUDIT_ACTOR, T_AUDIT_ACTION,
                                          T_AUDIT_TARGET};
    if (rc == CLI_EXIT_OK)
        print_rows(cli, reply, "entries", cols, heads, 5);
    json_decref(reply);
    return rc;
}

enum cli_exit cmd_whoami(struct cli *cli, struct cli_args *a)
{
    if (a->npos != 1)
        return cli_usage(cli, T_TOO_MANY_ARGS, "tafel whoami");
    enum cli_exit rc = cli_connect(cli);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (cli->json) {
        out_json(cli->me);
        return rc;
    }
    const json_t *opg = json_object_get(cli->me, "opgaven");
    char *scope = json_is_string(opg) ? strdup(tr(cli, T_ALL_OPGAVEN)) : out_value(cli, opg);
    printf("%s %s (%s: %s, %s: %s)\n%s: %s\n", tr(cli, T_SIGNED_IN), member_str(cli->me, "name"),
           tr(cli, T_ROLE), member_str(cli->me, "role"), tr(cli, T_KEY_ID),
           member_str(cli->me, "actor"), tr(cli, T_OPGAVEN), scope ? scope : "");
    free(scope);
    return rc;
}
