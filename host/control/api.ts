// What the daemon offers the control socket (host/control/server.ts): the
// dumps, the counters and the actions behind conntrackd's client commands.
// The server owns the wire (request codes, framing, the stats' text and
// JSON); the core formats the dumps (host/formats/text-dump.ts); the daemon
// owns every fact and every side effect, including the log lines conntrackd
// writes for each action (named below, so LogFile stays alike).
//
// Methods may answer synchronously or with a promise.
import type { Conntrack, Expectation } from "../record-view.ts";
import type { SyncMode } from "../config/types.ts";

export type CacheWhich = "internal" | "external";
export type RecordKind = "ct" | "expect";
/** ct, expect, or both (what -c, -F and -R mean without an argument). */
export type KindSet = RecordKind | "both";

type MaybePromise<T> = T | Promise<T>;

/** How -i / -e write entries: conntrackd's line, its XML, or ctsync's JSON. */
export type TextStyle = "plain" | "xml" | "json";

export interface TextChunk {
  bytes: Uint8Array;
  entries: number;
}

/** A dump being written (host/formats/text-dump.ts): whole entries, a chunk at a time. */
export interface TextWalk {
  /** Skips `n` entries (the API's offset); returns how many there were. */
  skip(n: number): number;
  /** The next chunk of whole entries, at most `maxEntries` of them; null at the end. */
  next(maxEntries?: number): TextChunk | null;
}
/** One cache entry as an object (the simulated daemons' lists; RecordListWalk formats them). */
export interface CtEntry {
  ct: Conntrack;
  /** Seconds since the entry entered the cache: "[active since Ns]". */
  ageSeconds: number;
  /** ALARM mode's external cache only: seconds left on the entry's timer, "[expires in Ns]". */
  expiresInSeconds?: number;
  /**
   * Whether the reply direction is known. Entries from peers carry only the
   * original tuple (conntrackd's external cache prints none); default true.
   */
  withReply?: boolean;
  /**
   * The Stats mode only: seconds since the flow started, when a kernel dump
   * told its start (nf_conntrack_timestamp); -i prints it as delta-time=N
   * (XML <deltatime>), as conntrackd's Stats cache does for such entries.
   */
  deltaTimeSeconds?: number;
}

export interface ExpEntry {
  exp: Expectation;
  ageSeconds: number;
  expiresInSeconds?: number;
}

/**
 * One cache's counters (conntrackd's struct cache stats). -s and -s expect
 * print the first seven; -s cache prints them all.
 */
export interface CacheCounters {
  /** Entries alive (not counting FTFW's dead entries kept for resends). */
  active: number;
  /** Objects allocated, alive or dead: "active objects" of -s cache. */
  objects: number;
  /** Entries in the hash table: "total entries" of -s cache. */
  tableEntries: number;
  addOk: number;
  addFail: number;
  addFailNoMemory: number;
  addFailNoSpace: number;
  updOk: number;
  updFail: number;
  updFailNotFound: number;
  delOk: number;
  delFail: number;
  delFailNotFound: number;
}

/** Traffic the daemon saw in kernel events (counters from conntrack accounting), both directions summed. */
export interface TrafficCounters {
  bytes: bigint | number;
  packets: bigint | number;
}

export interface LinkDirectionCounters {
  bytes: bigint | number;
  messages: bigint | number;
  errors: bigint | number;
}

/** One dedicated link (channel), as -s link shows it. */
export interface LinkStats {
  type: "multicast" | "udp" | "tcp" | "corosync";
  /** Interface name (if_indextoname of the channel's interface). */
  device: string;
  /** IFF_UP and IFF_RUNNING of the device: RUNNING, NO-CARRIER (up, no carrier) or DOWN. */
  status: "RUNNING" | "NO-CARRIER" | "DOWN";
  /** The link currently used for sending (role=ACTIVE); the others are BACKUP. */
  active: boolean;
  sent: LinkDirectionCounters;
  received: LinkDirectionCounters;
  /** TCP links only: whether the accepting and the connecting side are connected. */
  tcp?: { serverConnected: boolean; clientConnected: boolean };
}

/** Malformed and lost sync messages (conntrackd's STATE_SYNC(error)). */
export interface NetworkCounters {
  /** Any malformed message received; the next six split it by cause. */
  recvMalformed: bigint | number;
  recvBadVersion: number;
  recvBadHeader: number;
  recvBadPayload: number;
  recvBadType: number;
  recvTruncated: number;
  recvBadSize: number;
  /** Messages we failed to build. */
  sendMalformed: number;
  /** Sequence numbers skipped by the peer's stream (messages lost). */
  recvLost: bigint | number;
  /** Messages with a sequence number before the expected one. */
  recvBefore: bigint | number;
  /**
   * With Authenticate on (absent otherwise): datagrams refused before any
   * decode, by reason (missing, truncated, key, mac, stale, replay).
   */
  recvRefused?: Record<string, number>;
}

/** The daemon's own counters, -s runtime. */
export interface RuntimeCounters {
  /** Unix time (seconds) the daemon started; uptime is derived from it. */
  startTime: number;
  eventsReceived: bigint | number;
  eventsFiltered: bigint | number;
  eventsUnknownType: number;
  catchEventFailed: number;
  dumpUnknownType: number;
  netlinkOverrun: number;
  kernelTableFlush: number;
  kernelTableResync: number;
  /** The netlink event socket's receive buffer, in bytes. */
  netlinkBufferSize: number;
  childProcessFailed: number;
  childProcessSegfault: number;
  childProcessTermsig: number;
  selectFailed: number;
  waitFailed: number;
}

/** Counters the control server keeps itself (merged into -s runtime). */
export interface LocalCounters {
  /** Connections closed or timed out before a whole request arrived. */
  localReadFailed: number;
  /** Requests with a code the daemon does not know. */
  localUnknownRequest: number;
}

/** One element of the FTFW resend queue, -s rsqueue. */
export type ResendQueueItem =
  | { kind: "object"; seq: number }
  | { kind: "control"; seq: number; flags: number };

export interface QueueCounters {
  /** conntrackd's names: txqueue, errorq, rsqueue. */
  name: string;
  current: number;
  max: number;
  noSpaceErrors: number;
}

export interface QueueStats {
  /** Queue nodes allocated in all queues together. */
  allocatedNodes: number;
  queues: QueueCounters[];
}

/** A helper process of the daemon (conntrackd forks for dumps and kernel flushes). */
export interface ProcessInfo {
  pid: number;
  type: "any" | "flush" | "commit" | "unknown";
}

export interface CommitResult {
  /** "busy": another commit was running, this one was skipped (conntrackd logs "commit already in progress, skipping"). */
  status: "done" | "busy";
  committed: number;
  failed: number;
  seconds: number;
}

export interface DaemonControl {
  /**
   * The sync mode: -n and -B act in FTFW and NOTRACK only, -s rsqueue shows
   * FTFW's queue. "stats": conntrackd's Stats mode, which answers only -i,
   * -f internal, -F, -R, -k and -s [cache|runtime|process] (stats-daemon.ts).
   */
  readonly mode: SyncMode | "stats";
  /** ExpectationSync on: without it conntrackd ignores the expectation requests (dumps, -s expect, -c expect). */
  readonly expectationSync: boolean;

  /**
   * -i / -e [expect]: the cache's live entries in any order, formatted by
   * the core in the given style (JSON: `jsonLines` puts each element on a
   * line of its own, as the control socket's array has them). `origin`
   * (-e --origin, ctsync's own): only the external entries that came from
   * that Corosync member.
   */
  textDump(which: CacheWhich, kind: RecordKind, style: TextStyle, jsonLines: boolean, origin?: number): MaybePromise<TextWalk>;

  /** Counters of one cache (-s, -s cache, -s expect). */
  cacheCounters(which: CacheWhich, kind: RecordKind): MaybePromise<CacheCounters>;
  traffic(): MaybePromise<TrafficCounters>;
  /** Every dedicated link, in configuration order, with the active one marked. */
  links(): MaybePromise<LinkStats[]>;
  network(): MaybePromise<NetworkCounters>;
  runtime(): MaybePromise<RuntimeCounters>;
  /** FTFW's resend queue, oldest first; [] in the other modes. */
  resendQueue(): MaybePromise<ResendQueueItem[]>;
  queues(): MaybePromise<QueueStats>;
  processes(): MaybePromise<ProcessInfo[]>;

  /**
   * -c: commit the external cache(s) to the kernel, masters before their
   * expectations when both. The client waits until this settles. Logs
   * "committing conntrack cache" / "committing expectation cache" /
   * "committing all external caches", then "Committed N new entries",
   * "N entries can't be committed" (if any), "commit has taken S.UUUUUU seconds".
   * With both and ExpectationSync off, only conntracks. `origin` (-c
   * --origin, ctsync's own): only the entries that came from that Corosync
   * member (a failed node whose addresses this one takes over).
   */
  commit(kinds: KindSet, origin?: number): Promise<CommitResult>;
  /**
   * -f: flush caches. -f internal and -f external flush conntracks only;
   * plain -f ("both") flushes conntracks, and expectations when ExpectationSync
   * is on. Logs "flushing caches" / "flushing internal cache" / "flushing
   * external cache"; during a commit, an external flush is refused with
   * "ignoring flush command, commit still in progress".
   */
  flushCache(which: CacheWhich | "both", kinds: readonly RecordKind[]): MaybePromise<void>;
  /** -F: flush the kernel tables ("flushing kernel conntrack table", "flushing kernel expect table"). */
  flushKernel(kinds: KindSet): MaybePromise<void>;
  /** -R: refill the internal cache from the kernel ("resync with master conntrack table"). */
  resyncWithKernel(kinds: KindSet): MaybePromise<void>;
  /** -n: ask the peers to send us their state. */
  requestResync(): MaybePromise<void>;
  /** -B: send our whole internal cache to the peers. */
  bulkSend(): MaybePromise<void>;
  /** -t: flush the kernel table after PurgeTimeout ("flushing conntrack table in N secs"). */
  resetTimers(): MaybePromise<void>;
  /** -k: shut down. Called after the requesting client's connection is closed. */
  kill(): MaybePromise<void>;
}
