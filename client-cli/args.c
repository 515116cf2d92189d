/*
 * args.c - the command line as words and options, and how commands take
 * their options from it.
 *
 * The line is split once, before anything knows which command it names:
 * every `--name value` (or `--name=value`) becomes an option wherever it
 * stands, so the global options and the command's own can be mixed freely.
 * Whether an option takes a value must therefore be known here, for all
 * commands at once: the flags are the global ones, --cascade, --yes and
 * --dry-run. A command
 * marks each option it takes as used; what is left over is an unknown
 * option, reported before (main.c) or by (schema-driven kinds) the handler.
 */
#include <string.h>

#include "cli.h"

bool cli_global_flag(const char *name)
{
    return strcmp(name, "json") == 0 || strcmp(name, "help") == 0 || strcmp(name, "version") == 0;
}

/* Options without a value: the global flags and the commands' flags. */
static bool is_flag(const char *name)
{
    return cli_global_flag(name) || strcmp(name, "cascade") == 0 || strcmp(name, "yes") == 0 ||
           strcmp(name, "dry-run") == 0;
}

enum cli_exit cli_args_split(struct cli *cli, int argc, char **argv, struct cli_args *a)
{
    memset(a, 0, sizeof(*a));
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (a->npos == CLI_ARGS_MAX || a->nopts == CLI_ARGS_MAX)
            return cli_usage(cli, T_TOO_MANY_ARGS, "%d", argc);
        if (only_pos || strncmp(s, "--", 2) != 0 || s[2] == '\0') {
            if (!only_pos && strcmp(s, "--") == 0) {
                only_pos = true;
                continue;
            }
            if (strcmp(s, "-h") == 0) {
                a->opts[a->nopts++] = (struct cli_opt){"help", NULL, false};
                continue;
            }
            a->pos[a->npos++] = s;
            continue;
        }
        struct cli_opt *o = &a->opts[a->nopts++];
        o->name = s + 2;
        char *eq = strchr(s + 2, '=');
        if (eq) {
            *eq = '\0'; /* argv is ours to split */
            o->value = eq + 1;
        } else if (!is_flag(o->name)) {
            if (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)
                return cli_usage(cli, T_NEEDS_VALUE, "--%s", o->name);
            o->value = argv[++i];
        }
    }
    return CLI_EXIT_OK;
}

const char *cli_opt(struct cli *cli, struct cli_args *a, const char *name, bool *twice)
{
    const char *v = NULL;
    bool seen = false;
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) != 0)
            continue;
        if (seen && twice) {
            *twice = true;
            cli_usage(cli, T_OPTION_TWICE, "--%s", name);
        }
        a->opts[i].used = true;
        v = a->opts[i].value;
        seen = true;
    }
    return v;
}

const char *cli_opt_nth(struct cli_args *a, const char *name, size_t n)
{
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) == 0 && n-- == 0) {
            a->opts[i].used = true;
            return a->opts[i].value;
        }
    }
    return NULL;
}

bool cli_flag(struct cli *cli, struct cli_args *a, const char *name, bool *bad)
{
    bool seen = false;
    for (size_t i = 0; i < a->nopts; i++) {
        if (strcmp(a->opts[i].name, name) != 0)
            continue;
        a->opts[i].used = true;
        if (a->opts[i].value && !*bad) {
            *bad = true;
            cli_usage(cli, T_BAD_VALUE, "--%s=%s", name, a->opts[i].value);
        }
        seen = true;
    }
    return seen;
}

const struct cli_opt *cli_opt_unused(const struct cli_args *a)
{
    for (size_t i = 0; i < a->nopts; i++)
        if (!a->opts[i].used)
            return &a->opts[i];
    return NULL;
}
