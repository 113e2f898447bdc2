// LogFile and Syslog values, which General and Stats spell alike.
import type { ConfigReader } from "./reader.ts";
import { boolWord } from "./reader.ts";
import type { Token } from "./lexer.ts";
import type { SyslogFacility } from "./types.ts";
import { DEFAULTS } from "./defaults.ts";

const FACILITIES: readonly string[] = [
  "daemon", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/** "LogFile on|off|/path": the file to log to, or null when off. */
export function readLogFile(r: ConfigReader, kw: Token, onPath: string): string | null {
  const t = r.word(kw, "on, off or an absolute path");
  const flag = boolWord(t.text);
  if (flag !== null) return flag ? onPath : null;
  if (!t.text.startsWith("/")) r.fail(kw.line, `expected on, off or an absolute path after ${kw.text}, found "${t.text}"`);
  if (t.text.length > DEFAULTS.maxFileName) r.fail(kw.line, `${kw.text} path is longer than ${DEFAULTS.maxFileName} characters`);
  return t.text;
}

/**
 * "Syslog on|off|facility". An unknown facility leaves the previous value,
 * with a warning, as conntrackd does: it is a typo, not a broken file.
 */
export function readSyslog(r: ConfigReader, kw: Token, previous: SyslogFacility | null): SyslogFacility | null {
  const t = r.word(kw, "on, off or a syslog facility");
  const flag = boolWord(t.text);
  if (flag !== null) return flag ? DEFAULTS.syslog : null;
  if (FACILITIES.includes(t.text)) return t.text as SyslogFacility;
  r.warn(kw.line, `"${t.text}" is not a known syslog facility (daemon, local0 to local7); Syslog left unchanged, as conntrackd does`);
  return previous;
}
