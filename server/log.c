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

void tafel_log(enum tafel_log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    char line[1024], ts[TAFEL_TIME_STRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* One event, one line: fold any newline a caller let through. */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    fprintf(stderr, "%s %s %s\n", tafel_time_format(tafel_time_now_ms(), ts), level_names[level],
            line);
}
