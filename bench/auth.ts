// What authentication costs (Sync { Authenticate }, assembly/auth.ts): CPU
// per replicated entry on the primary and the backup, ctsyncd without it,
// with HMAC-SHA256 and with XChaCha20-Poly1305, FTFW over UDP, N new
// conntracks injected at a fixed rate; the variants take turns round by
// round, medians reported.
//
//   npm run bench -- --auth-only [--n 100000] [--rounds 3] [--rate 150000]
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { BenchCluster, injectIn, cpuSeconds, sleep, until } from "./cluster.ts";
import type { Row } from "./table.ts";

interface Sample { primary: number; backup: number }

/** One round: CPU µs per entry on each node while N entries replicate. */
type Variant = "none" | "HMAC-SHA256" | "XChaCha20-Poly1305";
const VARIANTS: Variant[] = ["none", "HMAC-SHA256", "XChaCha20-Poly1305"];

async function round(auth: Variant, n: number, rate: number): Promise<Sample> {
  const c = new BenchCluster("FTFW", n);
  try {
    if (auth !== "none") {
      const key = join(c.dir, "sync.key");
      writeFileSync(key, `1 ${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
      for (const node of ["a", "b"] as const) {
        const conf = readFileSync(c.conf(node), "utf8").replace("\tOptions { ExpectationSync Off }\n",
          `\tOptions { ExpectationSync Off }\n\tAuthenticate { KeyFile ${key} Cipher ${auth} }\n`);
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
  const samples = new Map<Variant, Sample[]>(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (let i = 0; i < VARIANTS.length; i++) {
      const v = VARIANTS[(i + r) % VARIANTS.length]; // each variant first in turn
      o.progress(`authentication cost: round ${r + 1}/${o.rounds}, ${v === "none" ? "without Authenticate" : v}`);
      samples.get(v)!.push(await round(v, o.n, o.rate));
    }
  }
  const row = (measure: string, pick: (s: Sample) => number): Row => {
    const [none, hmac, aead] = VARIANTS.map((v) => median(samples.get(v)!.map(pick)));
    return { measure, unit: "µs", "without auth": none, "HMAC-SHA256": hmac, "ratio": hmac / none, "XChaCha20-Poly1305": aead, "ratio ": aead / none };
  };
  return [
    row("CPU per replicated entry, primary (a)", (s) => s.primary),
    row("CPU per replicated entry, backup (b)", (s) => s.backup),
    row("CPU per replicated entry, both nodes", (s) => s.primary + s.backup),
  ];
}
