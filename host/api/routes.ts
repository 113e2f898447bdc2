// The API's HTTP routes: reads (stats, caches, cluster, metrics, the
// dashboard) open to whoever reaches the address, actions behind the bearer
// token. Answers are JSON (the core's -j elements for entries, formats/json.ts for stats),
// errors {"error": "why", ...} with the matching status.
import { timingSafeEqual, createHash } from "node:crypto";
import type { CacheWhich, KindSet, RecordKind } from "../control/api.ts";
import { gatherStats } from "../control/server.ts";
import { requestName } from "../control/requests.ts";
import type { StatsSection } from "../control/cli.ts";
import { toJson } from "../formats/json.ts";
import { page } from "../formats/text-dump.ts";

const utf8 = new TextDecoder();
import type { HttpAnswer, HttpRequest } from "./http-adapter.ts";
import type { ApiSource } from "./source.ts";
import type { EventHubCounters } from "./events.ts";
import { metricsText } from "./metrics.ts";
import { DASHBOARD_HTML } from "./dashboard.ts";

export const PAGE = { defaultLimit: 100, maxLimit: 1000 } as const;

export const STATS_SECTIONS: readonly StatsSection[] = [
  "general", "expect", "network", "cache", "link", "rsqueue", "queue", "runtime", "process",
];

/** Every route, as the 404 answer and GET /api list them. */
export const ENDPOINTS = [
  "GET /                                        the dashboard",
  "GET /api                                     this list",
  "GET /api/stats                               every -s section",
  "GET /api/stats/{section}                     one section: " + STATS_SECTIONS.join(", "),
  "GET /api/cache/{internal|external}/{ct|expect}?offset=0&limit=100   a page of a cache (limit 1 to 1000)",
  "GET /api/cluster                             links, resend queue, peers",
  "GET /metrics                                 Prometheus text format",
  "WS  /api/events?kinds=ct,exp,peer,commit     the event stream",
  "POST /api/commit  {\"kinds\": \"ct|expect|both\", \"origin\": nodeid?}     (token)",
  "POST /api/flush   {\"cache\": \"internal|external|both\"}               (token)",
  "POST /api/resync  {\"from\": \"kernel|peers\", \"kinds\": \"ct|expect|both\"} (token)",
  "POST /api/bulk                               send the internal cache to the peers (token)",
].map((s) => s.replace(/ {2,}/g, "  "));

const JSON_TYPE = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { ...JSON_TYPE, ...headers }, body: `${toJson(value)}\n` };
}

function rawJson(status: number, text: string): HttpAnswer {
  return { status, headers: JSON_TYPE, body: text };
}

export const error = (status: number, message: string, extra: object = {}, headers: Record<string, string> = {}) =>
  json(status, { error: message, ...extra }, headers);

/** A request the client got wrong: answered with `answer` by the dispatcher. */
class Refusal extends Error {
  constructor(readonly answer: HttpAnswer) {
    super("refused");
  }
}
const refuse = (status: number, message: string, extra: object = {}, headers: Record<string, string> = {}): never => {
  throw new Refusal(error(status, message, extra, headers));
};

type Route = { method: "GET" | "POST"; match: (parts: string[]) => boolean; run: (req: HttpRequest, parts: string[]) => Promise<HttpAnswer> | HttpAnswer };

export interface RouterOptions {
  source: ApiSource;
  token: string | null;
  hub: () => EventHubCounters;
  now?: () => number;
}

export class Router {
  private readonly routes: Route[];
  private readonly tokenHash: Uint8Array | null;

  constructor(private readonly o: RouterOptions) {
    this.tokenHash = o.token === null ? null : sha256(o.token);
    const eq = (...want: string[]) => (p: string[]) => p.length === want.length && want.every((w, i) => w === "*" || w === p[i]);
    this.routes = [
      { method: "GET", match: eq(), run: () => ({ status: 200, headers: DASHBOARD_HEADERS, body: DASHBOARD_HTML }) },
      { method: "GET", match: eq("api"), run: () => json(200, { endpoints: ENDPOINTS }) },
      { method: "GET", match: eq("api", "stats"), run: () => this.allStats() },
      { method: "GET", match: eq("api", "stats", "*"), run: (_r, p) => this.oneStats(p[2]) },
      { method: "GET", match: eq("api", "cache", "*", "*"), run: (r, p) => this.cachePage(r, p[2], p[3]) },
      { method: "GET", match: eq("api", "cluster"), run: () => this.cluster() },
      { method: "GET", match: eq("metrics"), run: async () => ({ status: 200, headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" }, body: await metricsText(o.source, o.hub()) }) },
      { method: "GET", match: eq("api", "events"), run: () => error(426, "/api/events is a WebSocket: connect with an Upgrade: websocket request", {}, { upgrade: "websocket" }) },
      { method: "POST", match: eq("api", "commit"), run: (r) => this.action(r, () => this.commit(r)) },
      { method: "POST", match: eq("api", "flush"), run: (r) => this.action(r, () => this.flush(r)) },
      { method: "POST", match: eq("api", "resync"), run: (r) => this.action(r, () => this.resync(r)) },
      { method: "POST", match: eq("api", "bulk"), run: (r) => this.action(r, () => this.bulk()) },
    ];
  }

  async handle(req: HttpRequest): Promise<HttpAnswer> {
    const parts = req.path.split("/").filter(Boolean);
    const matching = this.routes.filter((r) => r.match(parts));
    if (matching.length === 0) return error(404, `no such endpoint: ${req.path}`, { endpoints: ENDPOINTS });
    const route = matching.find((r) => r.method === req.method);
    if (!route) {
      const allow = [...new Set(matching.map((r) => r.method))].join(", ");
      return error(405, `${req.method} is not allowed on ${req.path} (allowed: ${allow})`, {}, { allow });
    }
    try {
      return await route.run(req, parts);
    } catch (e) {
      if (e instanceof Refusal) return e.answer;
      throw e;
    }
  }

  // --- reads ---------------------------------------------------------------

  private async section(section: StatsSection): Promise<object> {
    const local = await this.o.source.controlCounters();
    const now = this.o.now?.() ?? Math.floor(Date.now() / 1000);
    const name = requestName({ kind: "stats", section, format: "json" });
    const data = await gatherStats(this.o.source, name, local, now);
    return typeof data === "string" ? { section, unavailable: data } : data;
  }

  private async allStats(): Promise<HttpAnswer> {
    const out: Record<string, object> = {};
    for (const s of STATS_SECTIONS) out[s] = await this.section(s);
    return json(200, out);
  }

  private async oneStats(name: string): Promise<HttpAnswer> {
    if (!(STATS_SECTIONS as readonly string[]).includes(name)) {
      return error(404, `no such statistics section: ${name}`, { sections: STATS_SECTIONS });
    }
    return json(200, await this.section(name as StatsSection));
  }

  private async cachePage(req: HttpRequest, which: string, kind: string): Promise<HttpAnswer> {
    if (which !== "internal" && which !== "external") return error(404, `no such cache: ${which} (internal or external)`, { endpoints: ENDPOINTS });
    if (kind !== "ct" && kind !== "expect") return error(404, `no such record kind: ${kind} (ct or expect)`, { endpoints: ENDPOINTS });
    const offset = intParam(req, "offset", 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req, "limit", PAGE.defaultLimit, 1, PAGE.maxLimit);
    const s = this.o.source;
    if (kind === "expect" && !s.expectationSync) return error(409, "ExpectationSync is off: there is no expectation cache");
    const total = (await s.cacheCounters(which, kind)).active;
    const walk = await s.textDump(which, kind, "json", false);
    walk.skip(offset);
    const { bytes, entries: count, more } = page(walk, limit);
    const head = toJson({ cache: which, kind, offset, limit, total, count, next: more ? offset + limit : null });
    return rawJson(200, `${head.slice(0, -1)},"entries":[${bytes.map((b) => utf8.decode(b)).join("")}]}\n`);
  }

  private async cluster(): Promise<HttpAnswer> {
    const s = this.o.source;
    const [links, peers, runtime, history] = await Promise.all([s.links(), s.peers(), s.runtime(), s.commitHistory()]);
    const rsqueue = s.mode === "ftfw" ? (await s.resendQueue()).length : null;
    const counts: Record<string, number> = {};
    const kinds: RecordKind[] = s.expectationSync ? ["ct", "expect"] : ["ct"];
    for (const which of ["internal", "external"] as const) {
      for (const kind of kinds) counts[`${which}_${kind}`] = (await s.cacheCounters(which, kind)).active;
    }
    return json(200, {
      mode: s.mode,
      expectationSync: s.expectationSync,
      startTime: runtime.startTime,
      links: links.map((l, index) => ({
        index, type: l.type, device: l.device, status: l.status, role: l.active ? "ACTIVE" : "BACKUP",
        sent: l.sent, received: l.received, ...(l.tcp ? { tcp: l.tcp } : {}),
      })),
      resendQueue: rsqueue === null ? null : { length: rsqueue },
      peers,
      caches: {
        internal: { ct: counts.internal_ct, expect: counts.internal_expect ?? null },
        external: { ct: counts.external_ct, expect: counts.external_expect ?? null },
      },
      lastCommit: history.last,
    });
  }

  // --- actions -------------------------------------------------------------

  private async action(req: HttpRequest, run: () => Promise<HttpAnswer>): Promise<HttpAnswer> {
    const auth = req.headers.get("authorization");
    const challenge = { "www-authenticate": 'Bearer realm="ctsync"' };
    if (this.tokenHash === null) return error(403, "control actions are disabled: the API section has no Token");
    if (!auth) return error(401, "missing Authorization: Bearer <token>", {}, challenge);
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) return error(401, "the Authorization header must be \"Bearer <token>\"", {}, challenge);
    if (!timingSafeEqual(sha256(m[1]), this.tokenHash)) return error(403, "wrong token");
    return run();
  }

  private async commit(req: HttpRequest): Promise<HttpAnswer> {
    const body = readBody(req);
    const s = this.o.source;
    const kinds = kindSet(body, "kinds", s.expectationSync ? "both" : "ct");
    if (kinds !== "ct" && !s.expectationSync) {
      if (kinds === "expect") refuse(409, "ExpectationSync is off: there is no expectation cache to commit");
    }
    const effective: KindSet = kinds === "both" && !s.expectationSync ? "ct" : kinds;
    const origin = originParam(body);
    const result = await s.commit(effective, origin);
    return json(result.status === "busy" ? 409 : 200, {
      ok: result.status === "done", request: "commit", kinds: effective, ...(origin !== undefined ? { origin } : {}), ...result,
    });
  }

  private async flush(req: HttpRequest): Promise<HttpAnswer> {
    const body = readBody(req);
    const cache = oneOf(body, "cache", ["internal", "external", "both"] as const, "both");
    // As -f: internal and external flush conntracks; both adds expectations when they are synced.
    const kinds: RecordKind[] = cache === "both" && this.o.source.expectationSync ? ["ct", "expect"] : ["ct"];
    await this.o.source.flushCache(cache as CacheWhich | "both", kinds);
    return json(200, { ok: true, request: "flush", cache, kinds });
  }

  private async resync(req: HttpRequest): Promise<HttpAnswer> {
    const body = readBody(req);
    const s = this.o.source;
    const from = oneOf(body, "from", ["kernel", "peers"] as const, "kernel");
    if (from === "peers") {
      if (s.mode === "alarm") refuse(409, "a resync from the peers (-n) needs FTFW or NOTRACK mode");
      await s.requestResync();
      return json(200, { ok: true, request: "resync", from });
    }
    const kinds = kindSet(body, "kinds", s.expectationSync ? "both" : "ct");
    if (kinds === "expect" && !s.expectationSync) refuse(409, "ExpectationSync is off: there is no expectation cache");
    const effective: KindSet = kinds === "both" && !s.expectationSync ? "ct" : kinds;
    await s.resyncWithKernel(effective);
    return json(200, { ok: true, request: "resync", from, kinds: effective });
  }

  private async bulk(): Promise<HttpAnswer> {
    if (this.o.source.mode === "alarm") refuse(409, "a bulk send (-B) needs FTFW or NOTRACK mode");
    await this.o.source.bulkSend();
    return json(200, { ok: true, request: "bulk" });
  }
}

const DASHBOARD_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  // Nothing is fetched from elsewhere: inline script and style, data from this server only.
  "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
};

function sha256(s: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(s).digest());
}

/** An integer query parameter within [min, max], or a 400. */
function intParam(req: HttpRequest, name: string, fallback: number, min: number, max: number): number {
  const text = req.query.get(name);
  if (text === null || text === "") return fallback;
  if (!/^[0-9]+$/.test(text)) refuse(400, `${name} must be a whole number from ${min} to ${max}, got "${text}"`);
  const n = Number(text);
  if (n < min || n > max) refuse(400, `${name} must be from ${min} to ${max}, got ${text}`);
  return n;
}

/** The request's parameters: the JSON body's fields, else the query's. */
function readBody(req: HttpRequest): Record<string, unknown> {
  const params: Record<string, unknown> = Object.fromEntries(req.query);
  if (req.body.length === 0) return params;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(req.body).toString("utf8"));
  } catch (e) {
    refuse(400, `the body is not JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) refuse(400, "the body must be a JSON object");
  return { ...params, ...(parsed as Record<string, unknown>) };
}

function oneOf<T extends string>(p: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const v = p[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v)) {
    refuse(400, `${name} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

/** "origin": a Corosync node id, to commit only that member's entries (-c --origin); absent: all. */
function originParam(p: Record<string, unknown>): number | undefined {
  const v = p.origin;
  if (v === undefined) return undefined;
  const n = typeof v === "string" && /^[0-9]{1,10}$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 0xfffffffe) {
    refuse(400, `origin must be a Corosync node id from 1 to 4294967294, got ${JSON.stringify(v)}`);
  }
  return n as number;
}

function kindSet(p: Record<string, unknown>, name: string, fallback: KindSet): KindSet {
  return oneOf(p, name, ["ct", "expect", "both"] as const, fallback);
}
