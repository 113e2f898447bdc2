// The Stats mode benchmark: conntrackd's flow logger, ctsyncd against
// conntrackd, the same load for both in the same invocation.
//
//   tsx bench/stats.ts [--n 100000] [--rounds 3]
//
// npm run bench runs it too (statsRows, N = 100,000; --no-stats leaves it out).
// Per round and implementation (alternating which goes first), in a fresh
// namespace with nf_conntrack_acct and nf_conntrack_timestamp on: start the
// daemon (Stats { LogFile }, NetlinkBufferSize 24985600, NetlinkEventsReliable
// on, the same file for both), inject N short flows with the batched
// injector, wait until the daemon's cache holds them, then `conntrack -F`
// destroys them all at once and the clock runs until the Stats log has N
// lines. Measures: destroyed flows logged a second (N over that time, the
// kernel's own flush included), CPU per logged flow (the daemon's user+system
// time from the flush to the last line, over N), CPU per new flow cached
// (from the injection to the full cache), and the lines logged. Medians of
// the rounds; writes bench/results/stats.{txt,json}.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoneNamespace, ROOT, SOCKET_BUFFER, REQ, cpuSeconds, daemonArgv, injectIn, request, sh, sleep, until, type Impl } from "./cluster.ts";
import { formatTable, type Row } from "./table.ts";

const IMPLS: Impl[] = ["ctsyncd", "conntrackd"];

interface Sample { logged_per_s: number; cpu_logged_us: number; cpu_cached_us: number; lines: number; flush_s: number }

/** Lines in a file, counted without holding it as text. */
function lineCount(path: string): number {
  if (!existsSync(path)) return 0;
  const b = readFileSync(path);
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

async function once(impl: Impl, N: number): Promise<Sample> {
  const ns = new LoneNamespace();
  const dir = mkdtempSync(join(tmpdir(), "ctstats-bench-"));
  const log = join(dir, "stats.log"), sock = join(dir, "ctl");
  writeFileSync(join(dir, "c.conf"), `Stats {
	LogFile ${log}
}
General {
	HashSize 131072
	HashLimit 1048576
	LockFile ${join(dir, "lock")}
	LogFile ${join(dir, "daemon.log")}
	UNIX { Path ${sock} }
	NetlinkBufferSize ${SOCKET_BUFFER}
	NetlinkBufferSizeMaxGrowth ${SOCKET_BUFFER}
	NetlinkEventsReliable on
}
`);
  sh(["sysctl", "-q", "-w", "net.netfilter.nf_conntrack_acct=1", "net.netfilter.nf_conntrack_timestamp=1"], ns.name);
  const proc = spawn("ip", ["netns", "exec", ns.name, ...daemonArgv(impl), "-C", join(dir, "c.conf")], { cwd: ROOT, stdio: "ignore" });
  try {
    await until(async () => existsSync(sock) && (await request(sock, REQ.STATS)).ok, 20_000, 100, `${impl} to start`);
    const pid = proc.pid!;
    const cpu0 = cpuSeconds(pid);
    await injectIn(ns.name, N);
    const active = async () => Number(/current active connections:\s+(\d+)/.exec((await request(sock, REQ.STATS)).text)?.[1]);
    await until(async () => (await active()) >= N, 120_000, 100, `${impl} to cache ${N} flows`);
    const cpu1 = cpuSeconds(pid);
    const t0 = performance.now();
    sh(["conntrack", "-F"], ns.name);
    const flushS = (performance.now() - t0) / 1000;
    await until(async () => statSync(log, { throwIfNoEntry: false }) !== undefined && lineCount(log) >= N, 300_000, 50, `${impl} to log ${N} flows`);
    const seconds = (performance.now() - t0) / 1000;
    const cpu2 = cpuSeconds(pid);
    return {
      logged_per_s: N / seconds, cpu_logged_us: ((cpu2 - cpu1) / N) * 1e6, cpu_cached_us: ((cpu1 - cpu0) / N) * 1e6,
      lines: lineCount(log), flush_s: flushS,
    };
  } finally {
    proc.kill("SIGTERM");
    await Promise.race([new Promise((r) => proc.once("exit", r)), sleep(5000)]);
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    ns.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The Stats rows at N flows, medians of `rounds` alternating rounds, and every round's sample. */
export async function statsRows(o: { n: number; rounds: number; progress: (m: string) => void }): Promise<{ rows: Row[]; samples: { round: number; impl: Impl; sample: Sample }[] }> {
  const samples: { round: number; impl: Impl; sample: Sample }[] = [];
  for (let round = 0; round < o.rounds; round++) {
    for (const impl of round % 2 ? [...IMPLS].reverse() : IMPLS) {
      o.progress(`Stats mode, round ${round + 1}/${o.rounds}: ${impl}`);
      samples.push({ round, impl, sample: await once(impl, o.n) });
    }
  }
  const med = (impl: Impl, k: keyof Sample) => median(samples.filter((s) => s.impl === impl).map((s) => s.sample[k]));
  const rows: Row[] = ([
    ["logged_per_s", "destroyed flows logged a second (N flushed at once, until the last line)", "flows/s"],
    ["cpu_logged_us", "CPU per logged flow", "µs"],
    ["cpu_cached_us", "CPU per new flow cached (the N creations)", "µs"],
    ["lines", "lines in the Stats log", "lines"],
  ] as const).map(([k, label, unit]) => {
    const a = med("ctsyncd", k), b = med("conntrackd", k);
    return { measure: label, unit, ctsyncd: a, conntrackd: b, "ctsync/conntrackd": b ? a / b : NaN };
  });
  return { rows, samples };
}

/** The heading npm run bench and this script print above the rows. */
export const statsHeading = (n: number, rounds: number) =>
  `Stats mode, N = ${n.toLocaleString("en-US")}, median of ${rounds} rounds, \`tsx bench/stats.ts\``;

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("bench/stats.ts")) {
  const arg = (name: string, dflt: number) => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : dflt;
  };
  const n = arg("n", 100_000), rounds = arg("rounds", 3);
  statsRows({ n, rounds, progress: (m) => process.stderr.write(`${m}\n`) }).then(({ rows, samples }) => {
    const text = `${statsHeading(n, rounds)}\n\n${formatTable(rows)}\n`;
    process.stdout.write(text);
    writeFileSync(join(ROOT, "bench/results/stats.txt"), text);
    writeFileSync(join(ROOT, "bench/results/stats.json"), JSON.stringify({ n, rounds, rows, samples }, null, 1) + "\n");
  }).catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
