/* amx_emulation.h - the AMX tile instructions the AMX micro-kernels use, in plain C, so that
 * their logic (the tile configuration, rows loaded in place or gathered, B tiles read from the
 * packed panels with their stride, the depth tail, the epilogue) is tested on CPUs without AMX.
 *
 * Force-included (-include) when compiling src/kernels/x86/bf16gemm_12x32_amx.c and
 * qgemm_32x32_amx.c for the tests only, after the AVX-512 stand-ins their epilogues need
 * (avx512vnni_emulation.h, which brings avx512_emulation.h). A thread's 8 tiles of 16 rows x 64
 * bytes and its configuration, as Intel's pseudo-code defines the instructions:
 * - ldtilecfg checks the palette-1 layout as the CPU does (rows <= 16, colsb <= 64, zero or
 *   both set, reserved bytes zero) and zeroes every tile;
 * - tileloadd reads rows x colsb bytes, row r at base + r * stride, and zeroes the rest of
 *   the tile; tilestored writes rows x colsb bytes; a tile used unconfigured faults;
 * - tdpbf16ps: per row m of C and 4-byte column n, over k < A.colsb / 4:
 *   c += a[m][2k] * b[k][2n], then c += a[m][2k+1] * b[k][2n+1], each rounded to fp32 (the
 *   product of two bf16 is exact, so fmaf is that), bf16 denormals read as zero and denormal
 *   sums flushed to zero (DAZ, FTZ: the instruction ignores MXCSR). That is the Intrinsics
 *   Guide's order; the SDM describes even and odd partial sums over the tile's depth added to
 *   C at the end. The tests compare with a bound on fp32 summation that holds for either;
 *   only the int8 results are exact;
 * - tdpbusd: c += the 4 products u8(a) * s8(b) of each dword pair, wrapping in int32;
 * - both check the shapes (A.colsb / 4 == B.rows, C.rows == A.rows, C.colsb == B.colsb) and
 *   zero C's bytes past its configuration.
 * A fault (what the CPU answers with #GP or #UD) prints what and aborts: the test fails. */
#ifndef RN_AMX_EMULATION_H
#define RN_AMX_EMULATION_H

#include "avx512vnni_emulation.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct rn_emu_amx {
    int configured;
    uint16_t colsb[8];
    uint8_t rows[8];
    unsigned char t[8][16][64];
} rn_emu_amx;
static _Thread_local rn_emu_amx rn_emu_tiles;

static void rn_emu_amx_fault(const char *what, int tile) {
    fprintf(stderr, "emulated AMX: %s (tile %d)\n", what, tile);
    abort();
}

static inline void rn_emu_tile_loadconfig(const void *p) {
    const unsigned char *c = p;
    rn_emu_amx *s = &rn_emu_tiles;
    memset(s, 0, sizeof *s);
    if (c[0] == 0) return; /* palette 0: the tiles released */
    if (c[0] != 1) rn_emu_amx_fault("ldtilecfg: palette not 1", -1);
    for (int i = 1; i < 16; i++)
        if (c[i]) rn_emu_amx_fault("ldtilecfg: start_row or a reserved byte not zero", -1);
    for (int t = 0; t < 16; t++) {
        uint16_t colsb;
        memcpy(&colsb, c + 16 + 2 * t, 2);
        const uint8_t rows = c[48 + t];
        if (t >= 8 && (colsb || rows)) rn_emu_amx_fault("ldtilecfg: a tile past the 8", t);
        if (colsb > 64 || rows > 16 || (colsb == 0) != (rows == 0)) rn_emu_amx_fault("ldtilecfg: invalid shape", t);
        if (t < 8) s->colsb[t] = colsb, s->rows[t] = rows;
    }
    s->configured = 1;
}

static inline rn_emu_amx *rn_emu_tile_check(int t) {
    rn_emu_amx *s = &rn_emu_tiles;
    if (!s->configured || t < 0 || t > 7 || s->rows[t] == 0) rn_emu_amx_fault("tile not configured", t);
    return s;
}

static inline void rn_emu_tile_loadd(int t, const void *base, long stride) {
    rn_emu_amx *s = rn_emu_tile_check(t);
    memset(s->t[t], 0, sizeof s->t[t]);
    for (int r = 0; r < s->rows[t]; r++) memcpy(s->t[t][r], (const unsigned char *)base + (long)r * stride, s->colsb[t]);
}

static inline void rn_emu_tile_stored(int t, void *base, long stride) {
    rn_emu_amx *s = rn_emu_tile_check(t);
    for (int r = 0; r < s->rows[t]; r++) memcpy((unsigned char *)base + (long)r * stride, s->t[t][r], s->colsb[t]);
}

static inline void rn_emu_tile_zero(int t) { memset(rn_emu_tile_check(t)->t[t], 0, sizeof rn_emu_tiles.t[t]); }

/* The shapes a tile product needs; its C rows zeroed past colsb. */
static inline rn_emu_amx *rn_emu_tile_dp_check(int c, int a, int b) {
    rn_emu_amx *s = rn_emu_tile_check(c);
    rn_emu_tile_check(a);
    rn_emu_tile_check(b);
    if (c == a || c == b || a == b) rn_emu_amx_fault("tile product: the same tile twice", c);
    if (s->colsb[a] % 4 || s->colsb[c] % 4) rn_emu_amx_fault("tile product: colsb not a multiple of 4", a);
    if (s->colsb[a] / 4 != s->rows[b]) rn_emu_amx_fault("tile product: A's columns are not B's rows", b);
    if (s->rows[c] != s->rows[a]) rn_emu_amx_fault("tile product: C's rows are not A's", a);
    if (s->colsb[c] != s->colsb[b]) rn_emu_amx_fault("tile product: C's columns are not B's", b);
    return s;
}

static inline float rn_emu_bf16_daz(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    if ((h & 0x7f80) == 0) h &= 0x8000; /* a denormal (or zero) reads as zero */
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline float rn_emu_ftz(float x) { return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x; }

static inline void rn_emu_tile_dpbf16ps(int c, int a, int b) {
    rn_emu_amx *s = rn_emu_tile_dp_check(c, a, b);
    for (int m = 0; m < s->rows[c]; m++)
        for (int n = 0; n < s->colsb[c] / 4; n++) {
            float acc;
            memcpy(&acc, &s->t[c][m][4 * n], 4);
            for (int k = 0; k < s->colsb[a] / 4; k++) {
                acc = rn_emu_ftz(fmaf(rn_emu_bf16_daz(&s->t[a][m][4 * k]), rn_emu_bf16_daz(&s->t[b][k][4 * n]), acc));
                acc = rn_emu_ftz(fmaf(rn_emu_bf16_daz(&s->t[a][m][4 * k + 2]), rn_emu_bf16_daz(&s->t[b][k][4 * n + 2]), acc));
            }
            memcpy(&s->t[c][m][4 * n], &acc, 4);
        }
    for (int m = 0; m < 16; m++) memset(&s->t[c][m][s->colsb[c]], 0, 64 - (size_t)s->colsb[c]);
}

static inline void rn_emu_tile_dpbusd(int c, int a, int b) {
    rn_emu_amx *s = rn_emu_tile_dp_check(c, a, b);
    for (int m = 0; m < s->rows[c]; m++)
        for (int n = 0; n < s->colsb[c] / 4; n++) {
            uint32_t acc;
            memcpy(&acc, &s->t[c][m][4 * n], 4);
            for (int k = 0; k < s->colsb[a] / 4; k++)
                for (int q = 0; q < 4; q++)
                    acc += (uint32_t)((int32_t)s->t[a][m][4 * k + q] * (int32_t)(int8_t)s->t[b][k][4 * n + q]);
            memcpy(&s->t[c][m][4 * n], &acc, 4);
        }
    for (int m = 0; m < 16; m++) memset(&s->t[c][m][s->colsb[c]], 0, 64 - (size_t)s->colsb[c]);
}

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#undef _tile_dpbusd
#define _tile_loadconfig rn_emu_tile_loadconfig
#define _tile_loadd(t, base, stride) rn_emu_tile_loadd(t, base, (long)(stride))
#define _tile_stored(t, base, stride) rn_emu_tile_stored(t, base, (long)(stride))
#define _tile_zero(t) rn_emu_tile_zero(t)
#define _tile_dpbf16ps(c, a, b) rn_emu_tile_dpbf16ps(c, a, b)
#define _tile_dpbusd(c, a, b) rn_emu_tile_dpbusd(c, a, b)
#define rn_bf16_gemm_12x32__amx rn_bf16_gemm_12x32__amx_emulated
#define rn_qs8_gemm_32x32__amx rn_qs8_gemm_32x32__amx_emulated

#endif
