/*
 * log.c - see log.h. The threshold is process-wide state of server/ only.
 */
#include "log.h"

#include <stdarg.h>
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

/* Length of the valid, printable UTF-8 sequence at @p p (0 if it is not
 * one): C1 controls (U+0080..U+009F) count as not printable. */
static size_t utf8_printable(const unsigned char *p)
{
    size_t n = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
    if (n == 0 || p[0] > 0xf4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if (n == 2 && p[0] == 0xc2 && p[1] <= 0x9f)
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
