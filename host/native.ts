// Loads the project's own N-API addons, built by `npm run build:native` into
// native/build/Release/: ctsync_netlink.node (native/netlink.c) and
// ctsync_process.node (native/process.c).
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
  /** NETLINK_NETFILTER (12, the default: ctnetlink) or NETLINK_ROUTE (0: link state changes). */
  protocol?: number;
  /** Bit (g-1) joins group g of the protocol: for NETLINK_NETFILTER NFNLGRP g (1 = conntrack new, 2 = update, 4 = destroy, 8/16/32 = expectation new/update/destroy). */
  groups?: number;
  /** SO_RCVBUF request in bytes (conntrackd NetlinkBufferSize); 0 keeps the kernel default. */
  rcvbuf?: number;
  /** Use SO_RCVBUFFORCE (beyond net.core.rmem_max; needs CAP_NET_ADMIN), falling back to SO_RCVBUF. */
  force?: boolean;
  broadcastError?: boolean;
  /** NETLINK_NO_ENOBUFS: never report overruns (drops still show in dropCount). */
  noEnobufs?: boolean;
  extAck?: boolean;
  capAck?: boolean;
  /** Bytes of buffer per datagram in recvMany; constant per socket, 8192..32768. */
  recvSlot?: number;
}

/** The sync link's UDP sockets (native/dgram.c); polled and closed by the addon's poll and close. */
export interface DgramAddon {
  /** A non-blocking UDP socket bound to address ("" any; "fe80::1%eth1" names the zone) and port (0 any). Throws errno errors with .code. */
  open(family: 4 | 6, address: string, port: number, reuseAddr?: boolean): number;
  /** Sets SO_RCVBUF / SO_SNDBUF (0 leaves one alone), forcing past net.core.{r,w}mem_max when permitted; what the kernel reports (twice the size set). */
  buffers(fd: number, rcvbuf: number, sndbuf: number, force?: boolean): { rcvbuf: number; sndbuf: number; rcvForced: boolean; sndForced: boolean };
  /** SO_NO_CHECK: no UDP checksum on what the socket sends. */
  noCheck(fd: number): void;
  /** Joins the group on the interface (IPv4: its address; IPv6: "::%eth1"; "": the kernel's choice). */
  join(fd: number, family: 4 | 6, group: string, iface: string): void;
  /** Multicast sender on the interface, loopback off, TTL 1. */
  sender(fd: number, family: 4 | 6, iface: string): void;
  /** Where sendMany sends. */
  connect(fd: number, family: 4 | 6, address: string, port: number): void;
  /**
   * Datagrams read (0: none waiting; negative: -errno), datagram i at
   * buffer[i * slot]; meta holds META_WORDS u32 per datagram: length,
   * family, port, the address's 16 bytes.
   */
  recvMany(fd: number, buffer: Uint8Array, slot: number, meta: Uint32Array): number;
  /** Datagrams sent from the front of spans (offset, length pairs into buffer): 0 when the socket is full, -errno for a first one that failed. */
  sendMany(fd: number, buffer: Uint8Array, spans: Uint32Array, count: number): number;
  bound(fd: number): { address: string; port: number };
  constants: { META_WORDS: number; BATCH_MAX: number };
}

/** The flat ABI of ctsync_netlink.node: numbers and byte views only. */
export interface NetlinkAddon {
  dgram: DgramAddon;
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
  /**
   * No callback for `ms`, then one whether or not anything came; polling
   * resumes unless that callback holds off again (a no-op for an fd not polled).
   */
  holdOff(fd: number, ms: number): void;
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

/** The flat ABI of ctsync_process.node: what the daemon's process needs beyond Node. */
export interface ProcessAddon {
  /** Opens (creating, 0600) and flocks `path` without blocking: the fd, or -errno (-EWOULDBLOCK: held). */
  lock(path: string): number;
  /** Closes the lock's fd, which releases it. */
  unlock(fd: number): void;
  /** sd_notify(): 0 sent, 1 no NOTIFY_SOCKET, or -errno. */
  notify(message: string): number;
  /** Points stdin, stdout and stderr at /dev/null: 0 or -errno. */
  quietStdio(): number;
  /** openlog("conntrack-tools", LOG_PID, facility): 0, or -EINVAL for an unknown facility. */
  syslogOpen(facility: string): number;
  /** syslog(3) at the level of the log's own names (notice, warning, ERROR, info). */
  syslog(level: string, message: string): number;
  /** Drops the pages of clean read-only file mappings (the executable's start-up pages): bytes given back, or -errno. */
  trimStartup(): number;
  /** sched_setscheduler() of each of the process's threads, reset on fork: 0 or -errno (the main thread's refusal). */
  setScheduler(policy: "rr" | "fifo", priority: number): number;
  /** MADV_HUGEPAGE on the whole 2 MiB pages of `buffer` past byte `from`: bytes advised, or -errno. */
  adviseHugePages(buffer: ArrayBuffer, from?: number): number;
}

/** A member of a Corosync process group, as libcpg reports it. */
export interface CpgAddress {
  nodeid: number;
  pid: number;
  /** CPG_REASON_*: 1 join, 2 leave, 3 node down, 4 node up, 5 process down. */
  reason: number;
}

/** A membership change of the group: who is in it now, who left, who joined. */
export interface CpgChange {
  members: CpgAddress[];
  left: CpgAddress[];
  joined: CpgAddress[];
}

/** The flat ABI of ctsync_cpg.node (native/cpg.c): Corosync's closed process groups. */
export interface CpgAddon {
  /** Connects to the local corosync and joins the group; throws (code CS_ERR_*) when it cannot. */
  open(group: string): { id: number; fd: number; nodeid: number };
  /**
   * Dispatches one event: a message's length (copied into buffer, its sender
   * [nodeid, pid] into sender), a membership change, -1 nothing pending, -2
   * nothing of interest (call again), -3 a message larger than buffer (dropped).
   */
  next(id: number, buffer: Uint8Array, sender: Uint32Array): number | CpgChange;
  /** Multicasts to the group, totally ordered: 0 sent, -1 corosync's flow control (try again later). */
  send(id: number, bytes: Uint8Array): number;
  poll(id: number, callback: (status: number) => void): void;
  close(id: number): void;
}

const loaded = new Map<string, unknown>();

/** An addon of native/build/Release, loaded on first use so that modules importing this one still load without it. */
function loadAddon<T>(name: string): T {
  const have = loaded.get(name);
  if (have) return have as T;
  const path = fileURLToPath(new URL(`../native/build/Release/${name}.node`, import.meta.url));
  if (!existsSync(path)) {
    throw new Error(`ctsync: the native addon is missing (${path}); run "npm install" or "npm run build:native" to build it`);
  }
  try {
    const addon = createRequire(import.meta.url)(path) as T;
    loaded.set(name, addon);
    return addon;
  } catch (err) {
    throw new Error(`ctsync: cannot load the native addon ${path}: ${(err as Error).message}; rebuild it with "npm run build:native"`, { cause: err });
  }
}

export const loadNetlinkAddon = (): NetlinkAddon => loadAddon<NetlinkAddon>("ctsync_netlink");
export const loadProcessAddon = (): ProcessAddon => loadAddon<ProcessAddon>("ctsync_process");

/** The Corosync addon, only built where libcpg-dev was installed: only a Corosync link asks for it. */
export function loadCpgAddon(): CpgAddon {
  const path = fileURLToPath(new URL("../native/build/Release/ctsync_cpg.node", import.meta.url));
  if (!existsSync(path)) {
    throw new Error(`ctsync: the Corosync transport needs the native addon ${path}, which is built only where libcpg is: ` +
      `install libcpg-dev (Debian) and run "npm run build:native"`);
  }
  return loadAddon<CpgAddon>("ctsync_cpg");
}
