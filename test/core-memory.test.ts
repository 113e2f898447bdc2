// The caches' buckets are not filled with zeros at start (assembly/cache.ts,
// newCache): the core relies on the stub runtime handing out memory no one
// has written. That holds only while the core never gives heap memory back
// (the stub runtime reuses a freed last block) and runs on that runtime.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./support/netns.ts";

test("the core runs on the stub runtime and never frees or reallocates heap memory", () => {
  const config = JSON.parse(readFileSync(join(ROOT, "asconfig.json"), "utf8"));
  assert.equal(config.options.runtime, "stub");
  const dir = join(ROOT, "assembly");
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".ts"))) {
    const code = readFileSync(join(dir, f), "utf8");
    assert.doesNotMatch(code, /heap\.(free|realloc)\s*\(/, `assembly/${f} gives heap memory back`);
  }
});
