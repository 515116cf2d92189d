/*
 * config.c - where the server's URL and the access key come from, and
 * `tafel login`, which saves them.
 *
 * Precedence: --url/--key, then TAFEL_URL/TAFEL_KEY, then the file
 * $XDG_CONFIG_HOME/tafel/config (~/.config/tafel/config without XDG), two
 * lines `url=...` and `key=...`. `tafel login` takes the key from
 * TAFEL_KEY, stdin or a prompt without echo, never from the command line. The file holds a secret:
 * it is written to a temporary file created with mode 0600 in a 0700 directory and renamed into
 * place, so it is never readable by others, not even for a moment, and a
 * crash never leaves half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
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

/* ------------------------------------------------------------ tafel login */

/* Strip white space at both ends of @p s in place; returns @p s. */
static char *trim(char *s)
{
    size_t len = strlen(s);
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        s[--len] = '\0';
    size_t lead = strspn(s, " \t\r\n");
    memmove(s, s + lead, len - lead + 1);
    return s;
}

/* A copy of the trimmed line in @p buf (NULL if it is empty); @p buf is
 * wiped. */
static char *take_key(char *buf, size_t size)
{
    char *key = *trim(buf) ? strdup(buf) : NULL;
    explicit_bzero(buf, size);
    return key;
}

/* One line from stdin when it is not a terminal (a pipe or a file). */
static char *key_from_stdin(void)
{
    char buf[1024];
    if (!fgets(buf, sizeof(buf), stdin)) {
        explicit_bzero(buf, sizeof(buf));
        return NULL;
    }
    return take_key(buf, sizeof(buf));
}

/*
 * Asking on the terminal. Echo is off only while the key is typed. The
 * signals that would end or stop the process are caught meanwhile: the
 * handler only notes the signal, the read() returns EINTR, the terminal is
 * restored and then the signal is raised again with its usual action
 * (end, or stop: after `fg` tafel asks again). So the terminal never stays
 * without echo, whatever happens.
 */
static const int prompt_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU};
#define NPROMPT_SIGNALS (sizeof(prompt_signals) / sizeof(prompt_signals[0]))
static volatile sig_atomic_t prompt_signo[NSIG];

static void prompt_on_signal(int sig)
{
    prompt_signo[sig] = 1;
}

/* Read the key from the terminal on fd 0 without echo; NULL if nothing was
 * typed (empty line, Ctrl-D) or the terminal cannot be used. */
static char *key_from_terminal(const struct cli *cli)
{
    for (;;) {
        struct termios old, quiet;
        if (tcgetattr(STDIN_FILENO, &old) != 0)
            return NULL;
        struct sigaction sa, saved[NPROMPT_SIGNALS];
        bool caught[NPROMPT_SIGNALS];
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = prompt_on_signal; /* no SA_RESTART: read() returns EINTR */
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < NPROMPT_SIGNALS; i++) {
            int sig = prompt_signals[i];
            prompt_signo[sig] = 0;
            /* A signal the shell made us ignore (a background job) stays ignored. */
            caught[i] = sigaction(sig, NULL, &saved[i]) == 0 && saved[i].sa_handler != SIG_IGN &&
                        sigaction(sig, &sa, NULL) == 0;
        }
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        bool quiet_set = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        fputs(tr(cli, T_KEY_PROMPT), stderr);
        fflush(stderr);

        char buf[1024];
        size_t n = 0;
        int got = 0;
        for (;;) {
            char ch;
            ssize_t r = read(STDIN_FILENO, &ch, 1);
            if (r < 0 && errno == EINTR) {
                for (size_t i = 0; i < NPROMPT_SIGNALS && !got; i++)
                    if (prompt_signo[prompt_signals[i]])
                        got = prompt_signals[i];
                if (got)
                    break;
                continue;
            }
            if (r <= 0 || ch == '\n')
                break;
            if (n + 1 < sizeof(buf))
                buf[n++] = ch;
        }
        buf[n] = '\0';
        if (quiet_set)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr); /* the Enter that was not echoed */
        fflush(stderr);
        for (size_t i = 0; i < NPROMPT_SIGNALS; i++)
            if (caught[i])
                sigaction(prompt_signals[i], &saved[i], NULL);
        if (got) {
            explicit_bzero(buf, sizeof(buf));
            raise(got); /* ends the process, or stops it until `fg` */
            if (got == SIGTSTP || got == SIGTTIN || got == SIGTTOU)
                continue; /* resumed: ask again */
            return NULL;
        }
        return take_key(buf, sizeof(buf));
    }
}

/*
 * `tafel login URL`: the key from TAFEL_KEY, else from stdin when it is
 * not a terminal, else typed at a prompt without echo. Never from the
 * command line: `tafel login URL KEY` (and --key) would leave the key in
 * the process list and the shell history, so both are refused. `-` in the
 * place of KEY (the old way to say "stdin") still works.
 */
enum cli_exit cmd_login(struct cli *cli, struct cli_args *a)
{
    bool dash = a->npos == 3 && strcmp(a->pos[2], "-") == 0;
    if ((a->npos == 3 && !dash) || cli->key_option)
        return cli_fail(cli, CLI_EXIT_USAGE, tr(cli, T_KEY_AS_ARG), NULL, T_HINT_KEY_AS_ARG);
    if (a->npos != 2 && !dash)
        return cli_usage(cli, a->npos < 2 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "tafel login URL");
    const char *env = getenv("TAFEL_KEY");
    char *read_key = NULL;
    if (!dash && env && *env)
        read_key = strdup(env);
    else if (!isatty(STDIN_FILENO))
        read_key = key_from_stdin();
    else
        read_key = key_from_terminal(cli);
    if (!read_key)
        return cli_usage(cli, T_NO_KEY_READ, "%s", dash || !isatty(STDIN_FILENO) ? "stdin" : "TTY");
    cli->url = a->pos[1];
    cli->key = read_key;
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
    explicit_bzero(read_key, strlen(read_key));
    free(read_key);
    return rc;
}
