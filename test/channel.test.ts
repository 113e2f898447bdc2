// The dedicated links (host/links/channel*.ts, host/links/multichannel.ts). Pure parts
// (stream framing, payload size, address matching, open errors) run here;
// traffic runs between two network namespaces of our own, ch-<pid>-a and
// ch-<pid>-b, joined by two veth pairs, each end a child process
// (test/support/channel-peer.ts) started with `ip netns exec`. Needs root.
//
//   ch-<pid>-a  cha0 10.201.0.1/24 fd20:1::1/64  <-->  chb0 10.201.0.2/24 (+ .3) fd20:1::2/64  ch-<pid>-b
//               cha1 10.201.1.1/24               <-->  chb1 10.201.1.2/24
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { AddressSet, ChannelError, payloadSizeFor, deviceMtu, withScope } from "../host/links/channel.ts";
import { openChannel } from "../host/links/multichannel.ts";
import { bufferWarning } from "../host/links/channel-datagram.ts";
import { loadNetlinkAddon } from "../host/native.ts";
import type { Channel as ChannelConfig } from "../host/config/types.ts";

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PEER = join(ROOT, "test/support/channel-peer.ts");
const NS_A = `ch-${process.pid}-a`;
const NS_B = `ch-${process.pid}-b`;
const TMP = mkdtempSync(join(tmpdir(), "ch-test-"));

// ---- pure parts ------------------------------------------------------------

/** A sync message of `len` bytes: header with the length at bytes 2-3, then a fill byte. */
function message(len: number, fill: number): Uint8Array {
  const m = new Uint8Array(len).fill(fill);
  m[0] = 0x12; m[1] = 0; m[2] = len >> 8; m[3] = len & 0xff;
  return m;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const base = { line: 7, isDefault: true, sndSocketBuffer: null, rcvSocketBuffer: null, checksum: true };

test("payload size: MTU less IP and UDP/TCP headers, 1500 for loopback or no device", () => {
  assert.equal(deviceMtu("lo"), 1500);
  assert.equal(deviceMtu(null), 1500);
  const udp4: ChannelConfig = { ...base, type: "udp", family: 4, interface: "lo", address: null, destination: null, port: 1 };
  assert.equal(payloadSizeFor(udp4), 1472);
  assert.equal(payloadSizeFor({ ...udp4, family: 6 }), 1452);
  assert.equal(payloadSizeFor({ ...udp4, type: "tcp" }), 1460);
  assert.equal(payloadSizeFor({ ...udp4, type: "tcp", family: 6 }), 1440);
  assert.equal(payloadSizeFor({ ...base, type: "multicast", family: 4, interface: null, address: "239.1.1.1", ipv4Interface: null, port: 1 }), 1472);
});

test("withScope: a link-local IPv6 address takes the device as its zone; others stay as written", () => {
  assert.equal(withScope("fe80::1", "eth1"), "fe80::1%eth1");
  assert.equal(withScope("FF02::1:3", "eth1"), "FF02::1:3%eth1");
  assert.equal(withScope("fe80::1%eth0", "eth1"), "fe80::1%eth0");
  assert.equal(withScope("fd20::1", "eth1"), "fd20::1");
  assert.equal(withScope("10.0.0.1", "eth1"), "10.0.0.1");
  assert.equal(withScope("fe80::1", null), "fe80::1");
});

test("AddressSet: an address matches whatever its spelling", () => {
  const s = new AddressSet();
  s.add("FD20:1:0::2");
  s.add("10.0.0.1");
  assert.ok(s.has("fd20:1::2"));
  assert.ok(s.has("fd20:1::2%eth0"));
  assert.ok(s.has("10.0.0.1"));
  assert.ok(!s.has("10.0.0.2"));
  assert.ok(!new AddressSet().has("10.0.0.1"));
  // Answers are remembered by spelling: an address added later is not answered from memory.
  s.add("10.0.0.2");
  assert.ok(s.has("10.0.0.2"));
  // Many strangers do not change the answers.
  for (let i = 0; i < 200; i++) assert.ok(!s.has(`192.0.2.${i}`));
  assert.ok(s.has("10.0.0.1") && s.has("fd20:1::2"));
});

test("open errors say which link and why (no traffic: nothing binds)", async () => {
  const udp: ChannelConfig = { ...base, type: "udp", family: 4, interface: null, address: "192.0.2.77", destination: "192.0.2.78", port: 39999 };
  await assert.rejects(openChannel(udp), (e: Error) => e instanceof ChannelError &&
    /Sync UDP link at line 7: cannot bind 192\.0\.2\.77 port 39999: the address is not on this host \(EADDRNOTAVAIL\)/.test(e.message));
  await assert.rejects(openChannel({ ...udp, interface: "nosuch0" }),
    /Sync UDP link at line 7 \(nosuch0\): interface "nosuch0" does not exist on this host/);
  await assert.rejects(openChannel({ ...udp, type: "tcp" }), /Sync TCP link at line 7: cannot listen on 192\.0\.2\.77 port 39999: the address is not on this host/);
});

test("buffer sizes are forced past net.core.rmem_max as conntrackd does, and Checksum off is applied", async () => {
  const udp: ChannelConfig = { ...base, type: "udp", family: 4, interface: "lo", address: "127.0.0.1", destination: "127.0.0.1",
    port: 0, checksum: false, rcvSocketBuffer: 64 << 20, sndSocketBuffer: 32 << 20 };
  const c = await openChannel(udp);
  try {
    assert.deepEqual(c.warnings, []); // root: SO_RCVBUFFORCE and SO_NO_CHECK both take
    assert.ok(c.receiveBuffer! >= 2 * (64 << 20), `receiveBuffer ${c.receiveBuffer}`); // Linux reports twice the size set
  } finally {
    await c.close();
  }
});

test("without the privilege to force, a buffer size is capped by net.core.rmem_max and the warning says so", () => {
  const d = loadNetlinkAddon().dgram;
  const fd = d.open(4, "127.0.0.1", 0);
  try {
    const got = d.buffers(fd, 1 << 29, 0, false);
    assert.equal(got.rcvForced, false);
    const cfg: ChannelConfig = { ...base, type: "udp", family: 4, interface: null, address: null, destination: null, port: 1 };
    const w = bufferWarning(cfg, "RcvSocketBuffer", 1 << 29, got.rcvbuf);
    assert.match(w!, /RcvSocketBuffer 536870912 is capped to \d+ by net\.core\.rmem_max: SO_RCVBUFFORCE is not permitted/);
  } finally {
    loadNetlinkAddon().close(fd);
  }
});

// ---- two namespaces ------------------------------------------------------------

const sh = (args: string[]) => run("ip", args);

/** Waits until each device of the namespace is up with its carrier (the kernel reports that a moment after `ip link set up`). */
async function carrierUp(ns: string, ...devices: string[]): Promise<void> {
  for (const dev of devices) {
    for (let i = 0; !(await sh(["-n", ns, "-o", "link", "show", "dev", dev])).stdout.includes("state UP"); i++) {
      if (i > 100) throw new Error(`${dev} in ${ns} never came up`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

before(async () => {
  for (const ns of [NS_A, NS_B]) {
    await sh(["netns", "add", ns]);
    await run("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]);
    await sh(["-n", ns, "link", "set", "lo", "up"]);
  }
  for (const i of [0, 1]) await sh(["-n", NS_A, "link", "add", `cha${i}`, "type", "veth", "peer", "name", `chb${i}`, "netns", NS_B]);
  const addrs: [string, string, string][] = [
    [NS_A, "cha0", "10.201.0.1/24"], [NS_A, "cha0", "fd20:1::1/64"], [NS_A, "cha1", "10.201.1.1/24"],
    [NS_B, "chb0", "10.201.0.2/24"], [NS_B, "chb0", "10.201.0.3/24"], [NS_B, "chb0", "fd20:1::2/64"], [NS_B, "chb1", "10.201.1.2/24"],
  ];
  for (const [ns, dev, a] of addrs) await sh(["-n", ns, "addr", "add", a, "dev", dev]);
  for (const [ns, p] of [[NS_A, "cha"], [NS_B, "chb"]]) for (const i of [0, 1]) await sh(["-n", ns, "link", "set", `${p}${i}`, "up"]);
});

after(async () => {
  for (const p of peers.splice(0)) p.kill();
  for (const ns of [NS_A, NS_B]) await sh(["netns", "del", ns]).catch(() => {});
  rmSync(TMP, { recursive: true, force: true });
});

type Event = { ev: string; [k: string]: any };
const peers: Peer[] = [];
let confSeq = 0;

/** A channel-peer child in a namespace, driven by JSON lines. */
class Peer {
  private readonly events: Event[] = [];
  private wake: () => void = () => {};
  exited = false;
  /** What the links said when they opened (the ready event's warnings). */
  warnings: string[] = [];

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on("line", (l) => {
      try { this.events.push(JSON.parse(l)); } catch { this.events.push({ ev: "noise", line: l }); }
      this.wake();
    });
    child.on("exit", () => { this.exited = true; this.wake(); });
  }

  static async start(ns: string, syncBody: string): Promise<Peer> {
    const file = join(TMP, `peer-${confSeq++}.conf`);
    writeFileSync(file, `General {\n LockFile ${TMP}/lock\n UNIX { Path ${TMP}/sock }\n}\nSync {\n Mode FTFW { }\n${syncBody}\n}\n`);
    const child = spawn("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", PEER, file],
      { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
    const p = new Peer(child);
    peers.push(p);
    const first = await p.next((e) => e.ev === "ready" || e.ev === "error", 15000);
    if (first.ev === "error") throw new Error(`peer in ${ns}: ${first.message}`);
    p.warnings = first.warnings;
    return p;
  }

  send(cmd: object): void {
    this.child.stdin!.write(JSON.stringify(cmd) + "\n");
  }

  /** The first event not yet taken that matches, waiting for it. */
  async next(match: (e: Event) => boolean, ms = 5000): Promise<Event> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex(match);
      if (i >= 0) return this.events.splice(i, 1)[0];
      if (this.exited) throw new Error("peer exited");
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; events: ${JSON.stringify(this.events).slice(0, 800)}`);
      await new Promise<void>((r) => { const t = setTimeout(r, left); this.wake = () => { clearTimeout(t); r(); }; });
    }
  }

  /** The next `n` bytes of a TCP link's stream, however the reads cut it (framing is the core's: assembly/stream.ts). */
  async stream(n: number, ms = 5000): Promise<{ hex: string; ids: Set<number> }> {
    let got = "";
    const ids = new Set<number>();
    while (got.length < 2 * n) {
      const e = await this.next((x) => x.ev === "recv", ms);
      got += e.hex;
      ids.add(e.stream);
    }
    return { hex: got, ids };
  }

  /** Events seen but not taken, of one kind. */
  pending(ev: string): Event[] {
    return this.events.filter((e) => e.ev === ev);
  }

  async stats(): Promise<Event> {
    this.send({ op: "stats" });
    return this.next((e) => e.ev === "stats");
  }

  async until(check: (s: Event) => boolean, ms = 5000): Promise<Event> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.stats();
      if (check(s)) return s;
      if (Date.now() > deadline) throw new Error(`condition never met: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    if (this.exited) return;
    this.send({ op: "close" });
    await this.next((e) => e.ev === "closed").catch(() => {});
    await new Promise<void>((r) => (this.exited ? r() : this.child.once("exit", () => r())));
  }

  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function unicast(kind: "UDP" | "TCP", fam: 4 | 6, local: string, dest: string, dev: string, port: number, dflt = true): string {
  return ` ${kind}${dflt ? " Default" : ""} {\n  IPv${fam}_address ${local}\n  IPv${fam}_Destination_Address ${dest}\n  Port ${port}\n  Interface ${dev}\n }`;
}

async function pair(a: string, b: string): Promise<[Peer, Peer]> {
  return Promise.all([Peer.start(NS_A, a), Peer.start(NS_B, b)]);
}

async function closeAll(...ps: Peer[]): Promise<void> {
  await Promise.all(ps.map((p) => p.close()));
}

test("UDP: datagrams both ways between the configured peers, counted", async () => {
  const [a, b] = await pair(unicast("UDP", 4, "10.201.0.1", "10.201.0.2", "cha0", 3780),
    unicast("UDP", 4, "10.201.0.2", "10.201.0.1", "chb0", 3780));
  try {
    const m1 = message(100, 7), m2 = message(1472, 9);
    a.send({ op: "send", hex: hex(m1) });
    assert.equal((await b.next((e) => e.ev === "recv")).hex, hex(m1));
    b.send({ op: "send", hex: hex(m2) });
    assert.equal((await a.next((e) => e.ev === "recv")).hex, hex(m2));
    const sa = (await a.until((s) => s.links[0].stats.packetsSent === 1)).links[0];
    assert.deepEqual(sa.stats, { bytesSent: 100, bytesRecv: 1472, packetsSent: 1, packetsRecv: 1, errorsSend: 0, errorsRecv: 0, dropped: 0 });
    assert.equal(sa.status, "RUNNING");
    assert.equal(sa.role, "ACTIVE");
  } finally {
    await closeAll(a, b);
  }
});

test("UDP over IPv6: datagrams both ways, payload 1500-48", async () => {
  const [a, b] = await pair(unicast("UDP", 6, "fd20:1::1", "fd20:1::2", "cha0", 3781),
    unicast("UDP", 6, "fd20:1:0::2", "fd20:1::1", "chb0", 3781));
  try {
    a.send({ op: "send", hex: hex(message(64, 1)) });
    assert.equal((await b.next((e) => e.ev === "recv")).hex, hex(message(64, 1)));
    b.send({ op: "send", hex: hex(message(1452, 2)) });
    assert.equal((await a.next((e) => e.ev === "recv")).hex, hex(message(1452, 2)));
  } finally {
    await closeAll(a, b);
  }
});

test("UDP: a datagram from another source is dropped, counted and reported", async () => {
  const [a, b] = await pair(unicast("UDP", 4, "10.201.0.1", "10.201.0.2", "cha0", 3782),
    unicast("UDP", 4, "10.201.0.2", "10.201.0.1", "chb0", 3782));
  try {
    b.send({ op: "udp", from: "10.201.0.3", to: "10.201.0.1", port: 3782, hex: hex(message(32, 5)) });
    const drop = await a.next((e) => e.ev === "drop");
    assert.equal(drop.address, "10.201.0.3");
    b.send({ op: "send", hex: hex(message(32, 6)) }); // the real peer still gets through
    assert.equal((await a.next((e) => e.ev === "recv")).hex, hex(message(32, 6)));
    const s = (await a.stats()).links[0].stats;
    assert.equal(s.dropped, 1);
    assert.equal(s.packetsRecv, 1);
    assert.equal(a.pending("recv").length, 0);
  } finally {
    await closeAll(a, b);
  }
});

function mcast(fam: 4 | 6, group: string, dev: string, port: number, ifaceAddr?: string): string {
  const iface = ifaceAddr ? `\n  IPv4_interface ${ifaceAddr}` : "";
  return ` Multicast Default {\n  IPv${fam}_address ${group}${iface}\n  Interface ${dev}\n  Group ${port}\n }`;
}

test("multicast IPv4: delivery both ways, own datagrams never come back, own address dropped", async () => {
  const [a, b] = await pair(mcast(4, "225.0.0.50", "cha0", 3783, "10.201.0.1"), mcast(4, "225.0.0.50", "chb0", 3783));
  try {
    a.send({ op: "send", hex: hex(message(200, 1)) });
    assert.equal((await b.next((e) => e.ev === "recv")).hex, hex(message(200, 1)));
    b.send({ op: "send", hex: hex(message(300, 2)) });
    assert.equal((await a.next((e) => e.ev === "recv")).hex, hex(message(300, 2)));
    // A local sender with loopback on: its datagram reaches our group socket from our own address.
    a.send({ op: "udp", from: "10.201.0.1", to: "225.0.0.50", port: 3783, hex: hex(message(16, 3)) });
    assert.equal((await a.next((e) => e.ev === "drop")).address, "10.201.0.1");
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(a.pending("recv").length, 0, "loopback is off: a never reads its own");
    assert.equal(b.pending("recv").length, 1, "b got the raw datagram from a's address too");
  } finally {
    await closeAll(a, b);
  }
});

test("multicast IPv6 (link-local group ff02::): delivery both ways", async () => {
  const [a, b] = await pair(mcast(6, "ff02::1:3784", "cha0", 3784), mcast(6, "ff02::1:3784", "chb0", 3784));
  try {
    a.send({ op: "send", hex: hex(message(100, 1)) });
    assert.equal((await b.next((e) => e.ev === "recv")).hex, hex(message(100, 1)));
    b.send({ op: "send", hex: hex(message(1452, 2)) });
    assert.equal((await a.next((e) => e.ev === "recv")).hex, hex(message(1452, 2)));
  } finally {
    await closeAll(a, b);
  }
});

async function tcpPair(port: number): Promise<[Peer, Peer]> {
  const ps = await pair(unicast("TCP", 4, "10.201.0.1", "10.201.0.2", "cha0", port), unicast("TCP", 4, "10.201.0.2", "10.201.0.1", "chb0", port));
  await Promise.all(ps.map((p) => p.until((s) => s.up[0] === true)));
  return ps;
}

test("TCP: the stream's bytes arrive whole and in order however the writes cut them, tagged with the connection", async () => {
  const [a, b] = await tcpPair(3785);
  try {
    const m1 = message(20, 1), m2 = message(8, 2), m3 = message(600, 3);
    const chunks = [m1.subarray(0, 5), concat(m1.subarray(5), m2, m3.subarray(0, 3)), m3.subarray(3, 300), m3.subarray(300)];
    for (const c of chunks) {
      a.send({ op: "send", hex: hex(c) });
      await new Promise((r) => setTimeout(r, 50)); // separate reads on b's side
    }
    const got = await b.stream(628);
    assert.equal(got.hex, hex(concat(m1, m2, m3)));
    assert.equal(got.ids.size, 1, "one connection, one stream id");
    assert.ok([...got.ids][0] >= 1);
    b.send({ op: "send", hex: hex(concat(m2, m1)) });
    assert.equal((await a.stream(28)).hex, hex(concat(m2, m1)));
    const s = (await b.stats()).links[0];
    assert.equal(s.stats.bytesRecv, 628);
    assert.equal(s.stats.errorsRecv, 0);
  } finally {
    await closeAll(a, b);
  }
});

test("TCP: a connection from another address is refused and counted", async () => {
  const [a, b] = await tcpPair(3786);
  try {
    b.send({ op: "tcp", from: "10.201.0.3", to: "10.201.0.1", port: 3786 });
    assert.equal((await a.next((e) => e.ev === "drop")).address, "10.201.0.3");
    await b.next((e) => e.ev === "tcp-closed");
    assert.equal((await a.stats()).links[0].stats.dropped, 1);
    a.send({ op: "send", hex: hex(message(8, 0)) }); // the real peer's streams are untouched
    assert.equal((await b.stream(8)).hex, hex(message(8, 0)));
  } finally {
    await closeAll(a, b);
  }
});

test("TCP: the peer restarts; queued chunks go out once it is back, and it reconnects to us", async () => {
  const port = 3787;
  let [a, b] = await tcpPair(port);
  try {
    await b.close();
    await a.until((s) => s.up[0] === false);
    const queued = message(64, 4);
    a.send({ op: "send", hex: hex(queued) });
    assert.equal((await a.next((e) => e.ev === "sent")).ok, false, "not connected: queued, not sent");
    b = await Peer.start(NS_B, unicast("TCP", 4, "10.201.0.2", "10.201.0.1", "chb0", port));
    assert.equal((await b.stream(64)).hex, hex(queued));
    await b.until((s) => s.up[0] === true);
    b.send({ op: "send", hex: hex(message(32, 5)) });
    assert.equal((await a.stream(32)).hex, hex(message(32, 5)));
    const s = (await a.stats()).links[0].stats;
    assert.ok(s.errorsSend >= 1, "the failed send is counted");
  } finally {
    await closeAll(a, b);
  }
});

test("multichannel: the current link goes down, the next takes over, and the peer follows", async () => {
  const two = (l0: string, d0: string, l1: string, d1: string, p: string) =>
    unicast("UDP", 4, l0, d0, `${p}0`, 3788, true) + "\n" + unicast("UDP", 4, l1, d1, `${p}1`, 3788, false);
  const [a, b] = await pair(two("10.201.0.1", "10.201.0.2", "10.201.1.1", "10.201.1.2", "cha"),
    two("10.201.0.2", "10.201.0.1", "10.201.1.2", "10.201.1.1", "chb"));
  try {
    a.send({ op: "send", hex: hex(message(10, 1)) });
    assert.equal((await b.next((e) => e.ev === "recv")).i, 0);

    await sh(["-n", NS_A, "link", "set", "cha0", "down"]);
    const sw = await a.next((e) => e.ev === "switch");
    assert.deepEqual([sw.from, sw.to, sw.device, sw.reason, sw.message], [0, 1, "cha1", "link-down", "device `cha1' becomes dedicated link"]);
    a.send({ op: "send", hex: hex(message(10, 2)) });
    const got = await b.next((e) => e.ev === "recv");
    assert.deepEqual([got.i, got.hex], [1, hex(message(10, 2))]);
    await b.until((s) => s.current === 1); // by its own link watch or by our traffic
    b.send({ op: "send", hex: hex(message(10, 3)) });
    assert.equal((await a.next((e) => e.ev === "recv")).i, 1);
    const rep = await a.stats();
    assert.deepEqual(rep.links.map((l: any) => [l.device, l.status, l.role]), [["cha0", "DOWN", "BACKUP"], ["cha1", "RUNNING", "ACTIVE"]]);

    await sh(["-n", NS_A, "link", "set", "cha1", "down"]);
    const none = await a.next((e) => e.ev === "switch");
    assert.deepEqual([none.to, none.message], [null, "no dedicated links available!"]);
    await sh(["-n", NS_A, "link", "set", "cha0", "up"]);
    const back = await a.next((e) => e.ev === "switch");
    assert.deepEqual([back.to, back.message], [0, "device `cha0' becomes dedicated link"]);
  } finally {
    await sh(["-n", NS_A, "link", "set", "cha0", "up"]);
    await sh(["-n", NS_A, "link", "set", "cha1", "up"]);
    await closeAll(a, b);
  }
});

test("multichannel: a Default link whose device is down at start does not stop the others: the next takes over at once, and it sends again once its route is back", async () => {
  const two = (l0: string, d0: string, l1: string, d1: string, p: string) =>
    unicast("UDP", 4, l0, d0, `${p}0`, 3790, true) + "\n" + unicast("UDP", 4, l1, d1, `${p}1`, 3790, false);
  await carrierUp(NS_A, "cha0", "cha1");
  await sh(["-n", NS_A, "link", "set", "cha0", "down"]);
  const [a, b] = await pair(two("10.201.0.1", "10.201.0.2", "10.201.1.1", "10.201.1.2", "cha"),
    two("10.201.0.2", "10.201.0.1", "10.201.1.2", "10.201.1.1", "chb"));
  try {
    assert.ok(a.warnings.some((w) => /line \d+ \(cha0\): no route to 10\.201\.0\.2 now \(is cha0 down\?\)/.test(w)), a.warnings.join("\n"));
    const sw = await a.next((e) => e.ev === "switch");
    assert.deepEqual([sw.from, sw.to, sw.reason], [0, 1, "link-down"]);
    a.send({ op: "send", hex: hex(message(10, 4)) });
    assert.equal((await b.next((e) => e.ev === "recv")).i, 1);
    // The route is back: the first link sends once it is current again, connecting then.
    await sh(["-n", NS_A, "link", "set", "cha0", "up"]);
    await carrierUp(NS_A, "cha0");
    await sh(["-n", NS_A, "link", "set", "cha1", "down"]);
    assert.equal((await a.next((e) => e.ev === "switch")).to, 0);
    a.send({ op: "send", hex: hex(message(10, 5)) });
    const got = await b.next((e) => e.ev === "recv");
    assert.deepEqual([got.i, got.hex], [0, hex(message(10, 5))]);
  } finally {
    await sh(["-n", NS_A, "link", "set", "cha0", "up"]);
    await sh(["-n", NS_A, "link", "set", "cha1", "up"]);
    await closeAll(a, b);
    await carrierUp(NS_A, "cha0", "cha1");
  }
});

test("multichannel: data from the peer on a backup link makes it current", async () => {
  const two = (l0: string, d0: string, l1: string, d1: string, p: string, dflt: 0 | 1) =>
    unicast("UDP", 4, l0, d0, `${p}0`, 3789, dflt === 0) + "\n" + unicast("UDP", 4, l1, d1, `${p}1`, 3789, dflt === 1);
  const [a, b] = await pair(two("10.201.0.1", "10.201.0.2", "10.201.1.1", "10.201.1.2", "cha", 0),
    two("10.201.0.2", "10.201.0.1", "10.201.1.2", "10.201.1.1", "chb", 1));
  try {
    b.send({ op: "send", hex: hex(message(10, 1)) });
    const sw = await a.next((e) => e.ev === "switch");
    assert.deepEqual([sw.from, sw.to, sw.reason], [0, 1, "peer-traffic"]);
    assert.equal((await a.next((e) => e.ev === "recv")).i, 1);
  } finally {
    await closeAll(a, b);
  }
});

test("UDP datagram rate between namespaces (measured, not asserted)", async (t) => {
  const [a, b] = await pair(unicast("UDP", 4, "10.201.0.1", "10.201.0.2", "cha0", 3790),
    unicast("UDP", 4, "10.201.0.2", "10.201.0.1", "chb0", 3790));
  try {
    const n = 50000;
    b.send({ op: "quiet" });
    await b.next((e) => e.ev === "quiet");
    a.send({ op: "blast", n, size: 1400 });
    const { ms } = await a.next((e) => e.ev === "blasted", 60000);
    const sent = await a.until((s) => s.links[0].stats.packetsSent + s.links[0].stats.errorsSend >= n, 30000);
    await new Promise((r) => setTimeout(r, 300));
    const rx = await b.stats();
    const recv = rx.links[0].stats.packetsRecv;
    t.diagnostic(`${n} datagrams of 1400 bytes sent in ${ms.toFixed(0)} ms (${Math.round(n / (ms / 1000))}/s, ` +
      `${sent.links[0].stats.errorsSend} send errors); ${recv} received in ${rx.rxMs.toFixed(0)} ms ` +
      `(${Math.round(recv / (rx.rxMs / 1000))}/s; the rest overflowed the receive buffer)`);
    assert.ok(recv > 0);
  } finally {
    await closeAll(a, b);
  }
});

test("real conntrackd 1.4.7 as the UDP peer: its datagrams reach us, ours show in its -s link counters", async (t) => {
  const dir = mkdtempSync(join(TMP, "ctd-"));
  const conf = join(dir, "conntrackd.conf");
  writeFileSync(conf, `General {\n LockFile ${dir}/lock\n UNIX { Path ${dir}/sock }\n LogFile ${dir}/log\n Syslog off\n Systemd off\n}\n` +
    `Sync {\n Mode FTFW { }\n${unicast("UDP", 4, "10.201.0.2", "10.201.0.1", "chb0", 3791)}\n}\n`);
  const ctd = spawn("ip", ["netns", "exec", NS_B, "conntrackd", "-C", conf], { stdio: "ignore" }); // exec'd: this pid is conntrackd's
  const a = await Peer.start(NS_A, unicast("UDP", 4, "10.201.0.1", "10.201.0.2", "cha0", 3791));
  try {
    const alive = await a.next((e) => e.ev === "recv", 10000); // FTFW sends ALIVE every second
    t.diagnostic(`conntrackd sent ${alive.hex}`);
    a.send({ op: "send", hex: alive.hex }); // a well-formed control message back
    await a.next((e) => e.ev === "sent");
    let counters = "";
    for (let tries = 0; tries < 40 && !/\s1 Pckts recv|\s[2-9]\d* Pckts recv/.test(counters); tries++) {
      await new Promise((r) => setTimeout(r, 100));
      counters = execFileSync("ip", ["netns", "exec", NS_B, "conntrackd", "-C", conf, "-s", "link"], { encoding: "utf8" });
    }
    t.diagnostic(counters.trim().split("\n").join(" | "));
    assert.match(counters, /UDP traffic device=chb0 status=RUNNING role=ACTIVE/);
    const recv = Number(/(\d+) Pckts recv/.exec(counters)?.[1]);
    const bytes = Number(/(\d+) Bytes recv/.exec(counters)?.[1]);
    assert.equal(recv, 1);
    assert.equal(bytes, alive.hex.length / 2);
  } finally {
    await a.close();
    ctd.kill("SIGTERM");
    await new Promise<void>((r) => (ctd.exitCode !== null ? r() : ctd.once("exit", () => r())));
  }
});

test("Corosync: without a corosync to join, the link cannot open, and says why and where", async (t) => {
  const addon = join(ROOT, "native/build/Release/ctsync_cpg.node");
  if (!(await import("node:fs")).existsSync(addon)) return t.skip("no ctsync_cpg addon (libcpg-dev missing at build time)");
  const running = await run("corosync-quorumtool", ["-s"]).then(() => true, () => false);
  if (running) return t.skip("a corosync runs in this network namespace");
  const cfg: ChannelConfig = { ...base, type: "corosync", group: "ctsync-none", interface: null };
  await assert.rejects(openChannel(cfg), (e: unknown) => {
    assert.ok(e instanceof ChannelError);
    assert.equal(e.message, 'Sync Corosync link at line 7: cannot join Corosync process group "ctsync-none": ctsync_cpg cannot connect to corosync: ' +
      "corosync is not running or not reachable from this network namespace (CS_ERR_LIBRARY = 2)");
    return true;
  });
});

test("Corosync: what flow control refuses (TRY_AGAIN) is kept and sent later in order, never dropped, and its drain announced; own messages are not news", async () => {
  const { CorosyncLink } = await import("../host/links/channel-corosync.ts");
  type Ev = number | { members: { nodeid: number; pid: number; reason: number }[]; left: never[]; joined: never[] };
  const sent: number[] = [];
  let refuse = 3; // corosync's queue is full for the next three sends
  let poll: (status: number) => void = () => {};
  const pending: [Uint8Array, number, number][] = []; // deliveries waiting: bytes, nodeid, pid
  const fake = {
    open: () => ({ id: 0, fd: -1, nodeid: 1 }),
    poll: (_id: number, cb: (status: number) => void) => { poll = cb; },
    close: () => {},
    send: (_id: number, bytes: Uint8Array) => {
      if (refuse > 0) { refuse--; return -1; }
      sent.push(bytes[0]);
      pending.push([bytes.slice(), 1, process.pid]); // our own message comes back to us too
      return 0;
    },
    next: (_id: number, buf: Uint8Array, sender: Uint32Array): Ev => {
      const d = pending.shift();
      if (!d) return -1;
      buf.set(d[0]);
      sender[0] = d[1]; sender[1] = d[2];
      return d[0].length;
    },
  };
  const cfg = { ...base, type: "corosync" as const, group: "g", interface: null };
  const link = new CorosyncLink(fake, 0, 1, cfg);
  const got: [number, number][] = [];
  link.deliverInto(() => new Uint8Array(64), (len, origin) => got.push([len, origin]));
  let drained = 0;
  link.onDrain(() => drained++);
  for (let i = 1; i <= 5; i++) assert.equal(link.send(new Uint8Array([i, 0, 0])), true);
  assert.deepEqual(sent, [], "the first send was refused: it and the ones after it wait, in order");
  assert.equal(link.pending, 5);
  pending.push([new Uint8Array(7), 2, 4242]); // a peer's message
  for (let i = 0; i < 4 && link.pending; i++) { poll(0); await new Promise((r) => setTimeout(r, 10)); }
  assert.deepEqual(sent, [1, 2, 3, 4, 5]);
  assert.equal(link.pending, 0);
  assert.equal(drained, 1, "the sender hears once that the held-back messages are gone (the daemon resumes its transmit queue)");
  poll(0);
  assert.deepEqual(got, [[7, 2]], "the peer's message arrives with its node id; our own five are not handed on");
  assert.equal(link.stats.packetsSent, 5);
  await link.close();
});
