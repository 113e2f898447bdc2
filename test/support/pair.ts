// Two nodes in network namespaces joined by a veth sync link, each with a
// generated conntrackd.conf; daemons started and stopped by PID. Used by the
// daemon's end-to-end tests.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, ROOT } from "./netns.ts";

export const CTSYNCD = join(ROOT, "bin/ctsyncd");

export interface PairOptions {
  mode?: "FTFW" | "NOTRACK" | "ALARM";
  expectationSync?: boolean;
  extraGeneral?: string;
  /** Lines inside the Mode block, e.g. "DisableExternalCache on". */
  modeOptions?: string;
  /** Whole sections after General, e.g. ctsync's API section. */
  extraSections?: string;
  /** NetlinkBufferSize and NetlinkBufferSizeMaxGrowth (default 2 MiB and 8 MiB); null: neither line, the daemon's default. */
  netlinkBuffer?: [number, number] | null;
  /** The dedicated link's kind. Default UDP. */
  transport?: "UDP" | "TCP";
  /**
   * General { HashSize } (default 8192). conntrackd 1.4.7's commit never
   * finishes with HashSize <= 8192 (see ClusterOptions.hashSize in cluster.ts):
   * a test that drives conntrackd through -c and then -f needs more.
   */
  hashSize?: number;
}

export interface Side {
  ns: Netns;
  addr: string;
  dev: string;
  conf: string;
  log: string;
  lock: string;
  sock: string;
}

export class Pair {
  readonly dir = mkdtempSync(join(tmpdir(), "ctsync-pair-"));
  readonly a: Side;
  readonly b: Side;

  constructor(tag: string, opts: PairOptions = {}) {
    const nsA = new Netns(`${tag}a`), nsB = new Netns(`${tag}b`);
    const devA = `v${process.pid % 100000}${tag}a`.slice(0, 15), devB = `v${process.pid % 100000}${tag}b`.slice(0, 15);
    execFileSync("ip", ["link", "add", devA, "netns", nsA.name, "type", "veth", "peer", "name", devB, "netns", nsB.name]);
    this.a = this.side(nsA, devA, "10.231.0.1", "10.231.0.2", "a", opts);
    this.b = this.side(nsB, devB, "10.231.0.2", "10.231.0.1", "b", opts);
  }

  private side(ns: Netns, dev: string, addr: string, peer: string, name: string, opts: PairOptions): Side {
    ns.exec("ip", ["addr", "add", `${addr}/24`, "dev", dev]);
    ns.exec("ip", ["link", "set", dev, "up"]);
    const s: Side = {
      ns, addr, dev, conf: join(this.dir, `${name}.conf`), log: join(this.dir, `${name}.log`),
      lock: join(this.dir, `${name}.lock`), sock: join(this.dir, `${name}.sock`),
    };
    writeFileSync(s.conf, `Sync {
\tMode ${opts.mode ?? "FTFW"} { ${opts.modeOptions ?? ""} }
\t${opts.transport ?? "UDP"} Default {
\t\tIPv4_address ${addr}
\t\tIPv4_Destination_Address ${peer}
\t\tPort 3780
\t\tInterface ${dev}
\t}
\tOptions { ExpectationSync ${opts.expectationSync === false ? "Off" : "On"} }
}
General {
\tHashSize ${opts.hashSize ?? 8192}
\tHashLimit 131072
\tLogFile ${s.log}
\tLockFile ${s.lock}
\tUNIX {
\t\tPath ${s.sock}
\t}
${opts.netlinkBuffer === null ? "" : `\tNetlinkBufferSize ${opts.netlinkBuffer?.[0] ?? 2097152}\n\tNetlinkBufferSizeMaxGrowth ${opts.netlinkBuffer?.[1] ?? 8388608}`}
${opts.extraGeneral ?? ""}
}
${opts.extraSections ?? ""}
`);
    return s;
  }

  /** Runs a command in a side's namespace; returns its status and output, never throws. */
  static run(side: Side, cmd: string, args: string[]): { status: number; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", side.ns.name, cmd, ...args], { encoding: "utf8", timeout: 60000 });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  }

  /** ctsyncd with the side's configuration and the given flags. */
  static ctl(side: Side, ...flags: string[]) {
    return Pair.run(side, CTSYNCD, ["-C", side.conf, ...flags]);
  }

  /** Starts ctsyncd in the background (-d) on a side; returns its PID (from the lock file). */
  static start(side: Side): number {
    const r = Pair.ctl(side, "-d");
    if (r.status !== 0) throw new Error(`ctsyncd -d failed (${r.status}): ${r.stderr}`);
    return Number(readFileSync(side.lock, "utf8").trim());
  }

  static logOf(side: Side): string {
    return existsSync(side.log) ? readFileSync(side.log, "utf8") : "";
  }

  /** Kills every process left in a side's namespace (this pair made it: all of them are ours). */
  static killAllIn(side: Side): void {
    const pids = spawnSync("ip", ["netns", "pids", side.ns.name], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split("\n").map(Number).filter((p) => Number.isInteger(p) && p > 0)) {
      try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
    }
  }

  /**
   * Stops every daemon this pair started (by the PID in its lock file, and
   * whatever else still runs in its namespaces: conntrackd writes no PID) and
   * removes everything.
   */
  close(): void {
    for (const s of [this.a, this.b]) {
      if (existsSync(s.lock)) {
        // conntrackd leaves its lock file empty: no PID, and kill(0) would hit our own process group
        const pid = Number(readFileSync(s.lock, "utf8").trim());
        if (Number.isInteger(pid) && pid > 0) try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
      }
      Pair.killAllIn(s);
      s.ns.delete();
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function until(check: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return check();
}
