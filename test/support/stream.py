#!/usr/bin/env python3
"""A long-lived TCP stream for the keepalived failover (test/support/keepalived.ts).

  stream.py server ADDR PORT
      Accept connections one after another. On each, send CHUNK bytes every
      INTERVAL seconds and read (and discard) what the client sends. Prints
      {"ready": true} once listening.

  stream.py client ADDR PORT
      Connect, then send CHUNK bytes every INTERVAL seconds and read the
      server's bytes, noting when each arrived. Obeys stdin, one command a
      line, answering each with one JSON line on stdout:
        mark    forget the largest gap so far, start counting from now
                -> {"ok":true}
        stats   -> {"ok":true,"bytes":N,"bytes_since_mark":N,"max_gap_ms":G,
                    "max_gap_end":T,"last_rx_age_ms":A,"error":null|"..."}
                max_gap_ms is the largest time between two receptions (or
                between the mark and the first) since the mark; max_gap_end
                is the wall-clock time (s) when that gap ended.
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
    ls.listen(4)
    say({"ready": True})
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        c.setblocking(False)
        nxt = time.monotonic()
        try:
            while True:
                now = time.monotonic()
                if now >= nxt:
                    pump_send(c)
                    nxt = now + INTERVAL
                r, _, _ = select.select([c], [], [], max(0.0, nxt - time.monotonic()))
                if r:
                    try:
                        d = c.recv(65536)
                    except BlockingIOError:
                        continue
                    if not d:
                        break
        except OSError as e:
            sys.stderr.write("stream ended: %r\n" % (e,))
        finally:
            c.close()


def client(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    say({"ok": True, "connected": True})
    total = 0
    since_mark = 0
    mark = time.monotonic()
    last = mark
    max_gap = 0.0
    max_gap_end = time.time()
    error = None
    nxt = time.monotonic()
    stdin = sys.stdin.fileno()
    buf = b""
    while True:
        now = time.monotonic()
        if now >= nxt and error is None:
            try:
                pump_send(s)
            except OSError as e:
                error = repr(e)
            nxt = now + INTERVAL
        rlist = [stdin] + ([s] if error is None else [])
        r, _, _ = select.select(rlist, [], [], max(0.0, nxt - time.monotonic()))
        if s in r:
            try:
                d = s.recv(65536)
                if not d:
                    error = "closed by the peer"
                else:
                    t = time.monotonic()
                    if t - last > max_gap:
                        max_gap = t - last
                        max_gap_end = time.time()
                    last = t
                    total += len(d)
                    since_mark += len(d)
            except BlockingIOError:
                pass
            except OSError as e:
                error = repr(e)
        if stdin in r:
            chunk = os.read(stdin, 4096)
            if not chunk:
                return
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = line.decode().strip()
                if cmd == "mark":
                    mark = last = time.monotonic()
                    max_gap = 0.0
                    since_mark = 0
                    say({"ok": True})
                elif cmd == "stats":
                    say({"ok": True, "bytes": total, "bytes_since_mark": since_mark,
                         "max_gap_ms": round(max_gap * 1000, 1), "max_gap_end": max_gap_end,
                         "last_rx_age_ms": round((time.monotonic() - last) * 1000, 1), "error": error})
                elif cmd == "quit":
                    s.close()
                    say({"ok": True})
                    return
                else:
                    say({"ok": False, "error": "unknown command %r" % cmd})


if __name__ == "__main__":
    role, a, p = sys.argv[1], sys.argv[2], int(sys.argv[3])
    (server if role == "server" else client)(a, p)
