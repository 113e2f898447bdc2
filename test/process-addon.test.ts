// native/process.c's calls that need no namespace: the huge-page advice for
// the core's memory, which leaves out the memory the daemon starts with.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadProcessAddon } from "../host/native.ts";
import { eligibleOf, thpSkip } from "./support/thp.ts";

const MiB = 1 << 20;
const HUGE = 2 * MiB;
const EINVAL = 22;
/** Sizes in bytes of this process's mappings advised for huge pages (THP "madvise": no others are eligible). */
const advised = () => eligibleOf("self", false).map((kib) => kib * 1024);

test("adviseHugePages advises the whole 2 MiB pages past `from`, and nothing before it", {
  skip: thpSkip,
}, () => {
  const addon = loadProcessAddon();
  const memory = new WebAssembly.Memory({ initial: 512 }); // 32 MiB, like a core that grew
  const len = memory.buffer.byteLength;
  assert.equal(addon.adviseHugePages(memory.buffer, len), 0, "nothing past the end");
  assert.deepEqual(advised(), [], "and nothing advised");
  const from = 9 * MiB + 123; // the memory a daemon started with
  const bytes = addon.adviseHugePages(memory.buffer, from);
  assert.equal(bytes % HUGE, 0, "whole huge pages");
  assert.ok(bytes <= len - from && bytes > len - from - 2 * HUGE, `${bytes} bytes advised of the ${len - from} past from`);
  assert.deepEqual(advised(), [bytes], "one advised mapping, of just those bytes: the start's memory is not in it");
  memory.grow(64);
  const grown = addon.adviseHugePages(memory.buffer, from);
  assert.equal(grown - bytes, 4 * MiB, "grown by 4 MiB, advised 4 MiB more");
  assert.equal(addon.adviseHugePages(memory.buffer, memory.buffer.byteLength + 1), -EINVAL, "from past the end is refused");
});
