// The Stats section: conntrackd as a logger of flows, instead of a syncer.
// conntrackd 1.4.7's grammar takes only LogFile and Syslog here, although its
// manual also lists NetlinkEventsReliable (which belongs in General).
import { section } from "./config-block.ts";
import { DEFAULTS } from "./config-defaults.ts";
import { readLogFile, readSyslog } from "./config-logging.ts";
import { warnUnimplemented } from "./config-unimplemented.ts";
import type { StatsConfig } from "./config-types.ts";

export const STATS = section<StatsConfig>("Stats", {
  LogFile(r, kw, s) {
    s.logFile = readLogFile(r, kw, DEFAULTS.statsLogFile);
  },
  Syslog(r, kw, s) {
    s.syslog = readSyslog(r, kw, s.syslog);
    if (s.syslog) warnUnimplemented(r, kw, "Syslog");
  },
});
