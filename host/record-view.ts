// Plain-object views of the core's conntrack and expectation records, for the
// control paths only (dumps, the API, tests): the sync hot path never builds
// them. Offsets and presence bits come from the core's exported layout.
import type { Core } from "./core.ts";

export type Family = "ipv4" | "ipv6";

export interface Tuple {
  family: Family;
  src: string;
  dst: string;
  l4proto?: number;
  sport?: number;
  dport?: number;
}

export interface Conntrack {
  family: Family;
  src: string;
  dst: string;
  l4proto: number;
  sport?: number;
  dport?: number;
  icmp?: { type?: number; code?: number; id?: number };
  tcpState?: number;
  wscaleOrig?: number;
  wscaleRepl?: number;
  tcpFlags?: { orig: number; repl: number };
  sctp?: { state?: number; vtagOrig?: number; vtagRepl?: number };
  dccp?: { state?: number; role?: number };
  status?: number;
  timeout?: number;
  mark?: number;
  zone?: number;
  master?: Tuple;
  snat?: string;
  dnat?: string;
  spat?: number;
  dpat?: number;
  natSeq?: number[];
  synproxy?: number[];
  helper?: string;
  labels?: string;
  id?: number;
}

export interface Expectation {
  master: Tuple;
  expected: Tuple;
  mask: Tuple;
  nat?: Tuple;
  timeout?: number;
  flags?: number;
  class?: number;
  natDir?: number;
  helper?: string;
  fn?: string;
  zone?: number;
  id?: number;
}

const AF_INET = 2;
const AF_INET6 = 10;

export function formatAddr(bytes: Uint8Array, family: Family): string {
  if (family === "ipv4") return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; i++) {
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

export function parseAddr(text: string): { family: Family; bytes: Uint8Array } {
  const out = new Uint8Array(16);
  if (/^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    text.split(".").forEach((p, i) => { out[i] = Number(p); });
    return { family: "ipv4", bytes: out };
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail !== "" ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  if (groups.length !== 8) throw new Error(`not an IPv4 or IPv6 address: ${text}`);
  groups.forEach((g, i) => { const v = parseInt(g, 16); out[2 * i] = v >> 8; out[2 * i + 1] = v & 0xff; });
  return { family: "ipv6", bytes: out };
}

const familyName = (v: number): Family => (v === AF_INET6 ? "ipv6" : "ipv4");
const familyNumber = (f: Family): number => (f === "ipv6" ? AF_INET6 : AF_INET);

/** Reads and writes records in the core's memory through its layout constants. */
export class RecordView {
  constructor(private readonly core: Core) {}

  private k(name: string): number {
    return this.core.k(name);
  }

  private str(at: number, lenAt: number): string {
    const b = this.core.bytes;
    return Buffer.from(b.subarray(at, at + b[lenAt])).toString("latin1");
  }

  private tuple(base: number, bits: number, shift: number): Tuple {
    const dv = this.core.view;
    const b = this.core.bytes;
    const family = familyName(b[base + this.k("TUPLE_FAMILY")]);
    const t: Tuple = {
      family,
      src: formatAddr(b.subarray(base + this.k("TUPLE_SRC")), family),
      dst: formatAddr(b.subarray(base + this.k("TUPLE_DST")), family),
    };
    if (bits & (this.k("TB_L4PROTO") << shift)) t.l4proto = b[base + this.k("TUPLE_L4PROTO")];
    if (bits & (this.k("TB_PORTS") << shift)) {
      t.sport = dv.getUint16(base + this.k("TUPLE_SPORT"));
      t.dport = dv.getUint16(base + this.k("TUPLE_DPORT"));
    }
    return t;
  }

  private putTuple(base: number, t: Tuple, shift: number): number {
    const b = this.core.bytes;
    const dv = this.core.view;
    b[base + this.k("TUPLE_FAMILY")] = familyNumber(t.family);
    b.set(parseAddr(t.src).bytes, base + this.k("TUPLE_SRC"));
    b.set(parseAddr(t.dst).bytes, base + this.k("TUPLE_DST"));
    let bits = this.k("TB_IP");
    if (t.l4proto !== undefined) { b[base + this.k("TUPLE_L4PROTO")] = t.l4proto; bits |= this.k("TB_L4PROTO"); }
    if (t.sport !== undefined && t.dport !== undefined) {
      dv.setUint16(base + this.k("TUPLE_SPORT"), t.sport);
      dv.setUint16(base + this.k("TUPLE_DPORT"), t.dport);
      bits |= this.k("TB_PORTS");
    }
    return bits << shift;
  }

  private has(p: number, flag: string): boolean {
    return (p & this.k(flag)) !== 0;
  }

  private u8(rec: number, field: string): number {
    return this.core.bytes[rec + this.k(field)];
  }

  private u16(rec: number, field: string): number {
    return this.core.view.getUint16(rec + this.k(field));
  }

  private u32(rec: number, field: string): number {
    return this.core.view.getUint32(rec + this.k(field));
  }

  readCt(rec = this.core.fn.ctRecPtr()): Conntrack {
    const dv = this.core.view;
    const b = this.core.bytes;
    const p = dv.getUint32(rec + this.k("CT_PRESENT"), true);
    // Methods rather than closures: this runs once per entry of a dump.
    const orig = this.tuple(rec + this.k("CT_ORIG"), p, 0);
    const ct: Conntrack = { family: orig.family, src: orig.src, dst: orig.dst, l4proto: orig.l4proto ?? 0 };
    if (orig.sport !== undefined) { ct.sport = orig.sport; ct.dport = orig.dport; }
    if (this.has(p, "CTF_ICMP_TYPE") || this.has(p, "CTF_ICMP_CODE") || this.has(p, "CTF_ICMP_ID")) {
      ct.icmp = {};
      if (this.has(p, "CTF_ICMP_TYPE")) ct.icmp.type = this.u8(rec, "CT_ICMP_TYPE");
      if (this.has(p, "CTF_ICMP_CODE")) ct.icmp.code = this.u8(rec, "CT_ICMP_CODE");
      if (this.has(p, "CTF_ICMP_ID")) ct.icmp.id = this.u16(rec, "CT_ICMP_ID");
    }
    if (this.has(p, "CTF_TCP_STATE")) ct.tcpState = this.u8(rec, "CT_TCP_STATE");
    if (this.has(p, "CTF_WSCALE_ORIG")) ct.wscaleOrig = this.u8(rec, "CT_WSCALE_ORIG");
    if (this.has(p, "CTF_WSCALE_REPL")) ct.wscaleRepl = this.u8(rec, "CT_WSCALE_REPL");
    if (this.has(p, "CTF_TCP_FLAGS")) ct.tcpFlags = { orig: this.u8(rec, "CT_TCP_FLAGS_ORIG"), repl: this.u8(rec, "CT_TCP_FLAGS_REPL") };
    if (this.has(p, "CTF_SCTP_STATE") || this.has(p, "CTF_SCTP_VTAG_ORIG") || this.has(p, "CTF_SCTP_VTAG_REPL")) {
      ct.sctp = {};
      if (this.has(p, "CTF_SCTP_STATE")) ct.sctp.state = this.u8(rec, "CT_SCTP_STATE");
      if (this.has(p, "CTF_SCTP_VTAG_ORIG")) ct.sctp.vtagOrig = this.u32(rec, "CT_SCTP_VTAG_ORIG");
      if (this.has(p, "CTF_SCTP_VTAG_REPL")) ct.sctp.vtagRepl = this.u32(rec, "CT_SCTP_VTAG_REPL");
    }
    if (this.has(p, "CTF_DCCP_STATE") || this.has(p, "CTF_DCCP_ROLE")) {
      ct.dccp = {};
      if (this.has(p, "CTF_DCCP_STATE")) ct.dccp.state = this.u8(rec, "CT_DCCP_STATE");
      if (this.has(p, "CTF_DCCP_ROLE")) ct.dccp.role = this.u8(rec, "CT_DCCP_ROLE");
    }
    if (this.has(p, "CTF_STATUS")) ct.status = this.u32(rec, "CT_STATUS");
    if (this.has(p, "CTF_TIMEOUT")) ct.timeout = this.u32(rec, "CT_TIMEOUT");
    if (this.has(p, "CTF_MARK")) ct.mark = this.u32(rec, "CT_MARK");
    if (this.has(p, "CTF_ZONE")) ct.zone = this.u16(rec, "CT_ZONE");
    if (this.has(p, "CTF_MASTER")) ct.master = this.tuple(rec + this.k("CT_MASTER"), p, this.k("CTF_MASTER_SHIFT"));
    if (this.has(p, "CTF_SNAT")) ct.snat = formatAddr(b.subarray(rec + this.k("CT_SNAT")), ct.family);
    if (this.has(p, "CTF_DNAT")) ct.dnat = formatAddr(b.subarray(rec + this.k("CT_DNAT")), ct.family);
    if (this.has(p, "CTF_SPAT")) ct.spat = this.u16(rec, "CT_SPAT");
    if (this.has(p, "CTF_DPAT")) ct.dpat = this.u16(rec, "CT_DPAT");
    if (this.has(p, "CTF_NATSEQ")) ct.natSeq = [0, 1, 2, 3, 4, 5].map((i) => dv.getUint32(rec + this.k("CT_NATSEQ") + 4 * i));
    if (this.has(p, "CTF_SYNPROXY")) ct.synproxy = [0, 1, 2].map((i) => dv.getUint32(rec + this.k("CT_SYNPROXY") + 4 * i));
    if (this.has(p, "CTF_HELPER")) ct.helper = this.str(rec + this.k("CT_HELPER"), rec + this.k("CT_HELPER_LEN"));
    if (this.has(p, "CTF_LABELS")) {
      const at = rec + this.k("CT_LABELS");
      ct.labels = Buffer.from(b.subarray(at, at + b[rec + this.k("CT_LABELS_LEN")])).toString("hex");
    }
    if (this.has(p, "CTF_ID")) ct.id = this.u32(rec, "CT_ID");
    return ct;
  }

  /** Fills the conntrack record from an object (tests, control-path injection). */
  writeCt(ct: Conntrack, rec = this.core.fn.ctRecPtr()): void {
    const b = this.core.bytes;
    const dv = this.core.view;
    b.fill(0, rec, rec + this.k("CT_RECORD_SIZE"));
    let p = this.putTuple(rec + this.k("CT_ORIG"), ct, 0);
    const set = (flag: string, field: string, width: 1 | 2 | 4, v: number | undefined) => {
      if (v === undefined) return;
      const at = rec + this.k(field);
      if (width === 1) b[at] = v; else if (width === 2) dv.setUint16(at, v); else dv.setUint32(at, v);
      p |= this.k(flag);
    };
    set("CTF_ICMP_TYPE", "CT_ICMP_TYPE", 1, ct.icmp?.type);
    set("CTF_ICMP_CODE", "CT_ICMP_CODE", 1, ct.icmp?.code);
    set("CTF_ICMP_ID", "CT_ICMP_ID", 2, ct.icmp?.id);
    set("CTF_TCP_STATE", "CT_TCP_STATE", 1, ct.tcpState);
    set("CTF_WSCALE_ORIG", "CT_WSCALE_ORIG", 1, ct.wscaleOrig);
    set("CTF_WSCALE_REPL", "CT_WSCALE_REPL", 1, ct.wscaleRepl);
    if (ct.tcpFlags) {
      b[rec + this.k("CT_TCP_FLAGS_ORIG")] = ct.tcpFlags.orig;
      b[rec + this.k("CT_TCP_FLAGS_REPL")] = ct.tcpFlags.repl;
      p |= this.k("CTF_TCP_FLAGS");
    }
    set("CTF_SCTP_STATE", "CT_SCTP_STATE", 1, ct.sctp?.state);
    set("CTF_SCTP_VTAG_ORIG", "CT_SCTP_VTAG_ORIG", 4, ct.sctp?.vtagOrig);
    set("CTF_SCTP_VTAG_REPL", "CT_SCTP_VTAG_REPL", 4, ct.sctp?.vtagRepl);
    set("CTF_DCCP_STATE", "CT_DCCP_STATE", 1, ct.dccp?.state);
    set("CTF_DCCP_ROLE", "CT_DCCP_ROLE", 1, ct.dccp?.role);
    set("CTF_STATUS", "CT_STATUS", 4, ct.status);
    set("CTF_TIMEOUT", "CT_TIMEOUT", 4, ct.timeout);
    set("CTF_MARK", "CT_MARK", 4, ct.mark);
    set("CTF_ZONE", "CT_ZONE", 2, ct.zone);
    set("CTF_SPAT", "CT_SPAT", 2, ct.spat);
    set("CTF_DPAT", "CT_DPAT", 2, ct.dpat);
    set("CTF_ID", "CT_ID", 4, ct.id);
    if (ct.master) p |= this.putTuple(rec + this.k("CT_MASTER"), ct.master, this.k("CTF_MASTER_SHIFT"));
    if (ct.snat) { b.set(parseAddr(ct.snat).bytes, rec + this.k("CT_SNAT")); p |= this.k("CTF_SNAT"); }
    if (ct.dnat) { b.set(parseAddr(ct.dnat).bytes, rec + this.k("CT_DNAT")); p |= this.k("CTF_DNAT"); }
    if (ct.natSeq) { ct.natSeq.forEach((v, i) => dv.setUint32(rec + this.k("CT_NATSEQ") + 4 * i, v)); p |= this.k("CTF_NATSEQ"); }
    if (ct.synproxy) { ct.synproxy.forEach((v, i) => dv.setUint32(rec + this.k("CT_SYNPROXY") + 4 * i, v)); p |= this.k("CTF_SYNPROXY"); }
    if (ct.helper !== undefined) {
      b.set(Buffer.from(ct.helper, "latin1"), rec + this.k("CT_HELPER"));
      b[rec + this.k("CT_HELPER_LEN")] = ct.helper.length;
      p |= this.k("CTF_HELPER");
    }
    if (ct.labels !== undefined) {
      const bytes = Buffer.from(ct.labels, "hex");
      b.set(bytes, rec + this.k("CT_LABELS"));
      b[rec + this.k("CT_LABELS_LEN")] = bytes.length;
      p |= this.k("CTF_LABELS");
    }
    dv.setUint32(rec + this.k("CT_PRESENT"), p, true);
  }

  readExp(rec = this.core.fn.expRecPtr()): Expectation {
    const dv = this.core.view;
    const p = dv.getUint32(rec + this.k("EXP_PRESENT"), true);
    const exp: Expectation = {
      master: this.tuple(rec + this.k("EXP_MASTER"), p, 0),
      expected: this.tuple(rec + this.k("EXP_EXPECT"), p, this.k("EXP_TUPLE_SHIFT")),
      mask: this.tuple(rec + this.k("EXP_MASK"), p, 2 * this.k("EXP_TUPLE_SHIFT")),
    };
    if (this.has(p, "EXPF_NAT_IP")) exp.nat = this.tuple(rec + this.k("EXP_NAT"), p, 3 * this.k("EXP_TUPLE_SHIFT"));
    if (this.has(p, "EXPF_TIMEOUT")) exp.timeout = this.u32(rec, "EXP_TIMEOUT");
    if (this.has(p, "EXPF_FLAGS")) exp.flags = this.u32(rec, "EXP_FLAGS");
    if (this.has(p, "EXPF_CLASS")) exp.class = this.u32(rec, "EXP_CLASS");
    if (this.has(p, "EXPF_NAT_DIR")) exp.natDir = this.u32(rec, "EXP_NAT_DIR");
    if (this.has(p, "EXPF_HELPER")) exp.helper = this.str(rec + this.k("EXP_HELPER"), rec + this.k("EXP_HELPER_LEN"));
    if (this.has(p, "EXPF_FN")) exp.fn = this.str(rec + this.k("EXP_FN"), rec + this.k("EXP_FN_LEN"));
    if (this.has(p, "EXPF_ZONE")) exp.zone = dv.getUint16(rec + this.k("EXP_ZONE"));
    if (this.has(p, "EXPF_ID")) exp.id = this.u32(rec, "EXP_ID");
    return exp;
  }

  writeExp(exp: Expectation, rec = this.core.fn.expRecPtr()): void {
    const b = this.core.bytes;
    const dv = this.core.view;
    b.fill(0, rec, rec + this.k("EXP_RECORD_SIZE"));
    let p = this.putTuple(rec + this.k("EXP_MASTER"), exp.master, 0);
    p |= this.putTuple(rec + this.k("EXP_EXPECT"), exp.expected, this.k("EXP_TUPLE_SHIFT"));
    p |= this.putTuple(rec + this.k("EXP_MASK"), exp.mask, 2 * this.k("EXP_TUPLE_SHIFT"));
    if (exp.nat) p |= this.putTuple(rec + this.k("EXP_NAT"), exp.nat, 3 * this.k("EXP_TUPLE_SHIFT"));
    const set32 = (flag: string, field: string, v: number | undefined) => {
      if (v === undefined) return;
      dv.setUint32(rec + this.k(field), v);
      p |= this.k(flag);
    };
    set32("EXPF_TIMEOUT", "EXP_TIMEOUT", exp.timeout);
    set32("EXPF_FLAGS", "EXP_FLAGS", exp.flags);
    set32("EXPF_CLASS", "EXP_CLASS", exp.class);
    set32("EXPF_NAT_DIR", "EXP_NAT_DIR", exp.natDir);
    set32("EXPF_ID", "EXP_ID", exp.id);
    if (exp.zone !== undefined) { dv.setUint16(rec + this.k("EXP_ZONE"), exp.zone); p |= this.k("EXPF_ZONE"); }
    const putStr = (flag: string, at: string, lenAt: string, s: string | undefined) => {
      if (s === undefined) return;
      b.set(Buffer.from(s, "latin1"), rec + this.k(at));
      b[rec + this.k(lenAt)] = s.length;
      p |= this.k(flag);
    };
    putStr("EXPF_HELPER", "EXP_HELPER", "EXP_HELPER_LEN", exp.helper);
    putStr("EXPF_FN", "EXP_FN", "EXP_FN_LEN", exp.fn);
    dv.setUint32(rec + this.k("EXP_PRESENT"), p, true);
  }
}
