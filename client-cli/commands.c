/*
 * commands.c - the document commands, driven by the schema table.
 *
 * `tafel KIND list|show|create|set|delete` is one implementation for the
 * nine kinds: options and `field=value` words are looked up in the kind's
 * row of protocol/'s schema (tafel_schema_kind_by_name), converted by the
 * field's type, and the finished request is checked by the validator tafeld
 * runs (in cli_request()). Nothing here names a field of a particular kind
 * except the shortcuts at the end, which are rows too: `reflect`, `moment`
 * and `measure` are `create` with some fields taken from positional words,
 * and `session` creates a sessie and sends session.open.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define LIST_COLUMNS 4 /* fields shown by `list` besides the id */

static enum cli_exit no_memory(struct cli *cli)
{
    return cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_OUT_OF_MEMORY), NULL, T__COUNT);
}

/* ------------------------------------------------------------ the fields */

/* A field of @p def, or a common field (opgave, id...), by wire name. */
static const struct tafel_field *any_field(const struct tafel_kind_def *def, const char *name)
{
    const struct tafel_field *f = tafel_schema_field(def, name);
    size_t n;
    const struct tafel_field *common = tafel_schema_common_fields(&n);
    for (size_t i = 0; !f && i < n; i++)
        if (strcmp(common[i].name, name) == 0)
            f = &common[i];
    return f;
}

/* `--target-date` and `target-date=` name the field target_date. */
static void field_name(const char *word, char *buf, size_t size)
{
    snprintf(buf, size, "%s", word);
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '_';
}

static bool in_words(const char *const *words, const char *s)
{
    for (size_t i = 0; words && words[i]; i++)
        if (strcmp(words[i], s) == 0)
            return true;
    return false;
}

/* The wire words of an enumeration, "groen, oranje, rood". */
static void join_values(const struct tafel_field *f, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < tafel_schema_nvalues(f); i++)
        snprintf(buf + strlen(buf), size - strlen(buf), "%s%s", i ? ", " : "", f->values[i].value);
}

static enum cli_exit bad_value(struct cli *cli, const char *name, const char *text,
                               const char *expected)
{
    return cli_usage(cli, T_BAD_VALUE, "%s '%s': %s %s", name, text, tr(cli, T_EXPECTED), expected);
}

/* An enumeration value, checked here for a message that lists the choices. */
static json_t *enum_value(struct cli *cli, const struct tafel_field *f, const char *s)
{
    char buf[300], expected[340];
    for (size_t i = 0; i < tafel_schema_nvalues(f); i++)
        if (strcmp(f->values[i].value, s) == 0)
            return json_string(s);
    join_values(f, buf, sizeof(buf));
    snprintf(expected, sizeof(expected), "%s %s", tr(cli, T_ONE_OF), buf);
    bad_value(cli, f->name, s, expected);
    return NULL;
}

/* Comma-separated words (ENUM_SET, STRING_SET, REF_SET) as an array. */
static json_t *set_value(struct cli *cli, const struct tafel_field *f, const char *s)
{
    json_t *arr = json_array();
    char *copy = strdup(s);
    char *save = NULL;
    for (char *w = copy ? strtok_r(copy, ",", &save) : NULL; w && arr;
         w = strtok_r(NULL, ",", &save)) {
        while (*w == ' ')
            w++;
        size_t n = strlen(w);
        while (n > 0 && w[n - 1] == ' ')
            w[--n] = '\0';
        if (!*w)
            continue;
        json_t *item = f->type == TAFEL_F_ENUM_SET ? enum_value(cli, f, w) : json_string(w);
        if (!item) {
            json_decref(arr);
            arr = NULL;
        } else {
            json_array_append_new(arr, item);
        }
    }
    if (!copy) {
        json_decref(arr);
        arr = NULL;
    }
    free(copy);
    return arr;
}

static json_t *number_value(struct cli *cli, const struct tafel_field *f, const char *s)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", s);
    char *comma = strchr(buf, ',');
    if (comma && !strchr(buf, '.'))
        *comma = '.'; /* 3,5 is how a Dutch user writes 3.5 */
    char *end;
    double v = strtod(buf, &end);
    if (!*s || *end || !isfinite(v)) {
        bad_value(cli, f->name, s, tr(cli, T_NUMBER));
        return NULL;
    }
    if (v == floor(v) && fabs(v) <= (double)TAFEL_INT_MAX)
        return json_integer((json_int_t)v);
    return json_real(v);
}

/**
 * The JSON value of @p text for field @p f, converted by its type; NULL
 * with the error recorded. In a patch the empty text is null (remove).
 */
static json_t *field_value(struct cli *cli, const struct tafel_field *f, const char *text,
                           bool patch)
{
    if (f->flags & TAFEL_FF_SERVER) {
        cli_usage(cli, T_BAD_VALUE, "%s: %s", f->name, tr(cli, T_SERVER_FIELD));
        return NULL;
    }
    if (patch && !*text)
        return json_null();
    char *end;
    json_t *v = NULL;
    switch (f->type) {
    case TAFEL_F_STRING:
    case TAFEL_F_DATE:
    case TAFEL_F_DATETIME:
    case TAFEL_F_REF:
        v = json_string(text);
        break;
    case TAFEL_F_ENUM:
        return enum_value(cli, f, text);
    case TAFEL_F_ENUM_SET:
    case TAFEL_F_STRING_SET:
    case TAFEL_F_REF_SET:
        return set_value(cli, f, text);
    case TAFEL_F_INT: {
        long long n = strtoll(text, &end, 10);
        if (!*text || *end) {
            bad_value(cli, f->name, text, tr(cli, T_INTEGER));
            return NULL;
        }
        v = json_integer(n);
        break;
    }
    case TAFEL_F_NUMBER:
        return number_value(cli, f, text);
    case TAFEL_F_BOOL:
        if (in_words((const char *const[]){"true", "ja", "yes", "1", NULL}, text))
            return json_true();
        if (in_words((const char *const[]){"false", "nee", "no", "0", NULL}, text))
            return json_false();
        bad_value(cli, f->name, text, tr(cli, T_BOOL));
        return NULL;
    case TAFEL_F_FEELINGS:
        cli_usage(cli, T_BAD_VALUE, "%s: %s", f->name, tr(cli, T_SERVER_FIELD));
        return NULL;
    }
    if (!v)
        bad_value(cli, f->name, text, "UTF-8");
    return v;
}

/* Set @p doc[name] from @p text; false with the error recorded. */
static bool put_field(struct cli *cli, const struct tafel_kind_def *def, json_t *doc,
                      const char *word, const char *text, bool patch)
{
    char name[80];
    field_name(word, name, sizeof(name));
    const struct tafel_field *f = tafel_schema_field(def, name);
    if (!f) {
        cli_usage(cli, patch ? T_UNKNOWN_FIELD : T_UNKNOWN_OPTION, "%s%s (%s --help)",
                  patch ? "" : "--", word, def->name);
        return false;
    }
    if (json_object_get(doc, name)) {
        cli_usage(cli, T_OPTION_TWICE, "%s", name);
        return false;
    }
    json_t *v = field_value(cli, f, text, patch);
    return v && json_object_set_new(doc, name, v) == 0;
}

/* Every option not taken yet is a field of the new document. */
static bool fields_from_opts(struct cli *cli, struct cli_args *a, const struct tafel_kind_def *def,
                             json_t *doc)
{
    for (size_t i = 0; i < a->nopts; i++) {
        struct cli_opt *o = &a->opts[i];
        if (o->used)
            continue;
        o->used = true;
        if (!put_field(cli, def, doc, o->name, o->value, false))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------- requests */

/* Send @p msg (not stolen) and take `doc` from the ok reply into *doc. */
static enum cli_exit request_doc(struct cli *cli, json_t *msg, json_t **doc)
{
    json_t *reply = NULL;
    *doc = NULL;
    enum cli_exit rc = msg ? cli_request(cli, msg, &reply) : no_memory(cli);
    if (rc == CLI_EXIT_OK)
        *doc = json_incref(json_object_get(reply, "doc"));
    json_decref(reply);
    return rc;
}

/* The document's rev: --rev when given, else read it now (set, delete). */
static enum cli_exit current_rev(struct cli *cli, struct cli_args *a, const char *kind,
                                 const char *id, json_int_t *rev)
{
    bool twice = false;
    const char *text = cli_opt(cli, a, "rev", &twice);
    if (twice)
        return CLI_EXIT_USAGE;
    const struct cli_opt *unknown = cli_opt_unused(a);
    if (unknown) /* before anything goes over the network */
        return cli_usage(cli, T_UNKNOWN_OPTION, "--%s", unknown->name);
    if (text) {
        char *end;
        long long n = strtoll(text, &end, 10);
        if (!*text || *end || n < 1)
            return bad_value(cli, "--rev", text, tr(cli, T_INTEGER));
        *rev = n;
        return CLI_EXIT_OK;
    }
    json_t *doc;
    enum cli_exit rc = cli_get(cli, kind, id, &doc);
    if (rc == CLI_EXIT_OK)
        *rev = json_integer_value(json_object_get(doc, "rev"));
    json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------- verbs */

static enum cli_exit need_pos(struct cli *cli, struct cli_args *a, size_t min, size_t max,
                              const char *usage)
{
    if (a->npos < min)
        return cli_usage(cli, T_MISSING_ARG, "%s", usage);
    if (a->npos > max)
        return cli_usage(cli, T_TOO_MANY_ARGS, "%s", usage);
    const struct cli_opt *o = cli_opt_unused(a);
    return o ? cli_usage(cli, T_UNKNOWN_OPTION, "--%s", o->name) : CLI_EXIT_OK;
}

/* The columns of `list`: the required fields, then the first enumeration
 * (stoplicht, status, state...) if not among them. */
static size_t list_columns(const struct tafel_kind_def *def, const struct tafel_field **cols)
{
    size_t n = 0;
    for (size_t i = 0; i < def->nfields && n < LIST_COLUMNS; i++)
        if (def->fields[i].flags & TAFEL_FF_REQUIRED)
            cols[n++] = &def->fields[i];
    for (size_t i = 0; i < def->nfields && n < LIST_COLUMNS; i++) {
        if (def->fields[i].type == TAFEL_F_ENUM && !(def->fields[i].flags & TAFEL_FF_REQUIRED)) {
            cols[n++] = &def->fields[i];
            break;
        }
    }
    return n;
}

static void print_list(struct cli *cli, const struct tafel_kind_def *def, const json_t *docs,
                       bool more)
{
    const struct tafel_field *cols[LIST_COLUMNS];
    size_t ncols = list_columns(def, cols);
    struct out_table t;
    out_table_init(&t);
    out_table_new_row(&t);
    out_table_add(&t, strdup("id"));
    char label[200];
    for (size_t c = 0; c < ncols; c++)
        out_table_add(&t, strdup(field_label(cli, cols[c], label, sizeof(label))));
    size_t i;
    json_t *doc;
    json_array_foreach(docs, i, doc)
    {
        out_table_new_row(&t);
        out_table_add(&t, out_value(cli, json_object_get(doc, "id")));
        for (size_t c = 0; c < ncols; c++)
            out_table_add(&t, out_value(cli, json_object_get(doc, cols[c]->name)));
    }
    out_table_print(&t);
    if (json_array_size(docs) == 0)
        printf("%s\n", tr(cli, T_NONE));
    if (more)
        printf("%s\n", tr(cli, T_MORE));
}

static enum cli_exit verb_list(struct cli *cli, struct cli_args *a,
                               const struct tafel_kind_def *def)
{
    bool twice = false;
    const char *opgave = cli_opt(cli, a, "opgave", &twice);
    enum cli_exit rc = twice ? CLI_EXIT_USAGE : need_pos(cli, a, 2, 2, "tafel KIND list");
    json_t *docs = NULL;
    bool more = false;
    if (rc == CLI_EXIT_OK)
        rc = cli_list(cli, def->name, opgave, &docs, &more);
    if (rc == CLI_EXIT_OK) {
        if (cli->json)
            out_json(docs);
        else
            print_list(cli, def, docs, more);
    }
    json_decref(docs);
    return rc;
}

static enum cli_exit verb_show(struct cli *cli, struct cli_args *a,
                               const struct tafel_kind_def *def)
{
    enum cli_exit rc = need_pos(cli, a, 3, 3, "tafel KIND show ID");
    json_t *doc = NULL;
    if (rc == CLI_EXIT_OK)
        rc = cli_get(cli, def->name, a->pos[2], &doc);
    if (rc == CLI_EXIT_OK)
        out_doc(cli, doc);
    json_decref(doc);
    return rc;
}

/* Put @p doc (a new document of @p def, stolen) and print what was stored. */
static enum cli_exit create_doc(struct cli *cli, const struct tafel_kind_def *def, json_t *doc)
{
    json_t *msg =
        doc ? json_pack("{ss ss so}", "type", "put", "kind", def->name, "doc", doc) : NULL;
    json_t *stored = NULL;
    enum cli_exit rc = request_doc(cli, msg, &stored);
    if (rc == CLI_EXIT_OK) {
        if (!cli->json)
            printf("%s: %s %s\n", tr(cli, T_CREATED), def->name, member_str(stored, "id"));
        out_doc(cli, stored);
    }
    json_decref(msg);
    json_decref(stored);
    return rc;
}

/* The document of `create` from the options; --opgave for all but opgave. */
static json_t *doc_from_opts(struct cli *cli, struct cli_args *a, const struct tafel_kind_def *def)
{
    bool twice = false;
    const char *opgave = cli_opt(cli, a, "opgave", &twice);
    json_t *doc = json_object();
    if (!doc) {
        no_memory(cli);
        return NULL;
    }
    if (opgave && def->kind == TAFEL_KIND_OPGAVE) {
        cli_usage(cli, T_UNKNOWN_OPTION, "--opgave: %s", tr(cli, T_NO_OPGAVE_ON_OPGAVE));
        twice = true;
    } else if (opgave) {
        json_object_set_new(doc, "opgave", json_string(opgave));
    }
    if (twice || !fields_from_opts(cli, a, def, doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static enum cli_exit verb_create(struct cli *cli, struct cli_args *a,
                                 const struct tafel_kind_def *def)
{
    if (a->npos != 2)
        return cli_usage(cli, T_TOO_MANY_ARGS, "tafel %s create --FIELD VALUE ...", def->name);
    json_t *doc = doc_from_opts(cli, a, def); /* every option is a field here */
    return doc ? create_doc(cli, def, doc) : CLI_EXIT_USAGE;
}

/* Print the error's `current` document after a conflict. */
static void show_current(struct cli *cli, const json_t *reply)
{
    const json_t *current = json_object_get(reply, "current");
    if (json_is_object(current))
        out_doc(cli, current);
}

static enum cli_exit verb_set(struct cli *cli, struct cli_args *a, const struct tafel_kind_def *def)
{
    if (a->npos < 4)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_NOTHING_TO_SET, "%s",
                         "tafel KIND set ID FIELD=VALUE ...");
    json_t *set = json_object();
    if (!set)
        return no_memory(cli);
    enum cli_exit rc = CLI_EXIT_OK;
    for (size_t i = 3; i < a->npos && rc == CLI_EXIT_OK; i++) {
        const char *eq = strchr(a->pos[i], '=');
        char word[80];
        if (!eq || eq == a->pos[i] || (size_t)(eq - a->pos[i]) >= sizeof(word)) {
            rc = cli_usage(cli, T_NEED_FIELD_EQ, "'%s'", a->pos[i]);
            break;
        }
        snprintf(word, sizeof(word), "%.*s", (int)(eq - a->pos[i]), a->pos[i]);
        if (!put_field(cli, def, set, word, eq + 1, true))
            rc = CLI_EXIT_USAGE;
    }
    json_int_t rev = 0;
    if (rc == CLI_EXIT_OK)
        rc = current_rev(cli, a, def->name, a->pos[2], &rev);
    json_t *msg = NULL, *reply = NULL;
    if (rc == CLI_EXIT_OK) {
        msg = json_pack("{ss ss ss sO sI}", "type", "patch", "kind", def->name, "id", a->pos[2],
                        "set", set, "rev", rev);
        rc = msg ? cli_request(cli, msg, &reply) : no_memory(cli);
    }
    if (rc == CLI_EXIT_OK) {
        if (!cli->json)
            printf("%s: %s %s\n", tr(cli, T_CHANGED), def->name, a->pos[2]);
        out_doc(cli, json_object_get(reply, "doc"));
    } else if (rc == CLI_EXIT_CONFLICT) {
        show_current(cli, reply);
    }
    json_decref(set);
    json_decref(msg);
    json_decref(reply);
    return rc;
}

/* The ok reply without its envelope, for --json. */
static void print_result(const json_t *reply)
{
    json_t *copy = json_deep_copy(reply);
    json_object_del(copy, "type");
    json_object_del(copy, "req");
    out_json(copy);
    json_decref(copy);
}

static enum cli_exit verb_delete(struct cli *cli, struct cli_args *a,
                                 const struct tafel_kind_def *def)
{
    if (a->npos != 3)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "%s",
                         "tafel KIND delete ID");
    json_int_t rev = 0;
    enum cli_exit rc = current_rev(cli, a, def->name, a->pos[2], &rev);
    json_t *msg = NULL, *reply = NULL;
    if (rc == CLI_EXIT_OK) {
        msg = json_pack("{ss ss ss sI}", "type", "delete", "kind", def->name, "id", a->pos[2],
                        "rev", rev);
        rc = msg ? cli_request(cli, msg, &reply) : no_memory(cli);
    }
    if (rc == CLI_EXIT_OK && cli->json)
        print_result(reply);
    else if (rc == CLI_EXIT_OK)
        printf("%s: %s %s\n", tr(cli, T_DELETED), def->name, a->pos[2]);
    else if (rc == CLI_EXIT_CONFLICT)
        show_current(cli, reply);
    json_decref(msg);
    json_decref(reply);
    return rc;
}

/* hide, restore, pin, unpin: a document of a moderated kind (the schema
 * row says which), with the reason for the audit log. */
static enum cli_exit verb_moderate(struct cli *cli, struct cli_args *a,
                                   const struct tafel_kind_def *def)
{
    if (!def->moderated)
        return cli_usage(cli, T_UNKNOWN_COMMAND, "%s %s", a->pos[0], a->pos[1]);
    if (a->npos != 3)
        return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS,
                         "tafel %s %s ID [--reden TEXT]", def->name, a->pos[1]);
    bool twice = false, twice_en = false;
    const char *reason = cli_opt(cli, a, "reden", &twice);
    const char *reason_en = cli_opt(cli, a, "reason", &twice_en);
    if (twice || twice_en || (reason && reason_en))
        return cli_usage(cli, T_TOO_MANY_ARGS, "%s", "--reden");
    if (!reason)
        reason = reason_en;
    const struct cli_opt *unknown = cli_opt_unused(a);
    if (unknown)
        return cli_usage(cli, T_UNKNOWN_OPTION, "--%s", unknown->name);
    json_t *msg = json_pack("{ss ss ss}", "type", "moderate", "id", a->pos[2], "action", a->pos[1]);
    if (msg && reason)
        json_object_set_new(msg, "reason", json_string(reason));
    json_t *reply = NULL;
    enum cli_exit rc = msg ? cli_request(cli, msg, &reply) : no_memory(cli);
    if (rc == CLI_EXIT_OK && cli->json)
        print_result(reply);
    else if (rc == CLI_EXIT_OK)
        printf("%s (%s): %s %s\n", tr(cli, T_MODERATED), a->pos[1], def->name, a->pos[2]);
    json_decref(msg);
    json_decref(reply);
    return rc;
}

static const struct {
    const char *name;
    enum cli_exit (*run)(struct cli *, struct cli_args *, const struct tafel_kind_def *);
} verbs[] = {
    {"list", verb_list},        {"show", verb_show},     {"create", verb_create},
    {"set", verb_set},          {"delete", verb_delete}, {"hide", verb_moderate},
    {"restore", verb_moderate}, {"pin", verb_moderate},  {"unpin", verb_moderate},
    {"approve", verb_moderate},
};

bool kind_verb(const char *word)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].name, word) == 0)
            return true;
    return false;
}

enum cli_exit cmd_kind(struct cli *cli, struct cli_args *a)
{
    const struct tafel_kind_def *def = tafel_schema_kind_by_name(a->pos[0]);
    if (a->npos < 2)
        return cli_usage(cli, T_MISSING_ARG, "tafel %s list|show|create|set|delete", def->name);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (strcmp(verbs[i].name, a->pos[1]) == 0)
            return verbs[i].run(cli, a, def);
    return cli_usage(cli, T_UNKNOWN_COMMAND, "%s %s", a->pos[0], a->pos[1]);
}

/* ----------------------------------------------------------------- help */

static void type_text(const struct cli *cli, const struct tafel_field *f, char *buf, size_t size)
{
    char words[300];
    bool en = cli->lang == CLI_EN;
    switch (f->type) {
    case TAFEL_F_STRING:
        snprintf(buf, size, en ? "text ..%lld" : "tekst ..%lld", (long long)f->max_len);
        break;
    case TAFEL_F_ENUM:
        join_values(f, words, sizeof(words));
        snprintf(buf, size, "%s", words);
        break;
    case TAFEL_F_ENUM_SET:
        join_values(f, words, sizeof(words));
        snprintf(buf, size, "%s: %s", en ? "comma-separated" : "met komma's", words);
        break;
    case TAFEL_F_INT:
        snprintf(buf, size, "%s %.0f..%.0f", tr(cli, T_INTEGER), f->min, f->max);
        break;
    case TAFEL_F_NUMBER:
        snprintf(buf, size, "%s", tr(cli, T_NUMBER));
        break;
    case TAFEL_F_BOOL:
        snprintf(buf, size, "%s", tr(cli, T_BOOL));
        break;
    case TAFEL_F_DATE:
        snprintf(buf, size, "%s", tr(cli, T_DATE));
        break;
    case TAFEL_F_DATETIME:
        snprintf(buf, size, "%s", tr(cli, T_DATETIME));
        break;
    case TAFEL_F_REF:
        snprintf(buf, size, "id (%s)", tafel_schema_kind(f->ref)->name);
        break;
    case TAFEL_F_REF_SET:
        snprintf(buf, size, "%s: id (%s), ..%lld", en ? "comma-separated" : "met komma's",
                 tafel_schema_kind(f->ref)->name, (long long)f->max_len);
        break;
    case TAFEL_F_FEELINGS:
    case TAFEL_F_STRING_SET:
        snprintf(buf, size, "-");
        break;
    }
}

void kind_help(const struct cli *cli, const struct tafel_kind_def *def)
{
    bool en = cli->lang == CLI_EN;
    const char *n = def->name;
    printf("tafel %s - %s\n\n", n, en ? def->doc : def->doc_nl);
    printf("tafel %s list%s\n", n, def->kind == TAFEL_KIND_OPGAVE ? "" : " [--opgave ID]");
    printf("tafel %s show ID\n", n);
    printf("tafel %s create%s --FIELD VALUE ...\n", n,
           def->kind == TAFEL_KIND_OPGAVE ? "" : " --opgave ID");
    printf("tafel %s set ID FIELD=VALUE ... [--rev N]\n", n);
    printf("tafel %s delete ID [--rev N]\n", n);
    if (def->moderated)
        printf("tafel %s hide|restore|pin|unpin|approve ID [--reden %s]\n", n,
               en ? "TEXT" : "TEKST");
    printf("\n");
    printf("%s\n", en ? "Fields (* required; (server) cannot be set):"
                      : "Velden (* verplicht; (server) kunt u niet zetten):");
    struct out_table t;
    out_table_init(&t);
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        char opt[80], type[400], label[200];
        snprintf(opt, sizeof(opt), "  --%s%s", f->name, f->flags & TAFEL_FF_REQUIRED ? " *" : "");
        for (char *p = opt + 4; *p; p++)
            *p = *p == '_' ? '-' : *p;
        type_text(cli, f, type, sizeof(type));
        const char *cells[] = {opt, f->flags & TAFEL_FF_SERVER ? "(server)" : type,
                               field_label(cli, f, label, sizeof(label))};
        out_table_row(&t, 3, cells);
    }
    out_table_print(&t);
}

/* ------------------------------------------------------------ shortcuts */

/* A shortcut: `create` of @p kind whose first fields come from positional
 * words, with defaults for fields left out. */
struct shortcut {
    enum tafel_kind kind;
    const char *usage;
    const char *pos[3]; /* field names of pos[1], pos[2]... ("opgave" included) */
    const char *dflt_field, *dflt_value;
};

static const struct shortcut reflect_row = {TAFEL_KIND_REFLECTIE,
                                            "tafel reflect OPGAVE TEXT [--sort geleerd]",
                                            {"opgave", "text"},
                                            "sort",
                                            "idee"};
static const struct shortcut moment_row = {
    TAFEL_KIND_MOMENT,
    "tafel moment OPGAVE --date D --title T [--type mijlpaal]",
    {"opgave"},
    NULL,
    NULL};
static const struct shortcut measure_row = {TAFEL_KIND_METING,
                                            "tafel measure INDICATOR VALUE [--date D] [--source S]",
                                            {"indicator", "value"},
                                            NULL,
                                            NULL};

/* The new document of a shortcut, before its own additions. */
static json_t *shortcut_doc(struct cli *cli, struct cli_args *a, const struct shortcut *s,
                            const struct tafel_kind_def *def)
{
    size_t npos = 0;
    while (npos < 3 && s->pos[npos])
        npos++;
    if (a->npos != npos + 1) {
        cli_usage(cli, a->npos < npos + 1 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "%s", s->usage);
        return NULL;
    }
    json_t *doc = doc_from_opts(cli, a, def);
    for (size_t i = 0; doc && i < npos; i++) {
        const struct tafel_field *f = any_field(def, s->pos[i]);
        json_t *v = f ? field_value(cli, f, a->pos[i + 1], false) : NULL;
        if (!v) {
            json_decref(doc);
            return NULL;
        }
        json_object_set_new(doc, s->pos[i], v);
    }
    if (doc && s->dflt_field && !json_object_get(doc, s->dflt_field))
        json_object_set_new(doc, s->dflt_field, json_string(s->dflt_value));
    return doc;
}

static enum cli_exit run_shortcut(struct cli *cli, struct cli_args *a, const struct shortcut *s)
{
    const struct tafel_kind_def *def = tafel_schema_kind(s->kind);
    json_t *doc = shortcut_doc(cli, a, s, def);
    return doc ? create_doc(cli, def, doc) : CLI_EXIT_USAGE;
}

enum cli_exit cmd_reflect(struct cli *cli, struct cli_args *a)
{
    return run_shortcut(cli, a, &reflect_row);
}

enum cli_exit cmd_moment(struct cli *cli, struct cli_args *a)
{
    return run_shortcut(cli, a, &moment_row);
}

/* A meting belongs to its indicator's opgave: read it first. */
enum cli_exit cmd_measure(struct cli *cli, struct cli_args *a)
{
    const struct tafel_kind_def *def = tafel_schema_kind(measure_row.kind);
    json_t *doc = shortcut_doc(cli, a, &measure_row, def);
    if (!doc)
        return CLI_EXIT_USAGE;
    if (json_object_get(doc, "opgave")) {
        json_decref(doc);
        return cli_usage(cli, T_UNKNOWN_OPTION, "--opgave (%s)", measure_row.usage);
    }
    char date[11];
    today(date);
    if (!json_object_get(doc, "date"))
        json_object_set_new(doc, "date", json_string(date));
    json_t *indicator = NULL;
    enum cli_exit rc = cli_get(cli, "indicator", a->pos[1], &indicator);
    if (rc != CLI_EXIT_OK) {
        json_decref(doc);
        return rc;
    }
    json_object_set(doc, "opgave", json_object_get(indicator, "opgave"));
    json_decref(indicator);
    return create_doc(cli, def, doc);
}

/* --------------------------------------------------------------- session */

static enum cli_exit session_open(struct cli *cli, struct cli_args *a)
{
    bool twice = false;
    const char *id = cli_opt(cli, a, "id", &twice);
    json_t *created = NULL, *doc = NULL;
    enum cli_exit rc = twice ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    if (rc == CLI_EXIT_OK && !id) {
        /* a new sessie: the generic create's document, from the options */
        const struct tafel_kind_def *def = tafel_schema_kind(TAFEL_KIND_SESSIE);
        if (a->npos != 3)
            return cli_usage(cli, a->npos < 3 ? T_MISSING_ARG : T_TOO_MANY_ARGS, "%s",
                             "tafel session open OPGAVE --question Q");
        json_t *sdoc = doc_from_opts(cli, a, def);
        json_t *msg =
            sdoc ? json_pack("{ss ss so}", "type", "put", "kind", "sessie", "doc", sdoc) : NULL;
        if (msg)
            json_object_set_new(sdoc, "opgave", json_string(a->pos[2]));
        rc = sdoc ? request_doc(cli, msg, &created) : CLI_EXIT_USAGE;
        json_decref(msg);
        id = json_string_value(json_object_get(created, "id"));
    } else if (rc == CLI_EXIT_OK) {
        rc = need_pos(cli, a, 2, 2, "tafel session open --id ID");
    }
    if (rc == CLI_EXIT_OK) {
        json_t *msg = json_pack("{ss ss}", "type", "session.open", "id", id);
        rc = request_doc(cli, msg, &doc);
        json_decref(msg);
    }
    if (rc == CLI_EXIT_OK) {
        const char *code = json_string_value(json_object_get(doc, "join_code"));
        char *url = code ? cli_join_url(cli, code) : NULL;
        if (url)
            json_object_set_new(doc, "join_url", json_string(url));
        if (cli->json)
            out_json(doc);
        else
            printf("%s: %s\n%s: %s\n%s: %s\n", tr(cli, T_SESSION_OPENED), id, tr(cli, T_JOIN_CODE),
                   code ? code : "?", tr(cli, T_JOIN_URL), url ? url : "?");
        free(url);
    }
    json_decref(created);
    json_decref(doc);
    return rc;
}

static enum cli_exit session_close(struct cli *cli, struct cli_args *a)
{
    enum cli_exit rc = need_pos(cli, a, 3, 3, "tafel session close ID");
    json_t *doc = NULL;
    if (rc == CLI_EXIT_OK) {
        json_t *msg = json_pack("{ss ss}", "type", "session.close", "id", a->pos[2]);
        rc = request_doc(cli, msg, &doc);
        json_decref(msg);
    }
    if (rc == CLI_EXIT_OK && cli->json)
        out_json(doc);
    else if (rc == CLI_EXIT_OK)
        printf("%s: %s\n", tr(cli, T_SESSION_CLOSED_OK), a->pos[2]);
    json_decref(doc);
    return rc;
}

enum cli_exit cmd_session(struct cli *cli, struct cli_args *a)
{
    if (a->npos >= 2 && strcmp(a->pos[1], "open") == 0)
        return session_open(cli, a);
    if (a->npos >= 2 && strcmp(a->pos[1], "close") == 0)
        return session_close(cli, a);
    return cli_usage(cli, a->npos < 2 ? T_MISSING_ARG : T_UNKNOWN_COMMAND, "%s",
                     "tafel session open|close");
}
