#!/usr/bin/env python3
"""SIP endpoints for the SIP failover story (test/support/sip-story.ts): just
enough for the kernel's SIP helper to read an INVITE's SDP and expect the RTP
(and RTCP) flow to the port it announces.

  sip.py uas ADDR          the server: answers every SIP request on ADDR:5060
                           with 200 OK; stdin commands (one JSON line each):
                             rtp DADDR DPORT COUNT   send COUNT RTP-sized datagrams
                                                     from ADDR:50000, 100 ms apart
  sip.py uac ADDR SERVER RTPPORT
                           the client: binds ADDR:5060 and ADDR:RTPPORT; stdin:
                             invite      INVITE with SDP announcing RTPPORT -> final reply
                             options     OPTIONS (no SDP) -> reply
                             recv SECS   wait for a datagram on RTPPORT
Each side prints {"ready": true} first.
"""
import json
import select
import socket
import sys
import threading
import time


def say(obj):
    print(json.dumps(obj), flush=True)


def sip_request(method, cseq, addr, server, rtp_port=None):
    body = ""
    if rtp_port is not None:
        body = ("v=0\r\no=alice 1 1 IN IP4 %s\r\ns=ctsync\r\nc=IN IP4 %s\r\nt=0 0\r\n"
                "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n") % (addr, addr, rtp_port)
    head = [
        "%s sip:bob@%s SIP/2.0" % (method, server),
        "Via: SIP/2.0/UDP %s:5060;branch=z9hG4bK-ctsync-%d" % (addr, cseq),
        "Max-Forwards: 70",
        "From: <sip:alice@%s>;tag=ctsync" % addr,
        "To: <sip:bob@%s>" % server,
        "Call-ID: ctsync-story@%s" % addr,
        "CSeq: %d %s" % (cseq, method),
        "Contact: <sip:alice@%s:5060>" % addr,
    ]
    if body:
        head.append("Content-Type: application/sdp")
    head.append("Content-Length: %d" % len(body))
    return ("\r\n".join(head) + "\r\n\r\n" + body).encode()


def uas(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 5060))

    def answer():
        while True:
            data, peer = s.recvfrom(65535)
            text = data.decode(errors="replace")
            lines = text.split("\r\n")
            keep = [l for l in lines if l.split(":")[0] in ("Via", "From", "To", "Call-ID", "CSeq")]
            reply = "SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n"
            s.sendto(reply.encode(), peer)

    threading.Thread(target=answer, daemon=True).start()
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind((addr, 50000))
    say({"ready": True})
    for cmd in sys.stdin:
        parts = cmd.split()
        if parts and parts[0] == "rtp":
            dst, dport, count = parts[1], int(parts[2]), int(parts[3])
            for i in range(count):
                # an RTP header (version 2, PCMU, sequence i) and 160 bytes of silence
                pkt = bytes([0x80, 0x00, 0, i & 255]) + b"\0" * 8 + b"\xff" * 160
                rtp.sendto(pkt, (dst, dport))
                time.sleep(0.1)
            say({"ok": True, "sent": count})
        else:
            say({"ok": False, "error": "unknown command %r" % cmd.strip()})


def uac(addr, server, rtp_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 5060))
    s.settimeout(3)
    media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    media.bind((addr, rtp_port))
    say({"ready": True})
    cseq = 0
    for cmd in sys.stdin:
        parts = cmd.split()
        try:
            if parts and parts[0] in ("invite", "options"):
                cseq += 1
                method = parts[0].upper()
                s.sendto(sip_request(method, cseq, addr, server, rtp_port if method == "INVITE" else None),
                         (server, 5060))
                data, _ = s.recvfrom(65535)
                say({"ok": True, "reply": data.decode(errors="replace").split("\r\n")[0]})
            elif parts and parts[0] == "recv":
                t0 = time.monotonic()
                r, _, _ = select.select([media], [], [], float(parts[1]))
                if not r:
                    say({"ok": False, "error": "timeout", "after": round(time.monotonic() - t0, 2)})
                    continue
                data, peer = media.recvfrom(65535)
                say({"ok": True, "bytes": len(data), "from": "%s:%d" % peer,
                     "after": round(time.monotonic() - t0, 3)})
            else:
                say({"ok": False, "error": "unknown command %r" % cmd.strip()})
        except socket.timeout:
            say({"ok": False, "error": "timeout"})
        except OSError as e:
            say({"ok": False, "error": repr(e)})


if __name__ == "__main__":
    if sys.argv[1] == "uas":
        uas(sys.argv[2])
    elif sys.argv[1] == "uac":
        uac(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: sip.py uas ADDR | uac ADDR SERVER RTPPORT")
