// Lines of `conntrack -L`, `conntrack -L expect` and the daemons' `-i`/`-e`
// dumps, taken apart into fields so that two of them can be compared field by
// field. What legitimately differs is dropped: the kernel's timeout countdown,
// `use=`, and the `[active since N]` age of a daemon's cache entry. A
// daemon's external cache (`-e`) prints no reply tuple, so comparing with a
// kernel line drops the reply tuple from both unless asked to keep it.
import type { SyncNode } from "./interop-lab.ts";

/** A cache entry's age ("[active since 3s]") and, in ALARM mode, its timer ("[expires in 27s]"). */
export const dropAge = (line: string) => line.replace(/\[active since \d+s\]/, "").replace(/\[expires in \d+s\]/, "");

const TUPLE_KEYS = new Set(["src", "dst", "sport", "dport", "type", "code", "id"]);

export interface CtFields {
  /** proto and the original tuple: the entry's identity. */
  key: string;
  fields: string[];
}

/** One conntrack line as its fields; reply tuple kept only if asked. */
export function ctFields(line: string, keepReply = false): CtFields {
  let t = dropAge(line).trim().split(/\s+/);
  if (/^\d+$/.test(t[2] ?? "")) t = [...t.slice(0, 2), ...t.slice(3)]; // the kernel's timeout
  t = t.filter((f) => !f.startsWith("use="));
  const out: string[] = [];
  const key: string[] = [t[0]];
  let tuples = 0;
  for (const f of t) {
    const k = f.includes("=") ? f.slice(0, f.indexOf("=")) : "";
    const isTupleField = TUPLE_KEYS.has(k);
    if (k === "src") tuples++; // every tuple starts with src=
    if (tuples === 1 && isTupleField) key.push(f);
    if (tuples === 2 && isTupleField && !keepReply) continue;
    out.push(f);
  }
  return { key: key.join(" "), fields: out };
}

/** conntrack lines as a map from identity to fields (only those whose line passes `keep`). */
export function ctMap(text: string, keep: (line: string) => boolean = () => true, keepReply = false): Record<string, string[]> {
  const m: Record<string, string[]> = {};
  for (const line of text.split("\n")) {
    if (!line.trim() || /flow entries have been|expectations have been/.test(line) || !keep(line)) continue;
    const f = ctFields(line, keepReply);
    m[f.key] = f.fields;
  }
  return m;
}

/** An expectation line as fields (the kernel's leading timeout and the daemon's age dropped). */
export function expFields(line: string): string[] {
  const t = dropAge(line).trim().split(/\s+/);
  return /^\d+$/.test(t[0]) ? t.slice(1) : t;
}

export function expList(text: string, keep: (line: string) => boolean = () => true): string[][] {
  return text.split("\n").filter((l) => l.trim() && !/have been shown/.test(l) && keep(l)).map(expFields)
    .sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
}

/** Lines of the node's external (or internal) conntrack cache. */
export async function cacheLines(node: SyncNode, which: "-e" | "-i", kind: "ct" | "exp" = "ct"): Promise<string> {
  return node.ctlOk(kind === "exp" ? [which, "expect"] : [which, "ct"]);
}

/** The number of entries a daemon's cache holds, from `-s cache`'s "active objects" (internal, external). */
export async function cacheActive(node: SyncNode): Promise<{ internal: number; external: number }> {
  const out = await node.ctlOk(["-s", "cache"]);
  const pick = (which: string) => {
    const m = new RegExp(`cache:${which}\\s+active objects:\\s+(\\d+)`).exec(out);
    return m ? Number(m[1]) : NaN;
  };
  return { internal: pick("internal"), external: pick("external") };
}

/** The counters of `-s network` (recv side) and the first link of `-s link`, by their printed names. */
export async function netCounters(node: SyncNode): Promise<Record<string, number>> {
  const out = await node.ctlOk(["-s", "network"]);
  const r: Record<string, number> = {};
  let section = "";
  for (const line of out.split("\n")) {
    if (/^\s*recv:/.test(line)) section = section.includes("sequence") ? "seq" : "recv";
    else if (/^\s*send:/.test(line)) section = "send";
    else if (/^sequence/.test(line)) section = "sequence";
    const m = /^\s+([A-Za-z][A-Za-z ]+):\s+(\d+)\s*$/.exec(line);
    if (m) r[`${section}.${m[1].trim()}`] = Number(m[2]);
    const traffic = /(\d+) Pckts sent\s+(\d+) Pckts recv/.exec(line);
    if (traffic) { r["link.Pckts sent"] = Number(traffic[1]); r["link.Pckts recv"] = Number(traffic[2]); }
    const bytes = /(\d+) Bytes sent\s+(\d+) Bytes recv/.exec(line);
    if (bytes) { r["link.Bytes sent"] = Number(bytes[1]); r["link.Bytes recv"] = Number(bytes[2]); }
  }
  return r;
}
