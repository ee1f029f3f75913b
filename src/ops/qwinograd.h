/* qwinograd.h - the int8 3x3 convolution as an exact integer Winograd, F(2x2,3x3) or
 * F(3x3,3x3) (qwinograd.c says why it is exact and where it applies) (internal). */
#ifndef RN_QWINOGRAD_H
#define RN_QWINOGRAD_H

#include <stdint.h>
#include "ops/qconv.h"

/* F(2x2) up to 256 channels: layer1-3. Layer3's 3x3s ran a little faster direct on 7-bit
 * inputs (AVX2's gemm7: its six 6.5 ms against 7.0 here, best per layer at 1 thread), but
 * 7-bit inputs there cost 0.4 points of top-1 agreement with fp32 on held-out photos
 * (weights.c); its U' (3.6x direct's bytes) adds 8 MB, within the memory bound since the fc is
 * int8. Layer4 at 7x7 is bound by its weights and loses (docs/int8.md).
 * F(3x3) up to 128 channels: layer1-2, where its result is within int32 whatever the 8-bit
 * weights (qwinograd.c). On layer3 it was faster too, but its U' (5.6x direct's bytes, 7 MB
 * more than F(2x2)'s there) takes max RSS over the memory bound: layer3 keeps F(2x2) (AVX2, C)
 * or runs direct (AVX-512 VNNI, which has no F(2x2): at half u8's rate its products would
 * cost about what direct's do). */
enum { RN_QW_MAX_CIN = 256, RN_QW3_MAX_CIN = 128 };

/* Whether a convolution can run so, and how: 3 (F(3x3)), 2 (F(2x2)) or 0 (direct). It needs
 * the path's s16 kernels for the tile, 3x3 stride 1 pad 1, input zero point 0, u8 output, no
 * residual, channels in whole groups of 16, cin at most the tile's bound above. */
int rn_qwino_applies(const rn_qkernel_config *qk, int cin, int cout, int k, int stride, int pad, int in_zero,
                     int out_f32, const rn_qgemm_params *p);
/* q's transformed weights (U') for the tile (rn_qwino_applies) and per-channel scale and bias
 * from w_q[cout][9][cin]; 0, or -1 out of memory (the caller frees q). */
int rn_qwino_init(rn_qconv *q, int tile, int cin, int cout, const int8_t *w_q, const float *scale, const float *bias);
/* out[n][h][w][cout] (u8) from in[n][h][w][cin] (c->winograd is the tile); each worker's
 * scratch holds rn_qwino_scratch_bytes(). */
void rn_qwino_forward(const rn_exec *ex, const rn_conv *c, const uint8_t *in, int n, int h, int w, uint8_t *out);
size_t rn_qwino_scratch_bytes(void);

#endif
