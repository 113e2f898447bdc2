// Sync.UDP: unicast datagrams to one configured peer. As in conntrackd, two
// sockets: one bound to the configured address and port that receives, one
// that sends to the destination. Unlike conntrackd, a datagram whose source is
// not the configured destination is refused: anyone who can reach the port
// could otherwise inject conntrack state.
import type { UnicastChannel } from "../config/types.ts";
import { type Channel, AddressSet, linkName, socketFailure, withScope } from "./channel.ts";
import {
  DatagramChannel, type SendTarget, applyDatagramOptions, closeSocket, connectSender, openSocket,
} from "./channel-datagram.ts";

export async function openUdpChannel(cfg: UnicastChannel): Promise<Channel> {
  const any = cfg.family === 4 ? "0.0.0.0" : "::";
  const local = cfg.address ? withScope(cfg.address, cfg.interface) : any;
  const rx = openSocket(cfg, local, cfg.port, true, `bind ${local} port ${cfg.port}`); // conntrackd sets SO_REUSEADDR: quick restarts
  let tx = -1;
  try {
    // The sending side takes the same local address so the peer's source filter recognises us.
    tx = openSocket(cfg, local, 0, false, `bind the sending socket to ${local}`);
    const target: SendTarget | null = cfg.destination
      ? { family: cfg.family, address: withScope(cfg.destination, cfg.interface), port: cfg.port } : null;
    let connected = false;
    if (target) {
      try {
        connected = connectSender(tx, target);
      } catch (e) {
        throw socketFailure(cfg, `send to ${target.address} port ${cfg.port}`, e);
      }
    }
    const { receiveBuffer, warnings } = applyDatagramOptions(cfg, rx, tx);
    if (!target) {
      warnings.push(`${linkName(cfg)}: no IPv${cfg.family}_Destination_Address: nothing is sent, and every datagram received is dropped`);
    }
    return new UdpChannel(cfg, rx, tx, target, connected, receiveBuffer, warnings);
  } catch (e) {
    closeSocket(rx);
    if (tx >= 0) closeSocket(tx);
    throw e;
  }
}

class UdpChannel extends DatagramChannel {
  readonly kind = "udp" as const;
  private readonly peer = new AddressSet();

  constructor(cfg: UnicastChannel, rx: number, tx: number, target: SendTarget | null, connected: boolean,
    receiveBuffer: number, warnings: readonly string[]) {
    super(cfg, rx, tx, target, connected, receiveBuffer, warnings);
    if (cfg.destination) this.peer.add(cfg.destination);
  }

  protected accepts(address: string): boolean {
    return this.peer.has(address);
  }
}
