// Poly1305 (RFC 8439 2.5), the one-time authenticator of XChaCha20-Poly1305:
// 26-bit limbs and 64-bit products, as the portable "donna" implementations
// do. One MAC at a time: polyInit, polyUpdate (any number), polyFinish.
const MASK: u32 = 0x3ffffff;

// r, the clamped key (five limbs) and s = r * 5; the accumulator h; the pad.
let r0: u32 = 0, r1: u32 = 0, r2: u32 = 0, r3: u32 = 0, r4: u32 = 0;
let s1: u64 = 0, s2: u64 = 0, s3: u64 = 0, s4: u64 = 0;
let h0: u32 = 0, h1: u32 = 0, h2: u32 = 0, h3: u32 = 0, h4: u32 = 0;
const pad = memory.data(16, 8);
const block = memory.data(16, 8);

/** Starts a MAC under the 32-byte one-time key at `key`. */
export function polyInit(key: usize): void {
  r0 = load<u32>(key) & 0x3ffffff;
  r1 = (load<u32>(key, 3) >> 2) & 0x3ffff03;
  r2 = (load<u32>(key, 6) >> 4) & 0x3ffc0ff;
  r3 = (load<u32>(key, 9) >> 6) & 0x3f03fff;
  r4 = (load<u32>(key, 12) >> 8) & 0x00fffff;
  s1 = <u64>(r1 * 5); s2 = <u64>(r2 * 5); s3 = <u64>(r3 * 5); s4 = <u64>(r4 * 5);
  h0 = 0; h1 = 0; h2 = 0; h3 = 0; h4 = 0;
  memory.copy(pad, key + 16, 16);
}

/** One 16-byte block at `m`; `hibit` is 1 << 24 for a whole block, 0 for a last one already marked with its 0x01. */
function blockIn(m: usize, hibit: u32): void {
  h0 += load<u32>(m) & MASK;
  h1 += (load<u32>(m, 3) >> 2) & MASK;
  h2 += (load<u32>(m, 6) >> 4) & MASK;
  h3 += (load<u32>(m, 9) >> 6) & MASK;
  h4 += (load<u32>(m, 12) >> 8) | hibit;
  const a0 = <u64>h0, a1 = <u64>h1, a2 = <u64>h2, a3 = <u64>h3, a4 = <u64>h4;
  const d0 = a0 * r0 + a1 * s4 + a2 * s3 + a3 * s2 + a4 * s1;
  let d1 = a0 * r1 + a1 * r0 + a2 * s4 + a3 * s3 + a4 * s2;
  let d2 = a0 * r2 + a1 * r1 + a2 * r0 + a3 * s4 + a4 * s3;
  let d3 = a0 * r3 + a1 * r2 + a2 * r1 + a3 * r0 + a4 * s4;
  let d4 = a0 * r4 + a1 * r3 + a2 * r2 + a3 * r1 + a4 * r0;
  h0 = <u32>d0 & MASK; d1 += d0 >> 26;
  h1 = <u32>d1 & MASK; d2 += d1 >> 26;
  h2 = <u32>d2 & MASK; d3 += d2 >> 26;
  h3 = <u32>d3 & MASK; d4 += d3 >> 26;
  h4 = <u32>d4 & MASK;
  h0 += <u32>(d4 >> 26) * 5;
  h1 += h0 >> 26;
  h0 &= MASK;
}

/**
 * `len` bytes at `p`. With `padded` a partial last block is filled with
 * zeros and taken whole (the AEAD's pad16); without, it ends the message
 * (RFC 8439's own rule: a 0x01 after it) and no update may follow.
 */
export function polyUpdate(p: usize, len: u32, padded: bool): void {
  let off: u32 = 0;
  for (; len - off >= 16; off += 16) blockIn(p + off, 1 << 24);
  const rest = len - off;
  if (rest == 0) return;
  memory.fill(block, 0, 16);
  memory.copy(block, p + off, rest);
  if (padded) {
    blockIn(block, 1 << 24);
  } else {
    store<u8>(block + rest, 1);
    blockIn(block, 0);
  }
}

/** The 16-byte tag to `out`. */
export function polyFinish(out: usize): void {
  let c = h1 >> 26; h1 &= MASK;
  h2 += c; c = h2 >> 26; h2 &= MASK;
  h3 += c; c = h3 >> 26; h3 &= MASK;
  h4 += c; c = h4 >> 26; h4 &= MASK;
  h0 += c * 5; c = h0 >> 26; h0 &= MASK;
  h1 += c;
  // h - p: taken when it does not go negative (constant time: masks, no branch)
  let g0 = h0 + 5; c = g0 >> 26; g0 &= MASK;
  let g1 = h1 + c; c = g1 >> 26; g1 &= MASK;
  let g2 = h2 + c; c = g2 >> 26; g2 &= MASK;
  let g3 = h3 + c; c = g3 >> 26; g3 &= MASK;
  let g4 = h4 + c - (1 << 26);
  const take = (g4 >> 31) - 1; // all ones when g4 did not borrow
  const keep = ~take;
  h0 = (h0 & keep) | (g0 & take);
  h1 = (h1 & keep) | (g1 & take);
  h2 = (h2 & keep) | (g2 & take);
  h3 = (h3 & keep) | (g3 & take);
  h4 = (h4 & keep) | (g4 & take);
  // to four 32-bit words, plus the pad, mod 2^128
  let f = <u64>(h0 | (h1 << 26)) + <u64>load<u32>(pad);
  store<u32>(out, <u32>f);
  f = <u64>((h1 >> 6) | (h2 << 20)) + <u64>load<u32>(pad, 4) + (f >> 32);
  store<u32>(out, <u32>f, 4);
  f = <u64>((h2 >> 12) | (h3 << 14)) + <u64>load<u32>(pad, 8) + (f >> 32);
  store<u32>(out, <u32>f, 8);
  f = <u64>((h3 >> 18) | (h4 << 8)) + <u64>load<u32>(pad, 12) + (f >> 32);
  store<u32>(out, <u32>f, 12);
}
