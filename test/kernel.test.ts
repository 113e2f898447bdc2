// The kernel side against the real kernel, each scenario in a network
// namespace of its own, with the conntrack tool as the independent witness:
// events and dumps into the internal cache, a commit of 100,000 conntracks
// and of an FTP expectation with its helper master, and an overrun survived.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { Netns, isRoot } from "./support/netns.ts";

const spaces: Netns[] = [];
after(() => spaces.forEach((n) => n.delete()));
const netns = (tag: string) => {
  const n = new Netns(tag);
  spaces.push(n);
  return n;
};
const needRoot = { skip: isRoot() ? false : "needs root (network namespaces)" };

test("events and a dump fill the internal cache with what the kernel holds", needRoot, async () => {
  const ns = netns("kev");
  const r = await ns.run<{ cached: Record<string, unknown>[]; afterDelete: number; dumped: number }>("test/support/kernel-scenarios.ts", ["events"]);
  const tcp = r.cached.find((c) => c.l4proto === 6)!;
  assert.deepEqual([tcp.src, tcp.dst, tcp.sport, tcp.dport, tcp.mark, tcp.tcpState], ["192.0.2.1", "198.51.100.1", 1000, 80, 9, 3]);
  assert.deepEqual(r.cached.find((c) => c.l4proto === 1)?.icmp, { type: 8, code: 0, id: 77 });
  assert.equal(r.cached.length, 3);
  assert.equal(r.afterDelete, 2, "the destroy event removed the UDP flow");
  assert.equal(r.dumped, ns.count());
});

test("create, update and delete requests built by the core change the kernel table", needRoot, async () => {
  const ns = netns("krq");
  const r = await ns.run<Record<string, unknown>>("test/support/kernel-scenarios.ts", ["requests"]);
  assert.deepEqual(r.created, [0]);
  assert.match(String(r.afterCreate), /udp +17 \d+ src=2001:db8::5 dst=2001:db8:1::5 sport=5353 dport=53 .*mark=1/);
  assert.deepEqual(r.updated, [0]);
  assert.match(String(r.afterUpdate), /mark=77/);
  assert.deepEqual(r.deleted, [0]);
  assert.equal(r.afterDelete, "");
  assert.equal((r.again as number[])[0], 2, "deleting it again: ENOENT");
});

test("commit writes 100,000 conntracks and an FTP expectation with its master into an empty kernel; what the kernel refuses is counted and logged", needRoot, async () => {
  const ns = netns("kcm");
  const r = await ns.run<{ external: number; ct: { ok: number; failed: number; seconds: number }; ex: { ok: number; failed: number };
    again: { ok: number; failed: number }; againCt: { ok: number; failed: number }; kernelCount: number; expectList: string; masterLine: string; log: string[] }>(
    "test/support/kernel-scenarios.ts", ["commit", "100000"], 300000);
  assert.equal(r.external, 100004);
  assert.equal(r.ct.failed, 3, "three with a helper the kernel does not have are refused");
  assert.ok(r.log.includes("[ERROR] commit-create: Operation not supported (3 entries)"), r.log.join("\n"));
  assert.equal(r.ct.ok, 100001, "and the rest still go in");
  assert.equal(r.kernelCount, 100001, "conntrack -C counts every committed entry");
  assert.equal(ns.count(), 100001);
  assert.deepEqual([r.ex.ok, r.ex.failed], [1, 0], r.log.join("\n"));
  assert.match(r.expectList, /src=10\.1\.0\.2 dst=10\.2\.0\.2 sport=0 dport=50010 .*master-src=10\.1\.0\.2 master-dst=10\.2\.0\.2 sport=40001 dport=21 .*helper=ftp/);
  assert.match(r.masterLine, /helper=ftp/);
  assert.deepEqual([r.again.ok, r.again.failed], [1, 0], "an entry that exists is updated");
  assert.deepEqual([r.againCt.ok, r.againCt.failed], [100001, 3], "so are 100,001 conntracks committed twice");
});

test("an overrun of the event socket is noticed and the internal cache resynced within a second", needRoot, async () => {
  const ns = netns("kov");
  const r = await ns.run<{ injected: { created: number }; overruns: number; resyncAfterLossMs: number; internal: number; kernelCount: number; log: string[] }>(
    "test/support/kernel-scenarios.ts", ["overrun", "100000"], 300000);
  assert.equal(r.injected.created, 100000);
  assert.ok(r.overruns > 0, "the small buffer overran");
  assert.ok(r.resyncAfterLossMs >= 0 && r.resyncAfterLossMs < 1000 + 2000, `resync finished ${r.resyncAfterLossMs} ms after the loss`);
  assert.equal(r.internal, r.kernelCount);
  assert.equal(r.internal, 100000);
  assert.ok(r.log.some((l) => l.includes("resynchronizing")), r.log.join("\n"));
});
