/* serve_request.c - parsing one request line of `resnet serve` (see serve_request.h).
 *
 * Strict on purpose: unknown members, a "k" that is not a whole number, both or neither of
 * "file" and "image" are refused with a message naming the member, so a typo ("imgae") gets
 * an answer that says so rather than a silently default one. */
#include "cli/serve_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "io/json.h"

/* The id is re-written into a growing string of at most SERVE_ID_MAX bytes. */
static void put_str(rn_strbuf *b, const char *s, size_t n) {
    rn_strbuf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            rn_strbuf_append(b, esc, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            rn_strbuf_append(b, esc, 6);
        } else {
            rn_strbuf_append(b, s + i, 1); /* the parser checked the string is UTF-8 */
        }
    }
    rn_strbuf_append(b, "\"", 1);
}

/* Writes v as compact JSON. Numbers are copied as they were written (from the line), so an
 * id such as 12345678901234567890 or 1.10 comes back exactly, not rounded through a double. */
static void put_value(rn_strbuf *b, const rn_json *v, const char *line, size_t len) {
    switch (v->type) {
    case RN_JSON_NULL: rn_strbuf_append(b, "null", 4); break;
    case RN_JSON_BOOL: v->u.boolean ? rn_strbuf_append(b, "true", 4) : rn_strbuf_append(b, "false", 5); break;
    case RN_JSON_NUMBER: {
        size_t end = v->pos;
        while (end < len && strchr("-+0123456789.eE", line[end]) && line[end]) end++;
        rn_strbuf_append(b, line + v->pos, end - v->pos);
        break;
    }
    case RN_JSON_STRING: put_str(b, v->u.str.s, v->u.str.len); break;
    case RN_JSON_ARRAY:
        rn_strbuf_append(b, "[", 1);
        for (size_t i = 0; i < v->u.arr.count; i++) {
            if (i) rn_strbuf_append(b, ",", 1);
            put_value(b, &v->u.arr.items[i], line, len);
        }
        rn_strbuf_append(b, "]", 1);
        break;
    case RN_JSON_OBJECT:
        rn_strbuf_append(b, "{", 1);
        for (size_t i = 0; i < v->u.obj.count; i++) {
            const rn_json_member *m = &v->u.obj.members[i];
            if (i) rn_strbuf_append(b, ",", 1);
            put_str(b, m->key, m->key_len);
            rn_strbuf_append(b, ":", 1);
            put_value(b, &m->value, line, len);
        }
        rn_strbuf_append(b, "}", 1);
        break;
    }
}

/* The value of a base64 character, or -1. (No table built at run time: the HTTP server decodes
 * from many threads at once.) */
static int b64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long serve_base64_decode(const char *s, size_t len, unsigned char *out, size_t *bad) {
    size_t data = len;
    while (data > 0 && len - data < 2 && s[data - 1] == '=') data--; /* up to two '=' at the end */
    long n = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < data; i++) {
        const int v = b64_value((unsigned char)s[i]);
        if (v < 0) {
            *bad = i;
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* the lengths after the characters: a stray one (a line break) is what *bad should name,
     * not the end its extra character puts off the quantum */
    if (data < len && len % 4 != 0) { /* padding, but not to a whole quantum */
        *bad = data;
        return -1;
    }
    if (data % 4 == 1) { /* one character cannot make a byte */
        *bad = data - 1;
        return -1;
    }
    return n;
}

/* resnet_tta_parse's names, here so that the parser (and its fuzz harness) need no model code */
static int tta_parse(const char *s) {
    static const char *const names[] = {"none", "flip", "10crop", "multiscale"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

static int refuse(serve_request *req, const char *fmt, const char *what) {
    snprintf(req->error, sizeof req->error, fmt, what);
    return -1;
}

int serve_request_parse(const char *line, size_t len, int classes, serve_request *req) {
    memset(req, 0, sizeof *req);
    req->k = classes < 5 ? (classes > 0 ? classes : 1) : 5;
    req->tta = RESNET_TTA_NONE;
    rn_json_options opts = {.max_depth = 32, .reject_duplicate_keys = 1, .max_values = SERVE_JSON_VALUES_MAX};
    rn_json_doc *doc = NULL;
    char msg[160];
    const int pr = rn_json_parse(line, len, &opts, &doc, msg, sizeof msg);
    if (pr == -2) return -2;
    if (pr != 0) {
        req->id = strdup("null");
        if (!req->id) return -2;
        /* the parser says "line 1 column C: ..."; a request is one line */
        const char *m = strncmp(msg, "line 1 ", 7) == 0 ? msg + 7 : msg;
        snprintf(req->error, sizeof req->error, "not a JSON request: %s", m);
        return -1;
    }
    const rn_json *root = rn_json_root(doc);
    int rc = 0;
    rn_strbuf id = {.limit = SERVE_ID_MAX};
    const rn_json *idv = rn_json_get(root, "id"); /* NULL unless root is an object */
    if (idv) put_value(&id, idv, line, len);
    if (id.failed == 1) {
        free(id.s);
        rn_json_free(doc);
        return -2;
    }
    if (!idv || id.failed) {
        free(id.s);
        req->id = strdup("null");
        if (!req->id) {
            rn_json_free(doc);
            return -2;
        }
        if (id.failed) {
            rc = refuse(req, "the id is longer than %s bytes as JSON", RESNET_STR(SERVE_ID_MAX));
            goto done;
        }
    } else {
        req->id = id.s;
    }
    if (root->type != RN_JSON_OBJECT) {
        rc = refuse(req, "a request is a JSON object, not %s", rn_json_type_name(root->type));
        goto done;
    }
    const rn_json *file = NULL, *image = NULL;
    for (size_t i = 0; i < root->u.obj.count; i++) {
        const rn_json_member *m = &root->u.obj.members[i];
        const rn_json *v = &m->value;
        if (strcmp(m->key, "id") == 0) continue;
        if (strcmp(m->key, "file") == 0) {
            if (v->type != RN_JSON_STRING || v->u.str.len == 0) {
                rc = refuse(req, "\"file\" must be a non-empty string (a path)%s", "");
                goto done;
            }
            file = v;
        } else if (strcmp(m->key, "image") == 0) {
            if (v->type != RN_JSON_STRING) {
                rc = refuse(req, "\"image\" must be a string (the base64 of a photo file)%s", "");
                goto done;
            }
            image = v;
        } else if (strcmp(m->key, "k") == 0) {
            int64_t k;
            if (!rn_json_int64(v, &k) || k < 1 || k > classes) {
                char most[16];
                snprintf(most, sizeof most, "%d", classes);
                rc = refuse(req, "\"k\" must be a whole number from 1 to %s", most);
                goto done;
            }
            req->k = (int)k;
        } else if (strcmp(m->key, "tta") == 0) {
            const char *s = rn_json_string(v, NULL);
            const int mode = s ? tta_parse(s) : -1;
            if (mode < 0) {
                rc = refuse(req, "\"tta\" must be one of %s", "\"none\", \"flip\", \"10crop\", \"multiscale\"");
                goto done;
            }
            req->tta = (resnet_tta)mode;
        } else if (strcmp(m->key, "features") == 0) {
            if (!rn_json_bool(v, &req->features)) {
                rc = refuse(req, "\"features\" must be true or false%s", "");
                goto done;
            }
        } else {
            char shown[64];
            snprintf(shown, sizeof shown, "%.40s%s", m->key, m->key_len > 40 ? "..." : "");
            for (char *p = shown; *p; p++) /* a key is UTF-8 without controls in the message */
                if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\') *p = '?';
            rc = refuse(req, "unknown member \"%s\" (known: id, file, image, k, tta, features)", shown);
            goto done;
        }
    }
    if (!file == !image) {
        rc = refuse(req, "%s", file ? "give \"file\" or \"image\", not both" : "no \"file\" or \"image\" to classify");
        goto done;
    }
    if (file) {
        req->file = strdup(file->u.str.s);
        if (!req->file) rc = -2;
        goto done;
    }
    const size_t n = image->u.str.len;
    if (n == 0) {
        rc = refuse(req, "\"image\" is empty%s", "");
        goto done;
    }
    req->image = malloc(n / 4 * 3 + 3);
    if (!req->image) {
        rc = -2;
        goto done;
    }
    size_t bad = 0;
    const long got = serve_base64_decode(image->u.str.s, n, req->image, &bad);
    if (got <= 0) {
        free(req->image);
        req->image = NULL;
        char where[32];
        snprintf(where, sizeof where, "%zu", bad);
        rc = refuse(req, "\"image\" is not base64 (at character %s)", where);
        goto done;
    }
    req->image_size = (size_t)got;
done:
    rn_json_free(doc);
    return rc;
}

void serve_request_free(serve_request *req) {
    free(req->id);
    free(req->file);
    free(req->image);
    memset(req, 0, sizeof *req);
}
