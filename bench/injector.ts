// The batched ctnetlink injector: creates N conntracks in the kernel of the
// current network namespace, many create requests per datagram, with the
// core's own encoder. One `conntrack -I` process per entry manages a few
// hundred a second; this runs at the kernel's own insert rate.
//
//   node --import tsx bench/injector.ts [N] [base] [rate a second, 0: unpaced] [batch, default 512]
import { loadCore, type Core } from "../host/core.ts";
import { RecordView, type Conntrack } from "../host/record-view.ts";
import { NetlinkSocket, RECV_AGAIN, SEND_AGAIN } from "../host/kernel/netlink.ts";

/** Conntrack number i of a load: distinct tuples, ESTABLISHED TCP. */
export function loadFlow(i: number, base = 0): Conntrack {
  const n = i + base;
  return {
    family: "ipv4", src: `10.${64 + ((n >> 16) & 63)}.${(n >> 8) & 255}.${n & 255}`, dst: "198.51.100.1",
    l4proto: 6, sport: 1024 + ((n * 7) % 60000), dport: 80, tcpState: 3, status: 0x0e, timeout: 600,
  };
}

export interface InjectResult {
  created: number;
  failed: number;
  seconds: number;
  perSecond: number;
}

/**
 * Builds the create requests of flows [from, to) of a load (loadFlow(i,
 * base)) in the core's batch buffer and returns a view of them. The record
 * is written once; each flow then changes only its source address and port
 * in place, so a loop over batches measures the kernel (or the core), not us.
 */
export function loadBatcher(core: Core, base = 0, opts = 0): (from: number, to: number) => Uint8Array {
  const { fn } = core;
  const create = core.k("OP_CREATE");
  new RecordView(core).writeCt(loadFlow(0, base));
  const rec = fn.ctRecPtr();
  const srcAt = rec + core.k("CT_SRC"), sportAt = rec + core.k("CT_SPORT");
  return (from, to) => {
    fn.nlTxClear();
    const dv = core.view;
    for (let j = from; j < to; j++) {
      const n = j + base;
      dv.setUint32(srcAt, ((10 << 24) | ((64 + ((n >> 16) & 63)) << 16) | (n & 0xffff)) >>> 0);
      dv.setUint16(sportAt, 1024 + ((n * 7) % 60000));
      if (fn.nlPutCt(create, opts, j) !== 1) throw new Error("injector: batch buffer too small");
    }
    return new Uint8Array(core.bytes.buffer, fn.nlTxPtr(), fn.nlTxLen());
  };
}

/**
 * Creates `count` conntracks (loadFlow(i, base)) in batches of `batch`
 * requests per datagram; acknowledgements are requested only for failures
 * (the kernel reports errors without NLM_F_ACK), and read after each batch.
 * With `rate` (entries a second), batches are spaced to that rate.
 */
export function inject(count: number, base = 0, batch = 512, core: Core = loadCore(), rate = 0): InjectResult {
  const sock = NetlinkSocket.open({ rcvbuf: 16 << 20 });
  const batchOf = loadBatcher(core, base, core.k("O_EXCL"));
  let failed = 0;
  const t0 = process.hrtime.bigint();
  try {
    for (let i = 0; i < count; i += batch) {
      const tx = batchOf(i, Math.min(count, i + batch));
      while (sock.send(tx) === SEND_AGAIN);
      failed += drainErrors(core, sock);
      if (rate > 0) waitUntil(t0 + BigInt(Math.round(((i + batch) / rate) * 1e9)));
    }
    // Errors of the last batches may still be on their way.
    failed += drainErrors(core, sock);
  } finally {
    sock.close();
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { created: count - failed, failed, seconds, perSecond: count / seconds };
}

/** Sleeps until the hrtime `at` (ns): Atomics.wait for the bulk, a spin for the last half millisecond. */
function waitUntil(at: bigint): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const left = Number(at - process.hrtime.bigint()) / 1e6;
    if (left <= 0) return;
    if (left > 0.5) Atomics.wait(cell, 0, 0, left - 0.5);
  }
}

function drainErrors(core: Core, sock: NetlinkSocket): number {
  const { fn } = core;
  let failed = 0;
  for (;;) {
    const n = sock.recvInto(new Uint8Array(core.bytes.buffer, fn.nlPtr(), fn.nlSize()), 64);
    if (n === RECV_AGAIN) return failed;
    if (n < 0) continue;
    fn.nlOpen(n);
    for (let r = fn.nlNext(); r !== core.k("NL_END"); r = fn.nlNext()) {
      if (r === core.k("NL_ERROR") && fn.nlErrno() !== 0) failed++;
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = Number(process.argv[2] ?? 100000);
  const r = inject(n, Number(process.argv[3] ?? 0), Number(process.argv[5] ?? 512), loadCore(), Number(process.argv[4] ?? 0));
  console.log(JSON.stringify(r));
}
