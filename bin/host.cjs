// Starts the precompiled host: dist/ctsyncd.cjs, esbuild's bundle of
// host/main.ts, compiled with V8's code cache of it (dist/ctsyncd.cache,
// made by scripts/code-cache.cjs for this Node), so that a start does not
// parse the bundle's 290 KB again: 57 ms from exec to the control socket
// against 60 without the cache (66 as an ES module). A cache that is missing
// or that V8 rejects (made by another Node) costs only that compile.
//
// compileFunction, as Node's own loader compiles a CommonJS module: the same
// bundle run as a vm.Script left the daemon 30-40 bytes an entry heavier at
// 100,000 entries (its compiler threads' heaps grew more).
"use strict";
const { readFileSync } = require("node:fs");
const { createRequire } = require("node:module");
const { join } = require("node:path");
const { compileFunction } = require("node:vm");

const BUNDLE = join(__dirname, "../dist/ctsyncd.cjs");
const CACHE = join(__dirname, "../dist/ctsyncd.cache");
const PARAMS = ["exports", "require", "module", "__filename", "__dirname"];

/** The bundle as a CommonJS module's function, compiled with the code cache when there is one (or making one). */
function compileHost(cachedData, produceCachedData = false) {
  return compileFunction(readFileSync(BUNDLE, "utf8"), PARAMS, { filename: BUNDLE, cachedData, produceCachedData });
}

function readCache() {
  try { return readFileSync(CACHE); } catch { return undefined; }
}

if (require.main === module) {
  const exported = {};
  compileHost(readCache())(exported, createRequire(BUNDLE), { exports: exported }, BUNDLE, join(BUNDLE, ".."));
} else {
  module.exports = { compileHost, readCache, CACHE };
}
