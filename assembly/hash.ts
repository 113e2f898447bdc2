// Hashing of cache keys: 32-bit words mixed murmur3-style. Keys are tuples,
// built padded to whole words.

@inline function mixWord(h: u32, k: u32): u32 {
  k *= 0xcc9e2d51;
  k = rotl<u32>(k, 15);
  k *= 0x1b873593;
  h ^= k;
  h = rotl<u32>(h, 13);
  return h * 5 + 0xe6546b64;
}

/** Hash of `words` 32-bit words at p. */
export function hashWords(p: usize, words: u32, seed: u32): u32 {
  let h = seed ^ (words * 0x9e3779b1);
  for (let i: u32 = 0; i < words; i++) h = mixWord(h, load<u32>(p + (<usize>i << 2)));
  h ^= h >> 16;
  h *= 0x85ebca6b;
  h ^= h >> 13;
  h *= 0xc2b2ae35;
  h ^= h >> 16;
  return h;
}
