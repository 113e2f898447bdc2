// The core's ABI is documented whole: every export of build/ctsync.wasm
// (functions, globals, the memory) appears in assembly/README.md as a heading
// or a table row, in backticks, so a runtime other than ours can drive the
// module from the README alone. A new export without its row fails here,
// named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { WASM_PATH } from "../host/core.ts";

const README = new URL("../assembly/README.md", import.meta.url);

/** Names in backticks on headings and table rows (`name`, `name(...)`, `NAME_*` prefixes excluded). */
function documentedNames(markdown: string): Set<string> {
  const names = new Set<string>();
  for (const line of markdown.split("\n")) {
    if (!/^\s*(\||#)/.test(line)) continue;
    for (const m of line.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(m[1]);
  }
  return names;
}

const module = new WebAssembly.Module(new Uint8Array(readFileSync(WASM_PATH)));
const exports = WebAssembly.Module.exports(module);
const doc = readFileSync(README, "utf8");

test("every export of build/ctsync.wasm is documented in assembly/README.md", () => {
  const documented = documentedNames(doc);
  const missing = exports.filter((e) => !documented.has(e.name)).map((e) => `${e.name} (${e.kind})`);
  assert.deepEqual(missing, [], `undocumented exports: ${missing.join(", ")}`);
  assert.ok(exports.length > 300, `${exports.length} exports`);
});

test("the constants tables give each global's value as the module has it", () => {
  const instance = new WebAssembly.Instance(module, {});
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `(\w+)` \| (-?\d+) \| \w+ \|/gm)) rows.set(m[1], m[2]);
  const wrong: string[] = [];
  for (const e of exports.filter((x) => x.kind === "global")) {
    const v = (instance.exports[e.name] as WebAssembly.Global).value;
    if (!rows.has(e.name)) wrong.push(`${e.name}: no row in the constants tables`);
    else if (Number(rows.get(e.name)) !== v) wrong.push(`${e.name}: README says ${rows.get(e.name)}, the module ${v}`);
  }
  assert.deepEqual(wrong, []);
});

test("every function in the reference table is an export (no stale rows)", () => {
  const section = doc.slice(doc.indexOf("## Function reference"), doc.indexOf("## Constants"));
  const names = [...section.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  const exported = new Set(exports.map((e) => e.name));
  assert.deepEqual(names.filter((n) => !exported.has(n)), []);
  const functions = exports.filter((e) => e.kind === "function").map((e) => e.name);
  assert.deepEqual(functions.filter((n) => !names.includes(n)), [], "functions missing from the reference table");
});
