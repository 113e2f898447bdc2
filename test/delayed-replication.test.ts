// DelayReplication (ctsync's own, off by default): a new flow is sent only
// once it has lived the delay (or, when asked, once it is ASSURED); a flow
// that ends first never crosses the link. Two engines in one process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode, flow, handshake } from "./support/node.ts";
import type { Conntrack } from "../host/record-view.ts";

const ASSURED = 1 << 2;
/** A flow as the kernel reports it first: seen both ways, not yet ASSURED. */
const young = (i: number): Conntrack => ({ ...flow(i), status: flow(i).status! & ~ASSURED, tcpState: 1 });

function pair(mode: "notrack" | "ftfw", delayMs: number, assured = false): [TestNode, TestNode] {
  const a = new TestNode(mode), b = new TestNode(mode);
  if (mode === "ftfw") handshake(a, b);
  a.core.fn.engineSetDelay(delayMs, assured ? 1 : 0);
  return [a, b];
}

/** Lets `ms` pass on both clocks and hands a's datagrams to b. */
function step(a: TestNode, b: TestNode, ms: number): void {
  a.tick(ms / 1000); b.tick(ms / 1000);
  b.receive(a.flush());
  a.receive(b.flush());
}

for (const mode of ["notrack", "ftfw"] as const) {
  test(`${mode}: flows that end within the delay never reach the peer; the rest arrive once it is over`, () => {
    const [a, b] = pair(mode, 2000);
    for (let i = 0; i < 100; i++) a.ctEvent(young(i));
    step(a, b, 500);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 0, "nothing yet");
    assert.equal(a.core.fn.holdQueueLen(), 100);
    for (let i = 0; i < 60; i++) a.ctEvent(young(i), "delete"); // short flows end
    step(a, b, 1000);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 0, "1.5 s: still held");
    step(a, b, 600);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 40);
    const ext = b.dump("CACHE_EXTERNAL_CT") as Conntrack[];
    assert.deepEqual(ext.map((c) => c.mark).sort((x, y) => x! - y!), Array.from({ length: 40 }, (_, i) => 60 + i));
    const s = a.stats();
    assert.equal(s.held_released, 40);
    assert.equal(s.held_unsent, 60);
    assert.equal(a.core.fn.holdQueueLen(), 0);
    // After release the flow is like any other: updates and its end reach the peer.
    a.ctEvent({ ...young(70), mark: 4242 }, "update");
    a.ctEvent(young(71), "delete");
    step(a, b, 10);
    const after = b.dump("CACHE_EXTERNAL_CT") as Conntrack[];
    assert.equal(after.length, 39);
    assert.equal(after.find((c) => c.src === young(70).src)?.mark, 4242);
  });
}

test("a held flow's updates travel with it when it goes, as one NEW with the latest state", () => {
  const [a, b] = pair("ftfw", 1000);
  a.ctEvent(young(1));
  a.ctEvent({ ...young(1), tcpState: 3, mark: 77, helper: "ftp" }, "update"); // grows: the entry moves to a bigger block
  step(a, b, 1100);
  const ext = b.dump("CACHE_EXTERNAL_CT") as Conntrack[];
  assert.equal(ext.length, 1);
  assert.equal(ext[0].mark, 77);
  assert.equal(ext[0].helper, "ftp");
  assert.equal(a.stats().held_released, 1);
});

test("with the ASSURED option a flow goes as soon as the kernel calls it ASSURED, before the delay", () => {
  const [a, b] = pair("ftfw", 60_000, true);
  a.ctEvent(young(1));
  a.ctEvent(flow(2)); // ASSURED already in its first event
  step(a, b, 10);
  assert.deepEqual((b.dump("CACHE_EXTERNAL_CT") as Conntrack[]).map((c) => c.mark), [2]);
  a.ctEvent(flow(1), "update"); // now ASSURED
  step(a, b, 10);
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 2);
});

test("an expectation waits behind its master and goes after it", () => {
  const [a, b] = pair("ftfw", 1000);
  const master = { ...young(5), dport: 21, helper: "ftp" };
  a.ctEvent(master);
  step(a, b, 300);
  a.expEvent({
    master: { family: "ipv4", src: master.src, dst: master.dst, l4proto: 6, sport: master.sport, dport: 21 },
    expected: { family: "ipv4", src: master.src, dst: master.dst, l4proto: 6, sport: 0, dport: 50010 },
    mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    timeout: 300, flags: 0, class: 0, helper: "ftp",
  });
  step(a, b, 800); // the master is due, the expectation not yet
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 1);
  assert.equal(b.count("CACHE_EXTERNAL_EXP"), 0);
  step(a, b, 300);
  assert.equal(b.count("CACHE_EXTERNAL_EXP"), 1);
});

test("held flows are not part of a bulk send or an ALARM refresh until their delay is over; a dump's flows are not held", () => {
  const [a, b] = pair("ftfw", 5000);
  for (let i = 0; i < 10; i++) a.ctEvent(young(i));
  a.ctDumped(flow(100), "DUMP_SEND_ALL"); // an old flow a resync found: its age is unknown, it goes
  assert.equal(a.core.fn.engineBulk(), 11, "the bulk walks all eleven");
  step(a, b, 10);
  assert.deepEqual((b.dump("CACHE_EXTERNAL_CT") as Conntrack[]).map((c) => c.mark), [100]);
  assert.equal(a.core.fn.holdQueueLen(), 10);
});

test("the core asks to be called when the oldest held flow is due", () => {
  const [a] = pair("notrack", 1500);
  a.ctEvent(young(1));
  const due = a.core.fn.pollTimeout();
  assert.ok(due <= a.now * 1000 + 1500 && due > a.now * 1000, `due at +${due - a.now * 1000} ms`);
});
