// Proves the storage reports every synced write to its onSync observer (the journal's append as
// "segment", a synced LevelDB batch as "state") with a duration, reports none with sync off, a
// throwing observer never fails a flush, and the metrics count LevelDB's bytes.
import { afterEach, describe, expect, it } from "vitest";
import { InvalidOptionsError, NodeStorage, type SyncKind } from "../src/index.js";
import { makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});
function tempDir(): string {
  const dir = makeTempDir("sync-observer");
  dirs.push(dir);
  return dir;
}

describe("onSync", () => {
  it("reports each synced journal append and each synced LevelDB batch with its duration", async () => {
    const seen: [SyncKind, number][] = [];
    const storage = await NodeStorage.open(tempDir(), { onSync: (kind, ms) => seen.push([kind, ms]) });
    try {
      // Creating a group changes state that must be durable: one synced LevelDB batch.
      await storage.createGroup(1);
      await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 4, 1))
        .commit();
      const segments = seen.filter(([kind]) => kind === "segment");
      const states = seen.filter(([kind]) => kind === "state");
      expect(segments.length).toBe(storage.metrics().segmentSyncs);
      expect(states.length).toBe(storage.metrics().stateSyncs);
      expect(segments.length).toBeGreaterThanOrEqual(1);
      expect(states.length).toBeGreaterThanOrEqual(1);
      for (const [, ms] of seen) expect(ms).toBeGreaterThanOrEqual(0);
      expect(storage.metrics().stateBytes).toBeGreaterThan(0);
    } finally {
      await storage.close();
    }
  });

  it("reports nothing with sync off, and a throwing observer fails no flush", async () => {
    const quiet: SyncKind[] = [];
    const unsynced = await NodeStorage.open(tempDir(), { sync: false, onSync: (kind) => quiet.push(kind) });
    try {
      await unsynced.createGroup(1);
      await unsynced
        .beginFlush()
        .append(1, makeEntries(1, 1, 3, 1))
        .commit();
      expect(quiet).toEqual([]);
    } finally {
      await unsynced.close();
    }
    const storage = await NodeStorage.open(tempDir(), {
      onSync: () => {
        throw new Error("observer bug");
      },
    });
    try {
      await storage.createGroup(1);
      await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 3, 1))
        .commit();
      expect(storage.group(1).lastIndex()).toBe(2);
    } finally {
      await storage.close();
    }
    await expect(NodeStorage.open(tempDir(), { onSync: 5 as never })).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
  });
});
