// Proves that crc32Combine gives zlib's CRC-32 of a concatenation for any split and length, that
// entryDataChecksum remembers per buffer, and that records written with a remembered checksum
// read back intact (the on-disk CRC is unchanged by the shortcut).
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import {
  crc32Combine,
  ENTRY_CHECKSUM_CACHE_BYTES_MIN,
  entryDataChecksum,
  NodeStorage,
  rememberEntryDataChecksum,
} from "../src/index.js";
import { makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

/** A small deterministic generator (mulberry32), so a failure names its seed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("crc32Combine", () => {
  it("equals the CRC of the concatenation for random splits and lengths", () => {
    const data = randomBytes(300_000);
    for (let seed = 1; seed <= 300; seed++) {
      const random = generator(seed);
      const lengthA = Math.floor(random() * 70_000);
      const lengthB = Math.floor(random() * (seed % 10 === 0 ? 230_000 : 70_000));
      const a = data.subarray(0, lengthA);
      const b = data.subarray(lengthA, lengthA + lengthB);
      const combined = crc32Combine(crc32(a), crc32(b), b.length);
      expect(combined, `seed ${seed}`).toBe(crc32(data.subarray(0, lengthA + lengthB)));
    }
  });

  it("handles empty parts on either side", () => {
    const b = randomBytes(5_000);
    expect(crc32Combine(0, crc32(b), b.length)).toBe(crc32(b));
    expect(crc32Combine(crc32(b), 0, 0)).toBe(crc32(b));
  });

  it("continues a CRC as zlib's initial value does", () => {
    const header = randomBytes(36);
    const body = randomBytes(65_536);
    expect(crc32Combine(crc32(header), crc32(body), body.length)).toBe(crc32(body, crc32(header)));
  });
});

describe("entryDataChecksum", () => {
  it("computes the CRC once per large buffer and remembers a verified one", () => {
    const data = randomBytes(ENTRY_CHECKSUM_CACHE_BYTES_MIN);
    expect(entryDataChecksum(data)).toBe(crc32(data));
    const other = randomBytes(ENTRY_CHECKSUM_CACHE_BYTES_MIN * 2);
    rememberEntryDataChecksum(other, crc32(other));
    expect(entryDataChecksum(other)).toBe(crc32(other));
    const small = randomBytes(ENTRY_CHECKSUM_CACHE_BYTES_MIN - 1);
    expect(entryDataChecksum(small)).toBe(crc32(small));
  });

  it("stores records whose CRC came from the shared checksum, and reads them back after reopen", async () => {
    const dir = makeTempDir("checksum");
    dirs.push(dir);
    let storage = await NodeStorage.open(dir);
    await storage.createGroup(1);
    const entries = [1, 2, 3].map((index) => ({
      type: 0 as const,
      term: 1,
      index,
      data: randomBytes(ENTRY_CHECKSUM_CACHE_BYTES_MIN * index),
    }));
    // As the transport does on a follower: the checksum is known before the journal needs it.
    rememberEntryDataChecksum(entries[0]!.data, crc32(entries[0]!.data));
    await storage.beginFlush().append(1, entries).commit();
    await storage.close();
    storage = await NodeStorage.open(dir);
    const read = storage.group(1).entries(1, 4, Number.MAX_SAFE_INTEGER);
    expect(read.map((entry) => Buffer.from(entry.data).equals(entries[entry.index - 1]!.data))).toEqual([
      true,
      true,
      true,
    ]);
    await storage.close();
  });
});
