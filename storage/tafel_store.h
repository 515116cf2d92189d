/*
 * tafel_store.h - Tafel's durable state on LMDB: documents, change log,
 * access keys, audit trail, backups.
 *
 * One data directory is one LMDB environment holding these databases:
 *   meta        schema version, seq counter, per-directory hashing secret, data_id
 *   docs        "kind\0id"            -> "opgave\0" document JSON text "\0"
 *   by_opgave   "opgave\0kind\0id"    -> empty (listing one opgave never scans others)
 *   changes     seq (u64 big-endian)  -> change record (binary header + document JSON)
 *   doc_changes "kind\0id\0" seq (BE) -> empty: the document's log entries that still
 *                                        hold content (found again to strip them)
 *   marks       "kind\0id\0mark"      -> i64 (BE): per-(document, actor) records, e.g. votes
 *   keys        key_id                -> key record (JSON, no secret)
 *   key_hash    keyed BLAKE2b of secret -> key_id
 *   devices     keyed BLAKE2b of device token -> device record (JSON, no token)
 *   audit       number (u64 BE)       -> audit record (JSON)
 *
 * doc_changes, marks and devices came after the first data directories of
 * schema version 1: opening such a directory creates them (and back-fills
 * doc_changes from the log) instead of asking for a new schema version.
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
 *
 * One writer per directory: a store opened for writing holds the directory's
 * lock (the file tafeld.lock in it), so that two processes never serve one
 * directory, each missing the other's changes. A read-only store (backup)
 * does without it.
 *
 * Deleted bytes: LMDB leaves freed pages, and the unused middle of a page it
 * rewrote, as they were until it reuses them, so the live file may still hold
 * text deleted or stripped from the records (tafel_write.redact_history).
 * tafel_store_backup() and tafel_store_compact() write only live records.
 */
#ifndef TAFEL_STORE_H
#define TAFEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_err.h"
#include "tafel_limits.h"

/** The on-disk schema version this code reads and writes. */
#define TAFEL_STORE_SCHEMA_VERSION 1

/** Maximum length of a document id, key id (bytes, without NUL). */
#define TAFEL_ID_MAX 64

/** Access keys: "tafel_" + 43 base64url characters (256 random bits). */
#define TAFEL_KEY_PREFIX "tafel_"
#define TAFEL_KEY_STRLEN 49

/** Device tokens: 43 base64url characters (256 random bits). */
#define TAFEL_DEVICE_STRLEN 43

/** A data directory's identity: 32 lowercase hex characters (128 random bits). */
#define TAFEL_DATA_ID_STRLEN 32

typedef struct tafel_store tafel_store;

struct tafel_store_options {
    size_t map_size;         /* initial map size in bytes; 0: 64 MiB */
    size_t map_size_max;     /* ceiling for automatic growth; 0: 64 GiB */
    uint64_t retain_changes; /* keep at least this many change-log entries; 0: keep all */
    bool read_only;          /* open to read (a backup beside a running server): no
                                directory lock, nothing written; not with create */
};

/** The data directory's lock file: holds the PID of the process that has the
 *  directory open for writing, as text, while it does. */
#define TAFEL_STORE_LOCK_FILE "tafeld.lock"

/**
 * @brief Open (or with @p create, create) a data directory.
 *
 * With @p create the directory must not exist or be empty; it is created
 * (mode 0700), the schema version, a fresh hashing secret and a fresh
 * data_id are written. Without it, the directory must hold a data directory
 * of TAFEL_STORE_SCHEMA_VERSION; one written by an older build is brought up
 * to date in a write transaction here (missing databases created, the
 * doc_changes index rebuilt from the log, a data_id made). The rebuild
 * applies the delete rule of tafel_write to the old log: the entries of a
 * document deleted before, the delete's own included, lose their content.
 *
 * Unless @p opt asks for read_only, the open takes the directory's lock: an
 * flock() on TAFEL_STORE_LOCK_FILE in it (created when missing), which then
 * holds this process's PID. The lock belongs to the open file description,
 * so a second open of the same directory is refused also within one
 * process; it ends with tafel_store_close() or with the process.
 * A read-only open (the environment opened MDB_RDONLY) takes no lock and
 * writes nothing: a directory of an older build that lacks databases is
 * refused (TAFEL_E_SCHEMA_VERSION) until a writable open has brought it up
 * to date, and one that lacks a data_id gets "" from tafel_store_data_id().
 *
 * @param opt   NULL for defaults
 * @param out   receives the handle; close it with tafel_store_close()
 * @param info  on failure: code and a sentence naming the directory (and for
 *              TAFEL_E_SCHEMA_VERSION both versions, for TAFEL_E_BUSY the
 *              holder's PID); may be NULL
 * @return TAFEL_E_OK, TAFEL_E_EXISTS (create on a non-empty directory),
 *         TAFEL_E_BUSY (another open holds the directory's lock; checked
 *         before whether a directory to create is empty),
 *         TAFEL_E_NOT_FOUND (no data directory there), TAFEL_E_SCHEMA_VERSION,
 *         TAFEL_E_INVALID_ARG (create with read_only), TAFEL_E_IO,
 *         TAFEL_E_NO_SPACE, TAFEL_E_MAP_FULL, TAFEL_E_NOMEM.
 */
enum tafel_err tafel_store_open(const char *dir, const struct tafel_store_options *opt, bool create,
                                tafel_store **out, struct tafel_errinfo *info);

/** @brief Close the store; no transaction of it may be in progress. NULL is fine. */
void tafel_store_close(tafel_store *st);

/** @brief The seq of the last committed change (0 in a new directory). */
uint64_t tafel_store_seq(tafel_store *st);

/** @brief Current map size in bytes (grows by itself, see options). */
size_t tafel_store_map_size(tafel_store *st);

/**
 * @brief The data directory's identity: TAFEL_DATA_ID_STRLEN lowercase hex
 * characters, made when the directory was created (or first opened by a
 * build that knows it) and the same for the directory's whole life. A backup
 * gets its own: a directory restored from one is another history, and a
 * client's `since` from this one means nothing there.
 * @return a string owned by @p st, valid until tafel_store_close().
 */
const char *tafel_store_data_id(tafel_store *st);

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
 * NULL for a delete), and, when `w->mark` is set, with `w->mark_had` and
 * `w->mark_prev` filled in. It may change @p proposed (e.g. fill a join code),
 * `w->flags`, `w->redact_history` and the mark decision (`w->mark_set`,
 * `w->mark_value`, `w->mark_clear`): the store reads all of these only after
 * the hook returned. Returning anything but TAFEL_E_OK rejects this operation
 * alone with that code (the hook fills `w->info`); nothing of it is written.
 * Must not call the store. When the map has to grow, the batch is run again
 * from scratch and the hook is called again for the same op, with the
 * fields it may change set back to what the caller gave: it must decide the
 * same way and keep no state of its own across calls.
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
    const json_t *audit_detail; /* with audit_action: members added to the entry's
                                   detail (e.g. a moderation's action and reason) */
    const char *audit_action;   /* non-NULL: append an audit entry in the same
                                   transaction (actor, action, kind/id) */
    bool redact_history;        /* strip the content of every EARLIER change-log
                                   entry of this document: they keep seq, op,
                                   kind, id, opgave, actor, rev, time and flags,
                                   their doc becomes NULL (struct tafel_change).
                                   This op's own entry keeps its content. A
                                   DELETE always does this, and its own entry
                                   holds no content. The hook may set it.
                                   (The live file keeps the old bytes in free
                                   pages until LMDB reuses them; a backup and
                                   a compacted directory have none of them.) */
    const char *key_id;         /* non-NULL: the access key the write is made
                                   with. Checked inside the transaction, before
                                   anything else of the op: a key revoked (or
                                   missing) or expired at now_ms rejects the op
                                   with TAFEL_E_KEY_REVOKED or _KEY_EXPIRED, so
                                   a write racing a revocation is never
                                   committed after it. */
    const char *mark;           /* non-NULL: an actor id naming this op's mark,
                                   a small integer record per (kind, id, mark)
                                   kept beside the document, e.g. "this actor
                                   voted"; a mark costs the same whatever the
                                   number of other marks. Read into mark_had and
                                   mark_prev before the hook; the hook decides. */
    bool mark_set;              /* after an accepted op: store mark_value as the
                                   mark (hook-set, or the caller's) */
    bool mark_clear;            /* after an accepted op: remove the mark (when
                                   mark_set is also true, mark_set wins). For a
                                   DELETE both are ignored: deleting a document
                                   removes all its marks. */
    int64_t mark_value;         /* what mark_set stores */
    /* results */
    enum tafel_err result; /* TAFEL_E_OK, _CONFLICT, _NOT_FOUND, _EXISTS, _BAD_REQUEST (invalid
                              document or name), _KEY_REVOKED, _KEY_EXPIRED, or the hook's */
    bool mark_had;         /* `mark` given: whether the mark existed before this op */
    int64_t mark_prev;     /* its value then (0 when it did not exist) */
    struct tafel_errinfo info;
    char new_id[TAFEL_ID_MAX + 1]; /* the document's id (assigned on create) */
    int64_t new_rev;               /* after the write; for a delete the deleted rev */
    uint64_t seq;                  /* the change's seq */
    json_t *stored;                /* OK: the document as stored (NULL for delete);
                                      CONFLICT: the current document. Owned by the
                                      caller: json_decref() it. */
    /* The stored bytes, so that no one serialises the document again: */
    bool keep_text;                 /* input: hand them back in `text` */
    size_t text_before, text_after; /* input: room to keep free around them */
    char *text;                     /* OK, keep_text, not a delete: malloc'd block of
                                       text_before bytes, the document's JSON text
                                       (text_len bytes, as stored), a NUL, and
                                       text_after more bytes; NULL otherwise. Owned
                                       by the caller: free() it. */
    size_t text_len;                /* its length */
};

/**
 * @brief Apply @p n operations in ONE write transaction with one sync.
 *
 * Each operation gets its own result; a rejected one (conflict, not found,
 * refused by its hook) writes nothing and does not affect the others. The
 * successful ones get consecutive seqs in array order. `created_at` and
 * `updated_at` come from @p now_ms (RFC 3339 UTC).
 *
 * Inside the transaction, per op: the key check (`key_id`), the stored
 * document read and the rev check, the proposal, the mark read (`mark`),
 * the hook; then, once accepted: the earlier log entries stripped (DELETE
 * or `redact_history`), the document, the change record, the mark stored or
 * removed (a DELETE removes all the document's marks), the audit entry.
 *
 * @return TAFEL_E_OK when the batch committed (read each op's `result`),
 *         otherwise the batch as a whole failed and nothing was written:
 *         TAFEL_E_MAP_FULL (ceiling reached after growing), TAFEL_E_NO_SPACE
 *         (the file system is full or the quota reached: the store stays
 *         usable and the next write succeeds once there is space again),
 *         TAFEL_E_IO, TAFEL_E_NOMEM. On such failure every op's result is
 *         that code.
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
    const char *doc; /* the document's JSON text after the change; NULL (and
                        doc_len 0) for a delete and for an entry whose content
                        was stripped (a later delete or redact_history) */
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
    char label[4 * TAFEL_LABEL_MAX_CHARS + 1]; /* UTF-8 */
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    int64_t revoked_ms; /* 0: not revoked */
    char created_by[TAFEL_ID_MAX + 1];
};

/** @brief Release what @p k owns (its `opgaven`). */
void tafel_key_info_free(struct tafel_key_info *k);

/**
 * @brief Create an access key: 256 random bits, stored only as a keyed hash.
 * @param role, opgaven, label   stored as given (opgaven: array or "*"; not stolen);
 *                    label: UTF-8, at most TAFEL_LABEL_MAX_CHARS characters
 * @param expires_ms  absolute expiry, 0 for never
 * @param created_by  actor id of the creator ("" for the offline tool)
 * @param secret_out  receives the key ("tafel_..."), TAFEL_KEY_STRLEN + 1 bytes;
 *                    shown once to the user, never stored
 * @param key_id_out  TAFEL_ID_MAX + 1 bytes
 * The creation is written to the audit log in the same transaction.
 * @return TAFEL_E_OK, TAFEL_E_TOO_LARGE (label longer than
 *         TAFEL_LABEL_MAX_CHARS characters), TAFEL_E_KEY_REVOKED or
 *         TAFEL_E_KEY_EXPIRED (@p created_by names a key that is revoked,
 *         missing or expired, checked inside the transaction; "" is the
 *         offline tool), TAFEL_E_INVALID_ARG (another argument malformed, or a
 *         string not valid UTF-8), or a storage error.
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

/**
 * @brief Revoke @p key_id (idempotent), audited as @p actor, in one synced
 * transaction.
 *
 * With @p cascade, also revoke, recursively, every key created by a revoked
 * key (created_by is the creator's key id): the keys @p key_id created, the
 * keys those created, and so on, also below a key that was revoked before.
 * Each key revoked now gets its own audit entry "key.revoke" (its detail
 * carries "cascade": true when @p cascade); a key already revoked keeps its
 * first revocation and gets none.
 *
 * @param revoked  if non-NULL, receives on TAFEL_E_OK a new JSON array
 *                 (json_decref() it) of the key ids this call revoked:
 *                 @p key_id first, also when it was already revoked, then
 *                 the keys newly revoked by the cascade. NULL on failure.
 * @return TAFEL_E_OK, TAFEL_E_NOT_FOUND (no such key), TAFEL_E_KEY_REVOKED or
 *         TAFEL_E_KEY_EXPIRED (@p actor's own key is revoked, missing or
 *         expired: checked inside the transaction, so a revocation racing
 *         this one wins; "" for the offline tool), or a storage error.
 */
enum tafel_err tafel_store_key_revoke(tafel_store *st, const char *key_id, const char *actor,
                                      int64_t now_ms, bool cascade, json_t **revoked);

/* ---------------------------------------------------------------- devices */

/**
 * @brief Give a device that joined session @p session a token and an actor id
 * (an inhabitant without an access key). The token (256 random bits,
 * TAFEL_DEVICE_STRLEN base64url characters) is shown to the device once and
 * stored only as a hash keyed with the directory's secret; the actor id is
 * "i" + 10 lowercase base32 characters. Synced before it returns.
 * @param session     the session's id (printable ASCII, 1..TAFEL_ID_MAX bytes)
 * @param token_out   TAFEL_DEVICE_STRLEN + 1 bytes
 * @param actor_out   TAFEL_ID_MAX + 1 bytes
 * @return TAFEL_E_OK, TAFEL_E_INVALID_ARG, or a storage error.
 */
enum tafel_err tafel_store_device_create(tafel_store *st, const char *session, int64_t now_ms,
                                         char token_out[TAFEL_DEVICE_STRLEN + 1],
                                         char actor_out[TAFEL_ID_MAX + 1]);

/**
 * @brief The actor id of the device whose token is @p token, when that token
 * was made for @p session. Read-only; the token's hash is compared in
 * constant time, like an access key's.
 * @param actor_out   TAFEL_ID_MAX + 1 bytes; "" unless TAFEL_E_OK
 * @return TAFEL_E_OK, TAFEL_E_NOT_FOUND (unknown or malformed token, or a
 *         token of another session), or a storage error.
 */
enum tafel_err tafel_store_device_find(tafel_store *st, const char *token, const char *session,
                                       char actor_out[TAFEL_ID_MAX + 1]);

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
 * writing. The copy opens with tafel_store_open() with identical content,
 * except its data_id: a new one (see tafel_store_data_id()). The directory
 * gets mode 0700 and the file 0600 whatever the umask, and both are synced
 * before it returns. The copy is made of the live records (not of pages), so
 * nothing deleted or stripped is in it, not even in unused space.
 * @return TAFEL_E_OK, TAFEL_E_EXISTS (@p path not empty), TAFEL_E_NO_SPACE,
 *         TAFEL_E_IO, ...; on failure what it created is removed.
 */
enum tafel_err tafel_store_backup(tafel_store *st, const char *path, struct tafel_errinfo *info);

/**
 * @brief Purge what deleted documents left in the free space of data
 * directory @p dir: rewrite it as tafel_store_backup() copies (only the live
 * records, so no byte of a deleted or stripped text), keeping its data_id
 * and seq, and put the copy in place of the live file.
 *
 * Offline: it opens @p dir for writing, so it holds the directory's lock
 * throughout and is refused (TAFEL_E_BUSY) while a server has it. The copy
 * is written to "data.mdb.compact" in @p dir (one left by an interrupted run
 * is removed first), synced, renamed over data.mdb, LMDB's lock.mdb (which
 * describes the old file) removed, and the directory synced: a crash at any
 * point leaves either the old file or the new one in place.
 *
 * @param opt     NULL for defaults (read_only must not be set)
 * @param before  if non-NULL, receives data.mdb's size in bytes before ...
 * @param after   ... and, if non-NULL, after
 * @return TAFEL_E_OK, TAFEL_E_BUSY, whatever tafel_store_open() returns, or
 *         TAFEL_E_NO_SPACE, TAFEL_E_IO, ...; on failure the live file is
 *         untouched and the copy removed.
 */
enum tafel_err tafel_store_compact(const char *dir, const struct tafel_store_options *opt,
                                   uint64_t *before, uint64_t *after, struct tafel_errinfo *info);

/* ==================================================================
 * Retention (storage/retention.c; the walk over the log in changes.c).
 * What the server's retention rules (server/retention.c, docs/privacy.md)
 * need beyond ordinary writes: a paged walk over one kind's documents (the
 * rules' changes themselves are tafel_store_write() batches), the change
 * log's content stripped by age, and old audit entries removed. Each call is
 * one transaction doing a bounded amount of work and says where to go on,
 * so that a run is many short steps and never holds the writer for long.
 * ================================================================== */

/**
 * @brief The documents of @p kind whose id sorts after @p after ("": from
 * the first), in id order, at most @p limit of them (0: no limit), in one
 * read transaction (like tafel_store_list(): the callback may read the
 * store, never write). The callback's `false` stops the walk after that
 * document.
 * @param last  TAFEL_ID_MAX + 1 bytes: the id of the last document handed
 *              out, to go on from (@p after unchanged when there was none)
 * @param more  whether documents may follow (the limit reached or stopped)
 * @return TAFEL_E_OK, TAFEL_E_INVALID_ARG, or a storage error.
 */
enum tafel_err tafel_store_list_after(tafel_store *st, const char *kind, const char *after,
                                      size_t limit, tafel_doc_fn fn, void *ctx,
                                      char last[TAFEL_ID_MAX + 1], bool *more);

/** One kind that keeps its change-log content by a term of its own. */
struct tafel_log_term {
    const char *kind;
    int64_t before_ms; /* entries made before this lose their content; 0: none do */
};

/** The terms of tafel_store_log_strip_aged(). */
struct tafel_log_terms {
    int64_t before_ms;                /* every other kind's entries made before this; 0: none */
    const struct tafel_log_term *own; /* the kinds with a term of their own */
    size_t nown;
};

/**
 * @brief Strip the content of the change-log entries made before their
 * kind's term, in one write transaction (synced): from seq @p from (0: the
 * first) on, at most @p max_scan entries, ending at the first entry made at
 * or after the latest term (the log is in time order).
 *
 * A stripped entry keeps seq, op, kind, id, opgave, actor, rev, time and
 * flags, as one stripped by a delete (a replay hands out a delete stub for
 * it). An entry keeps its content while no later entry of its document has
 * any: it holds the version the document shows now (the document itself
 * holds that text anyway), and a stub in its place would tell a replaying
 * client that a living document was gone. So the rule takes away earlier
 * versions, never the current one.
 *
 * @param next      receives the seq to go on from, or 0 when the walk is done
 * @param stripped  receives how many entries lost their content
 * @return TAFEL_E_OK or a storage error (nothing written then).
 */
enum tafel_err tafel_store_log_strip_aged(tafel_store *st, const struct tafel_log_terms *t,
                                          uint64_t from, uint64_t max_scan, uint64_t *next,
                                          uint64_t *stripped);

/**
 * @brief Remove the audit entries made before @p before_ms, oldest first, at
 * most @p max (0: no limit), in one write transaction (synced). The newest
 * entry is never removed, whatever its age: the numbering of new entries
 * goes on from it, so a number is never given out twice.
 * @param removed  receives how many were removed
 * @param more     receives whether entries that old may remain (max reached)
 * @return TAFEL_E_OK or a storage error (nothing removed then).
 */
enum tafel_err tafel_store_audit_expire(tafel_store *st, int64_t before_ms, uint64_t max,
                                        uint64_t *removed, bool *more);

/* ============================================== end of retention (storage) */

/* ====================================================== privacy (privacy.c)
 *
 * An inhabitant's right of access and erasure (AVG articles 15 and 17): what
 * one device token brought in, found and erased. A token is the key of one
 * device record (its keyed hash), made for one session: it names exactly
 * one participant. The store knows no kinds, so it offers the pieces; which
 * documents hold a participant's data is the server's to say (it reads the
 * schema), and the erasure's document changes are ordinary write ops. */

/** A device record, without its token (only its hash is stored). */
struct tafel_device_info {
    char session[TAFEL_ID_MAX + 1]; /* the session the token was made for */
    char actor[TAFEL_ID_MAX + 1];   /* the participant's actor id */
    char created_at[40];            /* its first join (RFC 3339), "" if unknown */
};

/**
 * @brief The device record of @p token, whatever its session. Read-only.
 * @return TAFEL_E_OK, TAFEL_E_NOT_FOUND (unknown or malformed token), or a
 *         storage error.
 */
enum tafel_err tafel_store_device_get(tafel_store *st, const char *token,
                                      struct tafel_device_info *out);

/**
 * @brief Which of the documents @p ids (@p n of kind @p kind) hold the mark
 * @p mark (an actor id: its vote), in one read transaction: held[i].
 * @return TAFEL_E_OK, TAFEL_E_INVALID_ARG, or a storage error.
 */
enum tafel_err tafel_store_marks_held(tafel_store *st, const char *kind, const char *const *ids,
                                      size_t n, const char *mark, bool *held);

/** One audit entry to append (tafel_store_device_erase()). */
struct tafel_audit_entry {
    const char *actor, *action, *target;
    const json_t *detail; /* not stolen; may be NULL; never a secret */
};

/**
 * @brief Erase what the participant of device token @p token contributed,
 * in ONE synced transaction: the @p n write ops (as tafel_store_write()
 * applies them: its contributions deleted, its votes and feelings taken off
 * others' documents, each with its change record; a delete strips the
 * document's change-log content), the device record (so the token no
 * longer rejoins as @p actor) and the audit entry @p audit.
 *
 * All or nothing: when the token's record is gone or names another actor
 * than @p actor, or any op is rejected (its hook, a stale rev, a revoked
 * key), nothing is written and every op's result is that error.
 *
 * @return TAFEL_E_OK (read each op's seq, stored, text), TAFEL_E_NOT_FOUND
 *         (no such device, or not @p actor's; *info says so), the result of
 *         the first rejected op (*info its), or a storage error as
 *         tafel_store_write() returns them.
 */
enum tafel_err tafel_store_device_erase(tafel_store *st, const char *token, const char *actor,
                                        struct tafel_write *ops, size_t n, int64_t now_ms,
                                        const struct tafel_audit_entry *audit,
                                        struct tafel_errinfo *info);

#endif /* TAFEL_STORE_H */
