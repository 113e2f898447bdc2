// conntrackd's Filter section and ExpectationSync helper list, applied by the
// core to kernel events: what is filtered never enters the internal cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode, flow } from "./support/node.ts";
import { applyFilters } from "../host/kernel/filters.ts";
import { parseConfig } from "../host/config/load.ts";
import type { Expectation } from "../host/record-view.ts";

function nodeWith(filterText: string, expectationSync = "On") {
  const { config } = parseConfig(`General {
  LockFile /tmp/x.lock
  UNIX { Path /tmp/x.sock }
  ${filterText}
}
Sync {
  Mode NOTRACK { }
  UDP { IPv4_address 10.0.0.1
    IPv4_Destination_Address 10.0.0.2
    Port 3780 }
  Options { ExpectationSync ${expectationSync} }
}
`, "filter.conf");
  const n = new TestNode("notrack");
  applyFilters(n.core, config.general.filter, config.sync!.expectationSync);
  return n;
}

test("Protocol Accept keeps only the listed protocols", () => {
  const n = nodeWith("Filter { Protocol Accept { UDP } }");
  n.ctEvent({ ...flow(1), l4proto: 17, tcpState: undefined });
  n.ctEvent(flow(2));
  assert.equal(n.internal, 1);
  assert.equal(n.stats().kernel_filtered, 1);
});

test("Address Ignore drops flows from or to the listed networks, IPv4 and IPv6", () => {
  const n = nodeWith("Filter { Address Ignore { IPv4_address 10.0.0.0/8\n IPv6_address 2001:db8::/32 } }");
  n.ctEvent(flow(1)); // 10.0.0.1 -> 198.51.100.7: ignored
  n.ctEvent({ ...flow(2), src: "192.0.2.5" }); // kept
  n.ctEvent({ ...flow(3), family: "ipv6", src: "2001:db8::1", dst: "2001:db9::2" }); // ignored
  n.ctEvent({ ...flow(4), family: "ipv6", src: "2001:db9::1", dst: "2001:db9::2" }); // kept
  assert.equal(n.internal, 2);
});

test("Address Accept keeps flows from or to an accepted network (the reply's source counts)", () => {
  const n = nodeWith("Filter { Address Accept { IPv4_address 172.16.0.0/12 } }");
  n.ctEvent({ ...flow(1), src: "172.20.0.1" }); // from the network
  n.ctEvent({ ...flow(2), src: "192.0.2.2", dst: "172.16.5.5" }); // to it: the reply comes from it
  n.ctEvent({ ...flow(3), src: "192.0.2.3" }); // neither
  assert.equal(n.internal, 2);
});

test("State Accept for TCP keeps only the listed states", () => {
  const n = nodeWith("Filter { State Accept { ESTABLISHED CLOSED TIME_WAIT CLOSE_WAIT for TCP } }");
  n.ctEvent({ ...flow(1), tcpState: 1 }); // SYN_SENT
  n.ctEvent({ ...flow(2), tcpState: 3 }); // ESTABLISHED
  n.ctEvent({ ...flow(3), l4proto: 17, tcpState: undefined }); // not TCP: no state filter
  assert.equal(n.internal, 2);
});

test("ExpectationSync with a list keeps the expectations of those helpers only", () => {
  const n = nodeWith("", "{ ftp }");
  const exp = (helper: string, port: number): Expectation => ({
    master: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 40001, dport: 21 },
    expected: { family: "ipv4", src: "10.1.0.2", dst: "10.2.0.2", l4proto: 6, sport: 0, dport: port },
    mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    timeout: 300, helper,
  });
  n.expEvent(exp("ftp", 5000));
  n.expEvent(exp("sip", 5001));
  assert.equal(n.count("CACHE_INTERNAL_EXP"), 1);
});
