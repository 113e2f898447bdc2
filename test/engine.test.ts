// The sync engine between two nodes in one process: kernel events on the
// primary reach the backup's external cache in each mode; FTFW acknowledges,
// recovers losses with NACKs and resends, and survives a restart (HELLO).
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode, flow, handshake } from "./support/node.ts";

const sortKey = (o: object) => JSON.stringify(o);
const sorted = <T extends object>(xs: T[]) => [...xs].sort((a, b) => sortKey(a).localeCompare(sortKey(b)));

for (const mode of ["notrack", "alarm", "ftfw"] as const) {
  test(`${mode}: new, updated and destroyed conntracks reach the peer's external cache`, () => {
    const a = new TestNode(mode), b = new TestNode(mode);
    if (mode === "ftfw") handshake(a, b);
    const flows = Array.from({ length: 500 }, (_, i) => flow(i));
    flows.forEach((f) => a.ctEvent(f));
    b.receive(a.flush());
    assert.equal(a.count("CACHE_INTERNAL_CT"), 500);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 500);
    assert.deepEqual(sorted(b.dump("CACHE_EXTERNAL_CT")), sorted(a.dump("CACHE_INTERNAL_CT")));

    a.ctEvent({ ...flows[7], mark: 4242, tcpState: 7 }, "update");
    for (let i = 0; i < 100; i++) a.ctEvent(flows[i + 200], "delete");
    b.receive(a.flush());
    const ext = b.dump("CACHE_EXTERNAL_CT") as ReturnType<typeof flow>[];
    assert.equal(ext.length, 400);
    assert.equal(ext.find((c) => c.src === flows[7].src)?.mark, 4242);
    assert.equal(ext.find((c) => c.src === flows[250].src), undefined);
  });
}

test("ftfw: the peer acknowledges every ACKWindowSize messages and the resend queue empties", () => {
  const a = new TestNode("ftfw", { ackWindow: 50 }), b = new TestNode("ftfw", { ackWindow: 50 });
  handshake(a, b);
  for (let i = 0; i < 200; i++) a.ctEvent(flow(i));
  const acksBefore = b.stats().ack_sent;
  b.receive(a.flush());
  assert.ok(a.core.fn.rsQueueLen() >= 200, "the 200 messages wait for their acknowledgement");
  a.receive(b.flush());
  assert.equal(b.stats().ack_sent - acksBefore, 4);
  // A quiet second later b acknowledges the rest (a's greeting-time control messages).
  b.tick();
  a.receive(b.flush());
  assert.equal(a.core.fn.rsQueueLen(), 0);
});

test("ftfw: 20% of datagrams lost, NACKs and resends complete the backup", () => {
  const a = new TestNode("ftfw", { ackWindow: 20 }), b = new TestNode("ftfw", { ackWindow: 20 });
  let seed = 7;
  const lossy = (ds: Uint8Array[]) => ds.filter(() => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 5) !== 0);
  // As with conntrackd, delivery is reliable once the nodes have greeted each other.
  handshake(a, b);
  for (let i = 0; i < 2000; i++) a.ctEvent(flow(i));
  for (let round = 0; round < 200 && b.count("CACHE_EXTERNAL_CT") < 2000; round++) {
    b.receive(lossy(a.flush()));
    a.receive(lossy(b.flush()));
    a.tick(); b.tick();
  }
  // Once the loss ends, what is still missing is asked for and resent.
  for (let round = 0; round < 20; round++) {
    b.receive(a.flush());
    a.receive(b.flush());
    a.tick(); b.tick();
  }
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 2000);
  assert.ok(b.stats().nack_sent > 0, "losses were NACKed");
  assert.ok(a.stats().resent > 0, "and resent");
  assert.ok(b.stats().msg_lost > 0);
});

test("ftfw: data waits until the peer answered our HELLO; then nothing carries HELLO", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  a.ctEvent(flow(1));
  const first = a.flush();
  // Only the greeting ALIVE goes out; the conntrack waits.
  assert.equal(first.length, 1);
  assert.equal(first[0][0] & 0x0f, a.k("T_CTL"));
  assert.ok(first[0][1] & a.k("F_HELLO"));
  b.receive(first);
  b.tick(2);
  const answer = b.flush();
  assert.ok(answer.some((d) => d[1] & a.k("F_HELLO_BACK")));
  a.receive(answer);
  const later = a.flush();
  assert.equal(later.length, 1);
  assert.equal(later[0][0] & 0x0f, a.k("T_CT_NEW"));
  assert.equal(later[0][1] & a.k("F_HELLO"), 0);
  b.receive(later);
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 1);
});

test("ftfw: a peer still saying HELLO (our HELLO_BACK was lost) does not make us forget what is in flight", () => {
  const a = new TestNode("ftfw", { ackWindow: 20 }), b = new TestNode("ftfw", { ackWindow: 20 });
  b.receive(a.flush());
  b.tick(2);
  a.receive(b.flush()); // b's HELLO and HELLO_BACK: a is greeted and owes b a HELLO_BACK
  for (let i = 0; i < 100; i++) a.ctEvent(flow(i));
  const burst = a.flush();
  assert.ok(burst[0][1] & a.k("F_HELLO_BACK"));
  // The datagram with the HELLO_BACK (and its conntracks) is lost: b goes on
  // saying HELLO in the NACK it sends for the gap.
  b.receive(burst.slice(1));
  const nack = b.flush();
  assert.equal(b.stats().nack_sent, 1);
  assert.ok(nack.every((d) => d[1] & a.k("F_HELLO")), "b still says HELLO");
  a.receive(nack);
  for (let round = 0; round < 10; round++) {
    b.receive(a.flush());
    a.receive(b.flush());
    a.tick(); b.tick();
  }
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 100, "the lost conntracks were sent again");
  // Idle peers acknowledge each other's acknowledgements, so one of those may be in flight.
  const fn = a.core.fn;
  fn.rsQueueWalkStart();
  while (fn.rsQueueWalkNext() !== a.k("RSQ_END")) assert.notEqual(fn.rsQueueWalkFlags(), 0, `conntrack message ${fn.rsQueueWalkSeq()} still unacknowledged`);
});

test("ftfw: a peer that restarts (it greets again) gets our whole internal cache, once per greeting", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  for (let i = 0; i < 30; i++) a.ctEvent(flow(i));
  for (let round = 0; round < 5; round++) {
    b.receive(a.flush());
    a.receive(b.flush());
    a.tick(); b.tick();
  }
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 30);
  const fn = a.core.fn;
  fn.rsQueueWalkStart();
  while (fn.rsQueueWalkNext() !== a.k("RSQ_END")) assert.notEqual(fn.rsQueueWalkFlags(), 0, "every conntrack message was acknowledged");
  // b crashes and starts again with empty caches: its greeting is all a hears of it.
  const b2 = new TestNode("ftfw", { firstSeq: 90000 });
  a.receive(b2.flush());
  b2.tick();
  a.receive(b2.flush()); // still greeting: no second bulk
  for (let round = 0; round < 5; round++) {
    b2.receive(a.flush());
    a.receive(b2.flush());
    a.tick(); b2.tick();
  }
  assert.equal(b2.count("CACHE_EXTERNAL_CT"), 30, "the restarted peer holds all of a's flows again");
  assert.ok(a.stats().hello_recv >= 2, "a heard the greeting more than once");
  assert.equal(b2.stats().data_applied, 30, "one bulk, not one per greeting message");
});

test("a resync request is answered with the whole internal cache", () => {
  const a = new TestNode("notrack"), b = new TestNode("notrack");
  for (let i = 0; i < 50; i++) a.ctEvent(flow(i));
  a.flush(); // lost: b never heard of them
  b.core.fn.engineRequestResync();
  a.receive(b.flush());
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 50);
  assert.equal(a.stats().resync_recv, 1);
});

test("bulk send fills a peer that joined late", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  for (let i = 0; i < 300; i++) a.ctEvent(flow(i));
  a.flush();
  assert.equal(a.core.fn.engineBulk(), 300);
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 300);
});

test("alarm: entries are refreshed every RefreshTime and the peer forgets silent ones after CacheTimeout", () => {
  const a = new TestNode("alarm", { refresh: 5, cacheTimeout: 12 }), b = new TestNode("alarm", { refresh: 5, cacheTimeout: 12 });
  for (let i = 0; i < 100; i++) a.ctEvent(flow(i));
  b.receive(a.flush());
  let refreshed = 0;
  for (let s = 0; s < 6; s++) {
    a.tick(); b.tick();
    refreshed += a.flush().length;
  }
  assert.ok(refreshed > 0, "refresh messages went out");
  // a falls silent: b drops everything after CacheTimeout.
  for (let s = 0; s < 30; s++) b.tick();
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 0);
});

test("alarm: a late timer delays no expiry: one scan after ten seconds looks through every bucket", () => {
  const a = new TestNode("alarm", { cacheTimeout: 5 }), b = new TestNode("alarm", { cacheTimeout: 5 });
  for (let i = 0; i < 300; i++) a.ctEvent(flow(i));
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 300);
  b.tick(10); // ten seconds with no call: the host's timer came late (a long commit, a stalled event loop)
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 0, "the slice scales with the time passed, not one tenth a call");
});

test("expectations travel with their master, expected and mask tuples", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  const exp = {
    master: { family: "ipv4" as const, src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21 },
    expected: { family: "ipv4" as const, src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 0, dport: 50010 },
    mask: { family: "ipv4" as const, src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    timeout: 300, flags: 0, class: 0, helper: "ftp",
  };
  a.expEvent(exp);
  b.receive(a.flush());
  assert.deepEqual(b.dump("CACHE_EXTERNAL_EXP"), [exp]);
  a.expEvent(exp, "delete");
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_EXP"), 0);
});

test("memory per cached conntrack stays small", () => {
  const a = new TestNode("notrack", { hashSize: 65536 });
  const before = a.core.fn.memoryLiveBytes();
  for (let i = 0; i < 20000; i++) a.ctEvent(flow(i));
  const per = (a.core.fn.memoryLiveBytes() - before) / 20000;
  assert.ok(per < 160, `${per} bytes per entry`);
});

test("the resend queue can be walked oldest first (-s rsqueue)", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  b.core.fn.engineBulk(); // keep b quiet: nothing to acknowledge a with
  const { fn } = a.core;
  for (let i = 0; i < 3; i++) a.ctEvent(flow(i));
  a.flush();
  fn.rsQueueWalkStart();
  const objects: number[] = [];
  for (let t = fn.rsQueueWalkNext(); t !== a.k("RSQ_END"); t = fn.rsQueueWalkNext()) if (t === a.k("RSQ_OBJECT")) objects.push(fn.rsQueueWalkSeq());
  assert.equal(objects.length, 3);
  assert.deepEqual(objects, [objects[0], objects[0] + 1, objects[0] + 2]);
});

test("the change feed reports what entered and left the caches, only while someone listens", async () => {
  const { ChangeFeed } = await import("../host/api/change-feed.ts");
  const a = new TestNode("notrack"), b = new TestNode("notrack");
  const feedA = new ChangeFeed(a.core), feedB = new ChangeFeed(b.core);
  a.ctEvent(flow(0)); // nobody listens yet: not logged
  const seenA: string[] = [], seenB: string[] = [];
  const offA = feedA.subscribe((c) => seenA.push(`${c.cache} ${c.kind} ${c.op} ${c.ct?.src}`));
  const offB = feedB.subscribe((c) => seenB.push(`${c.cache} ${c.kind} ${c.op} ${c.ct?.src}`));
  a.ctEvent(flow(1));
  b.receive(a.flush());
  a.ctEvent(flow(1), "delete");
  b.receive(a.flush());
  feedA.drain(); feedB.drain();
  offA(); offB();
  assert.deepEqual(seenA, ["internal ct new 10.0.0.1", "internal ct destroy 10.0.0.1"]);
  assert.deepEqual(seenB, ["external ct new 10.0.0.0", "external ct new 10.0.0.1", "external ct destroy 10.0.0.1"]);
});

test("DisableInternalCache (NOTRACK): kernel events go to the peer without being cached", () => {
  const a = new TestNode("notrack"), b = new TestNode("notrack");
  a.core.fn.engineSetBypass(1, 0);
  for (let i = 0; i < 20; i++) a.ctEvent(flow(i));
  a.ctEvent(flow(3), "delete");
  b.receive(a.flush());
  assert.equal(a.count("CACHE_INTERNAL_CT"), 0);
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 19);
});

test("DisableExternalCache: peer messages become kernel requests instead of cache entries", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  b.core.fn.engineSetBypass(0, 1);
  for (let i = 0; i < 5; i++) a.ctEvent(flow(i));
  b.core.fn.nlTxClear();
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 0);
  assert.equal(b.core.fn.engineInjected(), 5);
  // The batch holds five conntrack create requests (IPCTNL_MSG_CT_NEW with NLM_F_CREATE).
  const { fn } = b.core;
  const dv = b.core.view;
  let at = fn.nlTxPtr(), creates = 0;
  const end = at + fn.nlTxLen();
  while (at < end) {
    if (dv.getUint16(at + 4, true) === 0x100 && dv.getUint16(at + 6, true) & 0x400) creates++;
    at += dv.getUint32(at, true);
  }
  assert.equal(creates, 5);
});

/** The CTA_PROTOINFO_TCP_FLAGS_ORIGINAL value (flags << 8 | mask) of each conntrack request in the node's netlink batch; null when absent. */
function tcpFlagsOfBatch(n: TestNode): (number | null)[] {
  const { fn } = n.core;
  const dv = n.core.view;
  const found: (number | null)[] = [];
  const attrs = (from: number, to: number, each: (type: number, at: number, len: number) => void) => {
    for (let a = from; a + 4 <= to;) {
      const len = dv.getUint16(a, true);
      if (len < 4) break;
      each(dv.getUint16(a + 2, true) & 0x3fff, a + 4, len - 4);
      a += (len + 3) & ~3;
    }
  };
  for (let at = fn.nlTxPtr(), end = at + fn.nlTxLen(); at < end; at += dv.getUint32(at, true)) {
    let flags: number | null = null;
    attrs(at + 20, at + dv.getUint32(at, true), (t, p, l) => {
      if (t !== 4) return; // CTA_PROTOINFO
      attrs(p, p + l, (t2, p2, l2) => {
        if (t2 !== 1) return; // CTA_PROTOINFO_TCP
        attrs(p2, p2 + l2, (t3, p3) => { if (t3 === 4) flags = dv.getUint16(p3, false); });
      });
    });
    found.push(flags);
  }
  return found;
}

test("DisableExternalCache: injected TCP entries are liberal unless TCPWindowTracking, as a commit's (conntrackd's external_inject too)", () => {
  for (const tracking of [0, 1]) {
    const a = new TestNode("ftfw"), b = new TestNode("ftfw");
    handshake(a, b);
    b.core.fn.engineSetBypass(0, 1);
    b.core.fn.setSyncOptions(tracking, 0);
    for (let i = 0; i < 3; i++) a.ctEvent(flow(i));
    b.core.fn.nlTxClear();
    b.receive(a.flush());
    // IP_CT_TCP_FLAG_BE_LIBERAL (0x08) as flags and mask; without it the backup's kernel judges the
    // flow's next segments against a window it never saw, and finds them INVALID after a failover
    assert.deepEqual(tcpFlagsOfBatch(b), tracking ? [null, null, null] : [0x0808, 0x0808, 0x0808], `TCPWindowTracking ${tracking ? "on" : "off"}`);
  }
});

test("ftfw: a bulk send larger than ResendQueueSize waits for acknowledgements instead of forgetting", () => {
  const a = new TestNode("ftfw", { rsQueue: 500, ackWindow: 100, hashSize: 8192 }), b = new TestNode("ftfw", { ackWindow: 100, hashSize: 8192 });
  handshake(a, b);
  for (let i = 0; i < 3000; i++) a.ctEvent(flow(i));
  const first = a.flush();
  assert.ok(a.core.fn.rsQueueLen() <= 500 + 5, `at most ResendQueueSize in flight (${a.core.fn.rsQueueLen()})`);
  assert.ok(a.core.fn.txQueueLen() > 2000, "the rest waits");
  // Lose a tenth of the first burst: what is lost is still in the resend queue.
  b.receive(first.filter((_, i) => i % 10 !== 3));
  for (let round = 0; round < 200 && b.count("CACHE_EXTERNAL_CT") < 3000; round++) {
    a.receive(b.flush());
    b.receive(a.flush());
    a.tick(); b.tick();
  }
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 3000);
  assert.equal(a.stats().rsqueue_purged, 0);
});

test("ftfw: the flight window is what the peer's receive buffer holds, at least four ACK windows, at most 3/4 of ResendQueueSize", () => {
  const inFlight = (peerBuffer: number | null, rsQueue = 40000) => {
    const a = new TestNode("ftfw", { rsQueue, ackWindow: 1000, hashSize: 65536 }), b = new TestNode("ftfw", { hashSize: 65536 });
    if (peerBuffer !== null) a.core.fn.engineSetPeerBuffer(peerBuffer);
    handshake(a, b);
    for (let i = 0; i < 40000; i++) a.ctEvent(flow(i));
    a.flush();
    return a.core.fn.rsQueueLen();
  };
  const near = (got: number, want: number) => assert.ok(got >= want && got <= want + 5, `${got} in flight, expected ${want}`);
  near(inFlight(null), 4000); //           not told: four ACK windows
  near(inFlight(212992), 4000); //         the kernel's default rmem holds 832 messages: still four ACK windows
  near(inFlight(2 * 1_048_576), 8192); //  SO_RCVBUF of 1 MiB (the kernel doubles it): 256 bytes a message
  near(inFlight(6 * 1_048_576), 24576); // a bigger buffer
  near(inFlight(0), 30000); //             TCP: as much as leaves room for our acknowledgements in the resend queue
  near(inFlight(50_000_000), 30000); //    a huge buffer likewise
});

test("a resync after lost events sends what the lost events would have: new and changed entries only", () => {
  const a = new TestNode("notrack"), b = new TestNode("notrack");
  for (let i = 0; i < 100; i++) a.ctEvent(flow(i));
  b.receive(a.flush());
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 100);
  // Events were lost: the dump shows 100 unchanged entries, 1 changed, 50 unknown.
  const sentBefore = a.stats().msg_sent;
  a.core.fn.engineDumpBegin();
  for (let i = 0; i < 150; i++) a.ctDumped(i === 7 ? { ...flow(7), mark: 77 } : flow(i), "DUMP_SEND_CHANGES");
  a.core.fn.engineDumpEnd();
  b.receive(a.flush());
  assert.equal(a.stats().msg_sent - sentBefore, 51, "the changed entry and the 50 new ones");
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 150);
  assert.equal((b.dump("CACHE_EXTERNAL_CT") as ReturnType<typeof flow>[]).find((c) => c.src === flow(7).src)?.mark, 77);
  // Start-up and -R only fill the cache.
  const c = new TestNode("notrack");
  for (let i = 0; i < 10; i++) c.ctDumped(flow(i), "DUMP_KEEP");
  assert.equal(c.count("CACHE_INTERNAL_CT"), 10);
  assert.equal(c.flush().length, 0);
});

test("time belongs to the core: pollTimeout names the next ALIVE, the window probe, peer silence and scheduled kernel work", () => {
  const a = new TestNode("ftfw"), b = new TestNode("ftfw");
  handshake(a, b);
  const fn = a.core.fn, ms = a.now * 1000;
  const ev = (e: number) => ({ kind: e & 0xff, link: e >>> 8 });
  const events = () => { const out = []; for (let e = fn.pollEvent(); e !== 0; e = fn.pollEvent()) out.push(ev(e)); return out; };
  events();
  // Quiet: the next thing to do is an ALIVE, a second after the last message.
  a.flush();
  const alive = fn.pollTimeout();
  assert.ok(alive > ms && alive <= ms + 1000, `next deadline ${alive - ms} ms away`);
  fn.handleTimeout(alive - 1);
  assert.equal(a.flush().length, 0, "nothing before the deadline");
  fn.handleTimeout(alive);
  const sent = a.flush();
  assert.equal(sent.length, 1, "an ALIVE (or ACK) at the deadline");
  // A datagram on link 2 makes that link's peer up; three silent seconds make it down.
  a.core.bytes.set(b.flush()[0] ?? sent[0], fn.rxPtr());
  b.tick();
  const hello = b.flush()[0];
  a.core.bytes.set(hello, fn.rxPtr());
  fn.engineRx(hello.length, 2);
  assert.deepEqual(events(), [{ kind: a.k("EVENT_PEER_UP"), link: 2 }]);
  fn.engineSchedule(a.k("EVENT_KERNEL_RESYNC"), alive, 100);
  assert.equal(fn.engineScheduled(a.k("EVENT_KERNEL_RESYNC")), 1);
  const t0 = alive;
  fn.handleTimeout(t0 + 50);
  assert.deepEqual(events(), [], "the resync is not due yet");
  fn.handleTimeout(t0 + 150);
  assert.deepEqual(events(), [{ kind: a.k("EVENT_KERNEL_RESYNC"), link: 0 }]);
  assert.equal(fn.engineScheduled(a.k("EVENT_KERNEL_RESYNC")), 0);
  for (let t = t0 + 1000; t <= t0 + 4000; t += 1000) fn.handleTimeout(t);
  const down = a.k("EVENT_PEER_DOWN");
  assert.deepEqual(events(), [{ kind: down, link: 0 }, { kind: down, link: 2 }], "silent for more than three seconds: both links heard from");
});

test("ftfw: a sender waiting on a full window probes the peer 50 ms later, by the core's own timer", () => {
  const a = new TestNode("ftfw", { ackWindow: 4, rsQueue: 64 }), b = new TestNode("ftfw", { ackWindow: 4, rsQueue: 64 });
  handshake(a, b);
  const fn = a.core.fn;
  for (let i = 0; i < 200; i++) a.ctEvent(flow(i));
  const burst = a.flush(); // the window fills: the rest waits
  assert.ok(burst.length > 0);
  const probeAt = fn.pollTimeout();
  assert.equal(probeAt, a.now * 1000 + 50, "a probe is due 50 ms after the window filled");
  fn.handleTimeout(probeAt);
  const probe = a.flush();
  assert.equal(probe.length, 1, "one ALIVE probes the peer");
  // The burst was lost: the probe's sequence number shows the peer the gap.
  b.receive(probe);
  assert.ok(b.stats().nack_sent >= 1, "the peer asks for what it missed");
});

test("a TCP link's stream is cut back into messages by the core, however the reads split it", () => {
  const a = new TestNode("notrack");
  for (let i = 0; i < 6; i++) a.ctEvent(flow(i));
  const datagrams = a.flush();
  const stream = new Uint8Array(datagrams.reduce((n, d) => n + d.length, 0));
  let at = 0;
  for (const d of datagrams) { stream.set(d, at); at += d.length; }
  for (let cut = 1; cut < stream.length; cut += 7) {
    const b = new TestNode("notrack");
    const feed = (part: Uint8Array) => {
      b.core.bytes.set(part, b.core.fn.rxPtr());
      return b.core.fn.engineRxStream(part.length, 0, 1);
    };
    assert.ok(feed(stream.subarray(0, cut)) >= 0);
    assert.ok(feed(stream.subarray(cut)) >= 0);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 6, `cut at byte ${cut}`);
  }
});

test("a stream whose length field lies is lost; a new connection drops what the old one left half said", () => {
  const a = new TestNode("notrack"), b = new TestNode("notrack");
  a.ctEvent(flow(1));
  const [d] = a.flush();
  const fn = b.core.fn;
  const feed = (part: Uint8Array, id: number) => {
    b.core.bytes.set(part, fn.rxPtr());
    return fn.engineRxStream(part.length, 3, id);
  };
  const bad = new Uint8Array(d);
  bad[2] = 0; bad[3] = 4; // a message "4 bytes long": no boundary can be found after it
  assert.equal(feed(bad, 1), b.k("STREAM_LOST"));
  assert.equal(feed(d.subarray(0, 10), 2), 0, "half a message, held");
  assert.equal(feed(d, 3), 1, "a new stream starts afresh: the held half is dropped");
  assert.equal(b.count("CACHE_EXTERNAL_CT"), 1);
});

test("data waiting on a full window never makes the core ask for a moment already past (a host timer must not spin)", () => {
  const a = new TestNode("ftfw", { ackWindow: 4, rsQueue: 64 }), b = new TestNode("ftfw", { ackWindow: 4, rsQueue: 64 });
  handshake(a, b);
  const fn = a.core.fn;
  for (let i = 0; i < 300; i++) a.ctEvent(flow(i));
  a.flush(); // the window fills: the rest waits, unacknowledged
  // Seconds pass without an acknowledgement: each deadline the core names lies ahead of the clock it was given.
  let now = a.now * 1000;
  for (let step = 0; step < 200; step++) {
    const at = fn.pollTimeout();
    assert.ok(at > now, `step ${step}: deadline ${at} is not after ${now}`);
    now = at;
    fn.handleTimeout(now);
    a.flush();
  }
  assert.ok(now - a.now * 1000 >= 3000, "the clock moved on: probes and silence came due in turn");
});

test("kernel work scheduled after a quiet spell comes due after the host's now, not the core's stale clock", () => {
  const a = new TestNode("ftfw");
  const fn = a.core.fn;
  const t0 = a.now * 1000;
  const drain = () => { const out: number[] = []; for (let e = fn.pollEvent(); e !== 0; e = fn.pollEvent()) out.push(e & 0xff); return out; };
  drain();
  // Ten quiet seconds (a long commit, say) without a call into the core, then a resync asked for in 100 ms.
  fn.engineSchedule(a.k("EVENT_KERNEL_RESYNC"), t0 + 10_000, 100);
  fn.handleTimeout(t0 + 10_050);
  assert.deepEqual(drain().filter((k) => k === a.k("EVENT_KERNEL_RESYNC")), [], "not due 50 ms after the request");
  fn.handleTimeout(t0 + 10_100);
  assert.deepEqual(drain().filter((k) => k === a.k("EVENT_KERNEL_RESYNC")), [a.k("EVENT_KERNEL_RESYNC")]);
  // Work called off never comes due (-t's flush after a commit).
  const flush = a.k("EVENT_KERNEL_FLUSH");
  fn.engineSchedule(flush, t0 + 10_100, 1000);
  assert.equal(fn.engineScheduled(flush), 1);
  fn.engineUnschedule(flush);
  assert.equal(fn.engineScheduled(flush), 0);
  fn.handleTimeout(t0 + 20_000);
  assert.deepEqual(drain().filter((k) => k === flush), []);
});

test("joins close together share one bulk update: EVENT_BULK comes due once, 100 ms after the first asked", () => {
  const a = new TestNode("ftfw");
  const fn = a.core.fn;
  const bulk = a.k("EVENT_BULK");
  const t0 = a.now * 1000;
  const bulks = () => { let n = 0; for (let e = fn.pollEvent(); e !== 0; e = fn.pollEvent()) if ((e & 0xff) === bulk) n++; return n; };
  bulks();
  fn.engineSchedule(bulk, t0 + 10, 100);
  fn.engineSchedule(bulk, t0 + 60, 100); // a second join: the first request stands
  assert.equal(fn.engineScheduled(bulk), 1);
  assert.ok(fn.pollTimeout() <= t0 + 110, "the core asks to be called when the bulk update is due");
  fn.handleTimeout(t0 + 109);
  assert.equal(bulks(), 0, "not due yet");
  fn.handleTimeout(t0 + 110);
  assert.equal(bulks(), 1);
  assert.equal(fn.engineScheduled(bulk), 0);
  fn.handleTimeout(t0 + 200);
  assert.equal(bulks(), 0, "one bulk update for both joins");
});

test("external entries remember their origin (engineSetOrigin): dumps tell it, a commit can take one origin's only", () => {
  const a = new TestNode("notrack"), b = new TestNode("notrack"), c = new TestNode("notrack");
  for (let i = 0; i < 30; i++) a.ctEvent(flow(i));
  for (let i = 100; i < 120; i++) b.ctEvent(flow(i));
  const { fn } = c.core;
  const from = (origin: number, datagrams: Uint8Array[]) => {
    fn.engineSetOrigin(origin);
    c.receive(datagrams);
    fn.engineSetOrigin(0);
  };
  from(7, a.flush());
  from(9, b.flush());
  const origins = () => {
    const seen = new Map<number, number>();
    fn.dumpStart(c.k("CACHE_EXTERNAL_CT"));
    for (let r = fn.dumpNext(); r !== 0; r = fn.dumpNext()) seen.set(fn.dumpOrigin(), (seen.get(fn.dumpOrigin()) ?? 0) + 1);
    return Object.fromEntries(seen);
  };
  assert.deepEqual(origins(), { 7: 30, 9: 20 });
  // each member numbers its own messages: no gap is counted between two members' sequences
  assert.deepEqual([c.stats().msg_lost, c.stats().msg_before], [0, 0]);
  // the last member to write an entry owns it (a flow that moved to another firewall)
  b.ctEvent({ ...flow(3), mark: 5 }, "update");
  from(9, b.flush());
  assert.deepEqual(origins(), { 7: 29, 9: 21 });
  // datagrams without an origin (any other link) say 0
  a.ctEvent(flow(50));
  c.receive(a.flush());
  assert.deepEqual(origins(), { 0: 1, 7: 29, 9: 21 });

  const commitCount = (origin?: number) => {
    fn.commitBegin(c.k("CACHE_EXTERNAL_CT"), 0);
    if (origin !== undefined) fn.commitOrigin(origin);
    let n = 0;
    for (let k = fn.commitNext(1); k > 0; k = fn.commitNext(1 + n)) n += k;
    return n;
  };
  assert.equal(commitCount(7), 29);
  assert.equal(commitCount(9), 21);
  assert.equal(commitCount(), 51, "commitBegin forgets the last commit's origin");
  assert.equal(commitCount(c.k("ORIGIN_ANY")), 51);

  // member 7 joins again: what it sent before goes, the others' entries stay
  assert.equal(fn.engineForgetOrigin(7), 29);
  assert.deepEqual(origins(), { 0: 1, 9: 21 });
  assert.equal(fn.engineForgetOrigin(7), 0);
});
