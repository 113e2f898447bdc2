#!/usr/bin/env python3
"""A long-lived TCP stream for the keepalived failover (test/support/keepalived.ts).

  stream.py server ADDR PORT
      Accept connections, any number at once. On each, send CHUNK bytes every
      INTERVAL seconds and read (and discard) what the client sends. Prints
      {"ready": true} once listening.

  stream.py client ADDR PORT [FLOWS]
      Open FLOWS connections (default 1), then on each send CHUNK bytes every
      INTERVAL seconds and read the server's bytes, noting when each arrived.
      Obeys stdin, one command a line, answering each with one JSON line on
      stdout:
        mark    forget the largest gap so far, start counting from now
                -> {"ok":true}
        stats   -> {"ok":true,"flows":F,"bytes":N,"bytes_since_mark":N,
                    "flows_silent_since_mark":S,"max_gap_ms":G,"max_gap_end":T,
                    "last_rx_age_ms":A,"error":null|"...","errors":E}
                max_gap_ms is the largest time between two receptions (or
                between the mark and the first) since the mark, on the worst
                flow; max_gap_end is the wall-clock time (s) when that gap
                ended; last_rx_age_ms is the oldest last reception of all.
        quit    close and exit
Both directions carry data, so both ends retransmit across a failover.
"""
import json
import os
import select
import socket
import sys
import time

CHUNK = b"x" * 64
INTERVAL = 0.01


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def pump_send(s):
    try:
        s.send(CHUNK)
    except BlockingIOError:
        pass  # the send buffer is full while the path is down: skip a beat


def server(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(256)
    ls.setblocking(False)
    say({"ready": True})
    conns = []
    nxt = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= nxt:
            for c in conns:
                try:
                    pump_send(c)
                except OSError:
                    pass
            nxt = now + INTERVAL
        r, _, _ = select.select([ls] + conns, [], [], max(0.0, nxt - time.monotonic()))
        for s in r:
            if s is ls:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                c.setblocking(False)
                conns.append(c)
                continue
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError as e:
                sys.stderr.write("stream ended: %r\n" % (e,))
                d = b""
            if not d:
                conns.remove(s)
                s.close()


class Flow:
    def __init__(self, sock):
        self.sock = sock
        self.total = 0
        self.since_mark = 0
        self.last = time.monotonic()
        self.max_gap = 0.0
        self.max_gap_end = time.time()
        self.error = None


def client(addr, port, nflows):
    flows = []
    for _ in range(nflows):
        s = socket.create_connection((addr, port), timeout=10)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        flows.append(Flow(s))
    say({"ok": True, "connected": nflows})
    by_sock = {f.sock: f for f in flows}
    nxt = time.monotonic()
    stdin = sys.stdin.fileno()
    buf = b""
    while True:
        now = time.monotonic()
        if now >= nxt:
            for f in flows:
                if f.error is None:
                    try:
                        pump_send(f.sock)
                    except OSError as e:
                        f.error = repr(e)
            nxt = now + INTERVAL
        rlist = [stdin] + [f.sock for f in flows if f.error is None]
        r, _, _ = select.select(rlist, [], [], max(0.0, nxt - time.monotonic()))
        for s in r:
            if s == stdin:
                continue
            f = by_sock[s]
            try:
                d = s.recv(65536)
                if not d:
                    f.error = "closed by the peer"
                else:
                    t = time.monotonic()
                    if t - f.last > f.max_gap:
                        f.max_gap = t - f.last
                        f.max_gap_end = time.time()
                    f.last = t
                    f.total += len(d)
                    f.since_mark += len(d)
            except BlockingIOError:
                pass
            except OSError as e:
                f.error = repr(e)
        if stdin in r:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = line.decode().strip()
                if cmd == "mark":
                    t = time.monotonic()
                    for f in flows:
                        f.last = t
                        f.max_gap = 0.0
                        f.since_mark = 0
                    say({"ok": True})
                elif cmd == "stats":
                    t = time.monotonic()
                    worst = max(flows, key=lambda f: f.max_gap)
                    errors = [f.error for f in flows if f.error is not None]
                    say({"ok": True, "flows": len(flows),
                         "bytes": sum(f.total for f in flows),
                         "bytes_since_mark": sum(f.since_mark for f in flows),
                         "flows_silent_since_mark": sum(1 for f in flows if f.since_mark == 0),
                         "max_gap_ms": round(worst.max_gap * 1000, 1), "max_gap_end": worst.max_gap_end,
                         "last_rx_age_ms": round(max(t - f.last for f in flows) * 1000, 1),
                         "error": errors[0] if errors else None, "errors": len(errors)})
                elif cmd == "quit":
                    for f in flows:
                        f.sock.close()
                    say({"ok": True})
                    return
                else:
                    say({"ok": False, "error": "unknown command %r" % cmd})


if __name__ == "__main__":
    role, a, p = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if role == "server":
        server(a, p)
    else:
        client(a, p, int(sys.argv[4]) if len(sys.argv) > 4 else 1)
