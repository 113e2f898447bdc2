// ctnetlink: the kernel's netlink interface to its conntrack and expectation
// tables (nfnetlink subsystems 1 and 2). Decodes events and dump replies into
// the same records the sync codec uses, and encodes the requests the host
// sends: create, update, delete, get, dump and flush.
//
// Framing: struct nlmsghdr (host byte order: u32 len, u16 type, u16 flags,
// u32 seq, u32 pid), struct nfgenmsg (u8 family, u8 version, be16 res_id),
// then netlink attributes {u16 len, u16 type} padded to 4 bytes, nested for
// tuples and protocol info. Attribute payloads are big-endian.
import {
  CT_RECORD_SIZE, EXP_RECORD_SIZE, CT_ORIG, CT_MASTER, CT_STATUS, CT_TIMEOUT, CT_MARK,
  CT_ID, CT_ZONE, CT_LABELS, CT_LABELS_LEN, CT_LABELS_MAX, CT_TCP_STATE, CT_WSCALE_ORIG,
  CT_WSCALE_REPL, CT_TCP_FLAGS_ORIG, CT_TCP_FLAGS_REPL, CT_SCTP_STATE, CT_SCTP_VTAG_ORIG,
  CT_SCTP_VTAG_REPL, CT_DCCP_STATE, CT_DCCP_ROLE, CT_HELPER, CT_HELPER_LEN, CT_NATSEQ,
  CT_SYNPROXY, CT_SNAT, CT_DNAT, CT_SPAT, CT_DPAT, CT_FAMILY, CT_L4PROTO, CT_SRC, CT_DST,
  CT_SPORT, CT_DPORT, CTF_STATUS, CTF_TIMEOUT, CTF_MARK, CTF_ID, CTF_ZONE, CTF_LABELS,
  CTF_TCP_STATE, CTF_WSCALE_ORIG, CTF_WSCALE_REPL, CTF_TCP_FLAGS, CTF_SCTP_STATE,
  CTF_SCTP_VTAG_ORIG, CTF_SCTP_VTAG_REPL, CTF_DCCP_STATE, CTF_DCCP_ROLE, CTF_HELPER,
  CTF_NATSEQ, CTF_SYNPROXY, CTF_SNAT, CTF_DNAT, CTF_SPAT, CTF_DPAT, CTF_ORIG, CTF_L4PROTO,
  CTF_PORTS, CTF_MASTER, CTF_MASTER_SHIFT, CTF_ICMP_TYPE, CTF_ICMP_CODE, CTF_ICMP_ID,
  EXP_MASTER, EXP_EXPECT, EXP_MASK, EXP_NAT, EXP_TIMEOUT, EXP_FLAGS, EXP_CLASS, EXP_NAT_DIR,
  EXP_ID, EXP_ZONE, EXP_HELPER, EXP_HELPER_LEN, EXP_FN, EXP_FN_LEN, EXP_FN_MAX,
  EXP_TUPLE_SHIFT, EXPF_TIMEOUT, EXPF_FLAGS, EXPF_CLASS, EXPF_NAT_DIR, EXPF_ID, EXPF_ZONE,
  EXPF_HELPER, EXPF_FN, EXPF_MASTER_IP, EXPF_EXPECT_IP, EXPF_MASK_IP, EXPF_NAT_IP,
  TUPLE_FAMILY, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_DPORT, TUPLE_ICMP_ID, TUPLE_ICMP_TYPE,
  TUPLE_ICMP_CODE, TUPLE_SRC, TUPLE_DST, TUPLE_SIZE, TB_IP, TB_L4PROTO, TB_PORTS,
  HELPER_NAME_MAX, AF_INET, AF_INET6, addrLen, IPS_EXPECTED, IPS_CONFIRMED,
  IPS_SRC_NAT_DONE, IPS_DST_NAT_DONE, IPS_NAT_MASK,
  CTX_PRESENT, CTX_REPLY, CTX_ORIG_PACKETS, CTX_ORIG_BYTES, CTX_REPL_PACKETS, CTX_REPL_BYTES,
  CTX_TS_START, CTX_TS_STOP, CTX_SECMARK, CTX_USE, CTX_SIZE, CTXF_ORIG_PACKETS, CTXF_ORIG_BYTES,
  CTXF_REPL_PACKETS, CTXF_REPL_BYTES, CTXF_TS_START, CTXF_TS_STOP, CTXF_SECMARK, CTXF_USE,
} from "./layout";
import { AttrTable, AttrDesc, K_FIXED, K_STRING, K_LABELS, ofFamily } from "./attrs";
import { storeAttr } from "./record";
import { align4, bytesEqual, copyBytes, loadBe32, storeBe16, storeBe32 } from "./bytes";
import {
  rejectKernel, R_TRUNCATED, R_BAD_SIZE, R_BAD_ATTR_LEN, R_INCOMPLETE, R_BAD_FAMILY, R_NO_ROOM,
} from "./reasons";

// ---- netlink and nfnetlink numbers -------------------------------------------
const NLMSG_HDRLEN: u32 = 16;
const NFGEN_HDRLEN: u32 = 4;
const NLA_HDRLEN: u32 = 4;
const NLA_TYPE_MASK: u32 = 0x3fff;
const NLA_F_NESTED: u32 = 0x8000;

const NLMSG_NOOP: u32 = 1;
const NLMSG_ERROR: u32 = 2;
const NLMSG_DONE: u32 = 3;

const NLM_F_REQUEST: u32 = 0x1;
const NLM_F_MULTI: u32 = 0x2;
const NLM_F_ACK: u32 = 0x4;

/** Asks the kernel to acknowledge the request at `msg` (sets NLM_F_ACK in its header). */
export function requestAck(msg: usize): void {
  store<u16>(msg + 6, load<u16>(msg + 6) | <u16>NLM_F_ACK);
}
const NLM_F_DUMP: u32 = 0x300;
const NLM_F_EXCL: u32 = 0x200;
const NLM_F_CREATE: u32 = 0x400;

const SUBSYS_CT: u32 = 1;
const SUBSYS_EXP: u32 = 2;
const MSG_NEW: u32 = 0;
const MSG_GET: u32 = 1;
const MSG_DELETE: u32 = 2;

// CTA_* top-level conntrack attributes.
const CTA_TUPLE_ORIG = 1, CTA_TUPLE_REPLY = 2, CTA_STATUS = 3, CTA_PROTOINFO = 4,
  CTA_HELP = 5, CTA_NAT_SRC = 6, CTA_TIMEOUT = 7, CTA_MARK = 8, CTA_ID = 12,
  CTA_NAT_DST = 13, CTA_TUPLE_MASTER = 14, CTA_SEQ_ADJ_ORIG = 15, CTA_SEQ_ADJ_REPLY = 16,
  CTA_ZONE = 18, CTA_LABELS = 22, CTA_SYNPROXY = 24, CTA_MAX = 27;
// Only the extras (a destroyed flow's counters and times) come from these.
const CTA_COUNTERS_ORIG = 9, CTA_COUNTERS_REPLY = 10, CTA_USE = 11, CTA_SECMARK = 17,
  CTA_TIMESTAMP = 20;
const CTA_TUPLE_IP = 1, CTA_TUPLE_PROTO = 2;
const CTA_IP_V4_SRC = 1, CTA_IP_V4_DST = 2, CTA_IP_V6_SRC = 3, CTA_IP_V6_DST = 4;
const CTA_PROTO_NUM = 1, CTA_PROTO_SRC_PORT = 2, CTA_PROTO_DST_PORT = 3,
  CTA_PROTO_ICMP_ID = 4, CTA_PROTO_ICMP_TYPE = 5, CTA_PROTO_ICMP_CODE = 6,
  CTA_PROTO_ICMPV6_ID = 7, CTA_PROTO_ICMPV6_TYPE = 8, CTA_PROTO_ICMPV6_CODE = 9;
const CTA_PROTOINFO_TCP = 1, CTA_PROTOINFO_DCCP = 2, CTA_PROTOINFO_SCTP = 3;
const CTA_NAT_V4_MINIP = 1, CTA_NAT_V4_MAXIP = 2, CTA_NAT_PROTO = 3, CTA_NAT_V6_MINIP = 4,
  CTA_NAT_V6_MAXIP = 5;
const CTA_PROTONAT_PORT_MIN = 1, CTA_PROTONAT_PORT_MAX = 2;
const CTA_HELP_NAME = 1;
// CTA_EXPECT_* attributes.
const CTA_EXPECT_MASTER = 1, CTA_EXPECT_TUPLE = 2, CTA_EXPECT_MASK = 3, CTA_EXPECT_TIMEOUT = 4,
  CTA_EXPECT_ID = 5, CTA_EXPECT_HELP_NAME = 6, CTA_EXPECT_ZONE = 7, CTA_EXPECT_FLAGS = 8,
  CTA_EXPECT_CLASS = 9, CTA_EXPECT_NAT = 10, CTA_EXPECT_FN = 11, CTA_EXPECT_MAX = 12;
const CTA_EXPECT_NAT_DIR = 1, CTA_EXPECT_NAT_TUPLE = 2;

const IPPROTO_ICMP: u32 = 1, IPPROTO_TCP: u32 = 6, IPPROTO_UDP: u32 = 17, IPPROTO_DCCP: u32 = 33,
  IPPROTO_ICMPV6: u32 = 58, IPPROTO_SCTP: u32 = 132, IPPROTO_UDPLITE: u32 = 136;
const TCP_FLAG_BE_LIBERAL: u32 = 0x08;

/** ICMP in a tuple: id, type and code (a conntrack sets all three CTF_ICMP_* bits). */
const TB_ICMP: u32 = 8;

// ---- results and state of the reader -----------------------------------------
export const NL_END: i32 = 0;
export const NL_CT: i32 = 1; //    a conntrack, in the conntrack record
export const NL_EXP: i32 = 2; //   an expectation, in the expectation record
export const NL_DONE: i32 = 3; //  end of a dump
export const NL_ERROR: i32 = 4; // an error or acknowledgement (nlErrno 0)
export const NL_OTHER: i32 = 5; // a message of no interest, skipped

export const EV_NEW: u32 = 0;
export const EV_UPDATE: u32 = 1;
export const EV_DESTROY: u32 = 2;
export const EV_DUMP: u32 = 3;

export let nlType: u32 = 0;
export let nlFlags: u32 = 0;
export let nlSeq: u32 = 0;
export let nlPid: u32 = 0;
export let nlEvent: u32 = 0;
export let nlErrno: u32 = 0;

let cursor: usize = 0;
let limit: usize = 0;

// The extras of the last conntrack read (layout.ts, CTX_*): its reply tuple,
// from which NAT is learnt, and what the record has no field for.
export const ctExtras = memory.data(<i32>CTX_SIZE, 8);
const reply = ctExtras + CTX_REPLY;

// ---- attribute tables ------------------------------------------------------------
// Tuple leaves are stored relative to a tuple's base; the rest relative to the record.

const ipAttrs = new AttrTable(5);
ofFamily(ipAttrs.def(CTA_IP_V4_SRC, K_FIXED, 4, TUPLE_SRC, TB_IP), TUPLE_FAMILY, AF_INET);
ofFamily(ipAttrs.def(CTA_IP_V4_DST, K_FIXED, 4, TUPLE_DST, TB_IP), TUPLE_FAMILY, AF_INET);
ofFamily(ipAttrs.def(CTA_IP_V6_SRC, K_FIXED, 16, TUPLE_SRC, TB_IP), TUPLE_FAMILY, AF_INET6);
ofFamily(ipAttrs.def(CTA_IP_V6_DST, K_FIXED, 16, TUPLE_DST, TB_IP), TUPLE_FAMILY, AF_INET6);

const protoAttrs = new AttrTable(10);
protoAttrs.def(CTA_PROTO_NUM, K_FIXED, 1, TUPLE_L4PROTO, TB_L4PROTO);
protoAttrs.def(CTA_PROTO_SRC_PORT, K_FIXED, 2, TUPLE_SPORT, TB_PORTS);
protoAttrs.def(CTA_PROTO_DST_PORT, K_FIXED, 2, TUPLE_DPORT, TB_PORTS);
protoAttrs.def(CTA_PROTO_ICMP_ID, K_FIXED, 2, TUPLE_ICMP_ID, TB_ICMP);
protoAttrs.def(CTA_PROTO_ICMP_TYPE, K_FIXED, 1, TUPLE_ICMP_TYPE, TB_ICMP);
protoAttrs.def(CTA_PROTO_ICMP_CODE, K_FIXED, 1, TUPLE_ICMP_CODE, TB_ICMP);
protoAttrs.def(CTA_PROTO_ICMPV6_ID, K_FIXED, 2, TUPLE_ICMP_ID, TB_ICMP);
protoAttrs.def(CTA_PROTO_ICMPV6_TYPE, K_FIXED, 1, TUPLE_ICMP_TYPE, TB_ICMP);
protoAttrs.def(CTA_PROTO_ICMPV6_CODE, K_FIXED, 1, TUPLE_ICMP_CODE, TB_ICMP);

const ctAttrs = new AttrTable(CTA_MAX);
ctAttrs.def(CTA_STATUS, K_FIXED, 4, CT_STATUS, CTF_STATUS);
ctAttrs.def(CTA_TIMEOUT, K_FIXED, 4, CT_TIMEOUT, CTF_TIMEOUT);
ctAttrs.def(CTA_MARK, K_FIXED, 4, CT_MARK, CTF_MARK);
ctAttrs.def(CTA_ID, K_FIXED, 4, CT_ID, CTF_ID);
ctAttrs.def(CTA_ZONE, K_FIXED, 2, CT_ZONE, CTF_ZONE);
ctAttrs.def(CTA_LABELS, K_LABELS, CT_LABELS_MAX, CT_LABELS, CTF_LABELS, CT_LABELS_LEN);

const tcpAttrs = new AttrTable(6);
tcpAttrs.def(1, K_FIXED, 1, CT_TCP_STATE, CTF_TCP_STATE);
tcpAttrs.def(2, K_FIXED, 1, CT_WSCALE_ORIG, CTF_WSCALE_ORIG);
tcpAttrs.def(3, K_FIXED, 1, CT_WSCALE_REPL, CTF_WSCALE_REPL);
tcpAttrs.def(4, K_FIXED, 2, CT_TCP_FLAGS_ORIG, CTF_TCP_FLAGS);
tcpAttrs.def(5, K_FIXED, 2, CT_TCP_FLAGS_REPL, CTF_TCP_FLAGS);

const dccpAttrs = new AttrTable(3);
dccpAttrs.def(1, K_FIXED, 1, CT_DCCP_STATE, CTF_DCCP_STATE);
dccpAttrs.def(2, K_FIXED, 1, CT_DCCP_ROLE, CTF_DCCP_ROLE);

const sctpAttrs = new AttrTable(4);
sctpAttrs.def(1, K_FIXED, 1, CT_SCTP_STATE, CTF_SCTP_STATE);
sctpAttrs.def(2, K_FIXED, 4, CT_SCTP_VTAG_ORIG, CTF_SCTP_VTAG_ORIG);
sctpAttrs.def(3, K_FIXED, 4, CT_SCTP_VTAG_REPL, CTF_SCTP_VTAG_REPL);

const helpAttrs = new AttrTable(2);
helpAttrs.def(CTA_HELP_NAME, K_STRING, HELPER_NAME_MAX, CT_HELPER, CTF_HELPER, CT_HELPER_LEN);

/** A nest of three be32 leaves (ids 1 to 3) stored one after the other at `base`. */
function threeWords(base: u32, bit: u32): AttrTable {
  const t = new AttrTable(4);
  for (let i: i32 = 1; i <= 3; i++) t.def(i, K_FIXED, 4, base + 4 * (<u32>i - 1), bit);
  return t;
}
// Sequence adjustment (correction pos, offset before, after) of each direction.
const seqOrigAttrs = threeWords(CT_NATSEQ, CTF_NATSEQ);
const seqReplAttrs = threeWords(CT_NATSEQ + 12, CTF_NATSEQ);
const synproxyAttrs = threeWords(CT_SYNPROXY, CTF_SYNPROXY); // isn, its, tsoff

// Counters: 64-bit leaves, or the 32-bit ones of old kernels into the low half.
function countersOf(packets: u32, packetsBit: u32, bytes: u32, bytesBit: u32): AttrTable {
  const t = new AttrTable(5);
  t.def(1, K_FIXED, 8, packets, packetsBit);
  t.def(2, K_FIXED, 8, bytes, bytesBit);
  t.def(3, K_FIXED, 4, packets + 4, packetsBit);
  t.def(4, K_FIXED, 4, bytes + 4, bytesBit);
  return t;
}
const countersOrigAttrs = countersOf(CTX_ORIG_PACKETS, CTXF_ORIG_PACKETS, CTX_ORIG_BYTES, CTXF_ORIG_BYTES);
const countersReplAttrs = countersOf(CTX_REPL_PACKETS, CTXF_REPL_PACKETS, CTX_REPL_BYTES, CTXF_REPL_BYTES);
const timestampAttrs = new AttrTable(3);
timestampAttrs.def(1, K_FIXED, 8, CTX_TS_START, CTXF_TS_START);
timestampAttrs.def(2, K_FIXED, 8, CTX_TS_STOP, CTXF_TS_STOP);
const extraAttrs = new AttrTable(CTA_MAX);
extraAttrs.def(CTA_USE, K_FIXED, 4, CTX_USE, CTXF_USE);
extraAttrs.def(CTA_SECMARK, K_FIXED, 4, CTX_SECMARK, CTXF_SECMARK);

const expAttrs = new AttrTable(CTA_EXPECT_MAX);
expAttrs.def(CTA_EXPECT_TIMEOUT, K_FIXED, 4, EXP_TIMEOUT, EXPF_TIMEOUT);
expAttrs.def(CTA_EXPECT_ID, K_FIXED, 4, EXP_ID, EXPF_ID);
expAttrs.def(CTA_EXPECT_ZONE, K_FIXED, 2, EXP_ZONE, EXPF_ZONE);
expAttrs.def(CTA_EXPECT_FLAGS, K_FIXED, 4, EXP_FLAGS, EXPF_FLAGS);
expAttrs.def(CTA_EXPECT_CLASS, K_FIXED, 4, EXP_CLASS, EXPF_CLASS);
expAttrs.def(CTA_EXPECT_HELP_NAME, K_STRING, HELPER_NAME_MAX, EXP_HELPER, EXPF_HELPER, EXP_HELPER_LEN);
expAttrs.def(CTA_EXPECT_FN, K_STRING, EXP_FN_MAX, EXP_FN, EXPF_FN, EXP_FN_LEN);

const expNatAttrs = new AttrTable(3);
expNatAttrs.def(CTA_EXPECT_NAT_DIR, K_FIXED, 4, EXP_NAT_DIR, EXPF_NAT_DIR);

// ---- decoding ------------------------------------------------------------------

/** Starts reading `len` bytes of netlink messages (one or more datagrams) at `ptr`. */
export function openMessages(ptr: usize, len: u32): void {
  cursor = ptr;
  limit = ptr + len;
}

/**
 * Decodes the next netlink message. Returns NL_*, or a negated reason; a
 * message whose length cannot be trusted ends the buffer.
 */
export function nextNetlink(ctRec: usize, expRec: usize): i32 {
  const remain = <u32>(limit - cursor);
  if (remain == 0) return NL_END;
  if (remain < NLMSG_HDRLEN) return endWith(R_TRUNCATED);
  const p = cursor;
  const len = load<u32>(p);
  if (len < NLMSG_HDRLEN || len > remain) return endWith(R_BAD_SIZE);
  cursor = p + min(align4(len), remain);
  nlType = <u32>load<u16>(p + 4);
  nlFlags = <u32>load<u16>(p + 6);
  nlSeq = load<u32>(p + 8);
  nlPid = load<u32>(p + 12);
  nlErrno = 0;
  if (nlType == NLMSG_DONE) return NL_DONE;
  if (nlType == NLMSG_ERROR) {
    if (len < NLMSG_HDRLEN + 4) return rejectKernel(R_TRUNCATED);
    nlErrno = <u32>(-load<i32>(p + NLMSG_HDRLEN));
    return NL_ERROR;
  }
  const subsys = nlType >> 8;
  const msg = nlType & 0xff;
  if ((subsys != SUBSYS_CT && subsys != SUBSYS_EXP) || msg == MSG_GET || nlType == NLMSG_NOOP) return NL_OTHER;
  if (len < NLMSG_HDRLEN + NFGEN_HDRLEN) return rejectKernel(R_TRUNCATED);
  nlEvent = msg == MSG_DELETE ? EV_DESTROY
    : (nlFlags & NLM_F_MULTI) != 0 ? EV_DUMP
    : (nlFlags & (NLM_F_CREATE | NLM_F_EXCL)) != 0 ? EV_NEW : EV_UPDATE;
  const family = <u32>load<u8>(p + NLMSG_HDRLEN);
  if (addrLen(family) == 0) return rejectKernel(R_BAD_FAMILY);
  const attrs = p + NLMSG_HDRLEN + NFGEN_HDRLEN;
  if (subsys == SUBSYS_CT) return decodeCt(ctRec, family, attrs, p + len);
  return decodeExp(expRec, family, attrs, p + len);
}

function endWith(reason: i32): i32 {
  cursor = limit;
  return rejectKernel(reason);
}

// Attribute iteration state shared by the small walkers below: each walker
// returns the presence bits it gathered, or a negated reason (bit 31 set).
@inline function failed(bits: i32): bool {
  return bits < 0;
}

/** Stores every known leaf of `table` found in [a, end) at `base`; unknown ones are skipped. */
function walkLeaves(table: AttrTable, base: usize, a: usize, end: usize): i32 {
  let bits: u32 = 0;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return -R_BAD_ATTR_LEN;
    const id = <i32>(<u32>load<u16>(a + 2) & NLA_TYPE_MASK);
    if (id < table.size) {
      const d = table.at(id);
      if (d.kind != 0) {
        const why = storeAttr(d, base, a + NLA_HDRLEN, alen - NLA_HDRLEN);
        if (why != 0) return -why;
        bits |= d.bit;
      }
    }
    a += align4(alen);
  }
  return <i32>bits;
}

/** Reads a nested tuple (CTA_TUPLE_IP, CTA_TUPLE_PROTO) into the tuple at `base`. */
function walkTuple(base: usize, family: u32, a: usize, end: usize): i32 {
  store<u8>(base + TUPLE_FAMILY, <u8>family);
  let bits: i32 = 0;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return -R_BAD_ATTR_LEN;
    const id = <u32>load<u16>(a + 2) & NLA_TYPE_MASK;
    const inner = a + NLA_HDRLEN, innerEnd = a + alen;
    let r: i32 = 0;
    if (id == CTA_TUPLE_IP) r = walkLeaves(ipAttrs, base, inner, innerEnd);
    else if (id == CTA_TUPLE_PROTO) r = walkLeaves(protoAttrs, base, inner, innerEnd);
    if (failed(r)) return r;
    bits |= r;
    a += align4(alen);
  }
  return bits;
}

/** Calls the walker for each nested attribute of CTA_PROTOINFO. */
function walkProtoinfo(rec: usize, a: usize, end: usize): i32 {
  let bits: i32 = 0;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return -R_BAD_ATTR_LEN;
    const id = <u32>load<u16>(a + 2) & NLA_TYPE_MASK;
    const table = id == CTA_PROTOINFO_TCP ? tcpAttrs : id == CTA_PROTOINFO_DCCP ? dccpAttrs
      : id == CTA_PROTOINFO_SCTP ? sctpAttrs : null;
    if (table) {
      const r = walkLeaves(table, rec, a + NLA_HDRLEN, a + alen);
      if (failed(r)) return r;
      bits |= r;
    }
    a += align4(alen);
  }
  return bits;
}

function decodeCt(rec: usize, family: u32, a: usize, end: usize): i32 {
  memory.fill(rec, 0, CT_RECORD_SIZE);
  memory.fill(ctExtras, 0, CTX_SIZE);
  let present: u32 = 0;
  let extras: u32 = 0;
  let haveReply = false;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return rejectKernel(R_BAD_ATTR_LEN);
    const id = <u32>load<u16>(a + 2) & NLA_TYPE_MASK;
    const inner = a + NLA_HDRLEN, innerEnd = a + alen;
    let r: i32 = 0;
    if (id == CTA_TUPLE_ORIG) {
      r = walkTuple(rec + CT_ORIG, family, inner, innerEnd);
      if (!failed(r)) present |= origBits(<u32>r);
    } else if (id == CTA_TUPLE_REPLY) {
      r = walkTuple(reply, family, inner, innerEnd);
      haveReply = !failed(r) && (r & TB_IP) != 0;
      if (!failed(r)) extras |= <u32>r & 15;
    } else if (id == CTA_TUPLE_MASTER) {
      r = walkTuple(rec + CT_MASTER, family, inner, innerEnd);
      if (!failed(r)) present |= (<u32>r & 7) << CTF_MASTER_SHIFT;
    } else if (id == CTA_COUNTERS_ORIG || id == CTA_COUNTERS_REPLY || id == CTA_TIMESTAMP ||
        id == CTA_USE || id == CTA_SECMARK) {
      r = walkExtras(id, inner, innerEnd, alen);
      if (!failed(r)) extras |= <u32>r;
    } else {
      r = walkCtLeafGroup(id, rec, inner, innerEnd, alen);
      if (!failed(r)) present |= <u32>r;
    }
    if (failed(r)) return rejectKernel(-r);
    a += align4(alen);
  }
  store<u32>(ctExtras + CTX_PRESENT, extras);
  if ((present & (CTF_ORIG | CTF_L4PROTO)) != (CTF_ORIG | CTF_L4PROTO)) return rejectKernel(R_INCOMPLETE);
  if (haveReply) present |= natFromReply(rec, present);
  store<u32>(rec, present);
  return NL_CT;
}

/** Counters, timestamps, use and secmark: into the extras, never the record. */
function walkExtras(id: u32, inner: usize, innerEnd: usize, alen: u32): i32 {
  if (id == CTA_COUNTERS_ORIG) return walkLeaves(countersOrigAttrs, ctExtras, inner, innerEnd);
  if (id == CTA_COUNTERS_REPLY) return walkLeaves(countersReplAttrs, ctExtras, inner, innerEnd);
  if (id == CTA_TIMESTAMP) return walkLeaves(timestampAttrs, ctExtras, inner, innerEnd);
  const d = extraAttrs.at(<i32>id);
  const why = storeAttr(d, ctExtras, inner, alen - NLA_HDRLEN);
  return why != 0 ? -why : <i32>d.bit;
}

/** The CTF_* bits of an original tuple, ICMP fields included. */
function origBits(bits: u32): u32 {
  let p = bits & 7;
  if (bits & TB_ICMP) p |= CTF_ICMP_TYPE | CTF_ICMP_CODE | CTF_ICMP_ID;
  return p;
}

/** A top-level conntrack attribute other than a tuple: a leaf or a nest of leaves. */
function walkCtLeafGroup(id: u32, rec: usize, inner: usize, innerEnd: usize, alen: u32): i32 {
  if (id == CTA_PROTOINFO) return walkProtoinfo(rec, inner, innerEnd);
  if (id == CTA_HELP) return walkLeaves(helpAttrs, rec, inner, innerEnd);
  if (id == CTA_SEQ_ADJ_ORIG) return walkLeaves(seqOrigAttrs, rec, inner, innerEnd);
  if (id == CTA_SEQ_ADJ_REPLY) return walkLeaves(seqReplAttrs, rec, inner, innerEnd);
  if (id == CTA_SYNPROXY) return walkLeaves(synproxyAttrs, rec, inner, innerEnd);
  if (<i32>id >= ctAttrs.size || ctAttrs.at(<i32>id).kind == 0) return 0; // counters, use, secmark, ...
  const d = ctAttrs.at(<i32>id);
  const why = storeAttr(d, rec, inner, alen - NLA_HDRLEN);
  if (why != 0) return -why;
  if (d.bit == CTF_LABELS) {
    const n = <u32>load<u8>(rec + CT_LABELS_LEN);
    // The kernel sends its label area even when no label is set; conntrackd syncs none then.
    if (allZero(rec + CT_LABELS, n)) return 0;
    swapWords(rec + CT_LABELS, n);
  }
  return <i32>d.bit;
}

/**
 * Label bits: the kernel keeps them in host-order (little-endian) 32-bit
 * words, conntrackd and the record in big-endian words. Swaps in place.
 */
function swapWords(p: usize, len: u32): void {
  for (let i: u32 = 0; i + 4 <= len; i += 4) store<u32>(p + i, bswap<u32>(load<u32>(p + i)));
}

function allZero(p: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) if (load<u8>(p + i) != 0) return false;
  return true;
}

function hasPorts(l4proto: u32): bool {
  return l4proto == IPPROTO_TCP || l4proto == IPPROTO_UDP || l4proto == IPPROTO_UDPLITE ||
    l4proto == IPPROTO_SCTP || l4proto == IPPROTO_DCCP;
}

/**
 * What NAT did, learnt as conntrackd learns it: the reply tuple differs from
 * the inverted original one, and the kernel says that NAT was done. The
 * address or port the reply is addressed to is the one NAT chose.
 */
function natFromReply(rec: usize, present: u32): u32 {
  const status = (present & CTF_STATUS) != 0 ? loadBe32(rec + CT_STATUS) : 0xffffffff;
  const n = addrLen(<u32>load<u8>(rec + CT_FAMILY));
  const ports = hasPorts(<u32>load<u8>(rec + CT_L4PROTO));
  let bits: u32 = 0;
  // Source NAT shows in where the reply goes to; destination NAT in where it comes from.
  if ((status & IPS_SRC_NAT_DONE) != 0) {
    bits |= natSide(rec, n, ports, TUPLE_DST, CT_SRC, CT_SNAT, CTF_SNAT, TUPLE_DPORT, CT_SPORT, CT_SPAT, CTF_SPAT);
  }
  if ((status & IPS_DST_NAT_DONE) != 0) {
    bits |= natSide(rec, n, ports, TUPLE_SRC, CT_DST, CT_DNAT, CTF_DNAT, TUPLE_SPORT, CT_DPORT, CT_DPAT, CTF_DPAT);
  }
  return bits;
}

/** One direction of NAT: the reply's address and port against the original's. */
function natSide(
  rec: usize, n: u32, ports: bool,
  replyAddr: u32, origAddr: u32, natAddr: u32, addrBit: u32,
  replyPort: u32, origPort: u32, natPort: u32, portBit: u32,
): u32 {
  let bits: u32 = 0;
  if (!bytesEqual(reply + replyAddr, rec + origAddr, n)) {
    copyBytes(rec + natAddr, reply + replyAddr, n);
    bits |= addrBit;
  }
  if (ports && load<u16>(reply + replyPort) != load<u16>(rec + origPort)) {
    store<u16>(rec + natPort, load<u16>(reply + replyPort));
    bits |= portBit;
  }
  return bits;
}

function decodeExp(rec: usize, family: u32, a: usize, end: usize): i32 {
  memory.fill(rec, 0, EXP_RECORD_SIZE);
  let present: u32 = 0;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return rejectKernel(R_BAD_ATTR_LEN);
    const id = <u32>load<u16>(a + 2) & NLA_TYPE_MASK;
    const inner = a + NLA_HDRLEN, innerEnd = a + alen;
    let r: i32 = 0;
    const t = expTupleIndex(id);
    if (t >= 0) {
      r = walkTuple(rec + EXP_MASTER + <u32>t * TUPLE_SIZE, family, inner, innerEnd);
      if (!failed(r)) present |= (<u32>r & 7) << (<u32>t * EXP_TUPLE_SHIFT);
    } else if (id == CTA_EXPECT_NAT) {
      r = walkExpNat(rec, family, inner, innerEnd);
      if (!failed(r)) present |= <u32>r;
    } else if (<i32>id < expAttrs.size && expAttrs.at(<i32>id).kind != 0) {
      const d = expAttrs.at(<i32>id);
      const why = storeAttr(d, rec, inner, alen - NLA_HDRLEN);
      r = why != 0 ? -why : 0;
      if (why == 0) present |= d.bit;
    }
    if (failed(r)) return rejectKernel(-r);
    a += align4(alen);
  }
  const need = EXPF_MASTER_IP | EXPF_EXPECT_IP | EXPF_MASK_IP;
  if ((present & need) != need) return rejectKernel(R_INCOMPLETE);
  store<u32>(rec, present);
  return NL_EXP;
}

/** Tuple index (0 master, 1 expected, 2 mask) of an expectation attribute, or -1. */
function expTupleIndex(id: u32): i32 {
  if (id == CTA_EXPECT_MASTER) return 0;
  if (id == CTA_EXPECT_TUPLE) return 1;
  if (id == CTA_EXPECT_MASK) return 2;
  return -1;
}

function walkExpNat(rec: usize, family: u32, a: usize, end: usize): i32 {
  let bits: i32 = 0;
  while (end - a >= NLA_HDRLEN) {
    const alen = <u32>load<u16>(a);
    if (alen < NLA_HDRLEN || <usize>alen > end - a) return -R_BAD_ATTR_LEN;
    const id = <u32>load<u16>(a + 2) & NLA_TYPE_MASK;
    let r: i32 = 0;
    if (id == CTA_EXPECT_NAT_TUPLE) {
      r = walkTuple(rec + EXP_NAT, family, a + NLA_HDRLEN, a + alen);
      if (!failed(r)) r = <i32>((<u32>r & 7) * EXPF_NAT_IP);
    } else if (id == CTA_EXPECT_NAT_DIR) {
      r = walkLeaves(expNatAttrs, rec, a, a + alen);
    }
    if (failed(r)) return r;
    bits |= r;
    a += align4(alen);
  }
  return bits;
}

// ---- encoding ------------------------------------------------------------------

// Request kinds for putCt / putExp.
export const OP_CREATE: u32 = 0; // new entry (commit of a synced one)
export const OP_UPDATE: u32 = 1; // change an existing entry
export const OP_DELETE: u32 = 2;
export const OP_GET: u32 = 3;
// Options.
export const O_ACK: u32 = 1; //     ask the kernel to acknowledge
export const O_EXCL: u32 = 2; //    creating an entry that exists is an error
export const O_LIBERAL: u32 = 4; // TCP: disable window tracking (conntrackd without TCPWindowTracking)

/** Timeout (seconds) for a commit: CommitTimeout when set, else the entry's, else this fallback. */
let commitTimeout: u32 = 0;
const FALLBACK_TIMEOUT: u32 = 180;

export function setCommitTimeout(seconds: u32): void {
  commitTimeout = seconds;
}

// The writer: appends into [w, wEnd); any overflow marks the message failed.
let w: usize = 0;
let wEnd: usize = 0;
let overflow = false;

function put(type: u32, len: u32): usize {
  const total = align4(NLA_HDRLEN + len);
  if (w + total > wEnd) {
    overflow = true;
    return 0;
  }
  const a = w;
  store<u32>(a + total - 4, 0);
  store<u16>(a, <u16>(NLA_HDRLEN + len));
  store<u16>(a + 2, <u16>type);
  w += total;
  return a + NLA_HDRLEN;
}

function putBytes(type: u32, src: usize, len: u32): void {
  const p = put(type, len);
  if (p) copyBytes(p, src, len);
}

function putU8(type: u32, v: u32): void {
  const p = put(type, 1);
  if (p) store<u8>(p, <u8>v);
}

function putBe16(type: u32, v: u32): void {
  const p = put(type, 2);
  if (p) storeBe16(p, v);
}

function putBe32(type: u32, v: u32): void {
  const p = put(type, 4);
  if (p) storeBe32(p, v);
}

function nestBegin(type: u32): usize {
  const p = put(type | NLA_F_NESTED, 0);
  return p ? p - NLA_HDRLEN : 0;
}

function nestEnd(start: usize): void {
  if (start) store<u16>(start, <u16>(w - start));
}

/** Starts a message at `dst` with room up to `end`; returns its start. */
function beginMessage(dst: usize, end: usize, type: u32, flags: u32, seq: u32, family: u32): usize {
  w = dst;
  wEnd = end;
  overflow = false;
  if (w + NLMSG_HDRLEN + NFGEN_HDRLEN > wEnd) {
    overflow = true;
    return dst;
  }
  store<u16>(dst + 4, <u16>type);
  store<u16>(dst + 6, <u16>flags);
  store<u32>(dst + 8, seq);
  store<u32>(dst + 12, 0);
  store<u8>(dst + 16, <u8>family);
  store<u8>(dst + 17, 0);
  store<u16>(dst + 18, 0);
  w = dst + NLMSG_HDRLEN + NFGEN_HDRLEN;
  return dst;
}

/** Closes the message; returns its length, or a negated reason when it did not fit. */
function endMessage(start: usize): i32 {
  if (overflow) return -R_NO_ROOM;
  store<u32>(start, <u32>(w - start));
  return <i32>(w - start);
}

/**
 * Writes a tuple as CTA_TUPLE_IP and CTA_TUPLE_PROTO. With `invert` it writes
 * the reply direction: addresses and ports swapped, ICMP echo type answered.
 */
function putTuple(type: u32, t: usize, bits: u32, invert: bool, icmp: bool): void {
  const nest = nestBegin(type);
  const family = <u32>load<u8>(t + TUPLE_FAMILY);
  const n = addrLen(family);
  const v6 = family == AF_INET6;
  const ip = nestBegin(CTA_TUPLE_IP);
  putBytes(v6 ? CTA_IP_V6_SRC : CTA_IP_V4_SRC, t + (invert ? TUPLE_DST : TUPLE_SRC), n);
  putBytes(v6 ? CTA_IP_V6_DST : CTA_IP_V4_DST, t + (invert ? TUPLE_SRC : TUPLE_DST), n);
  nestEnd(ip);
  if (bits & TB_L4PROTO) {
    const proto = nestBegin(CTA_TUPLE_PROTO);
    const l4 = <u32>load<u8>(t + TUPLE_L4PROTO);
    putU8(CTA_PROTO_NUM, l4);
    if (icmp && (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6)) {
      putIcmp(t, l4 == IPPROTO_ICMPV6, invert);
    } else if (bits & TB_PORTS) {
      putBytes(CTA_PROTO_SRC_PORT, t + (invert ? TUPLE_DPORT : TUPLE_SPORT), 2);
      putBytes(CTA_PROTO_DST_PORT, t + (invert ? TUPLE_SPORT : TUPLE_DPORT), 2);
    }
    nestEnd(proto);
  }
  nestEnd(nest);
}

function putIcmp(t: usize, v6: bool, invert: bool): void {
  let type = <u32>load<u8>(t + TUPLE_ICMP_TYPE);
  if (invert) type = icmpReplyType(type, v6);
  putBytes(v6 ? CTA_PROTO_ICMPV6_ID : CTA_PROTO_ICMP_ID, t + TUPLE_ICMP_ID, 2);
  putU8(v6 ? CTA_PROTO_ICMPV6_TYPE : CTA_PROTO_ICMP_TYPE, type);
  putU8(v6 ? CTA_PROTO_ICMPV6_CODE : CTA_PROTO_ICMP_CODE, <u32>load<u8>(t + TUPLE_ICMP_CODE));
}

/** The ICMP type that answers a request type, as the kernel inverts tuples. */
function icmpReplyType(type: u32, v6: bool): u32 {
  if (v6) {
    if (type == 128) return 129; // echo request -> reply
    if (type == 130) return 131; // multicast listener query -> report
    return type;
  }
  if (type == 8) return 0; //   echo
  if (type == 13) return 14; // timestamp
  if (type == 15) return 16; // information
  if (type == 17) return 18; // address mask
  return type;
}

/** CTA_NAT_SRC / CTA_NAT_DST: the single address and port NAT chose. */
function putNat(type: u32, rec: usize, present: u32, addrBit: u32, addrOff: u32, portBit: u32, portOff: u32): void {
  if ((present & (addrBit | portBit)) == 0) return;
  const v6 = load<u8>(rec + CT_FAMILY) == AF_INET6;
  const n = addrLen(<u32>load<u8>(rec + CT_FAMILY));
  const nest = nestBegin(type);
  if (present & addrBit) {
    putBytes(v6 ? CTA_NAT_V6_MINIP : CTA_NAT_V4_MINIP, rec + addrOff, n);
    putBytes(v6 ? CTA_NAT_V6_MAXIP : CTA_NAT_V4_MAXIP, rec + addrOff, n);
  }
  // conntrackd 1.4.7 sends zero "NAT ports" for ICMP; they mean nothing to the kernel.
  if ((present & portBit) != 0 && hasPorts(<u32>load<u8>(rec + CT_L4PROTO))) {
    const proto = nestBegin(CTA_NAT_PROTO);
    putBytes(CTA_PROTONAT_PORT_MIN, rec + portOff, 2);
    putBytes(CTA_PROTONAT_PORT_MAX, rec + portOff, 2);
    nestEnd(proto);
  }
  nestEnd(nest);
}

function putProtoinfo(rec: usize, present: u32, liberal: bool): void {
  const l4 = <u32>load<u8>(rec + CT_L4PROTO);
  if (l4 == IPPROTO_TCP && (present & CTF_TCP_STATE) != 0) {
    const nest = nestBegin(CTA_PROTOINFO);
    const tcp = nestBegin(CTA_PROTOINFO_TCP);
    putU8(1, <u32>load<u8>(rec + CT_TCP_STATE));
    if (present & CTF_WSCALE_ORIG) putU8(2, <u32>load<u8>(rec + CT_WSCALE_ORIG));
    if (present & CTF_WSCALE_REPL) putU8(3, <u32>load<u8>(rec + CT_WSCALE_REPL));
    if (liberal) {
      putBe16(4, (TCP_FLAG_BE_LIBERAL << 8) | TCP_FLAG_BE_LIBERAL); // flags, mask
      putBe16(5, (TCP_FLAG_BE_LIBERAL << 8) | TCP_FLAG_BE_LIBERAL);
    }
    nestEnd(tcp);
    nestEnd(nest);
  } else if (l4 == IPPROTO_SCTP && (present & CTF_SCTP_STATE) != 0) {
    const nest = nestBegin(CTA_PROTOINFO);
    const sctp = nestBegin(CTA_PROTOINFO_SCTP);
    putU8(1, <u32>load<u8>(rec + CT_SCTP_STATE));
    if (present & CTF_SCTP_VTAG_ORIG) putBytes(2, rec + CT_SCTP_VTAG_ORIG, 4);
    if (present & CTF_SCTP_VTAG_REPL) putBytes(3, rec + CT_SCTP_VTAG_REPL, 4);
    nestEnd(sctp);
    nestEnd(nest);
  } else if (l4 == IPPROTO_DCCP && (present & CTF_DCCP_STATE) != 0) {
    const nest = nestBegin(CTA_PROTOINFO);
    const dccp = nestBegin(CTA_PROTOINFO_DCCP);
    putU8(1, <u32>load<u8>(rec + CT_DCCP_STATE));
    if (present & CTF_DCCP_ROLE) putU8(2, <u32>load<u8>(rec + CT_DCCP_ROLE));
    nestEnd(dccp);
    nestEnd(nest);
  }
}

function putSeqAdj(type: u32, at: usize): void {
  const nest = nestBegin(type);
  for (let i: u32 = 0; i < 3; i++) putBytes(i + 1, at + 4 * i, 4);
  nestEnd(nest);
}

/** The tuple bits (TB_*) of the original tuple, ICMP counted as ports. */
function origTupleBits(present: u32): u32 {
  return present & (CTF_ORIG | CTF_L4PROTO | CTF_PORTS);
}

/**
 * Encodes a conntrack request from the record at `dst` (room up to `end`).
 * Create follows what conntrackd's commit sends: both tuples, status without
 * the EXPECTED bit and with CONFIRMED, a timeout always, NAT, helper and
 * master. Update drops NAT, helper and master, which the kernel refuses to
 * change. Delete and get carry the original tuple and zone only.
 */
export function putCt(rec: usize, dst: usize, end: usize, op: u32, opts: u32, seq: u32): i32 {
  const present = load<u32>(rec);
  if ((present & (CTF_ORIG | CTF_L4PROTO)) != (CTF_ORIG | CTF_L4PROTO)) return -R_INCOMPLETE;
  const family = <u32>load<u8>(rec + CT_FAMILY);
  let flags = NLM_F_REQUEST | ((opts & O_ACK) ? NLM_F_ACK : 0);
  let msg = MSG_NEW;
  if (op == OP_CREATE) flags |= NLM_F_CREATE | ((opts & O_EXCL) ? NLM_F_EXCL : 0);
  else if (op == OP_DELETE) msg = MSG_DELETE;
  else if (op == OP_GET) msg = MSG_GET;
  const start = beginMessage(dst, end, (SUBSYS_CT << 8) | msg, flags, seq, family);
  const tb = origTupleBits(present);
  putTuple(CTA_TUPLE_ORIG, rec + CT_ORIG, tb, false, true);
  if (present & CTF_ZONE) putBytes(CTA_ZONE, rec + CT_ZONE, 2);
  if (op == OP_CREATE || op == OP_UPDATE) putCtBody(rec, present, op, opts, tb);
  return endMessage(start);
}

function putCtBody(rec: usize, present: u32, op: u32, opts: u32, tb: u32): void {
  const create = op == OP_CREATE;
  if (create) putTuple(CTA_TUPLE_REPLY, rec + CT_ORIG, tb, true, true);
  if (present & CTF_STATUS) {
    let status = loadBe32(rec + CT_STATUS) | IPS_CONFIRMED;
    status = create ? status & ~IPS_EXPECTED : status & ~IPS_NAT_MASK;
    putBe32(CTA_STATUS, status);
  }
  const timeout = commitTimeout > 0 ? commitTimeout
    : (present & CTF_TIMEOUT) != 0 ? loadBe32(rec + CT_TIMEOUT) : FALLBACK_TIMEOUT;
  putBe32(CTA_TIMEOUT, timeout);
  if (present & CTF_MARK) putBytes(CTA_MARK, rec + CT_MARK, 4);
  putProtoinfo(rec, present, (opts & O_LIBERAL) != 0);
  if (present & CTF_LABELS) {
    const p = put(CTA_LABELS, CT_LABELS_MAX);
    if (p) {
      copyBytes(p, rec + CT_LABELS, CT_LABELS_MAX);
      swapWords(p, CT_LABELS_MAX);
    }
  }
  if (present & CTF_NATSEQ) {
    putSeqAdj(CTA_SEQ_ADJ_ORIG, rec + CT_NATSEQ);
    putSeqAdj(CTA_SEQ_ADJ_REPLY, rec + CT_NATSEQ + 12);
  }
  if (present & CTF_SYNPROXY) {
    const nest = nestBegin(CTA_SYNPROXY);
    for (let i: u32 = 0; i < 3; i++) putBytes(i + 1, rec + CT_SYNPROXY + 4 * i, 4);
    nestEnd(nest);
  }
  if (!create) return;
  putNat(CTA_NAT_SRC, rec, present, CTF_SNAT, CT_SNAT, CTF_SPAT, CT_SPAT);
  putNat(CTA_NAT_DST, rec, present, CTF_DNAT, CT_DNAT, CTF_DPAT, CT_DPAT);
  if (present & CTF_HELPER) {
    const nest = nestBegin(CTA_HELP);
    putHelperName(CTA_HELP_NAME, rec + CT_HELPER, <u32>load<u8>(rec + CT_HELPER_LEN));
    nestEnd(nest);
  }
  if (present & CTF_MASTER) {
    putTuple(CTA_TUPLE_MASTER, rec + CT_MASTER, (present >> CTF_MASTER_SHIFT) & 7, false, false);
  }
}

function putHelperName(type: u32, at: usize, len: u32): void {
  const p = put(type, len + 1);
  if (!p) return;
  copyBytes(p, at, len);
  store<u8>(p + len, 0);
}

/**
 * Encodes an expectation request. Create carries the master, expected and
 * mask tuples, timeout, flags, class, helper, NAT and function; delete and get
 * the expected tuple.
 */
export function putExp(rec: usize, dst: usize, end: usize, op: u32, opts: u32, seq: u32): i32 {
  const present = load<u32>(rec);
  const need = EXPF_MASTER_IP | EXPF_EXPECT_IP | EXPF_MASK_IP;
  if ((present & need) != need) return -R_INCOMPLETE;
  const family = <u32>load<u8>(rec + EXP_MASTER + TUPLE_FAMILY);
  let flags = NLM_F_REQUEST | ((opts & O_ACK) ? NLM_F_ACK : 0);
  let msg = MSG_NEW;
  if (op == OP_CREATE) flags |= NLM_F_CREATE | ((opts & O_EXCL) ? NLM_F_EXCL : 0);
  else if (op == OP_DELETE) msg = MSG_DELETE;
  else if (op == OP_GET) msg = MSG_GET;
  const start = beginMessage(dst, end, (SUBSYS_EXP << 8) | msg, flags, seq, family);
  if (op == OP_CREATE || op == OP_UPDATE) {
    putTuple(CTA_EXPECT_MASTER, rec + EXP_MASTER, tupleBits(present, 0), false, false);
  }
  putTuple(CTA_EXPECT_TUPLE, rec + EXP_EXPECT, tupleBits(present, 1), false, false);
  if (present & EXPF_ZONE) putBytes(CTA_EXPECT_ZONE, rec + EXP_ZONE, 2);
  if (op == OP_CREATE || op == OP_UPDATE) putExpBody(rec, present, tupleBits(present, 2), tupleBits(present, 3));
  return endMessage(start);
}

/** The TB_* bits of expectation tuple t (0 master, 1 expected, 2 mask, 3 NAT). */
@inline function tupleBits(present: u32, t: u32): u32 {
  return (present >> (t * EXP_TUPLE_SHIFT)) & 7;
}

function putExpBody(rec: usize, present: u32, maskBits: u32, natBits: u32): void {
  putTuple(CTA_EXPECT_MASK, rec + EXP_MASK, maskBits, false, false);
  const timeout = commitTimeout > 0 ? commitTimeout
    : (present & EXPF_TIMEOUT) != 0 ? loadBe32(rec + EXP_TIMEOUT) : FALLBACK_TIMEOUT;
  putBe32(CTA_EXPECT_TIMEOUT, timeout);
  if (present & EXPF_FLAGS) putBytes(CTA_EXPECT_FLAGS, rec + EXP_FLAGS, 4);
  if (present & EXPF_CLASS) putBytes(CTA_EXPECT_CLASS, rec + EXP_CLASS, 4);
  if (present & EXPF_HELPER) {
    putHelperName(CTA_EXPECT_HELP_NAME, rec + EXP_HELPER, <u32>load<u8>(rec + EXP_HELPER_LEN));
  }
  if (present & EXPF_NAT_IP) {
    const nest = nestBegin(CTA_EXPECT_NAT);
    if (present & EXPF_NAT_DIR) putBytes(CTA_EXPECT_NAT_DIR, rec + EXP_NAT_DIR, 4);
    putTuple(CTA_EXPECT_NAT_TUPLE, rec + EXP_NAT, natBits, false, false);
    nestEnd(nest);
  }
  if (present & EXPF_FN) putHelperName(CTA_EXPECT_FN, rec + EXP_FN, <u32>load<u8>(rec + EXP_FN_LEN));
}

export const TABLE_CT: u32 = 0;
export const TABLE_EXP: u32 = 1;

/** A dump request for the whole conntrack or expectation table of a family (0 = all). */
export function putDump(dst: usize, end: usize, table: u32, family: u32, seq: u32): i32 {
  const subsys = table == TABLE_EXP ? SUBSYS_EXP : SUBSYS_CT;
  const start = beginMessage(dst, end, (subsys << 8) | MSG_GET, NLM_F_REQUEST | NLM_F_DUMP, seq, family);
  return endMessage(start);
}

/** A flush request: delete every entry of the table (conntrackd -F). */
export function putFlush(dst: usize, end: usize, table: u32, family: u32, seq: u32): i32 {
  const subsys = table == TABLE_EXP ? SUBSYS_EXP : SUBSYS_CT;
  const start = beginMessage(dst, end, (subsys << 8) | MSG_DELETE, NLM_F_REQUEST | NLM_F_ACK, seq, family);
  return endMessage(start);
}
