// Throughput of the core's codecs, in messages per second: sync messages
// (conntrackd's wire format) and ctnetlink messages, encoded and decoded
// through the same exports the daemon uses.
import { loadCore } from "../host/core.ts";
import { RecordView, type Conntrack, type Expectation } from "../host/record-view.ts";
import { formatTable, type Row } from "./table.ts";

const core = loadCore();
const { fn } = core;
const view = new RecordView(core);
const K = (n: string) => core.k(n);

const tcp: Conntrack = {
  family: "ipv4", src: "192.0.2.1", dst: "198.51.100.2", l4proto: 6, sport: 40000, dport: 80,
  tcpState: 3, status: 0x18e, timeout: 431999, mark: 42,
};
const ftpExp: Expectation = {
  master: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21 },
  expected: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 0, dport: 50010 },
  mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
  timeout: 300, flags: 0, helper: "ftp",
};

/** Runs `round` (which handles `perRound` messages) for about `ms` milliseconds. */
function measure(name: string, perRound: number, round: () => void, ms = 700): Row {
  for (let i = 0; i < 200; i++) round(); // warm up the JIT tiers
  let rounds = 0;
  const t0 = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < ms * 1e6) {
    for (let i = 0; i < 100; i++) round();
    rounds += 100;
    elapsed = Number(process.hrtime.bigint() - t0);
  }
  const msgs = rounds * perRound;
  return { operation: name, messages: msgs, seconds: elapsed / 1e9, "messages/s": msgs / (elapsed / 1e9) };
}

/** A full 1472-byte datagram of copies of the current record, packed by the outbox as the daemon sends; and its count. */
function packed(put: () => number): { bytes: Uint8Array; count: number } {
  fn.outClear();
  fn.outSetPayload(1472);
  for (let i = 0; i < 64; i++) put();
  const [first] = core.takeOutbox();
  core.bytes.set(first, fn.rxPtr());
  fn.syncOpen(first.length);
  let count = 0;
  while (fn.syncNext() > 0) count++;
  return { bytes: first, count };
}

function syncDecode(bytes: Uint8Array): void {
  core.bytes.set(bytes, fn.rxPtr());
  fn.syncOpen(bytes.length);
  while (fn.syncNext() > 0);
}

function syncEncode(put: () => number, count: number): void {
  fn.outClear();
  for (let i = 0; i < count; i++) put();
}

export function codecRows(): Row[] {
  const rows: Row[] = [];
  view.writeCt(tcp);
  const ctPut = () => fn.outCt(K("T_CT_NEW"), 0, 1);
  const ct = packed(ctPut);
  rows.push(measure("sync encode, conntrack", ct.count, () => syncEncode(ctPut, ct.count)));
  rows.push(measure("sync decode, conntrack", ct.count, () => syncDecode(ct.bytes)));

  view.writeExp(ftpExp);
  const expPut = () => fn.outExp(K("T_EXP_NEW"), 0, 1);
  const exp = packed(expPut);
  rows.push(measure("sync encode, expectation", exp.count, () => syncEncode(expPut, exp.count)));
  rows.push(measure("sync decode, expectation", exp.count, () => syncDecode(exp.bytes)));

  // ctnetlink: a batch of create requests, then the same bytes read back as
  // the kernel's NEW events look (same message type and attributes).
  view.writeCt(tcp);
  const batch = 64;
  const nlEncode = () => {
    fn.nlTxClear();
    for (let i = 0; i < batch; i++) fn.nlPutCt(K("OP_CREATE"), K("O_ACK"), i);
  };
  nlEncode();
  const nlBytes = core.bytes.slice(fn.nlTxPtr(), fn.nlTxPtr() + fn.nlTxLen());
  rows.push(measure("ctnetlink encode, create", batch, nlEncode));
  rows.push(measure("ctnetlink decode, conntrack", batch, () => {
    core.bytes.set(nlBytes, fn.nlPtr());
    fn.nlOpen(nlBytes.length);
    while (fn.nlNext() > 0);
  }));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(formatTable(codecRows()));
}
