// What the UDP and multicast links share: a socket that receives and one that
// sends (the addon's, native/dgram.c), a rule for whose datagrams are
// accepted, and the counters. A batch of datagrams is read with one call
// (recvmmsg) when the socket becomes readable, and what the daemon sends
// within one turn of the event loop goes out with one call (sendmmsg).
import { constants } from "node:os";
import type { MulticastChannel, UnicastChannel } from "../config/types.ts";
import { type DgramAddon, loadNetlinkAddon } from "../native.ts";
import {
  type Channel, type LinkStatus, type Sender, linkName, newStats, payloadSizeFor, readLinkStatus, socketFailure, statusIsUp,
} from "./channel.ts";

type DatagramConfig = UnicastChannel | MulticastChannel;

/** The addon's datagram functions. */
export function dgramAddon(): DgramAddon {
  return loadNetlinkAddon().dgram;
}

/** Closes a socket of ours (stops its polling first). */
export function closeSocket(fd: number): void {
  try {
    loadNetlinkAddon().close(fd);
  } catch {
    // already closed
  }
}

/** Opens and binds one socket; a failure becomes the ChannelError that says `what` failed. */
export function openSocket(cfg: DatagramConfig, address: string, port: number, reuseAddr: boolean, what: string): number {
  try {
    return dgramAddon().open(cfg.family, address, port, reuseAddr);
  } catch (e) {
    throw socketFailure(cfg, what, e);
  }
}

/** What a datagram link's sending socket connects to: the peer, or the group. */
export interface SendTarget {
  family: 4 | 6;
  address: string;
  port: number;
}

// connect() errors that mean no route now (the link's device is down): not
// the link's failure. conntrackd, which sends with sendto(), starts then and
// counts send errors until the route is back; so do we.
const NO_ROUTE = new Set(["ENETUNREACH", "EHOSTUNREACH"]);

/** Connects the sending socket: true, or false while there is no route. Other errors throw. */
export function connectSender(tx: number, to: SendTarget): boolean {
  try {
    dgramAddon().connect(tx, to.family, to.address, to.port);
    return true;
  } catch (e) {
    if (NO_ROUTE.has((e as NodeJS.ErrnoException).code ?? "")) return false;
    throw e;
  }
}

/** What the daemon logs of a link opened without a route to its target (its device down at start). */
function noRouteWarning(cfg: DatagramConfig, to: SendTarget): string {
  const device = cfg.interface ? ` (is ${cfg.interface} down?)` : "";
  return `${linkName(cfg)}: no route to ${to.address} now${device}: its sends count as errors until there is one`;
}

// The largest UDP payload fits one slot: a datagram is never cut.
const SLOT = 65536;
const BATCH = 32;
// Batches read per readiness before the event loop gets a turn (netlink waits too).
const BATCHES_PER_WAKE = 8;
// Bytes queued to send while the socket's buffer is full: beyond it datagrams
// are dropped and counted (FTFW sends them again; a bounded queue keeps a
// dead link from eating memory).
export const SEND_QUEUE_LIMIT = 4 << 20;
const SPANS_MAX = 8192;
const FLUSH_BATCH = 256;
const { ECONNREFUSED } = constants.errno;

export abstract class DatagramChannel implements Channel {
  abstract readonly kind: "udp" | "multicast";
  readonly device: string | null;
  readonly payloadSize: number;
  readonly stats = newStats();
  /** What the configuration asks and this link cannot do, and a target it has no route to yet. */
  readonly warnings: readonly string[];
  /** Datagrams dropped because the send queue was full (also in stats.errorsSend). */
  sendQueueDrops = 0;
  private receive: (bytes: Uint8Array) => void = () => {};
  private drop: (from: Sender) => void = () => {};
  private trouble: (message: string) => void = () => {};
  private closed = false;
  private readonly d = dgramAddon();

  private readonly rxBuf = new Uint8Array(SLOT * BATCH);
  private readonly meta: Uint32Array;
  private readonly metaWords: number;

  private txBuf = new Uint8Array(64 << 10);
  private txLen = 0;
  private spans = new Uint32Array(512);
  private txCount = 0;
  private flushQueued = false;
  private retry: NodeJS.Timeout | null = null;

  /**
   * `target`: where the tx socket sends (null: nowhere); `connected`: it is
   * connected there, else it connects at a send once there is a route (and
   * the warnings say so).
   */
  constructor(private readonly cfg: DatagramConfig, private readonly rx: number, private readonly tx: number,
    private readonly target: SendTarget | null, private connected: boolean,
    readonly receiveBuffer: number, warnings: readonly string[]) {
    this.warnings = target && !connected ? [...warnings, noRouteWarning(cfg, target)] : warnings;
    this.device = cfg.interface;
    this.payloadSize = payloadSizeFor(cfg);
    this.metaWords = this.d.constants.META_WORDS;
    this.meta = new Uint32Array(BATCH * this.metaWords);
    loadNetlinkAddon().poll(rx, (status) => this.readable(status));
  }

  /** Whether a datagram from this source address is the peer's. */
  protected abstract accepts(address: string): boolean;

  /** The socket has datagrams: read them in batches, each handed on (or refused) in turn. */
  private readable(status: number): void {
    if (status < 0) {
      this.stats.errorsRecv++; // polling stopped: the socket is gone
      return;
    }
    for (let b = 0; b < BATCHES_PER_WAKE && !this.closed; b++) {
      const n = this.d.recvMany(this.rx, this.rxBuf, SLOT, this.meta);
      if (n < 0) {
        this.stats.errorsRecv++; // a socket error, as node:dgram's 'error': the link stays open
        continue;
      }
      for (let i = 0; i < n; i++) this.deliver(i);
      if (n < BATCH) break;
    }
  }

  private deliver(i: number): void {
    const w = i * this.metaWords;
    const len = this.meta[w];
    if (!this.fromPeer(w)) {
      this.stats.dropped++;
      this.drop({ address: this.senderAddress(w), port: this.meta[w + 2] });
      return;
    }
    this.stats.bytesRecv += len;
    this.stats.packetsRecv++;
    this.receive(this.rxBuf.subarray(i * SLOT, i * SLOT + len));
  }

  // The last sender's address words and the answer for it: datagrams come
  // from the peer, so the address is compared as numbers, not spelled out.
  private readonly lastFrom = new Uint32Array(5);
  private lastAnswer: boolean | null = null;

  private fromPeer(w: number): boolean {
    const m = this.meta, last = this.lastFrom;
    if (this.lastAnswer !== null && last[0] === m[w + 1] && last[1] === m[w + 3] && last[2] === m[w + 4] &&
      last[3] === m[w + 5] && last[4] === m[w + 6]) return this.lastAnswer;
    last[0] = m[w + 1];
    last.set(m.subarray(w + 3, w + 7), 1);
    this.lastAnswer = this.accepts(this.senderAddress(w));
    return this.lastAnswer;
  }

  /** The sender of datagram at meta word `w`, spelled out. */
  private senderAddress(w: number): string {
    const bytes = new Uint8Array(this.meta.buffer, this.meta.byteOffset + (w + 3) * 4, 16);
    if (this.meta[w + 1] === 4) return bytes.subarray(0, 4).join(".");
    const groups: string[] = [];
    for (let g = 0; g < 16; g += 2) groups.push(((bytes[g] << 8) | bytes[g + 1]).toString(16));
    return groups.join(":");
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed || !this.target) return false;
    if (!this.connected && !this.connectNow()) {
      this.stats.errorsSend++; // no route yet: counted as conntrackd counts its failed sendto()
      return false;
    }
    if (!this.room(bytes.length)) {
      this.stats.errorsSend++;
      if (this.sendQueueDrops++ % 1000 === 0) {
        this.trouble(`${linkName(this.cfg)}: the send queue is full (${SEND_QUEUE_LIMIT} bytes): ${this.sendQueueDrops} datagrams dropped so far`);
      }
      return false;
    }
    this.txBuf.set(bytes, this.txLen); // a copy: the core reuses its transmit buffer at once
    this.spans[2 * this.txCount] = this.txLen;
    this.spans[2 * this.txCount + 1] = bytes.length;
    this.txLen += bytes.length;
    this.txCount++;
    // A full batch goes at once: a burst (a resync's thousands of datagrams
    // in one turn) must not pile up here while the socket could take it.
    if (this.txCount >= FLUSH_BATCH && !this.retry) this.flush();
    else if (!this.flushQueued && !this.retry) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
    return true;
  }

  private connectNow(): boolean {
    try {
      this.connected = connectSender(this.tx, this.target!);
    } catch {
      this.connected = false; // any other refusal: the next send tries again
    }
    return this.connected;
  }

  /** Makes room in the send queue for `len` more bytes, growing it up to the limit. */
  private room(len: number): boolean {
    if (this.txCount === this.spans.length / 2) {
      if (this.txCount >= SPANS_MAX) return false;
      const spans = new Uint32Array(this.spans.length * 2);
      spans.set(this.spans);
      this.spans = spans;
    }
    if (this.txLen + len <= this.txBuf.length) return true;
    if (this.txLen + len > SEND_QUEUE_LIMIT) return false;
    const buf = new Uint8Array(Math.min(SEND_QUEUE_LIMIT, Math.max(this.txBuf.length * 2, this.txLen + len)));
    buf.set(this.txBuf.subarray(0, this.txLen));
    this.txBuf = buf;
    return true;
  }

  /** Sends what is queued, in batches; what the socket cannot take now is tried again shortly. */
  private flush(): void {
    this.flushQueued = false;
    let done = 0;
    let refusedOnce = false;
    while (done < this.txCount && !this.closed) {
      const r = this.d.sendMany(this.tx, this.txBuf, this.spans.subarray(2 * done), this.txCount - done);
      if (r === 0) break; // the socket's buffer is full
      if (r < 0) {
        this.stats.errorsSend++;
        // An ICMP error about an earlier datagram (the peer was not listening) fails one send: retry it once.
        if (r === -ECONNREFUSED && !refusedOnce) {
          refusedOnce = true;
          continue;
        }
        done++;
        continue;
      }
      for (let i = done; i < done + r; i++) this.stats.bytesSent += this.spans[2 * i + 1];
      this.stats.packetsSent += r;
      done += r;
    }
    this.dequeue(done);
    if (this.txCount > 0 && !this.closed && !this.retry) {
      this.retry = setTimeout(() => { this.retry = null; this.flush(); }, 1);
    }
  }

  /** Forgets the first `n` queued datagrams. */
  private dequeue(n: number): void {
    if (n === this.txCount) {
      this.txCount = 0;
      this.txLen = 0;
      return;
    }
    this.spans.copyWithin(0, 2 * n, 2 * this.txCount);
    this.txCount -= n;
  }

  onReceive(handler: (bytes: Uint8Array) => void): void {
    this.receive = handler;
  }

  onDrop(handler: (from: Sender) => void): void {
    this.drop = handler;
  }

  onTrouble(handler: (message: string) => void): void {
    this.trouble = handler;
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
    if (this.retry) clearTimeout(this.retry);
    closeSocket(this.rx);
    closeSocket(this.tx);
  }
}

/**
 * SndSocketBuffer, RcvSocketBuffer and Checksum on the two sockets, as
 * conntrackd sets them (SO_{SND,RCV}BUFFORCE, SO_NO_CHECK); the receive
 * buffer as granted, and the warnings.
 */
export function applyDatagramOptions(cfg: DatagramConfig, rx: number, tx: number): { receiveBuffer: number; warnings: string[] } {
  const d = dgramAddon();
  const warnings: string[] = [];
  const got = d.buffers(rx, cfg.rcvSocketBuffer ?? 0, 0);
  if (cfg.rcvSocketBuffer) {
    const w = bufferWarning(cfg, "RcvSocketBuffer", cfg.rcvSocketBuffer, got.rcvbuf);
    if (w) warnings.push(w);
  }
  if (cfg.sndSocketBuffer) {
    const w = bufferWarning(cfg, "SndSocketBuffer", cfg.sndSocketBuffer, d.buffers(tx, 0, cfg.sndSocketBuffer).sndbuf);
    if (w) warnings.push(w);
  }
  if (!cfg.checksum) d.noCheck(tx);
  return { receiveBuffer: got.rcvbuf, warnings };
}

/**
 * Compares a socket buffer size the kernel granted with the one asked for:
 * less means SO_{SND,RCV}BUFFORCE was not permitted (no CAP_NET_ADMIN) and
 * the plain option was capped by net.core.{w,r}mem_max.
 */
export function bufferWarning(cfg: DatagramConfig, option: "SndSocketBuffer" | "RcvSocketBuffer",
  asked: number, reported: number): string | null {
  const granted = Math.floor(reported / 2); // getsockopt reports twice the value set (bookkeeping overhead)
  if (granted >= asked) return null;
  const sysctl = option === "SndSocketBuffer" ? "net.core.wmem_max" : "net.core.rmem_max";
  return `${linkName(cfg)}: ${option} ${asked} is capped to ${granted} by ${sysctl}: ` +
    `SO_${option === "SndSocketBuffer" ? "SND" : "RCV"}BUFFORCE is not permitted (it needs CAP_NET_ADMIN); raise ${sysctl}`;
}
