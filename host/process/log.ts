// The daemon's log, in conntrackd's line format:
//   [Wed Dec  7 22:16:31 2011] (pid=19195) [notice] committing external cache
// to the LogFile, and to the console when running in the foreground (notices
// to stdout, warnings and errors to stderr), as conntrackd does. The LogFile
// is created 0600 (it names the flows and peers of the firewall) and kept
// open; reopen() follows a rotation.
import { closeSync, openSync, writeSync } from "node:fs";

export type Level = "notice" | "warning" | "ERROR" | "info";

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

/** The date as C's ctime() prints it, without the newline. */
export function ctime(d: Date): string {
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

export interface LogSink {
  (level: Level, message: string): void;
}

export class Logger {
  private fd = -1;

  /** Throws, naming the file and the reason, when the LogFile cannot be opened. */
  constructor(
    private readonly file: string | null,
    private readonly console: boolean,
    private readonly listeners: LogSink[] = [],
  ) {
    this.reopen();
  }

  /** Opens the LogFile anew (after logrotate moved it away), closing the old one. */
  reopen(): void {
    if (!this.file) return;
    let fd: number;
    try {
      fd = openSync(this.file, "a", 0o600);
    } catch (err) {
      throw new Error(`cannot open the log file ${this.file}: ${(err as Error).message}`);
    }
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = fd;
  }

  /** SIGHUP: reopens the LogFile and says so; a failure is logged and the old file kept. */
  reopenOnSignal(): void {
    try {
      this.reopen();
      this.notice("log file reopened (SIGHUP)");
    } catch (err) {
      this.error(`${(err as Error).message}; still writing to the old file`);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  line(level: Level, message: string): string {
    return `[${ctime(new Date())}] (pid=${process.pid}) [${level}] ${message}`;
  }

  log(level: Level, message: string): void {
    const text = this.line(level, message);
    if (this.console) (level === "notice" || level === "info" ? process.stdout : process.stderr).write(text + "\n");
    if (this.fd >= 0) {
      try {
        writeSync(this.fd, text + "\n");
      } catch (err) {
        process.stderr.write(`cannot write the log file ${this.file}: ${(err as Error).message}\n`);
      }
    }
    for (const l of this.listeners) l(level, message);
  }

  notice(message: string): void { this.log("notice", message); }
  warning(message: string): void { this.log("warning", message); }
  error(message: string): void { this.log("ERROR", message); }

  onLine(listener: LogSink): void {
    this.listeners.push(listener);
  }
}
