// Sync.Multicast: datagrams to a multicast group, IPv4 or IPv6. As in
// conntrackd, a receiving socket joined to the group on the configured
// interface and a sending socket with multicast loopback off. conntrackd sets
// no TTL, so the kernel's default of 1 applies; we set 1 explicitly: sync
// traffic must never leave the dedicated link.
import { networkInterfaces } from "node:os";
import type { MulticastChannel } from "../config/types.ts";
import { type Channel, AddressSet, ChannelError, linkName, socketFailure, withScope } from "./channel.ts";
import {
  DatagramChannel, type SendTarget, applyDatagramOptions, closeSocket, connectSender, dgramAddon, openSocket,
} from "./channel-datagram.ts";

export async function openMulticastChannel(cfg: MulticastChannel): Promise<Channel> {
  const iface = interfaceFor(cfg);
  const group = withScope(cfg.address, cfg.interface);
  // Bound to the group, not to "any" as conntrackd does: unicast datagrams
  // to the port, and other groups joined on this host, never reach us.
  const rx = openSocket(cfg, group, cfg.port, true, `bind group ${group} port ${cfg.port}`);
  let tx = -1;
  try {
    join(cfg, rx, group, iface);
    tx = openSocket(cfg, cfg.family === 4 ? iface ?? "0.0.0.0" : "::", 0, false, "bind the sending socket");
    const target: SendTarget = { family: cfg.family, address: group, port: cfg.port };
    const connected = setupSender(cfg, tx, target, iface);
    const { receiveBuffer, warnings } = applyDatagramOptions(cfg, rx, tx);
    return new McastChannel(cfg, rx, tx, target, connected, ownAddresses(), receiveBuffer, warnings);
  } catch (e) {
    closeSocket(rx);
    if (tx >= 0) closeSocket(tx);
    throw e;
  }
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

function join(cfg: MulticastChannel, rx: number, group: string, iface: string | undefined): void {
  try {
    dgramAddon().join(rx, cfg.family, group, iface ?? "");
  } catch (e) {
    throw socketFailure(cfg, `join group ${cfg.address} on ${iface ?? "the default interface"}`, e);
  }
}

/**
 * Multicast loopback off (our own datagrams must not come back to us), TTL 1,
 * the interface; sends go to the group: connected, or false while there is no route.
 */
function setupSender(cfg: MulticastChannel, tx: number, group: SendTarget, iface: string | undefined): boolean {
  try {
    dgramAddon().sender(tx, cfg.family, iface ?? "");
  } catch (e) {
    throw socketFailure(cfg, `send to the group on ${iface ?? "the default interface"}`, e);
  }
  try {
    return connectSender(tx, group);
  } catch (e) {
    throw socketFailure(cfg, `send to group ${group.address} port ${cfg.port}`, e);
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

  constructor(cfg: MulticastChannel, rx: number, tx: number, target: SendTarget, connected: boolean,
    private readonly own: AddressSet, receiveBuffer: number, warnings: readonly string[]) {
    super(cfg, rx, tx, target, connected, receiveBuffer, warnings);
  }

  /** Anyone on the group but this host itself (loopback is off; an impostor with our address is refused). */
  protected accepts(address: string): boolean {
    return !this.own.has(address);
  }
}
