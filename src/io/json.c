/* json.c - a small, strict JSON parser into an arena-allocated tree, and a writer of string
 * arrays (see json.h). */
#include "io/json.h"

#include "common.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RN_JSON_DEFAULT_DEPTH 64
#define RN_JSON_MAX_DEPTH 4096 /* hard cap: the parser recurses once per level */

// ---------------------------------------------------------------------------------------
// Arena: every node, member array and string of a document, freed at once.

#define ARENA_ALIGN _Alignof(max_align_t)
#define ARENA_CHUNK ((size_t)64 * 1024)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap, used;
} arena_chunk;

/* chunk data starts after the header, rounded up to ARENA_ALIGN */
#define CHUNK_HDR ((sizeof(arena_chunk) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN)

typedef struct arena {
    arena_chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t size) {
    if (size == 0) size = 1;
    if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
    size = (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        if (cap > SIZE_MAX - CHUNK_HDR) return NULL;
        c = malloc(CHUNK_HDR + cap);
        if (!c) return NULL;
        c->cap = cap;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = (unsigned char *)c + CHUNK_HDR + c->used;
    c->used += size;
    return p;
}

static void arena_free(arena *a) {
    arena_chunk *c = a->head;
    while (c) {
        arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
}

struct rn_json_doc {
    arena arena;
    rn_json root;
};

// ---------------------------------------------------------------------------------------
// UTF-8

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F; /* no UTF-16 surrogates */
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F; /* nothing above U+10FFFF */
    else return 0;
    if (n < len) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return len;
}

int rn_utf8_valid(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        size_t k = utf8_seq(u + i, len - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

// ---------------------------------------------------------------------------------------
// Parser

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    int max_depth, reject_dups;
    size_t max_values, values; /* values parsed so far, at most max_values (0: no limit) */
    arena *arena;
    rn_json_member *stack; /* children of the open arrays/objects, innermost last */
    size_t sp, scap;
    char *buf; /* scratch: decoded strings, long number tokens */
    size_t blen, bcap;
    int status; /* 0, -1 syntax, -2 out of memory */
    size_t err_pos;
    char err[200];
} parser;

static int fail(parser *p, size_t pos, const char *fmt, ...) RN_PRINTF(3, 4);

static int fail(parser *p, size_t pos, const char *fmt, ...) {
    if (p->status == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, sizeof p->err, fmt, ap);
        va_end(ap);
        p->status = -1;
        p->err_pos = pos;
    }
    return -1;
}

static int oom(parser *p) {
    if (p->status == 0) {
        p->status = -2;
        p->err_pos = p->pos;
        snprintf(p->err, sizeof p->err, "out of memory");
    }
    return -1;
}

/* Describes the byte at pos for a message: "'x'", "byte 0x8F" or "end of input". */
static const char *describe(const parser *p, size_t pos, char *tmp, size_t n) {
    if (pos >= p->len) return "end of input";
    unsigned c = p->s[pos];
    if (c >= 0x20 && c < 0x7F) snprintf(tmp, n, "'%c'", (char)c);
    else snprintf(tmp, n, "byte 0x%02X", c);
    return tmp;
}

static void skip_ws(parser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int buf_reserve(parser *p, size_t extra) {
    if (extra > SIZE_MAX - p->blen - 1) return oom(p);
    size_t need = p->blen + extra + 1;
    if (need <= p->bcap) return 0;
    size_t cap = p->bcap ? p->bcap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *b = realloc(p->buf, cap);
    if (!b) return oom(p);
    p->buf = b;
    p->bcap = cap;
    return 0;
}

static int buf_append(parser *p, const void *data, size_t n) {
    if (buf_reserve(p, n)) return -1;
    memcpy(p->buf + p->blen, data, n);
    p->blen += n;
    return 0;
}

static int push(parser *p, const rn_json_member *m) {
    if (p->sp == p->scap) {
        size_t cap = p->scap ? p->scap * 2 : 64;
        if (cap > SIZE_MAX / sizeof *p->stack) return oom(p);
        rn_json_member *st = realloc(p->stack, cap * sizeof *st);
        if (!st) return oom(p);
        p->stack = st;
        p->scap = cap;
    }
    p->stack[p->sp++] = *m;
    return 0;
}

static int hex4(parser *p, size_t at, unsigned *out) {
    if (p->len - at < 4) return fail(p, at, "truncated \\u escape");
    unsigned v = 0;
    for (size_t i = 0; i < 4; i++) {
        unsigned c = p->s[at + i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return fail(p, at + i, "invalid hex digit in \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

static int append_utf8(parser *p, unsigned cp) {
    unsigned char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return buf_append(p, b, n);
}

/* Parses the string at p->pos (the opening quote) into the arena. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
    size_t start = p->pos;
    p->pos++; /* opening quote */
    p->blen = 0;
    for (;;) {
        /* copy a run of plain bytes at once */
        size_t run = p->pos;
        while (run < p->len) {
            unsigned c = p->s[run];
            if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
            run++;
        }
        if (run > p->pos && buf_append(p, p->s + p->pos, run - p->pos)) return -1;
        p->pos = run;
        if (p->pos >= p->len) return fail(p, start, "unterminated string");
        unsigned c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return fail(p, p->pos, "raw control character 0x%02X in string (must be escaped)", c);
        if (c >= 0x80) {
            size_t k = utf8_seq(p->s + p->pos, p->len - p->pos);
            if (!k) return fail(p, p->pos, "invalid UTF-8 in string");
            if (buf_append(p, p->s + p->pos, k)) return -1;
            p->pos += k;
            continue;
        }
        /* backslash */
        size_t esc = p->pos;
        if (p->pos + 1 >= p->len) return fail(p, start, "unterminated string");
        unsigned e = p->s[p->pos + 1];
        p->pos += 2;
        char ch;
        switch (e) {
        case '"': ch = '"'; break;
        case '\\': ch = '\\'; break;
        case '/': ch = '/'; break;
        case 'b': ch = '\b'; break;
        case 'f': ch = '\f'; break;
        case 'n': ch = '\n'; break;
        case 'r': ch = '\r'; break;
        case 't': ch = '\t'; break;
        case 'u': {
            unsigned cp = 0;
            if (hex4(p, p->pos, &cp)) return -1;
            p->pos += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(p, esc, "unpaired low surrogate \\u%04X", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo = 0;
                if (p->len - p->pos < 2 || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u')
                    return fail(p, esc, "unpaired high surrogate \\u%04X", cp);
                if (hex4(p, p->pos + 2, &lo)) return -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, esc, "high surrogate \\u%04X not followed by a low surrogate", cp);
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0) return fail(p, esc, "\\u0000 in strings is not supported");
            if (append_utf8(p, cp)) return -1;
            continue;
        }
        default: {
            char tmp[16];
            return fail(p, esc + 1, "invalid escape \\%s", describe(p, esc + 1, tmp, sizeof tmp));
        }
        }
        if (buf_append(p, &ch, 1)) return -1;
    }
    char *s = arena_alloc(p->arena, p->blen + 1);
    if (!s) return oom(p);
    if (p->blen) memcpy(s, p->buf, p->blen);
    s[p->blen] = '\0';
    *out = s;
    *out_len = p->blen;
    return 0;
}

static int is_digit(unsigned c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p, rn_json *v) {
    size_t start = p->pos, i = p->pos;
    int neg = 0, is_int = 1;
    if (i < p->len && p->s[i] == '-') neg = 1, i++;
    if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number");
    if (p->s[i] == '0') {
        i++;
        if (i < p->len && is_digit(p->s[i])) return fail(p, start, "invalid number (leading zero)");
    } else {
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && p->s[i] == '.') {
        is_int = 0;
        i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number (no digits after '.')");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
        is_int = 0;
        i++;
        if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
        if (i >= p->len || !is_digit(p->s[i])) return fail(p, start, "invalid number (no digits in exponent)");
        while (i < p->len && is_digit(p->s[i])) i++;
    }
    p->pos = i;
    v->type = RN_JSON_NUMBER;
    v->u.num.is_int = 0;
    v->u.num.ivalue = 0;

    if (is_int) { /* exact integer, if it fits int64 */
        uint64_t acc = 0, limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        int fits = 1;
        for (size_t k = start + (size_t)neg; k < i; k++) {
            unsigned d = p->s[k] - '0';
            if (acc > (limit - d) / 10) {
                fits = 0;
                break;
            }
            acc = acc * 10 + d;
        }
        if (fits) {
            int64_t iv = neg ? (acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
            v->u.num.is_int = 1;
            v->u.num.ivalue = iv;
            if (acc <= ((uint64_t)1 << 53)) { /* exactly representable: no strtod needed */
                v->u.num.value = (double)iv;
                return 0;
            }
        }
    }

    /* strtod on a NUL-terminated copy, with '.' swapped for the locale's decimal point */
    size_t n = i - start;
    p->blen = 0;
    if (buf_append(p, p->s + start, n) || buf_reserve(p, 8)) return -1;
    p->buf[n] = '\0';
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && !(dp[0] == '.' && dp[1] == '\0')) {
        char *dot = memchr(p->buf, '.', n);
        if (dot) {
            size_t dl = strlen(dp), off = (size_t)(dot - p->buf);
            if (buf_reserve(p, dl)) return -1;
            memmove(p->buf + off + dl, p->buf + off + 1, n - off); /* includes the NUL */
            memcpy(p->buf + off, dp, dl);
        }
    }
    errno = 0;
    char *end;
    double d = strtod(p->buf, &end);
    if (*end != '\0') return fail(p, start, "invalid number");
    if (isinf(d)) return fail(p, start, "number out of range");
    v->u.num.value = d;
    return 0;
}

static int parse_value(parser *p, rn_json *v, int depth);

static int cmp_member_ptr(const void *a, const void *b) {
    const rn_json_member *x = *(const rn_json_member *const *)a, *y = *(const rn_json_member *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static int check_duplicates(parser *p, const rn_json_member *m, size_t count) {
    if (count < 2) return 0;
    const rn_json_member **idx = malloc(count * sizeof *idx); /* count <= stack size: no overflow */
    if (!idx) return oom(p);
    for (size_t i = 0; i < count; i++) idx[i] = &m[i];
    qsort(idx, count, sizeof *idx, cmp_member_ptr);
    int rc = 0;
    for (size_t i = 1; i < count; i++) {
        if (cmp_member_ptr(&idx[i - 1], &idx[i]) == 0) {
            const rn_json_member *later = idx[i]->value.pos > idx[i - 1]->value.pos ? idx[i] : idx[i - 1];
            /* the key as the message shows it: one line, so its controls (an escaped newline)
             * and quotes become '?' */
            char shown[81];
            size_t n = later->key_len < sizeof shown - 1 ? later->key_len : sizeof shown - 1;
            for (size_t k = 0; k < n; k++) {
                const unsigned char c = (unsigned char)later->key[k];
                shown[k] = c < 0x20 || c == 0x7F || c == '"' || c == '\\' ? '?' : (char)c;
            }
            shown[n] = '\0';
            rc = fail(p, later->value.pos, "duplicate key \"%s\"", shown);
            break;
        }
    }
    free(idx);
    return rc;
}

/* Moves the children pushed since `base` into one arena array. */
static int pop_children(parser *p, size_t base, int is_object, rn_json *v) {
    size_t count = p->sp - base;
    if (is_object) {
        /* count first: with nothing pushed yet the stack is NULL, and NULL + 0 is undefined */
        if (p->reject_dups && count > 1 && check_duplicates(p, p->stack + base, count)) return -1;
        rn_json_member *m = NULL;
        if (count) {
            if (count > SIZE_MAX / sizeof *m) return oom(p);
            m = arena_alloc(p->arena, count * sizeof *m);
            if (!m) return oom(p);
            memcpy(m, p->stack + base, count * sizeof *m);
        }
        v->u.obj.members = m;
        v->u.obj.count = count;
    } else {
        rn_json *items = NULL;
        if (count) {
            if (count > SIZE_MAX / sizeof *items) return oom(p);
            items = arena_alloc(p->arena, count * sizeof *items);
            if (!items) return oom(p);
            for (size_t i = 0; i < count; i++) items[i] = p->stack[base + i].value;
        }
        v->u.arr.items = items;
        v->u.arr.count = count;
    }
    p->sp = base;
    return 0;
}

static int parse_array(parser *p, rn_json *v, int depth) {
    size_t base = p->sp;
    v->type = RN_JSON_ARRAY;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return pop_children(p, base, 0, v);
    }
    for (;;) {
        rn_json_member m = {NULL, 0, {0}};
        if (parse_value(p, &m.value, depth + 1) || push(p, &m)) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return pop_children(p, base, 0, v);
        }
        char tmp[16];
        return fail(p, p->pos, "expected ',' or ']' in array, found %s", describe(p, p->pos, tmp, sizeof tmp));
    }
}

static int parse_object(parser *p, rn_json *v, int depth) {
    size_t base = p->sp;
    v->type = RN_JSON_OBJECT;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return pop_children(p, base, 1, v);
    }
    for (;;) {
        char tmp[16];
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"')
            return fail(p, p->pos, "expected a string key in object, found %s", describe(p, p->pos, tmp, sizeof tmp));
        rn_json_member m = {NULL, 0, {0}};
        if (parse_string(p, &m.key, &m.key_len)) return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':')
            return fail(p, p->pos, "expected ':' after object key, found %s", describe(p, p->pos, tmp, sizeof tmp));
        p->pos++;
        if (parse_value(p, &m.value, depth + 1) || push(p, &m)) return -1;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            return pop_children(p, base, 1, v);
        }
        return fail(p, p->pos, "expected ',' or '}' in object, found %s", describe(p, p->pos, tmp, sizeof tmp));
    }
}

static int parse_literal(parser *p, const char *word, size_t n) {
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) return fail(p, p->pos, "invalid literal");
    p->pos += n;
    return 0;
}

static int parse_value(parser *p, rn_json *v, int depth) {
    skip_ws(p);
    memset(v, 0, sizeof *v);
    v->pos = p->pos;
    if (p->pos >= p->len) return fail(p, p->pos, "unexpected end of input, expected a value");
    if (p->max_values && ++p->values > p->max_values) return fail(p, p->pos, "more than %zu values", p->max_values);
    unsigned c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= p->max_depth) return fail(p, p->pos, "nesting deeper than %d levels", p->max_depth);
        return c == '{' ? parse_object(p, v, depth) : parse_array(p, v, depth);
    case '"':
        v->type = RN_JSON_STRING;
        return parse_string(p, &v->u.str.s, &v->u.str.len);
    case 't':
        v->type = RN_JSON_BOOL;
        v->u.boolean = 1;
        return parse_literal(p, "true", 4);
    case 'f':
        v->type = RN_JSON_BOOL;
        v->u.boolean = 0;
        return parse_literal(p, "false", 5);
    case 'n':
        v->type = RN_JSON_NULL;
        return parse_literal(p, "null", 4);
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, v);
        char tmp[16];
        return fail(p, p->pos, "expected a value, found %s", describe(p, p->pos, tmp, sizeof tmp));
    }
}

void rn_json_line_col(const char *text, size_t len, size_t pos, size_t *line, size_t *col) {
    size_t l = 1, c = 1;
    if (pos > len) pos = len;
    for (size_t i = 0; i < pos; i++) {
        if (text[i] == '\n') l++, c = 1;
        else c++;
    }
    if (line) *line = l;
    if (col) *col = c;
}

int rn_json_parse(const char *text, size_t len, const rn_json_options *opts, rn_json_doc **out,
                  char *errbuf, size_t errsize) {
    if (errbuf && errsize) errbuf[0] = '\0';
    if (!out || (!text && len)) {
        if (errbuf && errsize) snprintf(errbuf, errsize, "invalid arguments");
        return -1;
    }
    *out = NULL;
    rn_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc) {
        if (errbuf && errsize) snprintf(errbuf, errsize, "out of memory");
        return -2;
    }
    parser p;
    memset(&p, 0, sizeof p);
    p.s = (const unsigned char *)text;
    p.len = len;
    p.arena = &doc->arena;
    p.max_depth = opts && opts->max_depth > 0 ? opts->max_depth : RN_JSON_DEFAULT_DEPTH;
    if (p.max_depth > RN_JSON_MAX_DEPTH) p.max_depth = RN_JSON_MAX_DEPTH;
    p.reject_dups = opts ? opts->reject_duplicate_keys : 0;
    p.max_values = opts ? opts->max_values : 0;

    if (parse_value(&p, &doc->root, 0) == 0) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char tmp[16];
            fail(&p, p.pos, "unexpected %s after the document", describe(&p, p.pos, tmp, sizeof tmp));
        }
    }
    free(p.stack);
    free(p.buf);
    if (p.status != 0) {
        if (errbuf && errsize) {
            if (p.status == -2) {
                snprintf(errbuf, errsize, "out of memory");
            } else {
                size_t line, col;
                rn_json_line_col(text, len, p.err_pos, &line, &col);
                snprintf(errbuf, errsize, "line %zu column %zu: %s", line, col, p.err);
            }
        }
        rn_json_free(doc);
        return p.status;
    }
    *out = doc;
    return 0;
}

const rn_json *rn_json_root(const rn_json_doc *doc) { return doc ? &doc->root : NULL; }

void rn_json_free(rn_json_doc *doc) {
    if (!doc) return;
    arena_free(&doc->arena);
    free(doc);
}

// ---------------------------------------------------------------------------------------
// Accessors

const char *rn_json_type_name(rn_json_type t) {
    switch (t) {
    case RN_JSON_NULL: return "null";
    case RN_JSON_BOOL: return "boolean";
    case RN_JSON_NUMBER: return "number";
    case RN_JSON_STRING: return "string";
    case RN_JSON_ARRAY: return "array";
    case RN_JSON_OBJECT: return "object";
    }
    return "?";
}

int rn_json_is(const rn_json *v, rn_json_type t) { return v && v->type == t; }

const rn_json *rn_json_get(const rn_json *obj, const char *key) {
    if (!obj || obj->type != RN_JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->u.obj.count; i++) {
        const rn_json_member *m = &obj->u.obj.members[i];
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return &m->value;
    }
    return NULL;
}

const rn_json *rn_json_at(const rn_json *arr, size_t i) {
    if (!arr || arr->type != RN_JSON_ARRAY || i >= arr->u.arr.count) return NULL;
    return &arr->u.arr.items[i];
}

size_t rn_json_count(const rn_json *v) {
    if (!v) return 0;
    if (v->type == RN_JSON_ARRAY) return v->u.arr.count;
    if (v->type == RN_JSON_OBJECT) return v->u.obj.count;
    return 0;
}

const rn_json_member *rn_json_member_at(const rn_json *obj, size_t i) {
    if (!obj || obj->type != RN_JSON_OBJECT || i >= obj->u.obj.count) return NULL;
    return &obj->u.obj.members[i];
}

int rn_json_number(const rn_json *v, double *out) {
    if (!v || v->type != RN_JSON_NUMBER) return 0;
    if (out) *out = v->u.num.value;
    return 1;
}

int rn_json_int64(const rn_json *v, int64_t *out) {
    if (!v || v->type != RN_JSON_NUMBER || !v->u.num.is_int) return 0;
    if (out) *out = v->u.num.ivalue;
    return 1;
}

const char *rn_json_string(const rn_json *v, size_t *len) {
    if (!v || v->type != RN_JSON_STRING) return NULL;
    if (len) *len = v->u.str.len;
    return v->u.str.s;
}

int rn_json_bool(const rn_json *v, int *out) {
    if (!v || v->type != RN_JSON_BOOL) return 0;
    if (out) *out = v->u.boolean;
    return 1;
}

// ---------------------------------------------------------------------------------------
// Writer

char *rn_json_string_array(const char *const *s, size_t n) {
    size_t cap = 3; /* "[]" and the NUL */
    for (size_t i = 0; i < n; i++) { /* every byte escaped as \u00XX at worst, quotes, comma */
        size_t esc;
        if (!rn_mul_size(strlen(s[i]), 6, &esc) || esc > SIZE_MAX - cap - 3) return NULL;
        cap += esc + 3;
    }
    char *out = malloc(cap), *q = out;
    if (!out) return NULL;
    *q++ = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) *q++ = ',';
        *q++ = '"';
        for (const unsigned char *p = (const unsigned char *)s[i]; *p; p++) {
            if (*p == '"' || *p == '\\') {
                *q++ = '\\';
                *q++ = (char)*p;
            } else if (*p < 0x20) {
                q += snprintf(q, 7, "\\u%04x", *p);
            } else {
                *q++ = (char)*p;
            }
        }
        *q++ = '"';
    }
    *q++ = ']';
    *q = '\0';
    return out;
}
