// The live API: HTTP routes (routes.ts), the event stream (events.ts) and
// the dashboard (dashboard.ts), served by uWebSockets.js (http-adapter.ts)
// on the API section's address. The daemon calls startApi() when the
// configuration has an enabled API section, and close() when it stops.
import type { ApiConfig } from "../config/types.ts";
import { startHttpServer, uwsIsNative } from "./http-adapter.ts";
import { EventHub, parseKinds } from "./events.ts";
import { error, Router } from "./routes.ts";
import type { ApiEventType, ApiSource } from "./source.ts";

export type { ApiSource } from "./source.ts";
export type ApiLog = (level: "notice" | "warning" | "ERROR", msg: string) => void;

export interface ApiServer {
  close(): Promise<void>;
  /** The port listened on (the configured one, or the one chosen for Port 0 in tests). */
  port: number;
}

/** Events queued between two flushes to the clients; more are counted as dropped. */
const MAX_PENDING_EVENTS = 65536;
/** Largest request body (the actions' JSON parameters). */
const MAX_BODY = 16 * 1024;

/**
 * Starts the API on cfg.address and cfg.port. Throws when it cannot listen;
 * with cfg.enabled false it does nothing (and answers a closed server on port 0).
 */
export async function startApi(source: ApiSource, cfg: ApiConfig, log: ApiLog): Promise<ApiServer> {
  if (!cfg.enabled) return { port: 0, close: async () => undefined };
  if (!uwsIsNative()) log("warning", "API: the native uWebSockets.js binary did not load; serving with its slower JavaScript fallback");
  const hub = new EventHub(source, {
    maxBackpressure: cfg.maxBackpressure,
    maxPending: MAX_PENDING_EVENTS,
    log: (level, msg) => log(level, msg),
  });
  const router = new Router({ source, token: cfg.token, hub: () => ({ ...hub.counters }) });
  const server = await startHttpServer<{ types: ReadonlySet<ApiEventType>; peer: string }>({
    host: cfg.address,
    port: cfg.port,
    maxBody: MAX_BODY,
    handle: (req) => router.handle(req),
    onError: (msg) => log("ERROR", msg),
    stream: {
      path: "/api/events",
      maxBackpressure: cfg.maxBackpressure * 2,
      accept(req) {
        const types = parseKinds(req.query.get("kinds"));
        if (typeof types === "string") return { refuse: error(400, types) };
        return { data: { types, peer: req.headers.get("x-forwarded-for") ?? "" } };
      },
      open: (client, data) => hub.add(client, data.types, data.peer),
      close: (client) => hub.remove(client),
    },
  });
  const where = cfg.address.includes(":") ? `[${cfg.address}]:${server.port}` : `${cfg.address}:${server.port}`;
  log("notice", `API listening on http://${where}/ (actions ${cfg.token ? "need the token" : "disabled: no Token"})`);
  return {
    port: server.port,
    close: async () => {
      hub.close();
      await server.close();
    },
  };
}
