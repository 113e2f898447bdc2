#!/bin/sh
# npm's install step. In a checkout (the sources are here) it builds all of
# ctsync: the Wasm core, the precompiled host and the native parts. From a
# packed tarball (npm pack; npm install -g), which ships the core and the host
# already built, it builds the native parts and the host's code cache for
# this machine's Node, and puts the native client in bin/ctsyncd's place.
set -e
cd "$(dirname "$0")/.."
checkout() { [ -d assembly ] && [ -d host ]; }
if checkout; then
  npm run --silent build:wasm
  npm run --silent build:host
else
  node scripts/code-cache.cjs
fi
npm run --silent build:native
if ! checkout; then
  # The native client becomes the command on the PATH: one program to start
  # for each client command an HA manager runs, not a shell and then it.
  cp native/build/Release/ctsyncd bin/ctsyncd.native
  mv -f bin/ctsyncd.native bin/ctsyncd
fi
