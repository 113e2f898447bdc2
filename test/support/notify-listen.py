# A stand-in for systemd's notification socket: binds an AF_UNIX datagram
# socket at argv[1] with SO_PASSCRED, prints "LISTENING", then one JSON line
# per datagram: the sender's pid (from SCM_CREDENTIALS, which is what
# systemd's NotifyAccess=main compares with the service's main pid) and the
# text. Exits after argv[2] seconds or after a datagram holding READY=1.
import json, os, socket, struct, sys, time

path, seconds = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(path)
print("LISTENING", flush=True)
end = time.monotonic() + seconds
while True:
    left = end - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid, _uid, _gid = struct.unpack("iII", payload[:12])
    text = data.decode("utf-8", "replace")
    print(json.dumps({"pid": pid, "text": text}), flush=True)
    if "READY=1" in text.split("\n"):
        break
os.unlink(path)
