/*
 * config.c - where the server's URL and the access key come from, and
 * `tafel login`, which saves them.
 *
 * Precedence: --url/--key, then TAFEL_URL/TAFEL_KEY, then the file
 * $XDG_CONFIG_HOME/tafel/config (~/.config/tafel/config without XDG), two
 * lines `url=...` and `key=...`. The file holds a secret: it is written to a
 * temporary file created with mode 0600 in a 0700 directory and renamed into
 * place, so it is never readable by others, not even for a moment, and a
 * crash never leaves half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

char *config_path(void)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p = NULL;
    int n;
    if (xdg && xdg[0] == '/')
        n = asprintf(&p, "%s/tafel/config", xdg);
    else if (home && *home)
        n = asprintf(&p, "%s/.config/tafel/config", home);
    else
        return NULL;
    return n < 0 ? NULL : p;
}

/* The value of `name=` in the config file text, trimmed; malloc'd. */
static char *config_value(const char *text, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
        if (strncmp(line, name, nlen) == 0 && line[nlen] == '=') {
            const char *v = line + nlen + 1;
            size_t len = strcspn(v, "\r\n");
            while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
                len--;
            return strndup(v, len);
        }
    }
    return NULL;
}

void config_resolve(struct cli *cli)
{
    bool need_url = !cli->url || !*cli->url;
    bool need_key = !cli->key || !*cli->key;
    if (!need_url && !need_key)
        return;
    char *path = config_path();
    FILE *f = path ? fopen(path, "r") : NULL;
    free(path);
    if (!f)
        return;
    char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    if (need_url) {
        cli->config_url = config_value(text, "url");
        cli->url = cli->config_url;
    }
    if (need_key) {
        cli->config_key = config_value(text, "key");
        cli->key = cli->config_key;
    }
}

/* mkdir -p for the directories above @p path, mode 0700. */
static int make_parents(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc != 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

enum cli_exit config_save(struct cli *cli, const char *url, const char *key)
{
    char *path = config_path();
    char *tmp = NULL;
    char *text = NULL;
    enum cli_exit rc = CLI_EXIT_OTHER;
    int fd = -1;
    if (!path) {
        cli_fail(cli, CLI_EXIT_USAGE, tr(cli, T_CONFIG), "XDG_CONFIG_HOME / HOME", T__COUNT);
        goto cleanup;
    }
    /* asprintf() leaves its pointer undefined when it fails. */
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        tmp = NULL;
    if (asprintf(&text, "# tafel: written by 'tafel login'\nurl=%s\nkey=%s\n", url, key) < 0)
        text = NULL;
    if (!tmp || !text) {
        cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_CONFIG), strerror(ENOMEM), T__COUNT);
        goto cleanup;
    }
    if (make_parents(path) != 0) {
        cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_CONFIG), strerror(errno), T__COUNT);
        goto cleanup;
    }
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t len = strlen(text);
    if (fd < 0 || fchmod(fd, 0600) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0 ||
        close(fd) != 0) {
        cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_CONFIG), strerror(errno), T__COUNT);
        if (fd >= 0)
            unlink(tmp);
        fd = -1;
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_CONFIG), strerror(errno), T__COUNT);
        unlink(tmp);
        goto cleanup;
    }
    rc = CLI_EXIT_OK;
cleanup:
    free(path);
    free(tmp);
    free(text);
    return rc;
}

/* Read one line (the key) from stdin for `tafel login URL -`. */
static char *key_from_stdin(void)
{
    char buf[512];
    if (!fgets(buf, sizeof(buf), stdin))
        return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? strdup(buf) : NULL;
}

enum cli_exit cmd_login(struct cli *cli, struct cli_args *a)
{
    if (a->npos != 3)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "tafel login URL KEY");
    char *stdin_key = NULL;
    if (strcmp(a->pos[2], "-") == 0 && !(stdin_key = key_from_stdin()))
        return cli_usage(cli, T_MISSING_ARG, "KEY (stdin)");
    cli->url = a->pos[1];
    cli->key = stdin_key ? stdin_key : a->pos[2];
    /* Check first: saving a key the server refuses helps nobody. */
    enum cli_exit rc = cli_connect(cli);
    if (rc == CLI_EXIT_OK)
        rc = config_save(cli, cli->url, cli->key);
    if (rc == CLI_EXIT_OK) {
        char *path = config_path();
        const char *name = json_string_value(json_object_get(cli->me, "name"));
        const char *role = json_string_value(json_object_get(cli->me, "role"));
        if (cli->json)
            out_json(cli->me);
        else
            printf("%s %s (%s: %s); %s %s\n", tr(cli, T_SIGNED_IN), name ? name : "?",
                   tr(cli, T_ROLE), role ? role : "?", tr(cli, T_SAVED_IN), path ? path : "?");
        free(path);
    }
    cli->key = NULL;
    free(stdin_key);
    return rc;
}
