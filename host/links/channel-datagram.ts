// What the UDP and multicast links share: a socket that receives and one that
// sends, a rule for whose datagrams are accepted, and the counters.
import type dgram from "node:dgram";
import type { MulticastChannel, UnicastChannel } from "../config/types.ts";
import {
  type Channel, type LinkStatus, type Sender, bytesOf, bufferWarning, checksumWarning, closeDgram, newStats,
  payloadSizeFor, readLinkStatus, statusIsUp,
} from "./channel.ts";

type DatagramConfig = UnicastChannel | MulticastChannel;

export abstract class DatagramChannel implements Channel {
  abstract readonly kind: "udp" | "multicast";
  readonly device: string | null;
  readonly payloadSize: number;
  readonly stats = newStats();
  private receive: (bytes: Uint8Array) => void = () => {};
  private drop: (from: Sender) => void = () => {};
  private closed = false;

  /** `to`: where datagrams go (the peer or the group); null sends nothing. */
  constructor(private readonly cfg: DatagramConfig, private readonly rx: dgram.Socket,
    private readonly tx: dgram.Socket, private readonly to: string | null, readonly warnings: readonly string[]) {
    this.device = cfg.interface;
    this.payloadSize = payloadSizeFor(cfg);
    rx.on("message", (msg, rinfo) => this.onMessage(msg, rinfo));
    // A socket error must never crash the daemon: count it, the link stays open.
    rx.on("error", () => { this.stats.errorsRecv++; });
    tx.on("error", () => { this.stats.errorsSend++; });
  }

  get receiveBuffer(): number {
    return this.rx.getRecvBufferSize();
  }

  /** Whether a datagram from this source address is the peer's. */
  protected abstract accepts(address: string): boolean;

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (!this.accepts(rinfo.address)) {
      this.stats.dropped++;
      this.drop({ address: rinfo.address, port: rinfo.port });
      return;
    }
    this.stats.bytesRecv += msg.length;
    this.stats.packetsRecv++;
    this.receive(bytesOf(msg));
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed || !this.to) return false;
    // A copy: the core reuses its transmit buffer at once.
    this.tx.send(bytes.slice(), this.cfg.port, this.to, (err, sent) => {
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

/** SndSocketBuffer, RcvSocketBuffer and Checksum on the two sockets; returns the warnings. */
export function applyDatagramOptions(cfg: DatagramConfig, rx: dgram.Socket, tx: dgram.Socket): string[] {
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
