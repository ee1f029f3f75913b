/* test_safetensors.c - safetensors write/read round trip, dtype conversion, and hostile files:
 * each malformed file must give one clear line naming the file, and never crash. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "testutil.h"

/* A safetensors file from a header string (written with its true length) and raw data. */
static void write_st(const char *path, const char *header, const void *data, size_t n) {
    size_t hl = strlen(header);
    unsigned char *buf = malloc(8 + hl + n + 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    if (n) memcpy(buf + 8 + hl, data, n);
    tu_write_file(path, buf, 8 + hl + n);
    free(buf);
}

static void test_round_trip(void) {
    float a[2 * 3 * 2 * 2], s[1] = {-7.25f}, big[1000];
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) a[i] = (float)i * 0.5f - 3.0f;
    for (size_t i = 0; i < 1000; i++) big[i] = sinf((float)i);
    big[7] = INFINITY;
    big[8] = -0.0f;
    big[9] = 1e-42f; /* subnormal */
    rn_st_entry e[4] = {
        {"layer.weight", 4, {2, 3, 2, 2}, a},
        {"scalar", 0, {0}, s},
        {"empty", 2, {0, 3}, NULL},
        {"big \"quoted\"\n\xC3\xA9", 1, {1000}, big},
    };
    const char *keys[] = {"arch", "note"}, *vals[] = {"resnet50", "tab\there \"q\" \\ \xE2\x82\xAC"};
    const char *path = tu_path("rt.safetensors");
    resnet_error err;
    CHECK(rn_st_write(path, e, 4, keys, vals, 2, &err) == RESNET_OK, "write: %s", err.message);
    CHECK(tu_count_files_like(".tmp.") == 0, "no temp file left");

    size_t size;
    unsigned char *raw = tu_read_file(path, &size);
    CHECK(raw && size > 8, "file written");
    if (raw) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
        CHECK(hl % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)hl);
        CHECK(size == 8 + hl + sizeof a + sizeof s + sizeof big, "file size %zu", size);
        CHECK(memcmp(raw + 8, "{\"__metadata__\":{", 17) == 0, "metadata first: %.30s", raw + 8);
        CHECK(raw[8 + hl - 1] == ' ' || raw[8 + hl - 1] == '}', "padded with spaces");
        free(raw);
    }

    rn_safetensors *st = NULL;
    CHECK(rn_st_open(path, &st, &err) == RESNET_OK, "open: %s", err.message);
    if (!st) return;
    CHECK(rn_st_count(st) == 4, "4 tensors");
    CHECK(strcmp(rn_st_path(st), path) == 0, "path");
    CHECK(rn_st_metadata(st, "arch") && strcmp(rn_st_metadata(st, "arch"), "resnet50") == 0, "metadata arch");
    CHECK(rn_st_metadata(st, "note") && strcmp(rn_st_metadata(st, "note"), vals[1]) == 0, "metadata escapes");
    CHECK(rn_st_metadata(st, "nope") == NULL, "absent metadata");
    /* listed in data order: the empty tensor (offset 52, no bytes) sorts with its offset */
    const char *order[4] = {"layer.weight", "scalar", "empty", e[3].name};
    for (size_t i = 0; i < 4; i++) {
        const rn_tensor *t = rn_st_tensor(st, i);
        CHECK(t && strcmp(t->name, order[i]) == 0, "tensor %zu is %s", i, t ? t->name : "?");
    }
    CHECK(rn_st_tensor(st, 4) == NULL, "past the end");
    const rn_tensor *t = rn_st_find(st, "layer.weight");
    CHECK(t && t->dtype == RN_DT_F32 && t->ndim == 4 && t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 2 &&
              t->shape[3] == 2 && t->nbytes == sizeof a,
          "layer.weight shape");
    float got[1000];
    if (t) {
        CHECK(rn_st_read_f32(st, t, got, &err) == RESNET_OK, "read: %s", err.message);
        CHECK(memcmp(got, a, sizeof a) == 0, "layer.weight values");
    }
    t = rn_st_find(st, "scalar");
    CHECK(t && t->ndim == 0 && t->nbytes == 4, "scalar");
    if (t) {
        rn_st_read_f32(st, t, got, &err);
        CHECK(got[0] == -7.25f, "scalar value");
    }
    t = rn_st_find(st, "empty");
    CHECK(t && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 3 && t->nbytes == 0, "empty");
    if (t) CHECK(rn_st_read_f32(st, t, got, &err) == RESNET_OK, "read empty");
    t = rn_st_find(st, e[3].name);
    CHECK(t && t->nbytes == sizeof big, "escaped name found");
    if (t) {
        rn_st_read_f32(st, t, got, &err);
        CHECK(memcmp(got, big, sizeof big) == 0, "big values bit-exact (inf, -0, subnormal)");
    }
    CHECK(rn_st_find(st, "missing") == NULL && rn_st_find(st, "") == NULL, "find misses");
    rn_st_close(st);

    /* without metadata: no __metadata__ entry at all */
    CHECK(rn_st_write(path, e, 1, NULL, NULL, 0, &err) == RESNET_OK, "write without metadata: %s", err.message);
    raw = tu_read_file(path, &size);
    CHECK(raw && size > 9 && memcmp(raw + 8, "{\"layer.weight\"", 15) == 0, "no metadata block");
    free(raw);
    CHECK(rn_st_open(path, &st, &err) == RESNET_OK && rn_st_count(st) == 1 && !rn_st_metadata(st, "arch"),
          "reopen: %s", err.message);
    rn_st_close(st);
    /* zero tensors */
    CHECK(rn_st_write(path, NULL, 0, keys, vals, 1, &err) == RESNET_OK, "empty file: %s", err.message);
    CHECK(rn_st_open(path, &st, &err) == RESNET_OK && rn_st_count(st) == 0, "reopen empty: %s", err.message);
    rn_st_close(st);
    unlink(path);
}

static void test_write_errors(void) {
    float v[2] = {1, 2};
    resnet_error err;
    const char *path = tu_path("keep.safetensors");
    rn_st_entry good = {"x", 1, {2}, v};
    CHECK(rn_st_write(path, &good, 1, NULL, NULL, 0, &err) == RESNET_OK, "write: %s", err.message);
    size_t size0;
    unsigned char *before = tu_read_file(path, &size0);

    rn_st_entry dup[2] = {{"x", 1, {2}, v}, {"x", 1, {2}, v}};
    CHECK(rn_st_write(path, dup, 2, NULL, NULL, 0, &err) == RESNET_E_ARG && strstr(err.message, path) &&
              strstr(err.message, "'x' given twice"),
          "duplicate names: %s", err.message);
    rn_st_entry neg = {"n", 1, {-1}, v};
    CHECK(rn_st_write(path, &neg, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "negative dim");
    rn_st_entry dims = {"d", 9, {1}, v};
    CHECK(rn_st_write(path, &dims, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "too many dims");
    rn_st_entry nodata = {"d", 1, {2}, NULL};
    CHECK(rn_st_write(path, &nodata, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "no data");
    rn_st_entry huge = {"h", 2, {INT64_C(1) << 40, INT64_C(1) << 40}, v};
    CHECK(rn_st_write(path, &huge, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "overflowing shape");
    rn_st_entry reserved = {"__metadata__", 1, {2}, v};
    CHECK(rn_st_write(path, &reserved, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "reserved name");
    rn_st_entry badutf = {"\xC0\xAF", 1, {2}, v};
    CHECK(rn_st_write(path, &badutf, 1, NULL, NULL, 0, &err) == RESNET_E_ARG, "invalid UTF-8 name");
    const char *k2[] = {"a", "a"}, *v2[] = {"1", "2"};
    CHECK(rn_st_write(path, &good, 1, k2, v2, 2, &err) == RESNET_E_ARG && strstr(err.message, "twice"),
          "duplicate metadata: %s", err.message);

    size_t size1;
    unsigned char *after = tu_read_file(path, &size1);
    CHECK(before && after && size0 == size1 && memcmp(before, after, size0) == 0, "failed writes left PATH alone");
    free(before);
    free(after);

    /* the folder does not exist */
    const char *nodir = tu_path("no/such/dir/w.safetensors");
    CHECK(rn_st_write(nodir, &good, 1, NULL, NULL, 0, &err) == RESNET_E_IO && strstr(err.message, "w.safetensors"),
          "missing folder: %s", err.message);
    /* PATH is a non-empty directory: the rename fails, the temp file goes */
    const char *dir = tu_path("adir");
    mkdir(dir, 0755);
    char inner[1100];
    snprintf(inner, sizeof inner, "%s/f", dir);
    tu_write_file(inner, "x", 1);
    CHECK(rn_st_write(dir, &good, 1, NULL, NULL, 0, &err) == RESNET_E_IO && strstr(err.message, "adir"),
          "rename over a folder: %s", err.message);
    CHECK(tu_count_files_like(".tmp.") == 0, "temp file removed after a failed rename");
    unlink(inner);
    rmdir(dir);
    /* files with the temporaries' names that this write did not make (one of another program,
     * ours of a dead process with our pid) are neither written over nor removed */
    char theirs[1100], ours[1100];
    snprintf(theirs, sizeof theirs, "%s.tmp.%ld", path, (long)getpid());
    tu_write_file(theirs, "junk", 4);
    enum { TAKEN = 64 }; /* more than this process has opened yet: the next names are taken */
    for (int n = 0; n < TAKEN; n++) {
        snprintf(ours, sizeof ours, "%s.tmp.%ld.%d.resnet", path, (long)getpid(), n);
        tu_write_file(ours, "junk", 4);
    }
    CHECK(rn_st_write(path, &good, 1, NULL, NULL, 0, &err) == RESNET_OK, "beside taken temporary names: %s",
          err.message);
    CHECK(tu_count_files_like(".tmp.") == TAKEN + 1, "%d temporary-like files, not the %d made here",
          tu_count_files_like(".tmp."), TAKEN + 1);
    size_t n = 0;
    unsigned char *b = tu_read_file(theirs, &n);
    CHECK(b && n == 4 && memcmp(b, "junk", 4) == 0, "%s was written over", theirs);
    free(b);
    unlink(theirs);
    for (int k = 0; k < TAKEN; k++) {
        snprintf(ours, sizeof ours, "%s.tmp.%ld.%d.resnet", path, (long)getpid(), k);
        unlink(ours);
    }
    unlink(path);
}

static void test_dtypes(void) {
    /* data: U8 (1 byte, so the F32 after it is unaligned), F32, F16, BF16, F64, I32 */
    unsigned char data[256];
    size_t o = 0;
    data[o++] = 200;                                 /* u8 [0,1) */
    float f32[3] = {1.5f, -2.25f, 3e38f};            /* f32 [1,13) */
    memcpy(data + o, f32, sizeof f32), o += sizeof f32;
    uint16_t f16[7] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x7C00, 0x8000, 0x3555}; /* f16 [13,27) */
    for (int i = 0; i < 7; i++) data[o++] = (unsigned char)f16[i], data[o++] = (unsigned char)(f16[i] >> 8);
    uint16_t bf16[3] = {0x3F80, 0xC040, 0x7F80}; /* bf16 [27,33) */
    for (int i = 0; i < 3; i++) data[o++] = (unsigned char)bf16[i], data[o++] = (unsigned char)(bf16[i] >> 8);
    double f64[3] = {0.1, -1e10, 1e-50}; /* f64 [33,57) */
    memcpy(data + o, f64, sizeof f64), o += sizeof f64;
    int32_t i32[2] = {1, -1}; /* i32 [57,65) */
    memcpy(data + o, i32, sizeof i32), o += sizeof i32;
    double bad64 = 1e300; /* [65,73) */
    memcpy(data + o, &bad64, 8), o += 8;
    const char *hdr = "{\"u8\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"f32\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[1,13]},"
                      "\"f16\":{\"dtype\":\"F16\",\"shape\":[7],\"data_offsets\":[13,27]},"
                      "\"bf16\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[27,33]},"
                      "\"f64\":{\"dtype\":\"F64\",\"shape\":[3],\"data_offsets\":[33,57]},"
                      "\"i32\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[57,65]},"
                      "\"bad64\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[65,73]},"
                      "\"z1\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":[1,1]},"
                      "\"z2\":{\"dtype\":\"BOOL\",\"shape\":[0,5],\"data_offsets\":[1,1]},"
                      "\"i8\":{\"dtype\":\"I8\",\"shape\":[],\"data_offsets\":[73,74]},"
                      "\"i16\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[74,76]}}";
    o += 3; /* i8, i16 */
    const char *path = tu_path("dtypes.safetensors");
    write_st(path, hdr, data, o);
    resnet_error err;
    rn_safetensors *st = NULL;
    CHECK(rn_st_open(path, &st, &err) == RESNET_OK, "open: %s", err.message);
    if (!st) return;
    CHECK(rn_st_count(st) == 11, "11 tensors");
    float out[8];
    const rn_tensor *t = rn_st_find(st, "f32");
    CHECK(t && ((uintptr_t)t->data % 4) != 0, "f32 data is unaligned");
    CHECK(t && rn_st_read_f32(st, t, out, &err) == RESNET_OK && out[0] == 1.5f && out[1] == -2.25f && out[2] == 3e38f,
          "F32 unaligned read");
    t = rn_st_find(st, "f16");
    CHECK(t && rn_st_read_f32(st, t, out, &err) == RESNET_OK, "F16 read: %s", err.message);
    CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == 65504.0f && out[3] == ldexpf(1.0f, -24) && isinf(out[4]) &&
              out[4] > 0 && out[5] == 0.0f && signbit(out[5]) && fabsf(out[6] - 0.33325195f) < 1e-7f,
          "F16 values %g %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5], out[6]);
    t = rn_st_find(st, "bf16");
    CHECK(t && t->ndim == 2 && rn_st_read_f32(st, t, out, &err) == RESNET_OK && out[0] == 1.0f && out[1] == -3.0f &&
              isinf(out[2]),
          "BF16 values");
    t = rn_st_find(st, "f64");
    CHECK(t && rn_st_read_f32(st, t, out, &err) == RESNET_OK && out[0] == 0.1f && out[1] == -1e10f && out[2] == 0.0f,
          "F64 values");
    t = rn_st_find(st, "bad64");
    CHECK(t && rn_st_read_f32(st, t, out, &err) == RESNET_E_WEIGHTS && strstr(err.message, "out of float range") &&
              strstr(err.message, path),
          "F64 out of range: %s", err.message);
    t = rn_st_find(st, "i32");
    CHECK(t && t->dtype == RN_DT_I32 && rn_st_read_f32(st, t, out, &err) == RESNET_E_WEIGHTS &&
              strstr(err.message, "I32") && strstr(err.message, "'i32'"),
          "I32 refused: %s", err.message);
    t = rn_st_find(st, "u8");
    CHECK(t && t->dtype == RN_DT_U8 && *(const unsigned char *)t->data == 200, "U8 raw");
    t = rn_st_find(st, "z2");
    CHECK(t && t->dtype == RN_DT_BOOL && t->nbytes == 0 && t->shape[1] == 5, "BOOL empty");
    CHECK(rn_dtype_size(RN_DT_BF16) == 2 && rn_dtype_size(RN_DT_F64) == 8 && rn_dtype_size(RN_DT_BOOL) == 1,
          "dtype sizes");
    CHECK(strcmp(rn_dtype_name(RN_DT_BF16), "BF16") == 0 && strcmp(rn_dtype_name(RN_DT_I64), "I64") == 0, "names");
    rn_st_close(st);
    unlink(path);
}

/* Each hostile file must fail with a message naming the file and the problem. */
static void expect_fail(const char *path, resnet_status want, const char *part, const char *label) {
    resnet_error err;
    memset(&err, 0, sizeof err);
    rn_safetensors *st = (rn_safetensors *)&err; /* must be reset to NULL */
    resnet_status s = rn_st_open(path, &st, &err);
    CHECK(s == want, "%s: status %d, want %d (%s)", label, (int)s, (int)want, err.message);
    CHECK(st == NULL, "%s: *out is NULL on failure", label);
    CHECK(strstr(err.message, path) != NULL, "%s: message names the file: %s", label, err.message);
    CHECK(strstr(err.message, part) != NULL, "%s: message '%s' should say '%s'", label, err.message, part);
    CHECK(strchr(err.message, '\n') == NULL, "%s: one line", label);
    if (s == RESNET_OK) rn_st_close(st);
}

static void test_hostile(void) {
    const char *p = tu_path("bad.safetensors");
    unsigned char d[64] = {0};
    static const struct {
        const char *header;
        size_t data;
        const char *part;
    } cases[] = {
        {"", 0, "header is not valid JSON"},
        {"hello   ", 0, "header is not valid JSON: line 1 column 1"},
        {"{\"a\":1", 0, "not valid JSON"},
        {"{}x", 0, "after the document"},
        {"[1,2,3] ", 0, "header is a JSON array, not an object"},
        {"\"str\"", 0, "not an object"},
        {"{\"t\":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 't': unknown dtype 'F8'"},
        {"{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "dtype is not a string"},
        {"{\"t\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "no dtype"},
        {"{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "no shape"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "no data_offsets"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4,
         "tensor 't': data_offsets [0,4] hold 4 bytes, but F32 [2] needs 8"},
        {"{\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 4,
         "tensor 'fc.bias': data_offsets [8,12] out of range (data is 4 bytes)"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4, "end before begin"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4, "not [begin, end]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4, "not [begin, end]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0.0,4]}}", 4, "not [begin, end]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"a\":0,\"b\":4}}}", 4, "not [begin, end]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0] is not a non-negative integer"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, "shape is a JSON string"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         "shape has 9 dimensions"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}", 4, "too large"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4, "shape[0]"},
        {"{\"t\":[1,2]}", 0, "tensor 't': entry is a JSON array, not an object"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "tensors 'a' [0,8] and 'b' [4,12] overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         16, "overlap"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, "tensor name 'a' appears twice"},
        /* the tensors must cover the data exactly, as the format's reference reader has it */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, "a gap of 4 bytes before tensor 'b' (data bytes 4 to 8 belong to no tensor)"},
        {"{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[2,6]}}", 6, "a gap of 2 bytes before tensor 'b'"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[6,10]}}",
         10, "a gap of 2 bytes before tensor 'b'"}, /* an empty tensor fills no gap */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 7,
         "3 bytes after the last tensor ('a' ends at 4 of 7 data bytes)"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]}}",
         8, "4 bytes after the last tensor ('a' ends at 4"},
        {"{}", 12, "12 data bytes after the header, but no tensor holds any"},
        {"{\"__metadata__\":{\"k\":\"v\"}}", 1, "1 data bytes after the header"},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ value of 'k' is a JSON number, not a string"},
        {"{\"__metadata__\":[\"k\"]}", 0, "__metadata__ is a JSON array, not an object"},
        {"{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", 0, "key 'k' twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "__metadata__ twice"},
        {"{\"t\":{\"dtype\":\"F32\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
         "tensor 't': the key 'dtype' twice"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"data_offsets\":[4,8]}}", 8,
         "tensor 't': the key 'data_offsets' twice"},
        {"{\"bad\\nname\":{\"dtype\":\"X\",\"shape\":[],\"data_offsets\":[0,0]}}", 0, "tensor 'bad?name'"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 2, "out of range (data is 2 bytes)"},
        {"{\"t\":{\"dtype\":\"F32\",\"shape\":[[[[[[[[[[1]]]]]]]]]]}}", 0, "nesting deeper"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char label[32];
        snprintf(label, sizeof label, "case %zu", k);
        write_st(p, cases[k].header, d, cases[k].data);
        expect_fail(p, RESNET_E_WEIGHTS, cases[k].part, label);
    }

    /* things the JSON cases cannot express */
    tu_write_file(p, "", 0);
    expect_fail(p, RESNET_E_WEIGHTS, "file is empty", "empty file");
    tu_write_file(p, "\x10\0\0", 3);
    expect_fail(p, RESNET_E_WEIGHTS, "only 3 bytes", "truncated length");
    unsigned char hl[16] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, '{', '}'};
    tu_write_file(p, hl, 10);
    expect_fail(p, RESNET_E_WEIGHTS, "header length 18446744073709551615 is larger than the rest of the file (2 bytes)",
                "header length > file");
    unsigned char hl2[16] = {100, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    tu_write_file(p, hl2, 10);
    expect_fail(p, RESNET_E_WEIGHTS, "larger than the rest", "header length 100 > 2");
    /* the files given --weights by mistake are named: torch.save's zip archive, and an ONNX
     * model as torch.onnx.export begins it (ir_version 8, then the producer's name) */
    tu_write_file(p, "PK\3\4\x14\0\0\0\x08\0archive/data.pkl", 26);
    expect_fail(p, RESNET_E_WEIGHTS, "tools/pth-to-safetensors.py converts it", "a PyTorch checkpoint");
    tu_write_file(p, "\x08\x08\x12\x07pytorch\x1a\x06" "1.13.1", 19);
    expect_fail(p, RESNET_E_WEIGHTS, "'resnet import' converts it", "an ONNX model");
    /* a good file cut short inside its data */
    write_st(p, "{\"t\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", d, 16);
    size_t size;
    unsigned char *raw = tu_read_file(p, &size);
    tu_write_file(p, raw, size - 5);
    free(raw);
    expect_fail(p, RESNET_E_WEIGHTS, "out of range (data is 11 bytes)", "truncated data");
    /* a header length over the sanity limit, in a (sparse) file big enough to hold it */
    int fd = open(p, O_WRONLY | O_TRUNC);
    unsigned char big[8];
    for (int i = 0; i < 8; i++) big[i] = (unsigned char)((uint64_t)(100000000 + 256) >> (8 * i));
    if (fd >= 0 && write(fd, big, 8) == 8 && ftruncate(fd, 8 + 100000000 + 4096) == 0) {
        close(fd);
        expect_fail(p, RESNET_E_WEIGHTS, "implausibly large", "header length > 100 MB");
    } else if (fd >= 0) {
        close(fd);
    }

    /* not a file at all */
    const char *dir = tu_path("a_dir.safetensors");
    mkdir(dir, 0755);
    expect_fail(dir, RESNET_E_IO, "is a directory", "directory");
    rmdir(dir);
    expect_fail(tu_path("missing.safetensors"), RESNET_E_IO, "No such file", "missing file");
    const char *fifo = tu_path("fifo.safetensors");
    if (mkfifo(fifo, 0600) == 0) {
        expect_fail(fifo, RESNET_E_IO, "not a regular file", "FIFO (must not block)");
        unlink(fifo);
    }
    unlink(p);

    /* fine: empty header object, padding (the header's, the only padding the format has),
     * tensors listed out of data order, empty tensors sharing an offset or inside another's
     * bytes (they hold none) */
    static const struct {
        const char *header;
        size_t data;
    } ok[] = {
        {"{}", 0},
        {"{}      ", 0},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
         "\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
         "\"e2\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[6,6]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
         8},
        {"{\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0},
    };
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++) {
        write_st(p, ok[k].header, d, ok[k].data);
        resnet_error err;
        rn_safetensors *st = NULL;
        CHECK(rn_st_open(p, &st, &err) == RESNET_OK, "ok case %zu: %s", k, err.message);
        if (k == 2 && st) {
            CHECK(rn_st_count(st) == 4 && strcmp(rn_st_tensor(st, 0)->name, "b") == 0 &&
                      strcmp(rn_st_tensor(st, 3)->name, "e2") == 0,
                  "data order");
        }
        rn_st_close(st);
    }
    unlink(p);
    CHECK(rn_st_open(NULL, NULL, NULL) == RESNET_E_ARG, "NULL arguments");
}

/* Random corruption of a valid file: open must fail cleanly or succeed with sane tensors. */
static void test_fuzz(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    rn_st_entry e[3] = {{"a", 2, {2, 2}, v}, {"b", 1, {2}, v + 4}, {"c", 0, {0}, v}};
    const char *keys[] = {"k"}, *vals[] = {"v"};
    const char *p = tu_path("fuzz.safetensors");
    resnet_error err;
    if (rn_st_write(p, e, 3, keys, vals, 1, &err) != RESNET_OK) {
        CHECK(0, "write: %s", err.message);
        return;
    }
    size_t n;
    unsigned char *orig = tu_read_file(p, &n), *buf = malloc(n);
    unsigned state = 99;
    int opened = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, n);
        for (int f = 0; f < 1 + iter % 3; f++) {
            state = state * 1103515245u + 12345u;
            size_t at = (state >> 8) % (n - 20); /* mostly the header */
            state = state * 1103515245u + 12345u;
            buf[at] = (unsigned char)(state >> 16);
        }
        tu_write_file(p, buf, n);
        rn_safetensors *st = NULL;
        if (rn_st_open(p, &st, &err) == RESNET_OK) {
            opened++;
            for (size_t i = 0; i < rn_st_count(st); i++) {
                const rn_tensor *t = rn_st_tensor(st, i);
                float out[64];
                if (t->nbytes / rn_dtype_size(t->dtype) <= 64) rn_st_read_f32(st, t, out, &err);
            }
            rn_st_close(st);
        } else {
            CHECK(strstr(err.message, p) != NULL, "fuzz message names the file: %s", err.message);
        }
    }
    CHECK(opened > 0, "some corruptions still open (data bytes)");
    free(orig);
    free(buf);
    unlink(p);
}

/* rn_st_open_memory (the fuzz harness's way in) sees exactly what rn_st_open sees, names the
 * caller's label in errors, and never drops the caller's pages (rn_st_release is a no-op on
 * memory it did not map: madvise(DONTNEED) would zero a heap buffer). */
static void test_open_memory(void) {
    float v[6] = {1, 2, 3, 4, 5, 6};
    rn_st_entry e[2] = {{"w", 2, {2, 2}, v}, {"b", 1, {2}, v + 4}};
    const char *keys[] = {"variant"}, *vals[] = {"v1"};
    const char *p = tu_path("mem.safetensors");
    resnet_error err;
    CHECK(rn_st_write(p, e, 2, keys, vals, 1, &err) == RESNET_OK, "write: %s", err.message);
    size_t n = 0;
    unsigned char *bytes = tu_read_file(p, &n);
    rn_safetensors *a = NULL, *b = NULL;
    CHECK(bytes && rn_st_open(p, &a, &err) == RESNET_OK, "open: %s", err.message);
    CHECK(bytes && rn_st_open_memory(bytes, n, "label", &b, &err) == RESNET_OK, "open_memory: %s", err.message);
    if (a && b) {
        CHECK(rn_st_count(a) == rn_st_count(b) && strcmp(rn_st_metadata(b, "variant"), "v1") == 0, "same contents");
        for (size_t i = 0; i < rn_st_count(a); i++) {
            const rn_tensor *x = rn_st_tensor(a, i), *y = rn_st_tensor(b, i);
            CHECK(strcmp(x->name, y->name) == 0 && x->nbytes == y->nbytes && memcmp(x->data, y->data, x->nbytes) == 0,
                  "tensor %zu differs", i);
            CHECK((const unsigned char *)y->data >= bytes && (const unsigned char *)y->data + y->nbytes <= bytes + n,
                  "tensor %zu points into the caller's buffer", i);
        }
        const rn_tensor *w = rn_st_find(b, "w");
        rn_st_release(b, w);
        CHECK(w && memcmp(w->data, v, sizeof(float) * 4) == 0, "rn_st_release changed the caller's memory");
        CHECK(strcmp(rn_st_path(b), "label") == 0, "path is the label");
    }
    rn_st_close(a);
    rn_st_close(b);
    b = (rn_safetensors *)&err;
    CHECK(rn_st_open_memory(bytes, n - 3, "cut.bin", &b, &err) == RESNET_E_WEIGHTS && b == NULL &&
              strstr(err.message, "cut.bin") && strstr(err.message, "out of range"),
          "truncated: %s", err.message);
    CHECK(rn_st_open_memory(bytes, 7, NULL, &b, &err) == RESNET_E_WEIGHTS && strstr(err.message, "<memory>"),
          "7 bytes: %s", err.message);
    CHECK(rn_st_open_memory(NULL, 16, "x", &b, &err) == RESNET_E_ARG, "NULL data");
    CHECK(rn_st_open_memory(bytes, n, "x", NULL, &err) == RESNET_E_ARG, "NULL out");
    free(bytes);
    unlink(p);
}

/* A zero dimension makes a tensor empty whatever the other dimensions say: the reader has
 * always accepted [0, 2^32, 2^32]; the writer must write it back (found by fuzz_safetensors). */
static void test_zero_dim_with_huge_others(void) {
    rn_st_entry e = {"empty", 3, {4294967296LL, 4294967296LL, 0}, NULL};
    const char *p = tu_path("zero.safetensors");
    resnet_error err;
    CHECK(rn_st_write(p, &e, 1, NULL, NULL, 0, &err) == RESNET_OK, "write: %s", err.message);
    rn_safetensors *st = NULL;
    CHECK(rn_st_open(p, &st, &err) == RESNET_OK, "open: %s", err.message);
    const rn_tensor *t = rn_st_find(st, "empty");
    CHECK(t && t->nbytes == 0 && t->ndim == 3 && t->shape[0] == 4294967296LL && t->shape[2] == 0, "read back");
    rn_st_close(st);
    unlink(p);
}

/* An entry with a great many keys (the header allows 100 MB of them) is checked for a repeated
 * key in n log n: pair by pair, a million keys took minutes. Bounded by an alarm in a child. */
static void test_entry_with_many_keys(void) {
    enum { KEYS = 1000000 };
    const size_t cap = 64 + (size_t)KEYS * 16;
    char *h = malloc(cap);
    CHECK(h != NULL, "out of memory");
    if (!h) return;
    for (int dup = 0; dup < 2; dup++) {
        size_t n = (size_t)snprintf(h, cap, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]");
        for (int i = 0; i < KEYS; i++) n += (size_t)snprintf(h + n, cap - n, ",\"k%d\":0", i);
        if (dup) n += (size_t)snprintf(h + n, cap - n, ",\"k%d\":1", KEYS / 2); /* one key again */
        n += (size_t)snprintf(h + n, cap - n, "}}");
        unsigned char *file = malloc(8 + n + 4);
        CHECK(file != NULL, "out of memory");
        if (!file) break;
        for (int i = 0; i < 8; i++) file[i] = (unsigned char)((uint64_t)n >> (8 * i));
        memcpy(file + 8, h, n);
        memset(file + 8 + n, 0, 4);
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20);
            rn_safetensors *st = NULL;
            resnet_error err;
            resnet_status s = rn_st_open_memory(file, 8 + n + 4, "keys", &st, &err);
            rn_st_close(st);
            if (!dup) _exit(s == RESNET_OK ? 0 : 2);
            char want[64];
            snprintf(want, sizeof want, "the key 'k%d' twice", KEYS / 2);
            _exit(s == RESNET_E_WEIGHTS && strstr(err.message, want) ? 0 : 3);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: %s %d", dup ? "a key repeated" : "no key repeated",
              WIFSIGNALED(status) ? "killed by signal (too slow)" : "exit", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        free(file);
    }
    free(h);
}

int main(void) {
    tu_make_tmpdir("rn_st_");
    RUN(test_round_trip);
    RUN(test_write_errors);
    RUN(test_dtypes);
    RUN(test_hostile);
    RUN(test_fuzz);
    RUN(test_open_memory);
    RUN(test_zero_dim_with_huge_others);
    RUN(test_entry_with_many_keys);
    tu_remove_tmpdir();
    return TEST_DONE();
}
