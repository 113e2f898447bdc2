// The one-call decoder: a whole sync datagram (or a run of them) into an
// array of fixed-layout message summaries, for runtimes where a call across
// the boundary is dear (Python with wasmtime pays about a microsecond a call:
// one call a message and one a field ran at ~11,000 messages/s). wire.ts
// still owns the format; this file only copies what nextMessage() found into
// a layout that any runtime reads with one struct unpack: every number
// little-endian, addresses as 16 raw bytes in network order.
import {
  CT_RECORD_SIZE, EXP_RECORD_SIZE, CT_ORIG, CT_MASTER, CT_TCP_STATE, CT_SCTP_STATE, CT_DCCP_STATE,
  CT_ZONE, CT_STATUS, CT_TIMEOUT, CT_MARK, CT_SPAT, CT_DPAT, CT_SNAT, CT_DNAT, CT_HELPER, CT_HELPER_LEN,
  CTF_TCP_STATE, CTF_SCTP_STATE, CTF_DCCP_STATE,
  EXP_MASTER, EXP_EXPECT, EXP_TIMEOUT, EXP_FLAGS, EXP_CLASS, EXP_HELPER, EXP_HELPER_LEN,
  TUPLE_FAMILY, TUPLE_L4PROTO, TUPLE_SPORT, TUPLE_DPORT, TUPLE_SRC, TUPLE_DST,
} from "./layout";
import {
  openDatagram, nextMessage, staticReader,
  MSG_END, MSG_CT, MSG_EXP, MSG_CTL, NETHDR_SIZE, MAX_DATAGRAM,
} from "./wire";
import { loadBe16, loadBe32 } from "./bytes";
import { reject, R_NO_ROOM, R_TRUNCATED } from "./reasons";

// ---- the summary record (SUM_SIZE bytes, little-endian numbers) ----------------
export const SUM_KIND: u32 = 0; //      u8  MSG_CT, MSG_EXP, MSG_CTL, or SUM_REJECTED
export const SUM_REASON: u32 = 1; //    u8  R_* when rejected, else 0
export const SUM_TYPE: u32 = 2; //      u8  T_* (header byte 0, low nibble)
export const SUM_FLAGS: u32 = 3; //     u8  F_* (header byte 1)
export const SUM_LEN: u32 = 4; //       u16 message length from its header
export const SUM_VERSION: u32 = 6; //   u8  protocol version (header byte 0, high nibble)
export const SUM_HDR: u32 = 7; //       u8  1 when the header was read (fields 2-19 are valid)
export const SUM_SEQ: u32 = 8; //       u32 sequence number
export const SUM_FROM: u32 = 12; //     u32 ACK / NACK / RESYNC range: first
export const SUM_TO: u32 = 16; //       u32 ACK / NACK / RESYNC range: last
export const SUM_DGRAM: u32 = 20; //    u32 which datagram of the call (0 for syncDecode)
export const SUM_OFFSET: u32 = 24; //   u32 where the message starts in its datagram
export const SUM_PRESENT: u32 = 28; //  u32 the record's CTF_* / EXPF_* bits
export const SUM_TUPLE: u32 = 32; //    tuple: conntrack original / expectation expected
export const SUM_TUPLE2: u32 = 72; //   tuple: conntrack master / expectation master
export const SUM_STATE: u32 = 112; //   u8  TCP, SCTP or DCCP state (as present says)
export const SUM_HELPER_LEN: u32 = 113; // u8
export const SUM_ZONE: u32 = 114; //    u16
export const SUM_STATUS: u32 = 116; //  u32 IPS_* (conntrack) / NF_CT_EXPECT_* flags (expectation)
export const SUM_TIMEOUT: u32 = 120; // u32 seconds
export const SUM_MARK: u32 = 124; //    u32 mark (conntrack) / class (expectation)
export const SUM_SPAT: u32 = 128; //    u16 port after source NAT
export const SUM_DPAT: u32 = 130; //    u16 port after destination NAT
export const SUM_HELPER: u32 = 132; //  16 bytes helper name, no NUL
export const SUM_SNAT: u32 = 148; //    16 bytes address after source NAT
export const SUM_DNAT: u32 = 164; //    16 bytes address after destination NAT
export const SUM_SIZE: u32 = 184;

// A summary tuple (40 bytes): the record's tuple with its ports as numbers.
export const SUMT_SPORT: u32 = 0; //      u16 source port; ICMP: the echo id
export const SUMT_DPORT: u32 = 2; //      u16 destination port; ICMP: type << 8 | code
export const SUMT_FAMILY: u32 = 4; //     u8  AF_INET / AF_INET6
export const SUMT_L4PROTO: u32 = 5; //    u8
export const SUMT_ICMP_TYPE: u32 = 6; //  u8  (the high byte of SUMT_DPORT)
export const SUMT_ICMP_CODE: u32 = 7; //  u8  (the low byte of SUMT_DPORT)
export const SUMT_SRC: u32 = 8; //        16 bytes, network order
export const SUMT_DST: u32 = 24; //       16 bytes, network order
export const SUMT_SIZE: u32 = 40;

export const SUM_REJECTED: u32 = 0;

/** Summaries the module's own area holds: enough for the messages of the largest datagram (8 bytes each). */
export const SUM_CAP: u32 = MAX_DATAGRAM / NETHDR_SIZE;
const area = memory.data(<i32>(SUM_CAP * SUM_SIZE), 8);
const ctRec = memory.data(<i32>CT_RECORD_SIZE, 8);
const expRec = memory.data(<i32>EXP_RECORD_SIZE, 8);

export function summaryPtr(): usize { return area; }

/** Summaries a datagram of `len` bytes can produce at most (one per 8 bytes, at least one). */
@inline function worstCase(len: u32): u32 {
  return max<u32>(1, (len + NETHDR_SIZE - 1) / NETHDR_SIZE);
}

function putTuple(dst: usize, t: usize): void {
  store<u16>(dst + SUMT_SPORT, <u16>loadBe16(t + TUPLE_SPORT));
  store<u16>(dst + SUMT_DPORT, <u16>loadBe16(t + TUPLE_DPORT));
  store<u8>(dst + SUMT_FAMILY, load<u8>(t + TUPLE_FAMILY));
  store<u8>(dst + SUMT_L4PROTO, load<u8>(t + TUPLE_L4PROTO));
  store<u8>(dst + SUMT_ICMP_TYPE, load<u8>(t + TUPLE_DPORT));
  store<u8>(dst + SUMT_ICMP_CODE, load<u8>(t + TUPLE_DPORT + 1));
  memory.copy(dst + SUMT_SRC, t + TUPLE_SRC, 16);
  memory.copy(dst + SUMT_DST, t + TUPLE_DST, 16);
}

function putCt(s: usize): void {
  const present = load<u32>(ctRec);
  store<u32>(s + SUM_PRESENT, present);
  putTuple(s + SUM_TUPLE, ctRec + CT_ORIG);
  putTuple(s + SUM_TUPLE2, ctRec + CT_MASTER);
  const state = (present & CTF_TCP_STATE) ? load<u8>(ctRec + CT_TCP_STATE)
    : (present & CTF_SCTP_STATE) ? load<u8>(ctRec + CT_SCTP_STATE)
    : (present & CTF_DCCP_STATE) ? load<u8>(ctRec + CT_DCCP_STATE) : <u8>0;
  store<u8>(s + SUM_STATE, state);
  store<u8>(s + SUM_HELPER_LEN, load<u8>(ctRec + CT_HELPER_LEN));
  store<u16>(s + SUM_ZONE, <u16>loadBe16(ctRec + CT_ZONE));
  store<u32>(s + SUM_STATUS, loadBe32(ctRec + CT_STATUS));
  store<u32>(s + SUM_TIMEOUT, loadBe32(ctRec + CT_TIMEOUT));
  store<u32>(s + SUM_MARK, loadBe32(ctRec + CT_MARK));
  store<u16>(s + SUM_SPAT, <u16>loadBe16(ctRec + CT_SPAT));
  store<u16>(s + SUM_DPAT, <u16>loadBe16(ctRec + CT_DPAT));
  memory.copy(s + SUM_HELPER, ctRec + CT_HELPER, 16);
  memory.copy(s + SUM_SNAT, ctRec + CT_SNAT, 16);
  memory.copy(s + SUM_DNAT, ctRec + CT_DNAT, 16);
}

function putExp(s: usize): void {
  store<u32>(s + SUM_PRESENT, load<u32>(expRec));
  putTuple(s + SUM_TUPLE, expRec + EXP_EXPECT);
  putTuple(s + SUM_TUPLE2, expRec + EXP_MASTER);
  store<u8>(s + SUM_HELPER_LEN, load<u8>(expRec + EXP_HELPER_LEN));
  store<u32>(s + SUM_STATUS, loadBe32(expRec + EXP_FLAGS));
  store<u32>(s + SUM_TIMEOUT, loadBe32(expRec + EXP_TIMEOUT));
  store<u32>(s + SUM_MARK, loadBe32(expRec + EXP_CLASS));
  memory.copy(s + SUM_HELPER, expRec + EXP_HELPER, 16);
}

/** This decoder's own reader: a syncOpen/syncNext walk under way is left as it is. */
const m = staticReader();

/** Decodes the datagram at [ptr, ptr + len) into summaries from `dst`; returns how many. */
function decodeOne(ptr: usize, len: u32, dst: usize, dgram: u32): u32 {
  let n: u32 = 0;
  let r = openDatagram(m, ptr, len);
  if (r < 0) {
    // Oversized: one summary saying so (the decoder counted it).
    const s = dst;
    memory.fill(s, 0, SUM_SIZE);
    store<u8>(s + SUM_REASON, <u8>(-r));
    store<u32>(s + SUM_DGRAM, dgram);
    return 1;
  }
  const end = ptr + len;
  for (;;) {
    r = nextMessage(m, ctRec, expRec);
    if (r == MSG_END) break;
    const s = dst + <usize>n * SUM_SIZE;
    memory.fill(s, 0, SUM_SIZE);
    store<u32>(s + SUM_DGRAM, dgram);
    store<u32>(s + SUM_OFFSET, <u32>(m.ptr - ptr));
    // A header cut short leaves the decoder's header fields from the message before.
    if (end - m.ptr >= NETHDR_SIZE) {
      store<u8>(s + SUM_HDR, 1);
      store<u8>(s + SUM_TYPE, <u8>m.type);
      store<u8>(s + SUM_FLAGS, <u8>m.flags);
      store<u16>(s + SUM_LEN, <u16>m.len);
      store<u8>(s + SUM_VERSION, <u8>m.version);
      store<u32>(s + SUM_SEQ, m.seq);
      store<u32>(s + SUM_FROM, m.from);
      store<u32>(s + SUM_TO, m.to);
    }
    if (r < 0) {
      store<u8>(s + SUM_REASON, <u8>(-r));
    } else {
      store<u8>(s + SUM_KIND, <u8>r);
      if (r == MSG_CT) putCt(s);
      else if (r == MSG_EXP) putExp(s);
    }
    n++;
  }
  return n;
}

/**
 * Decodes the datagram of `len` bytes at `ptr` into summaries at `dst` (room
 * for `cap`; summaryPtr() / SUM_CAP is the module's own area). Returns the
 * number written, or -R_NO_ROOM (nothing decoded) when `cap` is less than one
 * summary per 8 bytes of the datagram. Rejected messages are summaries too.
 */
export function syncDecode(ptr: usize, len: u32, dst: usize, cap: u32): i32 {
  if (cap < worstCase(len)) return -R_NO_ROOM;
  return <i32>decodeOne(ptr, len, dst, 0);
}

let framesUsed: u32 = 0;

/**
 * Decodes a run of datagrams, each framed as the outbox frames them (u32 LE
 * length, then the datagram), `len` bytes at `ptr`, into summaries at `dst`
 * (room for `cap`). Stops before a datagram whose worst case no longer fits;
 * syncDecodeUsed() then says how many input bytes were decoded, so the host
 * calls again from there. A frame whose length runs past the input is one
 * R_TRUNCATED summary and ends the run. Returns the number of summaries.
 */
export function syncDecodeFrames(ptr: usize, len: u32, dst: usize, cap: u32): i32 {
  let at: u32 = 0;
  let n: u32 = 0;
  let dgram: u32 = 0;
  while (len - at >= 4) {
    const dlen = load<u32>(ptr + at);
    const need = dlen > MAX_DATAGRAM ? 1 : worstCase(dlen);
    if (n + need > cap) break;
    const s = dst + <usize>n * SUM_SIZE;
    if (<u64>dlen > <u64>(len - at - 4)) {
      memory.fill(s, 0, SUM_SIZE);
      store<u8>(s + SUM_REASON, <u8>(-reject(R_TRUNCATED)));
      store<u32>(s + SUM_DGRAM, dgram);
      n++;
      at = len;
      break;
    }
    n += decodeOne(ptr + at + 4, dlen, s, dgram);
    at += 4 + dlen;
    dgram++;
  }
  if (len - at > 0 && len - at < 4 && n < cap) {
    const s = dst + <usize>n * SUM_SIZE;
    memory.fill(s, 0, SUM_SIZE);
    store<u8>(s + SUM_REASON, <u8>(-reject(R_TRUNCATED)));
    store<u32>(s + SUM_DGRAM, dgram);
    n++;
    at = len;
  }
  framesUsed = at;
  return <i32>n;
}

/** Input bytes the last syncDecodeFrames call decoded (whole frames). */
export function syncDecodeUsed(): u32 { return framesUsed; }
