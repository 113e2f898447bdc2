// The outbox: datagrams ready for the dedicated link, each prefixed with its
// length (u32 LE). Every sync message the core sends is packed here, the way
// conntrackd packs its buffer: into the open datagram while it fits, else into
// a new one; the host sends them all after each call into the engine. The
// engine writes its queued entries (outReserve); records and control messages
// are encoded in place (outAppendCt, outAppendExp, outAppendCtl).
// With authentication on, each datagram is a frame (auth.ts): its messages
// are written after room for the header, and closing it seals it.
import { encodeCt, encodeExp, encodeCtl } from "./wire";
import { appendVerdict, R_NO_ROOM } from "./reasons";
import { authEnabled, authSeal, AUTH_HEADER_SIZE, AUTH_TAG_SIZE } from "./auth";

const OUT_SIZE: u32 = 1 << 20;
const out = memory.data(<i32>OUT_SIZE, 8);

let closed: u32 = 0; //   bytes of finished datagrams, prefixes included
let open: u32 = 0; //     bytes in the open datagram
let payload: u32 = 1472; // datagram payload size (link MTU less headers)

/** Bytes before a datagram's messages, and after them: a frame's header and tag when authenticating. */
@inline function head(): u32 { return authEnabled ? AUTH_HEADER_SIZE : 0; }
@inline function trail(): u32 { return authEnabled ? AUTH_TAG_SIZE : 0; }
/** What the messages of one datagram may take. */
@inline function room(): u32 { return authEnabled ? max<u32>(payload, 64 + AUTH_HEADER_SIZE + AUTH_TAG_SIZE) - AUTH_HEADER_SIZE - AUTH_TAG_SIZE : payload; }

export function outPtr(): usize { return out; }

/** Closes the open datagram and returns the byte length of the outbox. */
export function outLen(): u32 {
  closeOpen();
  return closed;
}

export function outClear(): void {
  closed = 0;
  open = 0;
}

export function outSetPayload(size: u32): void {
  payload = max<u32>(min<u32>(size, 65535), 64);
}

function closeOpen(): void {
  if (open == 0) return;
  const len = authEnabled ? authSeal(out + closed + 4, open) : open;
  store<u32>(out + closed, len);
  closed += 4 + len;
  open = 0;
}

/** An authenticated frame with no messages (auth.ts's beacon): 1, or 0 when the outbox is full. */
export function outBeacon(): u32 {
  closeOpen();
  if (closed + 4 + AUTH_HEADER_SIZE + AUTH_TAG_SIZE > OUT_SIZE) return 0;
  const len = authSeal(out + closed + 4, 0);
  store<u32>(out + closed, len);
  closed += 4 + len;
  return 1;
}

/**
 * Room for a message of `len` bytes: a pointer to write it at, or 0 when the
 * outbox is full (the host must send what is there first). conntrackd adds a
 * message while buffer length + message length stays below the payload size.
 */
export function outReserve(len: u32): usize {
  if (open != 0 && open + len >= room()) closeOpen();
  if (closed + 4 + head() + open + len + trail() > OUT_SIZE) return 0;
  const p = out + closed + 4 + head() + open;
  open += len;
  return p;
}

// An encoder that writes one message at `dst` within `cap` bytes: its length, or -reason.
const BY_CT: u32 = 0, BY_EXP: u32 = 1, BY_CTL: u32 = 2;

function encodeAt(by: u32, rec: usize, dst: usize, cap: u32, type: u32, flags: u32, seq: u32, from: u32, to: u32): i32 {
  if (by == BY_CT) return encodeCt(rec, dst, cap, type, flags, seq);
  if (by == BY_EXP) return encodeExp(rec, dst, cap, type, flags, seq);
  return encodeCtl(dst, cap, flags, seq, from, to);
}

/** Encodes into the open datagram, or, when it is too full, into a new one: see appendVerdict. */
function append(by: u32, rec: usize, type: u32, flags: u32, seq: u32, from: u32, to: u32): i32 {
  for (;;) {
    const at = closed + 4 + head() + open;
    if (at + trail() >= OUT_SIZE) return 0;
    // below the payload size, as outReserve: one byte less than the room left
    const datagramRoom: u32 = open + 1 >= room() ? 0 : room() - open - 1;
    const bufferRoom = OUT_SIZE - at - trail();
    const n = encodeAt(by, rec, out + at, min<u32>(datagramRoom, bufferRoom), type, flags, seq, from, to);
    if (n > 0) {
      open += <u32>n;
      return 1;
    }
    if (n != -R_NO_ROOM) return n;
    if (open == 0) return bufferRoom < datagramRoom ? 0 : appendVerdict(n, true); // full, or too big for any datagram
    closeOpen(); // did not fit after the others: a datagram of its own
  }
  return 0; // not reached
}

/** The conntrack record at `rec` as a message: 1 appended, 0 outbox full, or -reason. */
export function outAppendCt(rec: usize, type: u32, flags: u32, seq: u32): i32 {
  return append(BY_CT, rec, type, flags, seq, 0, 0);
}

/** The expectation record at `rec` as a message: 1, 0 or -reason. */
export function outAppendExp(rec: usize, type: u32, flags: u32, seq: u32): i32 {
  return append(BY_EXP, rec, type, flags, seq, 0, 0);
}

/** A control message (ACK, NACK and RESYNC carry [from, to]): 1, 0 or -reason. */
export function outAppendCtl(flags: u32, seq: u32, from: u32, to: u32): i32 {
  return append(BY_CTL, 0, 0, flags, seq, from, to);
}
