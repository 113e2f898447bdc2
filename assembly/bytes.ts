// Byte-order helpers. Every multi-byte value on both wires (conntrackd's sync
// protocol and ctnetlink attribute payloads) is big-endian; wasm is
// little-endian, so reads and writes of wire values go through here.

@inline export function bswap16(v: u16): u16 {
  return <u16>((v << 8) | (v >> 8));
}

@inline export function loadBe16(p: usize): u32 {
  return <u32>bswap16(load<u16>(p));
}

@inline export function loadBe32(p: usize): u32 {
  return bswap<u32>(load<u32>(p));
}

@inline export function loadBe64(p: usize): u64 {
  return bswap<u64>(load<u64>(p));
}

@inline export function storeBe16(p: usize, v: u32): void {
  store<u16>(p, bswap16(<u16>v));
}

@inline export function storeBe32(p: usize, v: u32): void {
  store<u32>(p, bswap<u32>(v));
}

/** Rounds up to the 4-byte alignment both wires use for attributes. */
@inline export function align4(n: u32): u32 {
  return (n + 3) & ~3;
}

/** True when the `len` bytes at a and b are equal. */
export function bytesEqual(a: usize, b: usize, len: u32): bool {
  for (let i: u32 = 0; i < len; i++) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
  }
  return true;
}

/** Length of the NUL-terminated string at p, reading at most max bytes. */
export function strnlen(p: usize, max: u32): u32 {
  let n: u32 = 0;
  while (n < max && load<u8>(p + n) != 0) n++;
  return n;
}

/**
 * Copies `n` bytes from `src` to `dst`, two places that do not overlap. The
 * engine copies addresses, keys and attribute values of a few to a few dozen
 * bytes per message; memory.copy leaves the Wasm code for each of them (a
 * call into the runtime), which costs more than these copies themselves.
 */
export function copyBytes(dst: usize, src: usize, n: u32): void {
  if (n > 64) {
    memory.copy(dst, src, n);
    return;
  }
  let i: u32 = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i));
  if (i + 4 <= n) {
    store<u32>(dst + i, load<u32>(src + i));
    i += 4;
  }
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}
