"""http_ipv6.py - --max-per-client for IPv6 clients (tests/test_http.sh runs it in a network
namespace of its own, where fd00:1::/64 and fd00:2::/64 are local routes on the loopback, so a
socket can connect from any address in them). An IPv6 client counts as its /64: a host given a
/64 could otherwise open --max-per-client connections from each of its addresses. An IPv4
client reaching the same dual-stack socket counts as its own IPv4 address, not as the /64
(::ffff:0:0/96) that every IPv4 client shares."""
import os
import re
import socket
import subprocess
import time

from checklib import HERE, check, finish

BIN = os.environ["RESNET_BIN"]
SMALL = os.path.join(HERE, "data", "family", "small_grouped.safetensors")
FREEBIND = 78  # IPV6_FREEBIND: bind to an address of a local route that no interface holds

err = open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ipv6-%d.err" % os.getpid()), "w+")
p = subprocess.Popen([BIN, "serve", "--weights", SMALL, "--http", "[::]:0", "--max-per-client", "2"],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
port = None
for _ in range(300):
    err.seek(0)
    m = re.search(r"serving http://\[::\]:(\d+) ", err.read())
    if m:
        port = int(m.group(1))
        break
    if p.poll() is not None:
        break
    time.sleep(0.05)
check("serve --http [::]:0 started", port is not None, err.read())


def connect_from(src, dst, timeout=5):
    """A connection to the server from the address src (IPv6 or IPv4)."""
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    x = socket.socket(fam)
    x.settimeout(timeout)
    if fam == socket.AF_INET6:
        x.setsockopt(socket.IPPROTO_IPV6, FREEBIND, 1)
    x.bind((src, 0))
    x.connect((dst, port))
    return x


def unfinished(src, dst):
    """A connection from src holding an unfinished request head; the socket."""
    x = connect_from(src, dst)
    x.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
    return x


def answer(src, dst):
    """The status of a whole GET /v2/health/live from src, or what went wrong."""
    try:
        x = connect_from(src, dst)
    except OSError as e:
        return str(e)
    try:
        x.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            d = x.recv(65536)
            if not d:
                break
            got += d
        m = re.match(rb"HTTP/1\.1 (\d+)", got)
        return int(m.group(1)) if m else got[:100]
    except OSError as e:
        return str(e)
    finally:
        x.close()


if port:
    # (client, its three addresses, another client's address, the server's address)
    for who, mine, other, dst in (("one /64", ("fd00:1::1", "fd00:1::2", "fd00:1::3"), "fd00:2::1", "::1"),
                                  ("IPv4 127.0.0.1 on the dual-stack socket", ("127.0.0.1",) * 3, "127.0.0.2",
                                   "127.0.0.1")):
        held = [unfinished(a, dst) for a in mine[:2]]
        time.sleep(0.3)
        got = answer(mine[2], dst)
        check("%s holding 2 (--max-per-client 2): a third connection from %s is refused: 503" % (who, mine[2]),
              got == 503, got)
        got = answer(other, dst)
        check("%s holding 2: another client, %s, is answered: 200" % (who, other), got == 200, got)
        for x in held:
            x.close()
        time.sleep(0.3)
        got = answer(mine[2], dst)
        check("%s: once its connections close, it is served again: 200" % who, got == 200, got)
    p.terminate()
    check("the server exits 0 on SIGTERM", p.wait(timeout=30) == 0, err.read())
else:
    p.kill()
finish()
