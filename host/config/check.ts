// Checks that need the whole file: things conntrackd accepts but that cannot
// work as the writer meant, reported as warnings (the file stays valid, as
// it is for conntrackd).
import type { ConfigReader } from "./reader.ts";
import type { Config } from "./types.ts";

export function checkConfig(r: ConfigReader, config: Config): void {
  const g = config.general;
  if (!config.sync && !config.stats && !config.helper) {
    r.warn(1, "no Sync, Stats or Helper section: the daemon has nothing to do");
  }
  if (g.unixPath === null) {
    r.warn(1, "no General.UNIX Path: clients (conntrackd -i, -k, ...) cannot reach the daemon");
  }
  checkNetlinkBuffer(r, config);
  if (config.stats?.syslog && g.syslog && config.stats.syslog !== g.syslog) {
    r.warn(config.stats.line, `Stats Syslog ${config.stats.syslog} conflicts with General Syslog ${g.syslog}; General wins, as in conntrackd`);
    config.stats.syslog = g.syslog;
  }
}

// conntrackd applies NetlinkBufferSize only when it does not exceed
// NetlinkBufferSizeMaxGrowth; otherwise it keeps the system default.
function checkNetlinkBuffer(r: ConfigReader, config: Config): void {
  const g = config.general;
  if (g.netlinkBufferSize === null) return;
  const max = g.netlinkBufferSizeMaxGrowth ?? 0;
  if (g.netlinkBufferSize > max) {
    r.warn(1, `NetlinkBufferSize ${g.netlinkBufferSize} exceeds NetlinkBufferSizeMaxGrowth (${max || "unset"}): conntrackd then keeps the system default buffer size`);
  }
}
