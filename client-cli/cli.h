/*
 * cli.h - what the files of the `tafel` client share.
 *
 * `tafel` is a thin client: every command builds requests with jansson,
 * checks them with protocol/ (the validator tafeld itself runs) before they
 * leave, sends them over one WebSocket (conn.c) and prints the replies for
 * people (tables, Dutch first) or for scripts (--json). This header holds
 * the one list of exit codes, the per-process context `struct cli` that
 * every command receives, the parsed command line, the interface texts and
 * the prototypes of the modules:
 *
 *   main.c      the entry point: global options, the command table, --help,
 *               dispatch
 *   args.c      the command line split into words and options, the option
 *               accessors the commands use
 *   config.c    where URL and key come from; `tafel login`
 *   conn.c      the libwebsockets client (conn.h)
 *   commands.c  the generic kind commands driven by the schema table,
 *               and the shortcuts reflect / measure / moment / session
 *   admin.c     keys, audit, whoami
 *   watch.c     the live change stream with reconnect
 *   report.c    the opgave's story for the council (md, html, json)
 *   device.c    an inhabitant's data by its device token: export, erase
 *   import.c    `tafel meting import FILE`: measurements from a CSV file
 *   output.c    texts in two languages, tables, JSON, the error line, today
 *
 * Ownership: `struct cli` owns the connection, the strings read from the
 * config file and the pending error text; cli_cleanup() frees them all.
 */
#ifndef TAFEL_CLI_H
#define TAFEL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>

#include <jansson.h>

#include "tafel_protocol.h"

/* ------------------------------------------------------------ exit codes */

/* X(NAME, code, Dutch, English): the documented exit codes; --help and the
 * README list them from here. */
#define CLI_EXIT_LIST(X)                                                                    \
    X(OK, 0, "gelukt", "success")                                                           \
    X(OTHER, 1, "andere fout (server, geheugen, I/O)", "other error (server, memory, I/O)") \
    X(USAGE, 2, "verkeerd gebruik of ongeldige waarde", "usage error or invalid value")     \
    X(CONNECTION, 3, "geen verbinding of geen antwoord", "no connection or no answer")      \
    X(AUTH, 4, "aanmelden mislukt (sleutel onbekend, ingetrokken, verlopen)",               \
      "authentication failed (key unknown, revoked, expired)")                              \
    X(PERMISSION, 5, "geen toestemming voor deze rol", "not permitted for this role")       \
    X(CONFLICT, 6, "conflict: intussen door iemand anders gewijzigd",                       \
      "conflict: changed by someone else meanwhile")                                        \
    X(NOT_FOUND, 7, "niet gevonden", "not found")

enum cli_exit {
#define CLI_EXIT_ENUM(name, code, nl, en) CLI_EXIT_##name = code,
    CLI_EXIT_LIST(CLI_EXIT_ENUM)
#undef CLI_EXIT_ENUM
};

/* ------------------------------------------------------------- languages */

enum cli_lang { CLI_NL, CLI_EN };

/* X(ID, Dutch, English): every fixed text the client prints. */
#define CLI_TEXT_LIST(X)                                                                         \
    X(T_HINT_CONNECT, "controleer TAFEL_URL (of --url) en of tafeld draait",                     \
      "check TAFEL_URL (or --url) and that tafeld is running")                                   \
    X(T_HINT_TIMEOUT, "de server antwoordt niet; probeer het later of verhoog --timeout",        \
      "the server does not answer; try later or raise --timeout")                                \
    X(T_HINT_NO_URL, "zet TAFEL_URL, geef --url of meld aan met 'tafel login URL'",              \
      "set TAFEL_URL, pass --url or sign in with 'tafel login URL'")                             \
    X(T_HINT_NO_KEY, "zet TAFEL_KEY, geef --key of meld aan met 'tafel login URL'",              \
      "set TAFEL_KEY, pass --key or sign in with 'tafel login URL'")                             \
    X(T_HINT_REVOKED, "vraag de beheerder om een nieuwe sleutel",                                \
      "ask the beheerder for a new key")                                                         \
    X(T_HINT_UNKNOWN_KEY, "controleer TAFEL_KEY of meld opnieuw aan met 'tafel login'",          \
      "check TAFEL_KEY or sign in again with 'tafel login'")                                     \
    X(T_HINT_FORBIDDEN, "uw rol mag dit niet; vraag de opgaveleider of beheerder",               \
      "your role may not do this; ask the opgaveleider or beheerder")                            \
    X(T_HINT_NOT_FOUND, "controleer het id, bijvoorbeeld met 'tafel SOORT list'",                \
      "check the id, e.g. with 'tafel KIND list'")                                               \
    X(T_HINT_CONFLICT,                                                                           \
      "iemand anders wijzigde het intussen; bekijk de huidige waarden "                          \
      "hieronder en probeer het opnieuw",                                                        \
      "someone else changed it meanwhile; see the current values below and try again")           \
    X(T_HINT_USAGE, "zie 'tafel --help'", "see 'tafel --help'")                                  \
    X(T_HINT_RETRY, "probeer het later opnieuw", "try again later")                              \
    X(T_KEY_REVOKED, "sleutel ingetrokken", "key revoked")                                       \
    X(T_KEY_EXPIRED, "sleutel verlopen", "key expired")                                          \
    X(T_KEY_UNKNOWN, "sleutel onbekend", "unknown key")                                          \
    X(T_SESSION_CLOSED, "verbinding gesloten door de server", "connection closed by the server") \
    X(T_NO_CONNECT, "kan geen verbinding maken met", "cannot connect to")                        \
    X(T_NO_ANSWER, "geen antwoord binnen", "no answer within")                                   \
    X(T_CLOSED, "verbinding verbroken", "connection lost")                                       \
    X(T_BAD_VALUE, "ongeldige waarde", "invalid value")                                          \
    X(T_EXPECTED, "verwacht", "expected")                                                        \
    X(T_INTEGER, "een geheel getal", "an integer")                                               \
    X(T_NUMBER, "een getal", "a number")                                                         \
    X(T_BOOL, "ja/nee of true/false", "yes/no or true/false")                                    \
    X(T_DATE, "een datum JJJJ-MM-DD", "a date YYYY-MM-DD")                                       \
    X(T_DATETIME, "een tijdstip zoals 2026-11-23T09:15:00Z", "a time like 2026-11-23T09:15:00Z") \
    X(T_ONE_OF, "een van", "one of")                                                             \
    X(T_SERVER_FIELD, "dit veld zet de server zelf", "the server sets this field itself")        \
    X(T_UNKNOWN_OPTION, "onbekende optie", "unknown option")                                     \
    X(T_UNKNOWN_FIELD, "onbekend veld", "unknown field")                                         \
    X(T_UNKNOWN_COMMAND, "onbekend commando", "unknown command")                                 \
    X(T_MISSING_ARG, "argument ontbreekt", "missing argument")                                   \
    X(T_TOO_MANY_ARGS, "te veel argumenten", "too many arguments")                               \
    X(T_OPTION_TWICE, "optie meer dan eens gegeven", "option given more than once")              \
    X(T_NEEDS_VALUE, "optie zonder waarde", "option without a value")                            \
    X(T_NEED_FIELD_EQ, "verwacht veld=waarde", "expected field=value")                           \
    X(T_NOTHING_TO_SET, "niets te wijzigen", "nothing to change")                                \
    X(T_NO_OPGAVE_ON_OPGAVE, "een opgave hoort niet bij een andere opgave",                      \
      "an opgave does not belong to another opgave")                                             \
    X(T_OUT_OF_MEMORY, "onvoldoende geheugen", "out of memory")                                  \
    X(T_PROTOCOL, "onverwacht antwoord van de server", "unexpected answer from the server")      \
    X(T_CONFIG, "kan de instellingen niet bewaren", "cannot save the settings")                  \
    X(T_KEY_AS_ARG,                                                                              \
      "geef de sleutel niet mee op de opdrachtregel (dan staat hij in de proceslijst "           \
      "en in de shellgeschiedenis)",                                                             \
      "do not put the key on the command line (it would show in the process list "               \
      "and in the shell history)")                                                               \
    X(T_HINT_KEY_AS_ARG,                                                                         \
      "typ 'tafel login URL' en dan de sleutel (die u niet ziet), "                              \
      "of geef hem via TAFEL_KEY of stdin",                                                      \
      "run 'tafel login URL' and type the key (it is not shown), "                               \
      "or pass it in TAFEL_KEY or on stdin")                                                     \
    X(T_KEY_PROMPT, "Toegangssleutel (wordt niet getoond): ", "Access key (not shown): ")        \
    X(T_NO_KEY_READ, "geen sleutel gelezen", "no key read")                                      \
    X(T_BAD_URL, "ongeldige URL (verwacht ws://HOST:POORT/ws of wss://...)",                     \
      "invalid URL (expected ws://HOST:PORT/ws or wss://...)")                                   \
    X(T_BAD_DURATION, "ongeldige duur (verwacht bv. 30d, 12h, 90m, 3600s)",                      \
      "invalid duration (expected e.g. 30d, 12h, 90m, 3600s)")                                   \
    X(T_CREATED, "aangemaakt", "created")                                                        \
    X(T_CHANGED, "gewijzigd", "changed")                                                         \
    X(T_DELETED, "verwijderd", "deleted")                                                        \
    X(T_MODERATED, "gemodereerd", "moderated")                                                   \
    X(T_NONE, "(geen)", "(none)")                                                                \
    X(T_MORE, "(meer dan getoond; verfijn met --opgave)",                                        \
      "(more than shown; narrow with --opgave)")                                                 \
    X(T_YES, "ja", "yes")                                                                        \
    X(T_NO, "nee", "no")                                                                         \
    X(T_FIELD, "veld", "field")                                                                  \
    X(T_LABEL, "betekenis", "meaning")                                                           \
    X(T_VALUE, "waarde", "value")                                                                \
    X(T_SIGNED_IN, "aangemeld als", "signed in as")                                              \
    X(T_SAVED_IN, "opgeslagen in", "saved in")                                                   \
    X(T_ROLE, "rol", "role")                                                                     \
    X(T_ALL_OPGAVEN, "alle opgaven", "all opgaven")                                              \
    X(T_JOIN_CODE, "deelnamecode", "join code")                                                  \
    X(T_JOIN_URL, "deelnemen via", "join at")                                                    \
    X(T_SESSION_OPENED, "sessie geopend", "session opened")                                      \
    X(T_SESSION_CLOSED_OK, "sessie gesloten", "session closed")                                  \
    X(T_KEY_SHOWN_ONCE, "bewaar deze sleutel nu: hij wordt niet nog eens getoond",               \
      "keep this key now: it is not shown again")                                                \
    X(T_KEY, "sleutel", "key")                                                                   \
    X(T_KEY_ID, "sleutel-id", "key id")                                                          \
    X(T_EXPIRES, "verloopt", "expires")                                                          \
    X(T_NEVER, "nooit", "never")                                                                 \
    X(T_REVOKED, "ingetrokken", "revoked")                                                       \
    X(T_LABEL_COL, "label", "label")                                                             \
    X(T_OPGAVEN, "opgaven", "opgaven")                                                           \
    X(T_CREATED_AT, "aangemaakt", "created")                                                     \
    X(T_KEY_REVOKED_OK, "sleutel ingetrokken", "key revoked")                                    \
    X(T_AUDIT_N, "nr", "no")                                                                     \
    X(T_AUDIT_AT, "tijdstip", "time")                                                            \
    X(T_AUDIT_ACTOR, "door", "by")                                                               \
    X(T_AUDIT_ACTION, "actie", "action")                                                         \
    X(T_AUDIT_TARGET, "doel", "target")                                                          \
    X(T_WATCHING, "volgt wijzigingen; stop met Ctrl-C", "watching changes; stop with Ctrl-C")    \
    X(T_RECONNECTING, "verbinding verbroken; opnieuw verbinden over",                            \
      "connection lost; reconnecting in")                                                        \
    X(T_RECONNECTED, "weer verbonden; verder na", "reconnected; continuing after")               \
    X(T_SNAPSHOT, "momentopname", "snapshot")                                                    \
    X(T_DOCUMENTS, "documenten", "documents")                                                    \
    X(T_PRESENT, "aanwezig in sessie", "present in session")                                     \
    X(T_ARRIVED, "aan tafel", "arrived")                                                         \
    X(T_LEFT, "weg", "left")                                                                     \
    X(T_REPORT_TOO_BIG, "rapport onvolledig: meer documenten dan de server in een lijst geeft",  \
      "report incomplete: more documents than the server lists at once")                         \
    X(T_BAD_FORMAT, "onbekend formaat (md, html of json)", "unknown format (md, html or json)")  \
    X(T_BAD_LANG, "onbekende taal (nl of en)", "unknown language (nl or en)")                    \
    X(T_R_SUBTITLE, "Het verhaal van de opgave", "The story of the opgave")                      \
    X(T_R_MADE_ON, "gemaakt op", "made on")                                                      \
    X(T_R_GOAL, "Doel: wat is er anders dan nu", "Goal: what will be different")                 \
    X(T_R_TRIANGLE, "Sturingsdriehoek", "Steering triangle")                                     \
    X(T_R_NOTE, "Toelichting", "Explanation")                                                    \
    X(T_R_ACTIONS, "Actielijnen: wie levert wat", "Action lines: who delivers what")             \
    X(T_R_PERIOD, "Periode", "Period")                                                           \
    X(T_R_EFFECT, "Effectindicatoren", "Effect indicators")                                      \
    X(T_R_CONTEXT, "Contextindicatoren", "Context indicators")                                   \
    X(T_R_LATEST, "Laatste waarde", "Latest value")                                              \
    X(T_R_PROGRESS, "Voortgang (nulmeting → streefwaarde)", "Progress (baseline → target)")      \
    X(T_R_COURSE, "Koers (trend)", "Course (trend)")                                             \
    X(T_R_ON_COURSE, "op koers", "on course")                                                    \
    X(T_R_OFF_COURSE, "niet op koers", "not on course")                                          \
    X(T_R_COURSE_UNKNOWN, "onbekend", "unknown")                                                 \
    X(T_R_DERIVED, "afgeleid uit de streefwaarde", "derived from the target")                    \
    X(T_R_UP, "stijgend", "rising")                                                              \
    X(T_R_DOWN, "dalend", "falling")                                                             \
    X(T_R_FLAT, "gelijk", "flat")                                                                \
    X(T_R_TIMELINE, "Tijdlijn", "Timeline")                                                      \
    X(T_R_FEELING, "Gevoel (gemiddeld)", "Feeling (average)")                                    \
    X(T_R_HIGH, "hoogtepunt", "high point")                                                      \
    X(T_R_LOW, "dieptepunt", "low point")                                                        \
    X(T_R_HIGHEST, "Hoogste punt", "Highest point")                                              \
    X(T_R_LOWEST, "Laagste punt", "Lowest point")                                                \
    X(T_R_STORIES, "Succesverhalen", "Success stories")                                          \
    X(T_R_LESSONS, "Geleerde lessen", "Lessons learned")                                         \
    X(T_R_INWONER, "inwoner", "resident")                                                        \
    X(T_R_NOTHING, "Nog niets vastgelegd.", "Nothing recorded yet.")                             \
    X(T_DEV_PARTICIPANT, "deelnemer", "participant")                                             \
    X(T_DEV_SESSION, "sessie", "session")                                                        \
    X(T_DEV_QUESTION, "vraag", "question")                                                       \
    X(T_DEV_JOINED, "meegedaan sinds", "joined")                                                 \
    X(T_DEV_NAMES, "naam", "name")                                                               \
    X(T_DEV_CONTRIBUTIONS, "bijdragen", "contributions")                                         \
    X(T_DEV_VOTES, "stemmen op bijdragen", "votes on contributions")                             \
    X(T_DEV_FEELINGS, "gevoel bij momenten", "feelings about moments")                           \
    X(T_DEV_HIDDEN, "verborgen", "hidden")                                                       \
    X(T_DEV_ERASED, "gewist", "erased")                                                          \
    X(T_DEV_NOT_ERASED, "niet gewist: niet bevestigd", "not erased: not confirmed")              \
    X(T_DEV_CONFIRM,                                                                             \
      "Alles wat dit apparaat heeft bijgedragen wordt gewist: bijdragen, stemmen en gevoel "     \
      "bij de tijdlijn. Dat kan niet ongedaan worden gemaakt. Typ ja om te wissen: ",            \
      "Everything this device contributed will be erased: contributions, votes and feelings "    \
      "about the timeline. This cannot be undone. Type yes to erase: ")                          \
    X(T_DEV_NEED_YES, "wissen zonder terminal om te bevestigen alleen met --yes",                \
      "erasing without a terminal to confirm on only with --yes")                                \
    X(T_DEV_UNKNOWN, "geen apparaat met deze token (of niet een dat u mag inzien)",              \
      "no device with this token (or not one you may see)")                                      \
    X(T_HINT_DEV_TOKEN,                                                                          \
      "controleer de token: 43 tekens, te zien onder 'Mijn bijdragen' op de "                    \
      "pagina van de inwoner",                                                                   \
      "check the token: 43 characters, shown under 'Mijn bijdragen' "                            \
      "on the inhabitant's page")                                                                \
    X(T_DEV_WRITE, "kan het bestand niet schrijven", "cannot write the file")                    \
    X(T_IMP_LINE, "regel", "line")                                                               \
    X(T_IMP_COLUMN, "kolom", "column")                                                           \
    X(T_IMP_NOT_NUMBER, "is geen getal", "is not a number")                                      \
    X(T_IMP_USE_COMMA, "schrijf een komma, zoals 41,5 (een punt scheidt duizendtallen)",         \
      "write a comma, like 41,5 (a dot separates thousands)")                                    \
    X(T_IMP_OUT_OF_RANGE, "is buiten het bereik", "is out of range")                             \
    X(T_IMP_NOT_DATE, "is geen datum", "is not a date")                                          \
    X(T_IMP_NOT_REAL_DATE, "is geen bestaande datum", "is not a real date")                      \
    X(T_IMP_DATE_FORMS, "schrijf DD-MM-JJJJ of JJJJ-MM-DD", "write DD-MM-YYYY or YYYY-MM-DD")    \
    X(T_IMP_SHORT_YEAR, "schrijf het jaar voluit, zoals 31-12-2025",                             \
      "write the year in full, like 31-12-2025")                                                 \
    X(T_IMP_EMPTY, "leeg", "empty")                                                              \
    X(T_IMP_TOO_LONG, "is te lang", "is too long")                                               \
    X(T_IMP_AT_MOST, "ten hoogste", "at most")                                                   \
    X(T_IMP_CHARS, "tekens", "characters")                                                       \
    X(T_IMP_TOO_MANY_FIELDS, "meer velden dan de kopregel", "more fields than the header")       \
    X(T_IMP_QUOTE_OPEN, "aanhalingsteken niet gesloten", "quote not closed")                     \
    X(T_IMP_QUOTE_STRAY, "tekst na een sluitend aanhalingsteken", "text after a closing quote")  \
    X(T_IMP_NOT_UTF8, "geen UTF-8; sla het bestand op als 'CSV UTF-8'",                          \
      "not UTF-8; save the file as 'CSV UTF-8'")                                                 \
    X(T_IMP_UNKNOWN_COLUMN, "onbekende kolom", "unknown column")                                 \
    X(T_IMP_KNOWN_COLUMNS,                                                                       \
      "bekend zijn datum, waarde, bron, opmerking (of toelichting) en indicator",                \
      "known are date, value, source, note and indicator (or datum, waarde, bron, opmerking)")   \
    X(T_IMP_COLUMN_TWICE, "kolom staat twee keer in de kopregel", "column twice in the header")  \
    X(T_IMP_NEED_COLUMN, "kolom ontbreekt in de kopregel", "column missing from the header")     \
    X(T_IMP_NO_INDICATOR, "welke indicator? geef --indicator ID of een kolom indicator",         \
      "which indicator? pass --indicator ID or add an indicator column")                         \
    X(T_IMP_NOT_FOUND, "niet gevonden", "not found")                                             \
    X(T_IMP_DUPLICATE, "dezelfde indicator en datum als een andere regel",                       \
      "the same indicator and date as another line")                                             \
    X(T_IMP_SEE, "zie", "see")                                                                   \
    X(T_IMP_EXISTS, "er is al een meting van deze indicator op",                                 \
      "there is a measurement of this indicator on")                                             \
    X(T_IMP_EXISTS_HINT, "al geïmporteerd? wijzig haar met 'tafel meting set'",                  \
      "imported already? change it with 'tafel meting set'")                                     \
    X(T_IMP_EMPTY_FILE, "geen metingen in het bestand", "no measurements in the file")           \
    X(T_IMP_TOO_MANY_ROWS, "te veel regels", "too many lines")                                   \
    X(T_HINT_IMP_SPLIT, "splits het bestand", "split the file")                                  \
    X(T_IMP_READ, "kan het bestand niet lezen", "cannot read the file")                          \
    X(T_IMP_TOO_BIG, "te groot", "too large")                                                    \
    X(T_IMP_NOTHING, "niets geïmporteerd", "nothing imported")                                   \
    X(T_IMP_BAD_LINE, "regel met een fout", "line with an error")                                \
    X(T_IMP_BAD_LINES, "regels met fouten", "lines with errors")                                 \
    X(T_IMP_MORE_ERRORS, "fouten meer, niet getoond", "more errors, not shown")                  \
    X(T_HINT_IMP_FIX, "verbeter het bestand en probeer het opnieuw",                             \
      "correct the file and try again")                                                          \
    X(T_IMP_ROLLED_BACK, "al opgeslagen metingen weer verwijderd",                               \
      "measurements stored already were deleted again")                                          \
    X(T_IMP_NOT_ROLLED_BACK, "al opgeslagen metingen niet alle weer verwijderd",                 \
      "measurements stored already not all deleted again")                                       \
    X(T_IMP_HALF, "import half gelukt", "import half done")                                      \
    X(T_HINT_IMP_LEFT,                                                                           \
      "verwijder de genoemde metingen met 'tafel meting delete ID' voor u opnieuw importeert",   \
      "delete the measurements named with 'tafel meting delete ID' before importing again")      \
    X(T_IMP_LEFT_BEHIND, "niet weer verwijderd", "not deleted again")                            \
    X(T_IMP_IMPORTED, "metingen geïmporteerd", "measurements imported")                          \
    X(T_IMP_CHECKED, "metingen gecontroleerd, niets geïmporteerd (--dry-run)",                   \
      "measurements checked, nothing imported (--dry-run)")

enum cli_text {
#define CLI_TEXT_ENUM(id, nl, en) id,
    CLI_TEXT_LIST(CLI_TEXT_ENUM)
#undef CLI_TEXT_ENUM
        T__COUNT
};

/* ---------------------------------------------------------------- args.c */

#define CLI_ARGS_MAX 256

/** One `--name value` (or `--name=value`); `name` without the dashes.
 *  Both point into argv. `value` is NULL for a flag. */
struct cli_opt {
    const char *name;
    const char *value;
    bool used; /* taken by the command; what is left over is an unknown option */
};

/** The command line after the global options were taken out. */
struct cli_args {
    const char *pos[CLI_ARGS_MAX]; /* positional words, the command first */
    size_t npos;
    struct cli_opt opts[CLI_ARGS_MAX];
    size_t nopts;
};

struct cli;

/** @brief Split @p argv into @p a: positional words and options, in order.
 *  `--` ends the options, `-h` is --help; an option that is not a flag
 *  takes the next word unless it starts with `--`. argv is modified (an
 *  `=` becomes a NUL) and @p a points into it. A usage error is recorded
 *  through @p cli. */
enum cli_exit cli_args_split(struct cli *cli, int argc, char **argv, struct cli_args *a);

/** @brief True for the global flags (--json --help --version): flags for
 *  every command, taken out by main.c wherever they stand. */
bool cli_global_flag(const char *name);

/** @brief The value of option @p name (marks it used); NULL if absent.
 *  Given twice is a usage error reported through @p cli (then *twice). */
const char *cli_opt(struct cli *cli, struct cli_args *a, const char *name, bool *twice);

/** @brief The @p i-th occurrence of a repeatable option (marks it used). */
const char *cli_opt_nth(struct cli_args *a, const char *name, size_t i);

/** @brief True if the flag @p name (an option without a value, like
 *  --cascade) was given; marks it used. `--name=value` is a usage error
 *  recorded through @p cli (then *bad). */
bool cli_flag(struct cli *cli, struct cli_args *a, const char *name, bool *bad);

/** @brief The first option the command did not take, or NULL. */
const struct cli_opt *cli_opt_unused(const struct cli_args *a);

/* ------------------------------------------------------------ the context */

struct tafel_conn;

/** Per process: the global options, the connection, the pending error. */
struct cli {
    const char *url; /* --url, TAFEL_URL or the config file */
    const char *key;
    bool key_option; /* the key came from --key (so it is on the command line) */
    const char *ca;  /* --ca FILE or TAFEL_CA: the CA for wss:// */
    bool json;       /* --json: machine output */
    bool help;       /* --help given after a command */
    enum cli_lang lang;
    int timeout_ms;          /* every wait: connect, each reply */
    char *config_url;        /* owned: read from the config file */
    char *config_key;        /* owned */
    struct tafel_conn *conn; /* owned: opened by cli_connect() */
    json_t *me;              /* owned: the hello reply */
    char *error;             /* owned: the one line for stderr, set by cli_fail() */
    enum cli_exit error_code;
    int64_t next_req;                  /* correlation numbers of requests */
    const volatile sig_atomic_t *stop; /* set by SIGINT in watch; NULL elsewhere */
};

/** @brief Release what @p cli owns. */
void cli_cleanup(struct cli *cli);

/* -------------------------------------------------------------- output.c */

/** @brief The text @p id in the language of @p cli; static storage. */
const char *tr(const struct cli *cli, enum cli_text id);

/** @brief Record the error line "PROBLEM: DETAIL: HINT" (any part may be
 *  NULL) for main() to print on stderr; returns @p code. The first error
 *  recorded wins. Control characters in @p detail are replaced. */
enum cli_exit cli_fail(struct cli *cli, enum cli_exit code, const char *problem, const char *detail,
                       enum cli_text hint);

/** @brief Forget a recorded error (watch retries after one). */
void cli_clear_error(struct cli *cli);

/** @brief Like cli_fail() for a usage error with a printf-style detail. */
enum cli_exit cli_usage(struct cli *cli, enum cli_text problem, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @brief Record the error of a server `error` reply: its code decides the
 *  exit code and the hint. Returns the exit code. */
enum cli_exit cli_fail_reply(struct cli *cli, const json_t *reply);

/** @brief The exit code's text, for --help. */
const char *cli_exit_text(const struct cli *cli, int code);

/** @brief The string member @p name of @p obj, or "" (never NULL); borrowed
 *  from @p obj. */
const char *member_str(const json_t *obj, const char *name);

/** @brief Print @p v as one line of compact JSON on stdout. */
void out_json(const json_t *v);

/** @brief A document's field value as display text (malloc'd, caller
 *  frees): strings as they are, numbers without noise, booleans ja/nee,
 *  sets comma-joined, feelings as "n × gem. x". NULL for JSON null. */
char *out_value(const struct cli *cli, const json_t *v);

/** @brief A table being built: rows of cells, the first row the header. */
struct out_table {
    json_t *rows; /* array of arrays of strings (owned) */
};

void out_table_init(struct out_table *t);
/** @brief Append a row of @p n cells; NULL cells print as "". */
void out_table_row(struct out_table *t, size_t n, const char *const *cells);
/** @brief Append a cell to the last row (takes @p cell, which may be NULL). */
void out_table_add(struct out_table *t, char *cell);
/** @brief Start a new empty row. */
void out_table_new_row(struct out_table *t);
/** @brief Print aligned on stdout (cells cut at 60 characters) and free. */
void out_table_print(struct out_table *t);

/** @brief The label of a field for people: the schema row's label_nl or
 *  label_en (the page's form label). Writes into @p buf. */
const char *field_label(const struct cli *cli, const struct tafel_field *f, char *buf, size_t size);

/** @brief Print @p doc for people (field, label, value) or as JSON. */
void out_doc(const struct cli *cli, const json_t *doc);

/** @brief Today's local date as YYYY-MM-DD into @p buf (11 bytes). */
void today(char buf[11]);

/* ---------------------------------------------------------------- conn.c */

/** @brief Connect to cli->url and sign in with cli->key (once per process;
 *  later calls return at once). Errors are recorded with cli_fail(). */
enum cli_exit cli_connect(struct cli *cli);

/**
 * @brief Send @p msg (not stolen; "req" is added) and wait for its reply.
 *
 * The request is first checked with tafel_request_parse(), the same
 * validator tafeld runs: an invalid field is a usage error and nothing is
 * sent. Connects first if needed. On an `ok` reply returns CLI_EXIT_OK and
 * *reply owns it; on an `error` reply records it (cli_fail_reply()) and
 * *reply still owns it (a conflict carries `current`); otherwise *reply is
 * NULL.
 */
enum cli_exit cli_request(struct cli *cli, json_t *msg, json_t **reply);

/** @brief cli_request() for `get` of @p kind / @p id; *doc owns the
 *  document on success. */
enum cli_exit cli_get(struct cli *cli, const char *kind, const char *id, json_t **doc);

/** @brief cli_request() for `list`; @p kind and @p opgave may be NULL.
 *  *docs owns the array; *more (may be NULL) says the answer was capped. */
enum cli_exit cli_list(struct cli *cli, const char *kind, const char *opgave, json_t **docs,
                       bool *more);

/** @brief The join URL of the web page for @p code, from cli->url
 *  (ws -> http, wss -> https, path /join/CODE); malloc'd. */
char *cli_join_url(const struct cli *cli, const char *code);

/* ------------------------------------------------------------- commands */

/** A command handler: returns the exit code (errors via cli_fail()). */
typedef enum cli_exit (*cli_handler)(struct cli *cli, struct cli_args *a);

enum cli_exit cmd_kind(struct cli *cli, struct cli_args *a); /* tafel KIND VERB ... */
enum cli_exit cmd_reflect(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_measure(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_moment(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_session(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_key(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_audit(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_whoami(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_login(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_watch(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_report(struct cli *cli, struct cli_args *a);
enum cli_exit cmd_device(struct cli *cli, struct cli_args *a);        /* device.c */
enum cli_exit cmd_meting_import(struct cli *cli, struct cli_args *a); /* import.c */

/** @brief True if @p word is a verb of the kind commands (list show ...). */
bool kind_verb(const char *word);

/** @brief Print the help of a kind (verbs and fields, from the schema). */
void kind_help(const struct cli *cli, const struct tafel_kind_def *def);

/* ------------------------------------------------------------- config.c */

/** @brief Fill cli->url and cli->key from the environment and the config
 *  file where the command line left them unset. */
void config_resolve(struct cli *cli);

/** @brief The config file's path ($XDG_CONFIG_HOME/tafel/config, else
 *  ~/.config/tafel/config); malloc'd, NULL without either variable. */
char *config_path(void);

/** @brief Save @p url and @p key in the config file (mode 0600). */
enum cli_exit config_save(struct cli *cli, const char *url, const char *key);

#endif /* TAFEL_CLI_H */
