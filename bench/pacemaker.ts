// Pacemaker's view of the failover path: how long each action of the
// resource agent ocf:heartbeat:conntrackd (resource-agents) takes when it
// manages ctsyncd and when it manages conntrackd, on the same machine, in the
// same run, the two daemons alternating round by round.
//
//   npx tsx bench/pacemaker.ts [--rounds 5] [--flows 10000] [--json]
//
// Two nodes in network namespaces joined by a veth sync link (FTFW over UDP),
// the same daemon on both. The agent runs on node a exactly as Pacemaker (or
// ocf-tester) runs it: the script itself, with OCF_ROOT, OCF_RESKEY_binary,
// OCF_RESKEY_config and the clone's meta parameters in its environment. Before
// the rounds, node b's kernel gets --flows conntracks (its daemon owns them);
// each round then, on a:
//   start    -d, then -s until it answers, then -n (a resync from b fills a's external cache)
//   monitor  -s (a recurring monitor, unpromoted)
//   promote  -c (commits what a holds from b into its kernel), -f, -R, -B
//   monitor  -s (promoted)
//   notify   post-start of b with a as master: -B
//   demote   -t, -n
//   stop     -s, -k, until the socket is gone
// and a's kernel table is flushed for the next round. Every action's time is
// the agent's whole run (bash, the awk on the configuration, each client
// command a process), so it drops with each client command's start-up time.
// Writes bench/results/pacemaker.txt and pacemaker.json. Needs root,
// resource-agents and conntrackd.
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Pair, CTSYNCD, until, type Side } from "../test/support/pair.ts";
import { OcfResource, OCF, missingForAgent, type AgentAction } from "../test/support/ocf.ts";
import { formatTable, type Row } from "./table.ts";
import { ROOT } from "./cluster.ts";

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = argv.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} needs a positive whole number`);
  return v;
};
const rounds = opt("--rounds", 5);
const flows = opt("--flows", 10_000);
const json = argv.includes("--json");

type Name = "ctsyncd" | "conntrackd";
const BINARY: Record<Name, string> = { ctsyncd: CTSYNCD, conntrackd: "conntrackd" };

interface Step {
  label: string;
  action: AgentAction;
  /** The client commands the agent runs for it, for the table. */
  runs: string;
  env?: Record<string, string>;
  expect: number;
}

const STEPS: Step[] = [
  { label: "start", action: "start", runs: "-d, -s, -n", expect: OCF.SUCCESS },
  { label: "monitor", action: "monitor", runs: "-s", env: { OCF_RESKEY_CRM_meta_interval: "20000" }, expect: OCF.SUCCESS },
  { label: "promote", action: "promote", runs: "-c, -f, -R, -B", expect: OCF.SUCCESS },
  { label: "monitor (promoted)", action: "monitor", runs: "-s", env: { OCF_RESKEY_CRM_meta_interval: "10000" }, expect: OCF.RUNNING_MASTER },
  {
    label: "notify (post-start)", action: "notify", runs: "-B", expect: OCF.SUCCESS,
    env: {
      OCF_RESKEY_CRM_meta_notify_type: "post", OCF_RESKEY_CRM_meta_notify_operation: "start",
      OCF_RESKEY_CRM_meta_notify_master_uname: hostname(), OCF_RESKEY_CRM_meta_notify_start_uname: "node-b",
    },
  },
  { label: "demote", action: "demote", runs: "-t, -n", expect: OCF.SUCCESS },
  { label: "stop", action: "stop", runs: "-s, -k", expect: OCF.SUCCESS },
];

/** One round of every step for one daemon on a fresh pair's node a; returns ms per step label. */
async function round(pair: Pair, name: Name, r: number): Promise<{ times: Record<string, number>; committed: number }> {
  const rsc = new OcfResource(pair.a, BINARY[name], `bench-${name}-${r}`, pair.dir);
  const times: Record<string, number> = {};
  let held = 0, committed = 0;
  for (const step of STEPS) {
    if (step.action === "promote") {
      // not timed: a's external cache holds what the resync brought from b
      // before the failover (conntrackd's may miss some: its resend queue
      // drops messages under a burst), so wait until it stops growing
      held = await settled(() => clientCount(pair.a, name));
    }
    const res = rsc.action(step.action, step.env);
    if (res.status !== step.expect) {
      throw new Error(`${name} ${step.label}: the agent answered ${res.status}, expected ${step.expect}\n${res.stderr}`);
    }
    times[step.label] = res.ms;
    if (step.action === "promote") {
      const inKernel = Number(Pair.run(pair.a, "conntrack", ["-C"]).stdout.trim());
      if (inKernel < held) throw new Error(`${name}: promote left ${inKernel} of the ${held} external entries in a's kernel`);
      committed = inKernel;
    }
  }
  Pair.run(pair.a, "conntrack", ["-F"]);
  return { times, committed };
}

/** Polls `count` until it stays the same for a second (at most 60 s); returns it. */
async function settled(count: () => number): Promise<number> {
  let last = -1, since = Date.now();
  const end = Date.now() + 60_000;
  while (Date.now() < end) {
    const n = count();
    if (n !== last) { last = n; since = Date.now(); } else if (n > 0 && Date.now() - since >= 1000) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

/** Entries in a's external cache, by the client of the daemon under test. */
function clientCount(side: Side, name: Name): number {
  const out = Pair.run(side, BINARY[name], ["-C", side.conf, "-s", "cache"]).stdout;
  return Number(/cache:external\s+active objects:\s+(\d+)/.exec(out)?.[1] ?? -1);
}

/** A pair with `name` running on b, which owns `flows` conntracks. */
async function setUp(name: Name): Promise<Pair> {
  const pair = new Pair(`pb${name === "ctsyncd" ? "s" : "c"}`, { hashSize: 32768 });
  const start = Pair.run(pair.b, BINARY[name], ["-C", pair.b.conf, "-d"]);
  if (start.status !== 0) throw new Error(`${name} -d on b: ${start.stderr}`);
  await until(() => Pair.run(pair.b, BINARY[name], ["-C", pair.b.conf, "-s"]).status === 0, 10_000);
  const inj = Pair.run(pair.b, process.execPath, ["--import", "tsx", join(ROOT, "bench/injector.ts"), String(flows)]);
  if (inj.status !== 0) throw new Error(`injector: ${inj.stderr}`);
  return pair;
}

/** One client command's round trip (-s), the unit every action is made of. */
function clientCall(pair: Pair, name: Name): number {
  const t0 = performance.now();
  const r = Pair.run(pair.b, BINARY[name], ["-C", pair.b.conf, "-s"]);
  if (r.status !== 0) throw new Error(`${name} -s: ${r.stderr}`);
  return performance.now() - t0;
}

const ms = (v: number) => (v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toPrecision(3));
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1] };
};

async function main(): Promise<void> {
  const missing = missingForAgent();
  if (missing.length) {
    console.error(`bench/pacemaker.ts needs: ${missing.join(", ")}`);
    process.exit(2);
  }
  const names: Name[] = ["ctsyncd", "conntrackd"];
  const pairs = {} as Record<Name, Pair>;
  const samples: Record<Name, Record<string, number[]>> = { ctsyncd: {}, conntrackd: {} };
  const commits = {} as Record<Name, number[]>;
  const close = () => { for (const p of Object.values(pairs)) p.close(); };
  process.once("SIGINT", () => { close(); process.exit(130); });
  process.once("SIGTERM", () => { close(); process.exit(143); });
  const add = (name: Name, label: string, ms: number) => (samples[name][label] ??= []).push(ms);
  try {
    for (const name of names) pairs[name] = await setUp(name);
    for (let r = 0; r < rounds; r++) {
      for (const name of r % 2 ? [...names].reverse() : names) {
        process.stderr.write(`round ${r + 1}/${rounds}: ${name}\n`);
        const { times, committed } = await round(pairs[name], name, r);
        for (const [label, ms] of Object.entries(times)) add(name, label, ms);
        (commits[name] ??= []).push(committed);
        add(name, "the whole cycle", Object.values(times).reduce((a, b) => a + b, 0));
        add(name, "one client command (-s)", clientCall(pairs[name], name));
      }
    }
  } finally {
    close();
  }

  const runsOf = (label: string) => STEPS.find((s) => s.label === label)?.runs ?? (label === "one client command (-s)" ? "-s" : "");
  const rows: Row[] = Object.keys(samples.ctsyncd).map((label) => {
    const c = stats(samples.ctsyncd[label]), d = stats(samples.conntrackd[label]);
    return {
      "agent action": label,
      "client commands": runsOf(label),
      "ctsyncd median": c.median, "ctsyncd min-max": `${ms(c.min)}-${ms(c.max)}`,
      "conntrackd median": d.median, "conntrackd min-max": `${ms(d.min)}-${ms(d.max)}`,
      "ctsyncd/conntrackd": c.median / d.median,
    };
  });
  const range = (xs: number[]) => { const s = stats(xs); return s.min === s.max ? s.min.toLocaleString("en-US") : `${s.min.toLocaleString("en-US")}-${s.max.toLocaleString("en-US")}`; };
  const header = `ocf:heartbeat:conntrackd actions on node a, ctsyncd against conntrackd (the same daemon on the peer b), `
    + `FTFW over UDP on a veth link; b owns ${flows.toLocaleString("en-US")} conntracks, of which each promote committed `
    + `${range(commits.ctsyncd)} (ctsyncd) and ${range(commits.conntrackd)} (conntrackd): what start's resync brought; `
    + `${rounds} rounds alternating; milliseconds, the agent's whole run (npx tsx bench/pacemaker.ts --rounds ${rounds} --flows ${flows})`;
  const text = [`date: ${new Date().toISOString()}`, header, formatTable(rows), ""].join("\n");
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "pacemaker.txt"), text);
  const result = { date: new Date().toISOString(), rounds, flows, committed: commits, samples, rows };
  writeFileSync(join(dir, "pacemaker.json"), JSON.stringify(result, null, 2) + "\n");
  console.log(json ? JSON.stringify(result, null, 2) : text);
}

await main();
