// npm run bench: the benchmark suite. Today it measures the core's codecs;
// each measure prints as a table (and as JSON with --json).
import os from "node:os";
import { codecRows } from "./codec.ts";
import { formatTable } from "./table.ts";

const json = process.argv.includes("--json");
const machine = `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}`;
const rows = codecRows();
if (json) {
  console.log(JSON.stringify({ machine, date: new Date().toISOString(), codec: rows }, null, 2));
} else {
  console.log(`machine: ${machine}\n`);
  console.log("Core codec throughput (bench/codec.ts)");
  console.log(formatTable(rows));
}
