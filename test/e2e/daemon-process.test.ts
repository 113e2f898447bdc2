// ctsyncd as a process an HA manager handles: -d returns once the control
// socket answers, the process is called ctsyncd and leaves no helper behind,
// its files are private, a SIGKILL is not an outage (the next start takes the
// lock over and the peer ends complete), it gives back the memory that
// starting took, its threads run real-time as conntrackd's does, the memory its core
// grows into is advised for huge pages, and a client command facing no
// daemon, a stale socket or a stopped daemon fails at once with a message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Pair, CTSYNCD, until } from "../support/pair.ts";
import { isRoot, ROOT } from "../support/netns.ts";
import { eligibleOf, thpSkip } from "../support/thp.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";
const external = (p: Pair) => Number(/cache:external\tactive objects:\s+(\d+)/.exec(Pair.ctl(p.b, "-s", "cache").stdout)?.[1] ?? -1);
const mode = (path: string) => statSync(path).mode & 0o777;
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const environOf = (pid: number) => readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");

/** Injects `count` conntracks into a side's kernel at `rate` a second, in the background. */
function injectInBackground(side: Pair["a"], count: number, base: number, rate: number): Promise<number | null> {
  const child = spawn("ip", ["netns", "exec", side.ns.name, process.execPath, "--import", "tsx",
    join(ROOT, "bench/injector.ts"), String(count), String(base), String(rate)], { stdio: "ignore" });
  return new Promise((resolve) => child.on("close", resolve));
}

test("-d returns with the control socket answering; ps, pgrep and pidof see ctsyncd; no helper process; files 0600; no CA bundle loaded; two malloc arenas", { skip }, () => {
  const p = new Pair("pn");
  const caBefore = process.env.NODE_EXTRA_CA_CERTS;
  try {
    process.env.NODE_EXTRA_CA_CERTS = p.a.conf; // any readable file: Node would parse it at start-up
    const pid = Pair.start(p.a);
    const environ = environOf(pid);
    assert.ok(!environ.some((v) => v.startsWith("NODE_EXTRA_CA_CERTS=")), "the daemon's Node does not read a CA bundle at start-up");
    assert.ok(environ.includes("MALLOC_ARENA_MAX=2"), "two malloc arenas");
    // An installed package runs the native client with no shell before it (scripts/install.sh).
    const started = Pair.run(p.b, join(ROOT, "native/build/Release/ctsyncd"), ["-C", p.b.conf, "-d"]);
    assert.equal(started.status, 0, started.stderr);
    const environB = environOf(Number(readFileSync(p.b.lock, "utf8").trim()));
    assert.ok(!environB.some((v) => v.startsWith("NODE_EXTRA_CA_CERTS=")), "nor when the native client starts it");
    assert.ok(environB.includes("MALLOC_ARENA_MAX=2"), "two malloc arenas there too");
    assert.equal(Pair.ctl(p.a, "-s", "runtime").status, 0, "answers as soon as -d returned");
    assert.equal(readFileSync(`/proc/${pid}/comm`, "utf8").trim(), "ctsyncd");
    assert.match(readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^ctsyncd/);
    assert.ok(spawnSync("pgrep", ["-x", "ctsyncd"], { encoding: "utf8" }).stdout.split("\n").includes(String(pid)), "pgrep -x ctsyncd");
    assert.ok(spawnSync("pidof", ["ctsyncd"], { encoding: "utf8" }).stdout.trim().split(" ").includes(String(pid)), "pidof ctsyncd");
    const children = spawnSync("ps", ["--ppid", String(pid), "-o", "comm="], { encoding: "utf8" }).stdout.trim();
    assert.equal(children, "", "the daemon runs no child process (no esbuild, no loader)");
    for (const f of [p.a.log, p.a.lock, p.a.sock]) assert.equal(mode(f), 0o600, `${f} is 0600`);
  } finally {
    if (caBefore === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
    else process.env.NODE_EXTRA_CA_CERTS = caBefore;
    p.close();
  }
});

test("the host's own -d (Node without the native client in front) returns with the control socket answering", { skip }, () => {
  const p = new Pair("pd");
  try {
    const started = Pair.run(p.a, process.execPath, [join(ROOT, "bin/host.cjs"), "-C", p.a.conf, "-d"]);
    assert.equal(started.status, 0, started.stderr);
    assert.equal(Pair.ctl(p.a, "-s", "runtime").status, 0, "answers as soon as -d returned");
    assert.ok(alive(Number(readFileSync(p.a.lock, "utf8").trim())), "the daemon runs on");
  } finally {
    p.close();
  }
});

test("a settled daemon gives back the start-up pages of the node executable, and goes on syncing", { skip }, async () => {
  const p = new Pair("pm");
  try {
    const pid = Pair.start(p.a);
    Pair.start(p.b);
    const fileKiB = () => Number(/RssFile:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
    const atStart = fileKiB();
    assert.ok(await until(() => fileKiB() < atStart / 2, 10_000), `RssFile ${fileKiB()} KiB, ${atStart} KiB at start`);
    assert.equal(await injectInBackground(p.a, 2000, 0, 20000), 0, "the injector finished");
    assert.ok(await until(() => external(p) === 2000, 10_000), `B holds ${external(p)} of 2000`);
  } finally {
    p.close();
  }
});

test("without NetlinkBufferSize the event socket holds 16 MiB (conntrackd would keep the kernel's 208 KiB)", { skip }, () => {
  const p = new Pair("pb", { netlinkBuffer: null });
  try {
    const pid = Pair.start(p.a);
    // ss shows each netlink socket's rcvbuf (rb): the kernel doubles what SO_RCVBUFFORCE asks, for its bookkeeping
    const ours = spawnSync("ip", ["netns", "exec", p.a.ns.name, "ss", "-f", "netlink", "-mp"], { encoding: "utf8" }).stdout
      .split("\n").filter((l) => l.includes(`/${pid}`)).map((l) => Number(/rb(\d+)/.exec(l)?.[1] ?? 0));
    assert.ok(ours.includes(2 * 16 * 1024 * 1024), `ctsyncd's netlink sockets: rb ${ours.join(", ")}`);
    assert.match(Pair.logOf(p.a), /netlink event socket buffer size has been set to 16777216 bytes \(the default/);
  } finally {
    p.close();
  }
});

/** A thread's scheduling policy and real-time priority (/proc/<pid>/task/<tid>/stat fields 41 and 40). */
function schedOf(pid: number, tid = pid): { policy: number; rtPriority: number } {
  const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8").split(") ")[1].split(" ");
  return { policy: Number(f[38]), rtPriority: Number(f[37]) };
}
const SCHED_OTHER = 0, SCHED_FIFO = 1, SCHED_RR = 2;

test("without a Scheduler block the daemon's threads run round-robin at priority 99, as conntrackd's; threads started later are time-shared", { skip }, () => {
  const p = new Pair("ps");
  try {
    const pid = Pair.start(p.a);
    const threads = readdirSync(`/proc/${pid}/task`).map(Number);
    // Node's own threads (V8's compiler and collector) start with it and keep the executable's name.
    const nodes = threads.filter((tid) => readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim() === "node");
    assert.ok(nodes.length >= 2, "V8 runs helper threads");
    for (const tid of [pid, ...nodes]) assert.deepEqual(schedOf(pid, tid), { policy: SCHED_RR, rtPriority: 99 }, `thread ${tid}`);
    // libuv's pool starts on demand (the control socket's first file operations), after the scheduler is set:
    // SCHED_RESET_ON_FORK leaves it time-shared.
    for (const tid of threads.filter((t) => t !== pid && !nodes.includes(t))) {
      assert.deepEqual(schedOf(pid, tid), { policy: SCHED_OTHER, rtPriority: 0 }, `thread ${tid}, started later`);
    }
    assert.equal(Pair.ctl(p.a, "-s", "runtime").status, 0, "the daemon answers");
    assert.doesNotMatch(Pair.logOf(p.a), /scheduler configuration failed/);
  } finally {
    p.close();
  }
});

test("Scheduler sets the policy and priority asked; a FIFO without Priority is refused by the kernel with a warning, as conntrackd's, and the daemon runs on", { skip }, () => {
  const fifo = new Pair("pf", { extraGeneral: "\tScheduler {\n\t\tType FIFO\n\t\tPriority 42\n\t}" });
  try {
    assert.deepEqual(schedOf(Pair.start(fifo.a)), { policy: SCHED_FIFO, rtPriority: 42 });
  } finally {
    fifo.close();
  }
  const bare = new Pair("pz", { extraGeneral: "\tScheduler {\n\t\tType FIFO\n\t}" });
  try {
    const pid = Pair.start(bare.a);
    assert.deepEqual(schedOf(pid), { policy: SCHED_OTHER, rtPriority: 0 });
    assert.match(Pair.logOf(bare.a), /\[warning\] scheduler configuration failed: Invalid argument \(FIFO takes a Priority of 1 to 99\), for FIFO at priority 0\. Continuing with the system's default scheduler/);
    assert.equal(Pair.ctl(bare.a, "-s", "runtime").status, 0, "the daemon answers");
  } finally {
    bare.close();
  }
});

test("the memory the core grows into is advised for transparent huge pages, not what it starts with; not with a 208 KiB event buffer", {
  skip: skip || thpSkip,
}, async () => {
  const p = new Pair("ph");
  try {
    const pid = Pair.start(p.a);
    Pair.start(p.b);
    const eligible = () => eligibleOf(pid);
    // Its start touches its buffers here and there: a huge page would clear 2 MiB at each first touch.
    assert.deepEqual(eligible(), [], "nothing advised at start");
    assert.equal(await injectInBackground(p.a, 120_000, 0, 0), 0, "the injector finished");
    assert.ok(await until(() => Number(/cache:internal\tactive objects:\s+(\d+)/.exec(Pair.ctl(p.a, "-s", "cache").stdout)?.[1] ?? 0) === 120_000, 20_000), "A caches 120,000 flows (HashLimit 131072)");
    const grown = eligible();
    assert.ok(grown.length === 1 && grown[0] >= 8 * 1024, `one advised mapping, the grown memory: ${grown.join(", ")} KiB`);
  } finally {
    p.close();
  }
  // A buffer of a millisecond or two of events cannot absorb the clearing of a huge page at its first touch: no advice.
  const small = new Pair("pi", { netlinkBuffer: [212992, 212992] });
  try {
    assert.deepEqual(eligibleOf(Pair.start(small.a)), [], "no advised mapping with a 208 KiB event buffer");
  } finally {
    small.close();
  }
});

test("a SIGKILLed daemon, primary then backup, restarts over its stale lock and socket; the backup ends complete", { skip }, async () => {
  const p = new Pair("pk");
  try {
    Pair.start(p.a);
    Pair.start(p.b);
    for (const [victim, base] of [[p.a, 0], [p.b, 20000]] as const) {
      const first = Number(readFileSync(victim.lock, "utf8").trim());
      const done = injectInBackground(p.a, 20000, base, 10000);
      await new Promise((r) => setTimeout(r, 700));
      process.kill(first, "SIGKILL");
      assert.ok(await until(() => !alive(first)), "killed");
      assert.ok(existsSync(victim.lock) && existsSync(victim.sock), "the lock and the socket are left behind");
      const second = Pair.start(victim); // nobody removed them
      assert.notEqual(second, first);
      assert.match(Pair.logOf(victim), new RegExp(`took over the stale lockfile .* of pid ${first}`));
      assert.equal(await done, 0, "the injector finished");
      const want = base + 20000;
      assert.ok(await until(() => external(p) === want, 30_000), `B holds ${external(p)} of ${want} after ${victim === p.a ? "A" : "B"} was killed`);
    }
  } finally {
    p.close();
  }
});

test("a live daemon's lock is refused, naming the holder", { skip }, () => {
  const p = new Pair("pl");
  try {
    const pid = Pair.start(p.a);
    const r = Pair.ctl(p.a, "-d");
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`lockfile \`.*' exists, perhaps conntrackd already running\\? \\(held by pid ${pid}\\)`));
    assert.ok(alive(pid), "the running daemon is untouched");
  } finally {
    p.close();
  }
});

test("an empty lock file is conntrackd's: refused while a daemon answers on the socket, taken over when none does", { skip }, () => {
  const p = new Pair("pe");
  try {
    writeFileSync(p.a.lock, "");
    const pid = Pair.start(p.a);
    assert.match(Pair.logOf(p.a), /took over the stale lockfile .* \(empty, and no daemon answers on the control socket\)/);
    // The same file, empty again, while a daemon answers: left alone.
    const other = join(p.dir, "other.lock");
    writeFileSync(other, "");
    const conf = join(p.dir, "other.conf");
    writeFileSync(conf, readFileSync(p.a.conf, "utf8").replace(p.a.lock, other).replace(p.a.log, join(p.dir, "other.log")));
    const r = Pair.run(p.a, CTSYNCD, ["-C", conf, "-d"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /lockfile `.*other\.lock' exists, perhaps conntrackd already running\?/);
    assert.equal(readFileSync(other, "utf8"), "", "conntrackd's lock file is left as it was");
    assert.ok(alive(pid));
  } finally {
    p.close();
  }
});

test("a client command with no daemon, a stale socket or a stopped daemon fails with conntrackd's message, never hangs", { skip }, () => {
  const p = new Pair("pc");
  try {
    const cases: [string, RegExp][] = [];
    let r = Pair.ctl(p.a, "-s");
    cases.push(["no daemon", /can't connect: is ctsyncd running\? appropriate permissions\? \(.*: No such file or directory\)/]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, cases[0][1]);

    const pid = Pair.start(p.a);
    process.kill(pid, "SIGKILL");
    assert.ok(spawnSync("sh", ["-c", `while kill -0 ${pid} 2>/dev/null; do sleep 0.05; done`]).status === 0);
    r = Pair.ctl(p.a, "-c");
    assert.equal(r.status, 1, "a stale socket");
    assert.match(r.stderr, /can't connect: is ctsyncd running\? appropriate permissions\? \(.*: Connection refused\)/);

    // -k on what a crash left: already stopped, and the stale socket goes (an HA manager's stop must end).
    const k = Pair.ctl(p.a, "-k");
    assert.equal(k.status, 0, k.stderr);
    assert.match(k.stderr, /no daemon was listening on .*: it is not running; removed its stale socket/);
    assert.ok(!existsSync(p.a.sock), "the stale socket is gone");

    const live = Pair.start(p.a);
    process.kill(live, "SIGSTOP");
    try {
      for (const flag of ["-s", "-c", "-i"]) {
        r = Pair.ctl(p.a, flag);
        assert.equal(r.status, 1, `${flag} against a stopped daemon`);
        assert.match(r.stderr, new RegExp(`the daemon at .* \\(pid ${live}\\) is not answering \\(it is stopped\\)`));
      }
    } finally {
      process.kill(live, "SIGCONT");
    }
    assert.equal(Pair.ctl(p.a, "-s").status, 0, "answers again once continued");
  } finally {
    p.close();
  }
});

test("a log file that cannot be created stops the daemon at start with the path and the reason", { skip }, () => {
  const p = new Pair("pf");
  try {
    const conf = join(p.dir, "bad-log.conf");
    writeFileSync(conf, readFileSync(p.a.conf, "utf8").replace(p.a.log, "/nonexistent-dir/ctsyncd.log"));
    const r = Pair.run(p.a, CTSYNCD, ["-C", conf, "-d"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot open the log file \/nonexistent-dir\/ctsyncd\.log: ENOENT/);
    assert.ok(!existsSync(p.a.lock), "nothing left behind");
  } finally {
    p.close();
  }
});
