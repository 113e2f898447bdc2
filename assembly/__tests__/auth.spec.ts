// HMAC-SHA-256 against RFC 4231's test vectors, and the authenticated frame
// (auth.ts): sealed frames open, and every kind of tampering or replay is refused.
import { hmacKey, hmac, sha256 } from "../sha256";
import {
  authAddKey, authClearKeys, authKeyPtr, authStart, authSeal, authOpen, authBeaconNow,
  AUTH_HEADER_SIZE, AUTH_TAG_SIZE,
} from "../auth";
import { R_AUTH_MISSING, R_AUTH_TRUNCATED, R_AUTH_KEY, R_AUTH_MAC, R_AUTH_STALE, R_AUTH_REPLAY } from "../reasons";

const pads = memory.data(64);
const key = memory.data(256);
const msg = memory.data(512);
const out = memory.data(32);
const state = memory.data(32);

function fill(p: usize, byte: u8, n: i32): void { memory.fill(p, byte, n); }
function put(p: usize, s: string): u32 {
  const b = String.UTF8.encode(s);
  memory.copy(p, changetype<usize>(b), b.byteLength);
  return <u32>b.byteLength;
}
function hex(p: usize, n: u32): string {
  let s = "";
  for (let i: u32 = 0; i < n; i++) s += (<u32>load<u8>(p + i)).toString(16).padStart(2, "0");
  return s;
}
function mac(keyLen: u32, msgLen: u32): string {
  hmacKey(pads, key, keyLen);
  hmac(pads, msg, msgLen, out);
  return hex(out, 32);
}

describe("HMAC-SHA-256 (RFC 4231)", () => {
  it("test case 1", () => {
    fill(key, 0x0b, 20);
    expect(mac(20, put(msg, "Hi There"))).toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  });
  it("test case 2: a key shorter than the output", () => {
    expect(mac(put(key, "Jefe"), put(msg, "what do ya want for nothing?"))).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  });
  it("test case 3", () => {
    fill(key, 0xaa, 20);
    fill(msg, 0xdd, 50);
    expect(mac(20, 50)).toBe("773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  });
  it("test case 4", () => {
    for (let i = 0; i < 25; i++) store<u8>(key + i, <u8>(i + 1));
    fill(msg, 0xcd, 50);
    expect(mac(25, 50)).toBe("82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  });
  it("test case 5: truncated to 128 bits", () => {
    fill(key, 0x0c, 20);
    expect(mac(20, put(msg, "Test With Truncation")).slice(0, 32)).toBe("a3b6167473100ee06e0c796c2955552b");
  });
  it("test case 6: a key longer than a block is hashed first", () => {
    fill(key, 0xaa, 131);
    expect(mac(131, put(msg, "Test Using Larger Than Block-Size Key - Hash Key First"))).toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  });
  it("test case 7: key and data longer than a block", () => {
    fill(key, 0xaa, 131);
    const n = put(msg, "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.");
    expect(mac(131, n)).toBe("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  });
  it("SHA-256 of the empty string and of 'abc' (FIPS 180-4)", () => {
    sha256(state, msg, 0, out);
    expect(hex(out, 32)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256(state, msg, put(msg, "abc"), out);
    expect(hex(out, 32)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});

// Two nodes in one module: A seals, then the test plays B by restarting
// auth with B's epoch and A's as the hint (the state is one per module).
const frame = memory.data(256);
const copy = memory.data(256);
const A: u64 = 0x0000000500000001;
const B: u64 = 0x0000000700000002;

function keys(id1: u32, id2: u32): void {
  authClearKeys();
  fill(authKeyPtr(), 0x11, 32);
  authAddKey(id1, 32);
  if (id2 != 0) {
    fill(authKeyPtr(), 0x22, 32);
    authAddKey(id2, 32);
  }
}
/** As A (epoch A, knowing B), seals `n` frames; the last one is left at `frame`, its length returned. */
function sealAsA(n: i32): u32 {
  authStart(A, B, 1);
  let len: u32 = 0;
  for (let i = 0; i < n; i++) {
    put(frame + AUTH_HEADER_SIZE, "payload");
    len = authSeal(frame, 7);
  }
  return len;
}

describe("authenticated frames", () => {
  it("a sealed frame opens, once", () => {
    keys(1, 0);
    const len = sealAsA(1);
    expect(len).toBe(AUTH_HEADER_SIZE + 7 + AUTH_TAG_SIZE);
    authStart(B, 0, 1);
    expect(authOpen(frame, len)).toBe(7);
    expect(authOpen(frame, len)).toBe(-R_AUTH_REPLAY);
  });
  it("conntrackd's plain messages, a cut frame, a flipped tag, a flipped payload are refused", () => {
    keys(1, 0);
    const len = sealAsA(1);
    authStart(B, 0, 1);
    store<u8>(copy, 0x12); // a conntrackd header: version 1, type 2
    expect(authOpen(copy, 8)).toBe(-R_AUTH_MISSING);
    expect(authOpen(frame, len - 1)).toBe(-R_AUTH_TRUNCATED);
    memory.copy(copy, frame, len);
    store<u8>(copy + len - 1, load<u8>(copy + len - 1) ^ 1);
    expect(authOpen(copy, len)).toBe(-R_AUTH_MAC);
    memory.copy(copy, frame, len);
    store<u8>(copy + AUTH_HEADER_SIZE, load<u8>(copy + AUTH_HEADER_SIZE) ^ 0x80);
    expect(authOpen(copy, len)).toBe(-R_AUTH_MAC);
    expect(authOpen(frame, len)).toBe(7); // the original still passes
  });
  it("a frame under a key the receiver lacks, or a different key under the same id", () => {
    keys(2, 0);
    const len = sealAsA(1);
    keys(1, 0);
    authStart(B, 0, 1);
    expect(authOpen(frame, len)).toBe(-R_AUTH_KEY);
    authClearKeys();
    fill(authKeyPtr(), 0x33, 32);
    authAddKey(2, 32);
    expect(authOpen(frame, len)).toBe(-R_AUTH_MAC);
  });
  it("during a rollover both keys are taken", () => {
    keys(1, 0);
    const len = sealAsA(1);
    keys(1, 2);
    authStart(B, 0, 1);
    expect(authOpen(frame, len)).toBe(7);
  });
  it("the window takes reordered frames and refuses repeats and the too old", () => {
    keys(1, 0);
    authStart(A, B, 1);
    for (let i = 0; i < 100; i++) authSeal(frame + 0, 0); // sequence 1..100 spent
    put(frame + AUTH_HEADER_SIZE, "x");
    const l101 = authSeal(frame, 1);
    memory.copy(copy, frame, l101);
    const l102 = authSeal(frame, 1);
    authStart(B, 0, 1);
    expect(authOpen(frame, l102)).toBe(1); // 102 first
    expect(authOpen(copy, l101)).toBe(1); //  then 101, late but new
    expect(authOpen(copy, l101)).toBe(-R_AUTH_REPLAY);
  });
  it("a capture from before the receiver restarted echoes its old epoch: stale", () => {
    keys(1, 0);
    const len = sealAsA(1); // echoes B
    authStart(B + 0x100000000, A, 1); // B restarted: a new epoch
    expect(authOpen(frame, len)).toBe(-R_AUTH_STALE);
    expect(authBeaconNow()).toBe(true); // and A is told B's new epoch
  });
  it("a capture from an earlier run of the sender is refused once the newer run was heard", () => {
    keys(1, 0);
    const old = sealAsA(1);
    memory.copy(copy, frame, old);
    authStart(A + 0x100000000, B, 1); // A restarted
    const len = authSeal(frame, 0);
    authStart(B, 0, 1);
    expect(authOpen(frame, len)).toBe(0);
    expect(authOpen(copy, old)).toBe(-R_AUTH_REPLAY);
  });
  it("our own frame sent back to us is refused", () => {
    keys(1, 0);
    authStart(B, B, 1);
    const len = authSeal(frame, 0);
    expect(authOpen(frame, len)).toBe(-R_AUTH_REPLAY);
  });
});

describe("authenticated frames, XChaCha20-Poly1305 (version 2)", () => {
  it("the payload crosses encrypted, opens once, and a flipped bit or another key is refused", () => {
    keys(1, 0);
    authStart(A, B, 2);
    put(frame + AUTH_HEADER_SIZE, "payload");
    const len = authSeal(frame, 7);
    expect(load<u8>(frame + 1)).toBe(2);
    expect(String.UTF8.decodeUnsafe(frame + AUTH_HEADER_SIZE, 7)).not.toBe("payload");
    memory.copy(copy, frame, len);
    authStart(B, 0, 2);
    store<u8>(copy + AUTH_HEADER_SIZE, load<u8>(copy + AUTH_HEADER_SIZE) ^ 1);
    expect(authOpen(copy, len)).toBe(-R_AUTH_MAC);
    store<u8>(copy + 24, load<u8>(copy + 24) ^ 1); // the header (sequence number) is authenticated too
    store<u8>(copy + AUTH_HEADER_SIZE, load<u8>(copy + AUTH_HEADER_SIZE) ^ 1);
    expect(authOpen(copy, len)).toBe(-R_AUTH_MAC);
    memory.copy(copy, frame, len);
    expect(authOpen(frame, len)).toBe(7);
    expect(String.UTF8.decodeUnsafe(frame + AUTH_HEADER_SIZE, 7)).toBe("payload");
    expect(authOpen(copy, len)).toBe(-R_AUTH_REPLAY);
    authClearKeys();
    fill(authKeyPtr(), 0x33, 32);
    authAddKey(1, 32);
    authStart(B + 1, 0, 2);
    expect(authOpen(copy, len)).toBe(-R_AUTH_MAC);
  });
  it("a node taking version 2 refuses version 1 frames, and the other way round", () => {
    keys(1, 0);
    authStart(A, B, 1);
    const len = authSeal(frame, 0);
    authStart(B, 0, 2);
    expect(authOpen(frame, len)).toBe(-R_AUTH_MISSING);
    authStart(A, B, 2);
    const len2 = authSeal(frame, 0);
    authStart(B, 0, 1);
    expect(authOpen(frame, len2)).toBe(-R_AUTH_MISSING);
  });
});
