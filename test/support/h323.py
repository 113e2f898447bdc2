#!/usr/bin/env python3
"""H.323 endpoints for the H.323 failover story (test/support/h323-story.ts):
just enough H.225.0 call signalling for the kernel's Q.931 helper
(nf_conntrack_h323) to read a SETUP's h245Address and expect the H.245
connection the called side opens back to the caller.

The messages are built here, bit by bit, in ASN.1 PER (aligned) as H.225.0
version 2 defines them; nothing is captured or copied. Checked two ways: the
kernel's helper makes the expectation from the SETUP, and Wireshark's H.225
dissector decodes every field (`h323.py hex` prints the TPKTs to check).

  h323.py callee ADDR      the called endpoint: listens on ADDR:1720, answers a
                           SETUP with CALL PROCEEDING and an INFORMATION with
                           INFORMATION; stdin commands (one JSON line each):
                             h245 DADDR DPORT SECS   open the H.245 connection to
                                                     DADDR:DPORT (what the SETUP
                                                     announced) and send one
                                                     masterSlaveDetermination
  h323.py caller ADDR SERVER H245PORT
                           the calling endpoint: listens on ADDR:H245PORT for
                           H.245; stdin:
                             connect        TCP to SERVER:1720
                             setup          SETUP announcing h245Address
                                            ADDR:H245PORT -> CALL PROCEEDING
                             info           INFORMATION -> INFORMATION
                             accept SECS    wait for the H.245 connection and
                                            its first TPKT
  h323.py hex ADDR H245PORT  print the TPKTs (hex) for a look with tshark
Each endpoint prints {"ready": true} first.
"""
import json
import select
import socket
import sys
import time

Q931_PORT = 1720

# ---- ASN.1 PER (aligned), the little of it H.225.0 needs here ---------------


class Per:
    """A bit writer: PER fields, most significant bit first."""

    def __init__(self):
        self.bits = []

    def bit(self, b):
        self.bits.append(1 if b else 0)
        return self

    def uint(self, value, nbits):
        for i in range(nbits - 1, -1, -1):
            self.bits.append((value >> i) & 1)
        return self

    def align(self):
        while len(self.bits) % 8:
            self.bits.append(0)
        return self

    def octets(self, data):
        self.align()
        for byte in data:
            self.uint(byte, 8)
        return self

    def length(self, n):
        """A length determinant (n < 128), octet-aligned."""
        assert n < 128
        return self.octets([n])

    def oid(self, contents):
        """OBJECT IDENTIFIER: a length octet and the BER contents octets."""
        return self.length(len(contents)).octets(contents)

    def open_type(self, inner):
        """An extension addition: its own encoding as a length-prefixed octet string."""
        data = inner.to_bytes() or b"\x00"
        return self.length(len(data)).octets(data)

    def extensions(self, present, values):
        """The extension-additions bitmap (normally small length) and the present ones.

        present: one bool per extension addition up to the last present one;
        values: the Per encodings of the present ones, in order."""
        self.bit(0).uint(len(present) - 1, 6)
        for p in present:
            self.bit(p)
        for v in values:
            self.open_type(v)
        return self

    def to_bytes(self):
        bits = self.bits + [0] * (-len(self.bits) % 8)
        return bytes(int("".join(map(str, bits[i:i + 8])), 2) for i in range(0, len(bits), 8))


# H.225.0 version 2 (0.0.8.2250.0.2): the smallest complete SETUP, its extension
# additions ending at canOverlapSend. The kernel's decoder tables mark the
# version 3 addition endpointIdentifier STOP: it reads nothing past it, and
# after a STOP the enclosing H323-UU-PDU additions are read from wherever the
# decoder stopped. A version 4 SETUP (multipleCalls, maintainConnection) still
# gave the expectation on Linux 6.18, but only because that misread went well.
H225_V2 = bytes([0x00, 0x08, 0x91, 0x4A, 0x00, 0x02])
GUID_CONF = bytes(range(0x10, 0x20))
GUID_CALL = bytes(range(0x20, 0x30))


def ip_octets(addr):
    return socket.inet_aton(addr)


def transport_address(per, addr, port):
    """TransportAddress ::= CHOICE { ipAddress SEQUENCE { ip OCTET STRING (SIZE(4)), port INTEGER (0..65535) }, ... }"""
    per.bit(0).uint(0, 3)                      # extension bit, choice 0 of 7: ipAddress
    per.octets(ip_octets(addr))                # ip (fixed size > 2: aligned)
    per.octets(port.to_bytes(2, "big"))        # port: 2 aligned octets
    return per


def endpoint_type(per):
    """EndpointType: only terminal (TerminalInfo, empty); mc FALSE, undefinedNode FALSE."""
    per.bit(0)                                 # extension bit
    per.uint(0b000001, 6)                      # nonStandardData vendor gatekeeper gateway mcu terminal
    per.bit(0).bit(0)                          # terminal: TerminalInfo { extension bit, nonStandardData absent }
    per.bit(0).bit(0)                          # mc, undefinedNode
    return per


def call_identifier():
    """CallIdentifier ::= SEQUENCE { guid GloballyUniqueID, ... } (an open type's contents)."""
    return Per().bit(0).octets(GUID_CALL)


def boolean(value):
    return Per().bit(value)


def uu_pdu(body):
    """H323-UserInformation { h323-uu-pdu { body, h245Tunneling FALSE } } with body(per) writing the message body."""
    per = Per()
    per.bit(0).bit(0)                          # H323-UserInformation: extension bit, user-data absent
    per.bit(1).bit(0)                          # H323-UU-PDU: extension bit SET, nonStandardData absent
    body(per)
    # H323-UU-PDU additions: h4501SupplementaryService absent, h245Tunneling FALSE
    per.extensions([False, True], [boolean(False)])
    return per.to_bytes()


def setup_body(addr, h245_port):
    def body(per):
        per.bit(0).uint(0, 3)                  # h323-message-body: choice 0 of 7, setup
        per.bit(1)                             # Setup-UUIE: extension bit SET
        # optional root fields present: h245Address only (of h245Address sourceAddress
        # destinationAddress destCallSignalAddress destExtraCallInfo destExtraCRV callServices)
        per.uint(0b1000000, 7)
        per.oid(H225_V2)                       # protocolIdentifier
        transport_address(per, addr, h245_port)  # h245Address: the caller's H.245 listener
        endpoint_type(per)                     # sourceInfo
        per.bit(0)                             # activeMC FALSE
        per.octets(GUID_CONF)                  # conferenceID
        per.bit(0).uint(0, 2)                  # conferenceGoal: create
        per.bit(0).uint(0, 2)                  # callType: pointToPoint
        # additions of version 2: sourceCallSignalAddress remoteExtensionAddress callIdentifier
        # h245SecurityCapability tokens cryptoTokens fastStart mediaWaitForConnect canOverlapSend
        per.extensions([False, False, True, False, False, False, False, True, True],
                       [call_identifier(), boolean(False), boolean(False)])
    return body


def call_proceeding_body(per):
    per.bit(0).uint(1, 3)                      # h323-message-body: callProceeding
    per.bit(1)                                 # CallProceeding-UUIE: extension bit SET
    per.bit(0)                                 # h245Address absent
    per.oid(H225_V2)
    endpoint_type(per)                         # destinationInfo
    per.extensions([True], [call_identifier()])  # callIdentifier


def information_body(per):
    per.bit(0).uint(4, 3)                      # h323-message-body: information
    per.bit(1)                                 # Information-UUIE: extension bit SET
    per.oid(H225_V2)
    per.extensions([True], [call_identifier()])  # callIdentifier


# ---- Q.931 and TPKT ----------------------------------------------------------

SETUP, CALL_PROCEEDING, INFORMATION = 0x05, 0x02, 0x7B
CRV = 0x1234


def q931(msg_type, uuie, from_originator, ies=b""):
    crv = CRV | (0 if from_originator else 0x8000)   # call reference flag: set in replies
    user_user = bytes([0x7E]) + (len(uuie) + 1).to_bytes(2, "big") + bytes([0x05]) + uuie  # X.208/X.209 coded
    return bytes([0x08, 0x02]) + crv.to_bytes(2, "big") + bytes([msg_type]) + ies + user_user


def tpkt(payload):
    return bytes([0x03, 0x00]) + (len(payload) + 4).to_bytes(2, "big") + payload


def setup_message(addr, h245_port):
    bearer = bytes([0x04, 0x03, 0x88, 0x90, 0xA5])  # bearer capability: unrestricted digital, 64 kbit/s, H.221
    return tpkt(q931(SETUP, uu_pdu(setup_body(addr, h245_port)), True, bearer))


def call_proceeding_message():
    return tpkt(q931(CALL_PROCEEDING, uu_pdu(call_proceeding_body), False))


def information_message(from_originator):
    return tpkt(q931(INFORMATION, uu_pdu(information_body), from_originator))


def h245_msd():
    """H.245 MultimediaSystemControlMessage request masterSlaveDetermination
    { terminalType 50, statusDeterminationNumber 0x123456 }, in a TPKT."""
    per = Per()
    per.bit(0).uint(0, 2)                      # MultimediaSystemControlMessage: request
    per.bit(0).uint(1, 4)                      # RequestMessage: masterSlaveDetermination
    per.bit(0)                                 # MasterSlaveDetermination: extension bit
    per.octets([50])                           # terminalType INTEGER (0..255)
    per.uint(2, 2).octets([0x12, 0x34, 0x56])  # statusDeterminationNumber INTEGER (0..16777215): 3 octets
    return tpkt(per.to_bytes())


# ---- the endpoints -----------------------------------------------------------


def say(obj):
    print(json.dumps(obj), flush=True)


def read_tpkt(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            raise ConnectionError("connection closed")
        head += chunk
    if head[0] != 3:
        raise ValueError("not a TPKT: %s" % head.hex())
    body = b""
    want = int.from_bytes(head[2:4], "big") - 4
    while len(body) < want:
        chunk = sock.recv(want - len(body))
        if not chunk:
            raise ConnectionError("connection closed")
        body += chunk
    return head + body


def q931_type(msg):
    """The Q.931 message type of a TPKT."""
    crv_len = msg[5]
    return msg[6 + crv_len]


NAMES = {SETUP: "SETUP", CALL_PROCEEDING: "CALL PROCEEDING", INFORMATION: "INFORMATION"}


def callee(addr):
    lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind((addr, Q931_PORT))
    lst.listen(4)
    conns = []
    say({"ready": True})
    stdin = sys.stdin
    while True:
        r, _, _ = select.select([lst, stdin] + conns, [], [])
        for s in r:
            if s is lst:
                c, _ = lst.accept()
                conns.append(c)
            elif s is stdin:
                line = stdin.readline()
                if not line:
                    return
                callee_command(addr, line.split())
            else:
                try:
                    msg = read_tpkt(s)
                except (OSError, ValueError, ConnectionError):
                    conns.remove(s)
                    s.close()
                    continue
                t = q931_type(msg)
                if t == SETUP:
                    s.sendall(call_proceeding_message())
                elif t == INFORMATION:
                    s.sendall(information_message(False))


def callee_command(addr, parts):
    if parts and parts[0] == "h245":
        dst, dport, secs = parts[1], int(parts[2]), float(parts[3])
        t0 = time.monotonic()
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(secs)
        try:
            c.connect((dst, dport))
            c.sendall(h245_msd())
            say({"ok": True, "local": "%s:%d" % c.getsockname(), "after": round(time.monotonic() - t0, 3)})
        except OSError as e:
            say({"ok": False, "error": "timeout" if isinstance(e, socket.timeout) else repr(e),
                 "after": round(time.monotonic() - t0, 2)})
        finally:
            c.close()
    else:
        say({"ok": False, "error": "unknown command %r" % " ".join(parts)})


def caller(addr, server, h245_port):
    h245 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    h245.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    h245.bind((addr, h245_port))
    h245.listen(1)
    sig = None
    say({"ready": True})
    for cmd in sys.stdin:
        parts = cmd.split()
        try:
            if parts and parts[0] == "connect":
                sig = socket.create_connection((server, Q931_PORT), timeout=3, source_address=(addr, 0))
                say({"ok": True, "local": "%s:%d" % sig.getsockname()})
            elif parts and parts[0] in ("setup", "info"):
                msg = setup_message(addr, h245_port) if parts[0] == "setup" else information_message(True)
                sig.sendall(msg)
                reply = read_tpkt(sig)
                say({"ok": True, "sent": NAMES[q931_type(msg)], "bytes": len(msg),
                     "reply": NAMES.get(q931_type(reply), "0x%02x" % q931_type(reply))})
            elif parts and parts[0] == "accept":
                t0 = time.monotonic()
                r, _, _ = select.select([h245], [], [], float(parts[1]))
                if not r:
                    say({"ok": False, "error": "timeout", "after": round(time.monotonic() - t0, 2)})
                    continue
                c, peer = h245.accept()
                c.settimeout(3)
                msg = read_tpkt(c)
                c.close()
                say({"ok": True, "from": "%s:%d" % peer, "tpkt": msg.hex(), "after": round(time.monotonic() - t0, 3)})
            else:
                say({"ok": False, "error": "unknown command %r" % cmd.strip()})
        except socket.timeout:
            say({"ok": False, "error": "timeout"})
        except (OSError, ValueError, ConnectionError, AttributeError) as e:
            say({"ok": False, "error": repr(e)})


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "callee":
        callee(sys.argv[2])
    elif len(sys.argv) >= 5 and sys.argv[1] == "caller":
        caller(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "hex":
        for name, m in [("SETUP", setup_message(sys.argv[2], int(sys.argv[3]))),
                        ("CALL PROCEEDING", call_proceeding_message()),
                        ("INFORMATION", information_message(True)),
                        ("H.245 MSD", h245_msd())]:
            print("%-16s %s" % (name, m.hex()))
    else:
        sys.exit("usage: h323.py callee ADDR | caller ADDR SERVER H245PORT | hex ADDR H245PORT")
