/*
 * tafel_store.h - Tafel's durable state on LMDB: documents, change log,
 * access keys, audit trail, backups.
 *
 * One data directory is one LMDB environment holding these databases:
 *   meta      schema version, seq counter, per-directory hashing secret
 *   docs      "kind\0id"            -> "opgave\0" document JSON text "\0"
 *   by_opgave "opgave\0kind\0id"    -> empty (listing one opgave never scans others)
 *   changes   seq (u64 big-endian)  -> change record (binary header + document JSON)
 *   keys      key_id                -> key record (JSON, no secret)
 *   key_hash  keyed BLAKE2b of secret -> key_id
 *   audit     number (u64 BE)       -> audit record (JSON)
 *
 * Storage knows nothing of the network nor of the schema of documents: it
 * stores JSON objects by kind and id, fills the common fields, and calls the
 * caller's check hook (validation, permissions) inside the write transaction.
 *
 * Threads: the store may be shared by threads. Writes are serialised by LMDB
 * (one writer at a time); reads run in their own read-only transactions
 * (MDB_NOTLS) and never block the writer nor are blocked by it. Growing the
 * map briefly excludes readers. The callbacks of the reads below run inside
 * their read transaction: they may read the store again but must not write
 * to it (a write that has to grow the map waits for every read to end).
 *
 * Durability: tafel_store_write() returns only after its transaction is
 * committed and synced to disk.
 */
#ifndef TAFEL_STORE_H
#define TAFEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_err.h"

/** The on-disk schema version this code reads and writes. */
#define TAFEL_STORE_SCHEMA_VERSION 1

/** Maximum length of a document id, key id (bytes, without NUL). */
#define TAFEL_ID_MAX 64

/** Access keys: "tafel_" + 43 base64url characters (256 random bits). */
#define TAFEL_KEY_PREFIX "tafel_"
#define TAFEL_KEY_STRLEN 49

typedef struct tafel_store tafel_store;

struct tafel_store_options {
    size_t map_size;         /* initial map size in bytes; 0: 64 MiB */
    size_t map_size_max;     /* ceiling for automatic growth; 0: 64 GiB */
    uint64_t retain_changes; /* keep at least this many change-log entries; 0: keep all */
};

/**
 * @brief Open (or with @p create, create) a data directory.
 *
 * With @p create the directory must not exist or be empty; it is created
 * (mode 0700), the schema version and a fresh hashing secret are written.
 * Without it, the directory must hold a data directory of
 * TAFEL_STORE_SCHEMA_VERSION.
 *
 * @param opt   NULL for defaults
 * @param out   receives the handle; close it with tafel_store_close()
 * @param info  on failure: code and a sentence naming the directory (and for
 *              TAFEL_E_SCHEMA_VERSION both versions); may be NULL
 * @return TAFEL_E_OK, TAFEL_E_EXISTS (create on a non-empty directory),
 *         TAFEL_E_NOT_FOUND (no data directory there), TAFEL_E_SCHEMA_VERSION,
 *         TAFEL_E_IO, TAFEL_E_NOMEM.
 */
enum tafel_err tafel_store_open(const char *dir, const struct tafel_store_options *opt, bool create,
                                tafel_store **out, struct tafel_errinfo *info);

/** @brief Close the store; no transaction of it may be in progress. NULL is fine. */
void tafel_store_close(tafel_store *st);

/** @brief The seq of the last committed change (0 in a new directory). */
uint64_t tafel_store_seq(tafel_store *st);

/** @brief Current map size in bytes (grows by itself, see options). */
size_t tafel_store_map_size(tafel_store *st);

/* ---------------------------------------------------------------- writes */

enum tafel_op {
    TAFEL_OP_PUT,   /* create (id NULL) or replace (id set, expected_rev) */
    TAFEL_OP_PATCH, /* merge `doc` members into the stored document; null removes */
    TAFEL_OP_DELETE
};

struct tafel_write;

/**
 * Called inside the write transaction for each operation, after the stored
 * document (@p current, NULL on create) has been read and the rev checked,
 * with the document as it would be stored (@p proposed, common fields filled;
 * NULL for a delete). It may change @p proposed (e.g. fill a join code) and
 * `w->flags`. Returning anything but TAFEL_E_OK rejects this operation alone
 * with that code (the hook fills `w->info`); nothing of it is written.
 * Must not call the store. When the map has to grow, the batch is run again
 * from scratch and the hook is called again for the same op: it must decide
 * the same way and keep no state of its own across calls.
 */
typedef enum tafel_err (*tafel_write_check)(void *ctx, struct tafel_write *w, const json_t *current,
                                            json_t *proposed);

/**
 * One operation of a batch. The caller fills the inputs; tafel_store_write()
 * fills the results. Pointers in the inputs are borrowed for the call.
 */
struct tafel_write {
    /* inputs */
    enum tafel_op op;
    const char *kind;        /* e.g. "reflectie" (<= 32 bytes) */
    const char *id;          /* NULL: create with a new id (PUT only) */
    int64_t expected_rev;    /* PUT replace, DELETE: must equal the stored rev;
                                PATCH: 0 = any rev, else must equal */
    const json_t *doc;       /* PUT: the new document (client fields; common
                                fields in it are ignored and set by the store);
                                PATCH: members to set (null = remove); DELETE: NULL */
    const char *opgave;      /* PUT create: the opgave it belongs to; NULL with
                                kind "opgave" (an opgave's opgave is its own id) */
    const char *actor;       /* who writes: the common field `by` */
    uint32_t flags;          /* opaque to the store, kept in the change record
                                (the server marks e.g. moderator-only changes) */
    tafel_write_check check; /* may be NULL */
    void *check_ctx;
    const char *audit_action; /* non-NULL: append an audit entry in the same
                                 transaction (actor, action, kind/id) */
    /* results */
    enum tafel_err result; /* TAFEL_E_OK, _CONFLICT, _NOT_FOUND, _EXISTS, _BAD_REQUEST (invalid
                              document), or the hook's */
    struct tafel_errinfo info;
    char new_id[TAFEL_ID_MAX + 1]; /* the document's id (assigned on create) */
    int64_t new_rev;               /* after the write; for a delete the deleted rev */
    uint64_t seq;                  /* the change's seq */
    json_t *stored;                /* OK: the document as stored (NULL for delete);
                                      CONFLICT: the current document. Owned by the
                                      caller: json_decref() it. */
};

/**
 * @brief Apply @p n operations in ONE write transaction with one sync.
 *
 * Each operation gets its own result; a rejected one (conflict, not found,
 * refused by its hook) writes nothing and does not affect the others. The
 * successful ones get consecutive seqs in array order. `created_at` and
 * `updated_at` come from @p now_ms (RFC 3339 UTC).
 *
 * @return TAFEL_E_OK when the batch committed (read each op's `result`),
 *         otherwise the batch as a whole failed and nothing was written:
 *         TAFEL_E_MAP_FULL (ceiling reached after growing), TAFEL_E_IO,
 *         TAFEL_E_NOMEM. On such failure every op's result is that code.
 */
enum tafel_err tafel_store_write(tafel_store *st, struct tafel_write *ops, size_t n,
                                 int64_t now_ms);

/* ----------------------------------------------------------------- reads */

/** @brief Fetch one document. *out receives a new reference (json_decref()).
 *  @return TAFEL_E_OK, TAFEL_E_NOT_FOUND, TAFEL_E_IO. */
enum tafel_err tafel_store_get(tafel_store *st, const char *kind, const char *id, json_t **out);

/**
 * Receives one document during a listing. @p json, @p len is the stored
 * text, valid only during the call. Return false to stop early.
 */
typedef bool (*tafel_doc_fn)(void *ctx, const char *kind, const char *id, const char *opgave,
                             const char *json, size_t len);

/**
 * @brief List documents in one read transaction (a consistent view).
 * @param opgave  NULL: every document; else only that opgave's (index walk)
 * @param kind    NULL: every kind; else only that kind
 * @param seq     if non-NULL, receives the seq the view corresponds to
 */
enum tafel_err tafel_store_list(tafel_store *st, const char *opgave, const char *kind,
                                tafel_doc_fn fn, void *ctx, uint64_t *seq);

/** One entry of the change log, valid only during the callback. */
struct tafel_change {
    uint64_t seq;
    enum tafel_op op; /* TAFEL_OP_PUT (create, replace or patch) or TAFEL_OP_DELETE */
    const char *kind, *id, *opgave, *actor;
    int64_t rev; /* the document's rev after the change (deleted rev for a delete) */
    int64_t at_ms;
    uint32_t flags;  /* as given in tafel_write.flags */
    const char *doc; /* the document's JSON text after the change (the last
                        version for a delete) */
    size_t doc_len;
};

/** Return false to stop the walk. */
typedef bool (*tafel_change_fn)(void *ctx, const struct tafel_change *c);

/**
 * @brief Walk the change log from seq @p since + 1 on, in order, at most
 * @p limit entries (0: no limit), in one read transaction. Filtering (what an
 * actor may see) is the callback's.
 * @param last  if non-NULL, receives the seq of the last entry visited
 * @return TAFEL_E_OK, or TAFEL_E_TRIMMED when entries after @p since are no
 *         longer retained, or @p since is beyond the current seq (a client of
 *         a directory restored from an older backup): the caller sends a
 *         snapshot instead.
 */
enum tafel_err tafel_store_changes(tafel_store *st, uint64_t since, uint64_t limit,
                                   tafel_change_fn fn, void *ctx, uint64_t *last);

/* ------------------------------------------------------------ access keys */

struct tafel_key_info {
    char key_id[TAFEL_ID_MAX + 1];
    char role[32];
    json_t *opgaven; /* array of opgave ids, or the string "*"; owned by the struct */
    char label[201];
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    int64_t revoked_ms; /* 0: not revoked */
    char created_by[TAFEL_ID_MAX + 1];
};

/** @brief Release what @p k owns (its `opgaven`). */
void tafel_key_info_free(struct tafel_key_info *k);

/**
 * @brief Create an access key: 256 random bits, stored only as a keyed hash.
 * @param role, opgaven, label   stored as given (opgaven: array or "*"; not stolen)
 * @param expires_ms  absolute expiry, 0 for never
 * @param created_by  actor id of the creator ("" for the offline tool)
 * @param secret_out  receives the key ("tafel_..."), TAFEL_KEY_STRLEN + 1 bytes;
 *                    shown once to the user, never stored
 * @param key_id_out  TAFEL_ID_MAX + 1 bytes
 * The creation is written to the audit log in the same transaction.
 */
enum tafel_err tafel_store_key_create(tafel_store *st, const char *role, const json_t *opgaven,
                                      const char *label, int64_t expires_ms, const char *created_by,
                                      int64_t now_ms, char *secret_out, char *key_id_out);

/**
 * @brief Find the key whose secret is @p secret.
 * @return TAFEL_E_OK (and *out filled; free with tafel_key_info_free()),
 *         TAFEL_E_UNAUTHORIZED (unknown or malformed), TAFEL_E_KEY_REVOKED,
 *         TAFEL_E_KEY_EXPIRED (relative to @p now_ms).
 */
enum tafel_err tafel_store_key_verify(tafel_store *st, const char *secret, int64_t now_ms,
                                      struct tafel_key_info *out);

/** @brief Fetch a key record by id (no secret is stored). */
enum tafel_err tafel_store_key_get(tafel_store *st, const char *key_id, struct tafel_key_info *out);

/** Receives one key record during tafel_store_key_list(); valid during the call. */
typedef bool (*tafel_key_fn)(void *ctx, const struct tafel_key_info *k);

/** @brief Every key record, revoked ones included, in key_id order. */
enum tafel_err tafel_store_key_list(tafel_store *st, tafel_key_fn fn, void *ctx);

/** @brief Revoke @p key_id (idempotent), audited as @p actor.
 *  @return TAFEL_E_OK or TAFEL_E_NOT_FOUND. */
enum tafel_err tafel_store_key_revoke(tafel_store *st, const char *key_id, const char *actor,
                                      int64_t now_ms);

/* ------------------------------------------------------------------ audit */

/**
 * @brief Append an audit entry in its own transaction (synced).
 * @param detail  JSON object with particulars (not stolen, may be NULL);
 *                never put a secret in it
 */
enum tafel_err tafel_store_audit_append(tafel_store *st, const char *actor, const char *action,
                                        const char *target, const json_t *detail, int64_t now_ms);

/** One audit entry; JSON text `{"n":N,"at":..,"actor":..,"action":..,"target":..,"detail":{}}`
 *  valid during the call. */
typedef bool (*tafel_audit_fn)(void *ctx, uint64_t n, const char *json, size_t len);

/** @brief Entries numbered after @p after, oldest first, at most @p limit (0: all). */
enum tafel_err tafel_store_audit_list(tafel_store *st, uint64_t after, uint64_t limit,
                                      tafel_audit_fn fn, void *ctx);

/* ----------------------------------------------------------------- backup */

/**
 * @brief Write a consistent, compacted copy of the live store to directory
 * @p path (created; must not exist or be empty) while others keep reading and
 * writing. The copy opens with tafel_store_open() with identical content.
 */
enum tafel_err tafel_store_backup(tafel_store *st, const char *path, struct tafel_errinfo *info);

#endif /* TAFEL_STORE_H */
