// SHA-256 (FIPS 180-4) and HMAC-SHA-256 (RFC 2104), for authenticating sync
// datagrams (auth.ts). Written for the one use it has: a key's HMAC pads are
// hashed once, when the key is set, and kept as two chaining states; a MAC
// then costs the blocks of the message plus two. No allocation: every state
// lives in linear memory the caller owns.

/** Bytes of a chaining state (eight u32 words). */
export const SHA_STATE_SIZE: u32 = 32;
export const SHA_BLOCK: u32 = 64;
export const SHA_DIGEST: u32 = 32;

const K = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = memory.data<u32>([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const w = memory.data(64 * 4, 4); //   the message schedule
const tail = memory.data(<i32>SHA_BLOCK * 2, 8); // the last block(s), padded
const inner = memory.data(<i32>SHA_DIGEST, 8);

export function shaInit(state: usize): void {
  memory.copy(state, IV, SHA_STATE_SIZE);
}

/** One 64-byte block at `p` into `state`. */
function compress(state: usize, p: usize): void {
  for (let i: usize = 0; i < 16; i++) store<u32>(w + (i << 2), bswap<u32>(load<u32>(p + (i << 2))));
  for (let i: usize = 16; i < 64; i++) {
    const w15 = load<u32>(w + ((i - 15) << 2));
    const w2 = load<u32>(w + ((i - 2) << 2));
    const s0 = rotr<u32>(w15, 7) ^ rotr<u32>(w15, 18) ^ (w15 >>> 3);
    const s1 = rotr<u32>(w2, 17) ^ rotr<u32>(w2, 19) ^ (w2 >>> 10);
    store<u32>(w + (i << 2), load<u32>(w + ((i - 16) << 2)) + s0 + load<u32>(w + ((i - 7) << 2)) + s1);
  }
  let a = load<u32>(state), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  for (let i: usize = 0; i < 64; i++) {
    const t1 = h + (rotr<u32>(e, 6) ^ rotr<u32>(e, 11) ^ rotr<u32>(e, 25)) + ((e & f) ^ (~e & g)) + load<u32>(K + (i << 2)) + load<u32>(w + (i << 2));
    const t2 = (rotr<u32>(a, 2) ^ rotr<u32>(a, 13) ^ rotr<u32>(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g; g = f; f = e; e = d + t1;
    d = c; c = b; b = a; a = t1 + t2;
  }
  store<u32>(state, load<u32>(state) + a); store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8); store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16); store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24); store<u32>(state, load<u32>(state, 28) + h, 28);
}

/**
 * Hashes `len` bytes at `p` into `state`, which has already taken `done`
 * bytes (a multiple of 64: a key's pad), pads, and writes the digest (32
 * bytes, big-endian words) to `out`. `state` is left spent.
 */
export function shaFinish(state: usize, done: u32, p: usize, len: u32, out: usize): void {
  let off: u32 = 0;
  for (; len - off >= SHA_BLOCK; off += SHA_BLOCK) compress(state, p + off);
  const rest = len - off;
  memory.fill(tail, 0, SHA_BLOCK * 2);
  memory.copy(tail, p + off, rest);
  store<u8>(tail + rest, 0x80);
  const blocks: u32 = rest + 9 > SHA_BLOCK ? 2 : 1;
  const bits = (<u64>done + <u64>len) << 3;
  store<u64>(tail + blocks * SHA_BLOCK - 8, bswap<u64>(bits));
  compress(state, tail);
  if (blocks == 2) compress(state, tail + SHA_BLOCK);
  for (let i: usize = 0; i < 8; i++) store<u32>(out + (i << 2), bswap<u32>(load<u32>(state + (i << 2))));
}

/** SHA-256 of `len` bytes at `p` into `out` (32 bytes); `state` is scratch. */
export function sha256(state: usize, p: usize, len: u32, out: usize): void {
  shaInit(state);
  shaFinish(state, 0, p, len, out);
}

const pad = memory.data(<i32>SHA_BLOCK, 8);

/**
 * Prepares a key for HMAC: the chaining states after its inner and outer
 * pads (ipad at `pads`, opad at `pads + SHA_STATE_SIZE`). A key longer than a
 * block is hashed first, as RFC 2104 says.
 */
export function hmacKey(pads: usize, key: usize, keyLen: u32): void {
  memory.fill(pad, 0, SHA_BLOCK);
  if (keyLen > SHA_BLOCK) sha256(pads, key, keyLen, pad);
  else memory.copy(pad, key, keyLen);
  for (let i: usize = 0; i < SHA_BLOCK; i++) store<u8>(pad + i, load<u8>(pad + i) ^ 0x36);
  shaInit(pads);
  compress(pads, pad);
  for (let i: usize = 0; i < SHA_BLOCK; i++) store<u8>(pad + i, load<u8>(pad + i) ^ (0x36 ^ 0x5c));
  shaInit(pads + SHA_STATE_SIZE);
  compress(pads + SHA_STATE_SIZE, pad);
  memory.fill(pad, 0, SHA_BLOCK);
}

const work = memory.data(<i32>SHA_STATE_SIZE, 8);

/** HMAC-SHA-256 of `len` bytes at `p` under the key prepared at `pads`: 32 bytes to `out`. */
export function hmac(pads: usize, p: usize, len: u32, out: usize): void {
  memory.copy(work, pads, SHA_STATE_SIZE);
  shaFinish(work, SHA_BLOCK, p, len, inner);
  memory.copy(work, pads + SHA_STATE_SIZE, SHA_STATE_SIZE);
  shaFinish(work, SHA_BLOCK, inner, SHA_DIGEST, out);
}
