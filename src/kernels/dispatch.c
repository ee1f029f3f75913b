/* dispatch.c - picks the micro-kernel family once, from what the CPU and OS support.
 * The only place that knows which kernels exist. */
#if defined(__linux__)
#define _DEFAULT_SOURCE 1 /* syscall() */
#endif
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/qkernels.h"

#if defined(RN_HAVE_X86)
#include <cpuid.h>
#include <pthread.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* XGETBV: which register states the OS saves on context switch. A CPU flag alone is
 * not enough: the OS must have enabled YMM (and ZMM/opmask) state too. */
static unsigned long long xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static int cpu_has_avx2_fma(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    if ((xgetbv0() & 0x6) != 0x6) return 0; /* XMM and YMM state */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return (b >> 5) & 1; /* AVX2 */
}

static int cpu_has_avx512f(void) {
    unsigned int a, b, c, d;
    if (!cpu_has_avx2_fma()) return 0;
    if ((xgetbv0() & 0xe6) != 0xe6) return 0; /* + opmask, ZMM0-15 upper, ZMM16-31 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return ((b >> 16) & 1) && ((b >> 31) & 1); /* AVX512F, AVX512VL */
}

static int cpu_has_avx512vnni(void) {
    unsigned int a, b, c, d;
    if (!cpu_has_avx512f()) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    return ((b >> 30) & 1) && ((c >> 11) & 1); /* AVX512BW, AVX512_VNNI */
}

/* vdpbf16ps and vcvtne(2)ps2bf16 (AVX512_BF16), with the AVX-512 state the OS must save. */
static int cpu_has_avx512bf16(void) {
    unsigned int a, b, c, d;
    if (!cpu_has_avx512f()) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !((b >> 30) & 1)) return 0; /* AVX512BW */
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 5) & 1; /* AVX512_BF16 */
}

/* AMX: the tile instructions (cpuid(7,0).edx bit 24 AMX-TILE, 22 AMX-BF16, 25 AMX-INT8), the
 * OS's tile state in XCR0 (bits 17 XTILECFG, 18 XTILEDATA), and on Linux the process's
 * permission to use it: without arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) the first
 * tile instruction faults. Asked once per process (it holds for every thread); refused (an
 * old kernel, a sigaltstack too small for the larger signal frame) means no AMX, silently:
 * the AVX-512 kernels run. Other systems: no AMX here (nothing to ask them with). */
static int amx_granted;
static void amx_request(void) {
#if defined(__linux__) && defined(SYS_arch_prctl)
    enum { ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    amx_granted = syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#endif
}

static int cpu_has_amx(int bit) {
    unsigned int a, b, c, d;
    if (!cpu_has_avx512f()) return 0; /* the kernels' epilogues are AVX-512 */
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!((d >> 24) & 1) || !((d >> bit) & 1)) return 0;
    if ((xgetbv0() & 0x60000) != 0x60000) return 0;
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, amx_request);
    return amx_granted;
}
static int cpu_has_amx_bf16(void) { return cpu_has_avx512bf16() && cpu_has_amx(22); }
static int cpu_has_amx_int8(void) { return cpu_has_avx512vnni() && cpu_has_amx(25); }

/* The VEX form: its own flag, and only YMM state needed (so it serves where the OS hides
 * AVX-512 too). */
static int cpu_has_avxvnni(void) {
    unsigned int a, b, c, d;
    if (!cpu_has_avx2_fma()) return 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return 0;
    return (a >> 4) & 1; /* AVX-VNNI */
}
#endif

static const rn_kernel_config config_c = {RESNET_KERNELS_C, 6, 8, rn_f32_gemm_6x8__c, {rn_wino_f4_input__c, rn_wino_f4_output__c},
                                          {rn_wino_f2_input__c, rn_wino_f2_output__c}, NULL,
                                          NULL, rn_bf16_convert__c, NULL, rn_gconv_16__c, 16, 4};
#if defined(RN_HAVE_X86)
static const rn_kernel_config config_avx2 = {RESNET_KERNELS_AVX2, 6, 16, rn_f32_gemm_6x16__avx2,
                                             {rn_wino_f4_input__avx2, rn_wino_f4_output__avx2},
                                             {rn_wino_f2_input__avx2, rn_wino_f2_output__avx2},
                                             rn_peak_gflops__avx2, NULL, rn_bf16_convert__c, NULL,
                                             rn_gconv_8__avx2, 8, 6};
static const rn_kernel_config config_avx512 = {RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512,
                                               {rn_wino_f4_input__avx2, rn_wino_f4_output__avx2},
                                             {rn_wino_f2_input__avx2, rn_wino_f2_output__avx2},
                                               rn_peak_gflops__avx512, NULL, rn_bf16_convert__c, NULL,
                                               rn_gconv_16__avx512, 16, 12};
/* The same family with its bf16 row: vdpbf16ps (Zen 4, Cooper Lake and later), or AMX-BF16
 * tiles where the CPU has them too (Sapphire Rapids and later: no peak probe for them yet). */
static const rn_kernel_config config_avx512bf16 = {RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512,
                                                   {rn_wino_f4_input__avx2, rn_wino_f4_output__avx2},
                                                   {rn_wino_f2_input__avx2, rn_wino_f2_output__avx2},
                                                   rn_peak_gflops__avx512, rn_bf16_gemm_12x32__avx512bf16,
                                                   rn_bf16_convert__avx512bf16, rn_peak_gflops__avx512bf16,
                                                   rn_gconv_16__avx512, 16, 12};
static const rn_kernel_config config_avx512amx = {RESNET_KERNELS_AVX512, 12, 32, rn_f32_gemm_12x32__avx512,
                                                  {rn_wino_f4_input__avx2, rn_wino_f4_output__avx2},
                                                  {rn_wino_f2_input__avx2, rn_wino_f2_output__avx2},
                                                  rn_peak_gflops__avx512, rn_bf16_gemm_12x32__amx,
                                                  rn_bf16_convert__avx512bf16, NULL,
                                                  rn_gconv_16__avx512, 16, 12};

/* Whether vdpbf16ps beats FMA here. It does twice an FMA's multiply-adds per instruction, but
 * cores issue it at different rates: Zen 4 and 5 about as often as an FMA (bf16 runs ResNet-50
 * in 0.56-0.60 of fp32's time there), an Intel Xeon (Emerald Rapids, measured 2026-12-08) a
 * quarter as often (two FMA pipes, one vdpbf16ps every other cycle), so that bf16 on it took 1.5x
 * fp32's time. No flag tells the two apart: measured once per process, the first time a bf16
 * model asks (about 5 ms), three alternating short windows of each peak probe, the best of each.
 * It pays where its FLOP rate is at least 1.25x FMA's; the CPUs seen sit at 2x and 0.5x. */
static int bf16_dot_pays;
static void bf16_dot_measure(void) {
    double dot = 0, fma = 0;
    for (int i = 0; i < 3; i++) {
        const double d = rn_peak_gflops__avx512bf16(5e-4), f = rn_peak_gflops__avx512(5e-4);
        dot = d > dot ? d : dot;
        fma = f > fma ? f : fma;
    }
    bf16_dot_pays = dot >= 1.25 * fma;
}

/* The AVX-512 family with its best bf16 row. */
static const rn_kernel_config *select_avx512(int amx) {
    if (amx && cpu_has_amx_bf16()) return &config_avx512amx;
    if (cpu_has_avx512bf16()) return &config_avx512bf16;
    return cpu_has_avx512f() ? &config_avx512 : NULL;
}
#endif

const rn_kernel_config *rn_kernels_for_bf16(const rn_kernel_config *kc) {
#if defined(RN_HAVE_X86)
    if (kc == &config_avx512bf16) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;
        pthread_once(&once, bf16_dot_measure);
        if (!bf16_dot_pays) return &config_avx512;
    }
#endif
    return kc;
}

const rn_kernel_config *rn_kernels_select(resnet_kernels which) {
#if defined(RN_HAVE_X86)
    if (which == RN_KERNELS_AVX512_NO_AMX) return select_avx512(0);
#else
    if (which == RN_KERNELS_AVX512_NO_AMX) return NULL;
#endif
    switch (which) {
    case RESNET_KERNELS_C: return &config_c;
#if defined(RN_HAVE_X86)
    case RESNET_KERNELS_AVX2: return cpu_has_avx2_fma() ? &config_avx2 : NULL;
    case RESNET_KERNELS_AVX512: return select_avx512(1);
    case RESNET_KERNELS_AUTO:
        if (cpu_has_avx512f()) return select_avx512(1);
        if (cpu_has_avx2_fma()) return &config_avx2;
        return &config_c;
#else
    case RESNET_KERNELS_AUTO: return &config_c;
    default: return NULL;
#endif
    }
    return NULL;
}

/* The int8 families (qkernels.h). The AVX2 one computes 7-bit weights exactly, no more. */
static const rn_qkernel_config qconfig_c = {RN_QPATH_C, "c", 4, 8, -128, 127, rn_qs8_gemm_4x8__c, NULL,
                                            rn_qs16_gemm_2x32__c, rn_qwino_in_4x4__c,
                                            rn_qwino_out_2x2__c, NULL, rn_quantize_planes__c,
                                            rn_qwino_in_5x5__c, rn_qwino_out_3x3__c, 2};
#if defined(RN_HAVE_X86)
static const rn_qkernel_config qconfig_avx2 = {RN_QPATH_AVX2, "avx2", 4, 16, -64, 63, rn_qs8_gemm_4x16__avx2,
                                               rn_qpeak_gops__avx2, rn_qs16_gemm_2x32__avx2,
                                               rn_qwino_in_4x4__avx2, rn_qwino_out_2x2__avx2,
                                               rn_qs8_gemm_a7_4x16__avx2, rn_quantize_planes__avx2,
                                               rn_qwino_in_5x5__avx2, rn_qwino_out_3x3__avx2, 2};
static const rn_qkernel_config qconfig_avxvnni = {RN_QPATH_AVXVNNI, "avxvnni", 6, 16, -128, 127,
                                                  rn_qs8_gemm_6x16__avxvnni, rn_qpeak_gops__avxvnni, NULL, NULL, NULL, NULL,
                                                  rn_quantize_planes__avx2, NULL, NULL, 0};
/* AVX-512 VNNI's integer Winograd is F(3x3) alone (ops/qwinograd.c says why), on 8 rows. */
static const rn_qkernel_config qconfig_avx512vnni = {RN_QPATH_AVX512VNNI, "avx512vnni", 12, 32, -128, 127,
                                                     rn_qs8_gemm_12x32__avx512vnni, rn_qpeak_gops__avx512vnni,
                                                     rn_qs16_gemm_8x32__avx512vnni, NULL, NULL, NULL,
                                                     rn_quantize_planes__avx512, rn_qwino_in_5x5__avx512vnni,
                                                     rn_qwino_out_3x3__avx512vnni, 8};
/* No peak probe for the tiles yet (none of our machines has them to measure it on). */
static const rn_qkernel_config qconfig_amx = {RN_QPATH_AMX, "amx-int8", 32, 32, -128, 127, rn_qs8_gemm_32x32__amx,
                                              NULL, NULL, NULL, NULL, NULL, rn_quantize_planes__avx512, NULL, NULL, 0};
#endif

const rn_qkernel_config *rn_qkernels_select(rn_qpath which) {
    switch (which) {
    case RN_QPATH_C: return &qconfig_c;
#if defined(RN_HAVE_X86)
    case RN_QPATH_AVX2: return cpu_has_avx2_fma() ? &qconfig_avx2 : NULL;
    case RN_QPATH_AVXVNNI: return cpu_has_avxvnni() ? &qconfig_avxvnni : NULL;
    case RN_QPATH_AVX512VNNI: return cpu_has_avx512vnni() ? &qconfig_avx512vnni : NULL;
    case RN_QPATH_AMX: return cpu_has_amx_int8() ? &qconfig_amx : NULL;
    case RN_QPATH_AUTO:
        if (cpu_has_amx_int8()) return &qconfig_amx;
        if (cpu_has_avx512vnni()) return &qconfig_avx512vnni;
        if (cpu_has_avxvnni()) return &qconfig_avxvnni;
        if (cpu_has_avx2_fma()) return &qconfig_avx2;
        return &qconfig_c;
#else
    case RN_QPATH_AUTO: return &qconfig_c;
    default: return NULL;
#endif
    }
    return NULL;
}

const char *rn_qpath_name(rn_qpath p) {
    switch (p) {
    case RN_QPATH_AUTO: return "auto";
    case RN_QPATH_C: return "c";
    case RN_QPATH_AVX2: return "avx2";
    case RN_QPATH_AVXVNNI: return "avxvnni";
    case RN_QPATH_AVX512VNNI: return "avx512vnni";
    case RN_QPATH_AMX: return "amx-int8";
    }
    return "unknown";
}

const char *resnet_kernels_name(resnet_kernels k) {
    switch (k) {
    case RESNET_KERNELS_AUTO: return "auto";
    case RESNET_KERNELS_C: return "c";
    case RESNET_KERNELS_AVX2: return "avx2";
    case RESNET_KERNELS_AVX512: return "avx512";
    }
    return "unknown";
}

int resnet_kernels_parse(const char *name) {
    static const resnet_kernels all[] = {RESNET_KERNELS_AUTO, RESNET_KERNELS_C, RESNET_KERNELS_AVX2,
                                         RESNET_KERNELS_AVX512};
    for (size_t i = 0; name && i < sizeof all / sizeof all[0]; i++)
        if (strcmp(name, resnet_kernels_name(all[i])) == 0) return (int)all[i];
    return -1;
}

int resnet_kernels_available(resnet_kernels k) { return rn_kernels_select(k) != NULL; }

double resnet_kernels_peak_gflops(resnet_kernels k, double seconds) {
    const rn_kernel_config *kc = rn_kernels_select(k);
    return kc && kc->peak_gflops ? kc->peak_gflops(seconds) : 0.0;
}

const char *rn_kernels_bf16_name(const rn_kernel_config *kc) {
    if (!kc || !kc->gemm_bf16) return NULL;
#if defined(RN_HAVE_X86)
    if (kc->gemm_bf16 == rn_bf16_gemm_12x32__amx) return "amx-bf16";
#endif
    return "avx512bf16";
}

/* The public questions are about what a bf16 model would run on. */
static const rn_kernel_config *bf16_select(resnet_kernels k) {
    const rn_kernel_config *kc = rn_kernels_select(k);
    return kc ? rn_kernels_for_bf16(kc) : NULL;
}

const char *resnet_kernels_bf16_name(resnet_kernels k) { return rn_kernels_bf16_name(bf16_select(k)); }

int resnet_kernels_bf16_native(resnet_kernels k) {
    const rn_kernel_config *kc = bf16_select(k);
    return kc && kc->gemm_bf16;
}

double resnet_kernels_bf16_peak_gflops(resnet_kernels k, double seconds) {
    const rn_kernel_config *kc = bf16_select(k);
    return kc && kc->peak_bf16_gflops ? kc->peak_bf16_gflops(seconds) : 0.0;
}
