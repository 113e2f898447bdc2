// ctsync core: the exports of build/ctsync.wasm. assembly/README.md documents
// this ABI for any WebAssembly runtime: numbers in, numbers out, and offsets
// into the module's own memory for buffers and records.
import { MAX_DATAGRAM, openDatagram, nextMessage, hdrVersion, hdrType, hdrFlags, hdrLen, hdrSeq, hdrFrom, hdrTo } from "./wire";
import { CT_RECORD_SIZE, EXP_RECORD_SIZE } from "./layout";
import { txAppendCt, txAppendExp } from "./tx";
import { openMessages, nextNetlink, putCt, putExp, putDump, putFlush } from "./ctnetlink";
import * as ctnl from "./ctnetlink";
import { R_OVERSIZED, R_NO_ROOM } from "./reasons";

export const ABI_VERSION: u32 = 1;

export * from "./layout";
export {
  R_TRUNCATED, R_BAD_SIZE, R_BAD_VERSION, R_BAD_TYPE, R_BAD_ATTR_LEN, R_UNKNOWN_ATTR,
  R_INCOMPLETE, R_BAD_FAMILY, R_OVERSIZED, R_NO_ROOM, R_BAD_VALUE, R_COUNT,
  rejectsPtr, resetRejects,
} from "./reasons";
export {
  T_CT_NEW, T_CT_UPD, T_CT_DEL, T_EXP_NEW, T_EXP_UPD, T_EXP_DEL, T_CTL,
  F_RESYNC, F_NACK, F_ACK, F_ALIVE, F_HELLO, F_HELLO_BACK,
  MSG_END, MSG_CT, MSG_EXP, MSG_CTL, MAX_DATAGRAM, setSyncOptions,
} from "./wire";
export { txPtr, txLen, txReset, txClear, txAppendCtl } from "./tx";

// The core's own buffers and records: the host writes input here and reads
// decoded objects from here, so no bytes are copied across the boundary twice.
const rxBuffer = memory.data(MAX_DATAGRAM);
const ctRecord = memory.data(CT_RECORD_SIZE, 8);
const expRecord = memory.data(EXP_RECORD_SIZE, 8);

export function rxPtr(): usize {
  return rxBuffer;
}
export function ctRecPtr(): usize {
  return ctRecord;
}
export function expRecPtr(): usize {
  return expRecord;
}

// ---- sync messages in ----------------------------------------------------------

/** Opens the datagram of `len` bytes at the start of the rx buffer. */
export function syncOpen(len: u32): i32 {
  return openDatagram(rxBuffer, len);
}
/** Opens a datagram anywhere in memory (for hosts with their own buffers). */
export function syncOpenAt(ptr: usize, len: u32): i32 {
  return openDatagram(ptr, len);
}
/** Next message: MSG_CT / MSG_EXP (record filled), MSG_CTL, MSG_END, or -reason. */
export function syncNext(): i32 {
  return nextMessage(ctRecord, expRecord);
}
export function msgVersion(): u32 { return hdrVersion; }
export function msgType(): u32 { return hdrType; }
export function msgFlags(): u32 { return hdrFlags; }
export function msgLen(): u32 { return hdrLen; }
export function msgSeq(): u32 { return hdrSeq; }
export function msgFrom(): u32 { return hdrFrom; }
export function msgTo(): u32 { return hdrTo; }

// ---- sync messages out ---------------------------------------------------------

/** Appends the conntrack record as a message: 1 appended, 0 buffer full, or -reason. */
export function txCt(type: u32, flags: u32, seq: u32): i32 {
  return txAppendCt(ctRecord, type, flags, seq);
}
/** Appends the expectation record as a message: 1 appended, 0 buffer full, or -reason. */
export function txExp(type: u32, flags: u32, seq: u32): i32 {
  return txAppendExp(expRecord, type, flags, seq);
}

// ---- ctnetlink ---------------------------------------------------------------

// Room for many netlink datagrams read in one go (recvmmsg), and for a batch
// of requests sent in one go.
const NL_RX_SIZE: u32 = 4 << 20;
const NL_TX_SIZE: u32 = 1 << 20;
const nlRx = memory.data(NL_RX_SIZE, 16);
const nlTx = memory.data(NL_TX_SIZE, 16);
let nlTxUsed: u32 = 0;

export {
  NL_END, NL_CT, NL_EXP, NL_DONE, NL_ERROR, NL_OTHER, EV_NEW, EV_UPDATE, EV_DESTROY, EV_DUMP,
  OP_CREATE, OP_UPDATE, OP_DELETE, OP_GET, O_ACK, O_EXCL, O_LIBERAL, TABLE_CT, TABLE_EXP,
  setCommitTimeout,
} from "./ctnetlink";

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
export function nlTxLen(): u32 { return nlTxUsed; }
export function nlTxClear(): void { nlTxUsed = 0; }

/** Result of a put: 1 appended, 0 batch full (send it, nlTxClear, retry), or -reason. */
function nlAppended(n: i32): i32 {
  if (n > 0) {
    nlTxUsed += <u32>n;
    return 1;
  }
  if (n == -R_NO_ROOM) return nlTxUsed == 0 ? -R_OVERSIZED : 0;
  return n;
}
/** Appends a conntrack request built from the conntrack record. */
export function nlPutCt(op: u32, opts: u32, seq: u32): i32 {
  return nlAppended(putCt(ctRecord, nlTx + nlTxUsed, nlTx + NL_TX_SIZE, op, opts, seq));
}
/** Appends an expectation request built from the expectation record. */
export function nlPutExp(op: u32, opts: u32, seq: u32): i32 {
  return nlAppended(putExp(expRecord, nlTx + nlTxUsed, nlTx + NL_TX_SIZE, op, opts, seq));
}
/** Appends a dump request for a table (TABLE_CT / TABLE_EXP) and family (0 = all). */
export function nlPutDump(table: u32, family: u32, seq: u32): i32 {
  return nlAppended(putDump(nlTx + nlTxUsed, nlTx + NL_TX_SIZE, table, family, seq));
}
/** Appends a flush request for a table. */
export function nlPutFlush(table: u32, family: u32, seq: u32): i32 {
  return nlAppended(putFlush(nlTx + nlTxUsed, nlTx + NL_TX_SIZE, table, family, seq));
}
