// Loads the project's own N-API addon (native/netlink.c), built by
// `npm run build:native` into native/build/Release/ctsync_netlink.node.
import { createRequire } from "node:module";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** Per-socket counters kept by the addon's recvMany. */
export interface NetlinkNativeStats {
  overruns: number;
  truncated: number;
  foreign: number;
}

export interface NetlinkOpenOptions {
  /** Bit (g-1) joins NFNLGRP g (1 = conntrack new, 2 = update, 4 = destroy, 8/16/32 = expectation new/update/destroy). */
  groups?: number;
  /** SO_RCVBUF request in bytes; 0 keeps the kernel default. */
  rcvbuf?: number;
  /** Use SO_RCVBUFFORCE (beyond net.core.rmem_max; needs CAP_NET_ADMIN), falling back to SO_RCVBUF. */
  force?: boolean;
  broadcastError?: boolean;
  noEnobufs?: boolean;
  extAck?: boolean;
  capAck?: boolean;
  /** Bytes of buffer per datagram in recvMany; constant per socket, 8192..32768. */
  recvSlot?: number;
}

/** The flat ABI of ctsync_netlink.node: numbers and byte views only. */
export interface NetlinkAddon {
  open(options: NetlinkOpenOptions): number;
  setRcvBuf(fd: number, bytes: number, force?: boolean): number;
  getRcvBuf(fd: number): number;
  setOption(fd: number, option: number, value: number): void;
  /** Bytes written (>= 0) or -EAGAIN / -ENOBUFS / -EMSGSIZE. */
  recvMany(fd: number, buffer: ArrayBufferView, maxDatagrams: number): number;
  /** Bytes sent or -EAGAIN / -ENOBUFS. portid 0 (default) is the kernel. */
  send(fd: number, buffer: ArrayBufferView, offset: number, length: number, portid?: number): number;
  /** The same on a worker thread (the bytes are copied first); rejects on a hard error. */
  sendAsync(fd: number, buffer: ArrayBufferView, offset: number, length: number, portid?: number): Promise<number>;
  poll(fd: number, callback: (status: number) => void): void;
  close(fd: number): void;
  portId(fd: number): number;
  dropCount(fd: number): number;
  stats(fd: number): NetlinkNativeStats;
  constants: {
    EAGAIN: number;
    ENOBUFS: number;
    EMSGSIZE: number;
    NETLINK_BROADCAST_ERROR: number;
    NETLINK_NO_ENOBUFS: number;
    NETLINK_CAP_ACK: number;
    NETLINK_EXT_ACK: number;
    SLOT_MIN: number;
    SLOT_MAX: number;
    SLOT_DEFAULT: number;
    BATCH_MAX: number;
  };
}

const addonPath = fileURLToPath(new URL("../native/build/Release/ctsync_netlink.node", import.meta.url));

let cached: NetlinkAddon | undefined;

/** The addon, loaded on first use so that modules importing this one still load without it. */
export function loadNetlinkAddon(): NetlinkAddon {
  if (cached) return cached;
  if (!existsSync(addonPath)) {
    throw new Error(
      `ctsync: the netlink addon is missing (${addonPath}); run "npm install" or "npm run build:native" to build it`,
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(addonPath) as NetlinkAddon;
  } catch (err) {
    throw new Error(
      `ctsync: cannot load the netlink addon ${addonPath}: ${(err as Error).message}; rebuild it with "npm run build:native"`,
      { cause: err },
    );
  }
  return cached;
}
