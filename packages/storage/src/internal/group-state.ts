/**
 * Everything this node knows about one Raft group's log and state, in memory: the entry index
 * (where each entry's record lies), the tail cache, the hard state, conf state and snapshot.
 * Both the commit path and recovery change the log only through the methods here, so a replay of
 * the journal rebuilds exactly the state the flushes produced.
 */
import type { ConfState, Entry, HardState, Snapshot } from "raft-ts";
import { RecoveryFailedError } from "../errors.js";
import { assert } from "./assert.js";
import { type DropListener, EntryIndex } from "./entry-index.js";
import type { SegmentFiles } from "./segments.js";
import type { GroupMeta } from "./state-codec.js";
import { TailCache } from "./tail-cache.js";

export const EMPTY_HARD_STATE: HardState = Object.freeze({ term: 0, vote: 0, commit: 0 });
export const EMPTY_CONF_STATE: ConfState = Object.freeze({
  voters: Object.freeze([]),
  learners: Object.freeze([]),
});
export const EMPTY_SNAPSHOT: Snapshot = Object.freeze({
  metadata: Object.freeze({ index: 0, term: 0, confState: EMPTY_CONF_STATE }),
  data: new Uint8Array(0),
});

export class GroupState {
  readonly id: number;
  /** False once the group is deleted; views of it then throw UnknownGroupError. */
  live = true;
  prevTerm: number;
  logStartSeq: number;
  hardState: HardState = EMPTY_HARD_STATE;
  /** Null until set: initialState() then reports the snapshot's conf state. */
  confState: ConfState | null = null;
  snapshot: Snapshot = EMPTY_SNAPSHOT;
  readonly index: EntryIndex;
  readonly cache = new TailCache();
  private readonly segments: SegmentFiles;
  private readonly onDrop: DropListener;

  constructor(id: number, meta: GroupMeta, segments: SegmentFiles) {
    this.id = id;
    this.prevTerm = meta.prevTerm;
    this.logStartSeq = meta.logStartSeq;
    this.index = new EntryIndex(meta.firstIndex);
    this.segments = segments;
    this.onDrop = (segmentId, recordBytes) => this.segments.get(segmentId).removeLive(this.id, recordBytes);
  }

  get firstIndex(): number {
    return this.index.first;
  }

  get lastIndex(): number {
    return this.index.last;
  }

  meta(): GroupMeta {
    return { firstIndex: this.index.first, prevTerm: this.prevTerm, logStartSeq: this.logStartSeq };
  }

  /** The term at `index`, which must be in [firstIndex - 1, lastIndex]. */
  termAt(index: number): number {
    if (index === this.index.first - 1) return this.prevTerm;
    return this.index.term(index);
  }

  /**
   * An APPEND record at `index`: Raft's rule that an append at i replaces the log from i on.
   * Records below the first index are compacted away and ignored. `entry` (the commit path) goes
   * to the tail cache; recovery passes null. Only recovery may leave holes (see EntryIndex).
   */
  applyAppend(
    index: number,
    term: number,
    type: number,
    segmentId: number,
    offset: number,
    recordBytes: number,
    entry: Entry | null,
  ): void {
    if (index < this.index.first) return;
    this.index.truncateFrom(index, this.onDrop);
    this.cache.truncateFrom(index);
    if (index > this.index.last + 1) {
      assert(entry === null, "only recovery leaves holes");
      while (this.index.last + 1 < index) this.index.pushHole();
    }
    this.index.push(term, type, segmentId, offset, recordBytes);
    this.segments.get(segmentId).addLive(this.id, recordBytes);
    if (entry !== null) {
      if (this.cache.size > 0 && this.cache.lastIndex !== index - 1) this.cache.clear();
      this.cache.append(entry);
    }
  }

  /**
   * A REWRITE record: a copy of the live entry (index, term) moved to a newer segment. It never
   * truncates: it repoints an entry with the same term, fills a hole, or (in recovery, when the
   * original's segment is gone) extends the log. A different term there means the journal
   * contradicts itself.
   */
  applyRewrite(
    index: number,
    term: number,
    type: number,
    segmentId: number,
    offset: number,
    recordBytes: number,
  ): void {
    if (index < this.index.first) return;
    if (index <= this.index.last) {
      if (this.index.isHole(index)) {
        this.index.set(index, term, type, segmentId, offset, recordBytes);
      } else {
        if (this.index.term(index) !== term) {
          throw new RecoveryFailedError(
            `group ${this.id}: rewritten entry ${index} has term ${term} but the log holds term ${this.index.term(index)}`,
          );
        }
        this.onDrop(this.index.segment(index), this.index.length(index));
        this.index.set(index, term, type, segmentId, offset, recordBytes);
      }
    } else {
      while (this.index.last + 1 < index) this.index.pushHole();
      this.index.push(term, type, segmentId, offset, recordBytes);
    }
    this.segments.get(segmentId).addLive(this.id, recordBytes);
  }

  /** Drops the log up to and including `index` (which must be in [firstIndex - 1, lastIndex]). */
  compact(index: number): void {
    if (index < this.index.first) return;
    this.prevTerm = this.termAt(index);
    this.index.dropBefore(index + 1, this.onDrop);
    this.cache.dropBefore(index + 1);
  }

  /** Replaces the whole log by a snapshot: empty, starting after `snapshot.metadata.index`. */
  resetToSnapshot(snapshot: Snapshot, seq: number): void {
    this.index.reset(snapshot.metadata.index + 1, this.onDrop);
    this.cache.clear();
    this.prevTerm = snapshot.metadata.term;
    this.logStartSeq = seq;
    this.snapshot = snapshot;
    this.confState = snapshot.metadata.confState;
  }

  /** Forgets every entry (the group is being deleted). */
  dropAll(): void {
    this.index.reset(this.index.first, this.onDrop);
    this.cache.clear();
    this.live = false;
  }
}
