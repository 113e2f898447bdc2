// The daemon's control socket, conntrackd 1.4.7's local protocol:
//
// - a UNIX stream socket at General { UNIX { Path } }, mode 0600;
// - one request per connection: the client writes a native-endian 32-bit
//   int (the codes of control-requests.ts) and reads until the daemon closes;
// - the daemon writes its answer as plain text, no header, no length, no
//   terminator; actions (-c, -f, -k, ...) answer nothing, and the connection
//   closes when the action is done (a commit holds it until the kernel has
//   every entry, as conntrackd's synchronous commit does);
// - a request conntrackd does not answer in the daemon's mode (an expectation
//   request without ExpectationSync, -n in ALARM mode, an unknown code) is
//   closed without a byte.
// ctsync adds JSON answers: the same codes OR CTSYNC_JSON_FLAG (formats/json.ts).
import { lstat, unlink, chmod, stat } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { endianness } from "node:os";
import type { CacheWhich, DaemonControl, KindSet, LocalCounters, RecordKind } from "./api.ts";
import { CONTROL_REQUEST, CTSYNC_JSON_FLAG, CTSYNC_ORIGIN_FLAG, type ControlRequestName } from "./requests.ts";
import { chunks } from "../formats/text-dump.ts";
import { actionJson, errorJson, statsJson } from "../formats/json.ts";
import { statsText, type StatsData } from "../formats/stats.ts";

/** sun_path holds 108 bytes with the terminating NUL. */
const MAX_SOCKET_PATH = 107;
/** conntrackd's listen() backlog. */
const BACKLOG = 100;
/** Write dumps in chunks of about this size, waiting for the client between them. */
const CHUNK = 64 * 1024;

export class ControlSocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ControlSocketError";
  }
}

export interface ControlServerOptions {
  /** The socket file (config.general.unixPath). */
  path: string;
  daemon: DaemonControl;
  /** How long a client may take to send its 4-byte request. Default 5000 ms. */
  requestTimeoutMs?: number;
  /** Unix time in seconds, for the uptime of -s runtime. Default: the clock. */
  now?: () => number;
  /** Told about failures the client never sees (a daemon method that threw). */
  onError?: (message: string) => void;
}

const NAME_OF = new Map<number, ControlRequestName>(
  Object.entries(CONTROL_REQUEST).map(([name, code]) => [code, name as ControlRequestName]),
);

/** The int a client writes, in this machine's byte order (the protocol has no other). */
export function encodeRequest(code: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setInt32(0, code, endianness() === "LE");
  return bytes;
}

export function decodeRequest(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, endianness() === "LE");
}

/** Whatever answers connections on `path`, if anything does. */
function probe(path: string): Promise<"answering" | "refused"> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path);
    s.once("connect", () => { s.destroy(); resolve("answering"); });
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ECONNREFUSED" || e.code === "ENOENT") resolve("refused");
      else reject(new ControlSocketError(`cannot check the control socket ${path}: ${e.message}`));
    });
  });
}

/** Whether a daemon (ctsyncd or conntrackd) answers on the control socket `path`. */
export async function controlAnswering(path: string | null): Promise<boolean> {
  if (path === null) return false;
  return (await probe(path).catch(() => "refused")) === "answering";
}

/** Clears a stale socket file left by a dead daemon; refuses to touch a live one or a non-socket. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw new ControlSocketError(`cannot inspect the control socket path ${path}: ${(e as Error).message}`);
  }
  if (!st.isSocket()) {
    throw new ControlSocketError(`${path} exists and is not a socket; refusing to replace it (check UNIX { Path })`);
  }
  if ((await probe(path)) === "answering") {
    throw new ControlSocketError(`a daemon is already answering on ${path}; is ctsyncd or conntrackd running?`);
  }
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "ENOENT") throw new ControlSocketError(`cannot remove the stale socket ${path}: ${e.message}`);
  });
}

/** Binds with umask 0177 so the socket is never reachable by others, even briefly. */
function listenPrivately(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const old = process.umask(0o177);
    const restore = () => process.umask(old);
    server.once("error", (e: NodeJS.ErrnoException) => {
      restore();
      reject(new ControlSocketError(`cannot listen on the control socket ${path}: ${e.message}`));
    });
    try {
      server.listen({ path, backlog: BACKLOG }, () => { restore(); resolve(); });
    } catch (e) {
      restore();
      reject(new ControlSocketError(`cannot listen on the control socket ${path}: ${(e as Error).message}`));
    }
  });
}

export class ControlServer {
  /** Read failures and unknown requests, shown by -s runtime. */
  readonly counters: LocalCounters = { localReadFailed: 0, localUnknownRequest: 0 };
  private readonly clients = new Set<Socket>();
  private ino = -1;

  private constructor(private readonly server: Server, private readonly opts: ControlServerOptions) {}

  static async start(opts: ControlServerOptions): Promise<ControlServer> {
    if (Buffer.byteLength(opts.path) > MAX_SOCKET_PATH) {
      throw new ControlSocketError(`control socket path too long (${Buffer.byteLength(opts.path)} bytes, at most ${MAX_SOCKET_PATH}): ${opts.path}`);
    }
    await clearStaleSocket(opts.path);
    const server = createServer({ allowHalfOpen: true });
    const self = new ControlServer(server, opts);
    server.on("connection", (s) => self.accept(s));
    await listenPrivately(server, opts.path);
    await chmod(opts.path, 0o600);
    self.ino = (await stat(opts.path)).ino;
    server.on("error", (e) => opts.onError?.(`control socket: ${e.message}`));
    return self;
  }

  get path(): string {
    return this.opts.path;
  }

  /** Stops listening, drops clients, removes the socket file if it is still ours. */
  async close(): Promise<void> {
    for (const c of this.clients) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    try {
      if ((await stat(this.opts.path)).ino === this.ino) await unlink(this.opts.path);
    } catch { /* already gone */ }
  }

  private accept(sock: Socket): void {
    this.clients.add(sock);
    sock.on("close", () => this.clients.delete(sock));
    sock.on("error", () => sock.destroy());
    readRequest(sock, this.opts.requestTimeoutMs ?? 5000).then((words) => {
      if (words === null) {
        this.counters.localReadFailed++;
        sock.destroy();
        return;
      }
      return this.serve(sock, words[0], words[1]);
    }).catch((e: Error) => {
      this.opts.onError?.(`control request failed: ${e.message}`);
      sock.destroy();
    });
  }

  private async serve(sock: Socket, code: number, origin?: number): Promise<void> {
    const json = (code & CTSYNC_JSON_FLAG) !== 0;
    const name = NAME_OF.get(code & ~(CTSYNC_JSON_FLAG | CTSYNC_ORIGIN_FLAG));
    const out = new Reply(sock);
    if (name === undefined) {
      this.counters.localUnknownRequest++;
      if (json) await out.write(errorJson(`unknown request code ${code & ~CTSYNC_JSON_FLAG}`));
      return out.end();
    }
    try {
      await new RequestHandler(this.opts.daemon, out, json, this.counters, this.opts.now, origin).handle(name);
    } catch (e) {
      const message = `${name}: ${(e as Error).message}`;
      this.opts.onError?.(`control request ${message}`);
      if (json) await out.write(errorJson(message)).catch(() => undefined);
    }
    if (name === "KILL") {
      await out.end();
      await this.opts.daemon.kill();
      return;
    }
    await out.end();
  }
}

/**
 * The request int (and, with CTSYNC_ORIGIN_FLAG, the origin int after it),
 * or null when the client closed or stalled before sending them.
 */
function readRequest(sock: Socket, timeoutMs: number): Promise<number[] | null> {
  return new Promise((resolve) => {
    const got = new Uint8Array(8);
    let have = 0;
    let want = 4;
    const done = (v: number[] | null) => {
      clearTimeout(timer);
      sock.removeListener("data", onData);
      sock.removeListener("end", onEnd);
      sock.removeListener("close", onEnd);
      sock.pause();
      resolve(v);
    };
    const onData = (d: Uint8Array) => {
      for (;;) {
        const take = Math.min(want - have, d.length);
        got.set(d.subarray(0, take), have);
        have += take;
        d = d.subarray(take);
        if (have < want) return;
        const code = decodeRequest(got);
        if (want === 4 && code & CTSYNC_ORIGIN_FLAG) {
          want = 8;
          continue;
        }
        return done(want === 8 ? [code, decodeRequest(got.subarray(4)) >>> 0] : [code]);
      }
    };
    const onEnd = () => done(null);
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("data", onData);
    sock.on("end", onEnd);
    sock.on("close", onEnd);
  });
}

/** Buffered writes with backpressure; a vanished client ends the answer quietly. */
class Reply {
  private pending = "";
  gone = false;

  constructor(private readonly sock: Socket) {
    sock.on("close", () => { this.gone = true; });
  }

  async write(text: string): Promise<void> {
    this.pending += text;
    if (this.pending.length >= CHUNK) await this.flush();
  }

  /** Bytes go out as they are, after any text before them. */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    await this.flush();
    await this.send(bytes);
  }

  private async flush(): Promise<void> {
    const text = this.pending;
    this.pending = "";
    if (text !== "") await this.send(text);
  }

  private async send(data: string | Uint8Array): Promise<void> {
    if (this.gone) return;
    if (!this.sock.write(data)) {
      await new Promise<void>((resolve) => {
        const go = () => { this.sock.off("drain", go); this.sock.off("close", go); resolve(); };
        this.sock.on("drain", go);
        this.sock.on("close", go);
      });
    }
  }

  async end(): Promise<void> {
    await this.flush();
    if (this.gone) return;
    await new Promise<void>((resolve) => this.sock.end(resolve));
  }
}

/** What each request does: the mapping of conntrackd's run.c, ctnl.c and sync-mode.c. */
class RequestHandler {
  constructor(
    private readonly d: DaemonControl,
    private readonly out: Reply,
    private readonly json: boolean,
    private readonly local: LocalCounters,
    private readonly now: () => number = () => Math.floor(Date.now() / 1000),
    /** CTSYNC_ORIGIN_FLAG's node id: -c and -e about one Corosync member. */
    private readonly origin?: number,
  ) {}

  async handle(name: ControlRequestName): Promise<void> {
    if (this.d.mode === "stats") return this.handleStats(name);
    const exp = this.d.expectationSync;
    switch (name) {
      case "CT_DUMP_INTERNAL": return this.dump("internal", "ct", "plain");
      case "CT_DUMP_EXTERNAL": return this.dump("external", "ct", "plain");
      case "CT_DUMP_INT_XML": return this.dump("internal", "ct", "xml");
      case "CT_DUMP_EXT_XML": return this.dump("external", "ct", "xml");
      // conntrackd checks ExpectationSync for the plain dumps, not the XML ones.
      case "EXP_DUMP_INTERNAL": return exp ? this.dump("internal", "expect", "plain") : this.notAnswered("ExpectationSync is off");
      case "EXP_DUMP_EXTERNAL": return exp ? this.dump("external", "expect", "plain") : this.notAnswered("ExpectationSync is off");
      case "EXP_DUMP_INT_XML": return this.dump("internal", "expect", "xml");
      case "EXP_DUMP_EXT_XML": return this.dump("external", "expect", "xml");
      case "CT_COMMIT": return this.commit(name, "ct");
      case "EXP_COMMIT": return exp ? this.commit(name, "expect") : this.notAnswered("ExpectationSync is off");
      case "ALL_COMMIT": return this.commit(name, exp ? "both" : "ct");
      case "CT_FLUSH_CACHE": return this.act(name, () => this.d.flushCache("both", ["ct"]));
      case "CT_FLUSH_INT_CACHE": return this.act(name, () => this.d.flushCache("internal", ["ct"]));
      case "CT_FLUSH_EXT_CACHE": return this.act(name, () => this.d.flushCache("external", ["ct"]));
      case "ALL_FLUSH_CACHE": return this.act(name, () => this.d.flushCache("both", this.kinds()));
      case "CT_FLUSH_MASTER": return this.act(name, () => this.d.flushKernel("ct"));
      case "EXP_FLUSH_MASTER": return exp ? this.act(name, () => this.d.flushKernel("expect")) : this.notAnswered("ExpectationSync is off");
      case "ALL_FLUSH_MASTER": return this.act(name, () => this.d.flushKernel(this.both()));
      case "CT_RESYNC_MASTER": return this.act(name, () => this.d.resyncWithKernel("ct"));
      case "EXP_RESYNC_MASTER": return exp ? this.act(name, () => this.d.resyncWithKernel("expect")) : this.notAnswered("ExpectationSync is off");
      case "ALL_RESYNC_MASTER": return this.act(name, () => this.d.resyncWithKernel(this.both()));
      case "REQUEST_DUMP": return this.d.mode === "alarm" ? this.notAnswered("-n needs FTFW or NOTRACK mode") : this.act(name, () => this.d.requestResync());
      case "SEND_BULK": return this.d.mode === "alarm" ? this.notAnswered("-B needs FTFW or NOTRACK mode") : this.act(name, () => this.d.bulkSend());
      case "RESET_TIMERS": return this.act(name, () => this.d.resetTimers());
      case "KILL": return this.json ? this.out.write(actionJson(name)) : undefined;
      case "DEBUG_INFO": return this.notAnswered("DEBUG_INFO is not implemented (nor is it in conntrackd)");
      default: return this.stats(name);
    }
  }

  /**
   * The Stats mode answers what conntrackd 1.4.7's does (run.c, ctnl.c,
   * stats-mode.c): its one cache is the internal one; a plain -f
   * (ALL_FLUSH_CACHE) and everything about peers or expectations is
   * closed without a byte.
   */
  private async handleStats(name: ControlRequestName): Promise<void> {
    switch (name) {
      case "CT_DUMP_INTERNAL": return this.dump("internal", "ct", "plain");
      case "CT_DUMP_INT_XML": return this.dump("internal", "ct", "xml");
      case "CT_FLUSH_CACHE": case "CT_FLUSH_INT_CACHE": return this.act(name, () => this.d.flushCache("internal", ["ct"]));
      case "CT_FLUSH_MASTER": return this.act(name, () => this.d.flushKernel("ct"));
      case "EXP_FLUSH_MASTER": return this.act(name, () => this.d.flushKernel("expect"));
      case "ALL_FLUSH_MASTER": return this.act(name, () => this.d.flushKernel("both"));
      case "CT_RESYNC_MASTER": case "ALL_RESYNC_MASTER": return this.act(name, () => this.d.resyncWithKernel("ct"));
      case "KILL": return this.json ? this.out.write(actionJson(name)) : undefined;
      case "STATS": case "STATS_CACHE": case "STATS_RUNTIME": case "STATS_PROCESS": return this.stats(name);
      default: return this.notAnswered(`${name} is not answered in the Stats mode`);
    }
  }

  private kinds(): RecordKind[] {
    return this.d.expectationSync ? ["ct", "expect"] : ["ct"];
  }

  private both(): KindSet {
    return this.d.expectationSync ? "both" : "ct";
  }

  private async notAnswered(why: string): Promise<void> {
    if (this.json) await this.out.write(errorJson(why));
  }

  private async act(name: ControlRequestName, run: () => unknown): Promise<void> {
    await run();
    if (this.json) await this.out.write(actionJson(name));
  }

  private async commit(name: ControlRequestName, kinds: KindSet): Promise<void> {
    const result = await this.d.commit(kinds, this.origin);
    if (this.json) await this.out.write(actionJson(name, result));
  }

  /** -i / -e [expect]: the core's chunks as they come. JSON: an array, one element per line. */
  private async dump(which: CacheWhich, kind: RecordKind, format: "plain" | "xml"): Promise<void> {
    const walk = await this.d.textDump(which, kind, this.json ? "json" : format, true, which === "external" ? this.origin : undefined);
    if (this.json) await this.out.write("[");
    let empty = true;
    for (const bytes of chunks(walk)) {
      if (this.out.gone) return;
      await this.out.writeBytes(bytes);
      empty = false;
    }
    if (this.json) await this.out.write(empty ? "]\n" : "\n]\n");
  }

  private async stats(name: ControlRequestName): Promise<void> {
    const data = await gatherStats(this.d, name, this.local, this.now());
    if (typeof data === "string") return this.notAnswered(data);
    await this.out.write(this.json ? statsJson(data) : statsText(data));
  }
}

/** The counters one -s request shows, or why conntrackd would answer nothing. */
export async function gatherStats(
  d: DaemonControl, name: ControlRequestName, local: LocalCounters, now: number,
): Promise<StatsData | string> {
  const activeLink = async () => {
    const links = await d.links();
    return links.find((l) => l.active) ?? links[0] ?? null;
  };
  const summary = async (section: "general" | "expect", kind: RecordKind): Promise<StatsData> => ({
    section,
    internal: await d.cacheCounters("internal", kind),
    external: await d.cacheCounters("external", kind),
    traffic: await d.traffic(),
    activeLink: await activeLink(),
    network: await d.network(),
  });
  if (d.mode === "stats") {
    switch (name) {
      case "STATS": return { section: "stats", cache: await d.cacheCounters("internal", "ct"), traffic: await d.traffic() };
      case "STATS_CACHE": return { section: "stats-cache", cache: await d.cacheCounters("internal", "ct") };
      case "STATS_RUNTIME": case "STATS_PROCESS": break;
      default: return `${name} is not answered in the Stats mode`;
    }
  }
  switch (name) {
    case "STATS": return summary("general", "ct");
    case "EXP_STATS": return d.expectationSync ? summary("expect", "expect") : "ExpectationSync is off";
    case "STATS_NETWORK": return { section: "network", network: await d.network(), activeLink: await activeLink() };
    case "STATS_CACHE":
      return { section: "cache", internal: await d.cacheCounters("internal", "ct"), external: await d.cacheCounters("external", "ct") };
    case "STATS_LINK": return { section: "link", links: await d.links() };
    case "STATS_RSQUEUE": return d.mode === "ftfw" ? { section: "rsqueue", items: await d.resendQueue() } : "the resend queue exists in FTFW mode only";
    case "STATS_QUEUE": return { section: "queue", queues: await d.queues() };
    case "STATS_RUNTIME": return { section: "runtime", runtime: await d.runtime(), local: { ...local }, now };
    case "STATS_PROCESS": return { section: "process", processes: await d.processes() };
    default: return `${name} is not a statistics request`;
  }
}
