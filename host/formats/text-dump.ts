// -i / -e answers as the core writes them (assembly/dump-text.ts): whole
// entries formatted into the core's text buffer, a chunk at a time, copied
// out as bytes for the socket. The host names the style and the cache; the
// format itself is the core's.
import type { Core } from "../core.ts";
import type { CtEntry, ExpEntry, TextStyle, TextWalk, TextChunk } from "../control/api.ts";
import { RecordView } from "../record-view.ts";

export interface TextOptions {
  /** Leave out the reply tuple (conntrackd's external cache lines). */
  noReply?: boolean;
  /** The Stats cache: the kernel's id and the flow's delta-time. */
  stats?: boolean;
  /** JSON elements each on a new line (the control socket's array), else comma-joined. */
  jsonLines?: boolean;
  /** ALARM's CacheTimeout: "[expires in Ns]" counted from each entry's last refresh. */
  expiresAfter?: number;
  /** External caches: only the entries from this Corosync member (-e --origin). */
  origin?: number;
}

/** Bytes per chunk: large writes, and the core's buffer holds one. */
export const TEXT_CHUNK = 65536;

function styleCode(core: Core, style: TextStyle): number {
  return core.k(style === "plain" ? "TEXT_PLAIN" : style === "xml" ? "TEXT_XML" : "TEXT_JSON");
}

function optionBits(core: Core, o: TextOptions): number {
  return (o.noReply ? core.k("TEXT_NO_REPLY") : 0) | (o.stats ? core.k("TEXT_STATS") : 0)
    | (o.jsonLines ? core.k("TEXT_JSON_LINES") : 0);
}

/** Every chunk of a walk, in order. */
export function* chunks(walk: TextWalk): Generator<Uint8Array> {
  for (let c = walk.next(); c !== null; c = walk.next()) yield c.bytes;
}

/** Up to `limit` entries from where the walk stands, over as many chunks as they take; and whether more follow. */
export function page(walk: TextWalk, limit: number): { bytes: Uint8Array[]; entries: number; more: boolean } {
  const bytes: Uint8Array[] = [];
  let entries = 0;
  while (entries < limit) {
    const c = walk.next(limit - entries);
    if (c === null) break;
    bytes.push(c.bytes);
    entries += c.entries;
  }
  return { bytes, entries, more: walk.skip(1) === 1 };
}

/**
 * A walk over one of the core's caches (a CACHE_* id). Each chunk is a
 * copy: the core reuses its buffer on the next call.
 */
export class TextDump implements TextWalk {
  /** This walk's state, kept here between calls: other clients' dumps use the core's walk meanwhile. */
  private readonly state: Uint8Array;

  constructor(private readonly core: Core, cache: number, style: TextStyle, o: TextOptions = {}) {
    core.fn.textDumpStart(cache, styleCode(core, style), optionBits(core, o), o.expiresAfter ?? -1);
    if (o.origin !== undefined) core.fn.textDumpOrigin(o.origin);
    this.state = new Uint8Array(core.k("TEXT_WALK_SIZE"));
    this.save();
  }

  skip(n: number): number {
    this.restore();
    const skipped = this.core.fn.textDumpSkip(n);
    this.save();
    return skipped;
  }

  next(maxEntries = 0xffffffff): TextChunk | null {
    this.restore();
    const len = this.core.fn.textDumpNext(TEXT_CHUNK, maxEntries);
    this.save();
    if (len === 0) return null;
    const at = this.core.fn.textPtr();
    return { bytes: this.core.bytes.slice(at, at + len), entries: this.core.fn.textDumpCount() };
  }

  private save(): void {
    const at = this.core.fn.textWalkPtr();
    this.state.set(this.core.bytes.subarray(at, at + this.state.length));
  }

  private restore(): void {
    this.core.bytes.set(this.state, this.core.fn.textWalkPtr());
  }

}

export interface RecordLine extends TextOptions {
  age: number;
  expires?: number;
  deltaTime?: number;
}

/** The record of its kind (filled through RecordView) as one dump entry's text. */
export function recordText(core: Core, kind: "ct" | "exp", style: TextStyle, line: RecordLine): string {
  const len = core.fn.textRecord(kind === "exp" ? 1 : 0, styleCode(core, style), optionBits(core, line), line.age, line.expires ?? -1, line.deltaTime ?? -1);
  const at = core.fn.textPtr();
  return Buffer.from(core.bytes.subarray(at, at + len)).toString("latin1");
}

/**
 * A walk over entries held as objects (the simulated daemons of the tests
 * and the dashboard's preview): each written into the core's record of its
 * kind and formatted there, one chunk per entry.
 */
export class RecordListWalk implements TextWalk {
  private readonly view: RecordView;
  private at = 0;
  private written = 0;

  constructor(
    private readonly core: Core,
    private readonly entries: readonly (CtEntry | ExpEntry)[],
    private readonly style: TextStyle,
    private readonly o: TextOptions = {},
  ) {
    this.view = new RecordView(core);
  }

  skip(n: number): number {
    const skipped = Math.min(n, this.entries.length - this.at);
    this.at += skipped;
    return skipped;
  }

  next(): TextChunk | null {
    const e = this.entries[this.at];
    if (e === undefined) return null;
    const sep = this.style !== "json" ? "" : (this.written > 0 ? "," : "") + (this.o.jsonLines ? "\n" : "");
    this.at++;
    this.written++;
    const line = { ...this.o, age: e.ageSeconds, expires: e.expiresInSeconds };
    let text: string;
    if ("ct" in e) {
      this.view.writeCt(e.ct);
      text = recordText(this.core, "ct", this.style, { ...line, noReply: e.withReply === false, deltaTime: e.deltaTimeSeconds });
    } else {
      this.view.writeExp(e.exp);
      text = recordText(this.core, "exp", this.style, line);
    }
    return { bytes: new Uint8Array(Buffer.from(sep + text, "latin1")), entries: 1 };
  }
}
