/*
 * strmap.h - a small hash map from short strings (ids) to pointers.
 *
 * For the server's in-memory indexes that must shrink back to nothing:
 * subscribers per opgave, write-rate buckets per key. Entries are removed
 * explicitly; the map does not own the values.
 */
#ifndef TAFEL_SERVER_STRMAP_H
#define TAFEL_SERVER_STRMAP_H

#include <stdbool.h>
#include <stddef.h>

struct strmap;

struct strmap *strmap_new(void);
/** @brief Free the map (not the values). NULL is fine. */
void strmap_free(struct strmap *m);
/** @brief The value for @p key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);
/** @brief Set @p key to @p val (not NULL); false on OOM. */
bool strmap_set(struct strmap *m, const char *key, void *val);
/** @brief Remove @p key; returns its value or NULL. */
void *strmap_del(struct strmap *m, const char *key);
/** @brief Call @p fn for each entry; @p fn may not change the map. */
void strmap_each(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *val),
                 void *ctx);

#endif
