// Authenticated sync (Sync { Authenticate { KeyFile } }) between two ctsyncd
// in network namespaces, with a third namespace on the sync link playing the
// attacker of test/e2e/spoof.test.ts: its forged datagrams, replays of real
// frames captured on the link (from earlier in the run, and from before
// either node restarted), frames under a wrong key, cut or with a bit
// flipped: each is refused before decode, counted in -s network, logged;
// nothing reaches the external cache or, after -c, the kernel. Meanwhile the
// real peers sync in every mode over every transport, roll their keys over
// under load with nothing lost, and restart in turn.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Lab, missing, must, sendDatagram, until, ROOT, SYNC_PORT, type Mode, type Transport, type SyncNode, type NodeConfig } from "../support/interop-lab.ts";
import { cacheActive } from "../support/interop-lines.ts";
import { CoreHarness } from "../support/core.ts";
import type { Conntrack } from "../../host/record-view.ts";

const absent = await missing();
const skip = absent.length ? `missing: ${absent.join(", ")}` : false;

const KEY1 = randomBytes(32).toString("hex"), KEY2 = randomBytes(32).toString("hex");

async function keyFile(lab: Lab, name: string, lines: string[]): Promise<string> {
  const path = join(lab.dir, `${name}.key`);
  await writeFile(path, lines.join("\n") + "\n", { mode: 0o600 });
  return path;
}

/** Creates `count` conntracks in the node's kernel (bench/injector.ts's flows from `base`). */
async function inject(node: SyncNode, count: number, base: number): Promise<void> {
  await must(["node", "--import", "tsx", join(ROOT, "test/support/interop-inject.ts"), String(count), String(base)], node.ns, 120_000);
}

/** The authentication block of -s network: refusals by reason. */
async function refusals(node: SyncNode): Promise<Record<string, number>> {
  const out = await node.ctlOk(["-s", "network"]);
  const r: Record<string, number> = {};
  for (const [k, label] of [["missing", "Not authenticated"], ["truncated", "Truncated frame"], ["key", "Unknown key"],
    ["mac", "Bad MAC"], ["stale", "Stale epoch"], ["replay", "Replayed"]]) {
    const m = new RegExp(`${label}:\\s+(\\d+)`).exec(out);
    r[k] = m ? Number(m[1]) : NaN;
  }
  return r;
}

const external = async (n: SyncNode) => (await cacheActive(n)).external;

async function externalReaches(n: SyncNode, want: number, ms = 30_000): Promise<void> {
  await until(`${want} entries in ${n.name}'s external cache`, async () => (await external(n)) >= want, ms,
    async () => `has ${await external(n)}`);
}

/** Captures the UDP payloads from `from` to the sync port arriving at `node`, while `during` runs. */
async function capture(node: SyncNode, from: string, during: () => Promise<void>, ms = 1500): Promise<string[]> {
  const py = `import socket,sys,time,select
s=socket.socket(socket.AF_PACKET,socket.SOCK_RAW,socket.ntohs(0x0800)); s.bind(("sync0",0))
src=socket.inet_aton(sys.argv[1]); end=time.time()+float(sys.argv[2]); print("READY",flush=True)
while time.time()<end:
  if not select.select([s],[],[],0.1)[0]: continue
  f,a=s.recvfrom(70000)
  if a[2]==socket.PACKET_OUTGOING: continue
  ip=f[14:]; h=(ip[0]&15)*4
  if ip[9]==17 and ip[12:16]==src and int.from_bytes(ip[h+2:h+4],"big")==${SYNC_PORT}: print(ip[h+8:].hex(),flush=True)
`;
  const { spawn } = await import("node:child_process");
  const p = spawn("ip", ["netns", "exec", node.ns, "python3", "-c", py, from, String(ms / 1000 + 3)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const ready = new Promise<void>((r) => p.stdout!.on("data", (b: Buffer) => { out += b.toString(); if (out.includes("READY")) r(); }));
  const done = new Promise<void>((r) => p.on("exit", () => r()));
  await ready;
  await during();
  await done;
  return out.split("\n").filter((l) => /^[0-9a-f]+$/.test(l));
}

/** An SSH flow nobody opened, as spoof.test.ts forges it. */
const SSH: Conntrack = {
  family: "ipv4", src: "203.0.113.66", dst: "192.0.2.22", l4proto: 6, sport: 40022, dport: 22,
  tcpState: 3, status: 0x18e, timeout: 432000, mark: 0,
};
const SSH_LINE = /src=203\.0\.113\.66 dst=192\.0\.2\.22 sport=40022 dport=22/;

function forgedPlain(): string {
  const h = new CoreHarness();
  return Buffer.from(h.encodeCt(SSH, h.k("T_CT_NEW"), 4242)).toString("hex");
}

describe("authenticated sync between two ctsyncd, with an attacker on the link", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  let primary: SyncNode, backup: SyncNode;
  before(async () => {
    lab = await Lab.create("au", 2);
    await lab.addIntruder();
    await lab.spoof("10.99.0.1");
    [primary, backup] = lab.nodes;
  });
  after(async () => { await lab?.destroy(); });

  /** Both daemons with their key files; `backupExtra` for the backup's configuration alone. */
  async function pair(mode: Mode, transport: Transport, keys: [string[], string[]], backupExtra: Partial<NodeConfig> = {}, cipher?: string): Promise<void> {
    const kp = await keyFile(lab, "n1", keys[0]), kb = await keyFile(lab, "n2", keys[1]);
    await primary.start("ctsyncd", { mode, transport, peer: backup.addr, keyFile: kp, cipher });
    await backup.start("ctsyncd", { mode, transport, peer: primary.addr, keyFile: kb, cipher, ...backupExtra });
  }

  const withEvidence = async (body: () => Promise<void>) => {
    try {
      await lab.flushKernels();
      // The intruder's datagrams from the primary's address taught the backup its MAC for it (ARP): forget it.
      for (const n of lab.nodes) await n.sh(["ip", "neigh", "flush", "dev", "sync0"]);
      await body();
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await lab.evidence()}`);
    } finally {
      await lab.stopAll();
    }
  };

  for (const cipher of ["HMAC-SHA256", "XChaCha20-Poly1305"]) for (const mode of ["NOTRACK", "ALARM", "FTFW"] as Mode[]) {
    for (const transport of ["udp", "multicast", "tcp"] as Transport[]) {
      test(`${cipher}, ${mode} over ${transport}: the flows arrive authenticated${cipher === "HMAC-SHA256" ? "" : " and encrypted"}${transport === "udp" ? "; a forged conntrackd datagram is refused" : ""}`, () => withEvidence(async () => {
        await pair(mode, transport, [[`1 ${KEY1}`], [`1 ${KEY1}`]], {}, cipher);
        if (transport !== "udp") {
          await inject(primary, 300, 0);
          await externalReaches(backup, 300);
          return;
        }
        const frames = await capture(backup, primary.addr, () => inject(primary, 300, 0));
        await externalReaches(backup, 300);
        // The flows' destination, 198.51.100.1, as it sits in a message: in clear with HMAC-SHA256 only.
        const seen = frames.some((f) => f.includes("c6336401"));
        assert.equal(seen, cipher === "HMAC-SHA256", `the flows' addresses ${seen ? "visible" : "hidden"} on the link`);
        await sendDatagram(lab.intruderNs!, primary.addr, backup.addr, forgedPlain());
        await until("the forged datagram counted", async () => (await refusals(backup)).missing >= 1, 5000);
        assert.doesNotMatch(await backup.ctlOk(["-e", "ct"]), SSH_LINE);
      }));
    }
  }

  test("spoofing with authentication on: nothing reaches the external cache or, after -c, the kernel; counted and logged once", () => withEvidence(async () => {
    await pair("NOTRACK", "udp", [[`1 ${KEY1}`], [`1 ${KEY1}`]]);
    for (let i = 0; i < 20; i++) await sendDatagram(lab.intruderNs!, primary.addr, backup.addr, forgedPlain());
    await until("20 refusals counted", async () => (await refusals(backup)).missing === 20, 5000);
    assert.doesNotMatch(await backup.ctlOk(["-e", "ct"]), SSH_LINE);
    await backup.ctlOk(["-c"]);
    assert.doesNotMatch(await backup.conntrack("-L"), SSH_LINE);
    const log = await backup.log();
    assert.equal(log.match(/refused \d+ datagrams? on link 0/g)?.length, 1, "one line a minute, not one a datagram");
    // (the line may name a stale frame of the peers' greeting instead, if one came first in that minute)
    assert.match(log, /refused \d+ datagrams? on link 0 \(peer 10\.99\.0\.1\) before decode, the last: AUTH_(MISSING|STALE); counted in -s network/);
    assert.match(await backup.ctlOk(["-s", "network"]), /Malformed messages:\s+0/, "refusals are not malformed messages");
  }));

  test("a conntrackd peer (no authentication) is refused: nothing of its flows is taken; counted and logged", () => withEvidence(async () => {
    await primary.start("conntrackd", { mode: "NOTRACK", transport: "udp", peer: backup.addr });
    await backup.start("ctsyncd", { mode: "NOTRACK", transport: "udp", peer: primary.addr, keyFile: await keyFile(lab, "n2", [`1 ${KEY1}`]) });
    await inject(primary, 200, 90_000);
    await until("conntrackd's datagrams refused", async () => (await refusals(backup)).missing > 0, 10_000);
    assert.equal(await external(backup), 0);
    assert.match(await backup.log(), /the last: AUTH_MISSING/);
  }));

  test("a wrong key, a cut frame, a flipped MAC: refused by reason", () => withEvidence(async () => {
    await pair("NOTRACK", "udp", [[`1 ${KEY1}`], [`1 ${KEY1}`]]);
    const frames = await capture(backup, primary.addr, () => inject(primary, 5, 1000));
    const real = frames.find((f) => f.length > 200)!;
    assert.ok(real, `a data frame captured (${frames.length} frames)`);
    const wrong = new CoreHarness();
    wrong.core.setAuthKeys([{ id: 1, key: new Uint8Array(Buffer.from(KEY2, "hex")) }]);
    wrong.core.fn.authStart(1n << 40n, 0n, wrong.k("AUTH_HMAC_SHA256"));
    wrong.core.fn.outCt(0, 0, 1);
    const wrongHex = Buffer.from(wrong.core.takeOutbox()[0]).toString("hex");
    const flip = (hex: string, at: number) => { const b = Buffer.from(hex, "hex"); b[at] ^= 1; return b.toString("hex"); };
    const sends = [wrongHex, real.slice(0, -2), flip(real, real.length / 2 - 1), flip(real, 40)];
    for (const s of sends) await sendDatagram(lab.intruderNs!, primary.addr, backup.addr, s);
    await until("each refused by its reason", async () => {
      const r = await refusals(backup);
      return r.mac === 3 && r.truncated === 1;
    }, 5000, async () => JSON.stringify(await refusals(backup)));
    assert.equal(await external(backup), 5);
  }));

  test("replays: a capture from earlier in the run, from before the backup restarted, from before the primary restarted", () => withEvidence(async () => {
    await pair("FTFW", "udp", [[`1 ${KEY1}`], [`1 ${KEY1}`]]);
    await externalReaches(backup, 0);
    const frames = await capture(backup, primary.addr, () => inject(primary, 20, 2000));
    await externalReaches(backup, 20);
    await primary.sh(["conntrack", "-F"]);
    await until("the flows gone from the backup", async () => (await external(backup)) === 0, 10_000);
    const replay = async () => { for (const f of frames) await sendDatagram(lab.intruderNs!, primary.addr, backup.addr, f); };

    await replay();
    await until("the replays counted", async () => (await refusals(backup)).replay >= frames.length, 5000);
    assert.equal(await external(backup), 0, "earlier in the run: nothing came back");

    await backup.stop();
    await backup.start("ctsyncd", { mode: "FTFW", transport: "udp", peer: primary.addr, keyFile: join(lab.dir, "n2.key") });
    await replay();
    await until("the replays counted as stale", async () => (await refusals(backup)).stale >= frames.length, 5000);
    assert.equal(await external(backup), 0, "from before the backup's restart: nothing came back");

    await primary.stop();
    await primary.start("ctsyncd", { mode: "FTFW", transport: "udp", peer: backup.addr, keyFile: join(lab.dir, "n1.key") });
    await inject(primary, 3, 3000); // the backup hears the primary's new run
    await externalReaches(backup, 3);
    const before = await refusals(backup);
    await replay();
    await until("the replays refused", async () => {
      const r = await refusals(backup);
      return r.replay + r.stale >= before.replay + before.stale + frames.length;
    }, 5000);
    assert.equal(await external(backup), 3, "from before the primary's restart: nothing came back");
    assert.match(await backup.log(), /refused \d+ datagrams? on link 0 .* before decode, the last: AUTH_(STALE|REPLAY)/);
  }));

  test("key rollover under load, in both orders on the nodes, loses nothing", () => withEvidence(async () => {
    await pair("FTFW", "udp", [[`1 ${KEY1}`], [`1 ${KEY1}`]]);
    const hup = async (node: SyncNode, lines: string[]) => {
      await keyFile(lab, node.name, lines);
      node.proc!.kill("SIGHUP");
    };
    const load = inject(primary, 20_000, 10_000);
    await hup(primary, [`1 ${KEY1}`, `2 ${KEY2}`]);
    await externalReaches(backup, 2000, 60_000);
    await hup(backup, [`1 ${KEY1}`, `2 ${KEY2}`]);
    await externalReaches(backup, 6000, 60_000);
    await hup(backup, [`2 ${KEY2}`]);
    await hup(primary, [`2 ${KEY2}`]);
    await load;
    await externalReaches(backup, 20_000, 60_000);
    await inject(primary, 10, 40_000); // sent under key 2 alone
    await externalReaches(backup, 20_010, 30_000);
    for (const n of [primary, backup]) {
      const r = await refusals(n);
      assert.deepEqual([r.key, r.mac, r.replay], [0, 0, 0], `${n.name}: ${JSON.stringify(r)}`);
      assert.match(await n.log(), /key file .* read again: key 2/);
    }
  }));

  test("both nodes restart in turn (XChaCha20-Poly1305): the backup gets everything back, then keeps it across the primary's restart", () => withEvidence(async () => {
    const cipher = "XChaCha20-Poly1305";
    await pair("FTFW", "tcp", [[`1 ${KEY1}`], [`1 ${KEY1}`]], {}, cipher);
    await inject(primary, 500, 50_000);
    await externalReaches(backup, 500);
    await backup.stop();
    await backup.start("ctsyncd", { mode: "FTFW", transport: "tcp", peer: primary.addr, keyFile: join(lab.dir, "n2.key"), cipher });
    await externalReaches(backup, 500);
    await primary.stop();
    await primary.start("ctsyncd", { mode: "FTFW", transport: "tcp", peer: backup.addr, keyFile: join(lab.dir, "n1.key"), cipher });
    await inject(primary, 100, 60_000);
    await externalReaches(backup, 600);
    for (const n of [primary, backup]) {
      const r = await refusals(n);
      assert.deepEqual([r.key, r.mac, r.replay, r.missing], [0, 0, 0, 0], `${n.name}: ${JSON.stringify(r)}`);
    }
  }));

  test("a flood from an authenticated peer: the backup's HashLimit holds, the excess is counted and logged", () => withEvidence(async () => {
    await pair("NOTRACK", "udp", [[`1 ${KEY1}`], [`1 ${KEY1}`]], { hashLimit: 1000 });
    await inject(primary, 3000, 70_000);
    const failed = async () => Number(/creation OK\/failed:\s+\d+\/\s*(\d+)/.exec((await backup.ctlOk(["-s", "cache"])).split("cache:external")[1] ?? "")?.[1]);
    // NOTRACK over UDP may lose some of a burst this size: what matters is that the excess that came is refused.
    await until("the excess counted", async () => (await failed()) > 0 && (await external(backup)) === 1000, 20_000, async () => backup.ctlOk(["-s", "cache"]));
    await until("the burst settled", async () => { const n = await failed(); await new Promise((r) => setTimeout(r, 500)); return n === await failed(); }, 20_000);
    const more = await failed();
    await inject(primary, 500, 80_000);
    await until("more refused, none taken", async () => (await failed()) > more, 20_000, async () => `failed ${more} -> ${await failed()}; primary: ${await primary.ctlOk(["-s", "cache"])}`);
    assert.ok((await external(backup)) <= 1000, `external cache ${await external(backup)} <= HashLimit`);
    assert.match(await backup.log(), /external cache full \(HashLimit 1000\)/);
  }));
});
