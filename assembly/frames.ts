// Where datagrams enter the engine: as they are (conntrackd's format), or,
// with authentication on, one checked frame at a time (auth.ts), only the
// payload of a frame that passed reaching the decoder.
import { engineRx } from "./sync";
import { authEnabled, authOpen, AUTH_HEADER_SIZE } from "./auth";
import { loadBe16 } from "./bytes";
import { heard } from "./timers";

/** One datagram (`len` bytes at `ptr`) from link `link`: the data messages applied. */
export function rxDatagram(ptr: usize, len: u32, ctRec: usize, expRec: usize, link: u32): u32 {
  if (!authEnabled) return engineRx(ptr, len, ctRec, expRec, link);
  const n = authOpen(ptr, len);
  if (n < 0) return 0;
  if (n == 0) { // a beacon: the peer is alive, and nothing to decode
    heard(link);
    return 0;
  }
  return engineRx(ptr + AUTH_HEADER_SIZE, <u32>n, ctRec, expRec, link);
}

/**
 * Whole messages of a stream, back to back (`len` bytes at `ptr`): in one
 * call as they are, or frame by frame (a frame's length is where a
 * message's is, so the stream's framing cut them alike).
 */
export function rxRun(ptr: usize, len: u32, ctRec: usize, expRec: usize, link: u32): u32 {
  if (!authEnabled) return engineRx(ptr, len, ctRec, expRec, link);
  let applied: u32 = 0;
  const end = ptr + len;
  while (end - ptr >= 4) {
    const n = loadBe16(ptr + 2);
    if (n == 0 || <usize>n > end - ptr) break;
    applied += rxDatagram(ptr, n, ctRec, expRec, link);
    ptr += n;
  }
  return applied;
}
