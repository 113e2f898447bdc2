// Short flows, as on a web front end: most flows end within a second. The
// same workload through conntrackd, ctsyncd, and ctsyncd with DelayReplication
// (ctsync's own: a flow is synchronized only once it has lived the delay):
// what crosses the sync link, the CPU of both nodes, and how many of the
// primary's live flows the backup lacks at a moment in the middle of the run
// (the flows a failover then would lose).
//
//   npx tsx bench/short-flows.ts [--rate 20000] [--seconds 10] [--short 0.8] [--delay 1000]
//
// The workload runs in node a's namespace (the `--inject` mode of this file):
// flows are created at `rate` a second, each short one (a share `short` of
// them) destroyed after a lifetime drawn evenly from 50-950 ms, the others
// left to live. Both daemons run FTFW over UDP in bench/cluster.ts's namespaces.
import { readFileSync, writeFileSync } from "node:fs";
import { loadCore } from "../host/core.ts";
import { RecordView } from "../host/record-view.ts";
import { NetlinkSocket, SEND_AGAIN } from "../host/kernel/netlink.ts";
import { BenchCluster, cpuSeconds, runInNamespace, sh, sleep, until, type Impl } from "./cluster.ts";
import { loadFlow } from "./injector.ts";
import { formatTable, type Row } from "./table.ts";

interface Workload { rate: number; seconds: number; short: number }

/** The injector's report: what it did to the kernel table. */
interface InjectReport { created: number; destroyed: number; seconds: number }

/** Lifetime of flow i in ms, or Infinity for a long one: a fixed pseudo-random draw, the same for every run. */
function lifetime(i: number, short: number): number {
  const h = Math.imul(i ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return (h % 1000) / 1000 < short ? 50 + ((h >>> 10) % 900) : Infinity;
}

/** In node a's namespace: creates and destroys flows as the workload says, in batches every few ms. */
function runWorkload(w: Workload): InjectReport {
  const core = loadCore();
  const view = new RecordView(core);
  const { fn } = core;
  const k = (n: string) => core.k(n);
  const sock = NetlinkSocket.open({ rcvbuf: 16 << 20 });
  const total = Math.round(w.rate * w.seconds);
  const deaths: { at: number; i: number }[] = []; // kept sorted by time: lifetimes are short, a heap is not needed
  let created = 0, destroyed = 0;
  const t0 = performance.now();
  const send = () => {
    if (fn.nlTxLen() === 0) return;
    const tx = new Uint8Array(core.bytes.buffer, fn.nlTxPtr(), fn.nlTxLen());
    while (sock.send(tx) === SEND_AGAIN);
    fn.nlTxClear();
    sock.recvInto(new Uint8Array(core.bytes.buffer, fn.nlPtr(), fn.nlSize()), 64); // errors only; not counted
  };
  const put = (op: string, i: number) => {
    view.writeCt(loadFlow(i));
    if (fn.nlPutCt(k(op), 0, i) !== 1) { send(); fn.nlPutCt(k(op), 0, i); }
  };
  while (created < total || deaths.length > 0) {
    const now = performance.now() - t0;
    const due = Math.min(total, Math.floor((now / 1000) * w.rate));
    for (; created < due; created++) {
      put("OP_CREATE", created);
      const life = lifetime(created, w.short);
      if (life !== Infinity) deaths.push({ at: now + life, i: created });
    }
    deaths.sort((a, b) => a.at - b.at);
    let d = 0;
    for (; d < deaths.length && deaths[d].at <= now; d++) put("OP_DELETE", deaths[d].i);
    destroyed += d;
    deaths.splice(0, d);
    send();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
  sock.close();
  return { created, destroyed, seconds: (performance.now() - t0) / 1000 };
}

interface Variant { label: string; impl: Impl; delayMs: number }

interface Measured {
  variant: Variant;
  report: InjectReport;
  txBytes: number;
  txPackets: number;
  cpuA: number;
  cpuB: number;
  /** Share of a's live flows that b's external cache lacked at mid-run. */
  missingMid: number;
  /** b's external cache once everything settled, against a's internal. */
  settled: { a: number; b: number };
}

function linkCounters(ns: string): { bytes: number; packets: number } {
  const j = JSON.parse(sh(["ip", "-s", "-j", "link", "show", "sync0"], ns))[0];
  return { bytes: j.stats64.tx.bytes, packets: j.stats64.tx.packets };
}

function injectIn(ns: string, w: Workload): Promise<InjectReport> {
  return runInNamespace<InjectReport>(ns, "bench/short-flows.ts", ["--inject", String(w.rate), String(w.seconds), String(w.short)]);
}

async function measure(v: Variant, w: Workload): Promise<Measured> {
  const c = new BenchCluster("FTFW", Math.round(w.rate * w.seconds));
  try {
    if (v.delayMs > 0) {
      const conf = readFileSync(c.conf("a"), "utf8").replace("Options { ExpectationSync Off }", `Options { ExpectationSync Off DelayReplication ${v.delayMs} }`);
      writeFileSync(c.conf("a"), conf);
    }
    const a = await c.start("a", v.impl);
    const b = await c.start("b", v.impl);
    await sleep(1000); // FTFW's greeting
    const link0 = linkCounters(c.ns.a), cpuA0 = cpuSeconds(a.pid), cpuB0 = cpuSeconds(b.pid);
    const running = injectIn(c.ns.a, w);
    await sleep((w.seconds * 1000) / 2);
    const [ia, eb] = [await c.active("a", "internal"), await c.active("b", "external")];
    const report = await running;
    // Settled: b holds what a holds (a's long flows), with the delay over.
    await sleep(v.delayMs + 500);
    await until(async () => (await c.active("b", "external")) === (await c.active("a", "internal")), 30_000, 200, `${v.label}: b settled`).catch(() => 0);
    const link1 = linkCounters(c.ns.a);
    return {
      variant: v, report,
      txBytes: link1.bytes - link0.bytes, txPackets: link1.packets - link0.packets,
      cpuA: cpuSeconds(a.pid) - cpuA0, cpuB: cpuSeconds(b.pid) - cpuB0,
      missingMid: ia > 0 ? Math.max(0, ia - eb) / ia : 0,
      settled: { a: await c.active("a", "internal"), b: await c.active("b", "external") },
    };
  } finally {
    await c.destroy();
  }
}

export async function shortFlowRows(w: Workload, delayMs: number, progress: (m: string) => void): Promise<Row[]> {
  const variants: Variant[] = [
    { label: "conntrackd", impl: "conntrackd", delayMs: 0 },
    { label: "ctsyncd", impl: "ctsyncd", delayMs: 0 },
    { label: `ctsyncd, DelayReplication ${delayMs}`, impl: "ctsyncd", delayMs },
  ];
  const rows: Row[] = [];
  for (const v of variants) {
    progress(`short flows: ${v.label}`);
    const m = await measure(v, w);
    rows.push({
      daemon: v.label,
      "flows created / ended": `${m.report.created.toLocaleString("en-US")} / ${m.report.destroyed.toLocaleString("en-US")}`,
      "sync link, MiB": (m.txBytes / 2 ** 20).toFixed(1),
      "datagrams": m.txPackets.toLocaleString("en-US"),
      "CPU s, primary": m.cpuA.toFixed(2),
      "CPU s, backup": m.cpuB.toFixed(2),
      "live flows the backup lacked at mid-run": `${(m.missingMid * 100).toFixed(1)}%`,
      "settled, primary / backup": `${m.settled.a} / ${m.settled.b}`,
    });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  if (argv[0] === "--inject") {
    console.log(JSON.stringify(runWorkload({ rate: Number(argv[1]), seconds: Number(argv[2]), short: Number(argv[3]) })));
  } else {
    const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
    const w = { rate: opt("--rate", 20_000), seconds: opt("--seconds", 10), short: opt("--short", 0.8) };
    const delay = opt("--delay", 1000);
    process.on("SIGINT", () => { BenchCluster.killAllSync(); process.exit(130); });
    const rows = await shortFlowRows(w, delay, (m) => process.stderr.write(`${m}\n`));
    console.log(`Short flows: ${w.rate.toLocaleString("en-US")} new flows a second for ${w.seconds} s, ${w.short * 100}% of them `
      + "living 50-950 ms, the rest the whole run; FTFW over UDP");
    console.log(formatTable(rows));
  }
}
