"""http_check.py - the checks of tests/test_http.sh (see there). Talks to 127.0.0.1 only."""
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from checklib import DEMO, HERE, check, finish

BIN = os.environ["RESNET_BIN"]
PHOTO = [open(p, "rb").read() for p in DEMO]
B64 = [base64.b64encode(b).decode() for b in PHOTO]



class Server:
    def __init__(self, *args):
        self.err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "server%d.err" % id(self)), "w+")
        self.p = subprocess.Popen([BIN, "serve", "--http", "127.0.0.1:0"] + list(args), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=self.err)
        self.port = None
        for _ in range(600):
            self.err.seek(0)
            m = re.search(r"serving http://127\.0\.0\.1:(\d+) ", self.err.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.1)

    def request(self, method, path, body=None, headers=None, timeout=120):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def json(self, method, path, obj=None, raw=None):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else None)
        st, data = self.request(method, path, body, {"Content-Type": "application/json"})
        try:
            return st, json.loads(data)
        except ValueError:
            return st, {"unparsable": data[:200]}

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = "hung"
        self.err.seek(0)
        return rc, self.err.read()


def cli(*args):
    out = subprocess.run([BIN, "classify", "--json"] + list(args), stdout=subprocess.PIPE).stdout
    return [json.loads(l) for l in out.decode().splitlines()]


def infer_body(images, k=None, rid=None, shape=None):
    out = {"name": "probabilities"}
    if k is not None:
        out["parameters"] = {"classification": k}
    body = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": shape or [len(images)], "data": images}],
            "outputs": [out]}
    if rid is not None:
        body["id"] = rid
    return body


want5 = cli(*DEMO)
want2flip = cli("-k", "2", "--tta", "flip", DEMO[0])[0]

s = Server("--max-body", "2000000", "--max-delay-ms", "50")
check("starts and prints its port", s.port is not None, s.err.name)
if s.port is None:
    finish()

# ---- the protocol's endpoints -------------------------------------------------------------
check("GET /v2/health/live: 200", s.request("GET", "/v2/health/live")[0] == 200)
check("GET /v2/health/ready: 200", s.request("GET", "/v2/health/ready")[0] == 200)
st, meta = s.json("GET", "/v2/models/resnet50")
check("GET /v2/models/resnet50: metadata (BYTES input, FP32 [-1, 1000] output)",
      st == 200 and meta.get("name") == "resnet50" and meta["inputs"][0]["datatype"] == "BYTES" and
      meta["outputs"][0] == {"name": "probabilities", "datatype": "FP32", "shape": [-1, 1000]}, (st, meta))
st, e = s.json("GET", "/v2/models/alexnet")
check("GET /v2/models/alexnet: 404 {\"error\"} naming it", st == 404 and "alexnet" in e.get("error", ""), (st, e))
st, e = s.json("POST", "/v2/models/alexnet/infer", infer_body(B64[:1]))
check("POST an unknown model's infer: 404", st == 404 and "error" in e, (st, e))

st, r = s.json("POST", "/v2/models/resnet50/infer", infer_body(B64, rid="req-1"))
out = r.get("outputs", [{}])[0]
probs = out.get("data", [])
ok = st == 200 and r.get("id") == "req-1" and out.get("datatype") == "FP32" and out.get("shape") == [2, 1000] and \
    len(probs) == 2000
for i in range(2):
    row = probs[1000 * i:1000 * (i + 1)]
    best = sorted(range(1000), key=lambda j: (-row[j], j))[:5] if len(row) == 1000 else []
    ok = ok and best == [t["index"] for t in want5[i]["top"]] and \
        all(abs(row[t["index"]] - t["prob"]) <= 1e-6 for t in want5[i]["top"]) and abs(sum(row) - 1) < 1e-3
check("infer, 2 images: probabilities FP32 [2, 1000], the CLI's top 5 and values, id echoed", ok,
      (st, r.get("id"), out.get("shape")))
st, r = s.json("POST", "/v2/models/resnet50/infer", infer_body(B64, k=3))
out = r.get("outputs", [{}])[0]
want = ["%s:%d:%s" % (t["prob"], t["index"], t["name"]) for w in want5 for t in w["top"][:3]]
got = [x.split(":", 2) for x in out.get("data", [])]
check("infer with classification 3: BYTES [2, 3] \"prob:index:name\" = classify --json's",
      st == 200 and out.get("datatype") == "BYTES" and out.get("shape") == [2, 3] and
      [(float(g[0]), g[1], g[2]) for g in got] == [(float(w.split(":", 2)[0]),) + tuple(w.split(":", 2)[1:])
                                                   for w in want], (st, out, want))

st, r2 = s.json("POST", "/v2/models/resnet50/infer", infer_body([[b] for b in B64], shape=[2, 1]))
st1, r1 = s.json("POST", "/v2/models/resnet50/infer", infer_body(B64))
check("infer with nested data [[\"...\"], ...] and shape [2, 1]: the flat request's answer",
      st == 200 and st1 == 200 and r2.get("outputs") == r1.get("outputs"), (st, str(r2)[:200]))
st, e = s.json("POST", "/v2/models/resnet50/infer", infer_body([[b] for b in B64], shape=[2]))
check("nested data with shape [2]: 400 naming the shape it goes with", st == 400 and "[N, 1]" in e.get("error", ""),
      (st, e))
st, r = s.json("GET", "/v2/models/resnet50/ready")
check("GET /v2/models/resnet50/ready: 200, names the model", st == 200 and r == {"name": "resnet50", "ready": True},
      (st, r))
st, e = s.json("GET", "/v2/models/resnet50/versions/2")
check("GET /v2/models/resnet50/versions/2: 404 no such model version", st == 404 and
      "no such model version" in e.get("error", ""), (st, e))
st, r = s.json("GET", "/v2/models/resnet50/versions/1/ready")
check("GET /v2/models/resnet50/versions/1/ready: 200", st == 200 and r.get("ready") is True, (st, r))

# ---- /v1/classify ------------------------------------------------------------------------------
st, body = s.request("POST", "/v1/classify", PHOTO[1], {"Content-Type": "image/png"})
check("POST /v1/classify (a photo): classify --json's \"top\"", st == 200 and json.loads(body)["top"] == want5[1]["top"],
      (st, body[:300]))
st, body = s.request("POST", "/v1/classify?k=2&tta=flip", PHOTO[0], {"Content-Type": "application/octet-stream"})
check("POST /v1/classify?k=2&tta=flip = classify -k 2 --tta flip", st == 200 and
      json.loads(body)["top"] == want2flip["top"], (st, body[:300]))
st, body = s.request("POST", "/v1/classify?&tta=flip&k=2", PHOTO[0])
check("POST /v1/classify?&tta=flip&k=2: a stray '&' names no argument", st == 200 and
      json.loads(body)["top"] == want2flip["top"], (st, body[:300]))

# ---- bad requests: a clear error each, and the server goes on ----------------------------------
bad = [
    ("not JSON", "POST", "/v2/models/resnet50/infer", b"{nope", 400, "not JSON"),
    ("FP32 input", "POST", "/v2/models/resnet50/infer",
     json.dumps({"inputs": [{"name": "image", "datatype": "FP32", "shape": [1], "data": [1.0]}]}).encode(), 400, "BYTES"),
    ("no inputs", "POST", "/v2/models/resnet50/infer", b"{}", 400, "inputs"),
    ("shape and data disagree", "POST", "/v2/models/resnet50/infer",
     json.dumps(infer_body(B64[:1], shape=[2])).encode(), 400, "shape"),
    ("not base64", "POST", "/v2/models/resnet50/infer", json.dumps(infer_body(["a$b"])).encode(), 400, "base64"),
    ("not a photo", "POST", "/v2/models/resnet50/infer",
     json.dumps(infer_body([base64.b64encode(b"hello").decode()])).encode(), 400, "image 0"),
    ("classification 0", "POST", "/v2/models/resnet50/infer", json.dumps(infer_body(B64[:1], k=0)).encode(), 400,
     "classification"),
    ("unknown output", "POST", "/v2/models/resnet50/infer",
     json.dumps({"inputs": infer_body(B64[:1])["inputs"], "outputs": [{"name": "logits"}]}).encode(), 400,
     "probabilities"),
    ("v1 body not a photo", "POST", "/v1/classify", b"hello", 400, "not a"),
    ("v1 truncated photo", "POST", "/v1/classify", PHOTO[0][:3000], 400, ""),
    ("v1 empty body", "POST", "/v1/classify", b"", 400, "empty"),
    ("v1 k=0", "POST", "/v1/classify?k=0", PHOTO[0], 400, "k must"),
    ("v1 tta=up", "POST", "/v1/classify?tta=up", PHOTO[0], 400, "tta must"),
    # an argument it does not know is refused, as serve's JSON lines refuse an unknown member:
    # ?topk=3 is no k, and answering the default 5 would pass for what was asked
    ("v1 topk=3", "POST", "/v1/classify?topk=3", PHOTO[0], 400, "unknown query argument 'topk'"),
    ("v1 k=2&K=3", "POST", "/v1/classify?k=2&K=3", PHOTO[0], 400, "unknown query argument 'K'"),
    ("v1 =3", "POST", "/v1/classify?=3", PHOTO[0], 400, "unknown query argument ''"),
    # k with no value, or twice: the lookup took nothing or the first, and answered the default
    ("v1 ?k", "POST", "/v1/classify?k", PHOTO[0], 400, "query argument 'k' has no value"),
    ("v1 k=3&k=5", "POST", "/v1/classify?k=3&k=5", PHOTO[0], 400, "query argument 'k' given twice"),
    ("v1 tta twice", "POST", "/v1/classify?tta=flip&tta=none", PHOTO[0], 400, "query argument 'tta' given twice"),
    ("GET infer", "GET", "/v2/models/resnet50/infer", None, 405, "POST"),
    ("no such path", "GET", "/v3/x", None, 404, "no such endpoint"),
    ("body over --max-body (no Content-Length: chunked)", "POST", "/v1/classify", iter([b"x" * 1100000] * 2), 413,
     "max-body"),
]
for name, method, path, body, code, word in bad:
    try:
        st, data = s.request(method, path, body)
        e = json.loads(data)
    except (OSError, ValueError, http.client.HTTPException) as ex:
        st, e = None, {"exception": repr(ex)}
    check("%s: %d {\"error\"}" % (name, code), st == code and word in e.get("error", "") and len(e) == 1, (st, e))
# a Content-Length over --max-body is answered 413 as soon as the headers are in
sock = socket.create_connection(("127.0.0.1", s.port), timeout=60)
sock.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 2100000\r\n\r\n")
head = sock.recv(4096)
sock.close()
check("Content-Length over --max-body: 413 before the body is sent", head.startswith(b"HTTP/1.1 413 "), head[:100])
st, body = s.request("POST", "/v1/classify", PHOTO[0])
check("after the bad requests: still serving", st == 200 and json.loads(body)["top"] == want5[0]["top"], st)

# a client that promises a body, sends part of it and goes away; then one that sends nothing
for what, payload in (("mid-upload", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                       PHOTO[0][:5000]), ("mid-headers", b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Le")):
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    sock.sendall(payload)
    sock.close()
    st, body = s.request("POST", "/v1/classify", PHOTO[1])
    check("a client gone %s: the next request is answered" % what, st == 200, st)

# ---- concurrent clients: every request answered once, batched together -------------------------
def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else None


_, before = s.request("GET", "/metrics")
before = before.decode()
results, lock = [], threading.Lock()


def client(n):
    for j in range(n):
        try:
            st, r = s.json("POST", "/v2/models/resnet50/infer", infer_body(B64[j % 2:j % 2 + 1], k=1))
            got = r["outputs"][0]["data"][0].split(":")[1] if st == 200 else None
        except Exception as ex:  # counted as a failure below
            st, got = repr(ex), None
        with lock:
            results.append((st, got, j % 2))


def clients(n, each):
    """n clients at once, each sending `each` requests; the answers' status codes, sorted."""
    del results[:]
    threads = [threading.Thread(target=client, args=(each,)) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(r[0] for r in results if isinstance(r[0], int))


threads = [threading.Thread(target=client, args=(4,)) for _ in range(16)]
t0 = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
dt = time.time() - t0
check("16 clients x 4 requests: 64 answers, all 200 with the right class (%.1f s)" % dt,
      len(results) == 64 and all(st == 200 and got == str(want5[i]["top"][0]["index"]) for st, got, i in results),
      [r for r in results if r[0] != 200][:3])
_, after = s.request("GET", "/metrics")
after = after.decode()
n200 = metric(after, 'resnet_http_requests_total{code="200"}') - metric(before, 'resnet_http_requests_total{code="200"}')
batches = metric(after, "resnet_batch_size_count") - metric(before, "resnet_batch_size_count")
images = metric(after, "resnet_batch_size_sum") - metric(before, "resnet_batch_size_sum")
# (65 200s: the 64 and the first /metrics request, counted once it was answered)
check("/metrics: 64 more 200s, 64 more images, in fewer than 64 passes (mean batch %.1f)" % (images / max(batches, 1)),
      n200 == 65 and images == 64 and 0 < batches < 64, (n200, images, batches))
check("/metrics: the Prometheus text format (TYPE lines, histogram +Inf = count, queue depth)",
      "# TYPE resnet_http_request_duration_seconds histogram" in after and
      metric(after, 'resnet_http_request_duration_seconds_bucket{le="+Inf"}') ==
      metric(after, "resnet_http_request_duration_seconds_count") and metric(after, "resnet_queue_depth") == 0, after[:300])

# ---- SIGTERM with requests in flight: every one answered, then exit 0 --------------------------
results = []
threads = [threading.Thread(target=client, args=(1,)) for _ in range(6)]
for t in threads:
    t.start()
time.sleep(0.3)
rc, err = s.stop(signal.SIGTERM)
for t in threads:
    t.join()
check("SIGTERM while 6 requests run: all 6 answered 200", len(results) == 6 and all(r[0] == 200 for r in results),
      results)
check("SIGTERM: exit 0, nothing reported (no leak, no sanitizer error)", rc == 0 and "ERROR" not in err and
      "runtime error" not in err, (rc, err[-800:]))

# ---- a full queue answers 503, and every request is answered exactly once ----------------------
s = Server("--max-queue", "1", "--max-batch", "1", "--max-delay-ms", "0", "--timeout", "1", "--exif-orientation")
EXIF = os.path.normpath(os.path.join(HERE, "data", "formats", "exif-6.jpg"))
want_up = cli("-k", "3", "--exif-orientation", EXIF)[0]["top"]
st, body = s.request("POST", "/v1/classify?k=3", open(EXIF, "rb").read())
check("--exif-orientation: /v1/classify as classify --exif-orientation", st == 200 and
      json.loads(body)["top"] == want_up, (st, body[:300], want_up))
# a slow client (half a request line, then nothing) is cut off after --timeout
sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
sock.sendall(b"GET /v2/hea")
t = time.time()
try:
    gone = sock.recv(100) == b""
except ConnectionResetError:
    gone = True
except socket.timeout:
    gone = False
waited = time.time() - t
sock.close()
check("--timeout 1: a client that stops sending is disconnected (after %.1f s)" % waited, gone and waited < 10,
      waited)
codes = clients(8, 2)
check("--max-queue 1, 8 clients x 2: 16 answers, each 200 or 503, some of each (%d x 503)" % codes.count(503),
      len(codes) == 16 and set(codes) == {200, 503}, results)
rc, err = s.stop(signal.SIGINT)
check("SIGINT: exit 0", rc == 0 and "ERROR" not in err, (rc, err[-500:]))

# ---- a forward pass that fails (RESNET_TEST_FAIL_PASS seam, the 3rd pass of the process) --------
# the requests inside the runner and queued behind it are answered 500 naming the failure, each
# once; a new run then serves on
class FailServer(Server):
    def __init__(self, *args):
        os.environ["RESNET_TEST_FAIL_PASS"] = "3"
        try:
            Server.__init__(self, *args)
        finally:
            del os.environ["RESNET_TEST_FAIL_PASS"]


s = FailServer("--max-batch", "1", "--max-delay-ms", "0")
st, body = s.request("POST", "/v1/classify", PHOTO[0])
check("a failing pass ahead: the 1st request is answered 200", st == 200, (st, body[:200]))
codes = clients(6, 2)
check("a pass failing under 6 clients x 2: 12 answers, each 200 or 500, some 500 (%d)" % codes.count(500),
      len(results) == 12 and set(codes) <= {200, 500} and 500 in codes, results)
st, e = s.json("POST", "/v1/classify", raw=PHOTO[1])
check("after the failed pass: still serving (200)", st == 200, (st, e))
rc, err = s.stop(signal.SIGTERM)
check("after a failed pass: SIGTERM exits 0, the failure on stderr, nothing leaked",
      rc == 0 and "RESNET_TEST_FAIL_PASS" in err and "ERROR" not in err, (rc, err[-500:]))

# ---- usage -------------------------------------------------------------------------------------
for args, word in ((["--http", "nohostport"], "HOST:PORT"), (["--http", "127.0.0.1:99999"], "65535"),
                   (["--max-batch", "4"], "--http")):
    p = subprocess.run([BIN, "serve"] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=120)
    check("serve %s: usage error (2) naming the problem" % " ".join(args), p.returncode == 2 and
          word.encode() in p.stderr, (p.returncode, p.stderr))

finish()
