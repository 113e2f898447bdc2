#!/usr/bin/env bash
# Host tests under node's test runner. The files are listed by the shell, never
# passed as a quoted glob: node 20 runs nothing for a glob it cannot expand and
# still reports success.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
files=(test/*.test.ts test/e2e/*.test.ts)
if [ ${#files[@]} -eq 0 ]; then
  echo "no test files found under test/" >&2
  exit 1
fi
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
