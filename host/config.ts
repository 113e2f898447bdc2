// conntrackd.conf, as conntrackd 1.4.7 reads it: parseConfig() for text,
// loadConfig() for a file. A bad file throws a ConfigError whose message is
// "file:line: what is wrong"; options ctsync accepts without acting on them
// come back as warnings, also "file:line: ...", for the caller to print.
import { readFileSync } from "node:fs";
import { ConfigError } from "./config-error.ts";
import { tokenize, type Token } from "./config-lexer.ts";
import { ConfigReader } from "./config-reader.ts";
import { hint, readBlock, section } from "./config-block.ts";
import { defaultSync, emptyConfig } from "./config-defaults.ts";
import { GENERAL } from "./config-general.ts";
import { SYNC, finishSync, type SyncState } from "./config-sync.ts";
import { STATS } from "./config-stats.ts";
import { HELPER } from "./config-helper.ts";
import { API, defaultApi } from "./config-api.ts";
import { KEEPALIVED, defaultKeepalived, finishKeepalived } from "./config-keepalived.ts";
import { checkConfig } from "./config-check.ts";
import { warnUnimplemented } from "./config-unimplemented.ts";
import type { Config } from "./config-types.ts";

export type * from "./config-types.ts";
export { ConfigError } from "./config-error.ts";
export { DEFAULTS } from "./config-defaults.ts";
export { NOT_IMPLEMENTED } from "./config-unimplemented.ts";

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
