// The host's side of authentication (host/links/authentication.ts): each
// start takes an epoch above the last one and writes it before anything is
// sent; the peer's epoch is kept as the next start's hint; a state file that
// cannot be written stops the start; SIGHUP's key reload keeps the keys in
// use when the file went bad.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, statSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { loadCore } from "../host/core.ts";
import { Logger } from "../host/process/log.ts";
import { SyncAuth } from "../host/links/authentication.ts";
import type { AuthConfig } from "../host/config/load.ts";

const dir = mkdtempSync(join(tmpdir(), "ctsync-auth-state-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const keyFile = join(dir, "k");
writeFileSync(keyFile, `1 ${"ab".repeat(32)}\n`, { mode: 0o600 });
const config: AuthConfig = { line: 1, keyFile, cipher: "hmac-sha256", keys: [{ id: 1, key: new Uint8Array(32).fill(0xab) }] };

function start(lock: string, lines: string[] = []) {
  const core = loadCore();
  const log = new Logger(null, false, [(level, message) => { lines.push(`${level} ${message}`); }]);
  const auth = SyncAuth.start(core, config, lock, log);
  return { core, auth };
}
const counterOf = (lock: string) => (JSON.parse(readFileSync(`${lock}.auth`, "utf8")) as { counter: number }).counter;

test("each start takes an epoch above the last one (and at least the clock's seconds), written 0600 before anything is sent", () => {
  const lock = join(dir, "a.lock");
  const first = start(lock).core.fn.authEpoch();
  const c1 = counterOf(lock);
  assert.ok(c1 >= Math.floor(Date.now() / 1000) - 1);
  assert.equal(Number(first >> 32n), c1);
  assert.equal(statSync(`${lock}.auth`).mode & 0o777, 0o600);
  start(lock);
  assert.equal(counterOf(lock), c1 + 1, "a second start in the same second still moves on");
  writeFileSync(`${lock}.auth`, "garbage");
  start(lock);
  assert.ok(counterOf(lock) >= Math.floor(Date.now() / 1000), "a spoilt file: the clock stands in");
});

test("the peer's epoch is kept as the next start's hint", () => {
  const lock = join(dir, "b.lock");
  const a = start(join(dir, "peer.lock")), b = start(lock);
  // a's beacon reaches b: b takes a's epoch and keeps it
  a.core.fn.engineInit(a.core.k("MODE_NOTRACK"), 64, 1024, 300, 1000, 60, 180, 0, 1, 1000);
  a.core.fn.handleTimeout(2000);
  a.core.fn.engineXmit();
  const [beacon] = a.core.takeOutbox();
  b.core.fn.engineInit(b.core.k("MODE_NOTRACK"), 64, 1024, 300, 1000, 60, 180, 0, 1, 1000);
  b.core.bytes.set(beacon, b.core.fn.rxPtr());
  b.core.fn.engineRx(beacon.length, 0);
  b.auth.afterReceive(0, () => "10.0.0.1");
  const state = JSON.parse(readFileSync(`${lock}.auth`, "utf8")) as { peerEpoch: string };
  assert.equal(BigInt(state.peerEpoch), a.core.fn.authEpoch());
});

test("a state file that cannot be written stops the start, naming it", () => {
  const lock = join(dir, "c.lock");
  mkdirSync(`${lock}.auth.tmp`); // where it is written first: a directory, even root cannot
  assert.throws(() => start(lock), /cannot write the authentication state file .*c\.lock\.auth \(next to the LockFile\): .*EISDIR/);
});

test("SIGHUP's reload: a bad key file is logged and the keys in use are kept", () => {
  const lines: string[] = [];
  const { auth } = start(join(dir, "d.lock"), lines);
  writeFileSync(keyFile, "1 abcd\n");
  auth.reloadKeys();
  assert.ok(lines.some((l) => /keeping the keys in use: .*the key is too short/.test(l)), lines.join("\n"));
  writeFileSync(keyFile, `1 ${"ab".repeat(32)}\n2 ${"cd".repeat(32)}\n`);
  auth.reloadKeys();
  assert.ok(lines.some((l) => /read again: key 1 and 2/.test(l)), lines.join("\n"));
});
