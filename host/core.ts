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
  rejectsPtr(bank?: number): number;
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
  outCt(type: number, flags: number, seq: number): number;
  outExp(type: number, flags: number, seq: number): number;
  outCtl(flags: number, seq: number, from: number, to: number): number;
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
  nlPutFlush(table: number, family: number, seq: number): number;
  nlSize(): number;
  setCommitTimeout(seconds: number): void;
  setSyncOptions(tcpWindowTracking: number, commitTimeoutSet: number): void;
  // the sync engine
  engineInit(
    mode: number, hashSize: number, hashLimit: number, ackWindow: number, rsQueueSize: number,
    refresh: number, cacheTimeout: number, expectations: number, firstSeq: number, startMs: number,
  ): void;
  handleTimeout(nowMs: number): void;
  pollTimeout(): number;
  pollEvent(): number;
  engineSchedule(event: number, nowMs: number, delayMs: number): void;
  engineScheduled(event: number): number;
  engineUnschedule(event: number): void;
  engineKernel(len: number, dumpSend: number): number;
  engineKernelDone(): number;
  /** The Stats mode: one message of the opened netlink buffer into the caches; a STEP_* constant. */
  engineKernelStep(): number;
  ctExtrasPtr(): number;
  /** The Stats mode: the kernel id and the flow's start (seconds) of the entry dumpNext returned; 0 when unknown. */
  dumpId(): number;
  dumpFlowStart(): number;
  /** The Stats mode's log of destroyed flows (assembly/flow-log.ts). */
  flowDestroyed(text: number, json: number): number;
  flowLogPtr(which: number): number;
  flowLogLen(which: number): number;
  flowLogClear(): void;
  flowStampPtr(): number;
  flowSetStamp(len: number, nowMs: number): void;
  trafficBytes(): bigint;
  trafficPackets(): bigint;
  engineRx(len: number, link?: number): number;
  engineSetOrigin(origin: number): void;
  engineForgetOrigin(origin: number): number;
  engineRxStream(len: number, link: number, stream: number): number;
  engineXmit(): number;
  engineBulk(): number;
  engineDumpBegin(): void;
  engineSetInjectPort(port: number): void;
  engineSetBypass(internal: number, external: number): void;
  engineSetPeerBuffer(bytes: number): void;
  engineSetDelay(ms: number, assured: number): void;
  holdQueueLen(): number;
  engineInjected(): number;
  engineInjectOverflow(): number;
  eventLogEnable(on: number): void;
  eventLogPtr(): number;
  eventLogLen(): number;
  eventLogDropped(): number;
  eventLogClear(): void;
  bodyDecode(isExp: number, ptr: number, len: number): number;
  rsQueueWalkStart(): void;
  rsQueueWalkNext(): number;
  rsQueueWalkSeq(): number;
  rsQueueWalkFlags(): number;
  filterReset(): void;
  filterSetProtocol(policy: number, proto: number): void;
  filterSetState(policy: number, state: number): void;
  filterAddAddress(policy: number, family: number, prefix: number): number;
  filterAddHelper(len: number): number;
  filterScratchPtr(): number;
  engineSetOwnPort(port: number): void;
  engineDumpEnd(): number;
  engineRequestResync(): void;
  txQueueLen(): number;
  rsQueueLen(): number;
  statsPtr(): number;
  outPtr(): number;
  outLen(): number;
  outClear(): void;
  outSetPayload(size: number): void;
  // authenticated sync (assembly/README.md, "Authenticated frames")
  authKeyPtr(): number;
  authAddKey(id: number, len: number): number;
  authClearKeys(): void;
  authStart(epoch: bigint, peerHint: bigint, frameVersion: number): void;
  authEpoch(): bigint;
  authPeerEpoch(): bigint;
  authRefused(): number;
  authLastReason(): number;
  cacheCount(which: number): number;
  cacheCountersPtr(which: number): number;
  cacheFlush(which: number): void;
  memoryLiveBytes(): number;
  memoryChunkBytes(): number;
  dumpStart(which: number): void;
  dumpNext(): number;
  dumpAge(): number;
  dumpOrigin(): number;
  dumpIdle(): number;
  textPtr(): number;
  textDumpStart(which: number, style: number, opts: number, expiresAfter: number): void;
  textDumpOrigin(origin: number): void;
  textDumpNext(maxBytes: number, maxEntries: number): number;
  textDumpCount(): number;
  textDumpSkip(n: number): number;
  textWalkPtr(): number;
  textRecord(isExp: number, style: number, opts: number, age: number, expires: number, deltaTime: number): number;
  commitBegin(which: number, opts: number): void;
  commitOrigin(origin: number): void;
  commitNext(seqBase: number): number;
  commitUpdate(seq: number): number;
  commitSkipped(): number;
}

/** A cache's counters as the core keeps them (see `Core.cacheCounts`). */
export interface CacheCounts {
  /** Entries in the cache now (`cacheCount`). */
  entries: number;
  created: number;
  /** Refused: the cache was full (HashLimit). */
  createFailed: number;
  updated: number;
  updateFailed: number;
  destroyed: number;
  /** Destroys of an entry the cache did not hold. */
  destroyFailed: number;
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

  private readonly constants = new Map<string, number>();

  /** A constant the core exports (a record offset, a message type, a reason); looked up once. */
  k(name: string): number {
    let v = this.constants.get(name);
    if (v === undefined) {
      const g = this.exports[name];
      if (!(g instanceof WebAssembly.Global)) throw new Error(`core exports no constant ${name}`);
      v = g.value as number;
      this.constants.set(name, v);
    }
    return v;
  }

  private readonly families = new Map<string, { name: string; value: number }[]>();

  /**
   * The constants named `prefix`... (S_ for the engine's counters, R_ for
   * rejection reasons), without the prefix and without the family's
   * `prefix`COUNT bound; read once per family.
   */
  private family(prefix: string): { name: string; value: number }[] {
    let f = this.families.get(prefix);
    if (!f) {
      f = Object.keys(this.exports)
        .filter((n) => n.startsWith(prefix) && n !== `${prefix}COUNT`)
        .map((n) => ({ name: n.slice(prefix.length), value: this.k(n) }));
      this.families.set(prefix, f);
    }
    return f;
  }

  private viewsOf: ArrayBuffer | null = null;
  private byteView = new Uint8Array(0);
  private dataView = new DataView(new ArrayBuffer(0));

  private onMemory: ((buffer: ArrayBuffer) => void) | null = null;

  /** Calls `fn` with the memory's buffer now, and again whenever the memory has grown (seen at the next access). */
  watchMemory(fn: (buffer: ArrayBuffer) => void): void {
    this.onMemory = fn;
    this.viewsOf = null;
    this.refresh();
  }

  /** The views are remade only when the memory grew (its buffer is then a new one). */
  private refresh(): void {
    if (this.viewsOf === this.memory.buffer) return;
    this.viewsOf = this.memory.buffer;
    this.onMemory?.(this.viewsOf);
    this.byteView = new Uint8Array(this.viewsOf);
    this.dataView = new DataView(this.viewsOf);
  }

  /** Byte view of the core's memory (valid until the next call into the core). */
  get bytes(): Uint8Array {
    this.refresh();
    return this.byteView;
  }

  get view(): DataView {
    this.refresh();
    return this.dataView;
  }

  /**
   * Hands each datagram the engine left in its outbox to `send` (a view into
   * the core's memory, valid during the call), then empties it. The one
   * reader of the outbox's framing: a u32 LE length before each datagram.
   */
  drainOutbox(send: (datagram: Uint8Array) => void): void {
    const total = this.fn.outLen();
    if (total === 0) return;
    const base = this.fn.outPtr();
    const bytes = this.bytes;
    const dv = this.view;
    for (let at = 0; at < total;) {
      const len = dv.getUint32(base + at, true);
      send(bytes.subarray(base + at + 4, base + at + 4 + len));
      at += 4 + len;
    }
    this.fn.outClear();
  }

  /** The datagrams the engine left in its outbox (copies), emptying it. */
  takeOutbox(): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.drainOutbox((d) => out.push(d.slice()));
    return out;
  }

  /** The engine's counters by name (the S_* constants without their prefix). */
  engineStats(): Record<string, number> {
    const base = this.fn.statsPtr();
    const dv = this.view;
    const out: Record<string, number> = {};
    for (const { name, value } of this.family("S_")) out[name.toLowerCase()] = dv.getUint32(base + 4 * value, true);
    return out;
  }

  /** One of the engine's counters, by its S_ name (the timer reads one a second: no object built). */
  engineStat(name: string): number {
    return this.view.getUint32(this.fn.statsPtr() + 4 * this.k(`S_${name}`), true);
  }

  /**
   * A cache's entry count and its six counters (`cacheCountersPtr`, at the
   * CC_* indices): the host's one reader of that layout.
   */
  cacheCounts(cache: number): CacheCounts {
    const at = (name: string) => this.cacheCounter(cache, name);
    return {
      entries: this.fn.cacheCount(cache),
      created: at("CC_CREATED"), createFailed: at("CC_CREATE_FAILED"),
      updated: at("CC_UPDATED"), updateFailed: at("CC_UPDATE_FAILED"),
      destroyed: at("CC_DESTROYED"), destroyFailed: at("CC_DESTROY_FAILED"),
    };
  }

  /** One counter of a cache, by its CC_* name (one read: the receive path watches HashLimit refusals with it). */
  cacheCounter(cache: number, name: string): number {
    return this.view.getUint32(this.fn.cacheCountersPtr(cache) + 4 * this.k(name), true);
  }

  /** Rejection counters, indexed by reason number: of what peers sent, or of what the kernel sent. */
  rejects(bank: "sync" | "kernel" = "sync"): number[] {
    const n = this.k("R_COUNT");
    const base = this.fn.rejectsPtr(this.k(bank === "sync" ? "REJECTS_SYNC" : "REJECTS_KERNEL"));
    const dv = this.view;
    return Array.from({ length: n }, (_, i) => dv.getUint32(base + i * 4, true));
  }

  /**
   * Sets the authentication keys, oldest first (the last one is the newer,
   * the one sent with once the peer holds it too); the core wipes its copy
   * of the input. Throws on a key the core does not take.
   */
  setAuthKeys(keys: { id: number; key: Uint8Array }[]): void {
    const fn = this.fn;
    fn.authClearKeys();
    for (const { id, key } of keys) {
      this.bytes.set(key, fn.authKeyPtr());
      if (fn.authAddKey(id, key.length) !== 1) throw new Error(`the core refuses key ${id} (${key.length} bytes)`);
    }
  }

  /** Frames refused by authentication, by reason (the R_AUTH_* constants without their prefix, lower case). */
  authRefusals(): Record<string, number> {
    const r = this.rejects();
    const out: Record<string, number> = {};
    for (const { name, value } of this.family("R_AUTH_")) out[name.toLowerCase()] = r[value];
    return out;
  }

  /** The name of a reason number (the R_* constant without its prefix). */
  reasonName(reason: number): string {
    return this.family("R_").find((r) => r.value === reason)?.name ?? `reason ${reason}`;
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
