// General.Filter: "Filter [From Userspace|Kernelspace] { Protocol|Address|State
// Accept|Ignore { ... } }". Several Filter blocks, or several lists of one
// kind, add up, as in conntrackd; the policy of a kind is the last one given.
import type { ConfigReader } from "./reader.ts";
import { describe } from "./reader.ts";
import type { Token } from "./lexer.ts";
import { expectOpen, forEachItem, readBlock, section } from "./block.ts";
import { parseCidr } from "./address.ts";
import { lookupProtocol } from "./protocols.ts";
import { warnUnimplemented } from "./unimplemented.ts";
import type { FilterConfig, Policy, TcpState } from "./types.ts";

const TCP_STATES: Record<string, TcpState> = {
  SYN_SENT: "SYN_SENT", SYN_RECV: "SYN_RECV", ESTABLISHED: "ESTABLISHED",
  FIN_WAIT: "FIN_WAIT", CLOSE_WAIT: "CLOSE_WAIT", LAST_ACK: "LAST_ACK",
  TIME_WAIT: "TIME_WAIT", CLOSE: "CLOSED", CLOSED: "CLOSED", LISTEN: "LISTEN",
};

/** Reads what follows the Filter keyword into `general.filter`. */
export function readFilter(r: ConfigReader, kw: Token, holder: { filter: FilterConfig | null }): void {
  const filter = holder.filter ?? { line: kw.line, from: "userspace", protocol: null, address: null, state: null };
  holder.filter = filter;
  filter.from = readFrom(r, kw);
  if (filter.from === "kernelspace") warnUnimplemented(r, kw, "From Kernelspace");
  readBlock(r, kw, FILTER, filter);
}

function readFrom(r: ConfigReader, kw: Token): "userspace" | "kernelspace" {
  if (r.peek()?.text !== "From") return "userspace";
  const from = r.next()!;
  const where = r.word(from, "Userspace or Kernelspace");
  if (where.text === "Userspace") return "userspace";
  if (where.text === "Kernelspace") return "kernelspace";
  return r.fail(kw.line, `expected Userspace or Kernelspace after Filter From, found "${where.text}"`);
}

function readPolicy(r: ConfigReader, kw: Token, label: string): Policy {
  const t = r.word(kw, "Accept or Ignore");
  if (t.text === "Accept") return "accept";
  if (t.text === "Ignore") return "ignore";
  return r.fail(kw.line, `expected Accept or Ignore after ${label}, found "${t.text}"`);
}

/** A later list with another policy turns the earlier entries over too: say so. */
function notePolicy(r: ConfigReader, kw: Token, label: string, old: Policy | undefined, now: Policy): void {
  if (old && old !== now) {
    r.warn(kw.line, `${label} ${now === "accept" ? "Accept" : "Ignore"} overrides the earlier policy: every listed entry is now ${now === "accept" ? "accepted" : "ignored"}, as in conntrackd`);
  }
}

const FILTER = section<FilterConfig>("General.Filter", {
  Protocol(r, kw, f) {
    const policy = readPolicy(r, kw, "Protocol");
    notePolicy(r, kw, "Protocol", f.protocol?.policy, policy);
    const list = (f.protocol ??= { line: kw.line, policy, protocols: [] });
    list.policy = policy;
    readList(r, kw, "General.Filter.Protocol", (t) => {
      const proto = lookupProtocol(t.text);
      if (!proto) return r.fail(t.line, `unknown protocol "${t.text}" in General.Filter.Protocol (names as in /etc/protocols, e.g. TCP, UDP, SCTP, DCCP, ICMP, IPv6-ICMP)`);
      if (!list.protocols.some((p) => p.number === proto.number)) list.protocols.push(proto);
    });
  },
  Address(r, kw, f) {
    const policy = readPolicy(r, kw, "Address");
    notePolicy(r, kw, "Address", f.address?.policy, policy);
    const list = (f.address ??= { line: kw.line, policy, ipv4: [], ipv6: [] });
    list.policy = policy;
    readBlock(r, kw, ADDRESS, list);
  },
  State(r, kw, f) {
    const policy = readPolicy(r, kw, "State");
    notePolicy(r, kw, "State", f.state?.policy, policy);
    const list = (f.state ??= { line: kw.line, policy, tcp: [] });
    list.policy = policy;
    readStates(r, kw, list.tcp);
  },
});

type AddressList = NonNullable<FilterConfig["address"]>;

const ADDRESS = section<AddressList>("General.Filter.Address", {
  IPv4_address: (r, kw, list) => addTo(list, 4, r, kw),
  IPv6_address: (r, kw, list) => addTo(list, 6, r, kw),
});

function addTo(list: AddressList, family: 4 | 6, r: ConfigReader, kw: Token): void {
  const t = r.word(kw, family === 4 ? "an IPv4 address" : "an IPv6 address");
  const cidr = parseCidr(t.text, family);
  if (typeof cidr === "string") r.fail(kw.line, `invalid address after ${kw.text}: ${cidr}`);
  const into = family === 4 ? list.ipv4 : list.ipv6;
  if (into.some((c) => c.address === cidr.address && c.prefix === cidr.prefix)) {
    r.warn(kw.line, `${t.text} is listed twice in General.Filter.Address`);
    return;
  }
  into.push(cidr);
}

/** "{ word word ... }" where each word is one entry. */
function readList(r: ConfigReader, kw: Token, label: string, entry: (t: Token) => void): void {
  expectOpen(r, kw, label);
  forEachItem(r, kw, label, (t) => {
    if (t.kind !== "word") r.fail(t.line, `unexpected "{" in ${label}`);
    entry(t);
  });
}

/** "{ STATE ... for TCP STATE ... for TCP }": states count once "for TCP" closes them. */
function readStates(r: ConfigReader, kw: Token, into: TcpState[]): void {
  const label = "General.Filter.State";
  let pending: TcpState[] = [];
  let pendingLine = kw.line;
  readList(r, kw, label, (t) => {
    if (t.text === "for") {
      const proto = r.next();
      if (proto?.text !== "TCP") r.fail(t.line, `expected TCP after "for" in ${label}, found ${describe(proto)} (only TCP has states)`);
      for (const s of pending) if (!into.includes(s)) into.push(s);
      pending = [];
      return;
    }
    const state = Object.hasOwn(TCP_STATES, t.text) ? TCP_STATES[t.text] : undefined;
    if (!state) return r.fail(t.line, `unknown TCP state "${t.text}" in ${label} (expected ${Object.keys(TCP_STATES).join(", ")})`);
    if (!pending.length) pendingLine = t.line;
    pending.push(state);
  });
  if (pending.length) r.fail(pendingLine, `TCP states in ${label} must end with "for TCP"`);
}
