/*
 * device.c - `tafel device export|erase TOKEN`: an inhabitant's right of
 * access and erasure, handled at the municipality's desk. The citizen shows
 * the device token on their phone ("Mijn bijdragen" on the page); a
 * beheerder hands over everything that device contributed, or erases it.
 *
 * The export is personal data: for people a summary (Dutch first), with
 * --json the server's document itself, with --out FILE that document in a
 * file only its owner may read. Erasing cannot be undone, so it asks first,
 * and without a terminal to ask on it refuses unless --yes says so.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Print @p s with control characters (a hostile text's terminal escapes,
 * its line breaks) as spaces: one item, one line. */
static void put_clean(const char *s)
{
    for (; s && *s; s++)
        putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
}

static void line(const struct cli *cli, enum cli_text label, const char *value)
{
    printf("%s: ", tr(cli, label));
    put_clean(value && *value ? value : tr(cli, T_NONE));
    putchar('\n');
}

/* Send @p msg (stolen) and hand back the ok. A token that names no device
 * gets its own words: the hint of other not-founds names ids. */
static enum cli_exit send_device(struct cli *cli, json_t *msg, json_t **reply)
{
    *reply = NULL;
    if (!msg)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    enum cli_exit rc = cli_request(cli, msg, reply);
    json_decref(msg);
    if (rc == CLI_EXIT_NOT_FOUND) {
        cli_clear_error(cli);
        cli_fail(cli, rc, tr(cli, T_DEV_UNKNOWN), NULL, T_HINT_DEV_TOKEN);
    }
    return rc;
}

/* The export for people: who, where, when, and each thing it holds. */
static void print_export(const struct cli *cli, const json_t *ex)
{
    size_t i;
    const json_t *v;
    line(cli, T_DEV_PARTICIPANT, member_str(ex, "participant"));
    json_array_foreach(json_object_get(ex, "devices"), i, v)
    {
        line(cli, T_DEV_SESSION, member_str(v, "session"));
        if (*member_str(v, "session_question"))
            line(cli, T_DEV_QUESTION, member_str(v, "session_question"));
        line(cli, T_DEV_JOINED, member_str(v, "joined_at"));
    }
    printf("%s: ", tr(cli, T_DEV_NAMES));
    const json_t *names = json_object_get(ex, "display_names");
    json_array_foreach(names, i, v)
    {
        if (i)
            fputs(", ", stdout);
        put_clean(json_string_value(v));
    }
    printf("%s\n", json_array_size(names) ? "" : tr(cli, T_NONE));

    const json_t *list = json_object_get(ex, "contributions");
    printf("%s: %zu\n", tr(cli, T_DEV_CONTRIBUTIONS), json_array_size(list));
    json_array_foreach(list, i, v)
    {
        bool hidden = json_is_true(json_object_get(v, "hidden"));
        printf("  [%s] ", member_str(v, "sort"));
        put_clean(member_str(v, "text"));
        printf(" (%s%s%s)\n", member_str(v, "created_at"), hidden ? ", " : "",
               hidden ? tr(cli, T_DEV_HIDDEN) : "");
    }
    list = json_object_get(ex, "votes");
    printf("%s: %zu\n", tr(cli, T_DEV_VOTES), json_array_size(list));
    json_array_foreach(list, i, v)
    {
        printf("  %s\n", member_str(v, "reflectie"));
    }
    list = json_object_get(ex, "feelings");
    printf("%s: %zu\n", tr(cli, T_DEV_FEELINGS), json_array_size(list));
    json_array_foreach(list, i, v)
    {
        printf("  %s: %lld (", member_str(v, "date"),
               (long long)json_integer_value(json_object_get(v, "feeling")));
        put_clean(member_str(v, "title"));
        printf(")\n");
    }
}

/* Write @p doc to @p path, readable by its owner only (it is personal
 * data), replacing what was there. */
static enum cli_exit write_file(struct cli *cli, const char *path, const json_t *doc)
{
    char *text = json_dumps(doc, JSON_INDENT(2));
    if (!text)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(text), done = 0;
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0;
    while (ok && done < len) {
        ssize_t n = write(fd, text + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        ok = n > 0;
        done += ok ? (size_t)n : 0;
    }
    ok = ok && write(fd, "\n", 1) == 1;
    int err = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        err = errno;
    }
    free(text);
    if (!ok) {
        char detail[512];
        snprintf(detail, sizeof(detail), "%s: %s", path, strerror(err));
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_DEV_WRITE), detail, T__COUNT);
    }
    printf("%s %s\n", tr(cli, T_SAVED_IN), path);
    return CLI_EXIT_OK;
}

static enum cli_exit device_export(struct cli *cli, struct cli_args *a, const char *token)
{
    bool twice = false;
    const char *out = cli_opt(cli, a, "out", &twice);
    if (twice)
        return CLI_EXIT_USAGE;
    json_t *reply;
    enum cli_exit rc =
        send_device(cli, json_pack("{ss ss}", "type", "device.export", "device", token), &reply);
    const json_t *ex = json_object_get(reply, "export");
    if (rc == CLI_EXIT_OK && !json_is_object(ex))
        rc = cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_PROTOCOL), NULL, T__COUNT);
    else if (rc == CLI_EXIT_OK && out)
        rc = write_file(cli, out, ex);
    else if (rc == CLI_EXIT_OK && cli->json)
        out_json(ex);
    else if (rc == CLI_EXIT_OK)
        print_export(cli, ex);
    json_decref(reply);
    return rc;
}

/* Ask on the terminal; true for ja/j/yes/y. */
static bool confirmed(const struct cli *cli)
{
    char answer[32];
    fputs(tr(cli, T_DEV_CONFIRM), stderr);
    fflush(stderr);
    if (!fgets(answer, sizeof(answer), stdin))
        return false;
    answer[strcspn(answer, "\r\n")] = '\0';
    static const char *const yes[] = {"ja", "j", "yes", "y", "JA", "Ja", "J", "YES", "Yes", "Y"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        if (strcmp(answer, yes[i]) == 0)
            return true;
    return false;
}

static enum cli_exit device_erase(struct cli *cli, struct cli_args *a, const char *token)
{
    bool bad = false;
    bool yes = cli_flag(cli, a, "yes", &bad);
    if (bad)
        return CLI_EXIT_USAGE;
    if (!yes && !isatty(STDIN_FILENO))
        return cli_usage(cli, T_DEV_NEED_YES, "tafel device erase TOKEN --yes");
    if (!yes && !confirmed(cli))
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_DEV_NOT_ERASED), NULL, T__COUNT);
    json_t *reply;
    enum cli_exit rc =
        send_device(cli, json_pack("{ss ss}", "type", "device.erase", "device", token), &reply);
    if (rc == CLI_EXIT_OK && cli->json) {
        json_object_del(reply, "type");
        json_object_del(reply, "req");
        out_json(reply);
    } else if (rc == CLI_EXIT_OK) {
        const json_t *n = json_object_get(reply, "erased");
        printf("%s: %s %s\n", tr(cli, T_DEV_ERASED), tr(cli, T_DEV_PARTICIPANT),
               member_str(reply, "participant"));
        static const struct {
            const char *name;
            enum cli_text label;
        } counts[] = {{"contributions", T_DEV_CONTRIBUTIONS},
                      {"votes", T_DEV_VOTES},
                      {"feelings", T_DEV_FEELINGS}};
        for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
            printf("%s: %lld\n", tr(cli, counts[i].label),
                   (long long)json_integer_value(json_object_get(n, counts[i].name)));
    }
    json_decref(reply);
    return rc;
}

enum cli_exit cmd_device(struct cli *cli, struct cli_args *a)
{
    const char *verb = a->npos >= 2 ? a->pos[1] : "";
    bool is_export = strcmp(verb, "export") == 0, is_erase = strcmp(verb, "erase") == 0;
    if (!is_export && !is_erase)
        return cli_usage(cli, a->npos < 2 ? T_MISSING_ARG : T_UNKNOWN_COMMAND, "%s",
                         "tafel device export|erase TOKEN");
    if (a->npos != 3)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS,
                         "tafel device %s TOKEN", verb);
    /* Each verb's own options: --out is the export's, --yes the erasure's. */
    bool bad = false;
    if (is_export && cli_flag(cli, a, "yes", &bad))
        return bad ? CLI_EXIT_USAGE : cli_usage(cli, T_UNKNOWN_OPTION, "--yes");
    if (is_erase && cli_opt(cli, a, "out", &bad))
        return cli_usage(cli, T_UNKNOWN_OPTION, "--out");
    /* "-": the token from standard input, so that it stays out of ps and
     * the shell's history (the erasure then cannot ask: --yes). */
    char line[128];
    const char *token = a->pos[2];
    if (strcmp(token, "-") == 0) {
        if (!fgets(line, sizeof(line), stdin))
            return cli_usage(cli, T_MISSING_ARG, "%s", "TOKEN");
        line[strcspn(line, "\r\n")] = '\0';
        token = line;
    }
    enum cli_exit rc = is_export ? device_export(cli, a, token) : device_erase(cli, a, token);
    memset(line, 0, sizeof(line));
    return rc;
}
