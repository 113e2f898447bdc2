// The Stats mode's record of a destroyed flow, as conntrackd 1.4.7 writes it
// to its Stats LogFile (dlog_ct): the time as ctime() prints it, a tab, then
// libnetfilter_conntrack's nfct_snprintf of the destroy event (plain, no
// flags, the timeout removed), and a newline:
//
//   Sun Nov 29 17:56:36 2026\ttcp      6 TIME_WAIT src=... packets=5 bytes=280 src=... [ASSURED] delta-time=2
//
// The destroy event is the kernel's, not the cached entry: its own reply
// tuple, its accounting counters (nf_conntrack_acct) and its timestamps
// (nf_conntrack_timestamp, printed as delta-time). The core leaves them in
// the conntrack record and its extras (CTX_* of assembly/layout.ts).
//
// ctsync can also write the same records as JSON lines (JSONLogFile): one
// object per flow, with -i -j's field names (assembly/format-ct.ts) and the counters.
import type { Core } from "../core.ts";
import type { Conntrack, Family } from "../record-view.ts";
import { formatAddr } from "../record-view.ts";
import { ctime } from "../process/log.ts";
import { assuredText, originalTuple } from "../formats/ct.ts";
import {
  DCCP_STATES, SCTP_STATES, TCP_STATES, addressText, l4Name, l4Text, stateName, type PrintTuple,
} from "../formats/proto.ts";
import { replyJson, toJson } from "../formats/json.ts";

const IPS_SEEN_REPLY = 1 << 1;
const NSEC = 1_000_000_000n;

/** What a destroy event carries beside the record. */
export interface FlowExtras {
  /** The reply tuple the kernel sent; null when it sent none. */
  reply: PrintTuple | null;
  orig?: { packets: bigint; bytes: bigint };
  repl?: { packets: bigint; bytes: bigint };
  /** Nanoseconds since the epoch. */
  start?: bigint;
  stop?: bigint;
  secmark?: number;
  use?: number;
}

/** The extras' layout, read from the core's constants once per core (this runs once per logged flow). */
type ExtrasLayout = Record<(typeof LAYOUT_NAMES)[number], number>;
const LAYOUT_NAMES = [
  "CTX_PRESENT", "CTX_REPLY", "CTX_ORIG_PACKETS", "CTX_ORIG_BYTES", "CTX_REPL_PACKETS", "CTX_REPL_BYTES",
  "CTX_TS_START", "CTX_TS_STOP", "CTX_SECMARK", "CTX_USE", "CTXF_REPLY", "CTXF_REPLY_L4PROTO",
  "CTXF_ORIG_PACKETS", "CTXF_ORIG_BYTES", "CTXF_REPL_PACKETS", "CTXF_REPL_BYTES", "CTXF_TS_START",
  "CTXF_TS_STOP", "CTXF_SECMARK", "CTXF_USE", "TUPLE_SRC", "TUPLE_DST", "TUPLE_L4PROTO", "TUPLE_SPORT",
  "TUPLE_DPORT", "TUPLE_ICMP_TYPE", "TUPLE_ICMP_CODE", "TUPLE_ICMP_ID",
] as const;
const layouts = new WeakMap<Core, ExtrasLayout>();

function layoutOf(core: Core): ExtrasLayout {
  let l = layouts.get(core);
  if (!l) {
    l = Object.fromEntries(LAYOUT_NAMES.map((n) => [n, core.k(n)])) as ExtrasLayout;
    layouts.set(core, l);
  }
  return l;
}

/** Reads the core's extras (ctExtrasPtr) of the conntrack just decoded. */
export function readExtras(core: Core, family: Family): FlowExtras {
  const L = layoutOf(core);
  const base = core.fn.ctExtrasPtr();
  const dv = core.view;
  const b = core.bytes;
  const p = dv.getUint32(base + L.CTX_PRESENT, true);
  const x: FlowExtras = { reply: null };
  if (p & L.CTXF_REPLY) {
    const t = base + L.CTX_REPLY;
    x.reply = {
      family,
      src: formatAddr(b.subarray(t + L.TUPLE_SRC), family),
      dst: formatAddr(b.subarray(t + L.TUPLE_DST), family),
      l4proto: p & L.CTXF_REPLY_L4PROTO ? b[t + L.TUPLE_L4PROTO] : 0,
      sport: dv.getUint16(t + L.TUPLE_SPORT),
      dport: dv.getUint16(t + L.TUPLE_DPORT),
      icmp: { type: b[t + L.TUPLE_ICMP_TYPE], code: b[t + L.TUPLE_ICMP_CODE], id: dv.getUint16(t + L.TUPLE_ICMP_ID) },
    };
  }
  if ((p & L.CTXF_ORIG_PACKETS) && (p & L.CTXF_ORIG_BYTES)) {
    x.orig = { packets: dv.getBigUint64(base + L.CTX_ORIG_PACKETS), bytes: dv.getBigUint64(base + L.CTX_ORIG_BYTES) };
  }
  if ((p & L.CTXF_REPL_PACKETS) && (p & L.CTXF_REPL_BYTES)) {
    x.repl = { packets: dv.getBigUint64(base + L.CTX_REPL_PACKETS), bytes: dv.getBigUint64(base + L.CTX_REPL_BYTES) };
  }
  if (p & L.CTXF_TS_START) x.start = dv.getBigUint64(base + L.CTX_TS_START);
  if (p & L.CTXF_TS_STOP) x.stop = dv.getBigUint64(base + L.CTX_TS_STOP);
  if (p & L.CTXF_SECMARK) x.secmark = dv.getUint32(base + L.CTX_SECMARK);
  if (p & L.CTXF_USE) x.use = dv.getUint32(base + L.CTX_USE);
  return x;
}

function counters(c: { packets: bigint; bytes: bigint } | undefined): string {
  return c ? `packets=${c.packets} bytes=${c.bytes} ` : "";
}

/** "src=A dst=B ": IPv4 as the record view writes it already (inet_ntoa's form); IPv6 through printAddr. */
function addresses(t: PrintTuple): string {
  return t.family === "ipv4" ? `src=${t.src} dst=${t.dst} ` : addressText(t, "src", "dst");
}

/** delta-time: whole seconds from start to stop (to now while the flow lives), as an unsigned 64-bit number. */
export function deltaTime(start: bigint, stop: bigint | undefined, nowSec: number): bigint {
  const end = stop !== undefined && stop !== 0n ? stop / NSEC : BigInt(nowSec);
  return BigInt.asUintN(64, end - start / NSEC);
}

/** nfct_snprintf(NFCT_O_PLAIN, no flags) of a destroy event whose timeout is unset. */
export function flowText(ct: Conntrack, x: FlowExtras, nowSec: number): string {
  const orig = originalTuple(ct);
  const st = ct.status;
  let s = `${l4Name(ct.l4proto).padEnd(8)} ${ct.l4proto} `;
  if (ct.tcpState !== undefined) s += `${stateName(TCP_STATES, ct.tcpState)} `;
  if (ct.sctp?.state !== undefined) s += `${stateName(SCTP_STATES, ct.sctp.state)} `;
  if (ct.dccp?.state !== undefined) s += `${stateName(DCCP_STATES, ct.dccp.state)} `;
  s += addresses(orig) + l4Text(orig);
  s += counters(x.orig);
  if (st !== undefined && !(st & IPS_SEEN_REPLY)) s += "[UNREPLIED] ";
  if (x.reply) s += addresses(x.reply) + l4Text(x.reply);
  s += counters(x.repl);
  if (st !== undefined) s += assuredText(st);
  if (ct.mark !== undefined) s += `mark=${ct.mark} `;
  if (x.secmark !== undefined) s += `secmark=${x.secmark} `;
  if (ct.zone !== undefined) s += `zone=${ct.zone} `;
  if (x.start !== undefined) s += `delta-time=${deltaTime(x.start, x.stop, nowSec)} `;
  if (ct.helper !== undefined) s += `helper=${ct.helper} `;
  if (x.use !== undefined) s += `use=${x.use} `;
  return s.slice(0, -1);
}

/** One line of the Stats LogFile, newline included; `prefix` (linePrefix(now)) saves a ctime() per line of a batch. */
export function flowLine(ct: Conntrack, x: FlowExtras, now: Date, prefix = linePrefix(now)): string {
  return `${prefix}${flowText(ct, x, Math.floor(now.getTime() / 1000))}\n`;
}

/** The date and tab that start each line written at `now`. */
export function linePrefix(now: Date): string {
  return `${ctime(now)}\t`;
}

/**
 * One JSON line: {"time", "ct", "reply", "counters", "start", "stop",
 * "deltaTimeSeconds"}; "ct" and "reply" as in -i -j, times in ISO 8601, counters
 * as numbers (decimal strings beyond 2^53). Absent facts are left out.
 */
export function flowJson(ct: Conntrack, x: FlowExtras, now: Date): string {
  const iso = (ns: bigint | undefined) => (ns === undefined || ns === 0n ? undefined : new Date(Number(ns / 1_000_000n)).toISOString());
  const nowSec = Math.floor(now.getTime() / 1000);
  const { timeout: _timeout, ...rest } = ct;
  return toJson({
    time: now.toISOString(),
    ct: rest,
    reply: x.reply ? replyJson(x.reply) : undefined,
    counters: x.orig || x.repl ? { orig: x.orig, reply: x.repl } : undefined,
    start: iso(x.start),
    stop: iso(x.stop),
    deltaTimeSeconds: x.start !== undefined ? deltaTime(x.start, x.stop, nowSec) : undefined,
  }) + "\n";
}
