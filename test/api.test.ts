// The live API (host/api/): the API section of the configuration, every
// route against a simulated daemon (test/support/fake-source.ts) over real HTTP
// on 127.0.0.1, the token, the errors, /metrics, and the event stream with
// its kinds filter and a deliberately slow client that must be dropped
// without slowing anyone else.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig, parseConfig, ConfigError } from "../host/config/load.ts";
import { defaultApi } from "../host/config/api.ts";
import { startApi, type ApiServer } from "../host/api/server.ts";
import { uwsIsNative } from "../host/api/http-adapter.ts";
import { FakeSource, flow } from "./support/fake-source.ts";
import type { ApiConfig } from "../host/config/types.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/conf", import.meta.url));
const TOKEN = "t0ken-for-the-tests-0123";
const SYNC = "Sync { Mode FTFW { } UDP { IPv4_address 10.0.0.1 IPv4_Destination_Address 10.0.0.2 Port 3780 Interface eth2 } }\n"
  + "General { UNIX { Path /run/t.ctl } }\n";

// --- configuration ----------------------------------------------------------

test("config: the API section from a file, with its defaults filled", () => {
  const { config, warnings } = loadConfig(join(FIXTURES, "api.conf"));
  assert.deepEqual(warnings, []);
  assert.deepEqual(config.api, {
    line: config.api!.line, enabled: true, address: "127.0.0.1", port: 8765, token: "s3cret-s3cret-s3cret", maxBackpressure: 1048576,
  });
  assert.equal(config.sync?.mode, "ftfw");
});

test("config: no API section, no API; Enabled off turns it off; IPv6 address", () => {
  assert.equal(parseConfig(SYNC, "t.conf").config.api, null);
  assert.equal(parseConfig(`${SYNC}API { Enabled off }`, "t.conf").config.api?.enabled, false);
  const a = parseConfig(`${SYNC}API {\n Address ::1\n Port 9000\n}`, "t.conf").config.api!;
  assert.deepEqual([a.address, a.port, a.token, a.enabled], ["::1", 9000, null, true]);
  assert.deepEqual(defaultApi(1), { line: 1, enabled: true, address: "127.0.0.1", port: 8080, token: null, maxBackpressure: 1048576 });
});

test("config: a short token and a non-loopback address are warned about", () => {
  const { warnings } = parseConfig(`${SYNC}API {\n Address 0.0.0.0\n Token s3cret\n}`, "t.conf");
  assert.equal(warnings.length, 2);
  assert.match(warnings[0], /^t\.conf:4: the API listens on 0\.0\.0\.0, beyond this host/);
  assert.match(warnings[1], /^t\.conf:5: Token is short \(6 characters\); use at least 16/);
});

test("config: bad lines of the API section give file:line", () => {
  const bad: [string, string][] = [
    ["api-bad-port.conf", "api-bad-port.conf:7: Port must be between 1 and 65535, got 70000"],
    ["api-bad-address.conf", "api-bad-address.conf:7: invalid address after Address: \"localhost\" is not an IPv4 address"],
    ["api-bad-option.conf", "api-bad-option.conf:9: unknown option \"Tokn\" in API"],
    ["api-bad-enabled.conf", "api-bad-enabled.conf:7: expected on or off after Enabled, found \"maybe\""],
  ];
  for (const [file, message] of bad) {
    assert.throws(() => loadConfig(join(FIXTURES, file)), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, join(FIXTURES, message));
      return true;
    });
  }
  assert.throws(() => parseConfig(`${SYNC}API { Token }`, "t.conf"), /t\.conf:3: expected a token after Token, found "}"/);
  assert.throws(() => parseConfig(`${SYNC}Api { }`, "t.conf"), /keywords are case-sensitive: did you mean "API"\?/);
});

// --- helpers ----------------------------------------------------------------

function cfg(over: Partial<ApiConfig> = {}): ApiConfig {
  return { ...defaultApi(1), port: 0, token: TOKEN, ...over };
}

async function withApi(src: FakeSource, over: Partial<ApiConfig>, fn: (base: string, api: ApiServer, logs: string[]) => Promise<void>): Promise<void> {
  const logs: string[] = [];
  const api = await startApi(src, cfg(over), (level, msg) => logs.push(`${level} ${msg}`));
  try {
    await fn(`http://127.0.0.1:${api.port}`, api, logs);
  } finally {
    await api.close();
  }
}

async function get(url: string, init?: RequestInit): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const r = await fetch(url, init);
  const text = await r.text();
  let body: any = null;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body, headers: r.headers, text };
}

const post = (url: string, body?: unknown, token: string | null = TOKEN, headers: Record<string, string> = {}) =>
  get(url, {
    method: "POST",
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });

function populated(opts: ConstructorParameters<typeof FakeSource>[0] = {}): FakeSource {
  const src = new FakeSource(opts);
  for (let i = 0; i < 250; i++) src.ct.internal.push({ ct: flow(i), ageSeconds: i });
  for (let i = 0; i < 7; i++) src.ct.external.push({ ct: flow(1000 + i), ageSeconds: 1, withReply: false });
  src.exp.internal.push({ exp: { master: { family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto: 6, sport: 40000, dport: 21 },
    expected: { family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto: 6, sport: 0, dport: 50000 },
    mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    helper: "ftp", timeout: 300 }, ageSeconds: 3 });
  return src;
}

// --- the server -------------------------------------------------------------

test("the native uWebSockets.js binary loads (no fallback)", () => {
  assert.equal(uwsIsNative(), true);
});

test("Enabled off: no server", async () => {
  const api = await startApi(new FakeSource(), cfg({ enabled: false, port: 18099 }), () => undefined);
  assert.equal(api.port, 0);
  await assert.rejects(fetch("http://127.0.0.1:18099/api/stats"));
  await api.close();
});

test("listens on 127.0.0.1 by default, and says where; close() stops it", async () => {
  const logs: string[] = [];
  const api = await startApi(new FakeSource(), cfg(), (l, m) => logs.push(`${l} ${m}`));
  assert.match(logs.join("\n"), new RegExp(`notice API listening on http://127\\.0\\.0\\.1:${api.port}/ \\(actions need the token\\)`));
  assert.equal((await fetch(`http://127.0.0.1:${api.port}/api`)).status, 200);
  await api.close();
  await assert.rejects(fetch(`http://127.0.0.1:${api.port}/api`));
});

test("a port in use is a clear error", async () => {
  await withApi(new FakeSource(), {}, async (_base, api) => {
    await assert.rejects(startApi(new FakeSource(), cfg({ port: api.port }), () => undefined), /cannot listen on 127\.0\.0\.1 port \d+/);
  });
});

test("GET /api/stats: every -s section, format-json's shapes; unavailable sections say why", async () => {
  const src = populated({ mode: "alarm", expectationSync: false });
  await withApi(src, {}, async (base) => {
    const r = await get(`${base}/api/stats`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^application\/json/);
    assert.deepEqual(Object.keys(r.body), ["general", "expect", "network", "cache", "link", "rsqueue", "queue", "runtime", "process"]);
    assert.equal(r.body.general.section, "general");
    assert.equal(r.body.general.internal.active, 250);
    assert.equal(r.body.general.external.active, 7);
    assert.equal(r.body.general.traffic.bytes, 123456789012);
    assert.equal(r.body.general.activeLink.device, "eth2");
    assert.deepEqual(r.body.expect, { section: "expect", unavailable: "ExpectationSync is off" });
    assert.deepEqual(r.body.rsqueue, { section: "rsqueue", unavailable: "the resend queue exists in FTFW mode only" });
    assert.equal(r.body.link.links.length, 2);
    assert.deepEqual(r.body.runtime.local, { localReadFailed: 1, localUnknownRequest: 2 });
    assert.equal(r.body.queue.queues.queues[0].name, "txqueue");
    const one = await get(`${base}/api/stats/cache`);
    assert.deepEqual(Object.keys(one.body), ["section", "internal", "external"]);
    const bad = await get(`${base}/api/stats/nope`);
    assert.equal(bad.status, 404);
    assert.match(bad.body.error, /no such statistics section: nope/);
    assert.ok(bad.body.sections.includes("runtime"));
  });
});

test("GET /api/cache/...: pages of entries, with total and next", async () => {
  await withApi(populated(), {}, async (base) => {
    const first = await get(`${base}/api/cache/internal/ct`);
    assert.equal(first.status, 200);
    assert.deepEqual({ ...first.body, entries: first.body.entries.length },
      { cache: "internal", kind: "ct", offset: 0, limit: 100, total: 250, count: 100, next: 100, entries: 100 });
    assert.equal(first.body.entries[0].ct.src, "10.1.0.0");
    assert.deepEqual(first.body.entries[0].reply, { src: "192.168.0.10", dst: "10.1.0.0", sport: 80, dport: 1024 });
    const last = await get(`${base}/api/cache/internal/ct?offset=200&limit=100`);
    assert.equal(last.body.count, 50);
    assert.equal(last.body.next, null);
    assert.equal(last.body.entries[49].ct.id, 249);
    const beyond = await get(`${base}/api/cache/internal/ct?offset=1000`);
    assert.deepEqual([beyond.status, beyond.body.count, beyond.body.entries], [200, 0, []]);
    const exp = await get(`${base}/api/cache/internal/expect?limit=1000`);
    assert.equal(exp.body.entries[0].exp.helper, "ftp");
    assert.equal((await get(`${base}/api/cache/external/expect`)).body.total, 0);
  });
});

test("bad pages and unknown caches: 400 and 404 with the reason", async () => {
  await withApi(populated({ expectationSync: false }), {}, async (base) => {
    for (const [q, why] of [["limit=0", /limit must be from 1 to 1000, got 0/], ["limit=1001", /limit must be from 1 to 1000/],
      ["limit=ten", /limit must be a whole number/], ["offset=-1", /offset must be a whole number/], ["limit=1.5", /whole number/]] as const) {
      const r = await get(`${base}/api/cache/internal/ct?${q}`);
      assert.equal(r.status, 400, q);
      assert.match(r.body.error, why);
    }
    const r = await get(`${base}/api/cache/middle/ct`);
    assert.equal(r.status, 404);
    assert.match(r.body.error, /no such cache: middle/);
    assert.equal((await get(`${base}/api/cache/internal/flows`)).status, 404);
    const off = await get(`${base}/api/cache/internal/expect`);
    assert.deepEqual([off.status, off.body.error], [409, "ExpectationSync is off: there is no expectation cache"]);
  });
});

test("GET /api/cluster: links with role and counters, resend queue, peers, cache sizes", async () => {
  const src = populated();
  src.rsqueue = [{ kind: "object", seq: 7 }, { kind: "control", seq: 8, flags: 2 }];
  await withApi(src, {}, async (base) => {
    const r = await get(`${base}/api/cluster`);
    assert.equal(r.status, 200);
    assert.equal(r.body.mode, "ftfw");
    assert.deepEqual(r.body.links.map((l: any) => [l.index, l.type, l.device, l.status, l.role]),
      [[0, "udp", "eth2", "RUNNING", "ACTIVE"], [1, "udp", "eth3", "NO-CARRIER", "BACKUP"]]);
    assert.deepEqual(r.body.links[0].sent, { bytes: 0, messages: 0, errors: 0 });
    assert.deepEqual(r.body.resendQueue, { length: 2 });
    assert.equal(r.body.peers[0].address, "10.0.0.2");
    assert.deepEqual(r.body.caches, { internal: { ct: 250, expect: 1 }, external: { ct: 7, expect: 0 } });
    assert.equal(r.body.lastCommit, null);
  });
});

test("GET /metrics: Prometheus text with the daemon's counters (and, with Authenticate, the refusals by cause)", async () => {
  const src = populated();
  src.run.eventsReceived = 12345n;
  src.run.netlinkOverrun = 3;
  src.run.kernelTableResync = 2;
  src.net.recvLost = 9;
  src.net.recvMalformed = 4;
  src.net.recvBadHeader = 4;
  src.linkList[0].sent.messages = 77;
  src.linkList[0].received.messages = 66;
  src.rsqueue = [{ kind: "object", seq: 1 }];
  src.delayed = { waiting: 5, released: 40, endedUnsent: 60 };
  src.net.recvRefused = { missing: 20, truncated: 0, key: 1, mac: 3, stale: 2, replay: 5 };
  await withApi(src, {}, async (base) => {
    await post(`${base}/api/commit`, { kinds: "ct" });
    const r = await get(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const lines = r.text.trimEnd().split("\n");
    for (const l of lines) assert.match(l, /^(# (HELP|TYPE) ctsync_\w+ .+|ctsync_\w+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+)$/, l);
    const has = (s: string) => assert.ok(lines.includes(s), `missing: ${s}`);
    has("ctsync_kernel_events_total 12345");
    has("ctsync_netlink_overruns_total 3");
    has("ctsync_kernel_resyncs_total 2");
    has("ctsync_messages_lost_total 9");
    has('ctsync_messages_malformed_total{cause="any"} 4');
    has('ctsync_messages_malformed_total{cause="header"} 4');
    has('ctsync_link_messages_total{link="0",type="udp",device="eth2",direction="sent"} 77');
    has('ctsync_link_messages_total{link="0",type="udp",device="eth2",direction="received"} 66');
    has('ctsync_link_up{link="1",type="udp",device="eth3"} 0');
    has('ctsync_cache_entries{cache="internal",kind="ct"} 250');
    has('ctsync_cache_entries{cache="external",kind="expect"} 0');
    has("ctsync_resend_queue_length 1");
    has("ctsync_commit_duration_seconds_count 1");
    has('ctsync_commit_duration_seconds_bucket{le="+Inf"} 1');
    has('ctsync_commit_entries_total{result="committed"} 7');
    has("ctsync_api_event_clients 0");
    has("ctsync_delayed_flows 5");
    has('ctsync_delayed_flows_total{outcome="sent"} 40');
    has('ctsync_delayed_flows_total{outcome="ended_unsent"} 60');
    has('ctsync_datagrams_refused_total{cause="missing"} 20');
    has('ctsync_datagrams_refused_total{cause="replay"} 5');
    assert.equal(lines.filter((l) => l === "# TYPE ctsync_commit_duration_seconds histogram").length, 1);
  });
});

test("actions need the bearer token: 401 without, 403 when wrong, 403 when none is configured", async () => {
  const src = populated();
  await withApi(src, {}, async (base) => {
    const none = await post(`${base}/api/commit`, undefined, null);
    assert.deepEqual([none.status, none.body], [401, { error: "missing Authorization: Bearer <token>" }]);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="ctsync"');
    const basic = await post(`${base}/api/flush`, undefined, null, { authorization: "Basic dXNlcjpwYXNz" });
    assert.equal(basic.status, 401);
    assert.match(basic.body.error, /must be "Bearer <token>"/);
    const wrong = await post(`${base}/api/bulk`, undefined, "not-the-token");
    assert.deepEqual([wrong.status, wrong.body], [403, { error: "wrong token" }]);
    const prefix = await post(`${base}/api/bulk`, undefined, TOKEN.slice(0, -1));
    assert.equal(prefix.status, 403);
    assert.deepEqual(src.actions, []);
  });
  await withApi(src, { token: null }, async (base, _api, logs) => {
    const r = await post(`${base}/api/commit`);
    assert.deepEqual([r.status, r.body.error], [403, "control actions are disabled: the API section has no Token"]);
    assert.match(logs.join("\n"), /actions disabled: no Token/);
  });
  assert.deepEqual(src.actions, []);
});

test("a commit can take one Corosync member's entries (origin), as -c --origin does; a bad origin is refused", async () => {
  const src = populated();
  await withApi(src, {}, async (base) => {
    const c = await post(`${base}/api/commit`, { kinds: "ct", origin: 3 });
    assert.deepEqual([c.status, c.body.origin, c.body.kinds], [200, 3, "ct"]);
    assert.equal((await post(`${base}/api/commit?origin=5`)).status, 200);
    for (const bad of [0, -1, 1.5, "x", 2 ** 32]) {
      const r = await post(`${base}/api/commit`, { origin: bad });
      assert.equal(r.status, 400, String(bad));
      assert.match(r.body.error, /origin must be a Corosync node id/);
    }
  });
  assert.deepEqual(src.actions, ["commit ct origin 3", "commit both origin 5"]);
});

test("actions: commit, flush, resync and bulk reach the daemon as -c, -f, -R, -n and -B do", async () => {
  const src = populated();
  await withApi(src, {}, async (base) => {
    const c = await post(`${base}/api/commit`);
    assert.equal(c.status, 200);
    assert.deepEqual({ ...c.body, seconds: 0 }, { ok: true, request: "commit", kinds: "both", status: "done", committed: 7, failed: 0, seconds: 0 });
    assert.equal((await post(`${base}/api/commit`, { kinds: "expect" })).body.kinds, "expect");
    assert.equal((await post(`${base}/api/commit?kinds=ct`)).body.kinds, "ct");
    assert.deepEqual((await post(`${base}/api/flush`, { cache: "external" })).body, { ok: true, request: "flush", cache: "external", kinds: ["ct"] });
    assert.deepEqual((await post(`${base}/api/flush`)).body.kinds, ["ct", "expect"]);
    assert.deepEqual((await post(`${base}/api/resync`)).body, { ok: true, request: "resync", from: "kernel", kinds: "both" });
    assert.deepEqual((await post(`${base}/api/resync`, { from: "peers" })).body, { ok: true, request: "resync", from: "peers" });
    assert.deepEqual((await post(`${base}/api/bulk`)).body, { ok: true, request: "bulk" });
    assert.deepEqual(src.actions, [
      "commit both", "commit expect", "commit ct", "flush external ct", "flush both ct,expect", "resync-kernel both", "request-resync", "bulk",
    ]);
    const bad = await post(`${base}/api/flush`, { cache: "everything" });
    assert.deepEqual([bad.status, bad.body.error], [400, 'cache must be one of internal, external, both, got "everything"']);
    const notJson = await post(`${base}/api/commit`, "{kinds: ct");
    assert.equal(notJson.status, 400);
    assert.match(notJson.body.error, /^the body is not JSON/);
    assert.equal((await post(`${base}/api/commit`, "[1]")).status, 400);
    const big = await post(`${base}/api/commit`, JSON.stringify({ pad: "x".repeat(20000) }));
    assert.equal(big.status, 413);
    assert.equal(src.actions.length, 8);
  });
});

test("actions refused by the mode: 409 with the reason", async () => {
  const src = populated({ mode: "alarm", expectationSync: false });
  await withApi(src, {}, async (base) => {
    assert.deepEqual(await post(`${base}/api/bulk`).then((r) => [r.status, r.body.error]), [409, "a bulk send (-B) needs FTFW or NOTRACK mode"]);
    assert.equal((await post(`${base}/api/resync`, { from: "peers" })).status, 409);
    assert.equal((await post(`${base}/api/commit`, { kinds: "expect" })).status, 409);
    assert.equal((await post(`${base}/api/commit`)).body.kinds, "ct");
    assert.deepEqual(src.actions, ["commit ct"]);
  });
});

test("a concurrent commit is answered 409 busy", async () => {
  const src = populated();
  let running = false;
  src.commit = async (kinds) => {
    if (running) return { status: "busy", committed: 0, failed: 0, seconds: 0 };
    running = true;
    await new Promise((r) => setTimeout(r, 100));
    running = false;
    src.actions.push(`commit ${kinds}`);
    return { status: "done", committed: 1, failed: 0, seconds: 0.1 };
  };
  await withApi(src, {}, async (base) => {
    const [a, b] = await Promise.all([post(`${base}/api/commit`), post(`${base}/api/commit`)]);
    assert.deepEqual([a.status, b.status].sort(), [200, 409]);
    assert.equal([a, b].find((r) => r.status === 409)!.body.status, "busy");
  });
});

test("unknown paths: 404 with the endpoints; wrong method: 405 with Allow; /api/events without upgrade: 426", async () => {
  await withApi(populated(), {}, async (base) => {
    const r = await get(`${base}/api/nothing`);
    assert.equal(r.status, 404);
    assert.equal(r.body.error, "no such endpoint: /api/nothing");
    assert.ok(r.body.endpoints.some((e: string) => e.startsWith("GET /api/cluster")));
    assert.ok(r.body.endpoints.some((e: string) => e.startsWith("POST /api/commit")));
    const m = await get(`${base}/api/commit`);
    assert.deepEqual([m.status, m.headers.get("allow"), m.body.error], [405, "POST", "GET is not allowed on /api/commit (allowed: POST)"]);
    assert.equal((await get(`${base}/metrics`, { method: "DELETE" })).status, 405);
    assert.equal((await post(`${base}/api/stats`)).status, 405);
    const ws = await get(`${base}/api/events`);
    assert.equal(ws.status, 426);
    const index = await get(`${base}/api`);
    assert.equal(index.body.endpoints.length, r.body.endpoints.length);
  });
});

// --- the event stream -------------------------------------------------------

/** A bare WebSocket client: the handshake, then server frames (unmasked) until close. */
class WsClient {
  readonly messages: any[] = [];
  closeCode: number | null = null;
  status = 0;
  readonly sock: Socket;
  private buf = Buffer.alloc(0);
  private upgraded = false;
  private waiters: (() => void)[] = [];

  constructor(port: number, path: string, opts: { read?: boolean } = {}) {
    this.sock = connect(port, "127.0.0.1");
    this.sock.on("connect", () => {
      this.sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`
        + `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      if (opts.read === false) setTimeout(() => this.sock.pause(), 50); // then never read again
    });
    this.sock.on("data", (d: Buffer) => { this.buf = Buffer.concat([this.buf, d] as Uint8Array[]); this.parse(); });
    this.sock.on("close", () => { if (this.closeCode === null) this.closeCode = -1; this.wake(); });
    this.sock.on("error", () => undefined);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    if (!this.upgraded) {
      const end = this.buf.indexOf("\r\n\r\n");
      if (end === -1) return;
      this.status = Number(/^HTTP\/1\.1 (\d+)/.exec(this.buf.subarray(0, end).toString())?.[1] ?? 0);
      this.upgraded = true;
      this.buf = this.buf.subarray(end + 4);
      if (this.status !== 101) { this.messages.push(this.buf.toString()); this.wake(); return; }
    }
    for (;;) {
      if (this.buf.length < 2) break;
      const op = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let at = 2;
      if (len === 126) { if (this.buf.length < 4) break; len = this.buf.readUInt16BE(2); at = 4; }
      else if (len === 127) { if (this.buf.length < 10) break; len = Number(this.buf.readBigUInt64BE(2)); at = 10; }
      if (this.buf.length < at + len) break;
      const payload = this.buf.subarray(at, at + len);
      this.buf = this.buf.subarray(at + len);
      if (op === 1) this.messages.push(JSON.parse(payload.toString()));
      else if (op === 8) { this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005; this.sock.destroy(); }
    }
    this.wake();
  }

  async until(cond: () => boolean, ms = 5000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out; status ${this.status}, ${this.messages.length} messages, close ${this.closeCode}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 50); });
    }
  }

  events(): any[] {
    return this.messages.filter((m) => m.type !== "hello");
  }

  close(): void {
    this.sock.destroy();
  }
}

const waitFor = async (cond: () => boolean, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
};

test("events: streamed as JSON, filtered by kind; the daemon is listened to only while clients are", async () => {
  const src = populated();
  await withApi(src, {}, async (_base, api) => {
    assert.equal(src.listenerCount, 0);
    const all = new WsClient(api.port, "/api/events");
    const ct = new WsClient(api.port, "/api/events?kinds=ct");
    const peerCommit = new WsClient(api.port, "/api/events?kinds=peer,commit");
    await all.until(() => all.messages.length === 1);
    await ct.until(() => ct.messages.length === 1);
    await peerCommit.until(() => peerCommit.messages.length === 1);
    assert.equal(all.status, 101);
    assert.equal(all.messages[0].type, "hello");
    assert.deepEqual(ct.messages[0].types, ["ct-new", "ct-update", "ct-destroy"]);
    assert.equal(src.listenerCount, 1);
    const at = Date.now();
    src.emit({ type: "ct-new", at, cache: "internal", ct: flow(1) });
    src.emit({ type: "exp-destroy", at, cache: "external", exp: src.exp.internal[0].exp });
    src.emit({ type: "link", at, link: 0, what: "peer-hello", peer: "10.0.0.2", message: "peer 10.0.0.2 answered HELLO" });
    src.emit({ type: "ct-destroy", at, cache: "external", ct: flow(2) });
    src.emit({ type: "commit", at, kinds: "ct", result: { status: "done", committed: 3, failed: 0, seconds: 0.01 } });
    await all.until(() => all.events().length === 5);
    await ct.until(() => ct.events().length === 2);
    await peerCommit.until(() => peerCommit.events().length === 2);
    assert.deepEqual(all.events().map((e) => e.type), ["ct-new", "exp-destroy", "link", "ct-destroy", "commit"]);
    assert.deepEqual(all.events()[0], { type: "ct-new", at, cache: "internal", ct: flow(1) });
    assert.deepEqual(ct.events().map((e) => e.ct.id), [1, 2]);
    assert.deepEqual(peerCommit.events().map((e) => e.type), ["link", "commit"]);
    all.close(); ct.close(); peerCommit.close();
    await waitFor(() => src.listenerCount === 0);
  });
});

test("events: an unknown kind is refused with 400 before the upgrade", async () => {
  await withApi(populated(), {}, async (_base, api) => {
    const c = new WsClient(api.port, "/api/events?kinds=ct,flows");
    await c.until(() => c.status !== 0);
    assert.equal(c.status, 400);
    await c.until(() => c.messages.length > 0 || c.closeCode !== null);
    assert.match(c.messages.join(""), /unknown event kind \\"flows\\" \(known: ct, exp, peer, commit\)/);
    c.close();
  });
});

test("events: a client that does not read is dropped; the daemon and the other clients are not slowed", async () => {
  const src = populated();
  await withApi(src, { maxBackpressure: 64 * 1024 }, async (base, api, logs) => {
    const fast = new WsClient(api.port, "/api/events?kinds=ct");
    const slow = new WsClient(api.port, "/api/events?kinds=ct", { read: false });
    await fast.until(() => fast.messages.length === 1);
    await new Promise((r) => setTimeout(r, 200)); // the slow one is upgraded, then stops reading
    assert.equal(src.listenerCount, 1);
    const big = { ...flow(0), labels: "x".repeat(900) }; // about 1 KiB per event
    let emitted = 0;
    let longestEmitMs = 0;
    const dropped = () => logs.some((l) => l.includes("dropped an event-stream client"));
    // Bursts with a turn of the event loop between them, as the daemon's drain does, until the slow one is dropped.
    while (!dropped() && emitted < 100_000) {
      const t0 = performance.now();
      for (let i = 0; i < 500; i++) src.emit({ type: "ct-new", at: Date.now(), cache: "internal", ct: { ...big, id: emitted++ } });
      longestEmitMs = Math.max(longestEmitMs, performance.now() - t0);
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(dropped(), `the slow client was never dropped after ${emitted} events`);
    // Its connection is closed at once: once it reads again, it finds the end.
    slow.sock.resume();
    await slow.until(() => slow.closeCode !== null, 10_000);
    assert.ok(slow.events().length < emitted, "the slow client got everything: it was not slow");
    // 500 events handed over in well under a millisecond each: the sync path never waits for a client.
    assert.ok(longestEmitMs < 50, `a burst of 500 events took ${longestEmitMs.toFixed(1)} ms to hand over`);
    await fast.until(() => fast.events().length === emitted, 20_000);
    assert.deepEqual(fast.events().map((e) => e.ct.id), Array.from({ length: emitted }, (_, i) => i));
    assert.match(logs.join("\n"), /dropped an event-stream client that did not keep up \(more than 65536 bytes waiting\)/);
    const m = await get(`${base}/metrics`);
    assert.match(m.text, /^ctsync_api_event_clients_dropped_total 1$/m);
    assert.match(m.text, /^ctsync_api_event_clients 1$/m);
    fast.close();
    slow.close();
  });
});

test("close() ends the event clients with 1001", async () => {
  const src = populated();
  const api = await startApi(src, cfg(), () => undefined);
  const c = new WsClient(api.port, "/api/events");
  await c.until(() => c.messages.length === 1);
  await api.close();
  await c.until(() => c.closeCode !== null);
  assert.equal(c.closeCode, 1001);
  assert.equal(src.listenerCount, 0);
});

// --- as an adversary uses it (issue 15's attack surface) -----------------------

/** Sends raw bytes on a TCP connection to the API and reads what comes back until it closes (or `ms`). */
function raw(port: number, chunks: (string | Uint8Array)[], gapMs = 0, ms = 5000): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let out = "";
    s.on("data", (d) => (out += d));
    s.on("error", () => resolve(out));
    s.on("close", () => resolve(out));
    const timer = setTimeout(() => { s.destroy(); resolve(out); }, ms);
    s.on("close", () => clearTimeout(timer));
    s.once("connect", async () => {
      for (const c of chunks) {
        s.write(c);
        if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}

test("adversary: oversized bodies get 413, paths outside the API 404 (no file is ever served), garbage requests are refused", async () => {
  await withApi(populated(), {}, async (base, api) => {
    const huge = "x".repeat(4 << 20);
    const r = await post(`${base}/api/commit`, huge);
    assert.equal(r.status, 413);
    for (const path of ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/../../etc/shadow", "/dashboard/../../../etc/hosts", "/index.html"]) {
      const g = await raw(api.port, [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`]);
      assert.match(g, /^HTTP\/1\.1 404 /, `${path}: ${g.slice(0, 80)}`);
      assert.doesNotMatch(g, /root:|localhost/, `${path} served a file`);
    }
    const junk = await raw(api.port, [new Uint8Array(randomBytes(2048))]);
    assert.doesNotMatch(junk, /^HTTP\/1\.1 200/, "garbage is never answered 200");
    assert.equal((await get(`${base}/api/stats`)).status, 200, "the API still answers");
  });
});

test("adversary: a client trickling its request does not hold up the others", async () => {
  await withApi(populated(), {}, async (base, api) => {
    const request = `GET /api/stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
    let slowDone = false;
    const slow = raw(api.port, request.split(""), 50, 10_000).then((r) => { slowDone = true; return r; }); // a byte every 50 ms
    for (let i = 0; i < 20; i++) assert.equal((await get(`${base}/api/stats`)).status, 200);
    assert.equal(slowDone, false, "the others were all answered while the slow one was still sending");
    assert.match(await slow, /^HTTP\/1\.1 200 /, "the slow one is answered in the end");
  });
});

test("adversary: a thousand event-stream clients at once are served, then gone, and the API goes on", async () => {
  const src = populated();
  await withApi(src, {}, async (base, api) => {
    const clients = Array.from({ length: 1000 }, () => new WsClient(api.port, "/api/events?kinds=ct"));
    for (const c of clients) await c.until(() => c.messages.length >= 1, 20_000);
    assert.equal((await get(`${base}/api/stats`)).status, 200);
    src.emit({ type: "ct-new", at: Date.now(), cache: "internal", ct: { ...flow(1), id: 1 } });
    for (const c of clients) await c.until(() => c.events().length === 1, 20_000);
    assert.match((await get(`${base}/metrics`)).text, /^ctsync_api_event_clients 1000$/m);
    for (const c of clients) c.close();
    const deadline = Date.now() + 10_000;
    while (!/^ctsync_api_event_clients 0$/m.test((await get(`${base}/metrics`)).text) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.match((await get(`${base}/metrics`)).text, /^ctsync_api_event_clients 0$/m, "every client is gone");
    assert.equal(src.listenerCount, 0, "and the daemon is no longer listened to");
  });
});
