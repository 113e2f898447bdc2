// The core's dump formats (assembly/format-ct.ts, format-exp.ts) called on one
// record at a time, for tests that hold conntracks and expectations as
// objects: each is written into the core's record, formatted there and read
// back as text.
import { loadCore } from "../../host/core.ts";
import { RecordView, type Conntrack, type Expectation } from "../../host/record-view.ts";
import type { CtEntry, ExpEntry } from "../../host/control/api.ts";
import { recordText } from "../../host/formats/text-dump.ts";

const core = loadCore();
const view = new RecordView(core);

/** The line's suffix, " [active since 0s]\n", or the XML's newline. */
const bare = (s: string) => s.replace(/ \[active since 0s\]\n$|\n$/, "");

export function conntrackLine(e: CtEntry, format: "plain" | "xml"): string {
  view.writeCt(e.ct);
  return recordText(core, "ct", format, {
    age: Math.trunc(e.ageSeconds), expires: e.expiresInSeconds, deltaTime: e.deltaTimeSeconds, noReply: e.withReply === false,
  });
}

export function conntrackPlain(ct: Conntrack, withReply = true, deltaTime?: number): string {
  return bare(conntrackLine({ ct, ageSeconds: 0, withReply, deltaTimeSeconds: deltaTime }, "plain"));
}

export function conntrackXml(ct: Conntrack, withReply = true, deltaTime?: number): string {
  return bare(conntrackLine({ ct, ageSeconds: 0, withReply, deltaTimeSeconds: deltaTime }, "xml"));
}

export function conntrackJson(e: CtEntry): string {
  view.writeCt(e.ct);
  return recordText(core, "ct", "json", { age: e.ageSeconds, expires: e.expiresInSeconds, deltaTime: e.deltaTimeSeconds });
}

/** The derived reply tuple, as the JSON answer gives it. */
export function replyOf(ct: Conntrack): { src: string; dst: string; sport?: number; dport?: number; icmp?: { type: number; code: number; id: number } } {
  return JSON.parse(conntrackJson({ ct, ageSeconds: 0 })).reply;
}

export function expectationLine(e: ExpEntry, format: "plain" | "xml"): string {
  view.writeExp(e.exp);
  return recordText(core, "exp", format, { age: Math.trunc(e.ageSeconds), expires: e.expiresInSeconds });
}

export function expectationPlain(exp: Expectation): string {
  return bare(expectationLine({ exp, ageSeconds: 0 }, "plain"));
}

export function expectationXml(exp: Expectation): string {
  return bare(expectationLine({ exp, ageSeconds: 0 }, "xml"));
}

export function expectationJson(e: ExpEntry): string {
  view.writeExp(e.exp);
  return recordText(core, "exp", "json", { age: e.ageSeconds, expires: e.expiresInSeconds });
}
