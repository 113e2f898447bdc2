// Authenticated sync: once authStart ran, every datagram we send is a frame
// — a header, conntrackd's messages, a 16-byte tag: HMAC-SHA-256 truncated
// to 128 bits (version 1), or XChaCha20-Poly1305's, the messages then
// encrypted (version 2) — and every frame received is checked (length, key,
// tag, epoch, sequence) before a byte of its messages is decoded. assembly/README.md
// ("Authenticated frames") gives the layout byte by byte and the reasoning.
//
// Replay, in two halves:
// - Within a run of the sender, each frame has a sequence number (u64, from
//   1, never reused) and the receiver keeps a 64-wide sliding window of those
//   it has taken (as IPsec's anti-replay window, RFC 4303 3.4.3), so reordered
//   datagrams pass and repeated ones do not.
// - Across restarts, each run has an epoch: a counter the host persists and
//   raises at every start (high word) with 32 random bits (low word). A
//   receiver keeps the newest epoch it has taken from its peer and refuses
//   older ones (a capture from before the sender restarted). And every frame
//   echoes the receiver's epoch as the sender last heard it: a receiver takes
//   only frames that echo its current epoch, so a capture from before the
//   receiver restarted (which echoes an epoch it no longer has) is refused
//   without the receiver having to remember anything about its past life.
//   A peer that does not know our epoch yet (its frames are refused as
//   stale) learns it from a beacon: an empty frame, sent every 250 ms until
//   a frame from the peer echoes our epoch.
import { hmacKey, hmac, SHA_STATE_SIZE, SHA_DIGEST } from "./sha256";
import { xchachaSeal, xchachaOpen } from "./aead";
import { loadBe16, storeBe16 } from "./bytes";
import { reject, R_AUTH_MISSING, R_AUTH_TRUNCATED, R_AUTH_KEY, R_AUTH_MAC, R_AUTH_STALE, R_AUTH_REPLAY } from "./reasons";
import { nowMs } from "./timers";

export const AUTH_MAGIC: u32 = 0xc5;
/** Frame version 1: HMAC-SHA-256, tag truncated to 128 bits (RFC 4868's HMAC-SHA-256-128); the payload in clear. */
export const AUTH_HMAC_SHA256: u32 = 1;
/** Frame version 2: XChaCha20-Poly1305: the payload encrypted, header and payload authenticated. */
export const AUTH_XCHACHA20_POLY1305: u32 = 2;
export const AUTH_HEADER_SIZE: u32 = 32;
export const AUTH_TAG_SIZE: u32 = 16;
export const AUTH_KEY_MIN: u32 = 32;
export const AUTH_KEY_MAX: u32 = 64;

// Header offsets.
const H_MAGIC = 0, H_VERSION = 1, H_LEN = 2, H_KEY = 4, H_NEWEST = 5, H_EPOCH = 8, H_ECHO = 16, H_SEQ = 24;

// ---- keys: two slots, the newer one at `newest` -------------------------------

// A slot: the HMAC pads' chaining states, then the AEAD's key (derived from the same secret).
const AEAD_KEY = SHA_STATE_SIZE * 2;
const KEY_SLOT = AEAD_KEY + 32;
const pads = memory.data(<i32>KEY_SLOT * 2, 8);
const keyIds = memory.data(2);
let keyCount: u32 = 0;
let newest: u32 = 0;
const keyInput = memory.data(<i32>AUTH_KEY_MAX, 8);
// "ctsync xchacha20-poly1305", the label of the AEAD key's derivation
const AEAD_LABEL = memory.data<u8>([99, 116, 115, 121, 110, 99, 32, 120, 99, 104, 97, 99, 104, 97, 50, 48, 45, 112, 111, 108, 121, 49, 51, 48, 53]);
const AEAD_LABEL_LEN: u32 = 25;
const digest = memory.data(<i32>SHA_DIGEST, 8);

/** Where the host writes a key's bytes before authAddKey. */
export function authKeyPtr(): usize { return keyInput; }

/**
 * Adds the key of `len` bytes at authKeyPtr() under `id` (1-255): it becomes
 * the newer key, the one before it the older, and any older than that is
 * forgotten. Returns 1, or 0 for a bad id or length. The input is wiped.
 */
export function authAddKey(id: u32, len: u32): u32 {
  if (id == 0 || id > 255 || len < AUTH_KEY_MIN || len > AUTH_KEY_MAX) return 0;
  const slot = keyCount == 0 ? 0 : newest ^ 1;
  const at = pads + slot * KEY_SLOT;
  hmacKey(at, keyInput, len);
  // The AEAD's key is HMAC(secret, label): one secret in the key file, a key of its own for each construction.
  hmac(at, AEAD_LABEL, AEAD_LABEL_LEN, digest);
  memory.copy(at + AEAD_KEY, digest, 32);
  memory.fill(digest, 0, SHA_DIGEST);
  memory.fill(keyInput, 0, AUTH_KEY_MAX);
  store<u8>(keyIds + slot, <u8>id);
  newest = slot;
  keyCount = min<u32>(keyCount + 1, 2);
  return 1;
}

/** Forgets both keys (before adding the ones a reloaded key file holds). */
export function authClearKeys(): void {
  memory.fill(pads, 0, KEY_SLOT * 2);
  store<u16>(keyIds, 0);
  keyCount = 0;
}

/** The slot holding key `id`, or -1. */
function slotOf(id: u32): i32 {
  if (keyCount == 0 || id == 0) return -1;
  if (load<u8>(keyIds + newest) == id) return <i32>newest;
  if (keyCount == 2 && load<u8>(keyIds + (newest ^ 1)) == id) return <i32>(newest ^ 1);
  return -1;
}

// ---- epochs and sequence numbers ----------------------------------------------

export let authEnabled = false;
let version: u32 = AUTH_HMAC_SHA256;
let myEpoch: u64 = 0;
let sendSeq: u64 = 0;
/** The peer's newest epoch taken (0: none yet), and the newest key id it says it holds. */
let peerEpoch: u64 = 0;
let peerNewest: u32 = 0;
// The window: the highest sequence number taken in peerEpoch, and bit i set when max - i was taken.
let windowMax: u64 = 0;
let windowBits: u64 = 0;
const WINDOW: u64 = 64;

// Beacons go out until a frame from the peer shows it knows our epoch (it
// echoed it), and again when a frame comes that does not.
let peerKnowsUs = false;
let lastBeacon: f64 = -Infinity;
const BEACON_EVERY: f64 = 250;

/**
 * Turns authentication on (keys first: authAddKey), with frames of
 * `frameVersion` (AUTH_HMAC_SHA256 or AUTH_XCHACHA20_POLY1305: the only
 * kind taken, too). `epoch` is this run's
 * (never used by an earlier run: see the README); `peerHint` the peer's
 * epoch as last heard before the restart (0: unknown), echoed until the
 * peer speaks so that a peer that did not restart takes our first frames.
 */
export function authStart(epoch: u64, peerHint: u64, frameVersion: u32): void {
  authEnabled = true;
  version = frameVersion == AUTH_XCHACHA20_POLY1305 ? frameVersion : AUTH_HMAC_SHA256;
  myEpoch = epoch;
  sendSeq = 0;
  peerEpoch = peerHint;
  peerNewest = 0;
  // An empty window even for the hinted epoch: its frames from before our
  // restart echo our old epoch, so they are refused as stale, not here.
  windowMax = 0;
  windowBits = 0;
  peerKnowsUs = false; // our peer learns our epoch at once
  lastBeacon = -Infinity;
}

export function authEpoch(): u64 { return myEpoch; }
/** The peer's epoch as we know it (the host keeps it as the next start's hint). */
export function authPeerEpoch(): u64 { return peerEpoch; }

// ---- sending -----------------------------------------------------------------------

/**
 * The key to send with: the newer once the peer has said it holds it, else
 * the older (a peer not heard from yet may not have the newer).
 */
function sendSlot(): u32 {
  if (keyCount == 2 && load<u8>(keyIds + newest) != peerNewest) return newest ^ 1;
  return newest;
}

/**
 * Seals the frame at `p` whose payload (`payloadLen` bytes) is already at
 * p + AUTH_HEADER_SIZE: writes the header and the tag after the payload.
 * Returns the frame's length.
 */
export function authSeal(p: usize, payloadLen: u32): u32 {
  const len = AUTH_HEADER_SIZE + payloadLen + AUTH_TAG_SIZE;
  const slot = sendSlot();
  store<u8>(p + H_MAGIC, <u8>AUTH_MAGIC);
  store<u8>(p + H_VERSION, <u8>version);
  storeBe16(p + H_LEN, len);
  store<u8>(p + H_KEY, load<u8>(keyIds + slot));
  store<u8>(p + H_NEWEST, load<u8>(keyIds + newest));
  store<u16>(p + 6, 0);
  store<u64>(p + H_EPOCH, bswap<u64>(myEpoch));
  store<u64>(p + H_ECHO, bswap<u64>(peerEpoch));
  store<u64>(p + H_SEQ, bswap<u64>(++sendSeq));
  const tag = p + len - AUTH_TAG_SIZE;
  if (version == AUTH_XCHACHA20_POLY1305) {
    xchachaSeal(pads + slot * KEY_SLOT + AEAD_KEY, nonceOf(p), p, AUTH_HEADER_SIZE, p + AUTH_HEADER_SIZE, payloadLen, tag);
  } else {
    tagOf(slot, p, len - AUTH_TAG_SIZE, tag);
  }
  return len;
}

const nonce = memory.data(24, 8);

/** The AEAD's 24-byte nonce: the frame's epoch and sequence number, unique to it among all frames under a key. */
function nonceOf(p: usize): usize {
  store<u64>(nonce, load<u64>(p + H_EPOCH));
  store<u64>(nonce, load<u64>(p + H_SEQ), 8);
  store<u64>(nonce, 0, 16);
  return nonce;
}

function tagOf(slot: u32, p: usize, len: u32, out: usize): void {
  hmac(pads + slot * KEY_SLOT, p, len, digest);
  memory.copy(out, digest, AUTH_TAG_SIZE);
}

/** Whether a beacon is to go out now (engineXmit sends it); marks it sent. */
export function authBeaconNow(): bool {
  if (!authEnabled || peerKnowsUs || nowMs - lastBeacon < BEACON_EVERY) return false;
  lastBeacon = nowMs;
  return true;
}

/** When the next beacon is due (ms), or Infinity. */
export function authNextBeacon(): f64 {
  return !authEnabled || peerKnowsUs ? Infinity : lastBeacon + BEACON_EVERY;
}

// ---- receiving -----------------------------------------------------------------------

/** Frames refused since start, and the reason of the last one (for the host's log). */
export let authRefused: u32 = 0;
export let authLastReason: i32 = 0;

function refuse(reason: i32): i32 {
  authRefused++;
  authLastReason = reason;
  // A peer whose key or echo is not ours may simply not know us yet: tell it (at most every BEACON_EVERY).
  if (reason == R_AUTH_STALE || reason == R_AUTH_KEY) peerKnowsUs = false;
  return reject(reason);
}

/**
 * Checks the frame of `len` bytes at `p`: the length of its payload (at p +
 * AUTH_HEADER_SIZE; 0 for a beacon), or -reason, counted. Nothing in the
 * frame is trusted before its tag is: the peer's epoch, key and sequence
 * number are taken only from a frame that passed.
 */
export function authOpen(p: usize, len: u32): i32 {
  if (len < 2 || load<u8>(p + H_MAGIC) != AUTH_MAGIC || load<u8>(p + H_VERSION) != version) return refuse(R_AUTH_MISSING);
  if (len < AUTH_HEADER_SIZE + AUTH_TAG_SIZE || loadBe16(p + H_LEN) != len) return refuse(R_AUTH_TRUNCATED);
  const slot = slotOf(<u32>load<u8>(p + H_KEY));
  if (slot < 0) return refuse(R_AUTH_KEY);
  if (!tagMatches(<u32>slot, p, len)) return refuse(R_AUTH_MAC);
  const epoch = bswap<u64>(load<u64>(p + H_EPOCH));
  const seq = bswap<u64>(load<u64>(p + H_SEQ));
  // Our own frame sent back to us, or from a run of the peer older than the one we know.
  if (epoch == myEpoch || epoch < peerEpoch) return refuse(R_AUTH_REPLAY);
  if (epoch > peerEpoch) {
    // The peer (re)started: a new run, a new window; our frames echo its epoch from now on.
    peerEpoch = epoch;
    windowMax = 0;
    windowBits = 0;
  }
  if (bswap<u64>(load<u64>(p + H_ECHO)) != myEpoch) return refuse(R_AUTH_STALE);
  if (!take(seq)) return refuse(R_AUTH_REPLAY);
  peerNewest = <u32>load<u8>(p + H_NEWEST);
  peerKnowsUs = true;
  return <i32>(len - AUTH_HEADER_SIZE - AUTH_TAG_SIZE);
}

/** Whether the frame's tag is right (an AEAD frame's payload is then decrypted in place). */
function tagMatches(slot: u32, p: usize, len: u32): bool {
  const tag = p + len - AUTH_TAG_SIZE;
  if (version == AUTH_XCHACHA20_POLY1305) {
    return xchachaOpen(pads + slot * KEY_SLOT + AEAD_KEY, nonceOf(p), p, AUTH_HEADER_SIZE, p + AUTH_HEADER_SIZE, len - AUTH_HEADER_SIZE - AUTH_TAG_SIZE, tag);
  }
  tagOf(slot, p, len - AUTH_TAG_SIZE, digest);
  return sameTag(digest, tag);
}

/** Compares two tags in time independent of where they differ. */
function sameTag(a: usize, b: usize): bool {
  const d = (load<u64>(a) ^ load<u64>(b)) | (load<u64>(a, 8) ^ load<u64>(b, 8));
  return d == 0;
}

/** The sliding window: takes `seq` unless it was taken or is too old to tell. */
function take(seq: u64): bool {
  if (seq == 0) return false;
  if (seq > windowMax) {
    const shift = seq - windowMax;
    windowBits = shift >= WINDOW ? 1 : (windowBits << shift) | 1;
    windowMax = seq;
    return true;
  }
  const back = windowMax - seq;
  if (back >= WINDOW) return false;
  const bit = (<u64>1) << back;
  if (windowBits & bit) return false;
  windowBits |= bit;
  return true;
}
