// Unit tests of the one-call decoder (summary.ts) inside the core: a datagram
// of a TCP conntrack, an ACK and a cut message becomes three summaries with
// the header, the flow and the rejection where the README says they are.
import { encodeCtl, encodeCt, F_ACK, F_HELLO, T_CT_NEW, T_CTL, MSG_CT, MSG_CTL } from "../wire";
import {
  CT_RECORD_SIZE, CT_FAMILY, CT_L4PROTO, CT_SRC, CT_DST, CT_SPORT, CT_DPORT, CT_TCP_STATE, CT_MARK,
  CTF_ORIG, CTF_L4PROTO, CTF_PORTS, CTF_TCP_STATE, CTF_MARK, AF_INET,
} from "../layout";
import { storeBe16, storeBe32 } from "../bytes";
import { R_BAD_SIZE, R_NO_ROOM, R_TRUNCATED } from "../reasons";
import {
  syncDecode, syncDecodeFrames, syncDecodeUsed, SUM_SIZE, SUM_KIND, SUM_REASON, SUM_TYPE, SUM_FLAGS,
  SUM_LEN, SUM_HDR, SUM_SEQ, SUM_FROM, SUM_TO, SUM_OFFSET, SUM_DGRAM, SUM_PRESENT, SUM_TUPLE, SUM_STATE,
  SUM_MARK, SUMT_SPORT, SUMT_DPORT, SUMT_FAMILY, SUMT_L4PROTO, SUMT_SRC, SUM_REJECTED,
} from "../summary";

const buf = memory.data(4096);
const frames = memory.data(4096);
const out = memory.data(<i32>(64 * SUM_SIZE));
const ct = memory.data(CT_RECORD_SIZE);

function datagram(): u32 {
  memory.fill(ct, 0, CT_RECORD_SIZE);
  store<u32>(ct, CTF_ORIG | CTF_L4PROTO | CTF_PORTS | CTF_TCP_STATE | CTF_MARK);
  store<u8>(ct + CT_FAMILY, AF_INET);
  store<u8>(ct + CT_L4PROTO, 6);
  storeBe32(ct + CT_SRC, 0xc0000201);
  storeBe32(ct + CT_DST, 0xc6336402);
  storeBe16(ct + CT_SPORT, 1025);
  storeBe16(ct + CT_DPORT, 80);
  store<u8>(ct + CT_TCP_STATE, 3);
  storeBe32(ct + CT_MARK, 7);
  const n = <u32>encodeCt(ct, buf, 4096, T_CT_NEW, F_HELLO, 0x80000001);
  const m = <u32>encodeCtl(buf + n, 64, F_ACK, 0x80000002, 10, 20);
  return n + m;
}

describe("syncDecode", () => {
  it("a conntrack and an ACK: two summaries, numbers little-endian", () => {
    const len = datagram();
    expect(syncDecode(buf, len, out, 64)).toBe(2);
    expect(load<u8>(out + SUM_KIND)).toBe(<u8>MSG_CT);
    expect(load<u8>(out + SUM_TYPE)).toBe(<u8>T_CT_NEW);
    expect(load<u8>(out + SUM_FLAGS)).toBe(<u8>F_HELLO);
    expect(load<u8>(out + SUM_HDR)).toBe(1);
    expect(load<u32>(out + SUM_SEQ)).toBe(0x80000001);
    expect(load<u32>(out + SUM_PRESENT) & CTF_TCP_STATE).toBe(CTF_TCP_STATE);
    expect(load<u8>(out + SUM_TUPLE + SUMT_FAMILY)).toBe(AF_INET);
    expect(load<u8>(out + SUM_TUPLE + SUMT_L4PROTO)).toBe(6);
    expect(load<u16>(out + SUM_TUPLE + SUMT_SPORT)).toBe(1025);
    expect(load<u16>(out + SUM_TUPLE + SUMT_DPORT)).toBe(80);
    expect(load<u8>(out + SUM_TUPLE + SUMT_SRC)).toBe(192);
    expect(load<u8>(out + SUM_STATE)).toBe(3);
    expect(load<u32>(out + SUM_MARK)).toBe(7);
    const ack = out + SUM_SIZE;
    expect(load<u8>(ack + SUM_KIND)).toBe(<u8>MSG_CTL);
    expect(load<u8>(ack + SUM_TYPE)).toBe(<u8>T_CTL);
    expect(load<u32>(ack + SUM_OFFSET)).toBe(len - 16);
    expect(load<u16>(ack + SUM_LEN)).toBe(16);
    expect(load<u32>(ack + SUM_FROM)).toBe(10);
    expect(load<u32>(ack + SUM_TO)).toBe(20);
  });

  it("a datagram cut inside the ACK: the conntrack, then R_BAD_SIZE with its header", () => {
    const len = datagram();
    expect(syncDecode(buf, len - 4, out, 64)).toBe(2);
    expect(load<u8>(out + SUM_SIZE + SUM_KIND)).toBe(<u8>SUM_REJECTED);
    expect(load<u8>(out + SUM_SIZE + SUM_REASON)).toBe(<u8>R_BAD_SIZE);
    expect(load<u8>(out + SUM_SIZE + SUM_HDR)).toBe(1);
  });

  it("too little room decodes nothing", () => {
    expect(syncDecode(buf, 64, out, 7)).toBe(-R_NO_ROOM);
  });
});

describe("syncDecodeFrames", () => {
  it("two framed datagrams and a frame cut short", () => {
    const len = datagram();
    store<u32>(frames, len);
    memory.copy(frames + 4, buf, len);
    store<u32>(frames + 4 + len, len);
    memory.copy(frames + 8 + len, buf, len);
    store<u32>(frames + 8 + 2 * len, 100); // claims more than follows
    const total = 12 + 2 * len + 3;
    expect(syncDecodeFrames(frames, total, out, 64)).toBe(5);
    expect(load<u32>(out + 2 * SUM_SIZE + SUM_DGRAM)).toBe(1);
    expect(load<u8>(out + 4 * SUM_SIZE + SUM_REASON)).toBe(<u8>R_TRUNCATED);
    expect(syncDecodeUsed()).toBe(total);
  });

  it("stops before a datagram that may not fit, and says how far it got", () => {
    const len = datagram();
    store<u32>(frames, len);
    memory.copy(frames + 4, buf, len);
    store<u32>(frames + 4 + len, len);
    memory.copy(frames + 8 + len, buf, len);
    const room = (len + 7) / 8; // the worst case of one datagram
    expect(syncDecodeFrames(frames, 8 + 2 * len, out, room)).toBe(2);
    expect(syncDecodeUsed()).toBe(4 + len);
  });
});
