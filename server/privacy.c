/*
 * privacy.c - an inhabitant's right of access and erasure (AVG articles 15
 * and 17): `device.export` hands over everything one device token
 * contributed, `device.erase` erases it. Both are audited.
 *
 * Who may: the inhabitant joined with that very device (its own data), and
 * a beheerder, who at the municipality's desk is handed the token a citizen
 * shows on their phone (a scoped one only for its own opgaven). A token that
 * names no device the caller may name is answered like a wrong join code:
 * not_found after the same delay, counted by the same guard (auth.c), so
 * that the request is no oracle for tokens.
 *
 * What a device contributed lies in the opgave of its session: its
 * reflecties (created_by = its actor id), its votes (the marks under its
 * actor id on reflecties), its feelings (its member of moments' `feelings`)
 * and its display name (the reflecties' `author`). The loop checks the
 * caller and finds the device; the rest is a writer job, so that an export
 * is audited before it leaves and an erasure is planned and committed with
 * no write in between: one transaction for the documents (through the
 * store's ordinary write ops, so change log, marks and stripping are a
 * delete's and a vote's), the device record and the audit entry. Its
 * changes then go out like any write's (hub_append), the quota gets the
 * deleted contributions' room back, and the device's connections close.
 */
#include "privacy.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "hub.h"
#include "quota.h"
#include "tafel_time.h"
#include "writes.h"

#define REFLECTIE "reflectie"
#define MOMENT    "moment"

/* What one change of an erasure takes away. */
enum what { W_CONTRIBUTION, W_VOTE, W_FEELING };

struct item {
    enum what what;
    enum tafel_kind kind;
    char id[TAFEL_ID_MAX + 1];
    const char *participant; /* the erased actor id (the job's) */
    /* set by the hook (writer thread) */
    json_t *prev;   /* the document before: its session's quota is credited */
    uint32_t flags; /* the change record's */
    /* serialised after the commit (writer thread), handed to the hub (loop) */
    uint64_t seq;
    char opgave[TAFEL_ID_MAX + 1];
    char *event;
    size_t event_len;
};

/* One device.export or device.erase, from the loop to the writer and back
 * (the wop's job_ctx; its done callback frees it). */
struct privacy_job {
    char token[TAFEL_DEVICE_STRLEN + 1]; /* wiped when freed */
    struct tafel_device_info dev;
    char opgave[TAFEL_ID_MAX + 1]; /* the session's opgave; "" once the session is gone */
    char by[TAFEL_ID_MAX + 1];     /* who asks: the audit's actor, the changes' `by` */
    char key_id[TAFEL_ID_MAX + 1]; /* ... and its key ("" for the inhabitant itself) */
    /* erase: what was found, and what was done */
    json_t *empty; /* the empty patch of every vote and feeling change */
    struct item *items;
    size_t n;
    size_t contributions, votes, feelings;
    uint64_t last_seq;
};

static void job_free(struct privacy_job *pj)
{
    if (!pj)
        return;
    for (size_t i = 0; i < pj->n; i++) {
        json_decref(pj->items[i].prev);
        free(pj->items[i].event);
    }
    free(pj->items);
    json_decref(pj->empty);
    sodium_memzero(pj->token, sizeof(pj->token));
    free(pj);
}

static const char *str_field(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

/* ---------------------------------------------------- what a device left */

/* Everything of the participant in the documents, read once. */
struct found {
    const char *actor;
    json_t *own;      /* its reflecties, parsed, in id (= creation) order */
    json_t *others;   /* the other reflecties: [id, legacy vote] pairs */
    json_t *feelings; /* moments it felt about: the moment documents */
    enum tafel_err err;
};

static bool legacy_voter(const json_t *doc, const char *actor)
{
    size_t i;
    const json_t *v;
    /* Before votes became marks, the voters' ids were kept in the document. */
    json_array_foreach(json_object_get(doc, "voters"), i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), actor) == 0)
            return true;
    }
    return false;
}

static bool found_reflectie(void *ctx, const char *kind, const char *id, const char *opgave,
                            const char *json, size_t len)
{
    (void)kind, (void)opgave;
    struct found *f = ctx;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!doc) {
        f->err = TAFEL_E_NOMEM;
        return false;
    }
    const char *by = str_field(doc, "created_by");
    if (by && strcmp(by, f->actor) == 0) {
        json_array_append_new(f->own, doc);
        return true;
    }
    json_array_append_new(f->others, json_pack("[s,b]", id, legacy_voter(doc, f->actor)));
    json_decref(doc);
    return true;
}

static bool found_moment(void *ctx, const char *kind, const char *id, const char *opgave,
                         const char *json, size_t len)
{
    (void)kind, (void)id, (void)opgave;
    struct found *f = ctx;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!doc) {
        f->err = TAFEL_E_NOMEM;
        return false;
    }
    if (json_is_integer(json_object_get(json_object_get(doc, "feelings"), f->actor)))
        json_array_append_new(f->feelings, doc);
    else
        json_decref(doc);
    return true;
}

/* Fill @p f for @p pj's device: walk the reflecties and moments of its
 * session's opgave (of every opgave when the session is gone), then the
 * marks of the others' reflecties. Writer thread. *voted receives a JSON
 * array of the reflectie ids it voted on. */
static enum tafel_err find_all(tafel_store *st, const struct privacy_job *pj, struct found *f,
                               json_t **voted)
{
    const char *opgave = pj->opgave[0] ? pj->opgave : NULL;
    f->actor = pj->dev.actor;
    f->own = json_array();
    f->others = json_array();
    f->feelings = json_array();
    f->err = TAFEL_E_OK;
    *voted = json_array();
    if (!f->own || !f->others || !f->feelings || !*voted)
        return TAFEL_E_NOMEM;
    enum tafel_err err = tafel_store_list(st, opgave, REFLECTIE, found_reflectie, f, NULL);
    if (err == TAFEL_E_OK)
        err = f->err;
    if (err == TAFEL_E_OK)
        err = tafel_store_list(st, opgave, MOMENT, found_moment, f, NULL);
    if (err == TAFEL_E_OK)
        err = f->err;
    size_t n = json_array_size(f->others);
    const char **ids = n ? calloc(n, sizeof(*ids)) : NULL;
    bool *held = n ? calloc(n, sizeof(*held)) : NULL;
    if (err == TAFEL_E_OK && n && (!ids || !held))
        err = TAFEL_E_NOMEM;
    for (size_t i = 0; err == TAFEL_E_OK && i < n; i++)
        ids[i] = json_string_value(json_array_get(json_array_get(f->others, i), 0));
    if (err == TAFEL_E_OK && n)
        err = tafel_store_marks_held(st, REFLECTIE, ids, n, f->actor, held);
    for (size_t i = 0; err == TAFEL_E_OK && i < n; i++) {
        bool legacy = json_is_true(json_array_get(json_array_get(f->others, i), 1));
        if (held[i] || legacy)
            json_array_append_new(*voted, json_string(ids[i]));
    }
    free(ids);
    free(held);
    return err;
}

static void found_free(struct found *f)
{
    json_decref(f->own);
    json_decref(f->others);
    json_decref(f->feelings);
}

/* The audit entry's detail: actor ids and counts, never a name or a text. */
static json_t *audit_detail(const struct privacy_job *pj, size_t contributions, size_t votes,
                            size_t feelings)
{
    json_t *d = json_pack("{s:s, s:s, s:I, s:I, s:I}", "participant", pj->dev.actor, "session",
                          pj->dev.session, "contributions", (json_int_t)contributions, "votes",
                          (json_int_t)votes, "feelings", (json_int_t)feelings);
    /* The opgave, so that a beheerder scoped to it reads the entry. */
    if (d && pj->opgave[0])
        json_object_set_new(d, "opgave", json_string(pj->opgave));
    return d;
}

static void audit_target(const struct privacy_job *pj, char *buf, size_t size)
{
    snprintf(buf, size, "device/%s", pj->dev.actor);
}

/* --------------------------------------------------------------- export */

static const char *const export_about_nl =
    "Alles wat Tafel bewaart van wat dit apparaat heeft bijgedragen: de sessie waar het "
    "aan meedeed, de naam waaronder het schreef, zijn bijdragen, de bijdragen waarop het "
    "stemde en zijn gevoel bij momenten op de tijdlijn. Van anderen staat hier niets in: "
    "bij een stem alleen het nummer van de bijdrage, niet wat een ander schreef. De naam "
    "die bij het meedoen werd ingevuld, bewaart Tafel alleen bij de eigen bijdragen.";
static const char *const export_about_en =
    "Everything Tafel holds of what this device contributed: the session it took part in, "
    "the name it wrote under, its contributions, the contributions it voted on and its "
    "feelings about moments on the timeline. Nothing of others is in it: a vote names only "
    "the contribution's id, not what someone else wrote. The name given when joining is "
    "kept only with the device's own contributions.";

/* A contribution as the person reads it back: every field of the schema's
 * row but those that are about others (the last writer, which a vote
 * makes the voter; the old list of voters). */
static json_t *export_contribution(const json_t *doc)
{
    static const char *const common[] = {"id", "opgave", "rev", "created_at", "updated_at"};
    json_t *out = json_object();
    for (size_t i = 0; out && i < sizeof(common) / sizeof(common[0]); i++) {
        json_t *v = json_object_get(doc, common[i]);
        if (v)
            json_object_set(out, common[i], v);
    }
    const struct tafel_kind_def *def = tafel_schema_kind(TAFEL_KIND_REFLECTIE);
    for (size_t i = 0; out && i < def->nfields; i++) {
        const char *name = def->fields[i].name;
        json_t *v = json_object_get(doc, name);
        if (v && strcmp(name, "voters") != 0)
            json_object_set(out, name, v);
    }
    return out;
}

static json_t *export_doc(tafel_store *st, const struct privacy_job *pj, struct found *f,
                          const json_t *voted)
{
    char ts[TAFEL_TIME_STRLEN];
    json_t *session = NULL;
    tafel_store_get(st, "sessie", pj->dev.session, &session);
    json_t *device =
        json_pack("{s:s, s:s}", "session", pj->dev.session, "joined_at", pj->dev.created_at);
    if (device && pj->opgave[0])
        json_object_set_new(device, "opgave", json_string(pj->opgave));
    if (device && str_field(session, "question"))
        json_object_set(device, "session_question", json_object_get(session, "question"));
    json_decref(session);

    json_t *names = json_array(), *contributions = json_array(), *votes = json_array(),
           *feelings = json_array();
    size_t i, j;
    json_t *doc, *v;
    json_array_foreach(f->own, i, doc)
    {
        json_array_append_new(contributions, export_contribution(doc));
        const char *name = str_field(doc, "author");
        bool seen = !name;
        json_array_foreach(names, j, v)
        {
            seen = seen || strcmp(json_string_value(v), name) == 0;
        }
        if (!seen)
            json_array_append_new(names, json_string(name));
    }
    /* Which contribution, not what it says: that is its author's. */
    json_array_foreach(voted, i, v)
    {
        json_array_append_new(votes, json_pack("{s:O}", "reflectie", v));
    }
    json_array_foreach(f->feelings, i, doc)
    {
        json_t *m = json_pack("{s:O, s:O}", "moment", json_object_get(doc, "id"), "feeling",
                              json_object_get(json_object_get(doc, "feelings"), f->actor));
        const char *extra[] = {"title", "date"};
        for (size_t k = 0; m && k < 2; k++)
            if (json_object_get(doc, extra[k]))
                json_object_set(m, extra[k], json_object_get(doc, extra[k]));
        json_array_append_new(feelings, m);
    }
    json_t *out = json_pack(
        "{s:{s:s, s:s}, s:s, s:s, s:[o], s:o, s:o, s:o, s:o, s:{s:I, s:I, s:I}}", "about", "nl",
        export_about_nl, "en", export_about_en, "exported_at",
        tafel_time_format(tafel_time_now_ms(), ts), "participant", pj->dev.actor, "devices", device,
        "display_names", names, "contributions", contributions, "votes", votes, "feelings",
        feelings, "counts", "contributions", (json_int_t)json_array_size(f->own), "votes",
        (json_int_t)json_array_size(voted), "feelings", (json_int_t)json_array_size(f->feelings));
    return out;
}

/* Writer thread: the export, audited before it is handed out. */
static void export_job(tafel_store *st, struct wop *op)
{
    struct privacy_job *pj = op->job_ctx;
    struct tafel_device_info dev;
    struct found f = {0};
    json_t *voted = NULL, *doc = NULL;
    /* An erasure queued before this export may have taken the device. */
    enum tafel_err err = tafel_store_device_get(st, pj->token, &dev);
    if (err == TAFEL_E_OK && strcmp(dev.actor, pj->dev.actor) != 0)
        err = TAFEL_E_NOT_FOUND;
    if (err == TAFEL_E_OK)
        err = find_all(st, pj, &f, &voted);
    if (err == TAFEL_E_OK) {
        doc = export_doc(st, pj, &f, voted);
        if (!doc)
            err = TAFEL_E_NOMEM;
    }
    if (err == TAFEL_E_OK) {
        char target[TAFEL_ID_MAX + 16];
        audit_target(pj, target, sizeof(target));
        json_t *detail = audit_detail(pj, json_array_size(f.own), json_array_size(voted),
                                      json_array_size(f.feelings));
        err = detail ? tafel_store_audit_append(st, pj->by, "device.export", target, detail,
                                                tafel_time_now_ms())
                     : TAFEL_E_NOMEM;
        json_decref(detail);
    }
    if (err == TAFEL_E_OK) {
        op->job_result = json_pack("{s:o}", "export", doc);
        doc = NULL;
        if (!op->job_result)
            err = TAFEL_E_NOMEM;
    }
    if (err != TAFEL_E_OK)
        tafel_errinfo_set(&op->job_err, err, err == TAFEL_E_NOT_FOUND ? "device" : NULL, "%s",
                          err == TAFEL_E_NOT_FOUND ? "no such device" : tafel_strerror(err));
    json_decref(doc);
    json_decref(voted);
    found_free(&f);
}

static void send_reply(struct wop *op)
{
    if (op->reply) {
        conn_send(op->conn, frame_new(op->reply, op->reply_len));
        op->reply = NULL;
    } else {
        conn_reply_error(op->conn, op->req, TAFEL_E_NOMEM, NULL, NULL);
    }
}

static void export_done(struct tafel_server *srv, struct wop *op)
{
    (void)srv;
    struct privacy_job *pj = op->job_ctx;
    send_reply(op);
    if (op->job_err.code == TAFEL_E_OK)
        log_info("conn=%llu device.export participant=%s", (unsigned long long)op->conn->id,
                 pj->dev.actor);
    job_free(pj);
    op->job_ctx = NULL;
}

/* ---------------------------------------------------------------- erase */

/* The hook of every change of an erasure, inside its transaction, with the
 * stored document: it takes away exactly the participant's part. Like
 * writes.c's hook it keeps no state but the last call's view (the store may
 * run it again after growing the map). */
static enum tafel_err erase_check(void *ctx, struct tafel_write *w, const json_t *current,
                                  json_t *proposed)
{
    struct item *it = ctx;
    const char *actor = it->participant;
    struct tafel_errinfo *info = &w->info;
    w->mark_set = w->mark_clear = false;
    switch (it->what) {
    case W_CONTRIBUTION: {
        const char *by = str_field(current, "created_by");
        if (!by || strcmp(by, actor) != 0)
            return tafel_errinfo_set(info, TAFEL_E_CONFLICT, "id", "changed meanwhile");
        break;
    }
    case W_VOTE: {
        /* One vote per participant: its mark, or (older data) its id in
         * `voters`; withdrawn as `vote` false withdraws it. */
        bool had = w->mark_had;
        json_t *voters = json_object_get(proposed, "voters");
        if (legacy_voter(proposed, actor)) {
            json_t *rest = json_array();
            size_t i;
            json_t *v;
            json_array_foreach(voters, i, v)
            {
                if (!json_is_string(v) || strcmp(json_string_value(v), actor) != 0)
                    json_array_append(rest, v);
            }
            if (json_array_size(rest)) {
                json_object_set_new(proposed, "voters", rest);
            } else {
                json_object_del(proposed, "voters");
                json_decref(rest);
            }
            had = true;
        }
        if (!had)
            return tafel_errinfo_set(info, TAFEL_E_CONFLICT, "id", "changed meanwhile");
        json_int_t votes = json_integer_value(json_object_get(proposed, "votes"));
        json_object_set_new(proposed, "votes", json_integer(votes > 0 ? votes - 1 : 0));
        w->mark_clear = w->mark_had;
        break;
    }
    case W_FEELING: {
        const json_t *feelings = json_object_get(proposed, "feelings");
        if (!json_object_get(feelings, actor))
            return tafel_errinfo_set(info, TAFEL_E_CONFLICT, "id", "changed meanwhile");
        /* A copy: the proposal shares its values with the stored document. */
        json_t *map = json_deep_copy(feelings);
        if (!map)
            return tafel_errinfo_set(info, TAFEL_E_NOMEM, NULL, "out of memory");
        json_object_del(map, actor);
        if (json_object_size(map)) {
            json_object_set_new(proposed, "feelings", map);
        } else {
            json_object_del(proposed, "feelings");
            json_decref(map);
        }
        break;
    }
    }
    if (proposed) {
        enum tafel_err err = tafel_schema_validate(it->kind, proposed, TAFEL_V_STORED, info);
        if (err != TAFEL_E_OK)
            return err;
    }
    /* Hidden stays hidden: moderators get the change, the others nothing
     * (they were told it went when it was hidden). Every change strips the
     * document's earlier change-log content (w->redact_history), where the
     * participant's vote or feeling was written down before. */
    bool hidden = json_is_true(json_object_get(current, "hidden"));
    w->flags = TAFEL_CF_REDACTS | (hidden ? TAFEL_CF_HIDDEN | TAFEL_CF_WAS_HIDDEN : 0);
    it->flags = w->flags;
    json_decref(it->prev);
    it->prev = json_incref((json_t *)current);
    return TAFEL_E_OK;
}

/* Writer thread: an item per change of the plan. */
static enum tafel_err plan(struct privacy_job *pj, struct found *f, const json_t *voted)
{
    size_t n = json_array_size(f->own) + json_array_size(voted) + json_array_size(f->feelings);
    pj->items = n ? calloc(n, sizeof(*pj->items)) : NULL;
    pj->empty = json_object();
    if ((n && !pj->items) || !pj->empty)
        return TAFEL_E_NOMEM;
    size_t i;
    json_t *v;
    json_array_foreach(f->own, i, v)
    {
        struct item *it = &pj->items[pj->n++];
        it->what = W_CONTRIBUTION;
        it->kind = TAFEL_KIND_REFLECTIE;
        snprintf(it->id, sizeof(it->id), "%s", str_field(v, "id"));
    }
    json_array_foreach(voted, i, v)
    {
        struct item *it = &pj->items[pj->n++];
        it->what = W_VOTE;
        it->kind = TAFEL_KIND_REFLECTIE;
        snprintf(it->id, sizeof(it->id), "%s", json_string_value(v));
    }
    json_array_foreach(f->feelings, i, v)
    {
        struct item *it = &pj->items[pj->n++];
        it->what = W_FEELING;
        it->kind = TAFEL_KIND_MOMENT;
        snprintf(it->id, sizeof(it->id), "%s", str_field(v, "id"));
    }
    pj->contributions = json_array_size(f->own);
    pj->votes = json_array_size(voted);
    pj->feelings = json_array_size(f->feelings);
    for (i = 0; i < pj->n; i++)
        pj->items[i].participant = pj->dev.actor;
    return TAFEL_E_OK;
}

/* The stored rev of contribution @p id, for its delete: nothing else writes
 * between the plan and its commit (this is the writer thread), and the hook
 * checks the document again anyway. */
static int64_t rev_of(const json_t *own, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(own, i, v)
    {
        if (strcmp(str_field(v, "id"), id) == 0)
            return json_integer_value(json_object_get(v, "rev"));
    }
    return 0;
}

static void erase_job(tafel_store *st, struct wop *op)
{
    struct privacy_job *pj = op->job_ctx;
    struct found f = {0};
    json_t *voted = NULL, *detail = NULL;
    struct tafel_write *ops = NULL;
    enum tafel_err err = find_all(st, pj, &f, &voted);
    if (err == TAFEL_E_OK)
        err = plan(pj, &f, voted);
    if (err == TAFEL_E_OK && pj->n && !(ops = calloc(pj->n, sizeof(*ops))))
        err = TAFEL_E_NOMEM;
    for (size_t i = 0; err == TAFEL_E_OK && i < pj->n; i++) {
        struct item *it = &pj->items[i];
        struct tafel_write *w = &ops[i];
        w->kind = tafel_schema_kind(it->kind)->name;
        w->id = it->id;
        w->actor = pj->by;
        w->key_id = pj->key_id[0] ? pj->key_id : NULL; /* a revoked key erases nothing */
        w->check = erase_check;
        w->check_ctx = it;
        if (it->what == W_CONTRIBUTION) {
            w->op = TAFEL_OP_DELETE;
            w->expected_rev = rev_of(f.own, it->id);
        } else {
            w->op = TAFEL_OP_PATCH;
            w->doc = pj->empty;
            w->redact_history = true;
            w->mark = it->what == W_VOTE ? pj->dev.actor : NULL;
            /* The stored bytes back, with room for the event around them. */
            w->keep_text = true;
            w->text_before = TAFEL_HEADROOM + TAFEL_EVENT_PUT_HEAD_LEN;
            w->text_after = TAFEL_EVENT_TAIL_ROOM;
        }
    }
    char target[TAFEL_ID_MAX + 16];
    audit_target(pj, target, sizeof(target));
    if (err == TAFEL_E_OK) {
        detail = audit_detail(pj, pj->contributions, pj->votes, pj->feelings);
        if (detail)
            json_object_set_new(detail, "devices", json_integer(1));
        else
            err = TAFEL_E_NOMEM;
    }
    if (err == TAFEL_E_OK) {
        struct tafel_audit_entry audit = {pj->by, "device.erase", target, detail};
        err = tafel_store_device_erase(st, pj->token, pj->dev.actor, ops, pj->n,
                                       tafel_time_now_ms(), &audit, &op->job_err);
        if (err == TAFEL_E_CONFLICT)
            tafel_errinfo_set(&op->job_err, err, NULL,
                              "something changed meanwhile; nothing was erased: try again");
    }
    /* Serialise the events here, off the loop, as writes.c's finish does. */
    for (size_t i = 0; err == TAFEL_E_OK && i < pj->n; i++) {
        struct item *it = &pj->items[i];
        struct tafel_write *w = &ops[i];
        const json_t *doc = w->stored ? w->stored : it->prev;
        snprintf(it->opgave, sizeof(it->opgave), "%s", str_field(doc, "opgave"));
        it->seq = w->seq;
        if (w->op == TAFEL_OP_DELETE) {
            it->event = tafel_msg_event_stub(w->seq, w->kind, it->id, it->opgave, w->new_rev,
                                             TAFEL_HEADROOM, &it->event_len);
        } else if (w->text) {
            it->event_len = tafel_msg_event_wrap(w->text, TAFEL_HEADROOM, w->text_len, w->seq);
            it->event = w->text;
            w->text = NULL;
        }
        pj->last_seq = w->seq;
    }
    for (size_t i = 0; ops && i < pj->n; i++) {
        json_decref(ops[i].stored);
        free(ops[i].text);
    }
    free(ops);
    if (err == TAFEL_E_OK) {
        op->job_result = json_pack(
            "{s:s, s:s, s:{s:I, s:I, s:I, s:I}, s:I}", "participant", pj->dev.actor, "session",
            pj->dev.session, "erased", "contributions", (json_int_t)pj->contributions, "votes",
            (json_int_t)pj->votes, "feelings", (json_int_t)pj->feelings, "devices", (json_int_t)1,
            "seq", (json_int_t)(pj->last_seq ? pj->last_seq : tafel_store_seq(st)));
        if (!op->job_result)
            tafel_errinfo_set(&op->job_err, TAFEL_E_NOMEM, NULL, "out of memory");
    } else if (op->job_err.code == TAFEL_E_OK) {
        tafel_errinfo_set(&op->job_err, err, NULL, "%s", tafel_strerror(err));
    }
    json_decref(detail);
    json_decref(voted);
    found_free(&f);
}

/* The connections joined with the erased device. */
static bool of_device(const struct conn *c, const struct privacy_job *pj)
{
    return c->authed && c->actor.role == TAFEL_ROLE_INWONER &&
           strcmp(c->actor.id, pj->dev.actor) == 0 &&
           strcmp(c->actor.session, pj->dev.session) == 0;
}

static void erase_done(struct tafel_server *srv, struct wop *op)
{
    struct privacy_job *pj = op->job_ctx;
    bool ok = op->job_err.code == TAFEL_E_OK;
    send_reply(op); /* the ok first, as a writer's own ok precedes its events */
    if (ok) {
        srv->m.commits++;
        for (size_t i = 0; i < pj->n; i++) {
            struct item *it = &pj->items[i];
            /* Every seq goes to the hub, in order: without its event the
             * readers get the change from the log. */
            hub_append(srv, it->seq, it->opgave, it->kind, it->id, it->flags, it->event,
                       it->event_len, NULL, 0);
            it->event = NULL;
            if (it->what == W_CONTRIBUTION)
                tafel_quota_credit(srv, it->prev); /* its session has room again */
            srv->m.committed_ops++;
        }
        /* The token no longer joins as this participant: nor do the
         * connections that joined with it stay. */
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (of_device(c, pj))
                conn_close(c, 4403, "erased");
        }
        log_info("conn=%llu device.erase participant=%s contributions=%zu votes=%zu feelings=%zu",
                 (unsigned long long)op->conn->id, pj->dev.actor, pj->contributions, pj->votes,
                 pj->feelings);
    } else {
        for (struct conn *c = srv->conns; c; c = c->next) {
            if (of_device(c, pj))
                conn_resume_rx(c); /* nothing was erased: they go on */
        }
    }
    job_free(pj);
    op->job_ctx = NULL;
}

/* ------------------------------------------------------------- handlers */

/* May @p c name the device @p dev (of a session in @p opgave, "" if the
 * session is gone)? Its own, for an inhabitant; any in its scope, for a
 * beheerder. The request table lets no other role through. */
static bool may_name(const struct conn *c, const struct tafel_device_info *dev, const char *opgave)
{
    const struct tafel_actor *a = &c->actor;
    if (a->role == TAFEL_ROLE_INWONER)
        return strcmp(dev->actor, a->id) == 0 && strcmp(dev->session, a->session) == 0;
    if (a->role == TAFEL_ROLE_BEHEERDER)
        return !a->scope || (opgave[0] && tafel_actor_sees_opgave(a, opgave));
    return false;
}

static void handle_device(struct tafel_server *srv, struct conn *c, struct tafel_request *r,
                          bool erase)
{
    if (tafel_auth_guessing(srv, c)) {
        conn_reply_error(c, r->req, TAFEL_E_RATE_LIMITED, NULL,
                         "too many failed attempts; wait a minute");
        return;
    }
    struct privacy_job *pj = calloc(1, sizeof(*pj));
    if (!pj) {
        conn_reply_error(c, r->req, TAFEL_E_NOMEM, NULL, NULL);
        return;
    }
    enum tafel_err err = tafel_store_device_get(srv->store, r->device, &pj->dev);
    if (err == TAFEL_E_OK) {
        json_t *s = NULL;
        if (tafel_store_get(srv->store, "sessie", pj->dev.session, &s) == TAFEL_E_OK)
            snprintf(pj->opgave, sizeof(pj->opgave), "%s",
                     str_field(s, "opgave") ? str_field(s, "opgave") : "");
        json_decref(s);
    }
    if (err == TAFEL_E_NOT_FOUND || (err == TAFEL_E_OK && !may_name(c, &pj->dev, pj->opgave))) {
        /* Unknown, or not one the caller may name: the same answer. */
        log_info("conn=%llu %s refused: no such device", (unsigned long long)c->id,
                 tafel_msg_name(r->type));
        tafel_auth_token_miss(srv, c, r->req);
        job_free(pj);
        return;
    }
    if (err != TAFEL_E_OK) {
        conn_reply_error(c, r->req, err, NULL, NULL);
        job_free(pj);
        return;
    }
    snprintf(pj->token, sizeof(pj->token), "%s", r->device);
    snprintf(pj->by, sizeof(pj->by), "%s", c->actor.id);
    snprintf(pj->key_id, sizeof(pj->key_id), "%s", c->actor.key_id);
    log_info("conn=%llu %s participant=%s", (unsigned long long)c->id, tafel_msg_name(r->type),
             pj->dev.actor);
    if (erase) {
        /* From now on the device's connections send nothing more to the
         * writer: what they sent before commits first and is erased with
         * the rest, nothing of theirs commits after the erasure. */
        for (struct conn *o = srv->conns; o; o = o->next) {
            if (of_device(o, pj))
                conn_pause_rx(o);
        }
    }
    if (!tafel_submit_job_ctx(srv, c, r, erase ? erase_job : export_job,
                              erase ? erase_done : export_done, json_object(), pj)) {
        for (struct conn *o = srv->conns; erase && o; o = o->next) {
            if (of_device(o, pj))
                conn_resume_rx(o);
        }
        job_free(pj);
    }
}

void handle_device_export(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    handle_device(srv, c, r, false);
}

void handle_device_erase(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    handle_device(srv, c, r, true);
}
