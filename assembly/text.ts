// Text written into the core's memory: the primitives the dump formats
// (format-ct.ts, format-exp.ts) are built from. Numbers in decimal or hex,
// addresses as conntrackd prints them, JSON strings. A Text never grows: its
// owner sizes it for the largest entry plus the chunk it fills, and checks
// the room left between entries, not inside them.

@final @unmanaged export class Text {
  ptr: usize = 0;
  len: u32 = 0;
  cap: u32 = 0;
}

export function textInit(t: Text, ptr: usize, cap: u32): void {
  t.ptr = ptr;
  t.len = 0;
  t.cap = cap;
}

@inline export function putByte(t: Text, b: u32): void {
  store<u8>(t.ptr + t.len, <u8>b);
  t.len++;
}

/** An ASCII literal. */
export function putAscii(t: Text, s: string): void {
  const n = s.length;
  for (let i = 0; i < n; i++) putByte(t, s.charCodeAt(i));
}

/** An ASCII literal padded with spaces to `width` (String.padEnd). */
export function putPadded(t: Text, s: string, width: i32): void {
  putAscii(t, s);
  for (let i = s.length; i < width; i++) putByte(t, 0x20);
}

/** `n` bytes as they are (helper names: conntrackd prints them raw). */
export function putRaw(t: Text, p: usize, n: u32): void {
  memory.copy(t.ptr + t.len, p, n);
  t.len += n;
}

export function putDec(t: Text, v: u32): void {
  if (v >= 10) putDec(t, v / 10);
  putByte(t, 0x30 + v % 10);
}

export function putDec64(t: Text, v: u64): void {
  if (v >= 10) putDec64(t, v / 10);
  putByte(t, 0x30 + <u32>(v % 10));
}

/** Two decimal digits, zero-padded. */
export function putDec2(t: Text, v: u32): void {
  putByte(t, 0x30 + v / 10);
  putByte(t, 0x30 + v % 10);
}

/** Lower-case hex without leading zeros (Number.toString(16)). */
export function putHex(t: Text, v: u32): void {
  if (v >= 16) putHex(t, v >> 4);
  putByte(t, hexDigit(v & 15));
}

/** A byte as two lower-case hex digits. */
export function putHex2(t: Text, b: u32): void {
  putByte(t, hexDigit(b >> 4));
  putByte(t, hexDigit(b & 15));
}

@inline function hexDigit(v: u32): u32 {
  return v < 10 ? 0x30 + v : 0x57 + v;
}

/** inet_ntoa of the first 4 bytes at p. */
export function putIPv4(t: Text, p: usize): void {
  for (let i: usize = 0; i < 4; i++) {
    if (i != 0) putByte(t, 0x2e);
    putDec(t, load<u8>(p + i));
  }
}

/**
 * An IPv6 address (16 bytes at p) with the longest run of two or more zero
 * groups shortened to "::" (the first on a tie). With `v4Tail`, glibc's
 * inet_ntop also writes ::a.b.c.d and ::ffff:a.b.c.d with a dotted tail,
 * as conntrackd's text does; the JSON answers keep plain groups.
 */
export function putIPv6(t: Text, p: usize, v4Tail: bool): void {
  let best = -1, bestLen = 0, cur = -1, curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (group(p, i) == 0) {
      if (cur < 0) { cur = i; curLen = 1; } else curLen++;
      if (curLen > bestLen) { best = cur; bestLen = curLen; }
    } else {
      cur = -1;
    }
  }
  if (bestLen < 2) best = -1;
  for (let i = 0; i < 8; i++) {
    if (best >= 0 && i >= best && i < best + bestLen) {
      if (i == best) putByte(t, 0x3a);
      continue;
    }
    if (i != 0) putByte(t, 0x3a);
    if (v4Tail && i == 6 && best == 0 && (bestLen == 6 || (bestLen == 5 && group(p, 5) == 0xffff))) {
      putIPv4(t, p + 12);
      return;
    }
    putHex(t, group(p, i));
  }
  if (best >= 0 && best + bestLen == 8) putByte(t, 0x3a);
}

@inline function group(p: usize, i: i32): u32 {
  return (<u32>load<u8>(p + 2 * i) << 8) | load<u8>(p + 2 * i + 1);
}

/** An address of either family (AF_INET6 is 10; anything else prints as IPv4, as the host's view does). */
export function putAddr(t: Text, family: u32, p: usize, v4Tail: bool): void {
  if (family == 10) putIPv6(t, p, v4Tail);
  else putIPv4(t, p);
}

/**
 * Bytes read as Latin-1, as a JSON string: quotes, backslash and control
 * characters escaped as JSON.stringify does, bytes above 0x7f in UTF-8.
 */
export function putJsonString(t: Text, p: usize, n: u32): void {
  putByte(t, 0x22);
  for (let i: u32 = 0; i < n; i++) {
    const c = <u32>load<u8>(p + i);
    if (c == 0x22 || c == 0x5c) { putByte(t, 0x5c); putByte(t, c); }
    else if (c < 0x20) putControl(t, c);
    else if (c < 0x80) putByte(t, c);
    else { putByte(t, 0xc0 | (c >> 6)); putByte(t, 0x80 | (c & 0x3f)); }
  }
  putByte(t, 0x22);
}

function putControl(t: Text, c: u32): void {
  putByte(t, 0x5c);
  if (c == 0x08) putByte(t, 0x62);
  else if (c == 0x09) putByte(t, 0x74);
  else if (c == 0x0a) putByte(t, 0x6e);
  else if (c == 0x0c) putByte(t, 0x66);
  else if (c == 0x0d) putByte(t, 0x72);
  else { putAscii(t, "u00"); putHex2(t, c); }
}

/** `"key":` — JSON member names are ASCII literals; `first` says whether a comma goes before. */
export function putKey(t: Text, key: string, first: bool): void {
  if (!first) putByte(t, 0x2c);
  putByte(t, 0x22);
  putAscii(t, key);
  putAscii(t, "\":");
}
