// ctsync's JSON answers (conntrackd has none). A client asks for one by
// OR-ing CTSYNC_JSON_FLAG (0x100) into conntrackd's request code; the daemon
// answers one JSON document and a newline, then closes:
//
//   dumps (-i/-e [ct|expect] -j): an array, one element per cache entry,
//     {"ageSeconds": 5, "ct": {...}} or {"ageSeconds": 5, "exp": {...}},
//     plus "expiresInSeconds" in ALARM's external cache. "ct" and "exp" are
//     record-view.ts's Conntrack and Expectation (addresses as text, the
//     kernel's numbers as numbers: status bits, TCP state, ...); a conntrack
//     also gets "reply", its derived reply tuple {src, dst, sport, dport} or
//     {src, dst, icmp}. The core writes them (assembly/format-ct.ts,
//     format-exp.ts); the same elements make the API's cache pages.
//   stats (-s [section] -j): the section's StatsData (format-stats.ts), with
//     "section" first; 64-bit counters are numbers, or decimal strings once
//     beyond 2^53.
//   actions (-c, -f, -F, -R, -n, -B, -t, -k with the flag): {"ok": true,
//     "request": "CT_COMMIT"}, and for a commit its CommitResult fields.
//   a request that cannot be answered: {"error": "why"}.
import type { StatsData } from "./stats.ts";

/** JSON.stringify that writes bigints as numbers when exact, else as strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  });
}

export function statsJson(d: StatsData): string {
  return `${toJson(d)}\n`;
}

export function actionJson(request: string, result: object = {}): string {
  return `${toJson({ ok: true, request, ...result })}\n`;
}

export function errorJson(message: string): string {
  return `${toJson({ error: message })}\n`;
}
