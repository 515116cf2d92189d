/*
 * main.c - tafel-bench's command line: which scenario, at what size, how
 * many runs, against which server; then the report.
 *
 * Each run gets a fresh server on a fresh temporary data directory (unless
 * --url names a running one), so runs do not inherit each other's memory or
 * change log and the median of K runs means something. Cold start builds its
 * data directory once and starts the server K times on it.
 *
 * Exit status: 0 when every run measured validly (targets missed or not),
 * 1 when a run failed (lost events, error replies, a timeout, the server
 * died), 2 on a usage error.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static const char usage_text[] =
    "usage: tafel-bench SCENARIO [OPTIONS]\n"
    "\n"
    "Load generator for tafeld: speaks tafel.v1 to a real server on 127.0.0.1 and\n"
    "reports the median (and min, max) of several runs with the command and the\n"
    "machine. Targets are printed beside the figures (met/MISSED), not enforced.\n"
    "\n"
    "Scenarios:\n"
    "  connections  N authenticated idle connections subscribed to one opgave:\n"
    "               server memory per connection (/proc VmRSS), time to connect all\n"
    "  fanout       S subscribers, one writer at R writes/s: latency send->receipt\n"
    "               p50/p99/max, events delivered per second, nothing lost, server\n"
    "               CPU per delivery\n"
    "  writes       W writers as fast as the server acknowledges: acked writes/s,\n"
    "               ack latency, mean commit batch size (/metrics), server CPU per\n"
    "               write, CPU of its writer thread (tafel-writer) per write and as\n"
    "               % of one core\n"
    "  catchup      a subscriber reconnects with since after M changes: time until\n"
    "               it is current\n"
    "  coldstart    tafeld on a data directory of D documents: time until /healthz\n"
    "               answers (the directory is built through storage/ first)\n"
    "\n"
    "Sizes:\n"
    "  --count N          connections: how many (default 1000)\n"
    "  --concurrency N    connections: handshakes in flight at most (default 256)\n"
    "  --subscribers S    fanout: subscribers (default 100)\n"
    "  --rate R           fanout: writes per second offered (default 100)\n"
    "  --duration SECS    fanout, writes: how long to write (default 5)\n"
    "  --writers W        writes: writer connections (default 16)\n"
    "  --depth N          writes: requests in flight per writer (default 1)\n"
    "  --changes M        catchup: changes missed (default 10000)\n"
    "  --docs D           coldstart: documents (default 100000)\n"
    "  --batch N          coldstart: documents per transaction when building (default 10000)\n"
    "  --data DIR         coldstart: start on this existing data directory (not in use)\n"
    "                     instead of building one\n"
    "\n"
    "Runs and output:\n"
    "  --runs K           repeat K times, report median/min/max (default 3)\n"
    "  --json             one JSON object instead of the table\n"
    "  --timeout SECS     extra seconds on every deadline (sanitizer builds; default 0)\n"
    "\n"
    "Server:\n"
    "  --tafeld PATH      tafeld to start (default: ../server/tafeld beside this\n"
    "                     binary). Each run starts it on a fresh temporary data\n"
    "                     directory with --write-rate 0, --max-per-address and\n"
    "                     --max-connections as high as the descriptor limit (raised\n"
    "                     to the hard limit here) allows, --log-level warn, and\n"
    "                     removes the directory afterwards.\n"
    "  --url ws://IP:PORT/ws   measure a running server instead (not coldstart)\n"
    "  --key K            its beheerder key (with --url)\n"
    "  --server-pid PID   with --url: read this process's memory and CPU\n"
    "  -h, --help         this text\n"
    "\n"
    "Exit status: 0 valid measurements, 1 a run failed (lost events, error\n"
    "replies, timeout, server died), 2 usage error.\n";

enum opt_id {
    OPT_COUNT = 256,
    OPT_CONCURRENCY,
    OPT_SUBSCRIBERS,
    OPT_RATE,
    OPT_DURATION,
    OPT_WRITERS,
    OPT_DEPTH,
    OPT_CHANGES,
    OPT_DOCS,
    OPT_BATCH,
    OPT_DATA,
    OPT_RUNS,
    OPT_JSON,
    OPT_TIMEOUT,
    OPT_TAFELD,
    OPT_URL,
    OPT_KEY,
    OPT_SERVER_PID,
};

static const struct option long_opts[] = {
    {"count", required_argument, NULL, OPT_COUNT},
    {"concurrency", required_argument, NULL, OPT_CONCURRENCY},
    {"subscribers", required_argument, NULL, OPT_SUBSCRIBERS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"writers", required_argument, NULL, OPT_WRITERS},
    {"depth", required_argument, NULL, OPT_DEPTH},
    {"changes", required_argument, NULL, OPT_CHANGES},
    {"docs", required_argument, NULL, OPT_DOCS},
    {"batch", required_argument, NULL, OPT_BATCH},
    {"data", required_argument, NULL, OPT_DATA},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"json", no_argument, NULL, OPT_JSON},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"tafeld", required_argument, NULL, OPT_TAFELD},
    {"url", required_argument, NULL, OPT_URL},
    {"key", required_argument, NULL, OPT_KEY},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Numeric options: where each lands and its bounds (every count and
 * duration is bounded, so no run can be asked to go on forever). */
struct numopt {
    int id;
    long *l;
    double *d;
    double min, max;
};

static const struct scenario {
    const char *name;
    bench_scenario_fn fn;
} scenarios[] = {
    {"connections", bench_connections}, {"fanout", bench_fanout},       {"writes", bench_writes},
    {"catchup", bench_catchup},         {"coldstart", bench_coldstart},
};

static int usage_error(const char *what, const char *val)
{
    fprintf(stderr, "tafel-bench: %s%s%s\n(tafel-bench --help for usage)\n", what, val ? ": " : "",
            val ? val : "");
    return 2;
}

static int parse_number(const struct numopt *n, const char *val)
{
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || v < n->min || v > n->max || (n->l && v != (long)v))
        return -1;
    if (n->l)
        *n->l = (long)v;
    else
        *n->d = v;
    return 0;
}

/* The tafeld of our build tree: ../server/tafeld relative to this binary. */
static void default_tafeld(char *out, size_t outlen)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(out, outlen, "%s/../server/tafeld", n > 0 ? dirname(self) : ".");
}

static int parse_url(const char *url, struct bench_server *s)
{
    char host[64];
    int port, used = 0;
    if (sscanf(url, "ws://%63[0-9.]:%d%n", host, &port, &used) != 2 || port <= 0 || port > 65535 ||
        strcmp(url + used, "/ws") != 0)
        return -1;
    snprintf(s->host, sizeof(s->host), "%s", host);
    s->port = port;
    return 0;
}

static json_t *options_json(const char *scenario, const struct bench_opts *o)
{
    json_t *j = json_object();
    if (strcmp(scenario, "connections") == 0) {
        json_object_set_new(j, "count", json_integer(o->count));
        json_object_set_new(j, "concurrency", json_integer(o->concurrency));
    } else if (strcmp(scenario, "fanout") == 0) {
        json_object_set_new(j, "subscribers", json_integer(o->subscribers));
        json_object_set_new(j, "rate", json_integer(o->rate));
        json_object_set_new(j, "duration", json_real(o->duration));
    } else if (strcmp(scenario, "writes") == 0) {
        json_object_set_new(j, "writers", json_integer(o->writers));
        json_object_set_new(j, "depth", json_integer(o->depth));
        json_object_set_new(j, "duration", json_real(o->duration));
    } else if (strcmp(scenario, "catchup") == 0) {
        json_object_set_new(j, "changes", json_integer(o->changes));
    } else {
        json_object_set_new(j, "docs", json_integer(o->docs));
        json_object_set_new(j, "batch", json_integer(o->batch));
    }
    json_object_set_new(j, "server", json_string(o->url ? o->url : o->tafeld));
    return j;
}

/* Raise the soft descriptor limit to the hard one: one per connection (and
 * the server we start inherits it). */
static long raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 1024;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
    return rl.rlim_cur == RLIM_INFINITY ? LONG_MAX : (long)rl.rlim_cur;
}

/* Build (or adopt with --data) the cold-start directory once for all runs. */
static int coldstart_prepare(const struct bench_opts *o, struct bench_server *s, char *note,
                             size_t notelen, char *err, size_t errlen)
{
    if (bench_tmpdir_new(s, err, errlen) < 0)
        return -1;
    if (o->data) {
        snprintf(s->datadir, sizeof(s->datadir), "%s", o->data);
        snprintf(note, notelen, "data directory given with --data: %s", o->data);
        return 0;
    }
    if (bench_server_init(o->tafeld, s, err, errlen) < 0)
        return -1;
    int64_t t0 = bench_now_ns();
    if (bench_generate(s->datadir, (uint64_t)o->docs, (size_t)o->batch, err, errlen) < 0)
        return -1;
    double secs = (double)(bench_now_ns() - t0) / 1e9;
    snprintf(note, notelen,
             "data directory built through storage/ (tafel_store_write, %ld documents per "
             "transaction): 1 opgave + %ld reflecties in %.1f s (%.0f docs/s); page cache warm",
             o->batch, o->docs - 1, secs, (double)o->docs / secs);
    return 0;
}

/* One run against a server of our own (fresh data directory) or --url's. */
static int one_run(const struct scenario *sc, const struct bench_opts *o,
                   const struct bench_server *ext, struct bench_server *cold, struct bench_run *r,
                   char *err, size_t errlen)
{
    if (cold) {
        int rc = sc->fn(o, cold, r, err, errlen);
        return rc;
    }
    if (o->url) {
        struct bench_server s = *ext;
        return sc->fn(o, &s, r, err, errlen);
    }
    struct bench_server s;
    memset(&s, 0, sizeof(s));
    int rc = -1;
    if (bench_tmpdir_new(&s, err, errlen) == 0 &&
        bench_server_init(o->tafeld, &s, err, errlen) == 0 &&
        bench_server_start(o->tafeld, &s, NULL, 60 * BENCH_NS_PER_S + o->slack_ns, err, errlen) ==
            0)
        rc = sc->fn(o, &s, r, err, errlen);
    char stop_err[1200];
    if (bench_server_stop(&s, stop_err, sizeof(stop_err)) < 0 && rc == 0) {
        snprintf(err, errlen, "%s", stop_err);
        rc = -1;
    }
    bench_tmpdir_remove(&s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-')
        return usage_error("name a scenario first", NULL);
    const struct scenario *sc = NULL;
    for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
        if (strcmp(argv[1], scenarios[i].name) == 0)
            sc = &scenarios[i];
    if (!sc)
        return usage_error("unknown scenario", argv[1]);

    char tafeld[PATH_MAX + 32];
    default_tafeld(tafeld, sizeof(tafeld));
    struct bench_opts o = {.tafeld = tafeld,
                           .runs = 3,
                           .count = 1000,
                           .concurrency = 256,
                           .subscribers = 100,
                           .rate = 100,
                           .duration = 5,
                           .writers = 16,
                           .depth = 1,
                           .changes = 10000,
                           .docs = 100000,
                           .batch = 10000};
    long runs = 3, pid = 0;
    double timeout = 0;
    const struct numopt nums[] = {
        {OPT_COUNT, &o.count, NULL, 1, 1000000},
        {OPT_CONCURRENCY, &o.concurrency, NULL, 1, 100000},
        {OPT_SUBSCRIBERS, &o.subscribers, NULL, 1, 100000},
        {OPT_RATE, &o.rate, NULL, 1, 1000000},
        {OPT_DURATION, NULL, &o.duration, 0.1, 600},
        {OPT_WRITERS, &o.writers, NULL, 1, 10000},
        {OPT_DEPTH, &o.depth, NULL, 1, 1024},
        {OPT_CHANGES, &o.changes, NULL, 1, 10000000},
        {OPT_DOCS, &o.docs, NULL, 1, 100000000},
        {OPT_BATCH, &o.batch, NULL, 1, 1000000},
        {OPT_RUNS, &runs, NULL, 1, 64},
        {OPT_TIMEOUT, NULL, &timeout, 0, 3600},
        {OPT_SERVER_PID, &pid, NULL, 1, 4194304},
    };
    optind = 2;
    int c;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        const struct numopt *n = NULL;
        for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
            if (nums[i].id == c)
                n = &nums[i];
        if (n) {
            if (parse_number(n, optarg) < 0)
                return usage_error("number out of range or malformed", optarg);
            continue;
        }
        switch (c) {
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case OPT_DATA:
            o.data = optarg;
            break;
        case OPT_JSON:
            o.json = true;
            break;
        case OPT_TAFELD:
            o.tafeld = optarg;
            break;
        case OPT_URL:
            o.url = optarg;
            break;
        case OPT_KEY:
            o.key = optarg;
            break;
        default:
            return usage_error("unknown option", NULL);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);
    o.runs = (int)runs;
    o.server_pid = (pid_t)pid;
    o.slack_ns = (int64_t)(timeout * 1e9);

    struct bench_server ext;
    memset(&ext, 0, sizeof(ext));
    bool cold = sc->fn == bench_coldstart;
    if (o.url) {
        if (cold)
            return usage_error("coldstart starts its own tafeld; --url does not apply", NULL);
        if (!o.key || parse_url(o.url, &ext) < 0)
            return usage_error("--url wants ws://IP:PORT/ws and --key the beheerder key", o.url);
        snprintf(ext.key, sizeof(ext.key), "%s", o.key);
        ext.watch_pid = o.server_pid;
    } else if (access(o.tafeld, X_OK) != 0) {
        return usage_error("no tafeld to start (use --tafeld PATH)", o.tafeld);
    }
    long fds = raise_nofile();
    long need = (sc->fn == bench_connections ? o.count
                 : sc->fn == bench_fanout    ? o.subscribers
                 : sc->fn == bench_writes    ? o.writers
                                             : 8) +
                64;
    if (need > fds) {
        fprintf(stderr,
                "tafel-bench: %ld connections need %ld file descriptors; the hard limit "
                "is %ld (raise it with ulimit -Hn as root)\n",
                need - 64, need, fds);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    struct bench_run *results = calloc((size_t)o.runs, sizeof(*results));
    json_t *errors = json_array();
    json_t *options = options_json(sc->name, &o);
    char err[2048], note[512] = "";
    struct bench_server coldsrv;
    memset(&coldsrv, 0, sizeof(coldsrv));
    size_t done = 0;
    if (!results || !errors || !options) {
        fprintf(stderr, "tafel-bench: out of memory\n");
        return 1;
    }
    if (cold && coldstart_prepare(&o, &coldsrv, note, sizeof(note), err, sizeof(err)) < 0) {
        json_array_append_new(errors, json_string(err));
    } else {
        for (; done < (size_t)o.runs; done++) {
            err[0] = '\0';
            if (!o.json)
                fprintf(stderr, "tafel-bench: %s run %zu of %d\n", sc->name, done + 1, o.runs);
            int rc =
                one_run(sc, &o, &ext, cold ? &coldsrv : NULL, &results[done], err, sizeof(err));
            if (note[0])
                snprintf(results[done].note, sizeof(results[done].note), "%s", note);
            if (rc < 0) {
                char msg[2100];
                snprintf(msg, sizeof(msg), "run %zu: %s", done + 1, err);
                json_array_append_new(errors, json_string(msg));
                /* Not counted: a broken run's figures must not enter the median. */
                break;
            }
        }
    }
    if (cold)
        bench_tmpdir_remove(&coldsrv);
    bench_report(sc->name, argc, argv, options, results, done, errors, o.json);
    int status = json_array_size(errors) ? 1 : 0;
    json_decref(errors);
    json_decref(options);
    free(results);
    return status;
}
