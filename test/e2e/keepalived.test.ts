// keepalived for real: Debian's keepalived 2.2 elects fw1 or fw2 over VRRP on
// both segments (one vrrp_sync_group), and on a change runs conntrack-tools'
// own primary-backup.sh against the daemon under test (ctsyncd, and the real
// conntrackd as the reference). fw1 fails like a firewall losing power; the
// VIPs move to fw2, the script commits, a long-lived TCP stream through the
// VIPs keeps flowing and an FTP data connection announced before the failure
// opens through fw2. See test/support/keepalived.ts.
//
// Then ctsyncd alone: the same failover with keepalived's notify_fifo read by
// the daemon itself (its Keepalived section), no process started.
import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import { Cluster, CTSYNCD_BIN, missingTools } from "../support/cluster.ts";
import { KeepalivedCluster, keepalivedMissing, type FailoverObservation, type KeepalivedOptions } from "../support/keepalived.ts";

const missing = [...await missingTools({ fw1: [CTSYNCD_BIN], fw2: ["conntrackd"] }), ...await keepalivedMissing()];
const skip = missing.length ? `needs ${missing.join(", ")}` : false;

after(() => Cluster.destroyAll());

async function failover(opts: KeepalivedOptions): Promise<{ o: FailoverObservation; k: KeepalivedCluster; fw2Log: string }> {
  const k = await KeepalivedCluster.create(opts);
  try {
    const o = await k.failover();
    if (process.env.CTSYNC_E2E_SHOW) console.log(JSON.stringify(o, null, 1));
    return { o, k, fw2Log: await k.cluster.readLog("fw2") };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${await k.words()}`);
  } finally {
    await k.destroy();
  }
}

function assertSurvived(o: FailoverObservation): void {
  const show = JSON.stringify(o, null, 1);
  assert.ok(o.vipsUpMs !== null && o.vipsUpMs > 0, `the VIPs came up on fw2\n${show}`);
  assert.ok(o.transition, `the primary transition ran on fw2\n${show}`);
  assert.equal(o.stream.error, null, `the stream was not reset\n${show}`);
  assert.ok(o.stream.bytesAfter > 0 && o.stream.silentFlows === 0, `bytes kept flowing on every connection\n${show}`);
  assert.ok(o.stream.lastRxAgeMs < 1000, `and are still flowing at the end (last bytes ${o.stream.lastRxAgeMs} ms ago)\n${show}`);
  assert.match(o.ftp.noop, /^200/, `the FTP control connection survived\n${show}`);
  assert.ok(o.ftp.data.ok, `the announced FTP data connection opened through fw2\n${show}`);
  assert.match(o.ftp.data.listing ?? "", /survived-failover\.txt/);
}

const DAEMONS = [["ctsyncd", [CTSYNCD_BIN]], ["conntrackd", ["conntrackd"]]] as const;

for (const [name, daemon] of DAEMONS) {
  describe(`keepalived failover with primary-backup.sh, ${name}`, { skip }, () => {
    test("the VIPs move to fw2, the script commits there, the stream and the FTP data connection go through", { timeout: 120_000 }, async () => {
      const { o, fw2Log } = await failover({ daemon: [...daemon] });
      assertSurvived(o);
      assert.ok(o.transitionLog.some((l) => / -c$/.test(l) && l.startsWith("end ")), `the script ran -c on fw2\n${o.transitionLog.join("\n")}`);
      assert.ok(o.transitionLog.some((l) => / -B$/.test(l) && l.startsWith("end ")), "and got to -B");
      assert.match(fw2Log, /commit has taken [\d.]+ seconds/, "fw2's daemon logged the commit");
      assert.match(fw2Log, /Committed [1-9]\d* new expectations/, "and the expectation in it");
    });
  });
}

describe("keepalived failover through the notify FIFO, ctsyncd in-process (no script)", { skip }, () => {
  test("keepalived writes GROUP \"G1\" MASTER, ctsyncd commits at once; the stream and the FTP data connection go through", { timeout: 120_000 }, async () => {
    const { o, fw2Log } = await failover({ daemon: [CTSYNCD_BIN], notify: "fifo" });
    assertSurvived(o);
    assert.match(fw2Log, /keepalived: following sync group "G1" on \S+fw2\.fifo/);
    assert.match(fw2Log, /keepalived: GROUP "G1" BACKUP \d+: backup transition/, "the start as backup ran -t and -n in-process");
    assert.match(fw2Log, /keepalived: GROUP "G1" MASTER \d+ read at \d+: primary transition done in [\d.]+ ms \(commit [\d.]+ ms\)/);
    assert.match(fw2Log, /Committed [1-9]\d* new expectations/);
    assert.ok(o.transition!.startMs >= 0, "the transition began after the failure");
  });
});

// The race of keepalived's issue 2254: the VIPs come up before the commit is
// done, so a segment that reaches fw2 in between finds no state and is
// INVALID. With DisableExternalCache the peer's entries are in fw2's kernel
// as they arrive: nothing waits for a commit.
for (const [name, daemon] of DAEMONS) {
  describe(`keepalived failover with DisableExternalCache and primary-backup.sh, ${name}`, { skip }, () => {
    test("fw2's kernel already holds the flows: not one packet is INVALID on fw2", { timeout: 120_000 }, async () => {
      const { o } = await failover({ daemon: [...daemon], disableExternalCache: true });
      assertSurvived(o);
      assert.ok(o.fw2KnewFlows, "fw2's kernel held the flows before the failure");
      assert.equal(o.invalid, 0, `no packet met fw2 without its state\n${JSON.stringify(o, null, 1)}`);
    });
  });

  // ...but primary-backup.sh's backup branch runs -t, which flushes the kernel
  // table PurgeTimeout seconds later: with DisableExternalCache that table is
  // the synchronized state, and a backup that joins a running cluster (its -n
  // has the primary send everything) loses it all.
  describe(`a backup joining late, DisableExternalCache and primary-backup.sh as it is, ${name}`, { skip }, () => {
    test("the script's -t flushes what -n brought into fw2's kernel: the flows are lost at the failover", { timeout: 120_000 }, async () => {
      const { o, fw2Log } = await failover({ daemon: [...daemon], disableExternalCache: true, backupJoinsLate: true, purgeTimeout: 5, ageMs: 6000 });
      assert.match(fw2Log, /flushing conntrack table in 5 secs/);
      assert.equal(o.fw2KnewFlows, false, `fw2's kernel no longer held the flows\n${JSON.stringify(o, null, 1)}`);
      assert.ok(o.invalid > 0, "the stream's segments met fw2 without state");
      assert.equal(o.ftp.data.ok, false, "and the FTP session did not survive");
    });
  });
}

describe("a backup joining late, DisableExternalCache and the notify FIFO, ctsyncd", { skip }, () => {
  test("the in-process backup transition keeps the kernel table: no INVALID packet, the flows survive", { timeout: 120_000 }, async () => {
    const { o, fw2Log } = await failover({ daemon: [CTSYNCD_BIN], notify: "fifo", disableExternalCache: true, backupJoinsLate: true, purgeTimeout: 5, ageMs: 6000 });
    assert.match(fw2Log, /backup transition \(DisableExternalCache: the kernel table is kept, no scheduled flush\)/);
    assert.ok(o.fw2KnewFlows, `fw2's kernel still held the flows\n${JSON.stringify(o, null, 1)}`);
    assertSurvived(o);
    assert.equal(o.invalid, 0, `no packet met fw2 without its state\n${JSON.stringify(o, null, 1)}`);
  });
});
