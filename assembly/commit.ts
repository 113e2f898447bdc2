// Commit: writes the external cache into the kernel when this node becomes
// primary. Conntracks go first (those without a master before the related
// ones, which name their master), expectations after them, in batches of
// create requests; an entry the kernel already has is sent again as an update.
import { Cache, Cursor, cursorStart, cursorNext, entryBody, entryBodyLen, E_ORIGIN, ORIGIN_ANY } from "./cache";
import { decodeAttrs } from "./wire";
import { batchCt, batchExp, batchLen, nlTx } from "./nlbatch";
import { OP_CREATE, OP_UPDATE, O_ACK, requestAck } from "./ctnetlink";
import { CTF_MASTER } from "./layout";

// The entries of the last two batches: the host builds a batch while the
// kernel takes the one before, and an EEXIST of that one is retried after.
const MAX_BATCH: u32 = 16384;
const batches = memory.data(<i32>(2 * MAX_BATCH * 4), 8);
const slotBase = memory.data(8, 4);
const slotCount = memory.data(8, 4);
let slot: u32 = 0;
const cursor = changetype<Cursor>(memory.data(offsetof<Cursor>(), 8));

let cache: Cache = changetype<Cache>(0);
let isExp = false;
let pass: u32 = 0; // conntracks: 0 without a master, 1 with one
let options: u32 = 0;
export let commitSkipped: u32 = 0; // entries that would not decode or encode
let originOnly: u32 = ORIGIN_ANY; // commit only the entries of this origin (E_ORIGIN)

/** After commitStart: commit only the entries that came from member `origin` (ORIGIN_ANY: all, the default). */
export function commitOnlyOrigin(origin: u32): void { originOnly = origin; }

// An entry read when the batch was already full: it opens the next batch.
let pending: usize = 0;

export function commitStart(c: Cache, expectations: bool, opts: u32): void {
  cache = c;
  pending = 0;
  isExp = expectations;
  pass = 0;
  options = opts & ~O_ACK;
  commitSkipped = 0;
  originOnly = ORIGIN_ANY;
  store<u32>(slotCount, 0);
  store<u32>(slotCount + 4, 0);
  cursorStart(cursor, c, 0);
}

/** Decodes an entry's body into the record for its kind. */
function toRecord(e: usize, ctRec: usize, expRec: usize): bool {
  return decodeAttrs(isExp, isExp ? expRec : ctRec, entryBody(e), entryBodyLen(e)) > 0;
}

function wanted(ctRec: usize): bool {
  if (isExp) return true;
  const related = (load<u32>(ctRec) & CTF_MASTER) != 0;
  return pass == 0 ? !related : related;
}

/**
 * Appends the next batch of create requests (sequence numbers from `seqBase`)
 * to the netlink batch. Returns how many; 0 when the walk is over. The kernel
 * reports every failure anyway; only the batch's last request asks for an
 * acknowledgement, which tells the host the whole batch was processed (the
 * kernel answers in order), halving what it has to read.
 */
export function commitFill(seqBase: u32, ctRec: usize, expRec: usize): u32 {
  slot ^= 1;
  const batch = batches + (<usize>slot) * MAX_BATCH * 4;
  let batchCount: u32 = 0;
  let last: u32 = 0;
  while (batchCount < MAX_BATCH) {
    const e = pending != 0 ? pending : cursorNext(cursor);
    pending = 0;
    if (e == 0) {
      if (isExp || pass == 1) break;
      pass = 1;
      cursorStart(cursor, cache, 0);
      continue;
    }
    if (originOnly != ORIGIN_ANY && load<u32>(e + E_ORIGIN) != originOnly) continue;
    if (!toRecord(e, ctRec, expRec)) {
      commitSkipped++;
      continue;
    }
    if (!wanted(ctRec)) continue;
    const seq = seqBase + batchCount;
    const at = batchLen();
    const r = isExp ? batchExp(expRec, OP_CREATE, options, seq) : batchCt(ctRec, OP_CREATE, options, seq);
    if (r == 0) {
      pending = e;
      break;
    }
    if (r < 0) {
      commitSkipped++;
      continue;
    }
    store<u32>(batch + (<usize>batchCount << 2), <u32>e);
    batchCount++;
    last = at;
  }
  if (batchCount > 0) requestAck(nlTx + last);
  store<u32>(slotBase + (slot << 2), seqBase);
  store<u32>(slotCount + (slot << 2), batchCount);
  return batchCount;
}


/**
 * The kernel answered request `seq` (of one of the last two batches) with
 * EEXIST: appends an update for the same entry. Returns 1, 0 when the batch
 * is full, or -1 for an unknown seq.
 */
export function commitRetryAsUpdate(seq: u32, ctRec: usize, expRec: usize): i32 {
  const e = batchEntry(seq);
  if (e == 0 || !toRecord(e, ctRec, expRec)) return -1;
  return isExp ? batchExp(expRec, OP_UPDATE, options | O_ACK, seq) : batchCt(ctRec, OP_UPDATE, options | O_ACK, seq);
}

/** The entry request `seq` of one of the last two batches was made from; 0 if neither has it. */
function batchEntry(seq: u32): usize {
  for (let s: u32 = 0; s < 2; s++) {
    const i = seq - load<u32>(slotBase + (s << 2));
    if (i < load<u32>(slotCount + (s << 2))) return <usize>load<u32>(batches + (<usize>s) * MAX_BATCH * 4 + (<usize>i << 2));
  }
  return 0;
}
