# Built with `node-gyp rebuild --directory native` (npm run build:native), so
# node-gyp's clean step removes native/build/ only, never the top-level build/
# that holds build/ctsync.wasm.
{
  "targets": [
    {
      "target_name": "ctsync_netlink",
      "sources": ["netlink.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
