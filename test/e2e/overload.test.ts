// Overload of the sync link (issue 14): a link that loses everything for a
// while, and a peer that stops reading. The primary's memory stays bounded
// (the resend queue within ResendQueueSize, the rest waits in the cache's
// transmit queue) and FTFW loses nothing for good once the link is back.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { Pair, until } from "../support/pair.ts";
import { isRoot, ROOT } from "../support/netns.ts";

const skip = isRoot() ? false : "needs root (network namespaces)";
const N = 20000;
const RESEND_QUEUE = 2000;

const external = (p: Pair) => Number(/cache:external\tactive objects:\s+(\d+)/.exec(Pair.ctl(p.b, "-s", "cache").stdout)?.[1] ?? -1);
const resendQueue = (p: Pair) => Number(/resent queue \(len=(\d+)\)/.exec(Pair.ctl(p.a, "-s", "rsqueue").stdout)?.[1] ?? -1);
const inject = (p: Pair) => {
  const r = Pair.run(p.a, process.execPath, ["--import", "tsx", join(ROOT, "bench/injector.ts"), String(N)]);
  assert.equal(r.status, 0, r.stderr);
};

/** Drops the sync link's datagrams both ways on B (nft, before conntrack); the returned function lifts it. */
function cutLink(p: Pair): () => void {
  const rules = "table inet ctsync_loss {\n chain in { type filter hook input priority raw - 10; udp dport 3780 drop; }\n"
    + " chain out { type filter hook output priority raw - 10; udp dport 3780 drop; }\n}\n";
  const r = Pair.run(p.b, "sh", ["-c", `printf '%s' '${rules}' | nft -f -`]);
  assert.equal(r.status, 0, r.stderr);
  return () => assert.equal(Pair.run(p.b, "nft", ["delete", "table", "inet", "ctsync_loss"]).status, 0);
}

test("a link at 100% loss for a while: the resend queue stays bounded, and every entry arrives once it recovers", { skip }, async () => {
  const p = new Pair("ol", { modeOptions: `ResendQueueSize ${RESEND_QUEUE}` });
  try {
    Pair.start(p.a);
    Pair.start(p.b);
    await until(() => external(p) === 0, 5000);
    const restore = cutLink(p);
    inject(p);
    let most = 0;
    for (let i = 0; i < 10; i++) {
      most = Math.max(most, resendQueue(p));
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(most > 0 && most <= RESEND_QUEUE, `resend queue held ${most} (ResendQueueSize ${RESEND_QUEUE})`);
    assert.ok(external(p) < N, "nothing crossed the cut link");
    restore();
    assert.ok(await until(() => external(p) === N, 60_000), `B holds ${external(p)} of ${N} after the link came back`);
  } finally {
    p.close();
  }
});

test("a peer that stops reading for a while: every entry arrives once it reads again", { skip }, async () => {
  const p = new Pair("os", { modeOptions: `ResendQueueSize ${RESEND_QUEUE}` });
  try {
    Pair.start(p.a);
    const pid = Pair.start(p.b);
    await until(() => external(p) === 0, 5000);
    process.kill(pid, "SIGSTOP");
    try {
      inject(p);
      await new Promise((r) => setTimeout(r, 2000));
      const held = resendQueue(p);
      assert.ok(held <= RESEND_QUEUE, `resend queue held ${held}`);
    } finally {
      process.kill(pid, "SIGCONT");
    }
    assert.ok(await until(() => external(p) === N, 60_000), `B holds ${external(p)} of ${N} after it read again`);
    assert.doesNotMatch(Pair.logOf(p.a), /send queue is full/, "the send queue never filled: FTFW's window held the data back");
  } finally {
    p.close();
  }
});
