// ChaCha20 (RFC 8439), HChaCha20 and Poly1305, for XChaCha20-Poly1305
// (draft-irtf-cfrg-xchacha): auth.ts's second frame version, which also
// encrypts the payload, so the protected network's flows do not cross the
// sync link in clear. Little-endian words throughout, as the RFC has them
// (wasm is little-endian: a load is the RFC's U8TO32).
//
// The block function is written out round by round on sixteen locals: the
// column and diagonal quarter rounds of RFC 8439 2.3, ten times.

const SIGMA0: u32 = 0x61707865, SIGMA1: u32 = 0x3320646e, SIGMA2: u32 = 0x79622d32, SIGMA3: u32 = 0x6b206574;
const st = memory.data(64, 8); //  the input state of a block
const ks = memory.data(64, 8); //  a block of key stream

/** The state for `key` (32 bytes) with words 12..15 from `tail` (16 bytes: counter and nonce, or HChaCha20's nonce). */
function setup(key: usize, tail: usize): void {
  store<u32>(st, SIGMA0); store<u32>(st, SIGMA1, 4); store<u32>(st, SIGMA2, 8); store<u32>(st, SIGMA3, 12);
  memory.copy(st + 16, key, 32);
  memory.copy(st + 48, tail, 16);
}

/** Twenty rounds over `st`; with `add`, the state added back (a key-stream block), else HChaCha20's words 0..3, 12..15. */
function rounds(out: usize, add: bool): void {
  let x0 = load<u32>(st, 0);
  let x1 = load<u32>(st, 4);
  let x2 = load<u32>(st, 8);
  let x3 = load<u32>(st, 12);
  let x4 = load<u32>(st, 16);
  let x5 = load<u32>(st, 20);
  let x6 = load<u32>(st, 24);
  let x7 = load<u32>(st, 28);
  let x8 = load<u32>(st, 32);
  let x9 = load<u32>(st, 36);
  let x10 = load<u32>(st, 40);
  let x11 = load<u32>(st, 44);
  let x12 = load<u32>(st, 48);
  let x13 = load<u32>(st, 52);
  let x14 = load<u32>(st, 56);
  let x15 = load<u32>(st, 60);
  for (let i = 0; i < 10; i++) {
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 16);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 12);
    x0 += x4; x12 = rotl<u32>(x12 ^ x0, 8);
    x8 += x12; x4 = rotl<u32>(x4 ^ x8, 7);
    x1 += x5; x13 = rotl<u32>(x13 ^ x1, 16);
    x9 += x13; x5 = rotl<u32>(x5 ^ x9, 12);
    x1 += x5; x13 = rotl<u32>(x13 ^ x1, 8);
    x9 += x13; x5 = rotl<u32>(x5 ^ x9, 7);
    x2 += x6; x14 = rotl<u32>(x14 ^ x2, 16);
    x10 += x14; x6 = rotl<u32>(x6 ^ x10, 12);
    x2 += x6; x14 = rotl<u32>(x14 ^ x2, 8);
    x10 += x14; x6 = rotl<u32>(x6 ^ x10, 7);
    x3 += x7; x15 = rotl<u32>(x15 ^ x3, 16);
    x11 += x15; x7 = rotl<u32>(x7 ^ x11, 12);
    x3 += x7; x15 = rotl<u32>(x15 ^ x3, 8);
    x11 += x15; x7 = rotl<u32>(x7 ^ x11, 7);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 16);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 12);
    x0 += x5; x15 = rotl<u32>(x15 ^ x0, 8);
    x10 += x15; x5 = rotl<u32>(x5 ^ x10, 7);
    x1 += x6; x12 = rotl<u32>(x12 ^ x1, 16);
    x11 += x12; x6 = rotl<u32>(x6 ^ x11, 12);
    x1 += x6; x12 = rotl<u32>(x12 ^ x1, 8);
    x11 += x12; x6 = rotl<u32>(x6 ^ x11, 7);
    x2 += x7; x13 = rotl<u32>(x13 ^ x2, 16);
    x8 += x13; x7 = rotl<u32>(x7 ^ x8, 12);
    x2 += x7; x13 = rotl<u32>(x13 ^ x2, 8);
    x8 += x13; x7 = rotl<u32>(x7 ^ x8, 7);
    x3 += x4; x14 = rotl<u32>(x14 ^ x3, 16);
    x9 += x14; x4 = rotl<u32>(x4 ^ x9, 12);
    x3 += x4; x14 = rotl<u32>(x14 ^ x3, 8);
    x9 += x14; x4 = rotl<u32>(x4 ^ x9, 7);
  }
  if (add) {
  store<u32>(out, x0 + load<u32>(st, 0), 0);
  store<u32>(out, x1 + load<u32>(st, 4), 4);
  store<u32>(out, x2 + load<u32>(st, 8), 8);
  store<u32>(out, x3 + load<u32>(st, 12), 12);
  store<u32>(out, x4 + load<u32>(st, 16), 16);
  store<u32>(out, x5 + load<u32>(st, 20), 20);
  store<u32>(out, x6 + load<u32>(st, 24), 24);
  store<u32>(out, x7 + load<u32>(st, 28), 28);
  store<u32>(out, x8 + load<u32>(st, 32), 32);
  store<u32>(out, x9 + load<u32>(st, 36), 36);
  store<u32>(out, x10 + load<u32>(st, 40), 40);
  store<u32>(out, x11 + load<u32>(st, 44), 44);
  store<u32>(out, x12 + load<u32>(st, 48), 48);
  store<u32>(out, x13 + load<u32>(st, 52), 52);
  store<u32>(out, x14 + load<u32>(st, 56), 56);
  store<u32>(out, x15 + load<u32>(st, 60), 60);
    return;
  }
  store<u32>(out, x0); store<u32>(out, x1, 4); store<u32>(out, x2, 8); store<u32>(out, x3, 12);
  store<u32>(out, x12, 16); store<u32>(out, x13, 20); store<u32>(out, x14, 24); store<u32>(out, x15, 28);
}

/** HChaCha20: a 32-byte subkey from `key` and the first 16 bytes of an XChaCha nonce. */
export function hchacha20(key: usize, nonce16: usize, out: usize): void {
  setup(key, nonce16);
  rounds(out, false);
}

const tail = memory.data(16, 8);

/**
 * XORs `len` bytes at `p` with the ChaCha20 key stream of `key` and the
 * 12-byte `nonce`, from block `counter` on (in place).
 */
export function chacha20Xor(key: usize, nonce: usize, counter: u32, p: usize, len: u32): void {
  store<u32>(tail, counter);
  memory.copy(tail + 4, nonce, 12);
  setup(key, tail);
  let off = xor4(p, len);
  for (; off < len; off += 64) {
    rounds(ks, true);
    store<u32>(st, load<u32>(st, 48) + 1, 48);
    const n = min<u32>(64, len - off);
    let i: u32 = 0;
    for (; i + 8 <= n; i += 8) store<u64>(p + off + i, load<u64>(p + off + i) ^ load<u64>(ks + i));
    for (; i < n; i++) store<u8>(p + off + i, load<u8>(p + off + i) ^ load<u8>(ks + i));
  }
}

/** The first 32 bytes of block `counter` of the key stream: Poly1305's one-time key (RFC 8439 2.6). */
export function chacha20Block(key: usize, nonce: usize, counter: u32, out: usize): void {
  store<u32>(tail, counter);
  memory.copy(tail + 4, nonce, 12);
  setup(key, tail);
  rounds(ks, true);
  memory.copy(out, ks, 32);
}

// ---- four blocks at once (SIMD) --------------------------------------------------
//
// Lane j of each of sixteen vectors is that word of block counter + j: the
// same rounds, four blocks per pass; the words are then transposed back into
// four consecutive blocks. Rotations by 16 and 8 are byte shuffles.

@inline function rot(v: v128, n: i32): v128 {
  return v128.or(i32x4.shl(v, n), i32x4.shr_u(v, 32 - n));
}
@inline function rot16(v: v128): v128 {
  return i8x16.shuffle(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
}
@inline function rot8(v: v128): v128 {
  return i8x16.shuffle(v, v, 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14);
}

/** XORs four words of each of four blocks (a, b, c, d: words w..w+3 of blocks 0..3) into the 256 bytes at `p`, at word `w`. */
@inline function xorWords(p: usize, w: usize, a: v128, b: v128, c: v128, d: v128): void {
  const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5), t1 = i32x4.shuffle(a, b, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(c, d, 0, 4, 1, 5), t3 = i32x4.shuffle(c, d, 2, 6, 3, 7);
  const q = p + (w << 2);
  v128.store(q, v128.xor(v128.load(q), i32x4.shuffle(t0, t2, 0, 1, 4, 5)));
  v128.store(q + 64, v128.xor(v128.load(q + 64), i32x4.shuffle(t0, t2, 2, 3, 6, 7)));
  v128.store(q + 128, v128.xor(v128.load(q + 128), i32x4.shuffle(t1, t3, 0, 1, 4, 5)));
  v128.store(q + 192, v128.xor(v128.load(q + 192), i32x4.shuffle(t1, t3, 2, 3, 6, 7)));
}

/** XORs the whole 256-byte groups of `len` bytes at `p` with the key stream set up in `st`, four blocks a pass; returns the bytes done. */
function xor4(p: usize, len: u32): u32 {
  const i0 = i32x4.splat(load<u32>(st, 0));
  const i1 = i32x4.splat(load<u32>(st, 4));
  const i2 = i32x4.splat(load<u32>(st, 8));
  const i3 = i32x4.splat(load<u32>(st, 12));
  const i4 = i32x4.splat(load<u32>(st, 16));
  const i5 = i32x4.splat(load<u32>(st, 20));
  const i6 = i32x4.splat(load<u32>(st, 24));
  const i7 = i32x4.splat(load<u32>(st, 28));
  const i8 = i32x4.splat(load<u32>(st, 32));
  const i9 = i32x4.splat(load<u32>(st, 36));
  const i10 = i32x4.splat(load<u32>(st, 40));
  const i11 = i32x4.splat(load<u32>(st, 44));
  const i13 = i32x4.splat(load<u32>(st, 52));
  const i14 = i32x4.splat(load<u32>(st, 56));
  const i15 = i32x4.splat(load<u32>(st, 60));
  let done: u32 = 0;
  for (; len - done >= 256; done += 256) {
    const ctr = load<u32>(st, 48);
    const i12 = i32x4(ctr, ctr + 1, ctr + 2, ctr + 3);
    let x0 = i0;
    let x1 = i1;
    let x2 = i2;
    let x3 = i3;
    let x4 = i4;
    let x5 = i5;
    let x6 = i6;
    let x7 = i7;
    let x8 = i8;
    let x9 = i9;
    let x10 = i10;
    let x11 = i11;
    let x13 = i13;
    let x14 = i14;
    let x15 = i15;
    let x12 = i12;
    for (let r = 0; r < 10; r++) {
      x0 = i32x4.add(x0, x4); x12 = rot16(v128.xor(x12, x0));
      x8 = i32x4.add(x8, x12); x4 = rot(v128.xor(x4, x8), 12);
      x0 = i32x4.add(x0, x4); x12 = rot8(v128.xor(x12, x0));
      x8 = i32x4.add(x8, x12); x4 = rot(v128.xor(x4, x8), 7);
      x1 = i32x4.add(x1, x5); x13 = rot16(v128.xor(x13, x1));
      x9 = i32x4.add(x9, x13); x5 = rot(v128.xor(x5, x9), 12);
      x1 = i32x4.add(x1, x5); x13 = rot8(v128.xor(x13, x1));
      x9 = i32x4.add(x9, x13); x5 = rot(v128.xor(x5, x9), 7);
      x2 = i32x4.add(x2, x6); x14 = rot16(v128.xor(x14, x2));
      x10 = i32x4.add(x10, x14); x6 = rot(v128.xor(x6, x10), 12);
      x2 = i32x4.add(x2, x6); x14 = rot8(v128.xor(x14, x2));
      x10 = i32x4.add(x10, x14); x6 = rot(v128.xor(x6, x10), 7);
      x3 = i32x4.add(x3, x7); x15 = rot16(v128.xor(x15, x3));
      x11 = i32x4.add(x11, x15); x7 = rot(v128.xor(x7, x11), 12);
      x3 = i32x4.add(x3, x7); x15 = rot8(v128.xor(x15, x3));
      x11 = i32x4.add(x11, x15); x7 = rot(v128.xor(x7, x11), 7);
      x0 = i32x4.add(x0, x5); x15 = rot16(v128.xor(x15, x0));
      x10 = i32x4.add(x10, x15); x5 = rot(v128.xor(x5, x10), 12);
      x0 = i32x4.add(x0, x5); x15 = rot8(v128.xor(x15, x0));
      x10 = i32x4.add(x10, x15); x5 = rot(v128.xor(x5, x10), 7);
      x1 = i32x4.add(x1, x6); x12 = rot16(v128.xor(x12, x1));
      x11 = i32x4.add(x11, x12); x6 = rot(v128.xor(x6, x11), 12);
      x1 = i32x4.add(x1, x6); x12 = rot8(v128.xor(x12, x1));
      x11 = i32x4.add(x11, x12); x6 = rot(v128.xor(x6, x11), 7);
      x2 = i32x4.add(x2, x7); x13 = rot16(v128.xor(x13, x2));
      x8 = i32x4.add(x8, x13); x7 = rot(v128.xor(x7, x8), 12);
      x2 = i32x4.add(x2, x7); x13 = rot8(v128.xor(x13, x2));
      x8 = i32x4.add(x8, x13); x7 = rot(v128.xor(x7, x8), 7);
      x3 = i32x4.add(x3, x4); x14 = rot16(v128.xor(x14, x3));
      x9 = i32x4.add(x9, x14); x4 = rot(v128.xor(x4, x9), 12);
      x3 = i32x4.add(x3, x4); x14 = rot8(v128.xor(x14, x3));
      x9 = i32x4.add(x9, x14); x4 = rot(v128.xor(x4, x9), 7);
    }
    x0 = i32x4.add(x0, i0);
    x1 = i32x4.add(x1, i1);
    x2 = i32x4.add(x2, i2);
    x3 = i32x4.add(x3, i3);
    x4 = i32x4.add(x4, i4);
    x5 = i32x4.add(x5, i5);
    x6 = i32x4.add(x6, i6);
    x7 = i32x4.add(x7, i7);
    x8 = i32x4.add(x8, i8);
    x9 = i32x4.add(x9, i9);
    x10 = i32x4.add(x10, i10);
    x11 = i32x4.add(x11, i11);
    x12 = i32x4.add(x12, i12);
    x13 = i32x4.add(x13, i13);
    x14 = i32x4.add(x14, i14);
    x15 = i32x4.add(x15, i15);
    const q = p + done;
    xorWords(q, 0, x0, x1, x2, x3);
    xorWords(q, 4, x4, x5, x6, x7);
    xorWords(q, 8, x8, x9, x10, x11);
    xorWords(q, 12, x12, x13, x14, x15);
    store<u32>(st, ctr + 4, 48);
  }
  return done;
}
