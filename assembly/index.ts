// ctsync core: the exports of build/ctsync.wasm. assembly/README.md documents
// this ABI for any WebAssembly runtime: numbers in, numbers out, and offsets
// into the module's own memory for buffers and records.
import { MAX_DATAGRAM, openDatagram, nextMessage, staticReader, decodeAttrs } from "./wire";
import { CT_RECORD_SIZE, EXP_RECORD_SIZE } from "./layout";
import { outAppendCt, outAppendExp } from "./outbox";
import { openMessages, nextNetlink } from "./ctnetlink";
import * as ctnl from "./ctnetlink";
import { R_OVERSIZED } from "./reasons";
import { nlRx, nlTx, NL_RX_SIZE, batchLen, batchClear, batchCt, batchExp, batchDump, batchFlush } from "./nlbatch";
export { batchSetLimit as nlTxSetLimit } from "./nlbatch";
import * as sync from "./sync";
import * as stream from "./stream";
import { rxDatagram } from "./frames";
export { STREAM_LOST } from "./stream";
import { Cache, Cursor, cursorStart, cursorNext, entryBody, entryBodyLen, E_CREATED } from "./cache";
import { commitStart, commitFill, commitRetryAsUpdate, commitOnlyOrigin } from "./commit";
import * as commit from "./commit";
import { arenaLiveBytes, arenaChunkBytes } from "./arena";
import * as dumpText from "./dump-text";
import { holdSetDelay, holdLen } from "./hold";
import { flowDestroyed as destroyedFlow } from "./flow-log";
import * as traffic from "./traffic";
export { FLOW_TEXT, FLOW_JSON, FLOW_LOG_CAP, FLOW_STAMP_MAX, flowLogClear, flowLogPtr, flowLogLen, flowStampPtr, flowSetStamp } from "./flow-log";
/** The Stats mode: the flow engineKernelStep just reported destroyed, appended to the logs asked for (text, JSON); 1 when one is nearly full. */
export function flowDestroyed(text: bool, json: bool): u32 { return destroyedFlow(ctRecord, ctnl.ctExtras, text, json); }
/** -s's "traffic processed": bytes and packets of the flows the internal cache saw destroyed (the low 32 bits of each counter, as conntrackd sums them). */
export function trafficBytes(): u64 { return traffic.trafficBytes; }
export function trafficPackets(): u64 { return traffic.trafficPackets; }
/** DelayReplication: a new flow is sent once it has lived `ms` (0: at once, conntrackd's way); `assured`: or as soon as it is ASSURED. */
export function engineSetDelay(ms: u32, assured: bool): void { holdSetDelay(ms, assured); }
/** Flows waiting out their delay. */
export function holdQueueLen(): u32 { return holdLen(); }
import { textBuffer } from "./dump-text";

export const ABI_VERSION: u32 = 2;

export * from "./layout";
export {
  R_TRUNCATED, R_BAD_SIZE, R_BAD_VERSION, R_BAD_TYPE, R_BAD_ATTR_LEN, R_UNKNOWN_ATTR,
  R_INCOMPLETE, R_BAD_FAMILY, R_OVERSIZED, R_NO_ROOM, R_BAD_VALUE, R_AUTH_MISSING, R_AUTH_TRUNCATED,
  R_AUTH_KEY, R_AUTH_MAC, R_AUTH_STALE, R_AUTH_REPLAY, R_COUNT,
  REJECTS_SYNC, REJECTS_KERNEL, rejectsPtr, resetRejects,
} from "./reasons";
export {
  T_CT_NEW, T_CT_UPD, T_CT_DEL, T_EXP_NEW, T_EXP_UPD, T_EXP_DEL, T_CTL,
  F_RESYNC, F_NACK, F_ACK, F_ALIVE, F_HELLO, F_HELLO_BACK,
  MSG_END, MSG_CT, MSG_EXP, MSG_CTL, MAX_DATAGRAM, setSyncOptions,
} from "./wire";
export {
  NL_END, NL_CT, NL_EXP, NL_DONE, NL_ERROR, NL_OTHER, EV_NEW, EV_UPDATE, EV_DESTROY, EV_DUMP,
  OP_CREATE, OP_UPDATE, OP_DELETE, OP_GET, O_ACK, O_EXCL, O_LIBERAL, TABLE_CT, TABLE_EXP,
  setCommitTimeout,
} from "./ctnetlink";
export { outPtr, outLen, outClear, outSetPayload, outAppendCtl as outCtl } from "./outbox";
export { EVLOG_KIND, EVLOG_OP, EVLOG_CACHE, EVLOG_BODY_LEN, EVLOG_HEADER, EVLOG_ALIGN, EVOP_NEW, EVOP_UPDATE, EVOP_DESTROY, eventLogEnable, eventLogPtr, eventLogLen, eventLogDropped, eventLogClear } from "./eventlog";
export {
  POLICY_NONE, POLICY_ACCEPT, POLICY_IGNORE, filterReset, filterSetProtocol, filterSetState,
  filterAddAddress, filterAddHelper,
} from "./filter";
import { filterScratch } from "./filter";
export {
  SUM_KIND, SUM_REASON, SUM_TYPE, SUM_FLAGS, SUM_LEN, SUM_VERSION, SUM_HDR, SUM_SEQ, SUM_FROM, SUM_TO,
  SUM_DGRAM, SUM_OFFSET, SUM_PRESENT, SUM_TUPLE, SUM_TUPLE2, SUM_STATE, SUM_HELPER_LEN, SUM_ZONE,
  SUM_STATUS, SUM_TIMEOUT, SUM_MARK, SUM_SPAT, SUM_DPAT, SUM_HELPER, SUM_SNAT, SUM_DNAT, SUM_SIZE,
  SUMT_SPORT, SUMT_DPORT, SUMT_FAMILY, SUMT_L4PROTO, SUMT_ICMP_TYPE, SUMT_ICMP_CODE, SUMT_SRC, SUMT_DST,
  SUMT_SIZE, SUM_REJECTED, SUM_CAP, summaryPtr, syncDecode, syncDecodeFrames, syncDecodeUsed,
} from "./summary";
export { NETHDR_SIZE, NETHDR_ACK_SIZE, PROTOCOL_VERSION } from "./wire";
export function filterScratchPtr(): usize { return filterScratch; }
export {
  MODE_NOTRACK, MODE_ALARM, MODE_FTFW, MODE_STATS, STEP_END, STEP_SKIPPED, STEP_DONE, STEP_DESTROYED, S_KERNEL_EVENTS, S_KERNEL_FILTERED, S_MSG_SENT,
  S_MSG_RECV, S_MSG_LOST, S_MSG_BEFORE, S_MSG_DROPPED, S_DATA_APPLIED, S_RESYNC_RECV,
  S_ACK_SENT, S_NACK_SENT, S_ACK_RECV, S_NACK_RECV, S_RESENT, S_RSQUEUE_PURGED,
  S_HELLO_RECV, S_HELD_RELEASED, S_HELD_UNSENT, S_COUNT, RSQ_END, RSQ_OBJECT, RSQ_CONTROL, DUMP_KEEP, DUMP_SEND_CHANGES, DUMP_SEND_ALL, statsPtr, engineInit, engineXmit,
  engineBulk, engineRequestResync, txQueueLen, rsQueueLen, engineDumpBegin, engineDumpEnd, engineSetOwnPort, engineSetInjectPort, engineSetBypass, engineSetPeerBuffer, rsQueueWalkStart, rsQueueWalkNext,
  rsQueueWalkSeq, rsQueueWalkFlags,
} from "./sync";
export {
  AUTH_MAGIC, AUTH_HMAC_SHA256, AUTH_XCHACHA20_POLY1305, AUTH_HEADER_SIZE, AUTH_TAG_SIZE, AUTH_KEY_MIN, AUTH_KEY_MAX,
  authKeyPtr, authAddKey, authClearKeys, authStart, authEpoch, authPeerEpoch,
} from "./auth";
import * as auth from "./auth";
/** Frames refused since authStart (any reason): the host logs refusals when this moves. */
export function authRefused(): u32 { return auth.authRefused; }
/** The reason (R_AUTH_*) of the last frame refused, or 0. */
export function authLastReason(): i32 { return auth.authLastReason; }
export { EVENT_NONE, EVENT_PEER_UP, EVENT_PEER_DOWN, EVENT_KERNEL_RESYNC, EVENT_KERNEL_FLUSH, EVENT_BULK, MAX_LINKS, pollEvent } from "./timers";
import { schedule, unschedule, scheduled, setClock } from "./timers";

// ---- time ------------------------------------------------------------------------

/** The host's clock (ms): runs every timer that came due. Call it when pollTimeout's moment has come, and after inputs. */
export function handleTimeout(nowMs: f64): void { sync.engineTimeout(nowMs); }
/** When handleTimeout is next needed (ms, the host's clock), or Infinity when nothing waits. */
export function pollTimeout(): f64 { return sync.engineNextTimeout(); }
/**
 * Asks for EVENT_KERNEL_RESYNC, EVENT_KERNEL_FLUSH or EVENT_BULK `delayMs` after `nowMs`
 * (the host's clock now: the core's may be stale after a quiet spell); an
 * earlier request stands.
 */
export function engineSchedule(event: u32, nowMs: f64, delayMs: f64): void {
  setClock(nowMs);
  schedule(event, delayMs);
}
/** 1 while EVENT_KERNEL_RESYNC, EVENT_KERNEL_FLUSH or EVENT_BULK (`event`) is asked for and not yet due. */
export function engineScheduled(event: u32): u32 { return scheduled(event) ? 1 : 0; }
/** Calls off EVENT_KERNEL_RESYNC, EVENT_KERNEL_FLUSH or EVENT_BULK if it was asked for and is not yet due. */
export function engineUnschedule(event: u32): void { unschedule(event); }

// The core's own buffers and records: the host writes input here and reads
// decoded objects from here, so no bytes are copied across the boundary twice.
const rxBuffer = memory.data(<i32>MAX_DATAGRAM, 16);
const ctRecord = memory.data(<i32>CT_RECORD_SIZE, 8);
const expRecord = memory.data(<i32>EXP_RECORD_SIZE, 8);

export function rxPtr(): usize { return rxBuffer; }

/**
 * Reserves `size` bytes of the module's memory for the host's own use (a
 * receive ring, a batch of datagrams for syncDecodeFrames); never freed.
 * Memory may grow: take fresh views afterwards.
 */
export function hostAlloc(size: usize): usize { return heap.alloc(size); }
export function ctRecPtr(): usize { return ctRecord; }
export function expRecPtr(): usize { return expRecord; }

// ---- sync messages in ----------------------------------------------------------

// The ABI's own reader: the engine reads its datagrams with another.
const reader = staticReader();

/** Opens the datagram of `len` bytes at the start of the rx buffer. */
export function syncOpen(len: u32): i32 { return openDatagram(reader, rxBuffer, len); }
/** Opens a datagram anywhere in memory (for hosts with their own buffers). */
export function syncOpenAt(ptr: usize, len: u32): i32 { return openDatagram(reader, ptr, len); }
/** Next message: MSG_CT / MSG_EXP (record filled), MSG_CTL, MSG_END, or -reason. */
export function syncNext(): i32 { return nextMessage(reader, ctRecord, expRecord); }
export function msgVersion(): u32 { return reader.version; }
export function msgType(): u32 { return reader.type; }
export function msgFlags(): u32 { return reader.flags; }
export function msgLen(): u32 { return reader.len; }
export function msgSeq(): u32 { return reader.seq; }
export function msgFrom(): u32 { return reader.from; }
export function msgTo(): u32 { return reader.to; }

// ---- sync messages out: into the outbox, packed as the engine packs them ----------

/** Appends the conntrack record as a message: 1 appended, 0 outbox full, or -reason. */
export function outCt(type: u32, flags: u32, seq: u32): i32 { return outAppendCt(ctRecord, type, flags, seq); }
/** Appends the expectation record as a message: 1 appended, 0 outbox full, or -reason. */
export function outExp(type: u32, flags: u32, seq: u32): i32 { return outAppendExp(expRecord, type, flags, seq); }

// ---- ctnetlink -------------------------------------------------------------------

export function nlPtr(): usize { return nlRx; }
export function nlSize(): u32 { return NL_RX_SIZE; }
/** Opens `len` bytes of netlink messages at the start of the netlink rx buffer. */
export function nlOpen(len: u32): i32 {
  if (len > NL_RX_SIZE) return -R_OVERSIZED;
  openMessages(nlRx, len);
  return 0;
}
export function nlOpenAt(ptr: usize, len: u32): void { openMessages(ptr, len); }
/** Next netlink message: NL_CT / NL_EXP (record filled), NL_DONE, NL_ERROR, NL_OTHER, NL_END or -reason. */
export function nlNext(): i32 { return nextNetlink(ctRecord, expRecord); }
export function nlType(): u32 { return ctnl.nlType; }
export function nlFlags(): u32 { return ctnl.nlFlags; }
export function nlSeq(): u32 { return ctnl.nlSeq; }
export function nlPid(): u32 { return ctnl.nlPid; }
export function nlEvent(): u32 { return ctnl.nlEvent; }
export function nlErrno(): u32 { return ctnl.nlErrno; }

export function nlTxPtr(): usize { return nlTx; }
export function nlTxLen(): u32 { return batchLen(); }
export function nlTxClear(): void { batchClear(); }
/** Appends a conntrack request built from the conntrack record: 1, 0 (batch full), or -reason. */
export function nlPutCt(op: u32, opts: u32, seq: u32): i32 { return batchCt(ctRecord, op, opts, seq); }
/** Appends an expectation request built from the expectation record. */
export function nlPutExp(op: u32, opts: u32, seq: u32): i32 { return batchExp(expRecord, op, opts, seq); }
/** Appends a dump request for a table (TABLE_CT / TABLE_EXP) and family (0 = all). */
export function nlPutDump(table: u32, family: u32, seq: u32): i32 { return batchDump(table, family, seq); }
/** Appends a flush request for a table. */
export function nlPutFlush(table: u32, family: u32, seq: u32): i32 { return batchFlush(table, family, seq); }

// ---- the sync engine ---------------------------------------------------------------

// Caches by number, as the host names them.
export const CACHE_INTERNAL_CT: u32 = 0;
export const CACHE_INTERNAL_EXP: u32 = 1;
export const CACHE_EXTERNAL_CT: u32 = 2;
export const CACHE_EXTERNAL_EXP: u32 = 3;

function cacheOf(which: u32): Cache {
  if (which == CACHE_INTERNAL_CT) return sync.internalCt;
  if (which == CACHE_INTERNAL_EXP) return sync.internalExp;
  if (which == CACHE_EXTERNAL_CT) return sync.externalCt;
  return sync.externalExp;
}
@inline function isExpCache(which: u32): bool { return (which & 1) != 0; }

/** Reads `len` bytes of netlink messages from the netlink rx buffer into the internal caches; a dump sends as `dumpSend` (DUMP_*) says. */
export function engineKernel(len: u32, dumpSend: u32): u32 {
  return sync.engineKernel(nlRx, min<u32>(len, NL_RX_SIZE), ctRecord, expRecord, dumpSend);
}
/**
 * The Stats mode's engineKernel, one message at a time: after nlOpen(len),
 * each call reads the next message into the internal caches and returns a
 * STEP_*; on STEP_DESTROYED the conntrack record and the extras (ctExtrasPtr)
 * hold the destroy event of a cached flow.
 */
export function engineKernelStep(): u32 { return sync.kernelStep(ctRecord, expRecord, sync.DUMP_KEEP); }
/** The extras of the last conntrack read from ctnetlink (layout CTX_*): reply tuple, counters, timestamps. */
export function ctExtrasPtr(): usize { return ctnl.ctExtras; }
/** 1 when the last engineKernel call read the end of a dump. */
export function engineKernelDone(): u32 { return sync.kernelDumpDone; }
/** Requests appended to the netlink batch by DisableExternalCache since start, and those that did not fit. */
export function engineInjected(): u32 { return sync.injected; }
export function engineInjectOverflow(): u32 { return sync.injectOverflow; }
/**
 * Reads `len` bytes of a TCP link's stream from the rx buffer: stream `id`
 * (a new id for each connection) on link `link`. Whole messages go to the
 * engine, a message begun is kept for the next read. The data messages
 * applied, or STREAM_LOST (a length shorter than a header: close the connection).
 */
export function engineRxStream(len: u32, link: u32, id: u32): i32 {
  return stream.engineRxStream(rxBuffer, min<u32>(len, MAX_DATAGRAM), ctRecord, expRecord, link, id);
}
/** Reads the datagram of `len` bytes in the rx buffer, from the peer on link number `link` (0 if there is one). */
export function engineRx(len: u32, link: u32): u32 { return rxDatagram(rxBuffer, len, ctRecord, expRecord, link); }
/** The member (Corosync node id) the next engineRx datagrams come from; their external entries remember it. 0: none. */
export function engineSetOrigin(origin: u32): void { sync.engineSetOrigin(origin); }
/** Drops the external entries from member `origin` (it joined again; its bulk update follows); returns how many. */
export function engineForgetOrigin(origin: u32): u32 { return sync.engineForgetOrigin(origin); }
export { ORIGIN_ANY } from "./cache";

export function cacheCount(which: u32): u32 { return cacheOf(which).count; }
// The counters at cacheCountersPtr, by index (u32 each).
export const CC_CREATED: u32 = 0;
export const CC_CREATE_FAILED: u32 = 1;
export const CC_UPDATED: u32 = 2;
export const CC_UPDATE_FAILED: u32 = 3;
export const CC_DESTROYED: u32 = 4;
export const CC_DESTROY_FAILED: u32 = 5;
/** Counters of a cache, u32 each, at the CC_* indices. */
export function cacheCountersPtr(which: u32): usize { return changetype<usize>(cacheOf(which)) + offsetof<Cache>("created"); }
export function cacheFlush(which: u32): void { sync.engineFlushCache(cacheOf(which)); }
export function memoryLiveBytes(): usize { return arenaLiveBytes(); }
export function memoryChunkBytes(): usize { return arenaChunkBytes(); }

// A walk over a cache for dumps (-i / -e): each step fills the record of its kind.
const dumpCursor = changetype<Cursor>(memory.data(offsetof<Cursor>(), 8));
let dumpExp = false;
let dumpEntry: usize = 0;

export function dumpStart(which: u32): void {
  cursorStart(dumpCursor, cacheOf(which), 0);
  dumpExp = isExpCache(which);
}
/** Next entry: MSG_CT / MSG_EXP with its record filled, or 0 at the end. */
export function dumpNext(): i32 {
  dumpEntry = cursorNext(dumpCursor);
  while (dumpEntry != 0) {
    const r = decodeAttrs(dumpExp, dumpExp ? expRecord : ctRecord, entryBody(dumpEntry), entryBodyLen(dumpEntry));
    if (r > 0) return r;
    dumpEntry = cursorNext(dumpCursor);
  }
  return 0;
}
// -i / -e as text (dump-text.ts): a walk formatting whole entries into the
// text buffer, a chunk per call.
export { TEXT_PLAIN, TEXT_XML, TEXT_JSON, TEXT_NO_REPLY, TEXT_STATS, TEXT_JSON_LINES, TEXT_CAP, TEXT_WALK_SIZE, textDumpCount, textDumpOrigin, textWalkPtr } from "./dump-text";
export function textPtr(): usize { return textBuffer(); }
export function textDumpStart(which: u32, style: u32, opts: u32, expiresAfter: i32): void {
  dumpText.textDumpStart(cacheOf(which), isExpCache(which), style, opts, expiresAfter);
}
export function textDumpNext(maxBytes: u32, maxEntries: u32): u32 { return dumpText.textDumpNext(maxBytes, maxEntries, ctRecord, expRecord); }
export function textDumpSkip(n: u32): u32 { return dumpText.textDumpSkip(n, ctRecord, expRecord); }
/** The record of its kind (ctRecPtr / expRecPtr) as a dump line; returns its length at textPtr(). */
export function textRecord(isExp: bool, style: u32, opts: u32, age: u32, expires: i32, deltaTime: i32): u32 {
  return dumpText.textRecord(isExp, style, opts, age, expires, deltaTime, isExp ? expRecord : ctRecord);
}

/** Decodes a cache body (`len` bytes at `ptr`, e.g. from the event log) into the record of its kind. */
export function bodyDecode(isExp: bool, ptr: usize, len: u32): i32 {
  return decodeAttrs(isExp, isExp ? expRecord : ctRecord, ptr, len);
}

/** The Stats mode: the kernel's id of the entry dumpNext returned (0: none). */
export function dumpId(): u32 { return sync.statsEntryId(dumpEntry); }
/** The Stats mode: the flow's start, seconds since the epoch, when a dump told it (0: unknown). */
export function dumpFlowStart(): u32 { return sync.statsEntryStart(dumpEntry); }
/** The origin (engineSetOrigin) of the external entry dumpNext returned. */
export function dumpOrigin(): u32 { return sync.entryOrigin(dumpEntry); }
/** Seconds the entry dumpNext returned has been in its cache. */
export function dumpAge(): u32 { return sync.entryAge(dumpEntry); }
/** Seconds since the entry dumpNext returned last changed or was refreshed (ALARM's expiry timer). */
export function dumpIdle(): u32 { return sync.entryIdle(dumpEntry); }

/** Starts a commit of an external cache (CACHE_EXTERNAL_CT or _EXP) with request options (O_*). */
export function commitBegin(which: u32, opts: u32): void { commitStart(cacheOf(which), isExpCache(which), opts); }
/** After commitBegin: commit only the entries from member `origin` (ORIGIN_ANY, the default: all). */
export function commitOrigin(origin: u32): void { commitOnlyOrigin(origin); }
/** Fills the netlink batch with the next creates (seq from seqBase); returns how many, 0 when done. */
export function commitNext(seqBase: u32): u32 { return commitFill(seqBase, ctRecord, expRecord); }
/** Re-sends request `seq` of one of the last two batches as an update (the kernel said EEXIST). */
export function commitUpdate(seq: u32): i32 { return commitRetryAsUpdate(seq, ctRecord, expRecord); }
/** Entries of the commit under way (since commitBegin) that could not be decoded or encoded: counted as failed. */
export function commitSkipped(): u32 { return commit.commitSkipped; }
