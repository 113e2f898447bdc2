// A simulated daemon for the API: counters that the caller (a test, or
// `tsx test/support/fake-source.ts` to look at the dashboard without root) moves
// by hand or with tick(), events pushed with emit(), and a record of the
// actions asked of it. Not used by the daemon.
import type {
  CacheCounters, CacheWhich, CommitResult, CtEntry, ExpEntry, KindSet, LinkStats, LocalCounters,
  NetworkCounters, ProcessInfo, QueueStats, RecordKind, ResendQueueItem, RuntimeCounters, TextStyle, TextWalk, TrafficCounters,
} from "../../host/control/api.ts";
import type { SyncMode } from "../../host/config/types.ts";
import type { Conntrack } from "../../host/record-view.ts";
import { loadCore, type Core } from "../../host/core.ts";
import { RecordListWalk } from "../../host/formats/text-dump.ts";
import { CommitLog, type ApiEvent, type ApiSource, type CommitHistory, type DelayedFlows, type PeerInfo } from "../../host/api/source.ts";

export function cacheCounters(active = 0): CacheCounters {
  return {
    active, objects: active, tableEntries: active, addOk: active, addFail: 0, addFailNoMemory: 0, addFailNoSpace: 0,
    updOk: 0, updFail: 0, updFailNotFound: 0, delOk: 0, delFail: 0, delFailNotFound: 0,
  };
}

export function flow(i: number): Conntrack {
  return {
    family: "ipv4", src: `10.1.${(i >> 8) & 255}.${i & 255}`, dst: "192.168.0.10", l4proto: 6,
    sport: 1024 + (i % 60000), dport: 80, tcpState: 3, status: 14, timeout: 431999, id: i,
  };
}

export class FakeSource implements ApiSource {
  mode: SyncMode;
  expectationSync: boolean;
  readonly ct: Record<CacheWhich, CtEntry[]> = { internal: [], external: [] };
  readonly exp: Record<CacheWhich, ExpEntry[]> = { internal: [], external: [] };
  readonly linkList: LinkStats[] = [
    { type: "udp", device: "eth2", status: "RUNNING", active: true,
      sent: { bytes: 0, messages: 0, errors: 0 }, received: { bytes: 0, messages: 0, errors: 0 } },
    { type: "udp", device: "eth3", status: "NO-CARRIER", active: false,
      sent: { bytes: 0, messages: 0, errors: 0 }, received: { bytes: 0, messages: 0, errors: 0 } },
  ];
  readonly net: NetworkCounters = {
    recvMalformed: 0, recvBadVersion: 0, recvBadHeader: 0, recvBadPayload: 0, recvBadType: 0, recvTruncated: 0,
    recvBadSize: 0, sendMalformed: 0, recvLost: 0, recvBefore: 0,
  };
  readonly run: RuntimeCounters = {
    startTime: Math.floor(Date.now() / 1000) - 3725, eventsReceived: 0, eventsFiltered: 0, eventsUnknownType: 0,
    catchEventFailed: 0, dumpUnknownType: 0, netlinkOverrun: 0, kernelTableFlush: 0, kernelTableResync: 0,
    netlinkBufferSize: 2097152, childProcessFailed: 0, childProcessSegfault: 0, childProcessTermsig: 0,
    selectFailed: 0, waitFailed: 0,
  };
  rsqueue: ResendQueueItem[] = [];
  peerList: PeerInfo[] = [{ link: 0, address: "10.0.0.2", lastSeen: Date.now(), greeted: true, state: "synced" }];
  /** The actions asked, in order, e.g. "commit ct", "flush both ct". */
  readonly actions: string[] = [];
  /** How long a commit takes, in ms. */
  commitDelayMs = 0;
  private readonly commits = new CommitLog();
  private readonly listeners = new Set<(e: ApiEvent) => void>();
  private next = 0;

  constructor(opts: { mode?: SyncMode; expectationSync?: boolean } = {}) {
    this.mode = opts.mode ?? "ftfw";
    this.expectationSync = opts.expectationSync ?? true;
  }

  /** How many listeners the API has registered now. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  emit(e: ApiEvent): void {
    for (const l of this.listeners) l(e);
  }

  /** One step of simulated traffic: n new flows seen, synced and mirrored by the peer. */
  tick(n = 5): void {
    for (let k = 0; k < n; k++) {
      const ct = flow(this.next++);
      this.ct.internal.push({ ct, ageSeconds: 0 });
      if (this.next % 3) this.ct.external.push({ ct: flow(100000 + this.next), ageSeconds: 0, withReply: false });
      this.emit({ type: "ct-new", at: Date.now(), cache: "internal", ct });
    }
    this.run.eventsReceived = Number(this.run.eventsReceived) + n * 3;
    const l = this.linkList[0];
    l.sent.messages = Number(l.sent.messages) + n;
    l.sent.bytes = Number(l.sent.bytes) + n * 120;
    l.received.messages = Number(l.received.messages) + n * 2;
    l.received.bytes = Number(l.received.bytes) + n * 240;
    this.peerList[0].lastSeen = Date.now();
  }

  onEvent(listener: (e: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  peers(): PeerInfo[] { return this.peerList; }
  commitHistory(): CommitHistory { return this.commits.snapshot(); }
  controlCounters(): LocalCounters { return { localReadFailed: 1, localUnknownRequest: 2 }; }
  /** Set it to show DelayReplication's counters. */
  delayed: DelayedFlows | null = null;
  delayedFlows(): DelayedFlows | null { return this.delayed; }

  /** The lists formatted by a real core, as the daemon's caches are. */
  textDump(which: CacheWhich, kind: RecordKind, style: TextStyle, jsonLines: boolean): TextWalk {
    this.core ??= loadCore();
    return new RecordListWalk(this.core, kind === "ct" ? this.ct[which] : this.exp[which], style, { jsonLines });
  }
  private core: Core | undefined;
  cacheCounters(which: CacheWhich, kind: RecordKind): CacheCounters {
    return cacheCounters(kind === "ct" ? this.ct[which].length : this.exp[which].length);
  }
  traffic(): TrafficCounters { return { bytes: 123456789012n, packets: 4242 }; }
  links(): LinkStats[] { return this.linkList; }
  network(): NetworkCounters { return this.net; }
  runtime(): RuntimeCounters { return this.run; }
  resendQueue(): ResendQueueItem[] { return this.mode === "ftfw" ? this.rsqueue : []; }
  queues(): QueueStats { return { allocatedNodes: 3, queues: [{ name: "txqueue", current: 1, max: 2, noSpaceErrors: 0 }] }; }
  processes(): ProcessInfo[] { return []; }

  async commit(kinds: KindSet, origin?: number): Promise<CommitResult> {
    this.actions.push(`commit ${kinds}${origin !== undefined ? ` origin ${origin}` : ""}`);
    const started = Date.now();
    if (this.commitDelayMs) await new Promise((r) => setTimeout(r, this.commitDelayMs));
    const result: CommitResult = { status: "done", committed: this.ct.external.length, failed: 0, seconds: (Date.now() - started) / 1000 };
    this.commits.record(kinds, result);
    this.emit({ type: "commit", at: Date.now(), kinds, result });
    return result;
  }
  flushCache(which: CacheWhich | "both", kinds: readonly RecordKind[]): void { this.actions.push(`flush ${which} ${kinds.join(",")}`); }
  flushKernel(kinds: KindSet): void { this.actions.push(`flush-kernel ${kinds}`); }
  resyncWithKernel(kinds: KindSet): void { this.actions.push(`resync-kernel ${kinds}`); }
  requestResync(): void { this.actions.push("request-resync"); }
  bulkSend(): void { this.actions.push("bulk"); }
  resetTimers(): void { this.actions.push("reset-timers"); }
  kill(): void { this.actions.push("kill"); }
}

// `tsx test/support/fake-source.ts [port]`: the dashboard on simulated traffic.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { startApi } = await import("../../host/api/server.ts");
  const { defaultApi } = await import("../../host/config/api.ts");
  const src = new FakeSource();
  const cfg = { ...defaultApi(0), port: Number(process.argv[2] ?? 8080), token: "demo-token-0123456789" };
  const api = await startApi(src, cfg, (level, msg) => console.log(`[${level}] ${msg}`));
  setInterval(() => src.tick(1 + Math.floor(Math.random() * 20)), 500);
  process.on("SIGINT", () => void api.close().then(() => process.exit(0)));
}
