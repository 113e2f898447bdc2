// Untrusted input: every malformed datagram is rejected with a reason the
// host can count, never a trap, never an out-of-bounds read, never a record
// handed out half built. Ends with a property test over 100,000 random and
// mutated datagrams derived from the golden vectors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CoreHarness } from "./support/core.ts";
import { loadFixtures, hexBytes } from "./support/fixtures.ts";
import type { Conntrack } from "../host/record-view.ts";

const h = new CoreHarness();
const T = (name: string) => h.k(name);

const flow: Conntrack = {
  family: "ipv4", src: "192.0.2.1", dst: "198.51.100.2", l4proto: 6, sport: 40000, dport: 80,
  tcpState: 3, status: 0x18e, timeout: 120, mark: 1, helper: "ftp",
};
const good = () => h.encodeCt(flow, T("T_CT_NEW"), 5);

/** The single result of decoding a one-message datagram. */
const only = (bytes: Uint8Array) => h.decode(bytes).map((m) => m.result);

test("a datagram shorter than a header is truncated", () => {
  assert.deepEqual(only(good().subarray(0, 5)), [-T("R_TRUNCATED")]);
});

test("a message cut short of its own length is a bad size", () => {
  assert.deepEqual(only(good().subarray(0, 20)), [-T("R_BAD_SIZE")]);
});

test("lying lengths: zero, below the header, and an attribute past the message end", () => {
  const zero = good(); zero[2] = 0; zero[3] = 0;
  assert.deepEqual(only(zero), [-T("R_BAD_SIZE")]);
  const small = good(); small[2] = 0; small[3] = 4;
  assert.deepEqual(only(small), [-T("R_BAD_SIZE")]);
  const attr = good(); attr[8] = 0x7f; // first attribute claims 32 KiB
  assert.deepEqual(only(attr), [-T("R_BAD_ATTR_LEN")]);
  const tiny = good(); tiny[8] = 0; tiny[9] = 2; // attribute shorter than its header
  assert.deepEqual(only(tiny), [-T("R_BAD_ATTR_LEN")]);
});

test("a wrong version is rejected and the next message still decodes", () => {
  const a = good(); a[0] = 0x20;
  const both = new Uint8Array([...a, ...good()]);
  assert.deepEqual(only(both), [-T("R_BAD_VERSION"), T("MSG_CT")]);
});

test("an unknown message type and an unknown attribute are rejected", () => {
  const type = good(); type[0] = 0x17;
  assert.deepEqual(only(type), [-T("R_BAD_TYPE")]);
  const attr = good(); attr[10] = 0; attr[11] = 99;
  assert.deepEqual(only(attr), [-T("R_UNKNOWN_ATTR")]);
});

test("an attribute of the wrong size for its kind is rejected", () => {
  // NTA_STATUS (5) with a 2-byte payload inside a well-framed message.
  const msg = new Uint8Array([0x10, 0, 0, 32, 0, 0, 0, 1, 0, 12, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 6, 0, 5, 0, 1, 0, 0, 0, 5, 0, 2]);
  assert.deepEqual(only(msg), [-T("R_BAD_ATTR_LEN")]);
});

test("a conntrack without its tuple is incomplete, not half built", () => {
  const msg = new Uint8Array([0x10, 0, 0, 16, 0, 0, 0, 1, 0, 8, 0, 5, 0, 0, 0, 8]); // status only
  assert.deepEqual(only(msg), [-T("R_INCOMPLETE")]);
});

test("a datagram larger than conntrackd's receive buffer is oversized", () => {
  const { fn } = h.core;
  assert.equal(fn.syncOpenAt(fn.nlPtr(), 70000), -T("R_OVERSIZED"));
  assert.equal(fn.syncNext(), T("MSG_END"));
});

test("a malformed kernel message is counted apart from malformed peer datagrams", () => {
  const { fn } = h.core;
  fn.resetRejects();
  // A netlink header claiming 24 bytes of which only 20 are there: truncated, from the kernel.
  const bad = new Uint8Array(20);
  new DataView(bad.buffer).setUint32(0, 20, true);
  new DataView(bad.buffer).setUint16(4, (1 << 8) | 0, true); // NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW
  h.core.bytes.set(bad, fn.nlPtr());
  fn.nlOpen(bad.length);
  for (let r = fn.nlNext(); r !== T("NL_END"); r = fn.nlNext()) { /* drain */ }
  const kernel = h.core.rejects("kernel").reduce((a, b) => a + b, 0);
  assert.ok(kernel >= 1, "the kernel's bank counted it");
  assert.equal(h.core.rejects("sync").reduce((a, b) => a + b, 0), 0, "peers' malformed messages are not");
});

test("every rejection is counted by reason", () => {
  h.core.fn.resetRejects();
  only(good().subarray(0, 5));
  const v = good(); v[0] = 0x30; only(v);
  const counts = h.core.rejects();
  assert.equal(counts[T("R_TRUNCATED")], 1);
  assert.equal(counts[T("R_BAD_VERSION")], 1);
  assert.equal(counts.reduce((a, b) => a + b, 0), 2);
});

// ---- property test -------------------------------------------------------------

/** xorshift32: a seeded generator, so a failure can be replayed. */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s;
  };
}

function seeds(): Uint8Array[] {
  const golden = loadFixtures("sync").flatMap((f) => f.messages.map((m) => hexBytes(m.hex)));
  const synthetic = [
    good(),
    h.encodeCt({ ...flow, family: "ipv6", src: "2001:db8::1", dst: "2001:db8::2", snat: "2001:db8::9" }, 1, 9),
    h.encodeExp({
      master: { family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto: 6, sport: 1, dport: 21 },
      expected: { family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto: 6, sport: 0, dport: 5000 },
      mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
      timeout: 300, flags: 0, helper: "ftp",
    }, 3, 10),
  ];
  return [...golden, ...synthetic];
}

function mutate(seed: Uint8Array, next: () => number): Uint8Array {
  const pick = next() % 7;
  const b = new Uint8Array(seed);
  switch (pick) {
    case 0: { // flip bits
      for (let i = 0, n = 1 + (next() % 4); i < n; i++) b[next() % b.length] ^= 1 << (next() % 8);
      return b;
    }
    case 1: { // overwrite a byte, favouring the header and length fields
      const at = next() % 2 === 0 ? next() % Math.min(12, b.length) : next() % b.length;
      b[at] = next() & 0xff;
      return b;
    }
    case 2: return b.subarray(0, next() % (b.length + 1)); // truncate
    case 3: { // extend with noise
      const extra = Uint8Array.from({ length: 1 + (next() % 64) }, () => next() & 0xff);
      return new Uint8Array([...b, ...extra]);
    }
    case 4: { // an attribute length that lies
      const at = 8 + 4 * (next() % Math.max(1, (b.length - 8) >> 2));
      if (at + 1 < b.length) { b[at] = next() & 0xff; b[at + 1] = next() & 0xff; }
      return b;
    }
    case 5: return Uint8Array.from({ length: next() % 200 }, () => next() & 0xff); // pure noise
    default: { // splice the head of one datagram onto the tail of itself
      const cut = next() % (b.length + 1);
      return new Uint8Array([...b.subarray(0, cut), ...b.subarray(next() % (b.length + 1))]);
    }
  }
}

test("100,000 random and mutated datagrams: no trap, every result a message or a counted reason", () => {
  const pool = seeds();
  assert.ok(pool.length >= 3);
  const next = rng(0xc75c);
  const known = new Set([T("MSG_CT"), T("MSG_EXP"), T("MSG_CTL")]);
  const { fn } = h.core;
  fn.resetRejects();
  let rejected = 0, accepted = 0;
  for (let i = 0; i < 100_000; i++) {
    const input = mutate(pool[next() % pool.length], next);
    let results;
    try {
      results = h.decode(input);
    } catch (err) {
      assert.fail(`input ${i} (${Buffer.from(input).toString("hex")}) trapped: ${err}`);
    }
    for (const m of results) {
      if (m.result < 0) {
        rejected++;
        assert.ok(-m.result > 0 && -m.result < T("R_COUNT"), `unknown reason ${m.result}`);
        assert.equal(m.ct, undefined);
        assert.equal(m.exp, undefined);
      } else {
        accepted++;
        assert.ok(known.has(m.result), `unexpected result ${m.result}`);
      }
    }
  }
  const counted = h.core.rejects().reduce((a, b) => a + b, 0);
  assert.equal(counted, rejected, "every rejection is counted once");
  assert.ok(rejected > 10_000 && accepted > 1_000, `rejected ${rejected}, accepted ${accepted}`);
});

test("whatever is accepted re-encodes to a message that decodes the same", () => {
  const pool = seeds();
  const next = rng(42);
  let checked = 0;
  for (let i = 0; i < 20_000; i++) {
    const input = mutate(pool[next() % pool.length], next);
    for (const m of h.decode(input)) {
      if (m.ct) {
        const again = h.decode(h.encodeCt(m.ct, m.type, m.seq, m.flags));
        assert.deepEqual(again[0].ct, m.ct);
        checked++;
      } else if (m.exp) {
        const again = h.decode(h.encodeExp(m.exp, m.type, m.seq, m.flags));
        assert.deepEqual(again[0].exp, m.exp);
        checked++;
      }
    }
  }
  assert.ok(checked > 100, `only ${checked} accepted objects checked`);
});
