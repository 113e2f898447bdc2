// What an installation ships besides the program: the systemd unit
// (contrib/systemd/ctsyncd.service), the manual page (man/ctsyncd.8), and
// the precompiled host's code cache (dist/ctsyncd.cache) that V8 accepts.
// The unit is checked by systemd-analyze verify when it runs here (it does
// without systemd as PID 1); the page must render without a warning and
// name every flag of usage() and every option of the API section.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { usage } from "../host/control/cli.ts";
import { API } from "../host/config/api.ts";
import { ROOT } from "./support/proc.ts";
import { unitFile, unitSections, unitValues } from "./support/unit.ts";

const MAN = join(ROOT, "man/ctsyncd.8");
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

/** The flags usage() lists: "-c", "-j", "--json", ... */
function usageFlags(): string[] {
  const flags = new Set<string>();
  for (const line of usage().split("\n")) {
    const m = /^\s+(-\w)(?:, (--[\w-]+))?[ ,]/.exec(line);
    if (m) { flags.add(m[1]); if (m[2]) flags.add(m[2]); }
  }
  return [...flags];
}

/** The page as a reader sees it: plain text, 80 columns, ASCII hyphens. */
function rendered(): string {
  const r = spawnSync("groff", ["-man", "-Tascii", "-P-c", "-P-b", "-P-o", "-P-u", "-rLL=78n", MAN], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("the unit is Type=notify with NotifyAccess=main, starts the installed ctsyncd, and keeps netlink and raw sockets", () => {
  const text = readFileSync(unitFile, "utf8");
  const v = unitValues(text);
  assert.deepEqual(unitSections(text), ["Unit", "Service", "Install"]);
  assert.deepEqual(v.Type, ["notify"]);
  assert.deepEqual(v.NotifyAccess, ["main"]);
  assert.equal(v.ExecStart.length, 1);
  const [bin, ...args] = v.ExecStart[0].split(/\s+/);
  assert.equal(bin, "/usr/local/bin/ctsyncd", "where npm install -g --prefix /usr/local puts it");
  assert.deepEqual(args, ["-C", "/etc/conntrackd/conntrackd.conf"], "foreground (no -d): systemd watches the process");
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { bin: Record<string, string> };
  assert.ok(pkg.bin[basename(bin)], `package.json installs a ${basename(bin)} command`);
  assert.ok(existsSync(join(ROOT, pkg.bin[basename(bin)])));
  const families = v.RestrictAddressFamilies[0].split(/\s+/);
  for (const f of ["AF_NETLINK", "AF_UNIX", "AF_INET", "AF_INET6"]) assert.ok(families.includes(f), `${f} allowed`);
  const caps = v.CapabilityBoundingSet[0].split(/\s+/);
  for (const c of ["CAP_NET_ADMIN", "CAP_NET_RAW"]) assert.ok(caps.includes(c), `${c} kept`);
  assert.equal(v.MemoryDenyWriteExecute, undefined, "Node's JIT needs W+X memory");
  assert.deepEqual(v.WantedBy, ["multi-user.target"]);
  assert.ok(v.Documentation[0].includes("man:ctsyncd(8)"));
});

test("systemd-analyze verify accepts the unit", { skip: has("systemd-analyze") ? false : "no systemd-analyze" }, () => {
  const dir = mkdtempSync(join(tmpdir(), "ctsync-unit-"));
  try {
    // verify wants ExecStart's file to exist: point it at this checkout's
    // bin/ctsyncd (the unit's own path was checked above), and give man the
    // page the unit's Documentation= names.
    writeFileSync(join(dir, "ctsyncd.service"), readFileSync(unitFile, "utf8")
      .replace(/^ExecStart=\S+/m, `ExecStart=${join(ROOT, "bin/ctsyncd")}`));
    mkdirSync(join(dir, "man/man8"), { recursive: true });
    copyFileSync(MAN, join(dir, "man/man8/ctsyncd.8"));
    const manpath = spawnSync("manpath", ["-q"], { encoding: "utf8" }).stdout?.trim() || "/usr/share/man";
    const r = spawnSync("systemd-analyze", ["verify", join(dir, "ctsyncd.service")], {
      encoding: "utf8", env: { ...process.env, MANPATH: `${join(dir, "man")}:${manpath}` },
    });
    assert.equal(r.status, 0, `systemd-analyze verify:\n${r.stderr}${r.stdout}`);
    assert.equal(r.stderr.trim(), "", "no warning");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the manual page renders without a warning", { skip: has("groff") ? false : "no groff" }, () => {
  const g = spawnSync("groff", ["-man", "-ww", "-z", MAN], { encoding: "utf8" });
  assert.equal(g.status, 0);
  assert.equal(g.stderr, "", "groff -ww");
  if (has("man")) {
    const m = spawnSync("man", ["--warnings", "-l", MAN], { encoding: "utf8", env: { ...process.env, MANPAGER: "cat", PAGER: "cat" } });
    assert.equal(m.status, 0);
    assert.equal(m.stderr, "", "man --warnings");
  }
});

test("the manual page has the usual sections and names every flag of usage() and every API option", { skip: has("groff") ? false : "no groff" }, () => {
  const text = rendered();
  for (const s of ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION", "FILES", "SIGNALS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]) {
    assert.match(text, new RegExp(`^${s}$`, "m"), `section ${s}`);
  }
  const flags = usageFlags();
  assert.ok(flags.length >= 18, `usage() lists ${flags.join(" ")}`);
  for (const f of flags) {
    // a tagged paragraph opens with the flag (the options list), e.g. "       -c [ct|expect]"
    assert.match(text, new RegExp(`^ {7}(?:-\\w, )?${f}(?:[ ,]|$)`, "m"), `${f} has its paragraph`);
  }
  for (const option of Object.keys(API.handlers)) {
    assert.match(text, new RegExp(`^ {7}${option}\\b`, "m"), `API option ${option}`);
  }
  assert.match(text, /binary=\/usr\/local\/bin\/ctsyncd/, "the Pacemaker example");
  assert.match(text, /notify_master/, "the keepalived example");
});

test("the precompiled host compiles from its code cache: V8 accepts dist/ctsyncd.cache, and the bundle runs", () => {
  const host = createRequire(import.meta.url)(join(ROOT, "bin/host.cjs"));
  const cache = host.readCache();
  assert.ok(cache, `${host.CACHE} was made by the build`);
  assert.equal(host.compileHost(cache).cachedDataRejected, false, "V8 took the cache: the start does not parse the bundle again");
  assert.equal(host.compileHost(Buffer.from("not a cache")).cachedDataRejected, true, "a foreign cache is refused, not run");
  const r = spawnSync(process.execPath, [join(ROOT, "bin/host.cjs"), "-v"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ctsyncd v\d/);
});
