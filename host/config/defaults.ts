// Default values of conntrackd 1.4.7, as its init_config() (read_config_yy.y)
// and include/conntrackd.h set them. Kept in one place so a reader can check
// them against the reference at a glance.
import type { Config, GeneralConfig, SyncConfig } from "./types.ts";

export const DEFAULTS = {
  hashSize: 65536,
  hashLimit: 262144,
  lockFile: "/var/lock/conntrackd.lock",
  logFile: "/var/log/conntrackd.log",
  statsLogFile: "/var/log/conntrackd-stats.log",
  statsJsonLogFile: "/var/log/ctsyncd-stats.jsonl",
  syslog: "daemon",
  netlinkOverrunResync: 30,
  eventIterationLimit: 100,
  resendQueueSize: 131072,
  ackWindowSize: 300,
  purgeTimeout: 60,
  refreshTime: 60,
  cacheTimeout: 180,
  errorQueueLength: 128,
  /** The most dedicated links conntrackd accepts (MULTICHANNEL_MAX). */
  maxChannels: 4,
  /** IFNAMSIZ - 1: the longest interface name the kernel knows. */
  maxInterfaceName: 15,
  /** FILENAME_MAXLEN: the longest LogFile or LockFile path. */
  maxFileName: 256,
  /** UNIX_PATH_MAX - 1: the longest control socket path. */
  maxUnixPath: 107,
} as const;

/** conntrackd fills every zero field with its default: "HashSize 0" is 65536. */
export function orDefault(value: number, fallback: number): number {
  return value === 0 ? fallback : value;
}

export function defaultGeneral(): GeneralConfig {
  return {
    hashSize: DEFAULTS.hashSize,
    hashLimit: DEFAULTS.hashLimit,
    logFile: null,
    syslog: null,
    lockFile: DEFAULTS.lockFile,
    unixPath: null,
    netlinkBufferSize: null,
    netlinkBufferSizeMaxGrowth: null,
    netlinkOverrunResync: DEFAULTS.netlinkOverrunResync,
    netlinkEventsReliable: false,
    pollSecs: null,
    eventIterationLimit: DEFAULTS.eventIterationLimit,
    scheduler: null,
    systemd: false,
    filter: null,
  };
}

export function defaultSync(line: number): SyncConfig {
  return {
    line,
    mode: "ftfw",
    channels: [],
    defaultChannel: 0,
    resendQueueSize: DEFAULTS.resendQueueSize,
    ackWindowSize: DEFAULTS.ackWindowSize,
    commitTimeout: null,
    purgeTimeout: DEFAULTS.purgeTimeout,
    refreshTime: DEFAULTS.refreshTime,
    cacheTimeout: DEFAULTS.cacheTimeout,
    disableInternalCache: false,
    disableExternalCache: false,
    startupResync: false,
    tcpWindowTracking: false,
    delayReplication: { ms: 0, assured: false },
    expectationSync: { enabled: false },
    errorQueueLength: DEFAULTS.errorQueueLength,
    authenticate: null,
  };
}

export function emptyConfig(): Config {
  return { general: defaultGeneral(), sync: null, stats: null, helper: null, api: null, keepalived: null };
}
