// The cluster benchmarks: ctsyncd against conntrackd, side by side, on the same
// kernel, in the same invocation. Each round runs every measure for both
// implementations, alternating which goes first; the table reports medians.
//
// Per round and implementation:
//   FTFW cluster (bn-<pid>-<k>-a primary, -b backup, fresh namespaces so both
//   kernels start empty): inject N into a's kernel -> replication time to b's
//   external cache, CPU and RSS per entry on both nodes, -i on a and -e on b,
//   conntrack -F on b then -c on b (commit), -f external on b then -B on a (bulk).
//   ALARM cluster: inject N, let it replicate, then 10 s with no new events:
//   CPU% of each daemon (the periodic refresh of every entry).
// Per round, the kernel alone in an empty namespace: the injector unpaced (the
// kernel's insert limit), and the injector paced beside bench/event-reader.ts
// (the CPU the kernel charges a primary per event before it does anything).
import type { EventFloor } from "./event-reader.ts";
import { BenchCluster, LoneNamespace, SOCKET_BUFFER, injectIn, startInNamespace, request, REQ, cpuSeconds, cpuSecondsFine, memoryOf, sleep, until, type Impl } from "./cluster.ts";
import type { Row } from "./table.ts";
import { readFileSync, writeFileSync } from "node:fs";

export const IMPLS: Impl[] = ["ctsyncd", "conntrackd"];

export interface SuiteOptions {
  n: number;
  rounds: number;
  /** Entries a second the replication's injector creates: the same load for both daemons. */
  rate: number;
  idleSeconds: number;
  progress: (msg: string) => void;
}

/** One measure's value in one round, or why it failed. */
type Value = number | { failed: string };
type Sample = Map<string, Value>;

/** The measures, in table order: key, label, unit, and whether smaller is better. */
export const MEASURES = [
  ["replication_s", "replication of N new conntracks injected at a fixed rate (a kernel -> b external)", "s"],
  ["replication_lag_s", "b still missing entries this long after the injector's last", "s"],
  ["inject_rate_listening", "injector rate into a's kernel, daemon listening", "entries/s"],
  ["cpu_primary_us", "CPU per entry, primary (a)", "µs"],
  ["cpu_backup_us", "CPU per entry, backup (b)", "µs"],
  ["rss_idle_mib", "RSS of an idle daemon (empty caches, 4 s after start), primary", "MiB"],
  ["anon_idle_mib", "  of which private (RssAnon; the rest: the executable's pages)", "MiB"],
  ["anon_primary_b", "private memory (RssAnon) per cached entry, primary (internal cache)", "bytes"],
  ["anon_backup_b", "private memory (RssAnon) per cached entry, backup (external cache)", "bytes"],
  ["rss_primary_total_mib", "RSS of primary holding N", "MiB"],
  ["rss_backup_total_mib", "RSS of backup holding N", "MiB"],
  ["idle_cpu_primary_pct", "FTFW idle CPU, primary, N held (10 s)", "%"],
  ["idle_cpu_backup_pct", "FTFW idle CPU, backup, N held (10 s)", "%"],
  ["dump_internal_s", "-i on primary (N lines)", "s"],
  ["dump_external_s", "-e on backup (N lines)", "s"],
  ["bulk_s", "bulk send -B (a -> flushed b external)", "s"],
  ["commit_s", "commit -c (b external -> empty b kernel)", "s"],
  ["commit_rate", "commit rate", "entries/s"],
  ["insert_same_state_s", "bare insert into b's flushed table, a's copies present (no daemon on b)", "s"],
  ["alarm_idle_cpu_primary_pct", "ALARM idle CPU, primary, N held", "%"],
  ["alarm_idle_cpu_backup_pct", "ALARM idle CPU, backup, N held", "%"],
  ["alarm_idle_tx_primary", "ALARM idle sync traffic sent by primary", "KiB/s"],
] as const;

type Key = (typeof MEASURES)[number][0];

/** The kernel's medians: the bare insert's seconds, the event reader's CPU per entry (null: failed). */
interface KernelFigures { bareS: number | null; floorUs: number | null }

/** The kernel's own figures for the measures that compare with it (null: the figure it needs failed). */
const KERNEL_REF: Partial<Record<Key, (k: KernelFigures, n: number) => number | null>> = {
  commit_s: (k) => k.bareS,
  commit_rate: (k, n) => (k.bareS === null ? null : n / k.bareS),
  cpu_primary_us: (k) => k.floorUs,
};

export interface SuiteResult {
  n: number;
  rounds: number;
  rows: Row[];
  /** Every round's values, for the JSON. */
  samples: { round: number; impl: Impl | "kernel"; values: Record<string, Value> }[];
  kernel: { bareInsertSeconds: number | null; bareInsertRate: number | null; eventReadMicros: number | null };
  /** Global sysctls raised for the run (and restored after it). */
  sysctls: SysctlChange[];
}

const why = (e: unknown) => (e instanceof Error ? e.message : String(e)).split("\n")[0].slice(0, 160);

/** Runs a step; on failure records the reason under every key it would have set. */
async function step(sample: Sample, keys: Key[], body: () => Promise<void>): Promise<boolean> {
  try {
    await body();
    return true;
  } catch (e) {
    for (const k of keys) if (!sample.has(k)) sample.set(k, { failed: why(e) });
    return false;
  }
}

/** Timeout for waiting on N entries to arrive somewhere. */
const waitMs = (n: number) => 20_000 + n / 10;

async function ftfwRound(impl: Impl, n: number, rate: number, sample: Sample, say: (m: string) => void): Promise<void> {
  const c = new BenchCluster("FTFW", n);
  const all: Key[] = ["replication_s", "replication_lag_s", "inject_rate_listening", "cpu_primary_us", "cpu_backup_us",
    "rss_idle_mib", "anon_idle_mib", "anon_primary_b", "anon_backup_b", "rss_primary_total_mib", "rss_backup_total_mib", "dump_internal_s", "dump_external_s", "bulk_s", "commit_s", "commit_rate",
    "insert_same_state_s"];
  try {
    if (!await step(sample, all, async () => {
      say("starting both daemons");
      await Promise.all([c.start("a", impl), c.start("b", impl)]);
    })) return;
    // ctsyncd gives back its start-up pages 3 s after it starts (host/process/setup.ts)
    await sleep(4000);
    const pa = c.daemons.a!.pid, pb = c.daemons.b!.pid;
    const cpu0 = { a: cpuSeconds(pa), b: cpuSeconds(pb) }, mem0 = { a: memoryOf(pa), b: memoryOf(pb) };
    sample.set("rss_idle_mib", mem0.a.rss / 2 ** 20);
    sample.set("anon_idle_mib", mem0.a.anon / 2 ** 20);

    // 1-3: replication, CPU and memory per entry
    const replicated = await step(sample, all, async () => {
      say(`injecting ${n} into a at ${rate}/s, waiting for b's external cache`);
      let reachedAt = 0, stop = false, lastSeen = 0;
      const poll = (async () => {
        const end = performance.now() + waitMs(n);
        while (!stop && performance.now() < end) {
          const v = await c.active("b", "external");
          if (v >= 0) lastSeen = v;
          if (v >= n) { reachedAt = performance.now(); return; }
          await sleep(50);
        }
      })();
      const inj = await injectIn(c.ns.a, n, 0, rate);
      const injEnd = performance.now();
      if (inj.failed > 0) throw new Error(`injector: ${inj.failed} creates failed`);
      await poll.finally(() => { stop = true; });
      if (!reachedAt) throw new Error(`timeout: b external held ${lastSeen}/${n} after ${Math.round(waitMs(n) / 1000)} s`);
      // the injector's insert loop began `inj.seconds` before it exited (its start-up is not counted)
      const seconds = (reachedAt - (injEnd - inj.seconds * 1000)) / 1000;
      sample.set("replication_s", seconds);
      sample.set("replication_lag_s", Math.max(0, (reachedAt - injEnd) / 1000));
      sample.set("inject_rate_listening", inj.perSecond);
      say("replicated; settling");
      await until(async () => (await c.active("a", "internal")) >= n, 30_000, 200, "a's internal cache holds N");
      await sleep(1000);
      const cpu1 = { a: cpuSeconds(pa), b: cpuSeconds(pb) }, mem1 = { a: memoryOf(pa), b: memoryOf(pb) };
      sample.set("cpu_primary_us", ((cpu1.a - cpu0.a) / n) * 1e6);
      sample.set("cpu_backup_us", ((cpu1.b - cpu0.b) / n) * 1e6);
      // per entry: the private part only (the executable's pages do not grow with the caches)
      sample.set("anon_primary_b", (mem1.a.anon - mem0.a.anon) / n);
      sample.set("anon_backup_b", (mem1.b.anon - mem0.b.anon) / n);
      sample.set("rss_primary_total_mib", mem1.a.rss / 2 ** 20);
      sample.set("rss_backup_total_mib", mem1.b.rss / 2 ** 20);
    });
    if (!replicated) return;

    // FTFW with nothing to sync: what a daemon costs while the firewall is quiet (keepalives only)
    await step(sample, ["idle_cpu_primary_pct", "idle_cpu_backup_pct"], async () => {
      say("FTFW: 10 s idle with N held");
      await sleep(2000);
      const a0 = cpuSecondsFine(pa), b0 = cpuSecondsFine(pb), t0 = performance.now();
      await sleep(10_000);
      const secs = (performance.now() - t0) / 1000;
      sample.set("idle_cpu_primary_pct", ((cpuSecondsFine(pa) - a0) / secs) * 100);
      sample.set("idle_cpu_backup_pct", ((cpuSecondsFine(pb) - b0) / secs) * 100);
    });

    // 6: dumps
    await step(sample, ["dump_internal_s"], async () => {
      say("-i on a");
      const r = await request(c.sock("a"), REQ.DUMP_INTERNAL, false, waitMs(n));
      if (!r.ok) throw new Error(`-i: ${r.error}`);
      if (r.lines < n) throw new Error(`-i printed ${r.lines} lines, expected ${n}`);
      sample.set("dump_internal_s", r.ms / 1000);
    });
    await step(sample, ["dump_external_s"], async () => {
      say("-e on b");
      const r = await request(c.sock("b"), REQ.DUMP_EXTERNAL, false, waitMs(n));
      if (!r.ok) throw new Error(`-e: ${r.error}`);
      if (r.lines < n) throw new Error(`-e printed ${r.lines} lines, expected ${n}`);
      sample.set("dump_external_s", r.ms / 1000);
    });

    // 5: commit into an empty kernel table
    await step(sample, ["commit_s", "commit_rate"], async () => {
      say("conntrack -F on b, -c on b");
      c.kernelFlush("b");
      await sleep(500);
      const before = c.kernelCount("b");
      if (before !== 0) throw new Error(`b's kernel holds ${before} after conntrack -F`);
      const held = await c.active("b", "external");
      if (!(held >= n)) throw new Error(`b external holds ${held}/${n} before -c`);
      const r = await request(c.sock("b"), REQ.COMMIT, true, waitMs(n));
      if (!r.ok) throw new Error(`-c: ${r.error}`);
      const seconds = r.ms / 1000;
      const witnessed = c.kernelCount("b");
      if (witnessed < n) throw new Error(`-c returned after ${seconds.toFixed(2)} s but conntrack -C counts ${witnessed}/${n}`);
      sample.set("commit_s", seconds);
      sample.set("commit_rate", n / seconds);
    });
    // the committed entries are the backup's kernel events now, synced back to a: let that finish
    say("settling after -c");
    await quiet([pa, pb], 30_000);

    // 4: bulk send into a flushed external cache
    await step(sample, ["bulk_s"], async () => {
      say("-f external on b, -B on a");
      const f = await request(c.sock("b"), REQ.FLUSH_EXT_CACHE, true, waitMs(n));
      if (!f.ok) throw new Error(`-f external: ${f.error}`);
      await until(async () => (await c.active("b", "external")) === 0, 30_000, 150, "b's external cache empty after -f external");
      const t0 = performance.now();
      const b = await request(c.sock("a"), REQ.SEND_BULK, true, waitMs(n));
      if (!b.ok) throw new Error(`-B: ${b.error}`);
      let last = 0;
      try {
        await until(async () => (last = await c.active("b", "external")) >= n, waitMs(n), 150, "b external holds N after -B");
      } catch { throw new Error(`timeout: b external held ${last}/${n} after -B`); }
      sample.set("bulk_s", (performance.now() - t0) / 1000);
    });

    // The kernel's own insert rate in the very state the commit met: b's table
    // just flushed, and a's namespace holding the same tuples (one kernel
    // serves both "firewalls" here). "kernel alone" inserts into a fresh one.
    await step(sample, ["insert_same_state_s"], async () => {
      say("bare insert into b's flushed table beside a's copies");
      await c.stop("b");
      c.kernelFlush("b");
      await sleep(500);
      const inj = await injectIn(c.ns.b, n);
      if (inj.failed > 0) throw new Error(`injector: ${inj.failed} creates failed`);
      sample.set("insert_same_state_s", inj.seconds);
    });

  } finally {
    say("tearing down");
    await c.destroy();
  }
}

async function alarmRound(impl: Impl, n: number, idleSeconds: number, sample: Sample, say: (m: string) => void): Promise<void> {
  const c = new BenchCluster("ALARM", n);
  const keys: Key[] = ["alarm_idle_cpu_primary_pct", "alarm_idle_cpu_backup_pct", "alarm_idle_tx_primary"];
  const sent = async () => {
    const r = await request(c.sock("a"), REQ.STATS, true, 10_000);
    const m = /(\d+) Bytes sent/.exec(r.text);
    return m ? Number(m[1]) : NaN;
  };
  try {
    await step(sample, keys, async () => {
      say("ALARM: starting both daemons");
      await Promise.all([c.start("a", impl), c.start("b", impl)]);
      say(`ALARM: injecting ${n} into a`);
      const inj = await injectIn(c.ns.a, n);
      if (inj.failed > 0) throw new Error(`injector: ${inj.failed} creates failed`);
      let last = 0;
      try {
        await until(async () => (last = await c.active("b", "external")) >= n, waitMs(n), 200, "ALARM replication");
      } catch { throw new Error(`timeout: ALARM b external held ${last}/${n}`); }
      await sleep(2000);
      say(`ALARM: ${idleSeconds} s idle with ${n} held`);
      const pa = c.daemons.a!.pid, pb = c.daemons.b!.pid;
      const tx0 = await sent();
      const a0 = cpuSeconds(pa), b0 = cpuSeconds(pb), t0 = performance.now();
      await sleep(idleSeconds * 1000);
      const secs = (performance.now() - t0) / 1000;
      const a1 = cpuSeconds(pa), b1 = cpuSeconds(pb);
      sample.set("alarm_idle_tx_primary", (await sent() - tx0) / secs / 1024);
      sample.set("alarm_idle_cpu_primary_pct", ((a1 - a0) / secs) * 100);
      sample.set("alarm_idle_cpu_backup_pct", ((b1 - b0) / secs) * 100);
    });
  } finally {
    await c.destroy();
  }
}

/** Waits until the processes use less than 5% CPU over half a second (or `maxMs` passes). */
async function quiet(pids: number[], maxMs: number): Promise<void> {
  const end = performance.now() + maxMs;
  let last = pids.map(cpuSeconds);
  while (performance.now() < end) {
    await sleep(500);
    const now = pids.map(cpuSeconds);
    if (now.every((v, i) => v - last[i] < 0.025)) return;
    last = now;
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The median of a measure over the rounds, or "failed: <why>" if no round succeeded. */
function summarize(values: Value[]): { value: number | null; cell: string | number } {
  const ok = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v));
  const bad = values.filter((v): v is { failed: string } => typeof v === "object");
  if (ok.length === 0) return { value: null, cell: bad.length ? `failed: ${bad[0].failed}` : "n/a" };
  const m = median(ok);
  return { value: m, cell: bad.length ? `${fmt(m)} (${bad.length}/${values.length} failed: ${bad[0].failed})` : m };
}

function fmt(v: number): string {
  if (Number.isInteger(v)) return v.toLocaleString("en-US");
  return Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3);
}

function readSysctl(p: string): string {
  return readFileSync(`/proc/sys/${p}`, "utf8").trim();
}
function writeSysctl(p: string, v: string | number): void {
  writeFileSync(`/proc/sys/${p}`, String(v));
}


/**
 * Global settings the run needs, raised for it and restored afterwards (also
 * on SIGINT/SIGTERM). nf_conntrack_max is read-only inside a non-init
 * namespace (kernel 6.x): the init namespace's value is the limit each
 * namespace's table is checked against. The hash table (nf_conntrack_buckets,
 * one table for all namespaces) grows with it, as an operator raising the
 * limit would do and as the kernel's own default (one bucket per entry)
 * has it; otherwise chains of 16 at N=1,000,000 would measure the table
 * size. net.core.rmem_max/wmem_max cap what a daemon may ask with
 * SO_RCVBUF/SO_SNDBUF; both daemons pass them with SO_RCVBUFFORCE as root,
 * and they are raised to the configured buffer size all the same, so that a
 * run without CAP_NET_ADMIN gets the same sizes too.
 */
export function withSysctls<T>(n: number, body: () => Promise<T>): Promise<{ result: T; changed: SysctlChange[] }> {
  const entries = Math.ceil(n * 1.25) + 65536; // N and room to spare
  const wanted: [string, number][] = [
    ["net/netfilter/nf_conntrack_max", entries],
    ["net/netfilter/nf_conntrack_buckets", entries],
    ["net/core/rmem_max", SOCKET_BUFFER],
    ["net/core/wmem_max", SOCKET_BUFFER],
  ];
  const changed: SysctlChange[] = [];
  for (const [key, need] of wanted) {
    const before = Number(readSysctl(key));
    if (before < need) {
      writeSysctl(key, need);
      changed.push({ key: key.replace(/\//g, "."), before, during: need });
    }
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    for (const c of changed) writeSysctl(c.key.replace(/\./g, "/"), c.before);
  };
  const onSignal = () => { BenchCluster.killAllSync(); restore(); process.exit(130); };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return body().then((result) => ({ result, changed })).finally(() => {
    restore();
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  });
}

export interface SysctlChange { key: string; before: number; during: number }

export async function runSuite(o: SuiteOptions): Promise<SuiteResult> {
  const { result, changed } = await withSysctls(o.n, () => rounds(o));
  return { ...result, sysctls: changed };
}

async function rounds(o: SuiteOptions): Promise<Omit<SuiteResult, "sysctls">> {
  const { n } = o;
  const per: Record<Impl, Sample[]> = { ctsyncd: [], conntrackd: [] };
  const bare: Value[] = [];
  const floor: Value[] = [];
  const samples: SuiteResult["samples"] = [];
  for (let r = 0; r < o.rounds; r++) {
    const tag = `[round ${r + 1}/${o.rounds}, N=${n.toLocaleString("en-US")}]`;
    o.progress(`${tag} kernel: bare batched insert`);
    bare.push(await kernelAlone(async (ns) => {
      const inj = await injectIn(ns, n);
      return inj.failed ? { failed: `${inj.failed} creates failed` } : inj.seconds;
    }));
    o.progress(`${tag} kernel: the events alone, read and dropped`);
    floor.push(await kernelAlone((ns) => eventFloorMicros(ns, n, o.rate)));
    samples.push({ round: r + 1, impl: "kernel", values: { bare_insert_s: bare[r], event_read_us: floor[r] } });
    const order = r % 2 === 0 ? IMPLS : [...IMPLS].reverse();
    for (const impl of order) {
      const sample: Sample = new Map();
      const say = (m: string) => o.progress(`${tag} ${impl}: ${m}`);
      await ftfwRound(impl, n, o.rate, sample, say);
      await alarmRound(impl, n, o.idleSeconds, sample, say);
      per[impl].push(sample);
      samples.push({ round: r + 1, impl, values: Object.fromEntries(sample) });
    }
  }
  const bareS = summarize(bare).value;
  const floorUs = summarize(floor).value;
  const kernelCell = (k: Key): string | number => {
    const ref = KERNEL_REF[k];
    if (!ref) return "";
    return ref({ bareS, floorUs }, n) ?? "failed";
  };
  const rows: Row[] = MEASURES.map(([key, label, unit]) => {
    const c = summarize(per.ctsyncd.map((s) => s.get(key) ?? { failed: "not measured" }));
    const d = summarize(per.conntrackd.map((s) => s.get(key) ?? { failed: "not measured" }));
    const ratio = c.value !== null && d.value !== null && d.value !== 0 ? c.value / d.value : "";
    return { measure: label, unit, ctsyncd: c.cell, conntrackd: d.cell, "ctsync/conntrackd": ratio, "kernel alone": kernelCell(key) };
  });
  return { n, rounds: o.rounds, rows, samples, kernel: { bareInsertSeconds: bareS, bareInsertRate: bareS ? n / bareS : null, eventReadMicros: floorUs } };
}

/** Runs `measure` in a fresh namespace of its own; a failure becomes the value's reason. */
async function kernelAlone(measure: (ns: string) => Promise<Value>): Promise<Value> {
  const ns = new LoneNamespace();
  try {
    return await measure(ns.name);
  } catch (e) {
    return { failed: why(e) };
  } finally {
    ns.destroy();
  }
}

/**
 * CPU per entry of a reader that only receives the events of n entries
 * injected at `rate` (bench/event-reader.ts): a primary's floor.
 */
async function eventFloorMicros(ns: string, n: number, rate: number): Promise<Value> {
  const reader = startInNamespace<EventFloor>(ns, "bench/event-reader.ts", ["1000"]);
  await reader.ready;
  await injectIn(ns, n, 0, rate);
  const f = await reader.result;
  if (f.overruns || f.events < n) return { failed: `the reader saw ${f.events} of ${n} events, ${f.overruns} overruns` };
  return f.cpuMicros / n;
}
