// Options ctsync reads and validates but does not act on yet. Each produces a
// warning naming the option and its line, never a silent no-op. Shrink this
// list as the daemon learns the option; the entries marked "ignored" are
// ones conntrackd itself ignores, so ctsync never will act on them.
import type { ConfigReader } from "./reader.ts";
import type { Token } from "./lexer.ts";

export const NOT_IMPLEMENTED = {
  Nice: "ignored: deprecated, and conntrackd ignores it too (use nice(1))",
  Backlog: "ignored: deprecated, and conntrackd ignores it too",
  IPv6_interface: "ignored: conntrackd ignores it too (Interface is enough)",
  PollSecs: "not implemented yet by ctsync: kernel events are used instead of polling",
  "From Kernelspace": "not implemented yet by ctsync: the filter is applied in user space",
  Helper: "not implemented yet by ctsync: no user-space helper is loaded",
} as const;

export type Unimplemented = keyof typeof NOT_IMPLEMENTED;

/** Records that `option`, written at `at`, is accepted but has no effect (yet). */
export function warnUnimplemented(r: ConfigReader, at: Token, option: Unimplemented): void {
  r.warn(at.line, `"${option}" is accepted but ${NOT_IMPLEMENTED[option]}`);
}
