// What the daemon's process needs beyond sync: from the General section the
// scheduling policy (Scheduler), syslog (Syslog) and systemd's readiness
// notification (Systemd), and on its own the giving back of the memory that
// starting took. Node has no system call for the first, so the daemon asks
// chrt(1) and says clearly when it is missing rather than ignoring the
// option; syslog, readiness and the memory go through our own addon, from
// the daemon's own process (as a Type=notify unit expects).
import { spawnSync } from "node:child_process";
import { loadProcessAddon } from "../native.ts";
import type { GeneralConfig } from "../config/load.ts";
import type { Logger } from "./log.ts";

/** Scheduler { Type RR|FIFO; Priority N }: sets the policy of this process with chrt(1). */
export function applyScheduler(sched: GeneralConfig["scheduler"], log: Logger): void {
  if (!sched) return;
  const r = spawnSync("chrt", [sched.type === "fifo" ? "-f" : "-r", "-p", String(sched.priority), String(process.pid)], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    log.warning(`scheduler configuration failed: ${r.error?.message ?? r.stderr.trim()}. Likely a bug in your system, or chrt(1) is missing`);
  }
}

/** Systemd on: tells systemd the daemon is ready (READY=1) or stopping, when it runs under a notify unit. */
export function notifySystemd(enabled: boolean, state: "READY=1" | "STOPPING=1", log: Logger): void {
  if (!enabled || !process.env.NOTIFY_SOCKET) return;
  const r = loadProcessAddon().notify(`${state}\nMAINPID=${process.pid}`);
  if (r < 0) log.warning(`systemd notification ${state} failed: error ${-r} on ${process.env.NOTIFY_SOCKET}`);
}

/**
 * The syslog tag: conntrackd 1.4.7 opens the log with its package's name, so
 * its lines read conntrack-tools[pid] (syslog filters match on it). The addon's
 * openlog (native/process.c) writes the same.
 */
export const SYSLOG_TAG = "conntrack-tools";

/**
 * Syslog facility: each log line also goes to syslog, tagged SYSLOG_TAG like
 * conntrackd's, through syslog(3) in our addon. Throws for a facility
 * syslog(3) does not know.
 */
export function syslogSink(facility: string | null): ((level: string, message: string) => void) | null {
  if (!facility) return null;
  const addon = loadProcessAddon();
  if (addon.syslogOpen(facility) < 0) throw new Error(`Syslog ${facility}: not a syslog facility (daemon, user, local0..local7, ...)`);
  return (level, message) => void addon.syslog(level, message);
}

/**
 * Once the daemon has settled after its start, the pages of the node
 * executable that only starting needed (tens of MiB: the snapshot, the
 * bootstrap) leave its RSS; they stay in the page cache, and what the daemon
 * still runs comes back from there. Later is better than sooner: the first
 * dump and the compiler's first optimizations have run by then.
 */
export function trimStartupPages(afterMs = 3000): void {
  setTimeout(() => loadProcessAddon().trimStartup(), afterMs).unref();
}
