// Interoperability, in network namespaces: Debian's real conntrackd 1.4.7 on
// one node and ctsyncd on the other, both directions, for each sync mode and
// transport; expectations (real FTP through the sender's kernel); bulk send
// and resync requests across the two; FTFW under 20% loss; a four-node
// multicast cluster; the sender filter and malformed datagrams.
//
// Witnesses: `conntrack -L` in the sender's kernel is compared field by field
// with the receiver's external cache (`-e`), and after `-c` with the
// receiver's kernel (which shows NAT in the reply tuple). Needs root.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { Lab, SyncNode, missing, must, run, sleep, until, sendDatagram, ROOT, type Impl, type Mode, type Transport } from "../support/interop-lab.ts";
import { ctMap, expList, cacheActive, netCounters } from "../support/interop-lines.ts";

const lacking = await missing();
const skip = lacking.length ? `needs ${lacking.join(", ")}` : false;
const MODES: Mode[] = ["NOTRACK", "ALARM", "FTFW"];
const TRANSPORTS: Transport[] = ["udp", "multicast", "tcp"];
const timings: string[] = [];

// ---- flows ------------------------------------------------------------------------------

/** The flows one sender creates; p (1..250) makes their addresses its own. */
function flows(p: number): string[][] {
  return [
    ["-p", "tcp", "-s", `10.${p}.0.1`, "-d", "198.51.100.1", "--sport", "1000", "--dport", "80", "--state", "ESTABLISHED", "-t", "300", "--mark", "9"],
    ["-p", "udp", "-s", `10.${p}.0.2`, "-d", "198.51.100.1", "--sport", "5000", "--dport", "53", "-t", "300", "--mark", "1"],
    ["-p", "icmp", "-s", `10.${p}.0.3`, "-d", "198.51.100.1", "--icmp-type", "8", "--icmp-code", "0", "--icmp-id", "77", "-t", "300"],
    ["-p", "tcp", "-s", `2001:db8:${p}::1`, "-d", "2001:db8:ff::1", "--sport", "1000", "--dport", "22", "--state", "ESTABLISHED", "-t", "300", "--mark", "3"],
    ["-p", "tcp", "-s", `10.${p}.0.4`, "-d", "203.0.113.9", "--sport", "3333", "--dport", "443", "--state", "SYN_SENT", "-t", "300", "--src-nat", `198.51.100.${100 + p}`],
    ["-p", "tcp", "-s", "203.0.113.50", "-d", `10.${p}.0.5`, "--sport", "4444", "--dport", "80", "--state", "ESTABLISHED", "-t", "300", "--dst-nat", `10.${p}.1.80`],
  ];
}
const mine = (p: number) => (line: string) => line.includes(`10.${p}.0.`) || line.includes(`2001:db8:${p}::`);

async function createFlows(n: SyncNode, p: number): Promise<void> {
  for (const f of flows(p)) await n.conntrack("-I", ...f);
}

const canon = (m: Record<string, string[]>) => JSON.stringify(Object.keys(m).sort().map((k) => [k, m[k]]));

/** Waits until `receiver -e` holds exactly the sender kernel's flows of p, field by field. */
async function expectSynced(sender: SyncNode, receiver: SyncNode, p: number, what: string, ms = 8000): Promise<number> {
  const want = async () => ctMap(await sender.conntrack("-L"), mine(p));
  const have = async () => ctMap(await receiver.ctlOk(["-e", "ct"]), mine(p));
  try {
    const r = await until(what, async () => {
      const [w, h] = [await want(), await have()];
      return canon(w) === canon(h) && Object.keys(w).length > 0 ? true : false;
    }, ms);
    return r.ms;
  } catch {
    // the field-by-field difference, with the daemons' evidence
    assert.deepEqual(await have(), await want(), `${what}: ${receiver.name} (${receiver.impl}) -e differs from ${sender.name} (${sender.impl})'s kernel\n${await sender.lab.evidence()}`);
    throw new Error(`${what}: ${sender.name} (${sender.impl})'s kernel holds none of these flows\n${await sender.lab.evidence()}`);
  }
}

// ---- 1. modes x transports x directions --------------------------------------------------

describe("interop: ctsyncd and conntrackd 1.4.7, each mode and transport, both directions", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => { lab = await Lab.create("m", 2); });
  after(async () => { await lab?.destroy(); });

  for (const transport of TRANSPORTS) {
    for (const mode of MODES) {
      test(`${mode} over ${transport}`, async () => {
        const [a, b] = lab.nodes;
        const t0 = Date.now();
        await lab.stopAll();
        await lab.flushKernels();
        try {
          // ctsyncd on n1, conntrackd on n2; n1's flows are 10.11.*, n2's 10.22.*
          await a.start("ctsyncd", { mode, transport, peer: b.addr });
          await b.start("conntrackd", { mode, transport, peer: a.addr });
          // TCP: let the connection between the two come up (conntrackd retries once a second)
          if (transport === "tcp") await sleep(2000);
          await Promise.all([createFlows(a, 11), createFlows(b, 22)]);
          const ms1 = await expectSynced(a, b, 11, `${mode}/${transport} create ctsyncd->conntrackd`);
          const ms2 = await expectSynced(b, a, 22, `${mode}/${transport} create conntrackd->ctsyncd`);

          // both print their external cache the same way (ALARM: conntrackd adds "[expires in Ns]")
          const expires = /\[expires in \d+s\]/;
          assert.equal(expires.test(await a.ctlOk(["-e", "ct"])), expires.test(await b.ctlOk(["-e", "ct"])),
            `${mode}: ctsyncd -e and conntrackd -e differ in "[expires in Ns]":\n${await a.ctlOk(["-e", "ct"])}\n${await b.ctlOk(["-e", "ct"])}`);

          // update: the mark of the TCP flow
          await a.conntrack("-U", ...flows(11)[0].slice(0, 10), "--mark", "77");
          await b.conntrack("-U", ...flows(22)[0].slice(0, 10), "--mark", "77");
          await expectSynced(a, b, 11, `${mode}/${transport} update ctsyncd->conntrackd`);
          await expectSynced(b, a, 22, `${mode}/${transport} update conntrackd->ctsyncd`);
          assert.match(await b.ctlOk(["-e", "ct"]), /src=10\.11\.0\.1 .*mark=77/);
          assert.match(await a.ctlOk(["-e", "ct"]), /src=10\.22\.0\.1 .*mark=77/);

          // destroy: the UDP flow
          await a.conntrack("-D", ...flows(11)[1].slice(0, 10));
          await b.conntrack("-D", ...flows(22)[1].slice(0, 10));
          await expectSynced(a, b, 11, `${mode}/${transport} destroy ctsyncd->conntrackd`);
          await expectSynced(b, a, 22, `${mode}/${transport} destroy conntrackd->ctsyncd`);
          assert.doesNotMatch(await b.ctlOk(["-e", "ct"]), /src=10\.11\.0\.2 /);
          assert.doesNotMatch(await a.ctlOk(["-e", "ct"]), /src=10\.22\.0\.2 /);

          // commit: the receiver's kernel gets the sender's flows, NAT (reply tuple) included
          await a.ctlOk(["-c", "ct"]);
          await b.ctlOk(["-c", "ct"]);
          for (const [s, r, p] of [[a, b, 11], [b, a, 22]] as const) {
            const want = ctMap(await s.conntrack("-L"), mine(p), true);
            const got = ctMap(await r.conntrack("-L"), mine(p), true);
            assert.deepEqual(got, want, `${mode}/${transport}: ${r.name} (${r.impl}) kernel after -c differs from ${s.name} (${s.impl})'s kernel`);
          }
          timings.push(`${mode}/${transport}: create seen in ${ms1} / ${ms2} ms; whole case ${Date.now() - t0} ms`);
        } catch (e) {
          throw new Error(`${(e as Error).message}\n${await lab.evidence()}`);
        } finally {
          await lab.stopAll();
        }
      });
    }
  }
});

// ---- 2. expectations -----------------------------------------------------------------------

const FTP_NFT = `table inet io_ftp {
	ct helper ftp-21 {
		type "ftp" protocol tcp
		l3proto ip
	}
	chain out {
		type filter hook output priority filter; policy accept;
		tcp dport 21 ct helper set "ftp-21"
	}
}
`;

/** A minimal FTP control exchange: the server answers PASV with 227, which the kernel's ftp helper turns into an expectation. */
const FTP_PY = `import socket, sys, time
role, addr = sys.argv[1], sys.argv[2]
if role == "server":
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, 21)); ls.listen(1); print("ready", flush=True)
    c, _ = ls.accept(); f = c.makefile("rwb", buffering=0)
    f.write(b"220 ctsync interop\\r\\n")
    for line in f:
        if line.upper().startswith(b"PASV"):
            f.write(b"227 Entering Passive Mode (%s,195,80).\\r\\n" % addr.replace(".", ",").encode())
        else:
            f.write(b"200 ok\\r\\n")
else:
    s = socket.create_connection((addr, 21), timeout=5); f = s.makefile("rwb", buffering=0)
    print(f.readline().decode().strip(), flush=True)
    for cmd in (b"USER ctsync", b"PASV"):
        f.write(cmd + b"\\r\\n"); print(f.readline().decode().strip(), flush=True)
    time.sleep(3600)
`;

/** Real FTP inside the node's namespace (10.98.i.1:21), held open until stop(); PASV makes the expectation. */
async function ftpSession(lab: Lab, n: SyncNode): Promise<{ stop: () => Promise<void> }> {
  const addr = `10.98.${n.index}.1`;
  await run(["ip", "addr", "add", `${addr}/32`, "dev", "lo"], { ns: n.ns }); // (again: already there)
  const nft = join(lab.dir, `ftp-${n.name}.nft`);
  await writeFile(nft, FTP_NFT);
  await run(["nft", "delete", "table", "inet", "io_ftp"], { ns: n.ns });
  await n.sh(["nft", "-f", nft]);
  const py = join(lab.dir, "ftp.py");
  await writeFile(py, FTP_PY);
  const procs: ChildProcess[] = [];
  const stop = async () => {
    for (const p of procs) { try { p.kill("SIGKILL"); } catch { /* gone */ } }
    await sleep(100);
  };
  try {
    const server = spawn("ip", ["netns", "exec", n.ns, "python3", py, "server", addr], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(server);
    let sout = "";
    server.stdout!.on("data", (d: Buffer) => { sout += d.toString(); });
    server.stderr!.on("data", (d: Buffer) => { sout += d.toString(); });
    await until("the FTP server", async () => sout.includes("ready"), 5000, async () => sout);
    const client = spawn("ip", ["netns", "exec", n.ns, "python3", py, "client", addr], { stdio: ["ignore", "pipe", "pipe"] });
    procs.push(client);
    let out = "";
    client.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    client.stderr!.on("data", (d: Buffer) => { out += d.toString(); });
    await until("the FTP client's PASV reply", async () => out.includes("227"), 5000, async () => out);
  } catch (e) {
    await stop();
    throw e;
  }
  return { stop };
}

describe("interop: FTP expectations, both directions", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => { lab = await Lab.create("x", 2); });
  after(async () => { await lab?.destroy(); });

  for (const [senderImpl, receiverImpl] of [["ctsyncd", "conntrackd"], ["conntrackd", "ctsyncd"]] as [Impl, Impl][]) {
    test(`${senderImpl} -> ${receiverImpl}: the expectation and its master`, async () => {
      const [s, r] = lab.nodes;
      await lab.stopAll();
      await lab.flushKernels();
      let ftp: { stop: () => Promise<void> } | null = null;
      try {
        await s.start(senderImpl, { mode: "FTFW", transport: "udp", peer: r.addr });
        await r.start(receiverImpl, { mode: "FTFW", transport: "udp", peer: s.addr });
        ftp = await ftpSession(lab, s);
        const kernelExp = async () => expList(await s.conntrack("-L", "expect"));
        assert.equal((await kernelExp()).length, 1, "the sender's kernel holds one FTP expectation");
        const got = await until("the expectation in the receiver's -e exp", async () => {
          const e = expList(await r.ctlOk(["-e", "expect"]));
          return e.length > 0 ? e : false;
        }, 8000).catch(async (e) => { throw new Error(`${(e as Error).message}\n${await lab.evidence()}`); });
        assert.deepEqual(got.value, await kernelExp(), "receiver -e exp against the sender's conntrack -L expect");
        // the master, with its helper
        // (mark=0: the kernel prints it, neither daemon's cache line does for the helper's master)
        const noMark0 = (m: Record<string, string[]>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v.filter((f) => f !== "mark=0")]));
        const master = noMark0(ctMap(await s.conntrack("-L"), (l) => l.includes("dport=21 ")));
        const ext = noMark0(ctMap(await r.ctlOk(["-e", "ct"]), (l) => l.includes("dport=21 ")));
        assert.deepEqual(ext, master, "the FTP master in the receiver's -e");
        assert.match(JSON.stringify(ext), /helper=ftp/);
        timings.push(`expectation ${senderImpl}->${receiverImpl}: seen in ${got.ms} ms`);
      } finally {
        await ftp?.stop();
        await lab.stopAll();
      }
    });
  }
});

// ---- 3. bulk send and resync request -------------------------------------------------------

describe("interop: -B and -n across the two implementations (FTFW over UDP)", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => { lab = await Lab.create("b", 2); });
  after(async () => { await lab?.destroy(); });

  for (const [senderImpl, receiverImpl] of [["ctsyncd", "conntrackd"], ["conntrackd", "ctsyncd"]] as [Impl, Impl][]) {
    for (const how of ["-B", "-n"] as const) {
      test(`${how}: ${senderImpl} -> ${receiverImpl}, entries made while the receiver was down`, async () => {
        const [s, r] = lab.nodes;
        await lab.stopAll();
        await lab.flushKernels();
        try {
          await s.start(senderImpl, { mode: "FTFW", transport: "udp", peer: r.addr });
          await createFlows(s, 33);
          await until("the sender's internal cache", async () => (await cacheActive(s)).internal >= 6, 5000);
          await r.start(receiverImpl, { mode: "FTFW", transport: "udp", peer: s.addr });
          await sleep(1500);
          const beforeCount = Object.keys(ctMap(await r.ctlOk(["-e", "ct"]), mine(33))).length;
          if (senderImpl === "ctsyncd") {
            // ctsyncd's FTFW holds what it could not deliver until the peer greets it, so the
            // entries arrive by themselves; empty the receiver's cache to test the request.
            await until("the held entries to reach the receiver once it greeted", async () =>
              Object.keys(ctMap(await r.ctlOk(["-e", "ct"]), mine(33))).length === 6, 5000);
            await r.ctlOk(["-f", "external"]);
          } else {
            assert.equal(beforeCount, 0, "nothing reaches the receiver before the request");
          }
          if (how === "-B") await s.ctlOk(["-B"]);
          else await r.ctlOk(["-n"]);
          const ms = await expectSynced(s, r, 33, `${how} ${senderImpl}->${receiverImpl}`);
          timings.push(`${how} ${senderImpl}->${receiverImpl}: complete in ${ms} ms`);
        } finally {
          await lab.stopAll();
        }
      });
    }
  }
});

// ---- 4. FTFW under loss --------------------------------------------------------------------

const LOSS_COUNT = Number(process.env.CTSYNC_INTEROP_LOSS_COUNT ?? 20000);

describe(`interop: FTFW under 20% loss, ${LOSS_COUNT} new conntracks`, { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => { lab = await Lab.create("l", 2); });
  after(async () => { await lab?.destroy(); });

  const cases: [Impl, Impl][] = [["ctsyncd", "ctsyncd"], ["ctsyncd", "conntrackd"], ["conntrackd", "ctsyncd"]];
  cases.forEach(([primaryImpl, backupImpl], i) => {
    test(`${primaryImpl} primary, ${backupImpl} backup`, async () => {
      const [p, b] = lab.nodes;
      await lab.stopAll();
      await lab.flushKernels();
      const t0 = Date.now();
      try {
        const big = { netlinkBufferSize: 16 << 20, netlinkBufferMax: 64 << 20 };
        await p.start(primaryImpl, { mode: "FTFW", transport: "udp", peer: b.addr, ...big });
        await b.start(backupImpl, { mode: "FTFW", transport: "udp", peer: p.addr, ...big });
        await sleep(1000);
        await lab.loss(20);
        const inj = await must(["node", "--import", "tsx", join(ROOT, "test/support/interop-inject.ts"), String(LOSS_COUNT), String(i * 100000)], p.ns, 120_000);
        const result = JSON.parse(/RESULT (.*)/.exec(inj)![1]) as { created: number; failed: number; seconds: number };
        assert.equal(result.created, LOSS_COUNT, `injector: ${inj}`);
        const internal = await until("the primary's internal cache to hold them all", async () =>
          (await cacheActive(p)).internal >= LOSS_COUNT, 60_000, () => p.evidence(), 500);
        const during = await cacheActive(b);
        const dropped = [await lab.lossDropped(p), await lab.lossDropped(b)];
        await lab.loss(null);
        const lossOff = Date.now();
        const done = await until(`the backup's external cache to reach ${LOSS_COUNT}`, async () =>
          (await cacheActive(b)).external >= LOSS_COUNT, 120_000,
          async () => `backup -s cache: ${JSON.stringify(await cacheActive(b))}\nprimary: ${JSON.stringify(await cacheActive(p))}\n` +
            `backup -s network: ${JSON.stringify(await netCounters(b))}\nprimary -s network: ${JSON.stringify(await netCounters(p))}\n` +
            `primary -s queue:\n${await p.ctlOk(["-s", "queue"]).catch((e) => String(e))}\n${await lab.evidence()}`, 500);
        const lines = (await b.ctlOk(["-e", "ct"], 60_000)).split("\n").filter((l) => l.includes("198.51.100.1 ") && l.includes("dport=80 "));
        assert.equal(lines.length, LOSS_COUNT, "every injected flow is in the backup's -e");
        const net = await netCounters(b);
        timings.push(`loss ${primaryImpl}->${backupImpl}: injected ${LOSS_COUNT} in ${result.seconds.toFixed(2)} s, primary had them ${internal.ms} ms later, ` +
          `loss by ${lab.lossBy} (dropped ${dropped.join("/")} primary/backup), backup held ${during.external} when loss was removed, all ${LOSS_COUNT} ${Date.now() - lossOff} ms after; backup saw ${net["seq.Packets lost"] ?? net["sequence.Packets lost"] ?? "?"} lost; whole case ${Date.now() - t0} ms`);
        void done;
      } finally {
        await lab.loss(null).catch(() => {});
        await lab.stopAll();
      }
    });
  });
});

// ---- 5. four nodes over multicast ----------------------------------------------------------

describe("interop: four nodes over multicast", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  before(async () => { lab = await Lab.create("q", 4); });
  after(async () => { await lab?.destroy(); });

  const cases: [Mode, Impl[]][] = [
    ["NOTRACK", ["ctsyncd", "ctsyncd", "ctsyncd", "ctsyncd"]],
    ["NOTRACK", ["ctsyncd", "conntrackd", "ctsyncd", "conntrackd"]],
    ["FTFW", ["ctsyncd", "ctsyncd", "ctsyncd", "ctsyncd"]],
    // the reference: what conntrackd itself does with FTFW and three peers on one group
    ["FTFW", ["conntrackd", "conntrackd", "conntrackd", "conntrackd"]],
  ];
  for (const [mode, impls] of cases) {
    // FTFW is a two-node protocol: one sequence space is tracked for all senders on the group, so
    // with three peers every node sees "lost" messages and conntrackd 1.4.7 itself misses entries.
    // They stay as the record of that limit (todo: they fail, by design of the protocol); clusters
    // beyond two use the Corosync transport instead (test/e2e/corosync.test.ts, the same story with loss).
    const limit = "FTFW is a two-node protocol: one sequence space for all peers on a group, so entries are lost (conntrackd 1.4.7 too); use Corosync beyond two nodes";
    const todo = mode === "FTFW" ? limit : undefined;
    const name = `${mode}, ${impls.join(" ")}: each node's flows reach the other three's external cache`;
    test(mode === "FTFW" ? `${name} (expected to fail: ${limit})` : name, { todo }, async () => {
      await lab.stopAll();
      await lab.flushKernels();
      const t0 = Date.now();
      try {
        for (const n of lab.nodes) await n.start(impls[n.index - 1], { mode, transport: "multicast" });
        await Promise.all(lab.nodes.map((n) => createFlows(n, 40 + n.index)));
        for (const r of lab.nodes) {
          for (const s of lab.nodes) {
            if (s === r) continue;
            await expectSynced(s, r, 40 + s.index, `${mode}: n${s.index} -> n${r.index}`);
          }
          // one external cache for all peers, and never its own flows
          const ext = await r.ctlOk(["-e", "ct"]);
          assert.equal(Object.keys(ctMap(ext, mine(40 + r.index))).length, 0, `n${r.index} has its own flows in its external cache`);
          assert.equal(Object.keys(ctMap(ext)).length, 18, `n${r.index}: 3 peers x 6 flows in one external cache`);
        }
        timings.push(`4 nodes ${mode} ${impls.join(" ")}: ${Date.now() - t0} ms`);
      } finally {
        await lab.stopAll();
      }
    });
  }
});

// ---- 6. sender filter and malformed datagrams ----------------------------------------------

/** A conntrackd 1.4.7 NOTRACK CT_NEW datagram (udp 192.0.2.10:5000 -> 198.51.100.20:53, mark 1), from test/fixtures/sync. */
const CT_NEW_HEX = "1000004c6b086ec8000c0000c000020ac6336414000800050000000800050002110000000008000313880035000800060000001e00080007000000010010001f000000000000000000000000";

describe("interop: sender filter and malformed datagrams (ctsyncd receiving, conntrackd peer, NOTRACK over UDP)", { skip, concurrency: 1 }, () => {
  let lab: Lab;
  let intruder: string;
  before(async () => { lab = await Lab.create("f", 2); intruder = await lab.addIntruder(); });
  after(async () => { await lab?.destroy(); });

  async function startPair(a: SyncNode, b: SyncNode): Promise<void> {
    await lab.stopAll();
    await lab.flushKernels();
    await a.start("ctsyncd", { mode: "NOTRACK", transport: "udp", peer: b.addr });
    await b.start("conntrackd", { mode: "NOTRACK", transport: "udp", peer: a.addr });
    await createFlows(b, 55);
    await expectSynced(b, a, 55, "baseline conntrackd -> ctsyncd");
  }

  test("a valid sync message from a stranger is dropped, and the drop is visible", async () => {
    const [a, b] = lab.nodes;
    try {
      await startPair(a, b);
      const baseline = await a.ctlOk(["-e", "ct"]);
      await sendDatagram(intruder, "10.99.0.99", a.addr, CT_NEW_HEX);
      await sleep(500);
      assert.doesNotMatch(await a.ctlOk(["-e", "ct"]), /192\.0\.2\.10 /, "the stranger's entry must not enter the external cache");
      assert.deepEqual(ctMap(await a.ctlOk(["-e", "ct"])), ctMap(baseline), "synced state untouched");

      // the same bytes from the peer's address are accepted: the filter, not the datagram, refused them
      await sendDatagram(b.ns, b.addr, a.addr, CT_NEW_HEX);
      await until("the peer's copy of the datagram to be accepted", async () => /src=192\.0\.2\.10 dst=198\.51\.100\.20 sport=5000 dport=53 .*mark=1/.test(await a.ctlOk(["-e", "ct"])), 3000);

      // counted or logged: a counter named for it in -s network / -s link, or a log line naming the sender
      const stats = `${await a.ctlOk(["-s", "network"])}${await a.ctlOk(["-s", "link"])}`;
      const logged = /10\.99\.0\.99/.test(await a.log());
      const counted = /drop|refus|filter|stranger|unknown (peer|sender)/i.test(stats);
      assert.ok(logged || counted, `the stranger's datagram must be visible somewhere: no counter in -s network/-s link, nothing in the log\n${stats}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await lab.evidence()}`);
    } finally {
      await lab.stopAll();
    }
  });

  test("malformed datagrams from the peer are counted in -s network and change nothing", async () => {
    const [a, b] = lab.nodes;
    try {
      await startPair(a, b);
      const m0 = (await netCounters(a))["recv.Malformed messages"];
      // bad version; a length beyond the datagram; a header that claims 20 bytes of a cut CT_NEW
      const bad = ["9900000800000001", "100000ff6b086ec9", CT_NEW_HEX.slice(0, 40).replace(/^1000004c/, "10000014")];
      for (const hex of bad) await sendDatagram(b.ns, b.addr, a.addr, hex);
      await until("three malformed datagrams counted in -s network", async () =>
        (await netCounters(a))["recv.Malformed messages"] - m0 === 3, 3000, async () => a.ctlOk(["-s", "network"]));
      await expectSynced(b, a, 55, "synced state after the malformed datagrams");
      // and sync still works
      await b.conntrack("-I", "-p", "udp", "-s", "10.55.0.9", "-d", "198.51.100.1", "--sport", "9", "--dport", "9", "-t", "300");
      await expectSynced(b, a, 55, "a new flow after the malformed datagrams");
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${await lab.evidence()}`);
    } finally {
      await lab.stopAll();
    }
  });
});

after(() => {
  if (timings.length) console.log(`# interop timings:\n${timings.map((t) => `#   ${t}`).join("\n")}`);
});
