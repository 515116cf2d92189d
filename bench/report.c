/*
 * report.c - what tafel-bench prints: latency histograms, the median of
 * several runs, targets met or missed, and the machine the figures come from.
 *
 * A figure without its command line and machine is not one a user can
 * trust or repeat, so both are printed with every result, in the table and
 * in the JSON. A missed target is reported, not treated as a failure: the
 * tool fails only when the measurement itself is invalid (lost events,
 * error replies, a server that died).
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------ histogram */

/* Values below 2^SUB_BITS get a bucket each; above, each power of two is
 * split into 2^(SUB_BITS-1) buckets, so a bucket is at most 1/128 wide
 * relative to its value. */
#define SUB_BITS 8
#define SUB_HALF (1 << (SUB_BITS - 1))
#define NBUCKETS ((1 << SUB_BITS) + (64 - SUB_BITS) * SUB_HALF)

static size_t bucket_of(uint64_t v)
{
    if (v < (1u << SUB_BITS))
        return (size_t)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - (SUB_BITS - 1);
    uint64_t top = v >> shift;
    return (1u << SUB_BITS) + (size_t)(shift - 1) * SUB_HALF + (size_t)(top - SUB_HALF);
}

static uint64_t bucket_upper(size_t i)
{
    if (i < (1u << SUB_BITS))
        return i;
    size_t k = i - (1u << SUB_BITS);
    int shift = (int)(k / SUB_HALF) + 1;
    uint64_t top = k % SUB_HALF + SUB_HALF;
    return ((top + 1) << shift) - 1;
}

int bench_hist_init(struct bench_hist *h)
{
    h->bucket = calloc(NBUCKETS, sizeof(*h->bucket));
    h->count = 0;
    h->max = 0;
    return h->bucket ? 0 : -1;
}

void bench_hist_free(struct bench_hist *h)
{
    free(h->bucket);
    h->bucket = NULL;
}

void bench_hist_add(struct bench_hist *h, int64_t ns)
{
    uint64_t v = ns < 0 ? 0 : (uint64_t)ns;
    h->bucket[bucket_of(v)]++;
    h->count++;
    if (ns > h->max)
        h->max = ns;
}

int64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)h->count), seen = 0;
    if (rank == 0)
        rank = 1;
    for (size_t i = 0; i < NBUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            uint64_t up = bucket_upper(i);
            return up > (uint64_t)h->max ? h->max : (int64_t)up;
        }
    }
    return h->max;
}

/* -------------------------------------------------------------- figures */

void bench_fig(struct bench_run *r, const char *name, const char *unit, double value,
               enum bench_cmp cmp, double target)
{
    if (r->nfig >= BENCH_MAX_FIGS)
        return;
    r->fig[r->nfig++] = (struct bench_fig){name, unit, value, cmp, target};
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One figure over the runs that produced it. */
struct summary {
    const struct bench_fig *first;
    double vals[64];
    size_t n;
    double median, min, max;
};

static void summarise(const char *name, const struct bench_run *runs, size_t nruns,
                      struct summary *s)
{
    memset(s, 0, sizeof(*s));
    for (size_t r = 0; r < nruns && s->n < 64; r++)
        for (size_t i = 0; i < runs[r].nfig; i++)
            if (strcmp(runs[r].fig[i].name, name) == 0) {
                if (!s->first)
                    s->first = &runs[r].fig[i];
                s->vals[s->n++] = runs[r].fig[i].value;
                break;
            }
    if (!s->n)
        return;
    double sorted[64];
    memcpy(sorted, s->vals, s->n * sizeof(double));
    qsort(sorted, s->n, sizeof(double), cmp_double);
    s->min = sorted[0];
    s->max = sorted[s->n - 1];
    s->median = s->n % 2 ? sorted[s->n / 2] : (sorted[s->n / 2 - 1] + sorted[s->n / 2]) / 2.0;
}

static bool met(const struct summary *s)
{
    return s->first->cmp == BENCH_AT_MOST ? s->median <= s->first->target
                                          : s->median >= s->first->target;
}

/* ------------------------------------------------------------- machine */

struct machine {
    long cores;
    long long mem_kib;
    char cpu[128];
    char kernel[256];
    char date[32];
    double load1; /* the 1-minute load average: other work on the machine */
};

static void machine_info(struct machine *m)
{
    memset(m, 0, sizeof(*m));
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    char line[256];
    FILE *f = fopen("/proc/meminfo", "r");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %lld kB", &m->mem_kib) == 1)
            break;
    if (f)
        fclose(f);
    f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(m->cpu, sizeof(m->cpu), "%s", colon + 2);
            m->cpu[strcspn(m->cpu, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
    f = fopen("/proc/loadavg", "r");
    if (!f || fscanf(f, "%lf", &m->load1) != 1)
        m->load1 = -1;
    if (f)
        fclose(f);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname, u.release, u.machine);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(m->date, sizeof(m->date), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void command_line(int argc, char **argv, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < argc && len < outlen; i++) {
        /* Never print a key given on the command line. */
        bool secret = i > 0 && strcmp(argv[i - 1], "--key") == 0;
        int n =
            snprintf(out + len, outlen - len, "%s%s", i ? " " : "", secret ? "tafel_..." : argv[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* ------------------------------------------------------------- printing */

/* The distinct figure names over every run, in first-seen order. */
static size_t figure_names(const struct bench_run *runs, size_t nruns, const char **names,
                           size_t max)
{
    size_t n = 0;
    for (size_t r = 0; r < nruns; r++)
        for (size_t i = 0; i < runs[r].nfig; i++) {
            size_t k = 0;
            while (k < n && strcmp(names[k], runs[r].fig[i].name) != 0)
                k++;
            if (k == n && n < max)
                names[n++] = runs[r].fig[i].name;
        }
    return n;
}

static void report_json(const char *scenario, const char *cmd, const struct machine *m,
                        const json_t *options, const struct bench_run *runs, size_t nruns,
                        const json_t *errors)
{
    json_t *figs = json_array();
    const char *names[BENCH_MAX_FIGS * 2];
    size_t nn = figure_names(runs, nruns, names, BENCH_MAX_FIGS * 2);
    for (size_t k = 0; k < nn; k++) {
        struct summary s;
        summarise(names[k], runs, nruns, &s);
        json_t *vals = json_array();
        for (size_t i = 0; i < s.n; i++)
            json_array_append_new(vals, json_real(s.vals[i]));
        json_t *f = json_pack("{s:s,s:s,s:f,s:f,s:f,s:o}", "name", names[k], "unit", s.first->unit,
                              "median", s.median, "min", s.min, "max", s.max, "values", vals);
        if (f && s.first->cmp != BENCH_NO_TARGET) {
            json_object_set_new(f, "target", json_real(s.first->target));
            json_object_set_new(f, "cmp", json_string(s.first->cmp == BENCH_AT_MOST ? "<=" : ">="));
            json_object_set_new(f, "met", json_boolean(met(&s)));
        }
        json_array_append_new(figs, f);
    }
    json_t *notes = json_array();
    for (size_t r = 0; r < nruns; r++)
        if (runs[r].note[0])
            json_array_append_new(notes, json_string(runs[r].note));
    json_t *out =
        json_pack("{s:s,s:s,s:{s:I,s:I,s:s,s:s,s:s,s:f},s:O,s:I,s:o,s:o,s:O,s:b}", "scenario",
                  scenario, "command", cmd, "machine", "cores", (json_int_t)m->cores, "mem_kib",
                  (json_int_t)m->mem_kib, "cpu", m->cpu, "kernel", m->kernel, "date", m->date,
                  "load1", m->load1, "options", options, "runs", (json_int_t)nruns, "figures", figs,
                  "notes", notes, "errors", errors, "ok", json_array_size(errors) == 0);
    char *text = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(out);
}

/* Spaces that fill UTF-8 @p text to @p width columns: printf pads bytes, and
 * "µs" is two columns in three bytes. */
static int pad_to(const char *text, int width)
{
    int cols = 0;
    for (const char *p = text; *p; p++)
        cols += ((unsigned char)*p & 0xC0) != 0x80; /* not a continuation byte */
    return cols < width ? width - cols : 0;
}

static void report_table(const char *scenario, const char *cmd, const struct machine *m,
                         const struct bench_run *runs, size_t nruns, const json_t *errors)
{
    printf("tafel-bench %s\n", scenario);
    printf("command:  %s\n", cmd);
    printf("machine:  %ld cores (%s), %.1f GiB memory, %s\n", m->cores, m->cpu,
           (double)m->mem_kib / (1024.0 * 1024.0), m->kernel);
    printf("date:     %s (load average %.2f at the report)\n", m->date, m->load1);
    printf("runs:     %zu (median, min and max of each figure)\n\n", nruns);
    printf("%-34s %12s %12s %12s  %-6s %-16s\n", "figure", "median", "min", "max", "unit",
           "target");
    const char *names[BENCH_MAX_FIGS * 2];
    size_t nn = figure_names(runs, nruns, names, BENCH_MAX_FIGS * 2);
    for (size_t k = 0; k < nn; k++) {
        struct summary s;
        summarise(names[k], runs, nruns, &s);
        char target[48] = "";
        if (s.first->cmp != BENCH_NO_TARGET)
            snprintf(target, sizeof(target), "%s %g  %s",
                     s.first->cmp == BENCH_AT_MOST ? "<=" : ">=", s.first->target,
                     met(&s) ? "met" : "MISSED");
        printf("%-34s %12.3f %12.3f %12.3f  %s%*s %s\n", names[k], s.median, s.min, s.max,
               s.first->unit, pad_to(s.first->unit, 6), "", target);
    }
    for (size_t r = 0; r < nruns; r++)
        if (runs[r].note[0] && (r == 0 || strcmp(runs[r].note, runs[0].note) != 0))
            printf("\nnote (run %zu): %s\n", r + 1, runs[r].note);
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e) printf("%sFAILED: %s\n", i ? "" : "\n", json_string_value(e));
    if (!json_array_size(errors))
        printf(
            "\nresult: ok (every figure measured validly; targets are reported, not enforced)\n");
}

void bench_report(const char *scenario, int argc, char **argv, const json_t *options,
                  const struct bench_run *runs, size_t nruns, const json_t *errors, bool json)
{
    struct machine m;
    machine_info(&m);
    char cmd[2048];
    command_line(argc, argv, cmd, sizeof(cmd));
    if (json)
        report_json(scenario, cmd, &m, options, runs, nruns, errors);
    else
        report_table(scenario, cmd, &m, runs, nruns, errors);
    fflush(stdout);
}
