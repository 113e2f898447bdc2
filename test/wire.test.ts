// The sync codec through the wasm exports: conntracks, expectations and
// control messages survive an encode / decode round trip with every field,
// and the bytes follow conntrackd's layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CoreHarness } from "./support/core.ts";
import type { Conntrack, Expectation } from "../host/record-view.ts";

const h = new CoreHarness();
const T = (name: string) => h.k(name);

const tcpFlow: Conntrack = {
  family: "ipv4", src: "192.0.2.1", dst: "198.51.100.2", l4proto: 6, sport: 40000, dport: 80,
  tcpState: 3, status: 0x18e, timeout: 431999, mark: 42,
};

test("a TCP conntrack round-trips with every field", () => {
  const bytes = h.encodeCt(tcpFlow, T("T_CT_NEW"), 1234);
  const [m] = h.decode(bytes);
  assert.equal(m.result, T("MSG_CT"));
  assert.equal(m.type, T("T_CT_NEW"));
  assert.equal(m.seq, 1234);
  assert.deepEqual(m.ct, tcpFlow);
});

test("the header puts version 1 in the high nibble and the type in the low one", () => {
  const bytes = h.encodeCt(tcpFlow, T("T_CT_UPD"), 7);
  assert.equal(bytes[0], 0x11);
  assert.equal(bytes[1], 0);
  assert.equal((bytes[2] << 8) | bytes[3], bytes.length);
  assert.equal(new DataView(bytes.buffer).getUint32(4), 7);
  // First attribute: NTA_IPV4 (0), 4 + 8 bytes, source then destination.
  assert.deepEqual([...bytes.subarray(8, 20)], [0, 12, 0, 0, 192, 0, 2, 1, 198, 51, 100, 2]);
  // conntrackd's order: status (5) comes before the protocol (2).
  assert.equal((bytes[22] << 8) | bytes[23], 5);
  assert.equal((bytes[30] << 8) | bytes[31], 2);
});

test("IPv6, NAT, helper, master, zone, labels, natseq and synproxy round-trip", () => {
  const ct: Conntrack = {
    family: "ipv6", src: "2001:db8::1", dst: "2001:db8:1::2", l4proto: 17, sport: 5060, dport: 5060,
    status: 0x1b8, timeout: 30, mark: 1, zone: 7, snat: "2001:db8::99", dnat: "2001:db8:2::5",
    spat: 1024, dpat: 8080, helper: "sip",
    master: { family: "ipv6", src: "2001:db8::1", dst: "2001:db8:1::2", l4proto: 17, sport: 5060, dport: 5060 },
    natSeq: [1, 2, 3, 4, 5, 6], synproxy: [7, 8, 9], labels: "00000000000000010000000000000080",
  };
  const [m] = h.decode(h.encodeCt(ct, T("T_CT_NEW"), 1));
  assert.equal(m.result, T("MSG_CT"));
  assert.deepEqual(m.ct, ct);
});

test("ICMP carries type, code and id instead of ports", () => {
  const ct: Conntrack = {
    family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto: 1, icmp: { type: 8, code: 0, id: 4242 },
    status: 8, timeout: 29,
  };
  const bytes = h.encodeCt(ct, T("T_CT_NEW"), 1);
  const [m] = h.decode(bytes);
  assert.deepEqual(m.ct, ct);
  assert.equal(bytes.length, 8 + 12 + 8 + 8 + 8 + 8 + 8 + 8);
});

test("an FTP expectation round-trips with its three tuples, helper and NAT tuple", () => {
  const exp: Expectation = {
    master: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21 },
    expected: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 0, dport: 50010 },
    mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    nat: { family: "ipv4", src: "0.0.0.0", dst: "10.9.9.9", l4proto: 6, sport: 0, dport: 50010 },
    timeout: 300, flags: 0, class: 0, natDir: 1, helper: "ftp", fn: "nat-follow-master",
  };
  const [m] = h.decode(h.encodeExp(exp, T("T_EXP_NEW"), 99));
  assert.equal(m.result, T("MSG_EXP"));
  assert.equal(m.type, T("T_EXP_NEW"));
  assert.deepEqual(m.exp, exp);
});

test("control messages: ACK and NACK carry a range, ALIVE and HELLO do not", () => {
  const { fn } = h.core;
  fn.outClear();
  fn.outSetPayload(1472);
  assert.equal(fn.outCtl(T("F_ACK"), 10, 100, 200), 1);
  assert.equal(fn.outCtl(T("F_NACK"), 11, 5, 6), 1);
  assert.equal(fn.outCtl(T("F_ALIVE"), 12, 0, 0), 1);
  assert.equal(fn.outCtl(T("F_HELLO"), 13, 0, 0), 1);
  assert.equal(fn.outCtl(T("F_RESYNC"), 14, 0, 0), 1);
  const [datagram, ...rest] = h.core.takeOutbox();
  assert.equal(rest.length, 0);
  assert.equal(datagram.length, 16 + 16 + 8 + 8 + 16);
  const out = h.decode(datagram);
  assert.deepEqual(out.map((m) => [m.result, m.flags, m.seq, m.from, m.to]), [
    [T("MSG_CTL"), T("F_ACK"), 10, 100, 200],
    [T("MSG_CTL"), T("F_NACK"), 11, 5, 6],
    [T("MSG_CTL"), T("F_ALIVE"), 12, 0, 0],
    [T("MSG_CTL"), T("F_HELLO"), 13, 0, 0],
    [T("MSG_CTL"), T("F_RESYNC"), 14, 0, 0],
  ]);
});

test("messages are packed into a datagram until the next would reach the payload size, then into the next", () => {
  const { fn } = h.core;
  const one = h.encodeCt(tcpFlow, 0, 1).length;
  h.view.writeCt(tcpFlow);
  fn.outClear();
  fn.outSetPayload(1472);
  const total = 3 * Math.floor(1471 / one) + 2;
  for (let seq = 0; seq < total; seq++) assert.equal(fn.outCt(T("T_CT_NEW"), 0, seq), 1);
  const datagrams = h.core.takeOutbox();
  // conntrackd keeps buffer length + message length strictly below the size.
  assert.deepEqual(datagrams.map((d) => d.length / one), [1, 1, 1].map(() => Math.floor(1471 / one)).concat([2]));
  assert.ok(datagrams.every((d) => d.length < 1472));
  const msgs = datagrams.flatMap((d) => h.decode(d));
  assert.equal(msgs.length, total);
  assert.ok(msgs.every((m, i) => m.result === T("MSG_CT") && m.seq === i));
});
