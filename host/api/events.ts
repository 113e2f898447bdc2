// The event stream's fan-out (/api/events). The daemon's listener only
// appends to a bounded queue and schedules a flush: it never serializes,
// never sends, never waits. The flush (on the next turn of the event loop)
// writes each event once as JSON and sends it to every client that asked for
// its kind. Each client's buffer is uWS's own per-socket queue, bounded: a
// client whose queue holds more than maxBackpressure bytes is dropped (its
// connection closed at once, its queue freed), never waited for. If the daemon produces faster than
// the flush runs, the queue keeps maxPending events and counts the rest; the
// clients are then told {"type":"dropped","count":N}.
// The stream's messages: {"type":"hello","types":[...]} first, then one
// ApiEvent per message (source.ts), and {"type":"dropped","count":N} after a
// loss.
import { toJson } from "../formats/json.ts";
import type { StreamClient } from "./http-adapter.ts";
import { EVENT_KINDS, type ApiEvent, type ApiEventType, type ApiSource, type EventKind } from "./source.ts";

export interface EventHubCounters {
  /** Clients connected now. */
  clients: number;
  /** Clients dropped because they did not read fast enough. */
  clientsDropped: number;
  /** Events handed to the hub by the daemon. */
  eventsReceived: number;
  /** Events lost before any client saw them (queue full). */
  eventsDropped: number;
  /** Messages written to clients (one per event per client). */
  messagesSent: number;
}

interface Subscriber {
  types: ReadonlySet<ApiEventType>;
}

/** "ct,exp" -> the event types; an unknown kind is an error message. */
export function parseKinds(text: string | null): ReadonlySet<ApiEventType> | string {
  const all = Object.keys(EVENT_KINDS) as EventKind[];
  const names = text === null || text === "" ? all : text.split(",").map((s) => s.trim()).filter(Boolean);
  const types = new Set<ApiEventType>();
  for (const n of names) {
    const kind = n === "link" ? "peer" : n;
    if (!Object.hasOwn(EVENT_KINDS, kind)) return `unknown event kind "${n}" (known: ${all.join(", ")})`;
    for (const t of EVENT_KINDS[kind as EventKind]) types.add(t);
  }
  return types;
}

export class EventHub {
  readonly counters: EventHubCounters = { clients: 0, clientsDropped: 0, eventsReceived: 0, eventsDropped: 0, messagesSent: 0 };
  private readonly subscribers = new Map<StreamClient, Subscriber>();
  private queue: ApiEvent[] = [];
  private overflow = 0;
  private scheduled = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly source: ApiSource,
    private readonly opts: { maxBackpressure: number; maxPending: number; log: (level: "notice" | "warning", msg: string) => void },
  ) {}

  add(client: StreamClient, types: ReadonlySet<ApiEventType>, peer: string): void {
    this.subscribers.set(client, { types });
    this.counters.clients = this.subscribers.size;
    client.send(toJson({ type: "hello", at: Date.now(), types: [...types], peer }));
    if (!this.unsubscribe) this.unsubscribe = this.source.onEvent(this.listener);
  }

  remove(client: StreamClient): void {
    if (!this.subscribers.delete(client)) return;
    this.counters.clients = this.subscribers.size;
    if (this.subscribers.size === 0 && this.unsubscribe) {
      this.unsubscribe();
      this.unsubscribe = null;
      this.queue = [];
      this.overflow = 0;
    }
  }

  /** Closes every client and stops listening to the daemon. */
  close(): void {
    for (const c of [...this.subscribers.keys()]) {
      this.remove(c);
      c.end(1001, "server closing");
    }
  }

  /** What the daemon calls, on its sync path: O(1), no I/O. */
  private readonly listener = (e: ApiEvent): void => {
    this.counters.eventsReceived++;
    if (this.queue.length >= this.opts.maxPending) this.overflow++;
    else this.queue.push(e);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  };

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    const lost = this.overflow;
    this.queue = [];
    this.overflow = 0;
    this.counters.eventsDropped += lost;
    const texts = new Array<string | undefined>(batch.length);
    const slow: StreamClient[] = [];
    for (const [client, sub] of this.subscribers) {
      let ok = true;
      client.batch(() => {
        if (lost) ok = client.send(toJson({ type: "dropped", at: Date.now(), count: lost }));
        for (let i = 0; ok && i < batch.length; i++) {
          if (!sub.types.has(batch[i].type)) continue;
          if (client.bufferedAmount() > this.opts.maxBackpressure) { ok = false; break; }
          texts[i] ??= toJson(batch[i]);
          ok = client.send(texts[i]!);
          if (ok) this.counters.messagesSent++;
        }
      });
      if (!ok || client.bufferedAmount() > this.opts.maxBackpressure) slow.push(client);
    }
    for (const client of slow) {
      this.counters.clientsDropped++;
      this.opts.log("warning", `API: dropped an event-stream client that did not keep up (more than ${this.opts.maxBackpressure} bytes waiting)`);
      this.remove(client);
      // At once: a graceful close frame would wait behind the very data it does not read.
      client.abort();
    }
  };
}
