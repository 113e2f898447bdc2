// Sync { Authenticate { ... } }: ctsync's own (conntrackd has no such block
// and would refuse the file). With it every datagram on the dedicated links
// is authenticated (assembly/auth.ts): a conntrackd peer can no longer talk
// to this node, nor anyone without the key.
//
//   Authenticate {
//       KeyFile /etc/ctsync/sync.key   # 1 or 2 lines "<id> <hex key>", the newer last
//       Cipher XChaCha20-Poly1305      # or HMAC-SHA256 (the default): authenticated only, in clear
//   }
//
// The key file is read here, so a bad one stops the daemon at start with
// "file:line: what is wrong" like the configuration itself; SIGHUP reads it
// again (a key rollover: see README.md).
import { readFileSync, statSync } from "node:fs";
import { section } from "./block.ts";
import { ConfigError } from "./error.ts";
import type { AuthConfig, AuthKey } from "./types.ts";

/** Key length in bytes: 256 bits at least (HMAC-SHA-256's own strength), a SHA-256 block at most. */
export const KEY_MIN = 32;
export const KEY_MAX = 64;

const CIPHERS: Record<string, AuthConfig["cipher"]> = { "hmac-sha256": "hmac-sha256", "xchacha20-poly1305": "xchacha20-poly1305" };

export const AUTHENTICATE = section<AuthConfig>("Sync.Authenticate", {
  Cipher(r, kw, a) {
    const t = r.word(kw, "HMAC-SHA256 or XChaCha20-Poly1305");
    const cipher = CIPHERS[t.text.toLowerCase()];
    if (!cipher) r.fail(kw.line, `unknown Cipher "${t.text}" (expected HMAC-SHA256 or XChaCha20-Poly1305)`);
    a.cipher = cipher;
  },
  KeyFile(r, kw, a) {
    a.keyFile = r.path(kw, 4096);
    try {
      a.keys = readKeyFile(a.keyFile);
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      r.fail(kw.line, (e as Error).message);
    }
  },
});

/**
 * Reads a key file: lines "<id> <key in hex>" (id 1..255; # starts a
 * comment), one or two keys, the newer last. The file must be the owner's
 * alone: a key others can read authenticates them too.
 */
export function readKeyFile(path: string): AuthKey[] {
  let text: string;
  let mode: number;
  try {
    mode = statSync(path).mode;
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`cannot read the key file ${path}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  }
  if (mode & 0o077) {
    throw new ConfigError(path, null, `the key file may be read by others (mode ${(mode & 0o777).toString(8)}): chmod 600 it`);
  }
  const keys: AuthKey[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line) keys.push(parseKeyLine(path, i + 1, line, keys));
  });
  if (!keys.length) throw new ConfigError(path, null, "the key file holds no key (lines \"<id> <hex key>\")");
  if (keys.length > 2) throw new ConfigError(path, null, `${keys.length} keys: at most two (the old and the new, during a rollover)`);
  return keys;
}

function parseKeyLine(path: string, line: number, text: string, earlier: AuthKey[]): AuthKey {
  const m = /^(\d+)\s+([0-9a-fA-F]+)$/.exec(text);
  if (!m) throw new ConfigError(path, line, "expected \"<id> <key in hex>\"");
  const id = Number(m[1]);
  if (id < 1 || id > 255) throw new ConfigError(path, line, `key id ${m[1]} is not between 1 and 255`);
  if (earlier.some((k) => k.id === id)) throw new ConfigError(path, line, `key id ${id} appears twice`);
  if (m[2].length % 2) throw new ConfigError(path, line, "the key has an odd number of hex digits");
  const key = Buffer.from(m[2], "hex");
  if (key.length < KEY_MIN) throw new ConfigError(path, line, `the key is too short: ${key.length} bytes, at least ${KEY_MIN} (openssl rand -hex ${KEY_MIN})`);
  if (key.length > KEY_MAX) throw new ConfigError(path, line, `the key is too long: ${key.length} bytes, at most ${KEY_MAX}`);
  return { id, key: new Uint8Array(key) };
}
