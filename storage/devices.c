/*
 * devices.c - inhabitants' devices: who joins a session by its code has no
 * access key, so the first join gives the device a token and an actor id;
 * showing the token again (after a reload, a reconnect, a server restart)
 * rejoins as the same actor, so that one person is one participant and has
 * one vote. A token is 256 random bits, handed out once and stored only as a
 * hash keyed with the data directory's secret, like an access key (keys.c):
 * a copy of the table lets nobody rejoin as anyone.
 *
 *   devices  BLAKE2b(token; key = directory secret)
 *              -> {"session","actor","created_at","hash"}
 *
 * A token is bound to the session it was made for: shown in another session
 * it is unknown there (a new participant), never another's identity.
 */
#include "store_base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tafel_time.h"

#define TOKEN_LEN       32
#define HASH_LEN        crypto_generichash_BYTES
#define ACTOR_PREFIX    'i'
#define ACTOR_RANDOM    10
#define DEVICE_TRIES    8
#define DEVICE_HASH_HEX (HASH_LEN * 2 + 1)

static void token_hash(const tafel_store *st, const unsigned char *token, unsigned char *out)
{
    crypto_generichash(out, HASH_LEN, token, TOKEN_LEN, st->hash_secret, sizeof(st->hash_secret));
}

/* 43 base64url characters -> 32 bytes; false when malformed (also when the
 * unused low bits of the last character are not zero: one token, one text). */
static bool token_decode(const char *s, unsigned char *out)
{
    size_t binlen = 0;
    const char *end = NULL;

    if (!s || strnlen(s, TAFEL_DEVICE_STRLEN + 1) != TAFEL_DEVICE_STRLEN)
        return false;
    return sodium_base642bin(out, TOKEN_LEN, s, TAFEL_DEVICE_STRLEN, NULL, &binlen, &end,
                             sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
           binlen == TOKEN_LEN && end == s + TAFEL_DEVICE_STRLEN;
}

bool store__device_key(const tafel_store *st, const char *token, unsigned char *hash)
{
    unsigned char bin[TOKEN_LEN];
    bool ok = token_decode(token, bin);
    if (ok)
        token_hash(st, bin, hash);
    sodium_memzero(bin, sizeof(bin));
    return ok;
}

/* ----------------------------------------------------------------- create */

struct device_new {
    const char *session;
    int64_t now_ms;
    unsigned char token[TOKEN_LEN];
    char actor[TAFEL_ID_MAX + 1];
};

static int device_create_fn(tafel_store *st, MDB_txn *txn, void *ctx)
{
    struct device_new *dn = ctx;
    unsigned char hash[HASH_LEN];
    char hex[DEVICE_HASH_HEX], at[TAFEL_TIME_STRLEN];
    MDB_val k = {.mv_size = HASH_LEN, .mv_data = hash};
    int rc = MDB_KEYEXIST;

    dn->actor[0] = ACTOR_PREFIX;
    store__random_base32(dn->actor + 1, ACTOR_RANDOM);
    json_t *rec = json_pack("{s:s,s:s,s:s}", "session", dn->session, "actor", dn->actor,
                            "created_at", tafel_time_format(dn->now_ms, at));
    if (!rec)
        return ENOMEM;
    /* A (never seen) hash collision draws another token. */
    for (int i = 0; i < DEVICE_TRIES && rc == MDB_KEYEXIST; i++) {
        randombytes_buf(dn->token, sizeof(dn->token));
        token_hash(st, dn->token, hash);
        sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
        char *text = json_object_set_new(rec, "hash", json_string(hex)) == 0
                         ? json_dumps(rec, JSON_COMPACT)
                         : NULL;
        if (!text) {
            rc = ENOMEM;
            break;
        }
        size_t len = strlen(text);
        MDB_val d = {.mv_size = len + 1, .mv_data = NULL};
        rc = mdb_put(txn, st->dbi[DB_DEVICES], &k, &d, MDB_NOOVERWRITE | MDB_RESERVE);
        if (!rc)
            memcpy(d.mv_data, text, len + 1);
        free(text);
    }
    json_decref(rec);
    return rc;
}

enum tafel_err tafel_store_device_create(tafel_store *st, const char *session, int64_t now_ms,
                                         char token_out[TAFEL_DEVICE_STRLEN + 1],
                                         char actor_out[TAFEL_ID_MAX + 1])
{
    struct device_new dn = {.session = session, .now_ms = now_ms};

    if (!store__name_ok(session, TAFEL_ID_MAX, false) || !token_out || !actor_out)
        return TAFEL_E_INVALID_ARG;
    int rc = store__write_run(st, device_create_fn, &dn);
    if (!rc) {
        sodium_bin2base64(token_out, TAFEL_DEVICE_STRLEN + 1, dn.token, sizeof(dn.token),
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
        snprintf(actor_out, TAFEL_ID_MAX + 1, "%s", dn.actor);
    }
    sodium_memzero(dn.token, sizeof(dn.token));
    return store__err(rc);
}

/* ------------------------------------------------------------------- find */

/* Inside @p txn: the actor of the device hashed @p hash in @p session. */
static int device_lookup(tafel_store *st, MDB_txn *txn, const unsigned char *hash,
                         const char *session, char *actor_out)
{
    unsigned char stored[HASH_LEN];
    MDB_val k = {.mv_size = HASH_LEN, .mv_data = (void *)hash}, d;
    json_t *rec = NULL;
    int rc = mdb_get(txn, st->dbi[DB_DEVICES], &k, &d);
    if (!rc)
        rc = store__parse(&d, &rec);
    if (rc)
        return rc;
    const char *hex = json_string_value(json_object_get(rec, "hash"));
    const char *sess = json_string_value(json_object_get(rec, "session"));
    const char *actor = json_string_value(json_object_get(rec, "actor"));
    if (!hex || !sess || !actor || strlen(actor) > TAFEL_ID_MAX ||
        sodium_hex2bin(stored, sizeof(stored), hex, strlen(hex), NULL, NULL, NULL) != 0)
        rc = MDB_CORRUPTED;
    else if (sodium_memcmp(stored, hash, HASH_LEN) != 0 || strcmp(sess, session) != 0)
        rc = MDB_NOTFOUND;
    else
        snprintf(actor_out, TAFEL_ID_MAX + 1, "%s", actor);
    json_decref(rec);
    return rc;
}

enum tafel_err tafel_store_device_find(tafel_store *st, const char *token, const char *session,
                                       char actor_out[TAFEL_ID_MAX + 1])
{
    unsigned char bin[TOKEN_LEN], hash[HASH_LEN];
    MDB_txn *txn;
    bool ok = token_decode(token, bin);

    if (!actor_out)
        return TAFEL_E_INVALID_ARG;
    actor_out[0] = '\0';
    if (ok)
        token_hash(st, bin, hash);
    sodium_memzero(bin, sizeof(bin));
    if (!ok || !store__name_ok(session, TAFEL_ID_MAX, false))
        return TAFEL_E_NOT_FOUND;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = device_lookup(st, txn, hash, session, actor_out);
    store__read_end(st, txn);
    return store__err(rc);
}
