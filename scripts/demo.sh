#!/usr/bin/env bash
# npm run demo: the FTP expectation-failover story of conntrack-tools'
# manual, with ctsyncd on both firewalls in network namespaces, told step by
# step with the real outputs. Installs what is missing first (setup.sh). The
# cluster and the story live in test/support: the end-to-end tests run the
# same story.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "The demo builds a client, two firewalls and a server in network namespaces, which needs root." >&2
  echo "Run it as root: sudo npm run demo" >&2
  exit 1
fi
bash scripts/setup.sh demo
[ -x native/build/Release/ctsyncd ] && [ -f dist/ctsyncd.cjs ] || npm run --silent build
export CTSYNC_E2E_DAEMON="${CTSYNC_E2E_DAEMON:-$PWD/bin/ctsyncd}"
exec node --import tsx test/support/ftp-story-print.ts "$@"
