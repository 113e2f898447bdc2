// The request codes a conntrackd client writes to the daemon's UNIX socket:
// one native int per connection, then it reads the answer until the daemon
// closes. Values from conntrack-tools 1.4.7 include/conntrackd.h; ctsync
// answers the same codes so the real `conntrackd -C ... -i` can talk to it.
import type { ClientRequest, StatsSection, Target } from "./cli.ts";

export const CONTROL_REQUEST = {
  CT_FLUSH_MASTER: 0,
  CT_RESYNC_MASTER: 1,
  CT_DUMP_INTERNAL: 16,
  CT_DUMP_EXTERNAL: 17,
  CT_COMMIT: 18,
  CT_FLUSH_CACHE: 19,
  KILL: 20,
  STATS: 21,
  SEND_BULK: 22,
  REQUEST_DUMP: 23,
  CT_DUMP_INT_XML: 24,
  CT_DUMP_EXT_XML: 25,
  RESET_TIMERS: 26,
  DEBUG_INFO: 27, // unused by conntrackd
  STATS_NETWORK: 28,
  STATS_CACHE: 29,
  STATS_RUNTIME: 30,
  STATS_LINK: 31,
  STATS_RSQUEUE: 32,
  CT_FLUSH_INT_CACHE: 33,
  CT_FLUSH_EXT_CACHE: 34,
  STATS_PROCESS: 35,
  STATS_QUEUE: 36,
  EXP_STATS: 37,
  EXP_FLUSH_MASTER: 38,
  EXP_RESYNC_MASTER: 39,
  EXP_DUMP_INTERNAL: 40,
  EXP_DUMP_EXTERNAL: 41,
  EXP_COMMIT: 42,
  ALL_FLUSH_MASTER: 43,
  ALL_RESYNC_MASTER: 44,
  ALL_FLUSH_CACHE: 45,
  ALL_COMMIT: 46,
  EXP_DUMP_INT_XML: 47,
  EXP_DUMP_EXT_XML: 48,
} as const;

export type ControlRequestName = keyof typeof CONTROL_REQUEST;

/**
 * ctsync's own: a JSON answer is asked for by OR-ing this bit into the code
 * of the plain request (CT_DUMP_INTERNAL | JSON). The codes above stay
 * conntrackd's; conntrackd itself does not know these, so only ctsync
 * answers them.
 */
export const CTSYNC_JSON_FLAG = 0x100;

/**
 * ctsync's own: the request (-c, -e) is about one Corosync member's entries;
 * a second native int, the member's node id, follows the code.
 */
export const CTSYNC_ORIGIN_FLAG = 0x200;

type R = ControlRequestName;

const BY_TARGET: Record<"commit" | "flush-kernel" | "resync-kernel", Record<Target, R>> = {
  commit: { ct: "CT_COMMIT", expect: "EXP_COMMIT", both: "ALL_COMMIT" },
  "flush-kernel": { ct: "CT_FLUSH_MASTER", expect: "EXP_FLUSH_MASTER", both: "ALL_FLUSH_MASTER" },
  "resync-kernel": { ct: "CT_RESYNC_MASTER", expect: "EXP_RESYNC_MASTER", both: "ALL_RESYNC_MASTER" },
};

/** [plain, xml] per cache and target. */
const DUMP: Record<"internal" | "external", Record<"ct" | "expect", [R, R]>> = {
  internal: { ct: ["CT_DUMP_INTERNAL", "CT_DUMP_INT_XML"], expect: ["EXP_DUMP_INTERNAL", "EXP_DUMP_INT_XML"] },
  external: { ct: ["CT_DUMP_EXTERNAL", "CT_DUMP_EXT_XML"], expect: ["EXP_DUMP_EXTERNAL", "EXP_DUMP_EXT_XML"] },
};

const STATS: Record<StatsSection, R> = {
  general: "STATS", network: "STATS_NETWORK", cache: "STATS_CACHE", runtime: "STATS_RUNTIME",
  link: "STATS_LINK", rsqueue: "STATS_RSQUEUE", process: "STATS_PROCESS", queue: "STATS_QUEUE",
  expect: "EXP_STATS",
};

const FLUSH_CACHE: Record<"internal" | "external" | "both", R> = {
  internal: "CT_FLUSH_INT_CACHE", external: "CT_FLUSH_EXT_CACHE", both: "ALL_FLUSH_CACHE",
};

/** The conntrackd request a client command becomes (before any JSON flag). */
export function requestName(req: ClientRequest): ControlRequestName {
  switch (req.kind) {
    case "dump": return DUMP[req.cache][req.target][req.format === "xml" ? 1 : 0];
    case "stats": return STATS[req.section];
    case "commit": case "flush-kernel": case "resync-kernel": return BY_TARGET[req.kind][req.target];
    case "flush-cache": return FLUSH_CACHE[req.cache];
    case "request-resync": return "REQUEST_DUMP";
    case "bulk-send": return "SEND_BULK";
    case "reset-timers": return "RESET_TIMERS";
    case "kill": return "KILL";
  }
}

/** The int to write on the socket. */
export function requestCode(req: ClientRequest): number {
  const code = CONTROL_REQUEST[requestName(req)];
  const json = (req.kind === "dump" || req.kind === "stats") && req.format === "json";
  const origin = (req.kind === "dump" || req.kind === "commit") && req.origin !== undefined;
  return (json ? code | CTSYNC_JSON_FLAG : code) | (origin ? CTSYNC_ORIGIN_FLAG : 0);
}

/** The ints to write on the socket: the code, then the origin when it has one. */
export function requestWords(req: ClientRequest): number[] {
  const code = requestCode(req);
  return code & CTSYNC_ORIGIN_FLAG ? [code, (req as { origin: number }).origin] : [code];
}
