// The native client facing a daemon that does not read its request at once:
// one busy with other work (a commit's flood of kernel events) is waited
// for; one that sits idle with the request unread is given up on after a
// second, with a message saying so. A stand-in daemon (python3) listens on
// the configured UNIX socket and behaves each way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CTSYNCD, until } from "./support/pair.ts";

/** Listens on `sock`; after `delaySeconds` of spinning (busy) or sleeping (idle), accepts one request and answers "ok". */
const STAND_IN = `
import socket, sys, time
path, mode, delay = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path); s.listen(8)
print("listening", flush=True)
end = time.time() + delay
while time.time() < end:
    if mode == "idle":
        time.sleep(0.05)
c, _ = s.accept()
c.recv(4)
c.sendall(b"ok\\n")
c.close()
time.sleep(5)
`;

function standIn(mode: "busy" | "idle", delaySeconds: number) {
  const dir = mkdtempSync(join(tmpdir(), "ctsync-live-"));
  const sock = join(dir, "d.sock");
  const conf = join(dir, "d.conf");
  writeFileSync(conf, `General {\n\tUNIX {\n\t\tPath ${sock}\n\t}\n}\nSync {\n\tMode FTFW {\n\t}\n}\n`);
  const proc = spawn("python3", ["-c", STAND_IN, sock, mode, String(delaySeconds)], { stdio: ["ignore", "pipe", "inherit"] });
  return {
    conf, sock,
    ready: () => until(() => existsSync(sock), 5000),
    close: () => { proc.kill("SIGKILL"); rmSync(dir, { recursive: true, force: true }); },
  };
}

test("a daemon busy for 2.5 s before it reads the request is waited for", async () => {
  const d = standIn("busy", 2.5);
  try {
    assert.ok(await d.ready());
    const r = spawnSync(CTSYNCD, ["-C", d.conf, "-s"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "ok\n");
  } finally {
    d.close();
  }
});

test("a daemon that neither reads the request nor works is given up on after about a second", async () => {
  const d = standIn("idle", 30);
  try {
    assert.ok(await d.ready());
    const r = spawnSync(CTSYNCD, ["-C", d.conf, "-s"], { encoding: "utf8", timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the daemon at .*d\.sock \(pid \d+\) is not answering: it took no request within a second, and did no work/);
  } finally {
    d.close();
  }
});
