// An in-memory DaemonControl holding what the captured conntrackd run held
// (test/fixtures/conntrackd-output): its caches, counters and links, so the
// formats and the control socket can be compared with the real outputs.
import type {
  CacheCounters, CacheWhich, CommitResult, CtEntry, DaemonControl, ExpEntry, KindSet,
  LinkStats, NetworkCounters, ProcessInfo, QueueStats, RecordKind, ResendQueueItem,
  RuntimeCounters, TextStyle, TextWalk, TrafficCounters,
} from "../../host/control/api.ts";
import type { SyncMode } from "../../host/config/types.ts";
import type { Conntrack, Expectation } from "../../host/record-view.ts";
import { loadCore, type Core } from "../../host/core.ts";
import { RecordListWalk } from "../../host/formats/text-dump.ts";

const CONFIRMED = 1 << 3, SEEN_REPLY = 1 << 1, ASSURED = 1 << 2;

/** The internal cache of the capture, in the order conntrackd dumped it. */
export const CAPTURED_CONNTRACKS: Conntrack[] = [
  { family: "ipv4", src: "192.0.2.1", dst: "198.51.100.1", l4proto: 1, icmp: { type: 8, code: 0, id: 7 },
    status: CONFIRMED, mark: 0, id: 1980460805 },
  { family: "ipv4", src: "192.0.2.1", dst: "198.51.100.1", l4proto: 6, sport: 40000, dport: 22, tcpState: 3,
    status: CONFIRMED | ASSURED, mark: 0, id: 1890472609 },
  { family: "ipv4", src: "127.0.0.1", dst: "127.0.0.1", l4proto: 6, sport: 40002, dport: 21, tcpState: 3,
    status: CONFIRMED | SEEN_REPLY | ASSURED, helper: "ftp", id: 750037972 },
  { family: "ipv4", src: "192.0.2.1", dst: "198.51.100.53", l4proto: 17, sport: 40001, dport: 53,
    status: CONFIRMED, mark: 0, id: 2773743375 },
  { family: "ipv4", src: "127.0.0.1", dst: "127.0.0.2", l4proto: 17, sport: 34487, dport: 3780,
    status: CONFIRMED, id: 1927244920 },
];

export const CAPTURED_EXPECTATIONS: Expectation[] = [
  {
    master: { family: "ipv4", src: "127.0.0.1", dst: "127.0.0.1", l4proto: 6, sport: 40002, dport: 21 },
    expected: { family: "ipv4", src: "127.0.0.1", dst: "127.0.0.1", l4proto: 6, sport: 0, dport: 40004 },
    mask: { family: "ipv4", src: "255.255.255.255", dst: "255.255.255.255", l4proto: 6, sport: 0, dport: 65535 },
    class: 0, helper: "ftp", flags: 0,
  },
];

export function counters(c: Partial<CacheCounters> = {}): CacheCounters {
  return {
    active: 0, objects: 0, tableEntries: 0, addOk: 0, addFail: 0, addFailNoMemory: 0, addFailNoSpace: 0,
    updOk: 0, updFail: 0, updFailNotFound: 0, delOk: 0, delFail: 0, delFailNotFound: 0, ...c,
  };
}

export const CAPTURED_LINK: LinkStats = {
  type: "udp", device: "lo", status: "RUNNING", active: true,
  sent: { bytes: 496, messages: 6, errors: 0 }, received: { bytes: 0, messages: 0, errors: 0 },
};

export const ZERO_NETWORK: NetworkCounters = {
  recvMalformed: 0, recvBadVersion: 0, recvBadHeader: 0, recvBadPayload: 0, recvBadType: 0,
  recvTruncated: 0, recvBadSize: 0, sendMalformed: 0, recvLost: 0, recvBefore: 0,
};

export const CAPTURED_QUEUES: QueueStats = {
  allocatedNodes: 0,
  queues: [
    { name: "txqueue", current: 0, max: 2147483647, noSpaceErrors: 0 },
    { name: "errorq", current: 0, max: 128, noSpaceErrors: 0 },
    { name: "rsqueue", current: 6, max: 131072, noSpaceErrors: 0 },
  ],
};

export const CAPTURED_RSQUEUE: ResendQueueItem[] = [0, 1, 2, 3, 4, 5].map((i) => ({ kind: "object", seq: 1795714924 + i }));

export function capturedRuntime(startTime: number): RuntimeCounters {
  return {
    startTime, eventsReceived: 10, eventsFiltered: 0, eventsUnknownType: 0, catchEventFailed: 0,
    dumpUnknownType: 0, netlinkOverrun: 0, kernelTableFlush: 0, kernelTableResync: 0,
    netlinkBufferSize: 2097152, childProcessFailed: 0, childProcessSegfault: 0, childProcessTermsig: 0,
    selectFailed: 0, waitFailed: 0,
  };
}

export const CAPTURED_CACHES: Record<RecordKind, Record<CacheWhich, CacheCounters>> = {
  ct: { internal: counters({ active: 5, objects: 5, tableEntries: 5, addOk: 5, updOk: 2 }), external: counters() },
  expect: { internal: counters({ active: 1, objects: 1, tableEntries: 1, addOk: 2, delOk: 1 }), external: counters() },
};

/** Every call the fake received, for assertions on actions. */
export type Call = [string, ...unknown[]];

export class FakeDaemon implements DaemonControl {
  mode: SyncMode = "ftfw";
  expectationSync = true;
  readonly calls: Call[] = [];
  internal: { ct: CtEntry[]; exp: ExpEntry[] } = {
    ct: CAPTURED_CONNTRACKS.map((ct) => ({ ct, ageSeconds: 1 })),
    exp: CAPTURED_EXPECTATIONS.map((exp) => ({ exp, ageSeconds: 1 })),
  };
  external: { ct: CtEntry[]; exp: ExpEntry[] } = { ct: [], exp: [] };
  startTime = Math.floor(Date.now() / 1000);
  /** Resolves a pending commit, for tests of the held connection. */
  commitGate: Promise<void> = Promise.resolve();
  processList: ProcessInfo[] = [];

  textDump(which: CacheWhich, kind: RecordKind, style: TextStyle, jsonLines: boolean, origin?: number): TextWalk {
    this.calls.push(origin !== undefined ? ["textDump", which, kind, style, origin] : ["textDump", which, kind, style]);
    this.core ??= loadCore();
    return new RecordListWalk(this.core, kind === "ct" ? this[which].ct : this[which].exp, style, { jsonLines });
  }
  private core: Core | undefined;
  cacheCounters(which: CacheWhich, kind: RecordKind): CacheCounters { return CAPTURED_CACHES[kind][which]; }
  traffic(): TrafficCounters { return { bytes: 0n, packets: 0 }; }
  links(): LinkStats[] { return [CAPTURED_LINK]; }
  network(): NetworkCounters { return ZERO_NETWORK; }
  runtime(): RuntimeCounters { return capturedRuntime(this.startTime); }
  resendQueue(): ResendQueueItem[] { return CAPTURED_RSQUEUE; }
  queues(): QueueStats { return CAPTURED_QUEUES; }
  processes(): ProcessInfo[] { return this.processList; }
  async commit(kinds: KindSet, origin?: number): Promise<CommitResult> {
    this.calls.push(origin !== undefined ? ["commit", kinds, origin] : ["commit", kinds]);
    await this.commitGate;
    return { status: "done", committed: 3, failed: 0, seconds: 0.001 };
  }
  flushCache(which: CacheWhich | "both", kinds: readonly RecordKind[]): void { this.calls.push(["flushCache", which, [...kinds]]); }
  flushKernel(kinds: KindSet): void { this.calls.push(["flushKernel", kinds]); }
  resyncWithKernel(kinds: KindSet): void { this.calls.push(["resyncWithKernel", kinds]); }
  requestResync(): void { this.calls.push(["requestResync"]); }
  bulkSend(): void { this.calls.push(["bulkSend"]); }
  resetTimers(): void { this.calls.push(["resetTimers"]); }
  kill(): void { this.calls.push(["kill"]); }
}
