# Built with `node-gyp rebuild --directory native` (npm run build:native), so
# node-gyp's clean step removes native/build/ only, never the top-level build/
# that holds build/ctsync.wasm. Products in native/build/Release/: the
# netlink addon (with the sync link's UDP sockets, dgram.c), the process
# addon, ctsyncd, the fast client that bin/ctsyncd runs (client.c: no Node,
# so a client command takes milliseconds), and where libcpg-dev is installed
# the Corosync addon (cpg.c; a machine without it builds the rest, and only a
# Corosync configuration asks for it).
{
  "variables": {
    "have_cpg%": "<!(test -f /usr/include/corosync/cpg.h && echo 1 || echo 0)"
  },
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
    "defines": ["NAPI_VERSION=8"]
  },
  "targets": [
    { "target_name": "ctsync_netlink", "sources": ["netlink.c", "dgram.c"] },
    { "target_name": "ctsync_process", "sources": ["process.c"] },
    { "target_name": "ctsyncd", "type": "executable", "sources": ["client.c"] }
  ],
  "conditions": [
    ["have_cpg==1", {
      "targets": [
        { "target_name": "ctsync_cpg", "sources": ["cpg.c"], "libraries": ["-lcpg"] }
      ]
    }]
  ]
}
