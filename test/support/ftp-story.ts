// The conntrack-tools manual's "Synchronization of expectations" story, run
// for real on a Cluster (cluster.ts): an FTP client in passive mode through
// fw1, the expectation replicated to fw2, fw1 fails, fw2 commits its external
// cache the way keepalived's primary-backup.sh does, and the client opens the
// announced data connection through fw2. Returns a structured transcript; a
// harness failure throws StoryError naming the step and the daemons' words.
import { createInterface } from "node:readline";
import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import {
  ADDR, Cluster, sleep, run,
  type ClusterOptions, type ExpectationSync, type FwName, type RunResult, type SyncMode, type Transport,
} from "./cluster.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const FTP_PY = join(HERE, "ftp.py");

export interface StoryOptions {
  mode: SyncMode;
  transport: Transport;
  expectationSync: ExpectationSync;
  daemons?: ClusterOptions["daemons"];
  /** How long the client tries the data connection through fw2 (default 3 s). */
  dataTimeoutS?: number;
  /** How long to poll for replication on fw2 (default 5 s). */
  replicationTimeoutMs?: number;
  /** Called as each step completes, for a live narration. */
  onStep?: (step: StepRecord) => void;
}

export interface CommandRecord {
  where: string;
  command: string;
  code: number;
  output: string;
  ms: number;
}

export interface StepRecord {
  n: number;
  title: string;
  ms: number;
  lines: string[];
  commands: CommandRecord[];
}

export interface FtpTranscript {
  options: { mode: SyncMode; transport: Transport; expectationSync: ExpectationSync; daemons: Record<FwName, string[]> };
  clusterId: string;
  steps: StepRecord[];
  /** the 227 reply and the data port it announced */
  pasv: { reply: string; port: number } | null;
  /** `-i exp` on fw1, `-e exp` on fw2: the lines naming the data port */
  fw1InternalExp: string[];
  fw2ExternalExp: string[];
  /** ms from the 227 reply until fw2's `-e exp` showed the expectation */
  expReplicationMs: number | null;
  /** fw2's control connection as its external cache shows it before failover */
  fw2ExternalCt: string[];
  failover: { arping: string; ms: number };
  /** the commands of primary-backup.sh's "primary" branch, on fw2 */
  primary: CommandRecord[];
  /** fw2's LogFile lines about the commit */
  commitLog: string[];
  /** `conntrack -L` / `conntrack -L expect` in fw2 right after the commit, and after the data connection */
  witnessAfterCommit: { ct: string; exp: string };
  witnessAfterData: { ct: string; exp: string };
  /** the control connection through fw2 (NOOP answered) */
  controlSurvived: boolean;
  noopReply: string;
  data: { arrived: true; listing: string; replies: string[]; connectedAfterS: number } | { arrived: false; error: string; afterS: number };
  /** packets counted by fw2's final drop rule in the forward chain during step 5 */
  fw2Dropped: number;
  totalMs: number;
}

export class StoryError extends Error {
  readonly step: string;
  readonly transcript: Partial<FtpTranscript>;
  constructor(step: string, message: string, transcript: Partial<FtpTranscript>) {
    super(`step "${step}": ${message}`);
    this.step = step;
    this.transcript = transcript;
  }
}

/** A line-oriented JSON client (ftp.py client) driven over stdin. */
class FtpClient {
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
      if (this.closed) throw new Error("ftp client exited");
      line = await new Promise<string | null>((resolve) => {
        const t = setTimeout(() => { this.waiter = null; resolve(null); }, timeoutMs);
        this.waiter = (l) => { clearTimeout(t); resolve(l); };
      });
    }
    if (line === null) throw new Error(this.closed ? "ftp client exited" : `no answer from ftp client within ${timeoutMs} ms`);
    return JSON.parse(line) as Record<string, unknown>;
  }
  async send(cmd: string, timeoutMs = 8000): Promise<Record<string, unknown>> {
    this.proc.stdin!.write(`${cmd}\n`);
    return this.next(timeoutMs);
  }
}

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);

/** Packets counted so far by the forward chain's final drop rule (cluster.ts's rule set). */
export async function dropCount(cluster: Cluster, fw: FwName = "fw2"): Promise<number> {
  const r = await run(["nft", "list", "chain", "inet", "ctsync_fw", "forward"], { ns: cluster.ns[fw] });
  const m = /counter packets (\d+) bytes \d+ drop comment "fwd-drop"/.exec(r.stdout);
  return m ? Number(m[1]) : NaN;
}

/** Build a cluster, run the story, always tear down. */
export async function runFtpStory(opts: StoryOptions): Promise<FtpTranscript> {
  const t0 = performance.now();
  const cluster = await Cluster.create({
    mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: opts.daemons,
  });
  try {
    const t = await ftpStory(cluster, opts);
    t.totalMs = Math.round(performance.now() - t0);
    return t;
  } finally {
    await cluster.destroy();
  }
}

/** The story on an existing cluster (daemons not yet started). */
export async function ftpStory(cluster: Cluster, opts: StoryOptions): Promise<FtpTranscript> {
  const dataTimeoutS = opts.dataTimeoutS ?? 3;
  const replTimeout = opts.replicationTimeoutMs ?? 5000;
  const tr: FtpTranscript = {
    options: { mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: cluster.daemons },
    clusterId: cluster.id, steps: [], pasv: null, fw1InternalExp: [], fw2ExternalExp: [], expReplicationMs: null,
    fw2ExternalCt: [], failover: { arping: "", ms: 0 }, primary: [], commitLog: [],
    witnessAfterCommit: { ct: "", exp: "" }, witnessAfterData: { ct: "", exp: "" },
    controlSurvived: false, noopReply: "", data: { arrived: false, error: "not attempted", afterS: 0 },
    fw2Dropped: 0, totalMs: 0,
  };
  let cur: StepRecord = { n: 0, title: "", ms: 0, lines: [], commands: [] };
  let stepT0 = 0;
  const begin = (n: number, title: string) => {
    cur = { n, title, ms: 0, lines: [], commands: [] };
    stepT0 = performance.now();
  };
  const end = () => {
    cur.ms = Math.round(performance.now() - stepT0);
    tr.steps.push(cur);
    opts.onStep?.(cur);
  };
  const fail = async (message: string): Promise<never> => {
    const words = await Promise.all((["fw1", "fw2"] as const).map(async (fw) =>
      `  ${fw} daemon (${cluster.daemons[fw].join(" ")}) ${cluster.daemonAlive(fw) ? "running" : "not running"}; ` +
      `output: ${cluster.daemonOutput(fw).trim() || "(none)"}; log tail: ${lines(await cluster.readLog(fw)).slice(-6).join(" | ") || "(empty)"}`));
    throw new StoryError(cur.title || "setup", `${message}\n${words.join("\n")}`, tr);
  };
  const ctl = async (fw: FwName, args: string[]): Promise<RunResult> => {
    const r = await cluster.ctl(fw, args);
    cur.commands.push({
      where: fw, command: `${cluster.daemons[fw].join(" ")} -C ${fw}.conf ${args.join(" ")}`,
      code: r.code, output: (r.stdout + r.stderr).trim(), ms: Math.round(r.ms),
    });
    return r;
  };
  const witness = async () => {
    const [ct, exp] = await Promise.all([
      run(["conntrack", "-L"], { ns: cluster.ns.fw2 }),
      run(["conntrack", "-L", "expect"], { ns: cluster.ns.fw2 }),
    ]);
    return { ct: ct.stdout.trim(), exp: exp.stdout.trim() };
  };

  // ---- step 0: the daemons and the endpoints -------------------------------
  begin(0, "start the sync daemons on fw1 and fw2 and the FTP server");
  try {
    await Promise.all([cluster.startDaemon("fw1"), cluster.startDaemon("fw2")]);
  } catch (e) {
    return fail((e as Error).message);
  }
  const server = cluster.spawnIn("server", "ftp-server", ["python3", FTP_PY, "server", ADDR.server, "21"]);
  const ready = await new Promise<boolean>((resolve) => {
    const t = setTimeout(() => resolve(false), 5000);
    server.stdout!.once("data", () => { clearTimeout(t); resolve(true); });
    server.once("exit", () => { clearTimeout(t); resolve(false); });
  });
  if (!ready) return fail(`ftp server did not start: ${cluster.procStderr("ftp-server")}`);
  cur.lines.push(`daemons: fw1 \`${cluster.daemons.fw1.join(" ")}\`, fw2 \`${cluster.daemons.fw2.join(" ")}\`; ` +
    `${opts.mode} over ${opts.transport}, ExpectationSync ${JSON.stringify(opts.expectationSync)}`);
  end();

  // ---- step 1: login and passive mode through fw1 --------------------------
  begin(1, "the client logs in through fw1 and enters passive mode");
  const client = new FtpClient(cluster.spawnIn("client", "ftp-client", ["python3", FTP_PY, "client", ADDR.server, "21"]));
  let pasvAt = 0;
  try {
    const banner = await client.next(8000);
    cur.lines.push(`< ${String(banner.reply ?? banner.error)}`);
    for (const cmd of ["USER anonymous", "PASS nothing", "PASV"]) {
      const r = await client.send(`cmd ${cmd}`);
      cur.lines.push(`> ${cmd}`, `< ${String(r.reply ?? r.error)}`);
      if (!r.ok) return fail(`${cmd}: ${String(r.error ?? r.reply)}`);
      if (Array.isArray(r.pasv)) {
        tr.pasv = { reply: String(r.reply), port: Number(r.pasv[1]) };
        pasvAt = performance.now();
      }
    }
  } catch (e) {
    return fail(`${(e as Error).message}; client stderr: ${cluster.procStderr("ftp-client").trim() || "(none)"}`);
  }
  if (!tr.pasv) return fail("the server did not answer 227 with a port");
  end();
  const dport = `dport=${tr.pasv.port}`;

  // ---- step 2: the expectation on fw1 and replicated on fw2 ----------------
  begin(2, "fw1 holds the expectation (-i exp); fw2 received it (-e exp)");
  // is the FTP expectation meant to be synced? (`On`, or a helper list naming ftp)
  const es = opts.expectationSync;
  const expOn = es === "on" || (Array.isArray(es) && es.some((h) => "ftp".startsWith(h.toLowerCase())));
  // the master conntrack (control connection, ESTABLISHED) must reach fw2 in both variants
  const deadline = Date.now() + replTimeout;
  for (;;) {
    const r = await cluster.ctl("fw2", ["-e", "ct"]);
    tr.fw2ExternalCt = lines(r.stdout).filter((l) => l.includes("dport=21 ") && l.includes("ESTABLISHED"));
    if (tr.fw2ExternalCt.length || Date.now() > deadline) break;
    await sleep(100);
  }
  cur.commands.push({ where: "fw2", command: `${cluster.daemons.fw2.join(" ")} -C fw2.conf -e ct`, code: 0, output: tr.fw2ExternalCt.join("\n"), ms: 0 });
  if (!tr.fw2ExternalCt.length) return fail(`the control connection never reached fw2's external cache within ${replTimeout} ms`);
  // when it must not arrive, give it the time it would have needed before looking
  if (!expOn) await sleep(500);
  // fw1's daemon may see the expectation event a little after the master's updates: poll
  let i: RunResult;
  for (;;) {
    i = await cluster.ctl("fw1", ["-i", "exp"]);
    tr.fw1InternalExp = lines(i.stdout).filter((l) => l.includes(dport));
    if (tr.fw1InternalExp.length || !expOn || Date.now() > deadline) break;
    await sleep(50);
  }
  cur.commands.push({ where: "fw1", command: `${cluster.daemons.fw1.join(" ")} -C fw1.conf -i exp`, code: i.code, output: tr.fw1InternalExp.join("\n"), ms: 0 });
  for (;;) {
    const r = await cluster.ctl("fw2", ["-e", "exp"]);
    tr.fw2ExternalExp = lines(r.stdout).filter((l) => l.includes(dport));
    if (tr.fw2ExternalExp.length) { tr.expReplicationMs = Math.round(performance.now() - pasvAt); break; }
    if (!expOn || Date.now() > deadline) break;
    await sleep(50);
  }
  cur.commands.push({ where: "fw2", command: `${cluster.daemons.fw2.join(" ")} -C fw2.conf -e exp`, code: 0, output: tr.fw2ExternalExp.join("\n"), ms: 0 });
  if (expOn && !tr.fw1InternalExp.length) return fail(`fw1's -i exp shows no expectation for ${dport}: ${i.stdout.trim() || "(empty)"}`);
  if (expOn && !tr.fw2ExternalExp.length) return fail(`fw2's -e exp shows no expectation for ${dport} within ${replTimeout} ms`);
  end();

  // ---- step 3: fw1 fails -----------------------------------------------------
  begin(3, "fw1 fails: its daemon is killed, the VIPs move to fw2");
  const f0 = performance.now();
  try {
    tr.failover.arping = (await cluster.failover()).arping;
  } catch (e) {
    return fail((e as Error).message);
  }
  tr.failover.ms = Math.round(performance.now() - f0);
  cur.lines.push(tr.failover.arping);
  end();

  // ---- step 4: fw2 becomes primary (primary-backup.sh "primary") ------------
  begin(4, "fw2 becomes primary: -c commit, -f flush, -R resync, -B bulk send");
  const logBefore = lines(await cluster.readLog("fw2")).length;
  for (const args of [["-c"], ["-f"], ["-R"], ["-B"]]) {
    const r = await ctl("fw2", args);
    if (r.code !== 0) return fail(`\`-C fw2.conf ${args.join(" ")}\` exited ${r.code}: ${(r.stdout + r.stderr).trim()}`);
    if (args[0] === "-c") {
      // conntrackd logs the commit's end asynchronously; wait for it (briefly)
      const until = Date.now() + 3000;
      while (Date.now() < until && !/commit has taken/.test(await cluster.readLog("fw2"))) await sleep(50);
    }
  }
  tr.primary = [...cur.commands];
  tr.commitLog = lines(await cluster.readLog("fw2")).slice(logBefore).filter((l) => /commit/i.test(l));
  tr.witnessAfterCommit = await witness();
  end();

  // ---- step 5: the data connection through fw2 ------------------------------
  begin(5, "the client opens the announced data connection through fw2");
  // drops before this step are the failover gap (e.g. the server retransmitting
  // its last control segment before fw2 committed): count only this step's
  const dropsBefore = await dropCount(cluster);
  try {
    const noop = await client.send("cmd NOOP");
    tr.noopReply = String(noop.reply ?? noop.error ?? "");
    tr.controlSurvived = noop.ok === true && tr.noopReply.startsWith("200");
    cur.lines.push("> NOOP", `< ${tr.noopReply}`);
    const r = await client.send(`list ${dataTimeoutS}`, (dataTimeoutS + 12) * 1000);
    if (r.ok) {
      tr.data = { arrived: true, listing: String(r.data), replies: (r.replies as string[]) ?? [], connectedAfterS: Number(r.connected_after) };
      cur.lines.push(`data connection to port ${tr.pasv.port} open after ${tr.data.connectedAfterS} s`, "> LIST",
        ...tr.data.replies.map((x) => `< ${x}`), `listing: ${tr.data.listing.trim()}`);
    } else {
      tr.data = { arrived: false, error: String(r.error), afterS: Number(r.after) };
      cur.lines.push(`data connection to port ${tr.pasv.port}: ${tr.data.error} after ${tr.data.afterS} s`);
    }
  } catch (e) {
    return fail(`${(e as Error).message}; client stderr: ${cluster.procStderr("ftp-client").trim() || "(none)"}`);
  }
  tr.witnessAfterData = await witness();
  tr.fw2Dropped = (await dropCount(cluster)) - dropsBefore;
  cur.lines.push(`fw2's forward chain dropped ${tr.fw2Dropped} packet(s) during this step`);
  try { await client.send("quit", 3000); } catch { /* the story is told; teardown kills it */ }
  end();
  return tr;
}
