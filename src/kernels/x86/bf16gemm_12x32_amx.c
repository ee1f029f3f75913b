/* bf16gemm_12x32_amx.c - AMX-BF16 micro-kernel: the bf16 row of the AVX-512 family on tiles
 * (Sapphire Rapids and later), with rn_bf16_gemm_ukernel's contract (kernels.h) and the
 * AVX-512 kernel's 12x32 tile, so the drivers are unchanged. One tdpbf16ps multiplies an
 * mr x 32-depth bf16 tile of A by a 32-depth x 16-column tile of B (16 pair rows of the
 * panel): mr * 16 * 32 multiply-adds, where one vdpbf16ps does 32. amx.inc has the tiles.
 *
 * A rows equally spaced (the driver's converted block) load as a tile in place; other row
 * sets are gathered 64 bytes a row into a buffer. C starts from the bias (a tile loaded with
 * stride 0: every row the same 16 floats) or from C itself; the residual and ReLU are added
 * with AVX-512 after the tiles are stored. Only mr rows are configured: rows past mr are
 * neither computed nor read. Only this file (and qgemm_32x32_amx.c) is compiled with the AMX
 * flags (Makefile); it is called only after dispatch.c has checked the CPU and obtained the
 * tile state from the OS. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "kernels/kernels.h"
#include "amx.inc"

#define NR 32

/* One step over the pair rows p0.. of B (16, or the tail's fewer: `bytes` of each A row). */
#define STEP(TA, TB0, TB1, bytes)                                                          \
    do {                                                                                   \
        if (in_place) {                                                                    \
            _tile_loadd(TA, rows[0] + 4 * (size_t)p0, stride);                             \
        } else {                                                                           \
            amx_gather(abuf, rows, mr, 4 * (size_t)p0, bytes);                             \
            _tile_loadd(TA, abuf, 64);                                                     \
        }                                                                                  \
        _tile_loadd(TB0, b, 4 * NR);                                                       \
        _tile_loadd(TB1, b + 32, 4 * NR);                                                  \
        _tile_dpbf16ps(AMX_C0, TA, TB0);                                                   \
        _tile_dpbf16ps(AMX_C1, TA, TB1);                                                   \
    } while (0)

void rn_bf16_gemm_12x32__amx(int mr, int kc, const uint16_t *const *a, const uint16_t *b, float *c, size_t ldc,
                             const float *bias, const float *res, size_t ldr, int flags) {
    const int pairs = (kc + 1) / 2, full = pairs / 16, tail = pairs % 16;
    amx_configure(mr, tail);
    if (flags & RN_UK_INIT_BIAS) {
        _tile_loadd(AMX_C0, bias, 0);
        _tile_loadd(AMX_C1, bias + 16, 0);
    } else {
        _tile_loadd(AMX_C0, c, 4 * ldc);
        _tile_loadd(AMX_C1, c + 16, 4 * ldc);
    }
    const unsigned char *rows[12];
    for (int i = 0; i < mr; i++) rows[i] = (const unsigned char *)a[i];
    int in_place;
    const long stride = amx_row_stride(rows, mr, &in_place);
    _Alignas(64) unsigned char abuf[12 * 64];
    int p0 = 0;
    for (int s = 0; s < full; s++, p0 += 16, b += 16 * 2 * NR) STEP(AMX_A, AMX_B0, AMX_B1, 64);
    if (tail) STEP(AMX_AT, AMX_BT0, AMX_BT1, 4 * (size_t)tail);

    const int epilogue = (flags & RN_UK_FINAL) && (res || (flags & RN_UK_RELU));
    if (!epilogue) {
        _tile_stored(AMX_C0, c, 4 * ldc);
        _tile_stored(AMX_C1, c + 16, 4 * ldc);
        return;
    }
    _Alignas(64) float acc[12 * NR];
    _tile_stored(AMX_C0, acc, 4 * NR);
    _tile_stored(AMX_C1, acc + 16, 4 * NR);
    AMX_MEMORY(acc);
    const __m512 z = _mm512_setzero_ps();
    for (int i = 0; i < mr; i++) {
        __m512 x0 = _mm512_loadu_ps(acc + i * NR), x1 = _mm512_loadu_ps(acc + i * NR + 16);
        if (res) {
            x0 = _mm512_add_ps(x0, _mm512_loadu_ps(res + (size_t)i * ldr));
            x1 = _mm512_add_ps(x1, _mm512_loadu_ps(res + (size_t)i * ldr + 16));
        }
        if (flags & RN_UK_RELU) {
            x0 = _mm512_max_ps(x0, z);
            x1 = _mm512_max_ps(x1, z);
        }
        _mm512_storeu_ps(c + (size_t)i * ldc, x0);
        _mm512_storeu_ps(c + (size_t)i * ldc + 16, x1);
    }
}
