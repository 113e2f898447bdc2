// The expectation-failover story with H.323 (test/support/h323-story.ts): a
// Q.931 SETUP announces the caller's H.245 address through fw1, fw1 fails,
// fw2 commits, and the callee's H.245 connection reaches the caller through
// fw2 only with expectation sync. Daemons from CTSYNC_E2E_DAEMON /
// CTSYNC_E2E_FW1 / CTSYNC_E2E_FW2 (default ctsyncd). Needs root; skipped
// otherwise, and when the kernel has no H.323 helper.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, daemonsFromEnv, missingTools, isRoot, run, type ExpectationSync } from "../support/cluster.ts";
import { StoryError } from "../support/ftp-story.ts";
import { runH323Story, H245_PORT, H245_MSD_HEX, type H323Transcript } from "../support/h323-story.ts";

const daemons = daemonsFromEnv();
const missing = await missingTools(daemons);

/** Can nftables make a "Q.931" ct helper here (nf_conntrack_h323 built in or loadable)? */
async function missingH323Helper(): Promise<string | null> {
  if (!isRoot()) return null;
  const ns = `ctd-h323probe-${process.pid}`;
  if ((await run(["ip", "netns", "add", ns])).code !== 0) return null;
  try {
    const r = await run(["nft", "-f", "-"], {
      ns, input: 'table inet probe {\n  ct helper q931 {\n    type "Q.931" protocol tcp\n    l3proto ip\n  }\n}\n',
    });
    return r.code === 0 ? null : `the kernel's H.323 conntrack helper (nft: ${r.stderr.trim()})`;
  } finally {
    await run(["ip", "netns", "del", ns]);
  }
}
if (!missing.length) {
  const helper = await missingH323Helper();
  if (helper) missing.push(helper);
}
const skip = missing.length ? `needs ${missing.join(", ")}` : false;

after(() => Cluster.destroyAll());

async function story(expectationSync: ExpectationSync): Promise<H323Transcript> {
  try {
    return await runH323Story({ mode: "FTFW", transport: "udp", expectationSync, daemons });
  } catch (e) {
    if (e instanceof StoryError) assert.fail(e.message);
    throw e;
  }
}

const show = (t: H323Transcript) => JSON.stringify({
  fw1InternalExp: t.fw1InternalExp, fw2ExternalExp: t.fw2ExternalExp, commitLog: t.commitLog,
  witnessAfterCommit: t.witnessAfterCommit, h245: t.h245, info: t.infoReply, dropped: t.fw2Dropped,
  witnessAfterH245: t.witnessAfterH245,
}, null, 1);

const dport = `dport=${H245_PORT} `;

describe("H.323 expectation failover, FTFW over udp", { skip }, () => {
  test("ExpectationSync On: the callee's H.245 connection reaches the caller through fw2", { timeout: 60_000 }, async () => {
    const t = await story("on");
    assert.ok(t.fw1InternalExp.some((l) => l.includes("helper=Q.931")), `fw1 -i exp shows the H.245 expectation\n${show(t)}`);
    assert.ok(t.fw2ExternalExp.some((l) => l.includes("master-src=10.77.1.2")), `fw2 -e exp shows it replicated\n${show(t)}`);
    assert.ok(t.commitLog.some((l) => /Committed [1-9]\d* new expectations/.test(l)), `fw2 logged the expectation commit\n${show(t)}`);
    assert.match(t.witnessAfterCommit.exp, new RegExp(`src=10\\.77\\.2\\.2 dst=10\\.77\\.1\\.2 sport=0 ${dport}.*helper=Q\\.931`),
      "conntrack -L expect in fw2 shows it");
    assert.ok(t.signallingSurvived, `INFORMATION answered through fw2 (${t.infoReply})`);
    assert.ok(t.h245.arrived, `the H.245 connection arrived through fw2\n${show(t)}`);
    assert.ok(t.h245.from.startsWith("10.77.2.2:"), `it came from the callee (${t.h245.from})`);
    assert.equal(t.h245.tpkt, H245_MSD_HEX, "masterSlaveDetermination arrived whole");
    assert.match(t.witnessAfterH245.ct, new RegExp(`^tcp .*src=10\\.77\\.2\\.2 dst=10\\.77\\.1\\.2 sport=\\d+ ${dport}`, "m"),
      `fw2 tracks the H.245 connection\n${show(t)}`);
    assert.equal(t.fw2Dropped, 0);
  });

  test("ExpectationSync Off: the H.245 connection through fw2 is dropped", { timeout: 60_000 }, async () => {
    const t = await story("off");
    assert.equal(t.fw2ExternalExp.length, 0, `fw2 -e exp must be empty\n${show(t)}`);
    assert.ok(!t.witnessAfterCommit.exp.includes(dport), "no expectation in fw2's kernel");
    assert.ok(t.signallingSurvived, `the Q.931 master still survived (${t.infoReply})`);
    assert.ok(!t.h245.arrived, `the H.245 connection must be dropped by fw2\n${show(t)}`);
    assert.ok(t.fw2Dropped > 0, `fw2 counted the dropped SYNs (${t.fw2Dropped})`);
  });
});
