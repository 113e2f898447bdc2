// Unit tests of the sync codec inside the core, without a host.
import { encodeCtl, encodeCt, openDatagram, nextMessage, staticReader, MSG_CTL, MSG_CT, MSG_END, F_ACK, F_ALIVE, T_CT_NEW } from "../wire";
import { CT_RECORD_SIZE, EXP_RECORD_SIZE, CT_FAMILY, CT_L4PROTO, CT_SRC, CT_DST, CT_SPORT, CT_DPORT, CT_STATUS, CTF_ORIG, CTF_L4PROTO, CTF_PORTS, CTF_STATUS, AF_INET } from "../layout";
import { loadBe16, loadBe32, storeBe16, storeBe32, align4, bswap16 } from "../bytes";
import { R_BAD_SIZE, R_NO_ROOM, R_INCOMPLETE } from "../reasons";

const buf = memory.data(4096);
const ct = memory.data(CT_RECORD_SIZE);
const exp = memory.data(EXP_RECORD_SIZE);
const r = staticReader();

describe("bytes", () => {
  it("swaps and aligns", () => {
    expect(bswap16(0x1234)).toBe(0x3412);
    storeBe32(buf, 0x01020304);
    expect(load<u8>(buf)).toBe(1);
    expect(loadBe32(buf)).toBe(0x01020304);
    storeBe16(buf, 0xabcd);
    expect(loadBe16(buf)).toBe(0xabcd);
    expect(align4(5)).toBe(8);
    expect(align4(8)).toBe(8);
  });
});

describe("control messages", () => {
  it("an ACK is 16 bytes and decodes to its range", () => {
    const n = encodeCtl(buf, 64, F_ACK, 77, 10, 20);
    expect(n).toBe(16);
    openDatagram(r, buf, <u32>n);
    expect(nextMessage(r, ct, exp)).toBe(MSG_CTL);
    expect(r.flags).toBe(F_ACK);
    expect(r.seq).toBe(77);
    expect(r.from).toBe(10);
    expect(r.to).toBe(20);
    expect(nextMessage(r, ct, exp)).toBe(MSG_END);
  });

  it("an ALIVE is a bare header", () => {
    expect(encodeCtl(buf, 64, F_ALIVE, 1, 0, 0)).toBe(8);
  });

  it("refuses to write past the room it is given", () => {
    expect(encodeCtl(buf, 15, F_ACK, 1, 0, 0)).toBe(-R_NO_ROOM);
  });

  it("an ACK claiming 8 bytes is a bad size", () => {
    encodeCtl(buf, 64, F_ACK, 1, 0, 0);
    store<u8>(buf + 3, 8);
    openDatagram(r, buf, 16);
    expect(nextMessage(r, ct, exp)).toBe(-R_BAD_SIZE);
  });
});

describe("conntrack messages", () => {
  it("encodes a minimal TCP flow in conntrackd's attribute order", () => {
    memory.fill(ct, 0, CT_RECORD_SIZE);
    store<u32>(ct, CTF_ORIG | CTF_L4PROTO | CTF_PORTS | CTF_STATUS);
    store<u8>(ct + CT_FAMILY, AF_INET);
    store<u8>(ct + CT_L4PROTO, 6);
    storeBe32(ct + CT_SRC, 0x0a000001);
    storeBe32(ct + CT_DST, 0x0a000002);
    storeBe16(ct + CT_SPORT, 1000);
    storeBe16(ct + CT_DPORT, 80);
    storeBe32(ct + CT_STATUS, 8);
    const n = encodeCt(ct, buf, 4096, T_CT_NEW, 0, 3);
    // header 8, IPv4 12, status 8, protocol 8 (1 byte padded), ports 8
    expect(n).toBe(44);
    expect(loadBe16(buf + 8 + 2)).toBe(0); //  NTA_IPV4
    expect(loadBe16(buf + 20 + 2)).toBe(5); // NTA_STATUS
    expect(loadBe16(buf + 28 + 2)).toBe(2); // NTA_L4PROTO
    expect(loadBe16(buf + 36 + 2)).toBe(3); // NTA_PORT
    openDatagram(r, buf, <u32>n);
    expect(nextMessage(r, ct, exp)).toBe(MSG_CT);
    expect(loadBe16(ct + CT_DPORT)).toBe(80);
  });

  it("without the tuple a message is incomplete", () => {
    memory.fill(ct, 0, CT_RECORD_SIZE);
    store<u32>(ct, CTF_STATUS);
    const n = encodeCt(ct, buf, 4096, T_CT_NEW, 0, 3);
    openDatagram(r, buf, <u32>n);
    expect(nextMessage(r, ct, exp)).toBe(-R_INCOMPLETE);
  });
});
