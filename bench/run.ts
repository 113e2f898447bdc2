// npm run bench: the benchmark suite. The core's codecs (bench/codec.ts) and its path per
// replicated entry (bench/core-path.ts, left out with the codecs by --no-codec), then
// ctsyncd against conntrackd in network namespaces (bench/suite.ts), each
// measure for both in the same invocation, alternating, median of the rounds.
//
//   npm run bench [-- --n 1000000] [--rounds 3] [--rate 150000] [--idle 10] [--json] [--codec-only] [--no-codec]
//                 [--no-client] [--client-entries 10000] [--no-short-flows] [--burst]
//                 [--corosync | --corosync-only] [--corosync-flows 100000] [--corosync-nodes 2,4,8]
//                 [--no-auth] [--auth-only] [--no-stats] [--stats-n 100000]
//
// The Stats mode row (bench/stats.ts: destroyed flows logged a second and CPU
// per logged flow, ctsyncd against conntrackd) runs with the suite, at
// --stats-n short flows (100,000), the suite's rounds.
//
// --burst adds bench/burst.ts at N: unpaced bursts with conntrackd's default
// NetlinkBufferSize and the bench's, and the rate sweep (at N up to 100,000).
// --auth-only runs bench/auth.ts alone (ctsyncd without and with each
// Authenticate Cipher) and writes bench/results/auth.{txt,json}.
//
// --corosync adds clusters beyond two (bench/corosync.ts: ctsyncd over
// Corosync against conntrackd NOTRACK over multicast, 2, 4 and 8 nodes);
// --corosync-only runs just that part. It needs corosync besides.
//
// Prints text tables (or the JSON with --json) and writes both to
// bench/results/ (latest.txt, latest.json, and n<N>.txt / n<N>.json).
// The cluster part needs root (network namespaces), conntrackd and conntrack.
import os from "node:os";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { codecRows } from "./codec.ts";
import { corePathRows } from "./core-path.ts";
import { formatTable, type Row } from "./table.ts";
import { ROOT } from "./cluster.ts";
import { runSuite, type SuiteResult } from "./suite.ts";
import { burstText, runBursts } from "./burst.ts";
import { clientRows } from "./client.ts";
import { shortFlowRows } from "./short-flows.ts";
import { corosyncRows } from "./corosync.ts";
import { authRows } from "./auth.ts";
import { statsHeading, statsRows } from "./stats.ts";

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
};
const json = flag("--json");
const n = Math.round(opt("--n", 100_000));
const rounds = Math.round(opt("--rounds", 3));
const idleSeconds = opt("--idle", 10);
// conntrackd keeps up with about 140,000 new entries a second on this machine (issue #3).
const rate = Math.round(opt("--rate", 150_000));

function machineInfo() {
  const cpus = os.cpus();
  const version = (cmd: string, args: string[]) => { try { return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim().split("\n")[0]; } catch { return "not found"; } };
  const info = {
    cpu: cpus[0]?.model.trim() ?? "unknown CPU",
    cores: cpus.length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    node: process.version,
    conntrackd: version("conntrackd", ["-v"]).replace(/\. Licensed.*/, ""),
    conntrack: version("conntrack", ["--version"]),
  };
  return { ...info, line: `${info.cpu}, ${info.cores} cores, ${info.ramGiB} GiB RAM, Linux ${info.kernel}, Node ${info.node}; ${info.conntrackd}` };
}

const tty = process.stderr.isTTY;
let lastLen = 0;
const t0 = Date.now();
function progress(msg: string): void {
  const line = `${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${msg}`;
  if (tty) {
    process.stderr.write(`\r${line.padEnd(lastLen)}`);
    lastLen = line.length;
  } else {
    process.stderr.write(`${line}\n`);
  }
}
const endProgress = () => { if (tty && lastLen) process.stderr.write(`\r${" ".repeat(lastLen + 6)}\r`); };

const machine = machineInfo();
const corosyncOnly = flag("--corosync-only");
const authOnly = flag("--auth-only");
if (!corosyncOnly) progress("core codecs");
const codec: Row[] = flag("--no-codec") || corosyncOnly || authOnly ? [] : codecRows();
// The core's path per replicated entry without the kernel (bench/core-path.ts).
if (!corosyncOnly && !authOnly) progress("the core's path per entry");
const corePath: Row[] = flag("--no-codec") || corosyncOnly || authOnly ? [] : corePathRows(n, rounds);

let suite: SuiteResult | null = null;
let skipped: string | null = null;
const root = process.getuid?.() === 0;
if (flag("--codec-only")) skipped = "--codec-only";
else if (corosyncOnly) skipped = "--corosync-only";
else if (!root) skipped = "not root: the cluster benchmarks need network namespaces";
else if (!authOnly) {
  suite = await runSuite({ n, rounds, rate, idleSeconds, progress });
}
// What Sync { Authenticate } costs (bench/auth.ts).
const auth: Row[] = root && !flag("--codec-only") && !corosyncOnly && !flag("--no-auth") ? await authRows({ n, rounds, rate, progress }) : [];
// The failover path: each client command as an HA manager runs it (bench/client.ts).
const CLIENT_ENTRIES = Math.round(opt("--client-entries", 10_000)), CLIENT_RUNS = 15;
const client: Row[] = suite && !flag("--no-client")
  ? await clientRows({ entries: CLIENT_ENTRIES, runs: CLIENT_RUNS, progress })
  : [];
// Short flows with and without DelayReplication (bench/short-flows.ts).
const SHORT = { rate: 20_000, seconds: 10, short: 0.8 }, SHORT_DELAY_MS = 1000;
const shortFlows: Row[] = suite && !flag("--no-short-flows") ? await shortFlowRows(SHORT, SHORT_DELAY_MS, progress) : [];
// The Stats mode: a flow logger's throughput (bench/stats.ts).
const STATS_N = Math.round(opt("--stats-n", 100_000));
const stats: Row[] = suite && !flag("--no-stats") ? (await statsRows({ n: STATS_N, rounds, progress })).rows : [];
// Clusters beyond two, on request (bench/corosync.ts).
const corosyncFlows = Math.round(opt("--corosync-flows", 100_000));
const corosyncNodes = (() => {
  const i = argv.indexOf("--corosync-nodes");
  const list = i < 0 ? [2, 4, 8] : String(argv[i + 1] ?? "").split(",").map(Number);
  if (!list.length || list.some((x) => !Number.isInteger(x) || x < 2 || x > 16)) throw new Error("--corosync-nodes needs a list like 2,4,8 (2 to 16 nodes)");
  return list;
})();
const corosync: Row[] = (flag("--corosync") || corosyncOnly) && process.getuid?.() === 0
  ? await corosyncRows({ flows: corosyncFlows, sizes: corosyncNodes, progress })
  : [];
endProgress();

const text: string[] = [`machine: ${machine.line}`, ""];
if (codec.length) text.push("Core codec throughput (bench/codec.ts)", formatTable(codec), "");
if (corePath.length) {
  text.push(`The core's path per replicated entry, N=${n.toLocaleString("en-US")}, no kernel, no link (bench/core-path.ts, ${rounds} round(s))`, formatTable(corePath), "");
}
if (suite) {
  text.push(`ctsyncd against conntrackd, N=${n.toLocaleString("en-US")} conntracks, FTFW over UDP on a veth link, `
    + `replication injected at ${rate.toLocaleString("en-US")}/s `
    + `(ALARM rows: ALARM mode, ${idleSeconds} s without events), median of ${rounds} round(s), alternating; `
    + `"kernel alone" is the injector into an empty namespace with no daemon: unpaced for commit, `
    + `paced beside a reader that only receives the events for the primary's CPU (bench/event-reader.ts).`);
  text.push(formatTable(suite.rows));
  for (const c of suite.sysctls) text.push(`(${c.key} raised from ${c.before} to ${c.during} for the run, then restored)`);
  text.push("");
} else if (skipped) {
  text.push(`cluster benchmarks skipped: ${skipped}`, "");
}
if (corosync.length) {
  text.push(`Clusters beyond two: a burst of ${corosyncFlows.toLocaleString("en-US")} new flows spread over the nodes (bench/corosync.ts); `
    + "CPU per entry is one node's CPU over the burst divided by all the burst's entries (each node handles all of them), averaged over the nodes; "
    + "wire bytes are every node's sync link transmissions summed, per entry");
  text.push(formatTable(corosync), "");
}
if (auth.length) {
  text.push(`ctsyncd without Sync { Authenticate } and with each Cipher, N=${n.toLocaleString("en-US")} conntracks, FTFW over UDP, `
    + `injected at ${rate.toLocaleString("en-US")}/s, median of ${rounds} round(s), alternating (bench/auth.ts)`);
  text.push(formatTable(auth), "");
}
if (client.length) {
  text.push(`Client commands against a daemon holding ${CLIENT_ENTRIES.toLocaleString("en-US")} entries (FTFW over UDP), `
    + `the whole command's wall time in ms, ${CLIENT_RUNS} runs each (bench/client.ts)`);
  text.push(formatTable(client), "");
}
if (shortFlows.length) {
  text.push(`Short flows: ${SHORT.rate.toLocaleString("en-US")} new flows a second for ${SHORT.seconds} s, ${SHORT.short * 100}% of them `
    + "living 50-950 ms (bench/short-flows.ts)");
  text.push(formatTable(shortFlows), "");
}
if (stats.length) {
  text.push(`${statsHeading(STATS_N, rounds)}: N short flows injected, then destroyed at once (conntrack -F) until the Stats log has N lines; `
    + "both daemons with NetlinkEventsReliable and a 24 MiB event buffer");
  text.push(formatTable(stats), "");
}
const bursts = suite && flag("--burst")
  ? await runBursts({ sizes: [n], sweepN: Math.min(n, 100_000), rates: [25_000, 50_000, 75_000, 100_000, 150_000, 0], say: progress })
  : null;
if (bursts) text.push(...burstText(bursts, Math.min(n, 100_000)), "");
const result = { machine, date: new Date().toISOString(), n, rounds, rate, idleSeconds, codec, corePath, cluster: suite, client, shortFlows, stats, bursts, corosync, auth, skipped };

if (corosync.length) {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "corosync.json"), JSON.stringify({ machine, date: result.date, flows: corosyncFlows, rows: corosync }, null, 2) + "\n");
  writeFileSync(join(dir, "corosync.txt"), text.join("\n"));
}
if (authOnly && auth.length) {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "auth.json"), JSON.stringify(result, null, 2) + "\n");
  writeFileSync(join(dir, "auth.txt"), text.join("\n"));
} else if (suite || codec.length) {
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const body = JSON.stringify(result, null, 2) + "\n";
  writeFileSync(join(dir, "latest.json"), body);
  writeFileSync(join(dir, "latest.txt"), text.join("\n"));
  if (suite) {
    writeFileSync(join(dir, `n${n}.json`), body);
    writeFileSync(join(dir, `n${n}.txt`), text.join("\n"));
  }
}
console.log(json ? JSON.stringify(result, null, 2) : text.join("\n"));
