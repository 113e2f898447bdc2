// The control socket as an adversary uses it (issue 15's attack surface):
// garbage, oversized requests, hundreds of clients at once, clients that
// connect and say nothing, and one that asks for a dump and never reads it.
// Meanwhile the daemon must keep syncing (a new flow still reaches the peer)
// and keep answering an honest client; the bad requests are counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, type Socket } from "node:net";
import { Pair, until } from "../support/pair.ts";
import { isRoot, ROOT } from "../support/netns.ts";
import { join } from "node:path";

const skip = isRoot() ? false : "needs root (network namespaces)";

/** Connects, trying again while the listen backlog is full (EAGAIN): the adversary insists. */
async function connect(path: string): Promise<Socket> {
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = createConnection(path);
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

const counter = (text: string, name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);

test("garbage, oversized and silent clients by the hundred, and a reader that never reads: sync and honest clients go on", { skip, timeout: 120_000 }, async () => {
  const p = new Pair("ca");
  const open: Socket[] = [];
  try {
    Pair.start(p.a);
    Pair.start(p.b);
    // 20,000 flows: a dump of them (about 3 MB) is far more than a socket buffer holds.
    const inj = Pair.run(p.a, process.execPath, ["--import", "tsx", join(ROOT, "bench/injector.ts"), "20000"]);
    assert.equal(inj.status, 0, inj.stderr);
    const before = Pair.ctl(p.a, "-s", "runtime").stdout;

    // A dump whose reader never reads: the daemon must not wait on it.
    const stuck = await connect(p.a.sock);
    stuck.pause();
    stuck.write(new Uint8Array(new Int32Array([16]).buffer)); // CT_DUMP_INTERNAL, in this machine's byte order
    open.push(stuck);
    // 300 at once: garbage codes, 64 KiB requests, and clients that say nothing.
    for (let i = 0; i < 300; i++) {
      const s = await connect(p.a.sock);
      s.on("error", () => {});
      s.on("data", () => {});
      if (i % 3 === 0) s.write(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
      else if (i % 3 === 1) s.write(new Uint8Array(65536).fill(0x41));
      open.push(s);
    }

    // Sync goes on: a flow made now reaches the peer.
    Pair.run(p.a, "conntrack", ["-I", "-p", "tcp", "-s", "192.0.2.77", "-d", "198.51.100.77", "--sport", "4077", "--dport", "443", "--state", "ESTABLISHED", "-t", "300"]);
    assert.ok(await until(() => Pair.ctl(p.b, "-e").stdout.includes("src=192.0.2.77"), 10_000), "the new flow reached the peer");
    // An honest client is answered.
    const honest = Pair.ctl(p.a, "-s");
    assert.equal(honest.status, 0, honest.stderr);
    assert.match(honest.stdout, /cache internal:/);

    // The garbage is counted; the silent ones are given up on (the 5 s request timeout) and counted too.
    assert.ok(await until(() => {
      const now = Pair.ctl(p.a, "-s", "runtime").stdout;
      return counter(now, "local unknown request") - counter(before, "local unknown request") >= 200
        && counter(now, "local read failed") - counter(before, "local read failed") >= 100;
    }, 15_000), `counted: ${Pair.ctl(p.a, "-s", "runtime").stdout}`);
    assert.equal(Pair.ctl(p.a, "-s").status, 0, "still answering");
  } finally {
    for (const s of open) s.destroy();
    p.close();
  }
});
