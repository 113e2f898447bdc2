// Pacemaker's resource agent for conntrackd, ocf:heartbeat:conntrackd from
// resource-agents, managing ctsyncd (binary=ctsyncd) as it manages
// conntrackd: ocf-tester's whole run, and the failover path action by action
// (start, monitor, promote with its commit, notify, demote, stop) against a
// peer on a sync link, each for both daemons. Needs root, resource-agents,
// ocf-tester, xmllint and conntrackd.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { Pair, CTSYNCD, until } from "../support/pair.ts";
import { OcfResource, OCF, missingForAgent } from "../support/ocf.ts";

const missing = missingForAgent();
const skip = missing.length ? `missing: ${missing.join(", ")}` : false;
const DAEMONS = [["ctsyncd", CTSYNCD], ["conntrackd", "conntrackd"]] as const;
const BIN_DIR = dirname(CTSYNCD);

let pair: Pair;
before(() => {
  if (skip) return;
  // HashSize above 8192, or conntrackd's commit never ends (see PairOptions.hashSize)
  pair = new Pair("pm", { hashSize: 32768 });
  Pair.start(pair.b); // the peer: ctsyncd on the other end of the sync link
});
after(() => pair?.close());

/** The daemon's log from `from` on. */
const logSince = (from: number) => Pair.logOf(pair.a).slice(from);

for (const [name, binary] of DAEMONS) {
  test(`ocf-tester passes the agent managing ${name} (binary=${name})`, { skip }, () => {
    // by name, as an operator writes it: ctsyncd found on the PATH
    const rsc = new OcfResource(pair.a, name, `t-${name}`, pair.dir, name === "ctsyncd" ? BIN_DIR : undefined);
    const r = rsc.tester();
    assert.equal(r.status, 0, `ocf-tester failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /passed all tests/);
    assert.doesNotMatch(r.stdout, /^\* rc=/m, "no failed assertion");
    assert.ok(!existsSync(pair.a.sock), "the daemon is stopped at the end");
    assert.ok(!rsc.promoted(), "the agent's promoted state is cleared");
  });

  test(`the failover path through the agent with ${name}: start, promote commits the peer's flows, notify, demote, stop`, { skip }, async () => {
    const rsc = new OcfResource(pair.a, binary, `f-${name}`, pair.dir);
    const a = pair.a, b = pair.b;
    const from = Pair.logOf(a).length;
    const port = name === "ctsyncd" ? "5001" : "5002";
    try {
      assert.equal(rsc.action("monitor").status, OCF.NOT_RUNNING, "probe before start");
      const start = rsc.action("start");
      assert.equal(start.status, OCF.SUCCESS, start.stderr);
      assert.equal(rsc.action("monitor", { OCF_RESKEY_CRM_meta_interval: "20000" }).status, OCF.SUCCESS);
      assert.match(logSince(from), /resync requested/, "start asked the peer for a resync (-n)");

      // A flow on the peer (the primary so far) reaches a's external cache.
      Pair.run(b, "conntrack", ["-I", "-p", "tcp", "-s", "192.0.2.50", "-d", "198.51.100.50", "--sport", port, "--dport", "443",
        "--state", "ESTABLISHED", "-t", "300"]);
      assert.ok(await until(() => Pair.ctl(a, "-e").stdout.includes(`sport=${port}`), 10_000), "replicated to a");
      assert.doesNotMatch(Pair.run(a, "conntrack", ["-L"]).stdout, new RegExp(`sport=${port}`));

      // The peer fails; Pacemaker promotes a: -c, -f, -R, -B.
      const promote = rsc.action("promote");
      assert.equal(promote.status, OCF.SUCCESS, promote.stderr);
      assert.ok(rsc.promoted());
      assert.equal(rsc.action("monitor", { OCF_RESKEY_CRM_meta_interval: "10000" }).status, OCF.RUNNING_MASTER);
      assert.match(Pair.run(a, "conntrack", ["-L"]).stdout, new RegExp(`src=192\\.0\\.2\\.50 dst=198\\.51\\.100\\.50 sport=${port} dport=443`),
        "promote committed the peer's flow into a's kernel");
      const promoted = logSince(from);
      for (const line of ["committing all external caches", "flushing caches", "resync with master conntrack table", "sending bulk update"]) {
        assert.ok(promoted.includes(line), `a's log says "${line}"`);
      }
      assert.ok(rsc.scoreCalls().includes("-Q -l reboot -v 1000"), "promote set the master score");

      // The peer comes back: the master sends it everything (notify post-start).
      const bulkBefore = (logSince(from).match(/sending bulk update/g) ?? []).length;
      const notify = rsc.action("notify", {
        OCF_RESKEY_CRM_meta_notify_type: "post",
        OCF_RESKEY_CRM_meta_notify_operation: "start",
        OCF_RESKEY_CRM_meta_notify_master_uname: hostname(),
        OCF_RESKEY_CRM_meta_notify_start_uname: "the-peer",
      });
      assert.equal(notify.status, OCF.SUCCESS, notify.stderr);
      assert.ok(await until(() => (logSince(from).match(/sending bulk update/g) ?? []).length > bulkBefore), "notify sent a bulk update (-B)");

      // Back to backup: -t and -n.
      const demote = rsc.action("demote");
      assert.equal(demote.status, OCF.SUCCESS, demote.stderr);
      assert.ok(!rsc.promoted());
      assert.equal(rsc.action("monitor").status, OCF.SUCCESS);
      assert.match(logSince(from), /flushing conntrack table in \d+ secs/);

      const stop = rsc.action("stop");
      assert.equal(stop.status, OCF.SUCCESS, stop.stderr);
      assert.equal(rsc.action("monitor").status, OCF.NOT_RUNNING);
      assert.ok(!existsSync(a.sock), "the control socket is gone");
      assert.ok(!existsSync(a.lock), "the lock file is gone");
    } finally {
      if (existsSync(a.sock) && rsc.action("stop", {}, 20_000).status !== OCF.SUCCESS) {
        Pair.killAllIn(a);
        rmSync(a.sock, { force: true });
        rmSync(a.lock, { force: true });
      }
      Pair.run(a, "conntrack", ["-F"]);
      Pair.run(b, "conntrack", ["-F"]);
    }
  });
}

test("ctsyncd stopped by SIGTERM (as systemd stops it) leaves no socket for the agent to take for a live daemon", { skip }, async () => {
  const rsc = new OcfResource(pair.a, CTSYNCD, "term-ctsyncd", pair.dir);
  const pid = Pair.start(pair.a);
  assert.equal(rsc.action("monitor").status, OCF.SUCCESS);
  process.kill(pid, "SIGTERM");
  assert.ok(await until(() => !existsSync(pair.a.sock) && !existsSync(pair.a.lock), 10_000), "socket and lock file removed");
  assert.equal(rsc.action("monitor").status, OCF.NOT_RUNNING);
  assert.match(readFileSync(pair.a.log, "utf8"), /shutdown received/);
});

test("after a SIGKILL the agent recovers ctsyncd: monitor reports the failure, stop ends, start runs a new daemon", { skip }, () => {
  const rsc = new OcfResource(pair.a, CTSYNCD, "kill-ctsyncd", pair.dir);
  const pid = Pair.start(pair.a);
  assert.equal(rsc.action("monitor").status, OCF.SUCCESS);
  process.kill(pid, "SIGKILL");
  spawnSync("sh", ["-c", `while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`]);
  assert.ok(existsSync(pair.a.sock) && existsSync(pair.a.lock), "the crash left the socket and the lock file");
  assert.equal(rsc.action("monitor").status, OCF.ERR_GENERIC, "monitor sees a daemon that does not answer");
  // Pacemaker's recovery: stop (the agent loops on -k while the socket is there), then start.
  const stop = rsc.action("stop", {}, 20_000);
  assert.equal(stop.status, OCF.SUCCESS, `stop ended: ${stop.stderr}`);
  const start = rsc.action("start", {}, 20_000);
  assert.equal(start.status, OCF.SUCCESS, start.stderr);
  assert.equal(rsc.action("monitor").status, OCF.SUCCESS);
  assert.match(readFileSync(pair.a.log, "utf8"), new RegExp(`took over the stale lockfile .* of pid ${pid}`));
  assert.equal(rsc.action("stop").status, OCF.SUCCESS);
});
