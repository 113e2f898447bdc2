// The Helper section: user-space conntrack helpers fed through NFQUEUE.
// "Type name family proto { QueueNum; QueueLen; Policy name { ExpectMax;
// ExpectTimeout } }". conntrackd refuses a helper it does not ship, or one
// asked for on a protocol it does not handle, so we check the same list.
import type { ConfigReader } from "./reader.ts";
import type { Token } from "./lexer.ts";
import { readBlock, section } from "./block.ts";
import type { HelperConfig, HelperPolicy, HelperType } from "./types.ts";

/** The helpers conntrack-tools 1.4.7 ships, with the protocols each handles. */
const SHIPPED: Record<string, readonly ("tcp" | "udp")[]> = {
  amanda: ["udp"], dhcpv6: ["udp"], ftp: ["tcp"], mdns: ["udp"], rpc: ["tcp", "udp"],
  sane: ["tcp"], slp: ["udp"], ssdp: ["tcp", "udp"], tftp: ["udp"], tns: ["tcp"],
};

export const HELPER = section<HelperConfig>("Helper", {
  Setup(r, kw, h) {
    h.setup = r.bool(kw);
  },
  Type(r, kw, h) {
    h.types.push(readType(r, kw));
  },
});

function readType(r: ConfigReader, kw: Token): HelperType {
  const name = r.word(kw, "a helper name").text;
  const family = r.word(kw, "a family (inet or inet6)").text;
  const protocol = r.word(kw, "a protocol (tcp or udp)").text;
  if (family !== "inet" && family !== "inet6") r.fail(kw.line, `unknown layer 3 protocol "${family}" in Helper.Type (expected inet or inet6)`);
  if (protocol !== "tcp" && protocol !== "udp") r.fail(kw.line, `unknown layer 4 protocol "${protocol}" in Helper.Type (expected tcp or udp)`);
  const protocols = Object.hasOwn(SHIPPED, name) ? SHIPPED[name] : undefined;
  if (!protocols) r.fail(kw.line, `unknown helper "${name}" (conntrackd ships ${Object.keys(SHIPPED).join(", ")})`);
  if (!protocols.includes(protocol)) r.fail(kw.line, `helper "${name}" does not handle ${protocol} (only ${protocols.join(" and ")})`);
  const type: HelperType = { line: kw.line, name, family, protocol, queueNum: 0, queueLen: null, policies: [] };
  readBlock(r, kw, TYPE, type, `Helper.Type ${name}`);
  return type;
}

const TYPE = section<HelperType>("Helper.Type", {
  QueueNum(r, kw, t) {
    t.queueNum = r.numberIn(kw, 0, 65535);
  },
  QueueLen(r, kw, t) {
    t.queueLen = r.number(kw) || null; // 0 keeps the kernel's default, as conntrackd sends none
  },
  Policy(r, kw, t) {
    t.policies.push(readPolicy(r, kw, t));
  },
});

// Each shipped helper has one policy, named as the helper.
function readPolicy(r: ConfigReader, kw: Token, type: HelperType): HelperPolicy {
  const name = r.word(kw, "a policy name").text;
  if (name !== type.name) r.fail(kw.line, `unknown policy "${name}" for helper ${type.name} (its policy is "${type.name}")`);
  const draft = { line: kw.line, name, expectMax: 0, expectTimeout: 0, set: false };
  readBlock(r, kw, POLICY, draft, `Helper.Type ${type.name}.Policy ${name}`);
  if (!draft.set) r.fail(kw.line, `Policy ${name} is empty: give ExpectMax and ExpectTimeout`);
  return { line: draft.line, name, expectMax: draft.expectMax, expectTimeout: draft.expectTimeout };
}

const POLICY = section<HelperPolicy & { set: boolean }>("Helper.Type.Policy", {
  ExpectMax(r, kw, p) {
    p.expectMax = r.number(kw);
    p.set = true;
  },
  ExpectTimeout(r, kw, p) {
    p.expectTimeout = r.number(kw);
    p.set = true;
  },
});
