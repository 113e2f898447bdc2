// What the General section asks of the daemon's process beyond sync: the
// scheduling policy (Scheduler), syslog (Syslog) and systemd's readiness
// notification (Systemd). Node has no system calls for these, so the daemon
// asks the standard tools (chrt, logger, systemd-notify) and says clearly
// when one is missing rather than ignoring the option.
import { spawn, spawnSync } from "node:child_process";
import type { GeneralConfig } from "./config.ts";
import type { Logger } from "./log.ts";

/** Scheduler { Type RR|FIFO; Priority N }: sets the policy of this process with chrt(1). */
export function applyScheduler(sched: GeneralConfig["scheduler"], log: Logger): void {
  if (!sched) return;
  const r = spawnSync("chrt", [sched.type === "fifo" ? "-f" : "-r", "-p", String(sched.priority), String(process.pid)], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    log.warning(`scheduler configuration failed: ${r.error?.message ?? r.stderr.trim()}. Likely a bug in your system, or chrt(1) is missing`);
  }
}

/** Systemd on: tells systemd the daemon is ready, when it runs under a notify unit. */
export function notifyReady(enabled: boolean, log: Logger): void {
  if (!enabled || !process.env.NOTIFY_SOCKET) return;
  const r = spawnSync("systemd-notify", ["--ready", `--pid=${process.pid}`], { encoding: "utf8" });
  if (r.error || r.status !== 0) log.warning(`systemd readiness notification failed: ${r.error?.message ?? r.stderr.trim()}`);
}

const LEVELS: Record<string, string> = { notice: "notice", warning: "warning", ERROR: "err", info: "info" };

/** Syslog facility: each log line also goes to syslog through logger(1), tagged conntrackd like conntrackd's. */
export function syslogSink(facility: string | null): ((level: string, message: string) => void) | null {
  if (!facility) return null;
  return (level, message) => {
    const child = spawn("logger", ["-p", `${facility}.${LEVELS[level] ?? "notice"}`, "-t", "conntrackd", "--", message], { stdio: "ignore" });
    child.on("error", () => { /* no logger(1): the LogFile still has the line */ });
    child.unref();
  };
}
