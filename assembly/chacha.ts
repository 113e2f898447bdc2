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
  let off: u32 = 0;
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
