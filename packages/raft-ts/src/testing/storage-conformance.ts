import { describe, expect, it } from "vitest";
import { RaftErrorCode } from "../errors.js";
import type { LogStorage } from "../storage.js";
import { type ConfState, type Entry, EntryType, type HardState, type Snapshot } from "../types.js";

/** What a storage under test starts with (written through the implementation's own writers). */
export interface LogStorageFill {
  /** Installed first, when given. */
  readonly snapshot?: Snapshot;
  /** Appended after the snapshot; contiguous. */
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
}

/**
 * A storage under test with the writer operations the suite needs. The writers are the
 * implementation's own (they are not part of LogStorage); they may be async.
 */
export interface LogStorageUnderTest {
  readonly storage: LogStorage;
  /** Persists Ready entries: appends, replacing a conflicting suffix. */
  append(entries: readonly Entry[]): void | Promise<void>;
  setHardState(hardState: HardState): void | Promise<void>;
  /** Installs a snapshot received from a leader; rejects an older one with SnapshotOutOfDateError. */
  applySnapshot(snapshot: Snapshot): void | Promise<void>;
  /** Drops entries up to `index`; CompactedError when already compacted. */
  compact(index: number): void | Promise<void>;
  /** Releases resources (files, handles). */
  close?(): void | Promise<void>;
}

export type LogStorageFactory = (fill: LogStorageFill) => LogStorageUnderTest | Promise<LogStorageUnderTest>;

const CONF: ConfState = { voters: [1, 2, 3], learners: [4] };
const ENTRY_BYTES = 10;

function entry(index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array(ENTRY_BYTES).fill(index & 0xff) };
}

function snapshotAt(index: number, term: number, confState: ConfState = CONF): Snapshot {
  return { metadata: { index, term, confState }, data: new Uint8Array([index & 0xff]) };
}

function indexes(entries: readonly Entry[]): number[] {
  return entries.map((e) => e.index);
}

/** Expects `action` to throw (or reject with) a raft-ts error of `code`. */
async function expectCode(action: () => unknown, code: string): Promise<void> {
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected an error with code ${code}`).toMatchObject({ code });
}

/**
 * The suite every LogStorage implementation must pass (etcd's storage_test.go): ranges with a
 * byte cap, terms, first/last index, snapshots, compaction, and the typed Compacted/Unavailable
 * errors at the edges. The standard fill is a snapshot at (3, 3) and entries 4, 5, 6 of terms
 * 4, 5, 6, each with 10 bytes of data.
 */
export function describeLogStorageConformance(name: string, create: LogStorageFactory): void {
  const standard = (): LogStorageFill => ({
    snapshot: snapshotAt(3, 3),
    entries: [entry(4, 4), entry(5, 5), entry(6, 6)],
  });

  async function withStorage(
    fill: LogStorageFill,
    body: (under: LogStorageUnderTest) => Promise<void> | void,
  ) {
    const under = await create(fill);
    try {
      await body(under);
    } finally {
      await under.close?.();
    }
  }

  describe(`LogStorage conformance: ${name}`, () => {
    it("an empty storage starts at index 1 with a zero hard state and an empty snapshot", async () => {
      await withStorage({ entries: [] }, ({ storage }) => {
        expect(storage.firstIndex()).toBe(1);
        expect(storage.lastIndex()).toBe(0);
        expect(storage.term(0)).toBe(0);
        expect(storage.entries(1, 1, Number.MAX_SAFE_INTEGER)).toEqual([]);
        expect(storage.snapshot().metadata.index).toBe(0);
        expect(storage.initialState().hardState).toMatchObject({ term: 0, vote: 0, commit: 0 });
      });
    });

    it("reports first and last index around a snapshot", async () => {
      await withStorage(standard(), ({ storage }) => {
        expect(storage.firstIndex()).toBe(4);
        expect(storage.lastIndex()).toBe(6);
      });
    });

    it("answers term() from the snapshot index to the last index, with typed errors outside", async () => {
      await withStorage(standard(), async ({ storage }) => {
        await expectCode(() => storage.term(2), RaftErrorCode.Compacted);
        expect(storage.term(3)).toBe(3);
        expect(storage.term(4)).toBe(4);
        expect(storage.term(6)).toBe(6);
        await expectCode(() => storage.term(7), RaftErrorCode.Unavailable);
      });
    });

    it("returns entries in [lo, hi), Compacted below the first index and Unavailable past the last", async () => {
      await withStorage(standard(), async ({ storage }) => {
        const all = Number.MAX_SAFE_INTEGER;
        await expectCode(() => storage.entries(2, 6, all), RaftErrorCode.Compacted);
        await expectCode(() => storage.entries(3, 5, all), RaftErrorCode.Compacted);
        expect(indexes(storage.entries(4, 5, all))).toEqual([4]);
        expect(indexes(storage.entries(4, 7, all))).toEqual([4, 5, 6]);
        expect(indexes(storage.entries(5, 7, all))).toEqual([5, 6]);
        expect(storage.entries(5, 5, all)).toEqual([]);
        await expectCode(() => storage.entries(4, 8, all), RaftErrorCode.Unavailable);
        const got = storage.entries(4, 7, all);
        expect(got.map((e) => e.term)).toEqual([4, 5, 6]);
        expect(Array.from(got[1]?.data ?? [])).toEqual(Array.from(entry(5, 5).data));
      });
    });

    it("caps entries by data bytes but always returns at least one", async () => {
      await withStorage(standard(), ({ storage }) => {
        expect(indexes(storage.entries(4, 7, 0))).toEqual([4]);
        expect(indexes(storage.entries(4, 7, ENTRY_BYTES))).toEqual([4]);
        expect(indexes(storage.entries(4, 7, 2 * ENTRY_BYTES - 1))).toEqual([4]);
        expect(indexes(storage.entries(4, 7, 2 * ENTRY_BYTES))).toEqual([4, 5]);
        expect(indexes(storage.entries(4, 7, 3 * ENTRY_BYTES))).toEqual([4, 5, 6]);
      });
    });

    it("hands out entry arrays the caller owns", async () => {
      await withStorage(standard(), ({ storage }) => {
        const got = storage.entries(4, 7, Number.MAX_SAFE_INTEGER);
        got.length = 0;
        got.push(entry(99, 99));
        expect(indexes(storage.entries(4, 7, Number.MAX_SAFE_INTEGER))).toEqual([4, 5, 6]);
      });
    });

    it("appends, and replaces a conflicting suffix", async () => {
      await withStorage(standard(), async (under) => {
        await under.append([entry(7, 6), entry(8, 6)]);
        expect(under.storage.lastIndex()).toBe(8);
        await under.append([entry(6, 7)]);
        expect(under.storage.lastIndex()).toBe(6);
        expect(under.storage.term(6)).toBe(7);
        expect(under.storage.term(5)).toBe(5);
        // Entries at or below the snapshot are skipped.
        await under.append([entry(3, 3), entry(4, 4), entry(5, 5), entry(6, 7), entry(7, 7)]);
        expect(under.storage.firstIndex()).toBe(4);
        expect(under.storage.lastIndex()).toBe(7);
        expect(under.storage.term(7)).toBe(7);
      });
    });

    it("keeps the hard state and the snapshot's configuration", async () => {
      await withStorage(standard(), async (under) => {
        await under.setHardState({ term: 6, vote: 2, commit: 5 });
        const state = under.storage.initialState();
        expect(state.hardState).toMatchObject({ term: 6, vote: 2, commit: 5 });
        expect([...state.confState.voters].sort()).toEqual([1, 2, 3]);
        expect([...state.confState.learners]).toEqual([4]);
        const snapshot = under.storage.snapshot();
        expect(snapshot.metadata).toMatchObject({ index: 3, term: 3 });
        expect(Array.from(snapshot.data)).toEqual([3]);
      });
    });

    it("after compact, earlier entries are Compacted and the compaction point keeps its term", async () => {
      await withStorage(standard(), async (under) => {
        await under.compact(5);
        const { storage } = under;
        expect(storage.firstIndex()).toBe(6);
        expect(storage.lastIndex()).toBe(6);
        expect(storage.term(5)).toBe(5);
        await expectCode(() => storage.term(4), RaftErrorCode.Compacted);
        await expectCode(() => storage.entries(5, 7, Number.MAX_SAFE_INTEGER), RaftErrorCode.Compacted);
        expect(indexes(storage.entries(6, 7, Number.MAX_SAFE_INTEGER))).toEqual([6]);
        await expectCode(() => under.compact(5), RaftErrorCode.Compacted);
        await under.append([entry(7, 7)]);
        expect(storage.lastIndex()).toBe(7);
      });
    });

    it("after applySnapshot, the log restarts after the snapshot", async () => {
      await withStorage(standard(), async (under) => {
        const confState: ConfState = { voters: [1, 2], learners: [] };
        await under.applySnapshot(snapshotAt(10, 8, confState));
        const { storage } = under;
        expect(storage.firstIndex()).toBe(11);
        expect(storage.lastIndex()).toBe(10);
        expect(storage.term(10)).toBe(8);
        await expectCode(() => storage.term(6), RaftErrorCode.Compacted);
        expect(storage.entries(11, 11, Number.MAX_SAFE_INTEGER)).toEqual([]);
        expect(storage.snapshot().metadata).toMatchObject({ index: 10, term: 8 });
        expect([...storage.initialState().confState.voters].sort()).toEqual([1, 2]);
        await under.append([entry(11, 8)]);
        expect(indexes(storage.entries(11, 12, Number.MAX_SAFE_INTEGER))).toEqual([11]);
      });
    });

    it("rejects a snapshot older than the stored one with SnapshotOutOfDate", async () => {
      await withStorage(standard(), async (under) => {
        await expectCode(() => under.applySnapshot(snapshotAt(2, 2)), RaftErrorCode.SnapshotOutOfDate);
        await expectCode(() => under.applySnapshot(snapshotAt(3, 3)), RaftErrorCode.SnapshotOutOfDate);
        expect(under.storage.lastIndex()).toBe(6);
      });
    });
  });
}
