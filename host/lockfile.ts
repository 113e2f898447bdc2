// The LockFile: one daemon per configuration. Created exclusively, as
// conntrackd does, and removed at shutdown.
import { openSync, closeSync, unlinkSync, writeSync } from "node:fs";

export class LockFile {
  private constructor(readonly path: string) {}

  static take(path: string): LockFile {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === "EEXIST") throw new Error(`lockfile \`${path}' exists, perhaps conntrackd already running?`);
      throw new Error(`cannot create the lockfile ${path}: ${e.message}`);
    }
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return new LockFile(path);
  }

  release(): void {
    try { unlinkSync(this.path); } catch { /* already gone */ }
  }
}
