/*
 * main.c - tafeld's command line: init, serve (the default), backup,
 * compact, the offline `key create` and `schema` (the table as JSON or as
 * the docs). Parses options, opens the data directory and hands over to
 * ws.c; it holds no server logic itself.
 *
 * Every command but backup and schema opens the data directory for writing
 * and so takes its lock (storage/): while another tafeld has it, they stop
 * with "data directory X is in use by tafeld (pid N)" and exit code 1.
 *
 * Exit codes: 0 success, 1 failure (message on stderr), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "retention.h"
#include "server.h"
#include "tafel_protocol.h"
#include "tafel_time.h"
#include "ws.h"

#ifndef TAFEL_WEB_DIR
#define TAFEL_WEB_DIR "web"
#endif

static const char usage_text[] =
    "usage: tafeld [COMMAND] [OPTIONS]\n"
    "\n"
    "Tafel's server: the shared state of opgaven, live over WebSocket.\n"
    "\n"
    "Commands:\n"
    "  serve                 serve HTTP and WebSocket (the default)\n"
    "  init                  create a data directory; prints the first beheerder key\n"
    "                        alone on the last line\n"
    "  backup --out PATH     consistent copy of the data directory, also while serving;\n"
    "                        it holds no byte of what was deleted\n"
    "  compact               rewrite the data directory into a fresh file of its live\n"
    "                        records, purging what deleted documents left in free\n"
    "                        space; prints the size before and after. Offline: like\n"
    "                        init and key create, refused while a tafeld serves it\n"
    "  key create --role R --label L [--opgave ID]... [--expires-in SECONDS]\n"
    "                        create an access key offline (recovery when every\n"
    "                        beheerder key is lost); prints it on the last line\n"
    "  schema --json         print the schema table as served at /schema.json\n"
    "  schema --markdown PAGE  print docs/PAGE.md written from the schema table:\n"
    "                        data-model or permissions (scripts/gen-docs.sh)\n"
    "\n"
    "One process at a time writes to a data directory: it holds the lock file\n"
    "DIR/tafeld.lock. The others stop with 'data directory DIR is in use by tafeld\n"
    "(pid N)' and exit code 1.\n"
    "\n"
    "Options:\n"
    "  --data DIR            data directory (default: data)\n"
    "  --listen HOST:PORT    address to serve on (default: 127.0.0.1:8080; port 0 picks\n"
    "                        a free one, logged as 'listening on ...')\n"
    "  --max-message BYTES   largest WebSocket message; larger closes with 1009\n"
    "                        (default: 65536)\n"
    "  --origin URL          allow browser connections from this Origin (repeatable;\n"
    "                        default: any)\n"
    "  --tls-cert FILE       serve https and wss with this certificate (PEM) ...\n"
    "  --tls-key FILE        ... and this private key\n"
    "  --max-connections N   WebSocket connections at most (default: 20000)\n"
    "  --max-per-address N   connections from one address at most (default: 1000;\n"
    "                        a town hall's Wi-Fi is one address for every phone)\n"
    "  --write-rate N        writes per second per key or participant, burst 2N;\n"
    "                        0 = no limit (default: 50)\n"
    "  --session-write-rate N  writes per second by all participants of one\n"
    "                        session together, burst 2N; 0 = no limit (default: 50)\n"
    "  --address-write-rate N  writes per second from one address, burst 2N;\n"
    "                        0 = no limit (default: 200)\n"
    "  --session-max-contributions N  reflecties one session holds at most;\n"
    "                        0 = no limit (default: 2000)\n"
    "  --session-max-bytes BYTES  what one session's participants may store: their\n"
    "                        contributions, votes and feelings, and a device\n"
    "                        record per participant; 0 = no limit (default: 16777216)\n"
    "  --max-queued-bytes BYTES  output queued to all connections together; a\n"
    "                        connection that does not read is closed (4408) when\n"
    "                        it is reached (default: 268435456)\n"
    "  --max-lag N           changes a subscriber may fall behind before it is closed\n"
    "                        with 4408 (default: 10000)\n"
    "  --retain N            change-log entries kept (older 'since' gets a snapshot);\n"
    "                        0 keeps all (default: 0)\n"
    "\n"
    "Retention (docs/privacy.md), applied at start and then every interval; every\n"
    "run leaves an audit entry 'retention' with its counts (zeros included).\n"
    "A DURATION is a number and a unit: s, m, h, d, w or y (365 days), e.g. 30d or\n"
    "1.5h; 0 turns the rule off (keeps):\n"
    "  --anonymise-after DURATION  an inwoner's name on its contributions becomes\n"
    "                        'Inwoner' this long after its session closed, in the\n"
    "                        change log too (default: 30d)\n"
    "  --delete-hidden-after DURATION  a hidden contribution is deleted this long\n"
    "                        after it was hidden (default: 30d)\n"
    "  --strip-log-after DURATION  earlier versions of documents in the change log\n"
    "                        lose their content at this age; besluiten and opgaven\n"
    "                        keep theirs by the two terms below (default: 365d)\n"
    "  --retain-besluit DURATION  the same for besluiten (default: 0, kept)\n"
    "  --retain-opgave DURATION   the same for opgaven (default: 0, kept)\n"
    "  --retain-audit DURATION    audit entries are removed at this age\n"
    "                        (default: 0, kept)\n"
    "  --retention-interval DURATION  time between runs; 0: no runs at all\n"
    "                        (default: 1h)\n"
    "\n"
    "  --web DIR             the web page's files (default: " TAFEL_WEB_DIR ")\n"
    "  --log-level LEVEL     error, warn, info or debug (default: info)\n"
    "  -h, --help            this text\n"
    "  -V, --version         version\n";

enum opt_id {
    OPT_DATA = 256,
    OPT_LISTEN,
    OPT_MAX_MESSAGE,
    OPT_ORIGIN,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_MAX_CONNECTIONS,
    OPT_MAX_PER_ADDRESS,
    OPT_WRITE_RATE,
    OPT_SESSION_WRITE_RATE,
    OPT_ADDRESS_WRITE_RATE,
    OPT_SESSION_MAX_CONTRIBUTIONS,
    OPT_SESSION_MAX_BYTES,
    OPT_MAX_QUEUED_BYTES,
    OPT_MAX_LAG,
    OPT_RETAIN,
    OPT_WEB,
    OPT_LOG_LEVEL,
    OPT_OUT,
    OPT_ROLE,
    OPT_LABEL,
    OPT_OPGAVE,
    OPT_EXPIRES_IN,
    OPT_JSON,
    OPT_MARKDOWN,
    OPT_ANONYMISE_AFTER,
    OPT_DELETE_HIDDEN_AFTER,
    OPT_STRIP_LOG_AFTER,
    OPT_RETAIN_BESLUIT,
    OPT_RETAIN_OPGAVE,
    OPT_RETAIN_AUDIT,
    OPT_RETENTION_INTERVAL,
};

static const struct option long_opts[] = {
    {"data", required_argument, NULL, OPT_DATA},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"max-message", required_argument, NULL, OPT_MAX_MESSAGE},
    {"origin", required_argument, NULL, OPT_ORIGIN},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"max-per-address", required_argument, NULL, OPT_MAX_PER_ADDRESS},
    {"write-rate", required_argument, NULL, OPT_WRITE_RATE},
    {"session-write-rate", required_argument, NULL, OPT_SESSION_WRITE_RATE},
    {"address-write-rate", required_argument, NULL, OPT_ADDRESS_WRITE_RATE},
    {"session-max-contributions", required_argument, NULL, OPT_SESSION_MAX_CONTRIBUTIONS},
    {"session-max-bytes", required_argument, NULL, OPT_SESSION_MAX_BYTES},
    {"max-queued-bytes", required_argument, NULL, OPT_MAX_QUEUED_BYTES},
    {"max-lag", required_argument, NULL, OPT_MAX_LAG},
    {"retain", required_argument, NULL, OPT_RETAIN},
    {"web", required_argument, NULL, OPT_WEB},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"out", required_argument, NULL, OPT_OUT},
    {"role", required_argument, NULL, OPT_ROLE},
    {"label", required_argument, NULL, OPT_LABEL},
    {"opgave", required_argument, NULL, OPT_OPGAVE},
    {"expires-in", required_argument, NULL, OPT_EXPIRES_IN},
    {"json", no_argument, NULL, OPT_JSON},
    {"markdown", required_argument, NULL, OPT_MARKDOWN},
    {"anonymise-after", required_argument, NULL, OPT_ANONYMISE_AFTER},
    {"delete-hidden-after", required_argument, NULL, OPT_DELETE_HIDDEN_AFTER},
    {"strip-log-after", required_argument, NULL, OPT_STRIP_LOG_AFTER},
    {"retain-besluit", required_argument, NULL, OPT_RETAIN_BESLUIT},
    {"retain-opgave", required_argument, NULL, OPT_RETAIN_OPGAVE},
    {"retain-audit", required_argument, NULL, OPT_RETAIN_AUDIT},
    {"retention-interval", required_argument, NULL, OPT_RETENTION_INTERVAL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* Everything the command line can say, for every command. */
struct args {
    struct tafel_config cfg;
    const char *out, *role, *label;
    json_t *opgaven; /* --opgave list, or NULL */
    long long expires_in;
    bool json;            /* schema --json */
    const char *markdown; /* schema --markdown PAGE */
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tafeld: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'tafeld --help'.\n");
    va_end(ap);
    return 2;
}

/* A whole number in [min, max], or false. */
static bool parse_num(const char *s, long long min, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_listen(const char *s, struct tafel_config *cfg)
{
    const char *colon = strrchr(s, ':');
    long long port;
    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(cfg->host) ||
        !parse_num(colon + 1, 0, 65535, &port))
        return false;
    memcpy(cfg->host, s, (size_t)(colon - s));
    cfg->host[colon - s] = '\0';
    cfg->port = (int)port;
    return true;
}

/* A retention term (retention.h) of option --@p name into *@p out, or a
 * usage error. */
static int parse_term(const char *name, const char *val, int64_t *out)
{
    if (tafel_duration_parse(val, false, out))
        return 0;
    return usage_error("--%s wants a duration such as 30d, 12h or 90s (0: off), not '%s'", name,
                       val);
}

static int parse_option(int opt, const char *val, struct args *a)
{
    struct tafel_config *cfg = &a->cfg;
    long long n;
    enum tafel_log_level level;
    switch (opt) {
    case OPT_DATA:
        cfg->data_dir = val;
        return 0;
    case OPT_LISTEN:
        return parse_listen(val, cfg) ? 0 : usage_error("--listen wants HOST:PORT, not '%s'", val);
    case OPT_MAX_MESSAGE:
        if (!parse_num(val, 1024, 16 * 1024 * 1024, &n))
            return usage_error("--max-message wants 1024..16777216 bytes, not '%s'", val);
        cfg->max_message = (size_t)n;
        return 0;
    case OPT_ORIGIN:
        if (cfg->norigins == TAFEL_MAX_ORIGINS)
            return usage_error("at most 16 --origin, '%s' is one too many", val);
        cfg->origins[cfg->norigins++] = val;
        return 0;
    case OPT_TLS_CERT:
        cfg->tls_cert = val;
        return 0;
    case OPT_TLS_KEY:
        cfg->tls_key = val;
        return 0;
    case OPT_MAX_CONNECTIONS:
        if (!parse_num(val, 1, 1000000, &n))
            return usage_error("--max-connections wants 1..1000000, not '%s'", val);
        cfg->max_connections = (unsigned)n;
        return 0;
    case OPT_MAX_PER_ADDRESS:
        if (!parse_num(val, 1, 1000000, &n))
            return usage_error("--max-per-address wants 1..1000000, not '%s'", val);
        cfg->max_per_address = (unsigned)n;
        return 0;
    case OPT_WRITE_RATE:
        if (!parse_num(val, 0, 1000000, &n))
            return usage_error("--write-rate wants 0..1000000, not '%s'", val);
        cfg->write_rate = (double)n;
        return 0;
    case OPT_SESSION_WRITE_RATE:
        if (!parse_num(val, 0, 1000000, &n))
            return usage_error("--session-write-rate wants 0..1000000, not '%s'", val);
        cfg->session_write_rate = (double)n;
        return 0;
    case OPT_ADDRESS_WRITE_RATE:
        if (!parse_num(val, 0, 1000000, &n))
            return usage_error("--address-write-rate wants 0..1000000, not '%s'", val);
        cfg->address_write_rate = (double)n;
        return 0;
    case OPT_SESSION_MAX_CONTRIBUTIONS:
        if (!parse_num(val, 0, 1000000000, &n))
            return usage_error("--session-max-contributions wants 0..1000000000, not '%s'", val);
        cfg->session_max_contributions = (uint64_t)n;
        return 0;
    case OPT_SESSION_MAX_BYTES:
        if (!parse_num(val, 0, 1LL << 40, &n))
            return usage_error("--session-max-bytes wants 0..1099511627776, not '%s'", val);
        cfg->session_max_bytes = (uint64_t)n;
        return 0;
    case OPT_MAX_QUEUED_BYTES:
        if (!parse_num(val, 1024 * 1024, 1LL << 40, &n))
            return usage_error("--max-queued-bytes wants 1048576..1099511627776, not '%s'", val);
        cfg->max_queued_bytes = (size_t)n;
        return 0;
    case OPT_MAX_LAG:
        if (!parse_num(val, 1, 1000000000, &n))
            return usage_error("--max-lag wants 1..1000000000, not '%s'", val);
        cfg->max_lag = (uint64_t)n;
        return 0;
    case OPT_RETAIN:
        if (!parse_num(val, 0, 1000000000000LL, &n))
            return usage_error("--retain wants a number of changes, not '%s'", val);
        cfg->retain = (uint64_t)n;
        return 0;
    case OPT_WEB:
        cfg->web_dir = val;
        return 0;
    case OPT_ANONYMISE_AFTER:
        return parse_term("anonymise-after", val, &cfg->anonymise_after_ms);
    case OPT_DELETE_HIDDEN_AFTER:
        return parse_term("delete-hidden-after", val, &cfg->delete_hidden_after_ms);
    case OPT_STRIP_LOG_AFTER:
        return parse_term("strip-log-after", val, &cfg->strip_log_after_ms);
    case OPT_RETAIN_BESLUIT:
        return parse_term("retain-besluit", val, &cfg->retain_besluit_ms);
    case OPT_RETAIN_OPGAVE:
        return parse_term("retain-opgave", val, &cfg->retain_opgave_ms);
    case OPT_RETAIN_AUDIT:
        return parse_term("retain-audit", val, &cfg->retain_audit_ms);
    case OPT_RETENTION_INTERVAL:
        if (parse_term("retention-interval", val, &cfg->retention_interval_ms))
            return 2;
        return cfg->retention_interval_ms == 0 || cfg->retention_interval_ms >= 1000
                   ? 0
                   : usage_error("--retention-interval wants 0 or at least 1s, not '%s'", val);
    case OPT_LOG_LEVEL:
        if (!tafel_log_level_parse(val, &level))
            return usage_error("--log-level wants error, warn, info or debug, not '%s'", val);
        tafel_log_set_level(level);
        return 0;
    case OPT_OUT:
        a->out = val;
        return 0;
    case OPT_ROLE:
        a->role = val;
        return 0;
    case OPT_LABEL:
        a->label = val;
        return 0;
    case OPT_OPGAVE:
        if (!a->opgaven)
            a->opgaven = json_array();
        json_array_append_new(a->opgaven, json_string(val));
        return 0;
    case OPT_JSON:
        a->json = true;
        return 0;
    case OPT_MARKDOWN:
        a->markdown = val;
        return 0;
    case OPT_EXPIRES_IN:
        if (!parse_num(val, 1, 315360000, &n))
            return usage_error("--expires-in wants seconds (1..315360000), not '%s'", val);
        a->expires_in = n;
        return 0;
    default:
        return 2;
    }
}

static tafel_store *open_store(const struct tafel_config *cfg, bool create, bool read_only)
{
    struct tafel_store_options opt = {0, 0, cfg->retain, read_only};
    struct tafel_errinfo info;
    tafel_store *st = NULL;
    if (tafel_store_open(cfg->data_dir, &opt, create, &st, &info) != TAFEL_E_OK) {
        fprintf(stderr, "tafeld: %s\n", info.message[0] ? info.message : tafel_strerror(info.code));
        return NULL;
    }
    return st;
}

/* Create a key and print it alone on the last line of stdout. */
static int make_key(tafel_store *st, const char *role, const json_t *opgaven, const char *label,
                    long long expires_in, const char *by)
{
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    int64_t now = tafel_time_now_ms();
    int64_t expires = expires_in ? now + expires_in * 1000 : 0;
    json_t *all = json_string("*");
    enum tafel_err err = tafel_store_key_create(st, role, opgaven ? opgaven : all, label, expires,
                                                by, now, secret, key_id);
    json_decref(all);
    if (err != TAFEL_E_OK) {
        fprintf(stderr, "tafeld: cannot create the key: %s\n", tafel_strerror(err));
        return 1;
    }
    printf("Access key %s (role %s) created. It is shown only now:\n%s\n", key_id, role, secret);
    fflush(stdout);
    return 0;
}

static int cmd_init(struct args *a)
{
    tafel_store *st = open_store(&a->cfg, true, false);
    if (!st)
        return 1;
    printf("Created data directory %s.\n", a->cfg.data_dir);
    int rc = make_key(st, "beheerder", NULL, "eerste sleutel (init)", 0, "init");
    tafel_store_close(st);
    return rc;
}

static int cmd_key_create(struct args *a)
{
    enum tafel_role role;
    if (!a->role || !tafel_role_from_name(a->role, &role) || role == TAFEL_ROLE_INWONER)
        return usage_error("key create wants --role beheerder, opgaveleider, partner or "
                           "waarnemer");
    if (!a->label || !*a->label)
        return usage_error("key create wants --label");
    tafel_store *st = open_store(&a->cfg, false, false);
    if (!st)
        return 1;
    int rc = make_key(st, a->role, a->opgaven, a->label, a->expires_in, "offline");
    tafel_store_close(st);
    return rc;
}

static int cmd_backup(struct args *a)
{
    if (!a->out)
        return usage_error("backup wants --out PATH");
    /* Read-only: it runs beside the server that holds the directory. */
    tafel_store *st = open_store(&a->cfg, false, true);
    if (!st)
        return 1;
    struct tafel_errinfo info;
    enum tafel_err err = tafel_store_backup(st, a->out, &info);
    tafel_store_close(st);
    if (err != TAFEL_E_OK) {
        fprintf(stderr, "tafeld: backup failed: %s\n",
                info.message[0] ? info.message : tafel_strerror(err));
        return 1;
    }
    printf("Backup of %s written to %s.\n", a->cfg.data_dir, a->out);
    return 0;
}

static int cmd_compact(struct args *a)
{
    struct tafel_errinfo info;
    uint64_t before = 0, after = 0;
    enum tafel_err err = tafel_store_compact(a->cfg.data_dir, NULL, &before, &after, &info);
    if (err != TAFEL_E_OK) {
        fprintf(stderr, "tafeld: %s\n", info.message[0] ? info.message : tafel_strerror(err));
        return 1;
    }
    printf("Compacted data directory %s: data.mdb %llu bytes before, %llu bytes after.\n",
           a->cfg.data_dir, (unsigned long long)before, (unsigned long long)after);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* The schema table for others to read: no data directory needed, so that
 * the docs can be generated (and checked) from a fresh build. */
static int cmd_schema(struct args *a)
{
    enum tafel_schema_page page;
    if (a->json == !!a->markdown)
        return usage_error("schema wants --json or --markdown data-model|permissions");
    if (a->markdown && !tafel_schema_page_from_name(a->markdown, &page))
        return usage_error("--markdown wants data-model or permissions, not '%s'", a->markdown);
    char *text = NULL;
    if (a->json) {
        json_t *doc = tafel_schema_json();
        text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        json_decref(doc);
    } else {
        text = tafel_schema_markdown(page);
    }
    if (!text) {
        fprintf(stderr, "tafeld: out of memory\n");
        return 1;
    }
    fputs(text, stdout);
    if (a->json)
        fputc('\n', stdout);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* One descriptor per connection, plus the listener, LMDB and the web files:
 * raise the soft limit (often 1024) toward --max-connections, as far as the
 * hard limit allows, and say so when that is not far enough. */
static void raise_nofile(unsigned max_connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t want = (rlim_t)max_connections + 64;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < max_connections)
        log_warn("file descriptor limit %llu is below --max-connections %u: raise the hard "
                 "limit (ulimit -Hn) to serve that many",
                 (unsigned long long)rl.rlim_cur, max_connections);
}

static int cmd_serve(struct args *a)
{
    if (!!a->cfg.tls_cert != !!a->cfg.tls_key)
        return usage_error("--tls-cert and --tls-key go together");
    struct tafel_server srv;
    memset(&srv, 0, sizeof(srv));
    srv.cfg = a->cfg;
    srv.started_ms = tafel_time_mono_ms();
    srv.store = open_store(&a->cfg, false, false);
    if (!srv.store)
        return 1;
    raise_nofile(a->cfg.max_connections);
    int rc = tafel_server_run(&srv);
    tafel_store_close(srv.store);
    return rc;
}

int main(int argc, char **argv)
{
    struct args a;
    memset(&a, 0, sizeof(a));
    struct tafel_config *cfg = &a.cfg;
    cfg->data_dir = "data";
    snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
    cfg->port = 8080;
    cfg->max_message = 65536;
    cfg->max_connections = 20000;
    cfg->max_per_address = 1000;
    cfg->write_rate = 50;
    cfg->session_write_rate = 50;
    cfg->address_write_rate = 200;
    cfg->session_max_contributions = 2000;
    cfg->session_max_bytes = 16 * 1024 * 1024;
    cfg->max_queued_bytes = 256 * 1024 * 1024;
    cfg->max_lag = 10000;
    cfg->ring_size = 4096;
    cfg->max_queue_bytes = 8 * 1024 * 1024;
    cfg->web_dir = TAFEL_WEB_DIR;
    /* Retention: names and hidden contributions after a month, earlier
     * versions after a year; what has archival value is kept until the
     * municipality sets its terms (docs/privacy.md). */
    cfg->anonymise_after_ms = 30LL * 24 * 3600 * 1000;
    cfg->delete_hidden_after_ms = 30LL * 24 * 3600 * 1000;
    cfg->strip_log_after_ms = 365LL * 24 * 3600 * 1000;
    cfg->retention_interval_ms = 3600LL * 1000;

    /* The command is the first non-option word(s). */
    const char *cmd = "serve";
    int first = 1;
    if (argc > 1 && argv[1][0] != '-') {
        cmd = argv[1];
        first = 2;
        if (strcmp(cmd, "key") == 0) {
            if (argc < 3 || strcmp(argv[2], "create") != 0)
                return usage_error("'key' wants 'create'");
            cmd = "key create";
            first = 3;
        }
    }
    argv[first - 1] = argv[0];
    int rc = 0, opt;
    optind = 1;
    while (rc == 0 &&
           (opt = getopt_long(argc - first + 1, argv + first - 1, "hV", long_opts, NULL)) != -1) {
        if (opt == 'h') {
            fputs(usage_text, stdout);
            json_decref(a.opgaven);
            return 0;
        }
        if (opt == 'V') {
            printf("tafeld %s (protocol %s, data schema %d)\n", TAFEL_VERSION, TAFEL_SUBPROTOCOL,
                   TAFEL_STORE_SCHEMA_VERSION);
            json_decref(a.opgaven);
            return 0;
        }
        rc = opt == '?' ? usage_error("unknown option") : parse_option(opt, optarg, &a);
    }
    if (rc == 0 && optind < argc - first + 1)
        rc = usage_error("unexpected argument '%s'", argv[first - 1 + optind]);
    if (rc == 0) {
        if (strcmp(cmd, "serve") == 0)
            rc = cmd_serve(&a);
        else if (strcmp(cmd, "init") == 0)
            rc = cmd_init(&a);
        else if (strcmp(cmd, "backup") == 0)
            rc = cmd_backup(&a);
        else if (strcmp(cmd, "compact") == 0)
            rc = cmd_compact(&a);
        else if (strcmp(cmd, "key create") == 0)
            rc = cmd_key_create(&a);
        else if (strcmp(cmd, "schema") == 0)
            rc = cmd_schema(&a);
        else
            rc = usage_error("unknown command '%s'", cmd);
    }
    json_decref(a.opgaven);
    return rc;
}
