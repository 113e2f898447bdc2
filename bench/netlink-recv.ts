// Event receive rate of the ctnetlink socket (host/kernel/netlink.ts): a second
// process creates N conntracks as fast as batched ctnetlink requests allow
// while this one reads the NEW events. Each run has a fresh network namespace
// (nl-bench-<pid>-<run>). Needs root.
//
//   tsx bench/netlink-recv.ts [N ...]        (default: 50000 200000)
//
// Modes: "batch64" reads recvMany(fd, buf, 64) once per poll callback (the
// poll is level triggered, so it fires again while data is queued);
// "per-datagram" reads one datagram per callback, i.e. one JS callback per
// event as with the npm `netlink` package; "drain" loops recvMany(64) until
// EAGAIN inside each callback. The "backlog-" modes let the whole burst queue
// up first (the loop is blocked, the buffer is 512 MiB) and then time the
// drain alone: the read path's capacity, not the producer's rate.
import { execFile, spawn, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { endianness } from "node:os";
import { promisify } from "node:util";
import { NetlinkSocket, RECV_AGAIN } from "../host/kernel/netlink.ts";

const run = promisify(execFile);
const SELF = fileURLToPath(import.meta.url);
const ROOT = resolve(dirname(SELF), "..");
const LE = endianness() === "LE";
const RCVBUF = 8 << 20; // conntrackd's NetlinkBufferSize ceilings are of this order
type Mode = "batch64" | "per-datagram" | "drain" | "backlog-batch64" | "backlog-per-datagram";
const BACKLOG_RCVBUF = 512 << 20; // room for the whole burst: nothing dropped while not reading

// ---- creator: N IPCTNL_MSG_CT_NEW requests, 1000 per datagram ---------------------

function creator(n: number): void {
  const s = NetlinkSocket.open({ rcvbuf: 1 << 20 });
  const buf = new Uint8Array(1000 * 160);
  const dv = new DataView(buf.buffer);
  let pos = 0;
  const attr = (type: number, write: () => number): void => {
    const at = pos;
    dv.setUint16(at + 2, type, LE);
    pos += 4;
    pos += write();
    dv.setUint16(at, pos - at, LE);
    pos = (pos + 3) & ~3;
  };
  const nest = (type: number, body: () => void): void => attr(type | 0x8000, () => { const p = pos; body(); return pos - p; });
  const tuple = (type: number, src: number, dst: number, sp: number, dp: number): void =>
    nest(type, () => {
      nest(1, () => {
        attr(1, () => (dv.setUint32(pos, src >>> 0), 4));
        attr(2, () => (dv.setUint32(pos, dst >>> 0), 4));
      });
      nest(2, () => {
        attr(1, () => (dv.setUint8(pos, 17), 1));
        attr(2, () => (dv.setUint16(pos, sp), 2));
        attr(3, () => (dv.setUint16(pos, dp), 2));
      });
    });
  for (let i = 0; i < n; ) {
    pos = 0;
    const end = Math.min(n, i + 1000);
    for (; i < end; i++) {
      const at = pos;
      dv.setUint16(at + 4, (1 << 8) | 0, LE); // IPCTNL_MSG_CT_NEW
      dv.setUint16(at + 6, 0x1 | 0x200 | 0x400, LE); // REQUEST | EXCL | CREATE
      dv.setUint32(at + 8, i, LE);
      dv.setUint32(at + 12, 0, LE);
      dv.setUint32(at + 16, 0x02000000, false); // AF_INET, v0, res_id 0
      pos += 20;
      const src = (10 << 24) | (i & 0xffffff), dst = 0xc6336401, sp = 1000, dp = 53;
      tuple(1, src, dst, sp, dp);
      tuple(2, dst, src, dp, sp);
      attr(7, () => (dv.setUint32(pos, 600), 4)); // CTA_TIMEOUT
      attr(3, () => (dv.setUint32(pos, 0xe), 4)); // CTA_STATUS: CONFIRMED | SEEN_REPLY | ASSURED
      dv.setUint32(at, pos - at, LE);
    }
    if (s.send(buf, 0, pos) !== pos) throw new Error("creator: short send");
  }
  s.close();
}

// ---- reader ---------------------------------------------------------------------

interface Row {
  mode: Mode;
  n: number;
  received: number;
  seconds: number;
  eventsPerSec: number;
  callbacks: number;
  overruns: number;
  drops: number;
  createSeconds: number;
}

async function reader(mode: Mode, n: number): Promise<Row> {
  const backlog = mode.startsWith("backlog-");
  const s = NetlinkSocket.open({ groups: ["conntrack-new"], rcvbuf: backlog ? BACKLOG_RCVBUF : RCVBUF, force: true });
  const buf = new Uint8Array(64 * NetlinkSocket.slotDefault);
  const max = mode.endsWith("per-datagram") ? 1 : 64;
  let received = 0, callbacks = 0, first = 0n, last = 0n;
  const count = (bytes: number): void => {
    // Count messages by their nlmsghdr lengths; parsing is the core's job.
    for (let o = 0; o < bytes; ) {
      const len = buf[o]! | (buf[o + 1]! << 8) | (buf[o + 2]! << 16) | (buf[o + 3]! << 24);
      o += (len + 3) & ~3;
      received++;
    }
  };
  const creatorArgs = ["--import", "tsx", SELF];
  const creatorEnv = { ...process.env, CTSYNC_NL_BENCH: "creator", CTSYNC_NL_N: String(n) };
  const t0 = process.hrtime.bigint();
  let createSeconds = 0;
  if (backlog) {
    const r = spawnSync(process.execPath, creatorArgs, { cwd: ROOT, env: creatorEnv, stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`creator exited with ${r.status}`);
    createSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  }
  s.onReadable(() => {
    callbacks++;
    if (first === 0n) first = process.hrtime.bigint();
    do {
      const got = s.recvInto(buf, max);
      if (got === RECV_AGAIN) break;
      if (got > 0) count(got);
    } while (mode === "drain");
    last = process.hrtime.bigint();
  });
  if (!backlog) {
    const child = spawn(process.execPath, creatorArgs, { cwd: ROOT, env: creatorEnv, stdio: ["ignore", "inherit", "inherit"] });
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    createSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (code !== 0) throw new Error(`creator exited with ${code}`);
  }
  // Wait until all N arrived or nothing new came for 500 ms.
  for (let seen = -1; received < n && seen !== received; ) {
    seen = received;
    await new Promise((r) => setTimeout(r, 500));
  }
  const seconds = Number(last - first) / 1e9;
  const row: Row = {
    mode, n, received, seconds, eventsPerSec: received / seconds, callbacks,
    overruns: s.overruns, drops: s.drops(), createSeconds,
  };
  s.close();
  return row;
}

// ---- entry ------------------------------------------------------------------------

const role = process.env.CTSYNC_NL_BENCH;
if (role === "creator") {
  creator(Number(process.env.CTSYNC_NL_N));
} else if (role === "reader") {
  const row = await reader(process.env.CTSYNC_NL_MODE as Mode, Number(process.env.CTSYNC_NL_N));
  process.stdout.write(`RESULT ${JSON.stringify(row)}\n`);
} else {
  const sizes = process.argv.slice(2).map(Number).filter((x) => x > 0);
  const rows: Row[] = [];
  let k = 0;
  for (const n of sizes.length ? sizes : [50_000, 200_000]) {
    for (const mode of ["batch64", "drain", "per-datagram", "backlog-batch64", "backlog-per-datagram"] as Mode[]) {
      const ns = `nl-bench-${process.pid}-${k++}`;
      await run("ip", ["netns", "add", ns]);
      try {
        const { stdout } = await run("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", SELF], {
          cwd: ROOT,
          env: { ...process.env, CTSYNC_NL_BENCH: "reader", CTSYNC_NL_MODE: mode, CTSYNC_NL_N: String(n) },
          timeout: 300_000,
        });
        const line = stdout.split("\n").find((l) => l.startsWith("RESULT "));
        if (!line) throw new Error(`no result from ${mode} ${n}: ${stdout}`);
        rows.push(JSON.parse(line.slice(7)));
      } finally {
        await run("ip", ["netns", "del", ns]).catch(() => {});
      }
    }
  }
  const fmt = (x: number, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
  console.log(`netlink event receive, rcvbuf ${RCVBUF >> 20} MiB (backlog: ${BACKLOG_RCVBUF >> 20} MiB), creator: 1000 CT_NEW per datagram from a second process`);
  console.log("| mode | N | received | seconds | events/s | callbacks | overruns | drops | creator s |");
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const r of rows)
    console.log(`| ${r.mode} | ${fmt(r.n)} | ${fmt(r.received)} | ${fmt(r.seconds, 3)} | ${fmt(r.eventsPerSec)} | ${fmt(r.callbacks)} | ${r.overruns} | ${fmt(r.drops)} | ${fmt(r.createSeconds, 3)} |`);
}
