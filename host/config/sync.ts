// The Sync section: the mode, its timers and queues, the dedicated links and
// the Options block. As in conntrackd, the mode blocks only set global
// values; which mode runs is decided once the whole section is read.
import type { ConfigReader } from "./reader.ts";
import type { Token } from "./lexer.ts";
import { forEachItem, readBlock, section, type Handler } from "./block.ts";
import { DEFAULTS, orDefault } from "./defaults.ts";
import { readChannel, readCorosync } from "./channel.ts";
import { AUTHENTICATE } from "./authenticate.ts";
import type { AuthConfig, SyncConfig, SyncMode } from "./types.ts";

/** The section while it is read: the config plus every Mode block seen. */
export interface SyncState {
  sync: SyncConfig;
  modes: { mode: SyncMode; line: number }[];
}

type H = Handler<SyncState>;

const refreshTime: H = (r, kw, s) => {
  s.sync.refreshTime = orDefault(r.number(kw), DEFAULTS.refreshTime);
};
const cacheTimeout: H = (r, kw, s) => {
  s.sync.cacheTimeout = orDefault(r.number(kw), DEFAULTS.cacheTimeout);
};
const commitTimeout: H = (r, kw, s) => {
  s.sync.commitTimeout = r.number(kw) || null; // 0 means "not set" in conntrackd
};
const purgeTimeout: H = (r, kw, s) => {
  s.sync.purgeTimeout = orDefault(r.number(kw), DEFAULTS.purgeTimeout);
};
const resendQueueSize: H = (r, kw, s) => {
  s.sync.resendQueueSize = orDefault(r.number(kw), DEFAULTS.resendQueueSize);
};
const ackWindowSize: H = (r, kw, s) => {
  s.sync.ackWindowSize = orDefault(r.number(kw), DEFAULTS.ackWindowSize);
};
const disableInternalCache: H = (r, kw, s) => {
  s.sync.disableInternalCache = r.bool(kw);
};
const disableExternalCache: H = (r, kw, s) => {
  s.sync.disableExternalCache = r.bool(kw);
};
const startupResync: H = (r, kw, s) => {
  s.sync.startupResync = r.bool(kw);
};

/** Which options each Mode block takes: exactly conntrackd 1.4.7's grammar. */
const MODES: Record<SyncMode, ReturnType<typeof section<SyncState>>> = {
  ftfw: section<SyncState>("Sync.Mode FTFW", {
    ResendQueueSize: resendQueueSize,
    CommitTimeout: commitTimeout,
    PurgeTimeout: purgeTimeout,
    ACKWindowSize: ackWindowSize,
    DisableExternalCache: disableExternalCache,
    StartupResync: startupResync,
  }),
  alarm: section<SyncState>("Sync.Mode ALARM", {
    RefreshTime: refreshTime,
    CacheTimeout: cacheTimeout,
    CommitTimeout: commitTimeout,
    PurgeTimeout: purgeTimeout,
  }),
  notrack: section<SyncState>("Sync.Mode NOTRACK", {
    CommitTimeout: commitTimeout,
    PurgeTimeout: purgeTimeout,
    DisableInternalCache: disableInternalCache,
    DisableExternalCache: disableExternalCache,
    StartupResync: startupResync,
  }),
};

export const SYNC = section<SyncState>("Sync", {
  Mode(r, kw, s) {
    const mode = readModeName(r, kw);
    s.modes.push({ mode, line: kw.line });
    readBlock(r, kw, MODES[mode], s);
  },
  RefreshTime: refreshTime,
  CacheTimeout: cacheTimeout,
  CommitTimeout: commitTimeout,
  PurgeTimeout: purgeTimeout,
  Multicast: (r, kw, s) => readChannel(r, kw, s.sync, "multicast"),
  UDP: (r, kw, s) => readChannel(r, kw, s.sync, "udp"),
  TCP: (r, kw, s) => readChannel(r, kw, s.sync, "tcp"),
  Corosync: (r, kw, s) => readCorosync(r, kw, s.sync),
  Options(r, kw, s) {
    readBlock(r, kw, OPTIONS, s.sync);
  },
  Authenticate(r, kw, s) {
    if (s.sync.authenticate) r.fail(kw.line, `a second Authenticate block (the first at line ${s.sync.authenticate.line})`);
    const auth: AuthConfig = { line: kw.line, keyFile: "", cipher: "hmac-sha256", keys: [] };
    readBlock(r, kw, AUTHENTICATE, auth);
    if (!auth.keyFile) r.fail(kw.line, "Authenticate needs a KeyFile");
    s.sync.authenticate = auth;
  },
});

/** Mode names are case-insensitive in conntrackd's lexer; NACK and PERSISTENT are old names. */
function readModeName(r: ConfigReader, kw: Token): SyncMode {
  const t = r.word(kw, "FTFW, ALARM or NOTRACK");
  const name = t.text.toLowerCase();
  if (name === "ftfw" || name === "alarm" || name === "notrack") return name;
  if (name === "nack" || name === "persistent") {
    const now = name === "nack" ? "FTFW" : "ALARM";
    r.warn(kw.line, `mode "${t.text}" is the old name of ${now}; please write Mode ${now}`);
    return name === "nack" ? "ftfw" : "alarm";
  }
  return r.fail(kw.line, `unknown sync mode "${t.text}" (expected FTFW, ALARM or NOTRACK)`);
}

const HELPER_NAME = /^[a-zA-Z][a-zA-Z0-9._-]*$/; // e.g. ftp, sip, q.931, h.245

const OPTIONS = section<SyncConfig>("Sync.Options", {
  TCPWindowTracking(r, kw, sync) {
    sync.tcpWindowTracking = r.bool(kw);
  },
  // ctsync's own: conntrackd refuses these two.
  DelayReplication(r, kw, sync) {
    sync.delayReplication.ms = r.numberIn(kw, 0, 3_600_000);
  },
  DelayReplicationAssured(r, kw, sync) {
    sync.delayReplication.assured = r.bool(kw);
  },
  ExpectationSync(r, kw, sync) {
    if (r.peek()?.kind !== "open") {
      sync.expectationSync = r.bool(kw) ? { enabled: true, helpers: "all" } : { enabled: false };
      return;
    }
    sync.expectationSync = { enabled: true, helpers: readHelperList(r, kw) };
  },
});

/** "{ ftp sip ... }"; an empty list syncs every expectation, as conntrackd's absent filter does. */
function readHelperList(r: ConfigReader, kw: Token): "all" | string[] {
  const label = "Sync.Options.ExpectationSync";
  const names: string[] = [];
  r.next();
  forEachItem(r, kw, label, (t) => {
    if (t.kind !== "word") r.fail(t.line, `unexpected "{" in ${label}`);
    if (!HELPER_NAME.test(t.text)) r.fail(t.line, `"${t.text}" is not a helper name (in ${label})`);
    if (!names.some((n) => n.toLowerCase() === t.text.toLowerCase())) names.push(t.text);
  });
  if (!names.length) r.warn(kw.line, "ExpectationSync {} lists no helper: every expectation is synchronized, as in conntrackd");
  return names.length ? names : "all";
}

/** Settles what needs the whole section: the mode, the default link, contradictions. */
export function finishSync(r: ConfigReader, s: SyncState): void {
  const sync = s.sync;
  if (!sync.channels.length) {
    r.fail(sync.line, "Sync has no dedicated link: add a Multicast, UDP, TCP or Corosync block");
  }
  sync.mode = pickMode(r, s);
  if (sync.delayReplication.assured && sync.delayReplication.ms === 0) {
    r.warn(sync.line, "DelayReplicationAssured without DelayReplication: every flow is synchronized at once");
  }
  if (sync.delayReplication.ms > 0 && sync.disableInternalCache) {
    r.fail(sync.line, "DelayReplication needs the internal cache, where new flows wait: it cannot go with DisableInternalCache");
  }
  if (sync.authenticate && sync.channels[0].type === "corosync") {
    r.fail(sync.authenticate.line, "Authenticate cannot go with a Corosync link: corosync authenticates (and encrypts) its own traffic, with crypto_hash and crypto_cipher in corosync.conf");
  }
  if (sync.channels[0].type === "corosync" && sync.mode === "ftfw") {
    // CPG delivers everything in order or reports the member gone: FTFW's
    // acknowledgements would only add traffic, and with more than one peer
    // they have no addressee (its sequence tracking is one counter for all).
    r.warn(sync.channels[0].line, "Corosync delivers reliably and in order: FTFW runs as NOTRACK over it (write Mode NOTRACK to silence this)");
    sync.mode = "notrack";
  }
  sync.defaultChannel = pickDefault(r, sync);
  if (sync.disableExternalCache && sync.commitTimeout !== null) {
    r.warn(sync.line, "CommitTimeout cannot be combined with DisableExternalCache: CommitTimeout is ignored, as in conntrackd");
    sync.commitTimeout = null;
  }
}

// conntrackd sets a flag per Mode block and then prefers FTFW, then ALARM, then NOTRACK.
function pickMode(r: ConfigReader, s: SyncState): SyncMode {
  if (!s.modes.length) {
    r.warn(s.sync.line, "Sync has no Mode block: using FTFW, as conntrackd does");
    return "ftfw";
  }
  const chosen = (["ftfw", "alarm", "notrack"] as const).find((m) => s.modes.some((x) => x.mode === m))!;
  const others = s.modes.filter((x) => x.mode !== chosen);
  if (others.length) {
    const at = others.map((x) => `${x.mode.toUpperCase()} at line ${x.line}`).join(", ");
    r.warn(others[0].line, `several sync modes given; ${chosen.toUpperCase()} wins as in conntrackd, ignoring ${at}`);
  }
  return chosen;
}

// conntrackd starts on the last link marked Default, else the first.
function pickDefault(r: ConfigReader, sync: SyncConfig): number {
  const marked = sync.channels.flatMap((c, i) => (c.isDefault ? [i] : []));
  if (marked.length > 1) {
    const last = sync.channels[marked[marked.length - 1]];
    r.warn(last.line, `${marked.length} links are marked Default; the last one (line ${last.line}) is used first, as in conntrackd`);
    for (const i of marked.slice(0, -1)) sync.channels[i].isDefault = false;
  }
  const index = marked.length ? marked[marked.length - 1] : 0;
  sync.channels[index].isDefault = true;
  return index;
}
