// XChaCha20-Poly1305 and its parts against published vectors: Poly1305 and
// ChaCha20 from RFC 8439, HChaCha20 and the AEAD from draft-irtf-cfrg-xchacha
// (the same values libsodium gives).
import { hchacha20, chacha20Xor } from "../chacha";
import { polyInit, polyUpdate, polyFinish } from "../poly1305";
import { xchachaSeal, xchachaOpen } from "../aead";
import { sha256 } from "../sha256";

const a = memory.data(256);
const b = memory.data(256);
const c = memory.data(256);
const d = memory.data(64);

function hex(p: usize, n: u32): string {
  let s = "";
  for (let i: u32 = 0; i < n; i++) s += (<u32>load<u8>(p + i)).toString(16).padStart(2, "0");
  return s;
}
function unhex(p: usize, s: string): u32 {
  for (let i = 0; i < s.length; i += 2) store<u8>(p + <usize>(i >> 1), <u8>I32.parseInt(s.substr(i, 2), 16));
  return <u32>(s.length >> 1);
}
function put(p: usize, s: string): u32 {
  const buf = String.UTF8.encode(s);
  memory.copy(p, changetype<usize>(buf), buf.byteLength);
  return <u32>buf.byteLength;
}
const SUNSCREEN = "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

describe("XChaCha20-Poly1305 parts", () => {
  it("Poly1305 (RFC 8439 2.5.2)", () => {
    unhex(a, "85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
    const n = put(b, "Cryptographic Forum Research Group");
    polyInit(a);
    polyUpdate(b, n, false);
    polyFinish(d);
    expect(hex(d, 16)).toBe("a8061dc1305136c6c22b8baf0c0127a9");
  });
  it("ChaCha20 encryption (RFC 8439 2.4.2)", () => {
    for (let i = 0; i < 32; i++) store<u8>(a + i, <u8>i);
    unhex(d, "000000000000004a00000000");
    const n = put(b, SUNSCREEN);
    chacha20Xor(a, d, 1, b, n);
    expect(hex(b, 16)).toBe("6e2e359a2568f98041ba0728dd0d6981");
    expect(hex(b + n - 10, 10)).toBe("b40b8eedf2785e42874d");
  });
  it("HChaCha20 (draft-irtf-cfrg-xchacha 2.2.1)", () => {
    for (let i = 0; i < 32; i++) store<u8>(a + i, <u8>i);
    unhex(b, "000000090000004a0000000031415927");
    hchacha20(a, b, d);
    expect(hex(d, 32)).toBe("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
  });
});

/** The draft's A.3.1 inputs (key at a, nonce at d, aad at c, plaintext at b), sealed: the tag at b + 200; returns the aad's length. */
function sealVector(): u32 {
  for (let i = 0; i < 32; i++) store<u8>(a + i, <u8>(0x80 + i));
  for (let i = 0; i < 24; i++) store<u8>(d + i, <u8>(0x40 + i));
  const aadLen = unhex(c, "50515253c0c1c2c3c4c5c6c7");
  xchachaSeal(a, d, c, aadLen, b, put(b, SUNSCREEN), b + 200);
  return aadLen;
}

describe("XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha A.3.1)", () => {
  it("seals to the published ciphertext and tag, and opens again", () => {
    const aadLen = sealVector();
    const n = <u32>SUNSCREEN.length, tag = b + 200;
    expect(hex(b, 16)).toBe("bd6d179d3e83d43b9576579493c0e939");
    expect(hex(tag, 16)).toBe("c0875924c1c7987947deafd8780acf49");
    expect(xchachaOpen(a, d, c, aadLen, b, n, tag)).toBe(true);
    expect(String.UTF8.decodeUnsafe(b, n)).toBe(SUNSCREEN);
  });
  it("refuses a flipped bit of ciphertext, aad or tag, and leaves the bytes as they came", () => {
    const aadLen = sealVector();
    const n = <u32>SUNSCREEN.length, tag = b + 200;
    store<u8>(b + 5, load<u8>(b + 5) ^ 1);
    expect(xchachaOpen(a, d, c, aadLen, b, n, tag)).toBe(false);
    expect(hex(b, 5)).toBe("bd6d179d3e");
    store<u8>(b + 5, load<u8>(b + 5) ^ 1);
    store<u8>(c, load<u8>(c) ^ 1);
    expect(xchachaOpen(a, d, c, aadLen, b, n, tag)).toBe(false);
    store<u8>(c, load<u8>(c) ^ 1);
    store<u8>(tag + 15, load<u8>(tag + 15) ^ 1);
    expect(xchachaOpen(a, d, c, aadLen, b, n, tag)).toBe(false);
  });
  it("1,000 bytes (four blocks at a time, then one by one) as libsodium seals them", () => {
    for (let i = 0; i < 32; i++) store<u8>(a + i, <u8>(0x80 + i));
    for (let i = 0; i < 24; i++) store<u8>(d + i, <u8>(0x40 + i));
    const aadLen = unhex(c, "50515253c0c1c2c3c4c5c6c7");
    const big = heap.alloc(1100);
    for (let i = 0; i < 1000; i++) store<u8>(big + i, <u8>(i * 7 + 3));
    xchachaSeal(a, d, c, aadLen, big, 1000, big + 1000);
    sha256(b, big, 1000, b + 64);
    expect(hex(b + 64, 32)).toBe("de5237d01f9060410f516d114bd8026a3a5c270da6ba82214a5d9132c8f4246e");
    expect(hex(big + 1000, 16)).toBe("a232a65e16eb1bdc8e8f6480ea7c7328");
    expect(xchachaOpen(a, d, c, aadLen, big, 1000, big + 1000)).toBe(true);
    let same = true;
    for (let i = 0; i < 1000; i++) if (load<u8>(big + i) != <u8>(i * 7 + 3)) same = false;
    expect(same).toBe(true);
  });
});
