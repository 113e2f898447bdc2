// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha, as libsodium's
// crypto_aead_xchacha20poly1305_ietf): RFC 8439's ChaCha20-Poly1305 under a
// subkey HChaCha20 derives from the key and the first 16 bytes of a 24-byte
// nonce. The long nonce is what lets auth.ts use (epoch, sequence number),
// unique for every frame either node ever sends, as the nonce itself.
import { hchacha20, chacha20Xor, chacha20Block } from "./chacha";
import { polyInit, polyUpdate, polyFinish } from "./poly1305";

const subkey = memory.data(32, 8);
const nonce12 = memory.data(12, 8);
const polyKey = memory.data(32, 8);
const lengths = memory.data(16, 8);
const expected = memory.data(16, 8);

function derive(key: usize, nonce24: usize): void {
  hchacha20(key, nonce24, subkey);
  store<u32>(nonce12, 0);
  memory.copy(nonce12 + 4, nonce24 + 16, 8);
}

/** Poly1305 over aad, pad, ciphertext, pad and both lengths (RFC 8439 2.8), under the subkey's block 0. */
function tagOf(aad: usize, aadLen: u32, ct: usize, ctLen: u32, out: usize): void {
  chacha20Block(subkey, nonce12, 0, polyKey);
  polyInit(polyKey);
  polyUpdate(aad, aadLen, true);
  polyUpdate(ct, ctLen, true);
  store<u64>(lengths, <u64>aadLen);
  store<u64>(lengths, <u64>ctLen, 8);
  polyUpdate(lengths, 16, true);
  polyFinish(out);
  memory.fill(polyKey, 0, 32);
}

/** Encrypts `len` bytes at `p` in place and writes the 16-byte tag (over `aad` too) to `tag`. */
export function xchachaSeal(key: usize, nonce24: usize, aad: usize, aadLen: u32, p: usize, len: u32, tag: usize): void {
  derive(key, nonce24);
  chacha20Xor(subkey, nonce12, 1, p, len);
  tagOf(aad, aadLen, p, len, tag);
}

/** Checks the tag and, only if it matches, decrypts in place. */
export function xchachaOpen(key: usize, nonce24: usize, aad: usize, aadLen: u32, p: usize, len: u32, tag: usize): bool {
  derive(key, nonce24);
  tagOf(aad, aadLen, p, len, expected);
  const d = (load<u64>(expected) ^ load<u64>(tag)) | (load<u64>(expected, 8) ^ load<u64>(tag, 8));
  if (d != 0) return false;
  chacha20Xor(subkey, nonce12, 1, p, len);
  return true;
}
