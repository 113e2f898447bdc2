// keepalived's notify FIFO, read by the daemon itself (the Keepalived section,
// config-keepalived.ts): when keepalived writes the sync group's new state,
// the transition of conntrack-tools' primary-backup.sh runs in-process, with
// no script, no shell and no client process started:
//
//   GROUP "G1" MASTER  -> primary: commit (-c), flush the caches (-f),
//                         resync with the kernel (-R), bulk send (-B)
//   GROUP "G1" BACKUP  -> backup: schedule the kernel flush (-t), ask the
//                         peer to resend everything (-n)
//   GROUP "G1" FAULT   -> fault: schedule the kernel flush (-t)
//
// One difference, on purpose: with DisableExternalCache the kernel table of a
// backup IS the synchronized state (the peer's entries go into it as they
// arrive), and the -t flush would remove it PurgeTimeout seconds later, so
// every flow older than that would meet a new primary without its state.
// There the backup and fault transitions leave the kernel table alone (the
// peer's updates and destroys keep it in step; leftovers expire with their
// kernel timeouts).
//
// keepalived's line format (keepalived.conf(5), vrrp_sync_group "notify"):
// TYPE "NAME" STATE PRIORITY, TYPE one of GROUP / INSTANCE (VRRP) or VS / RS
// (checkers), one line per change. Instance lines, checker lines, our group's
// STOP and other groups are expected and not acted on; a line keepalived
// never writes is logged and ignored.
//
// The FIFO is opened read-write and non-blocking: opening never waits for a
// writer and the reader never sees end-of-file when keepalived closes it.
// keepalived creates the FIFO and, on a reload or restart, removes and
// recreates it: the path is checked a few times a second and reopened when it
// names another file; until it exists, the daemon waits for it.
import { closeSync, constants, fstatSync, openSync, statSync } from "node:fs";
import { Socket } from "node:net";

export type GroupState = "MASTER" | "BACKUP" | "FAULT" | "STOP";
export type Transition = "primary" | "backup" | "fault";

export type NotifyLine =
  | { kind: "group"; name: string; state: GroupState; priority: number | null }
  | { kind: "other"; what: string }
  | { kind: "bad"; why: string };

const GROUP_STATES: readonly string[] = ["MASTER", "BACKUP", "FAULT", "STOP"];
const INSTANCE_STATES: readonly string[] = [...GROUP_STATES, "DELETED", "MASTER_RX_LOWER_PRI", "MASTER_PRIORITY", "BACKUP_PRIORITY"];

/** One line of keepalived's notify FIFO, without its newline. */
export function parseNotifyLine(line: string): NotifyLine {
  const m = /^(GROUP|INSTANCE) "([^"]+)" ([A-Z_]+)(?: (\d{1,3}))?$/.exec(line);
  if (m) {
    const [, type, name, state, prio] = m;
    if (type === "GROUP") {
      if (!GROUP_STATES.includes(state)) return { kind: "bad", why: `unknown group state "${state}"` };
      return { kind: "group", name, state: state as GroupState, priority: prio === undefined ? null : Number(prio) };
    }
    if (!INSTANCE_STATES.includes(state)) return { kind: "bad", why: `unknown instance state "${state}"` };
    return { kind: "other", what: `instance ${name} ${state}` };
  }
  // the checkers' lines: VS [addr]:proto:port UP|DOWN, RS [addr]:proto:port [addr]:proto:port UP|DOWN
  if (/^(VS|RS) \S+( \S+)? (UP|DOWN)$/.test(line)) return { kind: "other", what: line };
  return { kind: "bad", why: "not a line keepalived writes" };
}

/** What a group state asks of the daemon (primary-backup.sh's argument); null for STOP. */
export function transitionFor(state: GroupState): Transition | null {
  return state === "MASTER" ? "primary" : state === "BACKUP" ? "backup" : state === "FAULT" ? "fault" : null;
}

/** The daemon's actions the transitions use (host/daemon.ts implements them). */
export interface TransitionTarget {
  readonly mode: "ftfw" | "notrack" | "alarm";
  commit(kinds: "both"): Promise<{ status: string; committed: number; failed: number }>;
  flushCache(which: "both", kinds: readonly ("ct" | "expect")[]): void;
  resyncWithKernel(kinds: "both"): Promise<void>;
  bulkSend(): Promise<void>;
  requestResync(): void;
  resetTimers(): void;
}

export interface TransitionOptions {
  /** What -f flushes: conntracks, and expectations when they are synchronized. */
  kinds: readonly ("ct" | "expect")[];
  /** DisableExternalCache: the kernel table is the synchronized state; no -t flush. */
  keepKernelTable: boolean;
}

/**
 * primary-backup.sh's branch for `t`, in-process. Returns how long the
 * commit took and the whole transition (ms). As in the script, -n and -B do
 * nothing in ALARM mode.
 */
export async function runTransition(d: TransitionTarget, t: Transition, opts: TransitionOptions): Promise<{ commitMs: number; totalMs: number }> {
  const t0 = performance.now();
  let commitMs = 0;
  if (t === "primary") {
    await d.commit("both");
    commitMs = performance.now() - t0;
    d.flushCache("both", opts.kinds);
    await d.resyncWithKernel("both");
    if (d.mode !== "alarm") await d.bulkSend();
  } else {
    if (!opts.keepKernelTable) d.resetTimers();
    if (t === "backup" && d.mode !== "alarm") d.requestResync();
  }
  return { commitMs, totalMs: performance.now() - t0 };
}

export interface FifoLog {
  notice(m: string): void;
  warning(m: string): void;
  error(m: string): void;
}

/** Longest line kept; keepalived's are well under 300 bytes. */
const MAX_LINE = 4096;

export class KeepalivedFifo {
  private sock: Socket | null = null;
  private ino: { dev: number; ino: number } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending = "";
  private waitingSaid = false;
  private badLines = 0;
  /** Transitions run one after another, in the order keepalived wrote them. */
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    readonly path: string,
    readonly group: string,
    private readonly act: (t: Transition, line: string, readAt: number) => Promise<void>,
    private readonly log: FifoLog,
    private readonly checkMs = 200,
  ) {}

  start(): void {
    this.check();
    this.timer = setInterval(() => this.check(), this.checkMs);
    this.timer.unref();
  }

  /** Opens the FIFO when it is there, reopens it when the path names another file. */
  private check(): void {
    if (this.closed) return;
    let st;
    try {
      st = statSync(this.path);
    } catch {
      if (!this.waitingSaid) this.log.notice(`keepalived: waiting for the notify FIFO ${this.path}`);
      this.waitingSaid = true;
      return; // an open FIFO that was removed still holds what keepalived wrote before: keep reading it
    }
    if (!st.isFIFO()) {
      if (!this.waitingSaid) this.log.error(`keepalived: ${this.path} is not a FIFO; waiting for keepalived to create it`);
      this.waitingSaid = true;
      return;
    }
    if (this.ino && this.ino.dev === st.dev && this.ino.ino === st.ino) return;
    if (this.sock) {
      this.log.notice(`keepalived: the notify FIFO ${this.path} was recreated, reopening it`);
      this.drop();
    }
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDWR | constants.O_NONBLOCK);
    } catch (e) {
      this.log.error(`keepalived: cannot open the notify FIFO ${this.path}: ${(e as Error).message}`);
      return;
    }
    const f = fstatSync(fd);
    if (!f.isFIFO()) { closeSync(fd); return; } // replaced between stat and open: next check
    this.ino = { dev: f.dev, ino: f.ino };
    this.waitingSaid = false;
    const sock = new Socket({ fd, readable: true, writable: false });
    sock.on("data", (b: Buffer) => this.onData(b));
    sock.on("error", (e) => { this.log.error(`keepalived: reading ${this.path}: ${e.message}`); this.drop(); });
    this.sock = sock;
    this.log.notice(`keepalived: following sync group "${this.group}" on ${this.path}`);
  }

  private drop(): void {
    this.sock?.destroy();
    this.sock = null;
    this.ino = null;
    this.pending = "";
  }

  private onData(b: Buffer): void {
    const readAt = Date.now();
    this.pending += b.toString("latin1");
    let nl: number;
    while ((nl = this.pending.indexOf("\n")) >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      this.line(line, readAt);
    }
    if (this.pending.length > MAX_LINE) {
      this.bad(`${this.pending.slice(0, 60)}...`, `a line longer than ${MAX_LINE} bytes`);
      this.pending = "";
    }
  }

  private bad(line: string, why: string): void {
    this.badLines++;
    if (this.badLines <= 10 || this.badLines % 1000 === 0) {
      this.log.warning(`keepalived: ignoring ${JSON.stringify(line)} from ${this.path}: ${why}` +
        (this.badLines === 10 ? " (further ones are counted, every 1000th logged)" : this.badLines > 10 ? ` (${this.badLines} so far)` : ""));
    }
  }

  /** One line, as read at readAt (ms since the epoch). */
  line(line: string, readAt = Date.now()): void {
    const p = parseNotifyLine(line.replace(/\r$/, ""));
    if (p.kind === "bad") return this.bad(line, p.why);
    if (p.kind === "other") return;
    if (p.name !== this.group) return this.bad(line, `sync group "${p.name}" is not ours ("${this.group}")`);
    const t = transitionFor(p.state);
    if (!t) {
      this.log.notice(`keepalived: sync group "${p.name}" ${p.state}: nothing to do`);
      return;
    }
    this.queue = this.queue.then(() => this.act(t, line, readAt)).catch((e) =>
      this.log.error(`keepalived: the ${t} transition failed: ${(e as Error).message}`));
  }

  /** Resolves when every transition asked for so far has run. */
  idle(): Promise<void> {
    return this.queue;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.drop();
  }
}

/** The daemon's side: follow cfg's FIFO and run each transition on d, logging when it began and what it took. */
export function followKeepalived(d: TransitionTarget, cfg: { notifyFifo: string; syncGroup: string },
  sync: { expectations: boolean; disableExternalCache: boolean }, log: FifoLog): KeepalivedFifo {
  const opts: TransitionOptions = { kinds: sync.expectations ? ["ct", "expect"] : ["ct"], keepKernelTable: sync.disableExternalCache };
  const fifo = new KeepalivedFifo(cfg.notifyFifo, cfg.syncGroup, async (t, line, readAt) => {
    log.notice(`keepalived: ${line}: ${t} transition` +
      (t !== "primary" && opts.keepKernelTable ? " (DisableExternalCache: the kernel table is kept, no scheduled flush)" : ""));
    const r = await runTransition(d, t, opts);
    log.notice(`keepalived: ${line} read at ${readAt}: ${t} transition done in ${r.totalMs.toFixed(1)} ms` +
      (t === "primary" ? ` (commit ${r.commitMs.toFixed(1)} ms)` : ""));
  }, log);
  fifo.start();
  return fifo;
}
