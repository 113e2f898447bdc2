// `ctsyncd <client command>`: what conntrackd's client does (main.c,
// local.c). Connect to the daemon's UNIX socket, write the request int,
// copy everything the daemon sends to stdout until it closes, exit 0. Only a
// failure to connect or to send is an error (exit 1). It talks to a real
// conntrackd as well, except for ctsync's JSON requests, which conntrackd
// answers with silence: that is reported rather than printed as nothing.
import { createConnection } from "node:net";
import type { Writable } from "node:stream";
import type { ClientRequest } from "./cli.ts";
import { requestWords } from "./requests.ts";
import { encodeRequest } from "./server.ts";

export interface ClientIo {
  stdout: Writable;
  stderr: Writable;
}

const REASONS: Record<string, string> = {
  ENOENT: "no such socket file",
  ECONNREFUSED: "connection refused (no daemon listens on it)",
  EACCES: "permission denied",
  ENOTSOCK: "not a socket",
  ENOTDIR: "a component of the path is not a directory",
};

function reason(e: NodeJS.ErrnoException): string {
  return (e.code && REASONS[e.code]) ?? e.message;
}

export type Exchange =
  | { ok: true; bytes: number }
  | { ok: false; message: string };

/**
 * Sends one request code and copies the answer to `sink` as it arrives.
 * Fails only if the connection or the write fails, as conntrackd's client.
 */
export function exchange(path: string, code: number | number[], sink: Writable): Promise<Exchange> {
  return new Promise((resolve) => {
    let connected = false;
    let bytes = 0;
    const sock = createConnection(path);
    // A reader that went away (`ctsyncd -i | head`) ends the copy quietly.
    const onSinkError = () => { sock.destroy(); resolve({ ok: true, bytes }); };
    sink.once("error", onSinkError);
    sock.once("close", () => sink.removeListener("error", onSinkError));
    sock.once("connect", () => {
      connected = true;
      for (const word of typeof code === "number" ? [code] : code) sock.write(encodeRequest(word));
    });
    sock.on("data", (d: Uint8Array) => {
      bytes += d.length;
      if (!sink.write(d)) {
        sock.pause();
        sink.once("drain", () => sock.resume());
      }
    });
    sock.once("end", () => resolve({ ok: true, bytes }));
    sock.once("error", (e: NodeJS.ErrnoException) => {
      sock.destroy();
      if (!connected) {
        resolve({ ok: false, message: `cannot connect to the daemon at ${path}: ${reason(e)}; is ctsyncd running?` });
      } else {
        // conntrackd's client stops reading on an error and still exits 0.
        resolve({ ok: true, bytes });
      }
    });
  });
}

/** Runs a client command against the daemon at `socketPath`; returns the exit status. */
export async function runClient(request: ClientRequest, socketPath: string | null, io: ClientIo): Promise<number> {
  const say = (m: string) => io.stderr.write(`ctsyncd: ${m}\n`);
  if (socketPath === null) {
    say("the configuration has no UNIX { Path }, so there is no control socket to send the request to");
    return 1;
  }
  const result = await exchange(socketPath, requestWords(request), io.stdout);
  if (!result.ok) {
    say(result.message);
    return 1;
  }
  const json = (request.kind === "dump" || request.kind === "stats") && request.format === "json";
  if (json && result.bytes === 0) {
    say(`the daemon at ${socketPath} sent no JSON answer: JSON output (-j) needs ctsyncd, and conntrackd does not know it`);
    return 1;
  }
  return 0;
}
