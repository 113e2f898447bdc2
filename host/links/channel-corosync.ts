// Sync.Corosync (ctsync's own): the sync messages travel in a Corosync closed
// process group (CPG). Corosync delivers every message to every member, in one
// total order, and reports members joining and leaving in that same order;
// so this link needs no sequence tracking of ours (the daemon runs NOTRACK
// over it) and has no peer address to filter: membership of the group, which
// corosync's own configuration and keys control, is the filter.
//
// Flow control: corosync answers a send with TRY_AGAIN while its queues are
// full (it throttles a sender whose own reader lags). A message is then kept,
// in order, and sent again after this process has read what corosync had for
// it, or a few milliseconds later: never dropped.
//
// When corosync goes away (it stopped, or restarted), the link is down and
// tries to join again every second. What the daemon sends meanwhile is
// dropped: once back in the group, the daemon sends its whole internal cache
// (the other members, seeing it join, drop what it had sent before), which
// supersedes every update missed.
import type { CorosyncChannel as CorosyncConfig } from "../config/types.ts";
import { loadCpgAddon, type CpgAddon, type CpgChange } from "../native.ts";
import { type Channel, type LinkStatus, type Sender, ChannelError, linkName, newStats } from "./channel.ts";

/**
 * Bytes of sync messages per CPG message. Corosync fragments for the wire
 * itself; larger messages spread its per-message costs (IPC, totem headers)
 * over more entries. Bounded by the core's largest datagram (64 KiB).
 */
export const CPG_PAYLOAD = 16384;
/** Milliseconds before a send refused by flow control is tried again when nothing arrives meanwhile. */
const RETRY_MS = 5;
/** Milliseconds between attempts to join the group again after corosync went away. */
const REJOIN_MS = 1000;

export type { CpgChange } from "../native.ts";

export async function openCorosyncChannel(cfg: CorosyncConfig): Promise<CorosyncLink> {
  const addon = loadCpgAddon();
  let g: { id: number; fd: number; nodeid: number };
  try {
    g = addon.open(cfg.group);
  } catch (e) {
    throw new ChannelError(`${linkName(cfg)}: cannot join Corosync process group "${cfg.group}": ${(e as Error).message}`);
  }
  return new CorosyncLink(addon, g.id, g.nodeid, cfg);
}

export class CorosyncLink implements Channel {
  readonly kind = "corosync" as const;
  readonly device = null;
  readonly payloadSize = CPG_PAYLOAD;
  readonly receiveBuffer = null; // corosync never drops for us
  readonly stats = newStats();
  readonly warnings: readonly string[] = [];
  /** Messages refused by flow control, in order, waiting to be sent again. */
  private readonly backlog: Uint8Array[] = [];
  /** The most messages the backlog held at once (for -s and the bench). */
  backlogPeak = 0;
  private retry: NodeJS.Timeout | null = null;
  private closed = false;
  /** Why the connection to corosync broke; null while connected. */
  private failed: string | null = null;
  private rejoin: NodeJS.Timeout | null = null;
  private readonly sender = new Uint32Array(2);
  private own = new Uint8Array(CPG_PAYLOAD * 4);
  private target: (() => Uint8Array) | null = null;
  private receive: (bytes: Uint8Array, origin: number) => void = () => {};
  private membership: (c: CpgChange) => void = () => {};
  private lost: (why: string) => void = () => {};
  private back: () => void = () => {};
  private drained: () => void = () => {};
  /** Node ids of the group's members (this node included), as corosync last reported them. */
  members: number[] = [];

  constructor(private readonly addon: CpgAddon, private id: number, readonly nodeid: number,
    private readonly cfg: CorosyncConfig) {
    this.watch();
  }

  private watch(): void {
    this.addon.poll(this.id, (status) => (status < 0 ? this.fail(`polling corosync's socket failed (${status})`) : this.dispatch()));
  }

  /**
   * Where messages are read into: `into()` returns the buffer (the core's
   * receive buffer, fetched afresh each time: its memory may have grown), and
   * `handler` gets each message's length and sender's node id. Without it
   * messages arrive as copies through onReceive.
   */
  deliverInto(into: () => Uint8Array, handler: (len: number, origin: number) => void): void {
    this.target = into;
    this.receive = (bytes, origin) => handler(bytes.length, origin);
  }

  onReceive(handler: (bytes: Uint8Array) => void): void {
    if (!this.target) this.receive = (bytes) => handler(bytes);
  }

  /** Membership changes of the group, in corosync's order among the messages. */
  onMembership(handler: (c: CpgChange) => void): void {
    this.membership = handler;
  }

  /** The connection to corosync broke (corosync stopped, say): the link is down until it joins again. */
  onLost(handler: (why: string) => void): void {
    this.lost = handler;
  }

  /**
   * What flow control held back has all gone out. A sender that stops while
   * `pending` is not 0 (the daemon leaves the rest in the core's transmit
   * queue, uncopied) resumes here.
   */
  onDrain(handler: () => void): void {
    this.drained = handler;
  }

  /** Back in the group after onLost (its membership change follows, with this node among the joined). */
  onBack(handler: () => void): void {
    this.back = handler;
  }

  onDrop(_handler: (from: Sender) => void): void {
    // nobody outside the group can reach it: nothing is ever refused here
  }

  send(bytes: Uint8Array): boolean {
    if (this.closed) return false;
    if (this.failed) {
      this.stats.errorsSend++; // superseded by the bulk update sent once back in the group
      return false;
    }
    if (this.backlog.length === 0 && this.trySend(bytes)) return true;
    this.backlog.push(bytes.slice()); // a copy: the core reuses its transmit buffer at once
    this.backlogPeak = Math.max(this.backlogPeak, this.backlog.length);
    this.armRetry();
    return true;
  }

  /** Messages waiting for corosync's flow control to let them go. */
  get pending(): number {
    return this.backlog.length;
  }

  private trySend(bytes: Uint8Array): boolean {
    let r: number;
    try {
      r = this.addon.send(this.id, bytes);
    } catch (e) {
      this.fail((e as Error).message);
      return false;
    }
    if (r < 0) return false;
    this.stats.bytesSent += bytes.length;
    this.stats.packetsSent++;
    return true;
  }

  private flushBacklog(): void {
    if (!this.backlog.length) return;
    while (this.backlog.length && !this.closed && !this.failed) {
      if (!this.trySend(this.backlog[0])) return this.armRetry();
      this.backlog.shift();
    }
    if (!this.backlog.length) this.drained();
  }

  private armRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      this.dispatch();
    }, RETRY_MS);
  }

  /** Reads every event corosync has for us, then sends what flow control held back. */
  private dispatch(): void {
    for (;;) {
      if (this.closed || this.failed) return;
      const buf = this.target ? this.target() : this.own;
      let r: number | CpgChange;
      try {
        r = this.addon.next(this.id, buf, this.sender);
      } catch (e) {
        return this.fail((e as Error).message);
      }
      if (r === -1) break;
      if (typeof r === "object") {
        this.members = r.members.map((m) => m.nodeid);
        this.membership(r);
      } else if (r === -3) {
        this.stats.errorsRecv++; // larger than any datagram the core reads: not ours
      } else if (r >= 0) {
        this.stats.bytesRecv += r;
        this.stats.packetsRecv++;
        // Our own messages come back too (total order includes them): they are not news.
        if (this.sender[0] !== this.nodeid || this.sender[1] !== process.pid) this.receive(buf.subarray(0, r), this.sender[0]);
      }
    }
    this.flushBacklog();
  }

  private fail(why: string): void {
    if (this.failed || this.closed) return;
    this.failed = why;
    this.stats.errorsSend++;
    this.backlog.length = 0;
    this.members = [];
    this.addon.close(this.id);
    this.lost(`${linkName(this.cfg)}: lost the connection to corosync: ${why}; joining again every ${REJOIN_MS / 1000} s`);
    this.rejoin = setInterval(() => this.tryRejoin(), REJOIN_MS);
  }

  private tryRejoin(): void {
    let g: { id: number; nodeid: number };
    try {
      g = this.addon.open(this.cfg.group);
    } catch {
      return; // not back yet
    }
    if (this.rejoin) clearInterval(this.rejoin);
    this.rejoin = null;
    this.id = g.id;
    this.failed = null;
    this.watch();
    this.back();
  }

  linkStatus(): LinkStatus {
    return this.closed || this.failed ? "DOWN" : "RUNNING";
  }

  isUp(): boolean {
    return !this.closed && !this.failed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // What flow control still holds goes out first: a clean stop loses nothing we were asked to send.
    for (let i = 0; i < 200 && this.backlog.length && !this.failed; i++) {
      this.dispatch();
      if (this.backlog.length) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.rejoin) clearInterval(this.rejoin);
    if (!this.failed) this.addon.close(this.id);
  }
}
