// Where the Stats mode writes: files opened at start (a bad path is an error
// naming it and why), reopened on request without losing a line, and syslog
// through one logger(1) (here to a socket of the test's own).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StatsSinks, StatsLogError } from "../host/stats/sinks.ts";
import type { StatsConfig } from "../host/config/types.ts";

const cfg = (c: Partial<StatsConfig>): StatsConfig => ({ line: 1, logFile: null, syslog: null, jsonLogFile: null, ...c });
const LINE = "Sun Nov 29 17:56:36 2026\tudp      17 src=1.1.1.1 dst=2.2.2.2 sport=1 dport=2 packets=1 bytes=30 delta-time=0\n";

/** The sinks take the bytes the core wrote. */
const bytes = (text: string) => new Uint8Array(Buffer.from(text, "latin1"));

test("an unopenable path: an error with the path and the reason", () => {
  assert.throws(() => StatsSinks.open(cfg({ logFile: "/nonexistent-ctsync/x.log" })), (e: Error) =>
    e instanceof StatsLogError && e.message === "cannot open the Stats LogFile /nonexistent-ctsync/x.log: No such file or directory (ENOENT)");
  const dir = mkdtempSync(join(tmpdir(), "ctsinks-"));
  try {
    assert.throws(() => StatsSinks.open(cfg({ logFile: join(dir, "ok.log"), jsonLogFile: dir })), /cannot open the Stats JSONLogFile .*: Is a directory \(EISDIR\)/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("reopen: lines before go to the rotated file, lines after to the new one", () => {
  const dir = mkdtempSync(join(tmpdir(), "ctsinks-"));
  try {
    const log = join(dir, "stats.log"), json = join(dir, "stats.jsonl");
    const s = StatsSinks.open(cfg({ logFile: log, jsonLogFile: json }));
    s.write(bytes(LINE), bytes("{}\n"));
    s.flush();
    renameSync(log, `${log}.1`);
    s.write(bytes(LINE), bytes("{}\n")); // written, not yet flushed, when the signal comes
    s.reopen();
    s.write(bytes(LINE), bytes(""));
    s.close();
    assert.equal(readFileSync(`${log}.1`, "utf8"), LINE + LINE);
    assert.equal(readFileSync(log, "utf8"), LINE);
    assert.equal(readFileSync(json, "utf8"), "{}\n{}\n");
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test("syslog: each line at facility.info, tagged conntrack-tools as conntrackd 1.4.7's, the text after the date", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ctsinks-"));
  const sock = join(dir, "log");
  // A syslog socket: python3 prints each datagram it receives.
  const py = spawn("python3", ["-c", `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(sys.argv[1]); print("up", flush=True)
for _ in range(2): print(s.recv(4096).decode(), flush=True)
`, sock], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  py.stdout.on("data", (d) => (out += d));
  try {
    while (!out.includes("up")) await new Promise((r) => setTimeout(r, 20));
    const s = StatsSinks.open(cfg({ syslog: "local3" }), sock);
    s.write(bytes(LINE), bytes(""));
    s.write(bytes(LINE.replace("udp ", "tcp ")), bytes(""));
    s.flush();
    s.close();
    await new Promise((r) => py.once("exit", r));
    const msgs = out.split("\n").filter((l) => l.startsWith("<"));
    assert.equal(msgs.length, 2, out);
    // <local3.info> = <19*8+6> = <158>
    assert.match(msgs[0], new RegExp(`^<158>.* conntrack-tools\\[${process.pid}\\]: udp {6}17 src=1\\.1\\.1\\.1 .* delta-time=0$`));
    assert.match(msgs[1], /: tcp  {5}17 src=/);
  } finally {
    py.kill();
    if (existsSync(dir)) rmSync(dir, { recursive: true });
  }
});

test("a write that fails (a full disk) loses those lines, counted and told, and the next writes go on", () => {
  // /dev/full: every write fails with ENOSPC.
  const s = StatsSinks.open(cfg({ logFile: "/dev/full" }));
  const told: string[] = [];
  s.onError((m) => told.push(m));
  s.write(bytes(LINE), bytes(""));
  s.write(bytes(LINE), bytes(""));
  s.flush();
  s.write(bytes(LINE), bytes(""));
  s.flush();
  assert.equal(s.lost, 3);
  assert.deepEqual(told, ["cannot write the Stats LogFile /dev/full: No space left on device (ENOSPC); 2 lines lost so far"]);
  s.close(); // nothing left to write: no throw
});
