// The parts the conntrack and expectation formats share: a tuple as
// libnetfilter_conntrack (1.0.x) prints it (protocol names, ports or GRE
// keys or ICMP's type/code/id, addresses in text, XML and JSON), what a dump
// adds to each record, and conntrackd's suffixes.
import { Text, putAscii, putByte, putDec, putHex, putAddr, putKey } from "./text";
import { TUPLE_FAMILY, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_DPORT, TUPLE_SRC, TUPLE_DST, TB_L4PROTO, TB_PORTS } from "./layout";
import { loadBe16 } from "./bytes";

export const IPPROTO_ICMP: u32 = 1;
export const IPPROTO_GRE: u32 = 47;
export const IPPROTO_ICMPV6: u32 = 58;

/** What a dump adds to the record: -1 for a value the line does not show. */
@final @unmanaged export class EntryLine {
  withReply: bool = true;
  age: u32 = 0;
  expires: i32 = -1;
  deltaTime: i32 = -1;
  /** The Stats cache's kernel id (0: the record's own, if any). */
  id: u32 = 0;
}

/** A tuple ready to print: ports are 0 when absent, as in a zeroed C struct. */
@final @unmanaged export class PrintTuple {
  family: u32 = 0;
  src: usize = 0;
  dst: usize = 0;
  proto: u32 = 0;
  sport: u32 = 0;
  dport: u32 = 0;
  icmpType: u32 = 0;
  icmpCode: u32 = 0;
  icmpId: u32 = 0;
}

/** Room for the print tuples of one entry (a conntrack needs two, an expectation three). */
export function printTuple(i: i32): PrintTuple {
  return changetype<PrintTuple>(tuples + <usize>i * offsetof<PrintTuple>());
}
const tuples = memory.data(<i32>(3 * offsetof<PrintTuple>()), 8);

export function l4Name(proto: u32): string {
  switch (proto) {
    case 1: return "icmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 33: return "dccp";
    case 47: return "gre";
    case 58: return "icmpv6";
    case 132: return "sctp";
    case 136: return "udplite";
    default: return "unknown";
  }
}

export function hasPorts(proto: u32): bool {
  return proto == 6 || proto == 17 || proto == 136 || proto == 132 || proto == 33;
}

@inline export function isIcmp(proto: u32): bool {
  return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/** "ipv4" or "ipv6", as the XML's layer3 protoname and the JSON's family. */
export function familyName(family: u32): string {
  return family == 10 ? "ipv6" : "ipv4";
}

/** "<srcTag>=A <dstTag>=B " */
export function putAddrText(t: Text, p: PrintTuple, srcTag: string, dstTag: string): void {
  putAscii(t, srcTag); putByte(t, 0x3d); putAddr(t, p.family, p.src, true); putByte(t, 0x20);
  putAscii(t, dstTag); putByte(t, 0x3d); putAddr(t, p.family, p.dst, true); putByte(t, 0x20);
}

/** "sport=N dport=N ", GRE keys, ICMP type/code/id, or nothing. */
export function putL4Text(t: Text, p: PrintTuple): void {
  if (hasPorts(p.proto)) {
    putAscii(t, "sport="); putDec(t, p.sport); putAscii(t, " dport="); putDec(t, p.dport); putByte(t, 0x20);
  } else if (p.proto == IPPROTO_GRE) {
    putAscii(t, "srckey=0x"); putHex(t, p.sport); putAscii(t, " dstkey=0x"); putHex(t, p.dport); putByte(t, 0x20);
  } else if (isIcmp(p.proto)) {
    putAscii(t, "type="); putDec(t, p.icmpType); putAscii(t, " code="); putDec(t, p.icmpCode);
    putAscii(t, " id="); putDec(t, p.icmpId); putByte(t, 0x20);
  }
}

/** "<src>A</src><dst>B</dst>" */
export function putAddrXml(t: Text, p: PrintTuple): void {
  putAscii(t, "<src>"); putAddr(t, p.family, p.src, true); putAscii(t, "</src>");
  putAscii(t, "<dst>"); putAddr(t, p.family, p.dst, true); putAscii(t, "</dst>");
}

/** The XML's layer-4 fields: ports or GRE keys; ICMP prints none. */
export function putL4Xml(t: Text, p: PrintTuple): void {
  if (hasPorts(p.proto)) {
    putAscii(t, "<sport>"); putDec(t, p.sport); putAscii(t, "</sport><dport>"); putDec(t, p.dport); putAscii(t, "</dport>");
  } else if (p.proto == IPPROTO_GRE) {
    putAscii(t, "<srckey>0x"); putHex(t, p.sport); putAscii(t, "</srckey><dstkey>0x"); putHex(t, p.dport); putAscii(t, "</dstkey>");
  }
}

/** `protonum="N" protoname="name"` of a layer3 or layer4 element. */
export function putProtoAttrs(t: Text, num: u32, name: string): void {
  putAscii(t, " protonum=\""); putDec(t, num); putAscii(t, "\" protoname=\""); putAscii(t, name); putAscii(t, "\">");
}

/** JSON `"key":"address"` in plain groups (the JSON answers' spelling). */
export function putJsonAddr(t: Text, key: string, family: u32, p: usize, first: bool): void {
  putKey(t, key, first);
  putByte(t, 0x22); putAddr(t, family, p, false); putByte(t, 0x22);
}

export function putJsonNum(t: Text, key: string, v: u32, first: bool): void {
  putKey(t, key, first);
  putDec(t, v);
}

/**
 * A record's tuple as JSON: {"family","src","dst"} and "l4proto", "sport",
 * "dport" when the tuple's presence bits (`bits` shifted by `shift`) say so.
 */
export function putJsonTuple(t: Text, base: usize, bits: u32, shift: u32): void {
  const family = <u32>load<u8>(base + TUPLE_FAMILY);
  putAscii(t, "{\"family\":\""); putAscii(t, familyName(family)); putByte(t, 0x22);
  putJsonAddr(t, "src", family, base + TUPLE_SRC, false);
  putJsonAddr(t, "dst", family, base + TUPLE_DST, false);
  if (bits & (TB_L4PROTO << shift)) putJsonNum(t, "l4proto", load<u8>(base + TUPLE_L4PROTO), false);
  if (bits & (TB_PORTS << shift)) {
    putJsonNum(t, "sport", loadBe16(base + TUPLE_SPORT), false);
    putJsonNum(t, "dport", loadBe16(base + TUPLE_DPORT), false);
  }
  putByte(t, 0x7d);
}

/** conntrackd's timer and age suffixes, plain form only. */
export function putSuffix(t: Text, expires: i32, age: u32): void {
  if (expires >= 0) { putAscii(t, " [expires in "); putDec(t, <u32>expires); putAscii(t, "s]"); }
  putAscii(t, " [active since "); putDec(t, age); putAscii(t, "s]\n");
}

