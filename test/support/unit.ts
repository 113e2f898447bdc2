// The systemd unit shipped in contrib/systemd, read as systemd reads the keys
// a test cares about (no line continuations or specifiers: the file has none).
import { join } from "node:path";
import { ROOT } from "./proc.ts";

export const unitFile = join(ROOT, "contrib/systemd/ctsyncd.service");

/** Every "Key=value" of the file, by key, in order (a key may repeat); comments and section headers skipped. */
export function unitValues(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#") || line.startsWith(";") || line.startsWith("[")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    (out[line.slice(0, eq).trim()] ??= []).push(line.slice(eq + 1).trim());
  }
  return out;
}

/** The [Section] names of the file, in order. */
export function unitSections(text: string): string[] {
  return [...text.matchAll(/^\[([^\]]+)\]\s*$/gm)].map((m) => m[1]);
}
