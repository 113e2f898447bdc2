// The expectation-failover story with SIP instead of FTP: the client sends an
// INVITE through fw1 whose SDP announces an RTP port; fw1's SIP helper
// (nf_conntrack_sip, nft ct helper type "sip" on udp/5060) expects the media
// from the server to that port (and RTCP to the next). fw1 fails, fw2 commits,
// and the server's RTP reaches the client through fw2 only if the expectation
// was synchronized: fw2 forwards new lan->wan SIP, and wan->lan only what is
// established or related.
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { ADDR, Cluster, JsonLines, type FwName, type HelperRule } from "./cluster.ts";
import {
  Storyteller, dropCount, emptyFailoverRecord, inCluster, syncsHelper,
  type FailoverRecord, type StepRecord, type StoryOptions,
} from "./ftp-story.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
export const SIP_PY = join(HERE, "sip.py");
export const SIP_HELPER: HelperRule = { name: "sip-5060", type: "sip", proto: "udp", port: 5060 };
/** the RTP port the client's SDP announces (even, above 1024) */
export const RTP_PORT = 40000;

export interface SipTranscript extends FailoverRecord {
  options: { mode: StoryOptions["mode"]; transport: StoryOptions["transport"]; expectationSync: StoryOptions["expectationSync"]; daemons: Record<FwName, string[]> };
  clusterId: string;
  steps: StepRecord[];
  inviteReply: string;
  /** OPTIONS answered through fw2: the SIP master conntrack survived */
  signallingSurvived: boolean;
  optionsReply: string;
  media: { arrived: true; bytes: number; from: string; afterS: number } | { arrived: false; error: string; afterS: number };
  witnessAfterMedia: { ct: string; exp: string };
  fw2Dropped: number;
  totalMs: number;
}

export function runSipStory(opts: StoryOptions): Promise<SipTranscript> {
  return inCluster(opts, { helpers: [SIP_HELPER], allowNew: ["udp dport 5060"] }, sipStory);
}

export async function sipStory(cluster: Cluster, opts: StoryOptions): Promise<SipTranscript> {
  const waitS = opts.dataTimeoutS ?? 2;
  const tr: SipTranscript = {
    options: { mode: opts.mode, transport: opts.transport, expectationSync: opts.expectationSync, daemons: cluster.daemons },
    clusterId: cluster.id, steps: [], ...emptyFailoverRecord(), inviteReply: "", signallingSurvived: false, optionsReply: "",
    media: { arrived: false, error: "not attempted", afterS: 0 }, witnessAfterMedia: { ct: "", exp: "" }, fw2Dropped: 0, totalMs: 0,
  };
  const st = new Storyteller(cluster, tr, opts.onStep);
  tr.steps = st.steps;

  st.begin(0, "start the sync daemons on fw1 and fw2 and the SIP endpoints");
  await st.startDaemons();
  const uas = new JsonLines(cluster.spawnIn("server", "sip-uas", ["python3", SIP_PY, "uas", ADDR.server]));
  const uac = new JsonLines(cluster.spawnIn("client", "sip-uac", ["python3", SIP_PY, "uac", ADDR.client, ADDR.server, String(RTP_PORT)]));
  try {
    await uas.next(5000);
    await uac.next(5000);
  } catch (e) {
    return st.fail(`SIP endpoints did not start (${(e as Error).message}): ${cluster.procStderr("sip-uas")} ${cluster.procStderr("sip-uac")}`);
  }
  st.end();

  st.begin(1, opts.inviteFirst
    ? `the client's INVITE opens the flow through fw1; its SDP announces RTP port ${RTP_PORT}`
    : `the client sends OPTIONS, then an INVITE through fw1 whose SDP announces RTP port ${RTP_PORT}`);
  let inviteAt = 0;
  try {
    // OPTIONS first, so that the master conntrack exists before the INVITE. An
    // INVITE that opens the flow creates the master and its expectations with
    // one packet: the kernel reports the expectations before it confirms the
    // master, and conntrackd 1.4.7 drops an expectation whose master is not in
    // its internal cache yet (ct_filter_master): it would never be synced.
    if (!opts.inviteFirst) {
      const o = await uac.send("options");
      st.cur.lines.push(`> OPTIONS sip:bob@${ADDR.server}`, `< ${String(o.reply ?? o.error)}`);
      if (!o.ok) return st.fail(`OPTIONS: ${String(o.reply ?? o.error)}`);
    }
    const r = await uac.send("invite");
    inviteAt = performance.now();
    tr.inviteReply = String(r.reply ?? r.error);
    st.cur.lines.push(`> INVITE sip:bob@${ADDR.server} (SDP: c=IN IP4 ${ADDR.client}, m=audio ${RTP_PORT} RTP/AVP 0)`, `< ${tr.inviteReply}`);
    if (!r.ok) return st.fail(`INVITE: ${tr.inviteReply}`);
  } catch (e) {
    return st.fail(`${(e as Error).message}; uac stderr: ${cluster.procStderr("sip-uac").trim() || "(none)"}`);
  }
  st.end();

  st.begin(2, "fw1 holds the RTP expectation (-i exp); fw2 received it (-e exp)");
  await st.replication(tr, (l) => l.startsWith("udp") && l.includes("dport=5060 "), `dport=${RTP_PORT} `,
    syncsHelper(opts.expectationSync, "sip"), inviteAt, opts.replicationTimeoutMs ?? 10_000);
  st.end();

  await st.failAndTakeOver(tr);

  st.begin(5, `the server sends RTP to ${ADDR.client}:${RTP_PORT} through fw2`);
  const dropsBefore = await dropCount(cluster);
  try {
    const o = await uac.send("options");
    tr.optionsReply = String(o.reply ?? o.error);
    tr.signallingSurvived = o.ok === true && tr.optionsReply.startsWith("SIP/2.0 200");
    st.cur.lines.push("> OPTIONS", `< ${tr.optionsReply}`);
    uac.write(`recv ${waitS}`);
    const sent = await uas.send(`rtp ${ADDR.client} ${RTP_PORT} 5`);
    st.cur.lines.push(`server sent ${String(sent.sent)} RTP datagrams from ${ADDR.server}:50000`);
    const r = await uac.next((waitS + 5) * 1000);
    tr.media = r.ok
      ? { arrived: true, bytes: Number(r.bytes), from: String(r.from), afterS: Number(r.after) }
      : { arrived: false, error: String(r.error), afterS: Number(r.after) };
    st.cur.lines.push(tr.media.arrived
      ? `the client received ${tr.media.bytes} bytes of RTP from ${tr.media.from}`
      : `no RTP reached the client (${tr.media.error} after ${tr.media.afterS} s)`);
  } catch (e) {
    return st.fail(`${(e as Error).message}; uac stderr: ${cluster.procStderr("sip-uac").trim() || "(none)"}`);
  }
  tr.witnessAfterMedia = await st.witness();
  tr.fw2Dropped = (await dropCount(cluster)) - dropsBefore;
  st.cur.lines.push(`fw2's forward chain dropped ${tr.fw2Dropped} packet(s) during this step`);
  st.end();
  return tr;
}
