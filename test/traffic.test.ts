// -s's "traffic processed" in sync mode, against the real conntrackd 1.4.7:
// both daemons watch the same kernel in one namespace (accounting on), so
// when the table is flushed the same destroy events, with the same counters,
// reach both, and their sums must agree (and not be zero).
import { test } from "node:test";
import assert from "node:assert/strict";
import { isRoot } from "./support/netns.ts";
import { until } from "./support/pair.ts";
import { StatsLab, type StatsDaemonHandle } from "./support/stats-lab.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";

/** A NOTRACK link to nowhere on the loopback: its own traffic is 127.0.0.9's, which the lab's filter ignores. */
const sync = (port: number) => `Mode NOTRACK { }
	UDP { IPv4_address 127.0.0.9
	      IPv4_Destination_Address 127.0.0.9
	      Port ${port}
	      Interface lo }`;

function traffic(lab: StatsLab, h: StatsDaemonHandle): { bytes: number; packets: number } {
  const m = /traffic processed:\s+(\d+) Bytes\s+(\d+) Pckts/.exec(lab.ctl(h, "-s").stdout);
  assert.ok(m, `${h.program} -s has no traffic line`);
  return { bytes: Number(m[1]), packets: Number(m[2]) };
}

test("sync mode: the destroyed flows' bytes and packets are summed as conntrackd sums them", { skip }, async () => {
  const lab = new StatsLab("trf");
  try {
    lab.sh("ip", "addr", "add", "127.0.0.9/8", "dev", "lo");
    const theirs = await lab.start("conntrackd", "conntrackd", "", "", sync(3790));
    const ours = await lab.start("ctsyncd", "ctsyncd", "", "", sync(3791));
    assert.deepEqual(traffic(lab, ours), { bytes: 0, packets: 0 });
    lab.flows("v4", "v6", "nat");
    const held = (h: StatsDaemonHandle) => lab.ctl(h, "-i").stdout.split("\n").filter((l) => l).length;
    assert.ok(await until(() => held(ours) > 0 && held(ours) === held(theirs), 10_000), `-i: ${held(ours)} against ${held(theirs)} lines`);
    lab.sh("conntrack", "-F");
    assert.ok(await until(() => traffic(lab, theirs).packets > 0 && held(ours) === 0, 10_000), "the flush reached both");
    const want = traffic(lab, theirs);
    assert.ok(await until(() => traffic(lab, ours).packets === want.packets, 5_000), JSON.stringify(traffic(lab, ours)));
    assert.deepEqual(traffic(lab, ours), want);
  } finally {
    await lab.close();
  }
});
