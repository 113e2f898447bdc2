// Delayed replication (ctsync's own, off by default): a new flow waits in the
// hold queue until it has lived `delayMs`, or, if asked, until the kernel
// marks it ASSURED; then it goes out as a NEW like any other. A flow
// destroyed while held never crosses the link at all. Most flows of a busy
// front end end within a second: they cost the link nothing, at the price of
// leaving the youngest flows unprotected for the delay (FortiGate's
// session-pickup-delay makes the same trade).
//
// The queue is FIFO in creation order, and every entry waits the same delay,
// so its head is always the first due: releasing is a walk from the head.
// Expectations wait in the same queue, so a master that waits is released
// before the expectations its helper announced.
import { Queue, newQueue, queuePush, queueRemove, queueReplace } from "./queue";
import { E_SEQ, EF_IN_HOLD } from "./cache";

let delayMs: f64 = 0;
let onAssured = false;
let holdq: Queue = changetype<Queue>(0);

/** `ms` 0 turns delayed replication off (conntrackd's behaviour); `assured`: an ASSURED flow goes at once. */
export function holdSetDelay(ms: u32, assured: bool): void {
  if (holdq == changetype<Queue>(0)) holdq = newQueue(EF_IN_HOLD);
  delayMs = <f64>ms;
  onAssured = assured;
}

export function holding(): bool { return delayMs > 0; }
export function releaseOnAssured(): bool { return onAssured; }
export function holdLen(): u32 { return holdq == changetype<Queue>(0) ? 0 : holdq.len; }

// While an entry is held its E_SEQ (the sequence it was last sent with: none
// yet) keeps the low 32 bits of the millisecond clock at which it came.
@inline function heldAt(e: usize): u32 { return load<u32>(e + E_SEQ); }

/** A new flow waits, from `nowMs`. */
export function hold(e: usize, nowMs: f64): void {
  store<u32>(e + E_SEQ, <u32>(<u64>nowMs));
  queuePush(holdq, e);
}

/** Takes `e` out of the hold queue (released, or destroyed unsent). */
export function unhold(e: usize): void {
  queueRemove(holdq, e);
  store<u32>(e + E_SEQ, 0);
}

/** A held entry moved to a bigger block: the new one takes its place and its time. */
export function holdMoved(old: usize, e: usize): void {
  queueReplace(holdq, old, e);
  store<u32>(e + E_SEQ, heldAt(old));
}

/** The oldest held entry (the queue's head: one delay for all), or 0. */
function oldest(): usize {
  return holdq == changetype<Queue>(0) ? 0 : holdq.head;
}

/** How long `e` has waited at `nowMs` (the u32 difference wraps correctly over 2^32 ms). */
@inline function waited(e: usize, nowMs: f64): f64 {
  return <f64>(<u32>(<u64>nowMs) - heldAt(e));
}

/** The first held entry whose delay is over at `nowMs`, or 0; the caller unholds and sends it. */
export function holdDue(nowMs: f64): usize {
  const e = oldest();
  return e != 0 && waited(e, nowMs) >= delayMs ? e : 0;
}

/** When the oldest held entry is due (ms), or Infinity. */
export function holdNextDue(nowMs: f64): f64 {
  const e = oldest();
  return e == 0 ? Infinity : nowMs + max<f64>(0, delayMs - waited(e, nowMs));
}
