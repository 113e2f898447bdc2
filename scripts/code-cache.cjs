// Writes V8's code cache of the host's bundle (dist/ctsyncd.cache) for the
// Node that runs this: build:host runs it after bundling, and the install
// step again where the package is installed. Every function is compiled into
// it, not only the few V8 compiles eagerly: a start runs most of the bundle.
"use strict";
const { writeFileSync } = require("node:fs");
const { setFlagsFromString } = require("node:v8");
const { compileHost, CACHE } = require("../bin/host.cjs");

setFlagsFromString("--no-lazy");
const script = compileHost();
// V8 checks the flags a cache was made under against those it is read under.
setFlagsFromString("--lazy");
writeFileSync(CACHE, script.createCachedData());
