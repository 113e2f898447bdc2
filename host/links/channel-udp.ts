// Sync.UDP: unicast datagrams to one configured peer. As in conntrackd, two
// sockets: one bound to the configured address and port that receives, one
// that sends to the destination. Unlike conntrackd, a datagram whose source is
// not the configured destination is refused: anyone who can reach the port
// could otherwise inject conntrack state.
import dgram from "node:dgram";
import type { UnicastChannel } from "../config/types.ts";
import { type Channel, AddressSet, bindDgram, closeDgram, linkName, socketFailure, withScope } from "./channel.ts";
import { DatagramChannel, applyDatagramOptions } from "./channel-datagram.ts";

export async function openUdpChannel(cfg: UnicastChannel): Promise<Channel> {
  const type = cfg.family === 4 ? "udp4" : "udp6";
  const any = cfg.family === 4 ? "0.0.0.0" : "::";
  const local = cfg.address ? withScope(cfg.address, cfg.interface) : any;
  const rx = dgram.createSocket({ type, reuseAddr: true }); // conntrackd sets SO_REUSEADDR: quick restarts
  const tx = dgram.createSocket({ type });
  try {
    await bindDgram(rx, cfg.port, local).catch((e) => { throw socketFailure(cfg, `bind ${local} port ${cfg.port}`, e); });
    // The sending side takes the same local address so the peer's source filter recognises us.
    await bindDgram(tx, 0, local).catch((e) => { throw socketFailure(cfg, `bind the sending socket to ${local}`, e); });
  } catch (e) {
    await Promise.all([closeDgram(rx), closeDgram(tx)]);
    throw e;
  }
  return new UdpChannel(cfg, rx, tx, applyOptions(cfg, rx, tx));
}

/** The datagram options, and a warning when there is no peer to send to. */
function applyOptions(cfg: UnicastChannel, rx: dgram.Socket, tx: dgram.Socket): string[] {
  const warnings = applyDatagramOptions(cfg, rx, tx);
  if (!cfg.destination) {
    warnings.push(`${linkName(cfg)}: no IPv${cfg.family}_Destination_Address: nothing is sent, and every datagram received is dropped`);
  }
  return warnings;
}

class UdpChannel extends DatagramChannel {
  readonly kind = "udp" as const;
  private readonly peer = new AddressSet();

  constructor(cfg: UnicastChannel, rx: dgram.Socket, tx: dgram.Socket, warnings: readonly string[]) {
    super(cfg, rx, tx, cfg.destination ? withScope(cfg.destination, cfg.interface) : null, warnings);
    if (cfg.destination) this.peer.add(cfg.destination);
  }

  protected accepts(address: string): boolean {
    return this.peer.has(address);
  }
}
