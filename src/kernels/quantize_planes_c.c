/* quantize_planes_c.c - the int8 input's quantization, portable (the contract is
 * rn_quantize_planes_fn in qkernels.h). A chunk of pixels at a time, one plane at a time: the
 * arithmetic runs on contiguous floats with a constant count (vectorised even at -O2), and
 * only the interleaving store steps by c. */
#include "kernels/qkernels.h"

enum { CHUNK = 64 };

void rn_quantize_planes__c(const float *src, size_t plane, int c, int n, float scale, float zero, uint8_t *dst) {
    int32_t t[CHUNK];
    for (int x0 = 0; x0 < n; x0 += CHUNK) {
        const int m = n - x0 < CHUNK ? n - x0 : CHUNK;
        for (int ch = 0; ch < c; ch++) {
            const float *s = src + (size_t)ch * plane + x0;
            if (m == CHUNK)
                for (int i = 0; i < CHUNK; i++) t[i] = rn_quantize_u8_int(s[i] / scale + zero);
            else
                for (int i = 0; i < m; i++) t[i] = rn_quantize_u8_int(s[i] / scale + zero);
            uint8_t *d = dst + (size_t)x0 * c + ch;
            for (int i = 0; i < m; i++) d[(size_t)i * c] = (uint8_t)t[i];
        }
    }
}
