/* decode_gif.c - the first frame of a GIF to 8-bit RGB with giflib, as PIL's GifImagePlugin
 * + convert("RGB").
 *
 * PIL's first frame: a canvas the size of the logical screen (grown to hold the frame if
 * the frame reaches past it), filled with the frame's transparent index when its graphic
 * control extension names one, else with index 0; the frame's indices pasted at its
 * position (transparent ones too); then every index looked up in the frame's own colour
 * table, else the global one, else read as grey (i, i, i); indices past the table also give
 * (i, i, i), PIL's palette default. The background colour is not used for the first frame.
 *
 * Only the records up to the first image are read (giflib's low-level API, not DGifSlurp,
 * which would decode every frame of an animation: a memory and CPU bomb). The canvas size is
 * checked against the pixel limit before anything is allocated.
 */
#include "image/image_internal.h"

#include <gif_lib.h>
#include <stdlib.h>
#include <string.h>

typedef struct gif_src {
    const uint8_t *data;
    size_t size, pos;
} gif_src;

static int on_read(GifFileType *gif, GifByteType *buf, int len) {
    gif_src *s = gif->UserData;
    size_t want = len < 0 ? 0 : (size_t)len, left = s->size - s->pos;
    if (want > left) want = left;
    memcpy(buf, s->data + s->pos, want);
    s->pos += want;
    return (int)want;
}

static void lookup(const ColorMapObject *map, unsigned idx, uint8_t *dst) {
    if (map && (int)idx < map->ColorCount) {
        const GifColorType *c = &map->Colors[idx];
        dst[0] = c->Red, dst[1] = c->Green, dst[2] = c->Blue;
    } else {
        dst[0] = dst[1] = dst[2] = (uint8_t)idx;
    }
}

/* Reads the first frame's indices into idx (canvas w x h, already filled) at (x0, y0). */
static int read_frame(GifFileType *gif, uint8_t *idx, long cw, long x0, long y0, long fw, long fh, int interlaced,
                      uint8_t *line) {
    static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
    for (int pass = interlaced ? 0 : 3; pass < 4; pass++) {
        for (long y = interlaced ? start[pass] : 0; y < fh; y += interlaced ? step[pass] : 1) {
            if (DGifGetLine(gif, line, (int)fw) != GIF_OK) return 0;
            memcpy(idx + (size_t)(y0 + y) * (size_t)cw + (size_t)x0, line, (size_t)fw);
        }
    }
    return 1;
}

resnet_status rn_decode_gif(const uint8_t *data, size_t size, const char *name, rn_image *out, resnet_error *err) {
    gif_src src = {data, size, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&src, on_read, &code);
    if (!gif) {
        const char *why = GifErrorString(code);
        return rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or unsupported GIF: %s", name, why ? why : "cannot open");
    }
    int transparent = -1, done = 0;
    resnet_status st = RESNET_OK;
    uint8_t *idx = NULL, *line = NULL;
    const char *why = NULL;
    while (!done && st == RESNET_OK) {
        GifRecordType rec;
        if (DGifGetRecordType(gif, &rec) != GIF_OK) {
            /* A byte that starts no block (a stray 0 after a block, say): PIL skips it and
             * reads on; giflib has consumed it, so reading on is skipping it too. */
            if (gif->Error != D_GIF_ERR_WRONG_RECORD) break;
            gif->Error = 0;
            continue;
        }
        if (rec == EXTENSION_RECORD_TYPE) {
            int ext_code;
            GifByteType *ext;
            if (DGifGetExtension(gif, &ext_code, &ext) != GIF_OK) break;
            /* Graphic control: ext[0] is the block's length, then flags, delay (2), index. */
            if (ext_code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4) transparent = (ext[1] & 1) ? ext[4] : -1;
            while (ext) {
                if (DGifGetExtensionNext(gif, &ext) != GIF_OK) break;
            }
            if (gif->Error) break;
        } else if (rec == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(gif) != GIF_OK) break;
            const GifImageDesc *fd = &gif->Image;
            long x0 = fd->Left, y0 = fd->Top, fw = fd->Width, fh = fd->Height;
            long cw = gif->SWidth > x0 + fw ? gif->SWidth : x0 + fw;
            long ch = gif->SHeight > y0 + fh ? gif->SHeight : y0 + fh;
            st = rn_image_alloc(out, cw, ch, name, err);
            if (st != RESNET_OK) break;
            idx = malloc((size_t)cw * (size_t)ch);
            line = malloc(fw > 0 ? (size_t)fw : 1);
            if (!idx || !line) {
                st = rn_fail(err, RESNET_E_NOMEM, "%s: out of memory", name);
                break;
            }
            memset(idx, transparent >= 0 ? transparent : 0, (size_t)cw * (size_t)ch);
            if (!read_frame(gif, idx, cw, x0, y0, fw, fh, fd->Interlace, line)) break;
            const ColorMapObject *map = fd->ColorMap ? fd->ColorMap : gif->SColorMap;
            size_t npx = (size_t)cw * (size_t)ch;
            for (size_t i = 0; i < npx; i++) lookup(map, idx[i], out->rgb + 3 * i);
            done = 1;
        } else if (rec == TERMINATE_RECORD_TYPE) {
            why = "no image in the file";
            break;
        }
    }
    if (st == RESNET_OK && !done) {
        if (!why) why = src.pos >= src.size ? "truncated GIF data" : GifErrorString(gif->Error);
        st = rn_fail(err, RESNET_E_IMAGE, "%s: corrupt or unsupported GIF: %s", name, why ? why : "unknown error");
    }
    DGifCloseFile(gif, &code);
    free(idx);
    free(line);
    if (st != RESNET_OK) rn_image_free(out);
    return st;
}
