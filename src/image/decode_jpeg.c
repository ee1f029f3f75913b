/* decode_jpeg.c - JPEG to 8-bit RGB with libjpeg-turbo, as PIL's JpegImagePlugin does it.
 *
 * PIL decodes with libjpeg's defaults (ISLOW DCT, fancy upsampling), asks for grayscale,
 * RGB or CMYK by the number of components (1, 3, 4; anything else it refuses), and reads
 * CMYK as Adobe-inverted ("CMYK;I") whatever the markers say. convert("RGB") then
 * replicates gray and applies its CMYK formula (cmyk_to_rgb below). PIL applies no EXIF
 * orientation and no colour profile, so neither do we.
 *
 * libjpeg reports fatal errors through error_exit, which must not return: ours longjmps
 * back to decode_protected(). Warnings are swallowed (PIL's are too), except the one for
 * running out of data: libjpeg-turbo would pad a truncated file with gray and carry on,
 * where PIL fails with "image file is truncated", so we fail too.
 *
 * One limit PIL does not have: at most RN_JPEG_MAX_SCANS scans. A progressive file may
 * repeat its scans without end (libjpeg only warns), and each scan is a pass over every block
 * of the image: 1,000 copies of a 99-byte scan make a 360 KB file of 67 Mpixels that takes
 * over a minute to decode. Encoders write about ten (jpegtran: 10, for three components).
 */
#include "image/image_internal.h"

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h uses FILE */
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#define RN_JPEG_MAX_SCANS 100

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr; /* first, so libjpeg's cinfo->err pointer is also ours */
    struct jpeg_progress_mgr progress; /* counts the scans (on_progress) */
    jmp_buf jump;
    char detail[JMSG_LENGTH_MAX]; /* libjpeg's message, or ours, for the failure */
    int truncated;
    struct jpeg_decompress_struct cinfo;
    uint8_t *row; /* one decoded scanline for gray and CMYK, converted to RGB after */
    rn_image *out;
} jpeg_ctx;

static void on_error_exit(j_common_ptr cinfo) {
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, ctx->detail);
    longjmp(ctx->jump, 1);
}

/* Level -1 is a warning, 0 and up are trace messages. Only premature EOF matters. */
static void on_emit_message(j_common_ptr cinfo, int level) {
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    if (level >= 0) return;
    cinfo->err->num_warnings++;
    if (cinfo->err->msg_code == JWRN_JPEG_EOF) {
        ctx->truncated = 1;
        longjmp(ctx->jump, 1);
    }
}

static void on_output_message(j_common_ptr cinfo) { (void)cinfo; /* never print to stderr */ }

/* Called by libjpeg while it reads the file (per scan and row group): refuses too many scans. */
static void on_progress(j_common_ptr cinfo) {
    jpeg_ctx *ctx = (jpeg_ctx *)cinfo->err;
    if (ctx->cinfo.input_scan_number > RN_JPEG_MAX_SCANS) {
        snprintf(ctx->detail, sizeof ctx->detail, "more than %d scans", RN_JPEG_MAX_SCANS);
        longjmp(ctx->jump, 1);
    }
}

/* PIL's CMYK -> RGB (Convert.c cmyk2rgb after the "CMYK;I" unpacker inverted each byte):
 * with c' = 255 - c and nk = 255 - k' = k, R = nk - round(c' * nk / 255), where the
 * division by 255 is the usual integer trick ((t >> 8) + t) >> 8 with t = a*b + 128.
 * Checked against the installed Pillow 9.4 on all 65536 (c, k) pairs. The result is
 * always within 0..nk, so no clipping is needed. */
static uint8_t cmyk_channel(unsigned c_raw, unsigned k_raw) {
    unsigned t = (255u - c_raw) * k_raw + 128u;
    return (uint8_t)(k_raw - (((t >> 8) + t) >> 8));
}

static void cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, int width) {
    for (int x = 0; x < width; x++, cmyk += 4, rgb += 3) {
        rgb[0] = cmyk_channel(cmyk[0], cmyk[3]);
        rgb[1] = cmyk_channel(cmyk[1], cmyk[3]);
        rgb[2] = cmyk_channel(cmyk[2], cmyk[3]);
    }
}

static void gray_to_rgb(const uint8_t *gray, uint8_t *rgb, int width) {
    for (int x = 0; x < width; x++, rgb += 3) rgb[0] = rgb[1] = rgb[2] = gray[x];
}

/* After jpeg_read_header: pick the output colour space as PIL does, check the size and
 * allocate the result (before libjpeg allocates its own, larger, buffers). */
static resnet_status setup_output(jpeg_ctx *ctx, const char *name, resnet_error *err) {
    struct jpeg_decompress_struct *ci = &ctx->cinfo;
    switch (ci->num_components) {
    case 1: ci->out_color_space = JCS_GRAYSCALE; break;
    case 3: ci->out_color_space = JCS_RGB; break;
    case 4: ci->out_color_space = JCS_CMYK; break; /* libjpeg turns YCCK into CMYK itself */
    default:
        return rn_fail(err, RESNET_E_IMAGE, "%s: unsupported JPEG with %d colour components", name,
                       ci->num_components);
    }
    resnet_status st = rn_image_alloc(ctx->out, (long)ci->image_width, (long)ci->image_height, name, err);
    if (st != RESNET_OK) return st;
    if (ci->num_components != 3) {
        ctx->row = malloc((size_t)ctx->out->width * (size_t)ci->num_components);
        if (!ctx->row) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    }
    return RESNET_OK;
}

/* Decodes every scanline straight into the RGB result (3 components) or through ctx->row.
 * Returns 0 if libjpeg stalls, which a memory source should never let happen. */
static int read_scanlines(jpeg_ctx *ctx) {
    struct jpeg_decompress_struct *ci = &ctx->cinfo;
    rn_image *out = ctx->out;
    size_t stride = (size_t)out->width * 3;
    while (ci->output_scanline < ci->output_height) {
        uint8_t *dst = out->rgb + (size_t)ci->output_scanline * stride;
        JSAMPROW row = ci->num_components == 3 ? dst : ctx->row;
        if (jpeg_read_scanlines(ci, &row, 1) != 1) return 0;
        if (ci->out_color_space == JCS_GRAYSCALE) gray_to_rgb(ctx->row, dst, out->width);
        else if (ci->out_color_space == JCS_CMYK) cmyk_to_rgb(ctx->row, dst, out->width);
    }
    return 1;
}

/* All libjpeg calls happen here, under the setjmp. The state lives in *ctx, and no local
 * set after the setjmp is read after a longjmp (such locals would be indeterminate).
 * Returns RESNET_OK, or an error whose message is still to be written when ctx->detail or
 * ctx->truncated say that libjpeg failed. */
static resnet_status decode_protected(jpeg_ctx *ctx, const uint8_t *data, size_t size, const char *name,
                                      resnet_error *err) {
    if (setjmp(ctx->jump)) return RESNET_E_IMAGE;
    jpeg_create_decompress(&ctx->cinfo);
    ctx->cinfo.progress = &ctx->progress; /* after the create, which zeroes cinfo but for err */
    jpeg_mem_src(&ctx->cinfo, data, (unsigned long)size);
    jpeg_read_header(&ctx->cinfo, TRUE);
    resnet_status st = setup_output(ctx, name, err);
    if (st != RESNET_OK) {
        ctx->detail[0] = '\0'; /* err already says why */
        return st;
    }
    jpeg_start_decompress(&ctx->cinfo);
    const struct jpeg_decompress_struct *ci = &ctx->cinfo;
    if (ci->output_components != ci->num_components || (long)ci->output_width != ctx->out->width ||
        (long)ci->output_height != ctx->out->height) {
        snprintf(ctx->detail, sizeof ctx->detail, "unexpected output geometry");
        return RESNET_E_IMAGE;
    }
    if (!read_scanlines(ctx)) {
        snprintf(ctx->detail, sizeof ctx->detail, "decoder stalled");
        return RESNET_E_IMAGE;
    }
    /* Reads up to EOI: a file cut just before it is also truncated for PIL. */
    jpeg_finish_decompress(&ctx->cinfo);
    return RESNET_OK;
}

resnet_status rn_decode_jpeg(const uint8_t *data, size_t size, const char *name, rn_image *out,
                             resnet_error *err) {
    if (size > (unsigned long)-1) return rn_fail(err, RESNET_E_IMAGE, "%s: JPEG too large", name);
    jpeg_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
    ctx->out = out;
    ctx->cinfo.err = jpeg_std_error(&ctx->mgr);
    ctx->mgr.error_exit = on_error_exit;
    ctx->mgr.emit_message = on_emit_message;
    ctx->mgr.output_message = on_output_message;
    ctx->progress.progress_monitor = on_progress;

    resnet_status st = decode_protected(ctx, data, size, name, err);
    if (st != RESNET_OK && ctx->truncated)
        rn_fail(err, RESNET_E_IMAGE, "%s: truncated JPEG data", name);
    else if (st != RESNET_OK && ctx->detail[0])
        rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or unsupported JPEG: %s", name, ctx->detail);

    jpeg_destroy_decompress(&ctx->cinfo); /* safe whatever state libjpeg was left in */
    free(ctx->row);
    free(ctx);
    if (st != RESNET_OK) rn_image_free(out);
    return st;
}
