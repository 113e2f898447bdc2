// Which kernel events are synchronized: conntrackd's Filter section (layer-4
// protocols, addresses with prefixes, TCP states) and, for expectations, the
// helpers named by ExpectationSync. Each filter is off until the host sets a
// policy: then "accept" keeps only what matches and "ignore" drops it.
import {
  CT_L4PROTO, CT_FAMILY, CT_SRC, CT_DST, CT_DNAT, CT_TCP_STATE, CTF_TCP_STATE, CTF_DNAT,
  EXP_HELPER, EXP_HELPER_LEN, HELPER_NAME_MAX,
} from "./layout";

export const POLICY_NONE: u32 = 0;
export const POLICY_ACCEPT: u32 = 1;
export const POLICY_IGNORE: u32 = 2;

const MAX_RULES: u32 = 256;

let protoPolicy: u32 = POLICY_NONE;
const protoSet = memory.data(32, 8); // 256 bits

let statePolicy: u32 = POLICY_NONE;
let stateSet: u32 = 0; // bit per TCP state number

let addrPolicy: u32 = POLICY_NONE;
// Rules: family u8, prefix u8, pad, then 16 address bytes (network order): 20 bytes each.
const RULE_SIZE: u32 = 20;
const rules = memory.data(<i32>(MAX_RULES * RULE_SIZE), 8);
let ruleCount: u32 = 0;

const helperNames = memory.data(<i32>(16 * HELPER_NAME_MAX), 8);
let helperCount: u32 = 0;

/** Where the host writes an address (16 bytes) before filterAddAddress. */
export const filterScratch = memory.data(16, 8);

export function filterReset(): void {
  protoPolicy = statePolicy = addrPolicy = POLICY_NONE;
  memory.fill(protoSet, 0, 32);
  stateSet = 0;
  ruleCount = 0;
  helperCount = 0;
}

export function filterSetProtocol(policy: u32, proto: u32): void {
  protoPolicy = policy;
  const p = protoSet + (proto >> 3);
  store<u8>(p, <u8>(<u32>load<u8>(p) | (1 << (proto & 7))));
}

export function filterSetState(policy: u32, state: u32): void {
  statePolicy = policy;
  stateSet |= 1 << (state & 31);
}

/** Adds the address at filterScratch with its prefix length; false when the table is full. */
export function filterAddAddress(policy: u32, family: u32, prefix: u32): bool {
  if (ruleCount >= MAX_RULES) return false;
  addrPolicy = policy;
  const r = rules + ruleCount * RULE_SIZE;
  store<u8>(r, <u8>family);
  store<u8>(r + 1, <u8>prefix);
  memory.copy(r + 4, filterScratch, 16);
  ruleCount++;
  return true;
}

/** Adds a helper name (at filterScratch, `len` bytes) whose expectations are synchronized. */
export function filterAddHelper(len: u32): bool {
  if (helperCount >= 16 || len >= HELPER_NAME_MAX) return false;
  const at = helperNames + helperCount * HELPER_NAME_MAX;
  memory.fill(at, 0, HELPER_NAME_MAX);
  memory.copy(at, filterScratch, len);
  helperCount++;
  return true;
}

/** Whether the first `prefix` bits at a and b agree. */
function prefixMatch(a: usize, b: usize, prefix: u32): bool {
  const whole = prefix >> 3;
  for (let i: u32 = 0; i < whole; i++) if (load<u8>(a + i) != load<u8>(b + i)) return false;
  const rest = prefix & 7;
  if (rest == 0) return true;
  const mask: u32 = (0xff << (8 - rest)) & 0xff;
  return (<u32>load<u8>(a + whole) & mask) == (<u32>load<u8>(b + whole) & mask);
}

function addressMatches(family: u32, addr: usize): bool {
  for (let i: u32 = 0; i < ruleCount; i++) {
    const r = rules + i * RULE_SIZE;
    if (<u32>load<u8>(r) == family && prefixMatch(r + 4, addr, <u32>load<u8>(r + 1))) return true;
  }
  return false;
}

@inline function verdict(policy: u32, matched: bool): bool {
  return policy == POLICY_NONE || (policy == POLICY_ACCEPT) == matched;
}

/** Whether a conntrack event (the record) is to be synchronized. */
export function filterCt(rec: usize): bool {
  const l4 = <u32>load<u8>(rec + CT_L4PROTO);
  if (protoPolicy != POLICY_NONE) {
    const inSet = ((<u32>load<u8>(protoSet + (l4 >> 3)) >> (l4 & 7)) & 1) != 0;
    if (!verdict(protoPolicy, inSet)) return false;
  }
  if (addrPolicy != POLICY_NONE) {
    const fam = <u32>load<u8>(rec + CT_FAMILY);
    // conntrackd looks at the original source and the reply's source (the
    // destination, or the address destination NAT chose).
    const replySrc = (load<u32>(rec) & CTF_DNAT) != 0 ? rec + CT_DNAT : rec + CT_DST;
    const hit = addressMatches(fam, rec + CT_SRC) || addressMatches(fam, replySrc);
    if (!verdict(addrPolicy, hit)) return false;
  }
  if (statePolicy != POLICY_NONE && l4 == 6 && (load<u32>(rec) & CTF_TCP_STATE) != 0) {
    const st = <u32>load<u8>(rec + CT_TCP_STATE);
    if (!verdict(statePolicy, (stateSet & (1 << st)) != 0)) return false;
  }
  return true;
}

/** Whether an expectation is to be synchronized: its helper is one ExpectationSync names (or all). */
export function filterExp(rec: usize): bool {
  if (helperCount == 0) return true;
  const n = <u32>load<u8>(rec + EXP_HELPER_LEN);
  for (let i: u32 = 0; i < helperCount; i++) {
    const at = helperNames + i * HELPER_NAME_MAX;
    if (load<u8>(at + n) != 0) continue;
    let same = true;
    for (let j: u32 = 0; j < n && same; j++) same = load<u8>(at + j) == load<u8>(rec + EXP_HELPER + j);
    if (same) return true;
  }
  return false;
}

