"""python3 -m resnet classify [-k N] [--tta MODE] [--weights FILE] PHOTO|DIR...

Prints what `resnet classify --json` prints: one line per photo, in order, folders walked as
the tool walks them: {"file": ..., "top": [{"index", "name", "prob"}...]}, or
{"file": ..., "error": "..."} for a photo that cannot be read (exit status 1 then; 2 for a
usage error). Strings are escaped as the tool escapes them, so the two outputs compare byte
for byte.
"""
import argparse
import os
import sys

import resnet


def _json_string(s):
    """A str as the tool writes it: bytes that were not UTF-8 (surrogateescape) as \\udcXX,
    control characters (C0, DEL, C1) escaped, everything else as UTF-8 text."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if 0xDC80 <= c <= 0xDCFF:
            out.append("\\u%04x" % c)
        elif ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20 or 0x7F <= c < 0xA0:
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _strip_file(message, path):
    """The tool's error records drop the "PATH: " the library's message starts with (for
    standard input, "<bytes>: ", the name the binding gives bytes)."""
    for prefix in (path + ": ", "<bytes>: " if path == "-" else None):
        if prefix and message.startswith(prefix):
            return message[len(prefix):]
    return message


def _stdin_photo():
    """The bytes of the photo on standard input, read once as the tool reads it."""
    if sys.stdin is None:  # started with it closed
        raise resnet.Error("-: cannot read standard input: it is closed", 2)
    try:
        return sys.stdin.buffer.read()
    except OSError as e:
        raise resnet.Error("-: cannot read standard input: %s" % (e.strerror or e), 2) from None


def _photos(operands, problems):
    for op in operands:
        if op != "-" and os.path.isdir(op):
            try:
                paths, errs = resnet.list_images(op)
            except resnet.Error as e:  # a folder that cannot be listed: named, as the tool does
                problems.append(str(e))
                continue
            problems.extend(errs)
            yield from paths
        else:
            yield op


def _classify(args):
    try:
        model = resnet.Model(args.weights, exif_orientation=args.exif_orientation)
    except resnet.Error as e:
        print("resnet: %s" % e, file=sys.stderr)
        return 1
    if model.classes == 0:  # refused before any photo is read, in the tool's words
        model.close()
        print("resnet: %s: is a backbone (no fc): classify needs a classifier; embed, similar and train-head "
              "take a backbone" % model.path, file=sys.stderr)
        return 1
    failed = 0
    problems = []
    out = sys.stdout
    # -k above the network's classes gives them all, as the tool does (Model.classify refuses k
    # above its classes: a ValueError traceback here)
    k = min(args.top, model.classes)
    count = 0
    with model:
        for path in _photos(args.photos, problems):
            count += 1
            try:
                # "-" is the photo on standard input, as the tool reads it
                top = model.classify(_stdin_photo() if path == "-" else path, k=k, tta=args.tta)
            except resnet.Error as e:
                failed += 1
                out.write('{"file": %s, "error": %s}\n' % (_json_string(path), _json_string(_strip_file(str(e), path))))
                continue
            items = ", ".join('{"index": %d, "name": %s, "prob": %.6g}' % (p["index"], _json_string(p["name"]), p["prob"])
                              for p in top)
            out.write('{"file": %s, "top": [%s]}\n' % (_json_string(path), items))
            out.flush()
    for p in problems:
        print("resnet: %s" % p, file=sys.stderr)
    if count == 0:
        print("resnet: no photos found in %s" % (args.photos[0] if len(args.photos) == 1 else "the folders given"),
              file=sys.stderr)
        return 1
    return 1 if failed or problems else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m resnet",
                                     description="ResNet image classification (the resnet library from Python)")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("classify", help="the top classes of each photo, as JSON lines (resnet classify --json)")
    c.add_argument("-k", "--top", type=int, default=5, help="how many classes (default 5)")
    c.add_argument("--tta", choices=resnet.TTA_MODES, default=None, help="test-time augmentation (default none)")
    c.add_argument("--weights", default=None, help="weight file (default: as the resnet tool finds it)")
    c.add_argument("--exif-orientation", action="store_true",
                   help="turn photos upright as their EXIF orientation tag says (default: ignored, as the reference)")
    c.add_argument("photos", nargs="+", metavar="PHOTO|DIR")
    args = parser.parse_args(argv)
    if not 1 <= args.top <= 1000000:  # the tool's bound
        parser.error("-k must be from 1 to 1000000, not %d" % args.top)
    if args.photos.count("-") > 1:  # standard input is read once
        parser.error("'-' (standard input) is given more than once")
    if sys.stdout is None:  # started with standard output closed
        print("resnet: cannot write standard output", file=sys.stderr)
        return 1
    try:
        status = _classify(args)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as e:  # a full disk, a closed descriptor: said, as the tool says it
        if e.filename is not None:
            raise
        print("resnet: cannot write standard output", file=sys.stderr)
        status = 1
    if status:
        # what is still buffered cannot be written either: no second complaint at exit
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except OSError:
            pass
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        sys.exit(141)
