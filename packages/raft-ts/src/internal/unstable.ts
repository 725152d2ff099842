import type { Entry, Snapshot } from "../types.js";
import { assert } from "./assert.js";

/**
 * The tail of the log not yet persisted: an incoming snapshot and/or entries from `offset` on.
 * Everything below `offset` is in storage (or in the pending snapshot). The entries array is
 * never shared with callers (a Ready gets a copy), so it can be appended to in place.
 */
export class Unstable {
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Index of entries[0]; with no entries, one past the last index of the log. */
  offset: number;
  /**
   * Entries before this index were handed out in a Ready still being persisted (etcd's
   * offsetInProgress); `offset <= offsetInProgress <= lastIndex() + 1`.
   */
  offsetInProgress: number;
  /** The snapshot was handed out in a Ready still being persisted. */
  snapshotInProgress = false;

  constructor(offset: number) {
    this.offset = offset;
    this.offsetInProgress = offset;
  }

  /** Whether some entry or the snapshot has not been handed out yet. */
  hasNotInProgress(): boolean {
    return (
      this.offsetInProgress < this.offset + this.entries.length ||
      (this.snapshot !== null && !this.snapshotInProgress)
    );
  }

  /** The entries not handed out yet (a copy), now marked in progress. */
  takeEntries(): Entry[] {
    const from = this.offsetInProgress - this.offset;
    this.offsetInProgress = this.offset + this.entries.length;
    return from === 0 ? this.entries.slice() : this.entries.slice(from);
  }

  /** The snapshot if not handed out yet (then marked in progress), else null. */
  takeSnapshot(): Snapshot | null {
    if (this.snapshot === null || this.snapshotInProgress) return null;
    this.snapshotInProgress = true;
    return this.snapshot;
  }

  lastIndex(): number {
    return this.offset + this.entries.length - 1;
  }

  /** The term at `index` if the unstable part knows it, else -1. */
  maybeTerm(index: number): number {
    if (index >= this.offset) {
      const entry = this.entries[index - this.offset];
      return entry === undefined ? -1 : entry.term;
    }
    if (this.snapshot !== null && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
    return -1;
  }

  /** Entries up to (index, term) were persisted: drop them, unless they were replaced meanwhile. */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    const entry = this.entries[index - this.offset];
    if (entry === undefined || entry.term !== term) return;
    const count = index + 1 - this.offset;
    this.entries = count === this.entries.length ? [] : this.entries.slice(count);
    this.offset = index + 1;
    // Entries that replaced persisted ones with the same index and term are the same entries
    // (Log Matching): they count as persisted, hence as handed out, too.
    if (this.offsetInProgress < this.offset) this.offsetInProgress = this.offset;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.metadata.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.offsetInProgress = this.offset;
    this.entries = [];
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
  }

  /** Appends entries[from..], replacing any suffix that starts at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[], from: number): void {
    const first = (entries[from] as Entry).index;
    const end = this.offset + this.entries.length;
    if (first === end) {
      // The common case: append in place.
    } else if (first <= this.offset) {
      // Replace everything unstable (and logically hide the stored suffix from `first` on).
      this.offset = first;
      this.entries = [];
    } else {
      assert(first < end, `unstable append at ${first} leaves a gap after ${end - 1}`);
      this.entries = this.entries.slice(0, first - this.offset);
    }
    // Replaced entries that were handed out must be handed out again (their replacements).
    if (this.offsetInProgress > first) this.offsetInProgress = Math.max(first, this.offset);
    for (let i = from; i < entries.length; i++) this.entries.push(entries[i] as Entry);
  }

  /** Entries in [lo, hi), which must lie within the unstable part. */
  slice(lo: number, hi: number): Entry[] {
    assert(
      lo >= this.offset && hi <= this.offset + this.entries.length && lo <= hi,
      `unstable slice [${lo}, ${hi}) out of bounds`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
