// Authenticated sync between two cores in one process (assembly/auth.ts):
// frames carry every mode's traffic, and what an attacker can do with the
// link — send conntrackd's format, replay captures from before either node
// restarted, alter a frame — is refused and counted before any decode. The
// keys roll over with nothing lost. test/e2e/auth.test.ts does the same
// with the daemons, the kernel and real links.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode, flow, handshake } from "./support/node.ts";

const K1 = new Uint8Array(32).fill(0x11), K2 = new Uint8Array(32).fill(0x22);
let run = 1;

/** Starts authentication on a node: a fresh epoch (counter `run`, random low word), and the peer's as a hint. */
function authOnV(version: number, n: TestNode, keys: { id: number; key: Uint8Array }[], hint = 0n): void {
  n.core.setAuthKeys(keys);
  n.core.fn.authStart((BigInt(run++) << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32)), hint, version);
}
const refused = (n: TestNode, reason: string) => n.core.rejects()[n.k(`R_AUTH_${reason}`)];
const exchange = (a: TestNode, b: TestNode, rounds = 3) => {
  for (let i = 0; i < rounds; i++) {
    a.tick(); b.tick();
    b.receive(a.flush());
    a.receive(b.flush());
  }
};

// Every test for both frame versions: HMAC-SHA-256 (1) and XChaCha20-Poly1305 (2).
for (const v of [1, 2]) {
  const CIPHER = v === 1 ? "hmac-sha256" : "xchacha20-poly1305";
  for (const mode of ["notrack", "alarm", "ftfw"] as const) {
    test(`${CIPHER}: ${mode}: authenticated frames carry the flows; a conntrackd peer's datagrams are refused before decode`, () => {
      const a = new TestNode(mode), b = new TestNode(mode);
      authOnV(v, a, [{ id: 1, key: K1 }]);
      authOnV(v, b, [{ id: 1, key: K1 }]);
      exchange(a, b); // the beacons: each learns the other's epoch
      if (mode === "ftfw") handshake(a, b);
      for (let i = 0; i < 300; i++) a.ctEvent(flow(i));
      b.receive(a.flush());
      assert.equal(b.count("CACHE_EXTERNAL_CT"), 300);

      const plain = new TestNode(mode); // conntrackd's format, no key
      for (let i = 1000; i < 1100; i++) plain.ctEvent(flow(i));
      if (mode === "ftfw") plain.core.fn.engineBulk();
      const spoofed = plain.flush();
      b.receive(spoofed);
      assert.equal(b.count("CACHE_EXTERNAL_CT"), 300, "nothing of the unauthenticated datagrams was applied");
      assert.equal(refused(b, "MISSING"), spoofed.length);
      assert.equal(b.core.rejects()[b.k("R_BAD_VERSION")], 0, "refused before any message was decoded");
    });
  }

  test(`${CIPHER}: a captured frame replayed later in the run, cut, or with a bit flipped is refused`, () => {
    const a = new TestNode("notrack"), b = new TestNode("notrack");
    authOnV(v, a, [{ id: 1, key: K1 }]);
    authOnV(v, b, [{ id: 1, key: K1 }]);
    exchange(a, b);
    a.ctEvent(flow(1));
    const [capture] = a.flush();
    b.receive([capture]);
    a.ctEvent(flow(1), "delete");
    b.receive(a.flush());
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 0);
    b.receive([capture]);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 0, "the replayed NEW did not bring the flow back");
    assert.equal(refused(b, "REPLAY"), 1);
    b.receive([capture.subarray(0, capture.length - 1)]);
    assert.equal(refused(b, "TRUNCATED"), 1);
    for (const at of [capture.length - 1, 40, 9]) {
      const flipped = capture.slice();
      flipped[at] ^= 0x01;
      b.receive([flipped]);
    }
    assert.equal(refused(b, "MAC"), 3);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 0);
  });

  test(`${CIPHER}: a wrong key is refused; a capture from before the receiver restarted is stale, then the peers find each other again`, () => {
    const a = new TestNode("ftfw"), b = new TestNode("ftfw");
    authOnV(v, a, [{ id: 1, key: K1 }]);
    authOnV(v, b, [{ id: 1, key: K1 }]);
    exchange(a, b);
    handshake(a, b);
    for (let i = 0; i < 10; i++) a.ctEvent(flow(i));
    const capture = a.flush();
    b.receive(capture);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 10);

    const wrong = new TestNode("ftfw");
    authOnV(v, wrong, [{ id: 1, key: K2 }]);
    wrong.ctEvent(flow(500));
    wrong.core.fn.engineBulk();
    b.receive(wrong.flush());
    assert.ok(refused(b, "MAC") > 0);

    // b restarts: a new core, a new epoch, a's epoch as its hint.
    const b2 = new TestNode("ftfw");
    authOnV(v, b2, [{ id: 1, key: K1 }], b.core.fn.authPeerEpoch());
    b2.receive(capture);
    assert.equal(b2.count("CACHE_EXTERNAL_CT"), 0, "nothing of the capture reached the restarted node");
    assert.equal(refused(b2, "STALE"), capture.length);
    exchange(a, b2, 4); // beacon, then a's HELLO answered with its whole cache
    assert.equal(b2.count("CACHE_EXTERNAL_CT"), 10);
  });

  test(`${CIPHER}: after the sender restarted, its earlier run's frames are refused; nothing is lost across it`, () => {
    const a = new TestNode("ftfw"), b = new TestNode("ftfw");
    authOnV(v, a, [{ id: 1, key: K1 }]);
    authOnV(v, b, [{ id: 1, key: K1 }]);
    exchange(a, b);
    handshake(a, b);
    a.ctEvent(flow(1));
    const capture = a.flush();
    b.receive(capture);
    const a2 = new TestNode("ftfw");
    authOnV(v, a2, [{ id: 1, key: K1 }], a.core.fn.authPeerEpoch());
    for (let i = 0; i < 20; i++) a2.ctEvent(flow(i));
    const stale = refused(b, "STALE");
    exchange(a2, b, 4);
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 20);
    assert.equal(refused(b, "STALE"), stale, "the hint let b take a2's first frames");
    b.receive(capture);
    assert.equal(refused(b, "REPLAY"), capture.length);
  });

  test(`${CIPHER}: a key rollover in any order loses nothing: each node sends with the newer key once its peer holds it`, () => {
    const a = new TestNode("notrack"), b = new TestNode("notrack");
    authOnV(v, a, [{ id: 1, key: K1 }]);
    authOnV(v, b, [{ id: 1, key: K1 }]);
    exchange(a, b);
    let next = 0;
    const before = [a, b].map((n) => n.core.fn.authRefused()); // the first beacons, stale: neither knew the other
    const traffic = () => {
      for (let i = 0; i < 50; i++) a.ctEvent(flow(next++));
      exchange(a, b, 2);
      assert.deepEqual([a, b].map((n) => n.core.fn.authRefused()), before);
      assert.equal(b.count("CACHE_EXTERNAL_CT"), next);
    };
    traffic();
    a.core.setAuthKeys([{ id: 1, key: K1 }, { id: 2, key: K2 }]); // a first: still sends key 1, b holds only that
    traffic();
    b.core.setAuthKeys([{ id: 1, key: K1 }, { id: 2, key: K2 }]);
    traffic();
    a.core.setAuthKeys([{ id: 2, key: K2 }]); // the old key goes
    traffic();
    b.core.setAuthKeys([{ id: 2, key: K2 }]);
    traffic();
  });

  test(`${CIPHER}: frames over a TCP stream are cut and checked one by one, whatever the reads' boundaries`, () => {
    const a = new TestNode("ftfw"), b = new TestNode("ftfw");
    authOnV(v, a, [{ id: 1, key: K1 }]);
    authOnV(v, b, [{ id: 1, key: K1 }]);
    const streamTo = (to: TestNode, datagrams: Uint8Array[]) => {
      const all = Buffer.concat(datagrams);
      for (let at = 0; at < all.length; at += 333) {
        const piece = all.subarray(at, at + 333);
        to.core.bytes.set(piece, to.core.fn.rxPtr());
        to.core.fn.engineRxStream(piece.length, 0, 1);
      }
    };
    for (let i = 0; i < 4; i++) {
      a.tick(); b.tick();
      streamTo(b, a.flush());
      streamTo(a, b.flush());
    }
    for (let i = 0; i < 200; i++) a.ctEvent(flow(i));
    streamTo(b, a.flush());
    assert.equal(b.count("CACHE_EXTERNAL_CT"), 200);
    assert.equal(b.core.rejects().reduce((x, y) => x + y, 0) - b.core.rejects()[b.k("R_AUTH_STALE")], 0);
  });
}
