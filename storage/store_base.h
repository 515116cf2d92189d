/*
 * store_base.h - what the files of storage/ share and nobody else sees.
 *
 * The store is split by concept (store.c: opening the environment, the
 * schema, backup; docs.c: the write batch, marks and document reads;
 * changes.c: the change log and its per-document index; keys.c: access
 * keys; devices.c: inhabitants' device tokens; audit.c: the audit trail).
 * They stand on one ground floor, store_base.c: the transaction runners,
 * the error mapping and a few key/value helpers, which call none of them.
 * Calls between the files run one way, so that each can be read knowing
 * only what lies below it: store.c above the concepts, the concepts above
 * store_base.c; the few calls between concepts are declared at the end.
 *
 * Internally every function reports failure as an LMDB return code or an
 * errno value (LMDB itself returns errno values), so that a whole
 * transaction speaks one language; store__err() turns that into an
 * enum tafel_err at the public boundary, in one place.
 */
#ifndef TAFEL_STORE_BASE_H
#define TAFEL_STORE_BASE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "tafel_store.h"

#define STORE_KIND_MAX        32
#define STORE_HASH_SECRET_LEN 32

/* Named databases; the order is the index into tafel_store.dbi. Those from
 * DB__FIRST_ADDED on are younger than the first data directories: opening a
 * directory that lacks them creates them (store.c), so a new one goes at
 * the end. */
enum store_db {
    DB_META,
    DB_DOCS,
    DB_BY_OPGAVE,
    DB_CHANGES,
    DB_KEYS,
    DB_KEY_HASH,
    DB_AUDIT,
    DB_DOC_CHANGES,
    DB_MARKS,
    DB_DEVICES,
    DB__COUNT,
    DB__FIRST_ADDED = DB_DOC_CHANGES
};

struct tafel_store {
    MDB_env *env;
    MDB_dbi dbi[DB__COUNT];
    /* mdb_env_set_mapsize() needs every transaction of this process to be
     * finished: each transaction holds this lock shared for its lifetime and
     * a resize holds it exclusively. Default (reader-preferring) attributes,
     * so a callback that reads the store again while it is inside a listing
     * cannot deadlock against a waiting resize. */
    pthread_rwlock_t resize_lock;
    size_t map_size_max;
    uint64_t retain_changes;
    /* Last seq seen committed, for tafel_store_seq() when a read fails. */
    _Atomic uint64_t seq_cache;
    /* Keys the access-key and device-token hashes; read from meta at open,
     * wiped at close. */
    unsigned char hash_secret[STORE_HASH_SECRET_LEN];
    /* The directory's identity, read from meta at open; never changes. */
    char data_id[TAFEL_DATA_ID_STRLEN + 1];
    /* The directory's lock file, flock()ed while a writable store is open
     * (store.c); -1 for a read-only one. */
    int lock_fd;
};

/* Keys of the meta database: store.c sets it up, store_base.c keeps the seq. */
#define META_SCHEMA  "schema_version"
#define META_SEQ     "seq"
#define META_SECRET  "hash_secret"
#define META_DATA_ID "data_id"

/* --------------------------------------- the ground floor: store_base.c */

/** Turn an LMDB or errno code into ours; the one mapping of storage/. */
enum tafel_err store__err(int rc);

/** Like store__err(), and set @p info (may be NULL) to "<printf of fmt>: <mdb_strerror(rc)>". */
enum tafel_err store__errinfo(struct tafel_errinfo *info, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** @p rc, or ENOSPC when @p rc is the EIO of a write the file system holding
 *  @p fd cut short because it was full (LMDB reports a short write as EIO). */
int store__space_check(int fd, int rc);

/** Begin a read-only transaction (takes the resize lock shared). */
int store__read_begin(tafel_store *st, MDB_txn **txn);

/** Abort a read-only transaction and release the resize lock. */
void store__read_end(tafel_store *st, MDB_txn *txn);

/**
 * Body of a write transaction. Return 0 to commit, anything else to abort
 * with that code. It may run more than once (after the map grew), so it must
 * start from scratch each time and have no effect outside @p txn other than
 * on its own @p ctx, which it resets.
 */
typedef int (*store_write_fn)(tafel_store *st, MDB_txn *txn, void *ctx);

/** Run @p fn in a write transaction and commit (synced); on MDB_MAP_FULL grow
 *  the map and run it again, until the ceiling. Returns an LMDB/errno code. */
int store__write_run(tafel_store *st, store_write_fn fn, void *ctx);

/* Big-endian u64, so that lexical key order is numeric order. */
void store__put_u64(unsigned char *p, uint64_t v);
uint64_t store__get_u64(const unsigned char *p);

/** An MDB_val over the bytes of @p s without its NUL: a meta key. */
MDB_val store__str_val(const char *s);

/** Read the u64 meta value @p name in @p txn; MDB_CORRUPTED unless 8 bytes. */
int store__meta_get_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t *v);
/** Write the u64 meta value @p name in @p txn. */
int store__meta_put_u64(tafel_store *st, MDB_txn *txn, const char *name, uint64_t v);

/** Read meta "seq" in @p txn (0 when absent). */
int store__seq_get(tafel_store *st, MDB_txn *txn, uint64_t *seq);
/** Write meta "seq" in @p txn. */
int store__seq_put(tafel_store *st, MDB_txn *txn, uint64_t seq);

/** The 32 characters of ids and keys: lowercase Crockford base32. */
extern const char store__base32[33];

/** Fill @p out with @p n random lowercase Crockford base32 characters and a NUL. */
void store__random_base32(char *out, size_t n);

/** The first (@p op MDB_FIRST) or last (MDB_LAST) key of a database keyed by
 *  BE u64; MDB_NOTFOUND when it is empty. */
int store__edge_key(tafel_store *st, MDB_txn *txn, enum store_db db, MDB_cursor_op op, uint64_t *n);

/** Store @p len bytes of @p data (and a NUL after them) under @p key. */
int store__put_text(tafel_store *st, MDB_txn *txn, enum store_db db, MDB_val *key, const char *data,
                    size_t len);

/** Parse stored JSON text (NUL-terminated @p v) into a new reference. */
int store__parse(const MDB_val *v, json_t **out);

/* -------------------------------------------- between the concept files */

/** docs.c: whether @p s is a name that can be part of a key: 1..@p max bytes of
 *  printable ASCII without space ("" too when @p empty_ok). */
bool store__name_ok(const char *s, size_t max, bool empty_ok);

/** keys.c, inside @p txn: whether access key @p key_id may write at @p now_ms.
 *  *verdict: TAFEL_E_OK, TAFEL_E_KEY_REVOKED (also when there is no such
 *  key) or TAFEL_E_KEY_EXPIRED. Returns an LMDB/errno code. */
int store__key_status(tafel_store *st, MDB_txn *txn, const char *key_id, int64_t now_ms,
                      enum tafel_err *verdict);

/** audit.c: append an audit entry inside @p txn. @p detail is not stolen (may be NULL). */
int store__audit_put(tafel_store *st, MDB_txn *txn, const char *actor, const char *action,
                     const char *target, const json_t *detail, int64_t now_ms);

/** What changes.c needs to append one change record. */
struct store_change_in {
    uint64_t seq;
    enum tafel_op op;
    const char *kind, *id, *opgave, *actor;
    int64_t rev, at_ms;
    uint32_t flags;
    const char *doc; /* NULL with doc_len 0: no content (a delete) */
    size_t doc_len;
};

/** Append one change record inside @p txn; one with content is also
 *  indexed in doc_changes. */
int store__change_put(tafel_store *st, MDB_txn *txn, const struct store_change_in *c);

/** Drop change records older than the retention allows, given seq @p seq,
 *  and their doc_changes entries. */
int store__changes_trim(tafel_store *st, MDB_txn *txn, uint64_t seq);

/** Strip the content of every change record of document @p kind / @p id
 *  that still has some (doc_changes says which), and drop those entries
 *  from doc_changes: a record once stripped is never looked at again. */
int store__changes_strip(tafel_store *st, MDB_txn *txn, const char *kind, const char *id);

/** Inside @p txn: *ok tells whether doc_changes is up to date with the log
 *  (its last record, when it has content, is indexed). An older build that
 *  wrote to the directory leaves its records out. */
int store__changes_indexed(tafel_store *st, MDB_txn *txn, bool *ok);

/** Rebuild doc_changes from the log, from scratch, as this build would have
 *  written it: a delete strips its document's earlier records and its own. */
int store__changes_reindex(tafel_store *st, MDB_txn *txn);

/** @brief @p doc's compact JSON text, byte for byte what json_dumps() with
 *  JSON_COMPACT makes, in a malloc'd block: @p before free bytes, the text
 *  (*len bytes), a NUL, then at least @p after free bytes. NULL on OOM (or a
 *  tree deeper than jansson allows). dump.c. */
char *store__dump(const json_t *doc, size_t before, size_t after, size_t *len);

/** docs.c: tafel_store_write() with @p also (may be NULL) run in the same
 *  transaction after the ops, also when @p n is 0; what it returns other
 *  than 0 aborts the whole batch (every op's result is then that error).
 *  privacy.c: an erasure's document changes, its device record and its
 *  audit entry commit together or not at all. */
enum tafel_err store__write_with(tafel_store *st, struct tafel_write *ops, size_t n, int64_t now_ms,
                                 store_write_fn also, void *also_ctx);

/** devices.c: the devices key of @p token (its keyed hash,
 *  crypto_generichash_BYTES bytes) into @p hash; false when @p token is not
 *  a well-formed token. */
bool store__device_key(const tafel_store *st, const char *token, unsigned char *hash);

/** changes.c, inside @p txn: the walk of tafel_store_log_strip_aged()
 *  (storage/retention.c runs it in its transaction). */
int store__changes_strip_aged(tafel_store *st, MDB_txn *txn, const struct tafel_log_terms *t,
                              uint64_t from, uint64_t max_scan, uint64_t *next, uint64_t *stripped);

#endif /* TAFEL_STORE_BASE_H */
