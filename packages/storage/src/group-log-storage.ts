/**
 * One group's view of the node storage: the raft-ts `LogStorage` its Raft node reads from.
 * Reads are synchronous: terms and positions come from the in-memory index, recent entries from
 * the tail cache, older ones from the segment files with positional reads (coalesced when
 * adjacent), each record's CRC checked and its group, index and term compared with the index.
 */
import {
  CompactedError,
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  type LogStorage,
  type Snapshot,
  UnavailableError,
} from "raft-ts";
import { READ_COALESCE_BYTES_MAX, RECORD_HEADER_BYTES } from "./constants.js";
import { CorruptEntryError, InvalidRequestError, UnknownGroupError } from "./errors.js";
import { decodeRecord } from "./internal/format.js";
import { EMPTY_CONF_STATE, type GroupState } from "./internal/group-state.js";
import type { SegmentFiles } from "./internal/segments.js";

export class GroupLogStorage implements LogStorage {
  readonly groupId: number;
  private readonly state: GroupState;
  private readonly segments: SegmentFiles;
  /** Counts entries served from memory and from disk (for metrics and tests). */
  readonly reads = { cachedEntries: 0, diskEntries: 0, diskReads: 0 };

  /** @internal Obtained from NodeStorage.group(). */
  constructor(state: GroupState, segments: SegmentFiles) {
    this.groupId = state.id;
    this.state = state;
    this.segments = segments;
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    const state = this.live();
    return {
      hardState: state.hardState,
      confState: state.confState ?? state.snapshot.metadata.confState ?? EMPTY_CONF_STATE,
    };
  }

  firstIndex(): number {
    return this.live().firstIndex;
  }

  lastIndex(): number {
    return this.live().lastIndex;
  }

  term(index: number): number {
    const state = this.live();
    if (index < state.firstIndex - 1) throw new CompactedError(index, state.firstIndex);
    if (index > state.lastIndex) throw new UnavailableError(index, state.lastIndex);
    return state.termAt(index);
  }

  snapshot(): Snapshot {
    return this.live().snapshot;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const state = this.live();
    if (!(lo <= hi)) throw new InvalidRequestError(`entries(${lo}, ${hi}): lo must not exceed hi`);
    if (lo < state.firstIndex) throw new CompactedError(lo, state.firstIndex);
    if (hi > state.lastIndex + 1) throw new UnavailableError(hi - 1, state.lastIndex);
    const result: Entry[] = [];
    let bytes = 0;
    let index = lo;
    const cacheFirst = state.cache.firstIndex;
    // Older entries: from disk, in runs of adjacent records read with one call.
    while (index < hi && index < cacheFirst) {
      const { entries, dataBytes, done } = this.readRun(
        state,
        index,
        Math.min(hi, cacheFirst),
        maxBytes - bytes,
        result.length === 0,
      );
      for (const entry of entries) result.push(entry);
      bytes += dataBytes;
      index += entries.length;
      if (done) return result;
    }
    for (; index < hi; index++) {
      const entry = state.cache.get(index)!;
      if (result.length > 0 && bytes + entry.data.length > maxBytes) break;
      result.push(entry);
      bytes += entry.data.length;
      this.reads.cachedEntries += 1;
    }
    return result;
  }

  /**
   * Reads entries from `lo` while they are adjacent in one segment, up to `hi`, the coalescing
   * limit and the byte budget. `done` is true when the budget stopped the run.
   */
  private readRun(
    state: GroupState,
    lo: number,
    hi: number,
    budgetBytes: number,
    mustTakeOne: boolean,
  ): { entries: Entry[]; dataBytes: number; done: boolean } {
    const index = state.index;
    const segmentId = index.segment(lo);
    const start = index.offset(lo);
    let end = start;
    let dataBytes = 0;
    let next = lo;
    let done = false;
    while (next < hi) {
      if (next > lo && (index.segment(next) !== segmentId || index.offset(next) !== end)) break;
      const recordBytes = index.length(next);
      const entryBytes = recordBytes - RECORD_HEADER_BYTES;
      if (!(mustTakeOne && next === lo) && dataBytes + entryBytes > budgetBytes) {
        done = true;
        break;
      }
      if (next > lo && end - start + recordBytes > READ_COALESCE_BYTES_MAX) break;
      end += recordBytes;
      dataBytes += entryBytes;
      next += 1;
    }
    const entries: Entry[] = [];
    if (next === lo) return { entries, dataBytes: 0, done: true };
    const buffer = Buffer.allocUnsafe(end - start);
    this.segments.readInto(segmentId, start, end - start, buffer);
    this.reads.diskReads += 1;
    let at = 0;
    for (let i = lo; i < next; i++) {
      const recordBytes = index.length(i);
      const record = decodeRecord(buffer, at, at + recordBytes);
      if (record === null)
        throw new CorruptEntryError(
          this.groupId,
          i,
          `CRC mismatch in segment ${segmentId} at byte ${start + at}`,
        );
      if (record.groupId !== this.groupId || record.index !== i || record.term !== index.term(i)) {
        throw new CorruptEntryError(
          this.groupId,
          i,
          `segment ${segmentId} at byte ${start + at} holds group ${record.groupId} index ${record.index} term ${record.term}`,
        );
      }
      entries.push({
        term: record.term,
        index: i,
        type: record.entryType as EntryType,
        data: buffer.subarray(at + RECORD_HEADER_BYTES, at + recordBytes),
      });
      at += recordBytes;
    }
    this.reads.diskEntries += entries.length;
    return { entries, dataBytes, done };
  }

  private live(): GroupState {
    if (!this.state.live) throw new UnknownGroupError(this.groupId);
    return this.state;
  }
}
