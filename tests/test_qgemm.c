/* test_qgemm.c - the int8 micro-kernels (src/kernels/qkernels.h) against a naive integer
 * loop: every path this CPU has, and the ones it lacks on emulated intrinsics; random
 * shapes, every mr, several taps with padding rows, activation zero points, u8 / f32 / s32
 * stores with and without residual and ReLU. The int32 sums must be bit-identical, and so
 * must the requantized outputs (every path computes the same float steps); the
 * requantization itself is checked against the same arithmetic in double. */
#include <math.h>
#include <stdint.h>

#include "testutil.h"
#include "kernels/qkernels.h"

static unsigned rng_state = 7;
static unsigned rnd(void) { rng_state = rng_state * 1664525u + 1013904223u; return rng_state >> 8; }
static int irand(int lo, int hi) { return lo + (int)(rnd() % (unsigned)(hi - lo + 1)); }
static double drand(void) { return (rnd() & 0xffffff) / 16777216.0; } /* [0, 1) */

/* Built only for the tests (Makefile): the portable kernel's plain loops, which compilers
 * other than GCC and Clang build (GCC and Clang build its float-vector version). */
void rn_qs8_gemm_4x8__c_plain(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                              const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
static const rn_qkernel_config c_plain = {RN_QPATH_C, "c (plain loops)", 4, 8, -128, 127,
                                          rn_qs8_gemm_4x8__c_plain, NULL, NULL, NULL, NULL, NULL,
                                          rn_quantize_planes__c, NULL, NULL, 0};

#if defined(RN_HAVE_X86)
/* Built only for the tests (Makefile): the paths a CPU may lack, on stand-ins. */
void rn_qs8_gemm_12x32__avx512vnni_emulated(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                            size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p,
                                            int flags);
void rn_qs8_gemm_6x16__avxvnni_emulated(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                        size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
void rn_qs16_gemm_8x32__avx512vnni_emulated(int mr, int kc, const int16_t *a, size_t lda, const int16_t *b, int32_t *m);
void rn_qwino_in_5x5__avx512vnni_emulated(const uint8_t *const *d, int cin, int16_t *v, size_t step);
void rn_qwino_out_3x3__avx512vnni_emulated(const int32_t *m, size_t ldm, const float *scale, const float *bias,
                                           const rn_qgemm_params *p, uint8_t *const *out);
static const rn_qkernel_config avx512vnni_emulated = {RN_QPATH_AVX512VNNI, "avx512vnni (emulated)", 12, 32, -128, 127,
                                                      rn_qs8_gemm_12x32__avx512vnni_emulated, NULL,
                                                      rn_qs16_gemm_8x32__avx512vnni_emulated, NULL, NULL, NULL,
                                                      rn_quantize_planes__c, rn_qwino_in_5x5__avx512vnni_emulated,
                                                      rn_qwino_out_3x3__avx512vnni_emulated, 8};
static const rn_qkernel_config avxvnni_emulated = {RN_QPATH_AVXVNNI, "avxvnni (emulated on avx2)", 6, 16, -128, 127,
                                                   rn_qs8_gemm_6x16__avxvnni_emulated, NULL, NULL, NULL, NULL, NULL,
                                                   rn_quantize_planes__c, NULL, NULL, 0};
/* AMX-INT8 on tests/amx_emulation.h's tiles (its store on the AVX-512 stand-ins). */
void rn_qs8_gemm_32x32__amx_emulated(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c,
                                     size_t ldc, const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags);
static const rn_qkernel_config amx_emulated = {RN_QPATH_AMX, "amx-int8 (emulated)", 32, 32, -128, 127,
                                               rn_qs8_gemm_32x32__amx_emulated, NULL, NULL, NULL, NULL, NULL,
                                               rn_quantize_planes__c, NULL, NULL, 0};
#endif

/* Every family to test: the real ones this CPU has, and the emulated ones where they can run. */
static int families(const rn_qkernel_config **out) {
    int n = 0;
    static const rn_qpath real[] = {RN_QPATH_C, RN_QPATH_AVX2, RN_QPATH_AVXVNNI, RN_QPATH_AVX512VNNI, RN_QPATH_AMX};
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        const rn_qkernel_config *kc = rn_qkernels_select(real[i]);
        if (kc) out[n++] = kc;
        else printf("     (int8 path %s not on this CPU%s: its real kernel skipped)\n", rn_qpath_name(real[i]),
                    real[i] == RN_QPATH_AMX ? ", or the OS did not grant the tile state" : "");
    }
    out[n++] = &c_plain;
#if defined(RN_HAVE_X86)
    out[n++] = &avx512vnni_emulated;
    out[n++] = &amx_emulated;
    if (rn_qkernels_select(RN_QPATH_AVX2)) out[n++] = &avxvnni_emulated; /* its stand-in is AVX2 */
#endif
    return n;
}

/* The requantization in double: what the float steps approximate. */
static double requant_double(int32_t acc, float scale, float bias, const uint8_t *r, const rn_qgemm_params *p) {
    double v = (double)acc * scale + bias;
    if (r) v += (double)*r * p->res_scale;
    return v < p->lo ? p->lo : v > p->hi ? p->hi : v;
}
/* A bound on |float steps - double|: each of (float)acc and the two fmaf rounds once, by at
 * most 2^-24 of a magnitude no larger than the sum of the terms' magnitudes. */
static double requant_tol(int32_t acc, float scale, float bias, const uint8_t *r, const rn_qgemm_params *p) {
    double s = fabs((double)acc * scale) + fabs(bias) + (r ? fabs((double)*r * p->res_scale) : 0.0);
    return 4.0 * s * ldexp(1.0, -24) + 1e-30;
}

/* A u8 output against the double reference: equal to it rounded half to even, except where
 * the double value is within the float steps' error of a tie (then one off is allowed). */
static int u8_matches_double(uint8_t got, double v, double tol) {
    double want = nearbyint(v);
    if (got == want) return 1;
    double frac = v - floor(v);
    return fabs(frac - 0.5) <= tol && fabs(got - v) <= 0.5 + tol;
}

/* The largest activation byte: 255, or 127 for a gemm7 kernel (7-bit activations). */
static int amax = 255;

typedef struct qcase {
    int mr, ks, kcl, n, a_zero, out, residual, relu, pad_taps, extreme, ties;
} qcase;

/* One case on one family: pack, run every panel, compare with the naive loop. */
static void check_case(const rn_qkernel_config *kc, const qcase *t) {
    const int MR = kc->mr, nr = kc->nr, panels = (t->n + nr - 1) / nr, ks = t->ks, kcl = t->kcl;
    const size_t depth = (size_t)ks * kcl, ldc = (size_t)panels * nr + 5, ldr = ldc + 3;
    const size_t esize = t->out == 0 ? 1 : 4;
    int8_t *w = malloc(t->n * depth);
    float *scale = malloc(t->n * sizeof(float)), *bias = malloc(t->n * sizeof(float));
    /* A: MR rows per tap, each with room past kcl (the kernel must not read it: the
     * sanitizer build checks); a padding row of zero points */
    uint8_t *abuf = malloc((size_t)ks * MR * (kcl + 3)), *pad = malloc((size_t)kcl);
    const uint8_t **rows = malloc((size_t)ks * MR * sizeof *rows);
    uint8_t *res = malloc((size_t)MR * ldr);
    unsigned char *c = malloc((size_t)(MR + 1) * ldc * esize), *c0 = malloc((size_t)(MR + 1) * ldc * esize);
    void *packed = malloc(rn_qpack_bytes(kc, t->n, ks, kcl));
    const int wlo = kc->wmin, whi = kc->wmax;
    for (size_t i = 0; i < t->n * depth; i++) w[i] = (int8_t)(t->extreme ? ((i & 1) ? whi : wlo) : irand(wlo, whi));
    if (t->extreme == 2) /* every product as large as it gets, one sign: the s16 pair sums' worst */
        for (size_t i = 0; i < t->n * depth; i++) w[i] = (int8_t)wlo;
    for (size_t i = 0; i < (size_t)ks * MR * (kcl + 3); i++) abuf[i] = (uint8_t)(t->extreme ? amax : irand(0, amax));
    if (t->extreme == 3) { /* large products of one sign, not all alike: deep sums that a float would round */
        for (size_t i = 0; i < t->n * depth; i++) w[i] = (int8_t)irand(wlo, wlo + (whi - wlo) / 8);
        for (size_t i = 0; i < (size_t)ks * MR * (kcl + 3); i++) abuf[i] = (uint8_t)irand(amax * 3 / 4, amax);
    }
    memset(pad, t->a_zero, (size_t)kcl);
    for (size_t i = 0; i < (size_t)MR * ldr; i++) res[i] = (uint8_t)irand(0, 255);
    /* scales that put the outputs across [0, 255] and past both ends */
    double wstd = (whi - wlo) / 3.5, astd = 74.0;
    for (int o = 0; o < t->n; o++) {
        scale[o] = (float)((0.3 + drand()) * 120.0 / (sqrt((double)depth) * wstd * astd));
        bias[o] = (float)(drand() * 300.0 - 60.0);
        if (t->ties) { scale[o] = 0.5f; bias[o] = (float)irand(0, 100); } /* x.5 exactly, often */
    }
    for (int tap = 0; tap < ks; tap++)
        for (int i = 0; i < MR; i++) {
            int r = i < t->mr ? i : t->mr - 1; /* rows past mr repeat the last real one */
            /* rows in reverse order, so a kernel that assumed a stride would fail */
            const uint8_t *row = abuf + ((size_t)tap * MR + (MR - 1 - r)) * (kcl + 3);
            int padded = t->pad_taps && (tap + r) % 3 == 0; /* some taps of some rows over the padding */
            rows[tap * MR + i] = padded ? pad : row;
        }
    rn_qgemm_params p = {(float)(0.2 + drand()), 0.0f, 255.0f};
    if (t->out == 0) p.lo = t->relu ? (float)irand(0, 100) : 0.0f; /* ReLU: the output zero point */
    if (t->out == 1) { p.lo = t->relu ? 0.0f : -INFINITY; p.hi = INFINITY; }
    int rc = rn_qpack(kc, packed, w, t->n, ks, kcl, scale, bias, t->a_zero);
    CHECK(rc == 0, "%s: pack failed", kc->name);
    if (rc) goto done;

    for (size_t i = 0; i < (size_t)(MR + 1) * ldc * esize; i++) c[i] = (unsigned char)(rnd() & 0xff);
    memcpy(c0, c, (size_t)(MR + 1) * ldc * esize);
    const int flags = t->out == 1 ? RN_QUK_OUT_F32 : t->out == 2 ? RN_QUK_OUT_S32 : 0;
    const size_t pbytes = rn_qpack_panel_bytes(kc, ks, kcl);
    for (int pn = 0; pn < panels; pn++) /* every other panel asks for the next one: a hint, the same results */
        kc->gemm(t->mr, ks, kcl, rows, (const char *)packed + pn * pbytes, c + (size_t)pn * nr * esize, ldc,
                 t->residual ? res + (size_t)pn * nr : NULL, ldr, &p,
                 flags | ((pn + t->mr) % 2 ? RN_QUK_PREFETCH_NEXT : 0));

    int bad = 0, bad_double = 0, untouched = 0;
    for (int i = 0; i < MR + 1; i++)
        for (size_t j = 0; j < ldc; j++) {
            size_t at = ((size_t)i * ldc + j) * esize;
            if (i >= t->mr || j >= (size_t)panels * nr) { untouched += memcmp(c + at, c0 + at, esize) != 0; continue; }
            int64_t acc = 0; /* the naive loop, in 64 bits */
            if ((int)j < t->n)
                for (int tap = 0; tap < ks; tap++)
                    for (int k = 0; k < kcl; k++)
                        acc += (int64_t)(rows[tap * MR + i][k] - t->a_zero) * w[j * depth + (size_t)tap * kcl + k];
            if (acc != (int32_t)acc) { bad++; continue; }
            float sc = (int)j < t->n ? scale[j] : 0.0f, bi = (int)j < t->n ? bias[j] : 0.0f;
            const uint8_t *r = t->residual ? res + (size_t)i * ldr + j : NULL;
            if (t->out == 2) {
                int32_t got;
                memcpy(&got, c + at, 4);
                bad += got != (int32_t)acc;
            } else if (t->out == 1) {
                float got, want = rn_qrequant_f32((int32_t)acc, sc, bi, r, &p);
                memcpy(&got, c + at, 4);
                bad += memcmp(&got, &want, 4) != 0;
                double v = requant_double((int32_t)acc, sc, bi, r, &p);
                bad_double += !(fabs(got - v) <= requant_tol((int32_t)acc, sc, bi, r, &p) || got == v);
            } else {
                uint8_t got = c[at];
                bad += got != rn_qrequant_u8((int32_t)acc, sc, bi, r, &p);
                double v = requant_double((int32_t)acc, sc, bi, r, &p);
                bad_double += !u8_matches_double(got, v, requant_tol((int32_t)acc, sc, bi, r, &p));
            }
        }
    CHECK(bad == 0 && bad_double == 0 && untouched == 0,
          "%s mr=%d ks=%d kc=%d n=%d zero=%d out=%s res=%d relu=%d pad=%d extreme=%d ties=%d: %d wrong, "
          "%d off the double reference, %d written outside the tile",
          kc->name, t->mr, ks, kcl, t->n, t->a_zero, t->out == 0 ? "u8" : t->out == 1 ? "f32" : "s32", t->residual,
          t->relu, t->pad_taps, t->extreme, t->ties, bad, bad_double, untouched);
done:
    free(w); free(scale); free(bias); free(abuf); free(pad); free(rows); free(res); free(c); free(c0); free(packed);
}

static void test_kernels(void) {
    const rn_qkernel_config *fam[12];
    int nf = families(fam);
    for (int f = 0; f < 2 * nf; f++) {
        /* each family's gemm, then its gemm7 (where it has one) on 7-bit activations */
        rn_qkernel_config k7;
        const rn_qkernel_config *kc = fam[f % nf];
        if (f >= nf) {
            if (!kc->gemm7) continue;
            k7 = *kc;
            k7.gemm = kc->gemm7;
            k7.name = kc->id == RN_QPATH_AVX2 ? "avx2 a7 (7-bit activations)" : "gemm7";
            kc = &k7;
        }
        amax = f >= nf ? 127 : 255;
        int cases = 0;
        /* every mr, each store, one tap and a 3x3 window with padding rows */
        for (int mr = 1; mr <= kc->mr; mr++)
            for (int out = 0; out < 3; out++) {
                qcase t = {mr, out == 1 ? 9 : 1, 4 * irand(1, 40), irand(1, 2 * kc->nr + 3), irand(0, 1) ? 0 : irand(1, amax),
                           out, irand(0, 1), irand(0, 1), out == 1, 0, 0};
                check_case(kc, &t);
                cases++;
            }
        /* depths around the AMX kernel's 64-byte steps: a tail alone, none, a step and a tail,
         * with 1 and 3 taps (a tail per tap), every store, every mr */
        static const int depths[] = {4, 60, 64, 68, 128, 148, 252};
        for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++)
            for (int out = 0; out < 3; out++) {
                qcase t = {irand(1, kc->mr), irand(0, 1) ? 3 : 1, depths[d], irand(1, 2 * kc->nr + 3), irand(0, 1) ? 0 : irand(1, amax),
                           out, irand(0, 1), irand(0, 1), irand(0, 1), 0, 0};
                check_case(kc, &t);
                cases++;
            }
        /* random shapes: odd N, depth up to the largest ResNet-50 tap run (512) */
        for (int r = 0; r < 40; r++) {
            qcase t = {irand(1, kc->mr), irand(1, 3) == 3 ? 9 : irand(1, 3), 4 * irand(1, 130), irand(1, 3 * kc->nr),
                       irand(0, 2) ? 0 : irand(0, amax), irand(0, 2), irand(0, 1), irand(0, 1), irand(0, 1), 0, 0};
            check_case(kc, &t);
            cases++;
        }
        /* the extremes: a = 255 against the widest weights of the path (alternating signs,
         * then one sign: where vpmaddubsw's s16 pair sums would saturate with 8-bit weights),
         * deep enough that int32 must hold the sum; and exact ties x.5 (round half to even) */
        qcase ex1 = {kc->mr, 9, 512, kc->nr, 0, 2, 0, 0, 0, 1, 0}, ex2 = ex1, ties = {kc->mr, 1, 8, kc->nr, 0, 0, 0, 0, 0, 0, 1};
        ex2.extreme = 2;
        check_case(kc, &ex1);
        check_case(kc, &ex2);
        ex2.out = 0;
        check_case(kc, &ex2);
        ex2.extreme = 3; /* sums past 2^24 of varied products: exact in int32, not in a float */
        ex2.out = 2;
        check_case(kc, &ex2);
        check_case(kc, &ties);
        ties.residual = 1;
        check_case(kc, &ties);
        printf("     %s: %d cases\n", kc->name, cases + 6);
    }
    amax = 255;
}

/* The requantization of one value against double, on sums past 2^24 (where (float)acc
 * rounds), and round half to even on exact ties. */
static void test_requant(void) {
    rn_qgemm_params p = {0.75f, 0.0f, 255.0f};
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        int32_t acc = (int32_t)(rnd() << 8) >> irand(0, 16); /* magnitudes up to 2^31 */
        float scale = (float)(ldexp(drand() + 0.5, -irand(4, 24)));
        float bias = (float)(drand() * 400 - 100);
        uint8_t r = (uint8_t)irand(0, 255);
        const uint8_t *rp = irand(0, 1) ? &r : NULL;
        uint8_t got = rn_qrequant_u8(acc, scale, bias, rp, &p);
        double v = requant_double(acc, scale, bias, rp, &p);
        bad += !u8_matches_double(got, v, requant_tol(acc, scale, bias, rp, &p));
    }
    CHECK(bad == 0, "%d requantized values off the double reference", bad);
    /* ties go to the even neighbour: 2.5 -> 2, 3.5 -> 4, 0.5 -> 0, 254.5 -> 254 */
    rn_qgemm_params q = {1.0f, 0.0f, 255.0f};
    CHECK(rn_qrequant_u8(5, 0.5f, 0.0f, NULL, &q) == 2, "2.5");
    CHECK(rn_qrequant_u8(7, 0.5f, 0.0f, NULL, &q) == 4, "3.5");
    CHECK(rn_qrequant_u8(1, 0.5f, 0.0f, NULL, &q) == 0, "0.5");
    CHECK(rn_qrequant_u8(509, 0.5f, 0.0f, NULL, &q) == 254, "254.5");
    CHECK(rn_qrequant_u8(-3, 1.0f, 0.0f, NULL, &q) == 0 && rn_qrequant_u8(300, 1.0f, 0.0f, NULL, &q) == 255, "clamp");
    uint8_t r = 3;
    CHECK(rn_qrequant_u8(2, 0.25f, 1.0f, &r, &q) == 4, "residual"); /* 0.5 + 1 + 3 = 4.5 -> 4 */
}

/* Packing: the compensation of the activation zero point, and refusals. */
static void test_pack(void) {
    const rn_qkernel_config *c = rn_qkernels_select(RN_QPATH_C);
    int8_t w[2 * 8];
    for (int i = 0; i < 16; i++) w[i] = (int8_t)(i - 8);
    float s[2] = {1, 2};
    unsigned char buf[1024];
    CHECK(rn_qpack(c, buf, w, 2, 1, 8, s, NULL, 10) == 0, "pack");
    int32_t cs[8];
    memcpy(cs, buf, sizeof cs);
    CHECK(cs[0] == -10 * (-8 - 7 - 6 - 5 - 4 - 3 - 2 - 1) && cs[1] == -10 * (0 + 1 + 2 + 3 + 4 + 5 + 6 + 7) && cs[2] == 0,
          "column sums %d %d %d", cs[0], cs[1], cs[2]);
    CHECK(rn_qpack(c, buf, w, 2, 1, 6, s, NULL, 0) == -1, "depth not a multiple of 4 refused");
    const rn_qkernel_config *avx2 = rn_qkernels_select(RN_QPATH_AVX2);
    if (avx2) {
        int8_t w8[16] = {63, -64, 0, 1, 2, 3, 4, 5, -65, 0, 0, 0, 0, 0, 0, 0};
        unsigned char big[4096];
        CHECK(rn_qpack(avx2, big, w8, 1, 1, 16, s, NULL, 0) == -1, "AVX2 path refuses a weight past 7 bits");
        w8[8] = -64;
        CHECK(rn_qpack(avx2, big, w8, 1, 1, 16, s, NULL, 0) == 0, "AVX2 path takes 7-bit weights");
    }
}

static void test_dispatch(void) {
    const rn_qkernel_config *a = rn_qkernels_select(RN_QPATH_AUTO);
    CHECK(a != NULL, "auto");
    if (!a) return;
    printf("     auto: %s (%dx%d)\n", a->name, a->mr, a->nr);
    /* auto is the best path present, in the order amx > avx512vnni > avxvnni > avx2 > c */
    static const rn_qpath order[] = {RN_QPATH_AMX, RN_QPATH_AVX512VNNI, RN_QPATH_AVXVNNI, RN_QPATH_AVX2, RN_QPATH_C};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (rn_qkernels_select(order[i])) {
            CHECK(a->id == order[i], "auto is %s, %s is present", a->name, rn_qpath_name(order[i]));
            break;
        }
}

/* The integer Winograd's kernels (qkernels.h, RN_QW) on every path that has them, against
 * plain loops: the s16 GEMM (sums modulo 2^32, as vpaddd; rows past mr neither read nor
 * written), the input transforms B^T d B of both tiles with padding pointers, and the output
 * transforms with their exact division (a shift, and for F(3x3) 9's inverse modulo 2^32:
 * the reference takes the same steps, so any M checks them) and requantization. */
static const int bt4[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
static const int bt5[5][5] = {{2, -1, -2, 1, 0}, {0, -2, -1, 1, 0}, {0, 2, -3, 1, 0}, {0, -1, 0, 1, 0}, {0, 2, -1, -2, 1}};
static const int at2[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
static const int at3[3][5] = {{1, -1, -1, 1, 0}, {0, -1, 1, 2, 0}, {0, -1, -1, 4, 1}};

static int check_wino_in(rn_qwino_in_fn in, int t) {
    int bad = 0;
    for (int trial = 0; trial < 50; trial++) {
        const int cin = 16 * irand(1, 6), t2 = t * t;
        uint8_t *px = malloc((size_t)t2 * cin);
        int16_t *v = malloc((size_t)t2 * (cin + 5) * 2);
        const uint8_t *d[25];
        for (int i = 0; i < t2 * cin; i++) px[i] = (uint8_t)(trial % 7 == 0 ? 255 : irand(0, 255));
        for (int i = 0; i < t2; i++) d[i] = irand(0, 3) == 0 ? NULL : px + (size_t)i * cin;
        in(d, cin, v, (size_t)cin + 5);
        for (int y = 0; y < t; y++)
            for (int x = 0; x < t; x++)
                for (int ci = 0; ci < cin; ci++) {
                    int want = 0;
                    for (int r = 0; r < t; r++)
                        for (int q = 0; q < t; q++) {
                            const int b = t == 4 ? bt4[y][r] * bt4[x][q] : bt5[y][r] * bt5[x][q];
                            want += b * (d[r * t + q] ? d[r * t + q][ci] : 0);
                        }
                    bad += v[(size_t)(y * t + x) * (cin + 5) + ci] != want;
                }
        free(px);
        free(v);
    }
    return bad;
}

static int check_wino_out(rn_qwino_out_fn out, int m) {
    int bad = 0;
    const int t = m + 2, t2 = t * t;
    for (int trial = 0; trial < 200; trial++) {
        int32_t mm[25 * RN_QW_NR * 2];
        const size_t ldm = 2 * RN_QW_NR;
        /* in range, as a real M's are (a result within int32), and now and then anything */
        const int wild = trial % 10 == 0;
        for (int i = 0; i < t2 * RN_QW_NR * 2; i++) mm[i] = wild ? (int32_t)(rnd() << 8 ^ rnd()) : irand(-20000000, 20000000);
        float scale[RN_QW_NR], bias[RN_QW_NR];
        for (int j = 0; j < RN_QW_NR; j++) {
            scale[j] = (float)(drand() * (m == 3 ? 2e-4 : 2e-5));
            bias[j] = (float)(drand() * 300 - 50);
        }
        rn_qgemm_params p = {0.0f, (float)irand(0, 10), (float)irand(200, 255)};
        uint8_t o[9][RN_QW_NR], *outs[9];
        memset(o, 0x77, sizeof o);
        for (int q = 0; q < m * m; q++) outs[q] = irand(0, 4) == 0 ? NULL : o[q];
        out(mm, ldm, scale, bias, &p, outs);
        for (int q = 0; q < m * m; q++)
            for (int j = 0; j < RN_QW_NR; j++) {
                uint32_t y = 0; /* modulo 2^32, as the kernels */
                for (int r = 0; r < t; r++)
                    for (int c = 0; c < t; c++) {
                        const int a = m == 2 ? at2[q / 2][r] * at2[q % 2][c] : at3[q / 3][r] * at3[q % 3][c];
                        y += (uint32_t)a * (uint32_t)mm[(size_t)(r * t + c) * ldm + j];
                    }
                const int32_t quarter = (int32_t)y >> 2;
                const int32_t acc = m == 2 ? quarter : (int32_t)((uint32_t)quarter * RN_QW_INV9);
                const uint8_t want = outs[q] ? rn_qrequant_u8(acc, scale[j], bias[j], NULL, &p) : 0x77;
                bad += o[q][j] != want;
            }
    }
    return bad;
}

static void test_wino_kernels(void) {
    const rn_qkernel_config *fam[12];
    int nf = families(fam), tested = 0, tested3 = 0;
    for (int f = 0; f < nf; f++) {
        const rn_qkernel_config *kc = fam[f];
        if (!kc->wgemm) continue;
        CHECK(kc->wmr >= 1 && kc->wmr <= RN_QW_MR, "%s: the s16 GEMM's %d rows", kc->name, kc->wmr);
        tested++;
        int bad = 0;
        for (int trial = 0; trial < 200; trial++) { /* GEMM: random depth and rows */
            const int kcl = 2 * irand(1, 150), mr = irand(1, kc->wmr), lda = kcl + 2 * irand(0, 3);
            /* exactly mr rows: a read of the row past them is past the block (ASan) */
            int16_t *a = malloc(((size_t)(mr - 1) * lda + kcl) * 2), *b = malloc((size_t)kcl * RN_QW_NR * 2);
            int32_t m[RN_QW_MR * RN_QW_NR];
            /* the extremes Winograd produces: |V| <= 9180, |U'| <= 10368 (F(3x3)); and,
             * sometimes, the whole s16 range (-32768 twice in a pair: 2^31, which wraps) */
            const int big = trial % 5 == 0;
            for (int i = 0; i < (mr - 1) * lda + kcl; i++) a[i] = (int16_t)(big ? irand(-32768, 32767) : irand(-9180, 9180));
            for (int i = 0; i < kcl * RN_QW_NR; i++) b[i] = (int16_t)(big ? irand(-32768, 32767) : irand(-10368, 10368));
            if (trial == 1) /* every pair at -32768 x -32768 twice */
                for (int i = 0; i < (mr - 1) * lda + kcl || i < kcl * RN_QW_NR; i++) {
                    if (i < (mr - 1) * lda + kcl) a[i] = -32768;
                    if (i < kcl * RN_QW_NR) b[i] = -32768;
                }
            memset(m, 0x5a, sizeof m);
            kc->wgemm(mr, kcl, a, (size_t)lda, b, m);
            for (int i = 0; i < mr; i++)
                for (int j = 0; j < RN_QW_NR; j++) {
                    uint32_t want = 0;
                    for (int k = 0; k < kcl; k++)
                        want += (uint32_t)((int32_t)a[(size_t)i * lda + k] * b[(k / 2 * RN_QW_NR + j) * 2 + k % 2]);
                    bad += (uint32_t)m[i * RN_QW_NR + j] != want;
                }
            for (int i = mr; i < RN_QW_MR; i++) /* rows past mr are not written */
                for (int j = 0; j < RN_QW_NR; j++) bad += m[i * RN_QW_NR + j] != 0x5a5a5a5a;
            free(a);
            free(b);
        }
        CHECK(bad == 0, "%s: s16 GEMM, %d wrong values", kc->name, bad);
        if (kc->win && kc->wout) {
            bad = check_wino_in(kc->win, 4);
            CHECK(bad == 0, "%s: Winograd F(2x2) input transform, %d wrong values", kc->name, bad);
            bad = check_wino_out(kc->wout, 2);
            CHECK(bad == 0, "%s: Winograd F(2x2) output transform, %d wrong values", kc->name, bad);
        }
        if (kc->win3 && kc->wout3) {
            tested3++;
            bad = check_wino_in(kc->win3, 5);
            CHECK(bad == 0, "%s: Winograd F(3x3) input transform, %d wrong values", kc->name, bad);
            bad = check_wino_out(kc->wout3, 3);
            CHECK(bad == 0, "%s: Winograd F(3x3) output transform, %d wrong values", kc->name, bad);
        }
    }
    CHECK(tested >= 1 && tested3 >= 1, "no int8 path has the Winograd kernels (C should)");
    printf("     integer Winograd kernels checked on %d path(s), F(3x3) on %d\n", tested, tested3);
}

int main(void) {
    RUN(test_requant);
    RUN(test_pack);
    RUN(test_dispatch);
    RUN(test_kernels);
    RUN(test_wino_kernels);
    return TEST_DONE();
}
