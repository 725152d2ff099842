// Proves the API's contract at its edges: options are validated at open, bad requests get typed
// errors and change nothing, one flush runs at a time, a data directory opens once, and the
// hard state is synced only when term or vote changed.
import { afterEach, describe, expect, it } from "vitest";
import {
  FlushInProgressError,
  GroupExistsError,
  InvalidOptionsError,
  InvalidRequestError,
  NodeStorage,
  StorageClosedError,
  StorageErrorCode,
  StorageLockedError,
  UnknownGroupError,
} from "../src/index.js";
import { makeEntries, makeTempDir, removeDir } from "./helpers.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDir(dir);
});
function tempDir(): string {
  const dir = makeTempDir("api");
  dirs.push(dir);
  return dir;
}

describe("NodeStorage API", () => {
  it("validates options at open", async () => {
    const dir = tempDir();
    await expect(NodeStorage.open(dir, { segmentSizeBytes: 10 })).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(
      NodeStorage.open(dir, { tailCacheBytesPerGroup: 2, tailCacheBytesPerNode: 1 }),
    ).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(NodeStorage.open(dir, { rewriteLiveRatioMax: 2 })).rejects.toMatchObject({
      code: StorageErrorCode.InvalidOptions,
    });
    await expect(NodeStorage.open(dir, { colour: "blue" } as never)).rejects.toBeInstanceOf(
      InvalidOptionsError,
    );
  });

  it("rejects bad requests with typed errors and leaves the log unchanged", async () => {
    const storage = await NodeStorage.open(tempDir(), { sync: false });
    try {
      await storage.createGroup(1);
      await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 4, 1))
        .commit();
      const batch = storage.beginFlush();
      expect(() => batch.append(1, makeEntries(1, 6, 7, 1))).toThrow(InvalidRequestError);
      expect(() => batch.append(1, [...makeEntries(1, 4, 5, 1), ...makeEntries(1, 6, 7, 1)])).toThrow(
        InvalidRequestError,
      );
      expect(() => batch.append(2, makeEntries(2, 1, 2, 1))).toThrow(UnknownGroupError);
      expect(() => batch.createGroup(1)).toThrow(GroupExistsError);
      expect(() => batch.compact(1, 9)).toThrow(InvalidRequestError);
      expect(() => batch.append(-1, [])).toThrow(InvalidRequestError);
      expect(() => storage.beginFlush()).toThrow(FlushInProgressError);
      await batch.commit();
      expect(storage.group(1).lastIndex()).toBe(3);
      expect(() => storage.group(9)).toThrow(UnknownGroupError);
    } finally {
      await storage.close();
    }
    expect(() => storage.beginFlush()).toThrow(StorageClosedError);
  });

  it("opens a data directory only once at a time", async () => {
    const dir = tempDir();
    const storage = await NodeStorage.open(dir, { sync: false });
    try {
      await expect(NodeStorage.open(dir, { sync: false })).rejects.toBeInstanceOf(StorageLockedError);
    } finally {
      await storage.close();
    }
  });

  it("syncs LevelDB when term or vote change, not for a commit-only change", async () => {
    const storage = await NodeStorage.open(tempDir());
    try {
      await storage.createGroup(1);
      const hard = await storage.beginFlush().setHardState(1, { term: 2, vote: 1, commit: 0 }).commit();
      expect(hard.stateSynced).toBe(true);
      const append = await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 3, 2))
        .setHardState(1, { term: 2, vote: 1, commit: 2 })
        .commit();
      expect(append).toMatchObject({ entries: 2, segmentSynced: true, stateSynced: false });
      expect(storage.group(1).initialState().hardState).toEqual({ term: 2, vote: 1, commit: 2 });
    } finally {
      await storage.close();
    }
  });

  it("serves recent entries from the tail cache and older ones from disk", async () => {
    const storage = await NodeStorage.open(tempDir(), { sync: false, tailCacheBytesPerGroup: 1000 });
    try {
      await storage.createGroup(1);
      await storage
        .beginFlush()
        .append(1, makeEntries(1, 1, 21, 1, 100))
        .commit();
      const log = storage.group(1);
      log.entries(15, 21, Infinity);
      expect(log.reads).toMatchObject({ cachedEntries: 6, diskEntries: 0 });
      log.entries(1, 21, Infinity);
      // Entries 1..10 come from disk in one coalesced read; 11..20 are cached (1,000 bytes).
      expect(log.reads).toMatchObject({ cachedEntries: 16, diskEntries: 10, diskReads: 1 });
    } finally {
      await storage.close();
    }
  });

  it("drops applied entries from the tail cache beyond the bytes asked to keep, and reads them back from disk", async () => {
    const storage = await NodeStorage.open(tempDir(), { sync: false, tailCacheBytesPerGroup: 100_000 });
    try {
      await storage.createGroup(1);
      const entries = makeEntries(1, 1, 21, 1, 100);
      await storage.beginFlush().append(1, entries).commit();
      expect(storage.metrics().tailCacheBytes).toBe(2_000);
      // Applied up to 15, keep 300 bytes of those: 13, 14 and 15 stay, as do 16..20 (not applied).
      storage.releaseApplied(1, 15, 300);
      expect(storage.metrics().tailCacheBytes).toBe(800);
      const log = storage.group(1);
      log.entries(13, 21, Infinity);
      expect(log.reads).toMatchObject({ cachedEntries: 8, diskEntries: 0 });
      const all = log.entries(1, 21, Infinity);
      expect(log.reads).toMatchObject({ diskEntries: 12 });
      expect(all.map((entry) => Buffer.from(entry.data))).toEqual(
        entries.map((entry) => Buffer.from(entry.data)),
      );
      // Entries not applied are never dropped, whatever is asked to be kept.
      storage.releaseApplied(1, 15, 0);
      expect(storage.metrics().tailCacheBytes).toBe(500);
      // An unknown group is ignored.
      storage.releaseApplied(99, 15, 0);
    } finally {
      await storage.close();
    }
  });
});
