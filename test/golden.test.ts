// Golden vectors: real bytes from conntrackd 1.4.7 and from the kernel
// (test/fixtures, made by test/fixtures/capture/capture-all.sh). ctsync must
// decode each to the values the scenario created, with the kernel's own
// `conntrack -L` line as the witness, and re-encode each sync datagram to the
// very same bytes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CoreHarness } from "./support/core.ts";
import { loadFixtures, hexBytes, type FixtureEntry, type FixtureMessage } from "./support/fixtures.ts";
import type { Conntrack, Expectation, Tuple } from "../host/record-view.ts";

const h = new CoreHarness();
const K = (name: string) => h.k(name);
const syncFiles = loadFixtures("sync");
const netlinkFiles = loadFixtures("ctnetlink");

const TCP_STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

/** The original-direction fields of a `conntrack -L` line (the first of each key). */
function witness(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [, k, v] of line.matchAll(/(\w+)=(\S+)/g)) if (!(k in out)) out[k] = v;
  return out;
}

const PORTLESS = new Set([1, 58]); // ICMP, ICMPv6

/**
 * Checks a decoded conntrack against the scenario. `whole` is false for the
 * kernel's UPDATE and DESTROY events, which carry no master tuple and no labels.
 */
function checkCt(ct: Conntrack, e: FixtureEntry, where: string, whole = true): void {
  const w = witness(String(e.conntrack_L));
  assert.equal(ct.family, e.family, `${where}: family`);
  assert.equal(ct.l4proto, e.l4proto, `${where}: protocol`);
  assert.equal(ct.src, w.src, `${where}: src`);
  assert.equal(ct.dst, w.dst, `${where}: dst`);
  if (w.sport !== undefined) {
    assert.equal(ct.sport, Number(w.sport), `${where}: sport`);
    assert.equal(ct.dport, Number(w.dport), `${where}: dport`);
  }
  if (w.type !== undefined) {
    assert.deepEqual(ct.icmp, { type: Number(w.type), code: Number(w.code), id: Number(w.id) }, `${where}: icmp`);
  }
  if (ct.mark !== undefined) assert.ok([e.mark, e.update_mark].includes(ct.mark), `${where}: mark ${ct.mark}`);
  assert.equal(ct.zone ?? 0, e.zone ?? 0, `${where}: zone`);
  if (e.helper && (whole || ct.helper)) assert.equal(ct.helper, e.helper, `${where}: helper`);
  // conntrackd 1.4.7 also sends zero NAT "ports" for ICMP flows that crossed NAT hooks.
  const keys = PORTLESS.has(ct.l4proto) ? (["snat", "dnat"] as const) : (["snat", "dnat", "spat", "dpat"] as const);
  for (const k of keys) assert.equal(ct[k] ?? null, e[k] ?? null, `${where}: ${k}`);
  const master = e.master as Tuple | null;
  if (master && (whole || ct.master)) {
    assert.ok(ct.master, `${where}: master tuple`);
    for (const k of ["src", "dst", "sport", "dport", "l4proto"] as const) {
      if (master[k] !== undefined) assert.equal(ct.master![k], master[k], `${where}: master ${k}`);
    }
  }
  if (Array.isArray(e.labels_bits) && (whole || ct.labels)) {
    const words = Buffer.from(ct.labels ?? "", "hex");
    for (const bit of e.labels_bits as number[]) {
      const word = words.readUInt32BE(4 * Math.floor(bit / 32));
      assert.ok(word & (1 << (bit % 32)), `${where}: label bit ${bit}`);
    }
  }
  if (ct.tcpState !== undefined) assert.ok(ct.tcpState < TCP_STATES.length, `${where}: TCP state ${ct.tcpState}`);
  const limits = [e.timeout, e.update_timeout].filter((t) => typeof t === "number") as number[];
  if (ct.timeout !== undefined && limits.length && !e.origin) {
    assert.ok(ct.timeout <= Math.max(...limits), `${where}: timeout ${ct.timeout}`);
  }
}

function checkTuple(t: Tuple, want: Record<string, unknown>, where: string): void {
  for (const k of ["src", "dst", "sport", "dport", "l4proto"] as const) {
    if (want[k] !== undefined && want[k] !== null) assert.equal(t[k], want[k], `${where}: ${k}`);
  }
}

function checkExp(exp: Expectation, e: FixtureEntry, where: string): void {
  checkTuple(exp.master, e.master as Record<string, unknown>, `${where}: master`);
  checkTuple(exp.expected, e.expected as Record<string, unknown>, `${where}: expected`);
  checkTuple(exp.mask, e.mask as Record<string, unknown>, `${where}: mask`);
  assert.equal(exp.helper, e.helper, `${where}: helper`);
  if (typeof e.class === "number") assert.equal(exp.class ?? 0, e.class, `${where}: class`);
  if (typeof e.timeout === "number" && exp.timeout !== undefined) {
    assert.ok(exp.timeout <= (e.timeout as number) + 1, `${where}: timeout`);
  }
}

interface FixtureHeader { type: number; version: number; flags: number; len: number; seq: number; entry?: string }

test("golden vectors are present", () => {
  assert.ok(syncFiles.length >= 7, "sync fixtures");
  assert.ok(netlinkFiles.length >= 6, "ctnetlink fixtures");
});

for (const file of syncFiles) {
  test(`sync ${file.name}: every datagram decodes to the scenario's values and re-encodes to the same bytes`, () => {
    const entries = new Map(file.entries.map((e) => [e.id, e]));
    let data = 0;
    file.messages.forEach((m, i) => {
      const where = `${file.name} #${i} (${m.step})`;
      const bytes = hexBytes(m.hex);
      const decoded = h.decode(bytes);
      const headers = m.headers as FixtureHeader[];
      assert.equal(decoded.length, headers.length, `${where}: message count`);
      decoded.forEach((d, j) => {
        const hd = headers[j];
        assert.ok(d.result > 0, `${where}: message ${j} rejected (${h.core.reasonName(-d.result)})`);
        assert.deepEqual([d.type, d.flags, d.seq], [hd.type, hd.flags, hd.seq], `${where}: header ${j}`);
        const e = hd.entry ? entries.get(hd.entry) : undefined;
        if (d.ct) { data++; if (e) checkCt(d.ct, e, `${where} [${hd.entry}]`); }
        if (d.exp) { data++; if (e) checkExp(d.exp, e, `${where} [${hd.entry}]`); }
      });
      assert.equal(Buffer.from(h.reencode(bytes)).toString("hex"), m.hex, `${where}: re-encoded bytes`);
    });
    if (!file.name.startsWith("ftfw")) assert.ok(data > 0, "the file holds data messages");
  });
}

const GROUP_EVENT: Record<string, string> = {
  NFNLGRP_CONNTRACK_NEW: "EV_NEW", NFNLGRP_CONNTRACK_UPDATE: "EV_UPDATE", NFNLGRP_CONNTRACK_DESTROY: "EV_DESTROY",
  NFNLGRP_CONNTRACK_EXP_NEW: "EV_NEW", NFNLGRP_CONNTRACK_EXP_DESTROY: "EV_DESTROY",
};

/** Decodes one netlink message held in the core's netlink buffer. */
function decodeNetlink(bytes: Uint8Array): { result: number; event: number; errno: number; ct?: Conntrack; exp?: Expectation } {
  const { fn } = h.core;
  h.core.bytes.set(bytes, fn.nlPtr());
  fn.nlOpen(bytes.length);
  const result = fn.nlNext();
  const out = { result, event: fn.nlEvent(), errno: fn.nlErrno() } as ReturnType<typeof decodeNetlink>;
  if (result === K("NL_CT")) out.ct = h.view.readCt();
  if (result === K("NL_EXP")) out.exp = h.view.readExp();
  assert.equal(fn.nlNext(), K("NL_END"), "one message per fixture item");
  return out;
}

for (const file of netlinkFiles) {
  test(`ctnetlink ${file.name}: events and dump replies decode to the scenario's values`, () => {
    const entries = new Map(file.entries.map((e) => [e.id, e]));
    let objects = 0;
    file.messages.forEach((m, i) => {
      if (m.kind === "dump-request") return;
      const where = `${file.name} #${i} (${m.step})`;
      const d = decodeNetlink(hexBytes(m.hex));
      if (m.nlmsg_type === 3) return assert.equal(d.result, K("NL_DONE"), where);
      assert.ok(d.result === K("NL_CT") || d.result === K("NL_EXP"), `${where}: result ${d.result}`);
      const want = m.kind === "dump" ? "EV_DUMP" : GROUP_EVENT[String(m.group)];
      assert.equal(d.event, K(want), `${where}: event kind`);
      const e = typeof m.entry === "string" ? entries.get(m.entry) : undefined;
      if (d.ct && e?.kind === "ct") checkCt(d.ct, e, where, want === "EV_NEW" || want === "EV_DUMP");
      if (d.exp && e?.kind === "exp") checkExp(d.exp, e, where);
      objects++;
    });
    assert.ok(objects > 0);
  });
}

/**
 * The same flow seen both ways: the kernel's NEW event, decoded by ctsync and
 * encoded as a sync message, must be the bytes conntrackd sent for it, apart
 * from the sequence number and the seconds left (captured at other times).
 */
test("a kernel event encodes to the sync message conntrackd sent for the same flow", () => {
  const maskTimeout = (hex: string) => {
    const b = hexBytes(hex);
    for (let a = 8; a + 4 <= b.length;) {
      const len = (b[a] << 8) | b[a + 1], type = (b[a + 2] << 8) | b[a + 3];
      if (type === 6) b.fill(0, a + 4, a + 8); // NTA_TIMEOUT
      a += (len + 3) & ~3;
    }
    b.fill(0, 4, 8); // sequence number
    return Buffer.from(b).toString("hex");
  };
  let compared = 0;
  for (const nl of netlinkFiles) {
    const sync = syncFiles.find((f) => f.scenario === nl.scenario);
    if (!sync) continue;
    for (const m of nl.messages) {
      if (m.group !== "NFNLGRP_CONNTRACK_NEW" || typeof m.entry !== "string") continue;
      const entry = nl.entries.find((e) => e.id === m.entry);
      if (!entry || entry.origin) continue; // real traffic differs between the two runs
      const peer: FixtureMessage | undefined = sync.messages.find((s) => (s.headers as FixtureHeader[]).length === 1 &&
        (s.headers as FixtureHeader[])[0].type === K("T_CT_NEW") && s.entry === m.entry);
      if (!peer) continue;
      const d = decodeNetlink(hexBytes(m.hex));
      assert.ok(d.ct);
      const mine = h.encodeCt(d.ct, K("T_CT_NEW"), 0);
      assert.equal(maskTimeout(Buffer.from(mine).toString("hex")), maskTimeout(peer.hex), `${nl.name} ${m.entry}`);
      compared++;
    }
  }
  assert.ok(compared >= 5, `only ${compared} flows compared`);
});
