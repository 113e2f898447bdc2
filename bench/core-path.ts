// The CPU a replicated entry costs inside the core, with neither the kernel
// nor the link: N new-conntrack events, in batches of 64 as the primary reads
// them, through engineKernel (decode, internal cache, sync messages into the
// outbox) and engineXmit; the datagrams into a second core's engineRx
// (decode, external cache) and its acknowledgements back. The same flows as
// bench/injector.ts, FTFW, HashSize N/2 as in the suite. Steadier than the
// cluster's CPU figures, which the kernel and the scheduler blur: use it to
// judge a change to the core's hot path: --wasm old.wasm,build/ctsync.wasm
// runs two builds' rounds alternately in one process.
//   node --import tsx bench/core-path.ts [N] [rounds] [--wasm a.wasm,b.wasm]
import { loadCore, WASM_PATH, type Core } from "../host/core.ts";
import { loadBatcher } from "./injector.ts";
import { hashSizeFor } from "./cluster.ts";
import { formatTable, type Row } from "./table.ts";

const BATCH = 64;

function engine(n: number, now: number, wasm: string): Core {
  const core = loadCore(wasm);
  core.fn.engineInit(core.k("MODE_FTFW"), hashSizeFor(n), 2 * n, 300, 131072, 60, 180, 1, 5000, now);
  return core;
}

/** The N events, a batch of 64 kernel messages to an array (built once, outside the timing). */
function events(core: Core, n: number): Uint8Array[] {
  const batchOf = loadBatcher(core);
  const batches: Uint8Array[] = [];
  for (let i = 0; i < n; i += BATCH) batches.push(batchOf(i, Math.min(n, i + BATCH)).slice());
  return batches;
}

/** Moves every datagram `from` has queued into `to`. */
function deliver(from: Core, to: Core): void {
  for (let more = 1; more; ) {
    more = from.fn.engineXmit();
    from.drainOutbox((d) => {
      to.bytes.set(d, to.fn.rxPtr());
      to.fn.engineRx(d.length);
    });
  }
}

interface PathTimes { primaryNs: number; backupNs: number }

function round(n: number, wasm: string): PathTimes {
  const now = Date.now();
  const a = engine(n, now, wasm), b = engine(n, now, wasm);
  for (let i = 0; i < 3; i++) { // FTFW greets before it syncs
    a.fn.handleTimeout(now + 1000 * (i + 1)); b.fn.handleTimeout(now + 1000 * (i + 1));
    deliver(a, b); deliver(b, a);
  }
  const batches = events(a, n);
  const keep = a.k("DUMP_KEEP");
  let primary = 0n, backup = 0n;
  for (const batch of batches) {
    a.bytes.set(batch, a.fn.nlPtr());
    const t0 = process.hrtime.bigint();
    a.fn.engineKernel(batch.length, keep);
    const datagrams: Uint8Array[] = [];
    for (let more = 1; more; ) {
      more = a.fn.engineXmit();
      datagrams.push(...a.takeOutbox());
    }
    const t1 = process.hrtime.bigint();
    for (const d of datagrams) {
      b.bytes.set(d, b.fn.rxPtr());
      b.fn.engineRx(d.length);
    }
    const t2 = process.hrtime.bigint();
    deliver(b, a); // acknowledgements: the primary's resend queue empties as in the daemon
    const t3 = process.hrtime.bigint();
    primary += t1 - t0 + (t3 - t2);
    backup += t2 - t1;
  }
  const held = b.fn.cacheCount(b.k("CACHE_EXTERNAL_CT"));
  if (held !== n) throw new Error(`core-path: the backup holds ${held} of ${n} entries`);
  return { primaryNs: Number(primary) / n, backupNs: Number(backup) / n };
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];

/** Rows per build: the median and the fastest of `rounds`, the builds' rounds alternating. */
export function corePathRows(n: number, rounds: number, builds: string[] = [WASM_PATH]): Row[] {
  const runs = builds.map(() => [] as PathTimes[]);
  for (let r = 0; r < rounds; r++) builds.forEach((wasm, i) => runs[i].push(round(n, wasm)));
  return builds.flatMap((wasm, i) => {
    const tag = builds.length > 1 ? `${wasm}: ` : "";
    const row = (path: string, ns: number[]) => ({ path: tag + path, "ns/entry, median": median(ns), "fastest": Math.min(...ns) });
    return [
      row("primary: events -> internal cache -> datagrams (+ acks)", runs[i].map((t) => t.primaryNs)),
      row("backup: datagrams -> external cache", runs[i].map((t) => t.backupNs)),
    ];
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const w = args.indexOf("--wasm");
  const builds = w >= 0 ? args.splice(w, 2)[1].split(",") : [WASM_PATH];
  const n = Number(args[0] ?? 100000), rounds = Number(args[1] ?? 5);
  console.log(`The core's path per entry, N=${n.toLocaleString("en-US")}, ${rounds} rounds (bench/core-path.ts)`);
  console.log(formatTable(corePathRows(n, rounds, builds)));
}
