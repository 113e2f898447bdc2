// For test/collector.test.ts: keeps replacing long-lived objects until the
// collector has run full collections, optionally after markInOnePause().
import { markInOnePause } from "../../host/process/setup.ts";

if (process.argv[2] === "one-pause") markInOnePause();
const keep: object[][] = [];
for (let i = 0; i < 60; i++) {
  keep.push(Array.from({ length: 50_000 }, (_, k) => ({ k, s: `x${k}` })));
  if (keep.length > 8) keep.shift();
}
