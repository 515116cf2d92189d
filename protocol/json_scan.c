/*
 * json_scan.c - the linear pre-scan that bounds a frame before jansson
 * parses it, and Tafel's own UTF-8 validator.
 *
 * jansson builds the whole tree before anyone can look at it, so a hostile
 * frame of 64 KiB could still ask for deep recursion, one huge string or
 * tens of thousands of tiny array items. This scanner walks the raw bytes
 * once, keeps a small fixed stack and allocates nothing: it refuses what is
 * too big, too deep, not UTF-8 or carries a NUL, and leaves the grammar to
 * jansson. It must survive any bytes at all, so every look-ahead is bounded
 * and unbalanced brackets are simply tolerated.
 */
#include "protocol_internal.h"

#include <string.h>

/* One open array or object: what it is and how many items it has so far. */
struct level {
    size_t count;   /* items (array) or members (object) begun */
    bool is_object; /* '{' rather than '[' */
    bool want_item; /* after the opener or a ',' the next token starts an item */
};

struct scan {
    const struct tafel_limits *lim;
    unsigned max_depth;
    unsigned depth; /* 0 = outside any container */
    struct level stack[TAFEL_SCAN_MAX_DEPTH + 1];
};

size_t tafel__utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong below U+0800 */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong below U+10000 */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or 0xf5.. */
    }
    if (n < need || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

bool tafel_utf8_valid(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
        size_t n = tafel__utf8_seq(p + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The code unit of the \uXXXX escape whose digits start at @p p, or -1 when
 * fewer than four hex digits follow (jansson will refuse it). */
static long escape_unit(const unsigned char *p, size_t n)
{
    long v = 0;
    if (n < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int h = hex_value(p[i]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Bytes a \uXXXX unit becomes in UTF-8; a surrogate half counts 2, so that
 * a pair adds up to the 4 bytes of its code point. */
static size_t unit_bytes(long u)
{
    if (u < 0x80)
        return 1;
    if (u < 0x800)
        return 2;
    if (u >= 0xd800 && u <= 0xdfff)
        return 2;
    return 3;
}

/* A new token at the current level: count it if it starts an item. */
static enum tafel_err begin_token(struct scan *s, struct tafel_errinfo *info)
{
    if (s->depth == 0)
        return TAFEL_E_OK;
    struct level *l = &s->stack[s->depth];
    if (!l->want_item)
        return TAFEL_E_OK;
    l->want_item = false;
    l->count++;
    size_t max = l->is_object ? s->lim->max_object_keys : s->lim->max_array;
    if (l->count > max)
        return tafel_errinfo_set(info, TAFEL_E_TOO_LARGE, "", "%s with more than %zu %s",
                                 l->is_object ? "object" : "array", max,
                                 l->is_object ? "members" : "items");
    return TAFEL_E_OK;
}

/*
 * Scan the string whose opening quote is at @p *i; on return *i is just past
 * the closing quote (or at the end of the buffer for an unterminated one).
 */
static enum tafel_err scan_string(const struct scan *s, const unsigned char *p, size_t len,
                                  size_t *i, struct tafel_errinfo *info)
{
    size_t bytes = 0; /* decoded length */
    size_t j = *i + 1;
    while (j < len && p[j] != '"') {
        size_t step = 1, add = 1;
        /* An escape takes the next byte only when it is plain ASCII: a raw NUL
         * or a multi-byte sequence after '\\' is still checked below. */
        if (p[j] == '\\' && j + 1 < len && p[j + 1] != '\0' && p[j + 1] < 0x80) {
            step = 2;
            if (p[j + 1] == 'u') {
                long u = escape_unit(p + j + 2, len - (j + 2));
                if (u == 0)
                    return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "",
                                             "\\u0000 is not allowed in a string");
                if (u > 0) {
                    step = 6;
                    add = unit_bytes(u);
                }
            }
        } else if (p[j] >= 0x80) {
            step = add = tafel__utf8_seq(p + j, len - j);
            if (step == 0)
                return tafel_errinfo_set(info, TAFEL_E_BAD_UTF8, "", "invalid UTF-8");
        } else if (p[j] == '\0') {
            return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "", "NUL byte in a string");
        }
        bytes += add;
        if (bytes > s->lim->max_string)
            return tafel_errinfo_set(info, TAFEL_E_TOO_LARGE, "", "string longer than %zu bytes",
                                     s->lim->max_string);
        j += step;
    }
    *i = j < len ? j + 1 : len;
    return TAFEL_E_OK;
}

static enum tafel_err open_container(struct scan *s, bool is_object, struct tafel_errinfo *info)
{
    if (s->depth >= s->max_depth)
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "", "nested deeper than %u levels",
                                 s->max_depth);
    s->depth++;
    s->stack[s->depth] = (struct level){.count = 0, .is_object = is_object, .want_item = true};
    return TAFEL_E_OK;
}

/* Everything outside strings: structure, and bytes that may not be there. */
static enum tafel_err scan_byte(struct scan *s, const unsigned char *p, size_t len, size_t *i,
                                struct tafel_errinfo *info)
{
    unsigned char c = p[*i];
    enum tafel_err e = TAFEL_E_OK;
    switch (c) {
    case ' ':
    case '\t':
    case '\r':
    case '\n':
    case ':':
        break;
    case ',':
        if (s->depth > 0)
            s->stack[s->depth].want_item = true;
        break;
    case ']':
    case '}':
        if (s->depth > 0)
            s->depth--;
        break;
    case '\0':
        return tafel_errinfo_set(info, TAFEL_E_BAD_REQUEST, "", "NUL byte in the message");
    default:
        e = begin_token(s, info);
        if (e == TAFEL_E_OK && (c == '[' || c == '{'))
            e = open_container(s, c == '{', info);
        if (e == TAFEL_E_OK && c == '"')
            return scan_string(s, p, len, i, info);
        if (e == TAFEL_E_OK && c >= 0x80) {
            size_t n = tafel__utf8_seq(p + *i, len - *i);
            if (n == 0)
                return tafel_errinfo_set(info, TAFEL_E_BAD_UTF8, "", "invalid UTF-8");
            *i += n;
            return TAFEL_E_OK;
        }
        break;
    }
    (*i)++;
    return e;
}

enum tafel_err tafel__json_scan(const char *buf, size_t len, const struct tafel_limits *lim,
                                struct tafel_errinfo *info)
{
    struct scan s;
    s.lim = lim;
    s.max_depth = lim->max_depth < TAFEL_SCAN_MAX_DEPTH ? lim->max_depth : TAFEL_SCAN_MAX_DEPTH;
    s.depth = 0;
    if (len > lim->max_bytes)
        return tafel_errinfo_set(info, TAFEL_E_TOO_LARGE, "", "message larger than %zu bytes",
                                 lim->max_bytes);
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
        enum tafel_err e = scan_byte(&s, p, len, &i, info);
        if (e != TAFEL_E_OK)
            return e;
    }
    return TAFEL_E_OK;
}
