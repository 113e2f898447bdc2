#!/usr/bin/env python3
"""FTP endpoints for the failover story (test/support/ftp-story.ts).

  ftp.py server ADDR PORT
      Serve control connections one after another until killed. Prints
      {"ready": true} once ready. USER/PASS/TYPE/NOOP/PASV/LIST/QUIT; PASV opens a
      data listener on an ephemeral port and answers 227 with it; LIST sends a
      one-line listing on the data connection.

  ftp.py client ADDR PORT
      Connect, print the banner, then obey stdin, one command per line, and
      answer each with exactly one JSON line on stdout:
        cmd TEXT          send TEXT, read one reply line
                          -> {"ok":true,"reply":"227 ...","pasv":["a.b.c.d",port]}
        list SECONDS      connect to the last PASV address within SECONDS, send
                          LIST, read the listing
                          -> {"ok":true,"data":"...","replies":["150 ...","226 ..."]}
                          -> {"ok":false,"error":"timeout","after":3.0}
        quit              send QUIT, close, exit
The client is paused between steps simply by not writing the next line.
"""
import json
import re
import socket
import sys
import time

LISTING = b"-rw-r--r-- 1 ctsync ctsync 42 Jan 01 00:00 survived-failover.txt\r\n"


def server(addr, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    say({"ready": True})
    while True:
        c, _ = ls.accept()
        try:
            serve_one(c, addr)
        except OSError as e:
            print("control connection ended: %r" % (e,), flush=True)
        finally:
            c.close()


def serve_one(c, addr):
    f = c.makefile("rwb", buffering=0)
    f.write(b"220 ctsync test ftp\r\n")
    dls = None
    while True:
        line = f.readline()
        if not line:
            return
        verb = line.strip().split(b" ")[0].upper()
        if verb == b"USER":
            f.write(b"331 password please\r\n")
        elif verb == b"PASS":
            f.write(b"230 logged in\r\n")
        elif verb in (b"TYPE", b"NOOP"):
            f.write(b"200 ok\r\n")
        elif verb == b"PASV":
            if dls is not None:
                dls.close()
            dls = socket.socket()
            dls.bind((addr, 0))
            dls.listen(1)
            dp = dls.getsockname()[1]
            a = addr.replace(".", ",")
            f.write(b"227 Entering Passive Mode (%s,%d,%d).\r\n"
                    % (a.encode(), dp >> 8, dp & 255))
        elif verb == b"LIST":
            if dls is None:
                f.write(b"425 use PASV first\r\n")
                continue
            f.write(b"150 here comes the listing\r\n")
            dls.settimeout(10)
            try:
                d, _ = dls.accept()
                d.sendall(LISTING)
                d.close()
                f.write(b"226 done\r\n")
            except socket.timeout:
                f.write(b"425 no data connection\r\n")
            dls.close()
            dls = None
        elif verb == b"QUIT":
            f.write(b"221 bye\r\n")
            return
        else:
            f.write(b"502 not implemented\r\n")


def say(obj):
    print(json.dumps(obj), flush=True)


def client(addr, port):
    s = socket.create_connection((addr, port), timeout=10)
    f = s.makefile("rwb", buffering=0)
    say({"ok": True, "reply": f.readline().decode().strip()})
    pasv = None
    for cmd in sys.stdin:
        cmd = cmd.strip()
        try:
            if cmd.startswith("cmd "):
                f.write(cmd[4:].encode() + b"\r\n")
                reply = f.readline().decode().strip()
                out = {"ok": bool(reply), "reply": reply}
                m = re.search(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", reply)
                if reply.startswith("227") and m:
                    n = [int(x) for x in m.groups()]
                    pasv = ("%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5])
                    out["pasv"] = list(pasv)
                say(out)
            elif cmd.startswith("list "):
                limit = float(cmd[5:])
                t0 = time.monotonic()
                try:
                    d = socket.create_connection(pasv, timeout=limit)
                except socket.timeout:
                    say({"ok": False, "error": "timeout",
                         "after": round(time.monotonic() - t0, 2)})
                    continue
                except OSError as e:
                    say({"ok": False, "error": str(e),
                         "after": round(time.monotonic() - t0, 2)})
                    continue
                connected = round(time.monotonic() - t0, 3)
                f.write(b"LIST\r\n")
                r1 = f.readline().decode().strip()
                got = b""
                d.settimeout(10)
                while True:
                    b = d.recv(4096)
                    if not b:
                        break
                    got += b
                d.close()
                r2 = f.readline().decode().strip()
                say({"ok": True, "data": got.decode(errors="replace"),
                     "replies": [r1, r2], "connected_after": connected})
            elif cmd == "quit":
                f.write(b"QUIT\r\n")
                say({"ok": True, "reply": f.readline().decode().strip()})
                s.close()
                return
            else:
                say({"ok": False, "error": "unknown command %r" % cmd})
        except Exception as e:  # report and keep obeying
            say({"ok": False, "error": repr(e)})


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: ftp.py server|client ADDR PORT")
