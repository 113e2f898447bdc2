// Cache changes for observers (the API's event stream): drains the core's
// event log a few times a second while someone listens, and hands out one
// object per change. The core only logs while the feed has listeners, so the
// sync path pays nothing otherwise; if the feed falls behind, the core counts
// the changes it could not log instead of waiting.
import type { Core } from "../core.ts";
import { RecordView, type Conntrack, type Expectation } from "../record-view.ts";

export interface Change {
  kind: "ct" | "exp";
  op: "new" | "update" | "destroy";
  cache: "internal" | "external";
  ct?: Conntrack;
  exp?: Expectation;
}

type Op = "new" | "update" | "destroy";

export class ChangeFeed {
  private readonly listeners = new Set<(c: Change) => void>();
  private timer: NodeJS.Timeout | null = null;
  private readonly view: RecordView;

  constructor(private readonly core: Core, private readonly intervalMs = 100) {
    this.view = new RecordView(core);
  }

  /** Changes the core could not log because the feed fell behind. */
  get dropped(): number {
    return this.core.fn.eventLogDropped();
  }

  subscribe(listener: (c: Change) => void): () => void {
    this.listeners.add(listener);
    if (this.listeners.size === 1) this.start();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stop();
    };
  }

  private start(): void {
    this.core.fn.eventLogEnable(1);
    this.timer = setInterval(() => this.drain(), this.intervalMs);
    this.timer.unref();
  }

  private stop(): void {
    this.core.fn.eventLogEnable(0);
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Reads every logged change and empties the log. */
  drain(): void {
    const { fn } = this.core;
    const len = fn.eventLogLen();
    if (len === 0) return;
    // Copy first: decoding reuses the core's records, and listeners may call into the core.
    const log = this.core.bytes.slice(fn.eventLogPtr(), fn.eventLogPtr() + len);
    fn.eventLogClear();
    const dv = new DataView(log.buffer);
    const k = (name: string) => this.core.k(name);
    const header = k("EVLOG_HEADER"), align = k("EVLOG_ALIGN");
    const ops = new Map<number, Op>([[k("EVOP_NEW"), "new"], [k("EVOP_UPDATE"), "update"], [k("EVOP_DESTROY"), "destroy"]]);
    const scratch = fn.rxPtr(); // the receive buffer is free between datagrams
    for (let at = 0; at < len;) {
      const isExp = log[at + k("EVLOG_KIND")] === 1;
      const bodyLen = dv.getUint16(at + k("EVLOG_BODY_LEN"), true);
      this.core.bytes.set(log.subarray(at + header, at + header + bodyLen), scratch);
      const change: Change = {
        kind: isExp ? "exp" : "ct", op: ops.get(log[at + k("EVLOG_OP")]) ?? "update",
        cache: log[at + k("EVLOG_CACHE")] ? "external" : "internal",
      };
      if (fn.bodyDecode(isExp ? 1 : 0, scratch, bodyLen) > 0) {
        if (isExp) change.exp = this.view.readExp();
        else change.ct = this.view.readCt();
      }
      for (const l of this.listeners) l(change);
      at += (header + bodyLen + align - 1) & ~(align - 1);
    }
  }
}
