// Attribute tables: how each attribute of a message maps onto a record field.
// Both the sync wire codec and the ctnetlink codec describe their attributes
// with these descriptors, so decoding and encoding are one table walk each and
// a field's offset is written down exactly once (in layout.ts).

/** Copy a fixed number of bytes into the record at `off`. */
export const K_FIXED: u32 = 1;
/** Two equal halves (source and destination) into `off` and `off2`; sets a family. */
export const K_PAIR: u32 = 2;
/** A NUL-terminated name: bytes to `off`, its length (u8) to `off2`. */
export const K_STRING: u32 = 3;
/** Whole 32-bit words of label bits: bytes to `off`, length (u8) to `off2`. */
export const K_LABELS: u32 = 4;
/**
 * A 16-bit value whose two bytes the wire carries swapped. conntrackd swaps
 * NAT ports and the ICMP id once more than it should (they are already in
 * network order when it calls htons), so on an x86 wire they are
 * little-endian; the record keeps them in network order like every field.
 */
export const K_SWAPPED16: u32 = 5;

export const NO_FAMILY: u32 = 0xffff;

/**
 * One attribute: its kind, its payload length (exact for K_FIXED / K_PAIR,
 * the largest accepted for K_STRING / K_LABELS), where it goes in the record,
 * the presence bit it sets, and for address attributes the family they belong
 * to (the family byte's offset and value).
 */
@final @unmanaged export class AttrDesc {
  kind: u32 = 0;
  len: u32 = 0;
  off: u32 = 0;
  off2: u32 = 0;
  bit: u32 = 0;
  famOff: u32 = NO_FAMILY;
  famVal: u32 = 0;
}

/** A table indexed by attribute number; kind 0 means "not defined". */
export class AttrTable {
  readonly size: i32;
  private readonly base: usize;

  constructor(size: i32) {
    this.size = size;
    this.base = heap.alloc(<usize>size * offsetof<AttrDesc>());
    memory.fill(this.base, 0, <usize>size * offsetof<AttrDesc>());
  }

  @inline at(id: i32): AttrDesc {
    return changetype<AttrDesc>(this.base + <usize>id * offsetof<AttrDesc>());
  }

  /** Defines attribute `id`; returns it so address attributes can add a family. */
  def(id: i32, kind: u32, len: u32, off: u32, bit: u32, off2: u32 = 0): AttrDesc {
    const d = this.at(id);
    d.kind = kind;
    d.len = len;
    d.off = off;
    d.off2 = off2;
    d.bit = bit;
    d.famOff = NO_FAMILY;
    d.famVal = 0;
    return d;
  }
}

/** Ties an address attribute to a family byte in the record. */
export function ofFamily(d: AttrDesc, famOff: u32, famVal: u32): void {
  d.famOff = famOff;
  d.famVal = famVal;
}
