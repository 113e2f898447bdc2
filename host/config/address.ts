// Address literals of conntrackd.conf: IPv4 and IPv6 addresses, optionally
// with a "/prefix". Each check returns null when the text is valid, or the
// reason it is not, so the caller can say where.
import { isIPv6 } from "node:net";
import type { Cidr } from "./types.ts";

export function ipv4Problem(text: string): string | null {
  const parts = text.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^[0-9]{1,3}$/.test(p))) {
    return `"${text}" is not an IPv4 address`;
  }
  // inet_aton() reads "010" as octal 8: refuse rather than guess.
  if (parts.some((p) => p.length > 1 && p.startsWith("0"))) {
    return `"${text}" has a part with a leading zero, which conntrackd would read as octal`;
  }
  if (parts.some((p) => Number(p) > 255)) {
    return `"${text}" is not an IPv4 address (a part is above 255)`;
  }
  return null;
}

export function ipv6Problem(text: string): string | null {
  if (text.includes("%")) return `"${text}" carries a zone; conntrackd.conf takes the interface separately`;
  return isIPv6(text) ? null : `"${text}" is not an IPv6 address`;
}

/** Parses "a.b.c.d[/n]" or "x::y[/n]"; returns the reason as a string when invalid. */
export function parseCidr(text: string, family: 4 | 6): Cidr | string {
  const max = family === 4 ? 32 : 128;
  const slash = text.indexOf("/");
  const address = slash === -1 ? text : text.slice(0, slash);
  const problem = family === 4 ? ipv4Problem(address) : ipv6Problem(address);
  if (problem) return problem;
  if (slash === -1) return { address, prefix: max };
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    return `"${text}" has an invalid prefix length (expected /0 to /${max})`;
  }
  return { address, prefix: Number(prefixText) };
}
