// Why an input was rejected. Decoders return these negated (a negative result
// is a rejection) and count each one, so the host can report every malformed
// datagram or kernel message by cause without parsing anything itself.

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
export const R_COUNT: i32 = 12;

// One counter per reason, in linear memory (u32 each, index = reason).
const counters = memory.data(R_COUNT * 4);

export function rejectsPtr(): usize {
  return counters;
}

/** Counts a rejection and returns it negated, ready to be returned. */
export function reject(reason: i32): i32 {
  const p = counters + (<usize>reason << 2);
  store<u32>(p, load<u32>(p) + 1);
  return -reason;
}

export function resetRejects(): void {
  memory.fill(counters, 0, R_COUNT * 4);
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
