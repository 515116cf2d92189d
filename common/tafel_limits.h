/*
 * tafel_limits.h - limits that more than one module enforces, in one place
 * so that they cannot drift: the parser (protocol/) refuses a request that
 * exceeds them, the store (storage/) refuses to store it, and a buffer sized
 * from them always holds what was accepted.
 *
 * (The parser's own structural limits, struct tafel_limits, are protocol's.)
 */
#ifndef TAFEL_LIMITS_H
#define TAFEL_LIMITS_H

/** An access key's label, in characters (Unicode code points): a label is
 *  shown as the author of its holder's reflecties, so it is bounded like an
 *  author name. In UTF-8 that is at most 4 * TAFEL_LABEL_MAX_CHARS bytes. */
#define TAFEL_LABEL_MAX_CHARS 80

#endif /* TAFEL_LIMITS_H */
