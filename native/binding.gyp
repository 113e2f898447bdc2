# Built with `node-gyp rebuild --directory native` (npm run build:native), so
# node-gyp's clean step removes native/build/ only, never the top-level build/
# that holds build/ctsync.wasm. Three products in native/build/Release/:
# the netlink addon (with the sync link's UDP sockets, dgram.c), the process addon, and ctsyncd, the fast client that
# bin/ctsyncd runs (client.c: no Node, so a client command takes milliseconds).
{
  "target_defaults": {
    "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
    "defines": ["NAPI_VERSION=8"]
  },
  "targets": [
    { "target_name": "ctsync_netlink", "sources": ["netlink.c", "dgram.c"] },
    { "target_name": "ctsync_process", "sources": ["process.c"] },
    { "target_name": "ctsyncd", "type": "executable", "sources": ["client.c"] }
  ]
}
