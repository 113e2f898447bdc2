// The shape of a parsed conntrackd.conf, with every default already applied.
// Field comments give the conntrackd.conf option each field comes from and
// the default conntrackd 1.4.7 applies when the option is absent. Where
// conntrackd treats an explicit 0 as "absent" (its init_config() fills zero
// fields with defaults), so do we: "HashSize 0" yields 65536.

/** Where a value came from in the file, for messages a person reads later. */
export interface Located {
  /** 1-based line of the keyword that opened this block or set this value. */
  line: number;
}

export type SyslogFacility =
  | "daemon" | "local0" | "local1" | "local2" | "local3"
  | "local4" | "local5" | "local6" | "local7";

export type Policy = "accept" | "ignore";

/** The TCP states a State filter can name (CLOSE is read as CLOSED). */
export type TcpState =
  | "SYN_SENT" | "SYN_RECV" | "ESTABLISHED" | "FIN_WAIT" | "CLOSE_WAIT"
  | "LAST_ACK" | "TIME_WAIT" | "CLOSED" | "LISTEN";

/** An address with its prefix length; a bare address has the full length. */
export interface Cidr {
  /** The address as written (validated), without the "/n" suffix. */
  address: string;
  /** 0..32 for IPv4, 0..128 for IPv6. */
  prefix: number;
}

export interface ProtocolFilter extends Located {
  policy: Policy;
  /** Layer-4 protocols, resolved the way getprotobyname() resolves them. */
  protocols: { name: string; number: number }[];
}

export interface AddressFilter extends Located {
  policy: Policy;
  ipv4: Cidr[];
  ipv6: Cidr[];
}

export interface StateFilter extends Located {
  policy: Policy;
  /** Only TCP has states to filter on in conntrackd.conf. */
  tcp: TcpState[];
}

/** General.Filter: which kernel events the daemon replicates. */
export interface FilterConfig extends Located {
  /** "Filter From Kernelspace" or the default, user space. */
  from: "userspace" | "kernelspace";
  protocol: ProtocolFilter | null;
  address: AddressFilter | null;
  state: StateFilter | null;
}

export interface GeneralConfig {
  /** HashSize: buckets of the cache hash tables. Default 65536. */
  hashSize: number;
  /** HashLimit: most entries a cache holds. Default 262144. */
  hashLimit: number;
  /** LogFile: null when off (the default); "on" means /var/log/conntrackd.log. */
  logFile: string | null;
  /** Syslog: null when off (the default); "on" means daemon. */
  syslog: SyslogFacility | null;
  /** LockFile. Default /var/lock/conntrackd.lock (main.c, not the manual's conntrack.lock). */
  lockFile: string;
  /**
   * UNIX { Path }: the control socket. conntrackd has no default: without
   * Path it binds an unnamed socket no client can reach. null here.
   */
  unixPath: string | null;
  /** NetlinkBufferSize (alias SocketBufferSize). null: absent (ctsync then uses EVENT_BUFFER_DEFAULT, host/kernel/kernel.ts). */
  netlinkBufferSize: number | null;
  /** NetlinkBufferSizeMaxGrowth (aliases SocketBufferSizeMaxGrown/Growth). null: unset. */
  netlinkBufferSizeMaxGrowth: number | null;
  /** NetlinkOverrunResync: seconds before a resync after an overrun, null when off. Default 30. */
  netlinkOverrunResync: number | null;
  /** NetlinkEventsReliable. Default off. */
  netlinkEventsReliable: boolean;
  /** PollSecs: poll the kernel every N seconds instead of listening to events. null: events. */
  pollSecs: number | null;
  /** EventIterationLimit: kernel events handled per loop turn. Default 100. */
  eventIterationLimit: number;
  /** Scheduler { Type; Priority }. null: conntrackd's default, RR at the highest priority. */
  scheduler: { type: "rr" | "fifo"; priority: number } | null;
  /** Systemd: sd_notify support. Default off (ctsync has none; conntrackd's Debian build defaults on). */
  systemd: boolean;
  /** Filter blocks, merged in file order. null when there is none. */
  filter: FilterConfig | null;
}

/** Options every dedicated link (channel) kind shares. */
export interface ChannelCommon extends Located {
  /** "Multicast Default { ... }": the link used first. Exactly one channel is true after parsing. */
  isDefault: boolean;
  /** Interface: the device name, null when not given. */
  interface: string | null;
  /** SndSocketBuffer in bytes, null: the system default (wmem_default). */
  sndSocketBuffer: number | null;
  /** RcvSocketBuffer in bytes, null: the system default (rmem_default). */
  rcvSocketBuffer: number | null;
  /** Checksum: UDP checksums on the wire. Default on. */
  checksum: boolean;
}

export interface MulticastChannel extends ChannelCommon {
  type: "multicast";
  family: 4 | 6;
  /** IPv4_address / IPv6_address: the multicast group address. */
  address: string;
  /** IPv4_interface: address of the local interface to send from, null: any. */
  ipv4Interface: string | null;
  /** Group: the UDP port of the multicast group. conntrackd's default is 0 (warned). */
  port: number;
}

/** UDP and TCP links are configured alike. */
export interface UnicastChannel extends ChannelCommon {
  type: "udp" | "tcp";
  family: 4 | 6;
  /** IPv4_address / IPv6_address: the local address to listen on, null: any. */
  address: string | null;
  /** IPv4_Destination_Address / IPv6_Destination_Address: the peer. */
  destination: string | null;
  /** Port. conntrackd's default is 0 (warned): there is no 3780 default in its code. */
  port: number;
}

/**
 * Corosync { Group name } (ctsync's own): the sync messages go to every member
 * of a Corosync closed process group (libcpg). The Interface, buffers and
 * checksum are corosync's business: here they are null, null, null and on.
 */
export interface CorosyncChannel extends ChannelCommon {
  type: "corosync";
  /** Group: the CPG group name the nodes join (1 to 126 bytes). Default "ctsync". */
  group: string;
}

export type Channel = MulticastChannel | UnicastChannel | CorosyncChannel;

export type SyncMode = "ftfw" | "alarm" | "notrack";

/** ExpectationSync: off, every expectation, or those of the named helpers. */
export type ExpectationSync =
  | { enabled: false }
  | { enabled: true; helpers: "all" | string[] };

/**
 * Sync. conntrackd keeps the mode options global, so do we: a value set in
 * any Mode block (or, for the timers, directly in Sync) lands here.
 */
export interface SyncConfig extends Located {
  /** Mode FTFW|ALARM|NOTRACK. Default FTFW (conntrackd warns, so do we). */
  mode: SyncMode;
  /** The dedicated links in file order; 1 to 4 of them, all of one kind. */
  channels: Channel[];
  /** Index into channels of the one marked Default (the last so marked, else 0). */
  defaultChannel: number;
  /** ResendQueueSize (FTFW): objects awaiting an ack. Default 131072. */
  resendQueueSize: number;
  /** ACKWindowSize (FTFW). Default 300. */
  ackWindowSize: number;
  /** CommitTimeout: seconds given to committed entries; null: computed per entry (default). */
  commitTimeout: number | null;
  /** PurgeTimeout: seconds before the kernel table flush `-t` schedules. Default 60. */
  purgeTimeout: number;
  /** RefreshTime (ALARM): seconds between re-sends. Default 60. */
  refreshTime: number;
  /** CacheTimeout (ALARM): seconds before an unrefreshed external entry dies. Default 180. */
  cacheTimeout: number;
  /** DisableInternalCache (NOTRACK). Default off. */
  disableInternalCache: boolean;
  /** DisableExternalCache (FTFW, NOTRACK). Default off. */
  disableExternalCache: boolean;
  /** StartupResync (FTFW, NOTRACK): ask the peer for a full dump at start. Default off. */
  startupResync: boolean;
  /** Options { TCPWindowTracking }. Default off. */
  tcpWindowTracking: boolean;
  /**
   * Options { DelayReplication ms; DelayReplicationAssured on } (ctsync's
   * own): a new flow is synchronized once it has lived `ms`, or, with
   * `assured`, once the kernel calls it ASSURED if that comes first. 0: at
   * once (conntrackd's behaviour, the default).
   */
  delayReplication: { ms: number; assured: boolean };
  /** Options { ExpectationSync }. Default off. */
  expectationSync: ExpectationSync;
  /** TCP { ErrorQueueLength }: messages kept while a TCP link is down (global). Default 128. */
  errorQueueLength: number;
  /** Authenticate { KeyFile } (ctsync's own): null when off (default). */
  authenticate: AuthConfig | null;
}

/** A key of the Authenticate block's key file. */
export interface AuthKey {
  id: number;
  key: Uint8Array;
}

/** Sync { Authenticate { KeyFile } }: every datagram authenticated (assembly/auth.ts). */
export interface AuthConfig extends Located {
  keyFile: string;
  /** Cipher: HMAC-SHA256 (default: authenticated, in clear) or XChaCha20-Poly1305 (encrypted too). */
  cipher: "hmac-sha256" | "xchacha20-poly1305";
  /** The key file's keys, the newer last. */
  keys: AuthKey[];
}

/** Stats: conntrackd as a logger of destroyed flows instead of a syncer. */
export interface StatsConfig extends Located {
  /** LogFile: null when off (default); "on" means /var/log/conntrackd-stats.log. */
  logFile: string | null;
  /** Syslog: null when off (default); each destroyed flow at LOG_INFO. */
  syslog: SyslogFacility | null;
  /**
   * JSONLogFile (ctsync's own; conntrackd refuses it): the same records as
   * JSON lines. null when off (default); "on" means /var/log/ctsyncd-stats.jsonl.
   */
  jsonLogFile: string | null;
}

export interface HelperPolicy extends Located {
  name: string;
  /** ExpectMax. conntrackd replaces the whole policy, so an unset field is 0. */
  expectMax: number;
  /** ExpectTimeout in seconds; unset is 0, as in conntrackd. */
  expectTimeout: number;
}

/** Helper { Type name family proto { ... } }: a user-space helper. */
export interface HelperType extends Located {
  name: string;
  family: "inet" | "inet6";
  protocol: "tcp" | "udp";
  /** QueueNum: the NFQUEUE number. Default 0. */
  queueNum: number;
  /** QueueLen: null keeps the kernel's default (1024). */
  queueLen: number | null;
  policies: HelperPolicy[];
}

export interface HelperConfig extends Located {
  /** Setup: register the helpers in the kernel at start. Default off. */
  setup: boolean;
  types: HelperType[];
}

/**
 * API: ctsync's own section (conntrackd has none, and refuses a file that has
 * it): the live HTTP and WebSocket API of host/api/. Defaults in config-api.ts.
 */
export interface ApiConfig extends Located {
  /** Enabled. Default on once the section is there. */
  enabled: boolean;
  /** Address: the IPv4 or IPv6 address to listen on. Default 127.0.0.1. */
  address: string;
  /** Port. Default 8080. */
  port: number;
  /** Token: the bearer token of the control actions; null: actions refused. */
  token: string | null;
  /** MaxBackpressure: bytes an event-stream client may lag before it is dropped. Default 1048576. */
  maxBackpressure: number;
}

/**
 * Keepalived: ctsync's own section (conntrackd has none): follow keepalived's
 * notify FIFO and run the primary/backup transitions in-process. See
 * config-keepalived.ts and keepalived-fifo.ts.
 */
export interface KeepalivedConfig extends Located {
  /** NotifyFifo: the FIFO keepalived writes its state changes to (global_defs notify_fifo). */
  notifyFifo: string;
  /** SyncGroup: the vrrp_sync_group whose GROUP lines drive the transitions. */
  syncGroup: string;
}

/** A whole conntrackd.conf. Sync and Stats exclude each other. */
export interface Config {
  general: GeneralConfig;
  sync: SyncConfig | null;
  stats: StatsConfig | null;
  helper: HelperConfig | null;
  /** The API section, null when absent. */
  api: ApiConfig | null;
  /** The Keepalived section, null when absent. */
  keepalived: KeepalivedConfig | null;
}
