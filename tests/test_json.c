/* test_json.c - the strict JSON parser of src/io: valid documents, escapes, limits, garbage. */
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/json.h"
#include "testutil.h"

static rn_json_doc *parse_ok(const char *text) {
    char msg[200];
    rn_json_doc *doc = NULL;
    int rc = rn_json_parse(text, strlen(text), NULL, &doc, msg, sizeof msg);
    CHECK(rc == 0 && doc, "parse of %s failed: %s", text, msg);
    return doc;
}

/* Parses text (len bytes) expecting failure; returns the message (static). */
static const char *parse_bad_n(const char *text, size_t len, const rn_json_options *o) {
    static char msg[200];
    rn_json_doc *doc = NULL;
    int rc = rn_json_parse(text, len, o, &doc, msg, sizeof msg);
    CHECK(rc == -1 && doc == NULL, "parse of '%.*s' should fail (rc %d)", (int)len, text, rc);
    CHECK(strncmp(msg, "line ", 5) == 0, "message has a position: %s", msg);
    if (doc) rn_json_free(doc);
    return msg;
}

static const char *parse_bad(const char *text) { return parse_bad_n(text, strlen(text), NULL); }

static void test_values(void) {
    rn_json_doc *doc = parse_ok(" {\"a\": [1, -2.5, 3e2, true, false, null, \"s\", {}, []],\n \"b\": {\"c\": \"d\"}} ");
    if (!doc) return;
    const rn_json *r = rn_json_root(doc);
    CHECK(rn_json_is(r, RN_JSON_OBJECT) && rn_json_count(r) == 2, "root object");
    const rn_json *a = rn_json_get(r, "a");
    CHECK(rn_json_count(a) == 9, "array of 9");
    double d;
    int64_t i;
    int b;
    CHECK(rn_json_int64(rn_json_at(a, 0), &i) && i == 1, "1");
    CHECK(rn_json_number(rn_json_at(a, 1), &d) && d == -2.5, "-2.5");
    CHECK(!rn_json_int64(rn_json_at(a, 1), &i), "-2.5 is not an integer");
    CHECK(rn_json_number(rn_json_at(a, 2), &d) && d == 300.0, "3e2");
    CHECK(!rn_json_int64(rn_json_at(a, 2), &i), "3e2 is not an integer literal");
    CHECK(rn_json_bool(rn_json_at(a, 3), &b) && b == 1, "true");
    CHECK(rn_json_bool(rn_json_at(a, 4), &b) && b == 0, "false");
    CHECK(rn_json_is(rn_json_at(a, 5), RN_JSON_NULL), "null");
    CHECK(strcmp(rn_json_string(rn_json_at(a, 6), NULL), "s") == 0, "string");
    CHECK(rn_json_is(rn_json_at(a, 7), RN_JSON_OBJECT) && rn_json_count(rn_json_at(a, 7)) == 0, "{}");
    CHECK(rn_json_is(rn_json_at(a, 8), RN_JSON_ARRAY) && rn_json_count(rn_json_at(a, 8)) == 0, "[]");
    CHECK(rn_json_at(a, 9) == NULL, "past the end");
    CHECK(strcmp(rn_json_string(rn_json_get(rn_json_get(r, "b"), "c"), NULL), "d") == 0, "nested");
    CHECK(rn_json_get(r, "zz") == NULL && rn_json_get(a, "a") == NULL && rn_json_at(r, 0) == NULL, "misses");
    CHECK(rn_json_string(rn_json_at(a, 0), NULL) == NULL && !rn_json_number(rn_json_at(a, 6), &d), "wrong types");
    CHECK(rn_json_get(NULL, "a") == NULL && rn_json_count(NULL) == 0 && rn_json_string(NULL, NULL) == NULL, "NULLs");
    CHECK(rn_json_at(a, 1)->pos == 11, "value position %zu", rn_json_at(a, 1)->pos);
    rn_json_free(doc);

    /* scalars at the root */
    const char *roots[] = {"0", "-0", "\"x\"", "true", "null", " 7 "};
    for (size_t k = 0; k < sizeof roots / sizeof *roots; k++) {
        doc = parse_ok(roots[k]);
        rn_json_free(doc);
    }
}

static void test_numbers(void) {
    struct {
        const char *text;
        double value;
        int is_int;
        int64_t ivalue;
    } cases[] = {
        {"0", 0, 1, 0},
        {"-0", 0, 1, 0},
        {"123456789", 123456789, 1, 123456789},
        {"9007199254740993", 9007199254740992.0, 1, INT64_C(9007199254740993)}, /* 2^53+1: exact as int */
        {"9223372036854775807", 9223372036854775807.0, 1, INT64_MAX},
        {"-9223372036854775808", -9223372036854775808.0, 1, INT64_MIN},
        {"9223372036854775808", 9223372036854775808.0, 0, 0}, /* too big for int64 */
        {"0.001", 0.001, 0, 0},
        {"1.5e-3", 0.0015, 0, 0},
        {"-1E+2", -100, 0, 0},
        {"1e-400", 0, 0, 0}, /* underflow to 0 is fine */
        {"0.1000000000000000055511151231257827021181583404541015625", 0.1, 0, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        rn_json_doc *doc = parse_ok(cases[k].text);
        if (!doc) continue;
        const rn_json *v = rn_json_root(doc);
        double d = -1;
        int64_t i = -1;
        CHECK(rn_json_number(v, &d) && d == cases[k].value, "%s -> %.17g", cases[k].text, d);
        CHECK(rn_json_int64(v, &i) == cases[k].is_int, "%s integer-ness", cases[k].text);
        if (cases[k].is_int) CHECK(i == cases[k].ivalue, "%s -> %lld", cases[k].text, (long long)i);
        rn_json_free(doc);
    }
    /* the locale's decimal comma must not matter */
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        rn_json_doc *doc = parse_ok("2.5");
        double d = 0;
        CHECK(doc && rn_json_number(rn_json_root(doc), &d) && d == 2.5, "2.5 under a comma locale: %g", d);
        rn_json_free(doc);
        setlocale(LC_NUMERIC, "C");
    }
}

static void test_strings(void) {
    struct {
        const char *json, *want;
    } cases[] = {
        {"\"plain\"", "plain"},
        {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t"},
        {"\"\\u0041\\u00e9\\u20AC\"", "A\xC3\xA9\xE2\x82\xAC"},
        {"\"\\ud83d\\ude00\"", "\xF0\x9F\x98\x80"}, /* surrogate pair -> U+1F600 */
        {"\"h\xC3\xA9llo \xF0\x9F\x98\x80\"", "h\xC3\xA9llo \xF0\x9F\x98\x80"},
        {"\"\"", ""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        rn_json_doc *doc = parse_ok(cases[k].json);
        size_t len = 0;
        const char *s = doc ? rn_json_string(rn_json_root(doc), &len) : NULL;
        CHECK(s && strcmp(s, cases[k].want) == 0 && len == strlen(cases[k].want), "string %s", cases[k].json);
        rn_json_free(doc);
    }
    /* keys decode too */
    rn_json_doc *doc = parse_ok("{\"k\\u00e9y\": 1}");
    CHECK(doc && rn_json_get(rn_json_root(doc), "k\xC3\xA9y") != NULL, "escaped key");
    rn_json_free(doc);
}

static void test_explicit_length(void) {
    /* the input is not NUL-terminated: only len bytes count */
    char buf[8] = {'[', '1', ',', '2', ']', 'x', 'y', 'z'};
    rn_json_doc *doc = NULL;
    char msg[200];
    CHECK(rn_json_parse(buf, 5, NULL, &doc, msg, sizeof msg) == 0, "[1,2] of a longer buffer: %s", msg);
    CHECK(doc && rn_json_count(rn_json_root(doc)) == 2, "two items");
    rn_json_free(doc);
    const char *m = parse_bad_n(buf, 4, NULL); /* "[1,2" */
    CHECK(strstr(m, "expected ',' or ']'") != NULL, "cut array: %s", m);
    char num[3] = {'1', '2', '3'};
    CHECK(rn_json_parse(num, 2, NULL, &doc, msg, sizeof msg) == 0, "12 of 123");
    int64_t i = 0;
    CHECK(doc && rn_json_int64(rn_json_root(doc), &i) && i == 12, "12, got %lld", (long long)i);
    rn_json_free(doc);
    char str[4] = {'"', 'a', 'b', '"'};
    m = parse_bad_n(str, 3, NULL);
    CHECK(strstr(m, "unterminated") != NULL, "cut string: %s", m);
}

static void test_depth(void) {
    char buf[300];
    for (int depth = 1; depth <= 100; depth++) {
        for (int i = 0; i < depth; i++) buf[i] = '[';
        for (int i = 0; i < depth; i++) buf[depth + i] = ']';
        rn_json_doc *doc = NULL;
        char msg[200];
        int rc = rn_json_parse(buf, 2 * (size_t)depth, NULL, &doc, msg, sizeof msg);
        if (depth <= 64) CHECK(rc == 0, "depth %d parses: %s", depth, msg);
        else CHECK(rc == -1 && strstr(msg, "nesting deeper than 64") != NULL, "depth %d: %s", depth, msg);
        rn_json_free(doc);
    }
    rn_json_options o = {2, 0, 0};
    const char *m = parse_bad_n("{\"a\":{\"b\":[]}}", 14, &o);
    CHECK(strstr(m, "nesting deeper than 2") != NULL, "custom depth: %s", m);
    /* a deep hostile document must fail cleanly, not overflow the stack */
    size_t n = 1000000;
    char *deep = malloc(n);
    if (deep) {
        memset(deep, '[', n);
        parse_bad_n(deep, n, NULL);
        o.max_depth = 1 << 30; /* clamped internally */
        parse_bad_n(deep, n, &o);
        free(deep);
    }
}

static void test_max_values(void) {
    /* 5 values: the array, 1, the object, its "b" value, the inner array */
    const char *text = "[1, {\"a\": 2, \"b\": []}]";
    rn_json_options o = {0, 0, 4};
    const char *m = parse_bad_n(text, strlen(text), &o);
    CHECK(strstr(m, "more than 4 values") && strstr(m, "column 19"), "the fifth value refused: %s", m);
    o.max_values = 5;
    rn_json_doc *doc = NULL;
    char msg[200];
    CHECK(rn_json_parse(text, strlen(text), &o, &doc, msg, sizeof msg) == 0, "five values, limit 5: %s", msg);
    rn_json_free(doc);
    o.max_values = 0; /* no limit */
    doc = NULL;
    CHECK(rn_json_parse(text, strlen(text), &o, &doc, msg, sizeof msg) == 0, "no limit: %s", msg);
    rn_json_free(doc);
}

static void test_duplicates(void) {
    const char *text = "{\"a\": 1, \"b\": 2, \"a\": 3}";
    rn_json_doc *doc = parse_ok(text);
    int64_t v = 0;
    CHECK(doc && rn_json_count(rn_json_root(doc)) == 3, "duplicates kept by default");
    CHECK(doc && rn_json_int64(rn_json_get(rn_json_root(doc), "a"), &v) && v == 1, "first wins");
    rn_json_free(doc);
    rn_json_options o = {0, 1, 0};
    const char *m = parse_bad_n(text, strlen(text), &o);
    CHECK(strstr(m, "duplicate key \"a\"") && strstr(m, "column 23"), "rejected: %s", m);
    /* a key with escaped controls and quotes: the message stays one line */
    const char *odd = "{\"x\\ny\\u007f\\\"\": 1, \"x\\ny\\u007f\\\"\": 2}";
    m = parse_bad_n(odd, strlen(odd), &o);
    CHECK(strstr(m, "duplicate key \"x?y??\"") && !strchr(m, '\n'), "rejected on one line: %s", m);
    const char *fine = "{\"a\": {\"a\": 1}, \"ab\": 2, \"b\": 3}";
    doc = NULL;
    char msg[200];
    CHECK(rn_json_parse(fine, strlen(fine), &o, &doc, msg, sizeof msg) == 0, "distinct keys: %s", msg);
    rn_json_free(doc);
}

static void test_garbage(void) {
    struct {
        const char *text;
        const char *want; /* a piece of the message */
    } cases[] = {
        {"", "unexpected end of input"},
        {"   ", "unexpected end of input"},
        {"[1,]", "expected a value, found ']'"},
        {"{\"a\":1,}", "expected a string key"},
        {"{a:1}", "expected a string key"},
        {"{\"a\" 1}", "expected ':'"},
        {"[1 2]", "expected ',' or ']'"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}'"},
        {"01", "leading zero"},
        {"1.", "no digits after '.'"},
        {".5", "expected a value"},
        {"1e", "exponent"},
        {"+1", "expected a value"},
        {"-", "invalid number"},
        {"tru", "invalid literal"},
        {"nul", "invalid literal"},
        {"True", "expected a value"},
        {"NaN", "expected a value"},
        {"Infinity", "expected a value"},
        {"1e999", "out of range"},
        {"-1e999", "out of range"},
        {"\"abc", "unterminated"},
        {"\"\\x\"", "invalid escape"},
        {"\"\\u12G4\"", "hex digit"},
        {"\"\\u12\"", "truncated \\u escape"},
        {"\"\\ud800\"", "unpaired high surrogate"},
        {"\"\\ud800\\u0041\"", "not followed by a low surrogate"},
        {"\"\\udc00\"", "unpaired low surrogate"},
        {"\"\\u0000\"", "\\u0000"},
        {"\"a\nb\"", "raw control character"},
        {"\"\t\"", "raw control character"},
        {"\xFF", "byte 0xFF"},
        {"\"\xC0\xAF\"", "invalid UTF-8"},         /* overlong '/' */
        {"\"\xED\xA0\x80\"", "invalid UTF-8"},     /* encoded surrogate */
        {"\"\xF4\x90\x80\x80\"", "invalid UTF-8"}, /* above U+10FFFF */
        {"\"\xE2\x82\"", "invalid UTF-8"},         /* cut sequence */
        {"\xEF\xBB\xBF{}", "byte 0xEF"},           /* BOM */
        {"[1]x", "after the document"},
        {"{} {}", "after the document"},
        {"// c\n1", "expected a value"},
        {"'a'", "expected a value"},
        {"\x01", "byte 0x01"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const char *m = parse_bad(cases[k].text);
        CHECK(strstr(m, cases[k].want) != NULL, "case %zu: '%s' -> '%s', want '%s'", k, cases[k].text, m,
              cases[k].want);
    }
    /* positions */
    const char *m = parse_bad("{\n  \"a\": x}");
    CHECK(strncmp(m, "line 2 column 8:", 16) == 0, "position: %s", m);
    /* a tiny error buffer is fine */
    char tiny[8];
    rn_json_doc *doc = NULL;
    CHECK(rn_json_parse("[", 1, NULL, &doc, tiny, sizeof tiny) == -1 && strlen(tiny) == 7, "truncated message");
    CHECK(rn_json_parse("[", 1, NULL, &doc, NULL, 0) == -1, "no error buffer");
}

/* The writer's arrays parse back to the same bytes: quotes, backslashes, every control
 * character, UTF-8 of every length, an empty string. */
static void test_write_strings(void) {
    char ctl[32];
    for (int i = 1; i < 32; i++) ctl[i - 1] = (char)i;
    ctl[31] = '\0';
    const char *s[] = {"plain", "\"quoted\" \\ back\\slash \\u0041", ctl, "caf\xc3\xa9 \xe7\x8c\xab \xf0\x9f\x90\x88 \x7f", ""};
    const size_t n = sizeof s / sizeof s[0];
    char *text = rn_json_string_array(s, n);
    CHECK(text != NULL, "written");
    if (!text) return;
    rn_json_doc *doc = parse_ok(text);
    const rn_json *r = doc ? rn_json_root(doc) : NULL;
    CHECK(rn_json_is(r, RN_JSON_ARRAY) && rn_json_count(r) == n, "an array of %zu: %s", n, text);
    for (size_t i = 0; r && i < n && i < rn_json_count(r); i++) {
        size_t len = 0;
        const char *v = rn_json_string(rn_json_at(r, i), &len);
        CHECK(v && len == strlen(s[i]) && memcmp(v, s[i], len) == 0, "string %zu comes back as written", i);
    }
    if (doc) rn_json_free(doc);
    free(text);
    text = rn_json_string_array(NULL, 0);
    CHECK(text && strcmp(text, "[]") == 0, "no strings: []");
    free(text);
}

static void test_utf8(void) {
    CHECK(rn_utf8_valid("abc", 3) && rn_utf8_valid("\xC3\xA9", 2) && rn_utf8_valid("", 0), "valid UTF-8");
    CHECK(!rn_utf8_valid("\xC3", 1) && !rn_utf8_valid("\x80", 1) && !rn_utf8_valid("\xF5\x80\x80\x80", 4),
          "invalid UTF-8");
}

/* Random mutations of a valid document: parse must fail or succeed, never crash or leak. */
static void test_fuzz(void) {
    const char *seed = "{\"__metadata__\":{\"k\":\"v\\u00e9\"},\"t\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                       "\"data_offsets\":[0,24]},\"x\":[true,false,null,-1.5e3,\"\\ud83d\\ude00\"]}";
    size_t n = strlen(seed);
    char *buf = malloc(n);
    unsigned state = 12345;
    int parsed = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, seed, n);
        int flips = 1 + iter % 4;
        for (int f = 0; f < flips; f++) {
            state = state * 1103515245u + 12345u;
            size_t at = (state >> 8) % n;
            state = state * 1103515245u + 12345u;
            buf[at] = (char)(state >> 16);
        }
        state = state * 1103515245u + 12345u;
        size_t len = iter % 3 ? n : (state >> 8) % (n + 1);
        rn_json_doc *doc = NULL;
        char msg[200];
        int rc = rn_json_parse(buf, len, NULL, &doc, msg, sizeof msg);
        CHECK(rc == 0 || rc == -1, "rc %d", rc);
        if (rc == 0) parsed++;
        rn_json_free(doc);
    }
    free(buf);
    CHECK(parsed > 0, "some mutations still parse");
}

int main(void) {
    RUN(test_values);
    RUN(test_numbers);
    RUN(test_strings);
    RUN(test_explicit_length);
    RUN(test_depth);
    RUN(test_max_values);
    RUN(test_duplicates);
    RUN(test_garbage);
    RUN(test_write_strings);
    RUN(test_utf8);
    RUN(test_fuzz);
    return TEST_DONE();
}
