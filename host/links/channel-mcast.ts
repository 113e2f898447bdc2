// Sync.Multicast: datagrams to a multicast group, IPv4 or IPv6. As in
// conntrackd, a receiving socket joined to the group on the configured
// interface and a sending socket with multicast loopback off. conntrackd sets
// no TTL, so the kernel's default of 1 applies; we set 1 explicitly: sync
// traffic must never leave the dedicated link.
import dgram from "node:dgram";
import { networkInterfaces } from "node:os";
import type { MulticastChannel } from "../config/types.ts";
import { type Channel, AddressSet, ChannelError, bindDgram, closeDgram, linkName, socketFailure, withScope } from "./channel.ts";
import { DatagramChannel, applyDatagramOptions } from "./channel-datagram.ts";

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
  return new McastChannel(cfg, rx, tx, group, ownAddresses(), applyDatagramOptions(cfg, rx, tx));
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

/** Every address of this host: a datagram from one of them is our own (or a local impostor's). */
function ownAddresses(): AddressSet {
  const set = new AddressSet();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) set.add(a.address);
  }
  return set;
}

class McastChannel extends DatagramChannel {
  readonly kind = "multicast" as const;

  constructor(cfg: MulticastChannel, rx: dgram.Socket, tx: dgram.Socket, group: string,
    private readonly own: AddressSet, warnings: readonly string[]) {
    super(cfg, rx, tx, group, warnings);
  }

  /** Anyone on the group but this host itself (loopback is off; an impostor with our address is refused). */
  protected accepts(address: string): boolean {
    return !this.own.has(address);
  }
}
