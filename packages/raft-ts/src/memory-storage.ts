import { CompactedError, SnapshotOutOfDateError, UnavailableError } from "./errors.js";
import { assert } from "./internal/assert.js";
import type { LogStorage } from "./storage.js";
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";

const EMPTY_DATA = new Uint8Array(0);
const EMPTY_HARD_STATE: HardState = { term: 0, vote: 0, commit: 0 };

/**
 * The reference LogStorage, held in memory (etcd's MemoryStorage). It is what tests and the
 * simulation use as a node's "disk": the caller writes each Ready into it (snapshot, entries,
 * hard state) before `advance()`. Entries and snapshots are shared, not copied: callers must not
 * mutate an entry's data after handing it over.
 *
 * Layout: `entries[i]` holds index `baseIndex + 1 + i`; `baseIndex`/`baseTerm` describe the last
 * compacted entry (the snapshot point, 0/0 for a fresh log), so `term(firstIndex() - 1)` works.
 */
export class MemoryStorage implements LogStorage {
  private hardState: HardState = EMPTY_HARD_STATE;
  private confState: ConfState;
  private snap: Snapshot;
  private baseIndex = 0;
  private baseTerm = 0;
  private entryList: Entry[] = [];

  constructor(init?: { confState?: ConfState }) {
    this.confState = copyConfState(init?.confState ?? { voters: [], learners: [] });
    this.snap = { metadata: { index: 0, term: 0, confState: this.confState }, data: EMPTY_DATA };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardState, confState: this.confState };
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.baseIndex) throw new CompactedError(lo, this.baseIndex + 1);
    const last = this.lastIndex();
    if (hi > last + 1) throw new UnavailableError(hi - 1, last);
    if (lo >= hi) return [];
    const start = lo - this.baseIndex - 1;
    let end = hi - this.baseIndex - 1;
    // The first entry is always returned; later ones while the byte budget lasts.
    let bytes = (this.entryList[start] as Entry).data.length;
    for (let i = start + 1; i < end; i++) {
      bytes += (this.entryList[i] as Entry).data.length;
      if (bytes > maxBytes) {
        end = i;
        break;
      }
    }
    return this.entryList.slice(start, end);
  }

  term(index: number): number {
    if (index < this.baseIndex) throw new CompactedError(index, this.baseIndex + 1);
    if (index === this.baseIndex) return this.baseTerm;
    const entry = this.entryList[index - this.baseIndex - 1];
    if (entry === undefined) throw new UnavailableError(index, this.lastIndex());
    return entry.term;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.entryList.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Persists the hard state of a Ready. */
  setHardState(hardState: HardState): void {
    this.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
  }

  /**
   * Appends the entries of a Ready. Entries must be contiguous and start at most one past the
   * last index; an existing suffix from the first new index on is replaced (it conflicted, and
   * raft decided to overwrite it). Entries at or below the compaction point are skipped.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    const lastNew = (entries[entries.length - 1] as Entry).index;
    assert(
      lastNew - first + 1 === entries.length,
      `appended entries must be contiguous (${first}..${lastNew})`,
    );
    if (lastNew <= this.baseIndex) return;
    let from = 0;
    if (first <= this.baseIndex) from = this.baseIndex + 1 - first;
    const startIndex = first + from;
    const position = startIndex - this.baseIndex - 1;
    assert(
      position <= this.entryList.length,
      `missing log entries: appending at ${startIndex} after last index ${this.lastIndex()}`,
    );
    if (position < this.entryList.length) this.entryList.length = position;
    for (let i = from; i < entries.length; i++) this.entryList.push(entries[i] as Entry);
  }

  /**
   * Replaces the whole log with a snapshot (a follower installing the snapshot of a Ready).
   * Throws SnapshotOutOfDateError when it is not newer than the stored one.
   */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    this.snap = snapshot;
    this.confState = copyConfState(snapshot.metadata.confState);
    this.baseIndex = index;
    this.baseTerm = snapshot.metadata.term;
    this.entryList = [];
  }

  /**
   * Records a snapshot of the application state as of `index` (which must be applied, hence in
   * the log). It does not compact: call `compact` afterwards, at most up to `index`, so a lagging
   * follower can always be caught up by this snapshot. SnapshotOutOfDateError when not newer.
   */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.metadata.index) throw new SnapshotOutOfDateError(index, this.snap.metadata.index);
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    const term = this.term(index);
    this.confState = copyConfState(confState);
    this.snap = { metadata: { index, term, confState: this.confState }, data };
    return this.snap;
  }

  /**
   * Drops the entries up to and including `index`. CompactedError when `index` is already
   * compacted, UnavailableError when it is past the last index.
   */
  compact(index: number): void {
    if (index <= this.baseIndex) throw new CompactedError(index, this.baseIndex + 1);
    if (index > this.lastIndex()) throw new UnavailableError(index, this.lastIndex());
    const count = index - this.baseIndex;
    this.baseTerm = (this.entryList[count - 1] as Entry).term;
    this.baseIndex = index;
    this.entryList = this.entryList.slice(count);
  }

  /**
   * A copy that later writes to either side do not affect (entries are immutable and shared).
   * The simulation uses it to keep "what was on disk" when a node crashes.
   */
  clone(): MemoryStorage {
    const copy = new MemoryStorage({ confState: this.confState });
    copy.hardState = this.hardState;
    copy.snap = this.snap;
    copy.baseIndex = this.baseIndex;
    copy.baseTerm = this.baseTerm;
    copy.entryList = this.entryList.slice();
    return copy;
  }
}

function copyConfState(confState: ConfState): ConfState {
  return { voters: confState.voters.slice(), learners: confState.learners.slice() };
}
