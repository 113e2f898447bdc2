// A two-firewall cluster in network namespaces, for the failover stories
// (ftp-story.ts, sip-story.ts). Built from real parts: the kernel's conntrack
// and helpers, nftables, a sync daemon per firewall that is driven only
// through conntrackd's command line, and `conntrack` as the independent witness.
//
//   client 10.77.1.2 --[lan bridge]-- fw1 lan0 10.77.1.11 (+VIP 10.77.1.1)
//                               \---- fw2 lan0 10.77.1.12
//   server 10.77.2.2 --[wan bridge]-- fw1 wan0 10.77.2.11 (+VIP 10.77.2.1)
//                               \---- fw2 wan0 10.77.2.12
//   fw1 sync0 10.77.9.1/30 ---------- fw2 sync0 10.77.9.2/30   (UDP or multicast, port 3780;
//                                                               or a Corosync ring, fw1 node 1, fw2 node 2)
//
// The client and the server route through the VIPs; failover() moves them to
// fw2. Every namespace is named ctd-<run id>-<role>; interfaces are created
// directly inside those namespaces, so nothing touches the host's namespace
// and parallel runs cannot clash. Needs root.
import { run, sleep, type RunResult } from "./proc.ts";
export { run, sleep, type RunResult };
import { fileURLToPath } from "node:url";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { CorosyncRing } from "./corosync.ts";

export type SyncMode = "FTFW" | "NOTRACK" | "ALARM";
export type Transport = "udp" | "multicast" | "corosync";
/** "on" / "off" as in `ExpectationSync On|Off`, or a helper list `ExpectationSync { ftp sip }`. */
export type ExpectationSync = "on" | "off" | string[];
export type FwName = "fw1" | "fw2";
export type Role = "client" | "server" | "lan" | "wan" | FwName;

export interface ClusterOptions {
  mode: SyncMode;
  transport: Transport;
  expectationSync: ExpectationSync;
  /** Daemon command per firewall (argv prefix before `-C conf`). Default: from the environment. */
  daemons?: Partial<Record<FwName, string[]>>;
  /** Helpers to attach on both firewalls, e.g. ftp on tcp/21 (default: ftp only). */
  helpers?: HelperRule[];
  /** Extra forward-chain accept rules for new flows (nft syntax), e.g. `udp dport 5060`. */
  allowNew?: string[];
  /**
   * General { HashSize } (default 32768, as in the manual's example). conntrackd
   * 1.4.7 commits expectations only when the conntrack commit needs more than
   * one step of CommitSteps (default 8192) buckets: with HashSize <= 8192 the
   * `-c` commits the conntracks, never the expectations, and the commit stays
   * "in progress" for good (a later `-f` is ignored).
   */
  hashSize?: number;
  /** Where the VIPs start: on fw1 (default), or nowhere, for a VRRP daemon (keepalived.ts) to place them. */
  vips?: "fw1" | "none";
  /** `DisableExternalCache on` in the Mode block of both firewalls (FTFW, NOTRACK): entries go into the kernel as they arrive. */
  disableExternalCache?: boolean;
  /** Text appended to a firewall's daemon configuration (sections of ctsync's own: ctsyncd only). */
  extraConfig?: Partial<Record<FwName, string>>;
}

export interface HelperRule {
  /** nft ct helper object name */
  name: string;
  /** kernel helper type: "ftp", "sip", "RAS", "Q.931" */
  type: string;
  proto: "tcp" | "udp";
  port: number;
}

export const ADDR = {
  client: "10.77.1.2",
  server: "10.77.2.2",
  lanVip: "10.77.1.1",
  wanVip: "10.77.2.1",
  fw1: { lan: "10.77.1.11", wan: "10.77.2.11", sync: "10.77.9.1" },
  fw2: { lan: "10.77.1.12", wan: "10.77.2.12", sync: "10.77.9.2" },
  mcastGroup: "225.0.0.50",
  syncPort: 3780,
} as const;

export const FTP_HELPER: HelperRule = { name: "ftp-21", type: "ftp", proto: "tcp", port: 21 };



async function must(argv: string[], ns?: string): Promise<string> {
  const r = await run(argv, { ns });
  if (r.code !== 0) {
    throw new Error(`cluster setup: \`${argv.join(" ")}\`${ns ? ` in ${ns}` : ""} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}


/** Split a command line on whitespace (no quoting: paths with spaces are not supported). */
export function splitCommand(s: string): string[] {
  return s.trim().split(/\s+/).filter(Boolean);
}

/**
 * The daemon for each firewall: CTSYNC_E2E_FW1 / CTSYNC_E2E_FW2, else
 * CTSYNC_E2E_DAEMON, else `conntrackd`. E.g.
 * CTSYNC_E2E_FW2=/path/to/another/ctsyncd for a mixed cluster.
 */
/** ctsyncd of this checkout: what the stories run unless told otherwise. */
export const CTSYNCD_BIN = fileURLToPath(new URL("../../bin/ctsyncd", import.meta.url));

export function daemonsFromEnv(env: NodeJS.ProcessEnv = process.env): Record<FwName, string[]> {
  const base = env.CTSYNC_E2E_DAEMON?.trim() || CTSYNCD_BIN;
  return {
    fw1: splitCommand(env.CTSYNC_E2E_FW1?.trim() || base),
    fw2: splitCommand(env.CTSYNC_E2E_FW2?.trim() || base),
  };
}

export function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** What is missing to build a cluster here (empty when everything is in place). */
export async function missingTools(daemons = daemonsFromEnv()): Promise<string[]> {
  const missing: string[] = [];
  if (!isRoot()) missing.push("root (network namespaces)");
  for (const tool of ["ip", "nft", "conntrack", "python3", daemons.fw1[0], daemons.fw2[0]]) {
    const r = await run(["sh", "-c", `command -v "${tool}"`]);
    if (r.code !== 0 && !missing.includes(tool)) missing.push(tool);
  }
  return missing;
}

interface Daemon {
  proc: ChildProcess;
  output: string;
  exited: { code: number | null; signal: string | null } | null;
}

export class Cluster {
  /** Clusters built and not yet destroyed, for a last-resort after() hook. */
  static readonly live = new Set<Cluster>();

  /** Destroy every cluster this process still has (tests call it in after()). */
  static async destroyAll(): Promise<void> {
    for (const c of [...Cluster.live]) await c.destroy();
  }

  readonly id: string;
  readonly dir: string;
  readonly opts: ClusterOptions;
  readonly daemons: Record<FwName, string[]>;
  readonly ns: Record<Role, string>;
  private readonly procs = new Map<string, Daemon>();
  private destroyed = false;
  /** transport "corosync": the ring of fw1 (node 1) and fw2 (node 2) over sync0. */
  ring: CorosyncRing | null = null;

  private constructor(id: string, dir: string, opts: ClusterOptions) {
    this.id = id;
    this.dir = dir;
    this.opts = opts;
    const env = daemonsFromEnv();
    this.daemons = { fw1: opts.daemons?.fw1 ?? env.fw1, fw2: opts.daemons?.fw2 ?? env.fw2 };
    const p = `ctd-${id}-`;
    this.ns = { client: `${p}cl`, server: `${p}sv`, lan: `${p}lan`, wan: `${p}wan`, fw1: `${p}fw1`, fw2: `${p}fw2` };
  }

  /** Build the namespaces, links, addresses, routes, nftables and daemon configs (daemons not started). */
  static async create(opts: ClusterOptions): Promise<Cluster> {
    const id = `${process.pid.toString(36)}${randomBytes(2).toString("hex")}`;
    const dir = await mkdtemp(join(tmpdir(), `ctd-${id}-`));
    const c = new Cluster(id, dir, opts);
    Cluster.live.add(c);
    try {
      await c.build();
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  conf(fw: FwName): string {
    return join(this.dir, `${fw}.conf`);
  }

  logFile(fw: FwName): string {
    return join(this.dir, `${fw}.log`);
  }

  private async build(): Promise<void> {
    const { ns } = this;
    for (const n of Object.values(ns)) await must(["ip", "netns", "add", n]);
    for (const n of Object.values(ns)) {
      await must(["ip", "link", "set", "lo", "up"], n);
      // no IPv6: no DAD delays, no ND/MLD noise in the conntrack tables
      await must(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"], n);
    }
    // two segments, each a bridge in its own namespace with one veth per host
    for (const [seg, host, hostIf] of [["lan", "client", "eth0"], ["wan", "server", "eth0"]] as const) {
      const b = ns[seg];
      await must(["ip", "link", "add", "br0", "type", "bridge"], b);
      await must(["ip", "link", "set", "br0", "up"], b);
      const ports: [string, string, string][] = [["p-host", ns[host], hostIf], ["p-fw1", ns.fw1, `${seg}0`], ["p-fw2", ns.fw2, `${seg}0`]];
      for (const [port, peerNs, peerIf] of ports) {
        await must(["ip", "link", "add", port, "type", "veth", "peer", "name", peerIf, "netns", peerNs], b);
        await must(["ip", "link", "set", port, "master", "br0", "up"], b);
        await must(["ip", "link", "set", peerIf, "up"], peerNs);
      }
    }
    // the dedicated sync link
    await must(["ip", "link", "add", "sync0", "type", "veth", "peer", "name", "sync0", "netns", ns.fw2], ns.fw1);
    for (const fw of ["fw1", "fw2"] as const) {
      const a = ADDR[fw];
      await must(["ip", "link", "set", "sync0", "up"], ns[fw]);
      await must(["ip", "addr", "add", `${a.sync}/30`, "dev", "sync0"], ns[fw]);
      await must(["ip", "addr", "add", `${a.lan}/24`, "dev", "lan0"], ns[fw]);
      await must(["ip", "addr", "add", `${a.wan}/24`, "dev", "wan0"], ns[fw]);
      await must(["sysctl", "-qw", "net.ipv4.ip_forward=1"], ns[fw]);
      await writeFile(join(this.dir, `${fw}.nft`), this.nftRuleset());
      await must(["nft", "-f", join(this.dir, `${fw}.nft`)], ns[fw]);
      // no mid-stream pickup: fw2 can only know a flow through synchronization
      await must(["sysctl", "-qw", "net.netfilter.nf_conntrack_tcp_loose=0"], ns[fw]);
      await writeFile(this.conf(fw), this.daemonConfig(fw));
    }
    // the VIPs start on fw1, unless a VRRP daemon will place them
    if ((this.opts.vips ?? "fw1") === "fw1") {
      await must(["ip", "addr", "add", `${ADDR.lanVip}/24`, "dev", "lan0"], ns.fw1);
      await must(["ip", "addr", "add", `${ADDR.wanVip}/24`, "dev", "wan0"], ns.fw1);
    }
    await must(["ip", "addr", "add", `${ADDR.client}/24`, "dev", "eth0"], ns.client);
    await must(["ip", "route", "add", "default", "via", ADDR.lanVip], ns.client);
    await must(["ip", "addr", "add", `${ADDR.server}/24`, "dev", "eth0"], ns.server);
    await must(["ip", "route", "add", "default", "via", ADDR.wanVip], ns.server);
    if (this.opts.transport === "corosync") {
      this.ring = new CorosyncRing(`ctd-${this.id}`, [
        { ns: ns.fw1, addr: ADDR.fw1.sync, nodeid: 1 }, { ns: ns.fw2, addr: ADDR.fw2.sync, nodeid: 2 },
      ], this.dir);
      await this.ring.start();
    }
  }

  /** The manual's rule set, in nftables: forward policy drop, established/related, new SYNs to the helper ports. */
  nftRuleset(): string {
    const helpers = this.opts.helpers ?? [FTP_HELPER];
    const objs = helpers.map((h) => `  ct helper ${h.name} {\n    type "${h.type}" protocol ${h.proto}\n    l3proto ip\n  }`).join("\n");
    const attach = helpers.map((h) => `    ${h.proto} dport ${h.port} ct helper set "${h.name}"`).join("\n");
    const allow = (this.opts.allowNew ?? []).map((r) => `    iifname "lan0" oifname "wan0" ${r} ct state new accept`).join("\n");
    return `# generated by test/support/cluster.ts
table inet ctsync_fw {
${objs}
  # the sync link's own traffic never becomes a conntrack
  chain raw_pre {
    type filter hook prerouting priority raw; policy accept;
    iifname "sync0" notrack
  }
  chain raw_out {
    type filter hook output priority raw; policy accept;
    oifname "sync0" notrack
  }
  # modern kernels never assign helpers automatically
  chain pre {
    type filter hook prerouting priority filter; policy accept;
${attach}
  }
  chain forward {
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
    # packets the conntrack could not place (a mid-stream TCP segment of a flow this kernel does not know)
    ct state invalid counter comment "fwd-invalid"
    iifname "lan0" oifname "wan0" tcp dport 21 tcp flags & (fin|syn|rst|ack) == syn ct state new accept
${allow}
    counter drop comment "fwd-drop"
  }
}
`;
  }

  daemonConfig(fw: FwName): string {
    const me = ADDR[fw];
    const peer = ADDR[fw === "fw1" ? "fw2" : "fw1"];
    const { mode, transport, expectationSync } = this.opts;
    const noExternal = this.opts.disableExternalCache ? "on" : "off";
    const modeBlock =
      mode === "FTFW" ? `Mode FTFW {\n\t\tResendQueueSize 131072${this.opts.disableExternalCache ? "\n\t\tDisableExternalCache on" : ""}\n\t}`
      : mode === "NOTRACK" ? `Mode NOTRACK {\n\t\tDisableExternalCache ${noExternal}\n\t}`
      : "Mode ALARM {\n\t\tRefreshTime 5\n\t\tCacheTimeout 30\n\t}";
    const channel = transport === "corosync" ? "Corosync {\n\t\tGroup ctsync\n\t}"
      : transport === "udp"
      ? `UDP {\n\t\tIPv4_address ${me.sync}\n\t\tIPv4_Destination_Address ${peer.sync}\n\t\tPort ${ADDR.syncPort}\n\t\tInterface sync0\n\t\tChecksum on\n\t}`
      : `Multicast {\n\t\tIPv4_address ${ADDR.mcastGroup}\n\t\tGroup ${ADDR.syncPort}\n\t\tIPv4_interface ${me.sync}\n\t\tInterface sync0\n\t\tChecksum on\n\t}`;
    const exp = Array.isArray(expectationSync)
      ? `ExpectationSync {\n\t\t\t${expectationSync.join("\n\t\t\t")}\n\t\t}`
      : `ExpectationSync ${expectationSync === "on" ? "On" : "Off"}`;
    const ignore = ["127.0.0.1", me.sync, peer.sync, me.lan, me.wan, peer.lan, peer.wan, ADDR.lanVip, ADDR.wanVip];
    return `# generated by test/support/cluster.ts (${fw}, run ${this.id})
Sync {
	${modeBlock}
	${channel}
	Options {
		${exp}
	}
}
General {
	Systemd off
	HashSize ${this.opts.hashSize ?? 32768}
	HashLimit 65536
	LogFile ${this.logFile(fw)}
	Syslog off
	LockFile ${join(this.dir, `${fw}.lock`)}
	UNIX {
		Path ${join(this.dir, `${fw}.ctl`)}
	}
	NetlinkBufferSize 2097152
	NetlinkBufferSizeMaxGrowth 8388608
	Filter From Userspace {
		Address Ignore {
${ignore.map((a) => `\t\t\tIPv4_address ${a}`).join("\n")}
		}
	}
}
${this.opts.extraConfig?.[fw] ?? ""}`;
  }

  /** Start fw's daemon in the foreground (we own its PID) and wait until its control socket answers. */
  async startDaemon(fw: FwName, timeoutMs = 10_000): Promise<void> {
    const argv = [...this.daemons[fw], "-C", this.conf(fw)];
    const proc = spawn("ip", ["netns", "exec", this.ns[fw], ...argv], { stdio: ["ignore", "pipe", "pipe"] });
    const d: Daemon = { proc, output: "", exited: null };
    proc.stdout!.on("data", (b: Buffer) => { d.output += b.toString(); });
    proc.stderr!.on("data", (b: Buffer) => { d.output += b.toString(); });
    proc.on("exit", (code, signal) => { d.exited = { code, signal }; });
    proc.on("error", (e) => { d.output += `spawn error: ${e.message}\n`; d.exited = { code: 127, signal: null }; });
    this.procs.set(`daemon-${fw}`, d);
    const deadline = Date.now() + timeoutMs;
    let last: RunResult | null = null;
    while (Date.now() < deadline) {
      if (d.exited) break;
      last = await this.ctl(fw, ["-i", "ct"], 2000);
      if (last.code === 0) return;
      await sleep(100);
    }
    throw new Error(`${fw}: daemon \`${argv.join(" ")}\` did not come up within ${timeoutMs} ms` +
      (d.exited ? ` (exited: code ${d.exited.code}, signal ${d.exited.signal})` : "") +
      `\n  its output: ${d.output.trim() || "(none)"}` +
      (last ? `\n  last \`-i ct\`: ${(last.stderr || last.stdout).trim()}` : "") +
      `\n  its log: ${(await this.readLog(fw)).trim() || "(empty)"}`);
  }

  /** The daemon's command line against its config: `<daemon> -C fwN.conf <args>`, run in fw's namespace. */
  ctl(fw: FwName, args: string[], timeoutMs = 10_000): Promise<RunResult> {
    return run([...this.daemons[fw], "-C", this.conf(fw), ...args], { ns: this.ns[fw], timeoutMs });
  }

  daemonOutput(fw: FwName): string {
    return this.procs.get(`daemon-${fw}`)?.output ?? "";
  }

  daemonAlive(fw: FwName): boolean {
    const d = this.procs.get(`daemon-${fw}`);
    return !!d && !d.exited;
  }

  async readLog(fw: FwName): Promise<string> {
    return existsSync(this.logFile(fw)) ? readFile(this.logFile(fw), "utf8") : "";
  }

  /** Kill fw's daemon the hard way (a crash: no goodbye to the peer). */
  async crashDaemon(fw: FwName): Promise<void> {
    await this.stopProc(`daemon-${fw}`, "SIGKILL");
  }

  /**
   * fw1 fails: its daemon dies, its segment links go down, the VIPs move to
   * fw2, which announces them with gratuitous ARP. Neighbour caches in the
   * client and server are flushed too, because the kernel ignores an ARP
   * update that comes within `locktime` (1 s) of the previous one.
   */
  async failover(): Promise<{ arping: string }> {
    const { ns } = this;
    await this.crashDaemon("fw1");
    await must(["ip", "addr", "del", `${ADDR.lanVip}/24`, "dev", "lan0"], ns.fw1);
    await must(["ip", "addr", "del", `${ADDR.wanVip}/24`, "dev", "wan0"], ns.fw1);
    await must(["ip", "link", "set", "lan0", "down"], ns.fw1);
    await must(["ip", "link", "set", "wan0", "down"], ns.fw1);
    await must(["ip", "addr", "add", `${ADDR.lanVip}/24`, "dev", "lan0"], ns.fw2);
    await must(["ip", "addr", "add", `${ADDR.wanVip}/24`, "dev", "wan0"], ns.fw2);
    let arping = "not installed (neighbour caches flushed instead)";
    const have = await run(["sh", "-c", "command -v arping"]);
    if (have.code === 0) {
      const r = await Promise.all([
        run(["arping", "-U", "-c", "1", "-w", "1", "-I", "lan0", ADDR.lanVip], { ns: ns.fw2, timeoutMs: 3000 }),
        run(["arping", "-U", "-c", "1", "-w", "1", "-I", "wan0", ADDR.wanVip], { ns: ns.fw2, timeoutMs: 3000 }),
      ]);
      arping = r.every((x) => x.code === 0 || x.code === 1) ? "gratuitous ARP sent for both VIPs" : `arping failed: ${r.map((x) => x.stderr.trim()).join("; ")}`;
    }
    await must(["ip", "neigh", "flush", "all"], ns.client);
    await must(["ip", "neigh", "flush", "all"], ns.server);
    return { arping };
  }

  /** A helper process (endpoint) inside a namespace; killed by destroy(). */
  spawnIn(role: Role, key: string, argv: string[]): ChildProcess {
    const proc = spawn("ip", ["netns", "exec", this.ns[role], ...argv], { stdio: ["pipe", "pipe", "pipe"] });
    const d: Daemon = { proc, output: "", exited: null };
    proc.stderr!.on("data", (b: Buffer) => { d.output += b.toString(); });
    proc.on("exit", (code, signal) => { d.exited = { code, signal }; });
    proc.on("error", () => { d.exited = { code: 127, signal: null }; });
    this.procs.set(key, d);
    return proc;
  }

  procStderr(key: string): string {
    return this.procs.get(key)?.output ?? "";
  }

  private async stopProc(key: string, signal: NodeJS.Signals): Promise<void> {
    const d = this.procs.get(key);
    if (!d || d.exited || d.proc.pid === undefined) return;
    const gone = new Promise<void>((r) => d.proc.once("exit", () => r()));
    try { d.proc.kill(signal); } catch { /* already gone */ }
    await Promise.race([gone, sleep(2000)]);
  }

  /** Stop everything we started, delete our namespaces and temp dir. Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    Cluster.live.delete(this);
    // a clean -k first for daemons still alive, so they remove their lock and socket
    for (const fw of ["fw1", "fw2"] as const) {
      if (this.daemonAlive(fw)) await this.ctl(fw, ["-k"], 2000);
    }
    for (const key of this.procs.keys()) await this.stopProc(key, "SIGTERM");
    for (const key of this.procs.keys()) await this.stopProc(key, "SIGKILL");
    await this.ring?.stop();
    for (const n of Object.values(this.ns)) {
      // anything still running inside our own namespaces was started by us
      const pids = await run(["ip", "netns", "pids", n]);
      for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
        try { process.kill(Number(p), "SIGKILL"); } catch { /* gone */ }
      }
      await run(["ip", "netns", "del", n]);
    }
    if (!process.env.CTSYNC_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

/** An endpoint (test/support/*.py) driven over stdin, answering one JSON line per command. */
export class JsonLines {
  private readonly lines: string[] = [];
  private waiter: ((l: string | null) => void) | null = null;
  private closed = false;
  constructor(private readonly proc: ChildProcess) {
    const rl = createInterface({ input: proc.stdout! });
    rl.on("line", (l) => {
      if (this.waiter) { const w = this.waiter; this.waiter = null; w(l); } else this.lines.push(l);
    });
    rl.on("close", () => {
      this.closed = true;
      if (this.waiter) { const w = this.waiter; this.waiter = null; w(null); }
    });
  }
  async next(timeoutMs: number): Promise<Record<string, unknown>> {
    let line = this.lines.shift() ?? null;
    if (line === null) {
      if (this.closed) throw new Error("the endpoint exited");
      line = await new Promise<string | null>((resolve) => {
        const t = setTimeout(() => { this.waiter = null; resolve(null); }, timeoutMs);
        this.waiter = (l) => { clearTimeout(t); resolve(l); };
      });
    }
    if (line === null) throw new Error(this.closed ? "the endpoint exited" : `no answer from the endpoint within ${timeoutMs} ms`);
    return JSON.parse(line) as Record<string, unknown>;
  }
  /** Send a command without waiting for its answer (read it later with next()). */
  write(cmd: string): void {
    this.proc.stdin!.write(`${cmd}\n`);
  }
  async send(cmd: string, timeoutMs = 8000): Promise<Record<string, unknown>> {
    this.write(cmd);
    return this.next(timeoutMs);
  }
}
