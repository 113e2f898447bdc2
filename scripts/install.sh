#!/bin/sh
# npm's install step. In a checkout (the sources are here) it builds all of
# ctsync: the Wasm core, the precompiled host and the native parts. From a
# packed tarball (npm pack; npm install -g), which ships the core and the host
# already built, it builds the native parts and the host's code cache for
# this machine's Node.
set -e
cd "$(dirname "$0")/.."
if [ -d assembly ] && [ -d host ]; then
  npm run --silent build:wasm
  npm run --silent build:host
else
  node scripts/code-cache.cjs
fi
npm run --silent build:native
