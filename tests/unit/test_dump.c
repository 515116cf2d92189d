/*
 * test_dump.c - storage's own JSON serialiser (storage/dump.c) must write
 * exactly what jansson's json_dumps(JSON_COMPACT) writes: stored texts are
 * compared and replayed byte for byte, whichever wrote them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store_base.h"

static void same_as_jansson(const json_t *doc)
{
    char *want = json_dumps(doc, JSON_COMPACT);
    size_t len = 0;
    char *got = store__dump(doc, 7, 5, &len);
    assert_non_null(want);
    assert_non_null(got);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(got + 7, want, len);
    assert_int_equal(got[7 + len], '\0');
    memset(got, 0x55, 7); /* the room before is the caller's */
    memset(got + 7 + len + 1, 0x55, 5);
    free(want);
    free(got);
}

static void test_documents(void **state)
{
    (void)state;
    const char *texts[] = {
        "{}",
        "[]",
        "{\"id\":\"0G1A2B3C4xyz\",\"kind\":\"reflectie\",\"rev\":3,\"hidden\":false,"
        "\"votes\":0,\"pinned\":true,\"text\":\"Wat goed! \\u00e9\\u20ac\\ud83d\\ude00\","
        "\"x\":null}",
        "{\"esc\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\","
        "\"ctl\":\"\\u0001\\u001f\\u007f\",\"sep\":\"\\u2028\\u2029\"}",
        "{\"n\":[-9223372036854775808,9223372036854775807,0,1.5,-0.25,1e300,3.0],"
        "\"deep\":{\"a\":[{\"b\":[[],{}]}]}}",
        "{\"\\\"key\\n\":\"v\",\"\\u00fc\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_error_t e;
        json_t *doc = json_loads(texts[i], 0, &e);
        assert_non_null(doc);
        same_as_jansson(doc);
        json_decref(doc);
    }
}

static void test_grows(void **state)
{
    (void)state;
    /* Longer than the first guess of the block: it must grow, keeping the
     * room before and after. */
    json_t *doc = json_object();
    char key[16];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(doc, key, json_string("een tekst van enige lengte \"met\" tekens"));
    }
    same_as_jansson(doc);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_documents),
        cmocka_unit_test(test_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
