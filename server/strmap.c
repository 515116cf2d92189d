/*
 * strmap.c - separate chaining, FNV-1a, doubling at load 1.
 */
#include "strmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    struct entry *next;
    void *val;
    char key[]; /* NUL-terminated */
};

struct strmap {
    struct entry **buckets;
    size_t nbuckets, count;
};

static uint32_t hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

struct strmap *strmap_new(void)
{
    struct strmap *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->nbuckets = 16;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets));
    if (!m->buckets) {
        free(m);
        return NULL;
    }
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    free(m->buckets);
    free(m);
}

static struct entry **find(const struct strmap *m, const char *key)
{
    struct entry **pe = &m->buckets[hash(key) & (m->nbuckets - 1)];
    while (*pe && strcmp((*pe)->key, key) != 0)
        pe = &(*pe)->next;
    return pe;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    struct entry *e = *find(m, key);
    return e ? e->val : NULL;
}

static void grow(struct strmap *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = calloc(n, sizeof(*b));
    if (!b)
        return; /* still correct, only slower */
    for (size_t i = 0; i < m->nbuckets; i++) {
        for (struct entry *e = m->buckets[i], *next; e; e = next) {
            next = e->next;
            struct entry **head = &b[hash(e->key) & (n - 1)];
            e->next = *head;
            *head = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

bool strmap_set(struct strmap *m, const char *key, void *val)
{
    struct entry **pe = find(m, key);
    if (*pe) {
        (*pe)->val = val;
        return true;
    }
    size_t len = strlen(key);
    struct entry *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return false;
    memcpy(e->key, key, len + 1);
    e->val = val;
    e->next = NULL;
    *pe = e;
    if (++m->count > m->nbuckets)
        grow(m);
    return true;
}

void *strmap_del(struct strmap *m, const char *key)
{
    struct entry **pe = find(m, key);
    struct entry *e = *pe;
    if (!e)
        return NULL;
    void *val = e->val;
    *pe = e->next;
    free(e);
    m->count--;
    return val;
}

void strmap_each(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *val),
                 void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (struct entry *e = m->buckets[i]; e; e = e->next)
            fn(ctx, e->key, e->val);
}
