// conntrackd's Stats mode: a flow logger instead of a syncer. The daemon
// keeps a cache of the kernel's live conntracks (the core's internal cache,
// MODE_STATS: no peers, nothing queued) and writes every cached flow the
// kernel destroys to the Stats LogFile, syslog, and (ctsync's own) a file of
// JSON lines. The General section's filters apply to the events as in the
// sync modes. Control requests are those conntrackd 1.4.7 answers in this
// mode: -i [-x], -f internal, -F, -R, -k, -s, -s cache, -s runtime, -s process.
import type { Config, StatsConfig } from "../config/load.ts";
import { loadCore, type Core } from "../core.ts";
import { Kernel, eventBufferSizes } from "../kernel/kernel.ts";
import { Logger, ctime } from "../process/log.ts";
import { LockFile } from "../process/lockfile.ts";
import { ControlServer, controlAnswering } from "../control/server.ts";
import { applyFilters } from "../kernel/filters.ts";
import { adviseHugePages, applyScheduler, notifySystemd, syslogSink } from "../process/setup.ts";
import { StatsSinks } from "./sinks.ts";
import { RecordListWalk, TextDump } from "../formats/text-dump.ts";
import { cacheCountersFrom } from "../formats/stats.ts";
import type {
  CacheCounters, CacheWhich, CommitResult, DaemonControl, KindSet, LinkStats, LocalCounters,
  NetworkCounters, ProcessInfo, QueueStats, RecordKind, ResendQueueItem, RuntimeCounters, TextStyle, TextWalk, TrafficCounters,
} from "../control/api.ts";

const nowSec = () => Math.floor(Date.now() / 1000);

/** Which logs a destroyed flow goes to: conntrackd's text lines (LogFile, syslog), ctsync's JSON lines. */
export interface FlowLogs {
  text: boolean;
  json: boolean;
}

/**
 * The core in MODE_STATS, fed one netlink read at a time: the core counts
 * each cached flow the kernel destroyed and writes its log lines into its
 * own buffers, which `drain` receives (copies) when nearly full and at the
 * end of each read. Shared by the daemon and the tests (which feed recorded
 * messages).
 */
export class FlowCollector {
  readonly core: Core;

  constructor(config: Config, core: Core = loadCore()) {
    this.core = core;
    const { general } = config;
    const now = nowSec();
    core.fn.engineInit(core.k("MODE_STATS"), general.hashSize, general.hashLimit, 1, 1, 1, 1, 0, now, Date.now());
    applyFilters(core, general.filter, { enabled: false });
  }

  /** conntrackd's "traffic processed": the destroyed flows' counters, each taken as 32 bits as conntrackd does. */
  get bytes(): bigint { return this.core.fn.trafficBytes(); }
  get packets(): bigint { return this.core.fn.trafficPackets(); }

  /** The time of writing of the lines to come: ctime() and a tab for the text, the clock for the JSON. */
  stamp(now: Date): void {
    const b = Buffer.from(`${ctime(now)}\t`, "latin1");
    this.core.bytes.set(b, this.core.fn.flowStampPtr());
    this.core.fn.flowSetStamp(b.length, now.getTime());
  }

  /**
   * Reads `len` bytes of netlink messages from the core's netlink buffer;
   * returns how many cached flows were destroyed.
   */
  feed(len: number, logs: FlowLogs, drain: (text: Uint8Array, json: Uint8Array) => void): number {
    const { fn } = this.core;
    fn.handleTimeout(Date.now()); // the cache's clock, for the entries' ages
    if (fn.nlOpen(len) < 0) return 0;
    const DESTROYED = this.core.k("STEP_DESTROYED");
    const END = this.core.k("STEP_END");
    const text = logs.text ? 1 : 0, json = logs.json ? 1 : 0;
    let destroyed = 0;
    for (let r = fn.engineKernelStep(); r !== END; r = fn.engineKernelStep()) {
      if (r !== DESTROYED) continue;
      destroyed++;
      if (fn.flowDestroyed(text, json)) this.drain(drain);
    }
    this.drain(drain);
    return destroyed;
  }

  private drain(to: (text: Uint8Array, json: Uint8Array) => void): void {
    const { fn } = this.core;
    const take = (which: string) => {
      const at = fn.flowLogPtr(this.core.k(which));
      return this.core.bytes.slice(at, at + fn.flowLogLen(this.core.k(which)));
    };
    const text = take("FLOW_TEXT"), json = take("FLOW_JSON");
    fn.flowLogClear();
    if (text.length || json.length) to(text, json);
  }
}

export interface StatsDaemonOptions {
  /** Log to the console too (foreground). */
  console: boolean;
}

export class StatsDaemon implements DaemonControl {
  readonly mode = "stats" as const;
  readonly expectationSync = false;
  private readonly flows: FlowCollector;
  private kernel!: Kernel;
  private control: ControlServer | null = null;
  private lock: LockFile | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly startTime = nowSec();
  /** Destroyed flows the daemon could not log: gone from the kernel while events were lost. */
  missed = 0;
  private stopped: (() => void) | null = null;
  readonly done: Promise<void>;

  private constructor(private readonly config: Config, private readonly stats: StatsConfig,
    private readonly sinks: StatsSinks, readonly log: Logger) {
    this.flows = new FlowCollector(config);
    this.done = new Promise((r) => (this.stopped = r));
    sinks.onError((m) => this.log.error(m));
  }

  static async start(config: Config, opts: StatsDaemonOptions): Promise<StatsDaemon> {
    if (!config.stats) throw new Error("the Stats mode needs a Stats section");
    const syslog = syslogSink(config.general.syslog);
    const log = new Logger(config.general.logFile, opts.console, syslog ? [syslog] : []);
    // A log file that cannot be opened stops the daemon before anything else, as in conntrackd.
    const sinks = StatsSinks.open(config.stats);
    let d: StatsDaemon;
    try {
      d = new StatsDaemon(config, config.stats, sinks, log);
      d.lock = await LockFile.take(config.general.lockFile, {
        answering: () => controlAnswering(config.general.unixPath),
        notice: (m) => log.notice(m),
      });
    } catch (err) {
      sinks.close();
      throw err;
    }
    try {
      await d.init();
    } catch (err) {
      await d.shutdown(false);
      throw err;
    }
    return d;
  }

  private get core(): Core {
    return this.flows.core;
  }

  private async init(): Promise<void> {
    const { general } = this.config;
    this.log.notice("using user-space event filtering");
    const realtime = applyScheduler(general.scheduler, this.log); // before the event socket opens, as conntrackd does
    this.kernel = new Kernel(this.core, {
      ...eventBufferSizes(general.netlinkBufferSize, general.netlinkBufferSizeMaxGrowth),
      realtime,
      expectations: false,
      liberal: true,
      reliable: general.netlinkEventsReliable,
    }, this.log);
    if (this.kernel.gathers) adviseHugePages(this.core);
    if (general.netlinkEventsReliable) this.log.notice("reliable ctnetlink event delivery is ENABLED.");
    this.kernel.handleEvents = (len) => this.fromKernel(len);
    this.kernel.onLoss = (why) => this.lostEvents(why);
    // Listen first, then dump: entries made before a listener joined never send events.
    await this.kernel.resync();
    this.kernel.warnOfSilentFlows();
    if (general.unixPath) {
      this.control = await ControlServer.start({ path: general.unixPath, daemon: this, onError: (m) => this.log.error(m) });
    } else {
      this.log.warning("no UNIX socket Path in the General section: client commands cannot reach this daemon");
    }
    if (this.config.api?.enabled) this.log.warning("the API section is not served in the Stats mode (its routes are about the sync caches and links)");
    this.arm();
    this.log.notice("initialization completed");
    notifySystemd(general.systemd, "READY=1", this.log);
  }

  /** A read of events: every cached flow destroyed is logged while its event is in the core's records. */
  private fromKernel(len: number): void {
    const { sinks, flows } = this;
    flows.stamp(new Date());
    flows.feed(len, { text: sinks.wantsText, json: sinks.wantsJson }, (text, json) => sinks.write(text, json));
    sinks.flush();
  }

  /**
   * The one timer: the core's next deadline (a scheduled resync), or a
   * second at most, when the kernel's drop counter is read.
   */
  private arm(): void {
    if (this.stopping) return;
    const at = Math.min(this.core.fn.pollTimeout(), Date.now() + 1000);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), Math.max(0, at - Date.now()));
  }

  private tick(): void {
    const fn = this.core.fn;
    fn.handleTimeout(Date.now());
    for (let e = fn.pollEvent(); e !== this.core.k("EVENT_NONE"); e = fn.pollEvent()) {
      if ((e & 0xff) === this.core.k("EVENT_KERNEL_RESYNC")) this.resyncNow();
    }
    this.kernel.checkDrops();
    this.arm();
  }

  /**
   * Events were lost: say so, count it (-s runtime's netlink overrun) and
   * resync the cache from a dump. Flows destroyed meanwhile are gone
   * without their final counters: counted, not logged. With
   * NetlinkEventsReliable the kernel keeps each destroyed flow until its
   * event is delivered; its drops are not overruns (conntrackd counts
   * none either), and the dump only adds flows whose new event was lost.
   */
  private lostEvents(why: string): void {
    const reliable = this.config.general.netlinkEventsReliable;
    const delay = this.config.general.netlinkOverrunResync;
    if (delay === null) {
      this.log.warning(`${why}; NetlinkOverrunResync is off: destroyed flows may go unlogged until -R`);
      return;
    }
    const fn = this.core.fn;
    if (fn.engineScheduled(this.core.k("EVENT_KERNEL_RESYNC"))) return;
    const ms = Math.min(delay, 1) * 1000;
    // With reliable events only new and update events can be lost: the kernel
    // keeps destroyed flows until their event is delivered, so the dump adds
    // what is missing and removes nothing.
    this.log.warning(reliable
      ? `${why}: new flows may be missing from the cache; adding them from the kernel in ${ms} ms`
      : `${why}: destroyed flows may go unlogged; resynchronizing the cache with the kernel in ${ms} ms`);
    fn.engineSchedule(this.core.k("EVENT_KERNEL_RESYNC"), Date.now(), ms);
    this.arm();
  }

  /** The resync lostEvents asked the core for came due. */
  private resyncNow(): void {
    const reliable = this.config.general.netlinkEventsReliable;
    this.kernel.resync(false, !reliable).then(
      (gone) => {
        this.kernel.tableResyncs++;
        this.missed += gone;
        this.log.notice(`resync with the kernel done: ${gone} flows were destroyed unseen and not logged`);
      },
      (err) => this.log.error(`resync with the kernel failed: ${(err as Error).message}`),
    );
  }

  /**
   * SIGHUP (host/main.ts): the log files were rotated away; open them anew,
   * the General LogFile and the Stats files (no line is lost: writes are
   * synchronous).
   */
  reopenLog(): void {
    this.log.reopenOnSignal();
    try {
      this.sinks.reopen();
      this.log.notice("Stats log files reopened");
    } catch (err) {
      this.log.error(`cannot reopen the Stats log files: ${(err as Error).message}; still writing to the old ones`);
    }
  }

  // ---- DaemonControl ----------------------------------------------------------------

  /**
   * -i: the Stats cache, each flow with the kernel's id and, when a dump told
   * its start, its delta-time; conntrackd's Stats mode has no external or
   * expectation cache, so those dumps are empty.
   */
  textDump(which: CacheWhich, kind: RecordKind, style: TextStyle, jsonLines: boolean): TextWalk {
    if (which !== "internal" || kind !== "ct") return new RecordListWalk(this.core, [], style);
    this.core.fn.handleTimeout(Date.now()); // "active since" as of now
    return new TextDump(this.core, this.core.k("CACHE_INTERNAL_CT"), style, { stats: true, jsonLines });
  }

  cacheCounters(_which: CacheWhich, _kind: RecordKind): CacheCounters {
    return cacheCountersFrom(this.core.cacheCounts(this.core.k("CACHE_INTERNAL_CT")));
  }

  traffic(): TrafficCounters {
    return { bytes: this.flows.bytes, packets: this.flows.packets };
  }

  links(): LinkStats[] {
    return [];
  }

  network(): NetworkCounters {
    return {
      recvMalformed: 0, recvBadVersion: 0, recvBadHeader: 0, recvBadPayload: 0, recvBadType: 0,
      recvTruncated: 0, recvBadSize: 0, sendMalformed: 0, recvLost: 0, recvBefore: 0,
    };
  }

  runtime(): RuntimeCounters {
    const s = this.core.engineStats();
    return {
      startTime: this.startTime, eventsReceived: s.kernel_events, eventsFiltered: s.kernel_filtered,
      eventsUnknownType: 0, catchEventFailed: 0, dumpUnknownType: 0, netlinkOverrun: this.kernel.overruns,
      kernelTableFlush: this.kernel.tableFlushes, kernelTableResync: this.kernel.tableResyncs, netlinkBufferSize: this.kernel.events.rcvBuf,
      childProcessFailed: 0, childProcessSegfault: 0, childProcessTermsig: 0, selectFailed: 0, waitFailed: 0,
    };
  }

  resendQueue(): ResendQueueItem[] {
    return [];
  }

  queues(): QueueStats {
    return { allocatedNodes: 0, queues: [] };
  }

  processes(): ProcessInfo[] {
    return [];
  }

  commit(_kinds: KindSet): Promise<CommitResult> {
    return Promise.resolve({ status: "done", committed: 0, failed: 0, seconds: 0 });
  }

  /** -f internal (conntrackd's Stats mode ignores a plain -f). */
  flushCache(_which: CacheWhich | "both", _kinds: readonly RecordKind[]): void {
    this.log.notice("flushing caches");
    this.core.fn.cacheFlush(this.core.k("CACHE_INTERNAL_CT"));
  }

  async flushKernel(kinds: KindSet): Promise<void> {
    for (const kind of kinds === "both" ? (["ct", "expect"] as const) : [kinds]) await this.kernel.flushTable(kind);
  }

  async resyncWithKernel(_kinds: KindSet): Promise<void> {
    await this.kernel.resyncTable();
  }

  requestResync(): void {}
  bulkSend(): void {}
  resetTimers(): void {}

  kill(): void {
    void this.shutdown(true);
  }

  controlCounters(): LocalCounters {
    return this.control?.counters ?? { localReadFailed: 0, localUnknownRequest: 0 };
  }

  async shutdown(logIt: boolean): Promise<void> {
    notifySystemd(this.config.general.systemd, "STOPPING=1", this.log);
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.control?.close?.();
    this.control = null;
    this.kernel?.close();
    this.sinks.close();
    this.lock?.release();
    this.lock = null;
    if (logIt) this.log.notice("---- shutdown received ----");
    this.log.close();
    this.stopped?.();
  }
}
