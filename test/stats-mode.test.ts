// The Stats mode against the real conntrackd 1.4.7, side by side in one
// network namespace: the same kernel events reach both, so their Stats log
// files, -i, -s and -s cache must read the same. Then what conntrackd does
// not do, or does badly: an unwritable LogFile, a rotated log reopened on
// SIGHUP, overruns counted, NetlinkEventsReliable.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { renameSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { isRoot } from "./support/netns.ts";
import { CTSYNCD, until } from "./support/pair.ts";
import { StatsLab, type StatsDaemonHandle } from "./support/stats-lab.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";
const afterTab = (l: string) => l.slice(l.indexOf("\t") + 1);
const sorted = (xs: string[]) => [...xs].sort();
const dumpLines = (s: string) => sorted(s.split("\n").filter((l) => l).map((l) => l.replace(/ \[active since \d+s\]$/, "")));
/** Entries learnt from a dump (-R, start-up) print delta-time=N in -i: equal lines, the seconds within one of each other. */
function sameWithDelta(ours: string[], theirs: string[]): void {
  const strip = (xs: string[]) => xs.map((l) => l.replace(/ delta-time=\d+/, " delta-time=N"));
  assert.deepEqual(strip(ours), strip(theirs));
  ours.forEach((l, i) => {
    const a = Number(/delta-time=(\d+)/.exec(l)?.[1] ?? 0), b = Number(/delta-time=(\d+)/.exec(theirs[i])?.[1] ?? 0);
    assert.ok(Math.abs(a - b) <= 1, `${l}\n${theirs[i]}`);
  });
}

let lab: StatsLab;
let ours: StatsDaemonHandle;
let theirs: StatsDaemonHandle;

before(async () => {
  if (skip) return;
  lab = new StatsLab("stm");
  theirs = await lab.start("conntrackd", "conntrackd");
  ours = await lab.start("ctsyncd", "ctsyncd", "JSONLogFile on".replace("on", `${lab.dir}/ctsyncd/stats.jsonl`));
});
after(async () => lab?.close());

const INSERTS = [
  ["-p", "tcp", "-s", "192.0.2.1", "-d", "198.51.100.7", "--sport", "40000", "--dport", "443", "--state", "ESTABLISHED", "-u", "SEEN_REPLY,ASSURED", "-t", "300", "--mark", "7"],
  ["-p", "udp", "-s", "192.0.2.2", "-d", "198.51.100.8", "--sport", "1234", "--dport", "53", "-t", "30", "-w", "9"],
  ["-p", "icmpv6", "-s", "2001:db8::1", "-d", "2001:db8::2", "--icmpv6-type", "128", "--icmpv6-code", "0", "--icmpv6-id", "9", "-t", "30"],
];

test("live flows: -i, -s and -s cache read as conntrackd's", { skip }, async () => {
  lab.flows("v4", "v6", "nat", "ignored");
  for (const args of INSERTS) lab.sh("conntrack", "-I", ...args);
  const same = () => {
    const a = lab.ctl(ours, "-i").stdout, b = lab.ctl(theirs, "-i").stdout;
    return a !== "" && JSON.stringify(dumpLines(a)) === JSON.stringify(dumpLines(b));
  };
  await until(same, 3000);
  assert.deepEqual(dumpLines(lab.ctl(ours, "-i").stdout), dumpLines(lab.ctl(theirs, "-i").stdout));
  assert.ok(!lab.ctl(ours, "-i").stdout.includes("127.0.0.9 "), "the ignored address is filtered");
  assert.match(lab.ctl(ours, "-i").stdout, /^udp {6}17 src=127\.0\.0\.1 dst=127\.0\.0\.1 sport=\d+ dport=5300 src=127\.0\.0\.1 dst=127\.0\.0\.1 sport=5301 /m);
  for (const s of [["-s"], ["-s", "cache"]]) {
    assert.equal(lab.ctl(ours, ...s).stdout, lab.ctl(theirs, ...s).stdout, s.join(" "));
  }
  assert.match(lab.ctl(ours, "-s").stdout, /^cache stats:\n/);
  assert.match(lab.ctl(ours, "-s", "runtime").stdout, /^daemon uptime: /);
  const events = (h: StatsDaemonHandle) => lab.ctl(h, "-s", "runtime").stdout.split("\n").filter((l) => /events (received|filtered)|overrun/.test(l));
  assert.deepEqual(events(ours), events(theirs));
  // conntrackd answers nothing else in this mode.
  for (const s of [["-s", "network"], ["-s", "queue"], ["-s", "link"], ["-s", "process"], ["-s", "ct"], ["-e"], ["-i", "expect"], ["-s", "expect"]]) {
    assert.equal(lab.ctl(ours, ...s).stdout, lab.ctl(theirs, ...s).stdout, s.join(" "));
  }
  // Byte for byte, the kernel's ids included.
  assert.deepEqual(sorted(lab.ctl(ours, "-i", "-x").stdout.split("\n")), sorted(lab.ctl(theirs, "-i", "-x").stdout.split("\n")));
});

test("-f leaves the cache as conntrackd's does, -f internal flushes it, -R refills it", { skip }, async () => {
  const n = (h: StatsDaemonHandle) => lab.ctl(h, "-i").stdout.split("\n").filter((l) => l).length;
  const before = n(theirs);
  assert.ok(before > 3);
  lab.ctl(ours, "-f"); lab.ctl(theirs, "-f");
  assert.equal(n(ours), before);
  assert.equal(n(theirs), before);
  lab.ctl(ours, "-f", "internal"); lab.ctl(theirs, "-f", "internal");
  assert.equal(n(ours), 0);
  assert.equal(n(theirs), 0);
  lab.ctl(ours, "-R"); lab.ctl(theirs, "-R");
  assert.ok(await until(() => n(ours) === n(theirs) && n(ours) > 3));
  const after = dumpLines(lab.ctl(ours, "-i").stdout);
  sameWithDelta(after, dumpLines(lab.ctl(theirs, "-i").stdout));
  assert.ok(after.every((l) => / delta-time=\d+$/.test(l)), "a dump tells each flow's start (nf_conntrack_timestamp)");
  const xml = (h: StatsDaemonHandle) => sorted(lab.ctl(h, "-i", "-x").stdout.split("\n").map((l) => l.replace(/<deltatime>\d+<\/deltatime>/, "<deltatime/>")));
  assert.deepEqual(xml(ours), xml(theirs));
});

test("destroyed flows: the Stats LogFile has conntrackd's lines, byte for byte after the date", { skip }, async () => {
  lab.flows("v4", "nat");
  lab.ctl(ours, "-F"); // the daemon's -F flushes the kernel table, as conntrack -F would
  const done = () => StatsLab.lines(ours.statsLog).length === StatsLab.lines(theirs.statsLog).length && StatsLab.lines(theirs.statsLog).length >= 8;
  assert.ok(await until(done, 5000), `ours ${StatsLab.lines(ours.statsLog).length}, theirs ${StatsLab.lines(theirs.statsLog).length}`);
  const a = StatsLab.lines(ours.statsLog), b = StatsLab.lines(theirs.statsLog);
  assert.deepEqual(sorted(a.map(afterTab)), sorted(b.map(afterTab)));
  for (const l of a) assert.match(l, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\t/);
  assert.ok(a.some((l) => / mark=7 /.test(l)) && a.some((l) => / zone=9 /.test(l)) && a.some((l) => /^.*\ticmpv6 /.test(l)));
  assert.ok(a.some((l) => /packets=[1-9]\d* bytes=[1-9]\d* /.test(l)) && a.every((l) => / delta-time=\d+$/.test(l)));
  // The traffic both count from the destroyed flows, the cache counters too.
  assert.equal(lab.ctl(ours, "-s").stdout, lab.ctl(theirs, "-s").stdout);
  const json = StatsLab.lines(`${lab.dir}/ctsyncd/stats.jsonl`).map((l) => JSON.parse(l));
  assert.equal(json.length, a.length);
});

test("-k stops the daemon, as conntrackd's", { skip }, async () => {
  lab.ctl(ours, "-k");
  lab.ctl(theirs, "-k");
  assert.equal(await ours.exited, 0);
  await theirs.exited;
  assert.match(StatsLab.lines(ours.daemonLog).join("\n"), /shutdown received/);
});

test("an unwritable LogFile stops ctsyncd at start, naming the path and the reason", { skip }, () => {
  const c = lab.config("bad", "", "");
  const conf = c.conf;
  spawnSync("sed", ["-i", `s|LogFile ${c.statsLog}|LogFile /nonexistent-ctsync-dir/stats.log|`, conf]);
  const r = spawnSync("ip", ["netns", "exec", lab.ns.name, CTSYNCD, "-C", conf], { encoding: "utf8", timeout: 20000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /\/nonexistent-ctsync-dir\/stats\.log: No such file or directory/);
});

test("SIGHUP after the log was rotated away: the new file takes what follows, no line lost", { skip }, async () => {
  // A flush destroys 200 flows at once: more than the default 208 KiB of events.
  const h = await lab.start("hup", "ctsyncd", "", "NetlinkBufferSize 4194304\n\tNetlinkBufferSizeMaxGrowth 8388608");
  lab.inject(200, 1000);
  assert.ok(await until(() => lab.ctl(h, "-i").stdout.split("\n").filter((l) => l).length === 200, 15000), `-i: ${lab.ctl(h, "-i").stdout.split("\n").length} lines; ${lab.sh("conntrack", "-C")}`);
  lab.sh("conntrack", "-F");
  assert.ok(await until(() => StatsLab.lines(h.statsLog).length === 200));
  renameSync(h.statsLog, `${h.statsLog}.1`);
  // Flows destroyed between the rename and the signal: their lines go to the rotated file.
  lab.inject(50, 3000);
  await until(() => lab.ctl(h, "-i").stdout.split("\n").filter((l) => l).length === 50);
  lab.sh("conntrack", "-F");
  assert.ok(await until(() => StatsLab.lines(`${h.statsLog}.1`).length === 250), `rotated file: ${StatsLab.lines(`${h.statsLog}.1`).length}`);
  lab.inject(100, 5000);
  await until(() => lab.ctl(h, "-i").stdout.split("\n").filter((l) => l).length === 100);
  h.proc.kill("SIGHUP");
  await until(() => StatsLab.lines(h.daemonLog).some((l) => l.includes("reopened")));
  lab.sh("conntrack", "-F");
  assert.ok(await until(() => StatsLab.lines(h.statsLog).length === 100), `new file: ${StatsLab.lines(h.statsLog).length}`);
  assert.equal(StatsLab.lines(`${h.statsLog}.1`).length, 250);
  assert.equal(h.proc.exitCode, null, "still running");
  lab.ctl(h, "-k");
  await h.exited;
});

test("without NetlinkEventsReliable an overrun is logged and counted; with it, every destroyed flow is logged", { skip }, async () => {
  const small = "NetlinkBufferSize 8192\n\tNetlinkBufferSizeMaxGrowth 8192";
  const N = 5000;
  for (const reliable of [false, true]) {
    const name = reliable ? "reliable" : "unreliable";
    lab.inject(N, reliable ? 200000 : 100000);
    const h = await lab.start(name, "ctsyncd", "", `${small}\n\tNetlinkEventsReliable ${reliable ? "on" : "off"}`);
    // What the daemon said, for a failure's message: a run that fails on a loaded machine tells why.
    const said = () => `; ${name} daemon log:\n${StatsLab.lines(h.daemonLog).slice(-8).join("\n")}`;
    assert.ok(await until(() => /current active connections:\s+5000\n/.test(lab.ctl(h, "-s").stdout), 30000), `the start-up dump holds them all: ${lab.ctl(h, "-s").stdout}${said()}`);
    // The daemon stands still while the kernel flushes: 5,000 destroy events
    // cannot wait in 8 KiB, so the socket overruns whatever the machine's speed
    // (a fast reader on an idle machine could otherwise keep up), and with
    // reliable events the kernel must hold them back until it reads again.
    h.proc.kill("SIGSTOP");
    try {
      lab.sh("conntrack", "-F");
    } finally {
      h.proc.kill("SIGCONT");
    }
    const runtime = () => lab.ctl(h, "-s", "runtime").stdout;
    const overruns = () => Number(/netlink overrun:\s+(\d+)/.exec(runtime())?.[1]);
    if (reliable) {
      assert.ok(await until(() => StatsLab.lines(h.statsLog).length === N, 60000), `logged ${StatsLab.lines(h.statsLog).length} of ${N}${said()}`);
      assert.equal(overruns(), 0, `overruns with reliable events${said()}`);
      assert.match(StatsLab.lines(h.daemonLog).join("\n"), /reliable ctnetlink event delivery is ENABLED/);
    } else {
      assert.ok(await until(() => overruns() > 0, 30000), `overrun counted${said()}`);
      // The flush may overrun the socket more than once (a second overrun
      // while the first resync's dump runs): each resync reports what it
      // found gone, and all of them together with the logged flows are N.
      const missed = () => StatsLab.lines(h.daemonLog)
        .map((l) => Number(/(\d+) flows were destroyed unseen/.exec(l)?.[1] ?? 0))
        .reduce((a, b) => a + b, 0);
      const accounted = () => StatsLab.lines(h.statsLog).length + missed();
      assert.ok(await until(() => accounted() === N, 60000), `logged ${StatsLab.lines(h.statsLog).length} and missed ${missed()} of ${N}${said()}`);
      assert.match(StatsLab.lines(h.daemonLog).join("\n"), /\[warning\] netlink event socket overrun \(ENOBUFS\): destroyed flows may go unlogged/);
      assert.ok(missed() > 0, "the resync found flows destroyed unseen");
      assert.match(lab.ctl(h, "-s").stdout, /current active connections:\s+0\n/);
    }
    lab.ctl(h, "-k");
    await h.exited;
  }
});
