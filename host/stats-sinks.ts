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
import type { StatsConfig } from "./config-types.ts";

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "No such file or directory", EACCES: "Permission denied", EISDIR: "Is a directory",
  EROFS: "Read-only file system", ENOTDIR: "Not a directory", ENOSPC: "No space left on device",
  EPERM: "Operation not permitted", ELOOP: "Too many levels of symbolic links",
};

export class StatsLogError extends Error {}

class LogFileSink {
  private fd: number;
  private pending = "";

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

  add(text: string): void {
    this.pending += text;
  }

  flush(): void {
    if (this.pending === "") return;
    const data = new Uint8Array(Buffer.from(this.pending));
    this.pending = "";
    for (let off = 0; off < data.length;) off += writeSync(this.fd, data, off);
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
    this.child = spawn("logger", [...to, "-p", `${facility}.info`, "-t", "conntrackd", `--id=${process.pid}`], {
      stdio: ["pipe", "ignore", "ignore"],
    });
    this.child.on("error", () => { this.child = null; }); // no logger(1): the files still have the lines
    this.child.stdin?.on("error", () => { this.child = null; });
    this.child.unref();
  }

  add(line: string): void {
    // syslog gets the text after the date and its tab.
    this.pending += line.slice(line.indexOf("\t") + 1);
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

  /** Whether a conntrackd line is wanted (for the LogFile or syslog). */
  get wantsText(): boolean {
    return this.text !== null || this.syslog !== null;
  }

  get wantsJson(): boolean {
    return this.json !== null;
  }

  write(line: string, json: string): void {
    if (line) {
      this.text?.add(line);
      this.syslog?.add(line);
    }
    if (json) this.json?.add(json);
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
