// The -i/-e lines, the XML form and the -s sections, compared byte for byte
// with the real conntrackd 1.4.7's outputs (test/fixtures/conntrackd-output),
// plus the cases the capture does not show, from libnetfilter_conntrack's rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  conntrackJson, conntrackLine, conntrackPlain, conntrackXml, expectationLine, expectationPlain, expectationXml, replyOf,
} from "./support/core-format.ts";
import { statsText, uptimeText, type StatsData } from "../host/formats/stats.ts";
import { statsJson, toJson } from "../host/formats/json.ts";
import { FIXTURES } from "./support/fixtures.ts";
import {
  CAPTURED_CACHES, CAPTURED_CONNTRACKS, CAPTURED_EXPECTATIONS, CAPTURED_LINK, CAPTURED_QUEUES,
  CAPTURED_RSQUEUE, ZERO_NETWORK, capturedRuntime, counters,
} from "./support/control-fake.ts";
import type { Conntrack } from "../host/record-view.ts";

const fixture = (name: string) => readFileSync(join(FIXTURES, "conntrackd-output", name), "latin1");
/** The only field that varies between runs. */
const sameAge = (s: string) => s.replace(/\[active since \d+s\]/g, "[active since Ns]");

function assertLines(actual: string, expected: string) {
  const a = sameAge(actual).split("\n");
  const e = sameAge(expected).split("\n");
  for (let i = 0; i < Math.max(a.length, e.length); i++) assert.equal(a[i], e[i], `line ${i + 1}`);
}

const ct = (entries: Conntrack[], f: "plain" | "xml") => entries.map((c) => conntrackLine({ ct: c, ageSeconds: 1 }, f)).join("");

// --- -i / -e -----------------------------------------------------------------

test("-i: conntracks as conntrackd prints them", () => {
  assertLines(ct(CAPTURED_CONNTRACKS, "plain"), fixture("i.out"));
});

test("-i -x: conntracks in XML", () => {
  assertLines(ct(CAPTURED_CONNTRACKS, "xml"), fixture("i-x.out"));
});

test("-i expect and -i expect -x", () => {
  const lines = (f: "plain" | "xml") => CAPTURED_EXPECTATIONS.map((exp) => expectationLine({ exp, ageSeconds: 1 }, f)).join("");
  assertLines(lines("plain"), fixture("i-exp.out"));
  assertLines(lines("xml"), fixture("i-exp-x.out"));
});

test("an empty cache prints nothing at all (-e, -e expect, -e -x)", () => {
  for (const f of ["e.out", "e-exp.out", "e-x.out"]) assert.equal(fixture(f), "");
  assert.equal(ct([], "plain"), "");
});

test("the age suffix, and ALARM's timer before it", () => {
  const c = CAPTURED_CONNTRACKS[3];
  assert.match(conntrackLine({ ct: c, ageSeconds: 12.7 }, "plain"), / mark=0 \[active since 12s\]\n$/);
  assert.match(conntrackLine({ ct: c, ageSeconds: 3, expiresInSeconds: 170 }, "plain"), / mark=0 \[expires in 170s\] \[active since 3s\]\n$/);
  assert.doesNotMatch(conntrackLine({ ct: c, ageSeconds: 3, expiresInSeconds: 170 }, "xml"), /expires|active/);
});

// --- what the capture does not show ----------------------------------------------

test("protocol names are padded to 8, then the number", () => {
  const line = (l4proto: number, extra: Partial<Conntrack> = {}) =>
    conntrackPlain({ family: "ipv4", src: "10.0.0.1", dst: "10.0.0.2", l4proto, sport: 1, dport: 2, ...extra });
  assert.equal(line(17), "udp      17 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1");
  assert.equal(line(132, { sctp: { state: 3 } }), "sctp     132 COOKIE_ECHOED src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1");
  assert.equal(line(33, { dccp: { state: 4 } }), "dccp     33 OPEN src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1");
  assert.equal(line(136), "udplite  136 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1");
  assert.equal(line(47), "gre      47 src=10.0.0.1 dst=10.0.0.2 srckey=0x1 dstkey=0x2 src=10.0.0.2 dst=10.0.0.1 srckey=0x2 dstkey=0x1");
  assert.equal(line(50), "unknown  50 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1");
  assert.ok(line(6, { tcpState: 42 }).startsWith("tcp      6 NONE src=10.0.0.1 "), "an unknown TCP state prints NONE");
});

test("the reply tuple is derived from the original and the NAT", () => {
  const nat: Conntrack = {
    family: "ipv4", src: "192.168.1.10", dst: "203.0.113.5", l4proto: 6, sport: 5000, dport: 80,
    snat: "198.51.100.1", spat: 61000, tcpState: 3, status: 0x19e,
  };
  assert.equal(conntrackPlain(nat),
    "tcp      6 ESTABLISHED src=192.168.1.10 dst=203.0.113.5 sport=5000 dport=80 "
    + "src=203.0.113.5 dst=198.51.100.1 sport=80 dport=61000 [ASSURED]");
  const dnat = replyOf({ ...nat, snat: undefined, spat: undefined, dnat: "10.0.0.8", dpat: 8080 });
  assert.deepEqual([dnat.src, dnat.dst, dnat.sport, dnat.dport], ["10.0.0.8", "192.168.1.10", 8080, 5000]);
});

test("ICMP replies answer the request type and keep id and code", () => {
  const icmp = (family: "ipv4" | "ipv6", l4proto: number, type: number) =>
    replyOf({ family, src: "::1", dst: "::2", l4proto, icmp: { type, code: 0, id: 99 } }).icmp!;
  assert.deepEqual(icmp("ipv4", 1, 8), { type: 0, code: 0, id: 99 });
  assert.deepEqual([13, 15, 17].map((t) => icmp("ipv4", 1, t).type), [14, 16, 18]);
  assert.equal(icmp("ipv6", 58, 128).type, 129);
  assert.equal(icmp("ipv4", 1, 3).type, 255, "no answer type: libnetfilter_conntrack leaves 255");
  const v6: Conntrack = { family: "ipv6", src: "2001:db8::1", dst: "2001:db8::2", l4proto: 58, icmp: { type: 128, code: 0, id: 7 }, status: 0 };
  assert.equal(conntrackPlain(v6),
    "icmpv6   58 src=2001:db8::1 dst=2001:db8::2 type=128 code=0 id=7 [UNREPLIED] src=2001:db8::2 dst=2001:db8::1 type=129 code=0 id=7");
});

test("status: offload beats assured; zone after mark; labels and id never in plain", () => {
  const base: Conntrack = { family: "ipv4", src: "1.1.1.1", dst: "2.2.2.2", l4proto: 17, sport: 1, dport: 2 };
  assert.match(conntrackPlain({ ...base, status: (1 << 14) | 6 }), / \[OFFLOAD\]$/);
  assert.match(conntrackPlain({ ...base, status: (1 << 15) | (1 << 14) | 6 }), / \[HW_OFFLOAD\]$/);
  assert.match(conntrackPlain({ ...base, mark: 7, zone: 3, helper: "tftp", labels: "01", id: 5 }), / mark=7 zone=3 helper=tftp$/);
});

test("XML: SCTP states come from the TCP table (libnetfilter_conntrack 1.0.x); no meta without its fields", () => {
  const base: Conntrack = { family: "ipv4", src: "1.1.1.1", dst: "2.2.2.2", l4proto: 132, sport: 1, dport: 2 };
  assert.match(conntrackXml({ ...base, sctp: { state: 3 } }), /<meta direction="independent"><state>ESTABLISHED<\/state><\/meta><\/flow>$/);
  assert.doesNotMatch(conntrackXml(base), /independent/);
  assert.match(conntrackXml({ ...base, family: "ipv6", src: "::1", dst: "::2" }), /<layer3 protonum="10" protoname="ipv6"><src>::1<\/src>/);
});

test("expectation flags, zone and IPv6 masks", () => {
  const exp = {
    ...CAPTURED_EXPECTATIONS[0], flags: 3, zone: 2, helper: undefined,
    mask: { family: "ipv6" as const, src: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", dst: "FFFF:FFFF:0:0:0:0:0:0" },
  };
  assert.equal(expectationPlain(exp),
    "proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=40004 mask-src=ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    + "mask-dst=ffff:ffff:: sport=0 dport=0 master-src=127.0.0.1 master-dst=127.0.0.1 sport=40002 dport=21 "
    + "zone=2 PERMANENT,INACTIVE class=0");
  assert.match(expectationXml(exp), /<meta><class>0<\/class><zone>2<\/zone><permanent\/><inactive\/><\/meta><\/flow>$/);
});

test("IPv6 addresses as glibc's inet_ntop writes them", () => {
  const cases: [string, string][] = [
    ["0:0:0:0:0:0:0:0", "::"], ["0:0:0:0:0:0:0:1", "::1"], ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], ["0:0:0:0:0:ffff:c000:201", "::ffff:192.0.2.1"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"], ["::c000:201", "::192.0.2.1"], ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["fe80::1:0:0", "fe80::1:0:0"], ["1:0:0:0:0:0:0:0", "1::"],
  ];
  const addr = (a: string) => /^\S+ +\d+ src=(\S+) /.exec(conntrackPlain({ family: "ipv6", src: a, dst: "::2", l4proto: 17, sport: 1, dport: 2 }))![1];
  for (const [input, out] of cases) assert.equal(addr(input), out, input);
  // The JSON keeps plain groups: no dotted tail.
  assert.equal(JSON.parse(conntrackJson({ ct: { family: "ipv6", src: "::ffff:c000:201", dst: "::2", l4proto: 17 }, ageSeconds: 0 })).ct.src, "::ffff:c000:201");
});

// --- -s ----------------------------------------------------------------------

const general = (section: "general" | "expect"): StatsData => {
  const kind = section === "general" ? "ct" : "expect";
  return {
    section, internal: CAPTURED_CACHES[kind].internal, external: CAPTURED_CACHES[kind].external,
    traffic: { bytes: 0, packets: 0 }, activeLink: CAPTURED_LINK, network: ZERO_NETWORK,
  };
};

test("-s, -s ct and -s expect", () => {
  assert.equal(statsText(general("general")), fixture("s.out"));
  assert.equal(statsText(general("general")), fixture("s-ct.out"));
  assert.equal(statsText(general("expect")), fixture("s-expect.out"));
});

test("-s cache, link, network", () => {
  assert.equal(statsText({ section: "cache", internal: CAPTURED_CACHES.ct.internal, external: CAPTURED_CACHES.ct.external }), fixture("s-cache.out"));
  assert.equal(statsText({ section: "link", links: [CAPTURED_LINK] }), fixture("s-link.out"));
  assert.equal(statsText({ section: "network", network: ZERO_NETWORK, activeLink: CAPTURED_LINK }), fixture("s-network.out"));
});

test("-s queue, rsqueue, runtime, process", () => {
  assert.equal(statsText({ section: "queue", queues: CAPTURED_QUEUES }), fixture("s-queue.out"));
  assert.equal(statsText({ section: "rsqueue", items: CAPTURED_RSQUEUE }), fixture("s-rsqueue.out"));
  const local = { localReadFailed: 0, localUnknownRequest: 0 };
  assert.equal(statsText({ section: "runtime", runtime: capturedRuntime(1000), local, now: 1059 }), fixture("s-runtime.out"));
  assert.equal(statsText({ section: "process", processes: [] }), fixture("s-process.out"));
  assert.equal(statsText({ section: "process", processes: [{ pid: 42, type: "flush" }] }), "PID=42 type=flush\n");
});

test("link headers of the other channel kinds, backup role, control elements, wide counters", () => {
  const tcp = { ...CAPTURED_LINK, type: "tcp" as const, device: "eth1", active: false, status: "NO-CARRIER" as const,
    tcp: { serverConnected: true, clientConnected: false } };
  assert.match(statsText({ section: "link", links: [tcp] }), /^TCP traffic device=eth1 status=NO-CARRIER role=BACKUP:\n/);
  const general2 = { ...general("general"), activeLink: { ...tcp, active: true } } as StatsData;
  assert.match(statsText(general2), /\nTCP traffic \(active device=eth1\) server=connected client=disconnected:\n/);
  const mc = { ...CAPTURED_LINK, type: "multicast" as const, device: "eth2" };
  assert.match(statsText({ section: "link", links: [mc] }), /^multicast traffic device=eth2 status=RUNNING role=ACTIVE:\n/);
  assert.equal(statsText({ section: "rsqueue", items: [{ kind: "control", seq: 9, flags: 2 }] }), "resent queue (len=1)\ncontrol -> seq:9 flags:2\n");
  const big = statsText({ section: "cache", internal: counters({ active: 1234567890123 }), external: counters() });
  assert.match(big, /\tactive\/total entries:\t\t1234567890123\/           0\n/);
});

test("uptime as conntrackd rounds it", () => {
  assert.equal(uptimeText(59), "0 min");
  assert.equal(uptimeText(3600 * 5 + 61), "5 h 1 min");
  assert.equal(uptimeText(86400 + 120), "1 day 2 min");
  assert.equal(uptimeText(2 * 86400 + 3 * 3600), "2 days 3 h 0 min");
});

// --- JSON ----------------------------------------------------------------------

test("JSON: dumps carry the record and its reply; stats their section; big counters stay exact", () => {
  const j = JSON.parse(conntrackJson({ ct: CAPTURED_CONNTRACKS[1], ageSeconds: 4 }));
  assert.deepEqual(j.reply, { src: "198.51.100.1", dst: "192.0.2.1", sport: 22, dport: 40000 });
  assert.equal(j.ageSeconds, 4);
  assert.equal(j.ct.tcpState, 3);
  const s = JSON.parse(statsJson(general("general")));
  assert.equal(s.section, "general");
  assert.equal(s.internal.active, 5);
  assert.equal(toJson({ a: 2n ** 64n - 1n, b: 5n }), '{"a":"18446744073709551615","b":5}');
});
