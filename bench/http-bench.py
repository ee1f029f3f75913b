#!/usr/bin/env python3
"""http-bench.py - `resnet serve --http` under load, over loopback, against `resnet classify DIR`.

    python3 bench/http-bench.py [PHOTOS_DIR] [--clients 1,4,16,64] [--requests N] [--bin build/resnet]

Starts the server on 127.0.0.1 (a free port), then for each number of concurrent clients
sends N requests in all (POST /v1/classify, each a photo of PHOTOS_DIR in turn; default the
demo photos, or ../shared/images/samples when it is there) and reports requests/s, p50 and p99
latency, and the mean batch size the server ran (from /metrics). Every request must get
exactly one answer, 200: the counts are checked, on the client's side (responses) and on the
server's (/metrics' 200 counter), and the run fails if any is lost or refused. The same photos,
as many times over, go through `resnet classify DIR` for comparison (its own images/s line,
which excludes loading the model), and the ratio server/CLI is printed.
"""
import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, os.pardir))


def metric(text, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


def main():
    ap = argparse.ArgumentParser()
    default_dir = os.path.join(ROOT, os.pardir, "shared", "images", "samples")
    ap.add_argument("photos", nargs="?", default=default_dir if os.path.isdir(default_dir) else os.path.join(ROOT, "demo"))
    ap.add_argument("--clients", default="1,4,16,64")
    ap.add_argument("--requests", type=int, default=128, help="requests per setting (default 128)")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "resnet"))
    ap.add_argument("--server-args", default="", help="more options for resnet serve --http")
    a = ap.parse_args()
    exts = (".jpg", ".jpeg", ".png")
    files = sorted(os.path.join(a.photos, f) for f in os.listdir(a.photos) if f.lower().endswith(exts))
    if not files:
        sys.exit("http-bench: no photos in %s" % a.photos)
    photos = [open(f, "rb").read() for f in files]

    # the CLI on the same number of photos (copies in a scratch folder)
    scratch = tempfile.mkdtemp()
    try:
        for i in range(a.requests):
            src = files[i % len(files)]
            os.symlink(os.path.abspath(src), os.path.join(scratch, "%05d%s" % (i, os.path.splitext(src)[1])))
        p = subprocess.run([a.bin, "classify", scratch], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        m = re.search(rb"(\d+) photos in ([\d.]+) s \(([\d.]+)/s\)", p.stderr)
        cli_rate = float(m.group(3)) if m else None
    finally:
        shutil.rmtree(scratch)
    print("resnet classify DIR: %d photos, %s images/s" % (a.requests, cli_rate))

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
    print("%8s %9s %10s %10s %10s %10s %8s" % ("clients", "requests", "req/s", "p50 ms", "p99 ms", "mean batch",
                                               "vs CLI"))
    try:
        for n_clients in [int(x) for x in a.clients.split(",")]:
            before = get("/metrics")
            lat, statuses, lock = [], [], threading.Lock()
            counter = iter(range(a.requests))
            counter_lock = threading.Lock()

            def client():
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                while True:
                    with counter_lock:
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
                        c.close()
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
            wall = time.time() - t0
            after = get("/metrics")
            n200 = metric(after, 'resnet_http_requests_total{code="200"}') - \
                metric(before, 'resnet_http_requests_total{code="200"}') - 1  # less the /metrics before
            batches = metric(after, "resnet_batch_size_count") - metric(before, "resnet_batch_size_count")
            images = metric(after, "resnet_batch_size_sum") - metric(before, "resnet_batch_size_sum")
            lat.sort()
            rate = len(lat) / wall
            good = len(statuses) == a.requests and all(s == 200 for s in statuses) and n200 == a.requests and \
                images == a.requests
            ok = ok and good
            print("%8d %9d %10.2f %10.1f %10.1f %10.2f %7.0f%%%s" % (
                n_clients, len(statuses), rate, 1000 * lat[len(lat) // 2], 1000 * lat[min(len(lat) - 1,
                                                                                          int(0.99 * len(lat)))],
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
