// A sync link over TCP (conntrackd's Sync { TCP }) is a byte stream of sync
// messages back to back: a read may end inside a message, or hold several.
// The framing belongs with the format: the host hands each read to
// engineRxStream, and this cuts the stream back into whole messages (by the
// length in each header) for the engine, keeping a message begun in one read
// for the next. One stream per link; a new connection (a new stream id)
// drops what the old one left half said. Authenticated frames keep their
// length where a message header has it, so they are cut the same way.
import { NETHDR_SIZE } from "./wire";
import { loadBe16 } from "./bytes";
import { rxDatagram, rxRun } from "./frames";
import { MAX_LINKS } from "./timers";

/** The longest message a header's 16-bit length can announce. */
const MAX_MESSAGE: u32 = 65535;

// Per link: a buffer for one message (allocated on first need), the bytes of
// it held so far, and the id of the stream they came on.
const BUF = 0, HAVE = 4, ID = 8, STATE_SIZE = 12;
const streams = memory.data(<i32>(MAX_LINKS * STATE_SIZE), 4);

/** The value engineRxStream returns when a length lies: the stream has no boundaries left to find. */
export const STREAM_LOST: i32 = -1;

/**
 * Reads `len` bytes of stream `id` on link `link` from `ptr`: every message
 * they complete goes to the engine. Returns the data messages applied, or
 * STREAM_LOST when a header's length is shorter than a header (the host then
 * closes the connection; the peer's next one starts on a boundary again).
 */
export function engineRxStream(ptr: usize, len: u32, ctRec: usize, expRec: usize, link: u32, id: u32): i32 {
  if (link >= MAX_LINKS) return STREAM_LOST;
  const st = streams + <usize>(link * STATE_SIZE);
  if (load<u32>(st + ID) != id) {
    store<u32>(st + ID, id);
    store<u32>(st + HAVE, 0);
  }
  let p = ptr;
  const end = ptr + len;
  let applied: i32 = 0;
  if (load<u32>(st + HAVE) > 0) {
    // First the message an earlier read began.
    p = fillPending(st, p, end);
    const have = load<u32>(st + HAVE);
    if (have < NETHDR_SIZE) return 0;
    const buf = <usize>load<u32>(st + BUF);
    const n = loadBe16(buf + 2);
    if (n < NETHDR_SIZE) return lose(st);
    if (have < n) return 0; // the read is used up
    store<u32>(st + HAVE, 0);
    applied += <i32>rxDatagram(buf, n, ctRec, expRec, link);
  }
  // Then whole messages where they lie, in one call.
  let q = p;
  while (end - q >= <usize>NETHDR_SIZE) {
    const n = loadBe16(q + 2);
    if (n < NETHDR_SIZE) return lose(st);
    if (<usize>n > end - q) break;
    q += n;
  }
  if (q > p) applied += <i32>rxRun(p, <u32>(q - p), ctRec, expRec, link);
  if (q < end) keep(st, q, <u32>(end - q));
  return applied;
}

/**
 * Copies into the held message what it still lacks (its header first, then
 * the length the header gives), at most up to `end`; returns where the read
 * goes on.
 */
function fillPending(st: usize, p: usize, end: usize): usize {
  const buf = <usize>load<u32>(st + BUF);
  let have = load<u32>(st + HAVE);
  let want: u32 = NETHDR_SIZE;
  if (have >= NETHDR_SIZE) want = max<u32>(loadBe16(buf + 2), NETHDR_SIZE);
  for (let round = 0; round < 2 && have < want && p < end; round++) {
    const take = <u32>min<usize>(<usize>(want - have), end - p);
    memory.copy(buf + have, p, take);
    have += take;
    p += take;
    // With the header whole, the message's own length is what is wanted.
    if (have == NETHDR_SIZE) want = max<u32>(loadBe16(buf + 2), NETHDR_SIZE);
  }
  store<u32>(st + HAVE, have);
  return p;
}

/** Holds the start of a message for the next read. */
function keep(st: usize, p: usize, n: u32): void {
  let buf = <usize>load<u32>(st + BUF);
  if (buf == 0) {
    buf = heap.alloc(MAX_MESSAGE); // kept for the link's life
    store<u32>(st + BUF, <u32>buf);
  }
  memory.copy(buf, p, n);
  store<u32>(st + HAVE, n);
}

function lose(st: usize): i32 {
  store<u32>(st + HAVE, 0);
  return STREAM_LOST;
}
