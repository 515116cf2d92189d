/*
 * progress.c - an indicator's direction-aware progress and course; the
 * definition is in tafel_progress.h.
 *
 * web/js/progress.js does the same arithmetic in the same order for the
 * page; tests/progress_cases.json holds the cases both are held to, so a
 * change here without the same change there fails a test.
 */
#include "tafel_progress.h"

#include "tafel_time.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Below this share of the window's largest value a fitted change is the
 * rounding of the sums, not movement: 0.1 three times averages to
 * 0.10000000000000002, and a flat series must not read as rising. */
#define FLAT_SHARE 1e-9

/* Days since 1970-01-01 of a valid "YYYY-MM-DD" (the proleptic Gregorian
 * calendar; Howard Hinnant's days_from_civil). Whole days, so the x of the
 * fit is exact and the page, which takes Date.UTC() / 86400000, gets the
 * same numbers. */
static int64_t day_number(const char *s)
{
    int64_t y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int64_t mo = (s[5] - '0') * 10 + (s[6] - '0');
    int64_t d = (s[8] - '0') * 10 + (s[9] - '0');
    y -= mo <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool usable(const struct tafel_measurement *m)
{
    return m->date && tafel_date_valid(m->date) && isfinite(m->value);
}

/* Measurements are ordered by (date, index): the index breaks ties the way
 * the caller's order says (the report passes them by date, then creation).
 * True if a comes after b. */
static bool after(const struct tafel_measurement *m, size_t a, size_t b)
{
    int c = strcmp(m[a].date, m[b].date);
    return c > 0 || (c == 0 && a > b);
}

/* The latest usable measurement before @p below in that order (any, when
 * @p has_below is false); false when there is none. O(n) per step, and the
 * window is a few steps: no allocation, no sorting of the caller's array. */
static bool latest_before(const struct tafel_measurement *m, size_t n, bool has_below, size_t below,
                          size_t *out)
{
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (!usable(&m[i]) || (has_below && !after(m, below, i)))
            continue;
        if (!found || after(m, i, *out)) {
            *out = i;
            found = true;
        }
    }
    return found;
}

/* Fit the trend through the window @p idx (newest first, @p w of them). */
static void fit(const struct tafel_measurement *m, const size_t *idx, size_t w,
                struct tafel_progress *out)
{
    /* Oldest first, x in days from the oldest: the page sums in this order
     * too, so both round alike. */
    double x[TAFEL_PROGRESS_WINDOW], y[TAFEL_PROGRESS_WINDOW];
    int64_t d0 = day_number(m[idx[w - 1]].date);
    double mx = 0, my = 0, scale = 1;
    for (size_t k = 0; k < w; k++) {
        const struct tafel_measurement *p = &m[idx[w - 1 - k]];
        x[k] = (double)(day_number(p->date) - d0);
        y[k] = p->value;
        mx += x[k];
        my += y[k];
        if (fabs(y[k]) > scale)
            scale = fabs(y[k]);
    }
    mx /= (double)w;
    my /= (double)w;
    double sxx = 0, sxy = 0;
    for (size_t k = 0; k < w; k++) {
        sxx += (x[k] - mx) * (x[k] - mx);
        sxy += (x[k] - mx) * (y[k] - my);
    }
    if (sxx == 0) /* all on one date: no time passed, no trend */
        return;
    out->slope = sxy / sxx;
    double change = out->slope * (x[w - 1] - x[0]);
    out->trend = fabs(change) <= FLAT_SHARE * scale ? TAFEL_TREND_FLAT
                 : change > 0                       ? TAFEL_TREND_UP
                                                    : TAFEL_TREND_DOWN;
}

void tafel_progress_compute(const struct tafel_progress_input *in,
                            const struct tafel_measurement *m, size_t n, struct tafel_progress *out)
{
    memset(out, 0, sizeof(*out));
    if (!m)
        n = 0;
    for (size_t i = 0; i < n; i++)
        out->count += usable(&m[i]);

    out->direction = in->direction;
    if (out->direction == TAFEL_DIRECTION_NONE && in->has_baseline && in->has_target &&
        in->target != in->baseline) {
        out->direction = in->target > in->baseline ? TAFEL_DIRECTION_UP : TAFEL_DIRECTION_DOWN;
        out->direction_derived = true;
    }

    size_t idx[TAFEL_PROGRESS_WINDOW], w = 0;
    while (w < TAFEL_PROGRESS_WINDOW && latest_before(m, n, w > 0, w > 0 ? idx[w - 1] : 0, &idx[w]))
        w++;
    out->window = w;
    if (w == 0)
        return;
    out->has_latest = true;
    out->latest = idx[0];
    double latest = m[idx[0]].value;

    if (in->has_baseline && in->has_target && in->target != in->baseline) {
        out->has_progress = true;
        out->progress = (latest - in->baseline) / (in->target - in->baseline);
    }

    if (w >= 2)
        fit(m, idx, w, out);
    if (out->direction == TAFEL_DIRECTION_NONE || out->trend == TAFEL_TREND_NONE)
        return;
    bool up = out->direction == TAFEL_DIRECTION_UP;
    if (out->trend == TAFEL_TREND_FLAT) {
        /* Standing still is on course only where the target is reached. */
        bool reached = in->has_target && (up ? latest >= in->target : latest <= in->target);
        out->course = reached ? TAFEL_COURSE_ON : TAFEL_COURSE_OFF;
    } else {
        out->course = (out->trend == TAFEL_TREND_UP) == up ? TAFEL_COURSE_ON : TAFEL_COURSE_OFF;
    }
}

enum tafel_direction tafel_direction_parse(const char *word)
{
    if (word && strcmp(word, "omhoog") == 0)
        return TAFEL_DIRECTION_UP;
    if (word && strcmp(word, "omlaag") == 0)
        return TAFEL_DIRECTION_DOWN;
    return TAFEL_DIRECTION_NONE;
}

const char *tafel_direction_word(enum tafel_direction d)
{
    return d == TAFEL_DIRECTION_UP ? "omhoog" : d == TAFEL_DIRECTION_DOWN ? "omlaag" : NULL;
}

const char *tafel_trend_word(enum tafel_trend t)
{
    switch (t) {
    case TAFEL_TREND_UP:
        return "up";
    case TAFEL_TREND_DOWN:
        return "down";
    case TAFEL_TREND_FLAT:
        return "flat";
    case TAFEL_TREND_NONE:
        break;
    }
    return "none";
}

const char *tafel_course_word(enum tafel_course c)
{
    return c == TAFEL_COURSE_ON ? "op_koers" : c == TAFEL_COURSE_OFF ? "niet_op_koers" : "onbekend";
}
