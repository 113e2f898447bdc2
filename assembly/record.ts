// Reading and writing record fields through attribute descriptors: the one
// place where attribute payload bytes meet record fields, for both codecs.
import { AttrDesc, K_FIXED, K_PAIR, K_STRING, K_LABELS, K_SWAPPED16, NO_FAMILY } from "./attrs";
import { strnlen, bswap16, copyBytes } from "./bytes";
import { R_BAD_ATTR_LEN, R_BAD_FAMILY } from "./reasons";

/**
 * Stores an attribute payload of `plen` bytes at `data` into the record (or
 * tuple) at `rec`. Returns 0, or a rejection reason when the payload does not
 * fit its kind. Presence bits are the caller's: it knows which record or
 * tuple the descriptor's bit belongs to.
 */
export function storeAttr(d: AttrDesc, rec: usize, data: usize, plen: u32): i32 {
  const kind = d.kind;
  if (kind == K_FIXED || kind == K_PAIR) {
    if (plen != d.len) return R_BAD_ATTR_LEN;
    if (d.famOff != NO_FAMILY) {
      const fam = <u32>load<u8>(rec + d.famOff);
      if (kind == K_PAIR) {
        if (fam != 0 && fam != d.famVal) return R_BAD_FAMILY;
        store<u8>(rec + d.famOff, <u8>d.famVal);
      } else if (fam != d.famVal) {
        return R_BAD_FAMILY;
      }
    }
    if (kind == K_PAIR) {
      const half = plen >> 1;
      copyBytes(rec + d.off, data, half);
      copyBytes(rec + d.off2, data + half, half);
    } else {
      copyBytes(rec + d.off, data, plen);
    }
  } else if (kind == K_STRING) {
    const n = strnlen(data, plen);
    if (n >= d.len) return R_BAD_ATTR_LEN;
    memory.fill(rec + d.off, 0, d.len);
    copyBytes(rec + d.off, data, n);
    store<u8>(rec + d.off2, <u8>n);
  } else if (kind == K_SWAPPED16) {
    if (plen != 2) return R_BAD_ATTR_LEN;
    store<u16>(rec + d.off, bswap16(load<u16>(data)));
  } else if (kind == K_LABELS) {
    if ((plen & 3) != 0 || plen > d.len) return R_BAD_ATTR_LEN;
    if (plen == 0) return 0; // no words: nothing to set, as conntrackd does
    memory.fill(rec + d.off, 0, d.len);
    copyBytes(rec + d.off, data, plen);
    store<u8>(rec + d.off2, <u8>plen);
  }
  return 0;
}

/**
 * Whether the record holds this attribute: its presence bit is set and, for
 * an attribute tied to a family, the record is of that family.
 */
export function hasAttr(d: AttrDesc, present: u32, rec: usize): bool {
  if ((present & d.bit) == 0) return false;
  return d.famOff == NO_FAMILY || <u32>load<u8>(rec + d.famOff) == d.famVal;
}

/** Payload length of an attribute the record holds (strings with their NUL). */
export function attrPayloadLen(d: AttrDesc, rec: usize): u32 {
  if (d.kind == K_STRING) return <u32>load<u8>(rec + d.off2) + 1;
  if (d.kind == K_LABELS) return <u32>load<u8>(rec + d.off2);
  return d.len;
}

/** Writes the payload of an attribute the record holds at `dst`. */
export function loadAttr(d: AttrDesc, rec: usize, dst: usize): void {
  if (d.kind == K_PAIR) {
    const half = d.len >> 1;
    copyBytes(dst, rec + d.off, half);
    copyBytes(dst + half, rec + d.off2, half);
  } else if (d.kind == K_STRING) {
    const n = <u32>load<u8>(rec + d.off2);
    copyBytes(dst, rec + d.off, n);
    store<u8>(dst + n, 0);
  } else if (d.kind == K_LABELS) {
    copyBytes(dst, rec + d.off, <u32>load<u8>(rec + d.off2));
  } else if (d.kind == K_SWAPPED16) {
    store<u16>(dst, bswap16(load<u16>(rec + d.off)));
  } else {
    copyBytes(dst, rec + d.off, d.len);
  }
}
