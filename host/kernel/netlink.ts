// The host's ctnetlink socket: a thin typed wrapper over the ctsync_netlink
// addon. It moves bytes only; the Wasm core parses and builds ctnetlink.
import { loadNetlinkAddon, type NetlinkAddon, type NetlinkNativeStats, type NetlinkOpenOptions } from "../native.ts";

/** nfnetlink multicast groups (NFNLGRP_*), by name. */
export const NFNLGRP = {
  "conntrack-new": 1,
  "conntrack-update": 2,
  "conntrack-destroy": 3,
  "expect-new": 4,
  "expect-update": 5,
  "expect-destroy": 6,
} as const;
export type NetlinkGroup = keyof typeof NFNLGRP;

/** The rtnetlink multicast group (RTNLGRP_LINK) of a "route" socket: every device's state changes. */
export const RTNLGRP_LINK = 1;

/** recvInto results below zero (zero and above are byte counts). */
export const RECV_AGAIN = -1; // nothing queued now
export const RECV_OVERRUN = -2; // the kernel dropped messages (ENOBUFS): resync with a dump
export const RECV_TRUNCATED = -3; // a datagram outgrew its slot and was dropped: resync
/** send result when the kernel cannot take the datagram now (EAGAIN / ENOBUFS). */
export const SEND_AGAIN = -1;

/**
 * The addon's options, with the groups named rather than as a bit mask;
 * `force` defaults to true here. A "route" socket joins RTNLGRP_LINK.
 */
export interface NetlinkSocketOptions extends Omit<NetlinkOpenOptions, "groups" | "protocol"> {
  protocol?: "netfilter" | "route";
  groups?: readonly NetlinkGroup[];
}

const NETLINK_ROUTE = 0, NETLINK_NETFILTER = 12;

export class NetlinkSocket {
  /** ENOBUFS and truncations seen by recvInto. */
  overruns = 0;
  private closed = false;
  private overrunHandler: ((kind: "enobufs" | "truncated") => void) | undefined;
  private requestedRcvBuf: number;

  private constructor(
    private readonly addon: NetlinkAddon,
    readonly fd: number,
    rcvbuf: number,
  ) {
    this.requestedRcvBuf = rcvbuf;
  }

  static open(options: NetlinkSocketOptions = {}): NetlinkSocket {
    const addon = loadNetlinkAddon();
    let groups = 0;
    for (const name of options.groups ?? []) {
      const g = NFNLGRP[name];
      if (g === undefined) throw new Error(`netlink: unknown group "${name}" (known: ${Object.keys(NFNLGRP).join(", ")})`);
      groups |= 1 << (g - 1);
    }
    const route = options.protocol === "route";
    if (route && groups) throw new Error("netlink: a route socket joins RTNLGRP_LINK only; ctnetlink groups need a netfilter socket");
    if (route) groups = 1 << (RTNLGRP_LINK - 1);
    const rcvbuf = options.rcvbuf ?? 0;
    const fd = addon.open({
      protocol: route ? NETLINK_ROUTE : NETLINK_NETFILTER,
      groups,
      rcvbuf,
      force: options.force ?? true,
      broadcastError: options.broadcastError,
      noEnobufs: options.noEnobufs,
      extAck: options.extAck,
      capAck: options.capAck,
      recvSlot: options.recvSlot,
    });
    return new NetlinkSocket(addon, fd, rcvbuf || addon.getRcvBuf(fd) / 2);
  }

  /** The slot size: a recvInto buffer needs maxDatagrams times this many bytes for a full batch. */
  static get slotDefault(): number {
    return loadNetlinkAddon().constants.SLOT_DEFAULT;
  }

  get portId(): number {
    return this.addon.portId(this.fd);
  }

  /** The receive buffer as the kernel reports it (twice the requested size, for its bookkeeping). */
  get rcvBuf(): number {
    return this.addon.getRcvBuf(this.fd);
  }

  setRcvBuf(bytes: number, force = true): number {
    this.requestedRcvBuf = bytes;
    return this.addon.setRcvBuf(this.fd, bytes, force);
  }

  /**
   * conntrackd's NetlinkBufferSizeMaxGrowth: double the receive buffer after
   * an overrun, up to max. Returns false once the ceiling is reached.
   */
  growRcvBuf(max: number): boolean {
    if (this.requestedRcvBuf >= max) return false;
    this.setRcvBuf(Math.min(max, this.requestedRcvBuf * 2));
    return true;
  }

  /** Calls fn whenever the socket is readable; fn should recvInto until RECV_AGAIN. */
  onReadable(fn: (error?: Error) => void): void {
    this.checkOpen("onReadable");
    this.addon.poll(this.fd, (status) => {
      if (status === 0) fn();
      else fn(new Error(`netlink: polling fd ${this.fd} failed with errno ${-status}; polling stopped`));
    });
  }

  /**
   * Stops the readable callbacks for `ms`: what arrives meanwhile waits in
   * the socket's buffer. Then the callback runs once, whether or not anything
   * came; called again from there, the hold goes on without polling between.
   */
  holdOff(ms: number): void {
    this.checkOpen("holdOff");
    this.addon.holdOff(this.fd, ms);
  }

  /** Called on every overrun or truncation recvInto sees (the caller must resync). */
  onOverrun(fn: (kind: "enobufs" | "truncated") => void): void {
    this.overrunHandler = fn;
  }

  /**
   * Reads up to maxDatagrams datagrams into view (from its start), packed back
   * to back. Returns the byte count, or RECV_AGAIN / RECV_OVERRUN / RECV_TRUNCATED.
   */
  recvInto(view: Uint8Array, maxDatagrams = 64): number {
    const n = this.addon.recvMany(this.fd, view, maxDatagrams);
    if (n >= 0) return n;
    const c = this.addon.constants;
    if (n === -c.EAGAIN) return RECV_AGAIN;
    this.overruns++;
    const kind = n === -c.ENOBUFS ? "enobufs" : "truncated";
    this.overrunHandler?.(kind);
    return kind === "enobufs" ? RECV_OVERRUN : RECV_TRUNCATED;
  }

  /** Sends bytes[offset, offset+length) as one datagram to the kernel. Returns bytes sent or SEND_AGAIN. */
  send(bytes: Uint8Array, offset = 0, length = bytes.length - offset): number {
    const n = this.addon.send(this.fd, bytes, offset, length, 0);
    return n >= 0 ? n : SEND_AGAIN;
  }

  /**
   * send() on a worker thread. The kernel handles a ctnetlink batch inside
   * the send call, so the caller can prepare the next batch meanwhile; the
   * bytes are copied at once and `bytes` may be reused.
   */
  async sendAsync(bytes: Uint8Array, offset = 0, length = bytes.length - offset): Promise<number> {
    const n = await this.addon.sendAsync(this.fd, bytes, offset, length, 0);
    return n >= 0 ? n : SEND_AGAIN;
  }

  /** Messages the kernel could not queue to this socket (sk_drops: /proc/net/netlink's Drops). */
  drops(): number {
    return this.addon.dropCount(this.fd);
  }

  stats(): NetlinkNativeStats {
    return this.addon.stats(this.fd);
  }

  setOption(option: number, value: number): void {
    this.addon.setOption(this.fd, option, value);
  }

  /** Leaves (false) or joins again (true) multicast groups: events of a group nobody listens to are not even built. */
  setGroups(groups: readonly NetlinkGroup[], joined: boolean): void {
    const NETLINK_ADD_MEMBERSHIP = 1, NETLINK_DROP_MEMBERSHIP = 2;
    for (const g of groups) this.setOption(joined ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP, NFNLGRP[g]);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.addon.close(this.fd);
  }

  private checkOpen(what: string): void {
    if (this.closed) throw new Error(`netlink: ${what} on a closed socket (fd ${this.fd})`);
  }
}
