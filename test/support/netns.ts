// Network namespaces for tests: each test makes its own, named with a prefix
// and the test process id, and deletes only those. A scenario runs in a child
// process inside the namespace (`ip netns exec`), printing "RESULT <json>".
import { execFileSync, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";

export { ROOT } from "./proc.ts";
import { ROOT } from "./proc.ts";

export const isRoot = () => process.getuid?.() === 0;

export function sh(cmd: string, args: string[], ns?: string): string {
  const argv = ns ? ["netns", "exec", ns, cmd, ...args] : args;
  return execFileSync(ns ? "ip" : cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

export class Netns {
  readonly name: string;

  constructor(tag: string) {
    this.name = `ct-${tag}-${process.pid}`;
    try { execFileSync("ip", ["netns", "del", this.name], { stdio: "ignore" }); } catch { /* not there */ }
    execFileSync("ip", ["netns", "add", this.name]);
    this.exec("ip", ["link", "set", "lo", "up"]);
  }

  exec(cmd: string, args: string[]): string {
    return sh(cmd, args, this.name);
  }

  /** Number of conntracks (or expectations) the kernel holds here, by the conntrack tool. */
  count(table: "conntrack" | "expect" = "conntrack"): number {
    const out = table === "expect" ? this.exec("conntrack", ["-L", "expect"]) : this.exec("conntrack", ["-C"]);
    return table === "expect" ? out.split("\n").filter((l) => l.trim()).length : Number(out.trim());
  }

  /** Runs a TypeScript file in the namespace; resolves with the JSON of its "RESULT " line. */
  run<T>(script: string, args: string[] = [], timeoutMs = 120000): Promise<T> {
    return new Promise((ok, fail) => {
      const child = spawn("ip", ["netns", "exec", this.name, process.execPath, "--import", "tsx", resolve(ROOT, script), ...args], {
        cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "", err = "";
      const timer = setTimeout(() => { child.kill("SIGKILL"); fail(new Error(`${script} timed out; stderr: ${err}`)); }, timeoutMs);
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      child.on("close", (code) => {
        clearTimeout(timer);
        const line = out.split("\n").find((l) => l.startsWith("RESULT "));
        if (!line) return fail(new Error(`${script} exited ${code} without a result\nstdout: ${out}\nstderr: ${err}`));
        ok(JSON.parse(line.slice(7)) as T);
      });
    });
  }

  delete(): void {
    try { execFileSync("ip", ["netns", "del", this.name], { stdio: "ignore" }); } catch { /* gone */ }
  }
}
