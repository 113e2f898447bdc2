// The one module that knows uWebSockets.js (the @trufflesuite/uws-js-unofficial
// build, which ships prebuilt binaries for Node 20). The rest of host/api/
// sees plain requests, plain answers and event-stream clients, so the server
// can move to another HTTP library by rewriting this file only.
//
// uWS rules kept here: a request object is valid only during its handler (so
// everything is copied out first); a response answered later needs an abort
// handler and a cork; a WebSocket is valid from open to close.
import { createRequire } from "node:module";

type Uws = typeof import("@trufflesuite/uws-js-unofficial");
type UwsResponse = import("@trufflesuite/uws-js-unofficial").HttpResponse;
type UwsSocket<T> = import("@trufflesuite/uws-js-unofficial").WebSocket<T>;

let uwsModule: Uws | null = null;

/** Loads uWS once. Its loader falls back to a slow pure-JS server when the binary does not load; we say so. */
function uws(): Uws {
  if (!uwsModule) {
    const require = createRequire(import.meta.url);
    uwsModule = require("@trufflesuite/uws-js-unofficial") as Uws;
  }
  return uwsModule;
}

/** Whether the native uWS binary is the one loaded (not the package's pure-JS fallback). */
export function uwsIsNative(): boolean {
  return String(uws().App).includes("[native code]");
}

export interface HttpRequest {
  method: string;
  /** The path without the query, e.g. "/api/stats". */
  path: string;
  query: URLSearchParams;
  /** Header values by lower-case name. */
  headers: Map<string, string>;
  /** The body, read whole (POST and PUT only; empty otherwise). */
  body: Uint8Array;
}

export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  body: string | Uint8Array;
}

export type HttpHandler = (req: HttpRequest) => HttpAnswer | Promise<HttpAnswer>;

/** One connected event-stream client, as the rest of the API sees it. */
export interface StreamClient {
  /** Sends a text message; false when it could not be queued (the client is over the hard limit). */
  send(text: string): boolean;
  /** Bytes queued for the client and not yet written to its socket (uWS getBufferedAmount). */
  bufferedAmount(): number;
  /** Closes with a WebSocket status code and reason, after what is queued; the route's close() is then called. */
  end(code: number, reason: string): void;
  /** Closes the connection at once, discarding what is queued; the route's close() is then called. */
  abort(): void;
  /** Cork: pack the sends made in fn into one write. */
  batch(fn: () => void): void;
}

export interface StreamRoute<T> {
  path: string;
  /** Decides on an upgrade request: the client's data to keep, or an HTTP answer refusing it. */
  accept(req: HttpRequest): { data: T } | { refuse: HttpAnswer };
  open(client: StreamClient, data: T): void;
  close(client: StreamClient): void;
  /** Hard limit of uWS's own queue per client; past it sends fail. */
  maxBackpressure: number;
}

export interface HttpServerOptions<T> {
  host: string;
  /** 0: any free port. */
  port: number;
  handle: HttpHandler;
  stream: StreamRoute<T>;
  /** Largest request body accepted; a larger one is answered 413. */
  maxBody: number;
  onError: (message: string) => void;
}

export interface HttpServer {
  port: number;
  close(): Promise<void>;
}

const STATUS_TEXT: Record<number, string> = {
  200: "OK", 204: "No Content", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
  405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 426: "Upgrade Required",
  500: "Internal Server Error", 503: "Service Unavailable",
};

function copyRequest(req: import("@trufflesuite/uws-js-unofficial").HttpRequest): HttpRequest {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k.toLowerCase(), v));
  return {
    method: req.getMethod().toUpperCase(),
    path: req.getUrl(),
    query: new URLSearchParams(req.getQuery() ?? ""),
    headers,
    body: new Uint8Array(0),
  };
}

function writeAnswer(res: UwsResponse, a: HttpAnswer): void {
  res.writeStatus(`${a.status} ${STATUS_TEXT[a.status] ?? "Status"}`);
  for (const [k, v] of Object.entries(a.headers ?? {})) res.writeHeader(k, v);
  res.end(a.body);
}

export function startHttpServer<T>(opts: HttpServerOptions<T>): Promise<HttpServer> {
  const u = uws();
  const app = u.App();
  type Conn = { data: T; client: StreamClient; closed: () => void };
  const sockets = new Set<UwsSocket<Conn>>();
  const pending = new Set<UwsResponse>();

  app.ws<Conn>(opts.stream.path, {
    maxPayloadLength: 4096,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    maxBackpressure: opts.stream.maxBackpressure,
    closeOnBackpressureLimit: 1,
    upgrade(res, req, context) {
      const r = copyRequest(req);
      const key = req.getHeader("sec-websocket-key");
      const protocol = req.getHeader("sec-websocket-protocol");
      const extensions = req.getHeader("sec-websocket-extensions");
      const verdict = opts.stream.accept(r);
      if ("refuse" in verdict) {
        writeAnswer(res, verdict.refuse);
        return;
      }
      const conn: Conn = { data: verdict.data, client: null as unknown as StreamClient, closed: () => undefined };
      res.upgrade(conn, key, protocol, extensions, context);
    },
    open(ws) {
      sockets.add(ws);
      const ud = ws.getUserData();
      let open = true;
      ud.client = {
        send: (text) => open && ws.send(text, false, false) !== 2,
        bufferedAmount: () => (open ? ws.getBufferedAmount() : 0),
        end: (code, reason) => { if (open) { open = false; ws.end(code, reason); } },
        abort: () => { if (open) { open = false; ws.close(); } },
        batch: (fn) => { if (open) ws.cork(fn); },
      };
      ud.closed = () => { open = false; };
      opts.stream.open(ud.client, ud.data);
    },
    close(ws) {
      sockets.delete(ws);
      const ud = ws.getUserData();
      ud.closed();
      opts.stream.close(ud.client);
    },
  });

  app.any("/*", (res, req) => {
    const r = copyRequest(req);
    let aborted = false;
    pending.add(res);
    res.onAborted(() => { aborted = true; pending.delete(res); });
    const answer = (a: HttpAnswer) => {
      if (aborted) return;
      pending.delete(res);
      res.cork(() => writeAnswer(res, a));
    };
    const run = () => {
      Promise.resolve()
        .then(() => opts.handle(r))
        .then(answer, (e: Error) => {
          opts.onError(`API ${r.method} ${r.path}: ${e.message}`);
          answer({ status: 500, headers: { "content-type": "application/json" }, body: `${JSON.stringify({ error: e.message })}\n` });
        });
    };
    if (r.method !== "POST" && r.method !== "PUT") return run();
    const chunks: Uint8Array[] = [];
    let size = 0;
    let tooLarge = false;
    res.onData((chunk, isLast) => {
      if (!tooLarge) {
        size += chunk.byteLength;
        if (size > opts.maxBody) tooLarge = true;
        else chunks.push(new Uint8Array(chunk.slice(0)));
      }
      if (!isLast) return;
      if (tooLarge) {
        answer({ status: 413, headers: { "content-type": "application/json" }, body: `${JSON.stringify({ error: `request body larger than ${opts.maxBody} bytes` })}\n` });
        return;
      }
      r.body = new Uint8Array(size);
      let at = 0;
      for (const c of chunks) { r.body.set(c, at); at += c.byteLength; }
      run();
    });
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (listenSocket) => {
      if (!listenSocket) {
        reject(new Error(`cannot listen on ${opts.host} port ${opts.port} (address in use, or not an address of this host)`));
        return;
      }
      const port = u.us_socket_local_port(listenSocket as unknown as import("@trufflesuite/uws-js-unofficial").us_socket);
      resolve({
        port,
        close: async () => {
          u.us_listen_socket_close(listenSocket);
          for (const ws of [...sockets]) ws.close();
          for (const res of [...pending]) res.close();
        },
      });
    });
  });
}
