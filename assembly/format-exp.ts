// One expectation record as `conntrackd -i expect` prints it:
// libnetfilter_conntrack's nfexp_snprintf (plain or XML) without the timeout,
// then conntrackd's suffixes; or as ctsync's JSON answer. The mask and
// master tuples print their ports by the expected tuple's protocol when they
// carry none of their own (the kernel gives all three the same one).
import {
  EXP_PRESENT, EXP_MASTER, EXP_EXPECT, EXP_MASK, EXP_NAT, EXP_TIMEOUT, EXP_FLAGS, EXP_CLASS,
  EXP_NAT_DIR, EXP_ID, EXP_ZONE, EXP_HELPER, EXP_HELPER_LEN, EXP_FN, EXP_FN_LEN, EXP_TUPLE_SHIFT,
  EXPF_EXPECT_L4PROTO, EXPF_NAT_IP, EXPF_TIMEOUT, EXPF_FLAGS, EXPF_CLASS, EXPF_NAT_DIR, EXPF_HELPER,
  EXPF_FN, EXPF_ZONE, EXPF_ID, TUPLE_FAMILY, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_DPORT, TUPLE_SRC,
  TUPLE_DST, TB_L4PROTO, TB_PORTS,
} from "./layout";
import { loadBe16, loadBe32 } from "./bytes";
import { Text, putAscii, putByte, putDec, putKey, putJsonString, putRaw } from "./text";
import {
  PrintTuple, printTuple, l4Name, familyName, putAddrText, putL4Text, putAddrXml, putL4Xml,
  putProtoAttrs, putJsonNum, putJsonTuple, EntryLine, putSuffix,
} from "./format-parts";

const NF_CT_EXPECT_PERMANENT: u32 = 0x1;
const NF_CT_EXPECT_INACTIVE: u32 = 0x2;
const NF_CT_EXPECT_USERSPACE: u32 = 0x4;

@inline function present(rec: usize): u32 {
  return load<u32>(rec + EXP_PRESENT);
}

/** Tuple `i` (0 master, 1 expected, 2 mask) at `off`, its protocol defaulting to the expected one's. */
function expTuple(rec: usize, off: u32, i: u32, out: PrintTuple): void {
  const p = present(rec);
  const base = rec + off;
  const shift = i * EXP_TUPLE_SHIFT;
  const proto: u32 = p & EXPF_EXPECT_L4PROTO ? load<u8>(rec + EXP_EXPECT + TUPLE_L4PROTO) : 0;
  out.family = load<u8>(base + TUPLE_FAMILY);
  out.src = base + TUPLE_SRC;
  out.dst = base + TUPLE_DST;
  out.proto = p & (TB_L4PROTO << shift) ? load<u8>(base + TUPLE_L4PROTO) : proto;
  const ports = (p & (TB_PORTS << shift)) != 0;
  out.sport = ports ? loadBe16(base + TUPLE_SPORT) : 0;
  out.dport = ports ? loadBe16(base + TUPLE_DPORT) : 0;
  out.icmpType = 0;
  out.icmpCode = 0;
  out.icmpId = 0;
}

/** Master, expected and mask tuples into print slots 0, 1, 2. */
function expTuples(rec: usize): void {
  expTuple(rec, EXP_MASTER, 0, printTuple(0));
  expTuple(rec, EXP_EXPECT, 1, printTuple(1));
  expTuple(rec, EXP_MASK, 2, printTuple(2));
}

@inline function flagsOf(rec: usize): u32 {
  return present(rec) & EXPF_FLAGS ? loadBe32(rec + EXP_FLAGS) : 0;
}

/** PERMANENT,INACTIVE,USERSPACE: the words of the flags set, comma-separated. */
function putFlagWords(t: Text, flags: u32): void {
  let first = true;
  if (flags & NF_CT_EXPECT_PERMANENT) { putAscii(t, "PERMANENT"); first = false; }
  if (flags & NF_CT_EXPECT_INACTIVE) { if (!first) putByte(t, 0x2c); putAscii(t, "INACTIVE"); first = false; }
  if (flags & NF_CT_EXPECT_USERSPACE) { if (!first) putByte(t, 0x2c); putAscii(t, "USERSPACE"); }
}

/** nfexp_snprintf(NFCT_O_DEFAULT) without the timeout, then the suffixes. */
export function formatExpPlain(t: Text, rec: usize, line: EntryLine): void {
  const p = present(rec);
  expTuples(rec);
  const master = printTuple(0), expected = printTuple(1), mask = printTuple(2);
  const flags = flagsOf(rec);
  putAscii(t, "proto="); putDec(t, expected.proto); putByte(t, 0x20);
  putAddrText(t, expected, "src", "dst"); putL4Text(t, expected);
  putAddrText(t, mask, "mask-src", "mask-dst"); putL4Text(t, mask);
  putAddrText(t, master, "master-src", "master-dst"); putL4Text(t, master);
  if (p & EXPF_ZONE) { putAscii(t, "zone="); putDec(t, loadBe16(rec + EXP_ZONE)); putByte(t, 0x20); }
  putFlagWords(t, flags);
  if (flags != 0) putByte(t, 0x20);
  if (p & EXPF_CLASS) { putAscii(t, "class="); putDec(t, loadBe32(rec + EXP_CLASS)); putByte(t, 0x20); }
  if (p & EXPF_HELPER) { putAscii(t, "helper="); putRaw(t, rec + EXP_HELPER, load<u8>(rec + EXP_HELPER_LEN)); }
  if (load<u8>(t.ptr + t.len - 1) == 0x20) t.len--;
  putSuffix(t, line.expires, line.age);
}

function putL4Section(t: Text, name: string, p: PrintTuple): void {
  putByte(t, 0x3c); putAscii(t, name); putByte(t, 0x3e);
  putL4Xml(t, p);
  putAscii(t, "</"); putAscii(t, name); putByte(t, 0x3e);
}

function putL3Section(t: Text, name: string, p: PrintTuple): void {
  putByte(t, 0x3c); putAscii(t, name); putByte(t, 0x3e);
  putAddrXml(t, p);
  putAscii(t, "</"); putAscii(t, name); putByte(t, 0x3e);
}

/** nfexp_snprintf(NFCT_O_XML) without the timeout, and a newline. */
export function formatExpXml(t: Text, rec: usize): void {
  const p = present(rec);
  expTuples(rec);
  const master = printTuple(0), expected = printTuple(1), mask = printTuple(2);
  const flags = flagsOf(rec);
  putAscii(t, "<flow><layer3");
  putProtoAttrs(t, expected.family == 10 ? 10 : 2, familyName(expected.family));
  putL3Section(t, "expected", expected); putL3Section(t, "mask", mask); putL3Section(t, "master", master);
  putAscii(t, "</layer3><layer4");
  putProtoAttrs(t, expected.proto, l4Name(expected.proto));
  putL4Section(t, "expected", expected); putL4Section(t, "mask", mask); putL4Section(t, "master", master);
  putAscii(t, "</layer4><meta>");
  if (p & EXPF_HELPER) {
    putAscii(t, "<helper-name>"); putRaw(t, rec + EXP_HELPER, load<u8>(rec + EXP_HELPER_LEN)); putAscii(t, "</helper-name>");
  }
  if (p & EXPF_CLASS) { putAscii(t, "<class>"); putDec(t, loadBe32(rec + EXP_CLASS)); putAscii(t, "</class>"); }
  if (p & EXPF_ZONE) { putAscii(t, "<zone>"); putDec(t, loadBe16(rec + EXP_ZONE)); putAscii(t, "</zone>"); }
  if (flags & NF_CT_EXPECT_PERMANENT) putAscii(t, "<permanent/>");
  if (flags & NF_CT_EXPECT_INACTIVE) putAscii(t, "<inactive/>");
  if (flags & NF_CT_EXPECT_USERSPACE) putAscii(t, "<userspace/>");
  putAscii(t, "</meta></flow>\n");
}

/** The record as host/record-view.ts's Expectation, members in its order. */
function putJsonExp(t: Text, rec: usize): void {
  const p = present(rec);
  putByte(t, 0x7b);
  putKey(t, "master", true); putJsonTuple(t, rec + EXP_MASTER, p, 0);
  putKey(t, "expected", false); putJsonTuple(t, rec + EXP_EXPECT, p, EXP_TUPLE_SHIFT);
  putKey(t, "mask", false); putJsonTuple(t, rec + EXP_MASK, p, 2 * EXP_TUPLE_SHIFT);
  if (p & EXPF_NAT_IP) { putKey(t, "nat", false); putJsonTuple(t, rec + EXP_NAT, p, 3 * EXP_TUPLE_SHIFT); }
  if (p & EXPF_TIMEOUT) putJsonNum(t, "timeout", loadBe32(rec + EXP_TIMEOUT), false);
  if (p & EXPF_FLAGS) putJsonNum(t, "flags", loadBe32(rec + EXP_FLAGS), false);
  if (p & EXPF_CLASS) putJsonNum(t, "class", loadBe32(rec + EXP_CLASS), false);
  if (p & EXPF_NAT_DIR) putJsonNum(t, "natDir", loadBe32(rec + EXP_NAT_DIR), false);
  if (p & EXPF_HELPER) { putKey(t, "helper", false); putJsonString(t, rec + EXP_HELPER, load<u8>(rec + EXP_HELPER_LEN)); }
  if (p & EXPF_FN) { putKey(t, "fn", false); putJsonString(t, rec + EXP_FN, load<u8>(rec + EXP_FN_LEN)); }
  if (p & EXPF_ZONE) putJsonNum(t, "zone", loadBe16(rec + EXP_ZONE), false);
  if (p & EXPF_ID) putJsonNum(t, "id", loadBe32(rec + EXP_ID), false);
  putByte(t, 0x7d);
}

/** One element of a -i/-e expect -j array, no separator, no newline. */
export function formatExpJson(t: Text, rec: usize, line: EntryLine): void {
  putByte(t, 0x7b);
  putJsonNum(t, "ageSeconds", line.age, true);
  if (line.expires >= 0) putJsonNum(t, "expiresInSeconds", <u32>line.expires, false);
  putKey(t, "exp", false);
  putJsonExp(t, rec);
  putByte(t, 0x7d);
}
