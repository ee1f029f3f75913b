/* decode_png.c - PNG to 8-bit RGB with libpng, as PIL's PngImagePlugin + convert("RGB").
 *
 * libpng only unpacks rows here (sub-byte samples to one byte each, Adam7 passes merged);
 * the conversion to RGB is ours, so that it follows PIL rather than libpng's transforms:
 *   gray 1/2/4/8 bit   replicated, scaled to 0..255 (v * 255 / (2^bits - 1), as PIL's L;2, L;4)
 *   gray+alpha         gray replicated, alpha dropped (PIL does not composite)
 *   RGB, RGBA          alpha dropped
 *   16-bit samples     the high byte (PIL's RGB;16B, RGBA;16B, LA;16B rawmodes), see below
 *   palette            looked up; tRNS ignored; indices past the PLTE entries give (i, i, i),
 *                      the gray ramp PIL's palettes start from (checked on Pillow 9.4)
 * No gamma, sRGB or ICC handling: PIL applies none on open.
 *
 * 16-bit grayscale is the one case where we do not follow PIL 9.4: it opens such a file as
 * mode "I" (32-bit integers 0..65535) and convert("RGB") then clips each value to 255, so
 * every pixel of 255/65535 or brighter turns white and a real photo comes out almost blank.
 * We take the high byte instead, which is what PIL does for every other 16-bit PNG
 * (RGB, RGBA, gray+alpha) and what keeps the photo recognisable.
 *
 * Strictness: a bad CRC in any chunk libpng reads (all chunks up to the image data) is an
 * error; PIL refuses those too, except for IDAT CRCs, which it does not check and libpng
 * does. Chunks after the image data (and a missing IEND) are not looked at, as in PIL.
 */
#include "image/image_internal.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct png_ctx {
    const uint8_t *data;
    size_t size, pos; /* the memory libpng reads from */
    int truncated;    /* it asked for bytes past the end */
    char detail[200]; /* libpng's error message */
    png_structp png;
    png_infop info;
    uint8_t *raw;      /* interlaced images: all rows as libpng gives them */
    png_bytep *rows;   /* row pointers into raw */
    uint8_t *row;      /* non-interlaced images: one row */
    int bit_depth, color_type, channels; /* from IHDR; channels per pixel as unpacked */
    uint8_t palette[256 * 3];
    rn_image *out;
} png_ctx;

/* If this returned, libpng would print the message to stderr before jumping; jump here. */
static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->detail, sizeof ctx->detail, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; /* quiet */ }

static void on_read(png_structp png, png_bytep buf, size_t len) {
    png_ctx *ctx = png_get_io_ptr(png);
    if (len > ctx->size - ctx->pos) {
        ctx->truncated = 1;
        png_error(png, "truncated PNG data");
    }
    memcpy(buf, ctx->data + ctx->pos, len);
    ctx->pos += len;
}

/* The 256-entry table PIL would use: the PLTE colours, then its gray ramp. */
static void build_palette(png_ctx *ctx) {
    png_colorp plte = NULL;
    int n = 0;
    if (!png_get_PLTE(ctx->png, ctx->info, &plte, &n)) n = 0; /* libpng refuses this case */
    for (int i = 0; i < 256; i++) {
        uint8_t *p = ctx->palette + 3 * i;
        if (i < n) p[0] = plte[i].red, p[1] = plte[i].green, p[2] = plte[i].blue;
        else p[0] = p[1] = p[2] = (uint8_t)i;
    }
}

/* One row as libpng gives it (after png_set_packing: a byte per sample below 8 bits,
 * big-endian pairs at 16 bits) to RGB. */
static void row_to_rgb(const png_ctx *ctx, const uint8_t *src, uint8_t *dst, int width) {
    const int bit_depth = ctx->bit_depth, color_type = ctx->color_type;
    const int step = bit_depth == 16 ? 2 : 1; /* bytes per sample; the high byte comes first */
    const size_t px = (size_t)ctx->channels * step;
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        for (int x = 0; x < width; x++, dst += 3) memcpy(dst, ctx->palette + 3 * src[x], 3);
    } else if (color_type & PNG_COLOR_MASK_COLOR) {
        for (int x = 0; x < width; x++, src += px, dst += 3)
            dst[0] = src[0], dst[1] = src[step], dst[2] = src[2 * step];
    } else {
        /* 1 -> 255, 2 -> 85, 4 -> 17, 8 and 16 (high byte) -> 1 */
        const unsigned scale = bit_depth >= 8 ? 1u : 255u / ((1u << bit_depth) - 1u);
        for (int x = 0; x < width; x++, src += px, dst += 3)
            dst[0] = dst[1] = dst[2] = (uint8_t)(src[0] * scale);
    }
}

/* Allocates the row buffer(s): all rows for interlaced images, whose passes libpng merges
 * into full rows, one otherwise. */
static resnet_status alloc_rows(png_ctx *ctx, size_t rowbytes, int interlaced, const char *name,
                                resnet_error *err) {
    size_t h = (size_t)ctx->out->height, total;
    if (!interlaced) {
        ctx->row = malloc(rowbytes);
        return ctx->row ? RESNET_OK : rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    }
    if (!rn_mul_size(rowbytes, h, &total) || !(ctx->raw = malloc(total)) ||
        !(ctx->rows = malloc(h * sizeof *ctx->rows)))
        return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory for an interlaced %dx%d PNG", name,
                       ctx->out->width, ctx->out->height);
    for (size_t y = 0; y < h; y++) ctx->rows[y] = ctx->raw + y * rowbytes;
    return RESNET_OK;
}

/* Reads the header, sets libpng's unpacking up, checks the size and allocates. */
static resnet_status read_header(png_ctx *ctx, int *interlaced, const char *name, resnet_error *err) {
    png_structp png = ctx->png;
    png_uint_32 w, h;
    int bit_depth, color_type, interlace;
    png_read_info(png, ctx->info);
    png_get_IHDR(png, ctx->info, &w, &h, &bit_depth, &color_type, &interlace, NULL, NULL);
    ctx->bit_depth = bit_depth;
    ctx->color_type = color_type;
    resnet_status st = rn_image_alloc(ctx->out, (long)w, (long)h, name, err);
    if (st != RESNET_OK) return st;
    if (bit_depth < 8) png_set_packing(png);
    *interlaced = png_set_interlace_handling(png) > 1;
    png_read_update_info(png, ctx->info);
    size_t rowbytes = png_get_rowbytes(png, ctx->info), need;
    int step = bit_depth == 16 ? 2 : 1, channels = png_get_channels(png, ctx->info);
    int expect = color_type == PNG_COLOR_TYPE_PALETTE ? 1 : (color_type & PNG_COLOR_MASK_COLOR) ? 3 : 1;
    if (color_type & PNG_COLOR_MASK_ALPHA) expect++;
    ctx->channels = channels;
    if (channels != expect || !rn_mul3_size(w, (size_t)channels, (size_t)step, &need) || rowbytes < need)
        return rn_fail(err, RESNET_E_IMAGE, "%s: unexpected PNG row layout", name);
    if (color_type == PNG_COLOR_TYPE_PALETTE) build_palette(ctx);
    return alloc_rows(ctx, rowbytes, *interlaced, name, err);
}

static void convert_rows(png_ctx *ctx, int interlaced) {
    png_structp png = ctx->png;
    rn_image *out = ctx->out;
    size_t stride = (size_t)out->width * 3;
    if (interlaced) png_read_image(png, ctx->rows);
    for (int y = 0; y < out->height; y++) {
        const uint8_t *src = interlaced ? ctx->rows[y] : ctx->row;
        if (!interlaced) png_read_row(png, ctx->row, NULL);
        row_to_rgb(ctx, src, out->rgb + (size_t)y * stride, out->width);
    }
}

/* Every libpng call happens under this setjmp. The state lives in *ctx, and no local set
 * after the setjmp is read after a longjmp (such locals would be indeterminate). */
static resnet_status decode_protected(png_ctx *ctx, const char *name, resnet_error *err) {
    if (setjmp(png_jmpbuf(ctx->png))) return RESNET_E_IMAGE;
    png_set_read_fn(ctx->png, ctx, on_read);
    /* Bad CRCs are errors in ancillary chunks too (libpng's default only warns). */
    png_set_crc_action(ctx->png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
    /* libpng refuses more than 1e6 pixels a side by default; raise that so the limit
     * that applies is RN_IMAGE_MAX_PIXELS, with our message. */
    png_set_user_limits(ctx->png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
    /* Skip every ancillary chunk but tRNS (their CRCs are still checked): none changes what we
     * compute (no gamma, ICC, background or sBIT handling; PIL applies none on open), and some
     * of libpng's handlers trust the declared length: an eXIf chunk claiming 2 GB in a 150-byte
     * file made libpng 1.6.39 allocate 2 GB before reading it (found by fuzz/fuzz_image.c). */
    png_set_keep_unknown_chunks(ctx->png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
    int interlaced = 0;
    resnet_status st = read_header(ctx, &interlaced, name, err);
    if (st != RESNET_OK) {
        ctx->detail[0] = '\0'; /* err already says why */
        return st;
    }
    convert_rows(ctx, interlaced);
    return RESNET_OK;
}

resnet_status rn_decode_png(const uint8_t *data, size_t size, const char *name, rn_image *out,
                            resnet_error *err) {
    png_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    ctx->data = data;
    ctx->size = size;
    ctx->out = out;
    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    if (ctx->png) ctx->info = png_create_info_struct(ctx->png);
    resnet_status st = RESNET_E_NOMEM;
    if (!ctx->png || !ctx->info) rn_fail(err, st, "%s: out of memory (libpng)", name);
    else st = decode_protected(ctx, name, err);

    if (st != RESNET_OK && ctx->truncated)
        rn_fail(err, RESNET_E_IMAGE, "%s: truncated PNG data", name);
    else if (st != RESNET_OK && ctx->detail[0])
        rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or unsupported PNG: %s", name, ctx->detail);

    png_destroy_read_struct(&ctx->png, &ctx->info, NULL); /* copes with NULLs */
    free(ctx->raw);
    free(ctx->rows);
    free(ctx->row);
    free(ctx);
    if (st != RESNET_OK) rn_image_free(out);
    return st;
}
