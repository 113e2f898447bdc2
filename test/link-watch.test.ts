// LinkWatch hears of link state changes from rtnetlink, as conntrackd does:
// it wakes when a device is added or set up or down, and not while nothing
// changes (no polling: an idle daemon does no work for its links).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Netns, ROOT, isRoot } from "./support/netns.ts";
import { until } from "./support/pair.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("LinkWatch wakes on each device change, and never while nothing changes", { skip: !isRoot() && "needs root for namespaces" }, async () => {
  const ns = new Netns("lwatch");
  const child = spawn("ip", ["netns", "exec", ns.name, process.execPath, "--import", "tsx", join(ROOT, "test/support/link-watch-child.ts")],
    { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let lines: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => lines.push(...d.split("\n").filter(Boolean)));
  const waitFor = async (what: string) => assert.ok(await until(() => lines.includes(what)), `no "${what}" (saw ${JSON.stringify(lines)})`);
  try {
    await waitFor("ready");
    lines = [];
    await sleep(500);
    assert.deepEqual(lines, [], "woke with nothing changed");
    ns.exec("ip", ["link", "add", "lw0", "type", "veth", "peer", "name", "lw1"]);
    await waitFor("change");
    lines = [];
    ns.exec("ip", ["link", "set", "lw0", "up"]);
    await waitFor("change");
    lines = [];
    ns.exec("ip", ["link", "set", "lw0", "down"]);
    await waitFor("change");
  } finally {
    child.kill();
    ns.delete();
  }
});
