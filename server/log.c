/*
 * log.c - see log.h. The threshold is process-wide state of server/ only.
 */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tafel_time.h"

static enum tafel_log_level threshold = TAFEL_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tafel_log_set_level(enum tafel_log_level level)
{
    threshold = level;
}

bool tafel_log_level_parse(const char *s, enum tafel_log_level *out)
{
    for (int i = 0; i <= TAFEL_LOG_DEBUG; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum tafel_log_level)i;
            return true;
        }
    }
    return false;
}

/* Code points a terminal or log viewer acts on or hides: C1 controls, and
 * the format characters that reorder or split lines (bidi controls, line
 * and paragraph separators, zero-width characters, BOM). */
static bool cp_unsafe(uint32_t c)
{
    return c <= 0x9f || c == 0x061c || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff;
}

/* Length of the well-formed, printable UTF-8 sequence at @p p (0 if it is
 * not one: overlong forms, surrogates and unsafe code points count as not). */
static size_t utf8_printable(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4  ? 4
               : p[0] >= 0xe0 && p[0] < 0xf0 ? 3
               : p[0] >= 0xc2 && p[0] < 0xe0 ? 2
                                             : 0;
    if (n == 0)
        return 0;
    uint32_t c = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (p[i] & 0x3f);
    }
    static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || cp_unsafe(c))
        return 0;
    return n;
}

const char *tafel_log_escape(const char *in, char *out, size_t n)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    if (n == 0)
        return out;
    while (*p) {
        size_t u = *p >= 0x80 ? utf8_printable(p) : (*p >= 0x20 && *p != 0x7f);
        if (u && o + u < n) {
            memcpy(out + o, p, u);
            o += u;
            p += u;
        } else if (!u && o + 4 < n) {
            snprintf(out + o, 5, "\\x%02x", *p);
            o += 4;
            p++;
        } else {
            break;
        }
    }
    out[o] = '\0';
    return out;
}

void tafel_log(enum tafel_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    char line[1024], safe[4 * sizeof(line)], ts[TAFEL_TIME_STRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One event, one line, and nothing a terminal would act on: a client's
     * value (an Origin, a name) can hold escape sequences or newlines. */
    fprintf(stderr, "%s %s %s\n", tafel_time_format(tafel_time_now_ms(), ts), level_names[level],
            tafel_log_escape(line, safe, sizeof(safe)));
}
