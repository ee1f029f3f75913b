# fuzz/fuzz.mk - the libFuzzer harnesses (included by the Makefile). See fuzz/README.md.
#
#   make fuzz                     build the harnesses (clang, ASan + UBSan) and their seed corpora
#   make fuzz-run                 each harness over its seeds and fuzz/regressions/<harness>/,
#                                 then FUZZ_SECONDS more of fuzzing (what CI runs)
#   build-fuzz/fuzz_image -jobs=1 build-fuzz/work/image build-fuzz/corpus/image   (long runs)

FUZZ_CC      ?= $(firstword $(shell command -v clang-14 clang 2>/dev/null))
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 15
FUZZ_NAMES    = image safetensors tfjs serve onnx oip head
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# Images above 4 Mpixel are refused here (134 Mpixel in the library): same code paths, but
# no second-long decodes of lying headers (src/image/image.h).
FUZZ_CFLAGS   = -O1 -g $(FUZZ_SAN) -DRN_IMAGE_MAX_PIXELS='(1u << 22)' -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pthread -Iinclude -Isrc
# Only what the harnesses reach: the image loader and src/io's parsers.
FUZZ_LIB_SRC  = src/common.c src/io/json.c src/io/fileio.c src/io/atomic.c src/io/safetensors.c src/io/tfjs_import.c \
                src/io/protobuf.c src/io/onnx.c src/io/onnx_import.c \
                src/image/decode.c src/image/decode_jpeg.c src/image/decode_png.c src/image/decode_webp.c \
                src/image/decode_tiff.c src/image/decode_gif.c src/image/decode_bmp.c src/image/decode_pnm.c \
                src/image/image.c src/image/exif.c src/image/resize.c src/image/preprocess.c \
                src/cli/serve_request.c src/cli/serve_oip.c src/cli/serve_guard.c
FUZZ_LIB_OBJ  = $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_BIN      = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-run
.SECONDARY: $(FUZZ_LIB_OBJ) # made by a pattern rule: keep them, or make deletes them after the link
fuzz: $(FUZZ_BIN) $(FUZZ_BUILD)/corpus/.made

$(FUZZ_BUILD)/src/%.o: src/%.c $(wildcard include/*.h src/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	@test -n "$(FUZZ_CC)" || { echo "fuzz: clang not found (apt-get install clang libclang-rt-dev)" >&2; exit 1; }
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_common.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) -lpng -ljpeg -lwebpdemux -lwebp -ltiff -lgif -lm

$(FUZZ_BUILD)/make_corpus: fuzz/make_corpus.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -o $@ $< -lpng -ljpeg

$(FUZZ_BUILD)/corpus/.made: $(FUZZ_BUILD)/make_corpus tests/data/formats/manifest.tsv $(wildcard tests/data/onnx/*.onnx)
	rm -rf $(FUZZ_BUILD)/corpus
	$(FUZZ_BUILD)/make_corpus $(FUZZ_BUILD)/corpus
	mkdir -p $(FUZZ_BUILD)/corpus/onnx && cp tests/data/onnx/*.onnx $(FUZZ_BUILD)/corpus/onnx/
	@touch $@

# Each harness over its seeds and regressions, then a short fuzzing run (fuzz/run.sh).
fuzz-run: fuzz
	FUZZ_BUILD=$(FUZZ_BUILD) fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_NAMES)

# The regression inputs also run in the normal test suite (gcc), through the same harness code.
$(BUILD)/tests/test_fuzz_regressions: fuzz/fuzz_common.h fuzz/fuzz_image.c fuzz/fuzz_safetensors.c fuzz/fuzz_tfjs.c fuzz/fuzz_onnx.c \
    fuzz/fuzz_serve.c fuzz/fuzz_oip.c fuzz/fuzz_head.c $(BUILD)/src/cli/serve_request.o $(BUILD)/src/cli/serve_oip.o \
    $(BUILD)/src/cli/serve_guard.o
# the serve harness's parser is the tool's, not the library's
TEST_EXTRA_test_fuzz_regressions = $(BUILD)/src/cli/serve_request.o $(BUILD)/src/cli/serve_oip.o \
    $(BUILD)/src/cli/serve_guard.o
