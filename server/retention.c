/*
 * retention.c - the retention rules (retention.h; what they mean for a
 * municipality: docs/privacy.md), applied by tafeld itself on a timer.
 *
 * Every change they make goes through the writer thread like any other
 * write: an inwoner's name anonymised is a patch of the reflectie, a hidden
 * contribution's deletion a delete, both in one tafel_store_write() batch
 * with their change records (the earlier ones stripped of their content, so
 * no replay and no backup keeps the name or the text) and their events,
 * which the loop then hands to the hub: subscribers see them as they see a
 * moderator's change. The change log's age rule and the audit's term are
 * storage walks (storage/retention.c), run as writer jobs too. Nothing
 * writes LMDB behind the writer's back.
 *
 * A run is a sequence of steps, one writer job each, at most one in flight
 * and at most one started per tick (250 ms):
 *   DOCS    a page of reflecties looked at, the due ones changed in one commit
 *   LOG     a stretch of the change log stripped by age
 *   AUDIT   a stretch of old audit entries removed
 *   REPORT  the audit entry "retention" with the run's counts
 * so neither the loop nor the writer is held long however large the data
 * directory. Every run leaves an audit entry, also one that changed
 * nothing: an auditor must be able to see that the rules ran as the
 * register says, not only when they found something.
 */
#include "retention.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hub.h"
#include "quota.h"
#include "tafel_time.h"
#include "writes.h"

#define SECOND_MS 1000LL
#define DAY_MS    (24LL * 3600 * SECOND_MS)
#define YEAR_MS   (365 * DAY_MS)
#define ACTOR     "tafeld"

/* What one step does at most: a page of reflecties parsed, of which so many
 * changed in one commit; a stretch of the log; of the audit trail. A few
 * milliseconds of the writer's time each. */
#define SCAN_DOCS     256
#define WRITE_DOCS    64
#define SCAN_LOG      4096
#define AUDIT_STEP    4096
#define SESSION_CACHE 32

enum phase { PH_DOCS, PH_LOG, PH_AUDIT, PH_REPORT, PH_END };

static const char *const phase_names[] = {"docs", "log", "audit", "report", "end"};

struct counts {
    uint64_t anonymised, hidden_deleted, log_stripped, audit_removed;
};

enum action { ACT_ANONYMISE, ACT_DELETE };

/* A contribution a rule changes and, once committed, what the loop fans out. */
struct target {
    enum action action;
    char id[TAFEL_ID_MAX + 1];
    char opgave[TAFEL_ID_MAX + 1];
    int64_t rev;
    json_t *doc; /* as found (owned): a deleted one gives its session's quota back */
    bool committed;
    uint64_t seq;
    uint32_t flags;
    char *full, *redacted; /* events, TAFEL_HEADROOM free in front (owned) */
    size_t full_len, redacted_len;
};

/* A session as a DOCS step found it: contributions of one session come
 * together, so it is read once per step. */
struct session_seen {
    char id[TAFEL_ID_MAX + 1];
    bool found, closed;
    int64_t closed_ms;
};

/* One step: filled by the loop, worked in the writer thread, read back by
 * the loop. The writer's queue (its mutex) orders the hand-overs. */
struct step {
    enum phase phase;
    const struct tafel_config *cfg;
    int64_t now_ms;               /* the run's clock: every step judges by it */
    char after[TAFEL_ID_MAX + 1]; /* DOCS: the last reflectie looked at */
    uint64_t log_from;            /* LOG: where to go on (0: the first entry) */
    bool phase_done;
    struct counts n;     /* what this step did */
    struct counts total; /* REPORT: what the run did */
    enum tafel_err err;
    struct target t[WRITE_DOCS];
    size_t nt;
    struct tafel_write w[WRITE_DOCS];
    struct session_seen sessions[SESSION_CACHE];
    size_t nsessions;
};

struct tafel_retention {
    int64_t next_ms; /* monotonic: when the next run starts */
    bool running;
    bool busy; /* a step is with the writer */
    struct counts total;
    struct step step;
};

/* ---------------------------------------------------------------- helpers */

static bool enabled(const struct tafel_config *c)
{
    return c->retention_interval_ms > 0 &&
           (c->anonymise_after_ms || c->delete_hidden_after_ms || c->strip_log_after_ms ||
            c->retain_besluit_ms || c->retain_opgave_ms || c->retain_audit_ms);
}

/* What was made before this moment is older than @p term; 0: nothing is
 * (the rule is off, or the term reaches back before the epoch). */
static int64_t cutoff(int64_t now, int64_t term)
{
    return term > 0 && now > term ? now - term : 0;
}

/* The time in @p field of @p doc, else in @p fallback; INT64_MAX (never due)
 * when neither holds one. */
static int64_t when(const json_t *doc, const char *field, const char *fallback)
{
    int64_t ms;
    if (tafel_time_parse(json_string_value(json_object_get(doc, field)), &ms))
        return ms;
    if (fallback && tafel_time_parse(json_string_value(json_object_get(doc, fallback)), &ms))
        return ms;
    return INT64_MAX;
}

static const char *str_field(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

/* An inwoner's contribution that still carries the name it was given. */
static bool anonymisable(const json_t *doc)
{
    const char *role = str_field(doc, "author_role"), *author = str_field(doc, "author");
    return role && strcmp(role, "inwoner") == 0 && author &&
           strcmp(author, TAFEL_RETENTION_AUTHOR) != 0;
}

static void add(struct counts *to, const struct counts *n)
{
    to->anonymised += n->anonymised;
    to->hidden_deleted += n->hidden_deleted;
    to->log_stripped += n->log_stripped;
    to->audit_removed += n->audit_removed;
}

/* @p ms as the options write it ("30d", "2s"), or @p zero when 0. */
static json_t *duration_json(int64_t ms, const char *zero)
{
    static const struct {
        int64_t ms;
        const char *unit;
    } units[] = {{YEAR_MS, "y"},
                 {DAY_MS, "d"},
                 {3600 * SECOND_MS, "h"},
                 {60 * SECOND_MS, "m"},
                 {SECOND_MS, "s"}};
    char buf[48];
    if (ms <= 0)
        return json_string(zero);
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms % units[i].ms == 0) {
            snprintf(buf, sizeof(buf), "%lld%s", (long long)(ms / units[i].ms), units[i].unit);
            return json_string(buf);
        }
    }
    snprintf(buf, sizeof(buf), "%.3fs", (double)ms / SECOND_MS);
    return json_string(buf);
}

/* ----------------------------------------------- DOCS (writer thread) */

static const struct session_seen *session_of(tafel_store *st, struct step *s, const char *id)
{
    for (size_t i = 0; i < s->nsessions; i++) {
        if (strcmp(s->sessions[i].id, id) == 0)
            return &s->sessions[i];
    }
    /* Full: the last slot is taken over (the cache only saves reads). */
    struct session_seen *ss =
        &s->sessions[s->nsessions < SESSION_CACHE ? s->nsessions++ : SESSION_CACHE - 1];
    memset(ss, 0, sizeof(*ss));
    snprintf(ss->id, sizeof(ss->id), "%s", id);
    json_t *doc = NULL;
    enum tafel_err err = tafel_store_get(st, "sessie", id, &doc);
    /* A session that is gone is closed for good; one that cannot be read
     * now is taken as open (nothing is done until the next run). */
    ss->found = err != TAFEL_E_NOT_FOUND;
    if (err == TAFEL_E_OK) {
        const char *state = str_field(doc, "state");
        ss->closed = state && strcmp(state, "gesloten") == 0;
        ss->closed_ms = when(doc, "closed_at", "updated_at");
    }
    json_decref(doc);
    return ss;
}

struct scan {
    tafel_store *st;
    struct step *s;
    int64_t anonymise_before, delete_before;
};

/* One reflectie: due for a rule? Stops the page when the commit is full. */
static bool scan_fn(void *ctx, const char *kind, const char *id, const char *opgave,
                    const char *json, size_t len)
{
    struct scan *sc = ctx;
    struct step *s = sc->s;
    (void)kind;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!doc)
        return true; /* not ours to judge */
    enum action act = ACT_ANONYMISE;
    bool due = false;
    if (json_is_true(json_object_get(doc, "hidden")) && sc->delete_before &&
        when(doc, "hidden_at", "updated_at") < sc->delete_before) {
        /* Hidden since before the term (one hidden before hidden_at was
         * kept, or still waiting for approval, counts from its last change). */
        act = ACT_DELETE;
        due = true;
    } else if (sc->anonymise_before && anonymisable(doc) && str_field(doc, "session")) {
        const struct session_seen *ss = session_of(sc->st, s, str_field(doc, "session"));
        /* A session deleted since: the contribution's last change is the
         * latest the session can have been open. */
        int64_t closed = !ss->found   ? when(doc, "updated_at", NULL)
                         : ss->closed ? ss->closed_ms
                                      : INT64_MAX;
        due = closed < sc->anonymise_before;
    }
    if (!due) {
        json_decref(doc);
        return true;
    }
    struct target *t = &s->t[s->nt++];
    memset(t, 0, sizeof(*t));
    t->action = act;
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->opgave, sizeof(t->opgave), "%s", opgave);
    t->rev = (int64_t)json_integer_value(json_object_get(doc, "rev"));
    t->doc = doc;
    return s->nt < WRITE_DOCS;
}

/* The hook, inside the transaction: is the contribution still as it was
 * found? (The writer is the only one that writes, but a step's scan and its
 * commit are two transactions.) Marks the change as a moderator's hide or
 * delete is marked, so readers get what they got of those. */
static enum tafel_err retention_check(void *ctx, struct tafel_write *w, const json_t *current,
                                      json_t *proposed)
{
    const struct target *t = ctx;
    bool hidden = json_is_true(json_object_get(current, "hidden"));
    bool still = t->action == ACT_DELETE ? hidden : anonymisable(current);
    if (!still)
        return tafel_errinfo_set(&w->info, TAFEL_E_CONFLICT, NULL, "changed since it was found");
    /* The name (or the text) goes from every earlier version in the log:
     * no replay and no backup keeps it. */
    w->redact_history = true;
    bool secret = proposed && tafel_schema_holds_secrets(TAFEL_KIND_REFLECTIE, proposed);
    w->flags = (hidden ? TAFEL_CF_HIDDEN | TAFEL_CF_WAS_HIDDEN : 0u) |
               (secret ? TAFEL_CF_SECRET : 0u) | TAFEL_CF_REDACTS;
    return TAFEL_E_OK;
}

static void commit_targets(tafel_store *st, struct step *s)
{
    const char *kind = tafel_schema_kind(TAFEL_KIND_REFLECTIE)->name;
    json_t *patch = json_pack("{s:s}", "author", TAFEL_RETENTION_AUTHOR);
    if (!patch) {
        s->err = TAFEL_E_NOMEM;
        return;
    }
    for (size_t i = 0; i < s->nt; i++) {
        struct tafel_write *w = &s->w[i];
        struct target *t = &s->t[i];
        memset(w, 0, sizeof(*w));
        w->kind = kind;
        w->id = t->id;
        w->actor = ACTOR;
        w->check = retention_check;
        w->check_ctx = t;
        /* The stored bytes back, with room for the event around them. */
        w->keep_text = true;
        w->text_before = TAFEL_HEADROOM + TAFEL_EVENT_PUT_HEAD_LEN;
        w->text_after = TAFEL_EVENT_TAIL_ROOM;
        if (t->action == ACT_ANONYMISE) {
            w->op = TAFEL_OP_PATCH;
            w->doc = patch;
        } else {
            w->op = TAFEL_OP_DELETE;
            w->expected_rev = t->rev;
        }
    }
    enum tafel_err err = tafel_store_write(st, s->w, s->nt, tafel_time_now_ms());
    if (err != TAFEL_E_OK)
        s->err = err;
    for (size_t i = 0; i < s->nt; i++) {
        struct tafel_write *w = &s->w[i];
        struct target *t = &s->t[i];
        if (err == TAFEL_E_OK && w->result == TAFEL_E_OK) {
            t->committed = true;
            t->seq = w->seq;
            t->flags = w->flags;
            if (t->action == ACT_ANONYMISE) {
                s->n.anonymised++;
                /* As finish_doc() does for a client's write: the event
                 * around the stored bytes where they lie. */
                t->full_len = tafel_msg_event_wrap(w->text, TAFEL_HEADROOM, w->text_len, w->seq);
                t->full = w->text;
                w->text = NULL;
                if ((w->flags & TAFEL_CF_SECRET) && w->stored)
                    t->redacted = hub_event_without_secrets(w->seq, TAFEL_KIND_REFLECTIE, w->stored,
                                                            TAFEL_HEADROOM, &t->redacted_len);
            } else {
                s->n.hidden_deleted++;
                t->full = tafel_msg_event_stub(w->seq, kind, w->new_id, t->opgave, w->new_rev,
                                               TAFEL_HEADROOM, &t->full_len);
            }
        }
        json_decref(w->stored);
        free(w->text);
        w->stored = NULL;
        w->text = NULL;
        w->doc = NULL;
    }
    json_decref(patch);
}

static void docs_step(tafel_store *st, struct step *s)
{
    const struct tafel_config *c = s->cfg;
    struct scan sc = {st, s, cutoff(s->now_ms, c->anonymise_after_ms),
                      cutoff(s->now_ms, c->delete_hidden_after_ms)};
    bool more = false;
    s->err = tafel_store_list_after(st, tafel_schema_kind(TAFEL_KIND_REFLECTIE)->name, s->after,
                                    SCAN_DOCS, scan_fn, &sc, s->after, &more);
    s->phase_done = !more;
    if (s->err == TAFEL_E_OK && s->nt)
        commit_targets(st, s);
}

/* ------------------------------------------- LOG, AUDIT, REPORT (writer) */

static void log_step(tafel_store *st, struct step *s)
{
    const struct tafel_config *c = s->cfg;
    /* Besluiten and opgaven have archival value (Archiefwet): their own terms. */
    const struct tafel_log_term own[] = {
        {tafel_schema_kind(TAFEL_KIND_BESLUIT)->name, cutoff(s->now_ms, c->retain_besluit_ms)},
        {tafel_schema_kind(TAFEL_KIND_OPGAVE)->name, cutoff(s->now_ms, c->retain_opgave_ms)},
    };
    const struct tafel_log_terms terms = {cutoff(s->now_ms, c->strip_log_after_ms), own,
                                          sizeof(own) / sizeof(own[0])};
    uint64_t next = 0;
    s->err =
        tafel_store_log_strip_aged(st, &terms, s->log_from, SCAN_LOG, &next, &s->n.log_stripped);
    s->log_from = next;
    s->phase_done = next == 0;
}

static void audit_step(tafel_store *st, struct step *s)
{
    bool more = false;
    s->err = tafel_store_audit_expire(st, cutoff(s->now_ms, s->cfg->retain_audit_ms), AUDIT_STEP,
                                      &s->n.audit_removed, &more);
    s->phase_done = !more;
}

static void report_step(tafel_store *st, struct step *s)
{
    const struct tafel_config *c = s->cfg;
    /* The counts per rule and the terms they were applied with: what an
     * auditor needs to see that the rules ran as the register says. */
    json_t *terms = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "anonymise_after",
                              duration_json(c->anonymise_after_ms, "off"), "delete_hidden_after",
                              duration_json(c->delete_hidden_after_ms, "off"), "strip_log_after",
                              duration_json(c->strip_log_after_ms, "keep"), "retain_besluit",
                              duration_json(c->retain_besluit_ms, "keep"), "retain_opgave",
                              duration_json(c->retain_opgave_ms, "keep"), "retain_audit",
                              duration_json(c->retain_audit_ms, "keep"));
    json_t *detail = terms ? json_pack("{s:I, s:I, s:I, s:I, s:o}", "names_anonymised",
                                       (json_int_t)s->total.anonymised, "hidden_deleted",
                                       (json_int_t)s->total.hidden_deleted, "log_entries_stripped",
                                       (json_int_t)s->total.log_stripped, "audit_entries_removed",
                                       (json_int_t)s->total.audit_removed, "terms", terms)
                           : NULL;
    s->err =
        detail ? tafel_store_audit_append(st, ACTOR, "retention", NULL, detail, tafel_time_now_ms())
               : TAFEL_E_NOMEM;
    json_decref(detail);
    s->phase_done = true;
}

static void step_job(tafel_store *st, struct wop *op)
{
    struct step *s = op->job_ctx;
    switch (s->phase) {
    case PH_DOCS:
        docs_step(st, s);
        break;
    case PH_LOG:
        log_step(st, s);
        break;
    case PH_AUDIT:
        audit_step(st, s);
        break;
    default:
        report_step(st, s);
        break;
    }
    /* For the loop's note of a full disk, as after any write. */
    if (s->err != TAFEL_E_OK)
        tafel_errinfo_set(&op->job_err, s->err, NULL, "%s", tafel_strerror(s->err));
}

/* ------------------------------------------------------------ the loop */

static void targets_clear(struct step *s)
{
    for (size_t i = 0; i < s->nt; i++) {
        json_decref(s->t[i].doc);
        free(s->t[i].full);
        free(s->t[i].redacted);
    }
    s->nt = 0;
}

static bool phase_on(const struct tafel_config *c, enum phase p)
{
    switch (p) {
    case PH_DOCS:
        return c->anonymise_after_ms || c->delete_hidden_after_ms;
    case PH_LOG:
        return c->strip_log_after_ms || c->retain_besluit_ms || c->retain_opgave_ms;
    case PH_AUDIT:
        return c->retain_audit_ms;
    default: /* the report: every run is audited */
        return true;
    }
}

static enum phase next_phase(const struct tafel_config *c, int from)
{
    int p = from + 1;
    while (p < PH_END && !phase_on(c, (enum phase)p))
        p++;
    return (enum phase)p;
}

static void run_end(struct tafel_retention *r)
{
    const struct counts *n = &r->total;
    r->running = false;
    log_info("retention run: %llu names anonymised, %llu hidden contributions deleted, %llu "
             "change-log entries stripped, %llu audit entries removed",
             (unsigned long long)n->anonymised, (unsigned long long)n->hidden_deleted,
             (unsigned long long)n->log_stripped, (unsigned long long)n->audit_removed);
}

/* A step is done (loop): fan its changes out like any write's, then on. */
static void step_done(struct tafel_server *srv, struct wop *op)
{
    struct tafel_retention *r = srv->retention;
    struct step *s = op->job_ctx;
    r->busy = false;
    for (size_t i = 0; i < s->nt; i++) {
        struct target *t = &s->t[i];
        if (!t->committed)
            continue;
        hub_append(srv, t->seq, t->opgave, TAFEL_KIND_REFLECTIE, t->id, t->flags, t->full,
                   t->full_len, t->redacted, t->redacted_len);
        t->full = t->redacted = NULL;
        if (t->action == ACT_DELETE)
            tafel_quota_credit(srv, t->doc);
        log_info("retention %s reflectie/%s seq=%llu",
                 t->action == ACT_DELETE ? "deleted hidden" : "anonymised", t->id,
                 (unsigned long long)t->seq);
    }
    targets_clear(s);
    if (s->phase == PH_LOG && s->n.log_stripped)
        hub_drop_content(srv->hub); /* the ring must not replay what the log lost */
    add(&r->total, &s->n);
    if (s->err != TAFEL_E_OK) {
        log_error("retention: the %s step failed (%s); the next run tries again",
                  phase_names[s->phase], tafel_strerror(s->err));
        run_end(r);
        return;
    }
    if (s->phase_done)
        s->phase = next_phase(&srv->cfg, (int)s->phase);
    if (s->phase == PH_END)
        run_end(r);
}

void tafel_retention_tick(struct tafel_server *srv)
{
    const struct tafel_config *c = &srv->cfg;
    if (!enabled(c) || srv->draining || !srv->writes)
        return;
    struct tafel_retention *r = srv->retention;
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return;
        r->step.cfg = c;
        srv->retention = r; /* next_ms 0: the first run starts now */
    }
    if (r->busy)
        return;
    struct step *s = &r->step;
    if (!r->running) {
        if (tafel_time_mono_ms() < r->next_ms)
            return;
        /* Start to start: hourly means hourly, however long a run takes. */
        r->next_ms = tafel_time_mono_ms() + c->retention_interval_ms;
        r->running = true;
        memset(&r->total, 0, sizeof(r->total));
        s->now_ms = tafel_time_now_ms();
        s->after[0] = '\0';
        s->log_from = 0;
        s->phase = next_phase(c, -1);
        if (s->phase == PH_END) {
            run_end(r);
            return;
        }
    }
    s->phase_done = false;
    s->err = TAFEL_E_OK;
    s->nsessions = 0; /* a session may have been reopened since the last step */
    memset(&s->n, 0, sizeof(s->n));
    s->total = r->total;
    if (tafel_submit_server_job(srv, step_job, step_done, s))
        r->busy = true; /* else (out of memory) the next tick tries again */
}

void tafel_retention_free(struct tafel_server *srv)
{
    struct tafel_retention *r = srv->retention;
    if (!r)
        return;
    targets_clear(&r->step); /* a step the writer did and the loop never saw */
    free(r);
    srv->retention = NULL;
}
