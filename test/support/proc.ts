// Running commands in tests: optionally inside a network namespace, never
// throwing for a non-zero exit, with the time it took.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

/** The repository's root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface RunResult {
  /** The exit status; 124 when it timed out, 127 when it could not start. */
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs argv (inside namespace `ns` when given); never throws for a non-zero exit. */
export function run(argv: string[], opts: { ns?: string; timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  const full = opts.ns ? ["ip", "netns", "exec", opts.ns, ...argv] : argv;
  const t0 = performance.now();
  return new Promise((done) => {
    const child = execFile(full[0], full.slice(1), { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
      let code = 0;
      if (e) code = typeof e.code === "number" ? e.code : e.killed ? 124 : 127;
      if (e && typeof e.code === "string") stderr = `${stderr}${e.message}\n`;
      done({ code, stdout: String(stdout), stderr: String(stderr), ms: performance.now() - t0 });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
