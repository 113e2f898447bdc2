// Unpaced bursts (issue 14): the batched injector creates N conntracks in the
// primary's kernel as fast as the kernel takes them, into a table sized for
// the run, with ctsyncd and with conntrackd as the FTFW pair (both nodes the
// same implementation), alternating. Per run: the injector's rate, netlink
// overruns and resyncs on the primary, sync messages the backup lost, the time
// from the injector's last entry to the backup's external cache holding N,
// and CPU per entry on each node. Then a rate sweep: the highest paced rate
// each daemon follows without an overrun or a lost message.
//
//   node --import tsx bench/burst.ts [--n 100000,1000000] [--sweep 100000] [--rates 25000,50000,75000,100000,150000,0]
//                                    [--no-sweep | --sweep-only] [--buffers "default,208 KiB,2 MiB,bench"] [--json]
//
// The sweep runs with the default buffer and with 208 KiB (with the bench's,
// neither daemon loses anything at any rate the kernel reaches here).
//
// "default buffer" omits NetlinkBufferSize and NetlinkBufferSizeMaxGrowth:
// each daemon's default (conntrackd: the kernel's rmem_default, 208 KiB;
// ctsyncd: 16 MiB, growing to 64 MiB after an overrun); "208 KiB" sets both
// to 212992, the kernel's default, for both daemons; "2 MiB" is
// conntrack-tools' example configuration (2 MiB growing to 8 MiB, only with
// --buffers); "bench buffer" is
// bench/cluster.ts's 64 MiB growing to 128 MiB. Needs root, conntrackd and
// conntrack. The machine's CPUs are shared: compare within one run.
import { readFileSync, writeFileSync } from "node:fs";
import { BenchCluster, LoneNamespace, REQ, cpuSeconds, injectIn, request, sleep, until, type Impl } from "./cluster.ts";
import { withSysctls } from "./suite.ts";
import { formatTable, type Row } from "./table.ts";

const IMPLS: Impl[] = ["ctsyncd", "conntrackd"];
const PACED_BATCH = 16;
type Buffer = "default" | "208 KiB" | "2 MiB" | "bench";
const BUFFERS: Buffer[] = ["default", "208 KiB", "bench"];
/** The sweep's buffers (with the bench's, both daemons follow every rate). */
const SWEPT: Buffer[] = ["default", "208 KiB"];
/** NetlinkBufferSize and its growth for each buffer that names them (conntrack-tools' example configuration: 2 MiB to 8 MiB). */
const SIZES: Partial<Record<Buffer, [number, number]>> = { "208 KiB": [212992, 212992], "2 MiB": [2097152, 8388608] };

export interface BurstResult {
  impl: Impl;
  n: number;
  buffer: Buffer;
  /** Entries a second the injector created (0 rate: unpaced). */
  injectRate: number;
  overruns: number;
  resyncs: number;
  lost: number;
  /** Seconds from the injector's last entry to the backup holding N; null: never within the wait. */
  lagSeconds: number | null;
  cpuPrimaryUs: number;
  cpuBackupUs: number;
  error?: string;
}

/** The figure after `label` in a -s text; NaN when absent. */
function counter(text: string, label: string): number {
  const at = text.indexOf(label);
  if (at < 0) return NaN;
  const m = /(\d+)/.exec(text.slice(at + label.length));
  return m ? Number(m[1]) : NaN;
}

/** "1234 Lost msgs": the figure comes first on this line. */
function lostMsgs(text: string): number {
  const m = /(\d+) Lost msgs/.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Rewrites the netlink buffer lines of both nodes' configurations: none (the daemon's default), or the sizes named. */
function setBuffer(c: BenchCluster, buffer: Buffer): void {
  if (buffer === "bench") return;
  const size = SIZES[buffer];
  const lines = size ? `\tNetlinkBufferSize ${size[0]}\n\tNetlinkBufferSizeMaxGrowth ${size[1]}\n` : "";
  for (const node of ["a", "b"] as const) {
    const conf = readFileSync(c.conf(node), "utf8").split("\n").filter((l) => !/^\s*NetlinkBufferSize/.test(l)).join("\n");
    writeFileSync(c.conf(node), conf.replace(/General \{\n/, `General {\n${lines}`));
  }
}

/** One burst: N entries at `rate` (0: unpaced) into a fresh pair. */
export async function burst(impl: Impl, n: number, buffer: Buffer, rate = 0): Promise<BurstResult> {
  const c = new BenchCluster("FTFW", n);
  const r: BurstResult = { impl, n, buffer, injectRate: 0, overruns: NaN, resyncs: NaN, lost: NaN, lagSeconds: null, cpuPrimaryUs: NaN, cpuBackupUs: NaN };
  try {
    setBuffer(c, buffer);
    await Promise.all([c.start("a", impl), c.start("b", impl)]);
    await sleep(1000);
    const pa = c.daemons.a!.pid, pb = c.daemons.b!.pid;
    const cpu0 = { a: cpuSeconds(pa), b: cpuSeconds(pb) };
    let reachedAt = 0, stop = false, injecting = true, ended = () => {};
    const injectorDone = new Promise<void>((resolve) => { ended = resolve; });
    const wait = 30_000 + n / 20;
    const poll = (async () => {
      const end = performance.now() + wait;
      while (!stop && performance.now() < end) {
        if ((await c.active("b", "external")) >= n) { reachedAt = performance.now(); return; }
        // Each -s costs the backup some CPU, which the CPU per entry would
        // count: seldom while the injector runs, often once it is done.
        await (injecting ? Promise.race([sleep(100), injectorDone]) : sleep(5));
      }
    })();
    // Paced: small batches, so that the rate is a rate and not bursts of 512 (which alone overrun a default buffer).
    const inj = await injectIn(c.ns.a, n, 0, rate, 600_000, rate ? PACED_BATCH : 512);
    const injEnd = performance.now();
    injecting = false;
    ended();
    await poll.finally(() => { stop = true; });
    r.injectRate = inj.perSecond;
    if (inj.failed) r.error = `${inj.failed} creates failed`;
    if (reachedAt) r.lagSeconds = Math.max(0, (reachedAt - injEnd) / 1000);
    await until(async () => (await c.active("a", "internal")) >= n, 30_000, 200, "a's internal cache holds N").catch(() => {});
    await sleep(500);
    r.cpuPrimaryUs = ((cpuSeconds(pa) - cpu0.a) / n) * 1e6;
    r.cpuBackupUs = ((cpuSeconds(pb) - cpu0.b) / n) * 1e6;
    const runtime = (await request(c.sock("a"), REQ.STATS_RUNTIME, true, 10_000)).text;
    r.overruns = counter(runtime, "netlink overrun:");
    r.resyncs = counter(runtime, "resync with kernel table:");
    r.lost = lostMsgs((await request(c.sock("b"), REQ.STATS, true, 10_000)).text);
  } catch (e) {
    r.error = (e as Error).message.split("\n")[0];
  } finally {
    await c.destroy();
  }
  return r;
}

/** The kernel's own insert rate: the injector unpaced into an empty namespace, no daemon listening. */
export async function bareRate(n: number): Promise<number> {
  const ns = new LoneNamespace();
  try {
    return (await injectIn(ns.name, n)).perSecond;
  } finally {
    ns.destroy();
  }
}

/** The highest of `rates` (ascending; 0 = unpaced, last) at which `impl` has no overrun and no lost message. */
export async function sweep(impl: Impl, n: number, rates: number[], buffer: Buffer, say: (m: string) => void): Promise<{ rate: number; results: BurstResult[] }> {
  const results: BurstResult[] = [];
  let best = 0;
  for (const rate of rates) {
    say(`sweep: ${impl} N=${n} at ${rate || "unpaced"}`);
    const r = await burst(impl, n, buffer, rate);
    results.push(r);
    if (r.error || r.overruns > 0 || r.lost > 0 || r.lagSeconds === null) break;
    best = r.injectRate;
  }
  return { rate: best, results };
}

const fmt = (x: number | null, digits = 0) => (x === null || Number.isNaN(x) ? "—" : x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));

export function burstRows(results: BurstResult[]): Row[] {
  return results.map((r) => ({
    what: `${r.impl}, N=${fmt(r.n)}, ${r.buffer} buffer`,
    "inject/s": fmt(r.injectRate),
    overruns: fmt(r.overruns),
    resyncs: fmt(r.resyncs),
    "lost msgs": fmt(r.lost),
    "backup complete after last entry (s)": r.lagSeconds === null ? `never${r.error ? ` (${r.error})` : ""}` : fmt(r.lagSeconds, 3),
    "CPU/entry primary (µs)": fmt(r.cpuPrimaryUs, 2),
    "CPU/entry backup (µs)": fmt(r.cpuBackupUs, 2),
  }));
}

export interface BurstOptions {
  sizes: number[];
  /** N of the rate sweep; null: no sweep. */
  sweepN: number | null;
  rates: number[];
  /** Only the sweep (and the kernel's rate). */
  sweepOnly?: boolean;
  /** The bursts' buffers (default: each daemon's default, 208 KiB, the bench's). */
  buffers?: Buffer[];
  say: (m: string) => void;
}

export interface BurstRun {
  bare: { n: number; rate: number }[];
  results: BurstResult[];
  sweeps: { impl: Impl; buffer: Buffer; rate: number; results: BurstResult[] }[];
}

/** The kernel's rate, the bursts at each size and buffer, then the sweep, both daemons alternating. */
export async function runBursts(o: BurstOptions): Promise<BurstRun> {
  const run: BurstRun = { bare: [], results: [], sweeps: [] };
  await withSysctls(Math.max(...o.sizes, o.sweepN ?? 0), async () => {
    for (const n of o.sizes) run.bare.push({ n, rate: await bareRate(n) });
    if (!o.sweepOnly) for (const n of o.sizes) for (const buffer of o.buffers ?? BUFFERS) for (const impl of IMPLS) {
      o.say(`burst: ${impl} N=${n} ${buffer} buffer`);
      run.results.push(await burst(impl, n, buffer));
    }
    if (o.sweepN !== null) for (const buffer of SWEPT) for (const impl of IMPLS) run.sweeps.push({ impl, buffer, ...await sweep(impl, o.sweepN, o.rates, buffer, o.say) });
  });
  return run;
}

/** The tables, as text lines. */
export function burstText(run: BurstRun, sweepN: number | null): string[] {
  const text = ["Unpaced bursts (bench/burst.ts): FTFW over UDP on a veth link, injector at the kernel's own insert rate",
    formatTable(burstRows(run.results)),
    `The kernel alone (the injector into an empty namespace): ${run.bare.map((b) => `N=${fmt(b.n)}: ${fmt(b.rate)} entries/s`).join(", ")}`];
  if (run.sweeps.length) {
    text.push("", `Rate sweep, N=${fmt(sweepN)}: the highest paced rate followed with no overrun and no lost message (the last rate tried failed, or was unpaced)`);
    text.push(formatTable(run.sweeps.map((s) => ({ what: `${s.impl}, ${s.buffer} buffer`, "highest rate (entries/s)": fmt(s.rate), tried: s.results.map((r) => `${fmt(r.injectRate)}: ${r.overruns} overruns, ${r.lost} lost, lag ${fmt(r.lagSeconds, 3)} s`).join("; ") }))));
  }
  return text;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const list = (name: string, dflt: number[]) => {
    const i = argv.indexOf(name);
    return i < 0 ? dflt : argv[i + 1].split(",").map(Number);
  };
  const sweepN = argv.includes("--no-sweep") ? null : list("--sweep", [100_000])[0];
  const run = await runBursts({
    sizes: list("--n", [100_000, 1_000_000]), sweepN, sweepOnly: argv.includes("--sweep-only"),
    rates: list("--rates", [25_000, 50_000, 75_000, 100_000, 150_000, 0]), say: (m) => process.stderr.write(`${m}\n`),
    buffers: argv.includes("--buffers") ? argv[argv.indexOf("--buffers") + 1].split(",") as Buffer[] : undefined,
  });
  console.log(argv.includes("--json") ? JSON.stringify(run, null, 2) : burstText(run, sweepN).join("\n"));
}
