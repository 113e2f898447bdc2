// The daemon's collector marks its heap in one pause (markInOnePause in
// host/process/setup.ts): V8's incremental marking would spread each full
// collection over many event-loop round trips. The flag is set at run time,
// after V8 started: the collector's own trace shows that it took.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./support/proc.ts";

function fullCollections(mode: "one-pause" | "default"): string[] {
  const out = execFileSync(process.execPath, ["--trace-gc", "--import", "tsx", join(ROOT, "test/support/gc-churn.ts"), mode],
    { cwd: ROOT, encoding: "utf8" });
  return out.split("\n").filter((l) => l.includes("Mark-Compact"));
}

test("after markInOnePause every full collection marks in one pause, where V8 would mark incrementally", () => {
  const incremental = (l: string) => /incremental marking|since start of marking/.test(l);
  const byDefault = fullCollections("default");
  assert.ok(byDefault.some(incremental), `V8 marked in one pause anyway:\n${byDefault.join("\n")}`);
  const onePause = fullCollections("one-pause");
  assert.ok(onePause.length > 0, "no full collection ran");
  assert.deepEqual(onePause.filter(incremental), []);
});
