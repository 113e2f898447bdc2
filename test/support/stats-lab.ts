// A network namespace for the Stats mode: loopback traffic tracked (nft), two
// UDP flows NATed, accounting and timestamps on, and Stats-mode daemons
// (ctsyncd, conntrackd) each with its own files in a temp directory.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Netns, ROOT } from "./netns.ts";
import { CTSYNCD, until } from "./pair.ts";

const NFT = `
table inet ctstats {
  chain pre { type filter hook prerouting priority -150; ct state new counter; }
  chain out { type filter hook output priority -150; ct state new counter; }
}
table ip ctnat {
  chain out { type nat hook output priority -100; udp dport 5300 dnat to 127.0.0.1:5301; }
  chain post { type nat hook postrouting priority 100; ip daddr 127.0.0.2 udp dport 5302 snat to 127.0.0.3; }
}
`;

export type Program = "ctsyncd" | "conntrackd";

export interface StatsDaemonHandle {
  name: string;
  program: Program;
  dir: string;
  conf: string;
  statsLog: string;
  daemonLog: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
}

export class StatsLab {
  readonly ns: Netns;
  readonly dir = mkdtempSync(join(tmpdir(), "ctstats-"));
  private readonly daemons: StatsDaemonHandle[] = [];

  constructor(tag: string) {
    this.ns = new Netns(tag);
    this.ns.exec("ip", ["addr", "add", "127.0.0.2/8", "dev", "lo"]);
    this.ns.exec("sysctl", ["-q", "-w", "net.netfilter.nf_conntrack_acct=1"]);
    this.ns.exec("sysctl", ["-q", "-w", "net.netfilter.nf_conntrack_timestamp=1"]);
    // Events for every conntrack, even one made while no daemon listens: the
    // kernel's default (2) gives a conntrack no event support when nobody
    // listened at its creation, and its destroy would then never be reported
    // (tests inject flows first and start the daemon that logs them after).
    this.ns.exec("sysctl", ["-q", "-w", "net.netfilter.nf_conntrack_events=1"]);
    const r = spawnSync("ip", ["netns", "exec", this.ns.name, "nft", "-f", "-"], { input: NFT, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`nft: ${r.stderr}`);
  }

  /**
   * Writes a Stats configuration for `name`; `stats` and `general` are extra
   * lines of each section. With `sync`, a Sync section of those lines takes
   * the Stats section's place (a sync daemon watching the same flows).
   */
  config(name: string, stats = "", general = "", sync?: string): { conf: string; statsLog: string; daemonLog: string; dir: string } {
    const dir = join(this.dir, name);
    spawnSync("mkdir", ["-p", dir]);
    const statsLog = join(dir, "stats.log");
    const daemonLog = join(dir, "daemon.log");
    const conf = join(dir, "conntrackd.conf");
    const first = sync === undefined ? `Stats {\n\tLogFile ${statsLog}\n\t${stats}\n}` : `Sync {\n\t${sync}\n}`;
    writeFileSync(conf, `${first}
General {
	LockFile ${join(dir, "lock")}
	LogFile ${daemonLog}
	UNIX { Path ${join(dir, "ctl")} }
	Filter From Userspace {
		Address Ignore { IPv4_address 127.0.0.9 }
	}
	${general}
}
`);
    return { conf, statsLog, daemonLog, dir };
  }

  /** Starts a daemon in the foreground in the namespace; resolves once its control socket answers. */
  async start(name: string, program: Program, stats = "", general = "", sync?: string): Promise<StatsDaemonHandle> {
    const c = this.config(name, stats, general, sync);
    const argv = program === "ctsyncd" ? [CTSYNCD, "-C", c.conf] : ["conntrackd", "-C", c.conf];
    const proc = spawn("ip", ["netns", "exec", this.ns.name, ...argv], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    const h: StatsDaemonHandle = { name, program, ...c, proc, exited };
    this.daemons.push(h);
    const up = await until(() => existsSync(join(c.dir, "ctl")) && this.ctl(h, "-s").status === 0, 15000);
    if (!up) throw new Error(`${program} did not start: ${stderr}`);
    return h;
  }

  /** A client command through the daemon's own program. */
  ctl(h: StatsDaemonHandle, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const argv = h.program === "ctsyncd" ? [CTSYNCD, "-C", h.conf, ...args] : ["conntrackd", "-C", h.conf, ...args];
    const r = spawnSync("ip", ["netns", "exec", this.ns.name, ...argv], { cwd: ROOT, encoding: "utf8", timeout: 20000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  sh(...argv: string[]): string {
    return this.ns.exec(argv[0], argv.slice(1));
  }

  /** Loopback flows of test/fixtures/capture/flows.py: v4, v6, nat, ignored. */
  flows(...which: string[]): void {
    for (const w of which) this.sh("python3", join(ROOT, "test/fixtures/capture/flows.py"), w);
  }

  /** Conntracks made with bench/injector.ts (batched ctnetlink creates). */
  inject(count: number, base = 0): void {
    this.sh(process.execPath, "--import", "tsx", join(ROOT, "bench/injector.ts"), String(count), String(base));
  }

  static lines(path: string): string[] {
    return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter((l) => l) : [];
  }

  async stop(h: StatsDaemonHandle): Promise<number | null> {
    if (h.proc.exitCode === null) h.proc.kill("SIGTERM");
    return h.exited;
  }

  async close(): Promise<void> {
    for (const h of this.daemons) {
      if (h.proc.exitCode === null && h.proc.signalCode === null) {
        h.proc.kill("SIGTERM");
        await Promise.race([h.exited, new Promise((r) => setTimeout(r, 3000))]);
        if (h.proc.exitCode === null) h.proc.kill("SIGKILL");
      }
    }
    this.ns.delete();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
