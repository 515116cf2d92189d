/*
 * keys.c - access keys: created with 256 random bits, shown to the user once,
 * stored only as a hash keyed with the data directory's own secret, so that a
 * copy of the key table alone lets nobody in nor test guesses offline.
 *
 *   keys      key_id -> key record JSON (role, opgaven, label, times, hash)
 *   key_hash  BLAKE2b(secret; key = directory secret) -> key_id
 *
 * Verifying looks the hash up directly; the timing of that lookup reveals
 * nothing useful, since an attacker cannot compute the hash of a guess
 * without the directory secret. The record's hash is then compared in
 * constant time.
 *
 * A key's created_by is the key id of the key that created it, so revoking
 * with cascade follows those links down: whoever was given keys by a key
 * that is no longer trusted loses them too.
 */
#include "store_base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_LEN    32
#define HASH_LEN      crypto_generichash_BYTES
#define KEY_ID_RANDOM 10
#define KEY_TRIES     8

static void key_hash(const tafel_store *st, const unsigned char *secret, unsigned char *out)
{
    crypto_generichash(out, HASH_LEN, secret, SECRET_LEN, st->hash_secret, sizeof(st->hash_secret));
}

/* "tafel_" + 43 base64url characters -> 32 bytes; false when malformed. */
static bool secret_decode(const char *s, unsigned char *out)
{
    size_t plen = strlen(TAFEL_KEY_PREFIX), binlen = 0;
    const char *end = NULL;

    if (!s || strnlen(s, TAFEL_KEY_STRLEN + 1) != TAFEL_KEY_STRLEN ||
        strncmp(s, TAFEL_KEY_PREFIX, plen) != 0)
        return false;
    return sodium_base642bin(out, SECRET_LEN, s + plen, TAFEL_KEY_STRLEN - plen, NULL, &binlen,
                             &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
           binlen == SECRET_LEN && end == s + TAFEL_KEY_STRLEN;
}

static bool key_id_ok(const char *key_id)
{
    return key_id && key_id[0] && strlen(key_id) <= TAFEL_ID_MAX;
}

static int key_load(tafel_store *st, MDB_txn *txn, const char *key_id, json_t **rec)
{
    MDB_val k = {.mv_size = strlen(key_id), .mv_data = (void *)key_id}, d;
    int rc = mdb_get(txn, st->dbi[DB_KEYS], &k, &d);
    return rc ? rc : store__parse(&d, rec);
}

/* Fill @p out from record @p rec (out->opgaven is a new copy). */
static int key_fill(const json_t *rec, struct tafel_key_info *out)
{
    const char *id, *role, *label, *by;
    json_t *opgaven;
    json_int_t created, expires, revoked;

    memset(out, 0, sizeof(*out));
    if (json_unpack((json_t *)rec, "{s:s,s:s,s:o,s:s,s:I,s:I,s:I,s:s}", "key_id", &id, "role",
                    &role, "opgaven", &opgaven, "label", &label, "created_ms", &created,
                    "expires_ms", &expires, "revoked_ms", &revoked, "created_by", &by) != 0)
        return MDB_CORRUPTED;
    snprintf(out->key_id, sizeof(out->key_id), "%s", id);
    snprintf(out->role, sizeof(out->role), "%s", role);
    snprintf(out->label, sizeof(out->label), "%s", label);
    snprintf(out->created_by, sizeof(out->created_by), "%s", by);
    out->created_ms = created;
    out->expires_ms = expires;
    out->revoked_ms = revoked;
    out->opgaven = json_deep_copy(opgaven);
    return out->opgaven ? 0 : ENOMEM;
}

void tafel_key_info_free(struct tafel_key_info *k)
{
    if (!k)
        return;
    json_decref(k->opgaven);
    k->opgaven = NULL;
}

/* Audit entry for a key: what it grants, never its secret; with @p cascade
 * it says so (the key went with the key that created it). */
static int key_audit(tafel_store *st, MDB_txn *txn, const json_t *rec, const char *actor,
                     const char *action, bool cascade, int64_t now_ms)
{
    json_t *r = (json_t *)rec;
    json_t *detail =
        json_pack("{s:O,s:O,s:O}", "role", json_object_get(r, "role"), "label",
                  json_object_get(r, "label"), "opgaven", json_object_get(r, "opgaven"));
    if (!detail || (cascade && json_object_set_new(detail, "cascade", json_true()) != 0)) {
        json_decref(detail);
        return ENOMEM;
    }
    int rc = store__audit_put(st, txn, actor, action,
                              json_string_value(json_object_get(r, "key_id")), detail, now_ms);
    json_decref(detail);
    return rc;
}

/* Store record @p rec and audit @p action on it, in the same transaction. */
static int key_save(tafel_store *st, MDB_txn *txn, const json_t *rec, const char *actor,
                    const char *action, bool cascade, int64_t now_ms)
{
    const char *key_id = json_string_value(json_object_get(rec, "key_id"));
    if (!key_id)
        return MDB_CORRUPTED;
    MDB_val k = {.mv_size = strlen(key_id), .mv_data = (void *)key_id};
    char *text = json_dumps(rec, JSON_COMPACT);
    if (!text)
        return ENOMEM;
    int rc = store__put_text(st, txn, DB_KEYS, &k, text, strlen(text));
    free(text);
    return rc ? rc : key_audit(st, txn, rec, actor, action, cascade, now_ms);
}

/* Characters (code points) of UTF-8 text: the bytes that do not continue
 * a sequence. (Invalid UTF-8 is refused later, by json_pack.) */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* ----------------------------------------------------------------- create */

struct key_new {
    const char *role, *label, *created_by;
    const json_t *opgaven;
    int64_t expires_ms, now_ms;
    char key_id[TAFEL_ID_MAX + 1];
    unsigned char secret[SECRET_LEN];
    enum tafel_err verdict; /* the creator's key, checked in the transaction */
};

/* Refuse (EPERM, *verdict set) when the key @p actor acts with is revoked or
 * expired at @p now_ms, inside @p txn: an administrative write racing its
 * own key's revocation does not commit after it. An actor that is no key
 * ("" for the offline tool) is not checked; keys are never deleted, so a
 * key holder's record is always there. */
static int actor_key_check(tafel_store *st, MDB_txn *txn, const char *actor, int64_t now_ms,
                           enum tafel_err *verdict)
{
    *verdict = TAFEL_E_OK;
    if (!actor || !actor[0] || !key_id_ok(actor))
        return 0;
    json_t *rec = NULL;
    int rc = key_load(st, txn, actor, &rec);
    json_decref(rec);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (!rc)
        rc = store__key_status(st, txn, actor, now_ms, verdict);
    if (rc)
        return rc;
    return *verdict == TAFEL_E_OK ? 0 : EPERM;
}

static int key_new_id(tafel_store *st, MDB_txn *txn, char *key_id)
{
    int rc = MDB_KEYEXIST;
    for (int i = 0; i < KEY_TRIES && rc == MDB_KEYEXIST; i++) {
        MDB_val k = {.mv_size = 1 + KEY_ID_RANDOM, .mv_data = key_id}, d;
        key_id[0] = 'k';
        store__random_base32(key_id + 1, KEY_ID_RANDOM);
        rc = mdb_get(txn, st->dbi[DB_KEYS], &k, &d);
        rc = rc == MDB_NOTFOUND ? 0 : rc ? rc : MDB_KEYEXIST;
    }
    return rc;
}

/* Draw the secret and index its hash; a (never seen) hash collision draws again. */
static int key_new_secret(tafel_store *st, MDB_txn *txn, struct key_new *kn, unsigned char *hash)
{
    int rc = MDB_KEYEXIST;
    for (int i = 0; i < KEY_TRIES && rc == MDB_KEYEXIST; i++) {
        MDB_val k = {.mv_size = HASH_LEN, .mv_data = hash};
        MDB_val d = {.mv_size = strlen(kn->key_id), .mv_data = kn->key_id};
        randombytes_buf(kn->secret, sizeof(kn->secret));
        key_hash(st, kn->secret, hash);
        rc = mdb_put(txn, st->dbi[DB_KEY_HASH], &k, &d, MDB_NOOVERWRITE);
    }
    return rc;
}

static int key_create_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct key_new *kn = ctx;
    unsigned char hash[HASH_LEN];
    char hex[HASH_LEN * 2 + 1];
    json_t *rec = NULL;
    int rc = actor_key_check(st, txn, kn->created_by, kn->now_ms, &kn->verdict);
    if (!rc)
        rc = key_new_id(st, txn, kn->key_id);
    if (!rc)
        rc = key_new_secret(st, txn, kn, hash);
    if (rc)
        goto cleanup;
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    rec = json_pack("{s:s,s:s,s:O,s:s,s:I,s:I,s:I,s:s,s:s}", "key_id", kn->key_id, "role", kn->role,
                    "opgaven", (json_t *)kn->opgaven, "label", kn->label, "created_ms",
                    (json_int_t)kn->now_ms, "expires_ms", (json_int_t)kn->expires_ms, "revoked_ms",
                    (json_int_t)0, "created_by", kn->created_by, "hash", hex);
    if (!rec) {
        rc = EINVAL; /* invalid UTF-8 in a string, or out of memory */
        goto cleanup;
    }
    rc = key_save(st, txn, rec, kn->created_by, "key.create", false, kn->now_ms);
cleanup:
    json_decref(rec);
    return rc;
}

static bool opgaven_ok(const json_t *opgaven)
{
    size_t i;
    json_t *v;

    if (json_is_string(opgaven))
        return strcmp(json_string_value(opgaven), "*") == 0;
    if (!json_is_array(opgaven))
        return false;
    json_array_foreach((json_t *)opgaven, i, v)
    {
        if (!json_is_string(v))
            return false;
    }
    return true;
}

enum tafel_err tafel_store_key_create(tafel_store *st, const char *role, const json_t *opgaven,
                                      const char *label, int64_t expires_ms, const char *created_by,
                                      int64_t now_ms, char *secret_out, char *key_id_out)
{
    struct key_new kn = {.role = role,
                         .label = label ? label : "",
                         .created_by = created_by ? created_by : "",
                         .opgaven = opgaven,
                         .expires_ms = expires_ms,
                         .now_ms = now_ms};
    struct tafel_key_info bounds;

    /* Counted in characters, as the protocol counts them; the byte bound
     * can only be passed by text that is not UTF-8 at all. */
    if (utf8_chars(kn.label) > TAFEL_LABEL_MAX_CHARS || strlen(kn.label) >= sizeof(bounds.label))
        return TAFEL_E_TOO_LARGE;
    if (!role || !role[0] || strlen(role) >= sizeof(bounds.role) ||
        strlen(kn.created_by) >= sizeof(bounds.created_by) || !opgaven_ok(opgaven) || !secret_out ||
        !key_id_out)
        return TAFEL_E_INVALID_ARG;
    int rc = store__write_run(st, key_create_fn, &kn);
    if (rc == EPERM && kn.verdict != TAFEL_E_OK)
        return kn.verdict;
    if (!rc) {
        memcpy(secret_out, TAFEL_KEY_PREFIX, strlen(TAFEL_KEY_PREFIX));
        sodium_bin2base64(secret_out + strlen(TAFEL_KEY_PREFIX),
                          TAFEL_KEY_STRLEN + 1 - strlen(TAFEL_KEY_PREFIX), kn.secret,
                          sizeof(kn.secret), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        snprintf(key_id_out, TAFEL_ID_MAX + 1, "%s", kn.key_id);
    }
    sodium_memzero(kn.secret, sizeof(kn.secret));
    return store__err(rc);
}

/* ----------------------------------------------------------------- lookup */

/* Inside @p txn: the record whose hash is @p hash, or MDB_NOTFOUND. */
static int key_find(tafel_store *st, MDB_txn *txn, const unsigned char *hash, json_t **rec)
{
    char key_id[TAFEL_ID_MAX + 1];
    unsigned char stored[HASH_LEN];
    MDB_val k = {.mv_size = HASH_LEN, .mv_data = (void *)hash}, d;
    const char *hex;
    int rc = mdb_get(txn, st->dbi[DB_KEY_HASH], &k, &d);
    if (rc)
        return rc;
    if (d.mv_size == 0 || d.mv_size > TAFEL_ID_MAX)
        return MDB_CORRUPTED;
    memcpy(key_id, d.mv_data, d.mv_size);
    key_id[d.mv_size] = '\0';
    rc = key_load(st, txn, key_id, rec);
    if (rc)
        return rc;
    hex = json_string_value(json_object_get(*rec, "hash"));
    if (!hex || sodium_hex2bin(stored, sizeof(stored), hex, strlen(hex), NULL, NULL, NULL) != 0 ||
        sodium_memcmp(stored, hash, HASH_LEN) != 0) {
        json_decref(*rec);
        *rec = NULL;
        return MDB_NOTFOUND;
    }
    return 0;
}

/* Read a key record, by id or (@p hash non-NULL) by hash, into @p out in
 * a read transaction of its own. */
static int key_read(tafel_store *st, const char *key_id, const unsigned char *hash,
                    struct tafel_key_info *out)
{
    json_t *rec = NULL;
    MDB_txn *txn;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return rc;
    rc = hash ? key_find(st, txn, hash, &rec) : key_load(st, txn, key_id, &rec);
    store__read_end(st, txn); /* rec is a parsed copy: it outlives the txn */
    if (!rc)
        rc = key_fill(rec, out);
    json_decref(rec);
    if (rc)
        tafel_key_info_free(out);
    return rc;
}

enum tafel_err tafel_store_key_verify(tafel_store *st, const char *secret, int64_t now_ms,
                                      struct tafel_key_info *out)
{
    unsigned char bin[SECRET_LEN], hash[HASH_LEN];
    bool ok = secret_decode(secret, bin);

    memset(out, 0, sizeof(*out));
    if (ok)
        key_hash(st, bin, hash);
    sodium_memzero(bin, sizeof(bin));
    if (!ok)
        return TAFEL_E_UNAUTHORIZED;
    int rc = key_read(st, NULL, hash, out);
    if (rc)
        return rc == MDB_NOTFOUND ? TAFEL_E_UNAUTHORIZED : store__err(rc);
    enum tafel_err err = TAFEL_E_OK;
    if (out->revoked_ms)
        err = TAFEL_E_KEY_REVOKED;
    else if (out->expires_ms && now_ms >= out->expires_ms)
        err = TAFEL_E_KEY_EXPIRED;
    if (err)
        tafel_key_info_free(out);
    return err;
}

int store__key_status(tafel_store *st, MDB_txn *txn, const char *key_id, int64_t now_ms,
                      enum tafel_err *verdict)
{
    json_t *rec = NULL;
    int rc = key_id_ok(key_id) ? key_load(st, txn, key_id, &rec) : MDB_NOTFOUND;
    *verdict = TAFEL_E_OK;
    if (rc == MDB_NOTFOUND) {
        /* Keys are never deleted: one that is not here (a directory
         * restored from a backup older than the key) is not trusted. */
        *verdict = TAFEL_E_KEY_REVOKED;
        return 0;
    }
    if (rc)
        return rc;
    json_int_t revoked = json_integer_value(json_object_get(rec, "revoked_ms"));
    json_int_t expires = json_integer_value(json_object_get(rec, "expires_ms"));
    if (revoked)
        *verdict = TAFEL_E_KEY_REVOKED;
    else if (expires && now_ms >= expires)
        *verdict = TAFEL_E_KEY_EXPIRED;
    json_decref(rec);
    return 0;
}

enum tafel_err tafel_store_key_get(tafel_store *st, const char *key_id, struct tafel_key_info *out)
{
    memset(out, 0, sizeof(*out));
    if (!key_id_ok(key_id))
        return TAFEL_E_NOT_FOUND;
    return store__err(key_read(st, key_id, NULL, out));
}

static int key_list_txn(tafel_store *st, MDB_txn *txn, tafel_key_fn fn, void *ctx)
{
    MDB_cursor *cur;
    MDB_val k, d;
    int rc = mdb_cursor_open(txn, st->dbi[DB_KEYS], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        struct tafel_key_info info = {0};
        json_t *rec = NULL;
        rc = store__parse(&d, &rec);
        if (!rc)
            rc = key_fill(rec, &info);
        json_decref(rec);
        bool more = !rc && fn(ctx, &info);
        tafel_key_info_free(&info);
        if (rc || !more)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

enum tafel_err tafel_store_key_list(tafel_store *st, tafel_key_fn fn, void *ctx)
{
    MDB_txn *txn;

    if (!fn)
        return TAFEL_E_INVALID_ARG;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = key_list_txn(st, txn, fn, ctx);
    store__read_end(st, txn);
    return store__err(rc);
}

/* ----------------------------------------------------------------- revoke */

struct key_revoke {
    const char *key_id, *actor;
    int64_t now_ms;
    bool cascade;
    json_t *revoked;        /* ids revoked by this attempt; remade by every attempt */
    enum tafel_err verdict; /* the revoker's key, checked in the transaction */
};

/* Revoke the key of record @p rec unless it already is. *done tells whether
 * this call revoked it. */
static int key_revoke_one(tafel_store *st, MDB_txn *txn, const struct key_revoke *kr, json_t *rec,
                          bool *done)
{
    *done = false;
    /* Idempotent: a second revocation changes nothing and is not audited.
     * (revoked_ms 0 means "not revoked", hence at least 1 below.) */
    if (json_integer_value(json_object_get(rec, "revoked_ms")) != 0)
        return 0;
    if (json_object_set_new(rec, "revoked_ms", json_integer(kr->now_ms > 0 ? kr->now_ms : 1)) != 0)
        return ENOMEM;
    int rc = key_save(st, txn, rec, kr->actor, "key.revoke", kr->cascade, kr->now_ms);
    *done = rc == 0;
    return rc;
}

/* Map each creator's key id to the ids of the keys it created. */
static int key_children(tafel_store *st, MDB_txn *txn, json_t **out)
{
    MDB_cursor *cur;
    MDB_val k, d;
    json_t *children = json_object();
    int rc = children ? mdb_cursor_open(txn, st->dbi[DB_KEYS], &cur) : ENOMEM;
    if (rc) {
        json_decref(children);
        return rc;
    }
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        json_t *rec = NULL;
        rc = store__parse(&d, &rec);
        if (rc)
            break;
        const char *id = json_string_value(json_object_get(rec, "key_id"));
        const char *by = json_string_value(json_object_get(rec, "created_by"));
        if (id && by && by[0]) {
            json_t *list = json_object_get(children, by);
            if (!list && json_object_set_new(children, by, list = json_array()) != 0)
                list = NULL;
            if (!list || json_array_append_new(list, json_string(id)) != 0)
                rc = ENOMEM;
        }
        json_decref(rec);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc)
        json_decref(children);
    else
        *out = children;
    return rc;
}

/* Revoke every key below @p root (breadth first), through keys revoked
 * before too: what a revoked key created is not trusted either. */
static int key_revoke_below(tafel_store *st, MDB_txn *txn, struct key_revoke *kr, const char *root)
{
    json_t *children = NULL, *queue = NULL, *seen = NULL;
    int rc = key_children(st, txn, &children);
    if (rc)
        return rc;
    queue = json_pack("[s]", root);
    seen = json_pack("{s:b}", root, 1);
    if (!queue || !seen)
        rc = ENOMEM;
    for (size_t i = 0; !rc && i < json_array_size(queue); i++) {
        size_t j;
        json_t *child;
        json_array_foreach(json_object_get(children, json_string_value(json_array_get(queue, i))),
                           j, child)
        {
            const char *id = json_string_value(child);
            json_t *rec = NULL;
            bool done;
            if (json_object_get(seen, id)) /* a loop would be damage; never walk it twice */
                continue;
            if (json_object_set_new(seen, id, json_true()) != 0 ||
                json_array_append(queue, child) != 0) {
                rc = ENOMEM;
                break;
            }
            rc = key_load(st, txn, id, &rec);
            if (!rc)
                rc = key_revoke_one(st, txn, kr, rec, &done);
            if (!rc && done && json_array_append(kr->revoked, child) != 0)
                rc = ENOMEM;
            json_decref(rec);
            if (rc)
                break;
        }
    }
    json_decref(children);
    json_decref(queue);
    json_decref(seen);
    return rc;
}

static int key_revoke_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct key_revoke *kr = ctx;
    json_t *rec = NULL;
    bool done;

    json_decref(kr->revoked);
    kr->revoked = NULL;
    int rc = actor_key_check(st, txn, kr->actor, kr->now_ms, &kr->verdict);
    if (rc)
        return rc;
    rc = key_load(st, txn, kr->key_id, &rec);
    if (!rc) {
        kr->revoked = json_pack("[s]", kr->key_id);
        rc = kr->revoked ? key_revoke_one(st, txn, kr, rec, &done) : ENOMEM;
    }
    json_decref(rec);
    if (!rc && kr->cascade)
        rc = key_revoke_below(st, txn, kr, kr->key_id);
    return rc;
}

enum tafel_err tafel_store_key_revoke(tafel_store *st, const char *key_id, const char *actor,
                                      int64_t now_ms, bool cascade, json_t **revoked)
{
    struct key_revoke kr = {key_id, actor, now_ms, cascade, NULL, TAFEL_E_OK};

    if (revoked)
        *revoked = NULL;
    if (!key_id_ok(key_id))
        return TAFEL_E_NOT_FOUND;
    int rc = store__write_run(st, key_revoke_fn, &kr);
    if (rc == EPERM && kr.verdict != TAFEL_E_OK) {
        json_decref(kr.revoked);
        return kr.verdict;
    }
    if (!rc && revoked) {
        *revoked = kr.revoked;
        kr.revoked = NULL;
    }
    json_decref(kr.revoked);
    return store__err(rc);
}
