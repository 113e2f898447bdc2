// Syslog (General { Syslog facility }): each log line also goes to syslog
// through syslog(3) in our addon, tagged conntrackd as conntrackd's lines are,
// at the level of the line and the configured facility; no process per line.
// The test listens on /dev/log itself, inside a private mount namespace of
// its own with a /dev of its own, so the machine's /dev is left untouched.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./support/netns.ts";

const skip = process.getuid?.() === 0 ? false : "needs root (a mount namespace)";

test("a warning of the daemon's log reaches syslog as conntrackd[pid] at the facility's warning priority", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ct-syslog-"));
  try {
    const script = join(dir, "run.sh");
    writeFileSync(script, `set -e
mount -t tmpfs tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8
exec python3 -c '
import socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/dev/log"); s.settimeout(20)
subprocess.run([sys.argv[1], "--import", "tsx", "-e", sys.argv[2]], cwd=sys.argv[3], check=True)
print(s.recv(4096).decode())
' "${process.execPath}" 'import { syslogSink } from "./host/process/setup.ts"; syslogSink("local3")("warning", "dropped a datagram from 10.0.0.9 port 3780: not the configured peer");' "${ROOT}"
`);
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", script], { encoding: "utf8", timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    // <156>: local3 (19) * 8 + warning (4)
    assert.match(r.stdout, /^<156>\w{3} [ \d]\d \d\d:\d\d:\d\d conntrackd\[\d+\]: dropped a datagram from 10\.0\.0\.9 port 3780: not the configured peer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a facility syslog(3) does not know is refused with its name", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", 'import { syslogSink } from "./host/process/setup.ts"; syslogSink("nosuch");'], { cwd: ROOT, encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Syslog nosuch: not a syslog facility/);
});
