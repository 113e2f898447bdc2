// The bench's "kernel alone" figure for a primary's CPU per entry comes from
// bench/event-reader.ts: it must see every event of an injection, or the floor
// it reports would be per fewer entries than it claims.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LoneNamespace, injectIn, startInNamespace } from "../../bench/cluster.ts";
import type { EventFloor } from "../../bench/event-reader.ts";
import { isRoot } from "../support/netns.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";

test("the event reader counts every event of an injection and reports its CPU", { skip }, async () => {
  const ns = new LoneNamespace();
  try {
    const reader = startInNamespace<EventFloor>(ns.name, "bench/event-reader.ts", ["500"], 60_000);
    await reader.ready;
    const inj = await injectIn(ns.name, 3000, 0, 30_000, 60_000, 64);
    assert.equal(inj.created, 3000);
    const floor = await reader.result;
    assert.equal(floor.overruns, 0);
    assert.equal(floor.events, 3000, "one new-conntrack event per entry injected");
    assert.ok(floor.cpuMicros > 0, "it measured its own CPU");
  } finally {
    ns.destroy();
  }
});
