// The daemon: wires the core (caches, sync engine) to the kernel (ctnetlink),
// the dedicated links (channels) and the control socket, and owns the clock.
// Every byte path is: read into the core's memory, call one export, send what
// the core wrote.
import type { Config, SyncConfig } from "./config/load.ts";
import { loadCore, type Core } from "./core.ts";
import { TextDump } from "./formats/text-dump.ts";
import { cacheCountersFrom } from "./formats/stats.ts";
import { Kernel, eventBufferSizes } from "./kernel/kernel.ts";
import { Logger } from "./process/log.ts";
import { LockFile } from "./process/lockfile.ts";
import { openMultichannel, type Multichannel } from "./links/multichannel.ts";
import { CorosyncLink, type CpgChange } from "./links/channel-corosync.ts";
import { ControlServer, controlAnswering } from "./control/server.ts";
import { applyFilters } from "./kernel/filters.ts";
import { adviseHugePages, applyScheduler, notifySystemd, syslogSink } from "./process/setup.ts";
import { ChangeFeed } from "./api/change-feed.ts";
import { followKeepalived, type KeepalivedFifo } from "./keepalived/fifo.ts";
import { SyncAuth } from "./links/authentication.ts";
import { CommitLog, changeToEvent, type ApiEvent, type ApiSource, type PeerInfo, type CommitHistory, type DelayedFlows } from "./api/source.ts";
import type { LocalCounters } from "./control/api.ts";
import type {
  DaemonControl, CacheWhich, RecordKind, KindSet, CacheCounters, LinkStats,
  NetworkCounters, RuntimeCounters, QueueStats, CommitResult, ResendQueueItem, TrafficCounters, ProcessInfo, TextStyle, TextWalk,
} from "./control/api.ts";

const CACHE_NAMES = {
  internal: { ct: "CACHE_INTERNAL_CT", expect: "CACHE_INTERNAL_EXP" },
  external: { ct: "CACHE_EXTERNAL_CT", expect: "CACHE_EXTERNAL_EXP" },
} as const;

/** What conntrackd shows as the transmit queue's limit: INT_MAX, no limit. */
const TXQUEUE_MAX = 2 ** 31 - 1;
const kindsOf = (k: KindSet): RecordKind[] => (k === "both" ? ["ct", "expect"] : [k]);
const nowSec = () => Math.floor(Date.now() / 1000);

export interface DaemonOptions {
  /** Log to the console too (foreground, as conntrackd without -d). */
  console: boolean;
}

export class Daemon implements ApiSource {
  readonly mode: SyncConfig["mode"];
  readonly expectationSync: boolean;
  private readonly core: Core;
  private kernel!: Kernel;
  private channels!: Multichannel;
  private control: ControlServer | null = null;
  private lock: LockFile | null = null;
  private readonly startTime = nowSec();
  /** The scheduled resync follows lost events: it sends the peers what changed. */
  private resyncSendsChanges = false;
  private stopping = false;
  private committing = false;
  private stopped: (() => void) | null = null;
  readonly done: Promise<void>;
  // What the HTTP API shows beyond the control socket.
  private feed!: ChangeFeed;
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private readonly commitLog = new CommitLog();
  private readonly lastSeen: (number | null)[] = [];
  private readonly peerUp: boolean[] = [];
  private api: { close(): Promise<void> } | null = null;
  /** The Corosync process group, when that is the link (then the only one). */
  private group: CorosyncLink | null = null;
  /** How many times this node joined the group (more than once: corosync went away and came back). */
  private groupJoins = 0;
  /** When each Corosync member's last message arrived (ms), by node id. */
  private readonly memberSeen = new Map<number, number>();
  private keepalived: KeepalivedFifo | null = null;
  private auth: SyncAuth | null = null;

  private constructor(private readonly config: Config, private readonly sync: SyncConfig, readonly log: Logger) {
    this.mode = sync.mode;
    this.expectationSync = sync.expectationSync.enabled;
    this.core = loadCore();
    this.done = new Promise((r) => (this.stopped = r));
  }

  static async start(config: Config, opts: DaemonOptions): Promise<Daemon> {
    if (!config.sync) throw new Error("the configuration needs a Sync section (or a Stats section, which host/stats/daemon.ts runs)");
    const syslog = syslogSink(config.general.syslog);
    const log = new Logger(config.general.logFile, opts.console, syslog ? [syslog] : []);
    const d = new Daemon(config, config.sync, log);
    d.lock = await LockFile.take(config.general.lockFile, {
      answering: () => controlAnswering(config.general.unixPath),
      notice: (m) => log.notice(m),
    });
    try {
      await d.init();
    } catch (err) {
      await d.shutdown(false);
      throw err;
    }
    return d;
  }

  private async init(): Promise<void> {
    const { general } = this.config;
    const sync = this.sync;
    const fn = this.core.fn;
    const mode = { notrack: "MODE_NOTRACK", alarm: "MODE_ALARM", ftfw: "MODE_FTFW" }[sync.mode];
    fn.engineInit(this.k(mode), general.hashSize, general.hashLimit, sync.ackWindowSize, sync.resendQueueSize,
      sync.refreshTime, sync.cacheTimeout, this.expectationSync ? 1 : 0, nowSec(), Date.now());
    fn.setSyncOptions(sync.tcpWindowTracking ? 1 : 0, sync.commitTimeout !== null ? 1 : 0);
    fn.setCommitTimeout(sync.commitTimeout ?? 0);
    fn.engineSetBypass(sync.disableInternalCache ? 1 : 0, sync.disableExternalCache ? 1 : 0);
    fn.engineSetDelay(sync.delayReplication.ms, sync.delayReplication.assured ? 1 : 0);
    if (sync.delayReplication.ms > 0) {
      this.log.notice(`delaying replication: new flows are synchronized after ${sync.delayReplication.ms} ms`
        + (sync.delayReplication.assured ? " or once ASSURED" : ""));
    }
    if (sync.disableInternalCache) this.log.notice("disabling internal cache");
    if (sync.disableExternalCache) this.log.notice("disabling external cache");
    applyFilters(this.core, general.filter, sync.expectationSync);
    if (sync.authenticate) this.auth = SyncAuth.start(this.core, sync.authenticate, general.lockFile, this.log);

    // Before the event socket opens, as conntrackd does: its reads are the ones that must come on time.
    const realtime = applyScheduler(general.scheduler, this.log);
    this.kernel = new Kernel(this.core, {
      ...eventBufferSizes(general.netlinkBufferSize, general.netlinkBufferSizeMaxGrowth),
      realtime,
      expectations: this.expectationSync,
      liberal: !sync.tcpWindowTracking,
      inject: sync.disableExternalCache,
      reliable: general.netlinkEventsReliable,
    }, this.log);
    if (this.kernel.gathers) adviseHugePages(this.core);
    this.kernel.onActivity = () => this.pump();
    this.kernel.onLoss = (why) => this.lostEvents(why);

    this.channels = await openMultichannel(sync.channels, sync.defaultChannel, { errorQueueLength: sync.errorQueueLength });
    for (const w of this.channels.warnings) this.log.warning(w);
    fn.outSetPayload(this.channels.payloadSize);
    // The peer's receive buffer bounds FTFW's window; clusters are configured alike, so ours stands for it.
    fn.engineSetPeerBuffer(this.channels.receiveBuffer ?? 0);
    this.channels.onReceive((bytes, index, stream) => {
      this.lastSeen[index] = Date.now();
      if (stream === undefined) this.fromPeer(bytes, index);
      else this.fromStream(bytes, index, stream);
    });
    for (const c of this.channels.channels) {
      c.onDrop((from) => this.stranger(from.address, from.port));
      c.onTrouble?.((m) => this.log.warning(m));
    }
    if (this.channels.current instanceof CorosyncLink) this.joinGroup(this.channels.current);
    this.channels.onSwitch((e) => {
      if (e.to === null) this.log.error(e.message);
      else this.log.notice(e.message);
      fn.outSetPayload(this.channels.payloadSize);
      this.emit({ type: "link", at: Date.now(), link: e.to ?? e.from, what: e.to === null ? "down" : "failover", message: e.message });
    });
    this.feed = new ChangeFeed(this.core);

    // Listen first, then dump: entries made before a listener joined never send events.
    await this.kernel.resync();
    this.kernel.warnOfSilentFlows();
    // After a restart (a crash, say) the peers hold a stale picture of our
    // flows: send them all of what the kernel has (FTFW waits for the greeting).
    if (sync.mode !== "alarm") fn.engineBulk();
    if (general.unixPath) {
      this.control = await ControlServer.start({ path: general.unixPath, daemon: this, onError: (m) => this.log.error(m) });
    } else {
      this.log.warning("no UNIX socket Path in the General section: client commands cannot reach this daemon");
    }
    if (sync.startupResync && sync.mode !== "alarm") this.requestResync();
    if (this.config.api?.enabled) {
      // Loaded only when configured: the API's modules are a millisecond or two of every start.
      const { startApi } = await import("./api/server.ts");
      this.api = await startApi(this, this.config.api, (level, m) => this.log.log(level, m));
    }
    if (this.config.keepalived) this.keepalived = followKeepalived(this, this.config.keepalived,
      { expectations: this.expectationSync, disableExternalCache: sync.disableExternalCache }, this.log);
    this.pump(); // arms the timer
    this.log.notice("initialization completed");
    notifySystemd(general.systemd, "READY=1", this.log);
  }

  private k(name: string): number {
    return this.core.k(name);
  }

  // ---- the byte paths ------------------------------------------------------------

  /**
   * After every input: brings the core's clock up to date (running what came
   * due), sends every datagram of the outbox on the current link, acts on the
   * core's events, and sets the one timer to the core's next deadline.
   */
  private pump(): void {
    const fn = this.core.fn;
    fn.handleTimeout(Date.now());
    for (;;) {
      // Corosync's flow control: what it holds back waits in the core's transmit queue, not in copies (onDrain resumes).
      if (this.group?.pending) break;
      const more = fn.engineXmit();
      this.core.drainOutbox((datagram) => this.channels.send(datagram));
      if (!more) break;
    }
    for (let e = fn.pollEvent(); e !== this.k("EVENT_NONE"); e = fn.pollEvent()) this.onCoreEvent(e & 0xff, e >>> 8);
    this.watchHashLimit();
    this.armTimer(fn.pollTimeout());
  }

  /** The daemon's only timer: when it fires, the core runs what came due. */
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;

  private armTimer(at: number): void {
    // A timer that fires too early is harmless (the core runs nothing not yet
    // due, and says when again); re-arming after every datagram is not.
    if (this.stopping || at >= this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = at === Infinity ? null : setTimeout(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.kernel.checkDrops();
      this.checkResendQueue();
      this.pump();
    }, Math.max(0, at - Date.now()));
  }

  private purgedSeen = 0;

  /** The resend queue hit ResendQueueSize and dropped its oldest messages: say so (the core counts them for -s queue). */
  private checkResendQueue(): void {
    if (this.sync.mode !== "ftfw") return;
    const purged = this.core.engineStat("RSQUEUE_PURGED");
    if (purged > this.purgedSeen) {
      this.log.warning(`the resend queue is full (ResendQueueSize ${this.sync.resendQueueSize}): ${purged - this.purgedSeen} unacknowledged messages dropped, ${purged} in all`);
      this.purgedSeen = purged;
    }
  }

  private onCoreEvent(kind: number, link: number): void {
    switch (kind) {
      case this.k("EVENT_PEER_UP"): return this.peerChange(link, true);
      case this.k("EVENT_PEER_DOWN"): return this.peerChange(link, false);
      case this.k("EVENT_KERNEL_RESYNC"): return this.resyncNow();
      case this.k("EVENT_KERNEL_FLUSH"): return this.scheduledFlush();
      case this.k("EVENT_BULK"): return this.scheduledBulk();
    }
  }

  private fromPeer(bytes: Uint8Array, link: number): void {
    const fn = this.core.fn;
    if (bytes.length > this.k("MAX_DATAGRAM")) {
      fn.syncOpenAt(fn.nlPtr(), bytes.length); // counted as oversized by the core
      return;
    }
    this.core.bytes.set(bytes, fn.rxPtr());
    fn.engineRx(bytes.length, link);
    this.afterReceive(link);
    this.pumpSoon();
  }

  private pumpQueued = false;

  /** One pump after a batch of datagrams (a link reads many per call), not one per datagram. */
  private pumpSoon(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** A read of a TCP link's stream: the core frames it; a read larger than its buffer goes in pieces. */
  private fromStream(bytes: Uint8Array, link: number, stream: number): void {
    const fn = this.core.fn;
    const room = this.k("MAX_DATAGRAM");
    for (let at = 0; at < bytes.length; at += room) {
      const piece = bytes.subarray(at, at + room);
      this.core.bytes.set(piece, fn.rxPtr());
      if (fn.engineRxStream(piece.length, link, stream) === this.k("STREAM_LOST")) {
        this.channels.channels[link].loseStream?.();
        break;
      }
    }
    this.afterReceive(link);
    this.pump();
  }

  // ---- the Corosync process group -------------------------------------------------

  /** Messages are read straight into the core's receive buffer; membership drives state transfer. */
  private joinGroup(link: CorosyncLink): void {
    this.group = link;
    const rx = this.core.fn.rxPtr();
    const max = this.k("MAX_DATAGRAM");
    link.deliverInto(() => this.core.bytes.subarray(rx, rx + max), (len, origin) => this.fromMember(len, origin));
    link.onMembership((c) => this.membershipChange(link, c));
    link.onLost((why) => this.log.error(why));
    link.onBack(() => this.log.notice("joined the Corosync process group again"));
    link.onDrain(() => this.pumpSoon());
    this.log.notice(`joined Corosync process group as node ${link.nodeid}`);
  }

  /** A member's message, already at rxPtr(): its external entries remember the member. */
  private fromMember(len: number, origin: number): void {
    const fn = this.core.fn;
    this.lastSeen[0] = Date.now();
    this.memberSeen.set(origin, this.lastSeen[0]);
    fn.engineSetOrigin(origin);
    fn.engineRx(len, 0);
    fn.engineSetOrigin(0);
    this.afterReceive(0);
    this.pumpSoon();
  }

  /**
   * A member that joins (a new node, or one restarted) gets everyone's
   * internal cache: each member sends a bulk update, so it is complete without
   * a -n; what it had sent before it went is dropped, as its own start-up bulk
   * update replaces it. When this node joins again (corosync went away and
   * came back) it is the same the other way: what the members had sent it is
   * replaced by their bulk updates, and its own goes to them. A member that
   * leaves keeps its entries in our external cache until a commit takes them
   * (-c --origin) or a flush. Joins that come close together (a cluster
   * starting) share one bulk update. ALARM sends no bulk updates (its refresh
   * resends everything) and so drops nothing here either.
   */
  private membershipChange(link: CorosyncLink, c: CpgChange): void {
    const isMe = (m: { nodeid: number; pid: number }) => m.nodeid === link.nodeid && m.pid === process.pid;
    const bulks = this.mode !== "alarm";
    const rejoined = c.joined.some(isMe) && this.groupJoins++ > 0;
    if (rejoined && bulks) {
      for (const m of c.members) if (!isMe(m)) this.core.fn.engineForgetOrigin(m.nodeid);
      this.log.notice(`back in the Corosync process group with ${c.members.length - 1} other members: exchanging bulk updates`);
    }
    const joined = c.joined.filter((m) => !isMe(m));
    for (const m of joined) {
      // What it sent before is stale: its start-up bulk update, ordered after this join, is its whole picture.
      const stale = bulks ? this.core.fn.engineForgetOrigin(m.nodeid) : 0;
      this.memberEvent(m.nodeid, true, `Corosync member ${m.nodeid} (pid ${m.pid}) joined` +
        (stale ? `: dropped the ${stale} entries it had sent before, its bulk update replaces them` : ""));
    }
    for (const m of c.left) this.memberEvent(m.nodeid, false, `Corosync member ${m.nodeid} (pid ${m.pid}) left: its entries stay in the external cache`);
    if ((joined.length || rejoined) && bulks) {
      // The core's timer: a request already waiting stands, so joins within 100 ms share its bulk update.
      this.core.fn.engineSchedule(this.k("EVENT_BULK"), Date.now(), 100);
      this.pump();
    }
  }

  /** The bulk update the joins asked for came due: queued here, sent by the pump that follows (this runs inside one, past its sends). */
  private scheduledBulk(): void {
    this.log.notice("sending bulk update to the new members");
    this.core.fn.engineBulk();
    this.pumpSoon();
  }

  private memberEvent(nodeid: number, up: boolean, message: string): void {
    this.log.notice(message);
    this.emit({ type: "link", at: Date.now(), link: 0, what: up ? "peer-hello" : "peer-lost", peer: `node ${nodeid}`, message });
  }

  /**
   * After a peer's bytes went into the core: what they refused said, what
   * they injected sent to the kernel (each datagram's: the core's request
   * batch has a size). The external caches' refusals are read by the pump,
   * once a batch.
   */
  private afterReceive(link: number): void {
    this.auth?.afterReceive(link, () => this.peers()[link]?.address ?? "");
    this.kernel.inject();
  }

  /** Peers' entries the external caches refused (HashLimit reached): counted by the core, said here once a minute. */
  private hashLimitRefused = 0;
  private hashLimitLoggedAt = -Infinity;

  private watchHashLimit(): void {
    const failed = (cache: string) => this.core.cacheCounter(this.k(cache), "CC_CREATE_FAILED");
    const refused = failed("CACHE_EXTERNAL_CT") + failed("CACHE_EXTERNAL_EXP");
    if (refused === this.hashLimitRefused) return;
    const now = Date.now();
    if (now - this.hashLimitLoggedAt < 60_000) return;
    this.log.warning(`external cache full (HashLimit ${this.config.general.hashLimit}): ${refused - this.hashLimitRefused} entries from the peer refused since the last report; -s cache counts them`);
    this.hashLimitRefused = refused;
    this.hashLimitLoggedAt = now;
  }

  /** Datagrams from anyone but the configured peer are dropped (the channel counts them); say so, sparingly. */
  private readonly strangers = new Map<string, number>();

  private stranger(address: string, port: number): void {
    const n = (this.strangers.get(address) ?? 0) + 1;
    this.strangers.set(address, n);
    if (n === 1 || n % 1000 === 0) {
      this.log.warning(`dropped ${n === 1 ? "a datagram" : `${n} datagrams`} from ${address} port ${port}: not the configured peer`);
    }
  }

  private peerChange(link: number, up: boolean): void {
    this.peerUp[link] = up;
    const peer = this.peers()[link]?.address;
    this.emit({ type: "link", at: Date.now(), link, what: up ? "peer-hello" : "peer-lost", peer,
      message: up ? `peer ${peer} is talking on link ${link}` : `peer ${peer} went silent on link ${link}` });
  }

  /** Events were lost: resync with the kernel soon (NetlinkOverrunResync, at most a second). */
  private lostEvents(why: string): void {
    const delay = this.config.general.netlinkOverrunResync;
    if (delay === null) {
      this.log.warning(`${why}; NetlinkOverrunResync is off: the internal cache may miss entries until -R`);
      return;
    }
    if (this.resyncSendsChanges && this.core.fn.engineScheduled(this.k("EVENT_KERNEL_RESYNC"))) return;
    this.resyncSendsChanges = true;
    const ms = Math.min(delay, 1) * 1000;
    this.log.warning(`${why}: resynchronizing the internal cache with the kernel in ${ms} ms`);
    this.core.fn.engineSchedule(this.k("EVENT_KERNEL_RESYNC"), Date.now(), ms);
    this.pump();
  }

  /**
   * A scheduled resync came due. After lost events it sends the peers what
   * the events would have; after a commit (our own inserts, which the event
   * socket missed) it only catches the cache up.
   */
  private resyncNow(): void {
    const afterLoss = this.resyncSendsChanges;
    this.resyncSendsChanges = false;
    this.kernel.resync(afterLoss).then(
      (gone) => {
        if (afterLoss) {
          this.kernel.tableResyncs++;
          this.log.notice(`resync with the kernel done (${gone} entries were gone)`);
        } else if (gone) {
          this.log.notice(`resync after commit: ${gone} entries were gone`);
        }
      },
      (err) => this.log.error(`resync with the kernel failed: ${(err as Error).message}`),
    );
  }

  private scheduledFlush(): void {
    this.log.notice("flushing kernel conntrack table (scheduled)");
    this.kernel.flush("ct").catch((e) => this.log.error((e as Error).message));
  }

  // ---- DaemonControl -----------------------------------------------------------------

  /** conntrackd prints the external cache without reply tuples, and ALARM's external entries with their timer. */
  textDump(which: CacheWhich, kind: RecordKind, style: TextStyle, jsonLines: boolean, origin?: number): TextWalk {
    const alarmTimer = this.mode === "alarm" && which === "external";
    return new TextDump(this.core, this.k(CACHE_NAMES[which][kind]), style, {
      noReply: which === "external", jsonLines, expiresAfter: alarmTimer ? this.sync.cacheTimeout : undefined, origin,
    });
  }

  cacheCounters(which: CacheWhich, kind: RecordKind): CacheCounters {
    return cacheCountersFrom(this.core.cacheCounts(this.k(CACHE_NAMES[which][kind])));
  }

  /** -s's "traffic processed": the counters of each destroyed flow the internal cache held (nf_conntrack_acct=1), as conntrackd sums them. */
  traffic(): TrafficCounters {
    return { bytes: this.core.fn.trafficBytes(), packets: this.core.fn.trafficPackets() };
  }

  links(): LinkStats[] {
    return this.channels.stats().map((l, i) => ({
      type: this.sync.channels[i].type,
      device: l.device ?? "",
      status: l.status === "UNKNOWN" ? "DOWN" : l.status,
      active: l.role === "ACTIVE",
      sent: { bytes: l.stats.bytesSent, messages: l.stats.packetsSent, errors: l.stats.errorsSend },
      received: { bytes: l.stats.bytesRecv, messages: l.stats.packetsRecv, errors: l.stats.errorsRecv },
      // Without it -s said "server=disconnected client=disconnected" on every TCP link, connected or not.
      tcp: l.connections && { serverConnected: l.connections.server, clientConnected: l.connections.client },
    }));
  }

  network(): NetworkCounters {
    const r = this.core.rejects();
    const at = (n: string) => r[this.k(n)] ?? 0;
    const payload = at("R_BAD_ATTR_LEN") + at("R_UNKNOWN_ATTR") + at("R_INCOMPLETE") + at("R_BAD_FAMILY");
    const s = this.core.engineStats();
    const refused = this.auth ? this.core.authRefusals() : undefined;
    const nRefused = Object.values(refused ?? {}).reduce((a, b) => a + b, 0);
    return {
      recvMalformed: r.reduce((a, b) => a + b, 0) - at("R_NO_ROOM") - nRefused,
      recvBadVersion: at("R_BAD_VERSION"), recvBadHeader: 0, recvBadPayload: payload,
      recvBadType: at("R_BAD_TYPE"), recvTruncated: at("R_TRUNCATED"), recvBadSize: at("R_BAD_SIZE") + at("R_OVERSIZED"),
      sendMalformed: 0, recvLost: s.msg_lost, recvBefore: s.msg_before,
      ...(refused && { recvRefused: refused }),
    };
  }

  /** Kernel messages the core could not read (the encoders' own no-room verdicts aside). */
  private kernelMalformed(): number {
    const r = this.core.rejects("kernel");
    return r.reduce((a, b) => a + b, 0) - (r[this.k("R_NO_ROOM")] ?? 0) - (r[this.k("R_BAD_VALUE")] ?? 0);
  }

  runtime(): RuntimeCounters {
    const s = this.core.engineStats();
    return {
      startTime: this.startTime, eventsReceived: s.kernel_events, eventsFiltered: s.kernel_filtered,
      eventsUnknownType: 0, catchEventFailed: this.kernelMalformed(), dumpUnknownType: 0, netlinkOverrun: this.kernel.overruns,
      kernelTableFlush: this.kernel.tableFlushes, kernelTableResync: this.kernel.tableResyncs, netlinkBufferSize: this.kernel.events.rcvBuf,
      childProcessFailed: 0, childProcessSegfault: 0, childProcessTermsig: 0, selectFailed: 0, waitFailed: 0,
    };
  }

  delayedFlows(): DelayedFlows | null {
    if (this.sync.delayReplication.ms === 0) return null;
    const s = this.core.engineStats();
    return { waiting: this.core.fn.holdQueueLen(), released: s.held_released, endedUnsent: s.held_unsent };
  }

  resendQueue(): ResendQueueItem[] {
    const fn = this.core.fn;
    const items: ResendQueueItem[] = [];
    fn.rsQueueWalkStart();
    for (let t = fn.rsQueueWalkNext(); t !== this.k("RSQ_END"); t = fn.rsQueueWalkNext()) {
      const seq = fn.rsQueueWalkSeq();
      items.push(t === this.k("RSQ_OBJECT") ? { kind: "object", seq } : { kind: "control", seq, flags: fn.rsQueueWalkFlags() });
    }
    return items;
  }

  queues(): QueueStats {
    const fn = this.core.fn;
    const tx = fn.txQueueLen(), rs = fn.rsQueueLen();
    return {
      allocatedNodes: tx + rs,
      queues: [
        // conntrackd prints INT_MAX for its unbounded transmit queue; ours is bounded by the caches.
        { name: "txqueue", current: tx, max: TXQUEUE_MAX, noSpaceErrors: 0 },
        { name: "rsqueue", current: rs, max: this.sync.resendQueueSize, noSpaceErrors: this.core.engineStat("RSQUEUE_PURGED") },
      ],
    };
  }

  /** conntrackd lists the children it forked (an old commit ran in one); ctsyncd forks none. */
  processes(): ProcessInfo[] {
    return [];
  }

  async commit(kinds: KindSet, origin?: number): Promise<CommitResult> {
    if (this.committing) {
      this.log.notice("commit already in progress, skipping");
      const busy: CommitResult = { status: "busy", committed: 0, failed: 0, seconds: 0 };
      this.commitLog.record(kinds, busy);
      return busy;
    }
    this.committing = true;
    this.cancelPurge(); // a node that commits is becoming primary: its table is no zombie
    try {
      const wanted = kindsOf(kinds).filter((k) => k === "ct" || this.expectationSync);
      this.log.notice((kinds === "both" ? "committing all external caches" : kinds === "ct" ? "committing conntrack cache" : "committing expectation cache") +
        (origin !== undefined ? ` (entries from Corosync member ${origin} only)` : ""));
      let committed = 0, failed = 0, seconds = 0;
      for (const kind of wanted) {
        const r = await this.kernel.commit(kind, origin);
        committed += r.ok; failed += r.failed; seconds += r.seconds;
        this.log.notice(kind === "ct" ? `Committed ${r.ok} new entries` : `Committed ${r.ok} new expectations`);
        if (r.failed) this.log.notice(`${r.failed} entries can't be committed`);
        this.log.notice(`commit has taken ${r.seconds.toFixed(6)} seconds`);
      }
      const result: CommitResult = { status: "done", committed, failed, seconds };
      // The event socket was deaf during the commit: catch up from a dump, once the client has its answer.
      this.core.fn.engineSchedule(this.k("EVENT_KERNEL_RESYNC"), Date.now(), 100);
      this.pump();
      this.commitLog.record(kinds, result);
      this.emit({ type: "commit", at: Date.now(), kinds, result });
      return result;
    } finally {
      this.committing = false;
    }
  }

  flushCache(which: CacheWhich | "both", kinds: readonly RecordKind[]): void {
    if (which !== "internal" && this.committing) {
      this.log.error("ignoring flush command, commit still in progress");
      return;
    }
    if (which !== "external") this.cancelPurge();
    this.log.notice(which === "both" ? "flushing caches" : `flushing ${which} cache`);
    const sides: CacheWhich[] = which === "both" ? ["internal", "external"] : [which];
    for (const side of sides) for (const kind of kinds) this.core.fn.cacheFlush(this.k(CACHE_NAMES[side][kind]));
  }

  async flushKernel(kinds: KindSet): Promise<void> {
    for (const kind of kindsOf(kinds)) await this.kernel.flushTable(kind);
  }

  async resyncWithKernel(_kinds: KindSet): Promise<void> {
    await this.kernel.resyncTable();
  }

  requestResync(): void {
    this.log.notice("resync requested");
    this.core.fn.engineRequestResync();
    // Sent once the client has its answer: the peer's reply, a whole cache,
    // would otherwise keep the daemon busy before it closes the client's socket.
    setImmediate(() => this.pump());
  }

  async bulkSend(): Promise<void> {
    this.log.notice("sending bulk update");
    if (this.sync.disableInternalCache) {
      // No internal cache to send from: send the kernel's tables as they are.
      await this.kernel.dumpIntoCache("ct", true);
      if (this.expectationSync) await this.kernel.dumpIntoCache("expect", true);
      return;
    }
    // Queued now, sent once the client has its answer: like conntrackd, -B
    // returns when the update is on its way, not when the last byte left.
    this.core.fn.engineBulk();
    setImmediate(() => this.pump());
  }

  /** -t: the kernel flush after PurgeTimeout, asked of the core once; a commit or a cache flush calls it off, as in conntrackd. */
  resetTimers(): void {
    const flush = this.k("EVENT_KERNEL_FLUSH");
    if (this.core.fn.engineScheduled(flush)) return;
    const secs = this.sync.purgeTimeout;
    this.log.notice(`flushing conntrack table in ${secs} secs`);
    this.core.fn.engineSchedule(flush, Date.now(), secs * 1000);
    this.pump();
  }

  private cancelPurge(): void {
    this.core.fn.engineUnschedule(this.k("EVENT_KERNEL_FLUSH"));
  }

  kill(): void {
    void this.shutdown(true);
  }

  /** SIGHUP: logrotate moved the LogFile away; write to a new one. With Authenticate, read the key file again. */
  reopenLog(): void {
    this.log.reopenOnSignal();
    this.auth?.reloadKeys();
  }

  // ---- ApiSource ------------------------------------------------------------------------

  private emit(e: ApiEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** Cache changes come from the core's change feed, which runs only while someone listens. */
  onEvent(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    const off = this.feed.subscribe((c) => {
      const e = changeToEvent(c);
      if (e) listener(e);
    });
    return () => {
      off();
      this.listeners.delete(listener);
    };
  }

  peers(): PeerInfo[] {
    if (this.group) return this.members(this.group);
    return this.sync.channels.map((c, i) => ({
      link: i,
      address: c.type === "corosync" ? "" : "destination" in c ? c.destination ?? "" : c.address,
      lastSeen: this.lastSeen[i] ?? null,
      state: this.peerUp[i] ? "talking" : this.lastSeen[i] ? "silent" : "not heard yet",
    }));
  }

  /** Over Corosync the peers are the group's other members (left ones too: their entries stay), by node id. */
  private members(group: CorosyncLink): PeerInfo[] {
    const ids = new Set([...group.members, ...this.memberSeen.keys()]);
    ids.delete(group.nodeid);
    return [...ids].sort((a, b) => a - b).map((id) => ({
      link: 0,
      address: `node ${id}`,
      lastSeen: this.memberSeen.get(id) ?? null,
      state: group.members.includes(id) ? "member" : "left",
    }));
  }

  commitHistory(): CommitHistory {
    return this.commitLog.snapshot();
  }

  controlCounters(): LocalCounters {
    return this.control?.counters ?? { localReadFailed: 0, localUnknownRequest: 0 };
  }

  async shutdown(logIt: boolean): Promise<void> {
    notifySystemd(this.config.general.systemd, "STOPPING=1", this.log);
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.keepalived?.close();
    await this.api?.close();
    this.api = null;
    await this.control?.close?.();
    this.control = null;
    this.kernel?.close();
    await this.channels?.close();
    this.lock?.release();
    this.lock = null;
    if (logIt) this.log.notice("---- shutdown received ----");
    this.log.close();
    this.stopped?.();
  }
}
