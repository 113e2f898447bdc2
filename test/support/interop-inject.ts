// Run inside a namespace by the interop tests: creates COUNT conntracks
// (bench/injector.ts's loadFlow(i, BASE)) in this namespace's kernel, in
// batches, and prints "RESULT <json>".
import { inject } from "../../bench/injector.ts";

const count = Number(process.argv[2] ?? 1000);
const base = Number(process.argv[3] ?? 0);
console.log(`RESULT ${JSON.stringify(inject(count, base, 512))}`);
