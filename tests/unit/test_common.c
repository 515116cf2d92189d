/*
 * test_common.c - the error table and the RFC 3339 clock helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "tafel_err.h"
#include "tafel_time.h"

static void test_err_tables(void **state)
{
    (void)state;
    assert_string_equal(tafel_err_wire(TAFEL_E_CONFLICT), "conflict");
    assert_string_equal(tafel_err_wire(TAFEL_E_MAP_FULL), "unavailable");
    assert_string_equal(tafel_err_wire(TAFEL_E_BAD_UTF8), "bad_request");
    assert_string_equal(tafel_err_name(TAFEL_E_KEY_REVOKED), "KEY_REVOKED");
    assert_string_equal(tafel_err_wire((enum tafel_err)999), "internal");
    /* Every internal code maps onto one of the nine wire codes. */
    static const char *const wire[] = {"ok",          "bad_request", "unauthorized", "forbidden",
                                       "not_found",   "conflict",    "too_large",    "rate_limited",
                                       "unavailable", "internal"};
    for (int e = 0; e < TAFEL_E__COUNT; e++) {
        int found = 0;
        for (size_t i = 0; i < sizeof(wire) / sizeof(wire[0]); i++)
            found |= strcmp(tafel_err_wire((enum tafel_err)e), wire[i]) == 0;
        assert_true(found);
        assert_non_null(tafel_strerror((enum tafel_err)e));
    }
}

static void test_errinfo_sanitises(void **state)
{
    (void)state;
    struct tafel_errinfo info;
    assert_int_equal(tafel_errinfo_set(&info, TAFEL_E_BAD_REQUEST, "a\nb", "x\001y %d", 5),
                     TAFEL_E_BAD_REQUEST);
    assert_string_equal(info.field, "a?b");
    assert_string_equal(info.message, "x?y 5");
    tafel_errinfo_clear(&info);
    assert_int_equal(info.code, TAFEL_E_OK);
    assert_string_equal(info.message, "");
}

static void test_time_roundtrip(void **state)
{
    (void)state;
    char buf[TAFEL_TIME_STRLEN];
    assert_string_equal(tafel_time_format(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(tafel_time_format(1795426502123LL, buf), "2026-11-23T09:35:02.123Z");
    int64_t ms;
    assert_true(tafel_time_parse("2026-11-23T09:35:02.123Z", &ms));
    assert_int_equal(ms, 1795426502123LL);
    assert_true(tafel_time_parse("2026-11-23T10:35:02.123+01:00", &ms));
    assert_int_equal(ms, 1795426502123LL);
    assert_true(tafel_time_parse("2024-02-29T00:00:00Z", &ms));
    assert_false(tafel_time_parse("2023-02-29T00:00:00Z", &ms));
    assert_false(tafel_time_parse("2026-11-23 09:35:02Z", &ms));
    assert_false(tafel_time_parse("2026-11-23T09:35:02", &ms));
    assert_false(tafel_time_parse("2026-11-23T24:00:00Z", &ms));
    assert_false(tafel_time_parse("2026-11-23T09:35:02.Z", &ms));
    assert_false(tafel_time_parse("2026-11-23T09:35:02Zjunk", &ms));
    assert_int_equal(tafel_time_now_ms() > 1700000000000LL, 1);
}

static void test_dates(void **state)
{
    (void)state;
    assert_true(tafel_date_valid("2026-11-23"));
    assert_true(tafel_date_valid("2000-02-29"));
    assert_false(tafel_date_valid("1900-02-29"));
    assert_false(tafel_date_valid("2026-13-01"));
    assert_false(tafel_date_valid("2026-04-31"));
    assert_false(tafel_date_valid("2026-1-01"));
    assert_false(tafel_date_valid("2026-01-01T"));
    assert_false(tafel_date_valid(""));
    assert_false(tafel_date_valid(NULL));
}

/* One parser for tafeld's retention terms and tafel's --expires. */
static void test_durations(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_true(tafel_duration_parse("30d", false, &ms));
    assert_int_equal(ms, 30LL * 86400000);
    assert_true(tafel_duration_parse("1.5h", false, &ms));
    assert_int_equal(ms, 5400000);
    assert_true(tafel_duration_parse("2w", false, &ms));
    assert_int_equal(ms, 14LL * 86400000);
    assert_true(tafel_duration_parse("1y", false, &ms));
    assert_int_equal(ms, 365LL * 86400000);
    assert_true(tafel_duration_parse("0", false, &ms));
    assert_int_equal(ms, 0);
    assert_true(tafel_duration_parse("3600", true, &ms)); /* bare seconds when allowed */
    assert_int_equal(ms, 3600000);
    static const char *const bad[] = {"30",  "-1d", "3x",  "d",   "inf d", "1e9y",
                                      "0.5", "",    " 1d", "1dd", "+1d"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(tafel_duration_parse(bad[i], false, &ms));
    assert_false(tafel_duration_parse("soon", true, &ms));
    assert_false(tafel_duration_parse("1001y", true, &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_tables),     cmocka_unit_test(test_errinfo_sanitises),
        cmocka_unit_test(test_time_roundtrip), cmocka_unit_test(test_dates),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
