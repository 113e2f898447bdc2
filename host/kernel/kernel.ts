// The kernel side of the daemon: the ctnetlink event socket feeding the
// core's internal caches, and a command socket for dumps, commits and
// flushes. Bytes go from the socket straight into the core's netlink buffer;
// the core parses every message and builds every request.
import { NetlinkSocket, RECV_AGAIN, RECV_OVERRUN, RECV_TRUNCATED, SEND_AGAIN, type NetlinkGroup } from "./netlink.ts";
import type { Core } from "../core.ts";
import type { Logger } from "../process/log.ts";
import { errnoName, strerror } from "../errno.ts";
import { readFileSync } from "node:fs";

/**
 * The event socket's buffer when the configuration names none. conntrackd
 * then keeps the kernel's rmem_default (208 KiB): a few milliseconds of
 * events at the kernel's insert rate, so a daemon that waits that long for a
 * CPU (a busy firewall, a flash crowd) overruns and must resync. 16 MiB hold
 * about 50 ms at the highest rate measured here, and cost memory only while
 * events wait in it; after an overrun it doubles up to 64 MiB.
 */
export const EVENT_BUFFER_DEFAULT = 16 << 20;
export const EVENT_BUFFER_DEFAULT_MAX = 64 << 20;

/**
 * After a read, events gather this long before the next, when the buffer is
 * large enough (holdOffMinBuffer): fewer wakeups, fuller datagrams to the
 * peers, for at most 2 ms more before they hear. 2 ms rather than 1: half
 * the wakeups, and about 0.3 µs less CPU per event on a busy primary.
 */
export const HOLD_OFF_MS = 2;

/**
 * The smallest event buffer the hold-off is safe with, as the kernel reports
 * and counts it (rcvBuf: twice NetlinkBufferSize). A real-time daemon
 * (Scheduler, on by default as in conntrackd) reads again when the hold
 * ends: conntrack-tools' example configuration (NetlinkBufferSize 2 MiB,
 * growing to 8) holds some 8 ms of a burst as it arrives here, and took an
 * unpaced million with no overrun. A time-shared one may wait several ms
 * more behind other processes, and overran it: it needs four times as
 * much. Below, events are read as they come.
 */
export function holdOffMinBuffer(realtime: boolean): number {
  return realtime ? 2 << 20 : 8 << 20;
}

/** NetlinkBufferSize and NetlinkBufferSizeMaxGrowth as configured (null: absent), made the event socket's sizes. */
export function eventBufferSizes(size: number | null, maxGrowth: number | null): Pick<KernelOptions, "bufferSize" | "maxGrowth" | "bufferIsDefault"> {
  if (size !== null) return { bufferSize: size, maxGrowth: maxGrowth ?? 0, bufferIsDefault: false };
  const max = maxGrowth ?? EVENT_BUFFER_DEFAULT_MAX;
  return { bufferSize: Math.min(EVENT_BUFFER_DEFAULT, max), maxGrowth: max, bufferIsDefault: true };
}

export interface KernelOptions {
  /** The event socket's receive buffer (bytes): NetlinkBufferSize, or EVENT_BUFFER_DEFAULT. */
  bufferSize: number;
  /** NetlinkBufferSizeMaxGrowth (bytes): overruns double the buffer up to this. */
  maxGrowth: number;
  /** No NetlinkBufferSize in the configuration: bufferSize is ctsync's default. */
  bufferIsDefault?: boolean;
  /** Synchronize expectations: subscribe to their events and dump them. */
  expectations: boolean;
  /** Disable TCP window tracking on committed entries (conntrackd without TCPWindowTracking). */
  liberal: boolean;
  /** DisableExternalCache: peers' messages are injected into the kernel through a socket of their own. */
  inject?: boolean;
  /** The daemon runs real-time (applyScheduler): reads come on time, and a smaller buffer may gather events. */
  realtime?: boolean;
  /**
   * NetlinkEventsReliable: NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS on
   * the event socket, so the kernel keeps a destroy event it could not
   * deliver and sends it again, and never reports an overrun.
   */
  reliable?: boolean;
}

export interface CommitResult {
  ok: number;
  failed: number;
  seconds: number;
}

// A dump yields to the event loop after this long, and reads this many
// datagrams (about 60 entries each) at a time.
const DUMP_SLICE_MS = 2;
const DUMP_READ = 16;
export class Kernel {
  readonly events: NetlinkSocket;
  private readonly cmd: NetlinkSocket;
  private readonly injector: NetlinkSocket | null = null;
  /** Injected requests the kernel refused (DisableExternalCache), by reason. */
  readonly injectFailures = new Map<string, number>();
  private seq = 1;
  /** The command socket serves one request (dump, flush, commit) at a time: replies must not mix. */
  private busy: Promise<unknown> = Promise.resolve();

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.busy.then(work, work);
    this.busy = run.catch(() => undefined);
    return run;
  }
  /** Events lost to overruns, as far as the kernel tells (ENOBUFS reports and socket drops). */
  overruns = 0;
  private lastDrops = 0;
  /** Called after the core took in events (the daemon then sends what the engine queued). */
  onActivity: () => void = () => {};
  /** Called when events were lost: the daemon resyncs from a dump. */
  onLoss: (why: string) => void = () => {};
  /** The Stats mode reads each batch of events itself (engineKernelStep) instead of engineKernel. */
  handleEvents: ((len: number) => void) | null = null;

  private readonly groups: NetlinkGroup[] = ["conntrack-new", "conntrack-update", "conntrack-destroy"];

  constructor(private readonly core: Core, private readonly opts: KernelOptions, private readonly log: Logger) {
    if (opts.expectations) this.groups.push("expect-new", "expect-update", "expect-destroy");
    this.events = NetlinkSocket.open({
      groups: this.groups, rcvbuf: opts.bufferSize, force: true,
      broadcastError: opts.reliable, noEnobufs: opts.reliable,
    });
    this.cmd = NetlinkSocket.open({ rcvbuf: 8 << 20, force: true });
    // Events our own commits and flushes cause are not sent back to the peers.
    core.fn.engineSetOwnPort(this.cmd.portId);
    if (opts.inject) {
      this.injector = NetlinkSocket.open({ rcvbuf: 8 << 20, force: true });
      core.fn.engineSetInjectPort(this.injector.portId);
      this.injector.onReadable(() => this.readInjectErrors());
    }
    if (opts.bufferSize > 0) {
      log.notice(`netlink event socket buffer size has been set to ${opts.bufferSize} bytes${opts.bufferIsDefault ? " (the default; NetlinkBufferSize sets another)" : ""}`);
    }
    this.gathering = this.bufferGathers();
    this.events.onReadable(() => this.readEvents());
  }

  /** Whether events gather between reads (HOLD_OFF_MS): bufferGathers() when the buffer was last sized. */
  get gathers(): boolean {
    return this.gathering;
  }

  private gathering: boolean;

  /** Whether the event socket's buffer is large enough for events to gather between reads. */
  private bufferGathers(): boolean {
    return this.events.rcvBuf >= holdOffMinBuffer(this.opts.realtime ?? false);
  }

  /** A view of the core's netlink receive buffer (taken anew: the memory may have grown). */
  private rxView(): Uint8Array {
    const { fn } = this.core;
    return new Uint8Array(this.core.bytes.buffer, fn.nlPtr(), fn.nlSize());
  }

  /**
   * Reads the events the socket holds. With a buffer that gathers them, up
   * to 64 reads of 64 before the datagrams for the peers leave; with a small
   * one, one read per wakeup, so that the sends (on veth the peer's receive
   * runs inside them) come between reads rather than after thousands of
   * events: a 208 KiB buffer holds a millisecond or two of a burst.
   */
  private readEvents(): void {
    let got = false;
    const rounds = this.gathers ? 64 : 1;
    for (let round = 0; round < rounds; round++) {
      const n = this.events.recvInto(this.rxView(), 64);
      if (n === RECV_AGAIN) break;
      if (n === RECV_OVERRUN || n === RECV_TRUNCATED) {
        this.lost(n === RECV_OVERRUN ? "netlink event socket overrun (ENOBUFS)" : "netlink event datagram truncated");
        continue;
      }
      got = true;
      if (this.handleEvents) this.handleEvents(n);
      else this.core.fn.engineKernel(n, this.core.k("DUMP_KEEP")); // events: sent as they say; only dumps use the mode
    }
    this.onActivity();
    // A busy firewall's events come a few per wakeup: let them gather.
    if (got && this.gathers) this.events.holdOff(HOLD_OFF_MS);
  }

  private lost(why: string, overrun = true): void {
    if (overrun) this.overruns++;
    if (this.events.growRcvBuf(this.opts.maxGrowth)) {
      this.gathering = this.bufferGathers();
      this.log.notice(`netlink event socket buffer size has been doubled to ${this.events.rcvBuf} bytes`);
    }
    this.onLoss(why);
  }

  /** DisableExternalCache: sends the requests the engine built from peers' messages. */
  inject(): void {
    const { fn } = this.core;
    if (!this.injector) return;
    const overflow = fn.engineInjectOverflow();
    if (overflow > this.injectOverflowSeen) {
      this.injectFailed("the request batch was full", overflow - this.injectOverflowSeen);
      this.injectOverflowSeen = overflow;
    }
    if (fn.nlTxLen() === 0) return;
    const view = new Uint8Array(this.core.bytes.buffer, fn.nlTxPtr(), fn.nlTxLen());
    if (this.injector.send(view) === SEND_AGAIN) this.injectFailed("ENOBUFS", 1);
    fn.nlTxClear();
  }

  private injectOverflowSeen = 0;

  /** Counts an injection the kernel refused or that never left; logs each reason at its first and every 1000th. */
  private injectFailed(why: string, n: number): void {
    const before = this.injectFailures.get(why) ?? 0;
    this.injectFailures.set(why, before + n);
    if (before === 0 || Math.floor((before + n) / 1000) > Math.floor(before / 1000)) {
      this.log.error(`inject (DisableExternalCache): ${why} (${before + n} entries so far)`);
    }
  }

  private readInjectErrors(): void {
    const { fn } = this.core;
    for (;;) {
      const n = this.injector!.recvInto(this.rxView(), 64);
      if (n === RECV_AGAIN) return;
      if (n < 0) continue;
      fn.nlOpen(n);
      for (let r = fn.nlNext(); r !== this.core.k("NL_END"); r = fn.nlNext()) {
        if (r === this.core.k("NL_ERROR") && fn.nlErrno() !== 0) {
          this.injectFailed(strerror(fn.nlErrno()), 1);
        }
      }
    }
  }

  /** Called every second: events the kernel dropped without telling (NETLINK_NO_ENOBUFS, drops). */
  checkDrops(): void {
    const drops = this.events.drops();
    if (drops > this.lastDrops) {
      this.lastDrops = drops;
      // With reliable events the kernel drops to say it will send again (destroy events): not an overrun, as in conntrackd.
      this.lost(`the kernel dropped ${drops} netlink events so far`, !this.opts.reliable);
    }
  }

  /** Sends the netlink batch the core built. */
  private sendBatch(): void {
    const { fn } = this.core;
    const len = fn.nlTxLen();
    if (len === 0) return;
    const view = new Uint8Array(this.core.bytes.buffer, fn.nlTxPtr(), len);
    for (let tries = 0; this.cmd.send(view) === SEND_AGAIN; tries++) giveUpAfter(tries);
    fn.nlTxClear();
  }

  /**
   * Reads replies on the command socket into the core until `done` says so.
   * `each` sees every reply message (the core's nlNext result).
   */
  private async readReplies(each: (r: number) => boolean, feedEngine = false, dumpSend: DumpSend = "keep"): Promise<void> {
    const { fn } = this.core;
    const k = (n: string) => this.core.k(n);
    const deadline = Date.now() + 30000;
    let ran = performance.now();
    for (;;) {
      // A long dump must not starve the rest of the daemon (events, peers,
      // clients): the event socket's buffer holds a few milliseconds of a
      // burst, and a resync that kept it waiting would overrun it again.
      if (performance.now() - ran > DUMP_SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        ran = performance.now();
      }
      const n = this.cmd.recvInto(this.rxView(), DUMP_READ);
      if (n === RECV_AGAIN) {
        if (Date.now() > deadline) throw new Error("netlink: no answer from the kernel within 30 s");
        await new Promise((r) => setImmediate(r));
        continue;
      }
      if (n < 0) throw new Error("netlink: the command socket overran while reading replies");
      if (feedEngine) {
        fn.engineKernel(n, k(DUMP_SEND[dumpSend]));
        if (dumpSend !== "keep") this.onActivity();
        if (fn.engineKernelDone()) return;
        continue;
      }
      fn.nlOpen(n);
      for (let r = fn.nlNext(); r !== k("NL_END"); r = fn.nlNext()) {
        if (!each(r)) return;
      }
    }
  }

  /**
   * Dumps a kernel table into the internal cache; with `send`, every entry
   * also goes to the peers (a bulk send without an internal cache).
   */
  dumpIntoCache(table: "ct" | "expect", send = false): Promise<void> {
    return this.exclusive(() => this.dump(table, send ? "all" : "keep"));
  }

  private async dump(table: "ct" | "expect", send: DumpSend): Promise<void> {
    const { fn } = this.core;
    fn.nlTxClear();
    fn.nlPutDump(this.core.k(table === "ct" ? "TABLE_CT" : "TABLE_EXP"), 0, this.seq++);
    this.sendBatch();
    await this.readReplies(() => true, true, send);
  }

  /**
   * Resynchronizes the internal caches with the kernel (start-up, -R, after
   * a commit, after lost events): a dump of both tables; entries the kernel
   * no longer has are destroyed (and the peers told). With `announce` (after
   * lost events), what is new or changed also goes to the peers: the lost
   * events would have told them. Returns how many were gone.
   */
  resync(announce = false, sweep = true): Promise<number> {
    const send: DumpSend = announce ? "changes" : "keep";
    return this.exclusive(async () => {
      // Without the sweep (reliable events: the kernel redelivers the destroy events it could not send), entries are only added.
      if (sweep) this.core.fn.engineDumpBegin();
      await this.dump("ct", send);
      if (this.opts.expectations) await this.dump("expect", send);
      const gone = sweep ? this.core.fn.engineDumpEnd() : 0;
      this.onActivity();
      return gone;
    });
  }

  /** Kernel table work an operator asked for (-F, -R, or after lost events), for -s runtime. */
  tableFlushes = 0;
  tableResyncs = 0;

  /**
   * After the start-up dump: with net.netfilter.nf_conntrack_events at 2
   * (the kernel's default since Linux 5.19) a conntrack made while nothing
   * listened for events never reports its end, so the flows the dump found
   * may include some whose end no event will tell: they stay cached (and
   * unlogged in the Stats mode) until a resync. Says so, and how to avoid it.
   */
  warnOfSilentFlows(): void {
    let mode: string;
    try {
      mode = readFileSync("/proc/sys/net/netfilter/nf_conntrack_events", "utf8").trim();
    } catch {
      return;
    }
    const found = this.core.fn.cacheCount(this.core.k("CACHE_INTERNAL_CT"));
    if (mode !== "2" || found === 0) return;
    this.log.warning(`net.netfilter.nf_conntrack_events is 2: flows found at start (${found}) that were made while no daemon `
      + "listened will not report their end (their entries stay until -R); set it to 1 before the flows start to have every flow report it");
  }

  /** -F: flushes a kernel table, saying so as conntrackd does. */
  async flushTable(table: "ct" | "expect"): Promise<void> {
    this.log.notice(table === "ct" ? "flushing kernel conntrack table" : "flushing kernel expect table");
    await this.flush(table);
    this.tableFlushes++;
  }

  /** -R: resynchronizes the internal cache with the kernel's tables, saying so as conntrackd does. */
  async resyncTable(): Promise<void> {
    this.log.notice("resync with master conntrack table");
    await this.resync();
    this.tableResyncs++;
  }

  flush(table: "ct" | "expect"): Promise<void> {
    return this.exclusive(() => this.flushNow(table));
  }

  private async flushNow(table: "ct" | "expect"): Promise<void> {
    const { fn } = this.core;
    fn.nlTxClear();
    fn.nlPutFlush(this.core.k(table === "ct" ? "TABLE_CT" : "TABLE_EXP"), 0, this.seq++);
    this.sendBatch();
    let errno = 0;
    await this.readReplies((r) => {
      if (r === this.core.k("NL_ERROR")) errno = fn.nlErrno();
      return r !== this.core.k("NL_ERROR");
    });
    if (errno) throw new Error(`the kernel refused to flush the ${table} table: ${strerror(errno)}`);
  }

  /**
   * Writes an external cache into the kernel in batches: create requests
   * sent together, acknowledgements read in bulk. An entry the kernel already
   * has is updated instead; one it refuses is counted and logged with why.
   */
  commit(kind: "ct" | "expect", origin?: number): Promise<CommitResult> {
    return this.exclusive(() => this.commitDeaf(kind, origin));
  }

  private async commitDeaf(kind: "ct" | "expect", origin?: number): Promise<CommitResult> {
    // While committing, the event socket leaves its groups: the kernel then
    // builds no event for each entry written (when no one else listens),
    // which about halves the commit. Whatever happened meanwhile is learnt
    // from the dump of the resync that follows (resyncAfterCommit).
    this.events.setGroups(this.groups, false);
    try {
      return await this.commitBatches(kind, origin);
    } finally {
      this.events.setGroups(this.groups, true);
    }
  }

  /**
   * The kernel inserts a batch inside the send call, on one CPU (creates are
   * serialized in the kernel, so two sockets would not go faster). That call
   * runs on a worker thread while this one builds the next batch, which then
   * waits until the batch before it is in and its EEXISTs were retried.
   */
  /** `origin`: only the entries from that Corosync member (the core's commitOrigin). */
  private async commitBatches(kind: "ct" | "expect", origin?: number): Promise<CommitResult> {
    const { fn } = this.core;
    const k = (n: string) => this.core.k(n);
    const start = process.hrtime.bigint();
    let ok = 0, failed = 0;
    const reasons = new Map<string, number>();
    fn.commitBegin(k(kind === "ct" ? "CACHE_EXTERNAL_CT" : "CACHE_EXTERNAL_EXP"), this.opts.liberal ? k("O_LIBERAL") : 0);
    if (origin !== undefined) fn.commitOrigin(origin);
    const refused = (errno: number) => {
      failed++;
      reasons.set(strerror(errno), (reasons.get(strerror(errno)) ?? 0) + 1);
    };
    let inKernel: Promise<{ base: number; count: number }> | null = null;
    for (;;) {
      fn.nlTxClear();
      const base = this.seq;
      const count = fn.commitNext(base);
      this.seq += count;
      const built = () => new Uint8Array(this.core.bytes.buffer, fn.nlTxPtr(), fn.nlTxLen());
      let batch: Uint8Array | null = null;
      if (inKernel) {
        const done = await inKernel;
        // Only failures and the batch's last request are answered.
        const retry: number[] = [];
        let errors = 0;
        await this.readUntilSeq(done.base + done.count - 1, (seq, errno) => {
          if (errno === 0) return;
          errors++;
          if (errnoName(errno) === "EEXIST") retry.push(seq);
          else refused(errno);
        });
        ok += done.count - errors;
        if (retry.length) {
          batch = built().slice(); // the updates are built where this batch is
          fn.nlTxClear();
          for (const seq of retry) fn.commitUpdate(seq);
          this.sendBatch();
          await this.collectAcks(retry.length, (_seq, errno) => (errno === 0 ? ok++ : refused(errno)));
        }
      }
      if (count === 0) break;
      inKernel = this.sendAsync(batch ?? built()).then(() => ({ base, count }));
    }
    const skipped = fn.commitSkipped();
    if (skipped) {
      failed += skipped;
      reasons.set("not decodable from the cache", skipped);
    }
    for (const [why, n] of reasons) this.log.error(`commit-create: ${why} (${n} entries)`);
    return { ok, failed, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
  }

  private async sendAsync(batch: Uint8Array): Promise<void> {
    for (let tries = 0; (await this.cmd.sendAsync(batch)) === SEND_AGAIN; tries++) giveUpAfter(tries);
  }

  /** Reads answers (errors, acknowledgements) until the one for request `last`. */
  private async readUntilSeq(last: number, each: (seq: number, errno: number) => void): Promise<void> {
    const { fn } = this.core;
    await this.readReplies((r) => {
      if (r !== this.core.k("NL_ERROR")) return true;
      each(fn.nlSeq(), fn.nlErrno());
      return fn.nlSeq() !== last;
    });
  }

  private async collectAcks(expected: number, each: (seq: number, errno: number) => void): Promise<void> {
    const { fn } = this.core;
    let seen = 0;
    await this.readReplies((r) => {
      if (r === this.core.k("NL_ERROR")) {
        each(fn.nlSeq(), fn.nlErrno());
        seen++;
      }
      return seen < expected;
    });
  }

  close(): void {
    this.events.close();
    this.cmd.close();
    this.injector?.close();
  }
}

/** A request batch the kernel keeps refusing for want of memory (ENOBUFS) is an error. */
function giveUpAfter(tries: number): void {
  if (tries > 1000) throw new Error("netlink: the kernel keeps refusing the request batch (ENOBUFS)");
}

/** What a dump sends to the peers (the core's DUMP_* constants). */
type DumpSend = "keep" | "changes" | "all";
const DUMP_SEND: Record<DumpSend, string> = { keep: "DUMP_KEEP", changes: "DUMP_SEND_CHANGES", all: "DUMP_SEND_ALL" };
