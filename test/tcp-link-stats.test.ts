// conntrack-tools' own test suite waits for "server=connected" and
// "client=connected" in -s of a NOTRACK-over-TCP pair before it sends
// anything. ctsyncd said "server=disconnected client=disconnected" there
// while entries flowed: the links' -s never asked the TCP channel. Two
// daemons over a TCP link, ctsyncd with ctsyncd, conntrackd with
// conntrackd and the two mixed, must all say connected both ways.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { Pair, until, type Side } from "./support/pair.ts";
import { isRoot } from "./support/netns.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";
type Program = "ctsyncd" | "conntrackd";
const HEAD = /^TCP traffic \(active device=(\S+)\) server=(connected|disconnected) client=(connected|disconnected):$/m;

function start(side: Side, program: Program): void {
  if (program === "ctsyncd") Pair.start(side);
  else {
    const r = Pair.run(side, "conntrackd", ["-C", side.conf, "-d"]);
    if (r.status !== 0) throw new Error(`conntrackd -d: ${r.stderr}`);
  }
}

const stats = (side: Side, program: Program) =>
  program === "ctsyncd" ? Pair.ctl(side, "-s").stdout : Pair.run(side, "conntrackd", ["-C", side.conf, "-s"]).stdout;

async function stop(side: Side, program: Program): Promise<void> {
  if (program === "ctsyncd") Pair.ctl(side, "-k");
  else Pair.run(side, "conntrackd", ["-C", side.conf, "-k"]);
  await until(() => !existsSync(side.lock), 5000);
}

for (const [a, b] of [["ctsyncd", "ctsyncd"], ["conntrackd", "conntrackd"], ["ctsyncd", "conntrackd"]] as [Program, Program][]) {
  test(`NOTRACK over TCP, ${a} and ${b}: -s says server=connected client=connected on both, while entries flow`, { skip }, async () => {
    const pair = new Pair(a === b ? (a === "ctsyncd" ? "tls" : "tlc") : "tlm", { mode: "NOTRACK", transport: "TCP", expectationSync: false });
    try {
      start(pair.a, a);
      start(pair.b, b);
      const connected = (side: Side, p: Program) => {
        const m = HEAD.exec(stats(side, p));
        return m !== null && m[2] === "connected" && m[3] === "connected";
      };
      assert.ok(await until(() => connected(pair.a, a) && connected(pair.b, b), 15000),
        `a (${a}):\n${stats(pair.a, a)}\nb (${b}):\n${stats(pair.b, b)}`);
      assert.equal(HEAD.exec(stats(pair.a, a))?.[1], pair.a.dev);
      Pair.run(pair.a, "conntrack", ["-I", "-p", "tcp", "-s", "192.0.2.33", "-d", "198.51.100.33", "--sport", "3333", "--dport", "443", "--state", "ESTABLISHED", "-t", "300"]);
      const ext = () => (b === "ctsyncd" ? Pair.ctl(pair.b, "-e") : Pair.run(pair.b, "conntrackd", ["-C", pair.b.conf, "-e"])).stdout;
      assert.ok(await until(() => ext().includes("src=192.0.2.33"), 10000), "the entry reached b");
      assert.ok(connected(pair.a, a) && connected(pair.b, b), "still connected");
      // The peer gone: its side of both connections drops.
      await stop(pair.b, b);
      assert.ok(await until(() => /server=disconnected client=disconnected/.test(stats(pair.a, a)), 15000), stats(pair.a, a));
    } finally {
      await stop(pair.a, a);
      await stop(pair.b, b);
      pair.close();
    }
  });
}
