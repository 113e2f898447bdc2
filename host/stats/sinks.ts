// Where the Stats mode writes destroyed flows: the Stats LogFile (conntrackd's
// lines), the JSONLogFile (ctsync's JSON lines) and syslog (the same text as
// the LogFile after its tab, at LOG_INFO, as conntrackd's dlog_ct does).
//
// Files are opened at start (a path that cannot be opened stops the daemon,
// naming the path and the reason) in append mode and written synchronously,
// one write per batch of events; reopen() (SIGHUP) opens them anew at the
// same path, so a file rotated away loses no line: what was written before
// is in the old file, what comes after in the new one.
import { closeSync, openSync, writeSync } from "node:fs";
import { spawn, type ChildProcess } from "node:child_process";
import type { StatsConfig } from "../config/types.ts";
import { SYSLOG_TAG } from "../process/setup.ts";

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory", EACCES: "Permission denied", EISDIR: "Is a directory", EIO: "Input/output error",
  EFBIG: "File too large", EDQUOT: "Disk quota exceeded",
  EROFS: "Read-only file system", ENOTDIR: "Not a directory", ENOSPC: "No space left on device",
  EPERM: "Operation not permitted", ELOOP: "Too many levels of symbolic links",
};

export class StatsLogError extends Error {}

const latin1 = new TextDecoder("latin1");

function countLines(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(10); i !== -1; i = b.indexOf(10, i + 1)) n++;
  return n;
}

class LogFileSink {
  private fd: number;
  private pending: Uint8Array[] = [];
  /** Lines a write failure lost (a full disk, an I/O error), and who hears of it. */
  lost = 0;
  onError: (message: string) => void = () => {};

  constructor(readonly path: string, private readonly label: string) {
    this.fd = LogFileSink.open(path, label);
  }

  private static open(path: string, label: string): number {
    try {
      return openSync(path, "a", 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "";
      const why = ERRNO_TEXT[code] ?? (e as Error).message;
      throw new StatsLogError(`cannot open the ${label} ${path}: ${why}${code ? ` (${code})` : ""}`);
    }
  }

  add(bytes: Uint8Array): void {
    if (bytes.length) this.pending.push(bytes);
  }

  /** Writes what was added; a failure loses those lines (counted and told, first and every 1000th), never the daemon. */
  flush(): void {
    if (this.pending.length === 0) return;
    const chunks = this.pending;
    this.pending = [];
    let i = 0, off = 0;
    try {
      for (; i < chunks.length; i++, off = 0) {
        while (off < chunks[i].length) off += writeSync(this.fd, chunks[i], off);
      }
    } catch (e) {
      const before = this.lost;
      this.lost += countLines(chunks[i].subarray(off)) + chunks.slice(i + 1).reduce((n, c) => n + countLines(c), 0);
      const code = (e as NodeJS.ErrnoException).code ?? "";
      if (before === 0 || Math.floor(this.lost / 1000) > Math.floor(before / 1000)) {
        this.onError(`cannot write the ${this.label} ${this.path}: ${ERRNO_TEXT[code] ?? (e as Error).message}${code ? ` (${code})` : ""}; ${this.lost} lines lost so far`);
      }
    }
  }

  reopen(): void {
    this.flush();
    const fd = LogFileSink.open(this.path, this.label);
    closeSync(this.fd);
    this.fd = fd;
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
    }
  }
}

/** One logger(1) for the daemon's life, reading lines on its stdin: a process per flow would not keep up. */
class SyslogSink {
  private child: ChildProcess | null;
  private pending = "";

  /** `socket`: a syslog socket other than /dev/log (tests). */
  constructor(facility: string, socket?: string) {
    const to = socket ? ["-u", socket] : [];
    this.child = spawn("logger", [...to, "-p", `${facility}.info`, "-t", SYSLOG_TAG, `--id=${process.pid}`], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    this.child.on("error", () => { this.child = null; }); // no logger(1): the files still have the lines
    this.child.stdin?.on("error", () => { this.child = null; });
    this.child.unref();
  }

  add(lines: Uint8Array): void {
    // syslog gets each line's text after the date and its tab.
    for (const line of latin1.decode(lines).split("\n")) if (line) this.pending += `${line.slice(line.indexOf("\t") + 1)}\n`;
  }

  flush(): void {
    if (this.pending && this.child?.stdin?.writable) this.child.stdin.write(this.pending);
    this.pending = "";
  }

  close(): void {
    this.flush();
    this.child?.stdin?.end();
    this.child = null;
  }
}

export class StatsSinks {
  private constructor(
    private readonly text: LogFileSink | null,
    private readonly json: LogFileSink | null,
    private readonly syslog: SyslogSink | null,
  ) {}

  static open(stats: StatsConfig, syslogSocket?: string): StatsSinks {
    const text = stats.logFile ? new LogFileSink(stats.logFile, "Stats LogFile") : null;
    let json: LogFileSink | null = null;
    try {
      json = stats.jsonLogFile ? new LogFileSink(stats.jsonLogFile, "Stats JSONLogFile") : null;
    } catch (e) {
      text?.close();
      throw e;
    }
    return new StatsSinks(text, json, stats.syslog ? new SyslogSink(stats.syslog, syslogSocket) : null);
  }

  /** Where write failures are told (the daemon's log). */
  onError(handler: (message: string) => void): void {
    if (this.text) this.text.onError = handler;
    if (this.json) this.json.onError = handler;
  }

  /** Lines lost to write failures, both files. */
  get lost(): number {
    return (this.text?.lost ?? 0) + (this.json?.lost ?? 0);
  }

  /** Whether a conntrackd line is wanted (for the LogFile or syslog). */
  get wantsText(): boolean {
    return this.text !== null || this.syslog !== null;
  }

  get wantsJson(): boolean {
    return this.json !== null;
  }

  /** Lines the core wrote: conntrackd's text lines (each with its date and tab), JSON lines. */
  write(text: Uint8Array, json: Uint8Array): void {
    if (text.length) {
      this.text?.add(text);
      this.syslog?.add(text);
    }
    if (json.length) this.json?.add(json);
  }

  flush(): void {
    this.text?.flush();
    this.json?.flush();
    this.syslog?.flush();
  }

  reopen(): void {
    this.text?.reopen();
    this.json?.reopen();
  }

  close(): void {
    this.text?.close();
    this.json?.close();
    this.syslog?.close();
  }
}
