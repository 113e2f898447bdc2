// Names and per-protocol tuple fields as libnetfilter_conntrack (1.0.x)
// prints them, for the Stats log's lines (host/stats/log.ts); the dumps'
// are the core's (assembly/format-parts.ts).
import { printAddr } from "./addr.ts";
import type { Family } from "../record-view.ts";

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, DCCP: 33, GRE: 47, ICMPV6: 58, SCTP: 132, UDPLITE: 136 } as const;

const L4_NAMES: Record<number, string> = {
  1: "icmp", 6: "tcp", 17: "udp", 33: "dccp", 47: "gre", 58: "icmpv6", 132: "sctp", 136: "udplite",
};

export function l4Name(proto: number): string {
  return L4_NAMES[proto] ?? "unknown";
}

export const TCP_STATES = [
  "NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
  "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2",
];
export const SCTP_STATES = [
  "NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT",
  "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED",
];
export const DCCP_STATES = [
  "NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID",
];

/** Out-of-range states print as the table's NONE. */
export function stateName(table: readonly string[], state: number): string {
  return table[state] ?? table[0];
}

/** A tuple ready to print: ports are 0 when absent, as in a zeroed C struct. */
export interface PrintTuple {
  family: Family;
  src: string;
  dst: string;
  l4proto: number;
  sport: number;
  dport: number;
  icmp: { type: number; code: number; id: number };
}

export function hasPorts(proto: number): boolean {
  return proto === IPPROTO.TCP || proto === IPPROTO.UDP || proto === IPPROTO.UDPLITE
    || proto === IPPROTO.SCTP || proto === IPPROTO.DCCP;
}

/** "src=A dst=B " with the given tags. */
export function addressText(t: PrintTuple, srcTag: string, dstTag: string): string {
  return `${srcTag}=${printAddr(t.src, t.family)} ${dstTag}=${printAddr(t.dst, t.family)} `;
}

/** "sport=N dport=N ", GRE keys, ICMP type/code/id, or nothing. */
export function l4Text(t: PrintTuple): string {
  if (hasPorts(t.l4proto)) return `sport=${t.sport} dport=${t.dport} `;
  if (t.l4proto === IPPROTO.GRE) return `srckey=0x${t.sport.toString(16)} dstkey=0x${t.dport.toString(16)} `;
  if (t.l4proto === IPPROTO.ICMP || t.l4proto === IPPROTO.ICMPV6) {
    return `type=${t.icmp.type} code=${t.icmp.code} id=${t.icmp.id} `;
  }
  return "";
}


