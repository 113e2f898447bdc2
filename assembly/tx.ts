// The transmit buffer: sync messages are packed into it back to back until
// the next one would not fit the link's payload size, as conntrackd packs
// them; the host then sends the buffer as one datagram and resets it.
import { encodeCt, encodeExp, encodeCtl, MAX_DATAGRAM } from "./wire";
import { appendVerdict } from "./reasons";

const buffer = memory.data(MAX_DATAGRAM);
let capacity: u32 = 1472; // Ethernet MTU 1500 less IPv4 and UDP headers
let used: u32 = 0;

export function txPtr(): usize {
  return buffer;
}

export function txLen(): u32 {
  return used;
}

/** Empties the buffer and sets the datagram payload size (the link MTU less headers). */
export function txReset(payloadSize: u32): void {
  capacity = min(payloadSize, MAX_DATAGRAM);
  used = 0;
}

/** Empties the buffer after the host sent it, keeping the payload size. */
export function txClear(): void {
  used = 0;
}

// conntrackd appends a message while buffer length + message length stays
// strictly below the buffer size, so the room left is one byte less.
@inline function room(): u32 {
  return used + 1 >= capacity ? 0 : capacity - used - 1;
}

/** Counts what an encoder wrote; see appendVerdict. */
function appended(n: i32): i32 {
  const v = appendVerdict(n, used == 0);
  if (v == 1) used += <u32>n;
  return v;
}

export function txAppendCt(rec: usize, type: u32, flags: u32, seq: u32): i32 {
  return appended(encodeCt(rec, buffer + used, room(), type, flags, seq));
}

export function txAppendExp(rec: usize, type: u32, flags: u32, seq: u32): i32 {
  return appended(encodeExp(rec, buffer + used, room(), type, flags, seq));
}

export function txAppendCtl(flags: u32, seq: u32, from: u32, to: u32): i32 {
  return appended(encodeCtl(buffer + used, room(), flags, seq, from, to));
}
