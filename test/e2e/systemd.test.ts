// ctsyncd as contrib/systemd/ctsyncd.service runs it, without systemd as
// PID 1: the unit's ExecStart command line in a network namespace with a sync
// link, under the unit's capability bounding set and no_new_privs (setpriv),
// with NOTIFY_SOCKET pointing at a stand-in for systemd's notification socket.
// Type=notify with NotifyAccess=main accepts READY=1 only from the service's
// main process: the pid systemd started, which the datagram's credentials
// must carry (conntrackd's does: the reference). SIGTERM (systemctl stop)
// must end it cleanly. Needs root, setpriv (util-linux) and python3.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Pair, CTSYNCD, until } from "../support/pair.ts";
import { isRoot, ROOT } from "../support/netns.ts";
import { unitFile, unitValues } from "../support/unit.ts";

const skip = !isRoot() ? "needs root (network namespaces)"
  : spawnSync("sh", ["-c", "command -v setpriv && command -v python3"]).status !== 0 ? "needs setpriv and python3" : false;

let pair: Pair | undefined;
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  pair?.close();
});

/** Lines a child prints, as they come. */
function lines(child: ChildProcess): AsyncIterableIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

interface UnderUnit {
  /** The pid systemd would have started: the main pid. */
  pid: number;
  /** Who sent READY=1, by the datagram's credentials; null: no READY=1 within 60 s. */
  readySender: number | null;
  output: () => string;
  /** SIGTERM, as systemctl stop; resolves with the exit status. */
  stop: () => Promise<number | null>;
}

/**
 * Runs `binary` as the unit would (its arguments, our configuration) in a
 * side's namespace, under the unit's capability bounding set and
 * no_new_privs, with NOTIFY_SOCKET at a stand-in; resolves once READY=1 came.
 */
async function runUnderUnit(binary: string, side: Pair["a"], dir: string): Promise<UnderUnit> {
  const unit = unitValues(readFileSync(unitFile, "utf8"));
  assert.deepEqual(unit.ExecStart[0].split(/\s+/).slice(1), ["-C", "/etc/conntrackd/conntrackd.conf"]);
  const caps = unit.CapabilityBoundingSet[0].split(/\s+/).map((c) => `+${c.replace(/^CAP_/, "").toLowerCase()}`);

  const notifySocket = join(dir, `notify-${children.length}.sock`);
  const listener = spawn("python3", [join(ROOT, "test/support/notify-listen.py"), notifySocket, "60"], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(listener);
  const heard = lines(listener);
  assert.equal((await heard.next()).value, "LISTENING");

  const daemon = spawn("ip", ["netns", "exec", side.ns.name,
    "setpriv", "--bounding-set", `-all,${caps.join(",")}`, "--no-new-privs",
    binary, "-C", side.conf], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NOTIFY_SOCKET: notifySocket } });
  children.push(daemon);
  let out = "";
  daemon.stdout!.on("data", (d) => (out += d));
  daemon.stderr!.on("data", (d) => (out += d));

  let readySender: number | null = null;
  for await (const line of heard) {
    const msg = JSON.parse(line) as { pid: number | null; text: string };
    if (msg.text.split("\n").includes("READY=1")) { readySender = msg.pid; break; }
  }
  return {
    pid: daemon.pid!, readySender, output: () => out,
    stop: () => {
      if (daemon.exitCode !== null) return Promise.resolve(daemon.exitCode);
      daemon.kill("SIGTERM");
      return new Promise((r) => daemon.once("exit", (c) => r(c)));
    },
  };
}

test("the unit's ExecStart, capabilities and no_new_privs run ctsyncd; READY=1 comes from its main pid; SIGTERM stops it cleanly", { skip }, async () => {
  pair = new Pair("sd", { extraGeneral: "\tSystemd on" });
  const side = pair.a;
  const run = await runUnderUnit(CTSYNCD, side, pair.dir);
  try {
    assert.notEqual(run.readySender, null, `no READY=1 on NOTIFY_SOCKET; the daemon said:\n${run.output()}`);
    // systemd (NotifyAccess=main) drops a READY=1 whose credentials are not
    // the main pid's. ip netns exec and setpriv exec() in turn, and
    // bin/ctsyncd execs the daemon: one pid throughout.
    assert.equal(run.readySender, run.pid, "READY=1 carries the main pid's credentials");
    assert.equal(Pair.ctl(side, "-s").status, 0, "the daemon answers with the unit's capabilities only");
    assert.match(readFileSync(side.log, "utf8"), /initialization completed/);
  } finally {
    const code = await run.stop();
    assert.equal(code, 0, `ctsyncd exited ${code} on SIGTERM:\n${run.output()}`);
  }
  assert.ok(await until(() => !existsSync(side.sock) && !existsSync(side.lock)), "socket and lock file removed");
});

test("the reference: conntrackd under the same unit sends READY=1 from its main pid", { skip }, async () => {
  assert.ok(pair, "the test above made the pair");
  const run = await runUnderUnit("conntrackd", pair.b, pair.dir);
  try {
    assert.equal(run.readySender, run.pid, `conntrackd's READY=1 came from ${run.readySender}, its pid is ${run.pid}:\n${run.output()}`);
    assert.equal(Pair.run(pair.b, "conntrackd", ["-C", pair.b.conf, "-s"]).status, 0);
  } finally {
    await run.stop();
  }
});
