// The API section: ctsync's own (conntrackd has no such section and would
// refuse the file), enabling the live HTTP and WebSocket API of host/api/:
//
//   API {
//       Enabled on              # default on once the section is there
//       Address 127.0.0.1       # IPv4 or IPv6; default 127.0.0.1
//       Port 8080               # default 8080
//       Token s3cretS3cret      # bearer token of the control actions; none: actions refused
//       MaxBackpressure 1048576 # bytes an event-stream client may lag before it is dropped
//   }
import { section } from "./block.ts";
import { ipv4Problem, ipv6Problem } from "./address.ts";
import type { ApiConfig } from "./types.ts";

export const API_DEFAULTS = {
  address: "127.0.0.1",
  port: 8080,
  maxBackpressure: 1048576,
  /** A shorter Token is accepted with a warning. */
  minTokenLength: 16,
} as const;

export function defaultApi(line: number): ApiConfig {
  return {
    line,
    enabled: true,
    address: API_DEFAULTS.address,
    port: API_DEFAULTS.port,
    token: null,
    maxBackpressure: API_DEFAULTS.maxBackpressure,
  };
}

const isLoopback = (a: string) => a.startsWith("127.") || a === "::1";

export const API = section<ApiConfig>("API", {
  Enabled(r, kw, a) {
    a.enabled = r.bool(kw);
  },
  Address(r, kw, a) {
    const t = r.word(kw, "an IPv4 or IPv6 address");
    const problem = t.text.includes(":") ? ipv6Problem(t.text) : ipv4Problem(t.text);
    if (problem) r.fail(kw.line, `invalid address after ${kw.text}: ${problem}`);
    if (!isLoopback(t.text)) {
      r.warn(kw.line, `the API listens on ${t.text}, beyond this host: its reads (caches, statistics, events) need no token`);
    }
    a.address = t.text;
  },
  Port(r, kw, a) {
    a.port = r.numberIn(kw, 1, 65535);
  },
  Token(r, kw, a) {
    const t = r.word(kw, "a token");
    if (!/^[\x21-\x7e]+$/.test(t.text)) r.fail(kw.line, "Token must be printable ASCII without spaces");
    if (t.text.length < API_DEFAULTS.minTokenLength) {
      r.warn(kw.line, `Token is short (${t.text.length} characters); use at least ${API_DEFAULTS.minTokenLength}`);
    }
    a.token = t.text;
  },
  MaxBackpressure(r, kw, a) {
    a.maxBackpressure = r.numberIn(kw, 1024, 2147483647);
  },
});
