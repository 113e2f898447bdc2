// Why an input was rejected. Decoders return these negated (a negative result
// is a rejection) and count each one, so the host can report every malformed
// datagram or kernel message by cause without parsing anything itself. Two
// banks of counters: what peers sent (sync messages, and the cache bodies
// they became) and what the kernel sent (ctnetlink), so "malformed messages"
// from peers never counts the kernel's.

export const R_TRUNCATED: i32 = 1; //     fewer bytes than a header needs
export const R_BAD_SIZE: i32 = 2; //      a length field that lies (zero, too small, past the end)
export const R_BAD_VERSION: i32 = 3; //   sync protocol version is not 1
export const R_BAD_TYPE: i32 = 4; //      unknown message type
export const R_BAD_ATTR_LEN: i32 = 5; //  attribute length wrong for its kind
export const R_UNKNOWN_ATTR: i32 = 6; //  attribute number the protocol does not define
export const R_INCOMPLETE: i32 = 7; //    message lacks its tuple (half an object)
export const R_BAD_FAMILY: i32 = 8; //    address family other than IPv4/IPv6, or mixed
export const R_OVERSIZED: i32 = 9; //     longer than the biggest datagram or buffer
export const R_NO_ROOM: i32 = 10; //      output does not fit in the buffer given
export const R_BAD_VALUE: i32 = 11; //    a field value the encoder cannot express
// Authenticated sync (auth.ts): frames refused before any decode.
export const R_AUTH_MISSING: i32 = 12; //   not an authenticated frame (a conntrackd peer, or no key on the sender)
export const R_AUTH_TRUNCATED: i32 = 13; // shorter than header and tag, or its length field lies
export const R_AUTH_KEY: i32 = 14; //       a key id we do not hold
export const R_AUTH_MAC: i32 = 15; //       the tag does not match: wrong key, or altered in flight
export const R_AUTH_STALE: i32 = 16; //     echoes an epoch of ours that is not the current one (from before our restart)
export const R_AUTH_REPLAY: i32 = 17; //    a sequence number already taken or too old, an older run of the peer, or our own frame
export const R_COUNT: i32 = 18;

/** The banks of rejectsPtr(). */
export const REJECTS_SYNC: u32 = 0;
export const REJECTS_KERNEL: u32 = 1;

// One counter per reason and bank, in linear memory (u32 each, index = reason).
const BANK_BYTES: u32 = <u32>R_COUNT * 4;
const counters = memory.data(<i32>BANK_BYTES * 2);

/** The counters of a bank (REJECTS_SYNC, REJECTS_KERNEL): R_COUNT u32s indexed by reason. */
export function rejectsPtr(bank: u32): usize {
  const offset: usize = bank == REJECTS_KERNEL ? <usize>BANK_BYTES : 0;
  return counters + offset;
}

function countIn(bank: u32, reason: i32): i32 {
  const p = rejectsPtr(bank) + (<usize>reason << 2);
  store<u32>(p, load<u32>(p) + 1);
  return -reason;
}

/** Counts a rejection of a peer's input and returns it negated, ready to be returned. */
export function reject(reason: i32): i32 {
  return countIn(REJECTS_SYNC, reason);
}

/** Counts a rejection of the kernel's input (or of a request we build for it). */
export function rejectKernel(reason: i32): i32 {
  return countIn(REJECTS_KERNEL, reason);
}

export function resetRejects(): void {
  memory.fill(counters, 0, BANK_BYTES * 2);
}

/**
 * What appending an encoder's result to a buffer means: 1 when it wrote `n`
 * bytes, 0 when the buffer is full (send it, empty it, try again), or the
 * negated reason; a message too big even for an empty buffer is oversized.
 */
export function appendVerdict(n: i32, bufferEmpty: bool): i32 {
  if (n > 0) return 1;
  if (n == -R_NO_ROOM) return bufferEmpty ? -R_OVERSIZED : 0;
  return n;
}
