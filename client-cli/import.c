/*
 * import.c - `tafel meting import FILE`: measurements from a CSV file as
 * municipal statistics exports look, all of them or none.
 *
 * The file: `;` between fields, the first line a header naming the columns
 * (datum/date, waarde/value, bron/source, opmerking/toelichting/note and
 * optionally indicator, in any case and order), fields quoted with `"` as in
 * RFC 4180 (`""` is a quote; a quoted field may hold `;` and line breaks),
 * UTF-8 with or without a byte order mark, CRLF or LF. Values are Dutch:
 * decimal commas (`41,5`), optional thousands dots (`1.234,5`), an optional
 * `%` (dropped: `44%` is 44), dates as `31-12-2025` (also `1-7-2025`,
 * `31/12/2025`) or ISO `2025-12-31`. A two-digit year (`31-12-25`) is refused
 * rather than guessed, and so is `41.5` (a dot is a thousands separator here,
 * so `41.5` could be either).
 *
 * Nothing is half-imported. Every line is checked first, locally, against
 * the meting row of protocol/'s schema (tafel_schema_validate() on the very
 * document that would be sent); any bad line is one error line each on
 * stderr and nothing is sent. Then, before the first put: each indicator is
 * read (it exists and is readable), the key's role may create metingen in its
 * opgave, and no line repeats a measurement of the same indicator and date
 * (in the file or already in Tafel, so that running an import twice does not
 * double it). The protocol has no multi-document transaction or batch, so
 * the puts go one by one; if the server still refuses one midway, the ones
 * this run created are deleted again (best effort, and said so). `--dry-run`
 * does every check and puts nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

#define IMPORT_MAX_BYTES  (8u << 20) /* a statistics export is kilobytes */
#define IMPORT_MAX_ROWS   10000
#define IMPORT_MAX_FIELDS 32
#define IMPORT_SHOW_ERRS  50 /* error lines printed; the rest are counted */
#define SHOW_MAX          40 /* code points of a cell quoted in an error */
#define RETRY_SLEEP_MS    200

/* ------------------------------------------------------------- columns */

enum col { COL_DATE, COL_VALUE, COL_SOURCE, COL_NOTE, COL_INDICATOR, COL__COUNT };

/* The header words of each column (compared without case), and the schema
 * field it fills. */
static const struct {
    const char *field;
    const char *names[4];
} columns[COL__COUNT] = {
    [COL_DATE] = {"date", {"datum", "date", "peildatum", NULL}},
    [COL_VALUE] = {"value", {"waarde", "value", NULL}},
    [COL_SOURCE] = {"source", {"bron", "source", NULL}},
    [COL_NOTE] = {"note", {"opmerking", "toelichting", "note", NULL}},
    [COL_INDICATOR] = {"indicator", {"indicator", NULL}},
};

/* One run of the import. */
struct import {
    struct cli *cli;
    const char *indicator;            /* --indicator, or NULL */
    int col_of[COL__COUNT];           /* field index of each column, -1 if absent */
    const char *col_name[COL__COUNT]; /* as the header spells it (borrowed from header) */
    char *header[IMPORT_MAX_FIELDS];
    size_t nheader;
    json_t *docs;  /* the metingen to put, in file order */
    size_t *lines; /* the line each doc starts on */
    size_t nerrors;
};

/* ---------------------------------------------------------- error lines */

/* @p s as it may be quoted in an error: control characters as spaces, at
 * most SHOW_MAX code points. */
static void shown(const char *s, char *out, size_t size)
{
    size_t n = 0, cps = 0;
    for (const char *p = s; *p && n + 4 < size; p++) {
        bool lead = ((unsigned char)*p & 0xC0) != 0x80;
        if (lead && ++cps > SHOW_MAX) {
            n += (size_t)snprintf(out + n, size - n, "…");
            break;
        }
        out[n++] = (unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p;
    }
    out[n < size ? n : size - 1] = '\0';
}

/* "tafel: regel N: ..." on stderr; only the first IMPORT_SHOW_ERRS print. */
static void line_error(struct import *im, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void line_error(struct import *im, size_t line, const char *fmt, ...)
{
    if (im->nerrors++ >= IMPORT_SHOW_ERRS)
        return;
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "tafel: %s %zu: %s\n", tr(im->cli, T_IMP_LINE), line, msg);
}

/* "'41.5' is geen getal (kolom Waarde): HINT" */
static void cell_error(struct import *im, size_t line, enum col c, const char *text,
                       enum cli_text problem, enum cli_text hint)
{
    char s[SHOW_MAX * 4 + 8];
    shown(text, s, sizeof(s));
    line_error(im, line, "'%s' %s (%s %s)%s%s", s, tr(im->cli, problem), tr(im->cli, T_IMP_COLUMN),
               im->col_name[c], hint == T__COUNT ? "" : ": ",
               hint == T__COUNT ? "" : tr(im->cli, hint));
}

/* The summary after the line errors: the one error main() prints last. */
static enum cli_exit bad_lines(struct import *im, enum cli_exit code)
{
    char detail[120];
    if (im->nerrors > IMPORT_SHOW_ERRS) {
        fflush(stdout);
        fprintf(stderr, "tafel: %zu %s\n", im->nerrors - IMPORT_SHOW_ERRS,
                tr(im->cli, T_IMP_MORE_ERRORS));
    }
    snprintf(detail, sizeof(detail), "%zu %s", im->nerrors,
             tr(im->cli, im->nerrors == 1 ? T_IMP_BAD_LINE : T_IMP_BAD_LINES));
    return cli_fail(im->cli, code, tr(im->cli, T_IMP_NOTHING), detail, T_HINT_IMP_FIX);
}

/* ------------------------------------------------------------- reading */

static enum cli_exit read_all(struct cli *cli, const char *path, char **buf, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    *buf = NULL;
    *len = 0;
    if (!f)
        return cli_fail(cli, CLI_EXIT_USAGE, tr(cli, T_IMP_READ), path, T__COUNT);
    size_t cap = 64 * 1024, n = 0;
    char *b = malloc(cap + 1);
    bool too_big = false;
    while (b) {
        if (n == cap) {
            if (cap >= IMPORT_MAX_BYTES) {
                too_big = true;
                break;
            }
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!b)
        return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    if (err || too_big) {
        free(b);
        char detail[600];
        snprintf(detail, sizeof(detail), "%s%s%s", path, too_big ? ": " : "",
                 too_big ? tr(cli, T_IMP_TOO_BIG) : "");
        return cli_fail(cli, err ? CLI_EXIT_OTHER : CLI_EXIT_USAGE, tr(cli, T_IMP_READ), detail,
                        T__COUNT);
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return CLI_EXIT_OK;
}

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = *p < 0x80             ? 0
                   : (*p & 0xE0) == 0xC0 ? 1
                   : (*p & 0xF0) == 0xE0 ? 2
                   : (*p & 0xF8) == 0xF0 ? 3
                                         : 9;
        if (n == 9 || (n == 1 && *p < 0xC2) || (n == 3 && *p > 0xF4))
            return false;
        unsigned cp = n == 0 ? *p : *p & (0x3F >> n);
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

/* One record of the CSV. */
struct record {
    char *f[IMPORT_MAX_FIELDS];
    size_t n;
    size_t line;       /* where it starts */
    bool too_many;     /* more than IMPORT_MAX_FIELDS fields */
    enum cli_text bad; /* a quoting problem (T__COUNT: none) */
};

static void record_free(struct record *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->f[i]);
    r->n = 0;
}

/* Append byte @p c to the growing field. */
static bool field_put(char **f, size_t *n, size_t *cap, char c)
{
    if (*n + 1 >= *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        char *nf = realloc(*f, ncap);
        if (!nf)
            return false;
        *f = nf;
        *cap = ncap;
    }
    (*f)[(*n)++] = c;
    (*f)[*n] = '\0';
    return true;
}

/* Read the record at *pos (RFC 4180 with `;`); *line counts physical lines.
 * False at the end of the input or when out of memory (*oom). */
static bool next_record(const char *buf, size_t len, size_t *pos, size_t *line, struct record *r,
                        bool *oom)
{
    size_t p = *pos;
    r->n = 0;
    r->too_many = false;
    r->bad = T__COUNT;
    r->line = *line;
    if (p >= len)
        return false;
    for (;;) {
        char *f = NULL;
        size_t n = 0, cap = 0;
        if (!field_put(&f, &n, &cap, 'x')) {
            *oom = true;
            return false;
        }
        n = 0;
        f[0] = '\0';
        if (p < len && buf[p] == '"') {
            p++;
            for (;;) {
                if (p >= len) {
                    r->bad = T_IMP_QUOTE_OPEN;
                    break;
                }
                char c = buf[p++];
                if (c == '"' && p < len && buf[p] == '"') {
                    p++;
                } else if (c == '"') {
                    break;
                } else if (c == '\r' && p < len && buf[p] == '\n') {
                    continue; /* CRLF in a quoted field: keep the LF */
                }
                if (c == '\n')
                    (*line)++;
                if (!field_put(&f, &n, &cap, c)) {
                    free(f);
                    *oom = true;
                    return false;
                }
            }
            /* after the closing quote: `;`, the end of the line or nothing */
            if (p < len && buf[p] != ';' && buf[p] != '\r' && buf[p] != '\n' && r->bad == T__COUNT)
                r->bad = T_IMP_QUOTE_STRAY;
            while (p < len && buf[p] != ';' && buf[p] != '\r' && buf[p] != '\n')
                p++;
        } else {
            while (p < len && buf[p] != ';' && buf[p] != '\r' && buf[p] != '\n') {
                if (!field_put(&f, &n, &cap, buf[p++])) {
                    free(f);
                    *oom = true;
                    return false;
                }
            }
        }
        if (r->n < IMPORT_MAX_FIELDS) {
            r->f[r->n++] = f;
        } else {
            r->too_many = true;
            free(f);
        }
        if (p < len && buf[p] == ';') {
            p++;
            continue;
        }
        break;
    }
    if (p < len && buf[p] == '\r')
        p++;
    if (p < len && buf[p] == '\n')
        p++;
    (*line)++;
    *pos = p;
    return true;
}

/* ------------------------------------------------------------- values */

/* @p s without surrounding spaces, tabs and no-break spaces (in place). */
static char *trim(char *s)
{
    for (;;) {
        if (*s == ' ' || *s == '\t')
            s++;
        else if ((unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0)
            s += 2;
        else
            break;
    }
    size_t n = strlen(s);
    for (;;) {
        if (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        else if (n > 1 && (unsigned char)s[n - 2] == 0xC2 && (unsigned char)s[n - 1] == 0xA0)
            n -= 2;
        else
            break;
    }
    s[n] = '\0';
    return s;
}

/* A Dutch number: `41,5`, `-3`, `1.234,5`, `44%`. False if not one; then
 * *dot_decimal says it would have been a number with a decimal point. */
static bool parse_number(const char *s, double *out, bool *dot_decimal)
{
    char buf[80];
    size_t n = 0, digits = 0, group = 0;
    bool dots = false, bad_group = false, comma = false;
    const char *p = s;
    *dot_decimal = false;
    if (*p == '-' || *p == '+')
        buf[n++] = *p++;
    while ((isdigit((unsigned char)*p) || *p == '.') && n < 40) {
        if (*p == '.') {
            if (digits == 0 || (dots && group != 3) || (!dots && group > 3))
                bad_group = true;
            dots = true;
            group = 0;
        } else {
            buf[n++] = *p;
            digits++;
            group++;
        }
        p++;
    }
    if (dots && group != 3)
        bad_group = true;
    if (digits == 0)
        return false;
    if (*p == ',') {
        comma = true;
        buf[n++] = '.';
        p++;
        size_t frac = 0;
        while (isdigit((unsigned char)*p) && n < 78) {
            buf[n++] = *p++;
            frac++;
        }
        if (frac == 0)
            return false;
    }
    while (*p == ' ' || ((unsigned char)p[0] == 0xC2 && (unsigned char)p[1] == 0xA0))
        p += *p == ' ' ? 1 : 2;
    if (*p == '%')
        p++;
    if (*p)
        return false;
    if (bad_group) {
        *dot_decimal = !comma;
        return false;
    }
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out);
}

enum date_result { DATE_OK, DATE_BAD, DATE_SHORT_YEAR, DATE_NOT_REAL };

static size_t take_digits(const char *s, size_t max, int *v)
{
    size_t n = 0;
    *v = 0;
    while (n < max + 1 && isdigit((unsigned char)s[n]))
        *v = *v * 10 + (s[n++] - '0');
    return n;
}

/* `31-12-2025`, `1-7-2025`, `31/12/2025` or `2025-12-31` as ISO. */
static enum date_result parse_date(const char *s, char iso[11])
{
    int a, b, c;
    size_t na = take_digits(s, 4, &a);
    char sep = s[na];
    if (na == 0 || (sep != '-' && sep != '/' && sep != '.'))
        return DATE_BAD;
    size_t nb = take_digits(s + na + 1, 2, &b);
    if (nb == 0 || nb > 2 || s[na + 1 + nb] != sep)
        return DATE_BAD;
    const char *t = s + na + 1 + nb + 1;
    size_t nc = take_digits(t, 4, &c);
    if (nc == 0 || t[nc] != '\0')
        return DATE_BAD;
    int y, m, d;
    if (na == 4 && sep == '-' && nc <= 2) {
        y = a, m = b, d = c; /* ISO */
        if (nb != 2 || nc != 2)
            return DATE_BAD;
    } else if (na <= 2 && nc == 4) {
        d = a, m = b, y = c;
    } else if (na <= 2 && nc == 2) {
        return DATE_SHORT_YEAR;
    } else {
        return DATE_BAD;
    }
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1000 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] ||
        (m == 2 && d == 29 && !leap))
        return DATE_NOT_REAL;
    char out[40];
    snprintf(out, sizeof(out), "%04d-%02d-%02d", y, m, d);
    memcpy(iso, out, 11);
    return DATE_OK;
}

/* ------------------------------------------------------------- checking */

static bool header_word(const char *word, enum col *c)
{
    for (int i = 0; i < COL__COUNT; i++)
        for (size_t j = 0; columns[i].names[j]; j++)
            if (strcasecmp(word, columns[i].names[j]) == 0) {
                *c = (enum col)i;
                return true;
            }
    return false;
}

static bool take_header(struct import *im, struct record *r)
{
    struct cli *cli = im->cli;
    size_t before = im->nerrors;
    for (int i = 0; i < COL__COUNT; i++) {
        im->col_of[i] = -1;
        im->col_name[i] = columns[i].names[0];
    }
    if (r->bad != T__COUNT || r->too_many)
        line_error(im, r->line, "%s", tr(cli, r->too_many ? T_IMP_TOO_MANY_FIELDS : r->bad));
    for (size_t i = 0; i < r->n; i++) {
        im->header[i] = r->f[i];
        char *w = trim(r->f[i]);
        enum col c;
        char s[SHOW_MAX * 4 + 8];
        shown(w, s, sizeof(s));
        if (!header_word(w, &c))
            line_error(im, r->line, "%s '%s': %s", tr(cli, T_IMP_UNKNOWN_COLUMN), s,
                       tr(cli, T_IMP_KNOWN_COLUMNS));
        else if (im->col_of[c] >= 0)
            line_error(im, r->line, "%s: '%s'", tr(cli, T_IMP_COLUMN_TWICE), s);
        else {
            im->col_of[c] = (int)i;
            im->col_name[c] = w;
        }
    }
    im->nheader = r->n;
    r->n = 0; /* the header's strings are im's now */
    for (int c = COL_DATE; c <= COL_VALUE; c++)
        if (im->col_of[c] < 0 && im->nerrors == before)
            line_error(im, r->line, "%s: %s", tr(cli, T_IMP_NEED_COLUMN), columns[c].names[0]);
    if (im->col_of[COL_INDICATOR] < 0 && !im->indicator && im->nerrors == before)
        line_error(im, r->line, "%s", tr(cli, T_IMP_NO_INDICATOR));
    return im->nerrors == before;
}

/* The cell of column @p c in @p r, trimmed; "" if absent. */
static char *cell(struct import *im, struct record *r, enum col c)
{
    static char empty[1];
    int i = im->col_of[c];
    empty[0] = '\0';
    return i >= 0 && (size_t)i < r->n ? trim(r->f[i]) : empty;
}

static bool record_blank(const struct record *r)
{
    for (size_t i = 0; i < r->n; i++)
        for (const char *p = r->f[i]; *p; p++)
            if (*p != ' ' && *p != '\t')
                return false;
    return true;
}

/* The schema's limit on a text column, checked here to say it in Dutch. */
static bool text_ok(struct import *im, struct record *r, enum col c, const char *text)
{
    const struct tafel_field *f =
        tafel_schema_field(tafel_schema_kind(TAFEL_KIND_METING), columns[c].field);
    size_t cps = 0;
    for (const char *p = text; *p; p++)
        cps += ((unsigned char)*p & 0xC0) != 0x80;
    if (f && f->max_len > 0 && (int64_t)cps > f->max_len) {
        char s[SHOW_MAX * 4 + 8];
        shown(text, s, sizeof(s));
        line_error(im, r->line, "'%s' %s, %s %lld %s (%s %s)", s, tr(im->cli, T_IMP_TOO_LONG),
                   tr(im->cli, T_IMP_AT_MOST), (long long)f->max_len, tr(im->cli, T_IMP_CHARS),
                   tr(im->cli, T_IMP_COLUMN), im->col_name[c]);
        return false;
    }
    return true;
}

/* The meting of one data record; NULL with the error(s) printed. */
static json_t *record_doc(struct import *im, struct record *r)
{
    struct cli *cli = im->cli;
    size_t before = im->nerrors;
    if (r->bad != T__COUNT) {
        line_error(im, r->line, "%s", tr(cli, r->bad));
        return NULL;
    }
    if (r->too_many || r->n > im->nheader) {
        line_error(im, r->line, "%s", tr(cli, T_IMP_TOO_MANY_FIELDS));
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++)
        if (!utf8_valid(r->f[i])) {
            line_error(im, r->line, "%s", tr(cli, T_IMP_NOT_UTF8));
            return NULL;
        }
    json_t *doc = json_object();
    if (!doc)
        return NULL;
    /* indicator */
    const char *ind = cell(im, r, COL_INDICATOR);
    if (!*ind)
        ind = im->indicator;
    if (!ind)
        line_error(im, r->line, "%s", tr(cli, T_IMP_NO_INDICATOR));
    else
        json_object_set_new(doc, "indicator", json_string(ind));
    /* date */
    const char *date = cell(im, r, COL_DATE);
    char iso[11];
    enum date_result dr = *date ? parse_date(date, iso) : DATE_BAD;
    if (!*date)
        line_error(im, r->line, "%s (%s %s)", tr(cli, T_IMP_EMPTY), tr(cli, T_IMP_COLUMN),
                   im->col_name[COL_DATE]);
    else if (dr == DATE_OK)
        json_object_set_new(doc, "date", json_string(iso));
    else
        cell_error(im, r->line, COL_DATE, date,
                   dr == DATE_NOT_REAL ? T_IMP_NOT_REAL_DATE : T_IMP_NOT_DATE,
                   dr == DATE_SHORT_YEAR ? T_IMP_SHORT_YEAR : T_IMP_DATE_FORMS);
    /* value */
    const char *value = cell(im, r, COL_VALUE);
    double v = 0;
    bool dot = false;
    const struct tafel_field *vf =
        tafel_schema_field(tafel_schema_kind(TAFEL_KIND_METING), "value");
    if (!*value)
        line_error(im, r->line, "%s (%s %s)", tr(cli, T_IMP_EMPTY), tr(cli, T_IMP_COLUMN),
                   im->col_name[COL_VALUE]);
    else if (!parse_number(value, &v, &dot))
        cell_error(im, r->line, COL_VALUE, value, T_IMP_NOT_NUMBER,
                   dot ? T_IMP_USE_COMMA : T__COUNT);
    else if (vf && (v < vf->min || v > vf->max))
        cell_error(im, r->line, COL_VALUE, value, T_IMP_OUT_OF_RANGE, T__COUNT);
    else if (v == floor(v) && fabs(v) <= (double)TAFEL_INT_MAX)
        json_object_set_new(doc, "value", json_integer((json_int_t)v));
    else
        json_object_set_new(doc, "value", json_real(v));
    /* source, note: optional text */
    for (enum col c = COL_SOURCE; c <= COL_NOTE; c++) {
        const char *t = cell(im, r, c);
        if (*t && text_ok(im, r, c, t))
            json_object_set_new(doc, columns[c].field, json_string(t));
    }
    if (im->nerrors == before) {
        /* What tafeld will check, checked now (an opgave is added later). */
        struct tafel_errinfo info;
        json_object_set_new(doc, "opgave", json_string("x"));
        if (tafel_schema_validate(TAFEL_KIND_METING, doc, TAFEL_V_CREATE, &info) != TAFEL_E_OK)
            line_error(im, r->line, "%s: %s", tr(cli, T_BAD_VALUE), info.message);
        json_object_del(doc, "opgave");
    }
    if (im->nerrors != before) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* Parse and check the whole file into im->docs. */
static enum cli_exit check_file(struct import *im, char *buf, size_t len)
{
    size_t pos = 0, line = 1;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    struct record r;
    bool oom = false, header = false;
    size_t cap = 0;
    while (next_record(buf, len, &pos, &line, &r, &oom)) {
        if (record_blank(&r) && r.bad == T__COUNT) {
            record_free(&r);
            continue;
        }
        if (!header) {
            header = true;
            bool ok = take_header(im, &r);
            record_free(&r);
            if (!ok)
                return bad_lines(im, CLI_EXIT_USAGE);
            continue;
        }
        json_t *doc = record_doc(im, &r);
        size_t at = r.line;
        record_free(&r);
        if (!doc)
            continue;
        size_t n = json_array_size(im->docs);
        if (n == IMPORT_MAX_ROWS) {
            json_decref(doc);
            char d[64];
            snprintf(d, sizeof(d), "> %d", IMPORT_MAX_ROWS);
            return cli_fail(im->cli, CLI_EXIT_USAGE, tr(im->cli, T_IMP_TOO_MANY_ROWS), d,
                            T_HINT_IMP_SPLIT);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            size_t *nl = realloc(im->lines, cap * sizeof(*nl));
            if (!nl) {
                json_decref(doc);
                return cli_fail(im->cli, CLI_EXIT_OTHER, tr(im->cli, T_OUT_OF_MEMORY), NULL,
                                T__COUNT);
            }
            im->lines = nl;
        }
        im->lines[n] = at;
        json_array_append_new(im->docs, doc);
    }
    if (oom)
        return cli_fail(im->cli, CLI_EXIT_OTHER, tr(im->cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    if (im->nerrors)
        return bad_lines(im, CLI_EXIT_USAGE);
    if (json_array_size(im->docs) == 0)
        return cli_fail(im->cli, CLI_EXIT_USAGE, tr(im->cli, T_IMP_EMPTY_FILE), NULL,
                        T_HINT_IMP_FIX);
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------ before the puts */

/* May this key create metingen in @p opgave? (The server decides again.) */
static bool may_create(const struct cli *cli, const char *opgave)
{
    enum tafel_role role;
    if (!tafel_role_from_name(member_str(cli->me, "role"), &role) ||
        tafel_schema_perm(TAFEL_KIND_METING, role, TAFEL_ACT_CREATE) == TAFEL_PERM_NO)
        return false;
    const json_t *scope = json_object_get(cli->me, "opgaven");
    if (json_is_string(scope))
        return strcmp(json_string_value(scope), "*") == 0;
    size_t i;
    const json_t *o;
    json_array_foreach(scope, i, o)
    {
        if (json_is_string(o) && strcmp(json_string_value(o), opgave) == 0)
            return true;
    }
    return false;
}

/* Read every indicator the lines name, give each doc its opgave, check the
 * permission and refuse repeated measurements. */
static enum cli_exit check_server(struct import *im)
{
    struct cli *cli = im->cli;
    json_t *opgave_of = json_object(); /* indicator id -> opgave id, or null if unknown */
    json_t *seen = json_object();      /* "indicator date" -> line or existing id */
    enum cli_exit rc = opgave_of && seen ? CLI_EXIT_OK : CLI_EXIT_OTHER;
    enum cli_exit line_rc = CLI_EXIT_OK;
    size_t i;
    json_t *doc;
    json_array_foreach(im->docs, i, doc)
    {
        if (rc != CLI_EXIT_OK)
            break;
        const char *ind = member_str(doc, "indicator");
        json_t *known = json_object_get(opgave_of, ind);
        if (!known) {
            json_t *indicator = NULL;
            rc = cli_get(cli, "indicator", ind, &indicator);
            if (rc == CLI_EXIT_NOT_FOUND && !im->indicator) {
                /* from the file: one line per bad id, like any bad line */
                cli_clear_error(cli);
                rc = CLI_EXIT_OK;
                line_rc = CLI_EXIT_NOT_FOUND;
            }
            if (rc != CLI_EXIT_OK) {
                json_decref(indicator);
                break;
            }
            known = indicator ? json_incref(json_object_get(indicator, "opgave")) : json_null();
            json_object_set_new(opgave_of, ind, known);
            json_decref(indicator);
            if (json_is_string(known) && !may_create(cli, json_string_value(known))) {
                char d[200];
                snprintf(d, sizeof(d), "meting create (opgave %s)", json_string_value(known));
                rc = cli_fail(cli, CLI_EXIT_PERMISSION, cli_exit_text(cli, CLI_EXIT_PERMISSION), d,
                              T_HINT_FORBIDDEN);
                break;
            }
        }
        if (!json_is_string(known)) {
            char s[SHOW_MAX * 4 + 8];
            shown(ind, s, sizeof(s));
            line_error(im, im->lines[i], "%s '%s' %s", "indicator", s, tr(cli, T_IMP_NOT_FOUND));
            continue;
        }
        json_object_set(doc, "opgave", known);
    }
    /* Measurements of the same indicator on the same date: in the file... */
    const char *opgave;
    json_t *unused;
    json_array_foreach(im->docs, i, doc)
    {
        if (rc != CLI_EXIT_OK || !json_object_get(doc, "opgave"))
            continue;
        char k[200];
        snprintf(k, sizeof(k), "%s %s", member_str(doc, "indicator"), member_str(doc, "date"));
        const json_t *first = json_object_get(seen, k);
        if (first) {
            line_error(im, im->lines[i], "%s (%s %s %lld)", tr(cli, T_IMP_DUPLICATE),
                       tr(cli, T_IMP_SEE), tr(cli, T_IMP_LINE),
                       (long long)json_integer_value(first));
            line_rc = line_rc == CLI_EXIT_OK ? CLI_EXIT_USAGE : line_rc;
        } else {
            json_object_set_new(seen, k, json_integer((json_int_t)im->lines[i]));
        }
    }
    /* ... and already in Tafel (so an import run twice is refused). */
    json_t *opgaven = json_object();
    json_object_foreach(opgave_of, opgave, unused)
    {
        if (json_is_string(unused))
            json_object_set_new(opgaven, json_string_value(unused), json_true());
    }
    json_t *existing = json_object();
    json_object_foreach(opgaven, opgave, unused)
    {
        json_t *docs = NULL;
        if (rc == CLI_EXIT_OK)
            rc = cli_list(cli, "meting", opgave, &docs, NULL);
        size_t j;
        json_t *m;
        json_array_foreach(docs, j, m)
        {
            char k[200];
            snprintf(k, sizeof(k), "%s %s", member_str(m, "indicator"), member_str(m, "date"));
            json_object_set_new(existing, k, json_string(member_str(m, "id")));
        }
        json_decref(docs);
    }
    json_array_foreach(im->docs, i, doc)
    {
        if (rc != CLI_EXIT_OK || !json_object_get(doc, "opgave"))
            continue;
        char k[200], d[11];
        snprintf(k, sizeof(k), "%s %s", member_str(doc, "indicator"), member_str(doc, "date"));
        const char *id = json_string_value(json_object_get(existing, k));
        if (!id)
            continue;
        const char *iso = member_str(doc, "date");
        snprintf(d, sizeof(d), "%.2s-%.2s-%.4s", iso + 8, iso + 5, iso);
        line_error(im, im->lines[i], "%s %s (meting %s): %s", tr(cli, T_IMP_EXISTS), d, id,
                   tr(cli, T_IMP_EXISTS_HINT));
        line_rc = line_rc == CLI_EXIT_OK ? CLI_EXIT_CONFLICT : line_rc;
    }
    json_decref(existing);
    json_decref(opgaven);
    json_decref(opgave_of);
    json_decref(seen);
    if (rc == CLI_EXIT_OK && im->nerrors)
        rc = bad_lines(im, line_rc);
    return rc;
}

/* ---------------------------------------------------------------- puts */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* cli_request(), waiting out `rate_limited` (the per-key write rate) for up
 * to @p patience_ms. */
static enum cli_exit request_patiently(struct cli *cli, json_t *msg, json_t **reply,
                                       int patience_ms)
{
    int64_t until = now_ms() + patience_ms;
    for (;;) {
        enum cli_exit rc = cli_request(cli, msg, reply);
        const char *code = json_string_value(json_object_get(*reply, "code"));
        if (rc == CLI_EXIT_OK || !code || strcmp(code, "rate_limited") != 0 || now_ms() >= until)
            return rc;
        json_decref(*reply);
        *reply = NULL;
        json_object_del(msg, "req");
        cli_clear_error(cli);
        sleep_ms(RETRY_SLEEP_MS);
    }
}

/* Delete what this run created, newest first; false if any stayed. */
static bool roll_back(struct cli *cli, json_t *created)
{
    bool all = true;
    char *saved = cli->error ? strdup(cli->error) : NULL;
    enum cli_exit saved_code = cli->error_code;
    for (size_t i = json_array_size(created); i-- > 0;) {
        const json_t *d = json_array_get(created, i);
        json_t *msg = json_pack("{ss ss ss sO}", "type", "delete", "kind", "meting", "id",
                                member_str(d, "id"), "rev", json_object_get(d, "rev"));
        json_t *reply = NULL;
        cli_clear_error(cli);
        /* A rollback is worth waiting for: up to a minute of write rate. */
        enum cli_exit rc = msg ? request_patiently(cli, msg, &reply, 60000) : CLI_EXIT_OTHER;
        if (rc != CLI_EXIT_OK) {
            all = false;
            fflush(stdout);
            fprintf(stderr, "tafel: %s: meting %s\n", tr(cli, T_IMP_LEFT_BEHIND),
                    member_str(d, "id"));
        }
        json_decref(msg);
        json_decref(reply);
    }
    cli_clear_error(cli);
    cli->error = saved;
    cli->error_code = saved_code;
    return all;
}

static enum cli_exit put_all(struct import *im, json_t *created)
{
    struct cli *cli = im->cli;
    size_t i;
    json_t *doc;
    json_array_foreach(im->docs, i, doc)
    {
        json_t *msg = json_pack("{ss ss sO}", "type", "put", "kind", "meting", "doc", doc);
        json_t *reply = NULL;
        enum cli_exit rc =
            msg ? request_patiently(cli, msg, &reply, cli->timeout_ms)
                : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
        const json_t *stored = json_object_get(reply, "doc");
        if (rc == CLI_EXIT_OK)
            json_array_append_new(created, json_pack("{sO sO}", "id", json_object_get(stored, "id"),
                                                     "rev", json_object_get(stored, "rev")));
        json_decref(msg);
        json_decref(reply);
        if (rc != CLI_EXIT_OK) {
            /* The server's own error first, then what became of the rest. */
            fflush(stdout);
            const char *why = cli->error ? cli->error : "tafel: ?";
            fprintf(stderr, "tafel: %s %zu: %s\n", tr(cli, T_IMP_LINE), im->lines[i],
                    strncmp(why, "tafel: ", 7) == 0 ? why + 7 : why);
            bool clean = roll_back(cli, created);
            size_t n = json_array_size(created);
            cli_clear_error(cli);
            char detail[200];
            snprintf(detail, sizeof(detail), "%zu %s", n,
                     tr(cli, clean ? T_IMP_ROLLED_BACK : T_IMP_NOT_ROLLED_BACK));
            return cli_fail(cli, rc, tr(cli, clean ? T_IMP_NOTHING : T_IMP_HALF), detail,
                            clean ? T__COUNT : T_HINT_IMP_LEFT);
        }
    }
    return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

static void import_free(struct import *im)
{
    for (size_t i = 0; i < im->nheader; i++)
        free(im->header[i]);
    json_decref(im->docs);
    free(im->lines);
}

enum cli_exit cmd_meting_import(struct cli *cli, struct cli_args *a)
{
    static const char usage[] = "tafel meting import FILE [--indicator ID] [--dry-run]";
    if (strcmp(a->pos[1], "import") != 0) /* main.c sends only non-verbs here */
        return cli_usage(cli, T_UNKNOWN_COMMAND, "%s %s", a->pos[0], a->pos[1]);
    bool twice = false, bad = false;
    const char *indicator = cli_opt(cli, a, "indicator", &twice);
    bool dry = cli_flag(cli, a, "dry-run", &bad);
    if (twice || bad)
        return CLI_EXIT_USAGE;
    const struct cli_opt *unknown = cli_opt_unused(a);
    if (unknown)
        return cli_usage(cli, T_UNKNOWN_OPTION, "--%s (%s)", unknown->name, usage);
    if (a->npos != 3)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "%s", usage);
    if (indicator && !*indicator)
        return cli_usage(cli, T_NEEDS_VALUE, "--indicator");

    struct import im;
    memset(&im, 0, sizeof(im));
    im.cli = cli;
    im.indicator = indicator;
    im.docs = json_array();
    char *buf = NULL;
    size_t len = 0;
    enum cli_exit rc =
        im.docs ? read_all(cli, a->pos[2], &buf, &len)
                : cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
    if (rc == CLI_EXIT_OK)
        rc = check_file(&im, buf, len);
    free(buf);
    /* --indicator ID that does not exist is the command's one error. */
    if (rc == CLI_EXIT_OK)
        rc = cli_connect(cli);
    if (rc == CLI_EXIT_OK)
        rc = check_server(&im);
    json_t *created = json_array();
    if (rc == CLI_EXIT_OK && !dry)
        rc = created ? put_all(&im, created) : CLI_EXIT_OTHER;
    if (rc == CLI_EXIT_OK) {
        size_t n = json_array_size(im.docs);
        json_t *ids = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(created, i, d)
        {
            json_array_append(ids, json_object_get(d, "id"));
        }
        if (cli->json) {
            json_t *out =
                json_pack("{sI sI sb so}", "checked", (json_int_t)n, "imported",
                          (json_int_t)json_array_size(created), "dry_run", dry, "ids", ids);
            out_json(out);
            json_decref(out);
        } else {
            printf("%zu %s\n", n, tr(cli, dry ? T_IMP_CHECKED : T_IMP_IMPORTED));
            json_decref(ids);
        }
    }
    json_decref(created);
    import_free(&im);
    return rc;
}
