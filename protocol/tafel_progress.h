/*
 * tafel_progress.h - an indicator's progress, direction-aware: the one
 * computation the report and the CLI use (web/js/progress.js is its twin
 * for the page; tests/progress_cases.json holds the cases both must pass).
 *
 * Given an indicator (baseline, target, the direction in which it is better)
 * and its measurements (date, value), in any order:
 *
 *  - direction: the indicator's own, or, when it has none, derived from the
 *    target against the baseline (target above baseline: up; below: down;
 *    equal or either missing: none).
 *  - latest: the measurement with the latest date (of equal dates, the one
 *    that comes last in the caller's array).
 *  - progress: the share of the way from baseline to target the latest value
 *    has come, (latest - baseline) / (target - baseline): 0 at the baseline,
 *    1 on the target, above 1 beyond it, negative when it moved away. Absent
 *    without a baseline, a target, a measurement, or when baseline and
 *    target are equal (there is no way to go).
 *  - trend: the least-squares slope of value over time (in days) through the
 *    last TAFEL_PROGRESS_WINDOW measurements by date (two: their difference);
 *    flat when the fitted change over the window is within a billionth of
 *    the largest value in it (rounding, not movement). None with fewer than
 *    two measurements, or when they all share one date.
 *  - course: the trend judged against the direction. Moving the better way
 *    is on course ("op koers"), the worse way is not ("niet op koers"); a
 *    flat trend is on course only when the latest value has reached the
 *    target. Unknown ("onbekend") without a direction or without a trend.
 *
 * Pure: no I/O, no allocation. Measurements whose date is not a valid
 * "YYYY-MM-DD" are left out, as if they were not given.
 */
#ifndef TAFEL_PROGRESS_H
#define TAFEL_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

/** How many of the latest measurements the trend is fitted through: enough
 *  that one odd figure does not turn it, few enough that a turn of the last
 *  year or two shows. */
#define TAFEL_PROGRESS_WINDOW 4

/** Which way an indicator is better; the schema's values omhoog/omlaag. */
enum tafel_direction { TAFEL_DIRECTION_NONE = 0, TAFEL_DIRECTION_UP, TAFEL_DIRECTION_DOWN };

/** Which way the values move over the trend's window. */
enum tafel_trend { TAFEL_TREND_NONE = 0, TAFEL_TREND_UP, TAFEL_TREND_DOWN, TAFEL_TREND_FLAT };

/** The trend judged against the direction. */
enum tafel_course { TAFEL_COURSE_UNKNOWN = 0, TAFEL_COURSE_ON, TAFEL_COURSE_OFF };

/** The indicator's figures the computation reads. */
struct tafel_progress_input {
    bool has_baseline, has_target;
    double baseline, target;
    enum tafel_direction direction; /**< NONE: derived from target vs baseline */
};

/** One measurement: its date ("YYYY-MM-DD") and value. */
struct tafel_measurement {
    const char *date;
    double value;
};

/** What tafel_progress_compute() finds. */
struct tafel_progress {
    enum tafel_direction direction; /**< the one the course was judged by */
    bool direction_derived;         /**< the indicator had none; derived */
    size_t count;                   /**< measurements with a valid date */
    bool has_latest;
    size_t latest; /**< index of the latest measurement in the caller's array */
    bool has_progress;
    double progress; /**< share of the way from baseline to target */
    enum tafel_trend trend;
    double slope;  /**< value per day over the window (0 without a trend) */
    size_t window; /**< the latest measurements the trend looked at (0..WINDOW) */
    enum tafel_course course;
};

/** @brief Compute @p out from the indicator @p in and its @p n measurements
 *  @p m (any order; @p m may be NULL when @p n is 0). Always fills @p out. */
void tafel_progress_compute(const struct tafel_progress_input *in,
                            const struct tafel_measurement *m, size_t n,
                            struct tafel_progress *out);

/** @brief The direction named by the schema's word ("omhoog", "omlaag");
 *  NONE for NULL or any other word. */
enum tafel_direction tafel_direction_parse(const char *word);

/** @brief The schema's word for @p d ("omhoog", "omlaag"), NULL for NONE. */
const char *tafel_direction_word(enum tafel_direction d);

/** @brief "up", "down", "flat" or "none": the report's JSON words. */
const char *tafel_trend_word(enum tafel_trend t);

/** @brief "op_koers", "niet_op_koers" or "onbekend": the report's JSON words
 *  (Dutch, as the schema's enumeration values are). */
const char *tafel_course_word(enum tafel_course c);

#endif /* TAFEL_PROGRESS_H */
