import type { ConfState, Entry, HardState, Snapshot } from "./types.js";

/**
 * The log storage raft reads from: the *stable* (persisted) part of the log, the hard state and
 * the latest snapshot. Raft never writes to it: the caller persists what a Ready asks for (with
 * the writer methods of its own implementation, such as MemoryStorage's) before `advance()`.
 *
 * Reads are synchronous because the Raft core is. A disk-backed implementation keeps term
 * lookups and recent entries in memory and reads older ones synchronously from its files.
 *
 * Every implementation must pass the conformance suite in `src/testing/storage-conformance.ts`
 * (exported as `describeLogStorageConformance` from `raft-ts/testing`).
 *
 * Errors: reads below the first index throw `CompactedError`; reads past the last index throw
 * `UnavailableError`. Both are typed (errors.ts) and never mean corruption.
 */
export interface LogStorage {
  /** The hard state and membership as of the last persist (initial values on an empty log). */
  initialState(): { hardState: HardState; confState: ConfState };
  /**
   * Entries with index in [lo, hi), in order. At least one entry is returned when lo < hi, even
   * if it alone exceeds `maxBytes`; otherwise the prefix whose total `data` size is at most
   * `maxBytes`. The returned array belongs to the caller (raft may append to it); the entries
   * in it are shared and immutable.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** The term of the entry at `index`; valid for firstIndex()-1 (the snapshot's term) … lastIndex(). */
  term(index: number): number;
  /** The index of the first entry still in the log (snapshot index + 1). */
  firstIndex(): number;
  /** The index of the last entry in the log (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** The most recent snapshot (an empty one, index 0, when none was taken). */
  snapshot(): Snapshot;
}
