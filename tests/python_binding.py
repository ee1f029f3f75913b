"""python_binding.py - checks of python/resnet/ (run by tests/test_python.sh, which sets
RESNET_LIBRARY, RESNET_BIN, LAYOUT_JSON and PYTHONPATH): the demo photos give the same classes
and probabilities as `resnet classify --json`, whatever form the photo is passed in; features
equal `resnet embed`'s; errors are resnet.Error with the library's message."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

import resnet
from checklib import DEMO, check, finish

BIN = os.environ["RESNET_BIN"]



def raises(fn, kind):
    try:
        fn()
    except kind as e:
        return e
    except Exception as e:  # the wrong kind: report it
        return "wrong exception %s: %s" % (type(e).__name__, e)
    return None


def cli_json(*args):
    out = subprocess.run([BIN, "classify", "--json"] + list(args), stdout=subprocess.PIPE, check=True).stdout
    return [json.loads(l) for l in out.decode().splitlines()]


def cli_info(*args):
    """`resnet info --json`'s record of one weight file (the default weights without args)."""
    out = subprocess.run([BIN, "info", "--json"] + list(args), stdout=subprocess.PIPE, check=True).stdout
    return json.loads(out.decode().splitlines()[0])


def same_info(py, cli):
    """Every key of Model.info() has the value `resnet info --json` gives it."""
    return all(k in cli and py[k] == cli[k] for k in py)


def same_top(py, cli):
    """py's predictions printed as the CLI prints them (%.6g) equal the CLI's."""
    return [(p["index"], p["name"], float("%.6g" % p["prob"])) for p in py] == \
           [(p["index"], p["name"], p["prob"]) for p in cli]


# ---- the ctypes structs are the C structs ---------------------------------------------------
want = json.load(open(os.environ["LAYOUT_JSON"]))
have = {k: [size, offs] for k, (size, offs) in resnet._layout().items()}
for name in sorted(want):
    check("ctypes %s: sizeof and offsets as in resnet.h" % name, have.get(name) == want[name],
          "C %s, ctypes %s" % (want[name], have.get(name)))
check("every mirrored struct checked", sorted(have) == sorted(want), "%s vs %s" % (sorted(have), sorted(want)))

check("library_version is the header's", resnet.library_version().startswith("1."), resnet.library_version())

# ---- one output (a binary classifier): the sigmoid, as the CLI gives it --------------------
# the narrow bottleneck network of tests/data/family with its fc cut to class 0; PyTorch's
# logit for that class is beside it
FAM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "family")
raw = open(os.path.join(FAM, "small_bottleneck.safetensors"), "rb").read()
hlen = int.from_bytes(raw[:8], "little")
head, blob, parts, at = json.loads(raw[8:8 + hlen]), raw[8 + hlen:], {}, 0
for name, t in head.items():
    if name == "__metadata__":
        continue
    b, shape = blob[t["data_offsets"][0]:t["data_offsets"][1]], t["shape"]
    if name in ("fc.weight", "fc.bias"):
        b, shape = b[:len(b) // shape[0]], [1] + shape[1:]
    parts[name] = {"dtype": t["dtype"], "shape": shape, "data_offsets": [at, at + len(b)]}
    at += len(b)
    parts[name]["blob"] = b
# metadata of its own, for Model.metadata: a non-ASCII value and an empty one
one_meta = {"source": "small_bottleneck, fc cut to one class (caf\u00e9 \u2014 test)", "note": ""}
hdr = json.dumps(dict({"__metadata__": one_meta}, **{k: {x: v[x] for x in ("dtype", "shape", "data_offsets")}
                                                     for k, v in parts.items()})).encode()
hdr += b" " * (-len(hdr) % 8)
one_path = os.path.join(os.environ.get("TMPDIR", tempfile.gettempdir()), "one-output.safetensors")
with open(one_path, "wb") as f:
    f.write(len(hdr).to_bytes(8, "little") + hdr + b"".join(v["blob"] for v in parts.values()))
ref = float(np.fromfile(os.path.join(FAM, "small_bottleneck.chelsea.224.os32.logits.f32"), "<f4")[0])
with resnet.Model(one_path) as m1:
    got = m1.classify(DEMO[0])  # the default k: 5 of one class was a ValueError
    lg = m1.logits(DEMO[0], tta="flip").astype(np.float64)[:, 0]
    check("one output: classify() gives sigmoid(PyTorch's logit), the default k its one class",
          len(got) == 1 and got[0]["index"] == 0 and abs(got[0]["prob"] - 1 / (1 + np.exp(-ref))) < 1e-5, got)
    check("one output: classify() is the CLI's", same_top(got, cli_json("--weights", one_path, DEMO[0])[0]["top"]),
          got)
    p = m1.probabilities(DEMO[0], tta="flip")
    check("one output: probabilities(tta='flip') the mean of the views' sigmoids",
          p.shape == (1,) and abs(p[0] - np.mean(1 / (1 + np.exp(-lg)))) < 1e-6, (p, lg))
    check("one output: k=2 refused (ValueError)", isinstance(raises(lambda: m1.classify(DEMO[0], k=2), ValueError),
                                                             ValueError))
    info, cli = m1.info(), cli_info(one_path)
    check("one output: info()['output'] is 'sigmoid', every key as resnet info --json",
          info.get("output") == cli["output"] == "sigmoid" and same_info(info, cli), (info, cli))
    got = {k: m1.metadata(k) for k in one_meta}
    check("one output: metadata() gives the file's values, a non-ASCII one and an empty one as they are",
          got == one_meta, got)

# ---- the default weight file, as the CLI finds it ------------------------------------------
env = dict(os.environ)
saved = {k: os.environ.pop(k, None) for k in ("RESNET_WEIGHTS", "RESNET_CACHE", "XDG_CACHE_HOME")}
os.environ["RESNET_CACHE"] = "/nonexistent-cache"
check("default_weights: $RESNET_CACHE", resnet.default_weights() == "/nonexistent-cache/resnet50-v1-caffe.safetensors",
      resnet.default_weights())
e = raises(lambda: resnet.Model(), resnet.Error)
check("Model() without a weight file: resnet.Error naming the path", isinstance(e, resnet.Error) and
      "/nonexistent-cache/resnet50-v1-caffe.safetensors" in str(e) and "resnet fetch" in str(e), e)
del os.environ["RESNET_CACHE"]
os.environ["XDG_CACHE_HOME"] = "/x"
check("default_weights: $XDG_CACHE_HOME/resnet", resnet.default_weights() == "/x/resnet/resnet50-v1-caffe.safetensors",
      resnet.default_weights())
os.environ["RESNET_WEIGHTS"] = "/w.safetensors"
check("default_weights: $RESNET_WEIGHTS first", resnet.default_weights() == "/w.safetensors", resnet.default_weights())
del os.environ["RESNET_WEIGHTS"], os.environ["XDG_CACHE_HOME"]
for k, v in saved.items():
    if v is not None:
        os.environ[k] = v

e = raises(lambda: resnet.Model("/nonexistent/w.safetensors"), resnet.Error)
check("Model(missing file): the library's message, status i/o", isinstance(e, resnet.Error) and e.status == 2 and
      str(e).startswith("/nonexistent/w.safetensors:"), e)
with open(os.path.join(tempfile.gettempdir(), "junk.safetensors"), "wb") as f:
    f.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
e = raises(lambda: resnet.Model(f.name), resnet.Error)
check("Model(not a ResNet-50 file): resnet.Error, status bad weights", isinstance(e, resnet.Error) and e.status == 3,
      e)

# ---- precision="bf16": the same answers as the CLI's --precision bf16 -------------------------
mb = resnet.Model(precision="bf16")
cli = cli_json("-k", "3", "--precision", "bf16", *DEMO)
for path, rec in zip(DEMO, cli):
    got = mb.classify(path, k=3)
    check("Model(precision='bf16').classify(%s) = classify --precision bf16 --json" % os.path.basename(path),
          same_top(got, rec["top"]), "%s vs %s" % (got, rec["top"]))
mb.close()
# ---- wide_winograd=True: other arithmetic on layer3-4 (not bit-identical), the same answers ----
mw, md = resnet.Model(wide_winograd=True), resnet.Model()
lw, ld = mw.logits(DEMO[0]), md.logits(DEMO[0])
diff = float(np.max(np.abs(np.asarray(lw) - np.asarray(ld))))
check("Model(wide_winograd=True).logits: within 1e-4 of the default's, by other arithmetic",
      0 < diff <= 1e-4, diff)
mw.close()
md.close()
e = raises(lambda: resnet.Model(precision="int8"), ValueError)
check("precision='int8' refused (a file's precision, not a conversion)", isinstance(e, ValueError), e)

# ---- classify: every form of a photo against the CLI ---------------------------------------
m = resnet.Model()  # the same weight file as the CLI: both read $RESNET_WEIGHTS or the cache
for tta, k in ((None, 5), ("flip", 3), ("10crop", 1)):
    args = ["-k", str(k)] + (["--tta", tta] if tta else []) + DEMO
    cli = cli_json(*args)
    for path, rec in zip(DEMO, cli):
        name = os.path.basename(path)
        got = m.classify(path, k=k, tta=tta)
        check("classify(%s, k=%d, tta=%s) = classify --json" % (name, k, tta), same_top(got, rec["top"]),
              "%s vs %s" % (got, rec["top"]))
        with open(path, "rb") as f:
            data = f.read()
        got = m.classify(data, k=k, tta=tta)
        check("classify(bytes of %s, tta=%s) = classify --json" % (name, tta), same_top(got, rec["top"]),
              "%s vs %s" % (got, rec["top"]))
        if tta is None:
            got = m.classify(resnet.load_image(path), k=k)
            check("classify(load_image(%s)) = classify --json" % name, same_top(got, rec["top"]),
                  "%s vs %s" % (got, rec["top"]))
            got = m.classify(m.preprocess(path)[0], k=k)
            check("classify(preprocess(%s)[0]) = classify --json" % name, same_top(got, rec["top"]),
                  "%s vs %s" % (got, rec["top"]))
check("chelsea is an Egyptian cat", m.classify(DEMO[0], k=1)[0]["index"] == 285, m.classify(DEMO[0], k=1))
probs = m.probabilities(DEMO[1])
check("probabilities: 1000 float32 summing to 1", probs.shape == (1000,) and probs.dtype == np.float32 and
      abs(float(probs.sum()) - 1) < 1e-4, (probs.shape, probs.dtype, probs.sum()))

# ---- exif_orientation: the tool's --exif-orientation --------------------------------------
EXIF6 = os.path.normpath(os.path.join(os.path.dirname(DEMO[0]), os.pardir, "tests", "data", "formats", "exif-6.jpg"))
plain, upright = resnet.load_image(EXIF6), resnet.load_image(EXIF6, exif_orientation=True)
check("load_image(exif_orientation=True): orientation 6 turned a quarter clockwise, as PIL's exif_transpose",
      plain.shape == (45, 61, 3) and np.array_equal(upright, np.rot90(plain, k=-1)), (plain.shape, upright.shape))
me = resnet.Model(exif_orientation=True)
for flags, model in (([], m), (["--exif-orientation"], me)):
    rec = cli_json("-k", "3", *flags, EXIF6)[0]
    for form, photo in (("path", EXIF6), ("bytes", open(EXIF6, "rb").read())):
        got = model.classify(photo, k=3)
        check("Model(exif_orientation=%s).classify(%s) = classify %s--json"
              % (bool(flags), form, "".join(f + " " for f in flags)), same_top(got, rec["top"]),
              "%s vs %s" % (got, rec["top"]))
check("the tag changes the answer (so the checks above tell the two apart)",
      m.classify(EXIF6, k=1)[0]["index"] != me.classify(EXIF6, k=1)[0]["index"])
py_run = subprocess.run([sys.executable, "-m", "resnet", "classify", "--exif-orientation", "-k", "3", EXIF6],
                        stdout=subprocess.PIPE)
check("python3 -m resnet classify --exif-orientation: the tool's --json line", py_run.returncode == 0 and
      json.loads(py_run.stdout) == cli_json("--exif-orientation", "-k", "3", EXIF6)[0], py_run)
me.close()
e = raises(lambda: resnet.Model(exif_orientation="yes"), ValueError)
check("exif_orientation='yes': ValueError", isinstance(e, ValueError) and "exif_orientation" in str(e), e)
e = raises(lambda: resnet.load_image(EXIF6, exif_orientation=1), ValueError)
check("load_image(exif_orientation=1): ValueError", isinstance(e, ValueError), e)
check("load_image(exif_orientation=np.True_): numpy's bool taken as True",
      np.array_equal(resnet.load_image(EXIF6, exif_orientation=np.True_), upright) and
      np.array_equal(resnet.load_image(EXIF6, exif_orientation=np.False_), plain))

# ---- embed against `resnet embed -o x.npy` -------------------------------------------------
npy = os.path.join(tempfile.gettempdir(), "feats.npy")
subprocess.run([BIN, "embed", "-o", npy] + DEMO, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
want = np.load(npy)
got = np.stack([m.embed(p) for p in DEMO])
check("embed = resnet embed's rows, bit for bit", got.shape == (2, 2048) and got.dtype == np.float32 and
      np.array_equal(got, want), "max diff %g" % float(np.abs(got - want).max()))
v = m.embed(open(DEMO[0], "rb").read(), l2=True)
check("embed(bytes, l2=True): unit length, the direction of the file's", abs(float(np.linalg.norm(v)) - 1) < 1e-5 and
      np.allclose(v, want[0] / np.linalg.norm(want[0]), atol=1e-6), np.linalg.norm(v))
subprocess.run([BIN, "embed", "--l2", "-o", npy] + DEMO, check=True, stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL)
want_l2 = np.load(npy)
got = np.stack([m.embed(p, l2=True) for p in DEMO])
check("embed(l2=True) = resnet embed --l2's rows, bit for bit", got.dtype == np.float32 and
      np.array_equal(got, want_l2), "max diff %g" % float(np.abs(got - want_l2).max()))

# ---- bad input: Python exceptions with the library's message -------------------------------
e = raises(lambda: m.classify("/nonexistent/photo.jpg"), resnet.Error)
check("missing photo: resnet.Error, the library's one line", isinstance(e, resnet.Error) and e.status == 2 and
      str(e).startswith("/nonexistent/photo.jpg:") and "\n" not in str(e), e)
e = raises(lambda: m.classify(b"not an image at all"), resnet.Error)
check("bytes that are not an image: resnet.Error, status bad image", isinstance(e, resnet.Error) and e.status == 4 and
      e.status_name == "bad image", e)
png = open(DEMO[0], "rb").read()
e = raises(lambda: m.classify(png[:len(png) // 3]), resnet.Error)
check("a truncated PNG: resnet.Error", isinstance(e, resnet.Error) and e.status == 4, e)
for bad_k in (0, 1001, "5", 2.0, True):
    e = raises(lambda: m.classify(DEMO[0], k=bad_k), ValueError)
    check("k=%r refused (ValueError)" % (bad_k,), isinstance(e, ValueError), e)
e = raises(lambda: m.classify(DEMO[0], tta="sideways"), ValueError)
check("tta='sideways' refused, naming the modes", isinstance(e, ValueError) and "10crop" in str(e), e)
e = raises(lambda: m.classify(np.zeros((5, 5), np.uint8)), ValueError)
check("a 2-D array refused", isinstance(e, ValueError), e)
e = raises(lambda: m.classify(resnet.load_image(DEMO[0]), tta="flip"), ValueError)
check("tta on an array refused (the views need the file)", isinstance(e, ValueError), e)
e = raises(lambda: m.classify(12), TypeError)
check("an int is not a photo (TypeError)", isinstance(e, TypeError), e)
paths, problems = resnet.list_images(os.path.dirname(DEMO[0]))
check("list_images(demo): the two photos, sorted, no problems", paths == DEMO and problems == [], (paths, problems))
e = raises(lambda: resnet.list_images("/nonexistent-folder"), resnet.Error)
check("list_images(missing folder): resnet.Error", isinstance(e, resnet.Error), e)
e = raises(lambda: resnet.load_image("/nonexistent.png"), resnet.Error)
check("load_image(missing): resnet.Error", isinstance(e, resnet.Error) and e.status == 2, e)
m.close()
e = raises(lambda: m.classify(DEMO[0]), resnet.Error)
check("a closed model: resnet.Error", isinstance(e, resnet.Error), e)
# every call, info() too: it is kept in Python, and once answered for a freed model
e = raises(lambda: m.info(), resnet.Error)
check("info() of a closed model: resnet.Error 'the model is closed'",
      isinstance(e, resnet.Error) and "closed" in str(e), e)
e = raises(lambda: m.metadata("variant"), resnet.Error)
check("metadata() of a closed model: resnet.Error 'the model is closed'",
      isinstance(e, resnet.Error) and "closed" in str(e), e)
with resnet.Model() as m2:
    check("with Model() as m: works", m2.classify(DEMO[0], k=1)[0]["index"] == 285)
    info, cli = m2.info(), cli_info()
    check("info() of the default weights: 'output' 'softmax', every key as resnet info --json",
          info.get("output") == cli["output"] == "softmax" and same_info(info, cli), (info, cli))
    # the default file's own __metadata__, read here from its header: every key and value as is
    with open(m2.path, "rb") as f:
        file_meta = json.loads(f.read(int.from_bytes(f.read(8), "little"))).get("__metadata__", {})
    got = {k: m2.metadata(k) for k in file_meta}
    check("metadata() of the default weights: the file's every key and value (its normalization is info()'s)",
          "normalization" in file_meta and got == file_meta and got["normalization"] == info["norm"],
          (got, file_meta))
    check("metadata() of a key the file lacks: None", m2.metadata("no-such-key") is None and
          m2.metadata("") is None, m2.metadata("no-such-key"))
    for bad in (b"variant", 1, None):
        e = raises(lambda: m2.metadata(bad), TypeError)
        check("metadata(%r): TypeError saying a key is a str" % (bad,), isinstance(e, TypeError) and
              "a metadata key is a str" in str(e), e)
    # a library before 1.7 has no resnet_model_metadata: the binding still loads it, and metadata()
    # says what it needs (status unsupported) rather than an AttributeError of ctypes

    class Before17:
        def __init__(self, lib):
            self.lib = lib

        def __getattr__(self, name):
            if name == "resnet_model_metadata":
                raise AttributeError(name)
            return getattr(self.lib, name)

    m2._lib = Before17(m2._lib)
    e = raises(lambda: m2.metadata("variant"), resnet.Error)
    m2._lib = m2._lib.lib
    check("metadata() with a library before 1.7: resnet.Error, unsupported, naming 1.7",
          isinstance(e, resnet.Error) and e.status == 6 and "1.7" in str(e), e)
    e = raises(lambda: m2.metadata("variant\0junk"), ValueError)
    check("metadata('variant\\0junk'): ValueError (not the value of 'variant')", isinstance(e, ValueError), e)
    check("info(): the default weights are a resnet50, 1000 classes, 224",
          m2.info()["arch"] == "resnet50" and m2.info()["classes"] == 1000 and m2.info()["input_size"] == 224,
          m2.info())

# Other networks: a narrow grouped bottleneck with 10 classes (tests/data/family/), its names
# from a file, its stages against PyTorch's (tools/make-family.py wrote them)
FAM = "tests/data/family"
with tempfile.TemporaryDirectory() as tmp:
    names = os.path.join(tmp, "names.txt")
    with open(names, "w") as f:
        f.write("\n".join("thing%d" % i for i in range(10)) + "\n")
    with resnet.Model(FAM + "/small_grouped.safetensors", labels=names) as g:
        info = g.info()
        check("info() of a grouped 10-class network", info["groups"] == 4 and info["classes"] == 10 and
              info["block"] == "bottleneck", info)
        top = g.classify(DEMO[0], k=3)
        cli = cli_json("--weights", FAM + "/small_grouped.safetensors", "--labels", names, "-k", "3", DEMO[0])[0]["top"]
        check("a 10-class network with labels: the CLI's classes and names", same_top(top, cli), (top, cli))
        check("k above the classes refused", isinstance(raises(lambda: g.classify(DEMO[0], k=11), ValueError),
                                                        ValueError))
    with resnet.Model(FAM + "/small_basic.safetensors") as b:
        maps = b.stages(DEMO[0])
        worst = 0.0
        for st in ("layer1", "layer2", "layer3", "layer4"):
            ref = np.fromfile("%s/small_basic.chelsea.224.os32.%s.f32" % (FAM, st), "<f4").reshape(maps[st].shape)
            worst = max(worst, float(abs(maps[st] - ref).max() / abs(ref).max()))
        check("stages() equal PyTorch's stage outputs (within 1e-4 of the largest)", worst < 1e-4, worst)
    with resnet.Model(FAM + "/small_bottleneck.safetensors", size=128, output_stride=8) as d:
        l4 = d.stages(DEMO[1], "layer4")["layer4"]
        ref = np.fromfile(FAM + "/small_bottleneck.coffee.128.os8.layer4.f32", "<f4").reshape(l4.shape)
        check("a dilated backbone at size 128: layer4 equals PyTorch's", float(abs(l4 - ref).max() / abs(ref).max()) < 1e-4,
              l4.shape)
    check("output_stride 12 refused", isinstance(raises(lambda: resnet.Model(FAM + "/small_basic.safetensors",
                                                                              output_stride=12), ValueError), ValueError))
    # a backbone (the file without its fc tensors): the classifier's features, no logits
    import struct
    raw = open(FAM + "/small_basic.safetensors", "rb").read()
    hn = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + hn])
    body, off, kept = {}, 0, []
    for name, t in head.items():
        if name == "__metadata__" or name.startswith("fc."):
            continue
        a, e = t["data_offsets"]
        body[name] = dict(t, data_offsets=[off, off + e - a])
        kept.append(raw[8 + hn + a:8 + hn + e])
        off += e - a
    hj = json.dumps(body).encode()
    hj += b" " * (-len(hj) % 8)
    body_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "body.safetensors")
    with open(body_path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(kept))
    with resnet.Model(FAM + "/small_basic.safetensors") as full, resnet.Model(body_path) as bb:
        check("a backbone: 0 classes, its classifier's feature size", bb.classes == 0 and
              bb.info()["feature_dim"] == full.feature_dim, bb.info())
        check("a backbone's embed is its classifier's", np.array_equal(bb.embed(DEMO[0]), full.embed(DEMO[0])))
        info, cli = bb.info(), cli_info(body_path)
        check("a backbone: info()['output'] is 'none', every key as resnet info --json",
              info.get("output") == cli["output"] == "none" and same_info(info, cli), (info, cli))
        e = raises(lambda: bb.classify(DEMO[0]), resnet.Error)
        check("classify on a backbone: resnet.Error naming it", isinstance(e, resnet.Error) and "backbone" in str(e), e)
        e = raises(lambda: bb.stages(DEMO[0], stages=4), TypeError)
        check("stages(stages=4): TypeError naming the stages", isinstance(e, TypeError) and "layer1" in str(e), e)
        e = raises(lambda: bb.class_name(0), resnet.Error)
        check("class_name on a backbone: resnet.Error naming it", isinstance(e, resnet.Error) and
              "backbone" in str(e), e)
    # python3 -m resnet classify on a backbone: the tool's one line and exit 1, no records
    runs = [subprocess.run(cmd + ["classify", "--weights", body_path, DEMO[0], DEMO[1]], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE) for cmd in ([BIN], [sys.executable, "-m", "resnet"])]
    cli_run, py_run = runs
    check("python3 -m resnet classify --weights BACKBONE: the tool's stdout, stderr and exit status",
          cli_run.returncode == 1 and (py_run.returncode, py_run.stdout, py_run.stderr) ==
          (cli_run.returncode, cli_run.stdout, cli_run.stderr), (py_run, cli_run))

# ---- the edges (issue 25): threads, NUL bytes, empty tta, non-finite input, wrapped ints ----
import threading
SMALL = FAM + "/small_grouped.safetensors"
crashed_free = True
for run in range(8):
    mt = resnet.Model(SMALL, threads=1)
    errors, calls = [], [0]

    def worker():
        while True:
            try:
                mt.classify(DEMO[0], k=1)
                calls[0] += 1
            except resnet.Error as e:
                errors.append(e)
                return
            except Exception as e:  # anything else is a failure
                errors.append(e)
                return

    ths = [threading.Thread(target=worker) for _ in range(2)]
    for t in ths:
        t.start()
    import time
    time.sleep(0.05 * (run % 4 + 1))
    mt.close()
    for t in ths:
        t.join(30)
    crashed_free = crashed_free and all(isinstance(e, resnet.Error) and "closed" in str(e) for e in errors) and \
        len(errors) == 2 and not any(t.is_alive() for t in ths)
check("close() from another thread while calls run (8 runs, 2 callers): no crash, the calls after it raise "
      "resnet.Error 'closed'", crashed_free, (errors, calls))
with resnet.Model(SMALL) as ms:
    for label, fn in (("a photo path", lambda: ms.classify(DEMO[0] + "\0junk")),
                      ("a weight path", lambda: resnet.Model(SMALL + "\0junk")),
                      ("load_image", lambda: resnet.load_image(DEMO[0] + "\0junk")),
                      ("list_images", lambda: resnet.list_images(os.path.dirname(DEMO[0]) + "\0junk")),
                      ("tta", lambda: ms.classify(DEMO[0], tta="flip\0junk"))):
        e = raises(fn, ValueError)
        check("a NUL byte in %s: ValueError" % label, isinstance(e, ValueError), e)
    e = raises(lambda: ms.classify(DEMO[0], tta=""), ValueError)
    check("tta='': ValueError (not taken as none)", isinstance(e, ValueError), e)
    S = ms.input_size
    for bad in (np.nan, np.inf, -np.inf):
        x = np.zeros((3, S, S), np.float32)
        x[1, 2, 3] = bad
        e = raises(lambda: ms.classify(x), ValueError)
        check("an input array with %s: ValueError, no answer" % bad, isinstance(e, ValueError), e)
e = raises(lambda: resnet.class_name(2 ** 32 + 285), IndexError)
check("class_name(2**32 + 285): IndexError (not wrapped to 285)", isinstance(e, IndexError), e)
for t in (2 ** 40, -1, 1.5):
    e = raises(lambda: resnet.Model(SMALL, threads=t), ValueError)
    check("Model(threads=%r): ValueError" % (t,), isinstance(e, ValueError), e)

# a side above INT_MAX would wrap in the C struct's int (2**32 + 1 rows read as 1): refused, not
# classified as another photo (np.zeros maps pages lazily: no memory is touched)
with resnet.Model() as big:
    for shape in ((2 ** 32 + 1, 1, 3), (1, 2 ** 32 + 1, 3), (2 ** 31, 1, 3)):
        e = raises(lambda: big.classify(np.zeros(shape, np.uint8), k=1), ValueError)
        check("a uint8 array of shape %s: ValueError naming its size" % (shape,), isinstance(e, ValueError) and
              "too large" in str(e), e)

# Dask and multiprocessing pickle what they ship: a Model is refused by name, not by a ctypes
# internal; copy.copy shared its C pointers, so both copies freed them (a crash at exit)
import copy
import pickle
with resnet.Model() as mp:
    for label, fn in (("pickle.dumps", lambda: pickle.dumps(mp)), ("copy.copy", lambda: copy.copy(mp)),
                      ("copy.deepcopy", lambda: copy.deepcopy(mp))):
        e = raises(fn, TypeError)
        check("%s(Model): TypeError saying a Model cannot be pickled" % label, isinstance(e, TypeError) and
              "resnet.Model cannot be pickled" in str(e), e)
    check("the Model still works after a refused pickle", mp.classify(DEMO[0], k=1)[0]["index"] == 285)

# a list or dict for a name option: the ValueError naming the choices, not "unhashable type"
for kw in ({"kernels": ["c"]}, {"precision": ["bf16"]}, {"kernels": {}}):
    e = raises(lambda: resnet.Model(**kw), ValueError)
    check("Model(%s): ValueError naming the option" % ", ".join("%s=%r" % i for i in kw.items()),
          isinstance(e, ValueError) and list(kw)[0] in str(e), e)

def in_child(fn):
    """fn() run in a forked child, its string sent back on a pipe: (hung for 60 s, the string)."""
    import signal
    import time
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reports on the pipe, never returns into the test
        os.close(r)
        try:
            os.write(w, fn().encode())
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.time() + 60
    hung = True
    while hung and time.time() < deadline:
        hung = os.waitpid(pid, os.WNOHANG) == (0, 0)
        time.sleep(0.1)
    if hung:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    said = os.read(r, 4096).decode()
    os.close(r)
    return hung, said


# a Model used in a forked child (multiprocessing's default start method on Linux): the child has
# none of the pool's threads, so a forward pass or close() waited forever; now one clear error
def child_of_a_model_that_ran():
    e = raises(lambda: parent.classify(DEMO[0], k=1), resnet.Error)
    msg = "ok" if isinstance(e, resnet.Error) and "forked child" in str(e) else "classify: %s" % (e,)
    parent.close()
    e = raises(lambda: parent.embed(DEMO[0]), resnet.Error)
    if msg == "ok" and not isinstance(e, resnet.Error):
        msg = "after close: %s" % (e,)
    return msg


with resnet.Model() as parent:
    parent.classify(DEMO[0], k=1)  # the pool's threads are running
    hung, said = in_child(child_of_a_model_that_ran)
    check("a forked child using the parent's Model: resnet.Error, close() returns (no hang)",
          not hung and said == "ok", "hung for 60 s" if hung else said)
    check("the parent's Model still works after the child", parent.classify(DEMO[0], k=1)[0]["index"] == 285)
# a Model loaded but not yet run has no threads: a forked child may use it (load once, fork workers)
def child_of_a_model_not_run():
    said = str(unused.classify(DEMO[0], k=1)[0]["index"])
    unused.close()  # the child's own now: closed for real, without waiting on anything
    return said


with resnet.Model() as unused:
    hung, said = in_child(child_of_a_model_not_run)
    check("a Model not yet run, used in a forked child: the parent's answer", not hung and said == "285", said)

# preprocess of a float32 photo is its own array: writing to it leaves the photo as it was
with resnet.Model() as pm:
    x = pm.preprocess(DEMO[0])[0].copy()
    before = x.copy()
    pm.preprocess(x)[0][:] = 0
    check("preprocess(float32 photo) is a new array, not a view of the photo", np.array_equal(x, before))

# a file's bytes given as a path: one short line, not the bytes quoted whole
data = open(DEMO[0], "rb").read()
e = raises(lambda: resnet.load_image(data), ValueError)
check("load_image(a file's bytes): a ValueError of one short line", isinstance(e, ValueError) and
      len(str(e)) < 200 and "\n" not in str(e), str(e)[:300])

finish()
