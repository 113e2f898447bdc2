// The Stats mode's log of destroyed flows, written by the core: each flow the
// engine reports destroyed (STEP_DESTROYED) is appended, as the host asks,
// to the text log (conntrackd's lines) and to the JSON log, two buffers the
// host drains into its files. The host gives the time of writing once per
// batch: ctime() of it with a tab (the text lines' stamp, in the host's time
// zone) and the clock in milliseconds (the JSON's "time").
import { Text, textInit } from "./text";
import { EntryLine } from "./format-parts";
import { formatFlowPlain, formatFlowJson } from "./format-flow";

export const FLOW_TEXT: u32 = 0;
export const FLOW_JSON: u32 = 1;
/** Bytes of each log buffer; a flow's line is far shorter than the margin kept free. */
export const FLOW_LOG_CAP: u32 = 256 * 1024;
const MARGIN: u32 = 4096;
export const FLOW_STAMP_MAX: u32 = 64;

const buffers = memory.data(<i32>(2 * FLOW_LOG_CAP), 8);
const logs = memory.data(<i32>(2 * offsetof<Text>()), 8);
const stamp = memory.data(<i32>FLOW_STAMP_MAX, 8);
let stampLen: u32 = 0;
let stampMs: u64 = 0;
const line = changetype<EntryLine>(memory.data(offsetof<EntryLine>(), 8));

function log(which: u32): Text {
  return changetype<Text>(logs + <usize>which * offsetof<Text>());
}

export function flowLogClear(): void {
  for (let i: u32 = 0; i < 2; i++) textInit(log(i), buffers + <usize>i * FLOW_LOG_CAP, FLOW_LOG_CAP);
}
flowLogClear();

export function flowLogPtr(which: u32): usize { return log(which).ptr; }
export function flowLogLen(which: u32): u32 { return log(which).len; }
export function flowStampPtr(): usize { return stamp; }

/** The time of writing: `len` bytes of stamp at flowStampPtr(), and the clock in ms. */
export function flowSetStamp(len: u32, nowMs: f64): void {
  stampLen = min<u32>(len, FLOW_STAMP_MAX);
  stampMs = <u64>nowMs;
}

/**
 * A destroyed flow (in the records: `rec`, extras `x`), appended to the logs
 * asked for (its traffic was counted by the engine: traffic.ts). Returns 1
 * when a log is nearly full (drain it before the next).
 */
export function flowDestroyed(rec: usize, x: usize, text: bool, json: bool): u32 {
  const nowSec = <u32>(stampMs / 1000);
  if (text) formatFlowPlain(log(FLOW_TEXT), rec, x, nowSec, stamp, stampLen);
  if (json) formatFlowJson(log(FLOW_JSON), rec, x, stampMs, line);
  return nearlyFull(log(FLOW_TEXT)) || nearlyFull(log(FLOW_JSON)) ? 1 : 0;
}

@inline function nearlyFull(t: Text): bool {
  return t.len + MARGIN > t.cap;
}
