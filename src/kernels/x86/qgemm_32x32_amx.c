/* qgemm_32x32_amx.c - the int8 micro-kernel on AMX-INT8 tiles (Sapphire Rapids and later), with
 * the contract of qkernels.h and the AVX-512 VNNI kernel's packed panels (32 columns): a k
 * group of the panel (32 columns x 4 depths, 128 bytes) is one row of the two B tiles, so
 * one tdpbusd multiplies a 16 x 64-byte tile of A by 16 groups of 16 columns: 16K
 * multiply-adds, where one vpdpbusd does 64.
 *
 * Why 32 rows, as four 16x16 tiles of C: a 64-byte step loads two A tiles and two B tiles
 * and runs four products, each tile used twice, against three loads for two products with
 * one A tile; and the four sums are independent, so a product does not wait for the one
 * before it on the same tile (tdpbusd's latency is several times its issue interval, which
 * two chains would leave exposed). That uses all 8 tiles, so a depth that is not a multiple
 * of 64 bytes ends on the same tiles: its A rows are gathered with zeros past the depth and
 * its B rows copied with zero rows after them (either would make the padding's products 0;
 * both keep every byte the tiles read defined), and nothing past a row or a panel is read.
 *
 * The sums start from the panel's csum (a tile loaded with stride 0); each half's rows load
 * in place when equally spaced, else are gathered; the int32 tiles are then stored to a
 * buffer and requantized by the VNNI kernel's own store (qstore_avx512.inc), so the outputs
 * are those of every other path, bit for bit. amx.inc has the configuration's layout. */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "kernels/qkernels.h"
#include "amx.inc"
#include "qstore_avx512.inc"

#define MR 32
#define NR 32
#define HALF 16 /* a tile's rows */

/* Tile numbers (literals: GCC's intrinsics paste them into the instruction's text). */
#define T_C00 0 /* rows 0-15, columns 0-15 */
#define T_C01 1 /* rows 0-15, columns 16-31 */
#define T_C10 2 /* rows 16-31, columns 0-15 */
#define T_C11 3
#define T_A0 4
#define T_A1 5
#define T_B0 6
#define T_B1 7

/* C and A tiles of m0 rows (and m1 for the second half, 0: unused), B tiles of 16 k groups. */
static inline void configure(int m0, int m1) {
    _Alignas(64) rn_amx_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64;
    cfg.rows[T_C00] = cfg.rows[T_C01] = cfg.rows[T_A0] = (uint8_t)m0;
    cfg.rows[T_C10] = cfg.rows[T_C11] = cfg.rows[T_A1] = (uint8_t)m1;
    if (!m1) cfg.colsb[T_C10] = cfg.colsb[T_C11] = cfg.colsb[T_A1] = 0;
    cfg.rows[T_B0] = cfg.rows[T_B1] = HALF;
    AMX_MEMORY(&cfg);
    _tile_loadconfig(&cfg);
}

/* One half's A rows for the step at byte off: in place when equally spaced and the step is
 * whole, else into buf (64 bytes a row, zeros past n). Returns the tile's base; *stride its
 * row stride. */
static inline const unsigned char *half_rows(const unsigned char *const *rows, int m, int in_place, long st, size_t off,
                                             size_t n, unsigned char *buf, long *stride) {
    if (in_place && n == 64) {
        *stride = st;
        return rows[0] + off;
    }
    if (n == 64) /* a whole step: fixed-size copies, inlined */
        for (int i = 0; i < m; i++) memcpy(buf + 64 * i, rows[i] + off, 64);
    else
        for (int i = 0; i < m; i++) {
            memcpy(buf + 64 * i, rows[i] + off, n);
            memset(buf + 64 * i + n, 0, 64 - n);
        }
    AMX_MEMORY(buf);
    *stride = 64;
    return buf;
}

void rn_qs8_gemm_32x32__amx(int mr, int ks, int kc, const uint8_t *const *a, const void *w, void *c, size_t ldc,
                            const uint8_t *res, size_t ldr, const rn_qgemm_params *p, int flags) {
    const int groups = kc / 4, full = groups / 16, tail = groups % 16;
    const int m0 = mr < HALF ? mr : HALF, m1 = mr - m0;
    const unsigned char *wp = w;
    configure(m0, m1);
    _tile_loadd(T_C00, wp, 0);
    _tile_loadd(T_C01, wp + 64, 0);
    if (m1) {
        _tile_loadd(T_C10, wp, 0);
        _tile_loadd(T_C11, wp + 64, 0);
    }
    const unsigned char *b = wp + NR * 12;
    _Alignas(64) unsigned char abuf[2][HALF * 64];
    _Alignas(64) unsigned char btail[HALF * 4 * NR]; /* a tail's k groups, zero rows after them */
    if (tail) memset(btail + (size_t)tail * 4 * NR, 0, (size_t)(HALF - tail) * 4 * NR);
    for (int t = 0; t < ks; t++) {
        const unsigned char *const *r0 = a + (size_t)t * MR, *const *r1 = r0 + HALF;
        int in0, in1 = 0;
        const long st0 = amx_row_stride(r0, m0, &in0), st1 = m1 ? amx_row_stride(r1, m1, &in1) : 0;
        for (int s = 0; s <= full; s++) {
            const size_t off = (size_t)s * 64, n = s < full ? 64 : 4 * (size_t)tail;
            if (!n) break;
            const unsigned char *bt = b;
            if (n < 64) {
                memcpy(btail, b, (size_t)tail * 4 * NR);
                AMX_MEMORY(btail);
                bt = btail;
            }
            long lda;
            const unsigned char *ta = half_rows(r0, m0, in0, st0, off, n, abuf[0], &lda);
            _tile_loadd(T_A0, ta, lda);
            _tile_loadd(T_B0, bt, 4 * NR);
            _tile_loadd(T_B1, bt + 64, 4 * NR);
            _tile_dpbusd(T_C00, T_A0, T_B0);
            _tile_dpbusd(T_C01, T_A0, T_B1);
            if (m1) {
                ta = half_rows(r1, m1, in1, st1, off, n, abuf[1], &lda);
                _tile_loadd(T_A1, ta, lda);
                _tile_dpbusd(T_C10, T_A1, T_B0);
                _tile_dpbusd(T_C11, T_A1, T_B1);
            }
            b += n / 4 * (4 * NR); /* n / 4 k groups of 128 bytes */
        }
    }
    _Alignas(64) int32_t acc[MR * NR];
    _tile_stored(T_C00, acc, 4 * NR);
    _tile_stored(T_C01, acc + 16, 4 * NR);
    if (m1) {
        _tile_stored(T_C10, acc + HALF * NR, 4 * NR);
        _tile_stored(T_C11, acc + HALF * NR + 16, 4 * NR);
    }
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
