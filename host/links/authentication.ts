// The host's side of authenticated sync (the frames themselves are the
// core's, assembly/auth.ts): the keys into the core, this run's epoch from a
// small state file next to the lock, and a log line for refused datagrams,
// once per link and minute, never one per datagram.
//
// The state file holds the epoch counter of the last start and the peer's
// epoch as last heard. At start the counter becomes max(stored + 1, Unix
// seconds) and is written (fsynced, renamed into place) before anything is
// sent: no two runs share an epoch, so no capture of an earlier run passes
// the peer's window. The peer's epoch is only a hint (the core echoes it so
// a peer that did not restart takes our first frames at once); nothing is
// trusted from the file, and losing it costs one round trip, not safety.
import { openSync, writeSync, fsyncSync, closeSync, readFileSync, renameSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { Core } from "../core.ts";
import type { AuthConfig } from "../config/load.ts";
import { readKeyFile } from "../config/authenticate.ts";
import type { Logger } from "../process/log.ts";

interface State {
  counter: number;
  peerEpoch: string;
}

const LOG_EVERY_MS = 60_000;

export class SyncAuth {
  private peerEpoch = 0n;
  private refused = 0;
  /** Per link: when a refusal was last logged, and how many since. */
  private readonly logged = new Map<number, { at: number; since: number }>();

  private constructor(private readonly core: Core, private readonly config: AuthConfig, private readonly statePath: string, private readonly log: Logger) {}

  /** Keys in, a new epoch persisted, authentication on. Throws when the state file cannot be written. */
  static start(core: Core, config: AuthConfig, lockFile: string, log: Logger): SyncAuth {
    const a = new SyncAuth(core, config, `${lockFile}.auth`, log);
    core.setAuthKeys(config.keys);
    const stored = a.readState();
    const counter = Math.max((stored?.counter ?? 0) + 1, Math.floor(Date.now() / 1000));
    a.peerEpoch = BigInt(stored?.peerEpoch ?? 0);
    try {
      a.writeState(counter);
    } catch (e) {
      // Without its epoch on disk, a restart could reuse one: no authenticated sync rather than a replayable one.
      throw new Error(`cannot write the authentication state file ${a.statePath} (next to the LockFile): ${(e as Error).message}`);
    }
    const epoch = (BigInt(counter) << 32n) | BigInt(randomBytes(4).readUInt32BE());
    const version = core.k(config.cipher === "xchacha20-poly1305" ? "AUTH_XCHACHA20_POLY1305" : "AUTH_HMAC_SHA256");
    core.fn.authStart(epoch, a.peerEpoch, version);
    log.notice(`authenticating the sync link with ${config.cipher} (key ${config.keys.map((k) => k.id).join(" and ")}, epoch ${counter})`);
    return a;
  }

  private counter = 0;

  private readState(): State | null {
    try {
      const s = JSON.parse(readFileSync(this.statePath, "utf8")) as State;
      return Number.isSafeInteger(s.counter) && /^\d+$/.test(s.peerEpoch) ? s : null;
    } catch {
      return null; // none yet, or unreadable: the clock stands in for the counter
    }
  }

  private writeState(counter: number): void {
    this.counter = counter;
    const tmp = `${this.statePath}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify({ counter, peerEpoch: this.peerEpoch.toString() }) + "\n");
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.statePath);
  }

  /** After datagrams from link `link`: logs refusals (sparingly), keeps a new peer epoch for the next start. */
  afterReceive(link: number, peer: () => string): void {
    const fn = this.core.fn;
    const refused = fn.authRefused();
    if (refused !== this.refused) {
      this.noteRefused(link, peer, refused - this.refused);
      this.refused = refused;
    }
    const peerEpoch = fn.authPeerEpoch();
    if (peerEpoch !== this.peerEpoch) {
      this.peerEpoch = peerEpoch;
      try {
        this.writeState(this.counter);
      } catch (e) {
        this.log.warning(`cannot keep the peer's epoch in ${this.statePath}: ${(e as Error).message}`);
      }
    }
  }

  private noteRefused(link: number, peer: () => string, n: number): void {
    const now = Date.now();
    const l = this.logged.get(link) ?? { at: -Infinity, since: 0 };
    l.since += n;
    if (now - l.at >= LOG_EVERY_MS) {
      const why = this.core.reasonName(this.core.fn.authLastReason());
      this.log.warning(`refused ${l.since} datagram${l.since === 1 ? "" : "s"} on link ${link} (peer ${peer()}) before decode, the last: ${why}; counted in -s network`);
      l.at = now;
      l.since = 0;
    }
    this.logged.set(link, l);
  }

  /** SIGHUP: the key file again (a rollover); a bad one is logged and the keys in use kept. */
  reloadKeys(): void {
    try {
      const keys = readKeyFile(this.config.keyFile);
      this.core.setAuthKeys(keys);
      this.log.notice(`key file ${this.config.keyFile} read again: key ${keys.map((k) => k.id).join(" and ")}`);
    } catch (e) {
      this.log.error(`keeping the keys in use: ${(e as Error).message}`);
    }
  }
}
