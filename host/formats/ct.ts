// The pieces of libnetfilter_conntrack's conntrack text that the Stats log
// (host/stats/log.ts) builds its lines from. The -i/-e dumps are the core's
// (assembly/format-ct.ts).
import type { Conntrack } from "../record-view.ts";
import type { PrintTuple } from "./proto.ts";

const IPS_ASSURED = 1 << 2;
const IPS_OFFLOAD = 1 << 14;
const IPS_HW_OFFLOAD = 1 << 15;

export function originalTuple(ct: Conntrack): PrintTuple {
  return {
    family: ct.family, src: ct.src, dst: ct.dst, l4proto: ct.l4proto,
    sport: ct.sport ?? 0, dport: ct.dport ?? 0,
    icmp: { type: ct.icmp?.type ?? 0, code: ct.icmp?.code ?? 0, id: ct.icmp?.id ?? 0 },
  };
}

export function assuredText(status: number): string {
  if (status & IPS_HW_OFFLOAD) return "[HW_OFFLOAD] ";
  if (status & IPS_OFFLOAD) return "[OFFLOAD] ";
  if (status & IPS_ASSURED) return "[ASSURED] ";
  return "";
}
