// tools/ctsync-inspect, the sync-link inspector in Python (wasmtime driving
// build/ctsync.wasm): the golden datagrams of conntrackd 1.4.7 written into a
// pcap and read back give every message, header and flow the fixtures record;
// a truncated datagram is a counted rejection; live UDP input is printed as it
// comes; and a capture made with tcpdump on the sync link of two running
// ctsyncd shows the flows inserted into the primary's kernel.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, writeFileSync, rmSync, existsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadFixtures, hexBytes, type FixtureEntry } from "./support/fixtures.ts";
import { Cluster, missingTools, run, sleep } from "./support/cluster.ts";

const TOOL = fileURLToPath(new URL("../tools/ctsync-inspect", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "ctsync-inspect-"));
after(async () => {
  await Cluster.destroyAll();
  rmSync(dir, { recursive: true, force: true });
});

const hasWasmtime = spawnSync("python3", ["-c", "import wasmtime"]).status === 0;
const skipPy = hasWasmtime ? false : "needs python3 with wasmtime (pip install /opt/pypi-more/files/wasmtime-*.whl)";

type Line = Record<string, any>;

function inspect(args: string[], input?: Uint8Array): { lines: Line[]; stderr: string; code: number | null } {
  const r = spawnSync("python3", [TOOL, ...args], { input, maxBuffer: 64 << 20 });
  const lines = r.stdout.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { lines, stderr: r.stderr.toString(), code: r.status };
}

// ---- a pcap writer: Ethernet, IPv4 or IPv6, UDP ---------------------------------

interface Pkt { ts: number; src: string; dst: string; sport: number; dport: number; payload: Uint8Array; proto?: number }

function ip4(a: string): number[] { return a.split(".").map(Number); }
function ip6(a: string): number[] {
  const [h, t = ""] = a.split("::");
  const hs = h ? h.split(":") : [], ts = t ? t.split(":") : [];
  const words = [...hs, ...Array(8 - hs.length - ts.length).fill("0"), ...ts].map((w) => parseInt(w, 16));
  return words.flatMap((w) => [w >> 8, w & 255]);
}

function pcap(pkts: Pkt[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const block = (n: number): [Uint8Array, DataView] => {
    const b = new Uint8Array(n);
    parts.push(b);
    return [b, new DataView(b.buffer)];
  };
  const [, head] = block(24);
  head.setUint32(0, 0xa1b2c3d4, true);
  head.setUint16(4, 2, true);
  head.setUint16(6, 4, true);
  head.setUint32(16, 262144, true);
  head.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  for (const p of pkts) {
    const v6 = p.src.includes(":");
    const proto = p.proto ?? 17;
    const iplen = v6 ? 40 : 20;
    const l4len = 8 + p.payload.length;
    const flen = 14 + iplen + l4len;
    const [, rec] = block(16);
    rec.setUint32(0, Math.floor(p.ts), true);
    rec.setUint32(4, Math.round((p.ts % 1) * 1e6), true);
    rec.setUint32(8, flen, true);
    rec.setUint32(12, flen, true);
    const [f, dv] = block(flen);
    dv.setUint16(12, v6 ? 0x86dd : 0x0800);
    const ip = 14;
    if (v6) {
      f[ip] = 0x60;
      dv.setUint16(ip + 4, l4len);
      f[ip + 6] = proto;
      f[ip + 7] = 64;
      f.set(ip6(p.src), ip + 8);
      f.set(ip6(p.dst), ip + 24);
    } else {
      f[ip] = 0x45;
      dv.setUint16(ip + 2, 20 + l4len);
      f[ip + 8] = 64;
      f[ip + 9] = proto;
      f.set(ip4(p.src), ip + 12);
      f.set(ip4(p.dst), ip + 16);
    }
    const l4 = ip + iplen;
    dv.setUint16(l4, p.sport);
    dv.setUint16(l4 + 2, p.dport);
    dv.setUint16(l4 + 4, l4len);
    f.set(p.payload, l4 + 8);
  }
  const out = new Uint8Array(parts.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of parts) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

const NODES: Record<string, [string, string]> = { "gv-a": ["10.88.0.1", "fd00:88::1"], "gv-b": ["10.88.0.2", "fd00:88::2"] };

// ---- golden vectors through a pcap -------------------------------------------

const TCP_STATES = ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

function checkFlow(got: Line, e: FixtureEntry, where: string): void {
  const flow = got.flow;
  assert.ok(flow, `${where}: a flow`);
  if (e.kind === "ct") {
    assert.equal(flow.family, e.family, `${where}: family`);
    assert.equal(flow.l4proto, e.l4proto, `${where}: l4proto`);
    assert.equal(flow.src, e.src, `${where}: src`);
    assert.equal(flow.dst, e.dst, `${where}: dst`);
    if (flow.icmp === undefined) assert.deepEqual([flow.sport, flow.dport], [e.sport, e.dport], `${where}: ports`);
    if (flow.state !== undefined) {
      // an entry of real traffic (e.origin) goes through the states on its way to the one recorded
      if (!e.origin) assert.ok([e.state, e.update_state].includes(flow.state), `${where}: state ${flow.state}`);
      assert.ok(TCP_STATES.includes(flow.state), `${where}: state ${flow.state}`);
    } else if (got.type !== "CT_DEL") {
      assert.ok(e.state === null || e.state === undefined, `${where}: the state ${e.state} is missing`);
    }
    if (flow.mark !== undefined) assert.ok([e.mark, e.update_mark].includes(flow.mark), `${where}: mark ${flow.mark}`);
    if (e.zone) assert.equal(flow.zone, e.zone, `${where}: zone`);
    if (e.helper) assert.equal(flow.helper, e.helper, `${where}: helper`);
    for (const k of ["snat", "dnat", "spat", "dpat"] as const) {
      if (e[k] !== null && e[k] !== undefined) assert.equal(flow[k], e[k], `${where}: ${k}`);
    }
    const master = e.master as Record<string, unknown> | null;
    if (master && flow.master) {
      for (const k of ["src", "dst", "sport", "dport"]) assert.equal(flow.master[k], master[k], `${where}: master ${k}`);
    }
  } else {
    const want = e.expected as Record<string, unknown>;
    for (const k of ["src", "dst", "dport", "l4proto"]) assert.equal(flow.expected[k], want[k], `${where}: expected ${k}`);
    const m = e.master as Record<string, unknown>;
    for (const k of ["src", "dst", "sport", "dport"]) assert.equal(flow.master[k], m[k], `${where}: master ${k}`);
    assert.equal(flow.helper, e.helper, `${where}: helper`);
  }
}

test("golden vectors: every conntrackd datagram, written to a pcap, is read back message for message", { skip: skipPy }, () => {
  let total = 0;
  for (const file of loadFixtures("sync")) {
    const pkts: Pkt[] = file.messages.map((m, i) => {
      const [a, b] = String(m.direction).split(" -> ");
      const v = i % 3 === 2 ? 1 : 0; // every third over IPv6
      return { ts: 1_700_000_000 + Number(m.t ?? 0), src: NODES[a][v], dst: NODES[b][v], sport: 3780, dport: 3780, payload: hexBytes(m.hex) };
    });
    // noise the inspector must skip: DNS, and TCP to the sync port
    pkts.splice(1, 0, { ts: 1_700_000_000, src: "10.88.0.9", dst: "10.88.0.1", sport: 5353, dport: 53, payload: new Uint8Array(12) });
    pkts.splice(2, 0, { ts: 1_700_000_000, src: "10.88.0.9", dst: "10.88.0.1", sport: 3780, dport: 3780, payload: new Uint8Array(20), proto: 6 });
    const path = join(dir, `${file.name}.pcap`);
    writeFileSync(path, pcap(pkts));
    const { lines, code, stderr } = inspect(["-r", path, "--json"]);
    assert.equal(code, 0, stderr);
    const msgs = lines.filter((l) => l.kind !== undefined);
    const summary = lines.at(-1)!.summary;
    const want = file.messages.flatMap((m, i) => (m.headers as Line[]).map((h) => ({ m, h, i })));
    assert.equal(msgs.length, want.length, `${file.name}: messages`);
    assert.equal(summary.messages, want.length);
    assert.equal(summary.datagrams, file.messages.length, `${file.name}: datagrams (the noise skipped)`);
    assert.equal(summary.rejected, 0);
    const entries = new Map(file.entries.map((e) => [e.id, e]));
    msgs.forEach((got, j) => {
      const { m, h, i } = want[j];
      const where = `${file.name} message ${j} (${h.type_name} seq ${h.seq})`;
      const [a, b] = String(m.direction).split(" -> ");
      const v = i % 3 === 2 ? 1 : 0;
      assert.equal(got.src, v ? `[${NODES[a][1]}]:3780` : `${NODES[a][0]}:3780`, `${where}: sender`);
      assert.equal(got.dst, v ? `[${NODES[b][1]}]:3780` : `${NODES[b][0]}:3780`, `${where}: receiver`);
      assert.equal(got.type, h.type_name, `${where}: type`);
      assert.deepEqual(got.flags, h.flag_names, `${where}: flags`);
      assert.equal(got.seq, h.seq, `${where}: seq`);
      assert.equal(got.len, h.len, `${where}: len`);
      assert.equal(got.offset, h.offset, `${where}: offset`);
      if (h.from !== undefined) assert.deepEqual([got.from, got.to], [h.from, h.to], `${where}: range`);
      assert.equal(got.kind, h.type === 10 ? "ctl" : h.type <= 2 ? "ct" : "exp", `${where}: kind`);
      if (h.entry) checkFlow(got, entries.get(h.entry)!, where);
      total++;
    });
    const byType: Record<string, number> = {};
    for (const { h } of want) byType[h.type_name] = (byType[h.type_name] ?? 0) + 1;
    assert.deepEqual(summary.by_type, byType, `${file.name}: counts by type`);
  }
  assert.ok(total >= 140, `${total} messages compared`);
});

test("golden vectors read directly (.json) and the text output: flows, ranges, states", { skip: skipPy }, () => {
  const r = spawnSync("python3", [TOOL, "-r", "test/fixtures/sync/ftfw-control.json"], { cwd: fileURLToPath(new URL("..", import.meta.url)) });
  assert.equal(r.status, 0, r.stderr.toString());
  const out = r.stdout.toString();
  assert.match(out, /CT_NEW seq 1795714793 tcp 192\.0\.2\.50:1050 > 198\.51\.100\.50:80 ESTABLISHED mark 5 timeout 120/);
  assert.match(out, /CTL \[NACK\] seq 1795714796 nack 1795714796-1795714797/);
  assert.match(out, /CTL \[ACK\+HELLO\+HELLO_BACK\] seq 1795714791 ack 1795714790-1795714790/);
  assert.match(out, /CTL \[RESYNC\] seq 1795714799 resync 0-0/);
  assert.match(r.stderr.toString(), /^20 datagrams|datagrams, \d+ messages/m);
});

test("a sequence gap and a truncated datagram: the gap is reported, the rejections counted by reason", { skip: skipPy }, () => {
  const file = loadFixtures("sync").find((f) => f.name === "notrack-ipv4-tcp.json")!;
  const data = file.messages.filter((m) => String(m.direction) === "gv-a -> gv-b").map((m) => hexBytes(m.hex));
  const first = data.find((d) => d[0] === 0x10 && d.length > 40)!; // a CT_NEW
  const pkts: Pkt[] = [];
  const put = (payload: Uint8Array) => pkts.push({ ts: 1_700_000_100 + pkts.length, src: "10.88.0.1", dst: "10.88.0.2", sport: 3780, dport: 3780, payload });
  put(data[0]);
  put(data[2]); // data[1] lost: a gap of one
  put(first.subarray(0, 40)); // cut: its header says 84 bytes
  put(first.subarray(0, 5)); // not even a header
  writeFileSync(join(dir, "cut.pcap"), pcap(pkts));
  const { lines, code } = inspect(["-r", join(dir, "cut.pcap"), "--json"]);
  assert.equal(code, 0);
  const gap = lines.find((l) => l.event === "gap");
  assert.ok(gap, "a gap event");
  const seq0 = (file.messages.find((m) => m.hex === Buffer.from(data[0]).toString("hex"))!.headers as Line[])[0].seq;
  assert.deepEqual([gap.from, gap.to, gap.missing], [seq0 + 1, seq0 + 1, 1]);
  const rejects = lines.filter((l) => l.kind === "reject");
  assert.equal(rejects.length, 2);
  assert.deepEqual(rejects.map((l) => l.reason), ["BAD_SIZE", "TRUNCATED"]);
  assert.equal(rejects[0].type, "CT_NEW"); // its header was read
  assert.equal(rejects[0].datagram_len, 40);
  const summary = lines.at(-1)!.summary;
  assert.deepEqual(summary.rejects, { BAD_SIZE: 1, TRUNCATED: 1 });
  assert.equal(summary.gaps, 1);
  assert.equal(summary.missing, 1);
  // and the text form says so
  const text = spawnSync("python3", [TOOL, "-r", join(dir, "cut.pcap")]);
  assert.match(text.stdout.toString(), /GAP from 10\.88\.0\.1:3780: 1 missing/);
  assert.match(text.stdout.toString(), /REJECT BAD_SIZE at offset 0 of 40 CT_NEW/);
  assert.match(text.stderr.toString(), /2 rejected \(BAD_SIZE 1, TRUNCATED 1\)/);
});

test("live: datagrams sent to the bound port are printed as they come, -c stops it", { skip: skipPy }, async () => {
  const file = loadFixtures("sync").find((f) => f.name === "notrack-ftp.json")!;
  const grams = file.messages.map((m) => hexBytes(m.hex));
  const nmsgs = file.messages.reduce((a, m) => a + (m.headers as unknown[]).length, 0);
  // a free port: bind, read it, close
  const probe = createSocket("udp4");
  await new Promise<void>((r) => probe.bind(0, "127.0.0.1", () => r()));
  const port = probe.address().port;
  probe.close();
  const proc = spawn("python3", [TOOL, "-l", `127.0.0.1:${port}`, "--json", "-c", String(nmsgs)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  proc.stdout.on("data", (b) => { out += b; });
  proc.stderr.on("data", (b) => { err += b; });
  const exited = new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
  try {
    for (let i = 0; i < 100 && !err.includes("listening"); i++) await sleep(50);
    assert.match(err, /listening on 127\.0\.0\.1:/);
    const tx = createSocket("udp4");
    for (const g of grams) await new Promise<void>((r, j) => tx.send(g, port, "127.0.0.1", (e) => (e ? j(e) : r())));
    tx.close();
    const code = await Promise.race([exited, sleep(10_000).then(() => "timeout")]);
    assert.equal(code, 0, `exit ${code}; stderr: ${err}`);
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
  const lines = out.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const msgs = lines.filter((l) => l.kind);
  assert.equal(msgs.length, nmsgs);
  assert.ok(msgs.every((l) => /^127\.0\.0\.1:\d+$/.test(l.src)));
  const exp = msgs.find((l) => l.type === "EXP_NEW");
  assert.equal(exp.flow.helper, "ftp");
  assert.equal(exp.flow.master.dport, 21);
  assert.equal(lines.at(-1).summary.messages, nmsgs);
});

test("bench: --bench prints the decode rate", { skip: skipPy }, () => {
  const r = spawnSync("python3", [TOOL, "--bench", "0.3", "-r", fileURLToPath(new URL("fixtures/sync/ftfw-control.json", import.meta.url))]);
  assert.equal(r.status, 0, r.stderr.toString());
  const [decode, formatted, baseline] = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(decode.bench.msgs_per_s > 0 && decode.bench.messages > 0);
  assert.ok(formatted.bench_formatted.msgs_per_s > 0);
  assert.ok(baseline.bench_per_call_baseline.messages > 0);
});

const missing = await missingTools();
const noTcpdump = spawnSync("sh", ["-c", "command -v tcpdump"]).status !== 0;
const skipCluster = !hasWasmtime ? skipPy : missing.length ? `needs ${missing.join(", ")}` : noTcpdump ? "needs tcpdump" : false;

test("a running cluster: tcpdump on the sync link, then the inspector shows the flows and FTFW's acknowledgements", { skip: skipCluster, timeout: 90_000 }, async () => {
  const c = await Cluster.create({ mode: "FTFW", transport: "udp", expectationSync: "off" });
  const cap = join(dir, "cluster.pcap");
  await c.startDaemon("fw2");
  const dump = c.spawnIn("fw2", "tcpdump", ["tcpdump", "-i", "sync0", "-U", "-n", "-w", cap, "udp", "port", "3780"]);
  for (let i = 0; i < 100 && !c.procStderr("tcpdump").includes("listening"); i++) await sleep(50);
  assert.match(c.procStderr("tcpdump"), /listening on sync0/);
  await c.startDaemon("fw1");
  const flows = [
    ["-p", "tcp", "-s", "192.0.2.77", "-d", "198.51.100.77", "--sport", "1077", "--dport", "443", "--state", "ESTABLISHED", "--timeout", "120", "--mark", "7"],
    ["-p", "udp", "-s", "192.0.2.78", "-d", "198.51.100.78", "--sport", "5078", "--dport", "53", "--timeout", "60"],
  ];
  for (const f of flows) {
    const r = await run(["conntrack", "-I", ...f], { ns: c.ns.fw1 });
    assert.equal(r.code, 0, r.stderr);
  }
  let external = "";
  for (let i = 0; i < 60 && !(external.includes("192.0.2.77") && external.includes("192.0.2.78")); i++) {
    await sleep(100);
    external = (await c.ctl("fw2", ["-e", "ct"])).stdout;
  }
  assert.match(external, /192\.0\.2\.77/, "fw2 received the flows");
  await sleep(1500); // an ALIVE/ACK round
  dump.kill("SIGINT");
  await new Promise<void>((r) => (dump.exitCode !== null ? r() : dump.once("exit", () => r())));
  assert.ok(existsSync(cap) && statSync(cap).size > 24, "tcpdump wrote packets");
  const { lines, code, stderr } = inspect(["-r", cap, "--json"]);
  assert.equal(code, 0, stderr);
  const msgs = lines.filter((l) => l.kind);
  const tcp = msgs.find((l) => l.kind === "ct" && l.flow.src === "192.0.2.77");
  assert.ok(tcp, `a message for the TCP flow\n${JSON.stringify(msgs.slice(0, 20))}`);
  assert.match(tcp.src, /^10\.77\.9\.1:\d+$/);
  assert.equal(tcp.dst, "10.77.9.2:3780");
  assert.deepEqual([tcp.flow.proto, tcp.flow.dst, tcp.flow.sport, tcp.flow.dport, tcp.flow.state, tcp.flow.mark],
    ["tcp", "198.51.100.77", 1077, 443, "ESTABLISHED", 7]);
  const udp = msgs.find((l) => l.kind === "ct" && l.flow.src === "192.0.2.78")!;
  assert.ok(udp, "a message for the UDP flow");
  assert.deepEqual([udp.flow.proto, udp.flow.sport, udp.flow.dport], ["udp", 5078, 53]);
  assert.ok(msgs.some((l) => l.src.startsWith("10.77.9.2:") && l.flags.includes("ACK") && l.from <= tcp.seq && tcp.seq <= l.to),
    "fw2 acknowledged the range holding the TCP flow's message");
  assert.ok(msgs.some((l) => l.flags.includes("HELLO")), "the FTFW greeting");
  assert.equal(lines.at(-1)!.summary.rejected, 0);
  await c.destroy();
});

test("a running cluster over multicast: the inspector joins the group on the backup and prints the flows live", { skip: skipCluster, timeout: 90_000 }, async () => {
  const c = await Cluster.create({ mode: "NOTRACK", transport: "multicast", expectationSync: "off" });
  await c.startDaemon("fw2");
  await c.startDaemon("fw1");
  // the daemon's own socket has the group and port too: both bind with SO_REUSEADDR
  const proc = c.spawnIn("fw2", "inspect", ["python3", TOOL, "-m", "225.0.0.50", "--iface", "10.77.9.2", "--json"]);
  let out = "";
  proc.stdout!.on("data", (b: Buffer) => { out += b.toString(); });
  for (let i = 0; i < 100 && !c.procStderr("inspect").includes("listening"); i++) await sleep(50);
  assert.match(c.procStderr("inspect"), /listening on 225\.0\.0\.50:3780/);
  const r = await run(["conntrack", "-I", "-p", "tcp", "-s", "192.0.2.91", "-d", "198.51.100.91", "--sport", "1091",
    "--dport", "22", "--state", "SYN_SENT", "--timeout", "60", "--mark", "9"], { ns: c.ns.fw1 });
  assert.equal(r.code, 0, r.stderr);
  for (let i = 0; i < 100 && !out.includes("192.0.2.91"); i++) await sleep(50);
  for (let i = 0; i < 60 && !/"flags": \["ALIVE"\]/.test(out.slice(out.indexOf("192.0.2.91"))); i++) await sleep(50); // a quiet second: ALIVE
  const exited = new Promise<void>((res) => (proc.exitCode !== null ? res() : proc.once("exit", () => res())));
  proc.kill("SIGTERM"); // the inspector prints its summary and exits
  await Promise.race([exited, sleep(3000)]);
  const lines = out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Line);
  const msg = lines.find((l) => l.kind === "ct" && l.flow.src === "192.0.2.91");
  assert.ok(msg, `the inserted flow went by\n${out.slice(0, 2000)}\n${c.procStderr("inspect")}`);
  assert.equal(msg.type, "CT_NEW");
  assert.match(msg.src, /^10\.77\.9\.1:\d+$/);
  assert.equal(msg.dst, "225.0.0.50:3780");
  assert.deepEqual([msg.flow.proto, msg.flow.sport, msg.flow.dport, msg.flow.state, msg.flow.mark], ["tcp", 1091, 22, "SYN_SENT", 9]);
  assert.ok(lines.some((l) => l.type === "CTL" && l.flags.includes("ALIVE")), "NOTRACK's keep-alives");
  const summary = lines.at(-1)!.summary;
  assert.ok(summary && summary.rejected === 0, "a summary, no rejections");
  await c.destroy();
});
