// The configuration file as an adversary writes it: 10,000 mutations of the
// example configurations (Debian's conntrackd examples and ours), each parsed
// as the daemon would. Never a crash: either a configuration, or a
// ConfigError whose message is "file:line: what is wrong" with a line that
// exists in the file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, parseConfig } from "../host/config/load.ts";

const FIXTURES = fileURLToPath(new URL("./fixtures/conf", import.meta.url));
const EXAMPLES = "/usr/share/doc/conntrackd/examples";

function seeds(): string[] {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".conf")).map((f) => join(FIXTURES, f));
  for (const mode of ["ftfw", "alarm", "notrack"]) {
    const f = join(EXAMPLES, "sync", mode, "conntrackd.conf");
    if (existsSync(f)) files.push(f);
  }
  return files.map((f) => readFileSync(f, "utf8"));
}

/** A small deterministic generator (xorshift32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

const PIECES = ["{", "}", "\n", " ", "#", '"', "-1", "0", "4294967296", "99999999999999999999", "on", "off", "::1",
  "256.1.1.1", "10.0.0.1/33", "Sync", "General", "Mode", "FTFW", "UDP", "TCP", "Multicast", "Filter", "Address",
  "Accept", "Ignore", "IPv4_address", "HashSize", "LockFile", "UNIX", "Path", "\u0000", "\u00e9", "x".repeat(5000)];

function mutate(text: string, next: () => number): string {
  const tokens = text.split(/(\s+|[{}])/);
  const edits = 1 + (next() % 4);
  for (let e = 0; e < edits; e++) {
    const at = next() % Math.max(tokens.length, 1);
    switch (next() % 5) {
      case 0: tokens.splice(at, 1); break; // drop a token
      case 1: tokens.splice(at, 0, PIECES[next() % PIECES.length]); break; // insert a piece
      case 2: tokens[at] = PIECES[next() % PIECES.length]; break; // replace a token
      case 3: tokens.splice(at, 0, tokens[next() % tokens.length] ?? ""); break; // repeat a token elsewhere
      default: { // cut the file short
        tokens.length = at;
      }
    }
  }
  return tokens.join("");
}

test("10,000 mutated configurations: each is a configuration or a file:line error, never a crash", () => {
  const pool = seeds();
  assert.ok(pool.length >= 5, "the example configurations are there");
  const next = rng(0xc0f1);
  let accepted = 0, refused = 0;
  for (let i = 0; i < 10_000; i++) {
    const text = mutate(pool[next() % pool.length], next);
    const lines = text.split("\n").length;
    try {
      parseConfig(text, "fuzz.conf");
      accepted++;
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        assert.fail(`mutation ${i} crashed the parser: ${(err as Error).stack}\n--- the file:\n${text.slice(0, 2000)}`);
      }
      const m = /^fuzz\.conf:(\d+): \S/.exec(err.message);
      assert.ok(m, `mutation ${i}: the message does not say file:line: ${err.message}`);
      const line = Number(m[1]);
      assert.ok(line >= 1 && line <= lines + 1, `mutation ${i}: line ${line} is not in a file of ${lines} lines`);
      refused++;
    }
  }
  assert.ok(refused > 1_000 && accepted > 100, `refused ${refused}, accepted ${accepted}: the mutations reach both outcomes`);
});
