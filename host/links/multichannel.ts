// The dedicated links of one Sync section: up to four redundant channels of
// one kind. As in conntrackd, sync messages go out on one of them (the
// "current", the Default one at first) and are read from all. When the
// current link's device goes down another one that is up takes over, and when
// the peer talks to us on another link, we answer on that one.
//
// As conntrackd, we learn of link state changes from rtnetlink (LinkWatch)
// and then read the devices' flags (IFF_UP, IFF_RUNNING): an idle daemon
// does no work for its links.
import type { Channel as ChannelConfig } from "../config/types.ts";
import { type Channel, type ChannelOptions, type ChannelStats, type LinkStatus, checkDevice, linkName, statusIsUp } from "./channel.ts";
import { openUdpChannel } from "./channel-udp.ts";
import { openMulticastChannel } from "./channel-mcast.ts";
import { openTcpChannel } from "./channel-tcp.ts";
import { openCorosyncChannel } from "./channel-corosync.ts";
import { LinkWatch } from "./link-watch.ts";

/** Opens the sockets of one dedicated link. Throws ChannelError when the link cannot work at all. */
export async function openChannel(cfg: ChannelConfig, opts: ChannelOptions = {}): Promise<Channel> {
  checkDevice(cfg);
  switch (cfg.type) {
    case "udp": return openUdpChannel(cfg);
    case "multicast": return openMulticastChannel(cfg);
    case "tcp": return openTcpChannel(cfg, opts);
    case "corosync": return openCorosyncChannel(cfg);
  }
}

/** Why the current link changed. */
export type SwitchReason = "link-down" | "peer-traffic";

export interface SwitchEvent {
  /** Index of the link given up. */
  from: number;
  /** Index of the new current link; null when no link is up ("no dedicated links available!"). */
  to: number | null;
  /** The device of the new link (null: none, or a link with no Interface). */
  device: string | null;
  reason: SwitchReason;
  /** The line conntrackd would log: "device `eth1' becomes dedicated link". */
  message: string;
}

/** One row of conntrackd's `-s link`. */
export interface LinkReport {
  device: string | null;
  status: LinkStatus;
  role: "ACTIVE" | "BACKUP";
  stats: ChannelStats;
  /** TCP links: the two connections' states (conntrackd's server= and client= of -s). */
  connections?: { server: boolean; client: boolean };
}

export interface MultichannelOptions extends ChannelOptions {
  /**
   * Make a link current as soon as accepted data arrives on it (default true).
   * conntrackd switches only once a message passed its header checks; a daemon
   * that wants exactly that sets false and calls follow() after the core's check.
   */
  followOnReceive?: boolean;
}

/** Opens every link of the section; if one fails the others are closed again. */
export async function openMultichannel(configs: readonly ChannelConfig[], defaultIndex: number,
  opts: MultichannelOptions = {}): Promise<Multichannel> {
  const channels: Channel[] = [];
  try {
    for (const cfg of configs) channels.push(await openChannel(cfg, opts));
  } catch (e) {
    await Promise.all(channels.map((c) => c.close()));
    throw e;
  }
  const m = new Multichannel(channels, defaultIndex, sharedGroupWarnings(configs));
  m.followOnReceive = opts.followOnReceive ?? true;
  return m;
}

/**
 * Node can neither bind a socket to a device (SO_BINDTODEVICE) nor tell on
 * which device a datagram came in, so two multicast links on the same group
 * and port would each receive the other's traffic. Say so.
 */
function sharedGroupWarnings(configs: readonly ChannelConfig[]): string[] {
  const warnings: string[] = [];
  configs.forEach((a, i) => configs.slice(i + 1).forEach((b) => {
    if (a.type === "multicast" && b.type === "multicast" && a.address === b.address && a.port === b.port) {
      warnings.push(`${linkName(b)}: same group ${b.address} and port ${b.port} as line ${a.line}: ` +
        "Node cannot bind a socket to its device (SO_BINDTODEVICE), so each link also receives the other's datagrams; give each link its own Group port");
    }
  }));
  return warnings;
}

export class Multichannel {
  private currentIndex: number;
  /** Wakes checkLinks when a device changes; none when no link names its device. */
  private readonly watch: LinkWatch | null;
  private switchHandler: (e: SwitchEvent) => void = () => {};
  private receiveHandler: (bytes: Uint8Array, index: number, stream?: number) => void = () => {};
  private closed = false;
  /** Set once "no link available" was reported, so it is reported once per outage. */
  private stranded = false;

  /** See MultichannelOptions.followOnReceive. */
  followOnReceive = true;

  /** Every channel's warnings, and those about the set. */
  readonly warnings: readonly string[];

  constructor(readonly channels: readonly Channel[], defaultIndex: number, setWarnings: string[]) {
    if (channels.length === 0) throw new RangeError("a multichannel needs at least one channel");
    this.currentIndex = defaultIndex >= 0 && defaultIndex < channels.length ? defaultIndex : 0;
    this.warnings = [...channels.flatMap((c) => c.warnings), ...setWarnings];
    channels.forEach((c, i) => c.onReceive((bytes, stream) => this.onData(bytes, i, stream)));
    this.watch = channels.some((c) => c.device !== null) ? LinkWatch.open(() => this.checkLinks()) : null;
    // A device already down at start sends no news: look once, when the owner listens (onSwitch).
    if (this.watch) setImmediate(() => this.closed || this.checkLinks());
  }

  get current(): Channel {
    return this.channels[this.currentIndex];
  }

  get index(): number {
    return this.currentIndex;
  }

  /** Bytes one datagram may carry on the current link; read it again after a switch. */
  get payloadSize(): number {
    return this.current.payloadSize;
  }

  /** The smallest receive buffer of the datagram links (any may carry a burst); null when all are TCP. */
  get receiveBuffer(): number | null {
    const sizes = this.channels.map((c) => c.receiveBuffer).filter((b): b is number => b !== null);
    return sizes.length ? Math.min(...sizes) : null;
  }

  send(bytes: Uint8Array): boolean {
    return this.current.send(bytes);
  }

  /** Data from any link, with the index of the link it came on (and for TCP the stream's id). */
  onReceive(handler: (bytes: Uint8Array, index: number, stream?: number) => void): void {
    this.receiveHandler = handler;
  }

  onSwitch(handler: (e: SwitchEvent) => void): void {
    this.switchHandler = handler;
  }

  stats(): LinkReport[] {
    return this.channels.map((c, i) => ({
      device: c.device,
      status: c.linkStatus(),
      role: i === this.currentIndex ? "ACTIVE" : "BACKUP",
      stats: c.stats,
      connections: c.connections?.(),
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.close();
    await Promise.all(this.channels.map((c) => c.close()));
  }

  /** The peer talks on link `index`: answer there from now on. */
  follow(index: number): void {
    if (index !== this.currentIndex) this.switchTo(index, "peer-traffic");
  }

  private onData(bytes: Uint8Array, index: number, stream?: number): void {
    // The peer sends where it believes the link is: answer there.
    if (this.followOnReceive) this.follow(index);
    this.receiveHandler(bytes, index, stream);
  }

  /** Runs when a device changed: leaves the current link if its device is down. */
  checkLinks(): void {
    if (statusIsUp(this.current.linkStatus())) {
      this.stranded = false;
      return;
    }
    const next = this.candidate();
    if (next !== null) {
      this.switchTo(next, "link-down");
    } else if (!this.stranded) {
      this.stranded = true;
      this.switchHandler({ from: this.currentIndex, to: null, device: null, reason: "link-down", message: "no dedicated links available!" });
    }
  }

  /**
   * The next link after the current one, round robin, whose device is up and
   * running. conntrackd accepts either flag here; a link that is up without
   * carrier cannot carry anything, so we ask for both.
   */
  private candidate(): number | null {
    for (let step = 1; step < this.channels.length; step++) {
      const i = (this.currentIndex + step) % this.channels.length;
      if (statusIsUp(this.channels[i].linkStatus())) return i;
    }
    return null;
  }

  private switchTo(index: number, reason: SwitchReason): void {
    const from = this.currentIndex;
    this.currentIndex = index;
    this.stranded = false;
    const device = this.channels[index].device;
    this.switchHandler({ from, to: index, device, reason, message: `device \`${device ?? `link ${index}`}' becomes dedicated link` });
  }
}
