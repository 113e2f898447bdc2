// A ctsync node in a test: its own core instance (its own memory), fed with
// kernel events made by the core's own ctnetlink encoder, its datagrams
// handed to other nodes by the test. The sync engine runs for real; only the
// kernel and the link are played by the test.
import { loadCore, type Core } from "../../host/core.ts";
import { RecordView, type Conntrack, type Expectation } from "../../host/record-view.ts";

export class TestNode {
  readonly core: Core;
  readonly view: RecordView;
  now = 1000;

  constructor(mode: "notrack" | "alarm" | "ftfw", opts: { ackWindow?: number; rsQueue?: number; refresh?: number; cacheTimeout?: number; firstSeq?: number; hashSize?: number } = {}) {
    this.core = loadCore();
    this.view = new RecordView(this.core);
    const m = { notrack: "MODE_NOTRACK", alarm: "MODE_ALARM", ftfw: "MODE_FTFW" }[mode];
    this.core.fn.engineInit(this.k(m), opts.hashSize ?? 1024, 1 << 20, opts.ackWindow ?? 300, opts.rsQueue ?? 131072,
      opts.refresh ?? 60, opts.cacheTimeout ?? 180, 1, opts.firstSeq ?? 5000, this.now * 1000);
  }

  k(name: string): number {
    return this.core.k(name);
  }

  /** How many conntracks and expectations the internal caches hold. */
  get internal(): number {
    return this.count("CACHE_INTERNAL_CT") + this.count("CACHE_INTERNAL_EXP");
  }

  /**
   * Hands the engine one event as the kernel sends it: a create request has
   * the kernel's NEW event layout; an update event is a NEW message without
   * NLM_F_CREATE, a destroy event a DELETE message with the whole entry, a
   * dump reply a NEW message flagged NLM_F_MULTI.
   */
  private kernel(write: () => void, op: "create" | "update" | "delete" | "dump", dumpSend = "DUMP_KEEP"): void {
    const { fn } = this.core;
    fn.nlTxClear();
    write();
    const len = fn.nlTxLen();
    const at = fn.nlPtr();
    this.core.bytes.copyWithin(at, fn.nlTxPtr(), fn.nlTxPtr() + len);
    const dv = this.core.view;
    const type = dv.getUint16(at + 4, true);
    if (op === "update") dv.setUint16(at + 6, 0, true);
    if (op === "delete") { dv.setUint16(at + 4, (type & 0xff00) | 2, true); dv.setUint16(at + 6, 0, true); }
    if (op === "dump") dv.setUint16(at + 6, 2 /* NLM_F_MULTI */, true);
    fn.engineKernel(len, this.k(dumpSend));
  }

  /** One conntrack of a dump of the kernel table; `send`: DUMP_KEEP, DUMP_SEND_CHANGES or DUMP_SEND_ALL. */
  ctDumped(ct: Conntrack, send: "DUMP_KEEP" | "DUMP_SEND_CHANGES" | "DUMP_SEND_ALL"): void {
    this.kernel(() => this.putCt(ct), "dump", send);
  }

  /** The kernel reports a new, updated or destroyed conntrack. */
  ctEvent(ct: Conntrack, op: "create" | "update" | "delete" = "create"): void {
    this.kernel(() => this.putCt(ct), op);
  }

  private putCt(ct: Conntrack): void {
    this.view.writeCt(ct);
    this.core.fn.nlPutCt(this.k("OP_CREATE"), 0, 0);
  }

  expEvent(exp: Expectation, op: "create" | "delete" = "create"): void {
    this.kernel(() => { this.view.writeExp(exp); this.core.fn.nlPutExp(this.k("OP_CREATE"), 0, 0); }, op);
  }

  /** Sends what is queued; returns the datagrams for the link. */
  flush(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (;;) {
      const more = this.core.fn.engineXmit();
      out.push(...this.core.takeOutbox());
      if (!more) return out;
    }
  }

  receive(datagrams: Uint8Array[]): void {
    for (const d of datagrams) {
      this.core.bytes.set(d, this.core.fn.rxPtr());
      this.core.fn.engineRx(d.length);
    }
  }

  /** Lets `seconds` pass on this node's clock, in one step. */
  tick(seconds = 1): void {
    this.now += seconds;
    this.core.fn.handleTimeout(this.now * 1000);
  }

  dump(which: "CACHE_INTERNAL_CT" | "CACHE_EXTERNAL_CT" | "CACHE_INTERNAL_EXP" | "CACHE_EXTERNAL_EXP"): (Conntrack | Expectation)[] {
    const { fn } = this.core;
    fn.dumpStart(this.k(which));
    const out: (Conntrack | Expectation)[] = [];
    for (let r = fn.dumpNext(); r !== 0; r = fn.dumpNext()) {
      out.push(r === this.k("MSG_CT") ? this.view.readCt() : this.view.readExp());
    }
    return out;
  }

  count(which: string): number {
    return this.core.fn.cacheCount(this.k(which));
  }

  stats(): Record<string, number> {
    return this.core.engineStats();
  }
}

/** Lets two FTFW nodes greet each other (HELLO / HELLO_BACK) before the test's traffic. */
export function handshake(a: TestNode, b: TestNode): void {
  for (let i = 0; i < 3; i++) {
    a.tick(); b.tick();
    b.receive(a.flush());
    a.receive(b.flush());
  }
}

/** A conntrack numbered i, distinct per i. */
export function flow(i: number): Conntrack {
  return {
    family: "ipv4", src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: "198.51.100.7",
    l4proto: 6, sport: 1024 + (i % 60000), dport: 80, tcpState: 3, status: 0x18e, timeout: 300, mark: i & 0xffff,
  };
}
