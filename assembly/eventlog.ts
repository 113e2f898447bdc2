// A log of cache changes for observers (the HTTP API's event stream). Off by
// default; when on, each change appends a record the host drains now and
// then. It never blocks the sync path: when the host falls behind, changes
// are counted as dropped instead of logged.
const LOG_SIZE: u32 = 256 << 10;
const log = memory.data(<i32>LOG_SIZE, 8);
let used: u32 = 0;
let enabled = false;
let dropped: u32 = 0;

// Record: u8 kind (0 conntrack, 1 expectation), u8 op (0 new, 1 update,
// 2 destroy), u8 cache (0 internal, 1 external), u8 0, u16 body length,
// u16 0, then the body (sync attributes), padded to 4 bytes.
export const EVLOG_HEADER: u32 = 8;

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
  const total = (EVLOG_HEADER + len + 3) & ~3;
  if (used + total > LOG_SIZE) {
    dropped++;
    return;
  }
  const p = log + used;
  store<u8>(p, isExp ? 1 : 0);
  store<u8>(p + 1, <u8>op);
  store<u8>(p + 2, external ? 1 : 0);
  store<u8>(p + 3, 0);
  store<u16>(p + 4, <u16>len);
  store<u16>(p + 6, 0);
  memory.copy(p + EVLOG_HEADER, body, len);
  used += total;
}
