// The caches' hash table: each bucket keeps a filter of its chain's hashes so
// that a lookup of a flow it does not hold stops at the bucket. The filter
// must never hide an entry: after any mix of inserts and unlinks, every flow
// the cache holds is found (an update changes it in place, a destroy removes
// it) and no flow is held twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { TestNode, flow } from "./support/node.ts";

const mark = (c: object) => (c as { mark?: number }).mark;

for (const hashSize of [1, 7, 4096]) {
  test(`HashSize ${hashSize}: after destroys, every remaining flow is found, updated in place, and destroyed`, () => {
    const a = new TestNode("notrack", { hashSize });
    const n = 3000;
    const flows = Array.from({ length: n }, (_, i) => flow(i));
    flows.forEach((f) => a.ctEvent(f));
    assert.equal(a.count("CACHE_INTERNAL_CT"), n);

    // Unlinks from every position of the chains: heads, middles, tails.
    for (let i = 0; i < n; i += 3) a.ctEvent(flows[i], "delete");
    const left = flows.filter((_, i) => i % 3 !== 0);
    assert.equal(a.count("CACHE_INTERNAL_CT"), left.length);

    // Each update must find its entry: a lost one would be inserted again and counted twice.
    left.forEach((f) => a.ctEvent({ ...f, mark: 77 }, "update"));
    assert.equal(a.count("CACHE_INTERNAL_CT"), left.length);
    const held = a.dump("CACHE_INTERNAL_CT");
    assert.ok(held.every((c) => mark(c) === 77), "every held flow was updated in place");

    // A destroyed flow created again is found again.
    flows.filter((_, i) => i % 3 === 0).forEach((f) => a.ctEvent(f));
    assert.equal(a.count("CACHE_INTERNAL_CT"), n);
    flows.forEach((f) => a.ctEvent(f, "delete"));
    assert.equal(a.count("CACHE_INTERNAL_CT"), 0, "every destroy found its flow");
  });
}

for (const hashSize of [64, 37]) test(`a flush empties the cache in one pass, entries still queued included, and the flows come back as new (HashSize ${hashSize})`, () => {
  const a = new TestNode("notrack", { hashSize });
  const flows = Array.from({ length: 1000 }, (_, i) => flow(i));
  flows.forEach((f) => a.ctEvent(f)); // queued for the link, not sent yet
  const destroyed = () => a.core.cacheCounts(a.k("CACHE_INTERNAL_CT")).destroyed;
  const before = destroyed();
  a.core.fn.cacheFlush(a.k("CACHE_INTERNAL_CT"));
  assert.equal(a.count("CACHE_INTERNAL_CT"), 0);
  assert.equal(destroyed() - before, 1000, "each flushed entry counted, as conntrackd's cache_flush does");
  a.flush(); // the queue lets go of the flushed entries
  flows.forEach((f) => a.ctEvent(f));
  assert.equal(a.count("CACHE_INTERNAL_CT"), 1000, "nothing of the flushed entries is found again");
  flows.forEach((f) => a.ctEvent(f, "delete"));
  assert.equal(a.count("CACHE_INTERNAL_CT"), 0);
});
