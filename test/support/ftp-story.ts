// The conntrack-tools manual's "Synchronization of expectations" story, run
// for real on a Cluster (cluster.ts): an FTP client in passive mode through
// fw1, the expectation replicated to fw2, fw1 fails, fw2 commits its external
// cache the way keepalived's primary-backup.sh does, and the client opens the
// announced data connection through fw2. Returns a structured transcript; a
// harness failure throws StoryError naming the step and the daemons' words.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import {
  ADDR, Cluster, JsonLines, sleep, run,
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
  /** How long to poll for replication on fw2 (default 10 s: a node-based daemon CLI takes ~0.5 s a call). */
  replicationTimeoutMs?: number;
  /** Called as each step completes, for a live narration. */
  onStep?: (step: StepRecord) => void;
  /** SIP: let the INVITE open the flow (no OPTIONS first), so the expectations come before their master. */
  inviteFirst?: boolean;
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

export interface FtpTranscript extends FailoverRecord {
  options: { mode: SyncMode; transport: Transport; expectationSync: ExpectationSync; daemons: Record<FwName, string[]> };
  clusterId: string;
  steps: StepRecord[];
  /** the 227 reply and the data port it announced */
  pasv: { reply: string; port: number } | null;
  /** `conntrack -L` / `conntrack -L expect` in fw2 after the data connection */
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
  readonly transcript: object;
  constructor(step: string, message: string, transcript: object) {
    super(`step "${step}": ${message}`);
    this.step = step;
    this.transcript = transcript;
  }
}

const lines = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean);

/** What every expectation story records about replication, failover and commit. */
export interface FailoverRecord {
  /** the master conntrack as fw2's external cache shows it before failover */
  fw2ExternalCt: string[];
  /** `-i exp` on fw1, `-e exp` on fw2: the lines naming the expected port */
  fw1InternalExp: string[];
  fw2ExternalExp: string[];
  /** ms from the helper's trigger (227 reply, INVITE) until fw2's `-e exp` showed it */
  expReplicationMs: number | null;
  failover: { arping: string; ms: number };
  /** the commands of primary-backup.sh's "primary" branch, on fw2 */
  primary: CommandRecord[];
  /** fw2's LogFile lines about the commit */
  commitLog: string[];
  /** `conntrack -L` / `conntrack -L expect` in fw2 right after the commit */
  witnessAfterCommit: { ct: string; exp: string };
}

/**
 * The steps every expectation story shares (start daemons, watch replication,
 * fail fw1, make fw2 primary, witness), with the narration: each step's
 * commands and outputs are recorded, and a failure names its step and quotes
 * both daemons.
 */
export class Storyteller {
  readonly steps: StepRecord[] = [];
  cur: StepRecord = { n: 0, title: "", ms: 0, lines: [], commands: [] };
  private t0 = 0;
  constructor(readonly cluster: Cluster, private readonly transcript: object, private readonly onStep?: (s: StepRecord) => void) {}

  begin(n: number, title: string): void {
    this.cur = { n, title, ms: 0, lines: [], commands: [] };
    this.t0 = performance.now();
  }

  end(): void {
    this.cur.ms = Math.round(performance.now() - this.t0);
    this.steps.push(this.cur);
    this.onStep?.(this.cur);
  }

  async fail(message: string): Promise<never> {
    const c = this.cluster;
    const words = await Promise.all((["fw1", "fw2"] as const).map(async (fw) =>
      `  ${fw} daemon (${c.daemons[fw].join(" ")}) ${c.daemonAlive(fw) ? "running" : "not running"}; ` +
      `output: ${c.daemonOutput(fw).trim() || "(none)"}; log tail: ${lines(await c.readLog(fw)).slice(-6).join(" | ") || "(empty)"}`));
    throw new StoryError(this.cur.title || "setup", `${message}\n${words.join("\n")}`, this.transcript);
  }

  record(fw: FwName, args: string[], r: RunResult, output = (r.stdout + r.stderr).trim()): void {
    this.cur.commands.push({ where: fw, command: `${this.cluster.daemons[fw].join(" ")} -C ${fw}.conf ${args.join(" ")}`, code: r.code, output, ms: Math.round(r.ms) });
  }

  async ctl(fw: FwName, args: string[]): Promise<RunResult> {
    const r = await this.cluster.ctl(fw, args);
    this.record(fw, args, r);
    return r;
  }

  /** `conntrack -L` and `conntrack -L expect` in fw2: the independent witness. */
  async witness(): Promise<{ ct: string; exp: string }> {
    const ns = this.cluster.ns.fw2;
    const [ct, exp] = await Promise.all([run(["conntrack", "-L"], { ns }), run(["conntrack", "-L", "expect"], { ns })]);
    return { ct: ct.stdout.trim(), exp: exp.stdout.trim() };
  }

  async startDaemons(): Promise<void> {
    try {
      await Promise.all([this.cluster.startDaemon("fw1"), this.cluster.startDaemon("fw2")]);
    } catch (e) {
      await this.fail((e as Error).message);
    }
  }

  /**
   * Wait for the master (a line of fw2's `-e ct` matching isMaster) to reach
   * fw2, then for the expectation (lines containing expMatch) on fw1's
   * internal and fw2's external cache. When the expectation must not be
   * synced, wait as long as it would have needed, then look once.
   */
  async replication(rec: FailoverRecord, isMaster: (l: string) => boolean, expMatch: string, expOn: boolean,
    since: number, timeoutMs: number): Promise<void> {
    const c = this.cluster;
    const deadline = Date.now() + timeoutMs;
    let r: RunResult;
    for (;;) {
      r = await c.ctl("fw2", ["-e", "ct"]);
      rec.fw2ExternalCt = lines(r.stdout).filter(isMaster);
      if (rec.fw2ExternalCt.length || Date.now() > deadline) break;
      await sleep(100);
    }
    this.record("fw2", ["-e", "ct"], r, rec.fw2ExternalCt.join("\n"));
    if (!rec.fw2ExternalCt.length) await this.fail(`the master conntrack never reached fw2's external cache within ${timeoutMs} ms`);
    if (!expOn) await sleep(500);
    // fw1's daemon may see the expectation event a little after the master's updates: poll
    for (;;) {
      r = await c.ctl("fw1", ["-i", "exp"]);
      rec.fw1InternalExp = lines(r.stdout).filter((l) => l.includes(expMatch));
      if (rec.fw1InternalExp.length || !expOn || Date.now() > deadline) break;
      await sleep(50);
    }
    this.record("fw1", ["-i", "exp"], r, rec.fw1InternalExp.join("\n"));
    if (expOn && !rec.fw1InternalExp.length) await this.fail(`fw1's -i exp shows no expectation with ${expMatch}: ${r.stdout.trim() || "(empty)"}`);
    for (;;) {
      r = await c.ctl("fw2", ["-e", "exp"]);
      rec.fw2ExternalExp = lines(r.stdout).filter((l) => l.includes(expMatch));
      if (rec.fw2ExternalExp.length) { rec.expReplicationMs = Math.round(performance.now() - since); break; }
      if (!expOn || Date.now() > deadline) break;
      await sleep(50);
    }
    this.record("fw2", ["-e", "exp"], r, rec.fw2ExternalExp.join("\n"));
    if (expOn && !rec.fw2ExternalExp.length) await this.fail(`fw2's -e exp shows no expectation with ${expMatch} within ${timeoutMs} ms`);
  }

  /** Steps 3 and 4 of every story: fw1 fails, fw2 becomes primary. */
  async failAndTakeOver(rec: FailoverRecord): Promise<void> {
    this.begin(3, "fw1 fails: its daemon is killed, the VIPs move to fw2");
    await this.failover(rec);
    this.end();
    this.begin(4, "fw2 becomes primary: -c commit, -f flush, -R resync, -B bulk send");
    await this.becomePrimary(rec);
    this.end();
  }

  /** fw1 fails: daemon killed, VIPs moved to fw2. */
  async failover(rec: FailoverRecord): Promise<void> {
    const f0 = performance.now();
    try {
      rec.failover.arping = (await this.cluster.failover()).arping;
    } catch (e) {
      await this.fail((e as Error).message);
    }
    rec.failover.ms = Math.round(performance.now() - f0);
    this.cur.lines.push(rec.failover.arping);
  }

  /** primary-backup.sh "primary" on fw2: -c, -f, -R, -B; then the commit log and the witness. */
  async becomePrimary(rec: FailoverRecord): Promise<void> {
    const c = this.cluster;
    const logBefore = lines(await c.readLog("fw2")).length;
    // Over Corosync the new primary commits exactly the failed member's entries (fw1 is node 1).
    const commit = c.opts.transport === "corosync" ? ["-c", "--origin", "1"] : ["-c"];
    for (const args of [commit, ["-f"], ["-R"], ["-B"]]) {
      const r = await this.ctl("fw2", args);
      if (r.code !== 0) await this.fail(`\`-C fw2.conf ${args.join(" ")}\` exited ${r.code}: ${(r.stdout + r.stderr).trim()}`);
      if (args[0] === "-c") {
        // in case a daemon answers before the commit is done: wait (briefly) for its last log line
        const until = Date.now() + 3000;
        while (Date.now() < until && !/commit has taken/.test(await c.readLog("fw2"))) await sleep(50);
      }
    }
    rec.primary = [...this.cur.commands];
    rec.commitLog = lines(await c.readLog("fw2")).slice(logBefore).filter((l) => /commit/i.test(l));
    rec.witnessAfterCommit = await this.witness();
  }
}

/** A FailoverRecord before anything happened. */
export function emptyFailoverRecord(): FailoverRecord {
  return {
    fw2ExternalCt: [], fw1InternalExp: [], fw2ExternalExp: [], expReplicationMs: null,
    failover: { arping: "", ms: 0 }, primary: [], commitLog: [], witnessAfterCommit: { ct: "", exp: "" },
  };
}

/** Is `helper`'s expectation meant to be synced under this ExpectationSync? (conntrackd matches list items as prefixes) */
export function syncsHelper(es: ExpectationSync, helper: string): boolean {
  return es === "on" || (Array.isArray(es) && es.some((h) => helper.toLowerCase().startsWith(h.toLowerCase())));
}

/** Packets counted so far by the forward chain's final drop rule (cluster.ts's rule set). */
export async function dropCount(cluster: Cluster, fw: FwName = "fw2"): Promise<number> {
  const r = await run(["nft", "list", "chain", "inet", "ctsync_fw", "forward"], { ns: cluster.ns[fw] });
  const m = /counter packets (\d+) bytes \d+ drop comment "fwd-drop"/.exec(r.stdout);
  return m ? Number(m[1]) : NaN;
}

/** Build a cluster, run the story, always tear down. */
/**
 * Builds a cluster for one story (with the helpers it needs and the new
 * connections its firewalls let through), runs the story on it, times it and
 * tears the cluster down whatever happened.
 */
export async function inCluster<T extends { totalMs: number }>(
  opts: StoryOptions, extra: Pick<ClusterOptions, "helpers" | "allowNew">,
  story: (cluster: Cluster, opts: StoryOptions) => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  const cluster = await Cluster.create({
    mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: opts.daemons, ...extra,
  });
  try {
    const t = await story(cluster, opts);
    t.totalMs = Math.round(performance.now() - t0);
    return t;
  } finally {
    await cluster.destroy();
  }
}

export function runFtpStory(opts: StoryOptions): Promise<FtpTranscript> {
  return inCluster(opts, {}, ftpStory);
}

/** The story on an existing cluster (daemons not yet started). */
export async function ftpStory(cluster: Cluster, opts: StoryOptions): Promise<FtpTranscript> {
  const dataTimeoutS = opts.dataTimeoutS ?? 3;
  const tr: FtpTranscript = {
    options: { mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: cluster.daemons },
    clusterId: cluster.id, steps: [], pasv: null, ...emptyFailoverRecord(),
    witnessAfterData: { ct: "", exp: "" },
    controlSurvived: false, noopReply: "", data: { arrived: false, error: "not attempted", afterS: 0 },
    fw2Dropped: 0, totalMs: 0,
  };
  const st = new Storyteller(cluster, tr, opts.onStep);
  tr.steps = st.steps;

  // ---- step 0: the daemons and the endpoints -------------------------------
  st.begin(0, "start the sync daemons on fw1 and fw2 and the FTP server");
  await st.startDaemons();
  const server = new JsonLines(cluster.spawnIn("server", "ftp-server", ["python3", FTP_PY, "server", ADDR.server, "21"]));
  try {
    await server.next(5000);
  } catch (e) {
    return st.fail(`ftp server did not start (${(e as Error).message}): ${cluster.procStderr("ftp-server")}`);
  }
  st.cur.lines.push(`daemons: fw1 \`${cluster.daemons.fw1.join(" ")}\`, fw2 \`${cluster.daemons.fw2.join(" ")}\`; ` +
    `${opts.mode} over ${opts.transport}, ExpectationSync ${JSON.stringify(opts.expectationSync)}`);
  st.end();

  // ---- step 1: login and passive mode through fw1 --------------------------
  st.begin(1, "the client logs in through fw1 and enters passive mode");
  const client = new JsonLines(cluster.spawnIn("client", "ftp-client", ["python3", FTP_PY, "client", ADDR.server, "21"]));
  let pasvAt = 0;
  try {
    const banner = await client.next(8000);
    st.cur.lines.push(`< ${String(banner.reply ?? banner.error)}`);
    for (const cmd of ["USER anonymous", "PASS nothing", "PASV"]) {
      const r = await client.send(`cmd ${cmd}`);
      st.cur.lines.push(`> ${cmd}`, `< ${String(r.reply ?? r.error)}`);
      if (!r.ok) return st.fail(`${cmd}: ${String(r.error ?? r.reply)}`);
      if (Array.isArray(r.pasv)) {
        tr.pasv = { reply: String(r.reply), port: Number(r.pasv[1]) };
        pasvAt = performance.now();
      }
    }
  } catch (e) {
    return st.fail(`${(e as Error).message}; client stderr: ${cluster.procStderr("ftp-client").trim() || "(none)"}`);
  }
  if (!tr.pasv) return st.fail("the server did not answer 227 with a port");
  st.end();

  // ---- step 2: the expectation on fw1 and replicated on fw2 ----------------
  st.begin(2, "fw1 holds the expectation (-i exp); fw2 received it (-e exp)");
  await st.replication(tr, (l) => l.includes("dport=21 ") && l.includes("ESTABLISHED"), `dport=${tr.pasv.port} `,
    syncsHelper(opts.expectationSync, "ftp"), pasvAt, opts.replicationTimeoutMs ?? 10_000);
  st.end();

  // ---- steps 3 and 4: fw1 fails, fw2 becomes primary (primary-backup.sh) ----
  await st.failAndTakeOver(tr);

  // ---- step 5: the data connection through fw2 ------------------------------
  st.begin(5, "the client opens the announced data connection through fw2");
  // drops before this step are the failover gap (e.g. the server retransmitting
  // its last control segment before fw2 committed): count only this step's
  const dropsBefore = await dropCount(cluster);
  try {
    const noop = await client.send("cmd NOOP");
    tr.noopReply = String(noop.reply ?? noop.error ?? "");
    tr.controlSurvived = noop.ok === true && tr.noopReply.startsWith("200");
    st.cur.lines.push("> NOOP", `< ${tr.noopReply}`);
    const r = await client.send(`list ${dataTimeoutS}`, (dataTimeoutS + 12) * 1000);
    if (r.ok) {
      tr.data = { arrived: true, listing: String(r.data), replies: (r.replies as string[]) ?? [], connectedAfterS: Number(r.connected_after) };
      st.cur.lines.push(`data connection to port ${tr.pasv.port} open after ${tr.data.connectedAfterS} s`, "> LIST",
        ...tr.data.replies.map((x) => `< ${x}`), `listing: ${tr.data.listing.trim()}`);
    } else {
      tr.data = { arrived: false, error: String(r.error), afterS: Number(r.after) };
      st.cur.lines.push(`data connection to port ${tr.pasv.port}: ${tr.data.error} after ${tr.data.afterS} s`);
    }
  } catch (e) {
    return st.fail(`${(e as Error).message}; client stderr: ${cluster.procStderr("ftp-client").trim() || "(none)"}`);
  }
  tr.witnessAfterData = await st.witness();
  tr.fw2Dropped = (await dropCount(cluster)) - dropsBefore;
  st.cur.lines.push(`fw2's forward chain dropped ${tr.fw2Dropped} packet(s) during this step`);
  try { await client.send("quit", 3000); } catch { /* the story is told; teardown kills it */ }
  st.end();
  return tr;
}
