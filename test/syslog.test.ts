// Syslog (General { Syslog facility }): each log line also goes to syslog
// through syslog(3) in our addon, tagged conntrack-tools as conntrackd 1.4.7's
// lines are (its package name), at the level of the line and the configured
// facility; no process per line.
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

test("a warning of the daemon's log reaches syslog as conntrack-tools[pid] at the facility's warning priority", { skip }, () => {
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
    assert.match(r.stdout, /^<156>\w{3} [ \d]\d \d\d:\d\d:\d\d conntrack-tools\[\d+\]: dropped a datagram from 10\.0\.0\.9 port 3780: not the configured peer/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a facility syslog(3) does not know is refused with its name", () => {
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", 'import { syslogSink } from "./host/process/setup.ts"; syslogSink("nosuch");'], { cwd: ROOT, encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Syslog nosuch: not a syslog facility/);
});

/**
 * What a daemon in Stats mode sends to a /dev/log of its own (a mount and a
 * network namespace of its own) while it starts and logs one destroyed flow:
 * each datagram's priority and tag, and the text after the tag. conntrackd's
 * datagram for a flow ends in its file line's newline (dlog_ct passes the same
 * buffer to syslog(3)), which syslog daemons drop on reception: dropped here.
 */
function statsSyslog(dir: string, program: string, conf: string): { head: string; text: string }[] {
  const script = join(dir, "stats.sh");
  writeFileSync(script, `set -e
mount -t tmpfs tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/random c 1 8
ip link set lo up
exec python3 -c '
import socket, subprocess, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind("/dev/log"); s.settimeout(3)
d = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
got = []
try:
  while True:
    got.append(s.recv(4096).decode())
    if "initialization completed" in got[-1]: break
  subprocess.run(["conntrack", "-I", "-p", "udp", "-s", "192.0.2.2", "-d", "198.51.100.8", "--sport", "1234", "--dport", "53", "-t", "30"], capture_output=True, check=True)
  subprocess.run(["conntrack", "-D", "-p", "udp", "-s", "192.0.2.2"], capture_output=True, check=True)
  while True: got.append(s.recv(4096).decode())
except socket.timeout: pass
d.terminate(); d.wait()
for m in got: print(m.rstrip("\\n").replace("\\n", " "))
' ${program} -C ${conf}
`);
  const r = spawnSync("unshare", ["-m", "-n", "--propagation", "private", "sh", script], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  // <pri>Mmm dd hh:mm:ss tag[pid]: text
  return r.stdout.split("\n").filter((l) => l.startsWith("<")).map((l) => {
    const m = /^(<\d+>)\w{3} [ \d]\d \d\d:\d\d:\d\d ([^[]+)\[\d+\]: (.*)$/.exec(l);
    assert.ok(m, l);
    return { head: `${m[1]}${m[2]}`, text: m[3] };
  });
}

test("the Stats mode's syslog lines: conntrackd 1.4.7's priority, tag and text, its General lines under the same tag", { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ct-syslog-"));
  try {
    const conf = join(dir, "stats.conf");
    writeFileSync(conf, `Stats {
  LogFile ${join(dir, "stats.log")}
  Syslog on
}
General {
  Syslog local5
  LockFile ${join(dir, "lock")}
  UNIX { Path ${join(dir, "ctl")} }
}
`);
    const theirs = statsSyslog(dir, "conntrackd", conf), ours = statsSyslog(dir, join(ROOT, "bin/ctsyncd"), conf);
    const flow = (xs: { head: string; text: string }[]) => xs.find((x) => x.text.startsWith("udp "));
    assert.ok(flow(theirs), JSON.stringify(theirs));
    // A destroyed flow: local5.info (General's facility wins), conntrackd's text.
    assert.deepEqual(flow(ours), flow(theirs));
    assert.equal(flow(theirs)!.head, "<174>conntrack-tools");
    // The daemon's own notices: local5.notice, the same tag.
    const done = (xs: { head: string; text: string }[]) => xs.find((x) => x.text === "initialization completed")?.head;
    assert.equal(done(ours), done(theirs));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
