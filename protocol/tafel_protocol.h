/*
 * tafel_protocol.h - Tafel's wire messages: parse, validate, serialise.
 *
 * One frame (bytes, length) from a client becomes a validated
 * `struct tafel_request`, or an error carrying one of the wire codes of
 * ../shared/PROTOCOL.md and the offending field's name. Messages are
 * described by a table (type name -> required and optional fields with their
 * JSON types), so every message is checked the same way before any handler
 * sees it. The same module serialises replies and events, and parses what a
 * server sends for the clients. Pure C + jansson: no I/O, no globals.
 *
 * Hostile input is bounded before jansson builds anything: size, nesting
 * depth, string length, array length and object width are checked by a
 * linear pre-scan, UTF-8 is validated (TAFEL_E_BAD_UTF8, which the server
 * turns into close code 1007) and an embedded NUL is refused.
 */
#ifndef TAFEL_PROTOCOL_H
#define TAFEL_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tafel_err.h"
#include "tafel_schema.h"

/** The WebSocket subprotocol of this version. */
#define TAFEL_SUBPROTOCOL "tafel.v1"

/* ---------------------------------------------------------------- limits */

struct tafel_limits {
    size_t max_bytes;       /* whole message; over it: TAFEL_E_TOO_LARGE */
    unsigned max_depth;     /* nesting of arrays/objects, the top object is 1; at most 64 */
    size_t max_string;      /* bytes in one string (key or value) */
    size_t max_array;       /* items in one array */
    size_t max_object_keys; /* members in one object */
};

/** Defaults: 64 KiB, depth 8, strings 16 KiB, arrays 1,000, objects 256. */
#define TAFEL_LIMITS_DEFAULT       \
    {                              \
        65536, 8, 16384, 1000, 256 \
    }

/** Largest integer accepted anywhere (2^53: exact in a double, safe in JS). */
#define TAFEL_INT_MAX 9007199254740992LL

/* Roles (enum tafel_role, tafel_role_name(), tafel_role_label()) are in
 * tafel_schema.h: the permission cells of each kind's row are per role. */

/* -------------------------------------------------------------- requests */

/* X(ENUM, "wire type") - the client -> server messages of docs/protocol.md. */
#define TAFEL_MSG_LIST(X)             \
    X(HELLO, "hello")                 \
    X(JOIN, "join")                   \
    X(PING, "ping")                   \
    X(PUT, "put")                     \
    X(PATCH, "patch")                 \
    X(DELETE, "delete")               \
    X(GET, "get")                     \
    X(LIST, "list")                   \
    X(SUB, "sub")                     \
    X(UNSUB, "unsub")                 \
    X(MODERATE, "moderate")           \
    X(VOTE, "vote")                   \
    X(FEEL, "feel")                   \
    X(SESSION_OPEN, "session.open")   \
    X(SESSION_CLOSE, "session.close") \
    X(KEY_CREATE, "key.create")       \
    X(KEY_LIST, "key.list")           \
    X(KEY_REVOKE, "key.revoke")       \
    X(AUDIT_LIST, "audit.list")       \
    X(DEVICE_EXPORT, "device.export") \
    X(DEVICE_ERASE, "device.erase")

enum tafel_msg {
#define TAFEL_MSG_ENUM(e, wire) TAFEL_MSG_##e,
    TAFEL_MSG_LIST(TAFEL_MSG_ENUM)
#undef TAFEL_MSG_ENUM
        TAFEL_MSG__COUNT
};

/** @brief Wire name of @p msg ("key.create", ...); NULL if out of range. */
const char *tafel_msg_name(enum tafel_msg msg);

/** Moderation actions on a reflectie (`moderate` message). */
enum tafel_moderation {
    TAFEL_MOD_HIDE,
    TAFEL_MOD_RESTORE,
    TAFEL_MOD_PIN,
    TAFEL_MOD_UNPIN,
    TAFEL_MOD_APPROVE /* a contribution of a pre-moderated session: shown to everyone */
};
/** @brief "hide", "restore", "pin", "unpin"; NULL out of range. */
const char *tafel_moderation_name(enum tafel_moderation m);

/**
 * A parsed, validated client request. Every pointer borrows from `root` and
 * lives as long as the request; tafel_request_free() releases it all. Fields
 * the message type does not have are NULL / 0 / false.
 */
struct tafel_request {
    json_t *root; /* the whole message (owned) */
    enum tafel_msg type;
    const json_t *req; /* client's correlation scalar, or NULL */
    /* documents */
    enum tafel_kind kind; /* put patch delete get list (list: see has_kind) */
    bool has_kind;
    const char *id;    /* patch delete get moderate vote feel session.*; put: doc.id */
    const json_t *doc; /* put: the document */
    const json_t *set; /* patch: the fields to change */
    int64_t rev;       /* put (replace), patch (optional), delete */
    bool has_rev;
    const char *opgave; /* list (optional), sub ("*" = all), unsub; put create: doc.opgave */
    uint64_t since;     /* sub */
    bool has_since;
    const char *session; /* sub: a session to be present in (optional) */
    /* authentication */
    const char *key;     /* hello */
    const char *code;    /* join */
    const char *name;    /* join: display name, 1..40 code points, spaces trimmed, visible */
    const char *device;  /* join: the device token an earlier join returned (optional);
                            device.export, device.erase: the device whose data it is */
    const char *data_id; /* sub: the data directory identity the client's since is from */
    /* interaction */
    enum tafel_moderation moderation; /* moderate */
    const char *reason;               /* moderate: why (optional; audited) */
    int64_t value;                    /* feel: -2..2; vote: 1 (vote) or 0 (withdraw) */
    /* administration */
    enum tafel_role role;  /* key.create */
    const json_t *opgaven; /* key.create: array of opgave ids, or the string "*" */
    const char *label;     /* key.create */
    int64_t expires_in;    /* key.create, seconds; 0 = never */
    const char *key_id;    /* key.revoke */
    int64_t cascade;       /* key.revoke: 1 = also the keys it created, recursively */
    uint64_t after;        /* audit.list: entries after this number */
    uint64_t limit;        /* list, audit.list: 0 = server default */
};

/**
 * @brief Parse and validate one client frame.
 *
 * @param buf, len   the frame's bytes (need not be NUL-terminated)
 * @param lim        limits to enforce; NULL for TAFEL_LIMITS_DEFAULT
 * @param out        filled on success; on failure `out->root` and `out->req`
 *                   are still set when the JSON itself parsed, so the error
 *                   reply can echo `req`. Always call tafel_request_free().
 * @param info       on failure: code and offending field (may be NULL)
 * @return TAFEL_E_OK, TAFEL_E_BAD_REQUEST, TAFEL_E_BAD_UTF8 or TAFEL_E_TOO_LARGE
 *         (TAFEL_E_NOMEM only if jansson cannot allocate after parsing).
 *
 * Besides the envelope this validates documents with tafel_schema_validate():
 * put's `doc` (CREATE without id, REPLACE with id) and patch's `set` (PATCH).
 */
enum tafel_err tafel_request_parse(const char *buf, size_t len, const struct tafel_limits *lim,
                                   struct tafel_request *out, struct tafel_errinfo *info);

/** @brief Release what @p r owns and zero it; safe on a zeroed request. */
void tafel_request_free(struct tafel_request *r);

/** @brief True if @p buf, @p len is valid UTF-8 (no overlongs, no
 *  surrogates, nothing above U+10FFFF). */
bool tafel_utf8_valid(const char *buf, size_t len);

/* --------------------------------------------------------- serialisation */

/*
 * Every serialiser returns a malloc'd buffer of `headroom + *len + 1` bytes:
 * `headroom` bytes the caller may use (the server passes LWS_PRE), then the
 * JSON text of *len bytes, then a NUL. The caller frees it with free().
 * NULL means out of memory. Keys are emitted in a stable order.
 */

/** @brief Dump any JSON object @p msg (not stolen). */
char *tafel_msg_dump(const json_t *msg, size_t headroom, size_t *len);

/** @brief `{"type":"ok","req":R, ...fields}`; @p req may be NULL (then no
 *  "req"), @p fields (may be NULL) is an object whose members are added; it
 *  is not stolen. */
char *tafel_msg_ok(const json_t *req, const json_t *fields, size_t headroom, size_t *len);

/** @brief `{"type":"error","req":R,"code":C,"message":M[,"field":F]}` from
 *  @p err (its wire code); @p extra (may be NULL, not stolen) adds members,
 *  e.g. `current` on a conflict. */
char *tafel_msg_error(const json_t *req, const struct tafel_errinfo *err, const json_t *extra,
                      size_t headroom, size_t *len);

/* An event: `{"type":"event","op":OP,"doc":DOC,"seq":S}`. The head before
 * the document is the same for every put event, so the writer builds the
 * event around the stored bytes in place: a block with headroom +
 * TAFEL_EVENT_PUT_HEAD_LEN bytes before the document's text and
 * TAFEL_EVENT_TAIL_ROOM after it (storage's text_before/text_after). */
#define TAFEL_EVENT_PUT_HEAD     "{\"type\":\"event\",\"op\":\"put\",\"doc\":"
#define TAFEL_EVENT_PUT_HEAD_LEN (sizeof(TAFEL_EVENT_PUT_HEAD) - 1)
#define TAFEL_EVENT_TAIL_ROOM    32 /* ,"seq":<20 digits>} and a NUL */

/** @brief Write the head and tail of a put event of @p seq around the
 *  @p doc_len bytes of JSON at @p buf + @p headroom + TAFEL_EVENT_PUT_HEAD_LEN
 *  (laid out as above); returns the event's length, which starts at
 *  @p buf + @p headroom. No allocation. */
size_t tafel_msg_event_wrap(char *buf, size_t headroom, size_t doc_len, uint64_t seq);

/** @brief The event of @p seq with @p op ("put" or "delete", else NULL)
 *  around a copy of @p doc_json (@p doc_len bytes of a stored document's
 *  JSON text, copied verbatim, not re-parsed): catch-up from the change
 *  log. The same bytes as tafel_msg_event_wrap() makes. */
char *tafel_msg_event(uint64_t seq, const char *op, const char *doc_json, size_t doc_len,
                      size_t headroom, size_t *len);

/** @brief A delete event whose doc says only which document went
 *  (`{"id","kind","opgave","rev"}`): what a delete, and a document hidden
 *  from the reader, become on the wire, live and in catch-up alike. */
char *tafel_msg_event_stub(uint64_t seq, const char *kind, const char *id, const char *opgave,
                           int64_t rev, size_t headroom, size_t *len);

/** @brief The `ok` of a write: `{"type":"ok","req":R,"id":I,"rev":N,"seq":S,
 *  ["voted":B,]"doc":DOC}` around a copy of the stored text @p doc_json;
 *  @p voted < 0 leaves "voted" out. */
char *tafel_msg_ok_doc(const json_t *req, const char *id, int64_t rev, uint64_t seq, int voted,
                       const char *doc_json, size_t doc_len, size_t headroom, size_t *len);

/* ---------------------------------------------------- server -> client */

enum tafel_server_msg_type {
    TAFEL_SMSG_OK,
    TAFEL_SMSG_ERROR,
    TAFEL_SMSG_EVENT,
    TAFEL_SMSG_SNAPSHOT,
    TAFEL_SMSG_PRESENCE,
    TAFEL_SMSG_OTHER /* a type this client does not know: ignore it */
};

/** A message from the server, for clients. Pointers borrow from `root`. */
struct tafel_server_msg {
    json_t *root; /* owned */
    enum tafel_server_msg_type type;
    const json_t *req;   /* ok, error */
    const char *code;    /* error: wire code */
    const char *message; /* error */
    uint64_t seq;        /* event, snapshot; ok when present */
    const char *op;      /* event: "put" or "delete" */
    const json_t *doc;   /* event */
};

/** @brief Parse a server frame (for clients); checks the envelope of
 *  ok/error/event/snapshot/presence. Always call tafel_server_msg_free(). */
enum tafel_err tafel_server_msg_parse(const char *buf, size_t len, struct tafel_server_msg *out,
                                      struct tafel_errinfo *info);

/** @brief Release what @p m owns and zero it. */
void tafel_server_msg_free(struct tafel_server_msg *m);

#endif /* TAFEL_PROTOCOL_H */
