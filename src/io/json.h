/* json.h - a small, strict JSON parser, and a writer of string arrays (internal).
 *
 * Parses a whole document (explicit length, no NUL terminator needed) into a read-only
 * tree that lives in one arena, freed with rn_json_free():
 *
 *     char msg[160];
 *     rn_json_doc *doc;
 *     if (rn_json_parse(text, len, NULL, &doc, msg, sizeof msg) != 0) {
 *         fprintf(stderr, "%s: %s\n", path, msg);   // "line 3 column 7: expected ':' ..."
 *         return;
 *     }
 *     const rn_json *shape = rn_json_get(rn_json_root(doc), "shape");
 *     int64_t dim0;
 *     if (rn_json_int64(rn_json_at(shape, 0), &dim0)) ...
 *     rn_json_free(doc);
 *
 * Strict RFC 8259: no comments, trailing commas, NaN/Infinity, leading zeros, single quotes
 * or raw control characters; strings must be valid UTF-8 (no overlong forms, surrogates or
 * code points above U+10FFFF); \uXXXX escapes (surrogate pairs included) become UTF-8.
 * Limits: nesting depth (default 64); the number of values, when asked for (each is a node of
 * about 40 bytes, so "[0,0,...]" takes 20 times its size in the tree); \u0000 is rejected, so
 * every string is a plain NUL-terminated C string; numbers must fit a double (1e999 is an error).
 * Objects keep their members in document order. Duplicate keys are kept (lookups find the
 * first) unless rn_json_options.reject_duplicate_keys is set.
 */
#ifndef RN_JSON_H
#define RN_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum rn_json_type {
    RN_JSON_NULL, RN_JSON_BOOL, RN_JSON_NUMBER, RN_JSON_STRING, RN_JSON_ARRAY, RN_JSON_OBJECT
} rn_json_type;

typedef struct rn_json rn_json;
typedef struct rn_json_member rn_json_member;

struct rn_json {
    rn_json_type type;
    size_t pos; /* byte offset in the input where this value starts */
    union {
        int boolean;
        struct {
            double value;
            int64_t ivalue; /* exact value when is_int */
            int is_int;     /* written as an integer (no fraction/exponent) that fits int64 */
        } num;
        struct {
            const char *s; /* UTF-8, NUL-terminated */
            size_t len;
        } str;
        struct {
            const rn_json *items;
            size_t count;
        } arr;
        struct {
            const rn_json_member *members;
            size_t count;
        } obj;
    } u;
};

struct rn_json_member {
    const char *key; /* UTF-8, NUL-terminated */
    size_t key_len;
    rn_json value;
};

typedef struct rn_json_options {
    int max_depth;             /* arrays/objects nested deeper fail; <= 0 means 64 */
    int reject_duplicate_keys; /* an object with a repeated key is an error */
    size_t max_values;         /* more values than this (arrays, objects and scalars) fail; 0: no limit */
} rn_json_options;

typedef struct rn_json_doc rn_json_doc;

/* Parses text[0..len). Returns 0 and *out on success; -1 on a syntax error (errbuf gets
 * "line L column C: problem"), -2 when out of memory. opts may be NULL. */
int rn_json_parse(const char *text, size_t len, const rn_json_options *opts, rn_json_doc **out,
                  char *errbuf, size_t errsize);
const rn_json *rn_json_root(const rn_json_doc *doc);
void rn_json_free(rn_json_doc *doc);

/* Accessors: all accept NULL and values of the wrong type (and then return NULL / 0). */
const char *rn_json_type_name(rn_json_type t);           /* "null", "boolean", "number", ... */
const rn_json *rn_json_get(const rn_json *obj, const char *key); /* first member named key */
const rn_json *rn_json_at(const rn_json *arr, size_t i);
size_t rn_json_count(const rn_json *v);                  /* items of an array / members of an object */
const rn_json_member *rn_json_member_at(const rn_json *obj, size_t i);
int rn_json_is(const rn_json *v, rn_json_type t);
int rn_json_number(const rn_json *v, double *out);       /* 1 if a number */
int rn_json_int64(const rn_json *v, int64_t *out);       /* 1 if an integer literal that fits */
const char *rn_json_string(const rn_json *v, size_t *len); /* NULL if not a string; len may be NULL */
int rn_json_bool(const rn_json *v, int *out);            /* 1 if true/false */

/* 1-based line and column (in bytes) of byte offset pos of text, for error messages. */
void rn_json_line_col(const char *text, size_t len, size_t pos, size_t *line, size_t *col);

/* 1 if s[0..len) is valid UTF-8 (the rules the parser applies to strings). */
int rn_utf8_valid(const char *s, size_t len);

/* The n NUL-terminated strings as one JSON array of strings, malloc'd ("[\"a\",\"b\"]"): '"'
 * and '\\' escaped, control characters as \u00XX, every other byte as it is (the strings
 * should be UTF-8 for the text to parse back). NULL when out of memory. */
char *rn_json_string_array(const char *const *s, size_t n);

#endif
