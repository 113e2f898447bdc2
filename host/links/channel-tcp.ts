// Sync.TCP: a stream each way, as in conntrackd. Our client connects to the
// peer's listening port and only writes; the peer's client connects to ours
// and we only read. The listener accepts only the configured peer and keeps
// one connection: a new one from the peer replaces the old (the peer restarted).
// What arrives is handed on as read, with the connection's id: the core cuts
// the stream back into messages (assembly/stream.ts).
// While the peer is unreachable, chunks wait in a bounded queue (conntrackd's
// error queue, ErrorQueueLength) and go out in order once connected again.
import net from "node:net";
import type { UnicastChannel } from "../config/types.ts";
import {
  type Channel, type ChannelOptions, type LinkStatus, type Sender, AddressSet, bytesOf, checksumWarning, linkName,
  newStats, payloadSizeFor, readLinkStatus, socketFailure, statusIsUp, withScope,
} from "./channel.ts";

// Past this much data waiting in Node's write buffer the link is too slow:
// further chunks go to the error queue instead of growing memory unbounded.
const MAX_WRITE_BACKLOG = 4 << 20;

export async function openTcpChannel(cfg: UnicastChannel, opts: ChannelOptions = {}): Promise<Channel> {
  const server = net.createServer({ allowHalfOpen: false });
  const host = cfg.address ? withScope(cfg.address, cfg.interface) : cfg.family === 4 ? "0.0.0.0" : "::";
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) => reject(socketFailure(cfg, `listen on ${host} port ${cfg.port}`, e)));
    server.listen({ host, port: cfg.port, backlog: 1 }, () => resolve()); // conntrackd's backlog is 1 too
  });
  return new TcpChannel(cfg, server, opts, tcpWarnings(cfg));
}

function tcpWarnings(cfg: UnicastChannel): string[] {
  const warnings: string[] = [];
  for (const option of ["SndSocketBuffer", "RcvSocketBuffer"] as const) {
    const value = option === "SndSocketBuffer" ? cfg.sndSocketBuffer : cfg.rcvSocketBuffer;
    if (value) warnings.push(`${linkName(cfg)}: ${option} ${value} is not applied: Node cannot size a TCP socket's buffer; the kernel autotunes it`);
  }
  const checksum = checksumWarning(cfg);
  if (checksum) warnings.push(checksum);
  if (!cfg.destination) {
    warnings.push(`${linkName(cfg)}: no IPv${cfg.family}_Destination_Address: nothing is sent, and every connection is refused`);
  }
  return warnings;
}

class TcpChannel implements Channel {
  readonly kind = "tcp" as const;
  readonly device: string | null;
  readonly payloadSize: number;
  readonly receiveBuffer = null;
  readonly stats = newStats();
  private readonly peer = new AddressSet();
  private readonly queue: Uint8Array[] = [];
  private readonly queueLimit: number;
  private readonly reconnectMs: number;
  private client: net.Socket | null = null;
  private connected = false;
  private inbound: net.Socket | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private receive: (bytes: Uint8Array, stream?: number) => void = () => {};
  private streams = 0;
  private drop: (from: Sender) => void = () => {};
  private closed = false;

  constructor(private readonly cfg: UnicastChannel, private readonly server: net.Server,
    opts: ChannelOptions, readonly warnings: readonly string[]) {
    this.device = cfg.interface;
    this.payloadSize = payloadSizeFor(cfg);
    this.queueLimit = opts.errorQueueLength ?? 128;
    this.reconnectMs = opts.reconnectMs ?? 1000;
    if (cfg.destination) this.peer.add(cfg.destination);
    server.on("connection", (s) => this.accept(s));
    server.on("error", () => { this.stats.errorsRecv++; });
    this.connect();
  }

  // ---- receiving side: the peer's client connects to our listener ----

  private accept(socket: net.Socket): void {
    const from = { address: socket.remoteAddress ?? "?", port: socket.remotePort ?? 0 };
    if (!this.peer.has(from.address)) {
      socket.destroy();
      this.stats.dropped++;
      this.drop(from);
      return;
    }
    this.inbound?.destroy(); // the peer reconnected: its old stream is dead
    this.inbound = socket;
    socket.setKeepAlive(true); // conntrackd sets SO_KEEPALIVE: notice a peer that vanished
    const id = ++this.streams;
    socket.on("data", (chunk) => this.onData(bytesOf(chunk), id));
    socket.on("error", () => { this.stats.errorsRecv++; });
    socket.on("close", () => { if (this.inbound === socket) this.inbound = null; });
  }

  private onData(chunk: Uint8Array, stream: number): void {
    this.stats.bytesRecv += chunk.length;
    this.stats.packetsRecv++;
    this.receive(chunk, stream);
  }

  loseStream(): void {
    this.stats.errorsRecv++; // the peer's next connection starts on a message boundary again
    this.inbound?.destroy();
  }

  // ---- sending side: our client connects to the peer's listener ----

  private connect(): void {
    if (this.closed || !this.cfg.destination) return;
    const socket = net.connect({
      host: withScope(this.cfg.destination, this.cfg.interface),
      port: this.cfg.port,
      // From the configured address, so the peer's filter recognises us.
      localAddress: this.cfg.address ? withScope(this.cfg.address, this.cfg.interface) : undefined,
    });
    this.client = socket;
    socket.setNoDelay(true); // each chunk is a full datagram's worth already
    socket.on("connect", () => {
      this.connected = true;
      this.flushQueue();
    });
    socket.on("drain", () => this.flushQueue());
    socket.on("error", () => { this.stats.errorsSend++; });
    socket.on("close", () => this.onClientClose(socket));
    // The peer never writes on this stream; reading keeps the socket flowing so close is seen.
    socket.on("data", () => {});
  }

  private onClientClose(socket: net.Socket): void {
    if (this.client !== socket) return;
    this.client = null;
    this.connected = false;
    if (this.closed) return;
    // conntrackd tries again at most once a second; so do we, without waiting for a send.
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, this.reconnectMs);
    this.reconnectTimer.unref();
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed || !this.cfg.destination) return false;
    const copy = bytes.slice(); // the core reuses its transmit buffer at once
    // Anything queued goes first, or the peer would see messages out of order.
    if (this.queue.length > 0 || !this.writable()) {
      this.stats.errorsSend++;
      this.enqueue(copy);
      this.flushQueue();
      return false;
    }
    this.write(copy);
    return true;
  }

  private writable(): boolean {
    return this.connected && this.client !== null && this.client.writableLength < MAX_WRITE_BACKLOG;
  }

  private write(chunk: Uint8Array): void {
    this.client!.write(chunk, (err) => {
      if (err) return; // counted by the socket's 'error'
      this.stats.bytesSent += chunk.length;
      this.stats.packetsSent++;
    });
  }

  /** Keeps a chunk for later; when full the oldest goes, as in conntrackd. */
  private enqueue(chunk: Uint8Array): void {
    if (this.queueLimit <= 0) return;
    if (this.queue.length >= this.queueLimit) this.queue.shift();
    this.queue.push(chunk);
  }

  private flushQueue(): void {
    while (this.queue.length > 0 && this.writable()) this.write(this.queue.shift()!);
  }

  /** Chunks waiting for the peer to be reachable. */
  get queued(): number {
    return this.queue.length;
  }

  onReceive(handler: (bytes: Uint8Array, stream?: number) => void): void {
    this.receive = handler;
  }

  onDrop(handler: (from: Sender) => void): void {
    this.drop = handler;
  }

  linkStatus(): LinkStatus {
    return readLinkStatus(this.device);
  }

  isUp(): boolean {
    return !this.closed && this.connected && statusIsUp(this.linkStatus());
  }

  connections(): { server: boolean; client: boolean } {
    return { server: this.inbound !== null && !this.inbound.destroyed, client: this.connected };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.client?.destroy();
    this.inbound?.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
