// Sync.Multicast: datagrams to a multicast group, IPv4 or IPv6. As in
// conntrackd, a receiving socket joined to the group on the configured
// interface and a sending socket with multicast loopback off. conntrackd sets
// no TTL, so the kernel's default of 1 applies; we set 1 explicitly: sync
// traffic must never leave the dedicated link.
import dgram from "node:dgram";
import { networkInterfaces } from "node:os";
import type { MulticastChannel } from "./config-types.ts";
import {
  type Channel, type LinkStatus, type Sender, AddressSet, bytesOf, ChannelError, bindDgram, bufferWarning,
  checksumWarning, closeDgram, linkName, newStats, payloadSizeFor, readLinkStatus, socketFailure,
  statusIsUp, withScope,
} from "./channel.ts";

export async function openMulticastChannel(cfg: MulticastChannel): Promise<Channel> {
  const type = cfg.family === 4 ? "udp4" : "udp6";
  const iface = interfaceFor(cfg);
  const group = withScope(cfg.address, cfg.interface);
  const rx = dgram.createSocket({ type, reuseAddr: true });
  const tx = dgram.createSocket({ type });
  try {
    // Bound to the group, not to "any" as conntrackd does: unicast datagrams
    // to the port, and other groups joined on this host, never reach us.
    await bindDgram(rx, cfg.port, group).catch((e) => { throw socketFailure(cfg, `bind group ${group} port ${cfg.port}`, e); });
    join(cfg, rx, group, iface);
    await bindDgram(tx, 0, cfg.family === 4 ? iface ?? "0.0.0.0" : "::")
      .catch((e) => { throw socketFailure(cfg, "bind the sending socket", e); });
    setupSender(cfg, tx, iface);
  } catch (e) {
    await Promise.all([closeDgram(rx), closeDgram(tx)]);
    throw e;
  }
  return new McastChannel(cfg, rx, tx, group, ownAddresses(), applyBuffers(cfg, rx, tx));
}

/**
 * The interface as the socket options want it: IPv4 takes its address
 * (IPv4_interface, else the first address of Interface), IPv6 its name as a
 * zone ("::%eth1"). undefined lets the kernel choose by the routing table,
 * as conntrackd does when neither is given.
 */
function interfaceFor(cfg: MulticastChannel): string | undefined {
  if (cfg.family === 6) return cfg.interface ? `::%${cfg.interface}` : undefined;
  if (cfg.ipv4Interface) return cfg.ipv4Interface;
  if (!cfg.interface) return undefined;
  const v4 = networkInterfaces()[cfg.interface]?.find((a) => a.family === "IPv4");
  if (!v4) throw new ChannelError(`${linkName(cfg)}: interface "${cfg.interface}" has no IPv4 address to join ${cfg.address} on; give IPv4_interface`);
  return v4.address;
}

function join(cfg: MulticastChannel, rx: dgram.Socket, group: string, iface: string | undefined): void {
  try {
    rx.addMembership(group, iface);
  } catch (e) {
    throw socketFailure(cfg, `join group ${cfg.address} on ${iface ?? "the default interface"}`, e);
  }
}

function setupSender(cfg: MulticastChannel, tx: dgram.Socket, iface: string | undefined): void {
  tx.setMulticastLoopback(false); // our own datagrams must not come back to us
  tx.setMulticastTTL(1);
  if (!iface) return;
  try {
    tx.setMulticastInterface(iface);
  } catch (e) {
    throw socketFailure(cfg, `send to the group on ${iface}`, e);
  }
}

function applyBuffers(cfg: MulticastChannel, rx: dgram.Socket, tx: dgram.Socket): string[] {
  const warnings: string[] = [];
  const add = (w: string | null) => { if (w) warnings.push(w); };
  if (cfg.rcvSocketBuffer) {
    rx.setRecvBufferSize(cfg.rcvSocketBuffer);
    add(bufferWarning(cfg, "RcvSocketBuffer", cfg.rcvSocketBuffer, rx.getRecvBufferSize()));
  }
  if (cfg.sndSocketBuffer) {
    tx.setSendBufferSize(cfg.sndSocketBuffer);
    add(bufferWarning(cfg, "SndSocketBuffer", cfg.sndSocketBuffer, tx.getSendBufferSize()));
  }
  add(checksumWarning(cfg));
  return warnings;
}

/** Every address of this host: a datagram from one of them is our own (or a local impostor's). */
function ownAddresses(): AddressSet {
  const set = new AddressSet();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) set.add(a.address);
  }
  return set;
}

class McastChannel implements Channel {
  readonly kind = "multicast" as const;
  readonly device: string | null;
  readonly payloadSize: number;
  readonly stats = newStats();
  private receive: (bytes: Uint8Array) => void = () => {};
  private drop: (from: Sender) => void = () => {};
  private closed = false;

  constructor(private readonly cfg: MulticastChannel, private readonly rx: dgram.Socket,
    private readonly tx: dgram.Socket, private readonly group: string,
    private readonly own: AddressSet, readonly warnings: readonly string[]) {
    this.device = cfg.interface;
    this.payloadSize = payloadSizeFor(cfg);
    rx.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    rx.on("error", () => { this.stats.errorsRecv++; });
    tx.on("error", () => { this.stats.errorsSend++; });
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.own.has(rinfo.address)) {
      this.stats.dropped++;
      this.drop({ address: rinfo.address, port: rinfo.port });
      return;
    }
    this.stats.bytesRecv += msg.length;
    this.stats.packetsRecv++;
    this.receive(bytesOf(msg));
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed) return false;
    this.tx.send(bytes.slice(), this.cfg.port, this.group, (err, sent) => {
      if (err) {
        this.stats.errorsSend++;
        return;
      }
      this.stats.bytesSent += sent;
      this.stats.packetsSent++;
    });
    return true;
  }

  onReceive(handler: (bytes: Uint8Array) => void): void {
    this.receive = handler;
  }

  onDrop(handler: (from: Sender) => void): void {
    this.drop = handler;
  }

  linkStatus(): LinkStatus {
    return readLinkStatus(this.device);
  }

  isUp(): boolean {
    return !this.closed && statusIsUp(this.linkStatus());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([closeDgram(this.rx), closeDgram(this.tx)]);
  }
}
