/* fuzz_safetensors.c - libFuzzer harness for the safetensors reader (and its JSON parser).
 *
 * The input is a whole file, opened with rn_st_open_memory: the same checks as rn_st_open,
 * on the fuzzer's exactly-sized buffer, so that the sanitizer catches a read even one byte
 * past the end (a mapped file would hide it up to the end of the page).
 *
 * Checks, when the file is accepted: every tensor lies inside the data block, holds exactly
 * its shape x dtype bytes, is listed in data order and found by name, and the non-empty ones
 * cover the data block end to end (no overlap, no gap, nothing after the last);
 * its bytes read back as stored; its values convert to float32 (floating-point dtypes), and those
 * tensors survive a write with rn_st_write and a read back bit for bit (files up to 64 KiB). When
 * refused: a one-line message that names the file. Metadata values are parsed as JSON as the model loader does with bn_eps.
 */
#include <math.h>

#include "fuzz_common.h"
#include "io/json.h"
#include "io/safetensors.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

#define ST_FUZZ_ROUND_TRIP_MAX ((size_t)64 << 10)

static int st_fuzz_is_float(rn_dtype t) {
    return t == RN_DT_F32 || t == RN_DT_F16 || t == RN_DT_BF16 || t == RN_DT_F64;
}

/* Writes the float tensors of st (as F32) with rn_st_write, reads them back, and compares. */
static void st_fuzz_round_trip(const rn_safetensors *st, float **vals, size_t n) {
    char path[512];
    rn_st_entry *e = calloc(n ? n : 1, sizeof *e);
    FUZZ_CHECK(e != NULL);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        if (!vals[i]) continue;
        e[m].name = t->name;
        e[m].ndim = t->ndim;
        memcpy(e[m].shape, t->shape, sizeof e[m].shape);
        e[m].data = vals[i];
        m++;
    }
    const char *keys[] = {"variant", "normalization", "bn_eps"};
    const char *values[3];
    size_t nm = 0;
    for (int k = 0; k < 3; k++) {
        const char *v = rn_st_metadata(st, keys[k]);
        if (v) keys[nm] = keys[k], values[nm++] = v;
    }
    fuzz_path(path, sizeof path, "round-trip.safetensors");
    resnet_error err;
    resnet_status s = rn_st_write(path, e, m, keys, values, nm, &err);
    /* the reader accepts only what the writer can write (names: UTF-8, unique, not __metadata__) */
    if (s != RESNET_OK) fprintf(stderr, "rn_st_write: %s\n", err.message);
    FUZZ_CHECK(s == RESNET_OK);
    rn_safetensors *back = NULL;
    s = rn_st_open(path, &back, &err);
    if (s != RESNET_OK) fprintf(stderr, "rn_st_open after rn_st_write: %s\n", err.message);
    FUZZ_CHECK(s == RESNET_OK);
    FUZZ_CHECK(rn_st_count(back) == m);
    for (size_t i = 0; i < m; i++) {
        const rn_tensor *t = rn_st_find(back, e[i].name);
        FUZZ_CHECK(t != NULL && t->dtype == RN_DT_F32 && t->ndim == e[i].ndim);
        FUZZ_CHECK(memcmp(t->shape, e[i].shape, sizeof t->shape) == 0);
        FUZZ_CHECK(t->nbytes == 0 || memcmp(t->data, e[i].data, t->nbytes) == 0);
    }
    for (size_t k = 0; k < nm; k++) {
        const char *v = rn_st_metadata(back, keys[k]);
        FUZZ_CHECK(v != NULL && strcmp(v, values[k]) == 0);
    }
    rn_st_close(back);
    unlink(path);
    free(e);
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    rn_safetensors *st = (rn_safetensors *)&size; /* must come back NULL on failure */
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status s = rn_st_open_memory(data, size, "fuzz.safetensors", &st, &err);
    if (s != RESNET_OK) {
        FUZZ_CHECK(st == NULL);
        FUZZ_CHECK(err.status == s && fuzz_message_ok(err.message, sizeof err.message));
        FUZZ_CHECK(strstr(err.message, "fuzz.safetensors") != NULL);
        return 0;
    }
    const unsigned char *begin = data, *end = data + size, *covered = NULL;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | data[i]; /* accepted: 8 + hlen <= size */
    const unsigned char *data_begin = begin + 8 + hlen;
    size_t n = rn_st_count(st);
    float **vals = calloc(n ? n : 1, sizeof *vals);
    FUZZ_CHECK(vals != NULL);
    for (size_t i = 0; i < n; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        const unsigned char *p = t->data;
        FUZZ_CHECK(t->name != NULL && rn_st_find(st, t->name) == t);
        FUZZ_CHECK(t->ndim >= 0 && t->ndim <= RN_ST_MAX_DIMS);
        FUZZ_CHECK(p >= begin + 8 && p <= end && t->nbytes <= (size_t)(end - p));
        size_t numel = 1;
        for (int d = 0; d < t->ndim; d++) {
            FUZZ_CHECK(t->shape[d] >= 0);
            numel *= (size_t)t->shape[d]; /* cannot overflow once accepted */
        }
        FUZZ_CHECK(t->nbytes == numel * rn_dtype_size(t->dtype));
        if (t->nbytes) { /* data order, each where the one before ended */
            FUZZ_CHECK(covered ? p == covered : p == data_begin);
            covered = p + t->nbytes;
        }
        /* the bytes as stored (an int8 file's weights are read so) */
        unsigned char *raw = malloc(t->nbytes ? t->nbytes : 1);
        FUZZ_CHECK(raw != NULL && rn_st_read_bytes(st, t, raw, &err) == RESNET_OK);
        FUZZ_CHECK(t->nbytes == 0 || memcmp(raw, p, t->nbytes) == 0);
        free(raw);
        if (!st_fuzz_is_float(t->dtype)) continue;
        vals[i] = malloc(numel ? numel * sizeof(float) : 1);
        FUZZ_CHECK(vals[i] != NULL);
        s = rn_st_read_f32(st, t, vals[i], &err);
        if (s != RESNET_OK) { /* only F64 beyond float's range */
            FUZZ_CHECK(t->dtype == RN_DT_F64 && fuzz_message_ok(err.message, sizeof err.message));
            free(vals[i]);
            vals[i] = NULL;
        }
    }
    FUZZ_CHECK((covered ? covered : data_begin) == end); /* and the last where the file does */
    FUZZ_CHECK(rn_st_tensor(st, n) == NULL);
    FUZZ_CHECK(rn_st_find(st, "__metadata__") == NULL);

    /* what the model loader reads from the metadata */
    static const char *const keys[] = {"arch", "variant", "normalization", "bn_eps", "format", "classes"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = rn_st_metadata(st, keys[k]);
        if (!v) continue;
        rn_json_doc *doc = NULL;
        char msg[160];
        if (rn_json_parse(v, strlen(v), NULL, &doc, msg, sizeof msg) == 0) {
            double d;
            if (rn_json_number(rn_json_root(doc), &d)) FUZZ_CHECK(isfinite(d));
            rn_json_free(doc);
        } else {
            FUZZ_CHECK(doc == NULL && fuzz_message_ok(msg, sizeof msg));
        }
    }

    if (size <= ST_FUZZ_ROUND_TRIP_MAX) st_fuzz_round_trip(st, vals, n);
    for (size_t i = 0; i < n; i++) free(vals[i]);
    free(vals);
    rn_st_close(st);
    return 0;
}
