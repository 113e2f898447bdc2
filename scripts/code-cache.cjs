// Writes V8's code cache of the host's bundle (dist/ctsyncd.cache) for the
// Node that runs this: build:host runs it after bundling, and the install
// step again where the package is installed. It holds what V8 compiles
// before the bundle runs; the rest compiles as it first runs.
"use strict";
const { writeFileSync } = require("node:fs");
const { compileHost, CACHE } = require("../bin/host.cjs");

writeFileSync(CACHE, compileHost(undefined, true).cachedData);
