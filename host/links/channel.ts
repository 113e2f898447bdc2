// A channel is one dedicated link of the Sync section: the sockets that carry
// sync datagrams to and from the peer over one device. Channels only move
// bytes; the core packs and parses them. This file holds what every kind
// shares: the interface, the counters, the device's MTU and link state, the
// sender filter and the errors a person reads when a link cannot open.
import { readFileSync, existsSync } from "node:fs";
import { BlockList } from "node:net";
import type { Channel as ChannelConfig } from "../config/types.ts";

export type ChannelKind = "udp" | "multicast" | "tcp" | "corosync";

/** The counters conntrackd prints per link with `-s network` / `-s link`. */
export interface ChannelStats {
  bytesSent: number;
  bytesRecv: number;
  /** Datagrams sent (TCP: chunks written), as conntrackd's "Pckts sent". */
  packetsSent: number;
  /** Datagrams accepted (TCP: reads from the stream), as conntrackd's "Pckts recv". */
  packetsRecv: number;
  errorsSend: number;
  errorsRecv: number;
  /** Datagrams (or TCP connections) refused because they came from a sender that is not the configured peer. */
  dropped: number;
}

/** Who sent something we refused, for the daemon's rate-limited log. */
export interface Sender {
  address: string;
  port: number;
}

/** The device's state the way conntrackd's `-s link` names it (IFF_UP, IFF_RUNNING). */
export type LinkStatus = "RUNNING" | "NO-CARRIER" | "DOWN" | "UNKNOWN";

export interface Channel {
  readonly kind: ChannelKind;
  /** The Interface of the link; null when the configuration gives none. */
  readonly device: string | null;
  /** Bytes of sync messages one datagram may carry: the device MTU less the IP and UDP/TCP headers. */
  readonly payloadSize: number;
  /**
   * Bytes the kernel queues on the receiving socket before it drops
   * datagrams (SO_RCVBUF as granted); null for TCP, whose flow control
   * never drops.
   */
  readonly receiveBuffer: number | null;
  readonly stats: ChannelStats;
  /** What the configuration asks and this channel cannot do, one sentence each; for the daemon to log once. */
  readonly warnings: readonly string[];
  /**
   * Sends one datagram (UDP, multicast) or one chunk of the stream (TCP). The
   * bytes are copied: the caller may reuse its buffer at once. Datagrams sent
   * in one turn of the event loop leave together, at its end. false when it
   * could not go out now (closed, no peer, TCP not connected: queued for
   * later; a full datagram send queue: dropped); errors the kernel reports
   * afterwards are counted in stats.errorsSend.
   */
  send(bytes: Uint8Array): boolean;
  /**
   * One datagram; or for TCP, one read of the peer's stream, with the id of
   * its connection (the core cuts the stream into messages: engineRxStream).
   * The bytes are valid during the call only.
   */
  onReceive(handler: (bytes: Uint8Array, stream?: number) => void): void;
  /** TCP: the stream lost its message boundaries; close it (the peer's next connection starts afresh). */
  loseStream?(): void;
  /** A datagram or connection from anyone but the configured peer was refused (and counted in stats.dropped). */
  onDrop(handler: (from: Sender) => void): void;
  /** Overload the daemon should log: a full send queue (datagram links), now and then. */
  onTrouble?(handler: (message: string) => void): void;
  /** The device's link state, as conntrackd reads it for failover. */
  linkStatus(): LinkStatus;
  /** The device is up and running, and for TCP the connection to the peer is established. */
  isUp(): boolean;
  /**
   * TCP only: whether the peer's connection to our listener (server) and
   * ours to the peer's (client) are established, as -s shows them.
   */
  connections?(): { server: boolean; client: boolean };
  close(): Promise<void>;
}

export interface ChannelOptions {
  /** TCP: chunks kept while the peer is unreachable (Sync.TCP ErrorQueueLength). Default 128. */
  errorQueueLength?: number;
  /** TCP: milliseconds between connection attempts; conntrackd tries at most once a second. Default 1000. */
  reconnectMs?: number;
}

/** A link that cannot open; the message says which link and why. */
export class ChannelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChannelError";
  }
}

const KIND_NAME: Record<ChannelConfig["type"], string> = { udp: "UDP", multicast: "Multicast", tcp: "TCP", corosync: "Corosync" };

/** "Sync UDP link at line 12 (eth1)": where a message about a link points to. */
export function linkName(cfg: ChannelConfig): string {
  return `Sync ${KIND_NAME[cfg.type]} link at line ${cfg.line}${cfg.interface ? ` (${cfg.interface})` : ""}`;
}

/** Throws ChannelError when the link's device cannot carry it (missing, say). */
export function checkDevice(cfg: ChannelConfig): void {
  if (cfg.interface && !existsSync(`/sys/class/net/${cfg.interface}`)) {
    throw new ChannelError(`${linkName(cfg)}: interface "${cfg.interface}" does not exist on this host`);
  }
}

/** Explains a socket error code in words, for bind/listen/join failures. */
export function socketFailure(cfg: ChannelConfig, what: string, err: unknown): ChannelError {
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const why: Record<string, string> = {
    EADDRNOTAVAIL: "the address is not on this host",
    EADDRINUSE: "the address and port are already in use by another socket",
    EACCES: "permission denied (a port below 1024 needs privileges)",
    ENODEV: "no such interface",
    EINVAL: "invalid address for this socket (a link-local IPv6 address needs an Interface)",
  };
  const reason = why[code] ?? (err as Error).message;
  return new ChannelError(`${linkName(cfg)}: cannot ${what}: ${reason}${code ? ` (${code})` : ""}`);
}

export function newStats(): ChannelStats {
  return { bytesSent: 0, bytesRecv: 0, packetsSent: 0, packetsRecv: 0, errorsSend: 0, errorsRecv: 0, dropped: 0 };
}

// Headers in front of the sync payload. conntrackd 1.4.7 uses 28 (UDP) and
// 40 (TCP) for both families, so its full IPv6 datagrams get fragmented; we
// count the real IPv6 header instead (any size up to 64 KiB is still accepted).
const HEADERS = { udp: { 4: 28, 6: 48 }, tcp: { 4: 40, 6: 60 } } as const;

/** The MTU of the device; loopback, no device or an unreadable one count as Ethernet's 1500. */
export function deviceMtu(device: string | null): number {
  if (!device || device === "lo") return 1500;
  try {
    const mtu = Number.parseInt(readFileSync(`/sys/class/net/${device}/mtu`, "utf8"), 10);
    return Number.isFinite(mtu) && mtu > 0 ? mtu : 1500;
  } catch {
    return 1500;
  }
}

/** Usable bytes per datagram (conntrackd's buffer size: MTU less headersiz). */
export function payloadSizeFor(cfg: Exclude<ChannelConfig, { type: "corosync" }>): number {
  const headers = HEADERS[cfg.type === "tcp" ? "tcp" : "udp"][cfg.family];
  return deviceMtu(cfg.interface) - headers;
}

const IFF_UP = 0x1;

/**
 * The interface state as conntrackd tests it: IFF_UP (administrative) and
 * IFF_RUNNING. sysfs "flags" holds IFF_UP but never IFF_RUNNING, which the
 * kernel computes on request from the operational state: set when that is
 * "up" or "unknown" (loopback, many virtual devices).
 */
export function readLinkStatus(device: string | null): LinkStatus {
  if (!device) return "UNKNOWN";
  let flags: number;
  let oper: string;
  try {
    flags = Number.parseInt(readFileSync(`/sys/class/net/${device}/flags`, "utf8"), 16);
    oper = readFileSync(`/sys/class/net/${device}/operstate`, "utf8").trim();
  } catch {
    return "DOWN"; // the device is gone
  }
  if (!(flags & IFF_UP)) return "DOWN";
  return oper === "up" || oper === "unknown" ? "RUNNING" : "NO-CARRIER";
}

/** A device we cannot watch (no Interface) is taken as up: we have no way to know better. */
export function statusIsUp(status: LinkStatus): boolean {
  return status === "RUNNING" || status === "UNKNOWN";
}

/** Adds the zone of a link-local IPv6 address ("fe80::1" on eth1 -> "fe80::1%eth1"); the kernel needs it. */
export function withScope(address: string, device: string | null): string {
  if (!device || familyOf(address) !== "ipv6" || address.includes("%")) return address;
  const linkLocal = /^fe[89ab]/i.test(address) || /^ff[0-9a-f]2:/i.test(address);
  return linkLocal ? `${address}%${device}` : address;
}

/** Matches addresses whatever their spelling (IPv6 "::" forms, case, zone suffix). */
export class AddressSet {
  private readonly list = new BlockList();
  private empty = true;
  // Answers by spelling: BlockList.check builds a SocketAddress each time,
  // a few microseconds on every datagram, always from the same peer.
  private readonly answers = new Map<string, boolean>();

  add(address: string): void {
    const bare = stripZone(address);
    this.list.addAddress(bare, familyOf(bare));
    this.empty = false;
    this.answers.clear();
  }

  has(address: string): boolean {
    if (this.empty) return false;
    let known = this.answers.get(address);
    if (known === undefined) {
      const bare = stripZone(address);
      known = this.list.check(bare, familyOf(bare));
      if (this.answers.size >= 64) this.answers.clear(); // strangers from many addresses must not grow it
      this.answers.set(address, known);
    }
    return known;
  }
}

/**
 * The family of an address already checked (by the configuration, or the
 * kernel's own): only IPv6 has colons. Not node:net's isIPv6, whose first call
 * compiles a regular expression for 3-4 ms of the daemon's start.
 */
function familyOf(address: string): "ipv4" | "ipv6" {
  return address.includes(":") ? "ipv6" : "ipv4";
}

function stripZone(address: string): string {
  const i = address.indexOf("%");
  return i < 0 ? address : address.slice(0, i);
}

/** The warning for "Checksum off" on a TCP link (the datagram links set SO_NO_CHECK, as conntrackd does). */
export function checksumWarning(cfg: ChannelConfig): string | null {
  if (cfg.checksum || cfg.type !== "tcp") return null;
  return `${linkName(cfg)}: Checksum off has no effect on TCP (conntrackd's SO_NO_CHECK does nothing on a TCP socket either)`;
}

/**
 * A Buffer from Node seen as a plain Uint8Array (no copy). TypeScript 5.9 no
 * longer takes @types/node 20's Buffer for a Uint8Array; the bytes are the same.
 */
export function bytesOf(buf: { buffer: ArrayBufferLike; byteOffset: number; length: number }): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}
