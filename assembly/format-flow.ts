// The Stats mode's record of a destroyed flow, from the destroy event in the
// conntrack record and its extras (CTX_*): conntrackd 1.4.7's Stats LogFile
// line (dlog_ct: the stamp the host gives, ctime() and a tab, then
// nfct_snprintf of the event, plain, no flags, its timeout unset), and
// ctsync's JSON line ({"time", "ct", "reply", "counters", "start", "stop",
// "deltaTimeSeconds"}; "ct" and "reply" as in -i -j, times in ISO 8601,
// counters as numbers, or decimal strings beyond 2^53).
import {
  CT_FAMILY, CTX_REPLY, CTX_ORIG_PACKETS, CTX_ORIG_BYTES, CTX_REPL_PACKETS, CTX_REPL_BYTES,
  CTX_TS_START, CTX_TS_STOP, CTXF_REPLY, CTXF_REPLY_L4PROTO, CTXF_ORIG_PACKETS,
  CTXF_ORIG_BYTES, CTXF_REPL_PACKETS, CTXF_REPL_BYTES, CTXF_TS_START, CTXF_TS_STOP,
  TUPLE_SRC, TUPLE_DST, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_DPORT, TUPLE_ICMP_TYPE, TUPLE_ICMP_CODE, TUPLE_ICMP_ID,
} from "./layout";
import { loadBe16, loadBe64 } from "./bytes";
import { Text, putAscii, putByte, putDec, putDec2, putDec64, putKey, putRaw } from "./text";
import { PrintTuple, printTuple, EntryLine } from "./format-parts";
import { originalTuple, putCtText, hasExtras, putJsonCt, putJsonReply } from "./format-ct";

const NSEC: u64 = 1_000_000_000;
/** JSON numbers are exact up to here; larger counters are written as strings. */
const MAX_SAFE: u64 = 9007199254740991;


/** The reply tuple the kernel sent, in the conntrack's family; false when it sent none. */
function kernelReply(rec: usize, x: usize, r: PrintTuple): bool {
  if (!hasExtras(x, CTXF_REPLY)) return false;
  const t = x + CTX_REPLY;
  r.family = load<u8>(rec + CT_FAMILY);
  r.src = t + TUPLE_SRC;
  r.dst = t + TUPLE_DST;
  r.proto = hasExtras(x, CTXF_REPLY_L4PROTO) ? load<u8>(t + TUPLE_L4PROTO) : 0;
  r.sport = loadBe16(t + TUPLE_SPORT);
  r.dport = loadBe16(t + TUPLE_DPORT);
  r.icmpType = load<u8>(t + TUPLE_ICMP_TYPE);
  r.icmpCode = load<u8>(t + TUPLE_ICMP_CODE);
  r.icmpId = loadBe16(t + TUPLE_ICMP_ID);
  return true;
}

/** Whole seconds from the flow's start to its stop (to `nowSec` while it runs), as an unsigned 64-bit number. */
function deltaTime(x: usize, nowSec: u32): u64 {
  const stop = hasExtras(x, CTXF_TS_STOP) ? loadBe64(x + CTX_TS_STOP) : 0;
  const end: u64 = stop != 0 ? stop / NSEC : <u64>nowSec;
  return end - loadBe64(x + CTX_TS_START) / NSEC;
}

/** One Stats LogFile line: the stamp (`stampLen` bytes at `stamp`), the event with its extras, a newline. */
export function formatFlowPlain(t: Text, rec: usize, x: usize, nowSec: u32, stamp: usize, stampLen: u32): void {
  const o = printTuple(0), r = printTuple(1);
  originalTuple(rec, o);
  putRaw(t, stamp, stampLen);
  const started = hasExtras(x, CTXF_TS_START);
  putCtText(t, rec, o, kernelReply(rec, x, r) ? r : null, x, started, started ? deltaTime(x, nowSec) : 0);
  t.len--; // the last field's space
  putByte(t, 0x0a);
}

/** A 64-bit counter as JSON: a number while exact, else a decimal string. */
function putJson64(t: Text, key: string, v: u64, first: bool): void {
  putKey(t, key, first);
  if (v > MAX_SAFE) { putByte(t, 0x22); putDec64(t, v); putByte(t, 0x22); }
  else putDec64(t, v);
}

function putJsonDirection(t: Text, key: string, x: usize, pAt: u32, bAt: u32, first: bool): void {
  putKey(t, key, first);
  putByte(t, 0x7b);
  putJson64(t, "packets", loadBe64(x + pAt), true);
  putJson64(t, "bytes", loadBe64(x + bAt), false);
  putByte(t, 0x7d);
}

/** {"orig": {...}, "reply": {...}}, each direction when the event carries it; nothing when neither. */
function putJsonCounters(t: Text, x: usize): void {
  const orig = hasExtras(x, CTXF_ORIG_PACKETS | CTXF_ORIG_BYTES), repl = hasExtras(x, CTXF_REPL_PACKETS | CTXF_REPL_BYTES);
  if (!orig && !repl) return;
  putKey(t, "counters", false);
  putByte(t, 0x7b);
  if (orig) putJsonDirection(t, "orig", x, CTX_ORIG_PACKETS, CTX_ORIG_BYTES, true);
  if (repl) putJsonDirection(t, "reply", x, CTX_REPL_PACKETS, CTX_REPL_BYTES, !orig);
  putByte(t, 0x7d);
}

/** Date.prototype.toISOString of `ms` since the epoch: YYYY-MM-DDTHH:MM:SS.mmmZ (years 0 to 9999). */
export function putIsoTime(t: Text, ms: u64): void {
  const days = <i64>(ms / 86_400_000);
  const inDay = <u32>(ms % 86_400_000);
  // Civil from days (H. Hinnant's algorithm), the epoch being 1970-01-01.
  const z = days + 719468;
  const era = z / 146097;
  const doe = <u32>(z - era * 146097);
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const day = doy - (153 * mp + 2) / 5 + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = <u32>(<i64>yoe + era * 400) + (month <= 2 ? 1 : 0);
  putDec2(t, year / 100); putDec2(t, year % 100); putByte(t, 0x2d);
  putDec2(t, month); putByte(t, 0x2d); putDec2(t, day); putByte(t, 0x54);
  putDec2(t, inDay / 3_600_000); putByte(t, 0x3a);
  putDec2(t, inDay / 60_000 % 60); putByte(t, 0x3a);
  putDec2(t, inDay / 1000 % 60); putByte(t, 0x2e);
  const msPart = inDay % 1000;
  putDec(t, msPart / 100); putDec2(t, msPart % 100);
  putByte(t, 0x5a);
}

function putJsonTime(t: Text, key: string, ns: u64): void {
  if (ns == 0) return;
  putKey(t, key, false);
  putByte(t, 0x22); putIsoTime(t, ns / 1_000_000); putByte(t, 0x22);
}

/** One JSON line; `nowMs` the time of writing. */
export function formatFlowJson(t: Text, rec: usize, x: usize, nowMs: u64, line: EntryLine): void {
  const r = printTuple(1);
  putByte(t, 0x7b);
  putKey(t, "time", true);
  putByte(t, 0x22); putIsoTime(t, nowMs); putByte(t, 0x22);
  putKey(t, "ct", false);
  putJsonCt(t, rec, line, false);
  if (kernelReply(rec, x, r)) { putKey(t, "reply", false); putJsonReply(t, r); }
  putJsonCounters(t, x);
  if (hasExtras(x, CTXF_TS_START)) putJsonTime(t, "start", loadBe64(x + CTX_TS_START));
  if (hasExtras(x, CTXF_TS_STOP)) putJsonTime(t, "stop", loadBe64(x + CTX_TS_STOP));
  if (hasExtras(x, CTXF_TS_START)) putJson64(t, "deltaTimeSeconds", deltaTime(x, <u32>(nowMs / 1000)), false);
  putAscii(t, "}\n");
}
