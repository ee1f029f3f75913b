"""http_hostile.py - the checks of tests/test_http.sh that play a hostile client (issue 25), on
the small 10-class network of tests/data/family (it loads in a moment): framing per RFC 9112,
overflowing OIP shapes, the input's name, the model's own classes, slow clients, the drain's
deadline. 127.0.0.1 only; each check bounded in time."""
import base64
import http.client
import json
import os
import re
import resource
import signal
import socket
import struct
import subprocess
import threading
import time
import zlib

from checklib import DEMO, HERE, check, finish

BIN = os.environ["RESNET_BIN"]
SMALL = os.path.join(HERE, "data", "family", "small_grouped.safetensors")
PHOTO = open(DEMO[0], "rb").read()
B64 = base64.b64encode(PHOTO).decode()


class Server:
    n = 0

    def __init__(self, *args, fds=None):
        Server.n += 1
        self.err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "hostile%d-%d.err" % (os.getpid(), Server.n)), "w+")
        # fds: the process's descriptor limit, soft and hard (the server raises soft to hard)
        limit = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (fds, fds))) if fds else None
        self.p = subprocess.Popen([BIN, "serve", "--weights", SMALL, "--http", "127.0.0.1:0"] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err,
                                  preexec_fn=limit)
        self.port = None
        for _ in range(300):
            self.err.seek(0)
            m = re.search(r"serving http://127\.0\.0\.1:(\d+) ", self.err.read())
            if m:
                self.port = int(m.group(1))
                break
            if self.p.poll() is not None:
                break
            time.sleep(0.05)

    def raw(self, data, timeout=5, src=None):
        """Sends bytes, returns all the server sends back before it closes (or b'<timeout>')."""
        s = socket.socket()
        s.settimeout(timeout)
        if src:
            s.bind((src, 0))
        s.connect(("127.0.0.1", self.port))
        s.sendall(data)
        out = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        except socket.timeout:
            out += b"<timeout>"
        except ConnectionResetError:
            out += b"<reset>"
        s.close()
        return out

    def json(self, method, path, obj, timeout=60, src=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                       source_address=(src, 0) if src else None)
        try:
            c.request(method, path, body=json.dumps(obj).encode(), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            data = r.read()
            try:
                return r.status, json.loads(data)
            except ValueError:
                return r.status, {"unparsable": data[:200]}
        finally:
            c.close()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = "hung"
        self.err.seek(0)
        return rc, self.err.read()


def infer(images, shape=None, name="image", k=None):
    inp = {"datatype": "BYTES", "shape": shape or [len(images)], "data": images}
    if name is not None:
        inp["name"] = name
    body = {"inputs": [inp]}
    if k is not None:
        body["outputs"] = [{"name": "probabilities", "parameters": {"classification": k}}]
    return body


# the first bytes of a TLS 1.2 ClientHello: a handshake record, then random bytes (no line end)
TLS_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32, 64)) + b"\x00" * 200


def responses(data):
    """The number of status lines in what came back (a doubled answer has two)."""
    return len(re.findall(rb"HTTP/1\.[01] \d\d\d ", data))


def status(data):
    m = re.match(rb"HTTP/1\.[01] (\d\d\d) ", data)
    return int(m.group(1)) if m else None


def json_body(data):
    try:
        return json.loads(data.split(b"\r\n\r\n", 1)[1])
    except (ValueError, IndexError):
        return None


s = Server()
check("the 10-class network serves over HTTP", s.port is not None, s.err.name)
if s.port is None:
    finish()

# ---- the model's own classes (10), not ImageNet's ------------------------------------------
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]))
out = (r.get("outputs") or [{}])[0]
check("infer on a 10-class network: FP32 [1, 10] summing to 1",
      st == 200 and out.get("shape") == [1, 10] and len(out.get("data", [])) == 10 and
      abs(sum(out["data"]) - 1) < 1e-4, (st, r))
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], k=10))
data = (r.get("outputs") or [{}])[0].get("data", [])
check("classification 10 on 10 classes: ten 'prob:index:label' with the model's labels",
      st == 200 and len(data) == 10 and sorted(int(d.split(":")[1]) for d in data) == list(range(10)), (st, r))
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], k=11))
check("classification 11 on 10 classes: 400 saying 1 to 10", st == 400 and "1 to 10" in r.get("error", ""), (st, r))
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
c.request("GET", "/v2/models/resnet50")
meta = json.loads(c.getresponse().read())
c.close()
check("metadata: output shape [-1, 10]", meta["outputs"][0]["shape"] == [-1, 10], meta)

# ---- OIP: sizes from the request, the input's name -----------------------------------------
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], shape=[256] * 9))
check("shape [256 x 9]: 400 (no overflow)", st == 400 and "shape" in r.get("error", ""), (st, r))
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], shape=[256] * 8 + [1]))
check("shape [256 x 8, 1]: 400", st == 400 and "shape" in r.get("error", ""), (st, r))
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64, B64], shape=[1, 2]))
check("shape [1, 2] (one row of two, not two photos): 400 naming [N, 1]",
      st == 400 and "[N, 1]" in r.get("error", ""), (st, r))
# Triton's binary extension (tritonclient's default): a JSON head, then the tensor raw (BYTES:
# each element's 4-byte length, then its bytes)
tensor = struct.pack("<I", len(PHOTO)) + PHOTO
thead = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                "parameters": {"binary_data_size": len(tensor)}}]}).encode()
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
c.request("POST", "/v2/models/resnet50/infer", body=thead + tensor,
          headers={"Inference-Header-Content-Length": str(len(thead)), "Content-Type": "application/octet-stream"})
resp = c.getresponse()
st, r = resp.status, json.loads(resp.read())
c.close()
check("Triton's binary tensor extension: 400 {\"error\"} naming it and binary_data=False (not \"not JSON\")",
      st == 400 and "Inference-Header-Content-Length" in r.get("error", "") and "binary_data=False" in r["error"],
      (st, r))
# base64 with a line break (base64 without -w0): the message says where, not "or empty"
st, r = s.json("POST", "/v2/models/resnet50/infer", infer(["QUJD\nRA=="]))
check("base64 with a line break at 4: 400 naming image 0 and character 4",
      st == 400 and "image 0: not base64 (at character 4)" in r.get("error", ""), (st, r))
# a request file with a UTF-8 byte order mark (Notepad), sent as it is (curl -d @file)
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
c.request("POST", "/v2/models/resnet50/infer", body=b"\xef\xbb\xbf" + json.dumps(infer([B64])).encode())
resp = c.getresponse()
st, r = resp.status, json.loads(resp.read())
c.close()
check("an infer body opening with a UTF-8 byte order mark: answered (200), as serve's JSON lines are",
      st == 200 and len(r.get("outputs", [{}])[0].get("data", [])) == 10, (st, r))
for name, label in ((None, "missing"), ("photo", "wrong"), (7, "numeric")):
    st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], name=name))
    check("input name %s: 400 {\"error\"} naming \"image\"" % label,
          st == 400 and list(r) == ["error"] and "\"image\"" in r["error"], (st, r))

# ---- the JSON-lines worker on the same network ---------------------------------------------
LONG = "/nonexistent/" + ("b" * 200 + "/") * 5 + "photo.jpg"  # its message is shortened, HEAD...TAIL
lines = "\n".join(json.dumps(x) for x in ({"id": 1, "image": B64, "k": 10}, {"id": 2, "image": B64, "k": 11},
                                          {"id": 3, "image": B64, "features": True}, {"id": 4, "file": LONG}))
p = subprocess.run([BIN, "serve", "--weights", SMALL], input=lines.encode(), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=120)
got = [json.loads(l) for l in p.stdout.decode().splitlines()]
check("serve (JSON lines) on 10 classes: k=10 gives all ten, k=11 refused naming 10, default k 5",
      len(got) == 4 and len(got[0].get("top", [])) == 10 and "1 to 10" in got[1].get("error", "") and
      len(got[2].get("top", [])) == 5, got)
check("a missing file with a long path: \"error\" without the path (it is in \"file\"), as for short ones",
      len(got) == 4 and got[3].get("file") == LONG and got[3].get("error", "").startswith("cannot open"),
      got[3:] if len(got) > 3 else got)

# ---- framing (RFC 9112): one answer with a JSON body, nothing doubled, nothing truncated ----
H = b"Host: x\r\nConnection: close\r\n"
framing = [
    ("Content-Length -1", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", 400),
    ("Content-Length abc", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400),
    ("Content-Length 1e3", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: 1e3\r\n\r\n", 400),
    ("Content-Length 2^64", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: 18446744073709551616\r\n\r\n",
     413),
    ("Content-Length with chunked", b"POST /v1/classify HTTP/1.1\r\n" + H +
     b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("two different Content-Lengths", b"POST /v1/classify HTTP/1.1\r\n" + H +
     b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ("Transfer-Encoding gzip", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\nabc", 501),
    ("a 16-hex-digit chunk size", b"POST /v1/classify HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\n1000000000000000\r\nab", 413),
    ("a chunk size that is not hex", b"POST /v1/classify HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab", 400),
    ("%00 in the path", b"GET /v2/health/live%00x HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("%00 in the query", b"POST /v1/classify?k=1%00x HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n", 400),
    ("a folded header", b"GET /v2/health/live HTTP/1.1\r\n" + H + b"X-A: 1\r\n  2\r\n\r\n", 400),
    ("a head over 16 KiB", b"GET /v2/health/live HTTP/1.1\r\n" + H + b"X-A: " + b"a" * 20000 + b"\r\n\r\n", 431),
    # forms libmicrohttpd misreads (answered twice, or a body waited for forever): refused once
    ("Content-Length with a space after it", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: 5 \r\n\r\nabcde", 400),
    ("Content-Length 5, 5", b"POST /v1/classify HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nabcde", 400),
    ("chunked with a tab after it", b"POST /v1/classify HTTP/1.1\r\n" + H +
     b"Transfer-Encoding: chunked\t\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400),
    # thousands of arguments or fields in a head under 16 KiB exhaust libmicrohttpd's pool
    ("4000 query arguments", b"GET /v2/health/live?" + b"&".join([b"a"] * 4000) + b" HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("2000 header fields", b"GET /v2/health/live HTTP/1.1\r\n" + H + b"a: b\r\n" * 2000 + b"\r\n", 431),
    ("HTTP/2.0 on the request line", b"GET /v2/health/live HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("the h2c preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    ("a version that is not HTTP", b"GET /v2/health/live FOO/1.1\r\n" + H + b"\r\n", 400),
    # RFC 9112 3.2: one Host in an HTTP/1.1 request, never two (libmicrohttpd took both 200)
    ("HTTP/1.1 without Host", b"GET /v2/health/live HTTP/1.1\r\nConnection: close\r\n\r\n", 400),
    ("two Host fields", b"GET /v2/health/live HTTP/1.1\r\n" + H + b"host: y\r\n\r\n", 400),
    # RFC 9112 6.1: Transfer-Encoding is faulty framing in HTTP/1.0 (libmicrohttpd decoded the
    # photo and answered 200)
    ("chunked in HTTP/1.0", b"POST /v1/classify HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" +
     b"%x\r\n" % len(PHOTO) + PHOTO + b"\r\n0\r\n\r\n", 400),
    # another protocol's hello, no line end in it: answered at once, not when --timeout closes it
    ("a TLS ClientHello (https:// to this port)", TLS_HELLO, 400),
    ("PostgreSQL's SSLRequest", b"\x00\x00\x00\x08\x04\xd2\x16\x2f", 400),
]
got = s.raw(TLS_HELLO)
check("a TLS ClientHello: the answer says to use http://, not https://",
      "not https://" in (json_body(got) or {}).get("error", ""), got[:300])
for label, data, want in framing:
    t0 = time.time()
    got = s.raw(data)
    body = json_body(got)
    check("%s: %d with {\"error\"}, answered once, within 3 s" % (label, want),
          status(got) == want and responses(got) == 1 and isinstance(body, dict) and "error" in body and
          time.time() - t0 < 3, got[:300])
# a wrong method: 405 with the methods the path takes in Allow (RFC 9110 15.5.6: it is a MUST)
for method, path, allow in ((b"OPTIONS", b"/v2/health/live", b"GET, HEAD"), (b"GET", b"/v1/classify", b"POST"),
                            (b"DELETE", b"/v2/models/resnet50/infer", b"POST")):
    got = s.raw(method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    check("%s %s: 405 {\"error\"} with Allow: %s" % (method.decode(), path.decode(), allow.decode()),
          status(got) == 405 and re.search(rb"\r\nAllow: " + re.escape(allow) + rb"\r\n", got) is not None and
          isinstance(json_body(got), dict), got[:300])
# a method it does not know: 501 (RFC 9110 9.1), not 405 (which says the path takes others)
got = s.raw(b"FOO /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check("FOO /v2/health/live: 501 {\"error\"}", status(got) == 501 and isinstance(json_body(got), dict), got[:300])
# a form upload (curl -F): the photo wrapped in parts; the message says so ("not an image we can
# read" alone sent users looking at their photo)
form = (b"------x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
        b"Content-Type: image/png\r\n\r\n" + PHOTO + b"\r\n------x--\r\n")
got = s.raw(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=----x\r\n"
            b"Content-Length: %d\r\n\r\n" % len(form) + form)
check("a form upload to /v1/classify: 400 {\"error\"} naming multipart/form-data and --data-binary",
      status(got) == 400 and "multipart/form-data" in (json_body(got) or {}).get("error", "") and
      "--data-binary" in json_body(got)["error"], got[:300])
# the absolute form (as sent to a proxy), which RFC 9112 3.2.2 says a server MUST accept
got = s.raw(b"GET http://x/v2/models/resnet50/ready HTTP/1.1\r\nHost: x\r\n\r\n")
check("GET http://x/v2/models/resnet50/ready (the absolute form): 200, as its path",
      status(got) == 200 and (json_body(got) or {}).get("ready") is True, got[:300])
# a body sent without a length (an HTTP/1.0 client sending to the end, printf | nc): there is
# no body (RFC 9112 6.3), and the answer says why rather than only that it is empty
for path, data in ((b"/v1/classify", PHOTO), (b"/v2/models/resnet50/infer", json.dumps(infer([B64])).encode())):
    for version in (b"1.0", b"1.1"):
        got = s.raw(b"POST " + path + b" HTTP/" + version + b"\r\nHost: x\r\n\r\n" + data)
        check("POST %s, HTTP/%s, a body without Content-Length: 400 {\"error\"} naming Content-Length" %
              (path.decode(), version.decode()),
              status(got) == 400 and "no Content-Length" in (json_body(got) or {}).get("error", ""), got[:300])
got = s.raw(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
check("Content-Length: 0 on /v1/classify: 400 saying the body is empty",
      status(got) == 400 and "the body is empty" in (json_body(got) or {}).get("error", ""), got[:300])
# RFC 9112 2.2: empty lines before the request line are ignored (it was 400 "a malformed request line")
got = s.raw(b"\r\n\nGET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check("a CRLF and an LF before the request line: ignored, 200 once", status(got) == 200 and responses(got) == 1,
      got[:300])
got = s.raw(b"\r\n" * 5 + b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check("five empty lines before it: 400 {\"error\"}", status(got) == 400 and isinstance(json_body(got), dict), got[:300])
got = s.raw(b"GET /v2/health/live HTTP/1.0\r\n\r\n")
check("HTTP/1.0 without Host still answered (200)", status(got) == 200 and responses(got) == 1, got[:300])
got = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check("a good head still answered (200, Connection: close)", status(got) == 200 and responses(got) == 1 and
      b"onnection: close" in got, got[:300])
got = s.raw(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:  Chunked\r\n\r\n" +
            b"%x\r\n" % len(PHOTO) + PHOTO + b"\r\n0\r\n\r\n", timeout=30)
check("a chunked photo (\"  Chunked\": spaces before it, any case) answered 200 once",
      status(got) == 200 and responses(got) == 1, got[:300])
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]))
check("and infer still answered after them", st == 200, (st, r))
# ---- stderr: any client can make libmicrohttpd say something; a rate limit, a count -----------
for _ in range(60):  # a body begun, then the client goes away: one message each
    x = socket.socket()
    x.connect(("127.0.0.1", s.port))
    x.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
    time.sleep(0.01)
    x.close()
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
c.request("GET", "/metrics")
metrics = c.getresponse().read().decode()
c.close()
m = re.search(r'resnet_log_lines_total\{written="no"\} (\d+)', metrics)
s.err.seek(0)
lines = [l for l in s.err.read().splitlines() if "incomplete" in l]
check("60 clients gone mid-body: at most 10 stderr lines about them, each with a time and the peer's "
      "address; the rest counted",
      0 < len(lines) <= 10 and
      all(re.match(r"resnet: serve: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: 127\.0\.0\.1:\d+: ", l) for l in lines) and
      m and int(m.group(1)) > 0, (len(lines), lines[:2], m and m.group(0)))
check("/metrics counts the guard's answers (431, 501, 505; 501 too for the FOO method)",
      'code="431"} 2' in metrics and 'code="501"} 2' in metrics and 'code="505"} 2' in metrics,
      re.findall(r'code="\d+"\} \d+', metrics))

rc, err = s.stop()
check("SIGTERM after the hostile heads: exit 0", rc == 0, (rc, err[-500:]))


# ---- slow clients: a deadline for the whole request, a limit per client address -------------
def trickle(socks, seconds, data, stop=None):
    """Sends data one byte at a time to each socket, every 0.25 s, for `seconds`. Returns the
    sockets the server closed (or answered) by the end."""
    closed = set()
    t_end = time.time() + seconds
    i = 0
    while time.time() < t_end and not (stop and stop.is_set()):
        for k, x in enumerate(socks):
            if k in closed:
                continue
            try:
                x.send(data[i % len(data):i % len(data) + 1])
            except OSError:
                closed.add(k)
        i += 1
        time.sleep(0.25)
    for k, x in enumerate(socks):
        x.settimeout(0.05)
        try:
            x.recv(4096)  # an answer (408, 503) or the end: either way the server let go
            closed.add(k)
        except socket.timeout:
            pass  # still held open
        except OSError:
            closed.add(k)
    return closed


def connect_many(port, n):
    out = []
    for _ in range(n):
        x = socket.socket()
        x.connect(("127.0.0.1", port))
        out.append(x)
    return out


s = Server("--request-timeout", "3", "--max-per-client", "16")
head = b"POST /v2/models/resnet50/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
socks = connect_many(s.port, 100)
done = threading.Event()
result = {}
th = threading.Thread(target=lambda: result.update(closed=trickle(socks, 6, head + b"X-Slow: " + b"a" * 200, done)))
th.start()
time.sleep(0.5)
lat = []
ok = True
for _ in range(5):
    t0 = time.time()
    st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]), timeout=20, src="127.0.0.2")
    lat.append(time.time() - t0)
    ok = ok and st == 200
check("100 connections trickling their heads from 127.0.0.1: a client on 127.0.0.2 answered (5 of 5, each < 5 s)",
      ok and max(lat) < 5, (ok, lat))
th.join()
check("the trickling connections were all closed by --request-timeout 3 (or refused past --max-per-client 16)",
      len(result.get("closed", ())) == 100, len(result.get("closed", ())))
for x in socks:
    x.close()

# bodies trickled: their heads are in, so they are libmicrohttpd's connections, not the guard's;
# from 7 addresses (15 each, under --max-per-client 16) they must not hold every connection
socks = []
for i in range(100):
    x = socket.socket()
    x.bind(("127.0.0.%d" % (3 + i % 7), 0))
    x.connect(("127.0.0.1", s.port))
    x.sendall(head + b"Content-Length: 1000\r\n\r\n{")
    socks.append(x)
done = threading.Event()
th = threading.Thread(target=lambda: result.update(closed=trickle(socks, 2.5, b" ", done)))
th.start()
time.sleep(0.5)
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]), timeout=20, src="127.0.0.2")
done.set()
th.join()
check("100 connections trickling their bodies from 7 addresses: a client on an eighth answered (200)", st == 200, (st, r))
for x in socks:
    x.close()

# a body trickled: cut at the request's deadline with a 408
x = socket.socket()
x.settimeout(10)
x.connect(("127.0.0.1", s.port))
x.sendall(head + b"Content-Length: 1000\r\n\r\n{")
t0 = time.time()
got = b""
try:
    while time.time() - t0 < 8:
        x.send(b" ")
        x.settimeout(0.5)
        try:
            d = x.recv(4096)
            if not d:
                break
            got += d
        except socket.timeout:
            pass
except OSError:
    pass
x.close()
check("a body trickled one byte per 0.5 s: closed after --request-timeout 3 (2.5 to 6 s)",
      got == b"" and 2.5 < time.time() - t0 < 6, (got[:200], time.time() - t0))
# chunked bodies that trickle no body bytes (a chunk extension, size digits, a trailer): the
# handler never runs for them, yet --request-timeout still cuts them
socks = []
for tail in (b"5;", b"0", b"1\r\na\r\n0\r\nX-T: "):
    x = socket.socket()
    x.connect(("127.0.0.1", s.port))
    x.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + tail)
    socks.append(x)
t0 = time.time()
closed = trickle(socks, 6, b"0")
check("chunked bodies trickling an extension, size digits, a trailer: all closed by --request-timeout 3",
      len(closed) == 3 and time.time() - t0 < 8, (sorted(closed), time.time() - t0))
for x in socks:
    x.close()
same = connect_many(s.port, 20)
for x in same:
    x.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")  # heads not finished
time.sleep(0.5)
held, refused = 0, []
for x in same:
    x.settimeout(0.05)
    try:
        refused.append(x.recv(4096))
    except socket.timeout:
        held += 1
got = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
# (a connection the server is still closing may hold a slot a moment longer: 15 or 16 held)
check("20 unfinished heads from one address: at most 16 held, the rest 503 {\"error\"} naming --max-per-client",
      15 <= held <= 16 and len(refused) == 20 - held and
      all(status(r) == 503 and "--max-per-client" in (json_body(r) or {}).get("error", "") for r in refused) and
      held + (status(got) == 200) <= 16, (held, refused[:1], got[:100]))
for x in same:
    x.close()
time.sleep(0.3)
got = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
check("once they close, that address is served again", status(got) == 200, got[:200])
rc, err = s.stop()
check("SIGTERM: exit 0", rc == 0, (rc, err[-500:]))

# 1024 heads waiting fill the guard's table: a new connection is answered 503 at once, not left
# in the kernel's queue (each side needs about 1100 descriptors)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = 1024 + 300 + 64
if hard != resource.RLIM_INFINITY and hard < want:
    print("skip 1024 waiting heads: the descriptor limit is %d, under %d" % (hard, want))
else:
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    s = Server("--max-per-client", "2000", "--request-timeout", "30")
    waiting = connect_many(s.port, 1024 + 260)  # past the table and its 256 refused ones lingering
    for x in waiting:
        x.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
    time.sleep(1)
    t0 = time.time()
    got = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
    check("past 1024 heads waiting: a new connection answered 503 {\"error\"} at once (< 2 s)",
          status(got) == 503 and "waiting" in (json_body(got) or {}).get("error", "") and time.time() - t0 < 2,
          (got[:200], time.time() - t0))
    for x in waiting:
        x.close()
    time.sleep(0.5)
    got = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    check("once they close, a request is answered 200", status(got) == 200, got[:200])
    rc, err = s.stop()
    check("SIGTERM: exit 0", rc == 0, (rc, err[-500:]))

# ---- a budget for the bytes requests hold in flight ------------------------------------------
# (2 MB: a request holds its body, for infer its JSON tree and photo files again, and the network's
# input rows of its photos, 0.6 MB each)
s = Server("--max-inflight-mb", "2", "--max-body", "4000000")
got = s.raw(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 2500000\r\n\r\n")
check("a body of 2.5 MB with --max-inflight-mb 2: 413 {\"error\"} at once (it never fits), naming it",
      status(got) == 413 and "--max-inflight-mb" in (json_body(got) or {}).get("error", ""), got[:300])
got = s.raw(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            b"".join(b"%x\r\n%s\r\n" % (500000, b"x" * 500000) for _ in range(5)) + b"0\r\n\r\n", timeout=20)
check("a chunked body of 2.5 MB with --max-inflight-mb 2: 413 {\"error\"} once it is in, naming it",
      status(got) == 413 and "--max-inflight-mb" in (json_body(got) or {}).get("error", ""), got[:300])
big = socket.socket()
big.settimeout(20)
big.connect(("127.0.0.1", s.port))
big.sendall(b"POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 900000\r\n\r\n" + b"x" * 800000)
time.sleep(0.5)
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]), src="127.0.0.2")
check("while 800 kB of a body are held: another request 503 {\"error\"} naming --max-inflight-mb",
      st == 503 and "--max-inflight-mb" in r.get("error", ""), (st, r))
time.sleep(0.3)  # that request's connection closed and its bytes given back (just after its answer)
big.sendall(b"x" * 100000)
answer = b""
try:
    while True:
        d = big.recv(4096)
        if not d:
            break
        answer += d
except OSError:
    pass
big.close()
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64]), src="127.0.0.2")
check("once that one is answered (%s), the next is served" % status(answer), status(answer) == 400 and st == 200,
      (answer[:100], st, r))
rc, err = s.stop()
check("SIGTERM: exit 0", rc == 0, (rc, err[-300:]))

# the budget covers what an infer body really holds: its body, the JSON tree's strings and the
# photo files decoded from them (the peak resident memory, less the idle server's, stays under
# it). Not under ASan, whose allocator keeps freed memory in quarantine.
if b"asan" not in subprocess.run(["readelf", "-d", BIN], stdout=subprocess.PIPE).stdout:
    s = Server("--max-inflight-mb", "256")

    def rss(field):
        return int(re.search(field + r":\s+(\d+)", open("/proc/%d/status" % s.p.pid).read()).group(1)) >> 10
    idle = rss("VmRSS")
    big = json.dumps(infer([base64.b64encode(os.urandom(22 << 20)).decode()])).encode()  # 30 MiB
    res = []

    def post_big():
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
        try:
            c.request("POST", "/v2/models/resnet50/infer", body=big)
            res.append(c.getresponse().status)
        except OSError as e:
            res.append(repr(e))
        c.close()
    ths = [threading.Thread(target=post_big) for _ in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    peak = rss("VmHWM")
    check("8 infer bodies of 30 MiB at once, --max-inflight-mb 256: each 400 or 503, some 503, and the peak "
          "memory grew by %d MiB (at most 256)" % (peak - idle),
          set(res) <= {400, 503} and 503 in res and peak - idle <= 256, (res, idle, peak))
    # a body of 16 MiB made of tiny JSON values ("parameters": [0,0,...], 8 million of them):
    # each value is a node of the tree, 20 times the bytes it takes in the body, so the tree
    # must stop growing long before the budget, not after gigabytes
    body = json.dumps(dict(infer([B64]), parameters={"pad": [0] * (8 << 20)}), separators=(",", ":")).encode()
    before = rss("VmHWM")
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=120)
    c.request("POST", "/v2/models/resnet50/infer", body=body)
    resp = c.getresponse()
    st, r = resp.status, json.loads(resp.read())
    c.close()
    peak = rss("VmHWM")
    check("an infer body of 8 million JSON values (16 MiB): 400 {\"error\"} naming the limit, and the peak "
          "memory grew by %d MiB (at most 256)" % (peak - before),
          st == 400 and "more than 65536 values" in r.get("error", "") and peak - before <= 256, (st, r, before, peak))
    rc, err = s.stop()
    check("SIGTERM: exit 0", rc == 0, (rc, err[-300:]))

# ---- decoding is not one queue; pixel budgets per request and in flight --------------------
def png_gray(w, h):
    """A w x h 8-bit gray PNG of one shade: a few kB to send, w * h pixels to decode."""
    z = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def timed_post(port, path, body, out, key, timeout=300):
    t = time.time()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, body=body)
        r = c.getresponse()
        data = r.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        out[key] = (r.status, t, time.time(), data)
    except OSError as e:
        out[key] = (repr(e), t, time.time(), None)
    finally:
        c.close()


HUGE = png_gray(8192, 8192)  # 67 million pixels
s = Server("--max-request-mpx", "100000", "--max-inflight-mpx", "100000")
out = {}
timed_post(s.port, "/v1/classify", HUGE, out, "one")
one = out["one"][2] - out["one"][1]
# the big request takes about 4 s whatever the build: fewer photos where each is slower (ASan)
nbig = max(4, min(40, int(4.0 / max(one, 0.05)) + 1))
big = json.dumps(infer([base64.b64encode(HUGE).decode()] * nbig)).encode()
th = threading.Thread(target=timed_post, args=(s.port, "/v2/models/resnet50/infer", big, out, "big"))
th.start()
time.sleep(max(0.3, one))  # its first photo decoded, the next ones decoding
timed_post(s.port, "/v1/classify", PHOTO, out, "small")
th.join()
(bst, b0, b1, _), (sst, s0, s1, _) = out["big"], out["small"]
check("a one-photo request sent while %d photos of 67 Mpx decode (%.1f s in all): answered in the first half "
      "of that (%.2f s), not behind them" % (nbig, b1 - b0, s1 - s0),
      out["one"][0] == 200 and bst == 200 and sst == 200 and s1 - s0 < 0.5 * (b1 - b0) and s1 < b1 - 0.25 * (b1 - b0),
      (out["one"][:3], out["big"][:3], out["small"][:3]))
rc, err = s.stop()
check("SIGTERM: exit 0", rc == 0, (rc, err[-300:]))

s = Server("--max-request-mpx", "100", "--max-inflight-mpx", "100", "--decoders", "1")
st, r = s.json("POST", "/v2/models/resnet50/infer", infer([base64.b64encode(HUGE).decode()] * 2))
check("two photos of 67 Mpx with --max-request-mpx 100: 413 {\"error\"} naming it, image 1 and its size",
      st == 413 and list(r) == ["error"] and "--max-request-mpx" in r["error"] and "image 1 (8192x8192)" in r["error"],
      (st, r))
out = {}
tiny, wide = base64.b64encode(PHOTO).decode(), png_gray(8192, 4096)
# A: a small photo, a 67 Mpx one, a small one; B (34 Mpx) asks for its decoding turn while A's big
# one decodes (one decoder): it comes before A's third, so A's 67 Mpx are still in flight
a = threading.Thread(target=timed_post, args=(s.port, "/v2/models/resnet50/infer",
                                              json.dumps(infer([tiny, base64.b64encode(HUGE).decode(), tiny])).encode(),
                                              out, "a"))
a.start()
t0 = time.time()
while time.time() - t0 < 30:  # A's first photo decoded (/metrics counts its pixels): its big one decodes now
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
    c.request("GET", "/metrics")
    m = re.search(r"^resnet_decoded_pixels (\d+)$", c.getresponse().read().decode(), re.M)
    c.close()
    if m and int(m.group(1)) > 0:
        break
    time.sleep(0.005)
time.sleep(0.1)  # its views made, A asks for its next turn (the big photo: 0.4 s or more)
timed_post(s.port, "/v1/classify", wide, out, "b")
a.join()
check("--max-inflight-mpx 100: 34 Mpx while another request holds 67: 503 {\"error\"} naming it; that one 200",
      out["a"][0] == 200 and out["b"][0] == 503 and "--max-inflight-mpx" in str(out["b"][3]), (out["a"][:1], out["b"]))
timed_post(s.port, "/v1/classify", wide, out, "b2")
check("alone, the same photo is answered (200)", out["b2"][0] == 200, out["b2"])
c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=60)
c.request("GET", "/metrics")
metrics = c.getresponse().read().decode()
c.close()
check("/metrics counts the 413 and the 503", 'code="413"} 1' in metrics and 'code="503"} 1' in metrics,
      re.findall(r'code="\d+"\} \d+', metrics))
rc, err = s.stop()
check("SIGTERM: exit 0", rc == 0, (rc, err[-300:]))

# ---- the drain has a deadline; a second signal ends it at once -----------------------------
s = Server("--drain-timeout", "2")
x = socket.socket()
x.connect(("127.0.0.1", s.port))
x.sendall(head + b"Content-Length: 1000\r\n\r\n{")  # a body that never finishes
time.sleep(0.3)
t0 = time.time()
rc, err = s.stop(timeout=20)
dt = time.time() - t0
check("SIGTERM with a body still arriving: exit 0 after --drain-timeout 2 (2 to 5 s)", rc == 0 and 1.8 < dt < 5,
      (rc, dt, err[-300:]))
x.close()
s = Server()
x = socket.socket()
x.connect(("127.0.0.1", s.port))
x.sendall(head + b"Content-Length: 1000\r\n\r\n{")
time.sleep(0.3)
s.p.send_signal(signal.SIGTERM)
time.sleep(0.5)
t0 = time.time()
rc, err = s.stop(signal.SIGINT, timeout=20)
check("a second signal (SIGINT) during the drain: exit 1 at once, saying so",
      rc == 1 and time.time() - t0 < 2 and "second SIGINT" in err, (rc, err[-300:]))
x.close()
# ---- out of descriptors: the server waits for one, without spinning, and serves on ---------
def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


s = Server(fds=48)
check("a server limited to 48 descriptors starts", s.port is not None, s.err.name)
if s.port is not None:
    socks = connect_many(s.port, 80)  # past the limit: the rest wait in the kernel's queue
    time.sleep(0.5)
    c0 = cpu_seconds(s.p.pid)
    time.sleep(2.0)
    used = cpu_seconds(s.p.pid) - c0
    check("80 idle connections past a 48-descriptor limit: under 0.5 s of CPU in 2 s (no spinning on accept)",
          used < 0.5, used)
    for x in socks:
        x.close()
    answered = False
    for _ in range(50):  # the queued ones are accepted and closed in turn; then a request is served
        out = s.raw(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", timeout=5)
        if out.startswith(b"HTTP/1.1 200"):
            answered = True
            break
        time.sleep(0.2)
    check("then the connections close: a request is answered 200", answered, out[:100])
    rc, err = s.stop()
    check("and SIGTERM: exit 0", rc == 0, (rc, err[-300:]))

# ---- a connection queued as the server starts ------------------------------------------------
# The guard's thread may hand a connection already in the listening socket's queue over to
# libmicrohttpd, whose callbacks use the guard, before serve_guard_start has returned it (a
# crash: a health check knocking at a restarting server). A shim that keeps every
# pthread_create's caller waiting 300 ms after the thread is made opens that window wide.
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <time.h>
int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*f)(void *), void *arg) {
    int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *) =
        (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(RTLD_NEXT, "pthread_create");
    const int rc = real(t, a, f, arg);
    struct timespec d = {0, 300000000L};
    nanosleep(&d, NULL);
    return rc;
}
"""
shim_c = os.path.join(os.environ.get("TMPDIR", "/tmp"), "slowcreate%d.c" % os.getpid())
shim = shim_c[:-2] + ".so"
with open(shim_c, "w") as f:
    f.write(SHIM)
if subprocess.run([os.environ.get("CC", "cc"), "-shared", "-fPIC", "-o", shim, shim_c, "-ldl"]).returncode != 0:
    print("skip a connection queued as the server starts: no C compiler for the shim")
else:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    answer = []

    def knock():
        t0 = time.time()
        while time.time() - t0 < 60 and not answer:
            try:
                x = socket.create_connection(("127.0.0.1", port), timeout=10)
            except OSError:
                time.sleep(0.002)
                continue
            x.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            try:
                while True:
                    d = x.recv(4096)
                    if not d:
                        break
                    got += d
            except OSError:
                pass
            answer.append(got)
            x.close()

    t = threading.Thread(target=knock)
    t.start()
    # after a sanitizer runtime that is preloaded already; one linked in need not come first
    env = dict(os.environ, LD_PRELOAD=(os.environ.get("LD_PRELOAD", "") + " " + shim).strip(),
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0")
    p = subprocess.Popen([BIN, "serve", "--weights", SMALL, "--threads", "1", "--http", "127.0.0.1:%d" % port],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    t.join(90)
    time.sleep(0.5)
    up = p.poll() is None
    if up:
        p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    err = p.stderr.read().decode(errors="replace")
    check("a connection queued as the server starts: answered 200, the server stays up, SIGTERM exits 0",
          up and answer and answer[0].startswith(b"HTTP/1.1 200") and rc == 0, (up, answer[:1], rc, err[-300:]))
    os.unlink(shim)
os.unlink(shim_c)

# ---- a bind failure: one line naming the address and the reason -----------------------------
busy = socket.socket()
busy.bind(("127.0.0.1", 0))
busy.listen(1)
for addr, reason in (("192.0.2.1:8000", "assign"), ("127.0.0.1:%d" % busy.getsockname()[1], "in use")):
    p = subprocess.run([BIN, "serve", "--weights", SMALL, "--http", addr], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    err = p.stderr.decode().strip().splitlines()
    check("cannot bind %s: exit 1, one line naming the address and the reason" % addr,
          p.returncode == 1 and len(err) == 1 and addr in err[0] and reason in err[0].lower(), (p.returncode, err))
busy.close()

finish()
