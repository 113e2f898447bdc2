// Starts the precompiled host: dist/ctsyncd.cjs, esbuild's bundle of
// host/main.ts, compiled from V8's code cache of it (dist/ctsyncd.cache,
// made by scripts/code-cache.cjs for this Node). A start then neither parses
// nor compiles the bundle's 290 KB: about 7 ms of each start and of -d here.
// A cache that is missing or that V8 rejects (made by another Node) costs
// only that compile.
"use strict";
const { readFileSync } = require("node:fs");
const { createRequire, wrap } = require("node:module");
const { join } = require("node:path");
const { Script } = require("node:vm");

const BUNDLE = join(__dirname, "../dist/ctsyncd.cjs");
const CACHE = join(__dirname, "../dist/ctsyncd.cache");

/** The bundle as a CommonJS module's function, compiled with the code cache when there is one. */
function compileHost(cachedData) {
  return new Script(wrap(readFileSync(BUNDLE, "utf8")), { filename: BUNDLE, cachedData });
}

function readCache() {
  try { return readFileSync(CACHE); } catch { return undefined; }
}

if (require.main === module) {
  const exports = {};
  compileHost(readCache()).runInThisContext()(exports, createRequire(BUNDLE), { exports }, BUNDLE, join(BUNDLE, ".."));
} else {
  module.exports = { compileHost, readCache, CACHE };
}
