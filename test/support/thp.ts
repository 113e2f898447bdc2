// Transparent huge pages as a test sees them: the machine's mode, and which
// mappings of a process the kernel would back with huge pages.
import { readFileSync } from "node:fs";

/** The THP mode: "always", "madvise" or "never" ("none" without THP). */
export const thpMode = (() => {
  try { return /\[(\w+)\]/.exec(readFileSync("/sys/kernel/mm/transparent_hugepage/enabled", "utf8"))?.[1] ?? "none"; } catch { return "none"; }
})();

/** Why a test of the advice cannot run here, or false. */
export const thpSkip: string | false = thpMode !== "madvise" && `THP is "${thpMode}" here: only "madvise" tells an advised mapping from the rest`;

/** Sizes (KiB) of a process's mappings the kernel would back with huge pages: its anonymous ones, or all of them. */
export function eligibleOf(pid: number | "self", anonymousOnly = true): number[] {
  return readFileSync(`/proc/${pid}/smaps`, "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)
    .filter((m) => /THPeligible:\s+1/.test(m) && (!anonymousOnly || / 00:00 0\s*\n/.test(m)))
    .map((m) => Number(/\nSize:\s+(\d+) kB/.exec(m)![1]));
}
