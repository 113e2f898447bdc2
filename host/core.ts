// Loads the protocol core (build/ctsync.wasm) and gives the host typed access
// to its exports. The layout of records, the message types and the reject
// reasons are read from the module's own exported constants: the core owns
// those facts, the host never restates them.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const WASM_PATH = fileURLToPath(new URL("../build/ctsync.wasm", import.meta.url));

/** The core's exported functions (see assembly/README.md for each). */
export interface CoreFunctions {
  rxPtr(): number;
  ctRecPtr(): number;
  expRecPtr(): number;
  rejectsPtr(): number;
  resetRejects(): void;
  syncOpen(len: number): number;
  syncOpenAt(ptr: number, len: number): number;
  syncNext(): number;
  msgVersion(): number;
  msgType(): number;
  msgFlags(): number;
  msgLen(): number;
  msgSeq(): number;
  msgFrom(): number;
  msgTo(): number;
  txPtr(): number;
  txLen(): number;
  txReset(payloadSize: number): void;
  txClear(): void;
  txCt(type: number, flags: number, seq: number): number;
  txExp(type: number, flags: number, seq: number): number;
  txAppendCtl(flags: number, seq: number, from: number, to: number): number;
  nlPtr(): number;
  nlOpen(len: number): number;
  nlNext(): number;
  nlType(): number;
  nlFlags(): number;
  nlSeq(): number;
  nlPid(): number;
  nlEvent(): number;
  nlErrno(): number;
  nlTxPtr(): number;
  nlTxLen(): number;
  nlTxClear(): void;
  nlPutCt(op: number, flags: number, seq: number): number;
  nlPutExp(op: number, flags: number, seq: number): number;
  nlPutDump(table: number, family: number, seq: number): number;
}

export class Core {
  readonly fn: CoreFunctions;
  private readonly exports: WebAssembly.Exports;
  private readonly memory: WebAssembly.Memory;

  constructor(instance: WebAssembly.Instance) {
    this.exports = instance.exports;
    this.fn = instance.exports as unknown as CoreFunctions;
    this.memory = instance.exports.memory as WebAssembly.Memory;
  }

  /** A constant the core exports (a record offset, a message type, a reason). */
  k(name: string): number {
    const g = this.exports[name];
    if (!(g instanceof WebAssembly.Global)) throw new Error(`core exports no constant ${name}`);
    return g.value as number;
  }

  /** Byte view of the core's memory; take a new one after the memory grows. */
  get bytes(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }

  get view(): DataView {
    return new DataView(this.memory.buffer);
  }

  /** Rejection counters, indexed by reason number. */
  rejects(): number[] {
    const n = this.k("R_COUNT");
    const base = this.fn.rejectsPtr();
    const dv = this.view;
    return Array.from({ length: n }, (_, i) => dv.getUint32(base + i * 4, true));
  }

  /** The name of a reason number (the R_* constant without its prefix). */
  reasonName(reason: number): string {
    for (const name of Object.keys(this.exports)) {
      if (name.startsWith("R_") && name !== "R_COUNT" && this.k(name) === reason) return name.slice(2);
    }
    return `reason ${reason}`;
  }
}

export function loadCore(path = WASM_PATH): Core {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read the core at ${path} (${(err as Error).message}); run "npm run build"`);
  }
  const module = new WebAssembly.Module(new Uint8Array(bytes));
  return new Core(new WebAssembly.Instance(module, {}));
}
