// Sync.UDP: unicast datagrams to one configured peer. As in conntrackd, two
// sockets: one bound to the configured address and port that receives, one
// that sends to the destination. Unlike conntrackd, a datagram whose source is
// not the configured destination is refused: anyone who can reach the port
// could otherwise inject conntrack state.
import dgram from "node:dgram";
import type { UnicastChannel } from "./config-types.ts";
import {
  type Channel, type LinkStatus, type Sender, AddressSet, bytesOf, bindDgram, bufferWarning, checksumWarning,
  closeDgram, linkName, newStats, payloadSizeFor, readLinkStatus, socketFailure, statusIsUp, withScope,
} from "./channel.ts";

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

/** Socket buffer sizes and the options Node cannot set; returns the warnings. */
function applyOptions(cfg: UnicastChannel, rx: dgram.Socket, tx: dgram.Socket): string[] {
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
  if (!cfg.destination) {
    add(`${linkName(cfg)}: no IPv${cfg.family}_Destination_Address: nothing is sent, and every datagram received is dropped`);
  }
  return warnings;
}

class UdpChannel implements Channel {
  readonly kind = "udp" as const;
  readonly device: string | null;
  readonly payloadSize: number;
  readonly stats = newStats();
  private readonly peer = new AddressSet();
  private readonly destination: string | null;
  private receive: (bytes: Uint8Array) => void = () => {};
  private drop: (from: Sender) => void = () => {};
  private closed = false;

  constructor(private readonly cfg: UnicastChannel, private readonly rx: dgram.Socket,
    private readonly tx: dgram.Socket, readonly warnings: readonly string[]) {
    this.device = cfg.interface;
    this.payloadSize = payloadSizeFor(cfg);
    this.destination = cfg.destination ? withScope(cfg.destination, cfg.interface) : null;
    if (cfg.destination) this.peer.add(cfg.destination);
    rx.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    // A socket error must never crash the daemon: count it, the link stays open.
    rx.on("error", () => { this.stats.errorsRecv++; });
    tx.on("error", () => { this.stats.errorsSend++; });
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.peer.has(rinfo.address)) {
      this.stats.dropped++;
      this.drop({ address: rinfo.address, port: rinfo.port });
      return;
    }
    this.stats.bytesRecv += msg.length;
    this.stats.packetsRecv++;
    this.receive(bytesOf(msg));
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed || !this.destination) return false;
    // A copy: the core reuses its transmit buffer at once.
    this.tx.send(bytes.slice(), this.cfg.port, this.destination, (err, sent) => {
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
