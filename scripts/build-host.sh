#!/bin/sh
# npm run build:host: the precompiled host. host/main.ts and its modules are
# bundled into one CommonJS file, dist/ctsyncd.cjs (Node 20 starts it without
# its ES module loader: about 8 ms less per start), with import.meta.url
# mapped to the bundle's own URL and in strict mode throughout, as the ES
# modules it comes from are; then V8's code cache of it for this Node.
# bin/host.cjs runs the two.
set -e
cd "$(dirname "$0")/.."
esbuild host/main.ts --bundle --platform=node --format=cjs --target=node20 \
  --packages=external --log-level=warning \
  --define:import.meta.url=__importMetaUrl \
  --banner:js="'use strict'; const __importMetaUrl = require('node:url').pathToFileURL(__filename).href;" \
  --outfile=dist/ctsyncd.cjs
node scripts/code-cache.cjs
