/*
 * changes.c - the change log: one record per committed change, keyed by its
 * seq, trimmed to the retention, walked by subscribers catching up; and its
 * per-document index, so that a document's records can be stripped of their
 * content when it is deleted or hidden (a subscriber replaying the log must
 * not receive what nobody may read any more). The retention rules
 * (storage/retention.c) strip, by age, the content of entries that a later
 * version of their document has superseded.
 *
 * A record is a fixed binary header followed by NUL-terminated strings, the
 * document's JSON text last, so that a reader filters by opgave or flags
 * without parsing JSON and hands the text out straight from the map:
 *
 *   off size
 *    0  1   record format (1)
 *    1  1   op: 0 put, 1 delete
 *    2  1   length of kind      4  1  length of opgave
 *    3  1   length of id        5  1  length of actor
 *    6  2   reserved (0)
 *    8  4   flags (BE)
 *   12  4   length of the document text (BE)
 *   16  8   rev (BE, two's complement)
 *   24  8   time in ms since the epoch (BE, two's complement)
 *   32      kind\0 id\0 opgave\0 actor\0 document\0
 *
 * A record without content (a delete, or stripped) has document length 0:
 * a stored document is never empty JSON text, so 0 means none. Stripping
 * rewrites the record without the text, same header otherwise.
 *
 *   doc_changes  "kind\0id\0" seq (BE) -> empty
 * indexes the records that still hold content: stripping removes an entry,
 * so a document stripped over and over costs only its new records.
 */
#include "store_base.h"

#include <errno.h>
#include <string.h>

#define REC_FORMAT  1
#define REC_HEADER  32
#define REC_STRINGS 4
/* A stripped record: header and four strings of at most 255 bytes. */
#define REC_BARE_MAX (REC_HEADER + REC_STRINGS * 256 + 1)
/* doc_changes key: kind (names are bounded by docs.c), id, seq. */
#define INDEX_KEY_MAX (STORE_KIND_MAX + 1 + TAFEL_ID_MAX + 1 + 8)

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* "kind\0id\0" and, when @p seq is non-zero, the seq after it. */
static int index_key(unsigned char *buf, const char *kind, const char *id, uint64_t seq,
                     MDB_val *out)
{
    size_t kl = strlen(kind), il = strlen(id);
    if (kl > STORE_KIND_MAX || il > TAFEL_ID_MAX)
        return EINVAL;
    memcpy(buf, kind, kl + 1);
    memcpy(buf + kl + 1, id, il + 1);
    out->mv_size = kl + 1 + il + 1;
    out->mv_data = buf;
    if (seq) {
        store__put_u64(buf + out->mv_size, seq);
        out->mv_size += 8;
    }
    return 0;
}

int store__change_put(tafel_store *st, MDB_txn *txn, const struct store_change_in *c)
{
    const char *str[REC_STRINGS] = {c->kind, c->id, c->opgave, c->actor};
    size_t len[REC_STRINGS], total = REC_HEADER + c->doc_len + 1;
    unsigned char kbuf[8];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf}, d;

    for (int i = 0; i < REC_STRINGS; i++) {
        len[i] = strlen(str[i]);
        if (len[i] > UINT8_MAX)
            return EINVAL;
        total += len[i] + 1;
    }
    if (c->doc_len > UINT32_MAX || (c->doc_len && !c->doc))
        return EINVAL;
    store__put_u64(kbuf, c->seq);
    d.mv_size = total;
    int rc = mdb_put(txn, st->dbi[DB_CHANGES], &k, &d, MDB_RESERVE | MDB_APPEND);
    if (rc)
        return rc;

    unsigned char *p = d.mv_data;
    memset(p, 0, REC_HEADER);
    p[0] = REC_FORMAT;
    p[1] = c->op == TAFEL_OP_DELETE ? 1 : 0;
    for (int i = 0; i < REC_STRINGS; i++)
        p[2 + i] = (unsigned char)len[i];
    put_u32(p + 8, c->flags);
    put_u32(p + 12, (uint32_t)c->doc_len);
    store__put_u64(p + 16, (uint64_t)c->rev);
    store__put_u64(p + 24, (uint64_t)c->at_ms);
    p += REC_HEADER;
    for (int i = 0; i < REC_STRINGS; i++) {
        memcpy(p, str[i], len[i] + 1);
        p += len[i] + 1;
    }
    if (c->doc_len)
        memcpy(p, c->doc, c->doc_len);
    p[c->doc_len] = '\0';
    if (c->doc_len == 0)
        return 0;
    unsigned char ibuf[INDEX_KEY_MAX];
    MDB_val ik, empty = {0, NULL};
    rc = index_key(ibuf, c->kind, c->id, c->seq, &ik);
    return rc ? rc : mdb_put(txn, st->dbi[DB_DOC_CHANGES], &ik, &empty, 0);
}

/* Point @p c into the record @p k, @p d (no copy); MDB_CORRUPTED if it does
 * not hold together. */
static int change_decode(const MDB_val *k, const MDB_val *d, struct tafel_change *c)
{
    const unsigned char *p = d->mv_data;
    const char *str[REC_STRINGS];
    size_t need = REC_HEADER;

    if (k->mv_size != 8 || d->mv_size < REC_HEADER || p[0] != REC_FORMAT || p[1] > 1)
        return MDB_CORRUPTED;
    for (int i = 0; i < REC_STRINGS; i++) {
        str[i] = (const char *)p + need;
        need += (size_t)p[2 + i] + 1;
        if (need > d->mv_size || p[need - 1] != '\0')
            return MDB_CORRUPTED;
    }
    c->doc_len = get_u32(p + 12);
    c->doc = c->doc_len ? (const char *)p + need : NULL;
    need += c->doc_len + 1;
    if (need != d->mv_size || p[need - 1] != '\0')
        return MDB_CORRUPTED;
    c->seq = store__get_u64(k->mv_data);
    c->op = p[1] ? TAFEL_OP_DELETE : TAFEL_OP_PUT;
    c->kind = str[0];
    c->id = str[1];
    c->opgave = str[2];
    c->actor = str[3];
    c->flags = get_u32(p + 8);
    c->rev = (int64_t)store__get_u64(p + 16);
    c->at_ms = (int64_t)store__get_u64(p + 24);
    return 0;
}

/* Drop the doc_changes entry of record @p c, if it has one. */
static int index_del(tafel_store *st, MDB_txn *txn, const struct tafel_change *c)
{
    unsigned char ibuf[INDEX_KEY_MAX];
    MDB_val ik;
    if (c->doc_len == 0)
        return 0; /* never indexed, or no longer */
    int rc = index_key(ibuf, c->kind, c->id, c->seq, &ik);
    if (!rc)
        rc = mdb_del(txn, st->dbi[DB_DOC_CHANGES], &ik, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__changes_trim(tafel_store *st, MDB_txn *txn, uint64_t seq)
{
    MDB_cursor *cur;
    MDB_val k, d;

    if (st->retain_changes == 0 || seq <= st->retain_changes)
        return 0;
    uint64_t cutoff = seq - st->retain_changes; /* drop seq <= cutoff */
    int rc = mdb_cursor_open(txn, st->dbi[DB_CHANGES], &cur);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        struct tafel_change c;
        rc = change_decode(&k, &d, &c);
        if (rc)
            break;
        if (c.seq > cutoff)
            break;
        /* The index goes first: c points into the record deleted next. */
        rc = index_del(st, txn, &c);
        if (!rc)
            rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Rewrite record @p seq without its content (nothing to do if it has none). */
static int change_strip(tafel_store *st, MDB_txn *txn, uint64_t seq)
{
    unsigned char kbuf[8], bare[REC_BARE_MAX];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf}, d;
    struct tafel_change c;

    store__put_u64(kbuf, seq);
    int rc = mdb_get(txn, st->dbi[DB_CHANGES], &k, &d);
    if (!rc)
        rc = change_decode(&k, &d, &c);
    if (rc)
        return rc;
    if (c.doc_len == 0)
        return 0;
    /* Header and strings, copied out: d points into the page the put below
     * replaces. */
    size_t len = (size_t)(c.doc - (const char *)d.mv_data);
    memcpy(bare, d.mv_data, len);
    put_u32(bare + 12, 0);
    bare[len++] = '\0';
    d.mv_size = len;
    d.mv_data = bare;
    return mdb_put(txn, st->dbi[DB_CHANGES], &k, &d, 0);
}

int store__changes_strip(tafel_store *st, MDB_txn *txn, const char *kind, const char *id)
{
    unsigned char pbuf[INDEX_KEY_MAX];
    MDB_cursor *cur;
    MDB_val prefix, k, d;
    int rc = index_key(pbuf, kind, id, 0, &prefix);
    if (!rc)
        rc = mdb_cursor_open(txn, st->dbi[DB_DOC_CHANGES], &cur);
    if (rc)
        return rc;
    k = prefix;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size < prefix.mv_size || memcmp(k.mv_data, prefix.mv_data, prefix.mv_size) != 0)
            break;
        if (k.mv_size != prefix.mv_size + 8) {
            rc = MDB_CORRUPTED;
            break;
        }
        rc = change_strip(st, txn, store__get_u64((unsigned char *)k.mv_data + prefix.mv_size));
        /* An entry whose record is gone (damage) indexes nothing: drop it too. */
        if (rc == MDB_NOTFOUND)
            rc = 0;
        if (!rc)
            rc = mdb_cursor_del(cur, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__changes_indexed(tafel_store *st, MDB_txn *txn, bool *ok)
{
    unsigned char ibuf[INDEX_KEY_MAX];
    MDB_cursor *cur;
    MDB_val k, d, ik;
    struct tafel_change c;

    *ok = true;
    int rc = mdb_cursor_open(txn, st->dbi[DB_CHANGES], &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, MDB_LAST);
    if (!rc)
        rc = change_decode(&k, &d, &c);
    if (!rc && c.doc_len) {
        rc = index_key(ibuf, c.kind, c.id, c.seq, &ik);
        if (!rc)
            rc = mdb_get(txn, st->dbi[DB_DOC_CHANGES], &ik, &d);
        if (rc == MDB_NOTFOUND) {
            *ok = false;
            rc = 0;
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc; /* an empty log lacks nothing */
}

/* The first change record at or after @p seq, sought afresh: the walks that
 * strip rewrite records of this very database, which moves what a cursor
 * would be pointing at. MDB_NOTFOUND past the last. */
static int change_seek(MDB_cursor *cur, uint64_t seq, struct tafel_change *c)
{
    unsigned char kbuf[8];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf}, d;
    store__put_u64(kbuf, seq);
    int rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    return rc ? rc : change_decode(&k, &d, c);
}

int store__changes_reindex(tafel_store *st, MDB_txn *txn)
{
    unsigned char ibuf[INDEX_KEY_MAX];
    MDB_cursor *cur;
    MDB_val ik, empty = {0, NULL};
    uint64_t next = 1;
    int rc = mdb_drop(txn, st->dbi[DB_DOC_CHANGES], 0);
    if (!rc)
        rc = mdb_cursor_open(txn, st->dbi[DB_CHANGES], &cur);
    if (rc)
        return rc;
    for (;;) {
        struct tafel_change c;
        rc = change_seek(cur, next, &c);
        if (rc)
            break;
        next = c.seq + 1;
        if (c.op == TAFEL_OP_DELETE) {
            /* Older builds kept the last version in a delete: as if this
             * build had written it, the document's records lose their text. */
            rc = store__changes_strip(st, txn, c.kind, c.id);
            if (!rc)
                rc = change_strip(st, txn, c.seq);
        } else if (c.doc_len) {
            rc = index_key(ibuf, c.kind, c.id, c.seq, &ik);
            if (!rc)
                rc = mdb_put(txn, st->dbi[DB_DOC_CHANGES], &ik, &empty, 0);
        }
        if (rc)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

struct walk {
    uint64_t since, limit;
    tafel_change_fn fn;
    void *ctx;
    uint64_t last;
    bool trimmed;
};

static int walk_txn(tafel_store *st, MDB_txn *txn, struct walk *w)
{
    MDB_cursor *cur;
    uint64_t seq, first;
    unsigned char kbuf[8];
    MDB_val k = {.mv_size = sizeof(kbuf), .mv_data = kbuf}, d;
    int rc = store__seq_get(st, txn, &seq);
    if (rc)
        return rc;
    rc = store__edge_key(st, txn, DB_CHANGES, MDB_FIRST, &first);
    if (rc == MDB_NOTFOUND)
        first = seq + 1; /* an empty log lacks nothing */
    else if (rc)
        return rc;
    /* A since beyond the current seq comes from another history (a client
     * of a directory since restored from an older backup): no entry here
     * continues it, only a snapshot does. */
    if (w->since > seq || w->since + 1 < first) {
        w->trimmed = true;
        return 0;
    }
    rc = mdb_cursor_open(txn, st->dbi[DB_CHANGES], &cur);
    if (rc)
        return rc;
    store__put_u64(kbuf, w->since + 1);
    uint64_t count = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        struct tafel_change c;
        rc = change_decode(&k, &d, &c);
        if (rc)
            break;
        w->last = c.seq;
        count++;
        if (!w->fn(w->ctx, &c) || (w->limit && count >= w->limit))
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

enum tafel_err tafel_store_changes(tafel_store *st, uint64_t since, uint64_t limit,
                                   tafel_change_fn fn, void *ctx, uint64_t *last)
{
    struct walk w = {.since = since, .limit = limit, .fn = fn, .ctx = ctx, .last = since};
    MDB_txn *txn;

    if (last)
        *last = since;
    if (!fn)
        return TAFEL_E_INVALID_ARG;
    int rc = store__read_begin(st, &txn);
    if (rc)
        return store__err(rc);
    rc = walk_txn(st, txn, &w);
    store__read_end(st, txn);
    if (rc)
        return store__err(rc);
    if (last)
        *last = w.last;
    return w.trimmed ? TAFEL_E_TRIMMED : TAFEL_E_OK;
}

/* ------------------------------------------------------------ retention */

/* The moment before which @p kind's entries lose their content (0: never). */
static int64_t aged_cutoff(const struct tafel_log_terms *t, const char *kind)
{
    for (size_t i = 0; i < t->nown; i++) {
        if (strcmp(t->own[i].kind, kind) == 0)
            return t->own[i].before_ms;
    }
    return t->before_ms;
}

/* Whether a later entry of the same document still holds content: then
 * @p c is an earlier version, not the one the document shows now. */
static int superseded(tafel_store *st, MDB_txn *txn, const struct tafel_change *c, bool *yes)
{
    unsigned char ibuf[INDEX_KEY_MAX], pbuf[INDEX_KEY_MAX];
    MDB_val k, d, prefix;
    MDB_cursor *cur;
    *yes = false;
    int rc = index_key(pbuf, c->kind, c->id, 0, &prefix);
    if (!rc)
        rc = index_key(ibuf, c->kind, c->id, c->seq + 1, &k);
    if (!rc)
        rc = mdb_cursor_open(txn, st->dbi[DB_DOC_CHANGES], &cur);
    if (rc)
        return rc;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    if (!rc)
        *yes = k.mv_size == prefix.mv_size + 8 &&
               memcmp(k.mv_data, prefix.mv_data, prefix.mv_size) == 0;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int store__changes_strip_aged(tafel_store *st, MDB_txn *txn, const struct tafel_log_terms *t,
                              uint64_t from, uint64_t max_scan, uint64_t *next, uint64_t *stripped)
{
    MDB_cursor *cur;
    int64_t stop_ms = t->before_ms;
    for (size_t i = 0; i < t->nown; i++) {
        if (t->own[i].before_ms > stop_ms)
            stop_ms = t->own[i].before_ms;
    }
    *next = 0;
    *stripped = 0;
    if (stop_ms <= 0)
        return 0; /* every term keeps */
    int rc = mdb_cursor_open(txn, st->dbi[DB_CHANGES], &cur);
    if (rc)
        return rc;
    uint64_t pos = from ? from : 1, scanned = 0;
    for (;;) {
        struct tafel_change c;
        if (scanned == max_scan) {
            *next = pos;
            break;
        }
        rc = change_seek(cur, pos, &c);
        if (rc)
            break;
        /* Time follows seq: nothing from here on is old enough for any term. */
        if (c.at_ms >= stop_ms)
            break;
        scanned++;
        pos = c.seq + 1;
        int64_t cutoff = aged_cutoff(t, c.kind);
        if (c.doc_len == 0 || cutoff <= 0 || c.at_ms >= cutoff)
            continue;
        bool later = false;
        rc = superseded(st, txn, &c, &later);
        if (rc)
            break;
        if (!later)
            continue; /* the current version: see tafel_store_log_strip_aged() */
        /* The index goes first: c points into the record rewritten next. */
        uint64_t seq = c.seq;
        rc = index_del(st, txn, &c);
        if (!rc)
            rc = change_strip(st, txn, seq);
        if (rc)
            break;
        (*stripped)++;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
