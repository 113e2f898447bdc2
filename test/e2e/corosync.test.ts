// Clusters beyond two over Corosync (issue 16), in network namespaces: one
// corosync per node on a knet ring (test/support/corosync.ts), ctsyncd on
// each with `Corosync { Group }` (NOTRACK over CPG). Four and eight nodes each
// create their own flows while 10% of every node's ring traffic is lost and
// one node restarts (its corosync and its ctsyncd) in the middle; every node
// must end with every other node's flows, none lost, each remembered with the
// member it came from. Then a node fails and another commits exactly that
// node's flows (`-c --origin`).
//
// Witnesses: `-s cache` (how many), `-e --origin <node>` (whose), and the
// committing node's kernel (`conntrack -C`). Needs root and corosync.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Lab, SyncNode, missing, must, until, ROOT } from "../support/interop-lab.ts";
import { cacheActive } from "../support/interop-lines.ts";
import { CorosyncRing, corosyncMissing } from "../support/corosync.ts";

const lacking = [...await missing(), ...await corosyncMissing()];
const skip = lacking.length ? `needs ${lacking.join(", ")}` : false;
/** knet's default port: where the nftables fallback of Lab.loss drops (netem, where the kernel has it, drops everything). */
const KNET_PORT = 5405;
const NODE = { mode: "NOTRACK", transport: "corosync" } as const;

/** Creates `count` conntracks in n's kernel (bench/injector.ts's flows from `base`). */
async function inject(n: SyncNode, count: number, base: number): Promise<void> {
  const out = await must(["node", "--import", "tsx", join(ROOT, "test/support/interop-inject.ts"), String(count), String(base)], n.ns, 120_000);
  const r = JSON.parse(/RESULT (.*)/.exec(out)![1]) as { created: number };
  assert.equal(r.created, count, `${n.name}: injector: ${out}`);
}

/** Lines of `-e ct --origin <origin>` on n: the external flows it holds from that member. */
async function fromOrigin(n: SyncNode, origin: number): Promise<number> {
  return (await n.ctlOk(["-e", "ct", "--origin", String(origin)], 60_000)).split("\n").filter((l) => l.includes("dport=80 ")).length;
}

/** Which node injected the flow of this `conntrack -L` line (its base is node * 100000; see bench/injector.ts's loadFlow). */
function injectedBy(line: string): number {
  const m = /src=10\.(\d+)\.(\d+)\.(\d+) /.exec(line);
  if (!m) return -1;
  const n = ((Number(m[1]) - 64) << 16) + (Number(m[2]) << 8) + Number(m[3]);
  return Math.floor(n / 100_000);
}

interface Cluster {
  lab: Lab;
  ring: CorosyncRing;
}

async function build(tag: string, n: number): Promise<Cluster> {
  const lab = await Lab.create(tag, n);
  const ring = new CorosyncRing(`ct-${tag}-${process.pid}`, lab.nodes.map((x) => ({ ns: x.ns, addr: x.addr, nodeid: x.index })), lab.dir);
  try {
    await ring.start(60_000);
    for (const x of lab.nodes) await x.start("ctsyncd", NODE, 20_000);
  } catch (e) {
    await ring.stop();
    await lab.destroy();
    throw e;
  }
  return { lab, ring };
}

async function teardown(c: Cluster | undefined): Promise<void> {
  if (!c) return;
  await c.lab.loss(null, KNET_PORT).catch(() => {});
  await c.lab.stopAll();
  await c.ring.stop();
  await c.lab.destroy();
}

async function evidence(c: Cluster): Promise<string> {
  const caches = await Promise.all(c.lab.nodes.map(async (n) => `${n.name}: ${JSON.stringify(await cacheActive(n).catch((e) => String(e)))}`));
  return `${caches.join("\n")}\n${await c.lab.evidence()}\n${c.ring.evidence()}`;
}

/**
 * Every node creates `perNode` flows in two halves under 10% loss; between
 * the halves node 2 goes down (ctsyncd and corosync) and reboots: its
 * kernel's table is flushed, it creates its second half while the others go
 * on, and it comes back. Then every node must hold the others' flows, none
 * lost, and none of node 2's first half (gone with the reboot) may linger.
 */
async function burstWithRestart(c: Cluster, perNode: number): Promise<void> {
  const { lab, ring } = c;
  const half = perNode / 2;
  const base = (n: SyncNode) => n.index * 100_000;
  const restarting = lab.nodes[1];
  await lab.loss(10, KNET_PORT);
  await Promise.all(lab.nodes.map((n) => inject(n, half, base(n))));
  await restarting.stop();
  await ring.stopOne(restarting.index);
  await restarting.conntrack("-F");
  await Promise.all(lab.nodes.map((n) => inject(n, half, base(n) + half)));
  await ring.startOne(restarting.index);
  await ring.waitMembers(lab.nodes.map((n) => n.index), 240_000); // totem re-forms slowly under loss with many members
  await restarting.start("ctsyncd", NODE, 20_000);
  const owns = (n: SyncNode) => (n === restarting ? half : perNode);
  const total = lab.nodes.reduce((s, n) => s + owns(n), 0);
  await until(`every node's external cache to hold every other node's flows (${total} in all)`, async () => {
    const all = await Promise.all(lab.nodes.map((n) => cacheActive(n)));
    return all.every((x, i) => x.external === total - owns(lab.nodes[i]) && x.internal === owns(lab.nodes[i]));
  }, 180_000, () => evidence(c), 1000);
  // whose they are: the restarted node and one that stayed, member by member
  for (const r of [lab.nodes[0], restarting]) {
    for (const s of lab.nodes) {
      if (s !== r) assert.equal(await fromOrigin(r, s.index), owns(s), `${r.name} holds all ${owns(s)} of ${s.name}'s flows as ${s.name}'s`);
    }
    assert.equal(await fromOrigin(r, r.index), 0, `${r.name} has none of its own flows in its external cache`);
  }
}

describe("Corosync: four nodes", { skip, concurrency: 1 }, () => {
  let c: Cluster | undefined;
  const perNode = 2000;
  before(async () => { c = await build("cs4", 4); });
  after(() => teardown(c));

  test("10% loss on every link, node 2 rebooting mid-burst: every node ends with the other three nodes' flows, none lost, none stale", { timeout: 400_000 }, async () => {
    await burstWithRestart(c!, perNode);
  });

  test("node 3 fails; node 1 commits exactly node 3's flows (-c --origin 3), the others' stay in its external cache; after -R and -B they are node 1's", { timeout: 120_000 }, async () => {
    const { lab, ring } = c!;
    await lab.loss(null, KNET_PORT);
    const [n1, , n3] = lab.nodes;
    const before = Number((await n1.conntrack("-C")).trim());
    await n3.stop();
    await ring.stopOne(n3.index, "SIGKILL");
    await ring.waitMembers([1, 2, 4], 30_000);
    assert.equal(await fromOrigin(n1, 3), perNode, "node 3's entries stay in node 1's external cache after it left");
    assert.match(await n1.log(), /Corosync member 3 \(pid \d+\) left: its entries stay in the external cache/);
    await n1.ctlOk(["-c", "ct", "--origin", "3"], 60_000);
    const after = Number((await n1.conntrack("-C")).trim());
    assert.equal(after - before, perNode, `node 1's kernel gained exactly node 3's ${perNode} flows`);
    const committed = (await n1.conntrack("-L")).split("\n").filter((l) => l.includes("dport=80 "));
    const ofNode = (k: number) => committed.filter((l) => injectedBy(l) === k).length;
    assert.equal(ofNode(3), perNode, "node 3's flows are in node 1's kernel");
    assert.equal(ofNode(2) + ofNode(4), 0, "no flow of node 2 or 4 was committed");
    assert.match(await n1.log(), /committing conntrack cache \(entries from Corosync member 3 only\)/);
    // the rest of the takeover: -R and -B make them node 1's in the other members' eyes
    await n1.ctlOk(["-R"], 60_000);
    await n1.ctlOk(["-B"], 60_000);
    const n4 = lab.nodes[3];
    await until("node 4 to see node 3's old flows as node 1's", async () =>
      (await fromOrigin(n4, 1)) === 2 * perNode && (await fromOrigin(n4, 3)) === 0, 60_000, () => evidence(c!), 1000);
  });
  test("node 4's corosync restarts under its running ctsyncd: it joins again by itself, and what changed meanwhile reaches everyone", { timeout: 180_000 }, async () => {
    const { lab, ring } = c!;
    const [n1, n2, , n4] = lab.nodes;
    await ring.stopOne(n4.index);
    await until("node 4's ctsyncd to notice", async () => /lost the connection to corosync/.test(await n4.log()), 30_000, () => evidence(c!));
    await inject(n1, 500, n1.index * 100_000 + 50_000);
    await inject(n4, 500, n4.index * 100_000 + 50_000);
    await ring.startOne(n4.index);
    await ring.waitMembers([1, 2, 4], 120_000);
    await until("node 4's ctsyncd back in the group", async () => /joined the Corosync process group again/.test(await n4.log()), 30_000, () => evidence(c!));
    const live = [n1, n2, n4];
    await until("every live node to hold every other live node's flows, as theirs", async () => {
      const internal = await Promise.all(live.map(async (x) => (await cacheActive(x)).internal));
      for (const r of live) {
        for (const [i, s] of live.entries()) if (s !== r && (await fromOrigin(r, s.index)) !== internal[i]) return false;
      }
      return true;
    }, 120_000, () => evidence(c!), 1000);
    assert.ok(n4.alive, "node 4's ctsyncd kept running");
  });
});

describe("Corosync: eight nodes", { skip, concurrency: 1 }, () => {
  let c: Cluster | undefined;
  before(async () => { c = await build("cs8", 8); });
  after(() => teardown(c));

  test("10% loss on every link, node 2 rebooting mid-burst: every node ends with the other seven nodes' flows, none lost, none stale", { timeout: 600_000 }, async () => {
    await burstWithRestart(c!, 1000);
  });
});
