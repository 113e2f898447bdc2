// The failover path as an HA manager meets it: each client command, timed as
// a whole process (start-up included), against a running daemon holding N
// entries (10,000 by default), ctsyncd and conntrackd side by side, plus the
// daemon's own start with -d (until the command returns with the control
// socket answering) and -k.
//
//   npx tsx bench/client.ts [--entries 10000] [--runs 15]
//
// Both daemons run FTFW over UDP in the namespaces of bench/cluster.ts: node a
// holds N flows in its kernel and internal cache, node b the same N in its
// external cache. The client runs outside the namespaces: a client command
// only talks to the UNIX socket, whose path is in the file system. ctsyncd's
// command is the native client, as an install puts it on the PATH
// (scripts/install.sh); a checkout's bin/ctsyncd is a shell script before it.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { BenchCluster, CTSYNCD, ROOT, LoneNamespace, injectIn, sh, sleep, until, type Impl, type NodeName } from "./cluster.ts";
import { formatTable, type Row } from "./table.ts";

/**
 * The commands, in the order each round runs them; the destructive ones
 * last, b refilled after. A fourth element is what conntrackd runs instead
 * (it has no JSON: its plain dump of the same cache). The dumps of the empty
 * expectation caches are -i and -e on a small cache: the round trip alone.
 */
const COMMANDS: [string, NodeName, string[], string[]?][] = [
  ["-s", "b", ["-s"]],
  ["-s network", "b", ["-s", "network"]],
  ["-s cache", "b", ["-s", "cache"]],
  ["-i (N lines)", "a", ["-i"]],
  ["-e (N lines)", "b", ["-e"]],
  ["-i -x (N lines)", "a", ["-i", "-x"]],
  ["-e -x (N lines)", "b", ["-e", "-x"]],
  ["-i -j (N elements; conntrackd: -i)", "a", ["-i", "-j"], ["-i"]],
  ["-e -j (N elements; conntrackd: -e)", "b", ["-e", "-j"], ["-e"]],
  ["-i expect (empty)", "a", ["-i", "expect"]],
  ["-e expect (empty)", "b", ["-e", "expect"]],
  ["-n", "b", ["-n"]],
  ["-t", "b", ["-t"]],
  ["-R", "b", ["-R"]],
  ["-c (N entries into b's kernel)", "b", ["-c"]],
  ["-F", "b", ["-F"]],
  ["-f", "b", ["-f"]],
  ["-B", "a", ["-B"]],
];

/** The pause before each timed command, not timed. */
const SETTLE_MS = 300;

const NATIVE_CLIENT = join(ROOT, "native/build/Release/ctsyncd");
const clientOf = (impl: Impl) => (impl === "conntrackd" ? "conntrackd" : existsSync(NATIVE_CLIENT) ? NATIVE_CLIENT : CTSYNCD);

/** Wall time of one client process in ms, or throws with what it said. */
function timeCommand(impl: Impl, conf: string, args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(clientOf(impl), ["-C", conf, ...args], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 60_000 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${impl} ${args.join(" ")} exited ${r.status}: ${r.stderr.trim()}`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function summary(xs: number[]): string {
  if (xs.length === 0) return "failed";
  return `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}-${Math.max(...xs).toFixed(1)})`;
}

export interface ClientBenchOptions {
  entries: number;
  runs: number;
  progress: (msg: string) => void;
}

type Samples = Map<string, number[]>;

async function measure(impl: Impl, o: ClientBenchOptions): Promise<Samples> {
  const c = new BenchCluster("FTFW", o.entries);
  const got: Samples = new Map();
  const add = (k: string, ms: number) => got.set(k, [...(got.get(k) ?? []), ms]);
  try {
    await c.start("a", impl);
    await c.start("b", impl);
    await injectIn(c.ns.a, o.entries);
    await until(async () => (await c.active("b", "external")) >= o.entries, 60_000, 150, `${impl}: b's external cache complete`);
    for (let run = 0; run < o.runs; run++) {
      o.progress(`client commands: ${impl}, run ${run + 1} of ${o.runs}`);
      for (const [label, node, args, theirs] of COMMANDS) {
        // What the last command set off (a flush's 10,000 destroy events, a commit's
        // resync) settles first: an HA manager's commands come one by one too.
        await sleep(SETTLE_MS);
        add(label, timeCommand(impl, c.conf(node), impl === "conntrackd" ? theirs ?? args : args));
      }
      // -f emptied b's caches: -B from a refills them before the next round.
      await until(async () => (await c.active("b", "external")) >= o.entries, 60_000, 50, `${impl}: b refilled by -B`);
    }
    if (impl === "ctsyncd") await kernelAlone(o, add);
    await c.stop("a");
    for (let run = 0; run < o.runs; run++) {
      o.progress(`daemon start: ${impl}, run ${run + 1} of ${o.runs}`);
      add("-d (until the control socket answers)", timeStart(impl, c));
      add("-k", timeCommand(impl, c.conf("a"), ["-k"]));
      await until(async () => !isRunning(c.conf("a"), impl), 10_000, 20, `${impl} stopped by -k`);
    }
  } finally {
    await c.destroy();
  }
  return got;
}

/** -d in node a's namespace: the time until its control socket answers (conntrackd's -d returns before). */
function timeStart(impl: Impl, c: BenchCluster): number {
  const t0 = performance.now();
  const r = spawnSync("ip", ["netns", "exec", c.ns.a, clientOf(impl), "-C", c.conf("a"), "-d"], { stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 30_000 });
  if (r.status !== 0) throw new Error(`${impl} -d exited ${r.status}: ${r.stderr.trim()}`);
  while (!isRunning(c.conf("a"), impl)) {
    if (performance.now() - t0 > 30_000) throw new Error(`${impl} -d: the control socket does not answer`);
  }
  return performance.now() - t0;
}

function isRunning(conf: string, impl: Impl): boolean {
  const r = spawnSync(clientOf(impl), ["-C", conf, "-s", "runtime"], { encoding: "utf8", timeout: 5000 });
  return r.status === 0 && r.stdout.length > 0;
}

/**
 * The kernel's own time for what -c and -F ask of it, with no daemon: a
 * batched insert of N entries (the injector's own clock) and a flush of N
 * (`conntrack -F`), in a namespace alone, while node a's copies of the same
 * tuples are in the kernel as they are for b's commit (they share the hash
 * table, and slow each other down).
 */
async function kernelAlone(o: ClientBenchOptions, add: (k: string, ms: number) => void): Promise<void> {
  const lone = new LoneNamespace();
  try {
    for (let run = 0; run < Math.min(o.runs, 5); run++) {
      o.progress(`the kernel alone, run ${run + 1}`);
      add(KERNEL + "-c (N entries into b's kernel)", (await injectIn(lone.name, o.entries)).seconds * 1000);
      add(KERNEL + "-F", timed(() => sh(["conntrack", "-F"], lone.name)));
    }
  } finally {
    lone.destroy();
  }
}

/** The key prefix of the kernel-alone samples. */
const KERNEL = "kernel:";

function timed(f: () => unknown): number {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
}

/** Rows: one per command, each daemon's median (min-max) in ms, the ratio of the medians, and the kernel's own share where it has one. */
export async function clientRows(o: ClientBenchOptions): Promise<Row[]> {
  const ours = await measure("ctsyncd", o);
  const theirs = await measure("conntrackd", o);
  return [...ours.keys()].filter((k) => !k.startsWith(KERNEL)).map((k) => {
    const a = ours.get(k) ?? [], b = theirs.get(k) ?? [], kk = ours.get(KERNEL + k);
    return {
      command: k.replace("N", o.entries.toLocaleString("en-US")),
      "ctsyncd ms, median (min-max)": summary(a),
      "conntrackd ms": summary(b),
      "ctsyncd / conntrackd": a.length && b.length ? (median(a) / median(b)).toFixed(2) : "-",
      "the kernel alone, ms": kk ? median(kk).toFixed(1) : "",
    };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : dflt);
  const entries = opt("--entries", 10_000), runs = opt("--runs", 15);
  process.on("SIGINT", () => { BenchCluster.killAllSync(); process.exit(130); });
  const rows = await clientRows({ entries, runs, progress: (m) => process.stderr.write(`${m}\n`) });
  console.log(`Client commands against a daemon holding ${entries.toLocaleString("en-US")} entries (FTFW over UDP), `
    + `wall time of the whole command in ms, ${runs} runs each`);
  console.log(formatTable(rows));
}
