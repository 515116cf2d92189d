/*
 * report.c - `tafel report OPGAVE`: the opgave's story for the council
 * ("rijker verantwoorden").
 *
 * The report is built once as a JSON model from the opgave and its
 * documents: goal, sturingsdriehoek, stoplicht, action lines with who
 * delivers what, indicators (effect and context apart) with their latest
 * value, progress from baseline to target and whether they are on course
 * (protocol/progress.c, the computation the page mirrors), the timeline
 * with the average feeling per moment, success stories and lessons
 * learned. Hidden reflections never enter it. The model is the --format
 * json output; Markdown and HTML are two emitters walking the same model,
 * so the three cannot tell different stories. Every piece of document text
 * goes through the emitter's escaping: a title cannot inject HTML into the
 * page.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tafel_progress.h"

/* ----------------------------------------------------------- the model */

/* A copy of the members @p names of @p doc that are present. */
static json_t *pick(const json_t *doc, const char *const *names)
{
    json_t *out = json_object();
    for (size_t i = 0; names[i]; i++) {
        json_t *v = json_object_get(doc, names[i]);
        if (v)
            json_object_set(out, names[i], v);
    }
    return out;
}

/* Sort the array @p arr in place with @p cmp over its items. */
static void sort_array(json_t *arr, int (*cmp)(const void *, const void *))
{
    size_t n = json_array_size(arr);
    json_t **items = n ? malloc(n * sizeof(*items)) : NULL;
    if (!items)
        return;
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof(*items), cmp);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
}

/* Dated things: by date, then creation, then id. */
static int by_date(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(member_str(x, "date"), member_str(y, "date"));
    if (!c)
        c = strcmp(member_str(x, "created_at"), member_str(y, "created_at"));
    return c ? c : strcmp(member_str(x, "id"), member_str(y, "id"));
}

static int by_position(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_t *px = json_object_get(x, "position"), *py = json_object_get(y, "position");
    long long ix = px ? json_integer_value(px) : 1LL << 40;
    long long iy = py ? json_integer_value(py) : 1LL << 40;
    if (ix != iy)
        return ix < iy ? -1 : 1;
    return strcmp(member_str(x, "title"), member_str(y, "title"));
}

static int by_created(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(member_str(x, "created_at"), member_str(y, "created_at"));
    return c ? c : strcmp(member_str(x, "id"), member_str(y, "id"));
}

/* The documents of @p all whose @p member equals @p value. */
static json_t *where(const json_t *all, const char *member, const char *value)
{
    json_t *out = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(all, i, d)
    {
        if (strcmp(member_str(d, member), value) == 0)
            json_array_append(out, d);
    }
    return out;
}

static json_t *action_lines(const json_t *lines, const json_t *activities)
{
    static const char *const line_f[] = {"id", "title", "description", "position", NULL};
    static const char *const act_f[] = {"id",          "title",      "owner",    "status",
                                        "description", "start_date", "end_date", NULL};
    json_t *out = json_array();
    size_t i, j;
    json_t *l, *a;
    json_array_foreach(lines, i, l)
    {
        json_t *line = pick(l, line_f);
        json_t *acts = json_array();
        json_t *mine = where(activities, "actielijn", member_str(l, "id"));
        sort_array(mine, by_date);
        json_array_foreach(mine, j, a) json_array_append_new(acts, pick(a, act_f));
        json_decref(mine);
        json_object_set_new(line, "activiteiten", acts);
        json_array_append_new(out, line);
    }
    sort_array(out, by_position);
    return out;
}

/* One indicator with its latest value, progress and course: computed by
 * tafel_progress_compute() (protocol/progress.c), the one definition the
 * page's twin (web/js/progress.js) is held to. The measurements go in by
 * date, then creation, so that of two on one date the later entry counts. */
static json_t *indicator(const json_t *ind, const json_t *metingen)
{
    static const char *const ind_f[] = {"id",          "title",         "type",   "unit",
                                        "baseline",    "baseline_date", "target", "direction",
                                        "description", "source",        NULL};
    static const char *const m_f[] = {"date", "value", "source", "note", NULL};
    json_t *out = pick(ind, ind_f);
    json_t *mine = where(metingen, "indicator", member_str(ind, "id"));
    sort_array(mine, by_date);
    size_t n = json_array_size(mine);
    struct tafel_measurement *ms = n ? calloc(n, sizeof(*ms)) : NULL;
    if (n && !ms)
        n = 0; /* out of memory: told as "no measurements", never a wrong course */
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(mine, i);
        ms[i].date = json_string_value(json_object_get(m, "date"));
        ms[i].value = json_number_value(json_object_get(m, "value"));
    }
    const json_t *b = json_object_get(ind, "baseline"), *t = json_object_get(ind, "target");
    struct tafel_progress_input in = {json_is_number(b), json_is_number(t), json_number_value(b),
                                      json_number_value(t),
                                      tafel_direction_parse(member_str(ind, "direction"))};
    struct tafel_progress p;
    tafel_progress_compute(&in, ms, n, &p);
    free(ms);

    json_object_set_new(out, "metingen", json_integer((json_int_t)json_array_size(mine)));
    json_t *latest = p.has_latest ? json_array_get(mine, p.latest) : NULL;
    json_object_set_new(out, "latest", latest ? pick(latest, m_f) : json_null());
    /* The direction the course was judged by: the indicator's own, or the
     * one its target implies (said so, for the reader to check). */
    const char *dir = tafel_direction_word(p.direction);
    json_object_set_new(out, "direction", dir ? json_string(dir) : json_null());
    json_object_set_new(out, "direction_derived", json_boolean(p.direction_derived));
    json_object_set_new(out, "progress", p.has_progress ? json_real(p.progress) : json_null());
    json_object_set_new(out, "trend", json_string(tafel_trend_word(p.trend)));
    json_object_set_new(out, "trend_measurements", json_integer((json_int_t)p.window));
    json_object_set_new(out, "course", json_string(tafel_course_word(p.course)));
    json_decref(mine);
    return out;
}

static json_t *indicators(const json_t *inds, const json_t *metingen)
{
    json_t *out = json_pack("{s[] s[]}", "effect", "context");
    size_t i;
    json_t *d;
    json_array_foreach(inds, i, d)
    {
        json_t *list =
            json_object_get(out, strcmp(member_str(d, "type"), "context") ? "effect" : "context");
        json_array_append_new(list, indicator(d, metingen));
    }
    return out;
}

/* The timeline: moments by date with their average feeling; high and low
 * points of the gevoelsgrafiek. Sets model's high_point and low_point. */
static json_t *timeline(const json_t *moments, json_t *model)
{
    static const char *const mom_f[] = {"id", "date", "title", "type", "description", NULL};
    json_t *out = json_array();
    json_t *sorted = json_copy((json_t *)moments);
    sort_array(sorted, by_date);
    json_t *high = NULL, *low = NULL;
    size_t i;
    json_t *d;
    json_array_foreach(sorted, i, d)
    {
        json_t *m = pick(d, mom_f);
        const char *k;
        json_t *v;
        double sum = 0;
        size_t n = 0;
        json_object_foreach(json_object_get(d, "feelings"), k, v)
        {
            sum += json_number_value(v);
            n++;
        }
        json_object_set_new(m, "feelings", json_integer((json_int_t)n));
        if (n) {
            double avg = round(sum / (double)n * 100) / 100;
            json_object_set_new(m, "feeling", json_real(avg));
            json_object_set_new(m, "point",
                                json_string(avg > 0   ? "high"
                                            : avg < 0 ? "low"
                                                      : "neutral"));
            if (avg > 0 && (!high || avg > json_real_value(json_object_get(high, "feeling"))))
                high = m;
            if (avg < 0 && (!low || avg < json_real_value(json_object_get(low, "feeling"))))
                low = m;
        } else {
            json_object_set_new(m, "feeling", json_null());
            json_object_set_new(m, "point", json_null());
        }
        json_array_append_new(out, m);
    }
    json_object_set_new(model, "high_point", high ? json_copy(high) : json_null());
    json_object_set_new(model, "low_point", low ? json_copy(low) : json_null());
    json_decref(sorted);
    return out;
}

/* Visible reflections of @p sort, oldest first. */
static json_t *reflections(const json_t *all, const char *sort)
{
    static const char *const ref_f[] = {"id",    "text",   "author",     "author_role",
                                        "votes", "pinned", "created_at", NULL};
    json_t *out = json_array();
    json_t *mine = where(all, "sort", sort);
    sort_array(mine, by_created);
    size_t i;
    json_t *d;
    json_array_foreach(mine, i, d)
    {
        if (!json_is_true(json_object_get(d, "hidden")))
            json_array_append_new(out, pick(d, ref_f));
    }
    json_decref(mine);
    return out;
}

enum { L_LINES, L_ACTIVITIES, L_INDICATORS, L_METINGEN, L_REFLECTIONS, L_MOMENTS, L__COUNT };
static const char *const list_kinds[L__COUNT] = {
    [L_LINES] = "actielijn", [L_ACTIVITIES] = "activiteit", [L_INDICATORS] = "indicator",
    [L_METINGEN] = "meting", [L_REFLECTIONS] = "reflectie", [L_MOMENTS] = "moment"};

static json_t *build_model(const json_t *opgave, json_t *const *lists)
{
    static const char *const opg_f[] = {
        "id",      "title",      "goal",          "target_date", "description", "way_of_working",
        "domains", "complexity", "horizon_years", NULL};
    static const char *const tri_f[] = {"political_sponsor", "executive_sponsor", "lead", NULL};
    json_t *m = json_object();
    json_object_set_new(m, "opgave", pick(opgave, opg_f));
    json_object_set_new(m, "sturingsdriehoek", pick(opgave, tri_f));
    json_object_set_new(m, "traffic_light",
                        json_pack("{s:O? s:O?}", "value", json_object_get(opgave, "traffic_light"),
                                  "note", json_object_get(opgave, "traffic_light_note")));
    json_object_set_new(m, "actielijnen", action_lines(lists[L_LINES], lists[L_ACTIVITIES]));
    json_object_set_new(m, "indicators", indicators(lists[L_INDICATORS], lists[L_METINGEN]));
    json_object_set_new(m, "timeline", timeline(lists[L_MOMENTS], m));
    json_object_set_new(m, "success_stories", reflections(lists[L_REFLECTIONS], "succesverhaal"));
    json_object_set_new(m, "lessons", reflections(lists[L_REFLECTIONS], "geleerd"));
    return m;
}

/* ---------------------------------------------------------- the emitters */

struct emitter;

/* What differs between Markdown and HTML; the walker below is shared. */
struct emitter_ops {
    void (*begin)(struct emitter *e, const char *title);
    void (*heading)(struct emitter *e, int level, const char *text);
    void (*para)(struct emitter *e, const char *label, const char *text);
    void (*list)(struct emitter *e, bool open);
    void (*item)(struct emitter *e, const char *label, const char *text);
    void (*table)(struct emitter *e, const json_t *rows); /* first row: header */
    void (*end)(struct emitter *e);
};

struct emitter {
    const struct emitter_ops *ops;
    const struct cli *cli;
    bool in_list;
};

static void md_text(const char *s, bool in_table)
{
    for (; *s; s++) {
        if (strchr("\\`*_[]<>#|!", *s))
            putchar('\\');
        putchar(*s == '\n' && in_table ? ' ' : *s);
    }
}

static void md_begin(struct emitter *e, const char *title)
{
    (void)e;
    (void)title;
}

static void md_heading(struct emitter *e, int level, const char *text)
{
    (void)e;
    printf("%.*s ", level, "####");
    md_text(text, true);
    printf("\n\n");
}

static void md_para(struct emitter *e, const char *label, const char *text)
{
    (void)e;
    if (label) {
        printf("**");
        md_text(label, true);
        printf(":** ");
    }
    md_text(text, false);
    printf("\n\n");
}

static void md_list(struct emitter *e, bool open)
{
    (void)e;
    if (!open)
        printf("\n");
}

static void md_item(struct emitter *e, const char *label, const char *text)
{
    (void)e;
    printf("- ");
    if (label) {
        printf("**");
        md_text(label, true);
        printf(":** ");
    }
    md_text(text, true);
    printf("\n");
}

static void md_table(struct emitter *e, const json_t *rows)
{
    (void)e;
    size_t i, j;
    json_t *row, *cell;
    json_array_foreach(rows, i, row)
    {
        json_array_foreach(row, j, cell)
        {
            printf("| ");
            md_text(json_string_value(cell), true);
            printf(" ");
        }
        printf("|\n");
        if (i == 0) {
            for (j = 0; j < json_array_size(row); j++)
                printf("| --- ");
            printf("|\n");
        }
    }
    printf("\n");
}

static void md_end(struct emitter *e)
{
    (void)e;
}

static const struct emitter_ops md_ops = {md_begin, md_heading, md_para, md_list,
                                          md_item,  md_table,   md_end};

static void html_text(const char *s, bool breaks)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", stdout);
            break;
        case '<':
            fputs("&lt;", stdout);
            break;
        case '>':
            fputs("&gt;", stdout);
            break;
        case '"':
            fputs("&quot;", stdout);
            break;
        case '\'':
            fputs("&#39;", stdout);
            break;
        case '\n':
            fputs(breaks ? "<br>\n" : " ", stdout);
            break;
        default:
            putchar(*s);
        }
    }
}

static void html_begin(struct emitter *e, const char *title)
{
    printf("<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
           "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
           e->cli->lang == CLI_EN ? "en" : "nl");
    html_text(title, false);
    printf("</title>\n<style>\n"
           "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
           "padding:0 1rem;line-height:1.5;color:#222}\n"
           "table{border-collapse:collapse;margin:0 0 1rem}\n"
           "th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\n"
           "th{background:#f3f3f3}\n"
           "</style>\n</head>\n<body>\n");
}

static void html_heading(struct emitter *e, int level, const char *text)
{
    (void)e;
    printf("<h%d>", level);
    html_text(text, false);
    printf("</h%d>\n", level);
}

static void html_para(struct emitter *e, const char *label, const char *text)
{
    (void)e;
    printf("<p>");
    if (label) {
        printf("<strong>");
        html_text(label, false);
        printf(":</strong> ");
    }
    html_text(text, true);
    printf("</p>\n");
}

static void html_list(struct emitter *e, bool open)
{
    (void)e;
    printf(open ? "<ul>\n" : "</ul>\n");
}

static void html_item(struct emitter *e, const char *label, const char *text)
{
    (void)e;
    printf("<li>");
    if (label) {
        printf("<strong>");
        html_text(label, false);
        printf(":</strong> ");
    }
    html_text(text, true);
    printf("</li>\n");
}

static void html_table(struct emitter *e, const json_t *rows)
{
    (void)e;
    size_t i, j;
    json_t *row, *cell;
    printf("<table>\n");
    json_array_foreach(rows, i, row)
    {
        printf("<tr>");
        json_array_foreach(row, j, cell)
        {
            printf(i == 0 ? "<th>" : "<td>");
            html_text(json_string_value(cell), true);
            printf(i == 0 ? "</th>" : "</td>");
        }
        printf("</tr>\n");
    }
    printf("</table>\n");
}

static void html_end(struct emitter *e)
{
    (void)e;
    printf("</body>\n</html>\n");
}

static const struct emitter_ops html_ops = {html_begin, html_heading, html_para, html_list,
                                            html_item,  html_table,   html_end};

/* The shared walker's steps: lists open and close around items by
 * themselves. */
static void close_list(struct emitter *e)
{
    if (e->in_list)
        e->ops->list(e, false);
    e->in_list = false;
}

static void heading(struct emitter *e, int level, const char *text)
{
    close_list(e);
    e->ops->heading(e, level, text);
}

static void para(struct emitter *e, const char *label, const char *text)
{
    close_list(e);
    e->ops->para(e, label, text);
}

static void item(struct emitter *e, const char *label, const char *text)
{
    if (!e->in_list)
        e->ops->list(e, true);
    e->in_list = true;
    e->ops->item(e, label, text);
}

static void table(struct emitter *e, const json_t *rows)
{
    close_list(e);
    e->ops->table(e, rows);
}

/* ------------------------------------------------------------ the walker */

static const char *T(const struct emitter *e, enum cli_text id)
{
    return tr(e->cli, id);
}

static bool english(const struct emitter *e)
{
    return e->cli->lang == CLI_EN;
}

/* The label of field @p name of @p kind: the schema row's, as the page
 * and `tafel KIND show` write it. */
static const char *flabel(const struct emitter *e, enum tafel_kind kind, const char *name)
{
    const struct tafel_field *f = tafel_schema_field(tafel_schema_kind(kind), name);
    return !f ? name : english(e) ? f->label_en : f->label_nl;
}

/* The label of @p kind ("Activiteit" / "Activity"). */
static const char *klabel(const struct emitter *e, enum tafel_kind kind)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    return english(e) ? def->label_en : def->label_nl;
}

/* Enumeration value @p w of field @p name of @p kind in words: the row's
 * label (groen / green), or @p w itself if it is not one of the values. */
static const char *word(const struct emitter *e, enum tafel_kind kind, const char *name,
                        const char *w)
{
    const struct tafel_field *f = tafel_schema_field(tafel_schema_kind(kind), name);
    for (size_t i = 0; f && i < tafel_schema_nvalues(f); i++)
        if (strcmp(f->values[i].value, w) == 0)
            return tafel_schema_value_label(&f->values[i], english(e));
    return w;
}

/* Add a cell to the last row of @p rows (takes @p s; NULL is ""). */
static void cell(json_t *rows, char *s)
{
    json_array_append_new(json_array_get(rows, json_array_size(rows) - 1), json_string(s ? s : ""));
    free(s);
}

static json_t *header(const char *const *cols, size_t n)
{
    json_t *rows = json_array();
    json_array_append_new(rows, json_array());
    for (size_t i = 0; i < n; i++)
        cell(rows, strdup(cols[i]));
    return rows;
}

static char *value(const struct emitter *e, const json_t *doc, const char *name)
{
    const json_t *v = json_object_get(doc, name);
    return v ? out_value(e->cli, v) : NULL;
}

/* Field @p name of the opgave @p doc as a labelled item, if it has a value;
 * enumeration values in words. */
static void optional_item(struct emitter *e, const json_t *doc, const char *name)
{
    const json_t *j = json_object_get(doc, name);
    char *v = NULL;
    if (json_is_array(j)) {
        /* an enum_set: each value in words */
        json_t *words = json_array();
        size_t i;
        json_t *w;
        json_array_foreach(j, i, w)
        {
            const char *s = json_string_value(w);
            json_array_append_new(words, json_string(word(e, TAFEL_KIND_OPGAVE, name, s ? s : "")));
        }
        v = out_value(e->cli, words);
        json_decref(words);
    } else if (json_is_string(j)) {
        v = strdup(word(e, TAFEL_KIND_OPGAVE, name, json_string_value(j)));
    } else {
        v = value(e, doc, name);
    }
    if (v && *v)
        item(e, flabel(e, TAFEL_KIND_OPGAVE, name), v);
    free(v);
}

static void walk_opgave(struct emitter *e, const json_t *m)
{
    const json_t *o = json_object_get(m, "opgave");
    heading(e, 2, T(e, T_R_GOAL));
    para(e, NULL, *member_str(o, "goal") ? member_str(o, "goal") : T(e, T_R_NOTHING));
    optional_item(e, o, "target_date");
    optional_item(e, o, "way_of_working");
    optional_item(e, o, "domains");
    if (*member_str(o, "description"))
        para(e, flabel(e, TAFEL_KIND_OPGAVE, "description"), member_str(o, "description"));

    const json_t *tri = json_object_get(m, "sturingsdriehoek");
    heading(e, 2, T(e, T_R_TRIANGLE));
    const char *names[] = {"political_sponsor", "executive_sponsor", "lead"};
    for (size_t i = 0; i < 3; i++)
        item(e, flabel(e, TAFEL_KIND_OPGAVE, names[i]),
             *member_str(tri, names[i]) ? member_str(tri, names[i]) : "-");

    const json_t *light = json_object_get(m, "traffic_light");
    const char *light_label = flabel(e, TAFEL_KIND_OPGAVE, "traffic_light");
    heading(e, 2, light_label);
    para(e, light_label,
         *member_str(light, "value")
             ? word(e, TAFEL_KIND_OPGAVE, "traffic_light", member_str(light, "value"))
             : "-");
    if (*member_str(light, "note"))
        para(e, T(e, T_R_NOTE), member_str(light, "note"));
}

static void walk_actions(struct emitter *e, const json_t *m)
{
    const char *cols[] = {klabel(e, TAFEL_KIND_ACTIVITEIT),
                          flabel(e, TAFEL_KIND_ACTIVITEIT, "owner"),
                          flabel(e, TAFEL_KIND_ACTIVITEIT, "status"), T(e, T_R_PERIOD)};
    heading(e, 2, T(e, T_R_ACTIONS));
    const json_t *lines = json_object_get(m, "actielijnen");
    if (!json_array_size(lines))
        para(e, NULL, T(e, T_R_NOTHING));
    size_t i, j;
    json_t *l, *a;
    json_array_foreach(lines, i, l)
    {
        heading(e, 3, member_str(l, "title"));
        if (*member_str(l, "description"))
            para(e, NULL, member_str(l, "description"));
        const json_t *acts = json_object_get(l, "activiteiten");
        if (!json_array_size(acts))
            continue;
        json_t *rows = header(cols, 4);
        json_array_foreach(acts, j, a)
        {
            json_array_append_new(rows, json_array());
            cell(rows, strdup(member_str(a, "title")));
            cell(rows, strdup(member_str(a, "owner")));
            cell(rows, strdup(word(e, TAFEL_KIND_ACTIVITEIT, "status", member_str(a, "status"))));
            char *period = NULL;
            if ((*member_str(a, "start_date") || *member_str(a, "end_date")) &&
                asprintf(&period, "%s – %s", member_str(a, "start_date"),
                         member_str(a, "end_date")) < 0)
                period = NULL;
            cell(rows, period);
        }
        table(e, rows);
        json_decref(rows);
    }
}

static char *with_unit(const struct emitter *e, const json_t *doc, const char *name,
                       const char *unit)
{
    char *v = value(e, doc, name);
    char *out = NULL;
    if (v && *unit && asprintf(&out, "%s %s", v, unit) >= 0) {
        free(v);
        return out;
    }
    return v;
}

/* "42 %": the share of the way from baseline to target, whole percents. */
static char *percent(const struct emitter *e, const json_t *progress)
{
    char *out = NULL;
    if (!json_is_number(progress))
        return NULL;
    long pct = lround(json_number_value(progress) * 100);
    if (asprintf(&out, english(e) ? "%ld%%" : "%ld %%", pct) < 0)
        out = NULL;
    return out;
}

/* "op koers (dalend)": the course in words, with the trend it was judged
 * from; text, so that it reads without colour. */
static char *course(const struct emitter *e, const json_t *d)
{
    const char *c = member_str(d, "course");
    const char *trend = member_str(d, "trend");
    const char *cw = strcmp(c, "op_koers") == 0        ? T(e, T_R_ON_COURSE)
                     : strcmp(c, "niet_op_koers") == 0 ? T(e, T_R_OFF_COURSE)
                                                       : T(e, T_R_COURSE_UNKNOWN);
    const char *tw = strcmp(trend, "up") == 0     ? T(e, T_R_UP)
                     : strcmp(trend, "down") == 0 ? T(e, T_R_DOWN)
                     : strcmp(trend, "flat") == 0 ? T(e, T_R_FLAT)
                                                  : NULL;
    char *out = NULL;
    if (asprintf(&out, "%s%s%s%s", cw, tw ? " (" : "", tw ? tw : "", tw ? ")" : "") < 0)
        out = NULL;
    return out;
}

/* The direction in words ("omlaag (lager is beter)"), and whether it was
 * derived from the target rather than set. */
static char *direction(const struct emitter *e, const json_t *d)
{
    const char *dir = member_str(d, "direction");
    if (!*dir)
        return NULL;
    const char *w = word(e, TAFEL_KIND_INDICATOR, "direction", dir);
    bool derived = json_is_true(json_object_get(d, "direction_derived"));
    char *out = NULL;
    if (asprintf(&out, "%s%s%s", w, derived ? ", " : "", derived ? T(e, T_R_DERIVED) : "") < 0)
        out = NULL;
    return out;
}

static void walk_indicators(struct emitter *e, const json_t *m)
{
    const char *cols[] = {klabel(e, TAFEL_KIND_INDICATOR),
                          flabel(e, TAFEL_KIND_INDICATOR, "baseline"),
                          flabel(e, TAFEL_KIND_INDICATOR, "target"),
                          flabel(e, TAFEL_KIND_INDICATOR, "direction"),
                          T(e, T_R_LATEST),
                          T(e, T_R_PROGRESS),
                          T(e, T_R_COURSE)};
    const json_t *inds = json_object_get(m, "indicators");
    const struct tafel_kind_def *ind = tafel_schema_kind(TAFEL_KIND_INDICATOR);
    heading(e, 2, english(e) ? ind->plural_en : ind->plural_nl);
    const char *groups[] = {"effect", "context"};
    const enum cli_text titles[] = {T_R_EFFECT, T_R_CONTEXT};
    for (size_t g = 0; g < 2; g++) {
        heading(e, 3, T(e, titles[g]));
        const json_t *list = json_object_get(inds, groups[g]);
        if (!json_array_size(list)) {
            para(e, NULL, T(e, T_R_NOTHING));
            continue;
        }
        json_t *rows = header(cols, sizeof(cols) / sizeof(cols[0]));
        size_t i;
        json_t *d;
        json_array_foreach(list, i, d)
        {
            const char *unit = member_str(d, "unit");
            const json_t *latest = json_object_get(d, "latest");
            json_array_append_new(rows, json_array());
            cell(rows, strdup(member_str(d, "title")));
            char *base = with_unit(e, d, "baseline", unit), *bd = NULL;
            if (base && *member_str(d, "baseline_date") &&
                asprintf(&bd, "%s (%s)", base, member_str(d, "baseline_date")) >= 0) {
                free(base);
                base = bd;
            }
            cell(rows, base);
            cell(rows, with_unit(e, d, "target", unit));
            cell(rows, direction(e, d));
            char *lv = json_is_object(latest) ? with_unit(e, latest, "value", unit) : NULL;
            char *ld = NULL;
            if (lv && asprintf(&ld, "%s (%s)", lv, member_str(latest, "date")) < 0)
                ld = NULL;
            free(lv);
            cell(rows, ld);
            cell(rows, percent(e, json_object_get(d, "progress")));
            cell(rows, course(e, d));
        }
        table(e, rows);
        json_decref(rows);
    }
}

static void point_item(struct emitter *e, enum cli_text label, const json_t *p)
{
    if (!json_is_object(p))
        return;
    char *text = NULL;
    if (asprintf(&text, "%s (%s, %+.2f)", member_str(p, "title"), member_str(p, "date"),
                 json_number_value(json_object_get(p, "feeling"))) >= 0)
        item(e, T(e, label), text);
    free(text);
}

static void walk_timeline(struct emitter *e, const json_t *m)
{
    const char *cols[] = {flabel(e, TAFEL_KIND_MOMENT, "date"), klabel(e, TAFEL_KIND_MOMENT),
                          T(e, T_R_FEELING)};
    heading(e, 2, T(e, T_R_TIMELINE));
    const json_t *moments = json_object_get(m, "timeline");
    if (!json_array_size(moments)) {
        para(e, NULL, T(e, T_R_NOTHING));
        return;
    }
    json_t *rows = header(cols, 3);
    size_t i;
    json_t *d;
    json_array_foreach(moments, i, d)
    {
        json_array_append_new(rows, json_array());
        cell(rows, strdup(member_str(d, "date")));
        char *title = NULL;
        bool milestone = strcmp(member_str(d, "type"), "mijlpaal") == 0;
        if (asprintf(&title, "%s%s%s%s", member_str(d, "title"), milestone ? " (" : "",
                     milestone ? word(e, TAFEL_KIND_MOMENT, "type", "mijlpaal") : "",
                     milestone ? ")" : "") < 0)
            title = NULL;
        cell(rows, title);
        char *feel = NULL;
        const char *point = member_str(d, "point");
        if (json_is_number(json_object_get(d, "feeling")) &&
            asprintf(&feel, "%+.2f%s%s", json_number_value(json_object_get(d, "feeling")),
                     *point == 'h'   ? " ▲ "
                     : *point == 'l' ? " ▼ "
                                     : "",
                     *point == 'h'   ? T(e, T_R_HIGH)
                     : *point == 'l' ? T(e, T_R_LOW)
                                     : "") < 0)
            feel = NULL;
        cell(rows, feel);
    }
    table(e, rows);
    json_decref(rows);
    point_item(e, T_R_HIGHEST, json_object_get(m, "high_point"));
    point_item(e, T_R_LOWEST, json_object_get(m, "low_point"));
}

static void walk_reflections(struct emitter *e, enum cli_text title, const json_t *list)
{
    heading(e, 2, T(e, title));
    if (!json_array_size(list))
        para(e, NULL, T(e, T_R_NOTHING));
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        char *text = NULL;
        const char *author = member_str(d, "author");
        /* An inwoner's name is marked: a name typed at the join form must
         * never pass for a key holder's in the council's report. */
        bool inwoner = strcmp(member_str(d, "author_role"), "inwoner") == 0;
        if (asprintf(&text, "%s%s%s%s%s%s", member_str(d, "text"), *author ? " (" : "", author,
                     *author && inwoner ? ", " : "", *author && inwoner ? T(e, T_R_INWONER) : "",
                     *author ? ")" : "") >= 0)
            item(e, NULL, text);
        free(text);
    }
}

static void walk(struct emitter *e, const json_t *m)
{
    const char *title = member_str(json_object_get(m, "opgave"), "title");
    char date[11], *sub = NULL;
    today(date);
    e->ops->begin(e, title);
    heading(e, 1, title);
    if (asprintf(&sub, "%s (%s %s)", T(e, T_R_SUBTITLE), T(e, T_R_MADE_ON), date) >= 0)
        para(e, NULL, sub);
    free(sub);
    walk_opgave(e, m);
    walk_actions(e, m);
    walk_indicators(e, m);
    walk_timeline(e, m);
    walk_reflections(e, T_R_STORIES, json_object_get(m, "success_stories"));
    walk_reflections(e, T_R_LESSONS, json_object_get(m, "lessons"));
    close_list(e);
    e->ops->end(e);
    fflush(stdout);
}

/* ------------------------------------------------------------ the command */

enum cli_exit cmd_report(struct cli *cli, struct cli_args *a)
{
    bool twice = false;
    const char *format = cli_opt(cli, a, "format", &twice);
    if (twice)
        return CLI_EXIT_USAGE;
    if (a->npos != 2)
        return cli_usage(cli, a->npos < 2 ? T_MISSING_ARG : T_TOO_MANY_ARGS,
                         "tafel report OPGAVE [--format md|html|json]");
    if (!format)
        format = cli->json ? "json" : "md";
    const struct emitter_ops *ops = strcmp(format, "md") == 0     ? &md_ops
                                    : strcmp(format, "html") == 0 ? &html_ops
                                                                  : NULL;
    if (!ops && strcmp(format, "json") != 0)
        return cli_usage(cli, T_BAD_FORMAT, "--format %s", format);

    json_t *opgave = NULL, *lists[L__COUNT] = {NULL};
    enum cli_exit rc = cli_get(cli, "opgave", a->pos[1], &opgave);
    for (size_t i = 0; i < L__COUNT && rc == CLI_EXIT_OK; i++) {
        bool more = false;
        rc = cli_list(cli, list_kinds[i], a->pos[1], &lists[i], &more);
        /* `list` has no paging: a story with a part cut off is not told. */
        if (rc == CLI_EXIT_OK && more)
            rc = cli_fail(cli, CLI_EXIT_OTHER, tr(cli, T_REPORT_TOO_BIG), list_kinds[i], T__COUNT);
    }
    if (rc == CLI_EXIT_OK) {
        json_t *model = build_model(opgave, lists);
        if (ops) {
            struct emitter e = {ops, cli, false};
            walk(&e, model);
        } else {
            out_json(model);
        }
        json_decref(model);
    }
    json_decref(opgave);
    for (size_t i = 0; i < L__COUNT; i++)
        json_decref(lists[i]);
    return rc;
}
