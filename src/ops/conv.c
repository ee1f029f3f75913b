/* conv.c - convolution as a blocked GEMM driven through one micro-kernel.
 *
 * Work split (plan.c): the M rows (output pixels) are cut into blocks of at most MB rows
 * and the N columns (output channels) into ranges of whole NR panels; each (row block,
 * column range) is one task for the pool. Inside a task the depth K is walked in chunks of at
 * most KC (within one tap of the window) so the A rows of the block (MB x KC) stay in L2
 * while the micro-kernel sweeps them with one B slice (KC x NR) after another.
 *
 * Grouped convolutions whose groups have as many inputs as outputs, G of them, with G and the
 * grouped kernel's vector dividing one another (every ResNeXt 3x3) run on that kernel instead
 * (gconv.c): here a panel of NR columns would read the inputs of all its groups and multiply
 * NR/G times too much, mostly zeros, and wider groups would pass their sums through memory
 * after every tap. The rest keep the block-diagonal panels below. */
#include "ops/conv.h"

#include <stdlib.h>
#include <string.h>
#include "common.h"
#include "ops/plan.h"
#include "ops/qwinograd.h"
#include "ops/qconv.h"

/* MB: the largest row block, a multiple of every MR (4, 6, 12). KC: 512 rather than 256
 * halves the partial sums that go through memory in the deep layers; on Zen 4 it took 1-4%
 * off the 1x1 and 3x3 direct layers of layer3 and layer4 in fp32, bf16 and AVX2 alike (1024
 * gained nothing more). */
enum { MB = 120, KC = RN_CONV_DEPTH_CHUNK };

/* Rows copied out of an aliasing input (conv_job.copy_rows) lie COPY_LD floats apart: a line
 * more than a chunk, so that neighbouring rows start in neighbouring sets of the L1 cache. */
enum { COPY_LD = KC + 16 };

/* The depth is walked in chunks of at most KC: within one tap of the window (an indirect
 * row holds one tap's cin values), or across taps for an im2col block. */
static int chunk_len(const rn_conv *c, int k0) {
    int left = c->im2col ? c->k - k0 : c->span - k0 % c->span;
    return left < KC ? left : KC;
}

/* Where the weights of panel p for the chunk at depth k0 start (see rn_conv_init). */
static size_t chunk_panel(const rn_conv *c, int k0, int kcur, int p, int nr) {
    return (size_t)k0 * c->n_padded + (size_t)p * kcur * nr;
}

/* The bf16 weights (w16) hold the depth in pairs: a chunk of odd length gets a zero row.
 * Chunks start at multiples of KC within a tap (or of the whole depth for im2col), so only a
 * tap's last chunk can be odd: the rows before depth k0 are counted with each tap rounded up. */
static int even_up(int x) { return (x + 1) & ~1; }
static size_t chunk_panel16(const rn_conv *c, int k0, int kcur, int p, int nr) {
    size_t before = c->im2col ? (size_t)k0 : (size_t)(k0 / c->span) * even_up(c->span) + k0 % c->span;
    return before * c->n_padded + (size_t)p * even_up(kcur) * nr;
}

int rn_conv_init(rn_conv *c, const rn_kernel_config *kc, int cin, int cout, int kh, int kw,
                 int stride, int pad, const float *w_oihw, const float *bias, unsigned flags) {
    return rn_conv_init_ex(c, kc, cin, cout, kh, kw, stride, pad, 1, 1, w_oihw, bias, flags);
}

/* The first input channel panel p reads (grouped convolutions; 0 otherwise). */
static int panel_channel(const rn_conv *c, int p, int nr) {
    if (c->groups == 1) return 0;
    const int cout_g = c->cout / c->groups, cin_g = c->cin / c->groups;
    return p * nr / cout_g * cin_g;
}

int rn_conv_init_ex(rn_conv *c, const rn_kernel_config *kc, int cin, int cout, int kh, int kw, int stride,
                    int pad, int dilation, int groups, const float *w_oihw, const float *bias, unsigned flags) {
    const int nr = kc->nr;
    memset(c, 0, sizeof *c);
    if (groups < 1 || cin % groups || cout % groups) return -3;
    const int cin_g = cin / groups, cout_g = cout / groups;
    const int gconv = rn_gconv_fits(kc, cin, cout, kh, kw, groups);
    if (groups > 1 && !gconv && cout_g % nr != 0 && nr % cout_g != 0) return -3;
    c->cin = cin; c->cout = cout; c->kh = kh; c->kw = kw; c->stride = stride; c->pad = pad;
    c->dilation = dilation;
    c->groups = groups;
    c->span = groups == 1 ? cin : cout_g >= nr ? cin_g : nr / cout_g * cin_g;
    c->k = kh * kw * c->span;
    c->n_padded = (cout + nr - 1) / nr * nr;
    c->bias = rn_aligned_alloc((size_t)c->n_padded * sizeof(float));
    if (!c->bias) return -1;
    for (int o = 0; o < c->n_padded; o++) c->bias[o] = (o < cout && bias) ? bias[o] : 0.0f;
    const int plain = groups == 1 && dilation == 1;
    c->im2col = plain && kh * kw > 1 && cin < RN_CONV_IM2COL_BELOW;
    /* The stem (im2col: a few input channels) stays fp32 in a bf16 model: its input is the
     * photo, which bf16 would round to half a grey level. On val1300 this took top-1 agreement
     * with fp32 from 99.46% to 99.85% for 3% of the time (docs/performance-bf16.md). Grouped
     * convolutions stay fp32 too: each panel reads its own groups' part of a pixel, which the bf16
     * path would convert once per panel instead of once per block, and the grouped kernel
     * (gconv.c) has no bf16 version (a small share of ResNeXt). */
    if (c->im2col || groups > 1) flags &= ~(unsigned)RN_CONV_BF16;
    if (gconv) {
        if (rn_gconv_pack(c, kc, w_oihw) != 0) {
            rn_conv_free(c);
            return -1;
        }
        return 0;
    }
    if (plain && !(flags & RN_CONV_DIRECT) && kh == 3 && kw == 3 && stride == 1 && pad == 1 && cin % 8 == 0) {
        const int widest = cin > cout ? cin : cout, wide = (flags & RN_CONV_WIDE) != 0;
        if (widest <= (wide ? RN_WINOGRAD_WIDE_F4_MAX_CHANNELS : RN_WINOGRAD_F4_MAX_CHANNELS) && !(flags & RN_CONV_F2))
            c->winograd = 4;
        else if (widest <= (wide ? RN_WINOGRAD_WIDE_MAX_CHANNELS : RN_WINOGRAD_MAX_CHANNELS))
            c->winograd = 2;
    }
    if (c->winograd) {
        if (rn_winograd_pack(c, kc, w_oihw, (flags & RN_CONV_BF16) && kc->gemm_bf16) != 0) {
            rn_conv_free(c);
            return -1;
        }
        return 0;
    }
    const int bf16 = (flags & RN_CONV_BF16) != 0, native16 = bf16 && kc->gemm_bf16;
    if (native16) {
        size_t rows = c->im2col ? (size_t)even_up(c->k) : (size_t)kh * kw * even_up(cin);
        c->w16 = rn_aligned_alloc(rows * c->n_padded * sizeof(uint16_t));
        if (!c->w16) { rn_conv_free(c); return -1; }
        for (int k0 = 0, kcur; k0 < c->k; k0 += kcur) {
            kcur = chunk_len(c, k0);
            for (int p = 0; p < c->n_padded / nr; p++) {
                uint16_t *dst = c->w16 + chunk_panel16(c, k0, kcur, p, nr);
                for (int kk = 0; kk < even_up(kcur); kk++) {
                    int k = k0 + kk, tap = k / cin, ci = k % cin, ky = tap / kw, kx = tap % kw;
                    for (int j = 0; j < nr; j++) {
                        int o = p * nr + j;
                        float v = o < cout && kk < kcur ? w_oihw[(((size_t)o * cin + ci) * kh + ky) * kw + kx] : 0.0f;
                        dst[((size_t)(kk / 2) * nr + j) * 2 + kk % 2] = rn_bf16_from_f32(v);
                    }
                }
            }
        }
        return 0;
    }
    c->w = rn_aligned_alloc((size_t)c->k * c->n_padded * sizeof(float));
    if (!c->w) { rn_conv_free(c); return -1; }
    /* Depth k = (ky*kw + kx)*span + ci, the order of an NHWC patch. B is stored chunk by
     * chunk of depth, as the driver walks it, and within a chunk panel by panel: all a
     * chunk's weights are one contiguous run, read front to back. A grouped panel's column o
     * takes input channel ci (of those the panel reads) only from its own group. */
    const size_t per_out = (size_t)cin_g * kh * kw; /* one output channel's weights in w_oihw */
    for (int k0 = 0, kcur; k0 < c->k; k0 += kcur) {
        kcur = chunk_len(c, k0);
        for (int p = 0; p < c->n_padded / nr; p++)
            for (int k = k0; k < k0 + kcur; k++) {
                int tap = k / c->span, ci = panel_channel(c, p, nr) + k % c->span, ky = tap / kw, kx = tap % kw;
                float *dst = c->w + chunk_panel(c, k0, kcur, p, nr) + (size_t)(k - k0) * nr;
                if (groups == 1) { /* no division per weight: they took 0.07 s of a 0.41 s fp32 load (Zen 5) */
                    const float *src = w_oihw + ((size_t)ci * kh + ky) * kw + kx;
                    for (int j = 0; j < nr; j++) {
                        const int o = p * nr + j;
                        dst[j] = o < cout ? src[(size_t)o * per_out] : 0.0f;
                    }
                } else {
                    for (int j = 0; j < nr; j++) {
                        int o = p * nr + j, g = o / cout_g;
                        dst[j] = o < cout && ci / cin_g == g ? w_oihw[(size_t)o * per_out + ((size_t)(ci - g * cin_g) * kh + ky) * kw + kx]
                                                             : 0.0f;
                    }
                }
                if (bf16)
                    for (int j = 0; j < nr; j++) dst[j] = rn_f32_from_bf16(rn_bf16_from_f32(dst[j]));
            }
    }
    return 0;
}

void rn_conv_free(rn_conv *c) {
    rn_qconv_free(c->q); /* an int8 convolution's own part, freed beside its definition */
    c->q = NULL;
    rn_aligned_free(c->w);
    rn_aligned_free(c->w16);
    rn_aligned_free(c->bias);
    c->w = c->bias = NULL;
    c->w16 = NULL;
}

void rn_conv_out_size(const rn_conv *c, int h, int w, int *oh, int *ow) {
    const int d = c->dilation > 0 ? c->dilation : 1; /* an int8 convolution leaves it 0 */
    *oh = (h + 2 * c->pad - d * (c->kh - 1) - 1) / c->stride + 1;
    *ow = (w + 2 * c->pad - d * (c->kw - 1) - 1) / c->stride + 1;
}

size_t rn_conv_scratch_floats(const rn_kernel_config *kc, const rn_conv *c) {
    if (c->winograd) /* int8's: its V and M; fp32 and bf16: winograd.c says */
        return c->q ? (rn_qwino_scratch_bytes() + sizeof(float) - 1) / sizeof(float) : rn_winograd_scratch_floats(kc, c);
    /* an im2col block, then its rows in bf16; copied fp32 rows (conv_job.copy_rows) use the
     * start of the same space: they are neither; so do an int8 window convolution's edge rows
     * (qconv.c: at most QMB x QMAX_PATCH = 60 KB) */
    _Static_assert(MB * COPY_LD <= MB * KC + MB * KC / 2, "copied rows fit the scratch");
    return (size_t)MB * KC + (size_t)MB * KC / 2;
}

/* A bf16 direct convolution with a window wider than 1x1 converts its input to bf16 once a
 * call, into the shared work buffer (rn_conv_forward), where its tasks would convert each pixel
 * under every tap, in every task of its row block: 72 times in layer4's 3x3s at batch 1 on 2
 * threads (9 taps, 8 tasks). On Zen 5 that took 3-5% off those layers at 1 thread, 6% at 2.
 * The 1x1s keep converting their rows in the task: a call-wide conversion cost them as much as
 * it saved (one more hand-off between the threads). An odd cin keeps the per-task conversion,
 * which pads each chunk to pairs. */
static int converts_input(const rn_conv *c) {
    return c->w16 && !c->im2col && c->kh * c->kw > 1 && c->cin % 2 == 0;
}

size_t rn_conv_work_floats(const rn_conv *c, int n, int h, int w) {
    if (c->winograd) return c->q ? 0 : rn_winograd_work_floats(c, n, h, w); /* int8's: in the scratch */
    return converts_input(c) ? (size_t)n * h * w * c->cin / 2 : 0;
}

typedef struct conv_job {
    const rn_exec *ex;
    const rn_conv *c;
    const float *in;
    int n, h, w, oh, ow;
    rn_plan plan;      /* rows n * oh * ow, panels n_padded / NR */
    float *out;
    const float *res;
    int relu;
    /* Whether the block's rows are copied before the micro-kernel reads them. Neighbouring
     * output pixels read input rows stride * cin floats apart. Where that is a multiple of
     * 4 KB (1024 or 2048 channels, or 512 at stride 2: ResNet-50's 1x1s over layer3's and
     * layer4's inputs), every row of a tile falls in the same set of the L1 cache (4 KB a way
     * on Zen 4 and 5 and on Intel since Ice Lake), and 12 rows in 8 or 12 ways evict one
     * another every few steps. Copying a chunk of the rows once for all the task's panels
     * costs less than that: layer4's 2048->512 went 1.14 -> 1.01 ms at batch 1 on Zen 4. At
     * 2 KB apart (512 channels) the copy cost more than it saved, 0.91 -> 0.96 ms. */
    int copy_rows;
    uint16_t *in16;    /* the input in bf16 (converts_input); NULL: each task converts its rows */
    int convert_tasks; /* the conversion's tasks, each a run of whole pixels */
} conv_job;

/* The micro-kernel reads A through one pointer per row, so A is never packed: for a
 * 1x1 convolution the rows are the input's pixels themselves; for a wider window the
 * depth is walked one tap (ky, kx) at a time and a row is the input pixel under that tap,
 * or a row of zeros where the window hangs over the padding ("indirect" convolution).
 * Only a convolution with very few input channels (the stem's 3) gathers its patches into
 * a row-major block (im2col, one block at a time), where a tap alone would be too short a
 * run for the kernel. */

/* Padding rows: a tap's run is at most KC values. */
static const float zero_row[KC];
static const uint16_t zero_row16[KC];

/* The micro-kernel over panels p0..p1 and the block's rows, depth k0..k0+kcur. rows has
 * the block's mb pointers rounded up to MR (the extra ones repeat the last row);
 * tile_flags[s] are the kernel flags of row tile s, or SKIP_TILE. A bf16 convolution (w16)
 * runs the family's bf16 kernel on the same rows in bf16: given16 where the call converted
 * its input (conv_job.in16), else converted here into scratch16, once for all the panels. */
enum { SKIP_TILE = -1 };
static void run_panels(const conv_job *j, const float *const *rows, const uint16_t *const *given16, int m0, int mb,
                       int k0, int kcur, int p0, int p1, const int *tile_flags, float *copy, uint16_t *scratch16) {
    const rn_conv *c = j->c;
    const rn_kernel_config *kc = j->ex->kc;
    const int mr = kc->mr, nr = kc->nr;
    const size_t ldc = (size_t)c->n_padded;
    const uint16_t *rows16[MB];
    const float *copied[MB];
    if (j->copy_rows) {
        for (int r = 0; r < mb; r++)
            copied[r] = rows[r] == zero_row ? zero_row
                                            : memcpy(copy + (size_t)r * COPY_LD, rows[r], (size_t)kcur * sizeof(float));
        for (int r = mb; r < (mb + mr - 1) / mr * mr; r++) copied[r] = copied[mb - 1];
        rows = copied;
    }
    const uint16_t *const *a16 = given16 ? given16 : rows16; /* given: converted once a call (conv_job.in16) */
    if (c->w16 && !given16) { /* ungrouped (rn_conv_init_ex): one conversion of the rows serves every panel */
        const int mb_up = (mb + mr - 1) / mr * mr, stride = even_up(kcur);
        for (int r = 0; r < mb; r++) {
            if (rows[r] == zero_row) { rows16[r] = zero_row16; continue; }
            kc->to_bf16(rows[r], kcur, scratch16 + (size_t)r * stride);
            rows16[r] = scratch16 + (size_t)r * stride;
        }
        for (int r = mb; r < mb_up; r++) rows16[r] = rows16[mb - 1];
    }
    const float *shifted[MB];
    for (int p = p0; p < p1; p++) {
        const float *b = c->w16 ? NULL : c->w + chunk_panel(c, k0, kcur, p, nr);
        const uint16_t *b16 = c->w16 ? c->w16 + chunk_panel16(c, k0, kcur, p, nr) : NULL;
        const float *const *a = rows;
        if (c->groups > 1) { /* the panel's own groups' channels of the same pixels */
            const int off = panel_channel(c, p, nr);
            for (int r = 0; r < mb; r++) shifted[r] = rows[r] == zero_row ? zero_row : rows[r] + off;
            for (int r = mb; r < (mb + mr - 1) / mr * mr; r++) shifted[r] = shifted[mb - 1];
            a = shifted;
        }
        int prefetch = RN_UK_PREFETCH_NEXT_B; /* the first row tile of a panel also fetches the next panel's weights */
        for (int i = 0, s = 0; i < mb; i += mr, s++) {
            if (tile_flags[s] == SKIP_TILE) continue;
            size_t at = (size_t)(m0 + i) * ldc + (size_t)p * nr;
            const int rows_here = mb - i < mr ? mb - i : mr;
            if (b16)
                kc->gemm_bf16(rows_here, kcur, a16 + i, b16, j->out + at, ldc, c->bias + (size_t)p * nr,
                              j->res ? j->res + at : NULL, ldc, tile_flags[s] | prefetch);
            else
                kc->gemm(rows_here, kcur, a + i, b, j->out + at, ldc, c->bias + (size_t)p * nr,
                         j->res ? j->res + at : NULL, ldc, tile_flags[s] | prefetch);
            prefetch = 0;
        }
    }
}

static int chunk_flags(const conv_job *j, int first, int last) {
    int flags = first ? RN_UK_INIT_BIAS : 0;
    if (last) flags |= RN_UK_FINAL | (j->relu ? RN_UK_RELU : 0);
    return flags;
}

/* A window row of ResNet's 7x7 RGB stem (7 taps x 3 channels): copied with a constant length,
 * which the compiler turns into a few vector moves instead of a call per row. */
enum { STEM_RUN = 7 * 3 };

/* Gathers the patch values k0..k0+kc of output rows m0..m0+mb into a row-major block
 * (row stride kc), zeros where the window hangs over the padding. The output pixel of row m0
 * is found once and then stepped, and where the block holds the whole depth (the stem's 147)
 * each window row is one run of the columns inside the image between zeros: no division per
 * row or per pixel. With two divisions per run of cin values at the image's edges and three
 * per row, the gather took 0.41 of the stem's 1.54 ms (1 thread, Zen 5); now 1.33-1.40. */
static void gather_patches(const conv_job *j, int m0, int mb, int k0, int kc, float *dst) {
    const rn_conv *c = j->c;
    const int per_image = j->oh * j->ow, row_len = c->kw * c->cin, whole = k0 == 0 && kc == c->k;
    const size_t line = (size_t)j->w * c->cin;
    int b = m0 / per_image, oy = m0 % per_image / j->ow, ox = m0 % j->ow;
    for (int r = 0; r < mb; r++, dst += kc) {
        const int iy0 = oy * c->stride - c->pad, ix0 = ox * c->stride - c->pad;
        const float *img = j->in + (size_t)b * j->h * line;
        if (++ox == j->ow) {
            ox = 0;
            if (++oy == j->oh) oy = 0, b++;
        }
        /* In NHWC a window row (kw taps of cin values) lying wholly inside the image is one
         * contiguous run: copied at once (21 floats for the 7x7 stem, not seven runs of 3). */
        const int row_inside = ix0 >= 0 && ix0 + c->kw <= j->w;
        if (whole) { /* each window row: zeros, the run of columns inside the image, zeros */
            const int xa = ix0 < 0 ? -ix0 : 0, xb = ix0 + c->kw > j->w ? j->w - ix0 : c->kw;
            for (int ky = 0; ky < c->kh; ky++) {
                float *d = dst + (size_t)ky * row_len;
                const int iy = iy0 + ky;
                if (iy < 0 || iy >= j->h || xb <= xa) {
                    memset(d, 0, (size_t)row_len * sizeof(float));
                    continue;
                }
                const float *src = img + (size_t)iy * line + (size_t)(ix0 + xa) * c->cin;
                if (row_inside && row_len == STEM_RUN) { /* a constant length: a few vector moves */
                    memcpy(d, src, STEM_RUN * sizeof(float));
                    continue;
                }
                memset(d, 0, (size_t)xa * c->cin * sizeof(float));
                memcpy(d + xa * c->cin, src, (size_t)(xb - xa) * c->cin * sizeof(float));
                memset(d + xb * c->cin, 0, (size_t)(c->kw - xb) * c->cin * sizeof(float));
            }
            continue;
        }
        float *d = dst;
        for (int k = k0; k < k0 + kc;) {
            int ky = k / row_len, in_row = k % row_len, iy = iy0 + ky;
            int len, inside;
            if (row_inside) {
                len = row_len - in_row;
                inside = iy >= 0 && iy < j->h;
            } else {
                int ix = ix0 + in_row / c->cin;
                len = c->cin - in_row % c->cin;
                inside = iy >= 0 && iy < j->h && ix >= 0 && ix < j->w;
            }
            if (len > k0 + kc - k) len = k0 + kc - k;
            if (inside) memcpy(d, img + ((size_t)iy * j->w + ix0) * c->cin + in_row, (size_t)len * sizeof(float));
            else memset(d, 0, (size_t)len * sizeof(float));
            d += len;
            k += len;
        }
    }
}

/* Whether output row m sees the image (not the padding) through tap (ky, kx). */
static int tap_inside(const conv_job *j, int m, int ky, int kx, const float **px) {
    const rn_conv *c = j->c;
    const int per_image = j->oh * j->ow, b = m / per_image, rem = m % per_image;
    const int iy = (rem / j->ow) * c->stride - c->pad + ky * c->dilation,
              ix = (rem % j->ow) * c->stride - c->pad + kx * c->dilation;
    if (iy < 0 || iy >= j->h || ix < 0 || ix >= j->w) return 0;
    *px = j->in + (((size_t)b * j->h + iy) * j->w + ix) * c->cin;
    return 1;
}

static void conv_task(void *ctx, int task, int thread) {
    const conv_job *j = ctx;
    const rn_conv *c = j->c;
    const int mr = j->ex->kc->mr;
    int m0, mb, p0, p1;
    rn_plan_task(&j->plan, task, &m0, &mb, &p0, &p1);
    const int mb_up = (mb + mr - 1) / mr * mr, tiles = mb_up / mr;
    const float *rows[MB], *px;
    int flags[MB];
    float *copy = j->ex->scratch[thread]; /* copied rows: no im2col block then */
    uint16_t *scratch16 = (uint16_t *)(j->ex->scratch[thread] + (size_t)MB * KC); /* past the im2col block */

    if (c->im2col) {
        float *a = j->ex->scratch[thread];
        for (int k0 = 0, kcur; k0 < c->k; k0 += kcur) {
            kcur = chunk_len(c, k0);
            gather_patches(j, m0, mb, k0, kcur, a);
            for (int r = 0; r < mb_up; r++) rows[r] = a + (size_t)(r < mb ? r : mb - 1) * kcur;
            for (int t = 0; t < tiles; t++) flags[t] = chunk_flags(j, k0 == 0, k0 + kcur == c->k);
            run_panels(j, rows, NULL, m0, mb, k0, kcur, p0, p1, flags, NULL, scratch16);
        }
        return;
    }
    /* A row tile whose rows all see padding through a tap (the top output row under the
     * window's top row, say) skips that tap: zeros add nothing. So each tile starts (bias)
     * at its first live tap and ends (residual, ReLU) at its last. On a 7x7 map with 6-row
     * tiles that is 8% of a 3x3 convolution's work. */
    const int taps = c->kh * c->kw;
    int first_live[MB], last_live[MB];
    for (int t = 0; t < tiles; t++) {
        first_live[t] = -1;
        last_live[t] = 0; /* a tile that never sees the image runs tap 0 alone: bias only */
        if (c->pad == 0) { /* no padding (every 1x1): every tap is live */
            first_live[t] = 0;
            last_live[t] = taps - 1;
            continue;
        }
        for (int tap = 0; tap < taps; tap++)
            for (int r = t * mr; r < (t + 1) * mr && r < mb; r++)
                if (tap_inside(j, m0 + r, tap / c->kw, tap % c->kw, &px)) {
                    if (first_live[t] < 0) first_live[t] = tap;
                    last_live[t] = tap;
                    break;
                }
        if (first_live[t] < 0) first_live[t] = 0;
    }
    const uint16_t *rows16[MB];
    for (int tap = 0; tap < taps; tap++) {
        const int ky = tap / c->kw, kx = tap % c->kw;
        for (int c0 = 0, kcur; c0 < c->span; c0 += kcur) {
            kcur = chunk_len(c, tap * c->span + c0);
            for (int r = 0; r < mb; r++) rows[r] = tap_inside(j, m0 + r, ky, kx, &px) ? px + c0 : zero_row;
            for (int r = mb; r < mb_up; r++) rows[r] = rows[mb - 1];
            for (int r = 0; j->in16 && r < mb_up; r++) /* the same rows in the converted input */
                rows16[r] = rows[r] == zero_row ? zero_row16 : j->in16 + (rows[r] - j->in);
            for (int t = 0; t < tiles; t++) {
                int live = tap == first_live[t];
                for (int r = t * mr; !live && r < (t + 1) * mr && r < mb; r++) live = rows[r] != zero_row;
                flags[t] = live && tap >= first_live[t] && tap <= last_live[t]
                               ? chunk_flags(j, tap == first_live[t] && c0 == 0,
                                             tap == last_live[t] && c0 + kcur == c->span)
                               : SKIP_TILE;
            }
            run_panels(j, rows, j->in16 ? rows16 : NULL, m0, mb, tap * c->span + c0, kcur, p0, p1, flags, copy,
                       scratch16);
        }
    }
}

/* Whether the rows are cut into smaller blocks before the panels are split (plan.h). A task
 * prepares its rows before the kernel reads them (a bf16 conversion, or conv_job.copy_rows),
 * and each task of a block's panel ranges prepares them again: without the flag layer3's 1x1s
 * at batch 1 (196 rows, 2 blocks) take 4 panel ranges at 2 threads. A smaller block streams the
 * weights once more instead, which costs little while they stay in a core's L2 (1 MB on Zen 4
 * and 5): on Zen 5 at 2 threads the bf16 1x1s took 6% less (a bf16 pass 3.6%), and layer4's
 * (2 MB of weights) took 7% more when cut so. */
enum { SMALL_BLOCKS_MOST_B = 1 << 20 };
static int small_blocks(const rn_conv *c, const conv_job *j) {
    const size_t b_bytes = (size_t)c->k * c->n_padded * (c->w16 ? sizeof(uint16_t) : sizeof(float));
    return (c->w16 || j->copy_rows) && !j->in16 && b_bytes <= SMALL_BLOCKS_MOST_B;
}

/* n values (even) to bf16, in runs that the kernel's int length holds. */
static void convert_run(const rn_kernel_config *kc, const float *src, size_t n, uint16_t *dst) {
    enum { RUN = 1 << 24 };
    for (size_t i = 0; i < n; i += RUN) kc->to_bf16(src + i, n - i < RUN ? (int)(n - i) : RUN, dst + i);
}

/* Conversion task t of the call's input into in16: the t-th part of its pixels. */
static void convert_task(void *ctx, int task, int thread) {
    (void)thread;
    const conv_job *j = ctx;
    const size_t cin = (size_t)j->c->cin, px = (size_t)j->n * j->h * j->w;
    const size_t p0 = px * task / j->convert_tasks, p1 = px * (task + 1) / j->convert_tasks;
    convert_run(j->ex->kc, j->in + p0 * cin, (p1 - p0) * cin, j->in16 + p0 * cin);
}

void rn_conv_forward(const rn_exec *ex, const rn_conv *c, const float *in, int n, int h, int w,
                     float *out, const float *residual, int relu) {
    if (c->winograd) {
        rn_winograd_forward(ex, c, in, n, h, w, out, residual, relu);
        return;
    }
    if (c->gconv) {
        rn_gconv_forward(ex, c, in, n, h, w, out, residual, relu);
        return;
    }
    conv_job j = {.ex = ex, .c = c, .in = in, .n = n, .h = h, .w = w, .out = out, .res = residual, .relu = relu};
    j.copy_rows = c->w && !c->im2col && c->groups == 1 && (size_t)c->stride * c->cin * sizeof(float) % 4096 == 0;
    rn_conv_out_size(c, h, w, &j.oh, &j.ow);
    const int threads = rn_pool_threads(ex->pool);
    j.in16 = ex->work && converts_input(c) ? (uint16_t *)ex->work : NULL;
    j.plan = rn_plan_make(n * j.oh * j.ow, MB, ex->kc->mr, c->n_padded / ex->kc->nr, threads,
                          small_blocks(c, &j) ? RN_PLAN_SMALL_BLOCKS : 0);
    if (j.in16) {
        j.convert_tasks = threads;
        rn_pool_run(ex->pool, j.convert_tasks, convert_task, &j);
    }
    rn_pool_run(ex->pool, j.plan.tasks, conv_task, &j);
}

void rn_fc_forward(const rn_exec *ex, const rn_conv *c, const float *in, int rows, float *out, void *qrows) {
    if (c->q) rn_qdense_forward(ex, c, in, rows, out, qrows);
    else rn_conv_forward(ex, c, in, rows, 1, 1, out, NULL, 0); /* rows as images of one pixel */
}
