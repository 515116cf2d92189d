/*
 * test_progress.c - an indicator's direction-aware progress and course
 * (protocol/progress.c).
 *
 * The cases live in tests/progress_cases.json, which the page's twin
 * (web/js/progress.js, tests/unit/progress.test.mjs) is held to as well: a
 * case added there checks both. The tests written out here are the ones the
 * issue names, readable without the file, and the C interface's own edges.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "tafel_progress.h"

#ifndef TAFEL_PROGRESS_CASES
#error "TAFEL_PROGRESS_CASES: the path of tests/progress_cases.json"
#endif

#define NUM_EPS 1e-9

#define N(a) (sizeof(a) / sizeof((a)[0]))

static struct tafel_progress run(double baseline, double target, enum tafel_direction dir,
                                 const struct tafel_measurement *m, size_t n)
{
    struct tafel_progress_input in = {true, true, baseline, target, dir};
    struct tafel_progress p;
    tafel_progress_compute(&in, m, n, &p);
    return p;
}

/* The issue's own example: loneliness fell from 44 % to 41.5 % towards 38 %
 * with "lower is better"; the report said "stijgend". */
static void test_issue_example(void **state)
{
    (void)state;
    const struct tafel_measurement m[] = {{"2023-01-01", 44}, {"2024-01-01", 41.5}};
    struct tafel_progress p = run(44, 38, TAFEL_DIRECTION_DOWN, m, N(m));
    assert_true(p.has_progress);
    assert_true(fabs(p.progress - (44 - 41.5) / (44 - 38.0)) < NUM_EPS);
    assert_int_equal(p.trend, TAFEL_TREND_DOWN);
    assert_int_equal(p.course, TAFEL_COURSE_ON);
    assert_true(p.has_latest);
    assert_int_equal(p.latest, 1);
    assert_string_equal(tafel_course_word(p.course), "op_koers");
}

static void test_rising_and_falling(void **state)
{
    (void)state;
    const struct tafel_measurement rise[] = {{"2025-01-01", 53}, {"2025-07-01", 58}};
    const struct tafel_measurement fall[] = {{"2025-01-01", 58}, {"2025-07-01", 53}};
    assert_int_equal(run(52, 75, TAFEL_DIRECTION_UP, rise, 2).course, TAFEL_COURSE_ON);
    assert_int_equal(run(52, 75, TAFEL_DIRECTION_UP, fall, 2).course, TAFEL_COURSE_OFF);
    assert_int_equal(run(75, 52, TAFEL_DIRECTION_DOWN, fall, 2).course, TAFEL_COURSE_ON);
    assert_int_equal(run(75, 52, TAFEL_DIRECTION_DOWN, rise, 2).course, TAFEL_COURSE_OFF);
    /* moving away from the target: progress below zero */
    struct tafel_progress p = run(60, 75, TAFEL_DIRECTION_UP, fall, 2);
    assert_true(p.progress < 0);
    assert_int_equal(p.course, TAFEL_COURSE_OFF);
}

static void test_reaching_and_passing(void **state)
{
    (void)state;
    const struct tafel_measurement at[] = {{"2025-01-01", 30}, {"2025-07-01", 20}};
    const struct tafel_measurement past[] = {{"2025-01-01", 25}, {"2025-07-01", 15}};
    struct tafel_progress p = run(40, 20, TAFEL_DIRECTION_DOWN, at, 2);
    assert_true(fabs(p.progress - 1) < NUM_EPS);
    p = run(40, 20, TAFEL_DIRECTION_DOWN, past, 2);
    assert_true(fabs(p.progress - 1.25) < NUM_EPS);
    assert_int_equal(p.course, TAFEL_COURSE_ON);
}

static void test_too_few_measurements(void **state)
{
    (void)state;
    const struct tafel_measurement one[] = {{"2024-01-01", 42}};
    struct tafel_progress p = run(44, 38, TAFEL_DIRECTION_DOWN, one, 1);
    assert_true(p.has_latest);
    assert_true(p.has_progress);
    assert_int_equal(p.trend, TAFEL_TREND_NONE);
    assert_int_equal(p.course, TAFEL_COURSE_UNKNOWN);
    assert_string_equal(tafel_course_word(p.course), "onbekend");
    p = run(44, 38, TAFEL_DIRECTION_DOWN, NULL, 0);
    assert_false(p.has_latest);
    assert_false(p.has_progress);
    assert_int_equal(p.count, 0);
    assert_int_equal(p.course, TAFEL_COURSE_UNKNOWN);
}

static void test_equal_baseline_and_target(void **state)
{
    (void)state;
    const struct tafel_measurement m[] = {{"2025-01-01", 49}, {"2025-06-01", 51}};
    struct tafel_progress p = run(50, 50, TAFEL_DIRECTION_UP, m, 2);
    assert_false(p.has_progress);
    assert_int_equal(p.course, TAFEL_COURSE_ON);
    p = run(50, 50, TAFEL_DIRECTION_NONE, m, 2);
    assert_int_equal(p.direction, TAFEL_DIRECTION_NONE);
    assert_int_equal(p.course, TAFEL_COURSE_UNKNOWN);
}

static void test_unsorted_dates(void **state)
{
    (void)state;
    const struct tafel_measurement m[] = {
        {"2025-03-31", 31}, {"2025-01-31", 38}, {"2025-02-28", 35}};
    struct tafel_progress p = run(40, 20, TAFEL_DIRECTION_DOWN, m, N(m));
    assert_int_equal(p.latest, 0);
    assert_int_equal(p.trend, TAFEL_TREND_DOWN);
    assert_int_equal(p.course, TAFEL_COURSE_ON);
}

/* Measurements without a usable date or value are left out, and a missing
 * baseline or target only takes progress (and a derived direction) away. */
static void test_edges(void **state)
{
    (void)state;
    const struct tafel_measurement m[] = {
        {NULL, 1}, {"2025-01-01", 10}, {"not a date", 99}, {"2025-06-01", NAN}, {"2025-07-01", 12}};
    struct tafel_progress_input in = {false, true, 0, 20, TAFEL_DIRECTION_NONE};
    struct tafel_progress p;
    tafel_progress_compute(&in, m, N(m), &p);
    assert_int_equal(p.count, 2);
    assert_int_equal(p.latest, 4);
    assert_int_equal(p.window, 2);
    assert_false(p.has_progress);
    assert_int_equal(p.direction, TAFEL_DIRECTION_NONE);
    assert_int_equal(p.trend, TAFEL_TREND_UP);
    assert_int_equal(p.course, TAFEL_COURSE_UNKNOWN);
    /* the window holds at most TAFEL_PROGRESS_WINDOW measurements */
    struct tafel_measurement many[12];
    char dates[12][11];
    for (int i = 0; i < 12; i++) {
        snprintf(dates[i], sizeof(dates[i]), "2025-%02d-01", i + 1);
        many[i] = (struct tafel_measurement){dates[i], (double)i};
    }
    p = run(0, 20, TAFEL_DIRECTION_UP, many, 12);
    assert_int_equal(p.window, TAFEL_PROGRESS_WINDOW);
    assert_int_equal(p.count, 12);
    assert_int_equal(p.latest, 11);
}

static void test_words(void **state)
{
    (void)state;
    assert_int_equal(tafel_direction_parse("omhoog"), TAFEL_DIRECTION_UP);
    assert_int_equal(tafel_direction_parse("omlaag"), TAFEL_DIRECTION_DOWN);
    assert_int_equal(tafel_direction_parse("hoger"), TAFEL_DIRECTION_NONE);
    assert_int_equal(tafel_direction_parse(NULL), TAFEL_DIRECTION_NONE);
    assert_string_equal(tafel_direction_word(TAFEL_DIRECTION_DOWN), "omlaag");
    assert_null(tafel_direction_word(TAFEL_DIRECTION_NONE));
    assert_string_equal(tafel_trend_word(TAFEL_TREND_FLAT), "flat");
    assert_string_equal(tafel_trend_word(TAFEL_TREND_NONE), "none");
    assert_string_equal(tafel_course_word(TAFEL_COURSE_OFF), "niet_op_koers");
}

/* ------------------------------------------------- the shared cases file */

static bool num_equal(const json_t *want, bool has, double got)
{
    if (json_is_null(want))
        return !has;
    return has && fabs(json_number_value(want) - got) <= NUM_EPS;
}

/* Check one member of a case's expect; false (and a message) on mismatch. */
static bool check(const char *name, const char *member, bool ok)
{
    if (!ok)
        print_error("case \"%s\": %s differs\n", name, member);
    return ok;
}

static bool run_case(const json_t *c)
{
    const char *name = json_string_value(json_object_get(c, "name"));
    const json_t *ind = json_object_get(c, "indicator");
    const json_t *ms = json_object_get(c, "metingen");
    const json_t *want = json_object_get(c, "expect");
    const json_t *b = json_object_get(ind, "baseline"), *t = json_object_get(ind, "target");
    struct tafel_progress_input in = {
        json_is_number(b), json_is_number(t), json_number_value(b), json_number_value(t),
        tafel_direction_parse(json_string_value(json_object_get(ind, "direction")))};
    struct tafel_measurement m[16];
    size_t n = json_array_size(ms);
    assert_true(n <= N(m));
    for (size_t i = 0; i < n; i++) {
        const json_t *x = json_array_get(ms, i);
        m[i] = (struct tafel_measurement){json_string_value(json_object_get(x, "date")),
                                          json_number_value(json_object_get(x, "value"))};
    }
    struct tafel_progress p;
    tafel_progress_compute(&in, m, n, &p);

    bool ok = true;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)want, k, v)
    {
        if (strcmp(k, "direction") == 0) {
            const char *w = tafel_direction_word(p.direction);
            ok &= check(name, k, json_is_null(v) ? !w : w && strcmp(w, json_string_value(v)) == 0);
        } else if (strcmp(k, "direction_derived") == 0) {
            ok &= check(name, k, json_is_true(v) == p.direction_derived);
        } else if (strcmp(k, "count") == 0) {
            ok &= check(name, k, (size_t)json_integer_value(v) == p.count);
        } else if (strcmp(k, "window") == 0) {
            ok &= check(name, k, (size_t)json_integer_value(v) == p.window);
        } else if (strcmp(k, "latest_date") == 0) {
            ok &= check(name, k,
                        json_is_null(v)
                            ? !p.has_latest
                            : p.has_latest && strcmp(m[p.latest].date, json_string_value(v)) == 0);
        } else if (strcmp(k, "latest_value") == 0) {
            ok &= check(name, k, num_equal(v, p.has_latest, p.has_latest ? m[p.latest].value : 0));
        } else if (strcmp(k, "progress") == 0) {
            ok &= check(name, k, num_equal(v, p.has_progress, p.progress));
        } else if (strcmp(k, "slope") == 0) {
            ok &= check(name, k, num_equal(v, true, p.slope));
        } else if (strcmp(k, "trend") == 0) {
            ok &= check(name, k, strcmp(tafel_trend_word(p.trend), json_string_value(v)) == 0);
        } else if (strcmp(k, "course") == 0) {
            ok &= check(name, k, strcmp(tafel_course_word(p.course), json_string_value(v)) == 0);
        } else {
            ok &= check(name, k, false); /* a member this test does not know */
        }
    }
    return ok;
}

static void test_shared_cases(void **state)
{
    (void)state;
    json_error_t err;
    json_t *doc = json_load_file(TAFEL_PROGRESS_CASES, 0, &err);
    if (!doc)
        print_error("%s:%d: %s\n", TAFEL_PROGRESS_CASES, err.line, err.text);
    assert_non_null(doc);
    const json_t *cases = json_object_get(doc, "cases");
    assert_true(json_array_size(cases) >= 20);
    size_t i, failed = 0;
    json_t *c;
    json_array_foreach(cases, i, c) failed += !run_case(c);
    json_decref(doc);
    assert_int_equal(failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_issue_example),
        cmocka_unit_test(test_rising_and_falling),
        cmocka_unit_test(test_reaching_and_passing),
        cmocka_unit_test(test_too_few_measurements),
        cmocka_unit_test(test_equal_baseline_and_target),
        cmocka_unit_test(test_unsorted_dates),
        cmocka_unit_test(test_edges),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_shared_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
