"""checklib.py - what the Python checks under tests/ share: the demo photos, one "ok"/"FAIL"
line per check and the "N passed, N failed" summary that tests/run.sh counts."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEMO = [os.path.normpath(os.path.join(HERE, os.pardir, "demo", n)) for n in ("chelsea.png", "coffee.png")]
counts = {"passed": 0, "failed": 0}


def check(name, ok, detail=""):
    if ok:
        counts["passed"] += 1
        print("ok   " + name)
    else:
        counts["failed"] += 1
        print("FAIL %s: %s" % (name, str(detail)[:600]))
    return ok


def finish():
    """Prints the summary and exits: 1 when any check failed."""
    print("%d passed, %d failed" % (counts["passed"], counts["failed"]))
    sys.exit(1 if counts["failed"] else 0)
