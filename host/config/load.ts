// conntrackd.conf, as conntrackd 1.4.7 reads it: parseConfig() for text,
// loadConfig() for a file. A bad file throws a ConfigError whose message is
// "file:line: what is wrong"; options ctsync accepts without acting on them
// come back as warnings, also "file:line: ...", for the caller to print.
import { readFileSync } from "node:fs";
import { ConfigError } from "./error.ts";
import { tokenize, type Token } from "./lexer.ts";
import { ConfigReader } from "./reader.ts";
import { hint, readBlock, section } from "./block.ts";
import { defaultSync, emptyConfig } from "./defaults.ts";
import { GENERAL } from "./general.ts";
import { SYNC, finishSync, type SyncState } from "./sync.ts";
import { STATS } from "./stats.ts";
import { HELPER } from "./helper.ts";
import { API, defaultApi } from "./api.ts";
import { KEEPALIVED, defaultKeepalived, finishKeepalived } from "./keepalived.ts";
import { checkConfig } from "./check.ts";
import { warnUnimplemented } from "./unimplemented.ts";
import type { Config } from "./types.ts";

export type * from "./types.ts";
export { ConfigError } from "./error.ts";
export { DEFAULTS } from "./defaults.ts";
export { NOT_IMPLEMENTED } from "./unimplemented.ts";

export interface ParsedConfig {
  config: Config;
  /** "file:line: ..." for each option accepted without effect, or suspicious. */
  warnings: string[];
}

/** The file as it is being read: sections may repeat and add up, as in conntrackd. */
interface FileState {
  config: Config;
  sync: SyncState | null;
}

const TOP = section<FileState>("the top level", {
  General(r, kw, f) {
    readBlock(r, kw, GENERAL, f.config.general);
  },
  Sync(r, kw, f) {
    if (f.config.stats) r.fail(kw.line, `cannot use both Sync and Stats sections (Stats at line ${f.config.stats.line})`);
    f.sync ??= { sync: defaultSync(kw.line), modes: [] };
    readBlock(r, kw, SYNC, f.sync);
  },
  Stats(r, kw, f) {
    if (f.sync) r.fail(kw.line, `cannot use both Sync and Stats sections (Sync at line ${f.sync.sync.line})`);
    f.config.stats ??= { line: kw.line, logFile: null, syslog: null, jsonLogFile: null };
    readBlock(r, kw, STATS, f.config.stats);
  },
  Helper(r, kw, f) {
    if (!f.config.helper) warnUnimplemented(r, kw, "Helper");
    f.config.helper ??= { line: kw.line, setup: false, types: [] };
    readBlock(r, kw, HELPER, f.config.helper);
  },
  API(r, kw, f) {
    f.config.api ??= defaultApi(kw.line);
    readBlock(r, kw, API, f.config.api);
  },
  Keepalived(r, kw, f) {
    if (f.config.keepalived) r.fail(kw.line, `a second Keepalived section (the first at line ${f.config.keepalived.line})`);
    f.config.keepalived = defaultKeepalived(kw.line);
    readBlock(r, kw, KEEPALIVED, f.config.keepalived);
    finishKeepalived(r, f.config.keepalived);
  },
});

export function parseConfig(text: string, fileName: string): ParsedConfig {
  const r = new ConfigReader(tokenize(text, fileName), fileName);
  const state: FileState = { config: emptyConfig(), sync: null };
  for (let t = r.next(); t; t = r.next()) readSection(r, t, state);
  if (state.sync) {
    finishSync(r, state.sync);
    state.config.sync = state.sync.sync;
  }
  checkConfig(r, state.config);
  return { config: state.config, warnings: r.warnings };
}

function readSection(r: ConfigReader, t: Token, state: FileState): void {
  const expected = "expected General, Sync, Stats or Helper";
  if (t.kind !== "word") r.fail(t.line, `unexpected "${t.text}" outside any section (${expected})`);
  if (!Object.hasOwn(TOP.handlers, t.text)) {
    r.fail(t.line, `unknown section "${t.text}" (${expected})${hint(t.text, TOP.label)}`);
  }
  TOP.handlers[t.text](r, t, state);
}

/** Reads and parses a file; an unreadable file is a ConfigError too. */
export function loadConfig(path: string): ParsedConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new ConfigError(path, null, `cannot open the configuration file: ${why}`);
  }
  return parseConfig(text, path);
}
