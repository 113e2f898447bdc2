// Loads the golden vectors captured from conntrackd 1.4.7 and the kernel
// (test/fixtures/sync, test/fixtures/ctnetlink; see test/fixtures/capture).
import { readdirSync, readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

export const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

export interface FixtureMessage {
  hex: string;
  step?: string;
  entry?: string;
  note?: string;
  kind?: string;
  [key: string]: unknown;
}

export interface FixtureEntry {
  id: string;
  kind: string;
  [key: string]: unknown;
}

export interface FixtureFile {
  name: string;
  scenario: string;
  entries: FixtureEntry[];
  messages: FixtureMessage[];
  [key: string]: unknown;
}

export function loadFixtures(dir: "sync" | "ctnetlink"): FixtureFile[] {
  const path = join(FIXTURES, dir);
  if (!existsSync(path)) return [];
  return readdirSync(path)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => ({ name: f, ...JSON.parse(readFileSync(join(path, f), "utf8")) }) as FixtureFile);
}

export const hexBytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, "hex"));
