// One expectation as `conntrackd -i expect` prints it: libnetfilter_conntrack's
// nfexp_snprintf (plain or XML) with the timeout removed, then conntrackd's
// suffixes. The mask and master tuples print their ports by the expected
// tuple's protocol when they carry none of their own (the kernel gives all
// three the same one).
import type { ExpEntry } from "../control/api.ts";
import type { Expectation, Tuple } from "../record-view.ts";
import { entrySuffix } from "./ct.ts";
import { addressText, addressXml, l3Number, l4Name, l4Text, l4Xml, type PrintTuple } from "./proto.ts";

const NF_CT_EXPECT_PERMANENT = 0x1;
const NF_CT_EXPECT_INACTIVE = 0x2;
const NF_CT_EXPECT_USERSPACE = 0x4;

function printTuple(t: Tuple, proto: number): PrintTuple {
  return {
    family: t.family, src: t.src, dst: t.dst, l4proto: t.l4proto ?? proto,
    sport: t.sport ?? 0, dport: t.dport ?? 0, icmp: { type: 0, code: 0, id: 0 },
  };
}

function tuples(exp: Expectation): { expected: PrintTuple; mask: PrintTuple; master: PrintTuple } {
  const proto = exp.expected.l4proto ?? 0;
  return {
    expected: printTuple(exp.expected, proto),
    mask: printTuple(exp.mask, proto),
    master: printTuple(exp.master, proto),
  };
}

function flagWords(flags: number): string[] {
  const words: string[] = [];
  if (flags & NF_CT_EXPECT_PERMANENT) words.push("PERMANENT");
  if (flags & NF_CT_EXPECT_INACTIVE) words.push("INACTIVE");
  if (flags & NF_CT_EXPECT_USERSPACE) words.push("USERSPACE");
  return words;
}

/** nfexp_snprintf(NFCT_O_DEFAULT) without the timeout. */
export function expectationPlain(exp: Expectation): string {
  const t = tuples(exp);
  const flags = exp.flags ?? 0;
  let s = `proto=${t.expected.l4proto} `;
  s += addressText(t.expected, "src", "dst") + l4Text(t.expected);
  s += addressText(t.mask, "mask-src", "mask-dst") + l4Text(t.mask);
  s += addressText(t.master, "master-src", "master-dst") + l4Text(t.master);
  if (exp.zone !== undefined) s += `zone=${exp.zone} `;
  s += flagWords(flags).join(",");
  if (flags) s += " ";
  if (exp.class !== undefined) s += `class=${exp.class} `;
  if (exp.helper !== undefined) s += `helper=${exp.helper}`;
  return s.endsWith(" ") ? s.slice(0, -1) : s;
}

/** nfexp_snprintf(NFCT_O_XML) without the timeout. */
export function expectationXml(exp: Expectation): string {
  const t = tuples(exp);
  const flags = exp.flags ?? 0;
  const l3 = (x: PrintTuple) => addressXml(x, "src") + addressXml(x, "dst");
  let s = "<flow>";
  s += `<layer3 protonum="${l3Number(t.expected.family)}" protoname="${t.expected.family}">`;
  s += `<expected>${l3(t.expected)}</expected><mask>${l3(t.mask)}</mask><master>${l3(t.master)}</master></layer3>`;
  s += `<layer4 protonum="${t.expected.l4proto}" protoname="${l4Name(t.expected.l4proto)}">`;
  s += `<expected>${l4Xml(t.expected)}</expected><mask>${l4Xml(t.mask)}</mask><master>${l4Xml(t.master)}</master></layer4>`;
  s += "<meta>";
  if (exp.helper !== undefined) s += `<helper-name>${exp.helper}</helper-name>`;
  if (exp.class !== undefined) s += `<class>${exp.class}</class>`;
  if (exp.zone !== undefined) s += `<zone>${exp.zone}</zone>`;
  if (flags & NF_CT_EXPECT_PERMANENT) s += "<permanent/>";
  if (flags & NF_CT_EXPECT_INACTIVE) s += "<inactive/>";
  if (flags & NF_CT_EXPECT_USERSPACE) s += "<userspace/>";
  return s + "</meta></flow>";
}

/** One line of -i expect / -e expect, newline included. */
export function expectationLine(e: ExpEntry, format: "plain" | "xml"): string {
  return format === "xml" ? `${expectationXml(e.exp)}\n` : `${expectationPlain(e.exp)}${entrySuffix(e)}\n`;
}
