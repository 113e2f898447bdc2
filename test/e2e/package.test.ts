// ctsync as an operator installs it: `npm pack` makes a tarball that
// `npm install -g` turns into a working ctsyncd on the PATH. The install goes
// into a prefix of the test's own (the global layout, without touching the
// machine's), and the installed ctsyncd, the native client itself, then runs
// a daemon (handing over to Node) and answers a client command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { Pair } from "../support/pair.ts";
import { isRoot, ROOT } from "../support/netns.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";

/**
 * The machine's npm, as an operator types it. Under `npm test` the PATH
 * starts with node_modules/.bin, where @as-pect/cli's dependency tree puts an
 * npm 6 that knows neither --pack-destination nor --allow-scripts.
 */
const NPM = (process.env.PATH ?? "").split(":").filter((d) => d && !d.includes("node_modules"))
  .map((d) => join(d, "npm")).find((p) => existsSync(p)) ?? "npm";

test("npm pack, then npm install -g: ctsyncd on the PATH runs a daemon and answers client commands", { skip, timeout: 600_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ctsync-pack-"));
  const p = new Pair("pp");
  try {
    // The tree was built by the test command; packing it again would rebuild it under the other tests' feet.
    execFileSync(NPM, ["pack", "--ignore-scripts", "--pack-destination", dir], { cwd: ROOT, stdio: "ignore" });
    const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"));
    assert.ok(tarball, "npm pack made a tarball");
    const prefix = join(dir, "prefix");
    // npm runs a globally installed package's install script only when allowed: the README says so.
    execFileSync(NPM, ["install", "-g", "--allow-scripts=ctsync", "--no-audit", "--no-fund", "--prefix", prefix, join(dir, tarball)], { stdio: "ignore" });
    const installed = join(prefix, "lib/node_modules/ctsync");
    assert.ok(existsSync(join(installed, "native/build/Release/ctsyncd")), "the native client was built at install");
    assert.equal(readFileSync(join(installed, "bin/ctsyncd")).subarray(0, 4).toString("latin1"), "\x7fELF",
      "the command on the PATH is the native client itself, no shell before it");
    assert.ok(!existsSync(join(installed, "host")), "the tarball ships the precompiled host, not its sources");
    assert.ok(existsSync(join(prefix, "share/man/man8/ctsyncd.8")), "npm linked the manual page (package.json's man)");
    assert.ok(existsSync(join(installed, "contrib/systemd/ctsyncd.service")), "the systemd unit is in the package");
    const host = createRequire(import.meta.url)(join(installed, "bin/host.cjs"));
    assert.equal(host.compileHost(host.readCache()).cachedDataRejected, false, "the install made the host's code cache for this Node");

    const env = { ...process.env, PATH: `${join(prefix, "bin")}:${process.env.PATH}` };
    const which = spawnSync("sh", ["-c", "command -v ctsyncd"], { env, encoding: "utf8" }).stdout.trim();
    assert.equal(which, join(prefix, "bin/ctsyncd"));
    assert.match(spawnSync("ctsyncd", ["-v"], { env, encoding: "utf8" }).stdout, /^ctsyncd v\d/);

    const run = (...args: string[]) => spawnSync("ip", ["netns", "exec", p.a.ns.name, "ctsyncd", "-C", p.a.conf, ...args], { env, encoding: "utf8", timeout: 30_000 });
    const started = run("-d");
    assert.equal(started.status, 0, started.stderr);
    const stats = run("-s");
    assert.equal(stats.status, 0, stats.stderr);
    assert.match(stats.stdout, /cache internal:/);
    assert.equal(run("-k").status, 0);
  } finally {
    p.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
