#!/usr/bin/env python3
"""http-bench.py - `resnet serve --http` under load, over loopback, against `resnet classify DIR`.

    python3 bench/http-bench.py [PHOTOS_DIR] [--clients 1,4,16,64] [--requests N] [--bin build/resnet]
    python3 bench/http-bench.py [PHOTOS_DIR] --hostile [--clients 16] [--requests N]

Starts the server on 127.0.0.1 (a free port), then for each number of concurrent clients
sends N requests in all (POST /v1/classify, each a photo of PHOTOS_DIR in turn; default the
demo photos, or ../shared/images/samples when it is there) and reports requests/s, p50 and p99
latency, and the mean batch size the server ran (from /metrics). Every request must get
exactly one answer, 200: the counts are checked, on the client's side (responses) and on the
server's (/metrics' 200 counter), and the run fails if any is lost or refused. The same photos,
as many times over, go through `resnet classify DIR` for comparison (its own images/s line,
which excludes loading the model), and the ratio server/CLI is printed.

--hostile: the same clients (one setting, default 16) twice on one server, first quiet, then
beside 100 connections trickling one byte a second (50 still sending their head, 50 their body,
from 4 other addresses) and a client sending, one after another, big-photo requests (7 PNGs of
8192x16384, 940 million pixels to decode, under --max-request-mpx); it prints the normal
clients' p50/p99 in each phase and whether the hostile p99 is within 2x of the quiet one.
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir))


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


def png_gray(w, h):
    """A w x h gray PNG of one shade: a few hundred kB to send, w * h pixels to decode."""
    z = zlib.compressobj(9)
    row = b"\x00" * (w + 1)
    idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def run_clients(port, photos, n_clients, n_requests):
    """n_requests POST /v1/classify over n_clients connections at once: (latencies, statuses, seconds)."""
    lat, statuses, lock = [], [], threading.Lock()
    counter = iter(range(n_requests))

    def client():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            t = time.time()
            try:
                c.request("POST", "/v1/classify", body=photos[i % len(photos)])
                r = c.getresponse()
                r.read()
                st = r.status
            except (OSError, http.client.HTTPException) as e:
                st = repr(e)
            c.close()  # the server closes after each answer
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            with lock:
                lat.append(time.time() - t)
                statuses.append(st)
        c.close()

    threads = [threading.Thread(target=client) for _ in range(n_clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(lat), statuses, time.time() - t0


def pct(lat, q):
    return lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")


def hostile(a, port, photos):
    """The quiet run, then the same beside slow and greedy clients; 0 when every normal request got 200."""
    n_clients = int((a.clients or "16").split(",")[0])
    big_png = png_gray(8192, 16384)
    big_body = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [7],
                                       "data": [base64.b64encode(big_png).decode()] * 7}]}).encode()
    quiet, q_st, q_wall = run_clients(port, photos, n_clients, a.requests)
    stop = threading.Event()
    trick_lock = threading.Lock()
    cut = [0]

    def trickler(k):
        """One connection sending one byte a second; a new one when the server cuts it."""
        src = "127.0.0.%d" % (2 + k % 4)
        head = b"POST /v1/classify HTTP/1.1\r\nHost: x\r\n" + (b"Content-Length: 100000\r\n\r\n" if k % 2 else b"")
        while not stop.is_set():
            x = socket.socket()
            try:
                x.bind((src, 0))
                x.connect(("127.0.0.1", port))
                x.sendall(head if k % 2 else head[:5])
                while not stop.wait(1.0):
                    x.send(b"x")
            except OSError:
                with trick_lock:
                    cut[0] += 1
                stop.wait(1.0)
            finally:
                x.close()

    big = []

    def greedy():
        while not stop.is_set():
            t = time.time()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=600, source_address=("127.0.0.6", 0))
            try:
                c.request("POST", "/v2/models/resnet50/infer", body=big_body)
                r = c.getresponse()
                r.read()
                big.append((r.status, time.time() - t))
            except (OSError, http.client.HTTPException) as e:
                big.append((repr(e), time.time() - t))
            c.close()

    side = [threading.Thread(target=trickler, args=(k,)) for k in range(100)] + [threading.Thread(target=greedy)]
    for t in side:
        t.start()
    time.sleep(2)  # the tricklers connected, the first big photos decoding
    loud, l_st, l_wall = run_clients(port, photos, n_clients, a.requests)
    stop.set()
    for t in side:
        t.join()
    print("%-8s %8s %9s %10s %10s %10s" % ("phase", "clients", "requests", "req/s", "p50 ms", "p99 ms"))
    for name, lat, wall in (("quiet", quiet, q_wall), ("hostile", loud, l_wall)):
        print("%-8s %8d %9d %10.2f %10.1f %10.1f" % (name, n_clients, len(lat), len(lat) / wall, 1000 * pct(lat, 0.5),
                                                      1000 * pct(lat, 0.99)))
    print("beside them: 100 connections trickling one byte a second (%d cut by the server and reopened), "
          "%d big-photo requests (7 x 8192x16384 PNG): %s" % (
              cut[0], len(big), ", ".join("%s in %.1f s" % b for b in big)))
    ratio = pct(loud, 0.99) / pct(quiet, 0.99)
    print("hostile p99 / quiet p99 = %.2f: %s" % (ratio, "within 2x" if ratio <= 2 else "NOT within 2x"))
    good = all(s == 200 for s in q_st + l_st)
    if not good:
        print("LOST OR REFUSED: quiet %s, hostile %s" % (sorted(set(map(str, q_st))), sorted(set(map(str, l_st)))))
    return 0 if good else 1


def cli_images_per_s(a, files):
    """resnet classify DIR on as many photos as requests (links in a scratch folder): its images/s."""
    scratch = tempfile.mkdtemp()
    try:
        for i in range(a.requests):
            src = files[i % len(files)]
            os.symlink(os.path.abspath(src), os.path.join(scratch, "%05d%s" % (i, os.path.splitext(src)[1])))
        p = subprocess.run([a.bin, "classify", scratch], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m = re.search(rb"(\d+) photos in ([\d.]+) s \(([\d.]+)/s\)", p.stderr)
        rate = float(m.group(3)) if m else None
    finally:
        shutil.rmtree(scratch)
    print("resnet classify DIR: %d photos, %s images/s" % (a.requests, rate))
    return rate


def main():
    ap = argparse.ArgumentParser()
    default_dir = os.path.join(ROOT, os.pardir, "shared", "images", "samples")
    ap.add_argument("photos", nargs="?", default=default_dir if os.path.isdir(default_dir) else os.path.join(ROOT, "demo"))
    ap.add_argument("--clients", default=None, help="default 1,4,16,64 (--hostile: 16)")
    ap.add_argument("--requests", type=int, default=128, help="requests per setting (default 128)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "resnet"))
    ap.add_argument("--server-args", default="", help="more options for resnet serve --http")
    ap.add_argument("--hostile", action="store_true", help="quiet, then beside slow and greedy clients")
    a = ap.parse_args()
    exts = (".jpg", ".jpeg", ".png")
    files = sorted(os.path.join(a.photos, f) for f in os.listdir(a.photos) if f.lower().endswith(exts))
    if not files:
        sys.exit("http-bench: no photos in %s" % a.photos)
    photos = [open(f, "rb").read() for f in files]

    cli_rate = None if a.hostile else cli_images_per_s(a, files)
    err = tempfile.TemporaryFile(mode="w+")
    srv = subprocess.Popen([a.bin, "serve", "--http", "127.0.0.1:0"] + a.server_args.split(), stderr=err,
                           stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    port = None
    for _ in range(600):
        err.seek(0)
        m = re.search(r"serving http://127\.0\.0\.1:(\d+) ", err.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.1)
    if port is None:
        srv.kill()
        sys.exit("http-bench: the server did not start")

    def get(path):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        c.request("GET", path)
        body = c.getresponse().read().decode()
        c.close()
        return body

    ok = True
    try:
        if a.hostile:
            ok = hostile(a, port, photos) == 0
        else:
            print("%8s %9s %10s %10s %10s %10s %8s" % ("clients", "requests", "req/s", "p50 ms", "p99 ms",
                                                       "mean batch", "vs CLI"))
        for n_clients in [] if a.hostile else [int(x) for x in (a.clients or "1,4,16,64").split(",")]:
            before = get("/metrics")
            lat, statuses, wall = run_clients(port, photos, n_clients, a.requests)
            after = get("/metrics")
            n200 = metric(after, 'resnet_http_requests_total{code="200"}') - \
                metric(before, 'resnet_http_requests_total{code="200"}') - 1  # less the /metrics before
            batches = metric(after, "resnet_batch_size_count") - metric(before, "resnet_batch_size_count")
            images = metric(after, "resnet_batch_size_sum") - metric(before, "resnet_batch_size_sum")
            rate = len(lat) / wall
            good = len(statuses) == a.requests and all(s == 200 for s in statuses) and n200 == a.requests and \
                images == a.requests
            ok = ok and good
            print("%8d %9d %10.2f %10.1f %10.1f %10.2f %7.0f%%%s" % (
                n_clients, len(statuses), rate, 1000 * pct(lat, 0.5), 1000 * pct(lat, 0.99),
                images / max(batches, 1), 100 * rate / cli_rate if cli_rate else 0,
                "" if good else "  LOST OR REFUSED: %d answers, %d x 200 (server: %d)" % (
                    len(statuses), sum(1 for s in statuses if s == 200), n200)))
            sys.stdout.flush()
    finally:
        srv.send_signal(signal.SIGTERM)
        rc = srv.wait(timeout=120)
    if rc != 0:
        print("http-bench: the server exited %s" % rc)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
