// What the daemon's process needs beyond sync: from the General section the
// scheduling policy (Scheduler), syslog (Syslog) and systemd's readiness
// notification (Systemd), and on its own the giving back of the memory that
// starting took. Node has no system call for any of them: they go through
// our own addon (native/process.c), from the daemon's own process (as a
// Type=notify unit expects).
import { setFlagsFromString } from "node:v8";
import { constants as os } from "node:os";
import { loadProcessAddon } from "../native.ts";
import type { GeneralConfig } from "../config/load.ts";
import type { Logger } from "./log.ts";
import type { Core } from "../core.ts";
import { strerror } from "../errno.ts";

/**
 * What Scheduler asks for. Without one, conntrackd 1.4.7 runs round-robin
 * real-time at the highest priority, so that reading the kernel's events
 * does not wait behind other processes and overrun the event socket's
 * buffer; ctsyncd does the same. A block without Type keeps that default;
 * a Type without Priority asks for priority 0, which the kernel refuses for
 * a real-time policy, as it does conntrackd's.
 */
export function schedulerFor(sched: GeneralConfig["scheduler"]): { type: "rr" | "fifo"; priority: number } {
  return sched ?? { type: "rr", priority: 99 };
}

/**
 * Sets the scheduling policy of the daemon's threads (schedulerFor); a
 * refusal is a warning, as conntrackd's, and the daemon carries on. Whether
 * they are now real-time.
 */
export function applyScheduler(sched: GeneralConfig["scheduler"], log: Logger): boolean {
  const { type, priority } = schedulerFor(sched);
  const r = loadProcessAddon().setScheduler(type, priority);
  if (r === 0) return true;
  const why = r === -os.errno.EPERM ? " (it needs CAP_SYS_NICE, or a real-time budget for this cgroup)"
    : r === -os.errno.EINVAL ? ` (${type.toUpperCase()} takes a Priority of 1 to 99)` : "";
  log.warning(`scheduler configuration failed: ${strerror(-r)}${why}, for ${type.toUpperCase()} at priority ${priority}. Continuing with the system's default scheduler`);
  return false;
}

/**
 * Transparent huge pages for the memory the core grows into (native/process.c,
 * AdviseHugePages), advised again as it grows: the caches' entries. Not for
 * the memory it has now, its buffers and bucket arrays, which a start touches
 * here and there: the first touch of a huge page clears 2 MiB at once. The
 * daemon asks only when its event buffer gathers events (Kernel.gathers): a
 * buffer of a millisecond or two of events does not absorb that clearing
 * either (it overran 208 KiB at 75,000 events a second).
 */
export function adviseHugePages(core: Core): void {
  const addon = loadProcessAddon();
  let from = -1;
  core.watchMemory((buffer) => {
    if (from < 0) from = buffer.byteLength;
    addon.adviseHugePages(buffer, from);
  });
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
 * The collector marks the daemon's heap in one pause. The heap is a few MiB
 * (the caches live in the core's memory), so a full collection takes a few
 * ms; V8's incremental marking spreads it over hundreds of tiny tasks
 * instead, each a round trip through the event loop (an eventfd write, a
 * wakeup, a read), with the C++ heap's sweeper polling the same way. After a
 * burst, the collections that shrink the heap cost 20 ms of CPU that way.
 */
export function markInOnePause(): void {
  setFlagsFromString("--no-incremental-marking");
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
