// The expectation-failover story with H.323 (test/support/h323.py): the
// client calls the server through fw1 (TCP 1720) and its Q.931 SETUP carries
// an h245Address, the client's own H.245 listener. fw1's Q.931 helper
// (nf_conntrack_h323, nft ct helper type "Q.931" on tcp/1720) expects the
// H.245 connection from the server to that port. fw1 fails, fw2 commits, and
// the server's H.245 connection reaches the client through fw2 only if the
// expectation was synchronized: fw2 forwards new lan->wan TCP to 1720, and
// wan->lan only what is established or related.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { ADDR, Cluster, JsonLines, type FwName, type HelperRule } from "./cluster.ts";
import {
  Storyteller, dropCount, emptyFailoverRecord, inCluster, syncsHelper,
  type FailoverRecord, type StepRecord, type StoryOptions,
} from "./ftp-story.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const H323_PY = join(HERE, "h323.py");
export const Q931_HELPER: HelperRule = { name: "q931-1720", type: "Q.931", proto: "tcp", port: 1720 };
/** the H.245 port the client's SETUP announces (its h245Address) */
export const H245_PORT = 40100;
/** the H.245 message the server sends on it: masterSlaveDetermination in a TPKT (h323.py's h245_msd) */
export const H245_MSD_HEX = "0300000b01003280123456";

export interface H323Transcript extends FailoverRecord {
  options: { mode: StoryOptions["mode"]; transport: StoryOptions["transport"]; expectationSync: StoryOptions["expectationSync"]; daemons: Record<FwName, string[]> };
  clusterId: string;
  steps: StepRecord[];
  /** the client's end of the Q.931 connection, e.g. 10.77.1.2:41797 */
  callSignalling: string;
  setupReply: string;
  /** INFORMATION answered through fw2: the Q.931 master conntrack survived */
  signallingSurvived: boolean;
  infoReply: string;
  h245: { arrived: true; from: string; tpkt: string; afterS: number } | { arrived: false; error: string; afterS: number };
  witnessAfterH245: { ct: string; exp: string };
  fw2Dropped: number;
  totalMs: number;
}

export function runH323Story(opts: StoryOptions): Promise<H323Transcript> {
  return inCluster(opts, { helpers: [Q931_HELPER], allowNew: [`tcp dport ${Q931_HELPER.port}`] }, h323Story);
}

export async function h323Story(cluster: Cluster, opts: StoryOptions): Promise<H323Transcript> {
  const waitS = opts.dataTimeoutS ?? 3;
  const tr: H323Transcript = {
    options: { mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: cluster.daemons },
    clusterId: cluster.id, steps: [], ...emptyFailoverRecord(), callSignalling: "", setupReply: "", signallingSurvived: false,
    infoReply: "", h245: { arrived: false, error: "not attempted", afterS: 0 }, witnessAfterH245: { ct: "", exp: "" },
    fw2Dropped: 0, totalMs: 0,
  };
  const st = new Storyteller(cluster, tr, opts.onStep);
  tr.steps = st.steps;

  st.begin(0, "start the sync daemons on fw1 and fw2 and the H.323 endpoints");
  await st.startDaemons();
  const callee = new JsonLines(cluster.spawnIn("server", "h323-callee", ["python3", H323_PY, "callee", ADDR.server]));
  const caller = new JsonLines(cluster.spawnIn("client", "h323-caller", ["python3", H323_PY, "caller", ADDR.client, ADDR.server, String(H245_PORT)]));
  try {
    await callee.next(5000);
    await caller.next(5000);
  } catch (e) {
    return st.fail(`H.323 endpoints did not start (${(e as Error).message}): ${cluster.procStderr("h323-callee")} ${cluster.procStderr("h323-caller")}`);
  }
  st.end();

  st.begin(1, `the client calls through fw1; its Q.931 SETUP announces h245Address ${ADDR.client}:${H245_PORT}`);
  let setupAt = 0;
  try {
    // the TCP connection first, so that the master conntrack is confirmed (and
    // synced) before the SETUP makes its expectation
    const c = await caller.send("connect");
    if (!c.ok) return st.fail(`TCP to ${ADDR.server}:1720: ${String(c.error)}`);
    tr.callSignalling = String(c.local);
    st.cur.lines.push(`TCP ${tr.callSignalling} -> ${ADDR.server}:1720 established`);
    const r = await caller.send("setup");
    setupAt = performance.now();
    tr.setupReply = String(r.reply ?? r.error);
    st.cur.lines.push(`> SETUP (H.225.0 v2, h245Address ${ADDR.client}:${H245_PORT}, h245Tunneling FALSE; ${String(r.bytes)} bytes)`, `< ${tr.setupReply}`);
    if (!r.ok) return st.fail(`SETUP: ${tr.setupReply}`);
  } catch (e) {
    return st.fail(`${(e as Error).message}; caller stderr: ${cluster.procStderr("h323-caller").trim() || "(none)"}`);
  }
  st.end();

  st.begin(2, "fw1 holds the H.245 expectation (-i exp); fw2 received it (-e exp)");
  // the kernel reports an expectation under its master's helper: Q.931
  await st.replication(tr, (l) => l.startsWith("tcp") && l.includes("dport=1720 ") && l.includes("ESTABLISHED"),
    `dport=${H245_PORT} `, syncsHelper(opts.expectationSync, Q931_HELPER.type), setupAt, opts.replicationTimeoutMs ?? 10_000);
  st.end();

  await st.failAndTakeOver(tr);

  st.begin(5, `the server opens the H.245 connection to ${ADDR.client}:${H245_PORT} through fw2`);
  const dropsBefore = await dropCount(cluster);
  try {
    const i = await caller.send("info");
    tr.infoReply = String(i.reply ?? i.error);
    tr.signallingSurvived = i.ok === true && tr.infoReply === "INFORMATION";
    st.cur.lines.push("> INFORMATION", `< ${tr.infoReply}`);
    caller.write(`accept ${waitS}`);
    const sent = await callee.send(`h245 ${ADDR.client} ${H245_PORT} ${waitS}`, (waitS + 5) * 1000);
    st.cur.lines.push(sent.ok
      ? `the server connected from ${String(sent.local)} and sent masterSlaveDetermination`
      : `the server could not connect (${String(sent.error)} after ${String(sent.after)} s)`);
    const r = await caller.next((waitS + 5) * 1000);
    tr.h245 = r.ok
      ? { arrived: true, from: String(r.from), tpkt: String(r.tpkt), afterS: Number(r.after) }
      : { arrived: false, error: String(r.error), afterS: Number(r.after) };
    st.cur.lines.push(tr.h245.arrived
      ? `the client accepted H.245 from ${tr.h245.from}: TPKT ${tr.h245.tpkt}`
      : `no H.245 connection reached the client (${tr.h245.error} after ${tr.h245.afterS} s)`);
  } catch (e) {
    return st.fail(`${(e as Error).message}; caller stderr: ${cluster.procStderr("h323-caller").trim() || "(none)"}; ` +
      `callee stderr: ${cluster.procStderr("h323-callee").trim() || "(none)"}`);
  }
  tr.witnessAfterH245 = await st.witness();
  tr.fw2Dropped = (await dropCount(cluster)) - dropsBefore;
  st.cur.lines.push(`fw2's forward chain dropped ${tr.fw2Dropped} packet(s) during this step`);
  st.end();
  return tr;
}
