// The Stats mode's log lines against conntrackd 1.4.7's for the same flows:
// test/fixtures/stats/stats-golden.json holds every ctnetlink message the
// kernel sent while conntrackd in Stats mode logged TCP, UDP, ICMP, IPv6,
// SCTP, NAT, marked and zoned flows (acct and timestamps on), and the lines
// it wrote (test/fixtures/capture/stats.py). Fed the same messages, the
// core and stats-log.ts must write the same lines, byte for byte after the
// date (the date is the time of writing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../host/config/load.ts";
import { FlowCollector, type FlowLogs } from "../host/stats/daemon.ts";
import { ctime } from "../host/process/log.ts";

interface Golden { config: string; messages: string[]; log: string[] }
const golden = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/stats/stats-golden.json", import.meta.url)), "utf8")) as Golden;
const latin1 = new TextDecoder("latin1");

/** Feeds the recorded messages through the core; returns the lines it wrote. */
function replay(logs: FlowLogs, now = new Date(2026, 10, 3, 7, 5, 9)): { text: string[]; json: string[]; c: FlowCollector } {
  const { config } = parseConfig(golden.config.replaceAll("{dir}", "/tmp"), "stats-golden.conf");
  const c = new FlowCollector(config);
  c.stamp(now);
  let text = "", json = "";
  for (const hex of golden.messages) {
    const bytes = Buffer.from(hex, "hex");
    c.core.bytes.set(bytes, c.core.fn.nlPtr());
    c.feed(bytes.length, logs, (t, j) => { text += latin1.decode(t); json += latin1.decode(j); });
  }
  const lines = (s: string) => s.split("\n").filter((l) => l !== "");
  return { text: lines(text), json: lines(json), c };
}

test("destroyed flows: the same lines as conntrackd 1.4.7 wrote, in the same order", () => {
  const { text } = replay({ text: true, json: false });
  const after = (l: string) => l.slice(l.indexOf("\t") + 1);
  assert.ok(golden.log.length >= 10, "the fixture has the flows");
  assert.deepEqual(text.map(after), golden.log.map(after));
});

test("the filter of the General section drops the ignored address's flow, as conntrackd's did", () => {
  const { text, c } = replay({ text: true, json: false });
  assert.ok(!text.some((l) => l.includes("src=127.0.0.9 ")));
  assert.ok(c.core.engineStats().kernel_filtered > 0);
});

test("traffic processed: the destroyed flows' counters summed", () => {
  const { c } = replay({ text: false, json: false });
  const bytes = golden.log.reduce((sum, l) => sum + [...l.matchAll(/bytes=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
  const packets = golden.log.reduce((sum, l) => sum + [...l.matchAll(/packets=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
  assert.equal(c.bytes, BigInt(bytes));
  assert.equal(c.packets, BigInt(packets));
});

test("a line starts with ctime() of the time of writing and a tab", () => {
  const { text } = replay({ text: true, json: false });
  assert.match(text[0], /^Tue Nov  3 07:05:09 2026\t\S/);
  for (const l of golden.log) assert.match(l, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\t/);
  assert.equal(ctime(new Date(2026, 10, 29, 17, 56, 36)), "Sun Nov 29 17:56:36 2026");
});

test("delta-time: whole seconds between the flow's start and stop", () => {
  const { json } = replay({ text: false, json: true });
  for (const o of json.map((l) => JSON.parse(l))) {
    const secs = Math.floor(Date.parse(o.stop) / 1000) - Math.floor(Date.parse(o.start) / 1000);
    assert.equal(o.deltaTimeSeconds, secs, JSON.stringify(o));
  }
});

test("JSON lines: one object per flow, -i -j's field names, counters and times", () => {
  const { json, text } = replay({ text: true, json: true }, new Date(Date.UTC(2026, 10, 29, 17, 56, 36)));
  assert.equal(json.length, golden.log.length);
  assert.equal(text.length, golden.log.length, "both logs at once");
  for (const line of json) {
    const o = JSON.parse(line);
    assert.equal(o.time, "2026-11-29T17:56:36.000Z");
    assert.equal(typeof o.ct.src, "string");
    assert.equal(typeof o.ct.l4proto, "number");
    assert.equal(o.ct.timeout, undefined);
    assert.equal(typeof o.reply.src, "string");
    assert.equal(typeof o.counters.orig.packets, "number");
    assert.match(o.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(typeof o.deltaTimeSeconds, "number");
  }
  const objs = json.map((l) => JSON.parse(l));
  const nat = objs.find((o) => o.ct.dport === 5300);
  assert.deepEqual({ sport: nat.reply.sport, src: nat.reply.src }, { sport: 5301, src: "127.0.0.1" });
  // The JSON tells what the text does: the same counters, flow by flow.
  objs.forEach((o, i) => {
    const m = /packets=(\d+) bytes=(\d+)/.exec(text[i])!;
    assert.deepEqual([o.counters.orig.packets, o.counters.orig.bytes], [Number(m[1]), Number(m[2])]);
  });
});

test("ISO 8601 times as Date.prototype.toISOString writes them, across years, leap days and milliseconds", () => {
  // The JSON's "time" is the stamp's clock: set it to each instant and read it back.
  const { config } = parseConfig(golden.config.replaceAll("{dir}", "/tmp"), "stats-golden.conf");
  const c = new FlowCollector(config);
  for (const ms of [0, 951782400000, 951868799999, 1709251199123, 4102444800000, 253402300799999, Date.UTC(2026, 10, 29, 17, 56, 36, 7)]) {
    c.stamp(new Date(ms));
    let out = "";
    for (const hex of golden.messages) {
      const b = Buffer.from(hex, "hex");
      c.core.bytes.set(b, c.core.fn.nlPtr());
      c.feed(b.length, { text: false, json: true }, (_t, j) => { out += latin1.decode(j); });
      if (out) break;
    }
    assert.ok(out, "a destroyed flow was logged");
    assert.equal(JSON.parse(out.split("\n")[0]).time, new Date(ms).toISOString(), String(ms));
  }
});
