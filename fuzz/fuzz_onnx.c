/* fuzz_onnx.c - libFuzzer harness for the ONNX importer (resnet_import_onnx): the protobuf
 * reader, the ONNX model reader and the ResNet recogniser.
 *
 * The input is the model file. It is written as model.onnx in a private folder beside a fixed
 * 4 KiB "w.bin", so tensors whose external data names w.bin reach the external-data checks.
 * Seeds: the tiny real exports of tests/data/onnx/ (fuzz.mk copies them into the corpus).
 *
 * Checks: a failure has a one-line message and leaves no output file (not even the writer's
 * temporary); a success writes a safetensors file that opens, with a stem, an fc and the
 * metadata every import writes.
 */
#include <dirent.h>

#include "fuzz_common.h"
#include "io/safetensors.h"
#include "resnet.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

static int onnx_fuzz_has_file(const char *prefix) {
    DIR *d = opendir(fuzz_tmpdir());
    struct dirent *e;
    int found = 0;
    while (d && !found && (e = readdir(d))) found = strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (d) closedir(d);
    return found;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size);

int FUZZ_ENTRY(const uint8_t *data, size_t size) {
    static int have_ext;
    char model[512], ext[512], out[512];
    fuzz_path(model, sizeof model, "model.onnx");
    fuzz_path(ext, sizeof ext, "w.bin");
    fuzz_path(out, sizeof out, "onnx-out.safetensors");
    if (!have_ext) {
        unsigned char w[4096];
        for (size_t i = 0; i < sizeof w; i++) w[i] = (unsigned char)(i * 37u);
        fuzz_write_file(ext, w, sizeof w);
        have_ext = 1;
    }
    fuzz_write_file(model, data, size);
    unlink(out);
    resnet_error err;
    memset(&err, 0, sizeof err);
    resnet_status s = resnet_import_onnx(model, out, RESNET_NORM_TORCH, NULL, &err);
    if (s != RESNET_OK) {
        FUZZ_CHECK(err.status == s && fuzz_message_ok(err.message, sizeof err.message));
        FUZZ_CHECK(!onnx_fuzz_has_file("onnx-out.safetensors"));
        return 0;
    }
    rn_safetensors *st = NULL;
    s = rn_st_open(out, &st, &err);
    if (s != RESNET_OK) fprintf(stderr, "import wrote a file that does not open: %s\n", err.message);
    FUZZ_CHECK(s == RESNET_OK);
    FUZZ_CHECK(rn_st_find(st, "conv1.weight") && rn_st_find(st, "bn1.running_var") && rn_st_find(st, "fc.weight") &&
               rn_st_find(st, "fc.bias") && rn_st_find(st, "layer4.0.conv1.weight"));
    const char *v = rn_st_metadata(st, "variant"), *e = rn_st_metadata(st, "bn_eps");
    FUZZ_CHECK(v && (strcmp(v, "v1") == 0 || strcmp(v, "v1.5") == 0) && e);
    rn_st_close(st);
    unlink(out);
    return 0;
}
