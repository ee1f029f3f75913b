/* winograd_avx2.c - the Winograd transforms compiled for AVX2 (8 channels per ymm). */
#define RN_WINO(name) name##__avx2
#include "kernels/winograd_transforms.inc"
