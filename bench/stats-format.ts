// Micro-benchmark of the Stats mode's per-flow path without the kernel: the
// recorded destroy events of test/fixtures/stats/stats-golden.json replayed
// through the core (MODE_STATS), which counts them and writes their log lines.
//   tsx bench/stats-format.ts [rounds]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig } from "../host/config/load.ts";
import { FlowCollector } from "../host/stats/daemon.ts";
import { ROOT } from "./cluster.ts";

const golden = JSON.parse(readFileSync(join(ROOT, "test/fixtures/stats/stats-golden.json"), "utf8")) as { config: string; messages: string[] };
const { config } = parseConfig(golden.config.replaceAll("{dir}", "/tmp"), "golden.conf");
const c = new FlowCollector(config);
const msgs = golden.messages.map((h) => Buffer.from(h, "hex"));
const rounds = Number(process.argv[2] ?? 3000);
const json = process.argv.includes("--json");
let flows = 0, bytes = 0;
c.stamp(new Date());
const t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (const m of msgs) {
    c.core.bytes.set(m, c.core.fn.nlPtr());
    flows += c.feed(m.length, { text: !process.argv.includes("--none"), json }, (t, j) => { bytes += t.length + j.length; });
  }
}
const s = (performance.now() - t0) / 1000;
process.stdout.write(`${flows} flows logged (${msgs.length * rounds} messages${json ? ", text and JSON" : ""}) in ${s.toFixed(3)} s: `
  + `${(s / flows * 1e6).toFixed(2)} µs a flow, ${bytes} bytes\n`);
