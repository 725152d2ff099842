import type { LogStorage } from "../storage.js";
import type { Entry, Snapshot } from "../types.js";
import { assert } from "./assert.js";
import { Unstable } from "./unstable.js";

/**
 * A node's view of its log: the stable part in LogStorage plus the unstable tail, the commit
 * index, and how far the application has applied. Reads never throw for out-of-range indexes
 * on the hot path: `maybeTerm` answers -1 instead.
 */
export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: Unstable;
  committed: number;
  applied: number;
  /** The last committed index handed out to apply (>= applied; more while Readys are in flight). */
  applying: number;

  constructor(storage: LogStorage, commit: number, applied: number) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    this.committed = commit;
    this.applied = applied;
    this.applying = applied;
  }

  firstIndex(): number {
    const snapshot = this.unstable.snapshot;
    return snapshot !== null ? snapshot.metadata.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.lastIndex();
  }

  /** The last index that is on stable storage (all entries up to it are persisted). */
  persistedLastIndex(): number {
    return this.unstable.offset - 1;
  }

  /** The term of the entry at `index`, or -1 when it is compacted or past the last index. */
  maybeTerm(index: number): number {
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm >= 0) return unstableTerm;
    if (index >= this.unstable.offset || this.unstable.snapshot !== null) return -1;
    if (index < this.storage.firstIndex() - 1 || index > this.storage.lastIndex()) return -1;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.maybeTerm(this.lastIndex());
    assert(term >= 0, `no term for the last index ${this.lastIndex()}`);
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.maybeTerm(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (lastTerm, lastIndex) at least as up to date as ours? */
  isUpToDate(lastIndex: number, lastTerm: number, byIndexOnly: boolean): boolean {
    if (byIndexOnly) return lastIndex >= this.lastIndex();
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * The follower side of AppendEntries (receiver steps 2–5). Returns the index of the last new
   * entry, or -1 when the log has no entry at `index` with term `logTerm`.
   */
  maybeAppend(index: number, logTerm: number, commit: number, entries: readonly Entry[]): number {
    if (!this.matchTerm(index, logTerm)) return -1;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== -1) {
      const entry = entries[conflict] as Entry;
      assert(
        entry.index > this.committed,
        `entry ${entry.index} conflicts with committed entry (commit ${this.committed})`,
      );
      this.append(entries, conflict);
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Position in `entries` of the first one that is new or conflicts with ours, or -1. */
  private findConflict(entries: readonly Entry[]): number {
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      if (!this.matchTerm(entry.index, entry.term)) return i;
    }
    return -1;
  }

  /**
   * etcd's findConflictByTerm: the largest index <= `index` whose term is <= `term`, with that
   * term (0 when unknown). Used for fast backtracking on both sides of a rejected append.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i > 0; i--) {
      const ourTerm = this.maybeTerm(i);
      if (ourTerm < 0) return { index: i, term: 0 };
      if (ourTerm <= term) return { index: i, term: ourTerm };
    }
    return { index: 0, term: 0 };
  }

  /** Appends entries[from..] after the committed prefix; returns the new last index. */
  append(entries: readonly Entry[], from = 0): number {
    if (from >= entries.length) return this.lastIndex();
    const first = (entries[from] as Entry).index;
    assert(
      first > this.committed,
      `append at ${first} would overwrite committed entries (commit ${this.committed})`,
    );
    this.unstable.truncateAndAppend(entries, from);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is past the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed, `applied ${index} is past the commit index ${this.committed}`);
    assert(index >= this.applied, `applied index goes back from ${this.applied} to ${index}`);
    this.applied = index;
    if (index > this.applying) this.applying = index;
  }

  /** Committed entries up to `index` were handed out to apply (in a Ready not yet advanced). */
  applyingTo(index: number): void {
    if (index > this.applying) this.applying = index;
  }

  /**
   * Entries in [lo, hi) whose data totals at most `maxBytes` (at least one entry when lo < hi).
   * The caller checks lo >= firstIndex() (else it needs a snapshot) and hi <= lastIndex() + 1.
   */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    assert(lo >= this.firstIndex() && hi <= this.lastIndex() + 1, `slice [${lo}, ${hi}) outside the log`);
    if (lo >= hi) return [];
    const offset = this.unstable.offset;
    let result: Entry[];
    if (lo < offset) {
      const storedHi = Math.min(hi, offset);
      result = this.storage.entries(lo, storedHi, maxBytes);
      // The storage returned a prefix (byte cap): stop here.
      if (result.length < storedHi - lo || hi <= offset) return result;
      let bytes = 0;
      for (const entry of result) bytes += entry.data.length;
      for (let i = offset; i < hi; i++) {
        const entry = this.unstable.entries[i - offset] as Entry;
        bytes += entry.data.length;
        if (bytes > maxBytes) break;
        result.push(entry);
      }
      return result;
    }
    // Entirely unstable: take the byte-capped prefix directly.
    const entries = this.unstable.entries;
    let end = lo + 1;
    let bytes = (entries[lo - offset] as Entry).data.length;
    while (end < hi) {
      bytes += (entries[end - offset] as Entry).data.length;
      if (bytes > maxBytes) break;
      end++;
    }
    return this.unstable.slice(lo, end);
  }

  /**
   * The committed entries the application may apply next: persisted locally, not yet applied
   * nor handed out to apply.
   */
  nextCommittedEntries(maxBytes: number): Entry[] {
    if (this.unstable.snapshot !== null) return [];
    const lo = Math.max(this.applying + 1, this.firstIndex());
    const hi = Math.min(this.committed, this.persistedLastIndex()) + 1;
    if (lo >= hi) return [];
    return this.slice(lo, hi, maxBytes);
  }

  hasNextCommittedEntries(): boolean {
    if (this.unstable.snapshot !== null) return false;
    return (
      Math.min(this.committed, this.persistedLastIndex()) > Math.max(this.applying, this.firstIndex() - 1)
    );
  }

  /** The snapshot a lagging follower needs: a pending one, or the one in storage. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log with a snapshot received from the leader. */
  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }
}
