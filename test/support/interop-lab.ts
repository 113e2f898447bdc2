// A lab of sync nodes in network namespaces for the interoperability tests
// (test/e2e/interop.test.ts): every node is a namespace with one veth,
// `sync0`, plugged into a bridge that lives in a namespace of its own. Each
// node runs either ctsyncd or Debian's real conntrackd 1.4.7, in the
// foreground, so that the test owns its PID. The sync link's own traffic is
// `notrack`ed by nftables, so it never becomes a conntrack to synchronize.
//
//   io-<pid>-<tag>-n1 sync0 10.99.0.1 --+
//   io-<pid>-<tag>-n2 sync0 10.99.0.2 --+-- br0 in io-<pid>-<tag>-br
//   ...                                 |
//   (optional intruder 10.99.0.99) -----+
//
// Namespaces are named io-<test pid>-...; only those are ever deleted, and
// only processes found inside them (which the test started) are killed.
import { run, sleep, type RunResult } from "./proc.ts";
export { run, sleep, type RunResult };
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";



export { ROOT } from "./proc.ts";
import { ROOT } from "./proc.ts";
export const CTSYNCD = [join(ROOT, "bin/ctsyncd")];
export const CONNTRACKD = ["conntrackd"];

export type Impl = "ctsyncd" | "conntrackd";
export type Mode = "NOTRACK" | "ALARM" | "FTFW";
export type Transport = "udp" | "multicast" | "tcp" | "corosync";

export const MCAST_GROUP = "225.0.0.50";
export const SYNC_PORT = 3780;

export interface NodeConfig {
  mode: Mode;
  transport: Transport;
  /** Peer for unicast transports (UDP, TCP): the other node's sync address. */
  peer?: string;
  netlinkBufferSize?: number;
  netlinkBufferMax?: number;
  /** SndSocketBuffer and RcvSocketBuffer of a UDP or multicast link (bytes); the system default when absent. */
  socketBuffer?: number;
  /** ctsyncd only: Sync { Authenticate { KeyFile; Cipher } }. */
  keyFile?: string;
  cipher?: string;
  /** General HashLimit (default 262144). */
  hashLimit?: number;
}

export async function must(argv: string[], ns?: string, timeoutMs?: number): Promise<string> {
  const r = await run(argv, { ns, timeoutMs });
  if (r.code !== 0) throw new Error(`\`${argv.join(" ")}\`${ns ? ` in ${ns}` : ""} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Sends one UDP datagram (hex) from `from` (an address of namespace `ns`) to `to`'s sync port. */
export function sendDatagram(ns: string, from: string, to: string, hex: string): Promise<string> {
  const py = `import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind((sys.argv[1],0))\ns.sendto(bytes.fromhex(sys.argv[3]),(sys.argv[2],${SYNC_PORT}))\n`;
  return must(["python3", "-c", py, from, to, hex], ns);
}

/** What is missing on this machine for the lab (empty when all is there). */
export async function missing(): Promise<string[]> {
  const out: string[] = [];
  if (process.getuid?.() !== 0) out.push("root (network namespaces)");
  for (const t of ["ip", "nft", "tc", "conntrack", "conntrackd", "python3"]) {
    if ((await run(["sh", "-c", `command -v ${t}`])).code !== 0) out.push(t);
  }
  if (!existsSync(join(ROOT, "native/build/Release/ctsync_netlink.node"))) out.push("the netlink addon (npm run build:native)");
  if (!existsSync(join(ROOT, "build/ctsync.wasm"))) out.push("build/ctsync.wasm (npm run build:wasm)");
  return out;
}

export class SyncNode {
  impl: Impl = "ctsyncd";
  proc: ChildProcess | null = null;
  output = "";
  exited: { code: number | null; signal: string | null } | null = null;

  constructor(readonly lab: Lab, readonly index: number, readonly ns: string, readonly addr: string) {}

  get name(): string { return `n${this.index}`; }
  get conf(): string { return join(this.lab.dir, `${this.name}.conf`); }
  get logFile(): string { return join(this.lab.dir, `${this.name}.log`); }
  get argv(): string[] { return this.impl === "ctsyncd" ? CTSYNCD : CONNTRACKD; }

  config(c: NodeConfig): string {
    const mode =
      c.mode === "FTFW" ? "Mode FTFW {\n\t\tResendQueueSize 131072\n\t}"
      : c.mode === "NOTRACK" ? "Mode NOTRACK {\n\t\tDisableExternalCache Off\n\t}"
      : "Mode ALARM {\n\t\tRefreshTime 5\n\t\tCacheTimeout 30\n\t}";
    let channel = c.transport === "corosync" ? "Corosync {\n\t\tGroup ctsync-test\n\t}"
      : c.transport === "multicast"
      ? `Multicast {\n\t\tIPv4_address ${MCAST_GROUP}\n\t\tGroup ${SYNC_PORT}\n\t\tIPv4_interface ${this.addr}\n\t\tInterface sync0\n\t\tChecksum on\n\t}`
      : `${c.transport === "udp" ? "UDP" : "TCP"} {\n\t\tIPv4_address ${this.addr}\n\t\tIPv4_Destination_Address ${c.peer}\n\t\tPort ${SYNC_PORT}\n\t\tInterface sync0\n\t\tChecksum on\n\t}`;
    const buffers = c.socketBuffer && c.transport !== "corosync" && c.transport !== "tcp"
      ? `\n\t\tSndSocketBuffer ${c.socketBuffer}\n\t\tRcvSocketBuffer ${c.socketBuffer}` : "";
    if (buffers) channel = channel.replace(/\n\t}$/, `${buffers}\n\t}`);
    return `# generated by test/support/interop-lab.ts (${this.name} in ${this.ns})
Sync {
	${mode}
	${channel}
	Options {
		ExpectationSync On
	}${c.keyFile ? `\n\tAuthenticate {\n\t\tKeyFile ${c.keyFile}${c.cipher ? `\n\t\tCipher ${c.cipher}` : ""}\n\t}` : ""}
}
General {
	Systemd off
	HashSize 32768
	HashLimit ${c.hashLimit ?? 262144}
	LogFile ${this.logFile}
	Syslog off
	LockFile ${join(this.lab.dir, `${this.name}.lock`)}
	UNIX {
		Path ${join(this.lab.dir, `${this.name}.ctl`)}
	}
	NetlinkBufferSize ${c.netlinkBufferSize ?? 2097152}
	NetlinkBufferSizeMaxGrowth ${c.netlinkBufferMax ?? 8388608}
}
`;
  }

  /** Writes the config and starts the daemon in the foreground; resolves once its control socket answers. */
  async start(impl: Impl, c: NodeConfig, timeoutMs = 10_000): Promise<void> {
    if (this.proc && !this.exited) throw new Error(`${this.name}: a daemon is already running`);
    this.impl = impl;
    await writeFile(this.conf, this.config(c));
    await rm(this.logFile, { force: true });
    this.output = "";
    this.exited = null;
    const proc = spawn("ip", ["netns", "exec", this.ns, ...this.argv, "-C", this.conf], { stdio: ["ignore", "pipe", "pipe"] });
    this.proc = proc;
    proc.stdout!.on("data", (b: Buffer) => { this.output += b.toString(); });
    proc.stderr!.on("data", (b: Buffer) => { this.output += b.toString(); });
    proc.on("exit", (code, signal) => { if (this.proc === proc) this.exited = { code, signal }; });
    proc.on("error", (e) => { this.output += `spawn error: ${e.message}\n`; this.exited = { code: 127, signal: null }; });
    const deadline = Date.now() + timeoutMs;
    let last: RunResult | null = null;
    while (Date.now() < deadline && !this.exited) {
      last = await this.ctl(["-s", "cache"], 3000);
      if (last.code === 0) return;
      await sleep(100);
    }
    throw new Error(`${this.name} (${impl}) did not come up within ${timeoutMs} ms` +
      (this.exited ? ` (exited: ${JSON.stringify(this.exited)})` : "") +
      `\n  output: ${this.output.trim() || "(none)"}\n  last -s cache: ${last ? (last.stderr || last.stdout).trim() : "-"}` +
      `\n  log: ${(await this.log()).trim() || "(empty)"}`);
  }

  /** `-k`, then signals to our own PID until it is gone. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (!p) return;
    if (!this.exited) {
      const gone = new Promise<void>((r) => p.once("exit", () => r()));
      await this.ctl(["-k"], 3000);
      await Promise.race([gone, sleep(3000)]);
      for (const sig of ["SIGTERM", "SIGKILL"] as const) {
        if (this.exited) break;
        try { p.kill(sig); } catch { /* gone */ }
        await Promise.race([gone, sleep(2000)]);
      }
    }
    this.proc = null;
  }

  get alive(): boolean { return !!this.proc && !this.exited; }

  /** The daemon's client command line, run in the node's namespace. */
  ctl(args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return run([...this.argv, "-C", this.conf, ...args], { ns: this.ns, timeoutMs });
  }

  async ctlOk(args: string[], timeoutMs = 20_000): Promise<string> {
    const r = await this.ctl(args, timeoutMs);
    if (r.code !== 0) throw new Error(`${this.name} (${this.impl}) ${args.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
    return r.stdout;
  }

  /** Runs a command in the node's namespace (throws on failure). */
  sh(argv: string[], timeoutMs?: number): Promise<string> {
    return must(argv, this.ns, timeoutMs);
  }

  conntrack(...args: string[]): Promise<string> {
    return must(["conntrack", ...args], this.ns);
  }

  async log(): Promise<string> {
    return existsSync(this.logFile) ? readFile(this.logFile, "utf8") : "";
  }

  /** What to print when something about this node went wrong. */
  async evidence(): Promise<string> {
    return `--- ${this.name} (${this.impl}) in ${this.ns}\n  output: ${this.output.trim().slice(-2000)}\n  log: ${(await this.log()).trim().slice(-3000)}`;
  }
}

export class Lab {
  readonly nodes: SyncNode[] = [];
  readonly bridgeNs: string;
  intruderNs: string | null = null;
  private destroyed = false;

  private constructor(readonly tag: string, readonly dir: string) {
    this.bridgeNs = `io-${process.pid}-${tag}-br`;
  }

  /** n nodes on one bridge; 10.99.0.1 .. 10.99.0.n. */
  static async create(tag: string, n: number): Promise<Lab> {
    const dir = await mkdtemp(join(tmpdir(), `io-${process.pid}-${tag}-`));
    const lab = new Lab(tag, dir);
    try {
      await lab.build(n);
    } catch (e) {
      await lab.destroy();
      throw e;
    }
    return lab;
  }

  private async build(n: number): Promise<void> {
    const br = this.bridgeNs;
    await must(["ip", "netns", "add", br]);
    await must(["ip", "link", "set", "lo", "up"], br);
    await must(["ip", "link", "add", "br0", "type", "bridge", "mcast_snooping", "0"], br);
    await must(["ip", "link", "set", "br0", "up"], br);
    for (let i = 1; i <= n; i++) {
      const ns = `io-${process.pid}-${this.tag}-n${i}`;
      const node = new SyncNode(this, i, ns, `10.99.0.${i}`);
      this.nodes.push(node);
      await this.plug(ns, `p${i}`, `${node.addr}/24`);
      await writeFile(join(this.dir, `nft-n${i}`), NOTRACK_SYNC);
      await must(["nft", "-f", join(this.dir, `nft-n${i}`)], ns);
    }
  }

  private async plug(ns: string, port: string, cidr: string): Promise<void> {
    await must(["ip", "netns", "add", ns]);
    await must(["ip", "link", "set", "lo", "up"], ns);
    await must(["ip", "link", "add", port, "type", "veth", "peer", "name", "sync0", "netns", ns], this.bridgeNs);
    await must(["ip", "link", "set", port, "master", "br0", "up"], this.bridgeNs);
    await must(["ip", "addr", "add", cidr, "dev", "sync0"], ns);
    await must(["ip", "link", "set", "sync0", "up"], ns);
  }

  /** A namespace on the same bridge with 10.99.0.99 that is nobody's configured peer. */
  async addIntruder(): Promise<string> {
    const ns = `io-${process.pid}-${this.tag}-x`;
    await this.plug(ns, "px", "10.99.0.99/24");
    this.intruderNs = ns;
    return ns;
  }

  /**
   * Lets the intruder send from `addr` too (another node's address: UDP's
   * source is whatever the sender writes). Its ARP keeps to its own address:
   * it neither answers for `addr` (arp_ignore 2: not the asker's subnet, a
   * /32) nor asks from it (arp_announce 2), or the nodes' neighbour entries
   * for `addr` could come to point at the intruder, and their datagrams for
   * that node would go to it instead, now and then, as the entries refresh.
   */
  async spoof(addr: string): Promise<void> {
    if (!this.intruderNs) throw new Error("no intruder: addIntruder() first");
    await must(["sysctl", "-qw", "net.ipv4.conf.sync0.arp_ignore=2", "net.ipv4.conf.sync0.arp_announce=2"], this.intruderNs);
    await must(["ip", "addr", "add", `${addr}/32`, "dev", "sync0", "nodad"], this.intruderNs);
  }

  /** How loss() made its losses: "netem" (tc) or "nft" (numgen drop, where the kernel has no sch_netem). */
  lossBy: "netem" | "nft" | null = null;

  /**
   * Random loss of percent% on every node's sync0 egress (both directions of
   * every link), or none. tc netem where the kernel has it; otherwise an
   * nftables rule that drops that share of the sync datagrams at random
   * (those to `port`: the sync port, or corosync's knet port 5405).
   */
  async loss(percent: number | null, port = SYNC_PORT): Promise<void> {
    for (const n of this.nodes) {
      if (percent === null) {
        await run(["tc", "qdisc", "del", "dev", "sync0", "root"], { ns: n.ns });
        await run(["nft", "delete", "table", "inet", "io_loss"], { ns: n.ns });
        continue;
      }
      const netem = await run(["tc", "qdisc", "replace", "dev", "sync0", "root", "netem", "loss", `${percent}%`], { ns: n.ns });
      if (netem.code === 0) { this.lossBy = "netem"; continue; }
      const file = join(this.dir, `loss-${n.name}.nft`);
      await writeFile(file, `table inet io_loss {\n\tchain out {\n\t\ttype filter hook output priority filter; policy accept;\n` +
        `\t\toifname "sync0" meta l4proto { udp, tcp } th dport ${port} numgen random mod 100 < ${percent} counter drop\n\t}\n}\n`);
      await must(["nft", "-f", file], n.ns);
      this.lossBy = "nft";
    }
  }

  /** Datagrams the nft loss rule has dropped so far on a node (0 with netem or no loss). */
  async lossDropped(n: SyncNode): Promise<number> {
    const r = await run(["nft", "list", "table", "inet", "io_loss"], { ns: n.ns });
    const m = /counter packets (\d+)/.exec(r.stdout);
    return m ? Number(m[1]) : 0;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()));
  }

  /** Flush every node's kernel tables (between scenarios, with the daemons stopped). */
  async flushKernels(): Promise<void> {
    for (const n of this.nodes) {
      await run(["conntrack", "-F"], { ns: n.ns });
      await run(["conntrack", "-F", "expect"], { ns: n.ns });
    }
  }

  async evidence(): Promise<string> {
    return (await Promise.all(this.nodes.map((n) => n.evidence()))).join("\n");
  }

  /** Stop what we started, delete our namespaces and temp dir; safe to call twice. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stopAll().catch(() => {});
    const all = [...this.nodes.map((n) => n.ns), ...(this.intruderNs ? [this.intruderNs] : []), this.bridgeNs];
    for (const ns of all) {
      // whatever still runs inside our own namespaces was started by this test
      const pids = await run(["ip", "netns", "pids", ns]);
      for (const p of pids.stdout.split(/\s+/).filter(Boolean)) {
        try { process.kill(Number(p), "SIGKILL"); } catch { /* gone */ }
      }
      await run(["ip", "netns", "del", ns]);
    }
    if (!process.env.CTSYNC_E2E_KEEP) await rm(this.dir, { recursive: true, force: true });
  }
}

const NOTRACK_SYNC = `# the sync link's own traffic never becomes a conntrack
table inet io_sync {
	chain pre {
		type filter hook prerouting priority raw; policy accept;
		iifname "sync0" notrack
	}
	chain out {
		type filter hook output priority raw; policy accept;
		oifname "sync0" notrack
	}
}
`;

/** Polls until check() returns true (or a value that is not false/undefined); throws with describe() when time runs out. */
export async function until<T>(what: string, check: () => Promise<T | false | undefined>, timeoutMs: number, describe?: () => Promise<string>, stepMs = 200): Promise<{ value: T; ms: number }> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== false && v !== undefined) return { value: v as T, ms: Date.now() - t0 };
    } catch (e) {
      last = e;
    }
    if (Date.now() - t0 > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ""}` +
        (describe ? `\n${await describe()}` : ""));
    }
    await sleep(stepMs);
  }
}
