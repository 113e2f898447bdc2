#!/usr/bin/env bash
# The project's test command: type-check, the core's unit tests (as-pect),
# then the host and end-to-end tests under node's test runner, whose summary
# closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."

# What the tests need and the machine lacks: Debian packages and node modules.
bash scripts/setup.sh test

[ -f build/ctsync.wasm ] && [ -x native/build/Release/ctsyncd ] || npm run --silent build
# The daemon the tests start runs the precompiled host: build it from the sources under test.
npm run --silent build:host

echo "== type-check (tsc --noEmit)"
npx tsc --noEmit -p tsconfig.json

echo "== core unit tests (as-pect)"
npx asp --config as-pect.config.js --summary

echo "== host and end-to-end tests (node --test)"
bash test/run-host.sh
