// The ctnetlink socket (native/netlink.c via host/kernel/netlink.ts) against the real
// kernel, in network namespaces of its own (nl-<pid>-<scenario>), with the
// `conntrack` tool as the independent witness of kernel state.
//
// Each scenario runs in a child process started with `ip netns exec`, so the
// socket, the conntrack table and the witness all live in that namespace. The
// child is this same file with CTSYNC_NL_SCENARIO set: it prints one line
// "RESULT <json>" and the parent asserts on it. Needs root.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { endianness } from "node:os";
import { promisify } from "node:util";
import { NetlinkSocket, RECV_AGAIN, RECV_OVERRUN } from "../host/kernel/netlink.ts";
import { loadNetlinkAddon } from "../host/native.ts";

const run = promisify(execFile);
const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), "..");
const LE = endianness() === "LE";

// ---- ctnetlink by hand (test only: the Wasm core owns the real codec) -------

const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 0x1;
const NLM_F_ACK = 0x4;
const NLM_F_EXCL = 0x200;
const NLM_F_CREATE = 0x400;
const NLM_F_DUMP = 0x300;
const NLA_F_NESTED = 0x8000;
const SUBSYS_CTNETLINK = 1;
const CT_NEW = (SUBSYS_CTNETLINK << 8) | 0; // IPCTNL_MSG_CT_NEW
const CT_GET = (SUBSYS_CTNETLINK << 8) | 1;
const CT_DELETE = (SUBSYS_CTNETLINK << 8) | 2;
const AF_INET = 2;
const CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_STATUS = 3, CTA_TIMEOUT = 7;
const CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2;
const CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3;
const IPS_SEEN_REPLY = 1 << 1, IPS_ASSURED = 1 << 2, IPS_CONFIRMED = 1 << 3;
const IPPROTO_UDP = 17;

class Writer {
  readonly buf: Uint8Array;
  private readonly dv: DataView;
  pos = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.dv = new DataView(this.buf.buffer);
  }
  private attrStart(type: number): number {
    const at = this.pos;
    this.dv.setUint16(at + 2, type, LE);
    this.pos += 4;
    return at;
  }
  private attrEnd(at: number): void {
    this.dv.setUint16(at, this.pos - at, LE);
    this.pos = (this.pos + 3) & ~3;
  }
  nest(type: number, body: () => void): void {
    const at = this.attrStart(type | NLA_F_NESTED);
    body();
    this.attrEnd(at);
  }
  u8(type: number, v: number): void {
    const at = this.attrStart(type);
    this.dv.setUint8(this.pos, v);
    this.pos += 1;
    this.attrEnd(at);
  }
  be16(type: number, v: number): void {
    const at = this.attrStart(type);
    this.dv.setUint16(this.pos, v, false);
    this.pos += 2;
    this.attrEnd(at);
  }
  be32(type: number, v: number): void {
    const at = this.attrStart(type);
    this.dv.setUint32(this.pos, v >>> 0, false);
    this.pos += 4;
    this.attrEnd(at);
  }
  /** nlmsghdr + nfgenmsg, then body's attributes. */
  msg(type: number, flags: number, seq: number, family: number, body: () => void): void {
    const at = this.pos;
    this.dv.setUint16(at + 4, type, LE);
    this.dv.setUint16(at + 6, flags, LE);
    this.dv.setUint32(at + 8, seq, LE);
    this.dv.setUint32(at + 12, 0, LE);
    this.dv.setUint8(at + 16, family);
    this.dv.setUint8(at + 17, 0); // NFNETLINK_V0
    this.dv.setUint16(at + 18, 0, false); // res_id
    this.pos += 20;
    body();
    this.dv.setUint32(at, this.pos - at, LE);
  }
}

/** Both directions of a UDP flow: the kernel wants CTA_TUPLE_ORIG and CTA_TUPLE_REPLY to create. */
function putTuple(w: Writer, type: number, src: number, dst: number, sport: number, dport: number): void {
  w.nest(type, () => {
    w.nest(CTA_TUPLE_IP, () => {
      w.be32(CTA_IP_V4_SRC, src);
      w.be32(CTA_IP_V4_DST, dst);
    });
    w.nest(CTA_TUPLE_PROTO, () => {
      w.u8(CTA_PROTO_NUM, IPPROTO_UDP);
      w.be16(CTA_PROTO_SRC_PORT, sport);
      w.be16(CTA_PROTO_DST_PORT, dport);
    });
  });
}

/** Conntrack number i: 10.1.x.y:(1000 + i>>16) -> 198.51.100.1:53, UDP, assured, 600 s. */
function putCreate(w: Writer, i: number, seq: number, flags: number): void {
  const src = (10 << 24) | (1 << 16) | (i & 0xffff);
  const dst = 0xc6336401; // 198.51.100.1
  const sport = 1000 + (i >>> 16);
  w.msg(CT_NEW, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL | flags, seq, AF_INET, () => {
    putTuple(w, CTA_TUPLE_ORIG, src, dst, sport, 53);
    putTuple(w, CTA_TUPLE_REPLY, dst, src, 53, sport);
    w.be32(CTA_TIMEOUT, 600);
    // This kernel (6.18) answers EBUSY unless IPS_CONFIRMED is among the bits.
    w.be32(CTA_STATUS, IPS_CONFIRMED | IPS_SEEN_REPLY | IPS_ASSURED);
  });
}

interface Msg {
  type: number;
  flags: number;
  seq: number;
  /** For NLMSG_ERROR: the error field (0 = ack). */
  error: number;
  family: number;
}

/** Walks the nlmsghdr framing of n bytes at view[0..n). */
function walk(view: Uint8Array, n: number, out: (m: Msg) => void): void {
  const dv = new DataView(view.buffer, view.byteOffset, n);
  let o = 0;
  while (o + 16 <= n) {
    const len = dv.getUint32(o, LE);
    assert.ok(len >= 16 && o + len <= n, `bad nlmsg length ${len} at ${o} of ${n}`);
    const type = dv.getUint16(o + 4, LE);
    out({
      type,
      flags: dv.getUint16(o + 6, LE),
      seq: dv.getUint32(o + 8, LE),
      error: type === NLMSG_ERROR ? dv.getInt32(o + 16, LE) : 0,
      family: len > 16 ? dv.getUint8(o + 16) : 0,
    });
    o += (len + 3) & ~3;
  }
  assert.equal(o, n, "datagrams must end on a message boundary");
}

function conntrackCount(): number {
  const out = execFileSync("conntrack", ["-L"], { stdio: ["ignore", "pipe", "ignore"], maxBuffer: 256 << 20 });
  return out.toString().split("\n").filter((l) => l.trim() !== "").length;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Rejects after ms so a missing event fails the scenario instead of hanging it. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Sends a dump request on a fresh socket and counts conntrack messages up to NLMSG_DONE. */
function dumpCount(): { entries: number; datagramBatches: number; bytes: number } {
  const s = NetlinkSocket.open({ rcvbuf: 1 << 20 });
  try {
    const w = new Writer(64);
    w.msg(CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 1, AF_INET, () => {});
    assert.equal(s.send(w.buf, 0, w.pos), w.pos);
    const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
    let entries = 0, batches = 0, bytes = 0, done = false;
    const deadline = Date.now() + 30_000;
    while (!done) {
      const n = s.recvInto(buf, 64);
      if (n === RECV_AGAIN) {
        assert.ok(Date.now() < deadline, "dump did not finish within 30 s");
        continue; // the kernel fills the next dump datagram as we read
      }
      assert.ok(n >= 0, `dump recv failed: ${n}`);
      batches++;
      bytes += n;
      walk(buf, n, (m) => {
        if (m.type === NLMSG_DONE) done = true;
        else if (m.type === NLMSG_ERROR) assert.fail(`dump error ${m.error}`);
        else if (m.type === CT_NEW) entries++;
      });
    }
    return { entries, datagramBatches: batches, bytes };
  } finally {
    s.close();
  }
}

/** Creates count conntracks from index `from`, perSend requests per datagram, without acks. */
function bulkCreate(from: number, count: number, perSend: number): void {
  const s = NetlinkSocket.open({ rcvbuf: 1 << 20 });
  try {
    const w = new Writer(perSend * 160);
    for (let i = from; i < from + count; ) {
      w.pos = 0;
      const end = Math.min(from + count, i + perSend);
      for (; i < end; i++) putCreate(w, i, i, 0);
      assert.equal(s.send(w.buf, 0, w.pos), w.pos);
    }
    // Errors (without NLM_F_ACK only failures are answered) would be queued here.
    const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
    const n = s.recvInto(buf);
    if (n > 0) walk(buf, n, (m) => assert.equal(m.error, 0, `create failed: errno ${-m.error}`));
  } finally {
    s.close();
  }
}

// ---- scenarios (run inside the namespace) -----------------------------------

const scenarios: Record<string, () => Promise<unknown>> = {
  async events() {
    const s = NetlinkSocket.open({ groups: ["conntrack-new", "conntrack-update", "conntrack-destroy"] });
    const seen: Msg[] = [];
    // As the host will: a view at an offset into a Wasm memory.
    const memory = new WebAssembly.Memory({ initial: 32 }); // 2 MiB
    const buf = new Uint8Array(memory.buffer, 4096, 64 * NetlinkSocket.slotDefault);
    let callbacks = 0;
    s.onReadable(() => {
      callbacks++;
      for (;;) {
        const n = s.recvInto(buf, 64);
        if (n === RECV_AGAIN) return;
        assert.ok(n >= 0, `recv ${n}`);
        walk(buf, n, (m) => seen.push(m));
      }
    });
    const tuple = ["-s", "192.0.2.1", "-d", "198.51.100.1", "-p", "tcp", "--sport", "1000", "--dport", "80"];
    await run("conntrack", ["-I", ...tuple, "--state", "ESTABLISHED", "-t", "100"]);
    await run("conntrack", ["-D", ...tuple]);
    for (let i = 0; i < 100 && !seen.some((m) => m.type === CT_DELETE); i++) await sleep(20);
    const result = {
      portId: s.portId,
      callbacks,
      messages: seen.map((m) => ({ type: m.type, flags: m.flags, family: m.family })),
      drops: s.drops(),
    };
    s.close();
    return result;
  },

  async holdOff() {
    const ev = NetlinkSocket.open({ groups: ["conntrack-new"], rcvbuf: 1 << 20, force: true });
    const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
    const reads: number[] = []; // events per callback
    let holdAgain = true;
    ev.onReadable(() => {
      let events = 0;
      for (let n = ev.recvInto(buf, 64); n !== RECV_AGAIN; n = ev.recvInto(buf, 64)) if (n > 0) walk(buf, n, () => events++);
      reads.push(events);
      // Once, from the hold's own callback: the hold goes on (as a busy daemon's does).
      if (holdAgain) { holdAgain = false; ev.holdOff(2000); }
    });
    const insert = async (from: number, count: number) => {
      for (let i = from; i < from + count; i++) {
        await run("conntrack", ["-I", "-s", "192.0.2.7", "-d", "198.51.100.7", "-p", "udp", "--sport", String(i), "--dport", "53", "-t", "100"]);
      }
    };
    const held = Date.now();
    const at = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, held + ms - Date.now())));
    ev.holdOff(3000);
    await insert(1, 5);
    const duringHold = [...reads], insertMs = Date.now() - held;
    await at(3300);
    const afterHold = [...reads];
    await insert(6, 3); // within the second hold (3000-5000 ms)
    const duringSecond = [...reads], secondMs = Date.now() - held;
    await at(5300);
    const afterSecond = [...reads];
    await insert(9, 1); // polling again: read at once
    await at(5800);
    const result = { duringHold, insertMs, afterHold, duringSecond, secondMs, afterSecond, polledAgain: [...reads] };
    ev.close();
    return result;
  },

  async dump() {
    // Witness-made entries (conntrack -I), then enough of ours to span many dump datagrams.
    for (let i = 1; i <= 20; i++)
      execFileSync("conntrack", ["-I", "-s", "192.0.2.1", "-d", "198.51.100.1", "-p", "tcp", "--sport", String(1000 + i),
        "--dport", "80", "--state", "ESTABLISHED", "-t", "100"], { stdio: "ignore" });
    bulkCreate(0, 3000, 500);
    const dump = dumpCount();
    return { ...dump, witness: conntrackCount() };
  },

  async overrun() {
    const N = 25_000;
    const ev = NetlinkSocket.open({ groups: ["conntrack-new"], rcvbuf: 4096, force: true });
    const quiet = NetlinkSocket.open({ groups: ["conntrack-new"], rcvbuf: 4096, force: true, noEnobufs: true });
    let overrunEvents = 0;
    ev.onOverrun(() => overrunEvents++);
    bulkCreate(0, N, 1000); // the loop is busy: nobody reads ev
    const dropsAfterBurst = ev.drops();
    const quietDrops = quiet.drops();

    // Event-driven read: the pending ENOBUFS makes poll() report POLLERR,
    // which libuv turns into EBADF and a stopped handle; the addon must still
    // call back as "readable" and keep polling for later events.
    const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
    const codes: number[] = [];
    let events = 0;
    let drained: () => void = () => {};
    ev.onReadable((err) => {
      assert.ifError(err);
      for (;;) {
        const n = ev.recvInto(buf, 64);
        if (n === RECV_AGAIN) return drained();
        if (n < 0) codes.push(n);
        else walk(buf, n, () => events++);
      }
    });
    await within(10_000, "poll after overrun", new Promise<void>((r) => (drained = r)));
    const eventsAfterDrain = events;
    const later = within(10_000, "an event after the overrun", new Promise<void>((r) => (drained = r)));
    await run("conntrack", ["-I", "-s", "192.0.2.9", "-d", "198.51.100.9", "-p", "udp", "--sport", "9", "--dport", "9", "-t", "100"]);
    await later;
    const eventsAfterOverrun = events - eventsAfterDrain;
    let quietOverruns = 0, quietEvents = 0;
    for (;;) {
      const n = quiet.recvInto(buf, 64);
      if (n === RECV_AGAIN) break;
      if (n < 0) quietOverruns++;
      else walk(buf, n, () => quietEvents++);
    }
    const result = {
      N,
      rcvbuf: ev.rcvBuf,
      codes,
      overruns: ev.overruns,
      overrunEvents,
      statsOverruns: ev.stats().overruns,
      eventsRead: eventsAfterDrain,
      eventsAfterOverrun,
      dropsAfterBurst,
      quietDrops,
      quietOverruns,
      quietEvents,
      dump: dumpCount().entries,
      witness: conntrackCount() - 1, // minus the one conntrack -I made after the burst
      alive: true,
    };
    ev.close();
    quiet.close();
    return result;
  },

  async sendBatch() {
    const N = 5000, PER = 250;
    const s = NetlinkSocket.open({ rcvbuf: 8 << 20, force: true, capAck: true, extAck: true });
    const w = new Writer(PER * 160);
    const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
    const acked = new Set<number>();
    const errors: number[] = [];
    let sends = 0, asyncSends = 0, recvCalls = 0;
    const drain = () => {
      for (;;) {
        const n = s.recvInto(buf, 64);
        if (n === RECV_AGAIN) return;
        assert.ok(n >= 0, `ack recv ${n}`);
        recvCalls++;
        walk(buf, n, (m) => {
          assert.equal(m.type, NLMSG_ERROR);
          if (m.error === 0) acked.add(m.seq);
          else errors.push(m.error);
        });
      }
    };
    for (let i = 0; i < N; ) {
      w.pos = 0;
      const end = Math.min(N, i + PER);
      for (; i < end; i++) putCreate(w, i, i + 1, NLM_F_ACK);
      if (sends % 2 === 0) {
        assert.equal(s.send(w.buf, 0, w.pos), w.pos);
      } else {
        // On a worker thread: the bytes were copied, so the buffer may be overwritten at once.
        const sent = s.sendAsync(w.buf, 0, w.pos);
        const len = w.pos;
        w.buf.fill(0xff);
        assert.equal(await sent, len);
        asyncSends++;
      }
      sends++;
      drain(); // acks are queued synchronously while the kernel processes the datagram
    }
    // A duplicate with NLM_F_EXCL must come back as -EEXIST, not as an ack.
    w.pos = 0;
    putCreate(w, 7, 999_999, NLM_F_ACK);
    s.send(w.buf, 0, w.pos);
    const before = errors.length;
    drain();
    const dup = errors.slice(before);
    s.close();
    return { N, sends, asyncSends, recvCalls, acked: acked.size, errors: errors.length - dup.length, dup, witness: conntrackCount() };
  },
};

// ---- child entry --------------------------------------------------------------

const scenario = process.env.CTSYNC_NL_SCENARIO;
if (scenario) {
  const fn = scenarios[scenario];
  if (!fn) {
    console.error(`unknown scenario ${scenario}`);
    process.exit(2);
  }
  fn().then(
    (r) => {
      process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
} else {
  // ---- parent: namespaces and assertions ---------------------------------------
  const namespaces: string[] = [];

  async function inNetns(name: string): Promise<any> {
    const ns = `nl-${process.pid}-${name}`.slice(0, 30);
    await run("ip", ["netns", "add", ns]);
    namespaces.push(ns);
    try {
      const { stdout } = await run("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", SELF], {
        cwd: ROOT,
        env: { ...process.env, CTSYNC_NL_SCENARIO: name },
        timeout: 120_000,
        maxBuffer: 16 << 20,
      });
      const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
      assert.ok(line, `scenario ${name} printed no RESULT line:\n${stdout}`);
      return JSON.parse(line.slice(7));
    } finally {
      await run("ip", ["netns", "del", ns]).catch(() => {});
      namespaces.splice(namespaces.indexOf(ns), 1);
    }
  }

  before(() => {
    assert.equal(process.getuid?.(), 0, "netlink tests need root (network namespaces, conntrack)");
  });

  after(async () => {
    for (const ns of namespaces.splice(0)) await run("ip", ["netns", "del", ns]).catch(() => {});
  });

  test("addon: clear errors, never a crash", async () => {
    const addon = loadNetlinkAddon();
    assert.throws(() => addon.recvMany(987654, new Uint8Array(1 << 20), 4), (e: any) => e.code === "EBADF" && /recvmmsg/.test(e.message));
    await assert.rejects(addon.sendAsync(987654, new Uint8Array(16), 0, 16), (e: any) => e.code === "EBADF" && /sendAsync/.test(e.message));
    assert.throws(() => addon.sendAsync(3, new Uint8Array(8), 4, 8), RangeError);
    const s = NetlinkSocket.open({}); // host namespace, no groups: harmless
    try {
      assert.throws(() => s.recvInto(new Uint8Array(100)), /smaller than one receive slot/);
      assert.equal(s.recvInto(new Uint8Array(NetlinkSocket.slotDefault)), RECV_AGAIN);
      assert.ok(s.portId > 0);
      assert.equal(s.drops(), 0);
      const grown = s.setRcvBuf(1 << 20);
      assert.ok(grown >= 1 << 20, `rcvbuf ${grown}`);
      assert.throws(() => s.send(new Uint8Array(8), 4, 8), RangeError);
    } finally {
      s.close();
    }
    assert.throws(() => NetlinkSocket.open({ groups: ["nope" as any] }), /unknown group "nope"/);
    assert.throws(() => addon.open({ protocol: 4 }), (e: any) => e instanceof RangeError && /protocol must be/.test(e.message));
    assert.throws(() => NetlinkSocket.open({ protocol: "route", groups: ["conntrack-new"] }), /route socket joins RTNLGRP_LINK only/);
  });

  test("events: conntrack -I gives a NEW event, conntrack -D a DELETE", async () => {
    const r = await inNetns("events");
    const types = r.messages.map((m: any) => m.type);
    const created = r.messages.find((m: any) => m.type === CT_NEW && m.flags & NLM_F_CREATE);
    assert.ok(created, `no IPCTNL_MSG_CT_NEW with NLM_F_CREATE among ${JSON.stringify(types)}`);
    assert.equal(created.family, AF_INET);
    assert.ok(types.includes(CT_DELETE), `no IPCTNL_MSG_CT_DELETE among ${JSON.stringify(types)}`);
    assert.ok(types.indexOf(CT_NEW) < types.indexOf(CT_DELETE));
    assert.ok(r.callbacks >= 1);
    assert.equal(r.drops, 0);
  });

  test("holdOff: events that arrive while the socket is held wait in its buffer and are read in one go after; held again from that callback, the hold goes on; then polling resumes", async () => {
    const r = await inNetns("holdOff");
    assert.ok(r.insertMs < 3000, `the five inserts took ${r.insertMs} ms, longer than the hold`);
    assert.deepEqual(r.duringHold, [], "no callback while held");
    assert.deepEqual(r.afterHold, [5], "one callback with all five events");
    assert.ok(r.secondMs < 5000, `the three inserts ended at ${r.secondMs} ms, after the second hold`);
    assert.deepEqual(r.duringSecond, [5], "no callback during the second hold");
    assert.deepEqual(r.afterSecond, [5, 3], "the second hold's events in one callback");
    assert.deepEqual(r.polledAgain, [5, 3, 1], "after a hold not renewed, an event is read as it comes");
  });

  test("dump: every entry up to NLMSG_DONE, count equals conntrack -L", async () => {
    const r = await inNetns("dump");
    assert.equal(r.witness, 3020);
    assert.equal(r.entries, r.witness);
    assert.ok(r.datagramBatches >= 1);
  });

  test("overrun: a 4 KiB buffer under a 25k burst reports ENOBUFS, stays alive, a dump recovers all", async () => {
    const r = await inNetns("overrun");
    assert.equal(r.alive, true);
    assert.ok(r.codes.includes(RECV_OVERRUN), `recv codes ${JSON.stringify(r.codes)}`);
    assert.ok(r.overruns >= 1 && r.statsOverruns >= 1 && r.overrunEvents === r.overruns);
    assert.ok(r.dropsAfterBurst > 0, "drops column must grow");
    assert.ok(r.eventsRead < r.N, "most events were lost");
    assert.equal(r.eventsAfterOverrun, 1, "polling goes on after an overrun");
    // NETLINK_NO_ENOBUFS: no error reported, but the drops column still counts.
    assert.equal(r.quietOverruns, 0);
    assert.ok(r.quietDrops > 0);
    assert.equal(r.witness, r.N);
    assert.equal(r.dump, r.N + 1);
  });

  test("send batch: 5000 creates with NLM_F_ACK in 20 datagrams, acks read in bulk", async () => {
    const r = await inNetns("sendBatch");
    assert.equal(r.sends, 20);
    assert.equal(r.asyncSends, 10);
    assert.equal(r.acked, r.N);
    assert.equal(r.errors, 0);
    assert.deepEqual(r.dup, [-17]); // EEXIST
    assert.equal(r.witness, r.N);
    assert.ok(r.recvCalls < r.N / 10, `acks should arrive many per call, got ${r.recvCalls} calls`);
  });
}
