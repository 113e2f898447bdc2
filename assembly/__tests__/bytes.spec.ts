// copyBytes copies inline up to 64 bytes and through memory.copy beyond: at
// every length and alignment it must copy exactly n bytes and touch nothing
// past them.
import { copyBytes } from "../bytes";

const src = memory.data(160, 8);
const dst = memory.data(160, 8);

describe("copyBytes", () => {
  test("copies exactly n bytes at every length from 0 to 100 and every misalignment", () => {
    for (let i: u32 = 0; i < 160; i++) store<u8>(src + i, <u8>(i * 7 + 3));
    for (let off: u32 = 0; off < 8; off++) {
      for (let n: u32 = 0; n <= 100; n++) {
        memory.fill(dst, 0xee, 160);
        copyBytes(dst + off, src + (7 - off), n);
        for (let i: u32 = 0; i < off; i++) expect(load<u8>(dst + i)).toBe(0xee, "before the copy");
        for (let i: u32 = 0; i < n; i++) expect(load<u8>(dst + off + i)).toBe(load<u8>(src + 7 - off + i), "copied");
        for (let i = off + n; i < 160; i++) expect(load<u8>(dst + i)).toBe(0xee, "past the copy");
      }
    }
  });
});
