// The sync engine: kernel events into the internal cache and out to the
// peers, peer messages into the external cache, in conntrackd's three modes.
//
// - NOTRACK: every change is sent once; nothing is acknowledged.
// - ALARM: every entry is also sent again every RefreshTime seconds; the
//   receiver forgets entries it has not heard of for CacheTimeout seconds.
// - FTFW: messages carry sequence numbers; the receiver acknowledges every
//   ACKWindowSize messages and asks again (NACK) for a gap; the sender keeps
//   what was sent in a resend queue until acknowledged. HELLO / HELLO_BACK
//   tell a peer that the other side (re)started, so what was in flight is
//   sent again.
//
// The host feeds bytes in (engineKernel, engineRx), calls engineXmit, and
// sends the datagrams the engine left in the outbox. Time comes in through
// engineTimeout (handleTimeout): the engine's own timers (ALIVE, the FTFW
// window probe, ALARM's refresh and expiry) run there, beside timers.ts's.
import {
  Cache, newCache, recordKey, findEntry, upsertEntry, Upserted, KEY_SIZE, unlinkEntry, freeEntry, sameBody,
  entryFlags, setEntryFlags, entryStatus, setEntryStatus, entryBody, entryBodyLen,
  E_SEQ, E_ORIGIN, E_QNEXT, E_HEADER, E_UPDATED, E_CREATED, EF_IN_TX, EF_IN_RS, EF_IN_HOLD, EF_CTL, EF_EXP, EF_DEAD, EF_SEEN, ST_NEW, ST_UPD, ST_DEL,
  Cursor, cursorStart, cursorNext, clearEntries,
} from "./cache";
import { Queue, newQueue, queueOf, queuePush, queueRemove, queueReplace, queueNext } from "./queue";
import { arenaAlloc, arenaFree } from "./arena";
import { outReserve, outAppendCt, outAppendExp, outAppendCtl, outBeacon } from "./outbox";
import { authBeaconNow, authNextBeacon } from "./auth";
import {
  nextMessage, openDatagram, SyncReader, staticReader, encodeCt, encodeExp,
  MSG_CT, MSG_EXP, MSG_CTL, MSG_END, NETHDR_SIZE, writeHeader, isRangedCtl,
  T_CT_NEW, T_CT_DEL, T_EXP_NEW, T_EXP_DEL, T_CTL, F_ACK, F_NACK, F_RESYNC,
  F_ALIVE, F_HELLO, F_HELLO_BACK, tcpWindowTracking,
} from "./wire";
import { openMessages, nextNetlink, NL_CT, NL_EXP, NL_DONE, NL_END, nlEvent, nlPid, EV_DESTROY, EV_UPDATE, EV_DUMP, OP_CREATE, OP_UPDATE, OP_DELETE, O_LIBERAL, ctExtras } from "./ctnetlink";
import { CT_PRESENT, CT_ID, CTF_ID, CT_STATUS, CTF_STATUS, IPS_ASSURED, CTX_PRESENT, CTX_TS_START, CTXF_TS_START } from "./layout";
import { holding, releaseOnAssured, hold, unhold, holdMoved, holdDue, holdNextDue } from "./hold";
import { batchCt, batchExp } from "./nlbatch";
import { copyBytes, loadBe32 } from "./bytes";
import { countTraffic } from "./traffic";
import { filterCt, filterExp } from "./filter";
import { logChange, EVOP_NEW, EVOP_UPDATE, EVOP_DESTROY } from "./eventlog";
import { Ftfw, newFtfw, HELLO_INIT, HELLO_SAY, HELLO_DONE } from "./ftfw";
import { nowMs, nowSec, setClock, runDue, nextDue, setSilenceLimit, heard, NEVER } from "./timers";

export const MODE_NOTRACK: u32 = 0;
export const MODE_ALARM: u32 = 1;
export const MODE_FTFW: u32 = 2;
// conntrackd's Stats mode: the internal cache only, no peers; the host logs
// each cached flow the kernel destroys (kernelStep).
export const MODE_STATS: u32 = 3;

// Engine counters, u32 each at statsPtr(), index below (for "-s" and /metrics).
export const S_KERNEL_EVENTS: i32 = 0; //   conntrack and expectation events read
export const S_KERNEL_FILTERED: i32 = 1; // events the filter dropped
export const S_MSG_SENT: i32 = 2; //        sync messages sent (data and control)
export const S_MSG_RECV: i32 = 3; //        sync messages received and well formed
export const S_MSG_LOST: i32 = 4; //        messages missing in the sequence
export const S_MSG_BEFORE: i32 = 5; //      messages older than the last one seen
export const S_MSG_DROPPED: i32 = 6; //     well-formed messages not applied (FTFW replays, ALARM flags)
export const S_DATA_APPLIED: i32 = 7; //    data messages applied to the external cache
export const S_RESYNC_RECV: i32 = 8; //     resync requests from peers
export const S_ACK_SENT: i32 = 9;
export const S_NACK_SENT: i32 = 10;
export const S_ACK_RECV: i32 = 11;
export const S_NACK_RECV: i32 = 12;
export const S_RESENT: i32 = 13; //         messages sent again after a NACK
export const S_RSQUEUE_PURGED: i32 = 14; // resend queue overflowed: oldest dropped
export const S_HELLO_RECV: i32 = 15;
export const S_HELD_RELEASED: i32 = 16; // DelayReplication: flows sent once their delay was over
export const S_HELD_UNSENT: i32 = 17; //   DelayReplication: flows that ended while held, never sent
export const S_COUNT: i32 = 18;
const stats = memory.data(S_COUNT * 4, 8);

@inline function count(i: i32, n: u32 = 1): void {
  const p = stats + (<usize>i << 2);
  store<u32>(p, load<u32>(p) + n);
}

export function statsPtr(): usize { return stats; }

// ---- state ---------------------------------------------------------------------

export let mode: u32 = MODE_FTFW;
export let internalCt: Cache = changetype<Cache>(0);
export let internalExp: Cache = changetype<Cache>(0);
export let externalCt: Cache = changetype<Cache>(0);
export let externalExp: Cache = changetype<Cache>(0);
// Data waits in txq; control messages go in ctlq, which is always sent first,
// so an acknowledgement never waits behind data that is being held back.
let txq: Queue = changetype<Queue>(0);
let ctlq: Queue = changetype<Queue>(0);
let rsq: Queue = changetype<Queue>(0);
let expSync = true;
// DisableInternalCache (NOTRACK): events go straight to the peers, uncached.
let bypassInternal = false;
// DisableExternalCache: peers' messages go straight into the kernel, as
// requests in the netlink batch the host sends after each datagram.
let bypassExternal = false;

export function engineSetBypass(internal: bool, external: bool): void {
  bypassInternal = internal;
  bypassExternal = external;
}

/** When the last message left (ms): a quiet second calls for an ALIVE. */
let lastXmit: f64 = 0;

// FTFW: its whole state (ts), made by engineInit.
let ftfw: Ftfw = changetype<Ftfw>(0);

// ALARM
let refreshTime: u32 = 60;
let cacheTimeout: u32 = 180;
/** When ALARM last refreshed and expired a slice of the caches (ms). */
let lastSlice: f64 = 0;

// How long FTFW waits on a full window before it probes the peer (ms).
const PROBE_DELAY: f64 = 50;
/** A quiet link says ALIVE (or acknowledges) this often (ms). */
const ALIVE_EVERY: f64 = 1000;
/** ALARM refreshes and expires a slice of its caches this often (ms). */
const SLICE_EVERY: f64 = 1000;

/**
 * Sets the engine up. `firstSeq` is the first sequence number to send
 * (conntrackd starts from the clock in seconds); `startMs` the host clock in
 * milliseconds (any epoch; Unix time gives entries meaningful ages).
 */
export function engineInit(
  syncMode: u32, hashSize: u32, hashLimit: u32, ackWindow: u32, rsQueueSize: u32,
  refresh: u32, timeout: u32, expectations: bool, firstSeq: u32, startMs: f64,
): void {
  mode = syncMode;
  internalCt = newCache(hashSize, hashLimit, false);
  internalExp = newCache(hashSize, hashLimit, true);
  externalCt = newCache(hashSize, hashLimit, false);
  externalExp = newCache(hashSize, hashLimit, true);
  txq = newQueue(EF_IN_TX);
  ctlq = newQueue(EF_IN_TX);
  rsq = newQueue(EF_IN_RS);
  ftfw = newFtfw(firstSeq, ackWindow, rsQueueSize);
  ftfw.inFlightMax = min<u32>(dataRoom(), ftfw.inFlightMax);
  refreshTime = max<u32>(refresh, 1);
  cacheTimeout = max<u32>(timeout, 1);
  expSync = expectations;
  setClock(startMs);
  lastXmit = nowMs;
  lastSlice = nowMs;
  // A peer is lost after three missed ALIVEs, or, in ALARM (no ALIVE), two missed refreshes.
  setSilenceLimit(mode == MODE_ALARM ? 2000 * <f64>refreshTime : 3 * ALIVE_EVERY);
  // FTFW greets its peer at once (HELLO rides on this ALIVE) rather than after a quiet second.
  if (mode == MODE_FTFW) enqueueCtl(<u8>F_ALIVE, 0, 0);
}

export function txQueueLen(): u32 { return txq.len + ctlq.len; }

/** The transmit queue a node waits in: control messages have their own. */
@inline function txQueueOf(n: usize): Queue {
  return (entryFlags(n) & EF_CTL) != 0 ? ctlq : txq;
}
export function rsQueueLen(): u32 { return rsq.len; }

// A walk over the resend queue, oldest first, for "-s rsqueue".
let rsWalk: usize = 0;
let rsWalkStarted = false;
export function rsQueueWalkStart(): void {
  rsWalk = 0;
  rsWalkStarted = false;
}
export const RSQ_END: u32 = 0;
export const RSQ_OBJECT: u32 = 1;
export const RSQ_CONTROL: u32 = 2;

/** Next node: RSQ_OBJECT (a conntrack or expectation), RSQ_CONTROL, or RSQ_END; then rsQueueWalkSeq / rsQueueWalkFlags. */
export function rsQueueWalkNext(): u32 {
  rsWalk = rsWalkStarted ? (rsWalk != 0 ? queueNext(rsWalk) : 0) : rsq.head;
  rsWalkStarted = true;
  if (rsWalk == 0) return RSQ_END;
  return (entryFlags(rsWalk) & EF_CTL) ? RSQ_CONTROL : RSQ_OBJECT;
}
export function rsQueueWalkSeq(): u32 { return rsWalk ? load<u32>(rsWalk + E_SEQ) : 0; }
export function rsQueueWalkFlags(): u32 { return rsWalk && (entryFlags(rsWalk) & EF_CTL) ? <u32>load<u8>(rsWalk + CTL_FLAGS) : 0; }

// ---- the transmit side -----------------------------------------------------------

/** Queues an entry for the next transmission (once, however often it changes). */
function enqueue(e: usize): void {
  const q = queueOf(e);
  if (q == EF_IN_TX || q == EF_IN_HOLD) return; // a held flow goes when its delay is over
  if (q == EF_IN_RS) queueRemove(rsq, e);
  queuePush(txq, e);
}

/** Queues a control message (ACK, NACK, RESYNC, ALIVE) carrying [from, to]. */
function enqueueCtl(flags: u8, from: u32, to: u32): void {
  const n = arenaAlloc(CTL_NODE_SIZE);
  memory.fill(n, 0, CTL_NODE_SIZE);
  setEntryFlags(n, EF_CTL);
  store<u8>(n + CTL_FLAGS, flags);
  store<u32>(n + CTL_FROM, from);
  store<u32>(n + CTL_TO, to);
  queuePush(ctlq, n);
}
// Control nodes use the entry header (its last byte, E_BODYLEN's high one, for
// the flags: a node has no body); their range follows it.
const CTL_FLAGS: u32 = E_HEADER - 1;
const CTL_FROM: u32 = E_HEADER;
const CTL_TO: u32 = E_HEADER + 4;
const CTL_NODE_SIZE: u32 = E_HEADER + 8;

/** FTFW marks what it sends with HELLO until the peer answers, and answers a HELLO once: the flags of the next message. */
function helloFlags(): u32 {
  if (mode != MODE_FTFW) return 0;
  let f: u32 = 0;
  if (ftfw.helloState != HELLO_DONE) f |= F_HELLO;
  if (ftfw.sayHelloBack) f |= F_HELLO_BACK;
  return f;
}

/** A message with helloFlags() went out: the greeting is under way, the answer given. */
function helloSaid(): void {
  if (mode != MODE_FTFW) return;
  if (ftfw.helloState == HELLO_INIT) ftfw.helloState = HELLO_SAY;
  ftfw.sayHelloBack = false;
}

/** Writes one queued node into the outbox; false when the outbox is full. */
function transmit(n: usize): bool {
  const f = entryFlags(n);
  if (f & EF_CTL) {
    const flags = <u32>load<u8>(n + CTL_FLAGS) | helloFlags();
    if (outAppendCtl(flags, ftfw.nextSeq, load<u32>(n + CTL_FROM), load<u32>(n + CTL_TO)) != 1) return false;
    store<u32>(n + E_SEQ, ftfw.nextSeq++);
  } else {
    const blen = entryBodyLen(n);
    const p = outReserve(NETHDR_SIZE + blen);
    if (p == 0) return false;
    const type = <u32>entryStatus(n) + ((f & EF_EXP) ? T_EXP_NEW : T_CT_NEW);
    const seq = ftfw.nextSeq++;
    writeHeader(p, type, helloFlags(), NETHDR_SIZE + blen, seq);
    copyBytes(p + NETHDR_SIZE, entryBody(n), blen);
    store<u32>(n + E_SEQ, seq);
  }
  helloSaid();
  count(S_MSG_SENT);
  return true;
}

/** After sending: FTFW keeps data and ranged control messages until acknowledged. */
function afterTransmit(n: usize): void {
  queueRemove(txQueueOf(n), n);
  const f = entryFlags(n);
  const keep = mode == MODE_FTFW && ((f & EF_CTL) == 0 || isRangedCtl(<u32>load<u8>(n + CTL_FLAGS)));
  if (keep) {
    if (rsq.len >= ftfw.resendQueueSize) purgeOldest();
    queuePush(rsq, n);
  } else {
    release(n);
  }
}

/** Frees a node that left every queue, if nothing else holds it. */
function release(n: usize): void {
  const f = entryFlags(n);
  if (f & EF_CTL) arenaFree(n, CTL_NODE_SIZE);
  else if (f & EF_DEAD) freeEntry(n);
  else if (entryStatus(n) == ST_NEW) setEntryStatus(n, ST_UPD);
}

function purgeOldest(): void {
  const n = rsq.head;
  if (n == 0) return;
  queueRemove(rsq, n);
  release(n);
  count(S_RSQUEUE_PURGED);
}

/**
 * FTFW holds data back until the peer has answered our HELLO. Until then the
 * peer takes every message as in sequence (conntrackd's rule while it is
 * greeted), so a lost one would go unnoticed and be acknowledged anyway.
 * Control messages (the ALIVE that carries our HELLO) still go out.
 */
@inline function holdingData(): bool {
  return mode == MODE_FTFW && ftfw.helloState != HELLO_DONE;
}

/**
 * FTFW also holds data while a window of messages awaits acknowledgement:
 * conntrackd drops the oldest unacknowledged ones when its resend queue is
 * full, and a loss among those can never be repaired. Waiting instead paces a
 * bulk send of any size to what the peer takes in. The window is what the
 * peer's receive buffer holds (engineSetPeerBuffer), at least four ACK
 * windows (the peer acknowledges every ACKWindowSize messages), and never
 * more than ResendQueueSize.
 */
@inline function windowFull(): bool {
  return mode == MODE_FTFW && rsq.len >= ftfw.inFlightMax;
}

// A datagram of ~16 conntrack messages takes ~2.3 KiB of a receive buffer
// (the kernel counts the whole socket buffer), ~150 bytes a message; twice
// that leaves room for expectations and half-filled datagrams.
const BUFFER_BYTES_PER_MESSAGE: u32 = 256;

/**
 * Sizes the window from the peer's receive buffer in bytes (assumed to be
 * configured like ours; 0 for a stream, which never drops): a burst the
 * buffer cannot hold is lost and must be asked for again, a window much
 * smaller than the buffer idles the link waiting for acknowledgements:
 * sender and receiver take turns instead of working at once (100,000 new
 * entries: four ACK windows left the peer 0.2-0.3 s behind the injector and
 * cost 4.0-4.7 us of CPU an entry on the sender, sixteen 0.2 s and 5.7 us,
 * the buffer's worth 0.1 s and 3.2-3.5 us).
 */
export function engineSetPeerBuffer(bytes: u32): void {
  const fits = bytes == 0 ? ftfw.resendQueueSize : bytes / BUFFER_BYTES_PER_MESSAGE;
  ftfw.inFlightMax = min<u32>(dataRoom(), max<u32>(fits, 4 * <u32>ftfw.windowSize));
}

/**
 * What of the resend queue data may fill: our acknowledgements wait there
 * too, and one sent into a full queue would push out the oldest data.
 */
@inline function dataRoom(): u32 {
  return ftfw.resendQueueSize - (ftfw.resendQueueSize >> 2);
}

/**
 * Asks the peer to speak up while we wait on a full window: if the end of
 * the last burst was lost, the peer has seen no later message, so it cannot
 * know it missed anything; this ALIVE's sequence number shows it the gap and
 * it answers with a NACK (or acknowledges, if nothing was lost).
 */
function probe(): void {
  ftfw.probeAt = NEVER;
  if (windowFull() && txq.head != 0) enqueueCtl(<u8>F_ALIVE, 0, 0);
}

/** Sends what is queued. Returns 1 when the outbox filled first (send it and call again). */
export function engineXmit(): i32 {
  if (authBeaconNow()) outBeacon(); // a peer that does not know our epoch learns it
  while (ctlq.head != 0) {
    if (!sendHead(ctlq)) return 1;
  }
  if (holdingData()) return 0;
  while (txq.head != 0 && !windowFull()) {
    if (!sendHead(txq)) return 1;
  }
  if (txq.head != 0 && ftfw.probeAt == NEVER) ftfw.probeAt = nowMs + PROBE_DELAY; // waiting on a full window
  return 0;
}

function sendHead(q: Queue): bool {
  const n = q.head;
  if (!transmit(n)) return false;
  afterTransmit(n);
  lastXmit = nowMs;
  return true;
}

// ---- the kernel side ---------------------------------------------------------------

const scratch = memory.data(4096, 8);
/** The key of the record at hand (recordKey), and what storing it did: the engine's scratch, passed explicitly. */
const key = memory.data(<i32>KEY_SIZE, 8);
const upserted = changetype<Upserted>(memory.data(offsetof<Upserted>(), 8));

/** The body (attributes) the record encodes to, at scratch + NETHDR_SIZE; returns its length or -1. */
function bodyOf(rec: usize, isExp: bool): i32 {
  const n = isExp ? encodeExp(rec, scratch, 4096, T_EXP_NEW, 0, 0) : encodeCt(rec, scratch, 4096, T_CT_NEW, 0, 0);
  return n < 0 ? -1 : n - <i32>NETHDR_SIZE;
}

/** Hands the queue place of an entry that moved to a new block (from `old`) over, and frees the old block. */
function settleMove(e: usize, old: usize): void {
  if (old == 0) return;
  const q = queueOf(old);
  if (q == EF_IN_TX) queueReplace(txq, old, e);
  else if (q == EF_IN_RS) queueReplace(rsq, old, e);
  else if (q == EF_IN_HOLD) holdMoved(old, e);
  setEntryStatus(e, entryStatus(old));
  freeEntry(old);
}

/** DisableInternalCache: a kernel event straight into the outbox (counted as sent, or dropped when full). */
function sendDirect(rec: usize, isExp: bool, status: u8): void {
  const type = <u32>status + (isExp ? T_EXP_NEW : T_CT_NEW);
  const r = isExp ? outAppendExp(rec, type, 0, ftfw.nextSeq) : outAppendCt(rec, type, 0, ftfw.nextSeq);
  if (r != 1) {
    count(S_MSG_DROPPED);
    return;
  }
  ftfw.nextSeq++;
  count(S_MSG_SENT);
}

/** A conntrack or expectation seen in the kernel: into the internal cache, and out. */
function kernelUpdate(c: Cache, rec: usize, key: usize, isExp: bool, send: u32, event: bool): void {
  const len = bodyOf(rec, isExp);
  if (len < 0) return;
  // Only a resync after lost events asks whether the kernel's entry differs from ours.
  let changed = false;
  if (send == DUMP_SEND_CHANGES) {
    const old = findEntry(c, key);
    changed = old == 0 || !sameBody(old, scratch + NETHDR_SIZE, <u32>len);
  }
  const up = upserted;
  const e = upsertEntry(c, key, scratch + NETHDR_SIZE, <u32>len, nowSec, up);
  if (e == 0) {
    if (up.created) c.createdFailed++;
    else c.updatedFailed++;
    return;
  }
  if (mode == MODE_STATS && !isExp) statsStamp(e, rec, up.movedFrom);
  settleMove(e, up.movedFrom);
  // Alive now: a resync under way must not sweep it, whether the dump or an event showed it.
  setEntryFlags(e, entryFlags(e) | EF_SEEN);
  if (up.created) {
    c.created++;
    setEntryStatus(e, ST_NEW);
  } else {
    c.updated++;
    const q = queueOf(e);
    if (!((q == EF_IN_TX || q == EF_IN_HOLD) && entryStatus(e) == ST_NEW)) setEntryStatus(e, ST_UPD);
  }
  logChange(isExp, up.created ? EVOP_NEW : EVOP_UPDATE, false, entryBody(e), entryBodyLen(e));
  if (send == DUMP_SEND_ALL || (send == DUMP_SEND_CHANGES && changed)) {
    if (event && holding() && holdOrRelease(e, rec, isExp, up.created)) return;
    enqueue(e);
  }
}

/**
 * DelayReplication: a flow new in an event waits; a waiting flow that the
 * kernel now calls ASSURED goes (when asked). True when `e` is (still) held.
 */
function holdOrRelease(e: usize, rec: usize, isExp: bool, created: bool): bool {
  const assured = !isExp && releaseOnAssured() && (load<u32>(rec + CT_PRESENT) & CTF_STATUS) != 0
    && (loadBe32(rec + CT_STATUS) & IPS_ASSURED) != 0;
  if (created) {
    if (assured) return false;
    hold(e, nowMs);
    return true;
  }
  if (queueOf(e) != EF_IN_HOLD) return false;
  if (!assured) return true;
  unhold(e);
  count(S_HELD_RELEASED);
  return false;
}

/** Held flows whose delay is over go out as NEWs; one destroyed meanwhile goes nowhere. */
function releaseDue(): void {
  for (let e = holdDue(nowMs); e != 0; e = holdDue(nowMs)) {
    if (entryFlags(e) & EF_DEAD) {
      dropHeld(e);
      continue;
    }
    unhold(e);
    count(S_HELD_RELEASED);
    enqueue(e);
  }
}

/** A held flow that ended (destroyed, or gone from a resync's dump) before it was ever sent. */
function dropHeld(e: usize): void {
  unhold(e);
  count(S_HELD_UNSENT);
  freeEntry(e);
}

// The Stats mode has no queues, so its entries keep in the queue fields what
// conntrackd's cache keeps of a flow beyond the sync attributes: the kernel's
// id (E_SEQ) and the start of the flow in seconds (E_QNEXT; dumps carry it
// when nf_conntrack_timestamp is on, events do not), for -i and -i -x.
const E_STATS_ID = E_SEQ;
const E_STATS_START = E_QNEXT;

/** `old`: the entry's previous block, when it had to grow (else 0). */
function statsStamp(e: usize, rec: usize, old: usize): void {
  if ((load<u32>(rec + CT_PRESENT) & CTF_ID) != 0) store<u32>(e + E_STATS_ID, loadBe32(rec + CT_ID));
  else if (old != 0) store<u32>(e + E_STATS_ID, load<u32>(old + E_STATS_ID));
  if ((load<u32>(ctExtras + CTX_PRESENT) & CTXF_TS_START) != 0) {
    store<u32>(e + E_STATS_START, <u32>(bswap<u64>(load<u64>(ctExtras + CTX_TS_START)) / 1_000_000_000));
  } else if (old != 0) {
    store<u32>(e + E_STATS_START, load<u32>(old + E_STATS_START));
  }
}

/** The Stats mode's kernel id of an entry (0: none). */
export function statsEntryId(e: usize): u32 { return e != 0 && mode == MODE_STATS ? load<u32>(e + E_STATS_ID) : 0; }
/** The Stats mode's flow start of an entry, seconds since the epoch (0: unknown). */
export function statsEntryStart(e: usize): u32 { return e != 0 && mode == MODE_STATS ? load<u32>(e + E_STATS_START) : 0; }

function kernelDestroy(c: Cache, key: usize, send: bool): bool {
  const e = findEntry(c, key);
  if (e == 0) {
    c.destroyedFailed++;
    return false;
  }
  logChange((entryFlags(e) & EF_EXP) != 0, EVOP_DESTROY, false, entryBody(e), entryBodyLen(e));
  destroyInternal(c, e, send);
  return true;
}

/**
 * An internal entry the kernel no longer has: out of the cache, its DEL
 * queued for the peers when `send` (the entry is freed once it leaves the
 * queues), else freed now if no queue holds it. A held flow the peers never
 * saw is simply dropped.
 */
function destroyInternal(c: Cache, e: usize, send: bool): void {
  unlinkEntry(c, e);
  c.destroyed++;
  if (queueOf(e) == EF_IN_HOLD) {
    dropHeld(e);
    return;
  }
  setEntryFlags(e, entryFlags(e) | EF_DEAD);
  setEntryStatus(e, ST_DEL);
  if (send) enqueue(e);
  else if (queueOf(e) == 0) freeEntry(e);
}

// The netlink port of the daemon's own command socket: events its commits
// and flushes cause carry it, and are cached but not sent back to the peers
// (they came from the peers), as conntrackd does.
let ownPort: u32 = 0;
// Events caused by injecting peers' messages (DisableExternalCache) are
// neither cached nor sent: they are the peers' state, not ours.
let injectPort: u32 = 0;

export function engineSetOwnPort(port: u32): void {
  ownPort = port;
}

export function engineSetInjectPort(port: u32): void {
  injectPort = port;
}

/** What the last engineKernel call saw of a dump: 1 when it reached NLMSG_DONE. */
export let kernelDumpDone: u32 = 0;

// What a dump sends to the peers besides filling the internal cache: nothing
// (start-up, -R), what is new or changed (after lost events: what the lost
// events would have said), or everything (a bulk send without an internal cache).
export const DUMP_KEEP: u32 = 0;
export const DUMP_SEND_CHANGES: u32 = 1;
export const DUMP_SEND_ALL: u32 = 2;

/**
 * Reads `len` bytes of netlink messages at `ptr` (events, or the replies of a
 * dump) into the internal caches. Events are queued for the peers; dump
 * replies as `dumpSend` says.
 */
export function engineKernel(ptr: usize, len: u32, ctRec: usize, expRec: usize, dumpSend: u32): u32 {
  openMessages(ptr, len);
  kernelDumpDone = 0;
  let seen: u32 = 0;
  for (;;) {
    const r = kernelStep(ctRec, expRec, dumpSend);
    if (r == STEP_END) break;
    if (r != STEP_SKIPPED) seen++;
  }
  return seen;
}

// What kernelStep did with one message.
export const STEP_END: u32 = 0; //       no message left
export const STEP_SKIPPED: u32 = 1; //   not a conntrack or expectation event (or one not synced)
export const STEP_DONE: u32 = 2; //      read: filtered, cached, or a destroy of nothing cached
export const STEP_DESTROYED: u32 = 3; // a cached conntrack was destroyed: the record and extras hold the event

/**
 * Reads the next message of the buffer openMessages opened into the
 * internal caches. The Stats mode calls this one message at a time, so the
 * host can log each destroyed flow while its event is still in the records.
 */
export function kernelStep(ctRec: usize, expRec: usize, dumpSend: u32): u32 {
  const r = nextNetlink(ctRec, expRec);
  if (r == NL_END) return STEP_END;
  if (r == NL_DONE) kernelDumpDone = 1;
  if (r != NL_CT && r != NL_EXP) return STEP_SKIPPED;
  const isExp = r == NL_EXP;
  if (isExp && !expSync) return STEP_SKIPPED;
  // conntrackd counts events only, not the replies of its dumps (start-up, -R, resyncs).
  const event = nlEvent != EV_DUMP;
  if (event) count(S_KERNEL_EVENTS);
  if (isExp ? !filterExp(expRec) : !filterCt(ctRec)) {
    if (event) count(S_KERNEL_FILTERED);
    return STEP_DONE;
  }
  const rec = isExp ? expRec : ctRec;
  recordKey(rec, isExp, key);
  const c = isExp ? internalExp : internalCt;
  const ev = nlEvent;
  if (injectPort != 0 && nlPid == injectPort) return STEP_DONE;
  // A dump's replies carry our port too: only events can be of our own making.
  const dumped = ev == EV_DUMP;
  const mine = !dumped && ownPort != 0 && nlPid == ownPort;
  // The Stats mode has no peers: nothing is ever queued.
  const send = mode == MODE_STATS || mine ? DUMP_KEEP : dumped ? dumpSend : DUMP_SEND_ALL;
  if (bypassInternal) {
    // No cache to tell a change by: a dump that sends, sends it all.
    if (send != DUMP_KEEP) sendDirect(rec, isExp, ev == EV_DESTROY ? ST_DEL : ev == EV_UPDATE ? ST_UPD : ST_NEW);
    if (ev == EV_DESTROY && !isExp) countTraffic(ctExtras); // conntrackd's bypass counts every destroy
    return STEP_DONE;
  }
  if (ev == EV_DESTROY) {
    // as conntrackd, only the flows the cache held count
    if (!kernelDestroy(c, key, send != DUMP_KEEP) || isExp) return STEP_DONE;
    countTraffic(ctExtras);
    return STEP_DESTROYED;
  }
  kernelUpdate(c, rec, key, isExp, send, !dumped);
  return STEP_DONE;
}

/**
 * Resync with the kernel (conntrackd -R, or after lost events) is a dump
 * between these two calls: entries the dump did not show are gone from the
 * kernel, so they are destroyed here and the peers told.
 */
export function engineDumpBegin(): void {
  walkAll(internalCt, unmark);
  walkAll(internalExp, unmark);
}

export function engineDumpEnd(): u32 {
  return walkAll(internalCt, sweepUnseen) + walkAll(internalExp, sweepUnseen);
}

function unmark(c: Cache, e: usize): u32 {
  setEntryFlags(e, entryFlags(e) & ~EF_SEEN);
  return 0;
}

/** An entry the dump did not show is gone from the kernel: destroyed, and the peers told. */
function sweepUnseen(c: Cache, e: usize): u32 {
  if (entryFlags(e) & EF_SEEN) return 0;
  destroyInternal(c, e, mode != MODE_STATS); // the Stats mode has no peers to tell
  return 1;
}

/**
 * Calls `visit` for each entry of buckets [from, stop) of a cache, through
 * cache.ts's cursor; `visit` may unlink the entry it is given. Returns the
 * sum of what `visit` returned.
 */
function walkBuckets(c: Cache, from: u32, stop: u32, visit: (c: Cache, e: usize) => u32): u32 {
  const cur = changetype<Cursor>(scratchCursor);
  cursorStart(cur, c, from);
  let e = cursorNext(cur);
  let bucket = cur.bucket;
  let sum: u32 = 0;
  while (e != 0 && bucket < stop) {
    const next = cursorNext(cur); // before visit unlinks e
    const nextBucket = cur.bucket;
    sum += visit(c, e);
    e = next;
    bucket = nextBucket;
  }
  return sum;
}

@inline function walkAll(c: Cache, visit: (c: Cache, e: usize) => u32): u32 {
  return walkBuckets(c, 0, c.nbuckets, visit);
}

/** Queues every entry of the internal caches (bulk send, or a peer's resync request). */
export function engineBulk(): u32 {
  return queueAll(internalCt) + (expSync ? queueAll(internalExp) : 0);
}

function queueAll(c: Cache): u32 {
  return walkAll(c, queueOne);
}

function queueOne(c: Cache, e: usize): u32 {
  enqueue(e);
  return 1;
}
const scratchCursor = memory.data(offsetof<Cursor>(), 8);

/** Asks the peers to send their whole internal cache (conntrackd -n). */
export function engineRequestResync(): void {
  enqueueCtl(<u8>F_RESYNC, 0, 0);
}

// ---- the receiving side --------------------------------------------------------------

/** The engine's reader of peers' datagrams. */
const rx = staticReader();

const SEQ_UNSET = 0, SEQ_IN_SYNC = 1, SEQ_AFTER = 2, SEQ_BEFORE = 3;

@inline function before(a: u32, b: u32): bool {
  return <i32>(a - b) < 0;
}

/** Where a received sequence number stands against the last one (counts losses). */
function trackSeq(seq: u32): i32 {
  if (!ftfw.seqSet) return SEQ_UNSET;
  const expected = ftfw.lastSeqRecv + 1;
  if (seq == expected) return SEQ_IN_SYNC;
  if (before(expected, seq)) {
    count(S_MSG_LOST, seq - expected);
    return SEQ_AFTER;
  }
  count(S_MSG_BEFORE);
  return SEQ_BEFORE;
}

function updateSeq(seq: u32): void {
  ftfw.seqSet = true;
  ftfw.lastSeqRecv = seq;
}

/** The member the datagrams engineRx reads next come from (engineSetOrigin); 0 unless the host says. */
let rxOrigin: u32 = 0;
export function engineSetOrigin(origin: u32): void { rxOrigin = origin; }

/** Applies data message `m` (decoded into its record) to the external cache (or, without one, to the kernel). */
function applyData(m: SyncReader, ctRec: usize, expRec: usize, isExp: bool): void {
  if (isExp && !expSync) return;
  if (bypassExternal) {
    inject(m, ctRec, expRec, isExp);
    return;
  }
  const c = isExp ? externalExp : externalCt;
  recordKey(isExp ? expRec : ctRec, isExp, key);
  const type = m.type - (isExp ? T_EXP_NEW : T_CT_NEW);
  count(S_DATA_APPLIED);
  if (type == 2) {
    const e = findEntry(c, key);
    if (e == 0) {
      c.destroyedFailed++;
      return;
    }
    unlinkEntry(c, e);
    logChange(isExp, EVOP_DESTROY, true, entryBody(e), entryBodyLen(e));
    freeEntry(e);
    c.destroyed++;
    return;
  }
  // The message's own attributes are the entry's body: no re-encoding.
  const up = upserted;
  const e = upsertEntry(c, key, m.ptr + NETHDR_SIZE, m.len - NETHDR_SIZE, nowSec, up);
  if (e == 0) {
    if (up.created) c.createdFailed++;
    else c.updatedFailed++;
    return;
  }
  if (up.movedFrom != 0) freeEntry(up.movedFrom);
  store<u32>(e + E_ORIGIN, rxOrigin);
  if (up.created) c.created++;
  else c.updated++;
  logChange(isExp, up.created ? EVOP_NEW : EVOP_UPDATE, true, entryBody(e), entryBodyLen(e));
}

/** The origin of an external cache entry (see E_ORIGIN). */
export function entryOrigin(e: usize): u32 { return e != 0 ? load<u32>(e + E_ORIGIN) : 0; }

/** Requests injected into the kernel instead of caching: how many were appended, and how many did not fit. */
export let injected: u32 = 0;
export let injectOverflow: u32 = 0;

function inject(m: SyncReader, ctRec: usize, expRec: usize, isExp: bool): void {
  const type = m.type - (isExp ? T_EXP_NEW : T_CT_NEW);
  const op = type == 0 ? OP_CREATE : type == 1 ? OP_UPDATE : OP_DELETE;
  // as a commit does (and conntrackd's external_inject): without TCPWindowTracking the entry is
  // liberal, or the kernel would judge the flow's next segments against a window it never saw
  const r = isExp ? batchExp(expRec, op, 0, injected) : batchCt(ctRec, op, tcpWindowTracking ? 0 : O_LIBERAL, injected);
  if (r == 1) injected++;
  else injectOverflow++;
}

/** Control messages: acknowledgements empty the resend queue, NACKs resend, RESYNC answers with everything. */
function digestCtl(m: SyncReader): void {
  const flags = m.flags;
  if (flags & F_ACK) {
    count(S_ACK_RECV);
    if (mode == MODE_FTFW) ackRange(m.from, m.to, false);
  } else if (flags & F_NACK) {
    count(S_NACK_RECV);
    if (mode == MODE_FTFW) ackRange(m.from, m.to, true);
  } else if (flags & F_RESYNC) {
    count(S_RESYNC_RECV);
    engineBulk();
  }
}

/**
 * Walks the resend queue over [from, to]: acknowledged nodes are released,
 * NACKed ones go back to the transmit queue.
 */
function ackRange(from: u32, to: u32, resend: bool): void {
  if (before(to, from)) return;
  let n = rsq.head;
  while (n != 0) {
    const next = queueNext(n);
    const seq = load<u32>(n + E_SEQ);
    if (!before(seq, from)) {
      if (before(to, seq)) break;
      queueRemove(rsq, n);
      if (resend) sendAgain(n);
      else release(n);
    }
    n = next;
  }
}

/**
 * A HELLO means the peer (re)started, or has not yet heard our HELLO_BACK:
 * either way nothing in flight can be taken as delivered, and a NACK the peer
 * sent for it may be lost. conntrackd forgets the resend queue here, which
 * loses for good whatever the greeting overlapped; we send the data again
 * instead. Our control messages speak of the peer's old sequence numbers, so
 * they go.
 */
function resendAfterHello(): void {
  while (rsq.head != 0) {
    const n = rsq.head;
    queueRemove(rsq, n);
    if (entryFlags(n) & EF_CTL) release(n);
    else sendAgain(n);
  }
}

/** A node taken out of the resend queue goes back to be transmitted (with a new sequence number). */
function sendAgain(n: usize): void {
  queuePush(txQueueOf(n), n);
  count(S_RESENT);
}

/** FTFW's receive rules; returns whether the message is to be applied. */
function ftfwRecv(m: SyncReader, isData: bool): bool {
  const seq = m.seq;
  let hello = false;
  if (m.flags & F_HELLO) {
    ftfw.sayHelloBack = true;
    hello = true;
    count(S_HELLO_RECV);
    // A peer that (re)started has empty caches: it gets all of ours, once per greeting.
    if (!ftfw.peerGreeting) engineBulk();
  }
  ftfw.peerGreeting = hello;
  if ((m.flags & F_HELLO_BACK) && ftfw.helloState == HELLO_SAY) ftfw.helloState = HELLO_DONE;
  let state = hello ? SEQ_IN_SYNC : trackSeq(seq);
  if (hello) {
    if (ftfw.ackFromSet && before(seq, ftfw.ackFrom)) {
      ftfw.window = ftfw.windowSize - 1;
      ftfw.ackFrom = seq;
    }
    resendAfterHello();
  }
  if (state == SEQ_BEFORE) {
    count(S_MSG_DROPPED);
    return false;
  }
  if (!isData) digestCtl(m);
  if (state == SEQ_AFTER) {
    if (ftfw.ackFromSet) {
      enqueueCtl(<u8>F_ACK, ftfw.ackFrom, ftfw.lastSeqRecv);
      count(S_ACK_SENT);
      ftfw.ackFromSet = false;
    }
    enqueueCtl(<u8>F_NACK, ftfw.lastSeqRecv + 1, seq - 1);
    count(S_NACK_SENT);
    ftfw.window = ftfw.windowSize - 1;
    ftfw.ackFrom = seq;
    ftfw.ackFromSet = true;
  } else {
    if (!ftfw.ackFromSet) {
      ftfw.ackFromSet = true;
      ftfw.ackFrom = seq;
    }
    if (--ftfw.window <= 0) {
      enqueueCtl(<u8>F_ACK, ftfw.ackFrom, seq);
      count(S_ACK_SENT);
      ftfw.window = ftfw.windowSize;
      ftfw.ackFromSet = false;
    }
  }
  updateSeq(seq);
  return isData;
}

/**
 * Reads a datagram from a peer (`len` bytes at `ptr`, come on link number
 * `link`, whose peer is then up): sequence tracking,
 * acknowledgements, and data into the external caches. Malformed messages
 * are counted by the decoder and skipped. Returns the data messages applied.
 */
export function engineRx(ptr: usize, len: u32, ctRec: usize, expRec: usize, link: u32): u32 {
  const m = rx;
  if (openDatagram(m, ptr, len) < 0) return 0;
  heard(link);
  let applied: u32 = 0;
  for (;;) {
    const r = nextMessage(m, ctRec, expRec);
    if (r == MSG_END) break;
    if (r < 0) continue;
    count(S_MSG_RECV);
    const isData = r == MSG_CT || r == MSG_EXP;
    let apply = isData;
    if (mode == MODE_FTFW) {
      apply = ftfwRecv(m, isData);
    } else {
      if (mode == MODE_ALARM && m.flags != 0) {
        count(S_MSG_DROPPED);
        continue;
      }
      // Over Corosync every member sends with its own sequence numbers and CPG
      // loses nothing: one counter for all of them would count gaps that are none.
      if (rxOrigin == 0) trackSeq(m.seq);
      if (!isData) digestCtl(m);
      if (rxOrigin == 0) updateSeq(m.seq);
    }
    if (apply) {
      applyData(m, ctRec, expRec, r == MSG_EXP);
      applied++;
    }
  }
  return applied;
}

// ---- timers ------------------------------------------------------------------------

/**
 * The host's clock, in ms: runs whatever came due. After a quiet second FTFW
 * acknowledges what it received (or says ALIVE) and NOTRACK says ALIVE; FTFW
 * probes a peer it has waited on for PROBE_DELAY; ALARM refreshes and
 * expires a slice of its caches every second, sized by the time that passed.
 * Then timers.ts's: peer silence, scheduled kernel work.
 */
export function engineTimeout(ms: f64): void {
  setClock(ms);
  // conntrackd's ALARM mode has no keep-alive: its refreshes are the sign of life; the Stats mode has no peers.
  if (mode != MODE_ALARM && mode != MODE_STATS && nowMs - lastXmit >= ALIVE_EVERY && ctlq.head == 0 && (txq.head == 0 || holdingData())) {
    if (mode == MODE_FTFW && ftfw.ackFromSet && ftfw.seqSet) {
      enqueueCtl(<u8>F_ACK, ftfw.ackFrom, ftfw.lastSeqRecv);
      count(S_ACK_SENT);
      ftfw.ackFromSet = false;
    } else {
      enqueueCtl(<u8>F_ALIVE, 0, 0);
    }
    lastXmit = nowMs; // queued: sent by the next engineXmit
  }
  if (nowMs >= ftfw.probeAt) probe();
  if (holding()) releaseDue();
  if (mode == MODE_ALARM && nowMs - lastSlice >= SLICE_EVERY) {
    const elapsed = nowMs - lastSlice;
    lastSlice = nowMs;
    refreshSlice(elapsed);
    expireSlice(elapsed);
  }
  runDue();
}

/** When the engine next needs engineTimeout (ms, the host's clock), or Infinity. */
export function engineNextTimeout(): f64 {
  let at = nextDue();
  if (mode == MODE_STATS) return at;
  if (mode != MODE_ALARM) at = min<f64>(at, lastXmit + ALIVE_EVERY);
  else at = min<f64>(at, lastSlice + SLICE_EVERY);
  if (holding()) at = min<f64>(at, holdNextDue(nowMs));
  return min<f64>(min<f64>(at, ftfw.probeAt), authNextBeacon());
}

/** ALARM: sends the share of the internal caches that `elapsed` ms is of RefreshTime, so each entry goes out every RefreshTime seconds. */
function refreshSlice(elapsed: f64): void {
  refreshPos = refreshBuckets(internalCt, refreshPos, elapsed);
  if (expSync) refreshExpPos = refreshBuckets(internalExp, refreshExpPos, elapsed);
}
let refreshPos: u32 = 0;
let refreshExpPos: u32 = 0;
let expiryPos: u32 = 0;
let expiryExpPos: u32 = 0;

function refreshBuckets(c: Cache, from: u32, elapsed: f64): u32 {
  return walkSlice(c, from, elapsed, 1000 * <f64>refreshTime, queueOne);
}

/**
 * Visits the buckets from `from` on that `elapsed` ms are the share of a
 * whole pass every `periodMs` (at least one, at most to the table's end);
 * returns where the next slice starts (0: the pass is over).
 */
function walkSlice(c: Cache, from: u32, elapsed: f64, periodMs: f64, visit: (c: Cache, e: usize) => u32): u32 {
  const share = <u32>min<f64>(<f64>c.nbuckets * elapsed / periodMs, <f64>c.nbuckets);
  const stop = min<u32>(from + share + 1, c.nbuckets);
  walkBuckets(c, from, stop, visit);
  return stop >= c.nbuckets ? 0 : stop;
}

/** ALARM: drops external entries not refreshed for CacheTimeout seconds, the share of the table that `elapsed` ms is of ten seconds (a late call looks further). */
function expireSlice(elapsed: f64): void {
  expiryPos = expireBuckets(externalCt, expiryPos, elapsed);
  expiryExpPos = expireBuckets(externalExp, expiryExpPos, elapsed);
}

function expireBuckets(c: Cache, from: u32, elapsed: f64): u32 {
  return walkSlice(c, from, elapsed, 10000, expireOne);
}

function expireOne(c: Cache, e: usize): u32 {
  if (nowSec - load<u32>(e + E_UPDATED) <= cacheTimeout) return 0;
  unlinkEntry(c, e);
  freeEntry(e);
  c.destroyed++;
  return 1;
}

// ---- control paths ---------------------------------------------------------------------

/** Empties a cache (conntrackd -f). Entries still queued are freed when they leave the queue. */
export function engineFlushCache(c: Cache): void {
  c.destroyed += c.count; // conntrackd's cache_flush deletes each entry, and counts it
  clearEntries(c, dropEntry);
}

function flushOne(c: Cache, e: usize): u32 {
  unlinkEntry(c, e);
  c.destroyed++;
  dropEntry(e);
  return 1;
}

/** An entry out of its cache: freed, or marked dead for its queue to free when it leaves. */
function dropEntry(e: usize): void {
  if (queueOf(e) == 0) freeEntry(e);
  else setEntryFlags(e, entryFlags(e) | EF_DEAD);
}

/** The member whose entries engineForgetOrigin is dropping (walkAll's visitors take no arguments of their own). */
let forgetting: u32 = 0;

/**
 * Drops the external entries that came from member `origin` and returns how
 * many: it joined again (a restart, a reboot), and the bulk update it sends
 * after its join is its whole picture, so what it no longer has must go.
 */
export function engineForgetOrigin(origin: u32): u32 {
  forgetting = origin;
  return walkAll(externalCt, forgetOne) + walkAll(externalExp, forgetOne);
}

function forgetOne(c: Cache, e: usize): u32 {
  return load<u32>(e + E_ORIGIN) == forgetting ? flushOne(c, e) : 0;
}

/** Seconds an entry has been in its cache. */
export function entryAge(e: usize): u32 {
  return nowSec - load<u32>(e + E_CREATED);
}

/** Seconds since an entry last changed or was refreshed. */
export function entryIdle(e: usize): u32 {
  return nowSec - load<u32>(e + E_UPDATED);
}
