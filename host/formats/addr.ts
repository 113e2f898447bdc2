// Addresses as conntrackd prints them: IPv4 by inet_ntoa, IPv6 by glibc's
// inet_ntop (lower-case hex, the longest run of two or more zero groups
// shortened to "::", the first such run on a tie, and an IPv4 tail for
// IPv4-compatible ::a.b.c.d and mapped ::ffff:a.b.c.d addresses).

/** The 8 groups of an IPv6 address written in any standard form, or null. */
export function ipv6Groups(text: string): number[] | null {
  let tail: number[] = [];
  let body = text;
  const v4 = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const b = v4.slice(2, 6).map(Number);
    if (b.some((x) => x > 255)) return null;
    tail = [(b[0] << 8) | b[1], (b[2] << 8) | b[3]];
    body = v4[1].endsWith("::") ? v4[1] : v4[1].slice(0, -1);
  }
  const halves = body.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-fA-F]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const given = head.length + rest.length + tail.length;
  if (head.some(Number.isNaN) || rest.some(Number.isNaN)) return null;
  if (halves.length === 1) return given === 8 ? [...head, ...tail] : null;
  if (given > 7) return null;
  return [...head, ...new Array<number>(8 - given).fill(0), ...rest, ...tail];
}

/** glibc inet_ntop(AF_INET6) of the groups. */
export function ntop6(words: readonly number[]): string {
  let best = { base: -1, len: 0 };
  let cur = { base: -1, len: 0 };
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      cur = cur.base < 0 ? { base: i, len: 1 } : { base: cur.base, len: cur.len + 1 };
      if (cur.len > best.len) best = cur;
    } else {
      cur = { base: -1, len: 0 };
    }
  }
  if (best.len < 2) best = { base: -1, len: 0 };
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (best.base >= 0 && i >= best.base && i < best.base + best.len) {
      if (i === best.base) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (i === 6 && best.base === 0 && (best.len === 6 || (best.len === 5 && words[5] === 0xffff))) {
      out += `${words[6] >> 8}.${words[6] & 0xff}.${words[7] >> 8}.${words[7] & 0xff}`;
      return out;
    }
    out += words[i].toString(16);
  }
  if (best.base >= 0 && best.base + best.len === 8) out += ":";
  return out;
}

/** An address in conntrackd's spelling; text that is not an address passes unchanged. */
export function printAddr(text: string, family: "ipv4" | "ipv6"): string {
  if (family === "ipv4") return text;
  const words = ipv6Groups(text);
  return words ? ntop6(words) : text;
}
