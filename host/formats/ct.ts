// One conntrack as `conntrackd -i` prints it: libnetfilter_conntrack's
// nfct_snprintf (plain or XML, no flags) of the cached entry with its
// timeout removed, then conntrackd's " [expires in Ns]" (ALARM's external
// cache) and " [active since Ns]" (plain only), and a newline.
import type { CtEntry } from "../control/api.ts";
import type { Conntrack } from "../record-view.ts";
import {
  DCCP_STATES, SCTP_STATES, TCP_STATES, addressText, addressXml,
  l3Number, l4Name, l4Text, l4Xml, stateName, type PrintTuple,
} from "./proto.ts";

const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const IPS_OFFLOAD = 1 << 14;
const IPS_HW_OFFLOAD = 1 << 15;

/** ICMP request types and their answers, both ways (libnetfilter_conntrack's invmap). */
const ICMP_REPLY: Record<number, number> = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
const ICMPV6_REPLY: Record<number, number> = { 128: 129, 129: 128, 139: 140, 140: 139 };

export function originalTuple(ct: Conntrack): PrintTuple {
  return {
    family: ct.family, src: ct.src, dst: ct.dst, l4proto: ct.l4proto,
    sport: ct.sport ?? 0, dport: ct.dport ?? 0,
    icmp: { type: ct.icmp?.type ?? 0, code: ct.icmp?.code ?? 0, id: ct.icmp?.id ?? 0 },
  };
}

/**
 * The reply direction, which the cache does not store: the original tuple
 * reversed, with NAT applied (a DNAT address is the reply's source, an SNAT
 * address its destination; likewise the ports). ICMP keeps its id and code;
 * a request's type becomes its answer's, and a type without one prints 255,
 * as libnetfilter_conntrack's setter leaves it.
 */
export function replyTuple(ct: Conntrack): PrintTuple {
  const o = originalTuple(ct);
  const table = ct.family === "ipv4" ? ICMP_REPLY : ICMPV6_REPLY;
  return {
    family: o.family,
    src: ct.dnat ?? o.dst,
    dst: ct.snat ?? o.src,
    l4proto: o.l4proto,
    sport: ct.dpat ?? o.dport,
    dport: ct.spat ?? o.sport,
    icmp: { type: table[o.icmp.type] ?? 255, code: o.icmp.code, id: o.icmp.id },
  };
}

function protoStates(ct: Conntrack): string {
  let s = "";
  if (ct.tcpState !== undefined) s += `${stateName(TCP_STATES, ct.tcpState)} `;
  if (ct.sctp?.state !== undefined) s += `${stateName(SCTP_STATES, ct.sctp.state)} `;
  if (ct.dccp?.state !== undefined) s += `${stateName(DCCP_STATES, ct.dccp.state)} `;
  return s;
}

export function assuredText(status: number): string {
  if (status & IPS_HW_OFFLOAD) return "[HW_OFFLOAD] ";
  if (status & IPS_OFFLOAD) return "[OFFLOAD] ";
  if (status & IPS_ASSURED) return "[ASSURED] ";
  return "";
}

/** nfct_snprintf(NFCT_O_DEFAULT) without the timeout: fields in its order, one space apart. */
export function conntrackPlain(ct: Conntrack, withReply = true, deltaTime?: number): string {
  const orig = originalTuple(ct);
  const repl = replyTuple(ct);
  const st = ct.status;
  let s = `${l4Name(ct.l4proto).padEnd(8)} ${ct.l4proto} `;
  s += protoStates(ct);
  s += addressText(orig, "src", "dst") + l4Text(orig);
  if (st !== undefined && !(st & IPS_SEEN_REPLY)) s += "[UNREPLIED] ";
  if (withReply) s += addressText(repl, "src", "dst") + l4Text(repl);
  if (st !== undefined) s += assuredText(st);
  if (ct.mark !== undefined) s += `mark=${ct.mark} `;
  if (ct.zone !== undefined) s += `zone=${ct.zone} `;
  if (deltaTime !== undefined) s += `delta-time=${deltaTime} `;
  if (ct.helper !== undefined) s += `helper=${ct.helper} `;
  return s.slice(0, -1);
}

function tupleXml(t: PrintTuple, direction: "original" | "reply"): string {
  return `<meta direction="${direction}">`
    + `<layer3 protonum="${l3Number(t.family)}" protoname="${t.family}">${addressXml(t, "src")}${addressXml(t, "dst")}</layer3>`
    + `<layer4 protonum="${t.l4proto}" protoname="${l4Name(t.l4proto)}">${l4Xml(t)}</layer4>`
    + "</meta>";
}

/**
 * The "independent" meta block. libnetfilter_conntrack names SCTP and DCCP
 * states from its TCP table here (a quirk of 1.0.x kept for equal output).
 */
function independentXml(ct: Conntrack, deltaTime?: number): string {
  const st = ct.status;
  let s = "";
  if (ct.tcpState !== undefined) s += `<state>${stateName(TCP_STATES, ct.tcpState)}</state>`;
  if (ct.sctp?.state !== undefined) s += `<state>${stateName(TCP_STATES, ct.sctp.state)}</state>`;
  if (ct.dccp?.state !== undefined) s += `<state>${stateName(TCP_STATES, ct.dccp.state)}</state>`;
  if (ct.mark !== undefined) s += `<mark>${ct.mark}</mark>`;
  if (ct.zone !== undefined) s += `<zone>${ct.zone}</zone>`;
  if (ct.id !== undefined) s += `<id>${ct.id}</id>`;
  if (st !== undefined && st & IPS_ASSURED) s += "<assured/>";
  if (st !== undefined && !(st & IPS_SEEN_REPLY)) s += "<unreplied/>";
  if (deltaTime !== undefined) s += `<deltatime>${deltaTime}</deltatime>`;
  const opened = ct.tcpState !== undefined || ct.sctp?.state !== undefined || ct.dccp?.state !== undefined
    || ct.mark !== undefined || ct.zone !== undefined || st !== undefined || ct.id !== undefined
    || ct.labels !== undefined || deltaTime !== undefined;
  return opened ? `<meta direction="independent">${s}</meta>` : "";
}

/** nfct_snprintf(NFCT_O_XML) without the timeout. */
export function conntrackXml(ct: Conntrack, withReply = true, deltaTime?: number): string {
  let s = "<flow>" + tupleXml(originalTuple(ct), "original") + (withReply ? tupleXml(replyTuple(ct), "reply") : "");
  s += independentXml(ct, deltaTime);
  if (ct.helper !== undefined) s += `<helper>${ct.helper}</helper>`;
  return s + "</flow>";
}

/** conntrackd's timer and age suffixes, plain form only. */
export function entrySuffix(e: { ageSeconds: number; expiresInSeconds?: number }): string {
  const expires = e.expiresInSeconds !== undefined ? ` [expires in ${Math.trunc(e.expiresInSeconds)}s]` : "";
  return `${expires} [active since ${Math.trunc(e.ageSeconds)}s]`;
}

/** One line of -i / -e (ct), newline included. */
export function conntrackLine(e: CtEntry, format: "plain" | "xml"): string {
  const withReply = e.withReply ?? true;
  const dt = e.deltaTimeSeconds;
  return format === "xml" ? `${conntrackXml(e.ct, withReply, dt)}\n` : `${conntrackPlain(e.ct, withReply, dt)}${entrySuffix(e)}\n`;
}

