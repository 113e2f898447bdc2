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
  assert.ok(o.stream.bytesAfter > 0, `bytes kept flowing\n${show}`);
  assert.ok(o.stream.lastRxAgeMs < 1000, `and are still flowing at the end (last bytes ${o.stream.lastRxAgeMs} ms ago)\n${show}`);
  assert.match(o.ftp.noop, /^200/, `the FTP control connection survived\n${show}`);
  assert.ok(o.ftp.data.ok, `the announced FTP data connection opened through fw2\n${show}`);
  assert.match(o.ftp.data.listing ?? "", /survived-failover\.txt/);
}

for (const [name, daemon] of [["ctsyncd", [CTSYNCD_BIN]], ["conntrackd", ["conntrackd"]]] as const) {
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
