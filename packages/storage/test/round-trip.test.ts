// Proves that entries and small state of many groups written through flushes read back exactly,
// from the tail cache, from disk, and after the storage is closed and reopened.
import { afterEach, describe, expect, it } from "vitest";
import { NodeStorage, UnknownGroupError } from "../src/index.js";
import { entryIsIntact, makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function tempDir(): string {
  const dir = makeTempDir("round-trip");
  dirs.push(dir);
  return dir;
}

describe("NodeStorage round trip", () => {
  it("writes many groups in shared flushes and reads them back, before and after reopen", async () => {
    const dir = tempDir();
    const groups = 40;
    const flushes = 30;
    let storage = await NodeStorage.open(dir, { segmentSizeBytes: 256 * 1024, tailCacheBytesPerGroup: 4096 });
    const create = storage.beginFlush();
    for (let g = 0; g < groups; g++) create.createGroup(g);
    await create.commit();
    const last = new Array<number>(groups).fill(0);
    for (let f = 0; f < flushes; f++) {
      const batch = storage.beginFlush();
      for (let g = 0; g < groups; g++) {
        if ((g + f) % 3 === 0) continue;
        const count = 1 + ((g * 31 + f) % 4);
        batch.append(g, makeEntries(g, last[g]! + 1, last[g]! + 1 + count, 1));
        last[g]! += count;
        batch.setHardState(g, { term: 1, vote: 1 + (g % 3), commit: last[g]! });
      }
      await batch.commit();
    }
    const check = (s: NodeStorage) => {
      for (let g = 0; g < groups; g++) {
        const log = s.group(g);
        expect(log.firstIndex()).toBe(1);
        expect(log.lastIndex()).toBe(last[g]);
        expect(log.initialState().hardState).toEqual({ term: 1, vote: 1 + (g % 3), commit: last[g] });
        const entries = log.entries(1, last[g]! + 1, Number.MAX_SAFE_INTEGER);
        expect(entries.map((e) => e.index)).toEqual(Array.from({ length: last[g]! }, (_, i) => i + 1));
        for (const entry of entries) expect(entryIsIntact(g, entry)).toBe(true);
        expect(log.term(0)).toBe(0);
        expect(log.term(last[g]!)).toBe(1);
      }
    };
    check(storage);
    expect(storage.metrics().segmentCount).toBeGreaterThan(1);
    await storage.close();
    storage = await NodeStorage.open(dir, { segmentSizeBytes: 256 * 1024 });
    expect(storage.recovery.tornBytesCut).toBe(0);
    check(storage);
    await storage.close();
  });

  it("replaces a conflicting suffix, keeps it replaced after reopen, and respects maxBytes", async () => {
    const dir = tempDir();
    let storage = await NodeStorage.open(dir);
    await storage.createGroup(7);
    await storage
      .beginFlush()
      .append(7, makeEntries(7, 1, 11, 1, 100))
      .commit();
    await storage
      .beginFlush()
      .append(7, makeEntries(7, 6, 8, 2, 100))
      .commit();
    const check = (s: NodeStorage) => {
      const log = s.group(7);
      expect(log.lastIndex()).toBe(7);
      expect([1, 5, 6, 7].map((i) => log.term(i))).toEqual([1, 1, 2, 2]);
      expect(log.entries(1, 8, 250).map((e) => e.index)).toEqual([1, 2]);
      expect(log.entries(3, 8, 0).map((e) => e.index)).toEqual([3]);
      for (const entry of log.entries(1, 8, Infinity)) expect(entryIsIntact(7, entry)).toBe(true);
    };
    check(storage);
    await storage.close();
    storage = await NodeStorage.open(dir);
    check(storage);
    await storage.close();
  });

  it("deletes and re-creates a group without resurrecting its old entries", async () => {
    const dir = tempDir();
    let storage = await NodeStorage.open(dir);
    await storage.createGroup(3);
    await storage
      .beginFlush()
      .append(3, makeEntries(3, 1, 6, 1))
      .commit();
    await storage.deleteGroup(3);
    expect(() => storage.group(3)).toThrow(UnknownGroupError);
    await storage.createGroup(3);
    await storage
      .beginFlush()
      .append(3, makeEntries(3, 1, 3, 4))
      .commit();
    await storage.close();
    storage = await NodeStorage.open(dir);
    expect(storage.group(3).lastIndex()).toBe(2);
    expect(storage.group(3).term(2)).toBe(4);
    await storage.close();
  });
});
