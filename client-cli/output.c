/*
 * output.c - everything `tafel` says: the texts in Dutch and English, the
 * one error line, aligned tables for people and JSON for scripts, and the
 * local date (a report's "made on", the default of --date), which is the
 * user's day and not the server's.
 *
 * Commands never format an error themselves: they record it with
 * cli_fail() (problem, detail, what to do) and main() prints the one line on
 * stderr, so every failure reads the same and maps to one exit code. A
 * server's `error` reply becomes that line in cli_fail_reply(), the only
 * place where wire codes meet exit codes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define CELL_MAX 60 /* code points shown of one table cell */

static const char *const texts[T__COUNT][2] = {
#define CLI_TEXT_ROW(id, nl, en) [id] = {nl, en},
    CLI_TEXT_LIST(CLI_TEXT_ROW)
#undef CLI_TEXT_ROW
};

const char *tr(const struct cli *cli, enum cli_text id)
{
    return texts[id][cli && cli->lang == CLI_EN ? 1 : 0];
}

const char *cli_exit_text(const struct cli *cli, int code)
{
    bool en = cli && cli->lang == CLI_EN;
#define CLI_EXIT_TEXT(name, c, nl, english) \
    if (code == (c))                        \
        return en ? english : nl;
    CLI_EXIT_LIST(CLI_EXIT_TEXT)
#undef CLI_EXIT_TEXT
    return "?";
}

/* ----------------------------------------------------------------- errors */

/* Append @p s to @p out, control characters (and so terminal escapes from
 * a hostile server) replaced by spaces. */
static void put_clean(char *out, size_t size, const char *s)
{
    size_t n = strlen(out);
    for (; *s && n + 1 < size; s++)
        out[n++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
    out[n] = '\0';
}

enum cli_exit cli_fail(struct cli *cli, enum cli_exit code, const char *problem, const char *detail,
                       enum cli_text hint)
{
    if (cli->error)
        return code; /* the first error is the cause; later ones follow from it */
    char line[1024] = "tafel: ";
    const char *parts[] = {problem, detail, hint == T__COUNT ? NULL : tr(cli, hint)};
    bool first = true;
    for (size_t i = 0; i < 3; i++) {
        if (!parts[i] || !*parts[i])
            continue;
        if (!first)
            put_clean(line, sizeof(line), ": ");
        put_clean(line, sizeof(line), parts[i]);
        first = false;
    }
    cli->error = strdup(line);
    cli->error_code = code;
    return code;
}

void cli_clear_error(struct cli *cli)
{
    free(cli->error);
    cli->error = NULL;
    cli->error_code = CLI_EXIT_OK;
}

enum cli_exit cli_usage(struct cli *cli, enum cli_text problem, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return cli_fail(cli, CLI_EXIT_USAGE, tr(cli, problem), detail, T_HINT_USAGE);
}

/* Wire error code -> exit code and hint. */
static const struct {
    const char *code;
    enum cli_exit exit;
    enum cli_text hint;
} wire_errors[] = {
    {"unauthorized", CLI_EXIT_AUTH, T_HINT_UNKNOWN_KEY},
    {"forbidden", CLI_EXIT_PERMISSION, T_HINT_FORBIDDEN},
    {"not_found", CLI_EXIT_NOT_FOUND, T_HINT_NOT_FOUND},
    {"conflict", CLI_EXIT_CONFLICT, T_HINT_CONFLICT},
    {"bad_request", CLI_EXIT_USAGE, T_HINT_USAGE},
    {"too_large", CLI_EXIT_USAGE, T_HINT_USAGE},
};

enum cli_exit cli_fail_reply(struct cli *cli, const json_t *reply)
{
    const char *code = json_string_value(json_object_get(reply, "code"));
    const char *message = json_string_value(json_object_get(reply, "message"));
    const char *field = json_string_value(json_object_get(reply, "field"));
    enum cli_exit exit_code = CLI_EXIT_OTHER;
    enum cli_text hint = T_HINT_RETRY;
    for (size_t i = 0; code && i < sizeof(wire_errors) / sizeof(wire_errors[0]); i++) {
        if (strcmp(code, wire_errors[i].code) == 0) {
            exit_code = wire_errors[i].exit;
            hint = wire_errors[i].hint;
        }
    }
    if (exit_code == CLI_EXIT_AUTH && message) {
        /* tafeld says which: the key's holder needs to know what to do. */
        if (strstr(message, "revoked"))
            return cli_fail(cli, exit_code, tr(cli, T_KEY_REVOKED), NULL, T_HINT_REVOKED);
        if (strstr(message, "expired"))
            return cli_fail(cli, exit_code, tr(cli, T_KEY_EXPIRED), NULL, T_HINT_REVOKED);
        return cli_fail(cli, exit_code, tr(cli, T_KEY_UNKNOWN), NULL, hint);
    }
    char detail[600];
    snprintf(detail, sizeof(detail), "%s%s%s%s", message ? message : (code ? code : "?"),
             field && *field ? " (" : "", field && *field ? field : "", field && *field ? ")" : "");
    return cli_fail(cli, exit_code, cli_exit_text(cli, exit_code), detail, hint);
}

/* ------------------------------------------------------------------ JSON */

const char *member_str(const json_t *obj, const char *name)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s ? s : "";
}

void out_json(const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (s) {
        fputs(s, stdout);
        fputc('\n', stdout);
        free(s);
    }
    fflush(stdout);
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&out, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : out;
}

/* Numbers without noise: 3 and 3.5, never 3.000000. */
static char *number_text(const json_t *v)
{
    if (json_is_integer(v))
        return dup_printf("%lld", (long long)json_integer_value(v));
    return dup_printf("%.15g", json_real_value(v));
}

char *out_value(const struct cli *cli, const json_t *v)
{
    if (!v)
        return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        return strdup(json_string_value(v));
    case JSON_INTEGER:
    case JSON_REAL:
        return number_text(v);
    case JSON_TRUE:
        return strdup(tr(cli, T_YES));
    case JSON_FALSE:
        return strdup(tr(cli, T_NO));
    case JSON_ARRAY: {
        size_t i, cap = 1;
        json_t *item;
        char *out = calloc(1, 1);
        json_array_foreach(v, i, item)
        {
            char *s = out_value(cli, item);
            size_t need = strlen(out) + (s ? strlen(s) : 0) + 3;
            char *p = need > cap ? realloc(out, need) : out;
            if (!p) {
                free(s);
                break;
            }
            out = p;
            cap = need > cap ? need : cap;
            if (i > 0)
                strcat(out, ", ");
            strcat(out, s ? s : "");
            free(s);
        }
        return out;
    }
    case JSON_OBJECT: {
        /* feelings: actor -> -2..2; show how many and their average */
        const char *k;
        json_t *item;
        double sum = 0;
        size_t n = 0;
        json_object_foreach((json_t *)v, k, item)
        {
            if (!json_is_number(item))
                return json_dumps(v, JSON_COMPACT);
            sum += json_number_value(item);
            n++;
        }
        return n ? dup_printf("%zu × %+.1f", n, sum / (double)n) : strdup("-");
    }
    case JSON_NULL:
        return NULL;
    }
    return NULL;
}

/* ----------------------------------------------------------------- dates */

void today(char buf[11])
{
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, 11, "%Y-%m-%d", &tm);
}

/* ---------------------------------------------------------------- tables */

void out_table_init(struct out_table *t)
{
    t->rows = json_array();
}

void out_table_new_row(struct out_table *t)
{
    json_array_append_new(t->rows, json_array());
}

void out_table_add(struct out_table *t, char *cell)
{
    size_t n = json_array_size(t->rows);
    if (n == 0) {
        out_table_new_row(t);
        n = 1;
    }
    json_t *s = json_string(cell ? cell : "");
    json_array_append_new(json_array_get(t->rows, n - 1), s ? s : json_string(""));
    free(cell);
}

void out_table_row(struct out_table *t, size_t n, const char *const *cells)
{
    out_table_new_row(t);
    for (size_t i = 0; i < n; i++)
        out_table_add(t, cells[i] ? strdup(cells[i]) : NULL);
}

/* Code points in @p s (for alignment; wide characters are rare here). */
static size_t width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Print @p s cut to @p max code points, newlines and tabs as spaces,
 * padded to @p pad. */
static void put_cell(const char *s, size_t max, size_t pad)
{
    size_t shown = 0;
    bool cut = width(s) > max;
    for (const char *p = s; *p; p++) {
        bool lead = ((unsigned char)*p & 0xC0) != 0x80;
        if (lead && shown == (cut ? max - 1 : max))
            break;
        shown += lead;
        putchar(*p == '\n' || *p == '\t' || *p == '\r' ? ' ' : *p);
    }
    if (cut) {
        fputs("…", stdout);
        shown++;
    }
    for (; shown < pad; shown++)
        putchar(' ');
}

void out_table_print(struct out_table *t)
{
    size_t widths[32] = {0};
    size_t i, j;
    json_t *row, *cell;
    json_array_foreach(t->rows, i, row)
    {
        json_array_foreach(row, j, cell)
        {
            size_t w = width(json_string_value(cell));
            if (j < 32 && (w > CELL_MAX ? CELL_MAX : w) > widths[j])
                widths[j] = w > CELL_MAX ? CELL_MAX : w;
        }
    }
    json_array_foreach(t->rows, i, row)
    {
        size_t n = json_array_size(row);
        json_array_foreach(row, j, cell)
        {
            if (j >= 32)
                break;
            put_cell(json_string_value(cell), CELL_MAX, j + 1 < n ? widths[j] : 0);
            if (j + 1 < n)
                fputs("  ", stdout);
        }
        putchar('\n');
    }
    fflush(stdout);
    json_decref(t->rows);
    t->rows = NULL;
}

/* -------------------------------------------------------------- documents */

const char *field_label(const struct cli *cli, const struct tafel_field *f, char *buf, size_t size)
{
    snprintf(buf, size, "%s", cli->lang == CLI_NL ? f->label_nl : f->label_en);
    return buf;
}

/* One row of the show table, if @p doc has @p name. */
static void doc_row(const struct cli *cli, struct out_table *t, const json_t *doc, const char *name,
                    const struct tafel_field *f)
{
    const json_t *v = json_object_get(doc, name);
    if (!v)
        return;
    char label[200] = "";
    if (f)
        field_label(cli, f, label, sizeof(label));
    out_table_new_row(t);
    out_table_add(t, strdup(name));
    out_table_add(t, strdup(label));
    out_table_add(t, out_value(cli, v));
}

void out_doc(const struct cli *cli, const json_t *doc)
{
    if (cli->json) {
        out_json(doc);
        return;
    }
    struct out_table t;
    out_table_init(&t);
    const char *hdr[] = {tr(cli, T_FIELD), tr(cli, T_LABEL), tr(cli, T_VALUE)};
    out_table_row(&t, 3, hdr);
    size_t ncommon;
    const struct tafel_field *common = tafel_schema_common_fields(&ncommon);
    const struct tafel_kind_def *def =
        tafel_schema_kind_by_name(json_string_value(json_object_get(doc, "kind")));
    for (size_t i = 0; i < ncommon; i++)
        doc_row(cli, &t, doc, common[i].name, &common[i]);
    for (size_t i = 0; def && i < def->nfields; i++)
        doc_row(cli, &t, doc, def->fields[i].name, &def->fields[i]);
    /* Members the schema does not describe (e.g. a join URL we added). */
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        bool known = (def && tafel_schema_field(def, k));
        for (size_t i = 0; i < ncommon && !known; i++)
            known = strcmp(common[i].name, k) == 0;
        if (!known)
            doc_row(cli, &t, doc, k, NULL);
    }
    out_table_print(&t);
}
