// keepalived for real on a Cluster (cluster.ts): Debian's keepalived 2.2 in
// fw1 and fw2, one VRRP instance per segment (lan0, wan0) in one
// vrrp_sync_group, the VIPs placed by keepalived alone. On a state change the
// group runs either conntrack-tools' own primary-backup.sh (Debian's copy,
// only its three settings at the top changed) or, with `notify: "fifo"`,
// nothing: keepalived writes the change to its notify_fifo, which ctsyncd
// reads (its Keepalived section) and acts on in-process.
//
// Through the VIPs run a long-lived TCP stream (stream.py, bytes both ways
// every 10 ms) and an FTP control connection in passive mode (ftp.py). Then
// fw1 fails (fail()) and observe() reports what the failover did: when the
// VIPs came up on fw2, when and how long the transition ran, the stream's
// longest stall, the packets fw2's forward chain found INVALID, and whether
// the announced FTP data connection opens through fw2.
//
// The primary-backup.sh of the script mode calls the daemon's client through
// a shim (ctl-timed.sh) that appends "start|end <ns since epoch> ..." lines to
// a file around each call and changes nothing else; the first start and the
// last end bound the script's run.
import type { ChildProcess } from "node:child_process";
import { chmodSync, existsSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { ADDR, Cluster, JsonLines, run, sleep, type FwName, type SyncMode } from "./cluster.ts";
import { FTP_PY } from "./ftp-story.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const STREAM_PY = join(HERE, "stream.py");
export const STREAM_PORT = 5001;

/** Debian's copy of conntrack-tools' script (dpkg -L conntrackd). */
export const PRIMARY_BACKUP_SH = "/usr/share/doc/conntrackd/examples/sync/primary-backup.sh";

export type Notify = "script" | "fifo";

export interface KeepalivedOptions {
  /** The sync daemon's command (argv prefix before `-C conf`), the same on both firewalls. */
  daemon: string[];
  /** How keepalived tells the daemon: primary-backup.sh (default), or ctsyncd's own FIFO reader. */
  notify?: Notify;
  /** DisableExternalCache on both daemons: entries go into the backup's kernel as they arrive. */
  disableExternalCache?: boolean;
  mode?: SyncMode;
  /** VRRP advertisement interval in seconds (VRRPv3 allows fractions); default 0.5. */
  advertInt?: number;
  /** Sync { PurgeTimeout } of both daemons: how long after -t the kernel table is flushed (conntrackd's default 60). */
  purgeTimeout?: number;
  /** How long the flows run through fw1 before it fails (default: as soon as fw2 knows them). */
  ageMs?: number;
  /** fw2 (daemon and keepalived) starts only once the flows run through fw1. */
  backupJoinsLate?: boolean;
  /** TCP connections of the stream (default 1): more flows, more chances for a segment to fall in the race's window. */
  flows?: number;
}

/** What one failover did; times in ms from the failure. */
export interface FailoverObservation {
  /** the failure: fw1's keepalived and daemon killed, its links down (wall clock, ms) */
  failedAt: number;
  /** fw2 held the stream, the FTP connection and its expectation right before the failure (external cache, or kernel) */
  fw2KnewFlows: boolean;
  /** both VIPs up on fw2 (from `ip monitor address` in fw2) */
  vipsUpMs: number | null;
  /** the primary transition on fw2: its start, its commit's end, its end (ms from the failure) */
  transition: { startMs: number; commitDoneMs: number; endMs: number } | null;
  /** what ran it: the shim's log (script) or the daemon's log line (fifo) */
  transitionLog: string[];
  /** fw2's daemon log lines about the commit */
  commitLog: string[];
  /**
   * bytes received since the failure (all flows), the longest gap between receptions on the worst flow,
   * how long ago the stalest flow last received, flows that received nothing since the failure, flows that failed
   */
  stream: { flows: number; bytesAfter: number; maxGapMs: number; lastRxAgeMs: number; silentFlows: number; errors: number; error: string | null };
  /** packets fw2's forward chain counted as `ct state invalid` since the failure */
  invalid: number;
  ftp: { noop: string; data: { ok: boolean; listing?: string; error?: string; connectedAfter?: number } };
}

/** Nanoseconds since the epoch (date +%s%N) as fractional milliseconds. */
function nsToMs(ns: bigint): number {
  return Number(ns / 1000n) / 1000; // ms, fractional
}

/** `ct state invalid` packets counted so far in fw's forward chain (cluster.ts's rule set). */
export async function invalidCount(cluster: Cluster, fw: FwName = "fw2"): Promise<number> {
  const r = await run(["nft", "list", "chain", "inet", "ctsync_fw", "forward"], { ns: cluster.ns[fw] });
  const m = /counter packets (\d+) bytes \d+ comment "fwd-invalid"/.exec(r.stdout);
  return m ? Number(m[1]) : NaN;
}

export class KeepalivedCluster {
  readonly notify: Notify;
  private readonly kaProcs: Partial<Record<FwName, ChildProcess>> = {};
  private readonly kaOut: Record<FwName, string> = { fw1: "", fw2: "" };
  private ipmon: { proc: ChildProcess; vipUp: Map<string, number> } | null = null;
  private stream: JsonLines | null = null;
  private ftp: JsonLines | null = null;
  pasvPort = 0;

  private constructor(readonly cluster: Cluster, readonly opts: KeepalivedOptions) {
    this.notify = opts.notify ?? "script";
  }

  static async create(opts: KeepalivedOptions): Promise<KeepalivedCluster> {
    const fifoConf = (fw: FwName) => `Keepalived {\n\tNotifyFifo ${join("DIR", `${fw}.fifo`)}\n\tSyncGroup G1\n}\n`;
    const cluster = await Cluster.create({
      mode: opts.mode ?? "FTFW", transport: "udp", expectationSync: "on",
      daemons: { fw1: opts.daemon, fw2: opts.daemon }, vips: "none",
      allowNew: [`tcp dport ${STREAM_PORT}`], disableExternalCache: opts.disableExternalCache,
    });
    const k = new KeepalivedCluster(cluster, opts);
    try {
      for (const fw of ["fw1", "fw2"] as const) {
        let text = await readFile(cluster.conf(fw), "utf8");
        if (opts.purgeTimeout !== undefined) text = text.replace("Sync {", `Sync {\n\tPurgeTimeout ${opts.purgeTimeout}`);
        // the Keepalived section names a path inside the cluster's own directory
        if (k.notify === "fifo") text += fifoConf(fw).replace("DIR", cluster.dir);
        await writeFile(cluster.conf(fw), text);
      }
      await k.writeFiles();
    } catch (e) {
      await cluster.destroy();
      throw e;
    }
    return k;
  }

  get dir(): string { return this.cluster.dir; }
  fifo(fw: FwName): string { return join(this.dir, `${fw}.fifo`); }
  shimLog(fw: FwName): string { return join(this.dir, `${fw}.calls`); }
  keepalivedConf(fw: FwName): string { return join(this.dir, `keepalived-${fw}.conf`); }
  script(fw: FwName): string { return join(this.dir, `primary-backup-${fw}.sh`); }

  /** primary-backup.sh as Debian ships it, with only CONNTRACKD_BIN, _LOCK and _CONFIG changed. */
  static adaptScript(original: string, settings: { bin: string; lock: string; config: string }): string {
    const set = (text: string, name: string, value: string) => {
      const re = new RegExp(`^${name}=.*$`, "m");
      if (!re.test(text)) throw new Error(`primary-backup.sh has no ${name}= line`);
      return text.replace(re, `${name}=${value}`);
    };
    return set(set(set(original, "CONNTRACKD_BIN", settings.bin), "CONNTRACKD_LOCK", settings.lock), "CONNTRACKD_CONFIG", settings.config);
  }

  private async writeFiles(): Promise<void> {
    const original = readFileSync(PRIMARY_BACKUP_SH, "utf8");
    for (const fw of ["fw1", "fw2"] as const) {
      const shim = join(this.dir, `ctl-timed-${fw}.sh`);
      await writeFile(shim, `#!/bin/sh
# test/support/keepalived.ts: notes each call of the daemon's client, then makes it
echo "start $(date +%s%N) $*" >> ${this.shimLog(fw)}
${this.opts.daemon.join(" ")} "$@"
rc=$?
echo "end $(date +%s%N) $rc $*" >> ${this.shimLog(fw)}
exit $rc
`);
      chmodSync(shim, 0o755);
      await writeFile(this.script(fw), KeepalivedCluster.adaptScript(original, {
        bin: shim, lock: join(this.dir, `${fw}.lock`), config: this.cluster.conf(fw),
      }));
      chmodSync(this.script(fw), 0o755);
      await writeFile(this.keepalivedConf(fw), this.keepalivedConfig(fw));
    }
  }

  keepalivedConfig(fw: FwName): string {
    const prio = fw === "fw1" ? 150 : 100;
    const adv = this.opts.advertInt ?? 0.5;
    const notify = this.notify === "script"
      ? `\tnotify_master "${this.script(fw)} primary"\n\tnotify_backup "${this.script(fw)} backup"\n\tnotify_fault "${this.script(fw)} fault"\n`
      : "";
    const instance = (name: string, dev: string, vrid: number, vip: string) => `vrrp_instance ${name} {
	state BACKUP
	interface ${dev}
	virtual_router_id ${vrid}
	priority ${prio}
	advert_int ${adv}
	virtual_ipaddress {
		${vip}/24 dev ${dev}
	}
}
`;
    return `# generated by test/support/keepalived.ts (${fw}, run ${this.cluster.id})
global_defs {
	router_id ${fw}
	vrrp_version 3
	max_auto_priority
${this.notify === "fifo" ? `\tnotify_fifo ${this.fifo(fw)}\n` : ""}}
vrrp_sync_group G1 {
	group {
		VI_LAN
		VI_WAN
	}
${notify}}
${instance("VI_LAN", "lan0", 51, ADDR.lanVip)}${instance("VI_WAN", "wan0", 52, ADDR.wanVip)}`;
  }

  private startKeepalived(fw: FwName): void {
    const p = (what: string) => join(this.dir, `keepalived-${fw}.${what}.pid`);
    const proc = this.cluster.spawnIn(fw, `keepalived-${fw}`, [
      "keepalived", "-n", "-l", "-D", "-G", "-P", "-f", this.keepalivedConf(fw), "-p", p("main"), "-r", p("vrrp"), "-c", p("checkers"),
    ]);
    proc.stdout!.on("data", (b: Buffer) => { this.kaOut[fw] += b.toString(); });
    proc.stderr!.on("data", (b: Buffer) => { this.kaOut[fw] += b.toString(); });
    this.kaProcs[fw] = proc;
  }

  keepalivedOutput(fw: FwName): string {
    return this.kaOut[fw];
  }

  async vipsOn(fw: FwName): Promise<boolean> {
    const r = await run(["ip", "-o", "-4", "addr", "show"], { ns: this.cluster.ns[fw] });
    return r.stdout.includes(`${ADDR.lanVip}/24`) && r.stdout.includes(`${ADDR.wanVip}/24`);
  }

  private async until(what: string, ok: () => Promise<boolean> | boolean, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`${what} within ${ms} ms\n${await this.words()}`);
      await sleep(50);
    }
  }

  /** Both firewalls' keepalived output and daemon logs, for a failure message. */
  async words(): Promise<string> {
    const tail = (s: string, n = 15) => s.trim().split("\n").slice(-n).join("\n    ");
    const parts: string[] = [];
    for (const fw of ["fw1", "fw2"] as const) {
      parts.push(`  ${fw} keepalived:\n    ${tail(this.kaOut[fw]) || "(nothing)"}`);
      parts.push(`  ${fw} daemon log:\n    ${tail(await this.cluster.readLog(fw)) || "(empty)"}`);
      if (existsSync(this.shimLog(fw))) parts.push(`  ${fw} client calls:\n    ${tail(readFileSync(this.shimLog(fw), "utf8"))}`);
    }
    return parts.join("\n");
  }

  /** Daemons first (primary-backup.sh's backup branch starts one with -d if -s fails), then keepalived; fw1 wins the election. */
  async start(): Promise<void> {
    await Promise.all([this.startFirewall("fw1"), this.startFirewall("fw2")]);
    await this.settled("fw1");
    await this.settled("fw2");
  }

  /** fw's daemon, then its keepalived. */
  async startFirewall(fw: FwName): Promise<void> {
    await this.cluster.startDaemon(fw);
    this.startKeepalived(fw);
  }

  /** fw1 holds the VIPs and ran its primary transition; fw2 ran its backup transition and holds no VIP. */
  async settled(fw: FwName): Promise<void> {
    if (fw === "fw1") await this.until("fw1 did not take the VIPs", () => this.vipsOn("fw1"), 20_000);
    const kind = fw === "fw1" ? "primary" : "backup";
    if (this.notify === "script") {
      await this.until(`${fw}'s ${kind} script did not finish`, () => this.scriptRuns(fw).some((r) => r.kind === kind && r.end !== null), 20_000);
    } else {
      await this.until(`${fw}'s daemon did not run the ${kind} transition`,
        async () => new RegExp(`${kind} transition done`).test(await this.cluster.readLog(fw)), 20_000);
    }
    if (fw === "fw2" && await this.vipsOn("fw2")) throw new Error(`fw2 holds the VIPs too\n${await this.words()}`);
  }

  /**
   * The calls the shim noted, grouped into runs of primary-backup.sh: a
   * primary run begins with -c, a backup run with -s, a fault run with a -t
   * that does not follow -s.
   */
  scriptRuns(fw: FwName): { kind: "primary" | "backup" | "fault"; start: number; commitEnd: number | null; end: number | null; calls: string[] }[] {
    if (!existsSync(this.shimLog(fw))) return [];
    const runs: ReturnType<KeepalivedCluster["scriptRuns"]> = [];
    const last: Record<string, string> = {};
    for (const line of readFileSync(this.shimLog(fw), "utf8").split("\n").filter(Boolean)) {
      const m = /^(start|end) (\d+) (?:(\d+) )?-C \S+ (.*)$/.exec(line);
      if (!m) continue;
      const [, what, ns, , args] = m;
      const at = nsToMs(BigInt(ns));
      if (what === "start") {
        const opener = args === "-c" ? "primary" : args === "-s" ? "backup" : args === "-t" && last.args !== "-s" ? "fault" : null;
        if (opener) runs.push({ kind: opener, start: at, commitEnd: null, end: null, calls: [] });
        runs.at(-1)?.calls.push(line);
      } else {
        const r = runs.at(-1);
        if (r) {
          r.calls.push(line);
          if (args === "-c") r.commitEnd = at;
          const closing = r.kind === "primary" ? "-B" : r.kind === "backup" ? "-n" : "-t";
          if (args === closing) r.end = at;
        }
      }
      last.args = args;
    }
    return runs;
  }

  /** The stream and the FTP control connection through fw1, replicated to fw2. */
  async startFlows(waitForFw2 = true): Promise<void> {
    const c = this.cluster;
    const streamServer = new JsonLines(c.spawnIn("server", "stream-server", ["python3", STREAM_PY, "server", ADDR.server, String(STREAM_PORT)]));
    await streamServer.next(5000);
    const ftpServer = new JsonLines(c.spawnIn("server", "ftp-server", ["python3", FTP_PY, "server", ADDR.server, "21"]));
    await ftpServer.next(5000);
    this.stream = new JsonLines(c.spawnIn("client", "stream-client", ["python3", STREAM_PY, "client", ADDR.server, String(STREAM_PORT), String(this.opts.flows ?? 1)]));
    const s = await this.stream.next(8000);
    if (!s.ok) throw new Error(`stream: ${JSON.stringify(s)}`);
    this.ftp = new JsonLines(c.spawnIn("client", "ftp-client", ["python3", FTP_PY, "client", ADDR.server, "21"]));
    await this.ftp.next(8000);
    for (const cmd of ["USER anonymous", "PASS nothing", "PASV"]) {
      const r = await this.ftp.send(`cmd ${cmd}`);
      if (!r.ok) throw new Error(`ftp ${cmd}: ${JSON.stringify(r)}`);
      if (Array.isArray(r.pasv)) this.pasvPort = Number(r.pasv[1]);
    }
    if (!this.pasvPort) throw new Error("the FTP server announced no data port");
    if (waitForFw2) await this.until("fw2 never learnt the stream, the FTP control connection and its expectation", () => this.fw2Knows(), 20_000);
  }

  /** fw2 holds both flows and the expectation: in its external cache, or (DisableExternalCache) its kernel. */
  async fw2Knows(): Promise<boolean> {
    const c = this.cluster;
    const where = this.opts.disableExternalCache
      ? async (table: string) => (await run(["conntrack", "-L", ...(table === "exp" ? ["expect"] : [])], { ns: c.ns.fw2 })).stdout
      : async (table: string) => (await c.ctl("fw2", ["-e", table === "exp" ? "expect" : "ct"])).stdout;
    const ct = await where("ct"), exp = await where("exp");
    const streams = ct.split("\n").filter((l) => l.includes(`dport=${STREAM_PORT} `)).length;
    return streams >= (this.opts.flows ?? 1) && ct.includes("dport=21 ") && exp.includes(`dport=${this.pasvPort} `);
  }

  /** Watch fw2's addresses from now on: the time each VIP appears. */
  private watchAddresses(): void {
    const proc = this.cluster.spawnIn("fw2", "ipmon-fw2", ["ip", "-o", "-4", "monitor", "address"]);
    const vipUp = new Map<string, number>();
    createInterface({ input: proc.stdout! }).on("line", (l) => {
      if (l.startsWith("Deleted")) return;
      for (const v of [ADDR.lanVip, ADDR.wanVip]) if (l.includes(`${v}/24`) && !vipUp.has(v)) vipUp.set(v, Date.now());
    });
    this.ipmon = { proc, vipUp };
  }

  /**
   * fw1 fails as a firewall that loses power: everything at once. Its
   * keepalived (the VRRP child first, so no priority-0 goodbye is sent) and its
   * daemon are killed, and its three links go down, so it neither forwards
   * nor advertises nor syncs. Killing only the processes would leave fw1
   * forwarding with the VIPs still configured; taking only the links down
   * would leave its keepalived alive to run the fault script.
   */
  async fail(): Promise<number> {
    this.watchAddresses();
    await sleep(300); // the monitor is listening
    const c = this.cluster;
    await this.stream!.send("mark");
    const pid = (what: string) => Number(readFileSync(join(this.dir, `keepalived-fw1.${what}.pid`), "utf8").trim());
    const vrrp = pid("vrrp"), main = pid("main");
    const failedAt = Date.now();
    for (const p of [vrrp, main]) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
    await c.crashDaemon("fw1");
    const r = await run(["ip", "-b", "-"], { ns: c.ns.fw1, input: "link set lan0 down\nlink set wan0 down\nlink set sync0 down\n" });
    if (r.code !== 0) throw new Error(`fw1's links would not go down: ${r.stderr}`);
    return failedAt;
  }

  /** After fail(): wait for the takeover, let the stream run, open the FTP data connection. */
  async observe(failedAt: number, invalidBefore: number, fw2KnewFlows: boolean, settleMs = 4000): Promise<FailoverObservation> {
    const c = this.cluster;
    await this.until("the VIPs never came up on fw2", () => (this.ipmon?.vipUp.size ?? 0) === 2, 20_000);
    const vipsUp = Math.max(...this.ipmon!.vipUp.values());
    let transition: FailoverObservation["transition"] = null;
    let transitionLog: string[] = [];
    if (this.notify === "script") {
      await this.until("fw2's primary-backup.sh never finished its primary branch",
        () => this.scriptRuns("fw2").some((r) => r.kind === "primary" && r.start >= failedAt && r.end !== null), 20_000);
      const r = this.scriptRuns("fw2").find((x) => x.kind === "primary" && x.start >= failedAt)!;
      transition = { startMs: r.start - failedAt, commitDoneMs: (r.commitEnd ?? r.end!) - failedAt, endMs: r.end! - failedAt };
      transitionLog = r.calls;
    } else {
      // "keepalived: GROUP "G1" MASTER 0 read at <epoch ms>: primary transition done in X ms (commit Y ms)";
      // fw2 may have been primary for a moment at its start: only a transition after the failure counts
      const re = /read at (\d+(?:\.\d+)?): primary transition done in ([\d.]+) ms \(commit ([\d.]+) ms/;
      let line: string | undefined;
      await this.until("fw2's daemon never finished the primary transition", async () => {
        line = (await c.readLog("fw2")).split("\n").find((l) => Number(re.exec(l)?.[1] ?? 0) >= failedAt);
        return !!line;
      }, 20_000);
      const m = re.exec(line!)!;
      const at = Number(m[1]);
      transition = { startMs: at - failedAt, commitDoneMs: at + Number(m[3]) - failedAt, endMs: at + Number(m[2]) - failedAt };
      transitionLog = [line!];
    }
    await sleep(settleMs);
    const st = await this.stream!.send("stats");
    const commitLog = (await c.readLog("fw2")).split("\n").filter((l) => /commit/i.test(l));
    // a control connection that did not survive answers nothing: say so instead of throwing
    const ask = async (cmd: string, ms: number): Promise<Record<string, unknown>> => {
      try { return await this.ftp!.send(cmd, ms); } catch (e) { return { ok: false, error: (e as Error).message }; }
    };
    const noop = await ask("cmd NOOP", 8000);
    const data = noop.ok ? await ask("list 5", 20_000) : { ok: false, error: "the control connection is gone" };
    return {
      failedAt, fw2KnewFlows,
      vipsUpMs: vipsUp - failedAt,
      transition, transitionLog, commitLog,
      stream: {
        flows: Number(st.flows),
        bytesAfter: Number(st.bytes_since_mark),
        silentFlows: Number(st.flows_silent_since_mark),
        errors: Number(st.errors),
        // a stall still going on counts too
        maxGapMs: Math.max(Number(st.max_gap_ms), Number(st.last_rx_age_ms)),
        lastRxAgeMs: Number(st.last_rx_age_ms),
        error: (st.error as string | null) ?? null,
      },
      invalid: (await invalidCount(c)) - invalidBefore,
      ftp: {
        noop: String(noop.reply ?? noop.error ?? ""),
        data: data.ok ? { ok: true, listing: String(data.data), connectedAfter: Number(data.connected_after) } : { ok: false, error: String(data.error) },
      },
    };
  }

  /**
   * One whole failover: start, flows, fail fw1, observe. With backupJoinsLate,
   * fw2 starts only once the flows run through fw1 (a backup that joins, or
   * comes back to, a running cluster): its backup transition's -n has fw1
   * send it everything, and its -t schedules a flush of its kernel table
   * PurgeTimeout seconds later.
   */
  async failover(settleMs?: number): Promise<FailoverObservation> {
    if (this.opts.backupJoinsLate) {
      await this.startFirewall("fw1");
      await this.settled("fw1");
      // fw1's own -t (from its start as backup) was called off by its commit as primary
      await this.startFlows(false);
      await this.startFirewall("fw2");
      await this.settled("fw2");
      await this.until("fw2 never learnt the stream, the FTP control connection and its expectation", () => this.fw2Knows(), 20_000);
    } else {
      await this.start();
      await this.startFlows();
    }
    if (this.opts.ageMs) await sleep(this.opts.ageMs);
    const knew = await this.fw2Knows();
    const before = await invalidCount(this.cluster);
    const at = await this.fail();
    return this.observe(at, before, knew, settleMs);
  }

  async destroy(): Promise<void> {
    // keepalived is a process of ours: cluster.destroy() stops it with the rest (SIGTERM, then SIGKILL, by PID)
    await this.cluster.destroy();
  }
}

/** What this machine lacks for the keepalived tests (empty when all is there). */
export async function keepalivedMissing(): Promise<string[]> {
  const missing: string[] = [];
  const r = await run(["sh", "-c", "command -v keepalived"]);
  if (r.code !== 0) missing.push("keepalived");
  if (!existsSync(PRIMARY_BACKUP_SH)) missing.push(PRIMARY_BACKUP_SH);
  return missing;
}
