/*
 * writes.c - every change goes through here: a request becomes a writer
 * operation (`struct wop`), the writer thread commits it (wop_check runs
 * inside the transaction with the stored document in hand) and serialises
 * the reply and events (finish), and the loop sends them (write_done).
 *
 * What is checked where: the loop rejects what needs no stored document
 * (rate limit, role, scope of a new document, references); the hook checks
 * what does (ownership, hidden reflections, the opgave of an existing
 * document) and fills the fields only the server sets.
 */
#include "writes.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub.h"
#include "quota.h"
#include "tafel_time.h"

/* Writes per transaction at most: a batch's replies and events must not
 * hold up the loop for long when it takes them. */
#define MAX_BATCH 1024

/* The writer thread's side: what it commits with. */
struct tafel_writes {
    struct tafel_writer *writer;
    tafel_store *store;
    void (*wake)(void *ctx);
    void *wake_ctx;
    struct tafel_write ops[MAX_BATCH]; /* scratch for one run (writer thread only) */
};

/* ---------------------------------------------------------------- helpers */

static const char *str_field(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

static enum tafel_action action_of(const struct wop *op)
{
    switch (op->msg) {
    case TAFEL_MSG_PUT:
        return op->w.id ? TAFEL_ACT_UPDATE : TAFEL_ACT_CREATE;
    case TAFEL_MSG_PATCH:
        return TAFEL_ACT_UPDATE;
    case TAFEL_MSG_DELETE:
        return TAFEL_ACT_DELETE;
    case TAFEL_MSG_MODERATE:
    case TAFEL_MSG_SESSION_OPEN:
    case TAFEL_MSG_SESSION_CLOSE:
        return TAFEL_ACT_MODERATE;
    default: /* vote, feel: checked as reading plus tafel_perm_can_interact */
        return TAFEL_ACT_READ;
    }
}

/* True if document @p id of kind @p ref exists in @p opgave. */
static bool ref_ok(struct tafel_server *srv, enum tafel_kind ref, const char *id,
                   const char *opgave)
{
    json_t *target = NULL;
    enum tafel_err err = tafel_store_get(srv->store, tafel_schema_kind(ref)->name, id, &target);
    const char *in = err == TAFEL_E_OK ? str_field(target, "opgave") : NULL;
    bool ok = in && opgave && strcmp(in, opgave) == 0;
    json_decref(target);
    return ok;
}

/* Each REF field of @doc, and each id of each REF_SET field, must name an
 * existing document of its kind in @opgave; the error names the field as
 * "@prefix.name" ("doc.actielijn", "set.answers"). Validation has checked
 * the types already (a REF_SET is an array of distinct ids; null removes
 * the field in a patch). Checked in the loop (a read); a reference deleted
 * between this check and the commit is possible, as with any later delete. */
static enum tafel_err check_refs(struct tafel_server *srv, enum tafel_kind kind, const json_t *doc,
                                 const char *prefix, const char *opgave, struct tafel_errinfo *info)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    char path[80];
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        const json_t *val = json_object_get(doc, f->name);
        const char *bad = NULL;
        if (f->type == TAFEL_F_REF && json_is_string(val)) {
            if (!ref_ok(srv, f->ref, json_string_value(val), opgave))
                bad = json_string_value(val);
        } else if (f->type == TAFEL_F_REF_SET && json_is_array(val)) {
            size_t j;
            const json_t *item;
            json_array_foreach(val, j, item)
            {
                const char *id = json_string_value(item);
                if (!id || !ref_ok(srv, f->ref, id, opgave)) {
                    bad = id ? id : "";
                    break;
                }
            }
        }
        if (bad) {
            snprintf(path, sizeof(path), "%s.%s", prefix, f->name);
            return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, path,
                                     "%s: no %s with id \"%s\" in this opgave", path,
                                     tafel_schema_kind(f->ref)->name, bad);
        }
    }
    return TAFEL_E_OK;
}

/* True if @p session asks for its contributions to be approved first. Read
 * in the loop, like the references: a session switched meanwhile applies
 * from the next contribution. */
static bool session_premoderated(struct tafel_server *srv, const char *session)
{
    json_t *doc = NULL;
    bool on = tafel_store_get(srv->store, "sessie", session, &doc) == TAFEL_E_OK &&
              json_is_true(json_object_get(doc, "premoderation"));
    json_decref(doc);
    return on;
}

/* True if the put or patch @p r of reflectie @p cur by @p c leaves it in a
 * pre-moderated session: a partner's text changed after approval, or
 * moved in from elsewhere, would otherwise reach everyone unseen. */
static bool edit_premoderated(struct tafel_server *srv, const struct conn *c,
                              const struct tafel_request *r, const json_t *cur)
{
    if (tafel_actor_moderates(&c->actor, str_field(cur, "opgave")))
        return false;
    const char *session;
    if (r->type == TAFEL_MSG_PUT)
        session = str_field(r->doc, "session"); /* a replace keeps only what it names */
    else if (json_object_get(r->set, "session"))
        session = str_field(r->set, "session"); /* null: out of any session */
    else
        session = str_field(cur, "session");
    return session && session_premoderated(srv, session);
}

/* --------------------------------------------------- the hook (writer thread) */

static const char join_alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";

static void set_now(json_t *doc, const char *field)
{
    char ts[TAFEL_TIME_STRLEN];
    json_object_set_new(doc, field, json_string(tafel_time_format(tafel_time_now_ms(), ts)));
}

/* Fields only the server sets survive a replace: copy them over. */
static void keep_server_fields(enum tafel_kind kind, const json_t *current, json_t *proposed)
{
    const struct tafel_kind_def *def = tafel_schema_kind(kind);
    for (size_t i = 0; i < def->nfields; i++) {
        const struct tafel_field *f = &def->fields[i];
        json_t *v = json_object_get(current, f->name);
        if ((f->flags & TAFEL_FF_SERVER) && v)
            json_object_set(proposed, f->name, v);
    }
    json_t *cb = json_object_get(current, "created_by");
    if (cb)
        json_object_set(proposed, "created_by", cb);
}

/* @p w is the store's copy of the op's write (the writer batches copies):
 * the mark results and decisions live there, not in op->w. */
static enum tafel_err apply_interaction(struct wop *op, struct tafel_write *w,
                                        const struct tafel_actor *a, json_t *proposed)
{
    switch (op->msg) {
    case TAFEL_MSG_VOTE: {
        /* One vote per participant, kept as a mark of its own: the document
         * holds only the count, so a vote costs the same however many came
         * before it. */
        json_int_t votes = json_integer_value(json_object_get(proposed, "votes"));
        if (op->value && !w->mark_had) {
            votes++;
            w->mark_set = true;
            w->mark_value = 1;
        } else if (!op->value && w->mark_had) {
            votes = votes > 0 ? votes - 1 : 0;
            w->mark_clear = true;
        }
        json_object_del(proposed, "voters");
        json_object_set_new(proposed, "votes", json_integer(votes));
        return TAFEL_E_OK;
    }
    case TAFEL_MSG_FEEL: {
        json_t *feelings = json_object_get(proposed, "feelings");
        json_t *map = feelings ? json_deep_copy(feelings) : json_object();
        json_object_set_new(map, a->id, json_integer(op->value));
        json_object_set_new(proposed, "feelings", map);
        return TAFEL_E_OK;
    }
    case TAFEL_MSG_MODERATE: {
        /* When it was hidden: a hidden contribution is deleted a set time
         * after that (retention.c). Hiding again keeps the first moment; a
         * pending contribution rejected is hidden from now on. */
        bool hidden_now = json_is_true(json_object_get(proposed, "hidden")) &&
                          !json_is_true(json_object_get(proposed, "pending"));
        if (op->moderation == TAFEL_MOD_HIDE && !hidden_now)
            set_now(proposed, "hidden_at");
        else if (op->moderation == TAFEL_MOD_RESTORE || op->moderation == TAFEL_MOD_APPROVE)
            json_object_del(proposed, "hidden_at");
        if (op->moderation != TAFEL_MOD_PIN && op->moderation != TAFEL_MOD_UNPIN) {
            /* A moderator decided on a pending contribution: approving or
             * restoring shows it, hiding rejects it. */
            json_object_del(proposed, "pending");
            if (op->moderation == TAFEL_MOD_APPROVE) {
                json_object_set_new(proposed, "hidden", json_false());
                return TAFEL_E_OK;
            }
        }
        const char *field = op->moderation == TAFEL_MOD_HIDE || op->moderation == TAFEL_MOD_RESTORE
                                ? "hidden"
                                : "pinned";
        bool on = op->moderation == TAFEL_MOD_HIDE || op->moderation == TAFEL_MOD_PIN;
        json_object_set_new(proposed, field, json_boolean(on));
        return TAFEL_E_OK;
    }
    case TAFEL_MSG_SESSION_OPEN: {
        char code[9];
        for (int i = 0; i < 8; i++)
            code[i] = join_alphabet[randombytes_uniform(sizeof(join_alphabet) - 1)];
        code[8] = '\0';
        json_object_set_new(proposed, "state", json_string("open"));
        json_object_set_new(proposed, "join_code", json_string(code));
        set_now(proposed, "opened_at");
        json_object_del(proposed, "closed_at");
        return TAFEL_E_OK;
    }
    case TAFEL_MSG_SESSION_CLOSE:
        json_object_set_new(proposed, "state", json_string("gesloten"));
        json_object_del(proposed, "join_code");
        set_now(proposed, "closed_at");
        return TAFEL_E_OK;
    default:
        return TAFEL_E_OK;
    }
}

/* Fill what the server sets on a new document. */
static enum tafel_err fill_created(struct wop *op, const struct tafel_actor *a, json_t *proposed,
                                   struct tafel_errinfo *info)
{
    json_object_set_new(proposed, "created_by", json_string(a->id));
    switch (op->kind) {
    case TAFEL_KIND_REFLECTIE:
        /* The role travels with the name: "Wethouder" typed at a join stays
         * an inwoner's contribution. */
        json_object_set_new(proposed, "author", json_string(a->name));
        json_object_set_new(proposed, "author_role", json_string(tafel_role_name(a->role)));
        if (op->premoderated) {
            /* The moderators see it first: hidden (with all that hiding
             * means for readers and replays) and marked as waiting. */
            json_object_set_new(proposed, "hidden", json_true());
            json_object_set_new(proposed, "pending", json_true());
        }
        if (a->session[0]) {
            /* Joined by code: contributions belong to that session. */
            const char *s = str_field(proposed, "session");
            if (s && strcmp(s, a->session) != 0)
                return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, "doc.session",
                                         "an inwoner writes in its own session only");
            json_object_set_new(proposed, "session", json_string(a->session));
        }
        break;
    case TAFEL_KIND_ACTIVITEIT:
        json_object_set_new(proposed, "owner_actor", json_string(a->id));
        break;
    case TAFEL_KIND_SESSIE:
        json_object_set_new(proposed, "state", json_string("gepland"));
        break;
    default:
        break;
    }
    return TAFEL_E_OK;
}

static enum tafel_err wop_check(void *ctx, struct tafel_write *w, const json_t *current,
                                json_t *proposed)
{
    struct wop *op = ctx;
    const struct tafel_actor *a = &op->conn->actor;
    struct tafel_errinfo *info = &w->info;
    /* The hook may run again for the same op: decide afresh. */
    w->mark_set = w->mark_clear = false;
    w->redact_history = false;
    const char *opgave = current ? str_field(current, "opgave") : w->opgave;
    bool was_hidden = current && json_is_true(json_object_get(current, "hidden"));

    /* Outside the scope, or hidden from it, a document does not exist for
     * the actor; inside it, the matrix decides. */
    if (current && tafel_perm_visible(a, op->kind, opgave, was_hidden, info) != TAFEL_E_OK)
        return TAFEL_E_NOT_FOUND;
    enum tafel_action act = action_of(op);
    const char *created_by = current ? str_field(current, "created_by") : NULL;
    enum tafel_err err = tafel_perm_check(a, op->kind, act, opgave, created_by, info);
    if (err != TAFEL_E_OK)
        return err;
    if (act == TAFEL_ACT_READ && !tafel_perm_can_interact(a->role))
        return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, NULL, "a waarnemer only reads");

    /* A document stays in its opgave: a replace naming another is an
     * error, not something to ignore quietly. */
    const char *moved = op->msg == TAFEL_MSG_PUT && current ? str_field(w->doc, "opgave") : NULL;
    if (moved && opgave && strcmp(moved, opgave) != 0)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "doc.opgave",
                                 "doc.opgave: a document stays in the opgave it was made in");

    /* Hiding and pinning leave a trace: they go through `moderate`, which
     * is audited with its action and reason, never through a put or patch
     * (a put that keeps the stored value is fine). */
    const char *mod_field = NULL;
    if ((op->msg == TAFEL_MSG_PUT || op->msg == TAFEL_MSG_PATCH) &&
        tafel_schema_touches_flag(op->kind, current, w->doc, TAFEL_FF_MODERATE, &mod_field)) {
        const char *path = op->msg == TAFEL_MSG_PUT ? "doc" : "set";
        if (!tafel_actor_moderates(a, opgave))
            return tafel_errinfo_set(info, TAFEL_E_FORBIDDEN, mod_field,
                                     "only a moderator may change %s", mod_field);
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, mod_field,
                                 "%s.%s changes only with moderate (hide, restore, pin, unpin)",
                                 path, mod_field);
    }

    if (proposed) {
        if (!current)
            err = fill_created(op, a, proposed, info);
        else if (op->msg == TAFEL_MSG_PUT)
            keep_server_fields(op->kind, current, proposed);
        if (current && op->premoderated) {
            /* An edit, or a move into the session, is as new to the
             * moderators as a first version: it waits for them again. */
            json_object_set_new(proposed, "hidden", json_true());
            json_object_set_new(proposed, "pending", json_true());
        }
        if (err == TAFEL_E_OK)
            err = apply_interaction(op, w, a, proposed);
        if (err == TAFEL_E_OK)
            err = tafel_schema_validate(op->kind, proposed, TAFEL_V_STORED, info);
        if (err != TAFEL_E_OK)
            return err;
    }
    bool hidden = proposed ? json_is_true(json_object_get(proposed, "hidden")) : was_hidden;
    /* Hidden now: what the change log held of it before goes, so that no
     * replay hands out what a moderator took away (restoring it writes the
     * whole document again). A delete strips it in the store anyway. */
    w->redact_history = hidden && !was_hidden;
    bool redacts = w->redact_history || w->op == TAFEL_OP_DELETE;
    bool secret = proposed && tafel_schema_holds_secrets(op->kind, proposed);
    w->flags = (hidden ? TAFEL_CF_HIDDEN : 0) | (was_hidden ? TAFEL_CF_WAS_HIDDEN : 0) |
               (secret ? TAFEL_CF_SECRET : 0) | (redacts ? TAFEL_CF_REDACTS : 0);
    /* The store may run the hook again (after growing the map): keep only
     * the last call's view. */
    json_decref(op->prev);
    op->prev = current ? json_incref((json_t *)current) : NULL;
    return TAFEL_E_OK;
}

/* ------------------------------------------------- serialising (writer thread) */

static char *event_delete_stub(const struct wop *op, size_t *len)
{
    return tafel_msg_event_stub(op->w.seq, tafel_schema_kind(op->kind)->name, op->w.new_id,
                                str_field(op->w.stored ? op->w.stored : op->prev, "opgave"),
                                op->w.new_rev, TAFEL_HEADROOM, len);
}

static void finish_doc(struct wop *op)
{
    struct tafel_write *w = &op->w;
    const struct tafel_actor *a = &op->conn->actor;
    struct tafel_errinfo info;
    if (op->batch_err != TAFEL_E_OK) {
        tafel_errinfo_set(&info, op->batch_err, NULL, "%s", tafel_strerror(op->batch_err));
        op->reply = tafel_msg_error(op->req, &info, NULL, TAFEL_HEADROOM, &op->reply_len);
        return;
    }
    if (w->result != TAFEL_E_OK) {
        json_t *extra = NULL;
        info = w->info;
        if (info.code != w->result)
            tafel_errinfo_set(&info, w->result, w->result == TAFEL_E_CONFLICT ? "rev" : "id", "%s",
                              w->result == TAFEL_E_CONFLICT ? "stale revision"
                                                            : tafel_strerror(w->result));
        if (w->result == TAFEL_E_CONFLICT && w->stored) {
            /* The store compares revs before the hook runs: decide here what
             * the actor would have heard had the rev been right. Outside
             * what it may read: not found; not allowed to make this write:
             * forbidden; else the current version, as it may see it. */
            const char *o = str_field(w->stored, "opgave");
            bool hidden = json_is_true(json_object_get(w->stored, "hidden"));
            struct tafel_errinfo why;
            if (!tafel_perm_can_read(a, op->kind, o, hidden)) {
                tafel_errinfo_set(&info, TAFEL_E_NOT_FOUND, "id", "no such document");
            } else if (tafel_perm_check(a, op->kind, action_of(op), o,
                                        str_field(w->stored, "created_by"), &why) != TAFEL_E_OK ||
                       (action_of(op) == TAFEL_ACT_READ && !tafel_perm_can_interact(a->role))) {
                info = why;
                if (info.code == TAFEL_E_OK)
                    tafel_errinfo_set(&info, TAFEL_E_FORBIDDEN, NULL, "a waarnemer only reads");
            } else {
                json_t *current = json_copy(w->stored); /* shallow: secrets are removed */
                tafel_doc_hide_secrets(a, op->kind, current);
                extra = json_pack("{s:o}", "current", current);
            }
        }
        op->reply = tafel_msg_error(op->req, &info, extra, TAFEL_HEADROOM, &op->reply_len);
        json_decref(extra);
        return;
    }
    if (w->op == TAFEL_OP_DELETE || !w->text) {
        /* A delete says which document went, never what it held. */
        json_t *f = json_pack("{s:s, s:I, s:I}", "id", w->new_id, "rev", (json_int_t)w->new_rev,
                              "seq", (json_int_t)w->seq);
        op->reply = f ? tafel_msg_ok(op->req, f, TAFEL_HEADROOM, &op->reply_len) : NULL;
        json_decref(f);
        op->event_full = event_delete_stub(op, &op->event_full_len);
        return;
    }
    /* The stored bytes, serialised once by the store: the ok holds a copy,
     * the event is built around them where they lie. */
    int voted = op->msg == TAFEL_MSG_VOTE ? op->value != 0 : -1;
    op->reply =
        tafel_msg_ok_doc(op->req, w->new_id, w->new_rev, w->seq, voted, w->text + w->text_before,
                         w->text_len, TAFEL_HEADROOM, &op->reply_len);
    op->event_full_len = tafel_msg_event_wrap(w->text, TAFEL_HEADROOM, w->text_len, w->seq);
    op->event_full = w->text;
    w->text = NULL;
    if ((w->flags & TAFEL_CF_HIDDEN) && !(w->flags & TAFEL_CF_WAS_HIDDEN)) {
        op->event_redacted = event_delete_stub(op, &op->event_redacted_len);
    } else if ((w->flags & TAFEL_CF_SECRET) && w->stored) {
        /* Those who may not read the secret fields get the document without. */
        op->event_redacted = hub_event_without_secrets(w->seq, op->kind, w->stored, TAFEL_HEADROOM,
                                                       &op->event_redacted_len);
    }
}

/* In the writer thread, after the commit: serialise the reply and events. */
static void finish(struct wop *op)
{
    if (!op->job) {
        finish_doc(op);
        return;
    }
    if (!op->conn)
        return; /* the server's own job: nobody to answer */
    if (op->job_err.code != TAFEL_E_OK)
        op->reply = tafel_msg_error(op->req, &op->job_err, NULL, TAFEL_HEADROOM, &op->reply_len);
    else
        op->reply = tafel_msg_ok(op->req, op->job_result, TAFEL_HEADROOM, &op->reply_len);
}

/* Commit the document ops from @p run up to (not including) @p end in one
 * transaction with one sync, and serialise their results. */
static void commit_run(struct tafel_writes *ws, struct wop *run, struct wop *end, size_t n)
{
    size_t i = 0;
    for (struct wop *op = run; op != end; op = (struct wop *)op->link.next)
        ws->ops[i++] = op->w;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    enum tafel_err err = tafel_store_write(ws->store, ws->ops, n, tafel_time_now_ms());
    clock_gettime(CLOCK_MONOTONIC, &b);
    uint64_t us = (uint64_t)((b.tv_sec - a.tv_sec) * 1000000 + (b.tv_nsec - a.tv_nsec) / 1000);
    if (err != TAFEL_E_OK)
        log_error("commit of %zu ops failed: %s", n, tafel_strerror(err));
    i = 0;
    for (struct wop *op = run; op != end; op = (struct wop *)op->link.next) {
        op->w = ws->ops[i++];
        op->batch_err = err;
        op->batch_first = op == run;
        op->batch_size = (unsigned)n;
        op->commit_us = us;
        finish(op);
    }
}

/* The writer's apply: a batch in submission order. Runs of document ops
 * each commit together; a job (key administration, a device) runs between
 * them, in its place, so that a write queued after a key.revoke is checked
 * against the revoked key inside its own transaction and never commits. */
static void apply(void *ctx, struct tafel_witem *batch, size_t count)
{
    struct tafel_writes *ws = ctx;
    (void)count;
    struct wop *op = (struct wop *)batch;
    while (op) {
        struct wop *run = op;
        size_t n = 0;
        while (op && !op->job) {
            op = (struct wop *)op->link.next;
            n++;
        }
        if (n)
            commit_run(ws, run, op, n);
        if (op) {
            op->job(ws->store, op); /* commits on its own; jobs are rare */
            op->batch_first = false;
            finish(op);
            op = (struct wop *)op->link.next;
        }
    }
}

/* Free a wop and what it owns; drops its conn reference (loop thread only,
 * or after the loop has dropped it: then conn is NULL). */
static void wop_free(struct wop *op)
{
    if (!op)
        return;
    conn_unref(op->conn);
    json_decref(op->root);
    json_decref(op->input);
    json_decref(op->audit_detail);
    json_decref(op->prev);
    json_decref(op->w.stored);
    free(op->w.text);
    json_decref(op->job_args);
    json_decref(op->job_result);
    free(op->reply);
    free(op->event_full);
    free(op->event_redacted);
    free(op);
}

static void release(void *ctx, struct tafel_witem *item)
{
    (void)ctx;
    wop_free((struct wop *)item);
}

static void wake(void *ctx)
{
    struct tafel_writes *ws = ctx;
    ws->wake(ws->wake_ctx);
}

bool tafel_writes_start(struct tafel_server *srv, void (*wake_fn)(void *ctx), void *wake_ctx)
{
    struct tafel_writes *ws = calloc(1, sizeof(*ws));
    if (!ws)
        return false;
    ws->store = srv->store;
    ws->wake = wake_fn;
    ws->wake_ctx = wake_ctx;
    struct tafel_writer_cbs cbs = {ws, apply, release, wake, MAX_BATCH};
    ws->writer = tafel_writer_start(&cbs);
    if (!ws->writer) {
        free(ws);
        return false;
    }
    srv->writes = ws;
    return true;
}

bool tafel_writes_idle(struct tafel_server *srv)
{
    return !srv->writes || tafel_writer_idle(srv->writes->writer);
}

void tafel_writes_stop(struct tafel_server *srv)
{
    struct tafel_writes *ws = srv->writes;
    if (!ws)
        return;
    struct tafel_witem *left = tafel_writer_stop(ws->writer);
    while (left) {
        struct tafel_witem *next = left->next;
        wop_free((struct wop *)left);
        left = next;
    }
    free(ws);
    srv->writes = NULL;
}

/* ----------------------------------------------------- back in the loop */

/* A full disk refuses every write until space is freed: say so once in the
 * log and in /healthz, and again when writes succeed. */
static void storage_outcome(struct tafel_server *srv, enum tafel_err err)
{
    if (err == TAFEL_E_NO_SPACE && !srv->storage_full) {
        log_error("writes refused: no space left on device for %s", srv->cfg.data_dir);
        srv->storage_full = true;
    } else if (srv->storage_full && (err == TAFEL_E_OK || err == TAFEL_E_CONFLICT)) {
        log_info("writes succeed again: the data directory has space");
        srv->storage_full = false;
    }
}

static void write_done(struct tafel_server *srv, struct wop *op)
{
    struct tafel_metrics *m = &srv->m;
    if (op->batch_first) {
        m->commits++;
        unsigned b = 0;
        while (b < 7 && (1u << (b + 1)) <= op->batch_size)
            b++;
        m->batch_hist[b]++;
        m->commit_us_sum += op->commit_us;
        if (op->commit_us > m->commit_us_max)
            m->commit_us_max = op->commit_us;
        unsigned h = 0;
        while (h < 7 && op->commit_us > (250u << h))
            h++;
        m->commit_us_hist[h]++;
    }
    enum tafel_err outcome = op->job ? op->job_err.code : op->batch_err;
    storage_outcome(srv, outcome);
    if (op->job && op->done) {
        op->done(srv, op); /* answers itself */
        return;
    }
    if (op->reply) {
        conn_send(op->conn, frame_new(op->reply, op->reply_len));
        op->reply = NULL;
    } else {
        conn_reply_error(op->conn, op->req, TAFEL_E_NOMEM, NULL, NULL);
    }
    if (op->job)
        return;
    bool stored = op->batch_err == TAFEL_E_OK && op->w.result == TAFEL_E_OK;
    tafel_quota_settle(srv, op->quota_session, op->quota_bytes, op->quota_contribution, stored,
                       op->event_full_len);
    if (stored && op->w.op == TAFEL_OP_DELETE && op->kind == TAFEL_KIND_REFLECTIE)
        tafel_quota_credit(srv, op->prev);
    if (!stored) {
        m->rejected_ops++;
        return;
    }
    m->committed_ops++;
    const json_t *doc = op->w.stored ? op->w.stored : op->prev;
    hub_append(srv, op->w.seq, str_field(doc, "opgave"), op->kind, op->w.new_id, op->w.flags,
               op->event_full, op->event_full_len, op->event_redacted, op->event_redacted_len);
    op->event_full = op->event_redacted = NULL;
    if (op->msg == TAFEL_MSG_SESSION_CLOSE ||
        (op->kind == TAFEL_KIND_SESSIE && op->w.op == TAFEL_OP_DELETE))
        conn_close_session(srv, op->w.new_id, 4403, "session closed");
    if (tafel_schema_kind(op->kind)->audited || op->audit_logged)
        log_info("conn=%llu %s %s/%s rev=%lld seq=%llu",
                 (unsigned long long)(op->conn ? op->conn->id : 0), tafel_msg_name(op->msg),
                 tafel_schema_kind(op->kind)->name, op->w.new_id, (long long)op->w.new_rev,
                 (unsigned long long)op->w.seq);
}

void tafel_writes_done(struct tafel_server *srv)
{
    struct tafel_witem *list = tafel_writer_take_done(srv->writes->writer);
    for (struct tafel_witem *it = list; it; it = it->next) {
        struct wop *op = (struct wop *)it;
        write_done(srv, op);
        /* What only the loop may release, or what it allocated itself. */
        conn_unref(op->conn);
        op->conn = NULL;
        json_decref(op->root);
        json_decref(op->input);
        json_decref(op->job_args);
        json_decref(op->audit_detail);
        op->root = op->input = op->job_args = op->audit_detail = NULL;
        op->w.doc = NULL; /* pointed into root or input */
        op->w.audit_detail = NULL;
        op->req = NULL;
    }
    tafel_writer_recycle(srv->writes->writer, list);
}

/* -------------------------------------------------------- building wops */

static struct wop *wop_new(struct conn *c, const struct tafel_request *r)
{
    struct wop *op = calloc(1, sizeof(*op));
    if (!op)
        return NULL;
    op->conn = c;
    conn_ref(c);
    /* The parsed request stays as it is: the op holds a reference, and
     * everything it points into (req, doc, set) lives as long. */
    op->root = json_incref(r->root);
    op->req = (json_t *)r->req;
    op->msg = r->type;
    return op;
}

static const char *audit_action_of(enum tafel_msg msg, enum tafel_kind kind)
{
    switch (msg) {
    case TAFEL_MSG_MODERATE:
        return "moderate";
    case TAFEL_MSG_SESSION_OPEN:
        return "session.open";
    case TAFEL_MSG_SESSION_CLOSE:
        return "session.close";
    case TAFEL_MSG_PUT:
    case TAFEL_MSG_PATCH:
    case TAFEL_MSG_DELETE:
        /* The kinds whose schema row says so (the opgave itself, its members). */
        return tafel_schema_kind(kind)->audited ? tafel_msg_name(msg) : NULL;
    default:
        return NULL;
    }
}

void handle_write(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    struct tafel_errinfo info;
    tafel_errinfo_clear(&info);
    struct wop *op = wop_new(c, r);
    if (!op) {
        conn_reply_error(c, r->req, TAFEL_E_NOMEM, NULL, NULL);
        return;
    }
    op->kind = r->kind;
    if (r->id)
        snprintf(op->id, sizeof(op->id), "%s", r->id);
    op->value = r->value;
    op->moderation = r->moderation;
    struct tafel_write *w = &op->w;
    w->kind = tafel_schema_kind(op->kind)->name;
    w->id = r->id ? op->id : NULL;
    w->actor = c->actor.id;
    /* Checked again inside the transaction: a write in flight when its key
     * is revoked does not commit. */
    w->key_id = c->actor.key_id[0] ? c->actor.key_id : NULL;
    w->mark = r->type == TAFEL_MSG_VOTE ? c->actor.id : NULL;
    w->check = wop_check;
    w->check_ctx = op;
    /* The stored bytes back, with room for the event's head and tail. */
    w->keep_text = true;
    w->text_before = TAFEL_HEADROOM + TAFEL_EVENT_PUT_HEAD_LEN;
    w->text_after = TAFEL_EVENT_TAIL_ROOM;
    w->audit_action = audit_action_of(r->type, r->kind);
    op->audit_logged = w->audit_action != NULL;
    if (r->type == TAFEL_MSG_MODERATE) {
        /* What was done and why: the trace a moderation leaves. */
        op->audit_detail = json_pack("{s:s}", "action", tafel_moderation_name(r->moderation));
        if (op->audit_detail && r->reason)
            json_object_set_new(op->audit_detail, "reason", json_string(r->reason));
        w->audit_detail = op->audit_detail;
    }

    enum tafel_err err = TAFEL_E_OK;
    switch (r->type) {
    case TAFEL_MSG_PUT:
        w->op = TAFEL_OP_PUT;
        w->expected_rev = r->has_rev ? r->rev : 0;
        w->doc = r->doc;
        if (!r->id && r->kind != TAFEL_KIND_OPGAVE) {
            snprintf(op->opgave, sizeof(op->opgave), "%s", r->opgave ? r->opgave : "");
            w->opgave = op->opgave;
            /* A new document: its scope and role are known now. */
            err = tafel_perm_check(&c->actor, r->kind, TAFEL_ACT_CREATE, w->opgave, NULL, &info);
            if (err == TAFEL_E_OK)
                err = check_refs(srv, r->kind, r->doc, "doc", w->opgave, &info);
        } else if (!r->id) {
            err = tafel_perm_check(&c->actor, r->kind, TAFEL_ACT_CREATE, NULL, NULL, &info);
        }
        break;
    case TAFEL_MSG_PATCH:
        w->op = TAFEL_OP_PATCH;
        w->expected_rev = r->has_rev ? r->rev : 0;
        w->doc = r->set;
        break;
    case TAFEL_MSG_DELETE:
        w->op = TAFEL_OP_DELETE;
        w->expected_rev = r->rev;
        break;
    default: /* moderate vote feel session.*: a patch the hook fills in */
        w->op = TAFEL_OP_PATCH;
        op->input = json_object();
        w->doc = op->input;
        break;
    }
    if (err == TAFEL_E_OK && r->id && (r->type == TAFEL_MSG_PUT || r->type == TAFEL_MSG_PATCH)) {
        /* References in an update must stay inside the document's opgave. */
        json_t *cur = NULL;
        if (tafel_store_get(srv->store, tafel_schema_kind(op->kind)->name, r->id, &cur) ==
            TAFEL_E_OK) {
            err = check_refs(srv, r->kind, r->type == TAFEL_MSG_PUT ? r->doc : r->set,
                             r->type == TAFEL_MSG_PUT ? "doc" : "set", str_field(cur, "opgave"),
                             &info);
            if (r->kind == TAFEL_KIND_REFLECTIE)
                op->premoderated = edit_premoderated(srv, c, r, cur);
        }
        json_decref(cur);
    }
    /* What a session's participants write counts against that session: a
     * new contribution (by anyone) as one of its contributions and its
     * bytes, every other write of a joined participant (votes, feelings)
     * by what it stores, so that one join code cannot fill the disk. */
    const char *qsession = NULL, *qopgave = NULL;
    bool contribution = r->type == TAFEL_MSG_PUT && !r->id && r->kind == TAFEL_KIND_REFLECTIE;
    if (contribution) {
        qsession = c->actor.session[0] ? c->actor.session : str_field(r->doc, "session");
        qopgave = op->opgave;
        op->premoderated = qsession && !tafel_actor_moderates(&c->actor, op->opgave) &&
                           session_premoderated(srv, qsession);
    } else if (c->actor.session[0]) {
        qsession = c->actor.session;
        qopgave = json_string_value(json_array_get(c->actor.scope, 0));
    }
    if (err == TAFEL_E_OK && qsession && qopgave) {
        const json_t *body = r->doc ? r->doc : r->set;
        size_t bytes = body ? json_dumpb(body, NULL, 0, JSON_COMPACT) : 64;
        err = tafel_quota_reserve(srv, qsession, qopgave, bytes, contribution, &info);
        if (err == TAFEL_E_OK) {
            snprintf(op->quota_session, sizeof(op->quota_session), "%s", qsession);
            op->quota_bytes = bytes;
            op->quota_contribution = contribution;
        }
    }
    if (err != TAFEL_E_OK) {
        conn_send_error(c, r->req, &info, NULL);
        wop_free(op);
        return;
    }
    tafel_writer_submit(srv->writes->writer, &op->link);
}

/* ------------------------------------------------------------ key jobs */

static void key_create_job(tafel_store *st, struct wop *op)
{
    const json_t *a = op->job_args;
    char secret[TAFEL_KEY_STRLEN + 1], key_id[TAFEL_ID_MAX + 1];
    int64_t now = tafel_time_now_ms();
    int64_t expires = (int64_t)json_integer_value(json_object_get(a, "expires_ms"));
    enum tafel_err err = tafel_store_key_create(
        st, str_field(a, "role"), json_object_get(a, "opgaven"), str_field(a, "label"), expires,
        op->conn->actor.id, now, secret, key_id);
    if (err != TAFEL_E_OK) {
        tafel_errinfo_set(&op->job_err, err, err == TAFEL_E_TOO_LARGE ? "label" : NULL, "%s",
                          tafel_strerror(err));
        return;
    }
    char ts[TAFEL_TIME_STRLEN];
    op->job_result = json_pack("{s:s, s:s, s:o}", "key_id", key_id, "key", secret, "expires_at",
                               expires ? json_string(tafel_time_format(expires, ts)) : json_null());
    sodium_memzero(secret, sizeof(secret));
}

static void key_revoke_job(tafel_store *st, struct wop *op)
{
    json_t *revoked = NULL;
    bool cascade = json_is_true(json_object_get(op->job_args, "cascade"));
    enum tafel_err err =
        tafel_store_key_revoke(st, str_field(op->job_args, "key_id"), op->conn->actor.id,
                               tafel_time_now_ms(), cascade, &revoked);
    if (err != TAFEL_E_OK)
        tafel_errinfo_set(&op->job_err, err, err == TAFEL_E_NOT_FOUND ? "key_id" : NULL, "%s",
                          err == TAFEL_E_NOT_FOUND ? "no such key" : tafel_strerror(err));
    else
        op->job_result = json_pack("{s:O, s:o}", "key_id", json_object_get(op->job_args, "key_id"),
                                   "revoked", revoked ? revoked : json_array());
    if (err != TAFEL_E_OK)
        json_decref(revoked);
}

/* key.revoke is done: answer, then close whatever was signed in with a key
 * that is revoked now. */
static void key_revoke_done(struct tafel_server *srv, struct wop *op)
{
    if (op->reply) {
        conn_send(op->conn, frame_new(op->reply, op->reply_len));
        op->reply = NULL;
    } else {
        conn_reply_error(op->conn, op->req, TAFEL_E_NOMEM, NULL, NULL);
    }
    if (op->job_err.code != TAFEL_E_OK)
        return;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(op->job_result, "revoked"), i, v)
        conn_close_key(srv, json_string_value(v), 4403, "access key revoked");
}

void tafel_submit_job(struct tafel_server *srv, struct conn *c, const struct tafel_request *r,
                      wop_job_fn job, wop_done_fn done, json_t *args)
{
    tafel_submit_job_ctx(srv, c, r, job, done, args, NULL);
}

bool tafel_submit_job_ctx(struct tafel_server *srv, struct conn *c, const struct tafel_request *r,
                          wop_job_fn job, wop_done_fn done, json_t *args, void *ctx)
{
    struct wop *op = wop_new(c, r);
    if (!op || !args) {
        json_decref(args);
        wop_free(op);
        conn_reply_error(c, r->req, TAFEL_E_NOMEM, NULL, NULL);
        return false;
    }
    op->job = job;
    op->done = done;
    op->job_args = args;
    op->job_ctx = ctx;
    tafel_writer_submit(srv->writes->writer, &op->link);
    return true;
}

bool tafel_submit_server_job(struct tafel_server *srv, wop_job_fn job, wop_done_fn done, void *ctx)
{
    /* No connection: finish() serialises no reply for it, and write_done()
     * hands it to @done alone. */
    struct wop *op = calloc(1, sizeof(*op));
    if (!op)
        return false;
    op->job = job;
    op->done = done;
    op->job_ctx = ctx;
    tafel_writer_submit(srv->writes->writer, &op->link);
    return true;
}

void handle_key_create(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    const struct tafel_actor *a = &c->actor;
    if (a->role == TAFEL_ROLE_OPGAVELEIDER && r->role != TAFEL_ROLE_PARTNER &&
        r->role != TAFEL_ROLE_INWONER && r->role != TAFEL_ROLE_WAARNEMER) {
        /* An opgaveleider invites partners, inwoners and observers. */
        conn_reply_error(c, r->req, TAFEL_E_FORBIDDEN, "role",
                         "an opgaveleider creates partner, inwoner and waarnemer keys only");
        return;
    }
    if ((a->scope || a->role == TAFEL_ROLE_OPGAVELEIDER) &&
        (!json_is_array(r->opgaven) || json_array_size(r->opgaven) == 0)) {
        /* A key scoped to some opgaven (of any role) makes keys for those
         * opgaven only: never one wider than itself. */
        conn_reply_error(c, r->req, TAFEL_E_FORBIDDEN, "opgaven",
                         "name the opgaven of the new key; they must be yours");
        return;
    }
    if (!tafel_actor_covers(a, r->opgaven)) {
        conn_reply_error(c, r->req, TAFEL_E_FORBIDDEN, "opgaven", "not one of your opgaven");
        return;
    }
    /* A key lives no longer than the key that made it. */
    int64_t expires = r->expires_in ? tafel_time_now_ms() + r->expires_in * 1000 : 0;
    if (a->expires_ms && (!expires || expires > a->expires_ms))
        expires = a->expires_ms;
    json_t *args = json_pack("{s:s, s:O, s:s, s:I}", "role", tafel_role_name(r->role), "opgaven",
                             r->opgaven, "label", r->label, "expires_ms", (json_int_t)expires);
    log_info("conn=%llu key.create role=%s", (unsigned long long)c->id, tafel_role_name(r->role));
    tafel_submit_job(srv, c, r, key_create_job, NULL, args);
}

void handle_key_revoke(struct tafel_server *srv, struct conn *c, struct tafel_request *r)
{
    const struct tafel_actor *a = &c->actor;
    if (a->role != TAFEL_ROLE_BEHEERDER || a->scope) {
        /* An opgaveleider revokes what it made; a scoped beheerder what lies
         * inside its scope. Outside it, a key does not exist for them. */
        struct tafel_key_info k;
        memset(&k, 0, sizeof(k));
        enum tafel_err err = tafel_store_key_get(srv->store, r->key_id, &k);
        bool inside = err == TAFEL_E_OK && tafel_actor_covers(a, k.opgaven);
        bool mine = err == TAFEL_E_OK && strcmp(k.created_by, a->id) == 0;
        tafel_key_info_free(&k);
        if (!inside) {
            conn_reply_error(c, r->req, TAFEL_E_NOT_FOUND, "key_id", "no such key");
            return;
        }
        if (a->role != TAFEL_ROLE_BEHEERDER && !mine) {
            conn_reply_error(c, r->req, TAFEL_E_FORBIDDEN, "key_id",
                             "an opgaveleider revokes only keys it created");
            return;
        }
    }
    log_info("conn=%llu key.revoke key=%s%s", (unsigned long long)c->id, r->key_id,
             r->cascade ? " cascade" : "");
    tafel_submit_job(srv, c, r, key_revoke_job, key_revoke_done,
                     json_pack("{s:s, s:b}", "key_id", r->key_id, "cascade", r->cascade != 0));
}
