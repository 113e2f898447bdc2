// What the live API (host/api/server.ts) needs from the daemon: everything the
// control socket has (DaemonControl), plus the few facts only the API shows:
// a stream of sync events, what the daemon knows of its peers, the history of
// commits and the control socket's own counters.
//
// The daemon implements ApiSource; the API never touches the core, the kernel
// or the links itself. Every method may answer synchronously or with a promise.
import type {
  CacheWhich, CommitResult, DaemonControl, KindSet, LinkStats, LocalCounters,
} from "../control/api.ts";
import type { Change } from "./change-feed.ts";
import type { Conntrack, Expectation } from "../record-view.ts";

type MaybePromise<T> = T | Promise<T>;

/** A flow entered, changed in or left a cache. */
export interface CtEvent {
  type: "ct-new" | "ct-update" | "ct-destroy";
  /** Unix time in milliseconds. */
  at: number;
  /** The cache that changed: internal (this node's kernel) or external (a peer's). */
  cache: CacheWhich;
  ct: Conntrack;
}

/** An expectation entered, changed in or left a cache. */
export interface ExpEvent {
  type: "exp-new" | "exp-update" | "exp-destroy";
  at: number;
  cache: CacheWhich;
  exp: Expectation;
}

/** Something happened to a dedicated link or to the peer behind it. */
export interface LinkEvent {
  type: "link";
  at: number;
  /** Index of the link in configuration order (as in links()). */
  link: number;
  /**
   * "up"/"down": the device's carrier changed (status is the new one);
   * "failover": this link became the active one;
   * "peer-hello": the peer greeted us (FTFW HELLO answered) or a TCP peer connected;
   * "peer-lost": the TCP peer disconnected, or the peer went silent;
   * "resync-request": the peer asked for our state (-n on its side);
   * "loss": messages were lost (sequence gap), `count` of them.
   */
  what: "up" | "down" | "failover" | "peer-hello" | "peer-lost" | "resync-request" | "loss";
  /** The link as it is after the change. */
  status?: LinkStats["status"];
  /** The peer concerned, as "address" or "address port N". */
  peer?: string;
  count?: number;
  /** One line a person reads, e.g. "peer 10.0.0.2 answered HELLO". */
  message?: string;
}

/** A commit of the external cache to the kernel finished (from -c, the API or a script). */
export interface CommitEvent {
  type: "commit";
  at: number;
  kinds: KindSet;
  result: CommitResult;
}

export type ApiEvent = CtEvent | ExpEvent | LinkEvent | CommitEvent;
export type ApiEventType = ApiEvent["type"];

/** The kinds a client of /api/events can ask for, and the event types each covers. */
export const EVENT_KINDS = {
  ct: ["ct-new", "ct-update", "ct-destroy"],
  exp: ["exp-new", "exp-update", "exp-destroy"],
  peer: ["link"],
  commit: ["commit"],
} as const satisfies Record<string, readonly ApiEventType[]>;
export type EventKind = keyof typeof EVENT_KINDS;

/** What the daemon knows of one peer. */
export interface PeerInfo {
  /** The link (index in links()) the peer is reached on. */
  link: number;
  /** The peer's address (the configured destination, or the group's sender seen). */
  address: string;
  /** Unix time in ms of the last sync message received from it, null if none yet. */
  lastSeen: number | null;
  /**
   * FTFW: whether the peer answered our HELLO (data to it is held until then).
   * TCP: whether it is connected. Absent when the mode has no such notion.
   */
  greeted?: boolean;
  /** Next sequence number expected from the peer, if the mode tracks one. */
  expectedSeq?: number;
  /** Free-form state in a word or two ("synced", "resyncing", "silent"), if the daemon has one. */
  state?: string;
}

/** Commits since the daemon started, as CommitLog keeps them. */
export interface CommitHistory {
  /** Commits done (status "done"). */
  count: number;
  /** Commits skipped because another was running (status "busy"). */
  busy: number;
  /** Entries committed and entries the kernel refused, summed over all commits. */
  committed: number;
  failed: number;
  /** Sum of the durations of the commits done, in seconds. */
  secondsSum: number;
  /**
   * Cumulative histogram of durations: buckets[i] commits took at most
   * COMMIT_BUCKETS[i] seconds (Prometheus' "le" buckets; +Inf is `count`).
   */
  buckets: number[];
  /** The latest commit done, with its end time (unix ms); null before the first. */
  last: (CommitResult & { at: number; kinds: KindSet }) | null;
}

/** Upper bounds (seconds) of the commit-duration histogram. */
export const COMMIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30] as const;

/**
 * The daemon, as the API sees it. Implemented by host/daemon.ts.
 */
export interface ApiSource extends DaemonControl {
  /**
   * Subscribe to sync events; returns the unsubscribe function. The API
   * subscribes only while at least one /api/events client is connected, and
   * unsubscribes when the last one leaves, so the daemon may enable its core's
   * event log (ChangeFeed) on the first subscriber and disable it after the
   * last (ChangeFeed.subscribe does exactly that). The listener is cheap and
   * never throws or blocks: it queues the event and returns; call it on
   * the daemon's own schedule (e.g. from ChangeFeed's drain), never awaited.
   * changeToEvent() turns a ChangeFeed change into an ApiEvent.
   */
  onEvent(listener: (e: ApiEvent) => void): () => void;

  /** What the daemon knows of its peers, one element per peer (per link for unicast links). */
  peers(): MaybePromise<PeerInfo[]>;

  /** Commits since start; CommitLog.snapshot() gives it, fed by CommitLog.record() in commit(). */
  commitHistory(): MaybePromise<CommitHistory>;

  /** The control socket's own counters (ControlServer.counters), merged into -s runtime. */
  controlCounters(): MaybePromise<LocalCounters>;

  /** DelayReplication's flows (null when it is off): waiting now, sent after the wait, ended unsent. */
  delayedFlows(): MaybePromise<DelayedFlows | null>;
}

export interface DelayedFlows {
  waiting: number;
  released: number;
  endedUnsent: number;
}

/**
 * The ChangeFeed's change as an API event, or null when the record could not
 * be decoded (the feed leaves ct/exp unset then).
 */
export function changeToEvent(c: Change, at = Date.now()): CtEvent | ExpEvent | null {
  if (c.kind === "ct") return c.ct ? { type: `ct-${c.op}`, at, cache: c.cache, ct: c.ct } : null;
  return c.exp ? { type: `exp-${c.op}`, at, cache: c.cache, exp: c.exp } : null;
}

/** Keeps the CommitHistory: the daemon calls record() once per commit() it answers. */
export class CommitLog {
  private readonly h: CommitHistory = {
    count: 0, busy: 0, committed: 0, failed: 0, secondsSum: 0,
    buckets: COMMIT_BUCKETS.map(() => 0), last: null,
  };

  record(kinds: KindSet, r: CommitResult, at = Date.now()): void {
    if (r.status === "busy") {
      this.h.busy++;
      return;
    }
    this.h.count++;
    this.h.committed += r.committed;
    this.h.failed += r.failed;
    this.h.secondsSum += r.seconds;
    COMMIT_BUCKETS.forEach((le, i) => { if (r.seconds <= le) this.h.buckets[i]++; });
    this.h.last = { ...r, at, kinds };
  }

  snapshot(): CommitHistory {
    return { ...this.h, buckets: [...this.h.buckets], last: this.h.last && { ...this.h.last } };
  }
}
