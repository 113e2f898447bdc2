// The General section: tables, logging, the control socket, netlink tuning,
// the scheduler and the event filter.
import type { ConfigReader } from "./reader.ts";
import { boolWord } from "./reader.ts";
import type { Token } from "./lexer.ts";
import { readBlock, section } from "./block.ts";
import { DEFAULTS, orDefault } from "./defaults.ts";
import { readLogFile, readSyslog } from "./logging.ts";
import { readFilter } from "./filter.ts";
import { warnUnimplemented } from "./unimplemented.ts";
import type { GeneralConfig } from "./types.ts";

const bufferSize = (r: ConfigReader, kw: Token, g: GeneralConfig) => {
  g.netlinkBufferSize = r.number(kw) || null;
};
const bufferMax = (r: ConfigReader, kw: Token, g: GeneralConfig) => {
  g.netlinkBufferSizeMaxGrowth = r.number(kw) || null;
};

export const GENERAL = section<GeneralConfig>("General", {
  HashSize(r, kw, g) {
    g.hashSize = orDefault(r.number(kw), DEFAULTS.hashSize);
  },
  HashLimit(r, kw, g) {
    g.hashLimit = orDefault(r.number(kw), DEFAULTS.hashLimit);
  },
  LogFile(r, kw, g) {
    g.logFile = readLogFile(r, kw, DEFAULTS.logFile);
  },
  Syslog(r, kw, g) {
    g.syslog = readSyslog(r, kw, g.syslog);
  },
  LockFile(r, kw, g) {
    g.lockFile = r.path(kw, DEFAULTS.maxFileName);
  },
  UNIX(r, kw, g) {
    readBlock(r, kw, UNIX, g);
  },
  NetlinkBufferSize: bufferSize,
  SocketBufferSize: bufferSize, // old spelling conntrackd still accepts
  NetlinkBufferSizeMaxGrowth: bufferMax,
  SocketBufferSizeMaxGrowth: bufferMax,
  SocketBufferSizeMaxGrown: bufferMax,
  NetlinkOverrunResync(r, kw, g) {
    g.netlinkOverrunResync = readOverrunResync(r, kw);
  },
  NetlinkEventsReliable(r, kw, g) {
    g.netlinkEventsReliable = r.bool(kw);
  },
  PollSecs(r, kw, g) {
    const secs = r.number(kw);
    if (secs === 0) r.fail(kw.line, "PollSecs must be greater than 0");
    g.pollSecs = secs;
    warnUnimplemented(r, kw, "PollSecs");
  },
  EventIterationLimit(r, kw, g) {
    g.eventIterationLimit = orDefault(r.number(kw), DEFAULTS.eventIterationLimit);
  },
  Nice(r, kw) {
    r.signedNumber(kw);
    warnUnimplemented(r, kw, "Nice");
  },
  Scheduler(r, kw, g) {
    const s: SchedulerDraft = { type: null, priority: 0 };
    readBlock(r, kw, SCHEDULER, s);
    g.scheduler = s.type ? { type: s.type, priority: s.priority } : null;
  },
  Systemd(r, kw, g) {
    g.systemd = r.bool(kw);
  },
  Filter(r, kw, g) {
    readFilter(r, kw, g);
  },
});

/** "on" is 30 s, "off" disables, a number is seconds (0 reads as the default 30). */
function readOverrunResync(r: ConfigReader, kw: Token): number | null {
  const what = "on, off or a number of seconds";
  const t = r.word(kw, what);
  const flag = boolWord(t.text);
  if (flag !== null) return flag ? DEFAULTS.netlinkOverrunResync : null;
  return orDefault(r.asNumber(kw, t, what), DEFAULTS.netlinkOverrunResync);
}

const UNIX = section<GeneralConfig>("General.UNIX", {
  Path(r, kw, g) {
    g.unixPath = r.path(kw, DEFAULTS.maxUnixPath);
  },
  Backlog(r, kw) {
    r.number(kw);
    warnUnimplemented(r, kw, "Backlog");
  },
});

interface SchedulerDraft {
  type: "rr" | "fifo" | null;
  priority: number;
}

const SCHEDULER = section<SchedulerDraft>("General.Scheduler", {
  Type(r, kw, s) {
    const t = r.word(kw, "RR or FIFO");
    const type = t.text.toLowerCase(); // conntrackd compares with strcasecmp()
    if (type !== "rr" && type !== "fifo") return r.fail(kw.line, `unknown scheduler "${t.text}" (expected RR or FIFO)`);
    s.type = type;
  },
  Priority(r, kw, s) {
    s.priority = r.numberIn(kw, 0, 99);
  },
});
