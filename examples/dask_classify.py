#!/usr/bin/env python3
"""dask_classify.py - classify every photo under a folder on a Dask cluster.

    examples/dask_classify.py PHOTOS_DIR --workers N [--scheduler ADDRESS] [--weights FILE]

Without --scheduler it starts a distributed.LocalCluster of N worker processes on this machine
(loopback only, no dashboard). With --scheduler tcp://HOST:8786 it uses that cluster's workers
instead (--workers is then ignored). Every worker loads the model once, when it joins (a
WorkerPlugin), and classifies chunks of photos with it; the script prints one JSON line per
photo, in the order `resnet classify PHOTOS_DIR --json` gives them and in its form:
{"file": F, "top": [{"index", "name", "prob"}...]} or {"file": F, "error": E}. A summary goes to
stderr. Exit status: 0 every photo classified, 1 some could not be, 2 usage error.

The photos are listed here (the library's walker, as `classify DIR` does) and read by the
workers from the same paths: on a real cluster they must see the folder at the same path
(a shared file system), and each needs the resnet Python package, libresnet.so and the
weight file (see docs/serving.md).
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.normpath(os.path.join(HERE, os.pardir, "python"))
if os.path.isdir(os.path.join(PYTHON_DIR, "resnet")):
    sys.path.insert(0, PYTHON_DIR)  # the source tree's binding, before an installed one

import resnet  # noqa: E402

import distributed  # noqa: E402
from distributed import Client, LocalCluster, WorkerPlugin, get_worker  # noqa: E402


class ResnetPlugin(WorkerPlugin):
    """Loads the model once per worker process; tasks find it on the worker."""

    name = "resnet-model"

    def __init__(self, weights, threads, python_dir):
        self.weights = weights
        self.threads = threads
        self.python_dir = python_dir

    def setup(self, worker):
        if self.python_dir and self.python_dir not in sys.path:
            sys.path.insert(0, self.python_dir)
        import resnet as rn
        worker.resnet_model = rn.Model(self.weights, threads=self.threads)
        worker.resnet_loads = getattr(worker, "resnet_loads", 0) + 1

    def teardown(self, worker):
        m = getattr(worker, "resnet_model", None)
        if m is not None:
            m.close()


def record(path, top=None, error=None):
    """One line as `resnet classify --json` prints it, byte for byte: strings escaped as the tool
    escapes them (python3 -m resnet's _json_string), where json.dumps wrote a name that is not
    ASCII as \\u escapes ("caf\\u00e9.jpg") and the tool writes its UTF-8."""
    from resnet.__main__ import _json_string
    if error is not None:
        return '{"file": %s, "error": %s}' % (_json_string(path), _json_string(error))
    items = ", ".join('{"index": %d, "name": %s, "prob": %.6g}' % (t["index"], _json_string(t["name"]), t["prob"])
                      for t in top)
    return '{"file": %s, "top": [%s]}' % (_json_string(path), items)


def classify_chunk(photos, k):
    """Runs on a worker: (lines, failures) for a chunk of (path to read, path to print)."""
    import resnet as rn
    model = get_worker().resnet_model
    lines, failures = [], 0
    for path, shown in photos:
        try:
            lines.append(record(shown, top=model.classify(path, k=k)))
        except rn.Error as e:
            msg = str(e)
            prefix = path + ": "  # the library's messages start with the file, which "file" has
            lines.append(record(shown, error=msg[len(prefix):] if msg.startswith(prefix) else msg))
            failures += 1
    return lines, failures


def main(argv=None):
    ap = argparse.ArgumentParser(description="Classify every photo under a folder on a Dask cluster.")
    ap.add_argument("photos", metavar="PHOTOS_DIR")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster (default 2)")
    ap.add_argument("--scheduler", metavar="ADDRESS", help="an existing cluster's scheduler, tcp://HOST:8786")
    ap.add_argument("--weights", metavar="FILE", help="the weight file as the workers see it (default: theirs)")
    ap.add_argument("-k", "--top", type=int, default=5, help="classes per photo (default 5)")
    ap.add_argument("--threads", type=int, default=None,
                    help="threads per worker's model (default: this machine's cores / N locally, "
                         "all of a worker's cores on a cluster)")
    ap.add_argument("--chunk", type=int, default=8, help="photos per task (default 8)")
    a = ap.parse_args(argv)
    if a.workers < 1 or not 1 <= a.top <= 1000 or a.chunk < 1 or (a.threads is not None and a.threads < 0):
        ap.error("--workers and --chunk must be at least 1, --top from 1 to 1000, --threads at least 0")
    try:
        paths, problems = resnet.list_images(a.photos)
    except resnet.Error as e:
        print("dask_classify: %s" % e, file=sys.stderr)
        return 1
    for p in problems:
        print("dask_classify: %s" % p, file=sys.stderr)
    if not paths:
        print("dask_classify: no photos under %s" % a.photos, file=sys.stderr)
        return 1
    # the workers read absolute paths (their working folder need not be ours); printed as listed
    photos = [(os.path.abspath(p), p) for p in paths]
    if a.scheduler:
        cluster, client = None, Client(a.scheduler)
        threads = a.threads if a.threads is not None else 0
    else:
        # one task at a time per worker process (the model uses the cores itself), loopback only
        cluster = LocalCluster(n_workers=a.workers, processes=True, threads_per_worker=1, host="127.0.0.1",
                               dashboard_address=None)
        client = Client(cluster)
        threads = a.threads if a.threads is not None else max(1, (os.cpu_count() or 1) // a.workers)
    try:
        client.register_worker_plugin(ResnetPlugin(a.weights, threads, PYTHON_DIR))
        chunks = [photos[i:i + a.chunk] for i in range(0, len(photos), a.chunk)]
        futures = client.map(classify_chunk, chunks, k=a.top, pure=False)
        failures = 0
        for fut in futures:  # in order; each chunk printed as soon as it and those before are done
            lines, failed = fut.result()
            failures += failed
            for line in lines:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        loads = client.run(lambda dask_worker: getattr(dask_worker, "resnet_loads", 0))
        print("dask_classify: %d photos, %d could not be read, on %d workers (model loaded %d times)"
              % (len(paths), failures, len(loads), sum(loads.values())), file=sys.stderr)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 1 if failures or problems else 0


if __name__ == "__main__":
    sys.exit(main())
