// ctsyncd's reader of keepalived's notify FIFO (host/keepalived/fifo.ts): the
// line format of keepalived.conf(5), the transitions of primary-backup.sh run
// on a fake daemon, and a real FIFO that appears late, carries lines split
// across writes, garbage, other groups, and is removed and recreated as
// keepalived does on a reload. The same reader against the real keepalived is
// in test/e2e/keepalived.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeepalivedFifo, parseNotifyLine, runTransition, transitionFor, type Transition, type TransitionTarget } from "../host/keepalived/fifo.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("keepalived's lines: GROUP and INSTANCE with their states, checker lines, and what keepalived never writes", () => {
  assert.deepEqual(parseNotifyLine('GROUP "G1" MASTER 0'), { kind: "group", name: "G1", state: "MASTER", priority: 0 });
  assert.deepEqual(parseNotifyLine('GROUP "VG_1" FAULT'), { kind: "group", name: "VG_1", state: "FAULT", priority: null });
  assert.equal(parseNotifyLine('INSTANCE "VI_1" MASTER 100').kind, "other");
  assert.equal(parseNotifyLine('INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100').kind, "other");
  assert.equal(parseNotifyLine("VS [192.168.201.15]:tcp:80 UP").kind, "other");
  assert.equal(parseNotifyLine("RS [1.2.3.4]:tcp:80 [192.168.201.15]:tcp:80 DOWN").kind, "other");
  for (const bad of ['GROUP "G1" PRIMARY 0', 'GROUP "G1" MASTER_RX_LOWER_PRI 0', "GROUP G1 MASTER", "hello", "", 'GROUP "G1" MASTER 0 extra']) {
    assert.equal(parseNotifyLine(bad).kind, "bad", bad);
  }
  assert.deepEqual(["MASTER", "BACKUP", "FAULT", "STOP"].map((s) => transitionFor(s as never)), ["primary", "backup", "fault", null]);
});

class FakeDaemon implements TransitionTarget {
  readonly calls: string[] = [];
  constructor(readonly mode: "ftfw" | "notrack" | "alarm" = "ftfw") {}
  async commit(kinds: "both") { this.calls.push(`commit ${kinds}`); await sleep(5); return { status: "done", committed: 1, failed: 0 }; }
  flushCache(which: "both", kinds: readonly string[]) { this.calls.push(`flush ${which} ${kinds.join(",")}`); }
  async resyncWithKernel(kinds: "both") { this.calls.push(`resync-kernel ${kinds}`); }
  async bulkSend() { this.calls.push("bulk"); }
  requestResync() { this.calls.push("request-resync"); }
  resetTimers() { this.calls.push("reset-timers"); }
}

test("the transitions are primary-backup.sh's: -c -f -R -B; -t -n; -t (and no -B/-n in ALARM mode)", async () => {
  const d = new FakeDaemon();
  const opts = { kinds: ["ct", "expect"] as const, keepKernelTable: false };
  const r = await runTransition(d, "primary", opts);
  assert.deepEqual(d.calls, ["commit both", "flush both ct,expect", "resync-kernel both", "bulk"]);
  assert.ok(r.commitMs > 0 && r.totalMs >= r.commitMs);
  d.calls.length = 0;
  await runTransition(d, "backup", opts);
  assert.deepEqual(d.calls, ["reset-timers", "request-resync"]);
  d.calls.length = 0;
  await runTransition(d, "fault", opts);
  assert.deepEqual(d.calls, ["reset-timers"]);
  const a = new FakeDaemon("alarm");
  await runTransition(a, "primary", { kinds: ["ct"], keepKernelTable: false });
  await runTransition(a, "backup", { kinds: ["ct"], keepKernelTable: false });
  assert.deepEqual(a.calls, ["commit both", "flush both ct", "resync-kernel both", "reset-timers"]);
});

test("DisableExternalCache: the backup and fault transitions keep the kernel table (it is the synchronized state)", async () => {
  const d = new FakeDaemon();
  const opts = { kinds: ["ct"] as const, keepKernelTable: true };
  await runTransition(d, "backup", opts);
  await runTransition(d, "fault", opts);
  assert.deepEqual(d.calls, ["request-resync"]);
  d.calls.length = 0;
  await runTransition(d, "primary", opts);
  assert.deepEqual(d.calls, ["commit both", "flush both ct", "resync-kernel both", "bulk"]);
});

test("a real FIFO: waited for, followed, garbage and other groups ignored, reopened when recreated", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ctsync-kafifo-"));
  const path = join(dir, "notify.fifo");
  const logs: string[] = [];
  const acts: Transition[] = [];
  const log = { notice: (m: string) => logs.push(`notice ${m}`), warning: (m: string) => logs.push(`warning ${m}`), error: (m: string) => logs.push(`error ${m}`) };
  const fifo = new KeepalivedFifo(path, "G1", async (t) => { acts.push(t); }, log, 20);
  const write = (text: string) => {
    const fd = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    writeSync(fd, text);
    closeSync(fd);
  };
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await sleep(10);
    assert.ok(ok(), `${what}\n${logs.join("\n")}`);
  };
  try {
    fifo.start();
    assert.match(logs.join("\n"), /waiting for the notify FIFO/);
    execFileSync("mkfifo", ["-m", "600", path]);
    await until("the FIFO is followed once it exists", () => logs.some((l) => /following sync group "G1"/.test(l)));
    write('GROUP "G1" BACKUP 0\nINSTANCE "VI_1" BACKUP 100\nINSTANCE "VI_1" MAST');
    write('ER 100\nGROUP "G1" MAS');
    write("TER 0\n");
    await until("BACKUP then MASTER acted on", () => acts.length === 2);
    assert.deepEqual(acts, ["backup", "primary"]);
    write('garbage\nGROUP "G2" MASTER 0\nGROUP "G1" UP 0\nGROUP "G1" STOP 0\n');
    await until("the odd lines are logged", () => logs.filter((l) => l.startsWith("warning")).length === 3);
    assert.match(logs.join("\n"), /ignoring "garbage" from .*: not a line keepalived writes/);
    assert.match(logs.join("\n"), /sync group "G2" is not ours \("G1"\)/);
    assert.match(logs.join("\n"), /unknown group state "UP"/);
    assert.match(logs.join("\n"), /sync group "G1" STOP: nothing to do/);
    assert.deepEqual(acts, ["backup", "primary"], "none of them acted on");
    // keepalived's reload: the FIFO is removed and a new one made
    unlinkSync(path);
    await sleep(60);
    execFileSync("mkfifo", ["-m", "600", path]);
    await until("the new FIFO is reopened", () => logs.some((l) => /was recreated, reopening it/.test(l)));
    write('GROUP "G1" FAULT 0\n');
    await until("FAULT acted on through the new FIFO", () => acts.length === 3);
    assert.equal(acts[2], "fault");
    await fifo.idle();
  } finally {
    fifo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
