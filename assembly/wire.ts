// conntrackd 1.4.x sync protocol: the message header (`nethdr`), control
// messages, and the TLV attributes of conntrack and expectation messages.
//
// A datagram holds one or more messages back to back. Each message starts
// with an 8-byte header: byte 0 carries the protocol version in its high
// nibble and the message type in its low nibble (conntrackd declares it as a
// C bitfield, which x86 lays out this way), byte 1 the flags, then the
// message length (be16, header included) and a sequence number (be32). ACK,
// NACK and RESYNC control messages carry a sequence range (be32 from, be32 to)
// after it. Attributes are {be16 length (header included), be16 type},
// payload, zero padding to 4 bytes.
import {
  CT_RECORD_SIZE, EXP_RECORD_SIZE, CT_FAMILY,
  CT_TCP_STATE, CT_STATUS, CT_TIMEOUT, CT_MARK, CT_ORIG, CT_MASTER, CT_SNAT, CT_DNAT, CT_SPAT, CT_DPAT,
  CT_NATSEQ, CT_SCTP_STATE, CT_SCTP_VTAG_ORIG, CT_SCTP_VTAG_REPL, CT_DCCP_STATE,
  CT_DCCP_ROLE, CT_ICMP_TYPE, CT_ICMP_CODE, CT_ICMP_ID, CT_WSCALE_ORIG, CT_WSCALE_REPL,
  CT_HELPER, CT_HELPER_LEN, CT_LABELS, CT_LABELS_LEN, CT_SYNPROXY, CT_ZONE,
  CTF_ORIG, CTF_L4PROTO, CTF_PORTS, CTF_TCP_STATE, CTF_STATUS, CTF_TIMEOUT, CTF_MARK,
  CTF_MASTER, CTF_MASTER_L4PROTO, CTF_MASTER_PORTS, CTF_SNAT, CTF_DNAT, CTF_SPAT,
  CTF_DPAT, CTF_NATSEQ, CTF_SCTP_STATE, CTF_SCTP_VTAG_ORIG, CTF_SCTP_VTAG_REPL,
  CTF_DCCP_STATE, CTF_DCCP_ROLE, CTF_ICMP_TYPE, CTF_ICMP_CODE, CTF_ICMP_ID,
  CTF_WSCALE_ORIG, CTF_WSCALE_REPL, CTF_HELPER, CTF_LABELS, CTF_SYNPROXY, CTF_ZONE,
  CT_LABELS_MAX, HELPER_NAME_MAX, EXP_MASTER, EXP_EXPECT, EXP_MASK, EXP_NAT,
  EXP_TIMEOUT, EXP_FLAGS, EXP_CLASS, EXP_NAT_DIR, EXP_HELPER, EXP_HELPER_LEN, EXP_FN,
  EXP_FN_LEN, EXP_FN_MAX, EXPF_MASTER_IP, EXPF_MASTER_L4PROTO, EXPF_EXPECT_IP,
  EXPF_EXPECT_L4PROTO, EXPF_MASK_IP, EXPF_NAT_IP, EXPF_TIMEOUT, EXPF_FLAGS, EXPF_CLASS, EXPF_NAT_DIR,
  EXPF_HELPER, EXPF_FN, TUPLE_FAMILY, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_SRC, TUPLE_DST, TB_L4PROTO, TB_PORTS,
  AF_INET, AF_INET6,
} from "./layout";
import { AttrTable, K_FIXED, K_PAIR, K_STRING, K_LABELS, K_SWAPPED16, ofFamily } from "./attrs";
import { storeAttr, hasAttr, attrPayloadLen, loadAttr } from "./record";
import { align4, loadBe16, loadBe32, storeBe16, storeBe32 } from "./bytes";
import {
  reject, R_TRUNCATED, R_BAD_SIZE, R_BAD_VERSION, R_BAD_TYPE, R_UNKNOWN_ATTR,
  R_INCOMPLETE, R_OVERSIZED, R_NO_ROOM, R_BAD_ATTR_LEN,
} from "./reasons";

export const PROTOCOL_VERSION: u32 = 1;
export const NETHDR_SIZE: u32 = 8;
export const NETHDR_ACK_SIZE: u32 = 16;
export const ATTR_HDR_SIZE: u32 = 4;
/** conntrackd's receive buffer: nothing larger is a datagram it accepts. */
export const MAX_DATAGRAM: u32 = 65536;

// Message types (low nibble of byte 0).
export const T_CT_NEW: u32 = 0;
export const T_CT_UPD: u32 = 1;
export const T_CT_DEL: u32 = 2;
export const T_EXP_NEW: u32 = 3;
export const T_EXP_UPD: u32 = 4;
export const T_EXP_DEL: u32 = 5;
export const T_CTL: u32 = 10;

// Header flags.
export const F_RESYNC: u32 = 1 << 1;
export const F_NACK: u32 = 1 << 2;
export const F_ACK: u32 = 1 << 3;
export const F_ALIVE: u32 = 1 << 4;
export const F_HELLO: u32 = 1 << 5;
export const F_HELLO_BACK: u32 = 1 << 6;

// What nextMessage() found.
export const MSG_END: i32 = 0;
export const MSG_CT: i32 = 1;
export const MSG_EXP: i32 = 2;
export const MSG_CTL: i32 = 3;

// ---- attribute tables --------------------------------------------------------

// Conntrack attributes (NTA_*), numbered as conntrackd 1.4.7 numbers them.
const NTA_IPV4 = 0, NTA_IPV6 = 1, NTA_L4PROTO = 2, NTA_PORT = 3, NTA_TCP_STATE = 4,
  NTA_STATUS = 5, NTA_TIMEOUT = 6, NTA_MARK = 7, NTA_MASTER_IPV4 = 8, NTA_MASTER_IPV6 = 9,
  NTA_MASTER_L4PROTO = 10, NTA_MASTER_PORT = 11, NTA_SNAT_IPV4 = 12, NTA_DNAT_IPV4 = 13,
  NTA_SPAT_PORT = 14, NTA_DPAT_PORT = 15, NTA_NAT_SEQ_ADJ = 16, NTA_SCTP_STATE = 17,
  NTA_SCTP_VTAG_ORIG = 18, NTA_SCTP_VTAG_REPL = 19, NTA_DCCP_STATE = 20, NTA_DCCP_ROLE = 21,
  NTA_ICMP_TYPE = 22, NTA_ICMP_CODE = 23, NTA_ICMP_ID = 24, NTA_TCP_WSCALE_ORIG = 25,
  NTA_TCP_WSCALE_REPL = 26, NTA_HELPER_NAME = 27, NTA_LABELS = 28, NTA_SNAT_IPV6 = 29,
  NTA_DNAT_IPV6 = 30, NTA_SYNPROXY = 31, NTA_ZONE = 32, NTA_MAX = 33;

const ctAttrs = new AttrTable(NTA_MAX);

/**
 * Defines the address, protocol and port attributes of one tuple of a record.
 * Its presence bits are the three TB_* bits shifted up to `bitIp`.
 */
function defTuple(table: AttrTable, ip4: i32, ip6: i32, l4: i32, port: i32, tuple: u32, bitIp: u32): void {
  const fam = tuple + TUPLE_FAMILY;
  ofFamily(table.def(ip4, K_PAIR, 8, tuple + TUPLE_SRC, bitIp, tuple + TUPLE_DST), fam, AF_INET);
  if (ip6 >= 0) {
    ofFamily(table.def(ip6, K_PAIR, 32, tuple + TUPLE_SRC, bitIp, tuple + TUPLE_DST), fam, AF_INET6);
  }
  table.def(l4, K_FIXED, 1, tuple + TUPLE_L4PROTO, bitIp * TB_L4PROTO);
  table.def(port, K_FIXED, 4, tuple + TUPLE_SPORT, bitIp * TB_PORTS);
}

defTuple(ctAttrs, NTA_IPV4, NTA_IPV6, NTA_L4PROTO, NTA_PORT, CT_ORIG, CTF_ORIG);
defTuple(ctAttrs, NTA_MASTER_IPV4, NTA_MASTER_IPV6, NTA_MASTER_L4PROTO, NTA_MASTER_PORT, CT_MASTER, CTF_MASTER);
ctAttrs.def(NTA_TCP_STATE, K_FIXED, 1, CT_TCP_STATE, CTF_TCP_STATE);
ctAttrs.def(NTA_STATUS, K_FIXED, 4, CT_STATUS, CTF_STATUS);
ctAttrs.def(NTA_TIMEOUT, K_FIXED, 4, CT_TIMEOUT, CTF_TIMEOUT);
ctAttrs.def(NTA_MARK, K_FIXED, 4, CT_MARK, CTF_MARK);
ofFamily(ctAttrs.def(NTA_SNAT_IPV4, K_FIXED, 4, CT_SNAT, CTF_SNAT), CT_FAMILY, AF_INET);
ofFamily(ctAttrs.def(NTA_DNAT_IPV4, K_FIXED, 4, CT_DNAT, CTF_DNAT), CT_FAMILY, AF_INET);
ctAttrs.def(NTA_SPAT_PORT, K_SWAPPED16, 2, CT_SPAT, CTF_SPAT);
ctAttrs.def(NTA_DPAT_PORT, K_SWAPPED16, 2, CT_DPAT, CTF_DPAT);
ctAttrs.def(NTA_NAT_SEQ_ADJ, K_FIXED, 24, CT_NATSEQ, CTF_NATSEQ);
ctAttrs.def(NTA_SCTP_STATE, K_FIXED, 1, CT_SCTP_STATE, CTF_SCTP_STATE);
ctAttrs.def(NTA_SCTP_VTAG_ORIG, K_FIXED, 4, CT_SCTP_VTAG_ORIG, CTF_SCTP_VTAG_ORIG);
ctAttrs.def(NTA_SCTP_VTAG_REPL, K_FIXED, 4, CT_SCTP_VTAG_REPL, CTF_SCTP_VTAG_REPL);
ctAttrs.def(NTA_DCCP_STATE, K_FIXED, 1, CT_DCCP_STATE, CTF_DCCP_STATE);
ctAttrs.def(NTA_DCCP_ROLE, K_FIXED, 1, CT_DCCP_ROLE, CTF_DCCP_ROLE);
ctAttrs.def(NTA_ICMP_TYPE, K_FIXED, 1, CT_ICMP_TYPE, CTF_ICMP_TYPE);
ctAttrs.def(NTA_ICMP_CODE, K_FIXED, 1, CT_ICMP_CODE, CTF_ICMP_CODE);
ctAttrs.def(NTA_ICMP_ID, K_SWAPPED16, 2, CT_ICMP_ID, CTF_ICMP_ID);
ctAttrs.def(NTA_TCP_WSCALE_ORIG, K_FIXED, 1, CT_WSCALE_ORIG, CTF_WSCALE_ORIG);
ctAttrs.def(NTA_TCP_WSCALE_REPL, K_FIXED, 1, CT_WSCALE_REPL, CTF_WSCALE_REPL);
ctAttrs.def(NTA_HELPER_NAME, K_STRING, HELPER_NAME_MAX, CT_HELPER, CTF_HELPER, CT_HELPER_LEN);
ctAttrs.def(NTA_LABELS, K_LABELS, CT_LABELS_MAX, CT_LABELS, CTF_LABELS, CT_LABELS_LEN);
ofFamily(ctAttrs.def(NTA_SNAT_IPV6, K_FIXED, 16, CT_SNAT, CTF_SNAT), CT_FAMILY, AF_INET6);
ofFamily(ctAttrs.def(NTA_DNAT_IPV6, K_FIXED, 16, CT_DNAT, CTF_DNAT), CT_FAMILY, AF_INET6);
ctAttrs.def(NTA_SYNPROXY, K_FIXED, 12, CT_SYNPROXY, CTF_SYNPROXY);
ctAttrs.def(NTA_ZONE, K_FIXED, 2, CT_ZONE, CTF_ZONE);

// The order conntrackd writes conntrack attributes in; encoding follows it so
// that a message decoded and encoded again is the same bytes.
const CT_ORDER: StaticArray<i32> = [
  NTA_IPV4, NTA_IPV6, NTA_STATUS, NTA_L4PROTO, NTA_PORT, NTA_TCP_STATE,
  NTA_TCP_WSCALE_ORIG, NTA_TCP_WSCALE_REPL, NTA_SCTP_STATE, NTA_SCTP_VTAG_ORIG,
  NTA_SCTP_VTAG_REPL, NTA_DCCP_STATE, NTA_DCCP_ROLE, NTA_ICMP_TYPE, NTA_ICMP_CODE,
  NTA_ICMP_ID, NTA_TIMEOUT, NTA_MARK, NTA_MASTER_IPV4, NTA_MASTER_IPV6,
  NTA_MASTER_L4PROTO, NTA_MASTER_PORT, NTA_SNAT_IPV4, NTA_SNAT_IPV6, NTA_DNAT_IPV4,
  NTA_DNAT_IPV6, NTA_SPAT_PORT, NTA_DPAT_PORT, NTA_NAT_SEQ_ADJ, NTA_HELPER_NAME,
  NTA_LABELS, NTA_SYNPROXY, NTA_ZONE,
];

// Expectation attributes (NTA_EXP_*): four tuples of (addresses, protocol,
// ports) at ids 0-11 and 15-17, then scalars and names.
const NTA_EXP_TIMEOUT = 12, NTA_EXP_FLAGS = 13, NTA_EXP_CLASS = 14, NTA_EXP_NAT_IPV4 = 15,
  NTA_EXP_NAT_PORT = 16, NTA_EXP_NAT_L4PROTO = 17, NTA_EXP_NAT_DIR = 18,
  NTA_EXP_HELPER_NAME = 19, NTA_EXP_FN = 20, NTA_EXP_MAX = 21;

const expAttrs = new AttrTable(NTA_EXP_MAX);

// Tuple presence bits come in threes: addresses, then protocol, then ports.
defTuple(expAttrs, 0, 1, 2, 3, EXP_MASTER, EXPF_MASTER_IP);
defTuple(expAttrs, 4, 5, 6, 7, EXP_EXPECT, EXPF_EXPECT_IP);
defTuple(expAttrs, 8, 9, 10, 11, EXP_MASK, EXPF_MASK_IP);
// conntrackd only ever sends an IPv4 NAT tuple.
defTuple(expAttrs, NTA_EXP_NAT_IPV4, -1, NTA_EXP_NAT_L4PROTO, NTA_EXP_NAT_PORT, EXP_NAT, EXPF_NAT_IP);
expAttrs.def(NTA_EXP_TIMEOUT, K_FIXED, 4, EXP_TIMEOUT, EXPF_TIMEOUT);
expAttrs.def(NTA_EXP_FLAGS, K_FIXED, 4, EXP_FLAGS, EXPF_FLAGS);
expAttrs.def(NTA_EXP_CLASS, K_FIXED, 4, EXP_CLASS, EXPF_CLASS);
expAttrs.def(NTA_EXP_NAT_DIR, K_FIXED, 4, EXP_NAT_DIR, EXPF_NAT_DIR);
expAttrs.def(NTA_EXP_HELPER_NAME, K_STRING, HELPER_NAME_MAX, EXP_HELPER, EXPF_HELPER, EXP_HELPER_LEN);
expAttrs.def(NTA_EXP_FN, K_STRING, EXP_FN_MAX, EXP_FN, EXPF_FN, EXP_FN_LEN);

const EXP_ORDER: StaticArray<i32> = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, NTA_EXP_TIMEOUT, NTA_EXP_FLAGS, NTA_EXP_CLASS,
  NTA_EXP_NAT_IPV4, NTA_EXP_NAT_L4PROTO, NTA_EXP_NAT_PORT, NTA_EXP_NAT_DIR,
  NTA_EXP_HELPER_NAME, NTA_EXP_FN,
];

/** What a decoded message must hold to be a whole object. */
const CT_REQUIRED: u32 = CTF_ORIG | CTF_L4PROTO;
const EXP_REQUIRED: u32 = EXPF_MASTER_IP | EXPF_MASTER_L4PROTO | EXPF_EXPECT_IP |
  EXPF_EXPECT_L4PROTO | EXPF_MASK_IP;

// ---- decoding ----------------------------------------------------------------

/**
 * A datagram being read: where the next message is, and the header of the
 * message nextMessage() last looked at. Each reader of datagrams (the engine,
 * the ABI's syncOpen/syncNext) has its own.
 */
@final @unmanaged export class SyncReader {
  cursor: usize = 0;
  limit: usize = 0;
  /** Where the message starts. */
  ptr: usize = 0;
  version: u32 = 0;
  type: u32 = 0;
  flags: u32 = 0;
  len: u32 = 0;
  seq: u32 = 0;
  /** The range of an ACK, NACK or RESYNC; 0 otherwise. */
  from: u32 = 0;
  to: u32 = 0;
}

/** A reader in static memory, for a module-level owner. */
export function staticReader(): SyncReader {
  return changetype<SyncReader>(memory.data(offsetof<SyncReader>(), 8));
}

/** Starts reading the datagram of `len` bytes at `ptr`. */
export function openDatagram(r: SyncReader, ptr: usize, len: u32): i32 {
  r.cursor = ptr;
  r.limit = ptr + len;
  if (len > MAX_DATAGRAM) {
    r.cursor = r.limit;
    return reject(R_OVERSIZED);
  }
  return 0;
}

/** Whether a control message with these flags carries a [from, to] range (ACK, NACK, RESYNC). */
@inline export function isRangedCtl(flags: u32): bool {
  return (flags & (F_ACK | F_NACK | F_RESYNC)) != 0;
}

@inline function isRanged(type: u32, flags: u32): bool {
  return type == T_CTL && isRangedCtl(flags);
}

/**
 * Decodes the next message of the open datagram: a conntrack into `ctRec`, an
 * expectation into `expRec`, or a control message (header fields only).
 * Returns MSG_*, or a negated reason. A framing error (a length that cannot be
 * trusted) ends the datagram; a message that is framed well but wrong inside
 * is skipped, and the next call goes on with the message after it.
 */
export function nextMessage(r: SyncReader, ctRec: usize, expRec: usize): i32 {
  const remain = <u32>(r.limit - r.cursor);
  if (remain == 0) return MSG_END;
  const p = r.cursor;
  r.ptr = p;
  if (remain < NETHDR_SIZE) return endWith(r, R_TRUNCATED);
  const b0 = <u32>load<u8>(p);
  r.version = b0 >> 4;
  r.type = b0 & 0xf;
  r.flags = <u32>load<u8>(p + 1);
  r.len = loadBe16(p + 2);
  r.seq = loadBe32(p + 4);
  r.from = 0;
  r.to = 0;
  const len = r.len;
  if (len == 0 || len > remain) return endWith(r, R_BAD_SIZE);
  if (isRanged(r.type, r.flags)) {
    if (remain < NETHDR_ACK_SIZE) return endWith(r, R_TRUNCATED);
    if (len < NETHDR_ACK_SIZE) return endWith(r, R_BAD_SIZE);
    r.from = loadBe32(p + 8);
    r.to = loadBe32(p + 12);
  } else if (len < NETHDR_SIZE) {
    return endWith(r, R_BAD_SIZE);
  }
  r.cursor = p + len;
  if (r.version != PROTOCOL_VERSION) return reject(R_BAD_VERSION);
  if (r.type == T_CTL) return MSG_CTL;
  if (r.type <= T_CT_DEL) return decodeBody(ctAttrs, ctRec, CT_RECORD_SIZE, CT_REQUIRED, p + NETHDR_SIZE, p + len, MSG_CT);
  if (r.type <= T_EXP_DEL) return decodeBody(expAttrs, expRec, EXP_RECORD_SIZE, EXP_REQUIRED, p + NETHDR_SIZE, p + len, MSG_EXP);
  return reject(R_BAD_TYPE);
}

function endWith(r: SyncReader, reason: i32): i32 {
  r.cursor = r.limit;
  return reject(reason);
}

/**
 * Decodes a message body (its attributes, `len` bytes at `body`) into the
 * conntrack or expectation record: a cache entry's body is one. Returns
 * MSG_CT / MSG_EXP or a negated reason.
 */
export function decodeAttrs(isExp: bool, rec: usize, body: usize, len: u32): i32 {
  if (isExp) return decodeBody(expAttrs, rec, EXP_RECORD_SIZE, EXP_REQUIRED, body, body + len, MSG_EXP);
  return decodeBody(ctAttrs, rec, CT_RECORD_SIZE, CT_REQUIRED, body, body + len, MSG_CT);
}

/** Walks the attributes in [a, end) into a zeroed record. */
function decodeBody(
  table: AttrTable, rec: usize, recSize: u32, required: u32,
  a: usize, end: usize, result: i32,
): i32 {
  memory.fill(rec, 0, recSize);
  let present: u32 = 0;
  while (end - a >= ATTR_HDR_SIZE) {
    const alen = loadBe16(a);
    const id = <i32>loadBe16(a + 2);
    if (alen < ATTR_HDR_SIZE || <usize>alen > end - a) return reject(R_BAD_ATTR_LEN);
    if (id >= table.size || table.at(id).kind == 0) return reject(R_UNKNOWN_ATTR);
    const d = table.at(id);
    const why = storeAttr(d, rec, a + ATTR_HDR_SIZE, alen - ATTR_HDR_SIZE);
    if (why != 0) return reject(why);
    present |= d.bit;
    a += align4(alen);
  }
  store<u32>(rec, present);
  if ((present & required) != required) return reject(R_INCOMPLETE);
  return result;
}

// ---- encoding ----------------------------------------------------------------

// Fields conntrackd leaves out of what it sends, by configuration: window
// scales unless TCPWindowTracking is on, timeouts when CommitTimeout is set
// (the receiver then chooses the timeout).
let ctOmit: u32 = CTF_WSCALE_ORIG | CTF_WSCALE_REPL;
let expOmit: u32 = 0;

/** TCPWindowTracking: off (conntrackd's default) makes entries written into the kernel liberal. */
export let tcpWindowTracking: bool = false;

export function setSyncOptions(tcpWindowTracking_: bool, commitTimeoutSet: bool): void {
  tcpWindowTracking = tcpWindowTracking_;
  ctOmit = (tcpWindowTracking_ ? 0 : CTF_WSCALE_ORIG | CTF_WSCALE_REPL) | (commitTimeoutSet ? CTF_TIMEOUT : 0);
  expOmit = commitTimeoutSet ? EXPF_TIMEOUT : 0;
}

/** Writes a message header (nethdr): version and type, flags, length, sequence number. */
export function writeHeader(p: usize, type: u32, flags: u32, len: u32, seq: u32): void {
  store<u8>(p, <u8>((PROTOCOL_VERSION << 4) | type));
  store<u8>(p + 1, <u8>flags);
  storeBe16(p + 2, len);
  storeBe32(p + 4, seq);
}

/**
 * Encodes the record as a message of `type` at `dst`, using at most `cap`
 * bytes. Returns the message length, or a negated reason (R_NO_ROOM).
 */
function encodeBody(
  table: AttrTable, order: StaticArray<i32>, rec: usize, omit: u32,
  dst: usize, cap: u32, type: u32, flags: u32, seq: u32,
): i32 {
  if (cap < NETHDR_SIZE) return -R_NO_ROOM;
  const present = load<u32>(rec) & ~omit;
  let len: u32 = NETHDR_SIZE;
  for (let i = 0; i < order.length; i++) {
    const d = table.at(order[i]);
    if (!hasAttr(d, present, rec)) continue;
    const plen = attrPayloadLen(d, rec);
    const total = align4(ATTR_HDR_SIZE + plen);
    if (len + total > cap) return -R_NO_ROOM;
    if (len + total > 0xffff) return -R_OVERSIZED;
    const a = dst + len;
    store<u32>(a + total - 4, 0); // zero the padding before the payload lands
    storeBe16(a, ATTR_HDR_SIZE + plen);
    storeBe16(a + 2, <u32>order[i]);
    loadAttr(d, rec, a + ATTR_HDR_SIZE);
    len += total;
  }
  writeHeader(dst, type, flags, len, seq);
  return <i32>len;
}

export function encodeCt(rec: usize, dst: usize, cap: u32, type: u32, flags: u32, seq: u32): i32 {
  if (type > T_CT_DEL) return -R_BAD_TYPE;
  return encodeBody(ctAttrs, CT_ORDER, rec, ctOmit, dst, cap, type, flags, seq);
}

export function encodeExp(rec: usize, dst: usize, cap: u32, type: u32, flags: u32, seq: u32): i32 {
  if (type < T_EXP_NEW || type > T_EXP_DEL) return -R_BAD_TYPE;
  return encodeBody(expAttrs, EXP_ORDER, rec, expOmit, dst, cap, type, flags, seq);
}

/**
 * Encodes a control message: ACK, NACK and RESYNC carry the range
 * [from, to]; ALIVE, HELLO and HELLO_BACK are a bare header.
 */
export function encodeCtl(dst: usize, cap: u32, flags: u32, seq: u32, from: u32, to: u32): i32 {
  const ranged = isRanged(T_CTL, flags);
  const len = ranged ? NETHDR_ACK_SIZE : NETHDR_SIZE;
  if (cap < len) return -R_NO_ROOM;
  writeHeader(dst, T_CTL, flags, len, seq);
  if (ranged) {
    storeBe32(dst + 8, from);
    storeBe32(dst + 12, to);
  }
  return <i32>len;
}
