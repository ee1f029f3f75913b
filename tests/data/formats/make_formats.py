#!/usr/bin/python3
"""Writes the small photo files of tests/data/formats/ and what PIL makes of them.

Needs Debian's python3-pil and python3-numpy (run it with /usr/bin/python3, from anywhere):

    /usr/bin/python3 tests/data/formats/make_formats.py

Re-running it rewrites every file here; commit the result. tests/test_formats.c reads them.

One synthetic 61x45 picture (gradients, a disc, stripes: small to store, and every pixel
distinct enough that a wrong channel order, palette entry, row order or bit unpacking shows)
is written in each format and variant our decoders claim (WebP, TIFF, GIF, BMP, PNM), partly
with PIL's encoders, partly by hand below (the variants PIL cannot write: 16-bit and planar
TIFF, associated alpha, BMP bit fields and RLE, plain and 16-bit PNM). For every file, PIL's answer:

  <ref>.rgb.png   Image.open(file).convert('RGB'), the decoded photo
  <ref>.crop.png  the reference pipeline's 224x224 crop of it (resize the shorter side to 256
                  with PIL's BILINEAR, centre crop 224, as ../shared/reference/make_reference.py);
                  the caffe input tensor is exactly this crop, BGR, minus the means, so the
                  test rebuilds PIL's tensor from it without storing 600 KB of floats per file

Files that decode to the same pixels share one <ref> (named after the first). manifest.tsv
lists: file, ref, the EXIF orientation the file carries (0: none), and 1 if <ref>.crop.png
exists (all but the EXIF files, where orientations 1 and 6 are enough for the tensor).

The exif-<n>.jpg files carry EXIF orientation n (1..8); their <ref>.rgb.png is
ImageOps.exif_transpose(Image.open(file)).convert('RGB'): what --exif-orientation must give.
"""
import hashlib, io, os, struct
import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 61, 45


def picture():
    y, x = np.mgrid[0:H, 0:W].astype(np.float64)
    r = 255 * x / (W - 1)
    g = 255 * y / (H - 1)
    b = 128 + 127 * np.sin(x / 5.0) * np.cos(y / 7.0)
    disc = (x - 40) ** 2 + (y - 20) ** 2 < 100
    r[disc], g[disc], b[disc] = 250, 240, 20
    stripes = (x < 12) & ((y // 3) % 2 == 0)
    r[stripes], g[stripes], b[stripes] = 10, 30, 200
    return np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8)


def alpha_plane():
    y, x = np.mgrid[0:H, 0:W]
    a = (255 * x / (W - 1)).astype(np.uint8)
    a[:, :5] = 0  # fully transparent columns: their colour must still come through
    return a


# ---- hand-written encoders for what PIL cannot write ---------------------------------------

def tiff(width, height, bps, photometric, planes, extra=(), planar=1, colormap=None, order='<',
         tile=None):
    """An uncompressed TIFF. planes: one uint8/uint16 array (h, w, spp) for planar=1, or the
    list of per-sample (h, w) arrays for planar=2. tile: (tw, th) to write tiles."""
    spp = planes.shape[2] if planar == 1 else len(planes)
    dt = np.dtype(order + ('u1' if bps == 8 else 'u2'))
    chunks = []  # the strips or tiles, in TIFF order (plane-major for planar=2)
    srcs = [planes] if planar == 1 else [p[:, :, None] for p in planes]
    for src in srcs:
        if tile is None:
            chunks.append(np.ascontiguousarray(src.astype(dt)).tobytes())
        else:
            tw, th = tile
            for ty in range(0, height, th):
                for tx in range(0, width, tw):
                    t = np.zeros((th, tw, src.shape[2]), dt)
                    part = src[ty:ty + th, tx:tx + tw]
                    t[:part.shape[0], :part.shape[1]] = part
                    chunks.append(t.tobytes())
    entries = []  # (tag, type, values)
    entries.append((256, 4, [width]))
    entries.append((257, 4, [height]))
    entries.append((258, 3, [bps] * spp))
    entries.append((259, 3, [1]))
    entries.append((262, 3, [photometric]))
    entries.append((277, 3, [spp]))
    entries.append((284, 3, [planar]))
    if colormap is not None:
        entries.append((320, 3, list(colormap)))
    if extra:
        entries.append((338, 3, list(extra)))
    data_off = 8
    blob = b''.join(chunks)
    offsets, o = [], data_off
    for c in chunks:
        offsets.append(o)
        o += len(c)
    if tile is None:
        entries.append((273, 4, offsets))
        entries.append((278, 4, [height]))
        entries.append((279, 4, [len(c) for c in chunks]))
    else:
        entries.append((322, 4, [tile[0]]))
        entries.append((323, 4, [tile[1]]))
        entries.append((324, 4, offsets))
        entries.append((325, 4, [len(c) for c in chunks]))
    entries.sort()
    ifd_off = data_off + len(blob)
    ifd_off += ifd_off & 1
    out = bytearray((b'II*\0' if order == '<' else b'MM\0*') + struct.pack(order + 'I', ifd_off))
    out += blob
    out += b'\0' * (ifd_off - len(out))
    extra_off = ifd_off + 2 + 12 * len(entries) + 4
    ifd, tail = bytearray(struct.pack(order + 'H', len(entries))), bytearray()
    for tag, typ, vals in entries:
        fmt = 'H' if typ == 3 else 'I'
        raw = struct.pack(order + fmt * len(vals), *vals)
        if len(raw) <= 4:
            ifd += struct.pack(order + 'HHI', tag, typ, len(vals)) + raw.ljust(4, b'\0')
        else:
            ifd += struct.pack(order + 'HHII', tag, typ, len(vals), extra_off + len(tail))
            tail += raw + (b'\0' if len(raw) & 1 else b'')
    ifd += struct.pack(order + 'I', 0)
    return bytes(out + ifd + tail)


def bmp(width, height, bits, rows, masks=None, topdown=False, header=40):
    """A BMP of 16 or 32-bit pixels (rows: a list of bytes per row, top first), BI_RGB or
    BI_BITFIELDS (masks r, g, b[, a]) with a 40 or 108-byte header."""
    stride = (width * bits + 31) // 32 * 4
    data = b''.join(r.ljust(stride, b'\0') for r in (rows if topdown else rows[::-1]))
    comp = 3 if masks else 0
    info = struct.pack('<IiiHHIIiiII', header, width, -height if topdown else height, 1, bits, comp, len(data),
                       2835, 2835, 0, 0)
    after = b''
    if header == 108:
        m = list(masks or [0, 0, 0, 0]) + [0] * (4 - len(masks or []))
        info += struct.pack('<IIII', *m) + b'\0' * (108 - 56)
    elif masks:
        after = struct.pack('<III', *masks[:3])
    off = 14 + len(info) + len(after)
    return b'BM' + struct.pack('<IHHI', off + len(data), 0, 0, off) + info + after + data


def pack16(px, r, g, b):
    """16-bit little-endian pixels from 8-bit RGB with r, g, b bits per channel (565/555)."""
    rr, gg, bb = (px[..., 0] >> (8 - r)).astype(np.uint32), (px[..., 1] >> (8 - g)).astype(np.uint32), \
        (px[..., 2] >> (8 - b)).astype(np.uint32)
    v = (rr << (g + b)) | (gg << b) | bb
    return [v[y].astype('<u2').tobytes() for y in range(px.shape[0])]


def plain(kind, px, maxval=255):
    h, w = px.shape[:2]
    head = b'%s\n# plain, written by make_formats.py\n%d %d\n' % (kind, w, h)
    if kind == b'P1':
        lines = [''.join('1' if v else '0' for v in row) for row in px]
        return head + '\n'.join(lines).encode() + b'\n'
    head += b'%d\n' % maxval
    vals = px.reshape(h, -1)
    return head + b'\n'.join(b' '.join(b'%d' % v for v in row) for row in vals) + b'\n'


def bmp_rle(indices, palette, bits, short_rows=()):
    """A BMP_RLE8 (bits 8) or BMP_RLE4 (bits 4) file of palette indices (h, w), top row first;
    palette: [r, g, b, ...]. Rows are stored bottom first, each as runs of 3 or more equal
    indices (encoded records), stretches of 3 or more others (absolute records, odd lengths
    too, padded to a 16-bit word) and records of 1 or 2 pixels, then an end of line; the last
    one an end of bitmap. The rows in short_rows (top-first numbers) stop 7 pixels early: the
    rest of such a row is index 0. No delta records (see decode_bmp.c)."""
    h, w = indices.shape
    out = bytearray()
    for y in range(h - 1, -1, -1):
        row = [int(v) for v in indices[y]]
        end = w - 7 if y in short_rows else w
        i = 0
        while i < end:
            r = 1
            while i + r < end and r < 255 and row[i + r] == row[i]:
                r += 1
            if r >= 3:
                out += bytes([r, row[i] * 17 if bits == 4 else row[i]])
                i += r
                continue
            j = i  # a stretch up to the next run of 3
            while j < end and j - i < 254 and not (j + 2 < end and row[j] == row[j + 1] == row[j + 2]):
                j += 1
            n = j - i
            if n >= 3:
                lit = row[i:j]
                if bits == 4:
                    lit = lit + [0] * (n % 2)
                    data = bytes(lit[k] << 4 | lit[k + 1] for k in range(0, n + n % 2, 2))
                else:
                    data = bytes(lit)
                out += bytes([0, n]) + data + b'\0' * (len(data) % 2)
            elif bits == 4:
                out += bytes([n, row[i] << 4 | (row[i + 1] if n == 2 else 0)])
            else:
                for k in range(n):
                    out += bytes([1, row[i + k]])
            i = j
        out += b'\0\0' if y else b'\0\1'
    colors = len(palette) // 3
    pal = b''.join(bytes([palette[3 * k + 2], palette[3 * k + 1], palette[3 * k], 0]) for k in range(colors))
    info = struct.pack('<IiiHHIIiiII', 40, w, h, 1, bits, 1 if bits == 8 else 2, len(out), 2835, 2835, colors, 0)
    off = 14 + len(info) + len(pal)
    return b'BM' + struct.pack('<IHHI', off + len(out), 0, 0, off) + info + pal + bytes(out)


# ---- the files ---------------------------------------------------------------------------

def files():
    px = picture()
    rgb = Image.fromarray(px, 'RGB')
    rgba = Image.fromarray(np.dstack([px, alpha_plane()]), 'RGBA')
    gray = rgb.convert('L')
    pal = rgb.quantize(colors=50)  # a palette of 50 entries: indices past them are not used
    bilevel = gray.point(lambda v: 255 if v > 120 else 0).convert('1')
    g = np.asarray(gray)
    out = {}

    def save(name, img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        out[name] = b.getvalue()

    # WebP (libwebp through PIL)
    save('lossy.webp', rgb, 'WEBP', quality=80)
    save('lossless.webp', rgb, 'WEBP', lossless=True)
    save('alpha.webp', rgba, 'WEBP', quality=80)
    save('alpha-lossless.webp', rgba, 'WEBP', lossless=True)
    save('anim.webp', rgb, 'WEBP', save_all=True, append_images=[rgb.transpose(Image.FLIP_LEFT_RIGHT)],
         duration=100, lossless=True)
    # TIFF: PIL's encoders (libtiff for the compressed ones)
    save('rgb.tif', rgb, 'TIFF')
    save('lzw.tif', rgb, 'TIFF', compression='tiff_lzw')
    save('deflate-rgba.tif', rgba, 'TIFF', compression='tiff_adobe_deflate')
    save('packbits-gray.tif', gray, 'TIFF', compression='packbits')
    save('jpeg.tif', rgb, 'TIFF', compression='jpeg', quality=85)
    save('g4-bilevel.tif', bilevel, 'TIFF', compression='group4')
    save('palette.tif', pal, 'TIFF')
    save('cmyk.tif', rgb.convert('CMYK'), 'TIFF')
    # TIFF by hand: 16-bit, planar, associated alpha, tiles, big-endian, min-is-white, 4-bit
    p16 = px.astype(np.uint16) * 257 + np.arange(W, dtype=np.uint16)[None, :, None]  # low bytes differ
    out['rgb16.tif'] = tiff(W, H, 16, 2, p16)
    out['rgb16-be.tif'] = tiff(W, H, 16, 2, p16, order='>')
    out['planar.tif'] = tiff(W, H, 8, 2, [px[..., 0], px[..., 1], px[..., 2]], planar=2)
    a = alpha_plane()
    premul = (px.astype(np.uint32) * a[..., None] // 255).astype(np.uint8)
    out['assoc-alpha.tif'] = tiff(W, H, 8, 2, np.dstack([premul, a]), extra=(1,))
    out['tiled.tif'] = tiff(W, H, 8, 2, px, tile=(16, 16))
    out['miniswhite.tif'] = tiff(W, H, 8, 0, (255 - g)[..., None])
    # BMP: PIL's encoder (24-bit, 8-bit palette, 1-bit) and by hand (bit fields, 32-bit, top-down)
    save('rgb24.bmp', rgb, 'BMP')
    save('palette8.bmp', pal, 'BMP')
    save('bilevel1.bmp', bilevel, 'BMP')
    save('gray8.bmp', gray, 'BMP')
    out['rgb565.bmp'] = bmp(W, H, 16, pack16(px, 5, 6, 5), masks=[0xF800, 0x7E0, 0x1F])
    out['rgb555.bmp'] = bmp(W, H, 16, pack16(px, 5, 5, 5))
    bgrx = np.dstack([px[..., ::-1], np.full((H, W), 7, np.uint8)])
    out['bgrx32-topdown.bmp'] = bmp(W, H, 32, [bgrx[y].tobytes() for y in range(H)], topdown=True)
    bgra = np.dstack([px[..., ::-1], a])
    out['bgra32-v4.bmp'] = bmp(W, H, 32, [bgra[y].tobytes() for y in range(H)],
                               masks=[0xFF0000, 0xFF00, 0xFF, 0xFF000000], header=108)
    # RLE-compressed BMP (PIL cannot write them): 8 bits on the 50-colour palette, 4 bits on a
    # 16-colour one; PIL's RLE4 reader keeps only n - 1 pixels of an absolute record of odd
    # length n, which these files have
    pal16 = rgb.quantize(colors=16)
    out['pal8rle.bmp'] = bmp_rle(np.asarray(pal), pal.getpalette()[:150], 8)
    out['pal4rle.bmp'] = bmp_rle(np.asarray(pal16), pal16.getpalette()[:48], 4)
    out['pal8rle-short-rows.bmp'] = bmp_rle(np.asarray(pal), pal.getpalette()[:150], 8, short_rows=(5, 20, 44))
    # GIF: first frame (interlaced by default in PIL for images of 16 pixels a side or more)
    save('interlaced.gif', pal, 'GIF')
    save('plain.gif', pal, 'GIF', interlace=False)
    save('transparent.gif', pal, 'GIF', transparency=3)
    save('anim.gif', pal, 'GIF', save_all=True, append_images=[pal.transpose(Image.FLIP_TOP_BOTTOM)], duration=100)
    save('gray.gif', gray, 'GIF')
    # GIF frames smaller than the screen, or reaching past it: PIL's first frame is the screen
    # (grown to hold the frame), filled with the transparent index (else 0), the frame pasted
    small = pal.crop((5, 5, 25, 20))
    for name, screen, pos, transparent in (('frame-in-screen.gif', (61, 45), (10, 5), None),
                                           ('frame-transparent.gif', (61, 45), (30, 20), 7),
                                           ('frame-past-screen.gif', (12, 9), (5, 4), None)):
        b = io.BytesIO()
        small.save(b, 'GIF', interlace=False)
        gb = bytearray(b.getvalue())
        struct.pack_into("<HH", gb, 6, *screen)
        at = gb.index(b',\x00\x00\x00\x00\x14\x00\x0f\x00')  # the image descriptor at (0, 0), 20 x 15
        struct.pack_into("<HH", gb, at + 1, *pos)
        if transparent is not None:  # a graphic control extension naming a transparent index
            gb[0:6] = b'GIF89a'
            gb[at:at] = b'\x21\xf9\x04\x01\x00\x00' + bytes([transparent]) + b'\x00'
        out[name] = bytes(gb)
    # PNM: PIL's raw encoders and by hand (plain, other maxvals)
    save('rgb.ppm', rgb, 'PPM')
    save('gray.pgm', gray, 'PPM')
    save('bilevel.pbm', bilevel, 'PPM')
    out['plain.ppm'] = plain(b'P3', px)
    out['plain.pgm'] = plain(b'P2', g, 255)
    out['plain.pbm'] = plain(b'P1', np.asarray(bilevel) == 0)
    out['maxval1000.ppm'] = b'P6\n%d %d\n1000\n' % (W, H) + (px.astype(np.uint32) * 1000 // 255).astype('>u2').tobytes()
    out['maxval100.pgm'] = b'P5 %d %d 100\n' % (W, H) + (g.astype(np.uint32) * 100 // 255).astype(np.uint8).tobytes()
    out['plain-maxval7.ppm'] = plain(b'P3', (px.astype(np.uint32) * 7 // 255), 7)
    # EXIF orientations 1..8 on a JPEG
    for o in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = o
        save('exif-%d.jpg' % o, rgb, 'JPEG', quality=90, exif=exif.tobytes())
    return out


def reference_crop(img):
    """make_reference.py's preprocess up to the crop (the tensor is the crop minus means)."""
    w, h = img.size
    if w <= h:
        ow, oh = 256, int(256 * h / w)
    else:
        ow, oh = int(256 * w / h), 256
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - 224) / 2.0)), int(round((ow - 224) / 2.0))
    return img.crop((left, top, left + 224, top + 224))


def main():
    for f in os.listdir(HERE):
        if f != os.path.basename(__file__) and f != 'README':
            os.remove(os.path.join(HERE, f))
    refs, rows = {}, []
    for name, data in files().items():
        with open(os.path.join(HERE, name), 'wb') as fh:
            fh.write(data)
        img = Image.open(io.BytesIO(data))
        orient = 0
        if name.startswith('exif-'):
            orient = img.getexif().get(0x0112, 0)
            img = ImageOps.exif_transpose(img)
        dec = img.convert('RGB')
        key = hashlib.sha256(dec.tobytes() + repr(dec.size).encode()).hexdigest()
        if key not in refs:
            ref = os.path.splitext(name)[0] + '-' + os.path.splitext(name)[1][1:]
            refs[key] = ref
            dec.save(os.path.join(HERE, ref + '.rgb.png'), optimize=True)
            if not name.startswith('exif-') or orient in (1, 6):
                reference_crop(dec).save(os.path.join(HERE, ref + '.crop.png'), optimize=True)
        crop = os.path.exists(os.path.join(HERE, refs[key] + '.crop.png'))
        rows.append('%s\t%s\t%d\t%d' % (name, refs[key], orient, crop))
    with open(os.path.join(HERE, 'manifest.tsv'), 'w') as fh:
        fh.write('file\tref\torientation\tcrop\n' + '\n'.join(rows) + '\n')
    total = sum(os.path.getsize(os.path.join(HERE, f)) for f in os.listdir(HERE))
    print('%d files, %d distinct decodings, %d bytes in %s' % (len(rows), len(refs), total, HERE))


if __name__ == '__main__':
    main()
