// The control socket: our server and client over a real UNIX socket with an
// in-memory daemon, compared with the captured conntrackd outputs; and both
// directions against the real conntrackd 1.4.7 (its client against our
// server, our client against its daemon) when it is installed and we are root.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { Writable } from "node:stream";
import { parseCli, type ClientRequest } from "../host/control/cli.ts";
import { CONTROL_REQUEST, CTSYNC_JSON_FLAG } from "../host/control/requests.ts";
import { ControlServer, ControlSocketError, encodeRequest } from "../host/control/server.ts";
import { exchange, runClient } from "../host/control/client.ts";
import { FakeDaemon } from "./support/control-fake.ts";
import { WITNESS_FLOWS, conntrackdClient, haveConntrackd, isRoot, startConntrackd, writeConntrackdConf } from "./support/control-conntrackd.ts";
import { conntrackLine, conntrackXml } from "./support/core-format.ts";
import { FIXTURES } from "./support/fixtures.ts";

const dir = mkdtempSync(join(tmpdir(), "ctl-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const socketPath = () => join(dir, `s${n++}.ctl`);

const fixture = (name: string) => readFileSync(join(FIXTURES, "conntrackd-output", name), "latin1");
const sameAge = (s: string) => s.replace(/\[active since \d+s\]/g, "[active since Ns]");

class Sink extends Writable {
  text = "";
  _write(chunk: Buffer, _enc: BufferEncoding, done: () => void) { this.text += chunk.toString("latin1"); done(); }
}

/** Runs `ctsyncd <words>` as a client against `path`. */
async function client(path: string | null, words: string): Promise<{ status: number; stdout: string; stderr: string }> {
  const a = parseCli(words.split(" ")).action;
  assert.equal(a.kind, "request");
  const stdout = new Sink(), stderr = new Sink();
  const status = await runClient((a as { request: ClientRequest }).request, path, { stdout, stderr });
  return { status, stdout: stdout.text, stderr: stderr.text };
}

async function withServer(fn: (path: string, daemon: FakeDaemon, server: ControlServer) => Promise<void>, daemon = new FakeDaemon()) {
  const path = socketPath();
  const server = await ControlServer.start({ path, daemon });
  try { await fn(path, daemon, server); } finally { await server.close(); }
}

// --- server and client together ------------------------------------------------------

test("every dump and -s section over the socket equals conntrackd's captured output", () => withServer(async (path) => {
  const cases: [string, string][] = [
    ["-i", "i.out"], ["-i exp", "i-exp.out"], ["-e", "e.out"], ["-e exp", "e-exp.out"],
    ["-i -x", "i-x.out"], ["-i exp -x", "i-exp-x.out"], ["-e -x", "e-x.out"],
    ["-s", "s.out"], ["-s ct", "s-ct.out"], ["-s expect", "s-expect.out"], ["-s cache", "s-cache.out"],
    ["-s link", "s-link.out"], ["-s network", "s-network.out"], ["-s queue", "s-queue.out"],
    ["-s rsqueue", "s-rsqueue.out"], ["-s runtime", "s-runtime.out"], ["-s process", "s-process.out"],
  ];
  for (const [words, file] of cases) {
    const r = await client(path, words);
    assert.equal(r.status, 0, words);
    assert.equal(sameAge(r.stdout), sameAge(fixture(file)), words);
    assert.equal(r.stderr, "");
  }
}));

test("the socket is mode 0600", () => withServer(async (path) => {
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.ok(statSync(path).isSocket());
}));

test("actions reach the daemon with conntrackd's meaning and print nothing", () => withServer(async (path, d) => {
  const run = async (words: string) => {
    d.calls.length = 0;
    const r = await client(path, words);
    assert.deepEqual([r.status, r.stdout], [0, ""], words);
    return d.calls;
  };
  assert.deepEqual(await run("-c"), [["commit", "both"]]);
  assert.deepEqual(await run("-c exp"), [["commit", "expect"]]);
  assert.deepEqual(await run("-f"), [["flushCache", "both", ["ct", "expect"]]]);
  assert.deepEqual(await run("-f internal"), [["flushCache", "internal", ["ct"]]]);
  assert.deepEqual(await run("-f external"), [["flushCache", "external", ["ct"]]]);
  assert.deepEqual(await run("-F"), [["flushKernel", "both"]]);
  assert.deepEqual(await run("-R ct"), [["resyncWithKernel", "ct"]]);
  assert.deepEqual(await run("-n"), [["requestResync"]]);
  assert.deepEqual(await run("-B"), [["bulkSend"]]);
  assert.deepEqual(await run("-t"), [["resetTimers"]]);
  d.expectationSync = false;
  assert.deepEqual(await run("-c"), [["commit", "ct"]]);
  assert.deepEqual(await run("-F"), [["flushKernel", "ct"]]);
  assert.deepEqual(await run("-f"), [["flushCache", "both", ["ct"]]]);
  assert.deepEqual(await run("-c exp"), [], "no expectation commit without ExpectationSync");
  assert.deepEqual(await run("-i exp"), [], "no expectation dump without ExpectationSync");
  assert.equal((await client(path, "-s expect")).stdout, "");
  d.mode = "alarm";
  assert.deepEqual(await run("-n"), []);
  assert.equal((await client(path, "-s rsqueue")).stdout, "");
}));

test("--origin (ctsync's own) takes -c and -e to one Corosync member's entries: a second int after the code", () => withServer(async (path, d) => {
  d.calls.length = 0;
  assert.equal((await client(path, "-c ct --origin 3")).status, 0);
  assert.equal((await client(path, "-e --origin 4294967294")).status, 0);
  assert.equal((await client(path, "-e")).status, 0);
  assert.deepEqual(d.calls, [["commit", "ct", 3], ["textDump", "external", "ct", "plain", 4294967294], ["textDump", "external", "ct", "plain"]]);
}));

test("a commit holds the client until it is done", () => withServer(async (path, d) => {
  let open!: () => void;
  d.commitGate = new Promise((r) => { open = r; });
  let finished = false;
  const pending = client(path, "-c ct").then((r) => { finished = true; return r; });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(finished, false);
  open();
  assert.deepEqual((await pending).status, 0);
}));

test("-k answers the client, then stops the daemon", () => withServer(async (path, d) => {
  const r = await client(path, "-k");
  assert.deepEqual([r.status, r.stdout], [0, ""]);
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(d.calls.at(-1), ["kill"]);
}));

test("short reads and unknown codes are counted in -s runtime and answered with silence", () => withServer(async (path, _d, server) => {
  await new Promise<void>((resolve) => {
    const s = createConnection(path, () => s.end(new Uint8Array([1, 0])));
    s.on("close", () => resolve());
  });
  const silent = new Sink();
  assert.deepEqual(await exchange(path, 99, silent), { ok: true, bytes: 0 });
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(server.counters, { localReadFailed: 1, localUnknownRequest: 1 });
  const runtime = (await client(path, "-s runtime")).stdout;
  assert.match(runtime, /\tlocal read failed:\t\t {11}1\n\tlocal unknown request:\t\t {11}1\n/);
}));

test("a slow client does not block others; a request split over two writes is read whole", () => withServer(async (path) => {
  const stalled = createConnection(path);
  await new Promise((r) => stalled.once("connect", r));
  const req = encodeRequest(CONTROL_REQUEST.STATS_QUEUE);
  const text = await new Promise<string>((resolve) => {
    let got = "";
    const s = createConnection(path, () => {
      s.write(req.subarray(0, 1));
      setTimeout(() => s.write(req.subarray(1)), 30);
    });
    s.on("data", (d) => { got += d.toString(); });
    s.on("end", () => resolve(got));
  });
  assert.equal(text, fixture("s-queue.out"));
  stalled.destroy();
}));

test("JSON answers: dumps as an array, stats as an object, actions acknowledged", () => withServer(async (path) => {
  const dump = JSON.parse((await client(path, "-i -j")).stdout);
  assert.equal(dump.length, 5);
  assert.equal(dump[1].ct.sport, 40000);
  assert.deepEqual(dump[1].reply, { src: "198.51.100.1", dst: "192.0.2.1", sport: 22, dport: 40000 });
  assert.deepEqual(JSON.parse((await client(path, "-e exp --json")).stdout), []);
  const stats = JSON.parse((await client(path, "-s link -j")).stdout);
  assert.equal(stats.links[0].sent.bytes, 496);
  const sink = new Sink();
  await exchange(path, CONTROL_REQUEST.CT_COMMIT | CTSYNC_JSON_FLAG, sink);
  assert.deepEqual(JSON.parse(sink.text), { ok: true, request: "CT_COMMIT", status: "done", committed: 3, failed: 0, seconds: 0.001 });
  const unknown = new Sink();
  await exchange(path, 99 | CTSYNC_JSON_FLAG, unknown);
  assert.deepEqual(JSON.parse(unknown.text), { error: "unknown request code 99" });
}));

// --- starting and stopping the server -----------------------------------------------

test("a stale socket file is replaced; a live one is refused; a non-socket is left alone", async () => {
  const stale = socketPath();
  const py = spawnSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`]);
  assert.equal(py.status, 0);
  assert.ok(statSync(stale).isSocket());
  const s = await ControlServer.start({ path: stale, daemon: new FakeDaemon() });
  assert.equal((await client(stale, "-s queue")).stdout, fixture("s-queue.out"));
  await assert.rejects(ControlServer.start({ path: stale, daemon: new FakeDaemon() }),
    (e: Error) => e instanceof ControlSocketError && /already answering on .*; is ctsyncd or conntrackd running\?/.test(e.message));
  assert.equal((await client(stale, "-s queue")).status, 0, "the live daemon keeps its socket");
  await s.close();
  assert.throws(() => statSync(stale), "close removes the socket file");

  const plain = socketPath();
  writeFileSync(plain, "not a socket");
  await assert.rejects(ControlServer.start({ path: plain, daemon: new FakeDaemon() }), /exists and is not a socket/);
  assert.equal(readFileSync(plain, "utf8"), "not a socket");
  await assert.rejects(ControlServer.start({ path: join(dir, "x".repeat(120)), daemon: new FakeDaemon() }), /too long/);
});

test("the client: no daemon, no UNIX path, and a daemon that does not speak JSON", async () => {
  const none = await client(join(dir, "nobody.ctl"), "-s");
  assert.equal(none.status, 1);
  assert.match(none.stderr, /^ctsyncd: cannot connect to the daemon at .*nobody\.ctl: no such socket file; is ctsyncd running\?\n$/);
  const noPath = await client(null, "-i");
  assert.deepEqual([noPath.status, noPath.stdout], [1, ""]);
  assert.match(noPath.stderr, /no UNIX \{ Path \}/);
  // Like conntrackd: read the int, answer nothing to a code it does not know.
  const path = socketPath();
  const mute = createServer((s) => s.once("data", () => s.end()));
  await new Promise<void>((r) => mute.listen(path, r));
  const r = await client(path, "-i -j");
  mute.close();
  assert.equal(r.status, 1);
  assert.match(r.stderr, /sent no JSON answer/);
});

// --- the real conntrackd ------------------------------------------------------------

const noConntrackd = !haveConntrackd() ? "conntrackd is not installed" : false;

test("conntrackd's own client against our server prints the captured outputs", { skip: noConntrackd }, () => withServer(async (path) => {
  const confDir = mkdtempSync(join(dir, "conf-"));
  const conf = writeConntrackdConf(confDir);
  writeFileSync(conf, readFileSync(conf, "utf8").replace(`${confDir}/conntrackd.ctl`, path));
  const cases: [string[], string][] = [
    [["-i"], "i.out"], [["-i", "exp"], "i-exp.out"], [["-i", "-x"], "i-x.out"], [["-e"], "e.out"],
    [["-s"], "s.out"], [["-s", "cache"], "s-cache.out"], [["-s", "runtime"], "s-runtime.out"], [["-s", "rsqueue"], "s-rsqueue.out"],
  ];
  for (const [args, file] of cases) {
    const r = await conntrackdClient(conf, args);
    assert.equal(r.status, 0, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(sameAge(r.stdout), sameAge(fixture(file)), args.join(" "));
  }
  const k = await conntrackdClient(conf, ["-c"]);
  assert.equal(k.status, 0);
}));

const noRealDaemon = noConntrackd || (!isRoot() ? "needs root for a network namespace" : false);

test("our client against the real conntrackd prints what conntrackd's client prints", { skip: noRealDaemon }, async () => {
  const confDir = mkdtempSync(join(dir, "real-"));
  const conf = writeConntrackdConf(confDir);
  const real = await startConntrackd(confDir, conf);
  try {
    const digits = (s: string) => s.replace(/\d+/g, "N");
    const exact = ["-i", "-i exp", "-i -x", "-e", "-e exp", "-s cache", "-s queue"];
    const counters = ["-s", "-s ct", "-s expect", "-s network", "-s link", "-s runtime", "-s rsqueue", "-s process"];
    for (const words of [...exact, ...counters]) {
      const theirs = await conntrackdClient(conf, words.split(" "));
      const ours = await client(real.socket, words);
      assert.equal(ours.status, theirs.status, words);
      const norm = exact.includes(words) ? sameAge : (s: string) => digits(sameAge(s));
      assert.equal(norm(ours.stdout), norm(theirs.stdout), words);
    }
    // Our format of what the cache holds, against conntrackd's own lines.
    const plain = sameAge((await client(real.socket, "-i")).stdout).split("\n");
    const xml = (await client(real.socket, "-i -x")).stdout.replace(/<id>\d+<\/id>/g, "").split("\n");
    for (const { ct } of WITNESS_FLOWS) {
      const line = conntrackLine({ ct, ageSeconds: 0 }, "plain").trimEnd();
      assert.ok(plain.includes(sameAge(line)), `${line}\nnot among\n${plain.join("\n")}`);
      assert.ok(xml.includes(conntrackXml(ct)), `${conntrackXml(ct)}\nnot among\n${xml.join("\n")}`);
    }
    const json = await client(real.socket, "-i -j");
    assert.equal(json.status, 1, "conntrackd answers no JSON");
    const k = await client(real.socket, "-k");
    assert.equal(k.status, 0);
  } finally {
    await real.stop();
  }
});

test("a reader that goes away mid-dump ends the client quietly", () => withServer(async (path, d) => {
  d.internal.ct = Array.from({ length: 5000 }, () => d.internal.ct[0]);
  const sink = new Writable({ write(_c, _e, done) { done(Object.assign(new Error("EPIPE"), { code: "EPIPE" })); } });
  const r = await exchange(path, CONTROL_REQUEST.CT_DUMP_INTERNAL, sink);
  assert.equal(r.ok, true);
}));
