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
import { FlowCollector } from "../host/stats/daemon.ts";
import { deltaTime, flowJson, flowLine, flowText, type FlowExtras } from "../host/stats/log.ts";
import type { Conntrack } from "../host/record-view.ts";
import { ctime } from "../host/process/log.ts";

interface Golden { config: string; messages: string[]; log: string[] }
const golden = JSON.parse(readFileSync(fileURLToPath(new URL("./fixtures/stats/stats-golden.json", import.meta.url)), "utf8")) as Golden;

function replay(each: (ct: Conntrack, x: FlowExtras) => string): { out: string[]; c: FlowCollector } {
  const { config } = parseConfig(golden.config.replaceAll("{dir}", "/tmp"), "stats-golden.conf");
  const c = new FlowCollector(config);
  const out: string[] = [];
  for (const hex of golden.messages) {
    const bytes = Buffer.from(hex, "hex");
    c.core.bytes.set(bytes, c.core.fn.nlPtr());
    c.feed(bytes.length, (ct, x) => out.push(each(ct, x)));
  }
  return { out, c };
}

test("destroyed flows: the same lines as conntrackd 1.4.7 wrote, in the same order", () => {
  const { out } = replay((ct, x) => flowText(ct, x, 0));
  const theirs = golden.log.map((l) => l.slice(l.indexOf("\t") + 1));
  assert.ok(theirs.length >= 10, "the fixture has the flows");
  assert.deepEqual(out, theirs);
});

test("the filter of the General section drops the ignored address's flow, as conntrackd's did", () => {
  const { out, c } = replay((ct) => ct.src);
  assert.ok(!out.includes("127.0.0.9"));
  assert.ok(c.core.engineStats().kernel_filtered > 0);
});

test("traffic processed: the destroyed flows' counters summed", () => {
  const { c } = replay(() => "");
  const bytes = golden.log.reduce((sum, l) => sum + [...l.matchAll(/bytes=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
  const packets = golden.log.reduce((sum, l) => sum + [...l.matchAll(/packets=(\d+)/g)].reduce((a, m) => a + Number(m[1]), 0), 0);
  assert.equal(c.bytes, BigInt(bytes));
  assert.equal(c.packets, BigInt(packets));
});

test("a line starts with ctime() of the time of writing and a tab", () => {
  const { out } = replay((ct, x) => flowLine(ct, x, new Date(2026, 10, 3, 7, 5, 9)));
  assert.match(out[0], /^Tue Nov  3 07:05:09 2026\t\S.*\n$/);
  for (const l of golden.log) assert.match(l, /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}\t/);
  assert.equal(ctime(new Date(2026, 10, 29, 17, 56, 36)), "Sun Nov 29 17:56:36 2026");
});

test("delta-time: whole seconds between start and stop, or to now while running", () => {
  assert.equal(deltaTime(1_000_000_000n * 100n + 999_999_999n, 1_000_000_000n * 102n, 0), 2n);
  assert.equal(deltaTime(1_000_000_000n * 100n, undefined, 150), 50n);
  assert.equal(deltaTime(1_000_000_000n * 100n, 0n, 130), 30n);
});

test("JSON lines: one object per flow, -i -j's field names, counters and times", () => {
  const { out } = replay((ct, x) => flowJson(ct, x, new Date(Date.UTC(2026, 10, 29, 17, 56, 36))));
  assert.equal(out.length, golden.log.length);
  for (const line of out) {
    assert.ok(line.endsWith("}\n") && !line.slice(0, -1).includes("\n"));
    const o = JSON.parse(line);
    assert.equal(o.time, "2026-11-29T17:56:36.000Z");
    assert.equal(typeof o.ct.src, "string");
    assert.equal(typeof o.ct.l4proto, "number");
    assert.equal(o.ct.timeout, undefined);
    assert.equal(typeof o.reply.src, "string");
    assert.equal(typeof o.counters.orig.packets, "number");
    assert.match(o.start, /^\d{4}-\d\d-\d\dT/);
    assert.equal(typeof o.deltaTimeSeconds, "number");
  }
  const nat = out.map((l) => JSON.parse(l)).find((o) => o.ct.dport === 5300);
  assert.deepEqual({ sport: nat.reply.sport, src: nat.reply.src }, { sport: 5301, src: "127.0.0.1" });
});
