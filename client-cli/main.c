/*
 * main.c - `tafel`, the command-line client: the entry point, the global
 * options, the command table, --help and --version, and the one place that
 * prints an error.
 *
 * args.c splits the command line into positional words and `--name value`
 * options; the global options (--url --key --ca --json --lang --timeout
 * --help) are taken out here wherever they stand, the rest belongs to the
 * command. A command is a row of the table below (name, handler, the
 * options it takes, its help); `tafel KIND ...` for the nine kinds of the
 * schema is one row too, handled by the generic kind commands. Options are
 * checked against the row before the handler runs, so a typo never reaches
 * the server. The handler's exit code is the process's; if it recorded an
 * error, main() prints that single line on stderr.
 *
 * Nothing here is called from another file: the commands stand below the
 * table that names them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conn.h"

#define DEFAULT_TIMEOUT_MS 10000

/* ---------------------------------------------------------- the commands */

struct command {
    const char *name;
    cli_handler run;
    const char *const *opts; /* options it takes; NULL: the handler checks (schema-driven) */
    const char *usage;       /* syntax, one line per form; the same in both languages */
    const char *nl, *en;     /* what it does */
};

static const char *const no_opts[] = {NULL};
static const char *const session_opts[] = {"question", "id", "starts-at", NULL};
static const char *const watch_opts[] = {NULL};
static const char *const key_opts[] = {"role", "opgave", "label", "expires", "cascade", NULL};
static const char *const audit_opts[] = {"after", "limit", NULL};
static const char *const report_opts[] = {"format", NULL};
static const char *const device_opts[] = {"out", "yes", NULL};
static const char *const import_opts[] = {"indicator", "dry-run", NULL};

static const struct command commands[] = {
    {"KIND", cmd_kind, NULL,
     "tafel KIND list [--opgave ID]\n"
     "tafel KIND show ID\n"
     "tafel KIND create [--opgave ID] --FIELD VALUE ...\n"
     "tafel KIND set ID FIELD=VALUE ... [--rev N]\n"
     "tafel KIND delete ID [--rev N]",
     "Documenten van elke soort (KIND): opgave actielijn activiteit indicator meting\n"
     "reflectie sessie moment lid. Velden: 'tafel KIND --help'. Behalve bij opgave is\n"
     "--opgave ID nodig bij create. 'set' haalt eerst de revisie op; een wijziging\n"
     "van iemand anders intussen geeft een conflict met de huidige waarden.\n"
     "'FIELD=' (leeg) verwijdert een optioneel veld.",
     "Documents of every kind (KIND): opgave actielijn activiteit indicator meting\n"
     "reflectie sessie moment lid. Fields: 'tafel KIND --help'. Every kind but opgave\n"
     "needs --opgave ID on create. 'set' reads the revision first; a change by someone\n"
     "else meanwhile is a conflict that shows the current values. 'FIELD=' (empty)\n"
     "removes an optional field."},
    {"reflect", cmd_reflect, NULL, "tafel reflect OPGAVE TEXT [--sort geleerd]",
     "Een reflectie toevoegen; --sort: goed beter geleerd succesverhaal vraag idee\n"
     "(standaard idee).",
     "Add a reflection; --sort: goed beter geleerd succesverhaal vraag idee\n"
     "(default idee)."},
    {"measure", cmd_measure, NULL, "tafel measure INDICATOR VALUE [--date D] [--source S]",
     "Een meting vastleggen bij een indicator; de datum is standaard vandaag.",
     "Record a measurement of an indicator; the date defaults to today."},
    {"meting", cmd_meting_import, import_opts,
     "tafel meting import FILE [--indicator ID] [--dry-run]",
     "Metingen inlezen uit een CSV-bestand zoals gemeentelijke statistiek het uitvoert\n"
     "(FILE '-' is standaardinvoer): ';' tussen de velden, de eerste regel noemt de\n"
     "kolommen: datum, waarde, bron, opmerking of toelichting (ook Engels: date, value,\n"
     "source, note), en indicator als --indicator ontbreekt. Waarden als 41,5, 1.234,5\n"
     "en 44% (wordt 44); datums als 31-12-2025, 1-7-2025 of 2025-12-31 (jaartallen van\n"
     "twee cijfers weigert tafel: 31-12-25 zou gokken zijn). Velden tussen \"...\" mogen\n"
     "';' en regeleinden bevatten; UTF-8 met of zonder BOM, CRLF of LF.\n"
     "Alles of niets: elke regel wordt eerst gecontroleerd, net als de indicator, uw\n"
     "rechten en dubbele metingen (zelfde indicator en datum, in het bestand of al in\n"
     "Tafel); bij een fout meldt tafel elke foute regel en importeert niets (exitcode\n"
     "2). --dry-run controleert alleen. Het protocol kent geen transactie over\n"
     "meerdere documenten: weigert de server halverwege toch een meting, dan verwijdert\n"
     "tafel de metingen die deze import al opsloeg weer, en zegt het als dat niet lukt.\n"
     "--json: {\"checked\",\"imported\",\"dry_run\",\"ids\"}.",
     "Import measurements from a CSV file as municipal statistics export them (FILE\n"
     "'-' is standard input): ';' between fields, the first line names the columns:\n"
     "datum/date, waarde/value, bron/source, opmerking/toelichting/note, and indicator\n"
     "when --indicator is not given. Values like 41,5, 1.234,5 and 44% (read as 44);\n"
     "dates like 31-12-2025, 1-7-2025 or 2025-12-31 (two-digit years are refused:\n"
     "31-12-25 would be a guess). Fields in \"...\" may hold ';' and line breaks;\n"
     "UTF-8 with or without a BOM, CRLF or LF.\n"
     "All or nothing: every line is checked first, and so are the indicator, your\n"
     "permission and repeated measurements (same indicator and date, in the file or in\n"
     "Tafel already); on any error tafel reports each bad line and imports nothing\n"
     "(exit code 2). --dry-run only checks. The protocol has no transaction over\n"
     "several documents: if the server still refuses a measurement midway, tafel\n"
     "deletes the ones this import stored, and says so if that fails.\n"
     "--json: {\"checked\",\"imported\",\"dry_run\",\"ids\"}."},
    {"moment", cmd_moment, NULL, "tafel moment OPGAVE --date D --title T [--type mijlpaal]",
     "Een moment of mijlpaal op de tijdlijn zetten.", "Put a moment or milestone on the timeline."},
    {"session", cmd_session, session_opts,
     "tafel session open OPGAVE --question Q [--starts-at T]\n"
     "tafel session open --id ID\n"
     "tafel session close ID",
     "Een sessie aanmaken en openen (of een bestaande openen); toont de deelnamecode\n"
     "en de link voor deelnemers. 'close' sluit haar: de code werkt niet meer.",
     "Create and open a session (or open an existing one); prints the join code and\n"
     "the link for participants. 'close' closes it: the code stops working."},
    {"watch", cmd_watch, watch_opts, "tafel watch [OPGAVE]",
     "Elke wijziging live tonen (van een opgave of van alles wat u mag zien) tot\n"
     "Ctrl-C. Na een verbroken verbinding opnieuw verbinden (0,2 s tot 5 s wachten)\n"
     "zonder iets te missen of dubbel te tonen. --json: een gebeurtenis per regel,\n"
     "en {\"type\":\"ready\",...} zodra het volgen loopt (ook na elk herverbinden).",
     "Print every change live (of one opgave, or of all you may read) until Ctrl-C.\n"
     "After a dropped connection it reconnects (waiting 0.2 s up to 5 s) missing\n"
     "nothing and showing nothing twice. --json: one event per line, and\n"
     "{\"type\":\"ready\",...} once watching is live (again after each reconnect)."},
    {"key", cmd_key, key_opts,
     "tafel key create --role ROLE [--opgave ID ...] --label L [--expires 30d]\n"
     "tafel key list\n"
     "tafel key revoke KEY_ID [--cascade]",
     "Toegangssleutels: aanmaken (de sleutel wordt eenmaal getoond; zonder --opgave\n"
     "geldt hij voor alle opgaven; duur als 30d, 12h, 90m, 3600s), tonen, intrekken.\n"
     "--cascade trekt ook de sleutels in die met deze sleutel zijn gemaakt (en zo\n"
     "verder); toont elke ingetrokken sleutel-id.",
     "Access keys: create (the key is shown once; without --opgave it is valid for\n"
     "every opgave; durations like 30d, 12h, 90m, 3600s), list, revoke.\n"
     "--cascade also revokes the keys made with this key (and so on); prints every\n"
     "key id revoked."},
    {"audit", cmd_audit, audit_opts, "tafel audit [--after N] [--limit N]",
     "Het auditlogboek: wie wijzigde wat (beheerders).",
     "The audit log: who changed what (beheerders)."},
    {"report", cmd_report, report_opts, "tafel report OPGAVE [--format md|html|json]",
     "Het verhaal van de opgave voor de raad (rijker verantwoorden): doel,\n"
     "sturingsdriehoek, stoplicht, actielijnen, indicatoren met voortgang en koers\n"
     "(op koers of niet, naar de gewenste richting), tijdlijn met hoog- en\n"
     "dieptepunten, succesverhalen en geleerde lessen. HTML is een volledige pagina.",
     "The opgave's story for the council: goal, steering triangle, traffic light,\n"
     "action lines, indicators with progress and course (on course or not, by the\n"
     "desired direction), timeline with high and low points, success stories and\n"
     "lessons learned. HTML is a complete page."},
    {"device", cmd_device, device_opts,
     "tafel device export TOKEN [--out FILE]\n"
     "tafel device erase TOKEN [--yes]",
     "Het recht op inzage en wissen van een inwoner (beheerders, aan de balie): alles\n"
     "wat het apparaat met deze token heeft bijgedragen (bijdragen, stemmen, gevoel bij\n"
     "de tijdlijn, de naam en de sessie). De inwoner ziet de token op de pagina onder\n"
     "'Mijn bijdragen'. 'export' toont een overzicht; met --json het hele document,\n"
     "met --out FILE in een bestand dat alleen u mag lezen. 'erase' wist alles in een\n"
     "keer, ook voor de anderen; vraagt eerst om bevestiging, en weigert zonder\n"
     "terminal tenzij --yes. Beide komen in het auditlogboek. TOKEN '-' leest de token\n"
     "van standaardinvoer, zodat hij niet in ps of de shellgeschiedenis komt.",
     "An inhabitant's right of access and erasure (beheerders, at the desk): everything\n"
     "the device with this token contributed (contributions, votes, feelings about the\n"
     "timeline, the name and the session). The inhabitant sees the token on the page\n"
     "under 'Mijn bijdragen'. 'export' prints a summary; with --json the whole\n"
     "document, with --out FILE in a file only you may read. 'erase' erases all of it\n"
     "at once, also for the others; it asks to confirm first, and refuses without a\n"
     "terminal unless --yes. Both are written to the audit log. TOKEN '-' reads the\n"
     "token from standard input, to keep it out of ps and the shell's history."},
    {"login", cmd_login, no_opts, "tafel login URL",
     "URL en sleutel controleren en bewaren in $XDG_CONFIG_HOME/tafel/config\n"
     "(modus 0600). De sleutel komt uit TAFEL_KEY; anders van stdin als dat geen\n"
     "terminal is (een regel); anders vraagt tafel erom en toont niet wat u typt.\n"
     "'tafel login URL SLEUTEL' en --key weigert tafel (exitcode 2): een sleutel op\n"
     "de opdrachtregel staat in de proceslijst en in de shellgeschiedenis.",
     "Check and save URL and key in $XDG_CONFIG_HOME/tafel/config (mode 0600).\n"
     "The key comes from TAFEL_KEY; else from stdin when it is not a terminal (one\n"
     "line); else tafel asks for it and does not show what you type.\n"
     "'tafel login URL KEY' and --key are refused (exit code 2): a key on the\n"
     "command line shows in the process list and in the shell history."},
    {"whoami", cmd_whoami, no_opts, "tafel whoami",
     "Toont met welke sleutel, rol en opgaven u bent aangemeld.",
     "Shows the key, role and opgaven you are signed in with."},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* -------------------------------------------------------- global options */

static enum cli_lang lang_from_env(void)
{
    const char *vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < 3; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return strncmp(v, "en", 2) == 0 ? CLI_EN : CLI_NL;
    }
    return CLI_NL;
}

/* Take the global options out of @p a into @p cli. */
static enum cli_exit take_globals(struct cli *cli, struct cli_args *a, bool *version)
{
    bool twice = false;
    const char *lang = cli_opt(cli, a, "lang", &twice);
    if (lang && strcmp(lang, "nl") != 0 && strcmp(lang, "en") != 0)
        return cli_usage(cli, T_BAD_LANG, "--lang %s", lang);
    if (lang)
        cli->lang = strcmp(lang, "en") == 0 ? CLI_EN : CLI_NL;
    const char *url = cli_opt(cli, a, "url", &twice);
    const char *key = cli_opt(cli, a, "key", &twice);
    const char *ca = cli_opt(cli, a, "ca", &twice);
    const char *timeout = cli_opt(cli, a, "timeout", &twice);
    cli->url = url ? url : cli->url;
    cli->key = key ? key : cli->key;
    cli->key_option = key != NULL;
    cli->ca = ca ? ca : getenv("TAFEL_CA");
    for (size_t i = 0; i < a->nopts; i++) {
        const char *n = a->opts[i].name;
        if (cli_global_flag(n)) {
            a->opts[i].used = true;
            cli->json |= strcmp(n, "json") == 0;
            cli->help |= strcmp(n, "help") == 0;
            *version |= strcmp(n, "version") == 0;
        }
    }
    if (timeout) {
        char *end;
        double s = strtod(timeout, &end);
        if (*end || end == timeout || !(s >= 0.1 && s <= 3600))
            return cli_usage(cli, T_BAD_VALUE, "--timeout %s (0.1..3600 s)", timeout);
        cli->timeout_ms = (int)(s * 1000);
    }
    return twice ? CLI_EXIT_USAGE : CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ help */

static void print_help(const struct cli *cli)
{
    bool en = cli->lang == CLI_EN;
    printf("%s\n\n", en ? "tafel - the command-line client of Tafel (opgavegericht werken)"
                        : "tafel - de command-line client van Tafel (opgavegericht werken)");
    printf("%s: tafel [--url URL] [--key KEY] [--json] [--lang nl|en] %s ...\n\n",
           en ? "Usage" : "Gebruik", en ? "COMMAND" : "COMMANDO");
    for (size_t i = 0; i < NCOMMANDS; i++)
        printf("%s\n", commands[i].usage);
    printf("\nKIND:");
    for (int k = 0; k < TAFEL_KIND__COUNT; k++)
        printf(" %s", tafel_schema_kind((enum tafel_kind)k)->name);
    printf("\n\n%s\n", en ? "Global options:" : "Globale opties:");
    printf("  --url URL       %s\n", en ? "server, e.g. ws://127.0.0.1:8080/ws (or TAFEL_URL)"
                                        : "server, bv. ws://127.0.0.1:8080/ws (of TAFEL_URL)");
    printf("  --key KEY       %s\n",
           en ? "access key (or TAFEL_KEY)" : "toegangssleutel (of TAFEL_KEY)");
    printf("  --ca FILE       %s\n", en ? "CA certificate for wss:// (or TAFEL_CA)"
                                        : "CA-certificaat voor wss:// (of TAFEL_CA)");
    printf("  --json          %s\n", en ? "output for scripts" : "uitvoer voor scripts");
    printf("  --lang nl|en    %s\n",
           en ? "language (default from LANG, else nl)" : "taal (standaard uit LANG, anders nl)");
    printf("  --timeout S     %s\n", en ? "seconds to wait for an answer (default 10)"
                                        : "seconden wachten op antwoord (standaard 10)");
    printf("  --help, --version\n");
    printf("\n%s\n",
           en ? "Without --url/--key: TAFEL_URL/TAFEL_KEY, then the file of 'tafel login'."
              : "Zonder --url/--key: TAFEL_URL/TAFEL_KEY, dan het bestand van 'tafel login'.");
    printf("\n%s\n", en ? "Exit codes:" : "Exitcodes:");
    for (int c = 0; c <= CLI_EXIT_NOT_FOUND; c++)
        printf("  %d  %s\n", c, cli_exit_text(cli, c));
    printf("\n%s\n",
           en ? "'tafel COMMAND --help' tells more." : "'tafel COMMANDO --help' vertelt meer.");
}

static void print_command_help(const struct cli *cli, const struct command *c)
{
    printf("%s\n\n%s\n", c->usage, cli->lang == CLI_EN ? c->en : c->nl);
}

/* ------------------------------------------------------------------ main */

void cli_cleanup(struct cli *cli)
{
    conn_free(cli->conn);
    json_decref(cli->me);
    free(cli->config_url);
    free(cli->config_key);
    free(cli->error);
    memset(cli, 0, sizeof(*cli));
}

/* `tafel moment ...` is both a kind and a shortcut: a verb after it (or
 * nothing) means the kind. */
static const struct command *find_command(const struct cli_args *a)
{
    bool kind = tafel_schema_kind_by_name(a->pos[0]) != NULL;
    if (kind && (a->npos < 2 || kind_verb(a->pos[1])))
        return &commands[0];
    for (size_t i = 1; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, a->pos[0]) == 0)
            return &commands[i];
    return kind ? &commands[0] : NULL;
}

/* Options the row lists, checked before the handler runs. */
static enum cli_exit check_opts(struct cli *cli, const struct command *c, struct cli_args *a)
{
    if (!c->opts)
        return CLI_EXIT_OK; /* schema-driven: the handler knows the fields */
    for (size_t i = 0; i < a->nopts; i++) {
        if (a->opts[i].used)
            continue;
        bool ok = false;
        for (size_t j = 0; c->opts[j] && !ok; j++)
            ok = strcmp(c->opts[j], a->opts[i].name) == 0;
        if (!ok)
            return cli_usage(cli, T_UNKNOWN_OPTION, "--%s", a->opts[i].name);
    }
    return CLI_EXIT_OK;
}

static enum cli_exit dispatch(struct cli *cli, int argc, char **argv)
{
    struct cli_args a;
    bool version = false;
    enum cli_exit rc = cli_args_split(cli, argc, argv, &a);
    if (rc == CLI_EXIT_OK)
        rc = take_globals(cli, &a, &version);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (version) {
        printf("tafel %s (protocol %s)\n", TAFEL_VERSION, TAFEL_SUBPROTOCOL);
        return CLI_EXIT_OK;
    }
    if (a.npos == 0) {
        if (cli->help) {
            print_help(cli);
            return CLI_EXIT_OK;
        }
        return cli_usage(cli, T_MISSING_ARG, "COMMAND");
    }
    const struct command *c = find_command(&a);
    if (!c)
        return cli_usage(cli, T_UNKNOWN_COMMAND, "%s", a.pos[0]);
    if (cli->help) {
        /* `tafel moment --help`: the shortcut and the kind both answer */
        const struct tafel_kind_def *def = tafel_schema_kind_by_name(a.pos[0]);
        bool shortcut = false;
        for (size_t i = 1; i < NCOMMANDS; i++)
            if (strcmp(commands[i].name, a.pos[0]) == 0) {
                print_command_help(cli, &commands[i]);
                shortcut = true;
            }
        if (def && shortcut)
            printf("\n");
        if (def)
            kind_help(cli, def);
        return CLI_EXIT_OK;
    }
    rc = check_opts(cli, c, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    config_resolve(cli);
    return c->run(cli, &a);
}

int main(int argc, char **argv)
{
    struct cli cli;
    memset(&cli, 0, sizeof(cli));
    cli.lang = lang_from_env();
    cli.timeout_ms = DEFAULT_TIMEOUT_MS;
    cli.url = getenv("TAFEL_URL");
    cli.key = getenv("TAFEL_KEY");
    enum cli_exit rc = dispatch(&cli, argc, argv);
    if (cli.error) {
        fflush(stdout);
        fprintf(stderr, "%s\n", cli.error);
        if (rc == CLI_EXIT_OK)
            rc = cli.error_code;
    }
    cli_cleanup(&cli);
    return (int)rc;
}
