// Shared test helpers around the core: decode a datagram to objects, encode
// objects to a datagram, the way the control paths of the host do.
import { loadCore, type Core } from "../../host/core.ts";
import { RecordView, type Conntrack, type Expectation } from "../../host/record-view.ts";

export interface Decoded {
  result: number;
  type: number;
  flags: number;
  seq: number;
  from: number;
  to: number;
  ct?: Conntrack;
  exp?: Expectation;
}

export class CoreHarness {
  readonly core: Core;
  readonly view: RecordView;

  constructor() {
    this.core = loadCore();
    this.view = new RecordView(this.core);
  }

  k(name: string): number {
    return this.core.k(name);
  }

  /** Decodes every message of a datagram (a rejection is an entry with result < 0). */
  decode(datagram: Uint8Array): Decoded[] {
    const { fn } = this.core;
    this.core.bytes.set(datagram, fn.rxPtr());
    const out: Decoded[] = [];
    const opened = fn.syncOpen(datagram.length);
    if (opened < 0) return [{ result: opened, type: 0, flags: 0, seq: 0, from: 0, to: 0 }];
    for (let guard = 0; guard < 100000; guard++) {
      const result = fn.syncNext();
      if (result === this.k("MSG_END")) return out;
      const d: Decoded = {
        result, type: fn.msgType(), flags: fn.msgFlags(), seq: fn.msgSeq(), from: fn.msgFrom(), to: fn.msgTo(),
      };
      if (result === this.k("MSG_CT")) d.ct = this.view.readCt();
      if (result === this.k("MSG_EXP")) d.exp = this.view.readExp();
      out.push(d);
    }
    throw new Error("decoder did not reach the end of the datagram");
  }

  /**
   * Re-encodes what a decode of `datagram` left, message by message, into
   * one datagram (for byte-for-byte comparison with the original).
   */
  reencode(datagram: Uint8Array): Uint8Array {
    const { fn } = this.core;
    this.openOutbox();
    this.core.bytes.set(datagram, fn.rxPtr());
    fn.syncOpen(datagram.length);
    for (;;) {
      const r = fn.syncNext();
      if (r === this.k("MSG_END")) break;
      const type = fn.msgType(), flags = fn.msgFlags(), seq = fn.msgSeq();
      let ok: number;
      if (r === this.k("MSG_CT")) ok = fn.outCt(type, flags, seq);
      else if (r === this.k("MSG_EXP")) ok = fn.outExp(type, flags, seq);
      else if (r === this.k("MSG_CTL")) ok = fn.outCtl(flags, seq, fn.msgFrom(), fn.msgTo());
      else throw new Error(`message rejected: ${this.core.reasonName(-r)}`);
      if (ok !== 1) throw new Error(`re-encode failed: ${ok}`);
    }
    return this.oneDatagram();
  }

  /** An empty outbox whose datagrams may be as large as the format allows. */
  private openOutbox(): void {
    this.core.fn.outClear();
    this.core.fn.outSetPayload(65535);
  }

  /** The outbox's one datagram: the bytes the daemon would send. */
  private oneDatagram(): Uint8Array {
    const out = this.core.takeOutbox();
    if (out.length !== 1) throw new Error(`expected one datagram in the outbox, found ${out.length}`);
    return out[0];
  }

  /** Encodes one conntrack as a datagram of one message. */
  encodeCt(ct: Conntrack, type: number, seq: number, flags = 0): Uint8Array {
    const { fn } = this.core;
    this.view.writeCt(ct);
    this.openOutbox();
    const r = fn.outCt(type, flags, seq);
    if (r !== 1) throw new Error(`encode failed: ${r}`);
    return this.oneDatagram();
  }

  encodeExp(exp: Expectation, type: number, seq: number, flags = 0): Uint8Array {
    const { fn } = this.core;
    this.view.writeExp(exp);
    this.openOutbox();
    const r = fn.outExp(type, flags, seq);
    if (r !== 1) throw new Error(`encode failed: ${r}`);
    return this.oneDatagram();
  }
}
