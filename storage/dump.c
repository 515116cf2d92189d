/*
 * dump.c - a document's compact JSON text, written once into a block with
 * room around it (store__dump); see store_base.h.
 *
 * Why not json_dumps(): the writer thread serialises every stored document,
 * and jansson's dumper hands each token to a callback and decodes every
 * string character by character to escape it; this one copies runs of
 * plain bytes at once. Its output is byte for byte what jansson's
 * JSON_COMPACT makes (insertion order, the same escapes), so stored texts do
 * not depend on which one wrote them: tests/unit/test_storage.c compares the
 * two.
 */
#include "store_base.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
    char *buf;
    size_t len, cap, after;
    bool oom;
};

static bool room(struct out *o, size_t n)
{
    if (o->oom)
        return false;
    if (o->len + n + 1 + o->after <= o->cap)
        return true;
    size_t cap = o->cap * 2;
    while (o->len + n + 1 + o->after > cap)
        cap *= 2;
    char *grown = realloc(o->buf, cap);
    if (!grown) {
        o->oom = true;
        return false;
    }
    o->buf = grown;
    o->cap = cap;
    return true;
}

static void put(struct out *o, const char *s, size_t n)
{
    if (room(o, n)) {
        memcpy(o->buf + o->len, s, n);
        o->len += n;
    }
}

static void put_char(struct out *o, char c)
{
    if (room(o, 1))
        o->buf[o->len++] = c;
}

/* A JSON string: runs of bytes that need no escape are copied whole;
 * escapes as jansson writes them (\" \\ \b \f \n \r \t, other controls as
 * \u00XX). Strings in a json_t are valid UTF-8 already. */
static void put_string(struct out *o, const char *s, size_t n)
{
    put_char(o, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        char esc[8];
        const char *e = NULL;
        switch (c) {
        case '"':
            e = "\\\"";
            break;
        case '\\':
            e = "\\\\";
            break;
        case '\b':
            e = "\\b";
            break;
        case '\f':
            e = "\\f";
            break;
        case '\n':
            e = "\\n";
            break;
        case '\r':
            e = "\\r";
            break;
        case '\t':
            e = "\\t";
            break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", c);
            e = esc;
        }
        put(o, e, strlen(e));
    }
    put(o, s + run, n - run);
    put_char(o, '"');
}

static void put_value(struct out *o, const json_t *v, int depth)
{
    char num[64];
    if (depth > 2048) { /* jansson refuses deeper trees too */
        o->oom = true;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        bool first = true;
        put_char(o, '{');
        json_object_foreach((json_t *)v, key, val)
        {
            if (!first)
                put_char(o, ',');
            first = false;
            put_string(o, key, strlen(key));
            put_char(o, ':');
            put_value(o, val, depth + 1);
        }
        put_char(o, '}');
        return;
    }
    case JSON_ARRAY:
        put_char(o, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put_char(o, ',');
            put_value(o, json_array_get(v, i), depth + 1);
        }
        put_char(o, ']');
        return;
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        return;
    case JSON_INTEGER: {
        int n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        put(o, num, (size_t)n);
        return;
    }
    case JSON_REAL: {
        /* Rare in documents: jansson's own formatting, to stay identical. */
        size_t n = json_dumpb(v, num, sizeof(num), JSON_ENCODE_ANY);
        if (n == 0 || n > sizeof(num))
            o->oom = true;
        else
            put(o, num, n);
        return;
    }
    case JSON_TRUE:
        put(o, "true", 4);
        return;
    case JSON_FALSE:
        put(o, "false", 5);
        return;
    case JSON_NULL:
        put(o, "null", 4);
        return;
    }
}

char *store__dump(const json_t *doc, size_t before, size_t after, size_t *len)
{
    size_t cap = before + 1024 + after;
    struct out o = {malloc(cap), before, cap, after, false};
    if (!o.buf)
        return NULL;
    put_value(&o, doc, 0);
    if (o.oom) {
        free(o.buf);
        return NULL;
    }
    o.buf[o.len] = '\0';
    *len = o.len - before;
    return o.buf;
}
