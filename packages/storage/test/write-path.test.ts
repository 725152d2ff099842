// Proves the two shortcuts of the flush's write path: commit indexes that are a flush's only
// change are owed rather than written to LevelDB (and reach it with the next batch written
// anyway, once their interval passed, or at close), and small journal frames are written on the
// calling thread while large ones go through libuv's pool, with the same bytes on disk either way.
import { afterEach, describe, expect, it } from "vitest";
import { NodeStorage } from "../src/index.js";
import { entryIsIntact, makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});
function tempDir(): string {
  const dir = makeTempDir("write-path");
  dirs.push(dir);
  return dir;
}

/** Long enough that no test run reaches it: owed commits go only when a test makes them go. */
const INTERVAL_NEVER_MS = 3_600_000;
const WAIT_DEADLINE_MS = 5_000;

describe("owed commit indexes", () => {
  it("writes no LevelDB batch for commit-only changes; the next batch written anyway carries them", async () => {
    const dir = tempDir();
    const storage = await NodeStorage.open(dir, { commitIndexWriteIntervalMs: INTERVAL_NEVER_MS });
    try {
      await storage.createGroup(1);
      await storage.createGroup(2);
      await storage.beginFlush().setHardState(1, { term: 1, vote: 1, commit: 0 }).commit();
      const before = storage.metrics();
      for (let index = 1; index <= 5; index++) {
        await storage
          .beginFlush()
          .append(1, makeEntries(1, index, index + 1, 1))
          .setHardState(1, { term: 1, vote: 1, commit: index })
          .setHardState(2, { term: 0, vote: 0, commit: 0 })
          .commit();
      }
      const owed = storage.metrics();
      expect(owed.stateWrites).toBe(before.stateWrites);
      expect(owed.stateSyncs).toBe(before.stateSyncs);
      expect(owed.commitIndexesOwed).toBe(1);
      // Raft's view is the newest one, owed or not.
      expect(storage.group(1).initialState().hardState.commit).toBe(5);

      // A term change is synced, and the owed commit index goes in the same batch.
      await storage.beginFlush().setHardState(2, { term: 2, vote: 2, commit: 0 }).commit();
      const after = storage.metrics();
      expect(after.stateSyncs).toBe(owed.stateSyncs + 1);
      expect(after.commitIndexesOwed).toBe(0);
    } finally {
      await storage.close();
    }
  });

  it("writes the owed commit indexes with the first flush after their interval", async () => {
    const intervalMs = 20;
    const storage = await NodeStorage.open(tempDir(), { commitIndexWriteIntervalMs: intervalMs });
    try {
      await storage.createGroup(1);
      const start = storage.metrics();
      let commit = 0;
      const deadline = performance.now() + WAIT_DEADLINE_MS;
      while (storage.metrics().stateWrites === start.stateWrites) {
        if (performance.now() > deadline) throw new Error("no flush wrote the owed commit index");
        commit += 1;
        await storage
          .beginFlush()
          .append(1, makeEntries(1, commit, commit + 1, 1))
          .setHardState(1, { term: 1, vote: 0, commit })
          .commit();
        await new Promise((resolve) => setTimeout(resolve, intervalMs / 4));
      }
      // One write covers every flush of the interval, not one each.
      expect(storage.metrics().stateWrites - start.stateWrites).toBe(1);
      expect(commit).toBeGreaterThan(1);
      expect(storage.metrics().commitIndexesOwed).toBe(0);
    } finally {
      await storage.close();
    }
  });

  it("writes every commit change when the interval is 0", async () => {
    const storage = await NodeStorage.open(tempDir(), { commitIndexWriteIntervalMs: 0 });
    try {
      await storage.createGroup(1);
      await storage.beginFlush().setHardState(1, { term: 1, vote: 0, commit: 0 }).commit();
      const start = storage.metrics().stateWrites;
      for (let index = 1; index <= 3; index++) {
        await storage
          .beginFlush()
          .append(1, makeEntries(1, index, index + 1, 1))
          .setHardState(1, { term: 1, vote: 0, commit: index })
          .commit();
      }
      await storage.beginFlush().setHardState(1, { term: 1, vote: 0, commit: 3 }).commit();
      // Batches not waited for are counted as they land: close waits for the last one.
      await storage.close();
      expect(storage.metrics().stateWrites - start).toBe(3);
      expect(storage.metrics().commitIndexesOwed).toBe(0);
    } finally {
      await storage.close();
    }
  });

  it("writes the owed commit indexes at close, so a reopen finds the newest", async () => {
    const dir = tempDir();
    const storage = await NodeStorage.open(dir, { commitIndexWriteIntervalMs: INTERVAL_NEVER_MS });
    await storage.createGroup(7);
    await storage
      .beginFlush()
      .append(7, makeEntries(7, 1, 4, 3))
      .setHardState(7, { term: 3, vote: 1, commit: 0 })
      .commit();
    await storage.beginFlush().setHardState(7, { term: 3, vote: 1, commit: 3 }).commit();
    expect(storage.metrics().commitIndexesOwed).toBe(1);
    await storage.close();

    const reopened = await NodeStorage.open(dir);
    try {
      expect(reopened.group(7).initialState().hardState).toEqual({ term: 3, vote: 1, commit: 3 });
    } finally {
      await reopened.close();
    }
  });

  it("forgets the owed commit index of a deleted group", async () => {
    const dir = tempDir();
    const storage = await NodeStorage.open(dir, { commitIndexWriteIntervalMs: INTERVAL_NEVER_MS });
    await storage.createGroup(4);
    await storage.beginFlush().setHardState(4, { term: 1, vote: 0, commit: 0 }).commit();
    await storage
      .beginFlush()
      .append(4, makeEntries(4, 1, 3, 1))
      .setHardState(4, { term: 1, vote: 0, commit: 2 })
      .commit();
    expect(storage.metrics().commitIndexesOwed).toBe(1);
    await storage.deleteGroup(4);
    expect(storage.metrics().commitIndexesOwed).toBe(0);
    await storage.close();

    const reopened = await NodeStorage.open(dir);
    try {
      expect(reopened.hasGroup(4)).toBe(false);
    } finally {
      await reopened.close();
    }
  });
});

describe("inline journal writes", () => {
  it("writes frames up to inlineWriteBytesMax on the calling thread, larger ones through the pool", async () => {
    const dir = tempDir();
    const inlineWriteBytesMax = 16 * 1024;
    const storage = await NodeStorage.open(dir, { inlineWriteBytesMax });
    await storage.createGroup(1);
    const small = await storage
      .beginFlush()
      .append(1, makeEntries(1, 1, 5, 1, 1024))
      .commit();
    expect(small.segmentBytes).toBeLessThanOrEqual(inlineWriteBytesMax);
    expect(storage.metrics().inlineAppends).toBe(1);
    const large = await storage
      .beginFlush()
      .append(1, makeEntries(1, 5, 7, 1, 64 * 1024))
      .commit();
    expect(large.segmentBytes).toBeGreaterThan(inlineWriteBytesMax);
    expect(storage.metrics().inlineAppends).toBe(1);
    await storage
      .beginFlush()
      .append(1, makeEntries(1, 7, 9, 1, 100))
      .commit();
    expect(storage.metrics().inlineAppends).toBe(2);
    await storage.close();

    // Both paths wrote the same format: a reopen scans every frame and serves every entry intact.
    const reopened = await NodeStorage.open(dir);
    try {
      expect(reopened.recovery.tornBytesCut).toBe(0);
      const log = reopened.group(1);
      expect(log.lastIndex()).toBe(8);
      const entries = log.entries(1, 9, Number.MAX_SAFE_INTEGER);
      expect(entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      for (const entry of entries) expect(entryIsIntact(1, entry)).toBe(true);
    } finally {
      await reopened.close();
    }
  });

  it("sends every frame through the pool when inlineWriteBytesMax is 0", async () => {
    const storage = await NodeStorage.open(tempDir(), { inlineWriteBytesMax: 0 });
    try {
      await storage.createGroup(1);
      await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 3, 1, 10))
        .commit();
      expect(storage.metrics().inlineAppends).toBe(0);
      expect(storage.metrics().segmentSyncs).toBe(1);
    } finally {
      await storage.close();
    }
  });
});
