// conntrackd's "traffic processed" (-s): the packets and bytes of every flow
// the internal cache saw destroyed, in sync and Stats mode alike. Summed as
// conntrackd's update_traffic_stats() does: each 64-bit counter of the
// destroy event read as a u32 (nfct_get_attr_u32), so the low halves add up.
// The counters are there only with nf_conntrack_acct=1.
import { loadBe32 } from "./bytes";
import {
  CTX_PRESENT, CTX_ORIG_PACKETS, CTX_ORIG_BYTES, CTX_REPL_PACKETS, CTX_REPL_BYTES,
  CTXF_ORIG_PACKETS, CTXF_ORIG_BYTES, CTXF_REPL_PACKETS, CTXF_REPL_BYTES,
} from "./layout";

export let trafficBytes: u64 = 0;
export let trafficPackets: u64 = 0;

/** Adds a destroyed flow's counters (the extras `x` of its destroy event). */
export function countTraffic(x: usize): void {
  const p = load<u32>(x + CTX_PRESENT);
  if (p & CTXF_ORIG_BYTES) trafficBytes += low32(x + CTX_ORIG_BYTES);
  if (p & CTXF_REPL_BYTES) trafficBytes += low32(x + CTX_REPL_BYTES);
  if (p & CTXF_ORIG_PACKETS) trafficPackets += low32(x + CTX_ORIG_PACKETS);
  if (p & CTXF_REPL_PACKETS) trafficPackets += low32(x + CTX_REPL_PACKETS);
}

/** The low 32 bits of the be64 at p. */
@inline function low32(p: usize): u64 {
  return <u64>loadBe32(p + 4);
}
