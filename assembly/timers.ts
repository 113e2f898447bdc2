// The core's clock, and the timers that are not the sync engine's own
// transmit timers: when each peer link last spoke (a peer is "up" while it
// talks), and the work the host asked to have done later (a resync after a
// commit or after lost events, the flush of -t, the bulk update for Corosync
// members that joined). The host owns no protocol timer: it gives the core
// the time (handleTimeout), asks when to call again (pollTimeout), and reads
// what came due as events (pollEvent).
//
// An event is a u32: its kind in the low byte, a link index in the next one
// (EV_PEER_UP / EV_PEER_DOWN only).

export const EVENT_NONE: u32 = 0;
/** A link's peer spoke after silence (or for the first time). */
export const EVENT_PEER_UP: u32 = 1;
/** A link's peer has been silent longer than the mode allows. */
export const EVENT_PEER_DOWN: u32 = 2;
/** Resynchronize the internal cache with the kernel now (a dump). */
export const EVENT_KERNEL_RESYNC: u32 = 3;
/** Flush the kernel's conntrack table now (-t, after PurgeTimeout). */
export const EVENT_KERNEL_FLUSH: u32 = 4;
/** Send a bulk update now (engineBulk): Corosync members joined, and joins close together share one. */
export const EVENT_BULK: u32 = 5;

/** Links whose peers are watched (heard), by index. */
export const MAX_LINKS: u32 = 16;
export const NEVER: f64 = Infinity;

export let nowMs: f64 = 0;
/** The clock in whole seconds: the unit of cache entries' timestamps. */
export let nowSec: u32 = 0;

export function setClock(ms: f64): void {
  if (ms < nowMs) return; // the host's clock never runs the core backwards
  nowMs = ms;
  nowSec = <u32>(ms / 1000);
}

// ---- events: a small ring the host drains with pollEvent ---------------------

const RING: u32 = 64;
const ring = memory.data(<i32>RING * 4, 4);
let head: u32 = 0;
let tail: u32 = 0;

function push(ev: u32): void {
  if (tail - head >= RING) head++; // the oldest goes: the host drains after every call
  store<u32>(ring + ((tail % RING) << 2), ev);
  tail++;
}

/** The next event (kind | link << 8), or EVENT_NONE. */
export function pollEvent(): u32 {
  if (head == tail) return EVENT_NONE;
  const ev = load<u32>(ring + ((head % RING) << 2));
  head++;
  return ev;
}

// ---- work scheduled by the host ------------------------------------------------

// When each kind of work comes due (ms), or NEVER: EVENT_KERNEL_RESYNC,
// EVENT_KERNEL_FLUSH, EVENT_BULK, in that order (which is also the order
// they come out in when due together).
const FIRST_WORK = EVENT_KERNEL_RESYNC;
const LAST_WORK = EVENT_BULK;
const workAt: StaticArray<f64> = [NEVER, NEVER, NEVER];

function isWork(kind: u32): bool {
  return kind >= FIRST_WORK && kind <= LAST_WORK;
}

/** Asks for `kind` (EVENT_KERNEL_RESYNC, EVENT_KERNEL_FLUSH or EVENT_BULK) in `delayMs`; an earlier request stands. */
export function schedule(kind: u32, delayMs: f64): void {
  if (!isWork(kind)) return;
  const i = kind - FIRST_WORK;
  workAt[i] = min<f64>(workAt[i], nowMs + max<f64>(delayMs, 0));
}

/** Calls off that work if it was asked for and is not yet due. */
export function unschedule(kind: u32): void {
  if (isWork(kind)) workAt[kind - FIRST_WORK] = NEVER;
}

/** Whether that work is asked for and not yet due (the host then need not ask again). */
export function scheduled(kind: u32): bool {
  return isWork(kind) && workAt[kind - FIRST_WORK] != NEVER;
}

// ---- peer liveness, by link --------------------------------------------------------

const lastHeard = memory.data(<i32>MAX_LINKS * 8, 8);
let upMask: u32 = 0;
let silenceMs: f64 = 3000;

export function setSilenceLimit(ms: f64): void {
  silenceMs = ms;
}

/** A well-formed datagram came on `link`. */
export function heard(link: u32): void {
  if (link >= MAX_LINKS) return;
  store<f64>(lastHeard + (<usize>link << 3), nowMs);
  if ((upMask & (1 << link)) == 0) {
    upMask |= 1 << link;
    push(EVENT_PEER_UP | (link << 8));
  }
}

/** Runs what came due; the sync engine runs its own timers beside these. */
export function runDue(): void {
  for (let l: u32 = 0; l < MAX_LINKS; l++) {
    if ((upMask & (1 << l)) == 0) continue;
    if (nowMs - load<f64>(lastHeard + (<usize>l << 3)) > silenceMs) {
      upMask &= ~(1 << l);
      push(EVENT_PEER_DOWN | (l << 8));
    }
  }
  for (let kind = FIRST_WORK; kind <= LAST_WORK; kind++) {
    if (nowMs < workAt[kind - FIRST_WORK]) continue;
    workAt[kind - FIRST_WORK] = NEVER;
    push(kind);
  }
}

/** The earliest of these timers' deadlines (ms), or NEVER. */
export function nextDue(): f64 {
  let at = NEVER;
  for (let i: u32 = 0; i <= LAST_WORK - FIRST_WORK; i++) at = min<f64>(at, workAt[i]);
  for (let l: u32 = 0; l < MAX_LINKS; l++) {
    if (upMask & (1 << l)) at = min<f64>(at, load<f64>(lastHeard + (<usize>l << 3)) + silenceMs + 1);
  }
  return at;
}
