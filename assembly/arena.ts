// Memory for cache entries and queue nodes: size classes of 4 bytes with a
// free list each, carved from 1 MiB chunks. Entries are freed and reused
// constantly (flows come and go), so this keeps memory flat under churn
// without a general-purpose allocator's per-block overhead.

const GRAIN: u32 = 4; // entries hold u32 fields at most: a finer grain wastes less per entry
const MAX_SIZE: u32 = 2048;
const CHUNK: usize = 1 << 20;
const freeHeads = memory.data(<i32>((MAX_SIZE / GRAIN + 1) * 4), 8);

let bump: usize = 0;
let bumpEnd: usize = 0;
let chunkBytes: usize = 0;
let liveBytes: usize = 0;

@inline function classOf(size: u32): u32 {
  return (size + GRAIN - 1) / GRAIN;
}

/** Allocates `size` bytes (at most MAX_SIZE), 4-byte aligned and uninitialised. */
export function arenaAlloc(size: u32): usize {
  const cls = classOf(size);
  const slot = freeHeads + (<usize>cls << 2);
  const head = <usize>load<u32>(slot);
  liveBytes += cls * GRAIN;
  if (head != 0) {
    store<u32>(slot, load<u32>(head));
    return head;
  }
  const bytes = <usize>(cls * GRAIN);
  if (bump + bytes > bumpEnd) {
    bump = heap.alloc(CHUNK);
    bumpEnd = bump + CHUNK;
    chunkBytes += CHUNK;
  }
  const p = bump;
  bump += bytes;
  return p;
}

/** Whether blocks of `a` and of `b` bytes come from the same size class (one can stand in for the other). */
export function sameClass(a: u32, b: u32): bool {
  return classOf(a) == classOf(b);
}

/** Returns a block of `size` bytes (the size it was allocated with). */
export function arenaFree(p: usize, size: u32): void {
  const cls = classOf(size);
  const slot = freeHeads + (<usize>cls << 2);
  store<u32>(p, load<u32>(slot));
  store<u32>(slot, <u32>p);
  liveBytes -= cls * GRAIN;
}

/** Bytes handed out and not freed. */
export function arenaLiveBytes(): usize {
  return liveBytes;
}

/** Bytes reserved from the heap for entries (what the process actually holds). */
export function arenaChunkBytes(): usize {
  return chunkBytes;
}

export const ARENA_MAX_SIZE: u32 = MAX_SIZE;
