// Proves that retention frees disk: compaction deletes whole segments once no group's live entries
// point into them, and the rewrite moves a slow group's few live entries forward so one lagging
// group does not pin every segment behind its oldest entry (without rewrite it does, as designed).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { NodeStorage, type NodeStorageOptions } from "../src/index.js";
import { entryIsIntact, makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});

function segmentFiles(dir: string): string[] {
  return readdirSync(join(dir, "segments")).filter((name) => name.endsWith(".seg"));
}

describe("compaction", () => {
  it("deletes the segments holding only compacted entries, and the log survives reopen", async () => {
    const dir = makeTempDir("compact");
    dirs.push(dir);
    const options = { sync: false, segmentSizeBytes: 8192 };
    let storage = await NodeStorage.open(dir, options);
    await storage.createGroup(1);
    for (let i = 1; i <= 100; i++)
      await storage
        .beginFlush()
        .append(1, makeEntries(1, i, i + 1, 1, 500))
        .commit();
    const before = segmentFiles(dir).length;
    expect(before).toBeGreaterThan(5);
    await storage.beginFlush().compact(1, 90).commit();
    const after = segmentFiles(dir).length;
    // Entries 91..100 are 10 × (500 + 36) bytes: two segments of 8 KiB at most, plus the active one.
    expect(after).toBeLessThanOrEqual(3);
    expect(storage.metrics().segmentsDeleted).toBe(before - after);
    await storage.close();
    storage = await NodeStorage.open(dir, options);
    const log = storage.group(1);
    expect(log.firstIndex()).toBe(91);
    expect(log.term(90)).toBe(1);
    const entries = log.entries(91, 101, Infinity);
    expect(entries).toHaveLength(10);
    for (const entry of entries) expect(entryIsIntact(1, entry)).toBe(true);
    await storage.close();
  });

  async function runWithSlowGroup(options: NodeStorageOptions): Promise<{ segments: number; dir: string }> {
    const dir = makeTempDir("slow");
    dirs.push(dir);
    const storage = await NodeStorage.open(dir, options);
    const create = storage.beginFlush().createGroup(1).createGroup(2);
    await create.commit();
    // The slow group writes three entries once, at the start, and never compacts.
    await storage
      .beginFlush()
      .append(2, makeEntries(2, 1, 4, 1, 200))
      .commit();
    for (let i = 1; i <= 200; i++) {
      const batch = storage.beginFlush().append(1, makeEntries(1, i, i + 1, 1, 500));
      if (i > 5) batch.compact(1, i - 5);
      await batch.commit();
    }
    const segments = segmentFiles(dir).length;
    await storage.close();
    return { segments, dir };
  }

  it("rewrites a slow group's live entries forward so old segments can go", async () => {
    const options = { sync: false, segmentSizeBytes: 8192, rewriteLiveRatioMax: 0.25 };
    const { segments, dir } = await runWithSlowGroup(options);
    // The fast group keeps 6 entries of 536 bytes live: one or two segments, plus the active one
    // and the one holding the slow group's rewritten entries.
    expect(segments).toBeLessThanOrEqual(4);
    const storage = await NodeStorage.open(dir, options);
    const slow = storage.group(2).entries(1, 4, Infinity);
    expect(slow.map((e) => e.index)).toEqual([1, 2, 3]);
    for (const entry of slow) expect(entryIsIntact(2, entry)).toBe(true);
    expect(storage.group(1).firstIndex()).toBe(196);
    await storage.close();
  });

  it("without rewrite, the slow group's oldest segment pins every segment after it", async () => {
    const { segments } = await runWithSlowGroup({
      sync: false,
      segmentSizeBytes: 8192,
      rewriteLiveRatioMax: 0,
    });
    expect(segments).toBeGreaterThan(10);
  });
});
