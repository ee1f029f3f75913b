"""Overflowing weights through the long-lived front ends (run by tests/test_overflow_serve.sh).

A copy of the default weights whose fc column for this photo's strongest pooled feature is
1e38: it loads (no row sums past float), but the photo's logits overflow to inf. `resnet
serve` (JSON lines), `resnet serve --http` and the Python binding must each answer that
photo with an error, never with numbers: the rule `resnet classify` already follows."""
import base64, http.client, json, os, re, struct, subprocess, sys, time

sys.path.insert(0, "python")
import numpy as np
import resnet
from checklib import check, finish

BIN, SRC, TMP = sys.argv[1], sys.argv[2], sys.argv[3]
PHOTO = "demo/chelsea.png"



# the overflowing copy: safetensors = u64 header length, JSON header, data
raw = bytearray(open(SRC, "rb").read())
hlen = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + hlen])
fc = head["fc.weight"]
assert fc["dtype"] == "F32" and fc["shape"] == [1000, 2048], fc
feat = resnet.Model(SRC).embed(PHOTO)
col = int(np.argmax(feat))
check("the photo has a pooled feature above 1 (so 1e38 x it overflows)", feat[col] > 1, feat[col])
base = 8 + hlen + fc["data_offsets"][0]
w = np.frombuffer(raw, np.float32, 1000 * 2048, base).copy().reshape(1000, 2048)
w[:, col] = 1e38
raw[base:base + w.nbytes] = w.tobytes()
bad = os.path.join(TMP, "overflow.safetensors")
open(bad, "wb").write(raw)

# the binding
try:
    top = resnet.Model(bad).classify(PHOTO)
    check("binding: classify raises resnet.Error", False, top)
except resnet.Error as e:
    check("binding: classify raises resnet.Error (status 3) saying why", e.status == 3 and "not finite" in str(e), e)

# the JSON-lines worker: an error record for the photo, then the next request still answered
req = json.dumps({"id": 1, "file": PHOTO}) + "\n" + json.dumps({"id": 2, "file": "no-such.png"}) + "\n"
p = subprocess.run([BIN, "serve", "--weights", bad], input=req.encode(), capture_output=True, timeout=300)
lines = []
for l in p.stdout.decode().splitlines():
    try:
        lines.append(json.loads(l))
    except ValueError:  # e.g. "prob": -nan
        lines.append({"invalid JSON": l})
check("serve: exit 0, one line per request", p.returncode == 0 and len(lines) == 2, (p.returncode, lines, p.stderr))
if len(lines) == 2:
    check("serve: the overflowing photo gets an error record, no top", "error" in lines[0] and "top" not in lines[0]
          and "not finite" in lines[0]["error"], lines[0])

# HTTP: /v1/classify and the v2 infer answer 500 with the reason
srv = subprocess.Popen([BIN, "serve", "--weights", bad, "--http", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(TMP, "http.err"), "w+"))
port = None
for _ in range(600):
    m = re.search(r"serving http://127\.0\.0\.1:(\d+) ", open(os.path.join(TMP, "http.err")).read())
    if m:
        port = int(m.group(1))
        break
    if srv.poll() is not None:
        break
    time.sleep(0.1)
check("serve --http starts", port is not None, open(os.path.join(TMP, "http.err")).read())
if port is not None:
    photo = open(PHOTO, "rb").read()
    for path, body in (("/v1/classify", photo),
                       ("/v2/models/resnet50/infer", json.dumps({"inputs": [{"name": "image", "datatype": "BYTES",
                        "shape": [1], "data": [base64.b64encode(photo).decode()]}]}).encode())):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        c.request("POST", path, body=body)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            obj = json.loads(data)
        except ValueError:
            obj = {}
        check("http %s: 500 with the reason, no numbers" % path,
              r.status == 500 and "not finite" in obj.get("error", ""), (r.status, data[:300]))
    srv.terminate()
    srv.wait(timeout=120)

finish()
