// The LockFile: one daemon per configuration.
//
// conntrackd creates its lock with O_EXCL and refuses to start while the file
// exists, so after a crash (SIGKILL, the OOM killer) nothing starts until a
// person deletes it. ctsyncd holds the file with flock(), which the kernel
// releases when the holder dies: a lock file that nobody holds is stale, and
// is taken over with a line in the log. The file holds the holder's PID.
//
// One case stays conntrackd's: an empty lock file that nobody flocks is what
// a running conntrackd leaves, so it is taken over only when nothing answers
// on the control socket.
import { existsSync, ftruncateSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { getSystemErrorName } from "node:util";
import { loadProcessAddon } from "../native.ts";

export interface LockContext {
  /** Whether a daemon answers on the configuration's control socket. */
  answering(): Promise<boolean>;
  /** Where a take-over is reported. */
  notice(message: string): void;
}

const held = (path: string) => `lockfile \`${path}' exists, perhaps conntrackd already running?`;

export class LockFile {
  private constructor(readonly path: string, private fd: number) {}

  static async take(path: string, ctx: LockContext): Promise<LockFile> {
    const addon = loadProcessAddon();
    const existed = existsSync(path);
    const fd = addon.lock(path);
    if (fd === -constants.errno.EWOULDBLOCK) throw new Error(`${held(path)} (held by pid ${pidIn(path) ?? "unknown"})`);
    if (fd < 0) throw new Error(`cannot create the lockfile ${path}: ${getSystemErrorName(fd)}`);
    const lock = new LockFile(path, fd);
    if (existed) {
      const previous = readFileSync(fd, "utf8").trim();
      if (previous === "" && (await ctx.answering())) {
        addon.unlock(fd); // conntrackd's, and it is alive: leave its file as it is
        throw new Error(held(path));
      }
      ctx.notice(previous === ""
        ? `took over the stale lockfile ${path} (empty, and no daemon answers on the control socket)`
        : `took over the stale lockfile ${path} of pid ${previous}, which no longer holds it`);
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
    return lock;
  }

  release(): void {
    if (this.fd < 0) return;
    try { unlinkSync(this.path); } catch { /* already gone */ }
    loadProcessAddon().unlock(this.fd);
    this.fd = -1;
  }
}

function pidIn(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim() || null;
  } catch {
    return null;
  }
}
