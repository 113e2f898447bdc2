// -i / -e as text: a walk over one cache that formats whole entries into the
// core's text buffer, one chunk per call, so the host writes the answer to
// the control socket in large pieces and never builds an object per entry.
import { Cache, Cursor, cursorStart, cursorNext, entryBody, entryBodyLen, E_ORIGIN, ORIGIN_ANY } from "./cache";
import { decodeAttrs } from "./wire";
import { entryAge, entryIdle, statsEntryId, statsEntryStart } from "./sync";
import { nowSec } from "./timers";
import { Text, textInit, putByte } from "./text";
import { EntryLine } from "./format-parts";
import { formatCtPlain, formatCtXml, formatCtJson } from "./format-ct";
import { formatExpPlain, formatExpXml, formatExpJson } from "./format-exp";

// Styles: conntrackd's plain lines, its -x XML, ctsync's -j JSON elements.
export const TEXT_PLAIN: u32 = 0;
export const TEXT_XML: u32 = 1;
export const TEXT_JSON: u32 = 2;
// Options.
/** No reply tuple: conntrackd prints the external cache's entries without it. */
export const TEXT_NO_REPLY: u32 = 1;
/** The Stats cache: the kernel's id and the flow's delta-time. */
export const TEXT_STATS: u32 = 2;
/** JSON: a newline before each element (the control socket's array), else a bare comma between them. */
export const TEXT_JSON_LINES: u32 = 4;

/** The largest entry any style writes, with room to spare: a chunk stops short of the end by this much. */
const ENTRY_MAX: u32 = 4096;
export const TEXT_CAP: u32 = 65536 + ENTRY_MAX;
const buffer = memory.data(<i32>TEXT_CAP, 8);

@final @unmanaged class TextDump {
  cache: usize = 0;
  style: u32 = 0;
  opts: u32 = 0;
  isExp: bool = false;
  /** ALARM's CacheTimeout for "[expires in Ns]", or -1. */
  expiresAfter: i32 = -1;
  /**
   * Where the walk stands: a bucket and how many entries of its chain were
   * taken. Between calls the host may run events that free entries, so no
   * pointer into a chain is kept across them.
   */
  bucket: u32 = 0;
  inChain: u32 = 0;
  /** Entries written since the walk began; the JSON separator depends on it. */
  written: u32 = 0;
  /** Entries written by the last textDumpNext. */
  lastCount: u32 = 0;
  /** Only the external entries from this member (E_ORIGIN); ORIGIN_ANY: all. */
  origin: u32 = ORIGIN_ANY;
}

export const text = changetype<Text>(memory.data(offsetof<Text>(), 8));
const walk = changetype<TextDump>(memory.data(offsetof<TextDump>(), 8));
const cursor = changetype<Cursor>(memory.data(offsetof<Cursor>(), 8));
const line = changetype<EntryLine>(memory.data(offsetof<EntryLine>(), 8));

export function textBuffer(): usize { return buffer; }

/**
 * The walk's whole state, TEXT_WALK_SIZE bytes: a host serving several dumps
 * at once (two clients) keeps each walk's copy and puts it back here before
 * its next call, so one walk never continues another's.
 */
export function textWalkPtr(): usize { return changetype<usize>(walk); }
export const TEXT_WALK_SIZE: u32 = <u32>offsetof<TextDump>();

export function textDumpStart(c: Cache, isExp: bool, style: u32, opts: u32, expiresAfter: i32): void {
  walk.cache = changetype<usize>(c);
  walk.bucket = 0;
  walk.inChain = 0;
  walk.style = style;
  walk.opts = opts;
  walk.isExp = isExp;
  walk.expiresAfter = expiresAfter;
  walk.written = 0;
  walk.lastCount = 0;
  walk.origin = ORIGIN_ANY;
}

/** After textDumpStart: only the entries that came from member `origin` (-e --origin). */
export function textDumpOrigin(origin: u32): void { walk.origin = origin; }

/** The first entry not yet taken: the walk's bucket again, past what its chain gave. */
function resume(): usize {
  cursorStart(cursor, changetype<Cache>(walk.cache), walk.bucket);
  let e = cursorNext(cursor);
  for (let i: u32 = 0; e != 0 && cursor.bucket == walk.bucket && i < walk.inChain; i++) e = cursorNext(cursor);
  return e;
}

/** Takes the entry the cursor is on; true when its body decodes into its record. */
function take(e: usize, ct: usize, exp: usize): bool {
  if (cursor.bucket == walk.bucket) walk.inChain++;
  else { walk.bucket = cursor.bucket; walk.inChain = 1; }
  if (walk.origin != ORIGIN_ANY && load<u32>(e + E_ORIGIN) != walk.origin) return false;
  return decodeAttrs(walk.isExp, walk.isExp ? exp : ct, entryBody(e), entryBodyLen(e)) > 0;
}

/** Skips up to `n` entries; returns how many there were. */
export function textDumpSkip(n: u32, ct: usize, exp: usize): u32 {
  let i: u32 = 0;
  for (let e = resume(); e != 0 && i < n; e = cursorNext(cursor)) {
    if (take(e, ct, exp)) i++;
  }
  return i;
}

/**
 * Formats whole entries into the text buffer until about `maxBytes` are
 * written or `maxEntries` entries; returns the bytes written (0: the walk is
 * over). textDumpCount() says how many entries they hold.
 */
export function textDumpNext(maxBytes: u32, maxEntries: u32, ct: usize, exp: usize): u32 {
  textInit(text, buffer, TEXT_CAP);
  const limit = min<u32>(maxBytes, TEXT_CAP - ENTRY_MAX);
  let count: u32 = 0;
  for (let e = resume(); e != 0 && text.len < limit && count < maxEntries; e = cursorNext(cursor)) {
    if (!take(e, ct, exp)) continue;
    fillLine(e);
    formatEntry(walk.isExp ? exp : ct);
    count++;
  }
  walk.lastCount = count;
  return text.len;
}

export function textDumpCount(): u32 { return walk.lastCount; }

/** What the cache entry adds to its record's line: age, ALARM's expiry, the Stats id and delta-time. */
function fillLine(e: usize): void {
  line.withReply = (walk.opts & TEXT_NO_REPLY) == 0;
  line.age = entryAge(e);
  line.expires = walk.expiresAfter < 0 ? -1 : max<i32>(0, walk.expiresAfter - <i32>entryIdle(e));
  line.id = 0;
  line.deltaTime = -1;
  if (walk.opts & TEXT_STATS) {
    line.id = statsEntryId(e);
    const start = statsEntryStart(e);
    if (start != 0) line.deltaTime = nowSec > start ? <i32>(nowSec - start) : 0;
  }
}

function formatEntry(rec: usize): void {
  if (walk.style == TEXT_JSON) {
    if (walk.written != 0) putByte(text, 0x2c);
    if (walk.opts & TEXT_JSON_LINES) putByte(text, 0x0a);
  }
  formatRecord(walk.isExp, walk.style, rec);
  walk.written++;
}

function formatRecord(isExp: bool, style: u32, rec: usize): void {
  if (isExp) {
    if (style == TEXT_PLAIN) formatExpPlain(text, rec, line);
    else if (style == TEXT_XML) formatExpXml(text, rec);
    else formatExpJson(text, rec, line);
  } else {
    if (style == TEXT_PLAIN) formatCtPlain(text, rec, line);
    else if (style == TEXT_XML) formatCtXml(text, rec, line);
    else formatCtJson(text, rec, line);
  }
}

/**
 * One record (the conntrack or expectation record of its kind) as a dump
 * would write it, given what the cache would add; returns its length in the
 * text buffer. For tools and tests that format a record they filled.
 */
export function textRecord(isExp: bool, style: u32, opts: u32, age: u32, expires: i32, deltaTime: i32, rec: usize): u32 {
  textInit(text, buffer, TEXT_CAP);
  line.withReply = (opts & TEXT_NO_REPLY) == 0;
  line.age = age;
  line.expires = expires;
  line.deltaTime = deltaTime;
  line.id = 0;
  formatRecord(isExp, style, rec);
  return text.len;
}
