// One conntrack record as `conntrackd -i` prints it: libnetfilter_conntrack's
// nfct_snprintf (plain or XML, no flags) without the timeout, then
// conntrackd's " [expires in Ns]" (ALARM's external cache) and
// " [active since Ns]" (plain only); or as ctsync's JSON answer
// ({"ageSeconds", "expiresInSeconds", "deltaTimeSeconds", "ct", "reply"},
// host/control/requests.ts documents it). The reply tuple is not stored: it
// is the original reversed, with the NAT applied.
import {
  CT_PRESENT, CT_MASTER, CT_FAMILY, CT_L4PROTO, CT_SPORT, CT_DPORT, CT_SRC, CT_DST,
  CT_ICMP_TYPE, CT_ICMP_CODE, CT_ICMP_ID, CT_TCP_STATE, CT_WSCALE_ORIG, CT_WSCALE_REPL,
  CT_TCP_FLAGS_ORIG, CT_TCP_FLAGS_REPL, CT_SCTP_STATE, CT_SCTP_VTAG_ORIG, CT_SCTP_VTAG_REPL,
  CT_DCCP_STATE, CT_DCCP_ROLE, CT_STATUS, CT_TIMEOUT, CT_MARK, CT_ZONE, CT_SNAT, CT_DNAT,
  CT_SPAT, CT_DPAT, CT_NATSEQ, CT_SYNPROXY, CT_HELPER, CT_HELPER_LEN, CT_LABELS, CT_LABELS_LEN, CT_ID,
  CTF_L4PROTO, CTF_PORTS, CTF_ICMP_TYPE, CTF_ICMP_CODE, CTF_ICMP_ID, CTF_TCP_STATE, CTF_WSCALE_ORIG,
  CTF_WSCALE_REPL, CTF_TCP_FLAGS, CTF_SCTP_STATE, CTF_SCTP_VTAG_ORIG, CTF_SCTP_VTAG_REPL,
  CTF_DCCP_STATE, CTF_DCCP_ROLE, CTF_STATUS, CTF_TIMEOUT, CTF_MARK, CTF_ZONE, CTF_MASTER,
  CTF_MASTER_SHIFT, CTF_SNAT, CTF_DNAT, CTF_SPAT, CTF_DPAT, CTF_NATSEQ, CTF_SYNPROXY,
  CTF_HELPER, CTF_LABELS, CTF_ID, IPS_SEEN_REPLY, IPS_ASSURED, IPS_OFFLOAD, IPS_HW_OFFLOAD,
  CTX_PRESENT, CTX_ORIG_PACKETS, CTX_ORIG_BYTES, CTX_REPL_PACKETS, CTX_REPL_BYTES, CTX_SECMARK, CTX_USE,
  CTXF_ORIG_PACKETS, CTXF_ORIG_BYTES, CTXF_REPL_PACKETS, CTXF_REPL_BYTES, CTXF_SECMARK, CTXF_USE,
} from "./layout";
import { loadBe16, loadBe32, loadBe64 } from "./bytes";
import { Text, putAscii, putByte, putDec, putDec64, putHex2, putKey, putJsonString, putPadded, putRaw } from "./text";
import {
  PrintTuple, printTuple, l4Name, familyName, hasPorts, isIcmp, putAddrText, putL4Text, putAddrXml,
  putL4Xml, putProtoAttrs, putJsonAddr, putJsonNum, putJsonTuple, EntryLine, putSuffix,
} from "./format-parts";


const TCP_STATES: StaticArray<string> = [
  "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
  "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
];
const SCTP_STATES: StaticArray<string> = [
  "NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
  "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED",
];
const DCCP_STATES: StaticArray<string> = [
  "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID",
];

/** Out-of-range states print as the table's NONE. */
function stateName(table: StaticArray<string>, state: u32): string {
  return state < <u32>table.length ? table[state] : table[0];
}

@inline function present(rec: usize): u32 {
  return load<u32>(rec + CT_PRESENT);
}

/** The original tuple; absent ports and ICMP fields are 0. */
export function originalTuple(rec: usize, o: PrintTuple): void {
  const p = present(rec);
  o.family = load<u8>(rec + CT_FAMILY);
  o.src = rec + CT_SRC;
  o.dst = rec + CT_DST;
  o.proto = p & CTF_L4PROTO ? load<u8>(rec + CT_L4PROTO) : 0;
  o.sport = p & CTF_PORTS ? loadBe16(rec + CT_SPORT) : 0;
  o.dport = p & CTF_PORTS ? loadBe16(rec + CT_DPORT) : 0;
  o.icmpType = p & CTF_ICMP_TYPE ? load<u8>(rec + CT_ICMP_TYPE) : 0;
  o.icmpCode = p & CTF_ICMP_CODE ? load<u8>(rec + CT_ICMP_CODE) : 0;
  o.icmpId = p & CTF_ICMP_ID ? loadBe16(rec + CT_ICMP_ID) : 0;
}

/**
 * The reply direction: a DNAT address is the reply's source, an SNAT address
 * its destination, likewise the ports. ICMP keeps its id and code; a request
 * type becomes its answer's, and a type without one prints 255, as
 * libnetfilter_conntrack's setter leaves it.
 */
function replyTuple(rec: usize, o: PrintTuple, r: PrintTuple): void {
  const p = present(rec);
  r.family = o.family;
  r.src = p & CTF_DNAT ? rec + CT_DNAT : o.dst;
  r.dst = p & CTF_SNAT ? rec + CT_SNAT : o.src;
  r.proto = o.proto;
  r.sport = p & CTF_DPAT ? loadBe16(rec + CT_DPAT) : o.dport;
  r.dport = p & CTF_SPAT ? loadBe16(rec + CT_SPAT) : o.sport;
  r.icmpType = icmpAnswer(o.family, o.icmpType);
  r.icmpCode = o.icmpCode;
  r.icmpId = o.icmpId;
}

/** libnetfilter_conntrack's invmap: echo, timestamp, info and address-mask requests and answers. */
function icmpAnswer(family: u32, type: u32): u32 {
  if (family == 10) {
    if (type == 128 || type == 139) return type + 1;
    if (type == 129 || type == 140) return type - 1;
    return 255;
  }
  if (type == 8) return 0;
  if (type == 0) return 8;
  if (type >= 13 && type <= 18) return type & 1 ? type + 1 : type - 1;
  return 255;
}

function putAssured(t: Text, status: u32): void {
  if (status & IPS_HW_OFFLOAD) putAscii(t, "[HW_OFFLOAD] ");
  else if (status & IPS_OFFLOAD) putAscii(t, "[OFFLOAD] ");
  else if (status & IPS_ASSURED) putAscii(t, "[ASSURED] ");
}

function putTagged(t: Text, tag: string, v: u32): void {
  putAscii(t, tag); putDec(t, v); putByte(t, 0x20);
}

function putProtoStates(t: Text, rec: usize): void {
  const p = present(rec);
  if (p & CTF_TCP_STATE) { putAscii(t, stateName(TCP_STATES, load<u8>(rec + CT_TCP_STATE))); putByte(t, 0x20); }
  if (p & CTF_SCTP_STATE) { putAscii(t, stateName(SCTP_STATES, load<u8>(rec + CT_SCTP_STATE))); putByte(t, 0x20); }
  if (p & CTF_DCCP_STATE) { putAscii(t, stateName(DCCP_STATES, load<u8>(rec + CT_DCCP_STATE))); putByte(t, 0x20); }
}

/** Whether the extras at `x` (0: none, a cached entry) hold every one of `bits`. */
@inline export function hasExtras(x: usize, bits: u32): bool { return x != 0 && (load<u32>(x + CTX_PRESENT) & bits) == bits; }

/** "packets=N bytes=N " of one direction, when a destroy event carries both. */
function putCounters(t: Text, x: usize, pBit: u32, bBit: u32, pAt: u32, bAt: u32): void {
  if (!hasExtras(x, pBit | bBit)) return;
  putAscii(t, "packets="); putDec64(t, loadBe64(x + pAt));
  putAscii(t, " bytes="); putDec64(t, loadBe64(x + bAt)); putByte(t, 0x20);
}

/**
 * libnetfilter_conntrack's nfct_snprintf(NFCT_O_DEFAULT, no flags) without the
 * timeout, up to its last field's space: the record, the reply tuple `r` to
 * print (null: none), what a destroy event adds beside the record (`x`, its
 * extras: counters, secmark, use; 0 for a cached entry), and delta-time
 * when `hasDelta`. The dumps and the Stats log both print through here.
 */
export function putCtText(t: Text, rec: usize, o: PrintTuple, r: PrintTuple | null, x: usize, hasDelta: bool, deltaTime: u64): void {
  const p = present(rec);
  putPadded(t, l4Name(o.proto), 8); putByte(t, 0x20); putDec(t, o.proto); putByte(t, 0x20);
  putProtoStates(t, rec);
  putAddrText(t, o, "src", "dst"); putL4Text(t, o);
  putCounters(t, x, CTXF_ORIG_PACKETS, CTXF_ORIG_BYTES, CTX_ORIG_PACKETS, CTX_ORIG_BYTES);
  const status = loadBe32(rec + CT_STATUS);
  if (p & CTF_STATUS && !(status & IPS_SEEN_REPLY)) putAscii(t, "[UNREPLIED] ");
  if (r) { putAddrText(t, r, "src", "dst"); putL4Text(t, r); }
  putCounters(t, x, CTXF_REPL_PACKETS, CTXF_REPL_BYTES, CTX_REPL_PACKETS, CTX_REPL_BYTES);
  if (p & CTF_STATUS) putAssured(t, status);
  if (p & CTF_MARK) putTagged(t, "mark=", loadBe32(rec + CT_MARK));
  if (hasExtras(x, CTXF_SECMARK)) putTagged(t, "secmark=", loadBe32(x + CTX_SECMARK));
  if (p & CTF_ZONE) putTagged(t, "zone=", loadBe16(rec + CT_ZONE));
  if (hasDelta) { putAscii(t, "delta-time="); putDec64(t, deltaTime); putByte(t, 0x20); }
  if (p & CTF_HELPER) { putAscii(t, "helper="); putRaw(t, rec + CT_HELPER, load<u8>(rec + CT_HELPER_LEN)); putByte(t, 0x20); }
  if (hasExtras(x, CTXF_USE)) putTagged(t, "use=", loadBe32(x + CTX_USE));
}

/** A -i/-e line: the conntrack's text (the reply derived from the original and the NAT), then the suffixes. */
export function formatCtPlain(t: Text, rec: usize, line: EntryLine): void {
  const o = printTuple(0), r = printTuple(1);
  originalTuple(rec, o);
  replyTuple(rec, o, r);
  putCtText(t, rec, o, line.withReply ? r : null, 0, line.deltaTime >= 0, <u64>line.deltaTime);
  t.len--; // the last field's space
  putSuffix(t, line.expires, line.age);
}

function putTupleXml(t: Text, p: PrintTuple, direction: string): void {
  putAscii(t, "<meta direction=\""); putAscii(t, direction); putAscii(t, "\"><layer3");
  putProtoAttrs(t, p.family == 10 ? 10 : 2, familyName(p.family));
  putAddrXml(t, p);
  putAscii(t, "</layer3><layer4");
  putProtoAttrs(t, p.proto, l4Name(p.proto));
  putL4Xml(t, p);
  putAscii(t, "</layer4></meta>");
}

function putElement(t: Text, name: string, v: u32): void {
  putByte(t, 0x3c); putAscii(t, name); putByte(t, 0x3e);
  putDec(t, v);
  putAscii(t, "</"); putAscii(t, name); putByte(t, 0x3e);
}

function putStateXml(t: Text, state: u32): void {
  putAscii(t, "<state>"); putAscii(t, stateName(TCP_STATES, state)); putAscii(t, "</state>");
}

/** The record's kernel id, or the Stats cache's; 0 when it has none. */
function entryId(rec: usize, line: EntryLine): u32 {
  if (line.id != 0) return line.id;
  return present(rec) & CTF_ID ? loadBe32(rec + CT_ID) : 0;
}

/**
 * The "independent" meta block, opened only when one of its fields (or the
 * labels, which it does not print) is set. libnetfilter_conntrack names
 * SCTP and DCCP states from its TCP table here (a quirk of 1.0.x kept for
 * equal output).
 */
function putIndependentXml(t: Text, rec: usize, line: EntryLine): void {
  const p = present(rec);
  const id = entryId(rec, line);
  const opened = (p & (CTF_TCP_STATE | CTF_SCTP_STATE | CTF_DCCP_STATE | CTF_MARK | CTF_ZONE | CTF_STATUS | CTF_LABELS)) != 0
    || id != 0 || line.deltaTime >= 0;
  if (!opened) return;
  putAscii(t, "<meta direction=\"independent\">");
  if (p & CTF_TCP_STATE) putStateXml(t, load<u8>(rec + CT_TCP_STATE));
  if (p & CTF_SCTP_STATE) putStateXml(t, load<u8>(rec + CT_SCTP_STATE));
  if (p & CTF_DCCP_STATE) putStateXml(t, load<u8>(rec + CT_DCCP_STATE));
  if (p & CTF_MARK) putElement(t, "mark", loadBe32(rec + CT_MARK));
  if (p & CTF_ZONE) putElement(t, "zone", loadBe16(rec + CT_ZONE));
  if (id != 0) putElement(t, "id", id);
  const status = loadBe32(rec + CT_STATUS);
  if (p & CTF_STATUS && status & IPS_ASSURED) putAscii(t, "<assured/>");
  if (p & CTF_STATUS && !(status & IPS_SEEN_REPLY)) putAscii(t, "<unreplied/>");
  if (line.deltaTime >= 0) putElement(t, "deltatime", <u32>line.deltaTime);
  putAscii(t, "</meta>");
}

/** nfct_snprintf(NFCT_O_XML) without the timeout, and a newline. */
export function formatCtXml(t: Text, rec: usize, line: EntryLine): void {
  const o = printTuple(0), r = printTuple(1);
  originalTuple(rec, o);
  replyTuple(rec, o, r);
  putAscii(t, "<flow>");
  putTupleXml(t, o, "original");
  if (line.withReply) putTupleXml(t, r, "reply");
  putIndependentXml(t, rec, line);
  if (present(rec) & CTF_HELPER) {
    putAscii(t, "<helper>"); putRaw(t, rec + CT_HELPER, load<u8>(rec + CT_HELPER_LEN)); putAscii(t, "</helper>");
  }
  putAscii(t, "</flow>\n");
}

// ---- JSON -----------------------------------------------------------------------

function putJsonU8(t: Text, key: string, rec: usize, off: u32, first: bool): void {
  putJsonNum(t, key, load<u8>(rec + off), first);
}

function putJsonBe32List(t: Text, key: string, at: usize, n: u32): void {
  putKey(t, key, false);
  putByte(t, 0x5b);
  for (let i: u32 = 0; i < n; i++) {
    if (i != 0) putByte(t, 0x2c);
    putDec(t, loadBe32(at + 4 * i));
  }
  putByte(t, 0x5d);
}

// The protocol objects of the JSON ({"type","code","id"}, {"state","vtagOrig",
// "vtagRepl"}, {"state","role"}) hold only the members the record has.

function putJsonIcmp(t: Text, rec: usize, p: u32): void {
  putKey(t, "icmp", false);
  putByte(t, 0x7b);
  let first = true;
  if (p & CTF_ICMP_TYPE) { putJsonU8(t, "type", rec, CT_ICMP_TYPE, first); first = false; }
  if (p & CTF_ICMP_CODE) { putJsonU8(t, "code", rec, CT_ICMP_CODE, first); first = false; }
  if (p & CTF_ICMP_ID) putJsonNum(t, "id", loadBe16(rec + CT_ICMP_ID), first);
  putByte(t, 0x7d);
}

function putJsonSctp(t: Text, rec: usize, p: u32): void {
  putKey(t, "sctp", false);
  putByte(t, 0x7b);
  let first = true;
  if (p & CTF_SCTP_STATE) { putJsonU8(t, "state", rec, CT_SCTP_STATE, first); first = false; }
  if (p & CTF_SCTP_VTAG_ORIG) { putJsonNum(t, "vtagOrig", loadBe32(rec + CT_SCTP_VTAG_ORIG), first); first = false; }
  if (p & CTF_SCTP_VTAG_REPL) putJsonNum(t, "vtagRepl", loadBe32(rec + CT_SCTP_VTAG_REPL), first);
  putByte(t, 0x7d);
}

function putJsonDccp(t: Text, rec: usize, p: u32): void {
  putKey(t, "dccp", false);
  putByte(t, 0x7b);
  let first = true;
  if (p & CTF_DCCP_STATE) { putJsonU8(t, "state", rec, CT_DCCP_STATE, first); first = false; }
  if (p & CTF_DCCP_ROLE) putJsonU8(t, "role", rec, CT_DCCP_ROLE, first);
  putByte(t, 0x7d);
}

/** The record as host/record-view.ts's Conntrack, members in its order. */
export function putJsonCt(t: Text, rec: usize, line: EntryLine, withTimeout: bool = true): void {
  const p = present(rec);
  const family = <u32>load<u8>(rec + CT_FAMILY);
  putAscii(t, "{\"family\":\""); putAscii(t, familyName(family)); putByte(t, 0x22);
  putJsonAddr(t, "src", family, rec + CT_SRC, false);
  putJsonAddr(t, "dst", family, rec + CT_DST, false);
  putJsonNum(t, "l4proto", p & CTF_L4PROTO ? load<u8>(rec + CT_L4PROTO) : 0, false);
  if (p & CTF_PORTS) { putJsonNum(t, "sport", loadBe16(rec + CT_SPORT), false); putJsonNum(t, "dport", loadBe16(rec + CT_DPORT), false); }
  if (p & (CTF_ICMP_TYPE | CTF_ICMP_CODE | CTF_ICMP_ID)) putJsonIcmp(t, rec, p);
  if (p & CTF_TCP_STATE) putJsonU8(t, "tcpState", rec, CT_TCP_STATE, false);
  if (p & CTF_WSCALE_ORIG) putJsonU8(t, "wscaleOrig", rec, CT_WSCALE_ORIG, false);
  if (p & CTF_WSCALE_REPL) putJsonU8(t, "wscaleRepl", rec, CT_WSCALE_REPL, false);
  if (p & CTF_TCP_FLAGS) {
    putKey(t, "tcpFlags", false);
    putByte(t, 0x7b);
    putJsonU8(t, "orig", rec, CT_TCP_FLAGS_ORIG, true);
    putJsonU8(t, "repl", rec, CT_TCP_FLAGS_REPL, false);
    putByte(t, 0x7d);
  }
  if (p & (CTF_SCTP_STATE | CTF_SCTP_VTAG_ORIG | CTF_SCTP_VTAG_REPL)) putJsonSctp(t, rec, p);
  if (p & (CTF_DCCP_STATE | CTF_DCCP_ROLE)) putJsonDccp(t, rec, p);
  if (p & CTF_STATUS) putJsonNum(t, "status", loadBe32(rec + CT_STATUS), false);
  if (p & CTF_TIMEOUT && withTimeout) putJsonNum(t, "timeout", loadBe32(rec + CT_TIMEOUT), false);
  if (p & CTF_MARK) putJsonNum(t, "mark", loadBe32(rec + CT_MARK), false);
  if (p & CTF_ZONE) putJsonNum(t, "zone", loadBe16(rec + CT_ZONE), false);
  if (p & CTF_MASTER) { putKey(t, "master", false); putJsonTuple(t, rec + CT_MASTER, p, CTF_MASTER_SHIFT); }
  if (p & CTF_SNAT) putJsonAddr(t, "snat", family, rec + CT_SNAT, false);
  if (p & CTF_DNAT) putJsonAddr(t, "dnat", family, rec + CT_DNAT, false);
  if (p & CTF_SPAT) putJsonNum(t, "spat", loadBe16(rec + CT_SPAT), false);
  if (p & CTF_DPAT) putJsonNum(t, "dpat", loadBe16(rec + CT_DPAT), false);
  if (p & CTF_NATSEQ) putJsonBe32List(t, "natSeq", rec + CT_NATSEQ, 6);
  if (p & CTF_SYNPROXY) putJsonBe32List(t, "synproxy", rec + CT_SYNPROXY, 3);
  if (p & CTF_HELPER) { putKey(t, "helper", false); putJsonString(t, rec + CT_HELPER, load<u8>(rec + CT_HELPER_LEN)); }
  if (p & CTF_LABELS) putJsonLabels(t, rec);
  const id = entryId(rec, line);
  if (p & CTF_ID || id != 0) putJsonNum(t, "id", id, false);
  putByte(t, 0x7d);
}

function putJsonLabels(t: Text, rec: usize): void {
  putKey(t, "labels", false);
  putByte(t, 0x22);
  const n = <u32>load<u8>(rec + CT_LABELS_LEN);
  for (let i: u32 = 0; i < n; i++) putHex2(t, load<u8>(rec + CT_LABELS + i));
  putByte(t, 0x22);
}

/** The derived reply: ports, or ICMP's type/code/id, or the addresses alone. */
export function putJsonReply(t: Text, r: PrintTuple): void {
  putByte(t, 0x7b);
  putJsonAddr(t, "src", r.family, r.src, true);
  putJsonAddr(t, "dst", r.family, r.dst, false);
  if (hasPorts(r.proto)) {
    putJsonNum(t, "sport", r.sport, false);
    putJsonNum(t, "dport", r.dport, false);
  } else if (isIcmp(r.proto)) {
    putKey(t, "icmp", false);
    putByte(t, 0x7b);
    putJsonNum(t, "type", r.icmpType, true);
    putJsonNum(t, "code", r.icmpCode, false);
    putJsonNum(t, "id", r.icmpId, false);
    putByte(t, 0x7d);
  }
  putByte(t, 0x7d);
}

/** One element of a -i/-e -j array, no separator, no newline. */
export function formatCtJson(t: Text, rec: usize, line: EntryLine): void {
  const o = printTuple(0), r = printTuple(1);
  originalTuple(rec, o);
  replyTuple(rec, o, r);
  putByte(t, 0x7b);
  putJsonNum(t, "ageSeconds", line.age, true);
  if (line.expires >= 0) putJsonNum(t, "expiresInSeconds", <u32>line.expires, false);
  if (line.deltaTime >= 0) putJsonNum(t, "deltaTimeSeconds", <u32>line.deltaTime, false);
  putKey(t, "ct", false);
  putJsonCt(t, rec, line);
  putKey(t, "reply", false);
  putJsonReply(t, r);
  putByte(t, 0x7d);
}
