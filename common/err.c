/*
 * err.c - tables generated from TAFEL_ERR_LIST, and tafel_errinfo helpers.
 */
#include "tafel_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const err_desc[] = {
#define X(name, wire, desc) desc,
    TAFEL_ERR_LIST(X)
#undef X
};

static const char *const err_name[] = {
#define X(name, wire, desc) #name,
    TAFEL_ERR_LIST(X)
#undef X
};

static const char *const err_wire[] = {
#define X(name, wire, desc) wire,
    TAFEL_ERR_LIST(X)
#undef X
};

static int in_range(enum tafel_err err)
{
    return (int)err >= 0 && err < TAFEL_E__COUNT;
}

const char *tafel_strerror(enum tafel_err err)
{
    return in_range(err) ? err_desc[err] : "unknown error";
}

const char *tafel_err_name(enum tafel_err err)
{
    return in_range(err) ? err_name[err] : "UNKNOWN";
}

const char *tafel_err_wire(enum tafel_err err)
{
    return in_range(err) ? err_wire[err] : "internal";
}

/* Replace control characters and bytes of broken UTF-8 cheaply: anything
 * below 0x20 or 0x7f becomes '?'. Multi-byte UTF-8 is kept as is; callers
 * only echo strings that have already passed UTF-8 validation. */
static void sanitise(char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f)
            *s = '?';
    }
}

enum tafel_err tafel_errinfo_set(struct tafel_errinfo *info, enum tafel_err code, const char *field,
                                 const char *fmt, ...)
{
    if (!info)
        return code;
    info->code = code;
    snprintf(info->field, sizeof(info->field), "%s", field ? field : "");
    sanitise(info->field);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(info->message, sizeof(info->message), fmt, ap);
        va_end(ap);
    } else {
        snprintf(info->message, sizeof(info->message), "%s", tafel_strerror(code));
    }
    sanitise(info->message);
    return code;
}

void tafel_errinfo_clear(struct tafel_errinfo *info)
{
    if (!info)
        return;
    info->code = TAFEL_E_OK;
    info->field[0] = '\0';
    info->message[0] = '\0';
}
