// Where the time of one replicated entry goes: splits a .cpuprofile of
// ctsyncd (CTSYNC_BENCH_PROFILE=<dir> on a bench run, see bench/cluster.ts)
// by the stage of the byte path, per entry.
//
//   npx asc assembly/index.ts --config asconfig.json --target release --debug   # the core with function names
//   CTSYNC_BENCH_PROFILE=/tmp/prof node --import tsx bench/burst.ts --n 1000000 --no-sweep
//   node --import tsx bench/profile.ts /tmp/prof/<file>.cpuprofile 1000000
//   npm run build:wasm                                                          # the release core again
//
// The profile samples the main thread's wall time while it is not waiting in
// the event loop: with CPUs shared, time spent runnable but descheduled
// counts too, so read the shares more than the microseconds. Time the kernel
// spends in a system call (receiving, sending) counts against the JS
// function that made the call. The daemon's start, up to its first tenth
// of a second idle, is left out.
import { readFileSync } from "node:fs";

interface Profile {
  nodes: { id: number; callFrame: { functionName: string } }[];
  samples: number[];
  timeDeltas: number[];
}

/** Stages in the order a first match wins; functions of the core are named assembly/<file>/<function>. */
const STAGES: [string, RegExp][] = [
  ["kernel receive (recvmmsg: netlink on the primary, UDP on the backup)", /^(recvInto|readable|recvMany)$/],
  ["send system calls (sendmmsg; the peer's kernel receive runs inside it on veth)", /^(flush|sendMany)$/],
  ["decode (ctnetlink or sync messages into records)", /^assembly\/(ctnetlink|record)\/|^assembly\/wire\/(decode|nextMessage|walk|openDatagram)/],
  ["cache (hash lookup, insert, arena)", /^assembly\/(cache|arena|hash)\//],
  ["encode (sync messages into the outbox)", /^assembly\/(wire\/encode|outbox\/|sync\/transmit)/],
  ["FTFW, queues, timers (the rest of the core)", /^assembly\//],
  ["garbage collector", /^\(garbage collector\)$/],
];
const OTHER = "event loop and other JS (pump, delivery, copies, timers)";

/** Idle this long in a row (its link checks wake it every 200 ms), the daemon has started: what came before (module loading, the first dump of the kernel's table) is no entry's cost. */
const STARTED_IDLE_US = 100_000;

export function splitProfile(p: Profile): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n.callFrame.functionName]));
  const us = new Map<string, number>();
  let idleRun = 0, started = false;
  p.samples.forEach((id, i) => {
    const name = byId.get(id) ?? "";
    if (name === "(idle)") {
      idleRun += p.timeDeltas[i] ?? 0;
      if (idleRun >= STARTED_IDLE_US) started = true;
      return;
    }
    idleRun = 0;
    if (!started) return;
    const stage = STAGES.find(([, re]) => re.test(name))?.[0] ?? OTHER;
    us.set(stage, (us.get(stage) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return us;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, entries] = process.argv.slice(2);
  const n = Number(entries ?? 1_000_000);
  const us = splitProfile(JSON.parse(readFileSync(file, "utf8")) as Profile);
  const busy = [...us.values()].reduce((a, b) => a + b, 0);
  for (const [stage, t] of [...us].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${stage} | ${(t / n).toFixed(2)} | ${((100 * t) / busy).toFixed(0)}% |`);
  }
  console.log(`| all (not idle) | ${(busy / n).toFixed(2)} | 100% |`);
}
