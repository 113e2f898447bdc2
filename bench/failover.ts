// The failover path, keepalived for real: ctsyncd against conntrackd over
// several failovers each, in fresh network namespaces every time (the
// cluster of test/support/keepalived.ts: fw1 and fw2 elected by Debian's
// keepalived 2.2 over VRRPv3, TCP connections (50 by default) each sending
// 64 bytes every 10 ms both ways through the VIPs, an FTP control connection
// in passive mode). fw1
// fails like a firewall losing power (keepalived and the daemon killed, its
// links down) and the bench reports, per configuration:
//
//   - failure -> both VIPs up on fw2 (`ip monitor address` in fw2)
//   - failure -> the transition's start (the script's first client call, or
//     the moment ctsyncd read keepalived's FIFO line)
//   - transition start -> commit done (the end of `-c`, or the in-process commit)
//   - transition start -> its end (the end of `-B`)
//   - the TCP stream's longest stall (largest gap between received bytes)
//   - packets fw2's forward chain found `ct state invalid` (a packet of a
//     synchronized flow that met fw2 before fw2 had its state)
//   - whether the announced FTP data connection opened through fw2
//
// Configurations: primary-backup.sh (Debian's, only its settings changed) for
// both daemons; the same with DisableExternalCache (entries go into fw2's
// kernel as they arrive, the commit has nothing left to do); and ctsyncd
// reading keepalived's notify FIFO itself (its Keepalived section), no
// process started, with and without DisableExternalCache.
//
//   npx tsx bench/failover.ts [--rounds 5] [--flows 50] [--advert 0.5] [--json] [--only ctsyncd-fifo,...]
//   (or npm run bench:failover -- --rounds 5)
//
// Prints the table (medians, and the range over the rounds) and writes it to
// bench/results/failover.txt and failover.json. Needs root, keepalived,
// conntrackd, conntrack, nft, python3.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CTSYNCD_BIN } from "../test/support/cluster.ts";
import { ROOT } from "../test/support/proc.ts";
import { KeepalivedCluster, type FailoverObservation, type KeepalivedOptions } from "../test/support/keepalived.ts";
import { formatTable, type Row } from "./table.ts";

interface Variant {
  key: string;
  label: string;
  opts: Omit<KeepalivedOptions, "advertInt">;
}

export const VARIANTS: Variant[] = [
  { key: "ctsyncd-script", label: "ctsyncd, primary-backup.sh", opts: { daemon: [CTSYNCD_BIN] } },
  { key: "conntrackd-script", label: "conntrackd, primary-backup.sh", opts: { daemon: ["conntrackd"] } },
  { key: "ctsyncd-noext", label: "ctsyncd, DisableExternalCache", opts: { daemon: [CTSYNCD_BIN], disableExternalCache: true } },
  { key: "conntrackd-noext", label: "conntrackd, DisableExternalCache", opts: { daemon: ["conntrackd"], disableExternalCache: true } },
  { key: "ctsyncd-fifo", label: "ctsyncd, notify FIFO in-process", opts: { daemon: [CTSYNCD_BIN], notify: "fifo" } },
  { key: "ctsyncd-fifo-noext", label: "ctsyncd, FIFO + DisableExternalCache", opts: { daemon: [CTSYNCD_BIN], notify: "fifo", disableExternalCache: true } },
];

const MEASURES: [string, string, (o: FailoverObservation) => number | null][] = [
  ["failure -> VIPs up on fw2", "ms", (o) => o.vipsUpMs],
  ["failure -> transition starts", "ms", (o) => o.transition?.startMs ?? null],
  ["transition start -> commit done", "ms", (o) => o.transition ? o.transition.commitDoneMs - o.transition.startMs : null],
  ["transition start -> its end", "ms", (o) => o.transition ? o.transition.endMs - o.transition.startMs : null],
  ["VIPs up -> commit done", "ms", (o) => o.transition && o.vipsUpMs !== null ? o.transition.commitDoneMs - o.vipsUpMs : null],
  ["longest stall of a TCP connection", "ms", (o) => o.stream.error ? null : o.stream.maxGapMs],
  ["TCP connections reset or silent after the failover", "connections", (o) => o.stream.errors + o.stream.silentFlows],
  ["ct state invalid on fw2 (a synced flow met fw2 without its state)", "packets", (o) => o.invalid],
  ["FTP data connection through fw2 opened", "yes=1", (o) => (o.ftp.data.ok ? 1 : 0)],
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : Number.isInteger(v) ? String(v) : v.toFixed(1));

export async function runFailoverBench(opts: { rounds: number; advertInt: number; flows: number; only?: string[]; progress?: (m: string) => void }) {
  const variants = VARIANTS.filter((v) => !opts.only || opts.only.includes(v.key));
  const samples: Record<string, (FailoverObservation | { failed: string })[]> = Object.fromEntries(variants.map((v) => [v.key, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    // alternate the order, so no variant always runs first on a freshly loaded machine
    const order = round % 2 ? variants : [...variants].reverse();
    for (const v of order) {
      opts.progress?.(`round ${round}/${opts.rounds}: ${v.label}`);
      const k = await KeepalivedCluster.create({ ...v.opts, advertInt: opts.advertInt, flows: opts.flows });
      try {
        samples[v.key].push(await k.failover());
      } catch (e) {
        samples[v.key].push({ failed: (e as Error).message.split("\n")[0].slice(0, 200) });
      } finally {
        await k.destroy();
      }
    }
  }
  const rows: Row[] = MEASURES.map(([label, unit, get]) => {
    const row: Row = { measure: label, unit };
    for (const v of variants) {
      const xs = samples[v.key].flatMap((s) => ("failed" in s ? [] : [get(s)])).filter((x): x is number => x !== null && Number.isFinite(x));
      const failed = samples[v.key].filter((s) => "failed" in s).length;
      if (!xs.length) { row[v.label] = "n/a"; continue; }
      if (unit === "yes=1") row[v.label] = `${xs.reduce((a, b) => a + b, 0)}/${xs.length}`;
      else if (unit === "packets" || unit === "connections") row[v.label] = `${fmt(median(xs))} (${xs.join(",")})`;
      else row[v.label] = `${fmt(median(xs))} (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})`;
      if (failed) row[v.label] += ` [${failed} failed]`;
    }
    return row;
  });
  return { rows, samples, variants: variants.map((v) => ({ key: v.key, label: v.label })) };
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("bench/failover.ts")) {
  const argv = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = argv.indexOf(name);
    return i < 0 ? dflt : Number(argv[i + 1]);
  };
  const onlyAt = argv.indexOf("--only");
  const rounds = Math.max(1, Math.round(opt("--rounds", 5)));
  const advertInt = opt("--advert", 0.5);
  const flows = Math.max(1, Math.round(opt("--flows", 50)));
  if (process.getuid?.() !== 0) throw new Error("bench/failover.ts needs root (network namespaces)");
  const t0 = Date.now();
  const r = await runFailoverBench({
    rounds, advertInt, flows, only: onlyAt >= 0 ? argv[onlyAt + 1].split(",") : undefined,
    progress: (m) => process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s ${m}\n`),
  });
  const text = [
    `keepalived failover, ${rounds} failover(s) per configuration, fresh namespaces each; VRRPv3 advert_int ${advertInt} s; `
      + `${flows} TCP connection(s) through the VIPs, 64 bytes every 10 ms each way on each; `
      + "FTFW over UDP; median (min-max) over the failovers, times in ms from fw1's failure unless said; "
      + "`npx tsx bench/failover.ts" + (argv.length ? ` ${argv.join(" ")}` : "") + "`",
    formatTable(r.rows),
    "",
  ].join("\n");
  const dir = join(ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "failover.txt"), text);
  writeFileSync(join(dir, "failover.json"), JSON.stringify({ date: new Date().toISOString(), rounds, advertInt, flows, ...r }, null, 2) + "\n");
  console.log(argv.includes("--json") ? JSON.stringify(r, null, 2) : text);
}
