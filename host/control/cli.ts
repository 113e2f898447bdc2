// The command line of ctsyncd, which is conntrackd 1.4.7's: run the daemon
// (-d to fork), or send one client command to a running daemon over its
// UNIX socket. Plus one flag of our own, -j/--json, for machine-readable
// dumps and statistics.
//
// How conntrackd reads it (src/main.c), and so how we do:
// - each flag is its own word ("-ix" is not "-i -x");
// - an optional argument is the next word unless it starts with "-", and
//   may be abbreviated to any prefix ("exp", "e" for expect); when several
//   words share the prefix, the first in conntrackd's order wins ("-s c" is
//   cache, "-s r" runtime);
// - -C takes the next word whatever it is;
// - -v and -h answer at once, ignoring what follows.
// Where conntrackd is silently lenient (two client commands: the last wins;
// -C without a file; an unknown flag exits 0), we refuse with a message
// naming the flag, for exit status 1.

export const DEFAULT_CONFIG_PATH = "/etc/conntrackd/conntrackd.conf";

/** ct: conntracks; expect: expectations; both: what conntrackd does by default for -c, -F, -R. */
export type Target = "ct" | "expect" | "both";

/** -s sections. "general" is plain -s, and also -s ct. "link" is also spelt "multicast" (old). */
export type StatsSection =
  | "general" | "network" | "cache" | "runtime" | "link"
  | "rsqueue" | "process" | "queue" | "expect";

export type DumpFormat = "plain" | "xml" | "json";

export type ClientRequest =
  /** -i / -e [ct|expect] [-x|-j]: dump the internal (local) or external (peer) cache. */
  | { kind: "dump"; cache: "internal" | "external"; target: "ct" | "expect"; format: DumpFormat; origin?: number }
  /** -s [section] [-j] */
  | { kind: "stats"; section: StatsSection; format: "plain" | "json" }
  /** -c [ct|expect]: commit the external cache to the kernel. */
  | { kind: "commit"; target: Target; origin?: number }
  /** -f [internal|external]: flush the caches. */
  | { kind: "flush-cache"; cache: "internal" | "external" | "both" }
  /** -F [ct|expect]: flush the kernel tables. */
  | { kind: "flush-kernel"; target: Target }
  /** -R [ct|expect]: resync the internal cache with the kernel tables. */
  | { kind: "resync-kernel"; target: Target }
  /** -n: ask the peers for a full resync. */
  | { kind: "request-resync" }
  /** -B: send everything we own to the peers. */
  | { kind: "bulk-send" }
  /** -t: schedule the kernel table flush after PurgeTimeout. */
  | { kind: "reset-timers" }
  /** -k: stop the daemon. */
  | { kind: "kill" };

export type CliAction =
  | { kind: "run"; mode: "foreground" | "daemon" }
  | { kind: "request"; request: ClientRequest }
  | { kind: "version" }
  | { kind: "help" };

export interface CliResult {
  action: CliAction;
  /** -C, else /etc/conntrackd/conntrackd.conf. */
  configPath: string;
  /** Notes for the user that do not stop the command, e.g. a deprecated spelling. */
  warnings: string[];
}

/** A command line that cannot be run; the message names the flag and why. Exit status 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CliError";
  }
}

export function usage(program = "ctsyncd"): string {
  return `ctsync: connection tracking state synchronization daemon (conntrackd 1.4.7 compatible)
Usage: ${program} [commands] [options]

General commands:
  -d, run as a daemon (in the background)
  -C file, read the configuration from file (default ${DEFAULT_CONFIG_PATH})
  -v, show the version
  -h, show this help

Client commands (one at a time, sent to the running daemon):
  -c [ct|expect], commit the external cache to the kernel tables
  -f [internal|external], flush the internal and/or external cache
  -F [ct|expect], flush the kernel tables
  -i [ct|expect], show the internal cache (local states)
  -e [ct|expect], show the external cache (states from the peers)
  --origin <nodeid>, with -c or -e: only the entries from that Corosync member
  -k, stop the daemon
  -s [network|cache|runtime|link|rsqueue|process|queue|ct|expect], show statistics
  -R [ct|expect], resync the internal cache with the kernel tables
  -n, ask the other nodes for a resync (FTFW and NOTRACK modes)
  -B, send a bulk update to the other nodes
  -x, XML output (only with -i or -e)
  -j, --json, JSON output (only with -i, -e or -s; ctsync's own flag)
  -t, reset the kernel timers (see PurgeTimeout)

Arguments may be abbreviated: "-i exp" is "-i expect".
`;
}

/** Parses argv without the node and script words, e.g. process.argv.slice(2). */
export function parseCli(argv: readonly string[]): CliResult {
  return new CliParser(argv).parse();
}

type Format = { flag: string; format: "xml" | "json" };

class CliParser {
  private i = 0;
  private configPath = DEFAULT_CONFIG_PATH;
  private daemon = false;
  private request: { flag: string; request: ClientRequest } | null = null;
  private format: Format | null = null;
  private readonly warnings: string[] = [];

  constructor(private readonly argv: readonly string[]) {}

  parse(): CliResult {
    for (; this.i < this.argv.length; this.i++) {
      const early = this.flag(this.argv[this.i]);
      if (early) return this.result(early);
    }
    return this.result(this.finish());
  }

  private result(action: CliAction): CliResult {
    return { action, configPath: this.configPath, warnings: this.warnings };
  }

  /** Handles one word; returns an action only for -v and -h, which end parsing. */
  private flag(word: string): CliAction | null {
    switch (word) {
      case "-v": return { kind: "version" };
      case "-h": return { kind: "help" };
      case "-d": this.daemon = true; break;
      case "-C": this.readConfigPath(); break;
      case "-x": this.setFormat({ flag: "-x", format: "xml" }); break;
      case "-j": case "--json": this.setFormat({ flag: word, format: "json" }); break;
      case "-c": this.setRequest(word, { kind: "commit", target: this.target(word, "both") }); break;
      case "-F": this.setRequest(word, { kind: "flush-kernel", target: this.target(word, "both") }); break;
      case "-R": this.setRequest(word, { kind: "resync-kernel", target: this.target(word, "both") }); break;
      case "-i": this.setRequest(word, this.dump(word, "internal")); break;
      case "-e": this.setRequest(word, this.dump(word, "external")); break;
      case "-f": this.setRequest(word, { kind: "flush-cache", cache: this.flushWhich(word) }); break;
      case "-s": this.setRequest(word, { kind: "stats", section: this.statsSection(word), format: "plain" }); break;
      case "-k": this.setRequest(word, { kind: "kill" }); break;
      case "-n": this.setRequest(word, { kind: "request-resync" }); break;
      case "-B": this.setRequest(word, { kind: "bulk-send" }); break;
      case "-t": this.setRequest(word, { kind: "reset-timers" }); break;
      case "--origin": this.readOrigin(); break;
      default: throw this.unknown(word);
    }
    return null;
  }

  private unknown(word: string): CliError {
    if (!word.startsWith("-")) return new CliError(`unexpected argument "${word}": it follows no flag that takes one`);
    return new CliError(`unknown option "${word}" (see -h; flags are single letters, given one per word)`);
  }

  private readConfigPath(): void {
    const path = this.argv[++this.i];
    if (path === undefined || path === "") throw new CliError("-C needs a configuration file name");
    this.configPath = path;
  }

  /** --origin <nodeid> (ctsync's own): a Corosync member, for -c and -e. */
  private origin: number | null = null;

  private readOrigin(): void {
    const word = this.argv[++this.i];
    const n = word !== undefined && /^\d{1,10}$/.test(word) ? Number(word) : NaN;
    if (!(n >= 1 && n <= 0xfffffffe)) {
      throw new CliError(`--origin needs a Corosync node id (1 to 4294967294), not ${word === undefined ? "nothing" : `"${word}"`}`);
    }
    this.origin = n;
  }

  /** Puts --origin into -c or -e; any other command refuses it. */
  private withOrigin(flag: string, request: ClientRequest): ClientRequest {
    if (this.origin === null) return request;
    if (request.kind === "commit" || (request.kind === "dump" && request.cache === "external")) {
      return { ...request, origin: this.origin };
    }
    throw new CliError(`--origin goes with -c or -e only (the external cache's entries from one Corosync member), not with ${flag}`);
  }

  private setFormat(f: Format): void {
    if (this.format && this.format.format !== f.format) {
      throw new CliError(`${f.flag} conflicts with ${this.format.flag}: choose XML or JSON output, not both`);
    }
    this.format = f;
  }

  private setRequest(flag: string, request: ClientRequest): void {
    const before = this.request;
    if (before && JSON.stringify(before.request) !== JSON.stringify(request)) {
      throw new CliError(`${flag} conflicts with ${before.flag}: give one client command at a time`);
    }
    this.request = { flag, request };
  }

  /** The next word, if it is an argument and not another flag. */
  private optionalArgument(): string | null {
    const next = this.argv[this.i + 1];
    return next !== undefined && !next.startsWith("-") ? next : null;
  }

  /** Matches the optional argument against `choices` by prefix, in order; consumes it. */
  private choose<T extends string>(flag: string, choices: readonly T[]): T | null {
    const word = this.optionalArgument();
    if (word === null) return null;
    const choice = choices.find((c) => c.startsWith(word));
    if (!choice) {
      throw new CliError(`${flag}: unknown argument "${word}" (expected ${choices.join(", ")})`);
    }
    this.i++;
    return choice;
  }

  private target(flag: string, otherwise: Target): Target {
    return this.choose(flag, ["ct", "expect"] as const) ?? otherwise;
  }

  private dump(flag: string, cache: "internal" | "external"): ClientRequest {
    const target = this.choose(flag, ["ct", "expect"] as const) ?? "ct";
    return { kind: "dump", cache, target, format: "plain" };
  }

  private flushWhich(flag: string): "internal" | "external" | "both" {
    return this.choose(flag, ["internal", "external"] as const) ?? "both";
  }

  private statsSection(flag: string): StatsSection {
    const order = ["network", "cache", "runtime", "multicast", "link", "rsqueue", "process", "queue", "ct", "expect"] as const;
    const word = this.choose(flag, order);
    if (word === "multicast") {
      this.warnings.push('-s multicast is the old name of -s link; please write "link"');
      return "link";
    }
    if (word === null || word === "ct") return "general";
    return word;
  }

  /** Resolves the format flags against the command, and the command against -d. */
  private finish(): CliAction {
    const req = this.request;
    if (!req) {
      if (this.format) throw new CliError(`${this.format.flag} needs a client command: ${this.formatNeeds(this.format)}`);
      return { kind: "run", mode: this.daemon ? "daemon" : "foreground" };
    }
    if (this.daemon) {
      throw new CliError(`-d (run as a daemon) cannot be combined with the client command ${req.flag}`);
    }
    return { kind: "request", request: this.withFormat(req.flag, this.withOrigin(req.flag, req.request)) };
  }

  private withFormat(flag: string, request: ClientRequest): ClientRequest {
    const f = this.format;
    if (!f) return request;
    if (request.kind === "dump") return { ...request, format: f.format };
    if (request.kind === "stats" && f.format === "json") return { ...request, format: "json" };
    throw new CliError(`${f.flag} cannot be used with ${flag}: ${this.formatNeeds(f)}`);
  }

  private formatNeeds(f: Format): string {
    return f.format === "xml" ? "XML output needs -i or -e" : "JSON output needs -i, -e or -s";
  }
}
