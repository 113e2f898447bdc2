#!/usr/bin/env bash
# Installs what ctsync's demo or tests need and this machine lacks, saying
# what it installs: Debian packages (as root, with apt-get) and the node
# modules (npm ci, which also builds the Wasm core, the precompiled host and
# the native parts). Run by `npm run demo` (setup.sh demo) and `npm test`
# (setup.sh test); safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The demo: namespaces (iproute2), the firewalls' rules (nftables), the
# kernel's witness (conntrack), the FTP client and server (python3).
packages=(iproute2 nftables conntrack python3 procps)
if [ "${1:-demo}" = test ]; then
  # The tests also run the real conntrackd as the peer to be compatible with,
  # keepalived and Pacemaker's agent (ocf-tester, xmllint) as the HA managers,
  # tcpdump and arping on the links, and Chromium for the dashboard; groff
  # and man render the manual page, systemd-analyze checks the unit (the
  # systemd package only: it does not become PID 1). Corosync runs the
  # many-node clusters (one per namespace), and libcpg-dev lets the native
  # addon that joins its process groups build (before npm ci builds it).
  packages+=(conntrackd iptables tcpdump iputils-arping iputils-ping util-linux chromium
             keepalived resource-agents libxml2-utils groff-base man-db systemd
             corosync libcpg-dev)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]} (run as root to install them)" >&2
  else
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# The core driven from a second runtime: tools/ctsync-inspect runs on Python's
# wasmtime. PyPI is out of reach here; this kind of machine carries the wheel.
WASMTIME_WHEEL=/opt/pypi-more/files/wasmtime-49.0.0-py3-none-manylinux1_x86_64.whl
if [ "${1:-demo}" = test ] && ! python3 -c "import wasmtime" 2>/dev/null; then
  if [ -f "$WASMTIME_WHEEL" ]; then
    echo "setup: installing Python's wasmtime for tools/ctsync-inspect (from $WASMTIME_WHEEL)"
    python3 -m pip install --quiet --break-system-packages "$WASMTIME_WHEEL" 2>/dev/null \
      || python3 -m pip install --quiet "$WASMTIME_WHEEL"
  else
    echo "setup: Python's wasmtime is missing and $WASMTIME_WHEEL is not here: the inspector's tests will be skipped" >&2
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing the node modules (npm ci), which builds the core, the host and the native parts"
  # The machine's npm: under `npm test` the PATH starts with node_modules/.bin,
  # where a dependency of @as-pect/cli puts an old npm 6.
  npm=$(PATH=$(printf %s "$PATH" | tr ':' '\n' | grep -v node_modules | paste -sd: -) command -v npm)
  "$npm" ci --no-audit --no-fund
fi
