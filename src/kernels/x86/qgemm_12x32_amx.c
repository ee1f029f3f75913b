/* qgemm_12x32_amx.c - the int8 micro-kernel on AMX-INT8 tiles (Sapphire Rapids and later), with
 * the contract of qkernels.h and the AVX-512 VNNI kernel's 12x32 tile and packed panels: a k
 * group of the panel (32 columns x 4 depths, 128 bytes) is one row of the two B tiles, so
 * one tdpbusd multiplies an mr x 64-byte tile of A by 16 groups of 16 columns: mr * 16 * 64
 * multiply-adds, where one vpdpbusd does 64. amx.inc has the tiles.
 *
 * The sums start from the panel's csum (a tile loaded with stride 0); each tap's rows load
 * in place when equally spaced, else are gathered; the int32 tiles are then stored to a
 * buffer and requantized by the VNNI kernel's own store (qstore_avx512.inc), so the outputs
 * are those of every other path, bit for bit. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "kernels/qkernels.h"
#include "amx.inc"
#include "qstore_avx512.inc"

#define MR 12
#define NR 32

/* One step over the k groups g0.. of B (16, or the tail's fewer: `bytes` of each A row). */
#define STEP(TA, TB0, TB1, bytes)                                                          \
    do {                                                                                   \
        if (in_place) {                                                                    \
            _tile_loadd(TA, rows[0] + 4 * (size_t)g0, stride);                             \
        } else {                                                                           \
            amx_gather(abuf, rows, mr, 4 * (size_t)g0, bytes);                             \
            _tile_loadd(TA, abuf, 64);                                                     \
        }                                                                                  \
        _tile_loadd(TB0, b, 4 * NR);                                                       \
        _tile_loadd(TB1, b + 64, 4 * NR);                                                  \
        _tile_dpbusd(AMX_C0, TA, TB0);                                                     \
        _tile_dpbusd(AMX_C1, TA, TB1);                                                     \
    } while (0)

void rn_qs8_gemm_12x32__amx(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                            const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    const int groups = kc / 4, full = groups / 16, tail = groups % 16;
    const unsigned char *wp = w;
    amx_configure(mr, tail);
    _tile_loadd(AMX_C0, wp, 0);
    _tile_loadd(AMX_C1, wp + 64, 0);
    const unsigned char *b = wp + NR * 12;
    _Alignas(64) unsigned char abuf[MR * 64];
    for (int t = 0; t < ks; t++) {
        const unsigned char *rows[MR];
        for (int i = 0; i < mr; i++) rows[i] = a[(size_t)t * MR + i];
        int in_place;
        const long stride = amx_row_stride(rows, mr, &in_place);
        int g0 = 0;
        for (int s = 0; s < full; s++, g0 += 16, b += 16 * 4 * NR) STEP(AMX_A, AMX_B0, AMX_B1, 64);
        if (tail) {
            STEP(AMX_AT, AMX_BT0, AMX_BT1, 4 * (size_t)tail);
            b += (size_t)tail * 4 * NR;
        }
    }
    _Alignas(64) int32_t acc[MR * NR];
    _tile_stored(AMX_C0, acc, 4 * NR);
    _tile_stored(AMX_C1, acc + 16, 4 * NR);
    AMX_MEMORY(acc);
    const float *sc = (const float *)(const void *)(wp + NR * 4), *bi = sc + NR;
    const __m512 sc0 = _mm512_loadu_ps(sc), sc1 = _mm512_loadu_ps(sc + 16);
    const __m512 bi0 = _mm512_loadu_ps(bi), bi1 = _mm512_loadu_ps(bi + 16);
    const size_t esize = (flags & (RN_QUK_OUT_S32 | RN_QUK_OUT_F32)) ? 4 : 1;
    const qstore_consts kq = qstore_load(p);
    for (int i = 0; i < mr; i++)
        store_row(_mm512_loadu_si512((const void *)(acc + i * NR)), _mm512_loadu_si512((const void *)(acc + i * NR + 16)),
                  (char *)c + (size_t)i * ldc * esize, res ? res + (size_t)i * ldr : NULL, sc0, sc1, bi0, bi1, kq, flags);
}
