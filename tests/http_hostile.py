"""http_hostile.py - the checks of tests/test_http.sh that play a hostile client (issue 25), on
the small 10-class network of tests/data/family (it loads in a moment): framing per RFC 9112,
overflowing OIP shapes, the input's name, the model's own classes, slow clients, the drain's
deadline. 127.0.0.1 only; each check bounded in time."""
import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from checklib import DEMO, HERE, check, finish

BIN = os.environ["RESNET_BIN"]
SMALL = os.path.join(HERE, "data", "family", "small_grouped.safetensors")
PHOTO = open(DEMO[0], "rb").read()
B64 = base64.b64encode(PHOTO).decode()


class Server:
    def __init__(self, *args):
        self.err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "hostile%d.err" % id(self)), "w+")
        self.p = subprocess.Popen([BIN, "serve", "--weights", SMALL, "--http", "127.0.0.1:0"] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.err)
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
for name, label in ((None, "missing"), ("photo", "wrong"), (7, "numeric")):
    st, r = s.json("POST", "/v2/models/resnet50/infer", infer([B64], name=name))
    check("input name %s: 400 {\"error\"} naming \"image\"" % label,
          st == 400 and list(r) == ["error"] and "\"image\"" in r["error"], (st, r))

# ---- the JSON-lines worker on the same network ---------------------------------------------
lines = "\n".join(json.dumps(x) for x in ({"id": 1, "image": B64, "k": 10}, {"id": 2, "image": B64, "k": 11},
                                          {"id": 3, "image": B64, "features": True}))
p = subprocess.run([BIN, "serve", "--weights", SMALL], input=lines.encode(), stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE, timeout=120)
got = [json.loads(l) for l in p.stdout.decode().splitlines()]
check("serve (JSON lines) on 10 classes: k=10 gives all ten, k=11 refused naming 10, default k 5",
      len(got) == 3 and len(got[0].get("top", [])) == 10 and "1 to 10" in got[1].get("error", "") and
      len(got[2].get("top", [])) == 5, got)
