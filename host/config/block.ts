// "Keyword { option value ... }" blocks. Each block kind is a Section: a
// table from option keyword to the function that reads its value. Sections
// register themselves, so an unknown option can be answered with where that
// keyword does belong, or with its right spelling: conntrackd matches
// keywords case-sensitively, and so do we.
import type { ConfigReader } from "./reader.ts";
import { describe } from "./reader.ts";
import type { Token } from "./lexer.ts";

export type Handler<T> = (r: ConfigReader, kw: Token, target: T) => void;

export interface Section<T> {
  /** How messages name the block, e.g. "Sync.Multicast". */
  label: string;
  handlers: Record<string, Handler<T>>;
}

const placesOf = new Map<string, string[]>();

export function section<T>(label: string, handlers: Record<string, Handler<T>>): Section<T> {
  for (const keyword of Object.keys(handlers)) {
    placesOf.set(keyword, [...(placesOf.get(keyword) ?? []), label]);
  }
  return { label, handlers };
}

/** Reads "{" after `opener`. */
export function expectOpen(r: ConfigReader, opener: Token, label: string): void {
  const t = r.next();
  if (!t || t.kind !== "open") r.fail(opener.line, `expected "{" after ${label}, found ${describe(t)}`);
}

/**
 * Reads "{ ... }" after `opener`, handing each option to its handler.
 * `label` overrides the section's own name when the block has one, e.g.
 * "Sync.Mode FTFW".
 */
export function readBlock<T>(r: ConfigReader, opener: Token, s: Section<T>, target: T, label = s.label): void {
  expectOpen(r, opener, label);
  forEachItem(r, opener, label, (t) => {
    if (t.kind !== "word") r.fail(t.line, `unexpected "{" in ${label}`);
    const handler = Object.hasOwn(s.handlers, t.text) ? s.handlers[t.text] : undefined;
    if (!handler) r.fail(t.line, unknownOption(t.text, label));
    handler(r, t, target);
  });
}

/** Calls `item` for each token up to the "}" closing a block opened at `opener`. */
export function forEachItem(r: ConfigReader, opener: Token, label: string, item: (t: Token) => void): void {
  for (;;) {
    const t = r.next();
    if (!t) r.fail(opener.line, `missing "}" to close ${label} (opened here)`);
    if (t.kind === "close") return;
    item(t);
  }
}

export function unknownOption(keyword: string, label: string): string {
  return `unknown option "${keyword}" in ${label}${hint(keyword, label)}`;
}

/** " (it belongs in X)", " (did you mean ...)" or "". */
export function hint(keyword: string, label: string): string {
  const places = placesOf.get(keyword)?.filter((p) => p !== label);
  if (places?.length) return ` (it belongs in ${places.join(" or ")})`;
  const lower = keyword.toLowerCase();
  for (const known of placesOf.keys()) {
    if (known.toLowerCase() === lower) return ` (keywords are case-sensitive: did you mean "${known}"?)`;
  }
  return "";
}
