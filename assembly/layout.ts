// The decoded views of a conntrack and of an expectation: fixed-layout records
// in linear memory that both codecs (sync wire and ctnetlink) read and write.
// Byte offsets below are the ABI: index.ts exports them so a host reads the
// layout from the module itself. Every multi-byte field holds its value in
// network byte order, exactly as on the wire; only `present`, a bitmask of the
// fields that are set, is little-endian. Addresses take 16 bytes; an IPv4
// address fills the first 4 and leaves the rest zero.

// ---- tuples ------------------------------------------------------------------
// A tuple is the address pair and layer-4 identity of one direction, laid out
// the same way wherever it appears (a conntrack's original and master tuples,
// an expectation's four). For ICMP the kernel keeps the echo id where TCP/UDP
// keep the source port and type/code where they keep the destination port;
// the tuple does the same.
export const TUPLE_FAMILY: u32 = 0; //    u8  2 = AF_INET, 10 = AF_INET6
export const TUPLE_L4PROTO: u32 = 1; //   u8  IPPROTO_*
export const TUPLE_SPORT: u32 = 2; //     be16
export const TUPLE_DPORT: u32 = 4; //     be16
export const TUPLE_ICMP_ID: u32 = 2; //   be16 (shares the source port's place)
export const TUPLE_ICMP_TYPE: u32 = 4; // u8   (shares the destination port's place)
export const TUPLE_ICMP_CODE: u32 = 5; // u8
export const TUPLE_SRC: u32 = 8; //       16 bytes
export const TUPLE_DST: u32 = 24; //      16 bytes
export const TUPLE_SIZE: u32 = 40;

// Presence of a tuple's parts; a record keeps them as three adjacent bits.
export const TB_IP: u32 = 1;
export const TB_L4PROTO: u32 = 2;
export const TB_PORTS: u32 = 4;

// ---- conntrack record ------------------------------------------------------
export const CT_PRESENT: u32 = 0; //       u32 LE bitmask of CTF_* below
export const CT_TCP_STATE: u32 = 4; //     u8
export const CT_WSCALE_ORIG: u32 = 5; //   u8
export const CT_WSCALE_REPL: u32 = 6; //   u8
export const CT_SCTP_STATE: u32 = 7; //    u8
export const CT_ORIG: u32 = 8; //          tuple, original direction
export const CT_MASTER: u32 = 48; //       tuple of the master conntrack
export const CT_DCCP_STATE: u32 = 88; //   u8
export const CT_DCCP_ROLE: u32 = 89; //    u8
export const CT_TCP_FLAGS_ORIG: u32 = 90; // u8 flags, u8 mask (ctnetlink only)
export const CT_TCP_FLAGS_REPL: u32 = 92; // u8 flags, u8 mask (ctnetlink only)
export const CT_ZONE: u32 = 94; //         be16
export const CT_SPAT: u32 = 96; //         be16 port after source NAT
export const CT_DPAT: u32 = 98; //         be16 port after destination NAT
export const CT_LABELS_LEN: u32 = 100; //  u8  bytes used in CT_LABELS
export const CT_HELPER_LEN: u32 = 101; //  u8  bytes used in CT_HELPER, no NUL
export const CT_STATUS: u32 = 104; //      be32 IPS_* bits
export const CT_TIMEOUT: u32 = 108; //     be32 seconds
export const CT_MARK: u32 = 112; //        be32
export const CT_SCTP_VTAG_ORIG: u32 = 116; // be32
export const CT_SCTP_VTAG_REPL: u32 = 120; // be32
export const CT_ID: u32 = 124; //          be32 kernel id (ctnetlink only)
export const CT_SNAT: u32 = 128; //        16 bytes, address after source NAT
export const CT_DNAT: u32 = 144; //        16 bytes, address after destination NAT
export const CT_NATSEQ: u32 = 160; //      6 x be32: orig pos/before/after, repl pos/before/after
export const CT_SYNPROXY: u32 = 184; //    3 x be32: isn, its, tsoff
export const CT_LABELS: u32 = 200; //      16 bytes, the 128 label bits the kernel keeps
export const CT_HELPER: u32 = 216; //      16 bytes helper name
export const CT_RECORD_SIZE: u32 = 232;

// Shorthands for the original tuple's fields.
export const CT_FAMILY: u32 = CT_ORIG + TUPLE_FAMILY;
export const CT_L4PROTO: u32 = CT_ORIG + TUPLE_L4PROTO;
export const CT_SPORT: u32 = CT_ORIG + TUPLE_SPORT;
export const CT_DPORT: u32 = CT_ORIG + TUPLE_DPORT;
export const CT_ICMP_ID: u32 = CT_ORIG + TUPLE_ICMP_ID;
export const CT_ICMP_TYPE: u32 = CT_ORIG + TUPLE_ICMP_TYPE;
export const CT_ICMP_CODE: u32 = CT_ORIG + TUPLE_ICMP_CODE;
export const CT_SRC: u32 = CT_ORIG + TUPLE_SRC;
export const CT_DST: u32 = CT_ORIG + TUPLE_DST;
export const CT_MASTER_FAMILY: u32 = CT_MASTER + TUPLE_FAMILY;

export const CT_ADDR_SIZE: u32 = 16;
export const CT_LABELS_MAX: u32 = 16;
export const HELPER_NAME_MAX: u32 = 16;

// Presence bits of a conntrack record; each tuple's three bits are TB_* shifted.
export const CTF_ORIG: u32 = TB_IP; //         family, src, dst
export const CTF_L4PROTO: u32 = TB_L4PROTO;
export const CTF_PORTS: u32 = TB_PORTS; //     sport, dport
export const CTF_TCP_STATE: u32 = 1 << 3;
export const CTF_STATUS: u32 = 1 << 4;
export const CTF_TIMEOUT: u32 = 1 << 5;
export const CTF_MARK: u32 = 1 << 6;
export const CTF_MASTER_SHIFT: u32 = 7;
export const CTF_MASTER: u32 = TB_IP << CTF_MASTER_SHIFT; // master family, src, dst
export const CTF_MASTER_L4PROTO: u32 = TB_L4PROTO << CTF_MASTER_SHIFT;
export const CTF_MASTER_PORTS: u32 = TB_PORTS << CTF_MASTER_SHIFT;
export const CTF_SNAT: u32 = 1 << 10;
export const CTF_DNAT: u32 = 1 << 11;
export const CTF_SPAT: u32 = 1 << 12;
export const CTF_DPAT: u32 = 1 << 13;
export const CTF_NATSEQ: u32 = 1 << 14;
export const CTF_SCTP_STATE: u32 = 1 << 15;
export const CTF_SCTP_VTAG_ORIG: u32 = 1 << 16;
export const CTF_SCTP_VTAG_REPL: u32 = 1 << 17;
export const CTF_DCCP_STATE: u32 = 1 << 18;
export const CTF_DCCP_ROLE: u32 = 1 << 19;
export const CTF_ICMP_TYPE: u32 = 1 << 20;
export const CTF_ICMP_CODE: u32 = 1 << 21;
export const CTF_ICMP_ID: u32 = 1 << 22;
export const CTF_WSCALE_ORIG: u32 = 1 << 23;
export const CTF_WSCALE_REPL: u32 = 1 << 24;
export const CTF_HELPER: u32 = 1 << 25;
export const CTF_LABELS: u32 = 1 << 26;
export const CTF_SYNPROXY: u32 = 1 << 27;
export const CTF_ZONE: u32 = 1 << 28;
export const CTF_TCP_FLAGS: u32 = 1 << 29; //  ctnetlink only
export const CTF_ID: u32 = 1 << 30; //         ctnetlink only

// ---- conntrack extras -------------------------------------------------------
// What a ctnetlink message carries beside the record and the record does not
// keep (the sync protocol has no place for it): the reply tuple as the kernel
// sent it, the accounting counters and the timestamps of a destroyed flow.
// Filled by every conntrack the ctnetlink decoder reads; the Stats mode prints
// it. Same byte orders as the record; CTX_PRESENT is little-endian.
export const CTX_PRESENT: u32 = 0; //       u32 LE bitmask of CTXF_* below
export const CTX_REPLY: u32 = 8; //         tuple, reply direction
export const CTX_ORIG_PACKETS: u32 = 48; // be64
export const CTX_ORIG_BYTES: u32 = 56; //   be64
export const CTX_REPL_PACKETS: u32 = 64; // be64
export const CTX_REPL_BYTES: u32 = 72; //   be64
export const CTX_TS_START: u32 = 80; //     be64 nanoseconds since the epoch
export const CTX_TS_STOP: u32 = 88; //      be64 nanoseconds since the epoch
export const CTX_SECMARK: u32 = 96; //      be32
export const CTX_USE: u32 = 100; //         be32
export const CTX_SIZE: u32 = 104;

// The reply tuple's parts are TB_* (plus its ICMP bit, 8); the rest follow.
export const CTXF_REPLY: u32 = TB_IP;
export const CTXF_REPLY_L4PROTO: u32 = TB_L4PROTO;
export const CTXF_REPLY_PORTS: u32 = TB_PORTS;
export const CTXF_REPLY_ICMP: u32 = 1 << 3;
export const CTXF_ORIG_PACKETS: u32 = 1 << 4;
export const CTXF_ORIG_BYTES: u32 = 1 << 5;
export const CTXF_REPL_PACKETS: u32 = 1 << 6;
export const CTXF_REPL_BYTES: u32 = 1 << 7;
export const CTXF_TS_START: u32 = 1 << 8;
export const CTXF_TS_STOP: u32 = 1 << 9;
export const CTXF_SECMARK: u32 = 1 << 10;
export const CTXF_USE: u32 = 1 << 11;

// ---- expectation record ------------------------------------------------------
// An expectation is four tuples (master, expected, mask, NAT) and a few scalars.
export const EXP_PRESENT: u32 = 0; //     u32 LE bitmask of EXPF_* below
export const EXP_TIMEOUT: u32 = 4; //     be32
export const EXP_FLAGS: u32 = 8; //       be32 NF_CT_EXPECT_*
export const EXP_CLASS: u32 = 12; //      be32
export const EXP_NAT_DIR: u32 = 16; //    be32
export const EXP_ID: u32 = 20; //         be32 (ctnetlink only)
export const EXP_ZONE: u32 = 24; //       be16 (ctnetlink only)
export const EXP_HELPER_LEN: u32 = 26; // u8
export const EXP_FN_LEN: u32 = 27; //     u8
export const EXP_MASTER: u32 = 28; //     tuple
export const EXP_EXPECT: u32 = 68; //     tuple
export const EXP_MASK: u32 = 108; //      tuple
export const EXP_NAT: u32 = 148; //       tuple
export const EXP_HELPER: u32 = 188; //    16 bytes
export const EXP_FN: u32 = 204; //        32 bytes
export const EXP_RECORD_SIZE: u32 = 236;
export const EXP_FN_MAX: u32 = 32;

// Presence bits of an expectation record: tuple t (0 master, 1 expected,
// 2 mask, 3 NAT) has the TB_* bits shifted by 3 * t.
export const EXP_TUPLE_SHIFT: u32 = 3;
export const EXPF_MASTER_IP: u32 = 1 << 0;
export const EXPF_MASTER_L4PROTO: u32 = 1 << 1;
export const EXPF_MASTER_PORTS: u32 = 1 << 2;
export const EXPF_EXPECT_IP: u32 = 1 << 3;
export const EXPF_EXPECT_L4PROTO: u32 = 1 << 4;
export const EXPF_EXPECT_PORTS: u32 = 1 << 5;
export const EXPF_MASK_IP: u32 = 1 << 6;
export const EXPF_MASK_L4PROTO: u32 = 1 << 7;
export const EXPF_MASK_PORTS: u32 = 1 << 8;
export const EXPF_NAT_IP: u32 = 1 << 9;
export const EXPF_NAT_L4PROTO: u32 = 1 << 10;
export const EXPF_NAT_PORTS: u32 = 1 << 11;
export const EXPF_TIMEOUT: u32 = 1 << 12;
export const EXPF_FLAGS: u32 = 1 << 13;
export const EXPF_CLASS: u32 = 1 << 14;
export const EXPF_NAT_DIR: u32 = 1 << 15;
export const EXPF_HELPER: u32 = 1 << 16;
export const EXPF_FN: u32 = 1 << 17;
export const EXPF_ID: u32 = 1 << 18; //   ctnetlink only
export const EXPF_ZONE: u32 = 1 << 19; // ctnetlink only

export const AF_INET: u8 = 2;
export const AF_INET6: u8 = 10;

/** Address length in bytes for a family, 0 when it is neither v4 nor v6. */
@inline export function addrLen(family: u32): u32 {
  return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

// IPS_* status bits the codecs look at.
export const IPS_EXPECTED: u32 = 1 << 0;
export const IPS_SEEN_REPLY: u32 = 1 << 1;
export const IPS_ASSURED: u32 = 1 << 2;
export const IPS_CONFIRMED: u32 = 1 << 3;
export const IPS_SRC_NAT: u32 = 1 << 4;
export const IPS_DST_NAT: u32 = 1 << 5;
export const IPS_SRC_NAT_DONE: u32 = 1 << 7;
export const IPS_DST_NAT_DONE: u32 = 1 << 8;
export const IPS_NAT_MASK: u32 = IPS_SRC_NAT | IPS_DST_NAT;
export const IPS_OFFLOAD: u32 = 1 << 14;
export const IPS_HW_OFFLOAD: u32 = 1 << 15;
