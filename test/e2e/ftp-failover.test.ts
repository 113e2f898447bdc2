// The conntrack-tools manual's expectation-failover story, end to end: two
// firewalls in network namespaces, an FTP client in passive mode through fw1,
// fw1 fails, fw2 commits what it was sent, and the data connection goes (or,
// without expectation sync, does not go) through fw2. See
// test/support/ftp-story.ts for the steps and test/support/cluster.ts for the
// topology.
//
// The daemons come from CTSYNC_E2E_DAEMON (default: this checkout's
// bin/ctsyncd), or per firewall from CTSYNC_E2E_FW1 / CTSYNC_E2E_FW2, e.g.
//   CTSYNC_E2E_DAEMON=conntrackd node --import tsx --test test/e2e/ftp-failover.test.ts
// The last cases mix the two implementations whatever the environment says.
// Needs root, ip, nft, conntrack, python3 and the daemon; skipped otherwise.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, CTSYNCD_BIN, daemonsFromEnv, missingTools, type ExpectationSync, type SyncMode, type Transport } from "../support/cluster.ts";
import { corosyncMissing } from "../support/corosync.ts";
import { runFtpStory, StoryError, type FtpTranscript } from "../support/ftp-story.ts";

const daemons = daemonsFromEnv();
const missing = await missingTools(daemons);
const skip = missing.length ? `needs ${missing.join(", ")}` : false;

after(() => Cluster.destroyAll());

async function story(mode: SyncMode, transport: Transport, expectationSync: ExpectationSync, pair = daemons): Promise<FtpTranscript> {
  try {
    return await runFtpStory({ mode, transport, expectationSync, daemons: pair });
  } catch (e) {
    // a harness failure: say which step and what the daemons printed
    if (e instanceof StoryError) assert.fail(e.message);
    throw e;
  }
}

const show = (t: FtpTranscript) => JSON.stringify({
  pasv: t.pasv, fw1InternalExp: t.fw1InternalExp, fw2ExternalExp: t.fw2ExternalExp, commitLog: t.commitLog,
  witnessAfterCommit: t.witnessAfterCommit, data: t.data, noop: t.noopReply, dropped: t.fw2Dropped,
}, null, 1);

function assertPositive(t: FtpTranscript): void {
  assert.ok(t.pasv && t.pasv.port > 0, "the server announced a data port");
  const dport = `dport=${t.pasv.port} `;
  assert.ok(t.fw1InternalExp.some((l) => l.includes(dport) && l.includes("master-dst=10.77.2.2 sport=") && l.includes("dport=21")),
    `fw1 -i exp shows the expectation with its master\n${show(t)}`);
  assert.ok(t.fw2ExternalExp.some((l) => l.includes(dport) && l.includes("dport=21")), `fw2 -e exp shows it replicated\n${show(t)}`);
  assert.ok(t.commitLog.some((l) => /Committed [1-9]\d* new expectations/.test(l)), `fw2 logged the expectation commit\n${show(t)}`);
  assert.ok(t.commitLog.some((l) => /commit has taken [\d.]+ seconds/.test(l)), `fw2 logged the commit time\n${show(t)}`);
  assert.match(t.witnessAfterCommit.exp, new RegExp(`${dport}.*helper=ftp`), "conntrack -L expect in fw2 shows the committed expectation");
  assert.match(t.witnessAfterCommit.ct, /dport=21 .*ESTABLISHED|ESTABLISHED .*dport=21 /, "conntrack -L in fw2 shows the committed master");
  assert.ok(t.controlSurvived, `the control connection survived (NOOP: ${t.noopReply})`);
  assert.ok(t.data.arrived, `the listing arrived through fw2\n${show(t)}`);
  assert.match(t.data.listing, /survived-failover\.txt/);
  assert.match(t.witnessAfterData.ct, new RegExp(`dport=${t.pasv.port} `), "conntrack -L in fw2 shows the data connection");
  assert.equal(t.fw2Dropped, 0, "fw2 dropped nothing during the data connection");
}

function assertNegative(t: FtpTranscript): void {
  assert.ok(t.pasv && t.pasv.port > 0, "the server announced a data port");
  const dport = `dport=${t.pasv.port} `;
  assert.ok(t.fw2ExternalCt.length > 0, "the master conntrack still reached fw2");
  assert.equal(t.fw2ExternalExp.length, 0, `fw2 -e exp must not hold the expectation\n${show(t)}`);
  assert.ok(!t.commitLog.some((l) => /Committed [1-9]\d* new expectations/.test(l)), `no expectation committed\n${show(t)}`);
  assert.ok(!t.witnessAfterCommit.exp.includes(dport), "conntrack -L expect in fw2 shows no expectation");
  assert.ok(t.controlSurvived, `the control connection still survived (NOOP: ${t.noopReply})`);
  assert.ok(!t.data.arrived, `the data connection must be dropped by fw2\n${show(t)}`);
  assert.equal(t.data.error, "timeout");
  assert.ok(t.fw2Dropped > 0, `fw2's forward chain counted the dropped SYNs (${t.fw2Dropped})`);
}

const CASES: [SyncMode, Transport][] = [["FTFW", "udp"], ["NOTRACK", "udp"], ["ALARM", "udp"], ["FTFW", "multicast"]];

for (const [mode, transport] of CASES) {
  describe(`FTP expectation failover, ${mode} over ${transport}`, { skip }, () => {
    test("ExpectationSync On: the listing arrives through fw2", { timeout: 60_000 }, async () => {
      assertPositive(await story(mode, transport, "on"));
    });
    test("ExpectationSync Off: the data connection through fw2 is dropped", { timeout: 60_000 }, async () => {
      assertNegative(await story(mode, transport, "off"));
    });
  });
}

// Over Corosync (ctsyncd's own transport: a ring of fw1 node 1 and fw2 node 2):
// fw2 commits exactly the failed member's entries, -c --origin 1.
const noCorosync = await corosyncMissing();
const ctsyncdOnly = daemons.fw1[0] === CTSYNCD_BIN && daemons.fw2[0] === CTSYNCD_BIN ? [] : ["ctsyncd on both firewalls (Corosync is ctsync's own)"];
const corosyncSkip = skip || ([...noCorosync, ...ctsyncdOnly].length ? `needs ${[...noCorosync, ...ctsyncdOnly].join(", ")}` : false);
describe("FTP expectation failover, NOTRACK over Corosync, fw2 committing fw1's entries (-c --origin 1)", { skip: corosyncSkip }, () => {
  test("ExpectationSync On: the listing arrives through fw2", { timeout: 90_000 }, async () => {
    const t = await story("NOTRACK", "corosync", "on");
    assertPositive(t);
    assert.ok(t.commitLog.some((l) => /entries from Corosync member 1 only/.test(l)), `fw2 committed fw1's entries only\n${show(t)}`);
  });
});

describe("FTP expectation failover, ExpectationSync helper list (FTFW over udp)", { skip }, () => {
  test("ExpectationSync { ftp }: the listing arrives through fw2", { timeout: 60_000 }, async () => {
    assertPositive(await story("FTFW", "udp", ["ftp"]));
  });
  test("ExpectationSync { sip }: the FTP expectation is not synced, the data connection is dropped", { timeout: 60_000 }, async () => {
    assertNegative(await story("FTFW", "udp", ["sip"]));
  });
});

// Mixed clusters: conntrackd 1.4.7 on one firewall, ctsyncd on the other.
const MIXED = {
  "conntrackd primary, ctsyncd backup": { fw1: ["conntrackd"], fw2: [CTSYNCD_BIN] },
  "ctsyncd primary, conntrackd backup": { fw1: [CTSYNCD_BIN], fw2: ["conntrackd"] },
};
const mixedMissing = await missingTools(MIXED["conntrackd primary, ctsyncd backup"]);
for (const [name, pair] of Object.entries(MIXED)) {
  describe(`FTP expectation failover, ${name} (FTFW over udp)`, { skip: mixedMissing.length ? `needs ${mixedMissing.join(", ")}` : false }, () => {
    test("ExpectationSync On: the listing arrives through fw2", { timeout: 60_000 }, async () => {
      assertPositive(await story("FTFW", "udp", "on", pair));
    });
  });
}
