/* fuzz_tfjs.c - libFuzzer harness for the TensorFlow.js importer (resnet_import_tfjs).
 *
 * The input is model.json, then a NUL byte, then the bytes of one weight shard (JSON cannot
 * hold a raw NUL, so the split is unambiguous; without a NUL there is no shard file). The
 * harness writes them as model.json and "shard.bin" in a private folder (on /dev/shm when
 * there is one) and imports; the seed models (fuzz/make_corpus.c) list "shard.bin".
 *
 * Checks: a failure has a one-line message and leaves no output file (not even the writer's
 * temporary); a success writes a safetensors file that opens, with every tensor of ResNet-50
 * (320: 53 conv + BN groups of 6 and the fc weight and bias) and the metadata asked for.
 */
#include <dirent.h>

#include "fuzz_common.h"
#include "io/safetensors.h"
#include "resnet.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

/* 1 if the folder holds a file whose name starts with prefix. */
static int tfjs_fuzz_has_file(const char *prefix) {
    DIR *d = opendir(fuzz_tmpdir());
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) found = strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return found;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    char json[512], shard[512], out[512];
    fuzz_path(json, sizeof json, "model.json");
    fuzz_path(shard, sizeof shard, "shard.bin");
    fuzz_path(out, sizeof out, "out.safetensors");
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    size_t json_len = nul ? (size_t)(nul - data) : size;
    fuzz_write_file(json, data, json_len);
    if (nul) fuzz_write_file(shard, nul + 1, size - json_len - 1);
    else unlink(shard);
    unlink(out);

    /* the last byte picks the variant and normalisation written into the metadata */
    const int pick = size ? data[size - 1] : 0;
    const resnet_variant variant = pick & 1 ? RESNET_V1_5 : RESNET_V1;
    const resnet_norm norm = pick & 2 ? RESNET_NORM_TORCH : RESNET_NORM_CAFFE;
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status s = resnet_import_tfjs(json, out, variant, norm, &err);
    if (s != RESNET_OK) {
        FUZZ_CHECK(err.status == s && fuzz_message_ok(err.message, sizeof err.message));
        FUZZ_CHECK(!tfjs_fuzz_has_file("out.safetensors")); /* nor out.safetensors.tmp.<pid>.<n>.resnet */
        return 0;
    }
    rn_safetensors *st = NULL;
    s = rn_st_open(out, &st, &err);
    if (s != RESNET_OK) fprintf(stderr, "import wrote a file that does not open: %s\n", err.message);
    FUZZ_CHECK(s == RESNET_OK);
    FUZZ_CHECK(rn_st_count(st) == 320);
    FUZZ_CHECK(rn_st_find(st, "conv1.weight") && rn_st_find(st, "fc.bias") &&
               rn_st_find(st, "layer4.2.bn3.running_var") && rn_st_find(st, "layer3.0.downsample.0.weight"));
    const char *v = rn_st_metadata(st, "variant"), *nm = rn_st_metadata(st, "normalization");
    FUZZ_CHECK(v && strcmp(v, variant == RESNET_V1 ? "v1" : "v1.5") == 0);
    FUZZ_CHECK(nm && strcmp(nm, norm == RESNET_NORM_CAFFE ? "caffe" : "torch") == 0);
    FUZZ_CHECK(rn_st_metadata(st, "bn_eps") != NULL);
    rn_st_close(st);
    unlink(out);
    return 0;
}
