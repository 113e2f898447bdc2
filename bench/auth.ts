// What authentication costs (Sync { Authenticate }, assembly/auth.ts): CPU
// per replicated entry on the primary and the backup, ctsyncd with and
// without it, FTFW over UDP, N new conntracks injected at a fixed rate; the
// two variants alternate round by round, medians reported.
//
//   npm run bench -- --auth-only [--n 100000] [--rounds 3] [--rate 150000]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BenchCluster, injectIn, cpuSeconds, sleep, until } from "./cluster.ts";
import type { Row } from "./table.ts";

interface Sample { primary: number; backup: number }

/** One round: CPU µs per entry on each node while N entries replicate. */
async function round(auth: boolean, n: number, rate: number): Promise<Sample> {
  const c = new BenchCluster("FTFW", n);
  try {
    if (auth) {
      const key = join(c.dir, "sync.key");
      writeFileSync(key, `1 ${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
      for (const node of ["a", "b"] as const) {
        const conf = readFileSync(c.conf(node), "utf8").replace("\tOptions { ExpectationSync Off }\n",
          `\tOptions { ExpectationSync Off }\n\tAuthenticate { KeyFile ${key} }\n`);
        writeFileSync(c.conf(node), conf);
      }
    }
    await Promise.all([c.start("a", "ctsyncd"), c.start("b", "ctsyncd")]);
    await sleep(1500);
    const pa = c.daemons.a!.pid, pb = c.daemons.b!.pid;
    const a0 = cpuSeconds(pa), b0 = cpuSeconds(pb);
    const inj = await injectIn(c.ns.a, n, 0, rate);
    if (inj.failed > 0) throw new Error(`injector: ${inj.failed} creates failed`);
    await until(async () => (await c.active("b", "external")) >= n, 60_000 + n / 5, 100, "b's external cache holds N");
    await sleep(1000);
    return { primary: ((cpuSeconds(pa) - a0) / n) * 1e6, backup: ((cpuSeconds(pb) - b0) / n) * 1e6 };
  } finally {
    await c.destroy();
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

export async function authRows(o: { n: number; rounds: number; rate: number; progress: (m: string) => void }): Promise<Row[]> {
  const plain: Sample[] = [], auth: Sample[] = [];
  for (let r = 0; r < o.rounds; r++) {
    for (const on of r % 2 ? [true, false] : [false, true]) {
      o.progress(`authentication cost: round ${r + 1}/${o.rounds}, ${on ? "with" : "without"} Authenticate`);
      (on ? auth : plain).push(await round(on, o.n, o.rate));
    }
  }
  const row = (measure: string, pick: (s: Sample) => number): Row => {
    const without = median(plain.map(pick)), withAuth = median(auth.map(pick));
    return { measure, unit: "µs", "without auth": without, "with auth": withAuth, "with/without": withAuth / without };
  };
  return [
    row("CPU per replicated entry, primary (a)", (s) => s.primary),
    row("CPU per replicated entry, backup (b)", (s) => s.backup),
    row("CPU per replicated entry, both nodes", (s) => s.primary + s.backup),
  ];
}
