// The caches: hash tables of conntracks or expectations keyed by tuple, as
// conntrackd's internal cache (this node's flows) and external cache (the
// peers' flows). An entry keeps its flow in the compact form it travels in on
// the wire (the sync message's attributes), so a cache costs little memory per
// flow and sending an entry is a copy, not an encode.
import { arenaAlloc, arenaFree, sameClass } from "./arena";
import { hashWords } from "./hash";
import { copyBytes } from "./bytes";
import {
  CT_ORIG, CT_ZONE, CTF_ZONE, EXP_MASTER, EXP_EXPECT, TUPLE_FAMILY, TUPLE_L4PROTO,
  TUPLE_SPORT, TUPLE_SRC, TUPLE_DST, addrLen,
} from "./layout";

// ---- entries -------------------------------------------------------------------
// An entry is a header, its key, then its body (sync message attributes).
export const E_NEXT: u32 = 0; //    u32 next entry in the hash chain
export const E_QPREV: u32 = 4; //   u32 links in the transmit / resend queue
export const E_QNEXT: u32 = 8; //   u32
export const E_SEQ: u32 = 12; //    u32 sequence number it was last sent with
// External entries are never queued nor sent: their E_SEQ word holds the
// origin, the member (a Corosync node id; 0 on the other links) whose message
// last wrote them, so that one failed member's entries can be committed.
export const E_ORIGIN: u32 = E_SEQ;
/** "Every origin", for commitOrigin. */
export const ORIGIN_ANY: u32 = 0xffffffff;
export const E_CREATED: u32 = 16; // u32 seconds (host clock) when it entered the cache
export const E_UPDATED: u32 = 20; // u32 seconds when it last changed or was refreshed
export const E_KEYLEN: u32 = 24; // u8
export const E_FLAGS: u32 = 25; //  u8  F_* below
export const E_BODYLEN: u32 = 26; // u16
export const E_KEY: u32 = 28;
export const E_HEADER: u32 = 28;

// Entry flags.
export const EF_QUEUE_MASK: u8 = 3; // which queue holds it: 0 none, 1 transmit, 2 resend, 3 hold
export const EF_IN_TX: u8 = 1;
export const EF_IN_RS: u8 = 2;
export const EF_IN_HOLD: u8 = 3; //  DelayReplication's hold queue (hold.ts)
export const EF_CTL: u8 = 4; //      a control message node, not a cache entry
export const EF_EXP: u8 = 8; //      an expectation (else a conntrack)
export const EF_STATUS_SHIFT: u8 = 4; // 2 bits: ST_NEW / ST_UPD / ST_DEL
export const EF_DEAD: u8 = 64; //    out of the hash table, freed when it leaves its queue
export const EF_SEEN: u8 = 128; //   seen in the kernel dump under way (resync)

export const ST_NEW: u8 = 0;
export const ST_UPD: u8 = 1;
export const ST_DEL: u8 = 2;

@inline export function entryFlags(e: usize): u8 { return load<u8>(e + E_FLAGS); }
@inline export function setEntryFlags(e: usize, f: u8): void { store<u8>(e + E_FLAGS, f); }
@inline export function entryStatus(e: usize): u8 { return (entryFlags(e) >> EF_STATUS_SHIFT) & 3; }
@inline export function setEntryStatus(e: usize, st: u8): void {
  setEntryFlags(e, (entryFlags(e) & ~(<u8>3 << EF_STATUS_SHIFT)) | (st << EF_STATUS_SHIFT));
}
@inline export function entryKeyLen(e: usize): u32 { return <u32>load<u8>(e + E_KEYLEN); }
@inline export function entryBodyLen(e: usize): u32 { return <u32>load<u16>(e + E_BODYLEN); }
@inline export function entryBody(e: usize): usize { return e + E_KEY + entryKeyLen(e); }
/** Whether entry `e` holds exactly the `len` bytes at `body`. */
export function sameBody(e: usize, body: usize, len: u32): bool {
  return entryBodyLen(e) == len && memory.compare(entryBody(e), body, len) == 0;
}
@inline export function entrySize(e: usize): u32 { return E_HEADER + entryKeyLen(e) + entryBodyLen(e); }

export function freeEntry(e: usize): void {
  arenaFree(e, entrySize(e));
}

// ---- keys ----------------------------------------------------------------------
// A key is a tuple in compact form, a whole number of words: family, protocol,
// zone (be16), the two ports (or ICMP id, type, code), then the addresses. A
// key buffer (KEY_SIZE bytes) holds its length (u32) and then the key.

export const KEY_SIZE: u32 = 4 + 96;
@inline function keyLenOf(key: usize): u32 { return load<u32>(key); }
@inline function keyBytes(key: usize): usize { return key + 4; }

function putTupleKey(at: usize, t: usize, zone: u32): u32 {
  const n = addrLen(<u32>load<u8>(t + TUPLE_FAMILY));
  store<u8>(at, load<u8>(t + TUPLE_FAMILY));
  store<u8>(at + 1, load<u8>(t + TUPLE_L4PROTO));
  store<u16>(at + 2, <u16>zone);
  store<u32>(at + 4, load<u32>(t + TUPLE_SPORT)); // both ports, or id + type + code
  copyBytes(at + 8, t + TUPLE_SRC, n);
  copyBytes(at + 8 + n, t + TUPLE_DST, n);
  return 8 + 2 * n;
}

/** Writes the key of a conntrack record (its original tuple and zone) into the key buffer `key`. */
export function ctKey(rec: usize, key: usize): void {
  const zone = (load<u32>(rec) & CTF_ZONE) != 0 ? <u32>load<u16>(rec + CT_ZONE) : 0;
  store<u32>(key, putTupleKey(keyBytes(key), rec + CT_ORIG, zone));
}

/** Writes the key of an expectation record (its expected tuple, then its master's) into `key`. */
export function expKey(rec: usize, key: usize): void {
  const n = putTupleKey(keyBytes(key), rec + EXP_EXPECT, 0);
  store<u32>(key, n + putTupleKey(keyBytes(key) + n, rec + EXP_MASTER, 0));
}

/** The key of a record of either kind. */
export function recordKey(rec: usize, isExp: bool, key: usize): void {
  if (isExp) expKey(rec, key);
  else ctKey(rec, key);
}

// ---- the table -----------------------------------------------------------------
// Chained buckets of 8 bytes: the chain's head, and a 32-bit filter with one
// bit set per entry of the chain (bit hash >> 27, not the bits that chose the
// bucket). A lookup of a flow the cache does not hold, which is every new
// flow, then reads the bucket and stops there: walking the chain would cost
// a cache miss per entry, which in a table of a million flows is most of the
// time a new flow takes.

const BUCKET: u32 = 8;
const B_HEAD: u32 = 0; //   u32 first entry of the chain
const B_FILTER: u32 = 4; // u32 filterBit() of each entry of the chain, or'ed

@final @unmanaged export class Cache {
  buckets: usize = 0;
  nbuckets: u32 = 0;
  count: u32 = 0;
  limit: u32 = 0;
  isExp: u32 = 0;
  // Counters as conntrackd's "-s cache" reports them.
  created: u32 = 0;
  createdFailed: u32 = 0;
  updated: u32 = 0;
  updatedFailed: u32 = 0;
  destroyed: u32 = 0;
  destroyedFailed: u32 = 0;
}

export function newCache(hashSize: u32, limit: u32, isExp: bool): Cache {
  const c = changetype<Cache>(heap.alloc(offsetof<Cache>()));
  memory.fill(changetype<usize>(c), 0, offsetof<Cache>());
  c.nbuckets = max<u32>(hashSize, 1);
  // Not filled with zeros: the core runs on the stub runtime and never frees
  // heap memory, so a new block is memory no one has written, zero as Wasm
  // gives it. Left alone, its pages stay out of the daemon's RSS until flows
  // land in them (four caches of HashSize 524288 are 16 MiB of buckets).
  c.buckets = heap.alloc(<usize>c.nbuckets * BUCKET);
  c.limit = limit;
  c.isExp = isExp ? 1 : 0;
  return c;
}

@inline function bucketAt(c: Cache, index: u32): usize {
  return c.buckets + <usize>index * BUCKET;
}

@inline function bucketOf(c: Cache, hash: u32): usize {
  return bucketAt(c, hash % c.nbuckets);
}

@inline function filterBit(hash: u32): u32 {
  return 1 << (hash >> 27);
}

function keyEquals(e: usize, key: usize): bool {
  const n = keyLenOf(key);
  if (entryKeyLen(e) != n) return false;
  const k = keyBytes(key);
  for (let i: u32 = 0; i < n; i += 4) {
    if (load<u32>(e + E_KEY + i) != load<u32>(k + i)) return false;
  }
  return true;
}

/** The hash of `len` bytes of key at `p`: one definition for a key buffer and an entry's copy of it. */
@inline function hashKeyAt(p: usize, len: u32): u32 {
  return hashWords(p, len >> 2, 0);
}

@inline function keyHash(key: usize): u32 {
  return hashKeyAt(keyBytes(key), keyLenOf(key));
}

/**
 * The hash of an entry's key. Entries do not keep it (four bytes more for
 * each of a million flows): the walks that need it, an unlink and the
 * filter it leaves, hash a few words again.
 */
@inline function entryHash(e: usize): u32 {
  return hashKeyAt(e + E_KEY, entryKeyLen(e));
}

/** Finds the entry of `key` (ctKey / expKey), or 0. */
export function findEntry(c: Cache, key: usize): usize {
  return findHashed(c, key, keyHash(key));
}

function findHashed(c: Cache, key: usize, h: u32): usize {
  const b = bucketOf(c, h);
  if ((load<u32>(b + B_FILTER) & filterBit(h)) == 0) return 0;
  for (let e = <usize>load<u32>(b + B_HEAD); e != 0; e = <usize>load<u32>(e + E_NEXT)) {
    if (keyEquals(e, key)) return e;
  }
  return 0;
}

/** Unlinks an entry from its hash chain (the entry itself is not freed). */
export function unlinkEntry(c: Cache, e: usize): void {
  unlinkHashed(c, e, entryHash(e));
}

function unlinkHashed(c: Cache, e: usize, h: u32): void {
  const b = bucketOf(c, h);
  let link = b + B_HEAD;
  let cur = <usize>load<u32>(link);
  while (cur != 0) {
    if (cur == e) {
      store<u32>(link, load<u32>(e + E_NEXT));
      store<u32>(b + B_FILTER, chainFilter(<usize>load<u32>(b + B_HEAD)));
      c.count--;
      return;
    }
    link = cur + E_NEXT;
    cur = <usize>load<u32>(link);
  }
}

/** The filter of a chain from entry `e`: the bits of those left after an unlink. */
function chainFilter(e: usize): u32 {
  let f: u32 = 0;
  for (; e != 0; e = <usize>load<u32>(e + E_NEXT)) f |= filterBit(entryHash(e));
  return f;
}

/** What upsertEntry did besides returning the entry. */
@final @unmanaged export class Upserted {
  /** The entry is new (else an existing one was updated). */
  created: bool = false;
  /** It had to move to a bigger or smaller block: the old block, which the caller frees; else 0. */
  movedFrom: usize = 0;
}

/**
 * Stores a body of `len` bytes at `body` under `key`: a new entry, or the
 * existing one, updated in place when the new body fits its block and moved
 * to a new block otherwise (the caller hands over queue membership and frees
 * the old block: out.movedFrom). Returns the entry, or 0 when the cache is
 * full (HashLimit); `out` says which.
 */
export function upsertEntry(c: Cache, key: usize, body: usize, len: u32, now: u32, out: Upserted): usize {
  const h = keyHash(key);
  const old = findHashed(c, key, h);
  const keyLen = keyLenOf(key);
  out.created = old == 0;
  out.movedFrom = 0;
  if (old != 0 && sameClass(entrySize(old), E_HEADER + keyLen + len)) {
    copyBytes(entryBody(old), body, len);
    store<u16>(old + E_BODYLEN, <u16>len);
    store<u32>(old + E_UPDATED, now);
    return old;
  }
  if (old == 0 && c.count >= c.limit) return 0;
  const e = arenaAlloc(E_HEADER + keyLen + len);
  memory.fill(e, 0, E_HEADER);
  store<u8>(e + E_KEYLEN, <u8>keyLen);
  store<u16>(e + E_BODYLEN, <u16>len);
  copyBytes(e + E_KEY, keyBytes(key), keyLen);
  copyBytes(e + E_KEY + keyLen, body, len);
  store<u32>(e + E_CREATED, now);
  store<u32>(e + E_UPDATED, now);
  if (c.isExp) setEntryFlags(e, EF_EXP);
  if (old != 0) {
    // the same key: the same chain, where `e` takes the place of `old`
    unlinkHashed(c, old, h);
    store<u32>(e + E_CREATED, load<u32>(old + E_CREATED));
    out.movedFrom = old;
  }
  linkEntry(c, e, h);
  return e;
}

function linkEntry(c: Cache, e: usize, h: u32): void {
  const b = bucketOf(c, h);
  store<u32>(e + E_NEXT, load<u32>(b + B_HEAD));
  store<u32>(b + B_HEAD, <u32>e);
  store<u32>(b + B_FILTER, load<u32>(b + B_FILTER) | filterBit(h));
  c.count++;
}

// Entries lie in the order they came, not in the buckets': a walk in bucket
// order misses memory at each one. Loading a group of chains' first two
// entries (chains of N/2 buckets hold two on average) before using any lets
// the CPU wait for those misses together rather than one after the other.

/** Buckets whose chains are loaded at a time. */
const TOUCH_GROUP: u32 = 16;
/** Where those loads go, so that the optimizer keeps them. */
let touchSink: u32 = 0;

/** Loads the first two entries of the chains of the TOUCH_GROUP buckets from `from`; returns the bucket after them. */
function touchChains(c: Cache, from: u32): u32 {
  const to = min(from + TOUCH_GROUP, c.nbuckets);
  let touched: u32 = 0;
  for (let i = from; i < to; i++) {
    const e = <usize>load<u32>(bucketAt(c, i) + B_HEAD);
    if (e == 0) continue;
    const next = <usize>load<u32>(e + E_NEXT);
    touched |= next != 0 ? load<u32>(next + E_NEXT) : <u32>e;
  }
  touchSink = touched;
  return to;
}

/**
 * Empties the table in one pass: `drop` gets each entry, already out of the
 * table, to free or keep as it sees fit. Cheaper than unlinking one entry
 * at a time, which hashes every entry left in its chain again.
 */
export function clearEntries(c: Cache, drop: (e: usize) => void): void {
  for (let group: u32 = 0; group < c.nbuckets; ) {
    const end = touchChains(c, group);
    for (; group < end; group++) {
      const b = bucketAt(c, group);
      let e = <usize>load<u32>(b + B_HEAD);
      if (e == 0) continue;
      store<u64>(b, 0); // the head and the filter
      while (e != 0) {
        const next = <usize>load<u32>(e + E_NEXT);
        drop(e);
        e = next;
      }
    }
  }
  c.count = 0;
}

// ---- iteration -----------------------------------------------------------------
// A cursor over buckets, so a walk can be spread over many calls (a commit in
// batches, ALARM's refresh a slice per second) while entries come and go.

@final @unmanaged export class Cursor {
  cache: usize = 0;
  bucket: u32 = 0;
  entry: usize = 0;
  /** Buckets below this one had their chains loaded (touchChains). */
  touched: u32 = 0;
}

export function cursorStart(cur: Cursor, c: Cache, bucket: u32): void {
  cur.cache = changetype<usize>(c);
  cur.bucket = bucket;
  cur.entry = 0;
  cur.touched = bucket;
}

/** The next entry of the walk, or 0 at the end of the table. */
export function cursorNext(cur: Cursor): usize {
  const c = changetype<Cache>(cur.cache);
  if (cur.entry != 0) {
    cur.entry = <usize>load<u32>(cur.entry + E_NEXT);
    if (cur.entry != 0) return cur.entry;
    cur.bucket++;
  }
  while (cur.bucket < c.nbuckets) {
    if (cur.bucket >= cur.touched) cur.touched = touchChains(c, cur.bucket);
    const e = <usize>load<u32>(bucketAt(c, cur.bucket) + B_HEAD);
    if (e != 0) {
      cur.entry = e;
      return e;
    }
    cur.bucket++;
  }
  return 0;
}
