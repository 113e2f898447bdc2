// A log of cache changes for observers (the HTTP API's event stream). Off by
// default; when on, each change appends a record the host drains now and
// then. It never blocks the sync path: when the host falls behind, changes
// are counted as dropped instead of logged.
const LOG_SIZE: u32 = 256 << 10;
const log = memory.data(<i32>LOG_SIZE, 8);
let used: u32 = 0;
let enabled = false;
let dropped: u32 = 0;

// A record: u8 kind (0 conntrack, 1 expectation), u8 op (EVOP_*), u8 cache
// (0 internal, 1 external), u8 0, u16 LE body length, u16 0, then the body
// (sync attributes), the whole padded to a multiple of EVLOG_ALIGN bytes.
export const EVLOG_KIND: u32 = 0;
export const EVLOG_OP: u32 = 1;
export const EVLOG_CACHE: u32 = 2;
export const EVLOG_BODY_LEN: u32 = 4;
export const EVLOG_HEADER: u32 = 8;
export const EVLOG_ALIGN: u32 = 4;

export const EVOP_NEW: u32 = 0;
export const EVOP_UPDATE: u32 = 1;
export const EVOP_DESTROY: u32 = 2;

export function eventLogEnable(on: bool): void {
  enabled = on;
  used = 0;
}

export function eventLogPtr(): usize { return log; }
export function eventLogLen(): u32 { return used; }
export function eventLogDropped(): u32 { return dropped; }
export function eventLogClear(): void { used = 0; }

export function logChange(isExp: bool, op: u32, external: bool, body: usize, len: u32): void {
  if (!enabled) return;
  const total = (EVLOG_HEADER + len + EVLOG_ALIGN - 1) & ~(EVLOG_ALIGN - 1);
  if (used + total > LOG_SIZE) {
    dropped++;
    return;
  }
  const p = log + used;
  store<u32>(p, 0);
  store<u8>(p + EVLOG_KIND, isExp ? 1 : 0);
  store<u8>(p + EVLOG_OP, <u8>op);
  store<u8>(p + EVLOG_CACHE, external ? 1 : 0);
  store<u32>(p + EVLOG_BODY_LEN, len);
  memory.copy(p + EVLOG_HEADER, body, len);
  used += total;
}
