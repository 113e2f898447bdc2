// -i / -e as the core writes them (assembly/dump-text.ts): a walk over a real
// cache in chunks, each entry's line the same as the record's own, JSON
// arrays that parse, pages that add up, and a walk that survives entries
// destroyed between its chunks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode } from "./support/node.ts";
import { TextDump, chunks, page, recordText, TEXT_CHUNK } from "../host/formats/text-dump.ts";
import type { Conntrack } from "../host/record-view.ts";

const flow = (i: number): Conntrack => ({
  family: i % 3 === 0 ? "ipv6" : "ipv4",
  src: i % 3 === 0 ? `2001:db8::${(i & 0xffff).toString(16)}` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  dst: i % 3 === 0 ? "2001:db8::1" : "192.0.2.1",
  l4proto: 6, sport: 1024 + (i % 50000), dport: 443, tcpState: 3, status: 14, timeout: 300, mark: i,
});

function nodeWith(n: number): TestNode {
  const node = new TestNode("ftfw", { hashSize: 4096 });
  for (let i = 0; i < n; i++) node.ctEvent(flow(i));
  return node;
}

const latin1 = new TextDecoder("latin1");
const text = (parts: Iterable<Uint8Array>) => [...parts].map((b) => latin1.decode(b)).join("");
const lines = (s: string) => s.split("\n").filter((l) => l !== "").sort();

test("a dump of 5000 entries comes in chunks of whole lines, each the record's own line", () => {
  const node = nodeWith(5000);
  const cache = node.k("CACHE_INTERNAL_CT");
  const parts = [...chunks(new TextDump(node.core, cache, "plain"))];
  assert.ok(parts.length > 1, "more than one chunk");
  for (const p of parts) {
    assert.ok(p.length <= TEXT_CHUNK + 4096);
    assert.equal(p[p.length - 1], 0x0a, "a chunk ends with a whole line");
  }
  const got = lines(text(parts));
  assert.equal(got.length, 5000);
  const want = node.dump("CACHE_INTERNAL_CT").map((ct) => {
    node.view.writeCt(ct as Conntrack);
    return recordText(node.core, "ct", "plain", { age: 0 }).trimEnd();
  }).sort();
  assert.deepEqual(got, want);
  assert.match(got[0], /^tcp {6}6 ESTABLISHED src=\S+ dst=\S+ sport=\d+ dport=443 src=\S+ dst=\S+ sport=443 dport=\d+ \[ASSURED\] mark=\d+ \[active since 0s\]$/);
});

test("JSON: the elements join into an array that parses, one per line", () => {
  const node = nodeWith(3000);
  const body = text(chunks(new TextDump(node.core, node.k("CACHE_INTERNAL_CT"), "json", { jsonLines: true })));
  const arr = JSON.parse(`[${body}\n]`) as { ct: Conntrack; reply: { sport: number } }[];
  assert.equal(arr.length, 3000);
  assert.equal(body.split("\n").length, 3001);
  assert.deepEqual(new Set(arr.map((e) => e.ct.mark)).size, 3000);
  assert.ok(arr.every((e) => e.reply.sport === 443));
});

test("external entries print without the reply tuple, and ALARM's timer counts down from CacheTimeout", () => {
  const a = new TestNode("alarm", { cacheTimeout: 180 });
  const b = new TestNode("alarm", { cacheTimeout: 180 });
  for (let i = 0; i < 10; i++) a.ctEvent(flow(i + 1));
  b.receive(a.flush());
  b.tick(5);
  const out = text(chunks(new TextDump(b.core, b.k("CACHE_EXTERNAL_CT"), "plain", { noReply: true, expiresAfter: 180 })));
  const ls = lines(out);
  assert.equal(ls.length, 10);
  for (const l of ls) assert.match(l, /^tcp {6}6 ESTABLISHED src=\S+ dst=\S+ sport=\d+ dport=443 \[ASSURED\] mark=\d+ \[expires in 175s\] \[active since 5s\]$/);
});

test("pages: skip and a count of entries cover the cache once, with bare commas between JSON elements", () => {
  const node = nodeWith(1000);
  const cache = node.k("CACHE_INTERNAL_CT");
  const seen: number[] = [];
  for (let offset = 0; offset < 1100; offset += 300) {
    const walk = new TextDump(node.core, cache, "json");
    assert.equal(walk.skip(offset), Math.min(offset, 1000));
    const p = page(walk, 300);
    assert.equal(p.more, offset + 300 < 1000);
    const elements = JSON.parse(`[${text(p.bytes)}]`) as { ct: Conntrack }[];
    assert.equal(elements.length, p.entries);
    assert.equal(elements.length, Math.max(0, Math.min(300, 1000 - offset)));
    seen.push(...elements.map((e) => e.ct.mark!));
  }
  assert.deepEqual(seen.sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test("entries destroyed between chunks: the walk goes on with the rest, every line whole", () => {
  const node = nodeWith(6000);
  const walk = new TextDump(node.core, node.k("CACHE_INTERNAL_CT"), "plain");
  const first = walk.next()!;
  // The host runs kernel events between two chunks: half the table goes.
  for (let i = 0; i < 6000; i += 2) node.ctEvent(flow(i), "delete");
  const rest = text(chunks(walk));
  const all = lines(latin1.decode(first.bytes) + rest);
  for (const l of all) assert.match(l, /^tcp {6}6 ESTABLISHED .* \[active since 0s\]$/);
  const marks = all.map((l) => Number(/mark=(\d+)/.exec(l)![1]));
  assert.equal(new Set(marks).size, marks.length, "no entry twice");
  const odd = marks.filter((m) => m % 2 === 1).length;
  assert.equal(odd, 3000, "every surviving entry once");
});

test("two dumps taking turns (two clients at once) each get their own cache, whole", () => {
  const node = nodeWith(4000);
  const lone = (cache: number, style: "plain" | "xml") => lines(text(chunks(new TextDump(node.core, cache, style))));
  const ct = node.k("CACHE_INTERNAL_CT");
  const wantPlain = lone(ct, "plain"), wantXml = lone(ct, "xml");
  const a = new TextDump(node.core, ct, "plain"), b = new TextDump(node.core, ct, "xml");
  const gotA: Uint8Array[] = [], gotB: Uint8Array[] = [];
  for (let ca = a.next(), cb = b.next(); ca || cb; ca = a.next(), cb = b.next()) {
    if (ca) gotA.push(ca.bytes);
    if (cb) gotB.push(cb.bytes);
  }
  assert.ok(gotA.length > 1 && gotB.length > 1, "both took several turns");
  assert.deepEqual(lines(text(gotA)), wantPlain);
  assert.deepEqual(lines(text(gotB)), wantXml);
});
