// The Stats section: conntrackd as a logger of flows, instead of a syncer
// (host/stats/daemon.ts). conntrackd 1.4.7's grammar takes LogFile and Syslog
// here (its manual also lists NetlinkEventsReliable, which belongs in
// General). Without LogFile there is no Stats log file; "LogFile on" is
// /var/log/conntrackd-stats.log. JSONLogFile is ctsync's own.
import { section } from "./block.ts";
import { DEFAULTS } from "./defaults.ts";
import { readLogFile, readSyslog } from "./logging.ts";
import type { StatsConfig } from "./types.ts";

export const STATS = section<StatsConfig>("Stats", {
  LogFile(r, kw, s) {
    s.logFile = readLogFile(r, kw, DEFAULTS.statsLogFile);
  },
  Syslog(r, kw, s) {
    s.syslog = readSyslog(r, kw, s.syslog);
  },
  JSONLogFile(r, kw, s) {
    s.jsonLogFile = readLogFile(r, kw, DEFAULTS.statsJsonLogFile);
  },
});
