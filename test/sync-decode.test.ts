// The one-call datagram decoder (syncDecode, syncDecodeFrames): every golden
// datagram of conntrackd 1.4.7 decodes to the same messages, headers and flow
// fields as the message-by-message path (syncNext and the records), and cut
// or framed input gives the documented summaries.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CoreHarness } from "./support/core.ts";
import { loadFixtures, hexBytes } from "./support/fixtures.ts";

const h = new CoreHarness();
const { core } = h;
const fn = core.fn as unknown as Record<string, (...a: number[]) => number>;
const K = (n: string) => h.k(n);

interface Summary {
  kind: number; reason: number; type: number; flags: number; len: number; version: number; hdr: number;
  seq: number; from: number; to: number; dgram: number; offset: number; present: number;
  family: number; l4proto: number; sport: number; dport: number; src: Uint8Array; dst: Uint8Array;
  family2: number; state: number; zone: number; status: number; timeout: number; mark: number;
  spat: number; dpat: number; helper: string;
}

/** Reads summary i at `base` by the exported SUM_* / SUMT_* offsets. */
function readSummary(base: number, i: number): Summary {
  const dv = core.view;
  const s = base + i * K("SUM_SIZE");
  const t = s + K("SUM_TUPLE");
  const u8 = (o: number) => dv.getUint8(o);
  const u16 = (o: number) => dv.getUint16(o, true);
  const u32 = (o: number) => dv.getUint32(o, true);
  const hl = u8(s + K("SUM_HELPER_LEN"));
  return {
    kind: u8(s + K("SUM_KIND")), reason: u8(s + K("SUM_REASON")), type: u8(s + K("SUM_TYPE")),
    flags: u8(s + K("SUM_FLAGS")), len: u16(s + K("SUM_LEN")), version: u8(s + K("SUM_VERSION")),
    hdr: u8(s + K("SUM_HDR")), seq: u32(s + K("SUM_SEQ")), from: u32(s + K("SUM_FROM")), to: u32(s + K("SUM_TO")),
    dgram: u32(s + K("SUM_DGRAM")), offset: u32(s + K("SUM_OFFSET")), present: u32(s + K("SUM_PRESENT")),
    family: u8(t + K("SUMT_FAMILY")), l4proto: u8(t + K("SUMT_L4PROTO")), sport: u16(t + K("SUMT_SPORT")),
    dport: u16(t + K("SUMT_DPORT")),
    src: core.bytes.slice(t + K("SUMT_SRC"), t + K("SUMT_SRC") + 16),
    dst: core.bytes.slice(t + K("SUMT_DST"), t + K("SUMT_DST") + 16),
    family2: u8(s + K("SUM_TUPLE2") + K("SUMT_FAMILY")),
    state: u8(s + K("SUM_STATE")), zone: u16(s + K("SUM_ZONE")), status: u32(s + K("SUM_STATUS")),
    timeout: u32(s + K("SUM_TIMEOUT")), mark: u32(s + K("SUM_MARK")), spat: u16(s + K("SUM_SPAT")),
    dpat: u16(s + K("SUM_DPAT")),
    helper: Buffer.from(core.bytes.slice(s + K("SUM_HELPER"), s + K("SUM_HELPER") + hl)).toString(),
  };
}

function addr(bytes: Uint8Array, family: number): string {
  if (family === K("AF_INET")) return Array.from(bytes.subarray(0, 4)).join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return words.join(":");
}

function summarize(datagram: Uint8Array): Summary[] {
  const ptr = fn.hostAlloc(datagram.length || 1);
  core.bytes.set(datagram, ptr);
  const n = fn.syncDecode(ptr, datagram.length, fn.summaryPtr(), K("SUM_CAP"));
  assert.ok(n >= 0, `syncDecode returned ${n}`);
  return Array.from({ length: n }, (_, i) => readSummary(fn.summaryPtr(), i));
}

/** One spelling of an address (IPv6 compressed the standard way). */
const canon = (a: string) => (a.includes(":") ? new URL(`http://[${a}]/`).hostname : a);

test("syncDecode: every golden datagram gives the messages syncNext gives, field for field", () => {
  let messages = 0;
  for (const file of loadFixtures("sync")) {
    for (const m of file.messages) {
      const bytes = hexBytes(m.hex);
      const want = h.decode(bytes);
      const got = summarize(bytes);
      assert.equal(got.length, want.length, `${file.name}: message count`);
      for (let i = 0; i < got.length; i++) {
        const g = got[i], w = want[i], where = `${file.name} ${m.hex.slice(0, 16)} #${i}`;
        assert.equal(g.kind, w.result, `${where}: kind`);
        assert.equal(g.hdr, 1, `${where}: header read`);
        assert.deepEqual([g.type, g.flags, g.seq, g.from, g.to], [w.type, w.flags, w.seq, w.from, w.to], `${where}: header`);
        assert.equal(g.version, 1);
        const hdr = (m.headers as Array<Record<string, number>>)[i];
        assert.deepEqual([g.offset, g.len, g.seq], [hdr.offset, hdr.len, hdr.seq], `${where}: fixture header`);
        if (w.ct) {
          const ct = w.ct;
          const fam = ct.family === "ipv4" ? K("AF_INET") : K("AF_INET6");
          assert.equal(g.family, fam, `${where}: family`);
          assert.equal(g.l4proto, ct.l4proto, `${where}: l4proto`);
          assert.equal(canon(addr(g.src, g.family)), canon(ct.src), `${where}: src`);
          assert.equal(canon(addr(g.dst, g.family)), canon(ct.dst), `${where}: dst`);
          if (ct.sport !== undefined) assert.deepEqual([g.sport, g.dport], [ct.sport, ct.dport], `${where}: ports`);
          if (ct.icmp) assert.equal(g.dport, ((ct.icmp.type ?? 0) << 8) | (ct.icmp.code ?? 0), `${where}: icmp`);
          if (ct.tcpState !== undefined) assert.equal(g.state, ct.tcpState, `${where}: tcp state`);
          assert.equal(g.mark, ct.mark ?? 0, `${where}: mark`);
          assert.equal(g.timeout, ct.timeout ?? 0, `${where}: timeout`);
          assert.equal(g.status, ct.status ?? 0, `${where}: status`);
          assert.equal(g.zone, ct.zone ?? 0, `${where}: zone`);
          assert.equal(g.spat, ct.spat ?? 0, `${where}: spat`);
          assert.equal(g.dpat, ct.dpat ?? 0, `${where}: dpat`);
          assert.equal(g.helper, ct.helper ?? "", `${where}: helper`);
          assert.equal(g.family2 !== 0, ct.master !== undefined, `${where}: master tuple`);
        }
        if (w.exp) {
          assert.equal(g.l4proto, w.exp.expected.l4proto, `${where}: expected l4proto`);
          assert.deepEqual([g.sport, g.dport], [w.exp.expected.sport, w.exp.expected.dport], `${where}: expected ports`);
          assert.equal(canon(addr(g.dst, g.family)), canon(w.exp.expected.dst), `${where}: expected dst`);
          assert.equal(g.helper, w.exp.helper ?? "", `${where}: helper`);
          assert.equal(g.timeout, w.exp.timeout ?? 0, `${where}: timeout`);
          assert.equal(g.family2, g.family, `${where}: master tuple`);
        }
        messages++;
      }
    }
  }
  assert.ok(messages > 100, `${messages} messages`);
});

test("syncDecode: a datagram cut inside its second message gives the first and one R_BAD_SIZE", () => {
  const file = loadFixtures("sync").find((f) => f.name === "ftfw-control.json")!;
  const two = file.messages.find((m) => (m.headers as unknown[]).length >= 2)!;
  const bytes = hexBytes(two.hex);
  const cut = bytes.subarray(0, 76 + 20);
  const got = summarize(cut);
  assert.equal(got.length, 2);
  assert.equal(got[0].kind, K("MSG_CT"));
  assert.equal(got[1].kind, K("SUM_REJECTED"));
  assert.equal(got[1].reason, K("R_BAD_SIZE"));
  assert.equal(got[1].hdr, 1);
  assert.equal(got[1].offset, 76);
  const tiny = summarize(bytes.subarray(0, 5));
  assert.deepEqual([tiny.length, tiny[0].reason, tiny[0].hdr], [1, K("R_TRUNCATED"), 0]);
});

test("syncDecode: too little room is -R_NO_ROOM; an oversized datagram is one R_OVERSIZED summary", () => {
  const ptr = fn.hostAlloc(16);
  assert.equal(fn.syncDecode(ptr, 64, fn.summaryPtr(), 7), -K("R_NO_ROOM"));
  const big = fn.hostAlloc(K("MAX_DATAGRAM") + 8);
  const n = fn.syncDecode(big, K("MAX_DATAGRAM") + 8, fn.summaryPtr(), K("SUM_CAP") + 1);
  assert.equal(n, 1);
  assert.equal(readSummary(fn.summaryPtr(), 0).reason, K("R_OVERSIZED"));
});

test("syncDecodeFrames: a run of framed datagrams in one call, resumable when the summaries run out", () => {
  const grams = loadFixtures("sync").flatMap((f) => f.messages.map((m) => hexBytes(m.hex)));
  const frames = new Uint8Array(grams.reduce((a, g) => a + 4 + g.length, 0));
  for (let at = 0, i = 0; i < grams.length; at += 4 + grams[i].length, i++) {
    new DataView(frames.buffer).setUint32(at, grams[i].length, true);
    frames.set(grams[i], at + 4);
  }
  const ptr = fn.hostAlloc(frames.length);
  core.bytes.set(frames, ptr);
  const total = grams.reduce((a, g) => a + summarize(g).length, 0);
  core.bytes.set(frames, ptr); // summarize allocated; memory may have grown
  let got = 0, used = 0, calls = 0, lastDgram = -1;
  while (used < frames.length) {
    const n = fn.syncDecodeFrames(ptr + used, frames.length - used, fn.summaryPtr(), 40);
    assert.ok(n > 0);
    for (let i = 0; i < n; i++) {
      const s = readSummary(fn.summaryPtr(), i);
      assert.notEqual(s.kind, K("SUM_REJECTED"));
      assert.ok(s.dgram >= (i === 0 ? 0 : lastDgram));
      lastDgram = s.dgram;
    }
    got += n;
    used += fn.syncDecodeUsed();
    calls++;
  }
  assert.equal(got, total);
  assert.ok(calls > 1, "the small area made it resume");
  // A frame that claims more than is there.
  const bad = Buffer.from([0x10, 0, 0, 0, 0x1a, 0x10, 0, 8]);
  const p2 = fn.hostAlloc(bad.length);
  core.bytes.set(bad, p2);
  assert.equal(fn.syncDecodeFrames(p2, bad.length, fn.summaryPtr(), K("SUM_CAP")), 1);
  assert.equal(readSummary(fn.summaryPtr(), 0).reason, K("R_TRUNCATED"));
  assert.equal(fn.syncDecodeUsed(), bad.length);
});
