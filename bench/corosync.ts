// Clusters beyond two (issue 16): 2, 4 and 8 nodes in network namespaces on
// one bridge (test/support/interop-lab.ts), each creating its share of a
// burst of new flows at the same moment; measured until every node holds every
// other node's flows in its external cache:
//
// - ctsyncd, NOTRACK over Corosync (a corosync per node on a knet ring,
//   test/support/corosync.ts): reliable and totally ordered;
// - conntrackd 1.4.7, NOTRACK over multicast, the only mode it has for more
//   than two nodes (best effort: a datagram lost is an entry lost), with 24 MB
//   socket buffers as bench/cluster.ts gives it.
//
// Figures per run: the time from the burst until all agree (or how many of
// the entries the slowest node held when it gave up), CPU per entry per node
// (the sync daemon; corosync's own beside it), and the bytes every node's
// sync link sent per entry (sync0's tx_bytes, all nodes summed: knet sends a
// message to each member, multicast once on the bridge; corosync's token and
// heartbeats during the run are included).
import { join } from "node:path";
import { Lab, must, sleep, type Impl, type SyncNode } from "../test/support/interop-lab.ts";
import { CorosyncRing } from "../test/support/corosync.ts";
import { cacheActive } from "../test/support/interop-lines.ts";
import { ROOT, SOCKET_BUFFER, cpuSeconds } from "./cluster.ts";
import type { Row } from "./table.ts";

export interface CorosyncBenchOptions {
  /** New flows in the burst, over all nodes (default 100,000). */
  flows: number;
  sizes: number[];
  /** How long to wait for agreement before giving up, ms. */
  timeoutMs?: number;
  progress: (msg: string) => void;
}

type Variant = { impl: Impl; transport: "corosync" | "multicast"; label: string };
const VARIANTS: Variant[] = [
  { impl: "ctsyncd", transport: "corosync", label: "ctsyncd NOTRACK over Corosync" },
  { impl: "conntrackd", transport: "multicast", label: "conntrackd NOTRACK over multicast" },
];

export async function corosyncRows(o: CorosyncBenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of o.sizes) {
    for (const v of VARIANTS) {
      o.progress(`${n} nodes, ${v.label}`);
      rows.push(await runOne(n, v, o));
    }
  }
  return rows;
}

/** tx_bytes of each node's sync0. */
function txBytes(lab: Lab): Promise<number[]> {
  return Promise.all(lab.nodes.map(async (x) => Number((await must(["cat", "/sys/class/net/sync0/statistics/tx_bytes"], x.ns)).trim())));
}

function pidOf(x: SyncNode): number {
  const pid = x.proc?.pid;
  if (!pid) throw new Error(`${x.name}: no daemon`);
  return pid;
}

async function runOne(n: number, v: Variant, o: CorosyncBenchOptions): Promise<Row> {
  const lab = await Lab.create(`bc${n}${v.transport[0]}`, n);
  const ring = v.transport === "corosync"
    ? new CorosyncRing(`bc-${process.pid}`, lab.nodes.map((x) => ({ ns: x.ns, addr: x.addr, nodeid: x.index })), lab.dir) : null;
  const share = Math.floor(o.flows / n);
  const total = share * n;
  try {
    await ring?.start(60_000);
    const cfg = { mode: "NOTRACK", transport: v.transport, netlinkBufferSize: 16 << 20, netlinkBufferMax: 64 << 20, socketBuffer: SOCKET_BUFFER } as const;
    for (const x of lab.nodes) await x.start(v.impl, cfg, 20_000);
    await sleep(2000); // the start-up bulk updates and membership settle
    const cpu0 = lab.nodes.map((x) => cpuSeconds(pidOf(x)));
    const ccpu0 = lab.nodes.map((x) => (ring ? cpuSeconds(ring.pid(x.index)!) : 0));
    const tx0 = await txBytes(lab);
    const t0 = Date.now();
    await Promise.all(lab.nodes.map((x) => must(["node", "--import", "tsx", join(ROOT, "test/support/interop-inject.ts"), String(share), String(x.index * 1_000_000)], x.ns, 300_000)));
    const want = total - share;
    let agreedMs: number | null = null;
    let held = 0;
    const deadline = t0 + (o.timeoutMs ?? 180_000);
    let last = -1, stillSince = Date.now();
    while (Date.now() < deadline) {
      const ext = (await Promise.all(lab.nodes.map((x) => cacheActive(x)))).map((c) => c.external);
      held = Math.min(...ext);
      if (held >= want) { agreedMs = Date.now() - t0; break; }
      // best effort: once nothing moved for 15 s, what is missing is lost
      if (held !== last) { last = held; stillSince = Date.now(); } else if (Date.now() - stillSince > 15_000) break;
      await sleep(250);
    }
    const end = Date.now();
    const cpu = lab.nodes.map((x, i) => cpuSeconds(pidOf(x)) - cpu0[i]);
    const ccpu = lab.nodes.map((x, i) => (ring ? cpuSeconds(ring.pid(x.index)!) - ccpu0[i] : 0));
    const tx = (await txBytes(lab)).map((b, i) => b - tx0[i]);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    return {
      nodes: n,
      sync: v.label,
      "flows": total,
      "all agree after (s)": agreedMs === null ? `no: ${held.toLocaleString("en-US")} of ${want.toLocaleString("en-US")} at ${((end - t0) / 1000).toFixed(0)} s` : agreedMs / 1000,
      "daemon CPU µs/entry/node": (mean(cpu) / total) * 1e6,
      "corosync CPU µs/entry/node": ring ? (mean(ccpu) / total) * 1e6 : "-",
      "wire bytes/entry": tx.reduce((s, x) => s + x, 0) / total,
    };
  } finally {
    await lab.stopAll();
    await ring?.stop();
    await lab.destroy();
  }
}
