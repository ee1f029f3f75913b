"""serve_check.py - the checks of tests/test_serve.sh (see there)."""
import base64
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import time

from checklib import DEMO, HERE, check, finish

BIN = os.environ["RESNET_BIN"]
TMP = tempfile.gettempdir()



def serve(lines, args=(), raw=None):
    """Runs resnet serve on the lines (or raw bytes); returns (status, answers, stderr)."""
    data = raw if raw is not None else "".join(l + "\n" for l in lines).encode()
    p = subprocess.run([BIN, "serve"] + list(args), input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    answers = []
    for l in p.stdout.decode("utf-8", "surrogateescape").splitlines():
        try:
            answers.append(json.loads(l))
        except ValueError:
            answers.append({"unparsable": l})
    return p.returncode, answers, p.stderr.decode(errors="replace")


def cli(*args):
    out = subprocess.run([BIN, "classify", "--json"] + list(args), stdout=subprocess.PIPE).stdout
    return [json.loads(l) for l in out.decode().splitlines()]


b64 = [base64.b64encode(open(p, "rb").read()).decode() for p in DEMO]
want5 = cli(*DEMO)
want3flip = cli("-k", "3", "--tta", "flip", *DEMO)

# ---- good requests against the CLI ---------------------------------------------------------
rc, ans, err = serve([json.dumps({"id": 1, "file": DEMO[0]}), json.dumps({"id": "two", "file": DEMO[1]})])
check("file requests: exit 0, two answers", rc == 0 and len(ans) == 2, (rc, ans, err))
check("file requests: top = classify --json, ids and files echoed",
      [(a.get("id"), a.get("file"), a.get("top")) for a in ans] == [(1, DEMO[0], want5[0]["top"]),
                                                                    ("two", DEMO[1], want5[1]["top"])], ans)
rc, ans, _ = serve([json.dumps({"id": i, "image": b64[i], "k": 3, "tta": "flip"}) for i in range(2)] +
                   [json.dumps({"id": 9, "image": b64[0].rstrip("=")})])
check("base64 images (k 3, tta flip) = classify --json -k 3 --tta flip, no \"file\"",
      [a.get("top") for a in ans[:2]] == [w["top"] for w in want3flip] and all("file" not in a for a in ans), ans)
check("base64 without its padding is read", len(ans) == 3 and ans[2].get("top") == want5[0]["top"], ans[2:])

feats = os.path.join(TMP, "feats.bin")
subprocess.run([BIN, "embed", "-o", feats] + DEMO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
raw = open(feats, "rb").read()
emb = [list(struct.unpack("<2048f", raw[i * 8192:(i + 1) * 8192])) for i in range(2)]
rc, ans, _ = serve([json.dumps({"id": 0, "file": DEMO[0], "features": True}),
                    json.dumps({"id": 1, "image": b64[1], "features": True, "k": 1}),
                    json.dumps({"id": 2, "file": DEMO[1], "features": False})])
got = [[struct.unpack("<f", struct.pack("<f", x))[0] for x in a.get("features", [])] for a in ans[:2]]
check("features: 2048 values = resnet embed's, bit for bit", got == emb, [len(g) for g in got])
check("features: only when asked", len(ans) == 3 and "features" not in ans[2] and ans[2].get("top") == want5[1]["top"],
      ans[2:])

# ---- malformed lines: an error record each, with the id when it can be read; then go on ----
bad = [
    ("not JSON", "this is not json", None, "not a JSON request"),
    ("truncated JSON", '{"id": 7, "file": "x"', None, "not a JSON request"),
    ("an array", "[1, 2]", None, "JSON object"),
    ("unknown member", '{"id": 3, "imgae": "x"}', 3, "imgae"),
    ("file and image", json.dumps({"id": 4, "file": DEMO[0], "image": b64[0]}), 4, "not both"),
    ("neither file nor image", '{"id": 5}', 5, "no \\\"file\\\""),
    ("k 0", json.dumps({"id": 6, "file": DEMO[0], "k": 0}), 6, "\"k\""),
    ("k 1001", json.dumps({"id": 6, "file": DEMO[0], "k": 1001}), 6, "\"k\""),
    ("k 2.5", json.dumps({"id": 6, "file": DEMO[0], "k": 2.5}), 6, "\"k\""),
    ("k \"5\"", json.dumps({"id": 6, "file": DEMO[0], "k": "5"}), 6, "\"k\""),
    ("tta sideways", json.dumps({"id": 8, "file": DEMO[0], "tta": "sideways"}), 8, "\"tta\""),
    ("features 1", json.dumps({"id": 8, "file": DEMO[0], "features": 1}), 8, "\"features\""),
    ("file 3", '{"id": 8, "file": 3}', 8, "\"file\""),
    ("empty file", '{"id": 8, "file": ""}', 8, "\"file\""),
    ("image not base64", '{"id": [1, "x"], "image": "ab$d"}', [1, "x"], "not base64"),
    ("image bad padding", '{"id": 10, "image": "QQ="}', 10, "not base64"),
    ("empty image", '{"id": 11, "image": ""}', 11, "empty"),
    # a line break where base64 without -w0 puts one: named where it is, not at the padding
    ("base64 with a line break", json.dumps({"id": 17, "image": "QUJD\nRA=="}), 17, "at character 4"),
    ("image not a photo", json.dumps({"id": 12, "image": base64.b64encode(b"hello world").decode()}), 12,
     "not a"),
    ("truncated photo", json.dumps({"id": 13, "image": base64.b64encode(open(DEMO[0], "rb").read()[:2000]).decode()}),
     13, ""),
    ("missing file", '{"id": 14, "file": "/nonexistent/x.png"}', 14, "cannot open"),
    ("duplicate member", '{"id": 15, "file": "a", "file": "b"}', None, "duplicate"),
    ("invalid UTF-8", b'{"id": 16, "file": "\xff"}', None, "UTF-8"),
]
lines = []
for _, line, _, _ in bad:
    lines.append(line if isinstance(line, bytes) else line.encode())
    lines.append(json.dumps({"id": "after", "file": DEMO[1], "k": 1}).encode())
rc, ans, err = serve(None, raw=b"\n".join(lines) + b"\n")
check("malformed lines: exit 0, one answer per line", rc == 0 and len(ans) == 2 * len(bad), (rc, len(ans), err))
for i, (name, _, want_id, word) in enumerate(bad):
    a = ans[2 * i] if 2 * i < len(ans) else {}
    after = ans[2 * i + 1] if 2 * i + 1 < len(ans) else {}
    ok = set(a) - {"file"} == {"id", "error"} and a["id"] == want_id and word.replace('\\"', '"') in a["error"] \
        and "\n" not in a["error"] and a["error"]
    check("malformed: %s -> error record (id %s)" % (name, json.dumps(want_id)), ok, a)
    if name in ("k 0", "unknown member", "not JSON", "truncated photo"):
        check("  ... and the next request is answered", after.get("id") == "after" and
              after.get("top", [{}])[0].get("index") == want5[1]["top"][0]["index"], after)
check("every request after a bad one answered", all(ans[2 * i + 1].get("top") for i in range(len(bad))
                                                    if 2 * i + 1 < len(ans)), "")

# ids: any JSON value, echoed exactly (numbers as written)
ids = ['12345678901234567890', '1.10', '-0', '{"a": [1, {"b": null}], "c": "\\u00e9\\n"}', 'true', '"\\"q\\""']
rc, ans, _ = serve(['{"id": %s, "file": "%s", "k": 1}' % (i, DEMO[0]) for i in ids])
raw_ids = subprocess.run([BIN, "serve"], input="".join('{"id": %s, "file": "%s", "k": 1}\n' % (i, DEMO[0])
                                                        for i in ids).encode(), stdout=subprocess.PIPE).stdout
check("ids of every JSON type echoed, equal as JSON", [a.get("id") for a in ans] == [json.loads(i) for i in ids], ans)
check("a big integer id echoed digit for digit", b'"id": 12345678901234567890,' in raw_ids, raw_ids[:200])
check("1.10 echoed as written", b'"id": 1.10,' in raw_ids, raw_ids[:400])

# ---- blank lines, a last line without newline, empty input, EOF ----------------------------
rc, ans, _ = serve(None, raw=("\n  \n" + json.dumps({"id": 1, "file": DEMO[0]}) + "\n\r\n" +
                              json.dumps({"id": 2, "file": DEMO[1]})).encode())
check("blank lines skipped; a last line without a newline answered", rc == 0 and [a.get("id") for a in ans] == [1, 2],
      ans)
rc, ans, err = serve([])
check("empty input: no answer, exit 0", rc == 0 and ans == [] and err == "", (rc, ans, err))
# a UTF-8 byte order mark opening the input (Notepad, PowerShell): skipped, not a malformed line 1
rc, ans, _ = serve([], raw=b"\xef\xbb\xbf" + (json.dumps({"id": 1, "file": DEMO[0], "k": 1}) + "\n").encode())
check("a UTF-8 byte order mark before the first request: skipped, the request answered",
      rc == 0 and len(ans) == 1 and ans[0].get("id") == 1 and ans[0].get("top") == want5[0]["top"][:1], (rc, ans))
# a line of tiny JSON values (8 million in 16 MiB): each is a node of the parsed tree, so the
# parser stops at the limit instead of holding gigabytes for one line
pad = (json.dumps({"id": 1, "file": DEMO[0], "pad": [0] * (8 << 20)}, separators=(",", ":")) + "\n" +
       json.dumps({"id": 2, "file": DEMO[0], "k": 1}) + "\n").encode()
out = subprocess.run([BIN, "serve"], input=pad, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600).stdout
ans = [json.loads(l) for l in out.decode().splitlines()]
check("a line of 8 million JSON values: an error record naming the limit, the next line answered",
      len(ans) == 2 and "more than 65536 values" in ans[0].get("error", "") and ans[1].get("id") == 2, ans)
rc, ans, err = serve([], args=["extra"])
check("an operand is a usage error (exit 2)", rc == 2 and "no operands" in err, (rc, err))
p = subprocess.run([BIN, "serve", "--weights", "/nonexistent.safetensors"], input=b"", stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)
check("no weights: exit 1, one line", p.returncode == 1 and p.stderr.count(b"\n") == 1, p.stderr)

# ---- --exif-orientation: photos turned upright as classify --exif-orientation turns them ------
EXIF = os.path.normpath(os.path.join(HERE, "data", "formats", "exif-6.jpg"))
exif_b64 = base64.b64encode(open(EXIF, "rb").read()).decode()
reqs = [json.dumps({"id": 1, "file": EXIF, "k": 3}), json.dumps({"id": 2, "image": exif_b64, "k": 3})]
want_up = cli("-k", "3", "--exif-orientation", EXIF)[0]["top"]
want_raw = cli("-k", "3", EXIF)[0]["top"]
rc, ans, _ = serve(reqs, args=["--exif-orientation"])
check("--exif-orientation: files and images as classify --exif-orientation (which differs from without)",
      rc == 0 and [a.get("top") for a in ans] == [want_up, want_up] and want_up != want_raw, (ans, want_up, want_raw))
rc, ans, _ = serve(reqs)
check("without it: as classify without it", rc == 0 and [a.get("top") for a in ans] == [want_raw, want_raw], ans)

# ---- order, over a long mix of files, images, views and errors -----------------------------
mix, want = [], []
for i in range(60):
    kind = i % 5
    if kind == 0:
        mix.append(json.dumps({"id": i, "file": DEMO[i % 2], "k": 1})); want.append(want5[i % 2]["top"][:1])
    elif kind == 1:
        mix.append(json.dumps({"id": i, "image": b64[i % 2], "k": 2})); want.append(want5[i % 2]["top"][:2])
    elif kind == 2:
        mix.append(json.dumps({"id": i, "file": DEMO[i % 2], "k": 3, "tta": "flip"}))
        want.append(want3flip[i % 2]["top"])
    elif kind == 3:
        mix.append('{"id": %d, "bad": 1}' % i); want.append(None)
    else:
        mix.append(json.dumps({"id": i, "file": DEMO[i % 2], "tta": "10crop", "k": 1})); want.append("10crop")
t = time.time()
rc, ans, err = serve(mix)
check("60 mixed requests: 60 answers in order, exit 0 (%.1f s)" % (time.time() - t),
      rc == 0 and [a.get("id") for a in ans] == list(range(60)), (rc, [a.get("id") for a in ans], err))
ok = all((w is None and "error" in a) or (w == "10crop" and len(a.get("top", [])) == 1) or a.get("top") == w
         for a, w in zip(ans, want))
check("60 mixed requests: each answer the CLI's for its photo and options", ok, ans[:6])

# ---- flushed: a lone request is answered while the input stays open ------------------------
p = subprocess.Popen([BIN, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
got = []
for i in range(2):
    p.stdin.write((json.dumps({"id": i, "file": DEMO[i], "k": 1}) + "\n").encode())
    p.stdin.flush()
    r, _, _ = select.select([p.stdout], [], [], 120)
    got.append(json.loads(p.stdout.readline()) if r else None)
p.stdin.close()
rc = p.wait(timeout=60)
p.stdout.close()
p.stderr.close()
check("each answer flushed before the next request is sent; EOF then exits 0",
      [g and g.get("id") for g in got] == [0, 1] and rc == 0, (got, rc))

# a forward pass that fails mid-run (the library's RESNET_TEST_FAIL_PASS seam: the 2nd pass):
# the requests inside the runner's batches and those read after them still get one answer
# each, in order (an error record naming the failure), and the exit status says it failed
reqs = [json.dumps({"id": i, "file": DEMO[i % 2], "k": 1}) for i in range(30)]
p = subprocess.run([BIN, "serve"], input=("\n".join(reqs) + "\n").encode(), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=600, env=dict(os.environ, RESNET_TEST_FAIL_PASS="2"))
ans = [json.loads(l) for l in p.stdout.decode().splitlines()]
first_error = next((i for i, a in enumerate(ans) if "error" in a), None)
check("a pass failing mid-run: 30 requests, 30 answers in order, answers then error records naming it, exit 1",
      [a.get("id") for a in ans] == list(range(30)) and first_error is not None and first_error >= 1 and
      all("top" in a for a in ans[:first_error]) and
      all("RESNET_TEST_FAIL_PASS" in a.get("error", "") for a in ans[first_error:]) and p.returncode == 1 and
      b"RESNET_TEST_FAIL_PASS" in p.stderr, (len(ans), first_error, p.returncode, p.stderr[-300:], ans[-1:]))

finish()
