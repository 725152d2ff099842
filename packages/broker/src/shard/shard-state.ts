/**
 * The shard state machine of one group. The Raft log *is* the shard log: applying an entry keeps
 * no second copy of its records, it only moves the applied index (the highest index readers may
 * see) and puts the entry in the tail cache. Reads return committed records only — up to the
 * applied index of *this* replica, which is a committed, locally durable prefix — so any replica
 * can serve them, and a record a reader saw is never taken back (invariant 4).
 *
 * Arrival timestamps: the leader stamps each batch with max(clock, last stamp seen), so they never
 * decrease along the log. "Last stamp seen" counts every batch that reached this replica's log,
 * committed or not (a new leader may commit its predecessor's batches after its own stamp), and is
 * recovered at start-up from the log's last batch.
 */
import { createHash } from "node:crypto";
import { CompactedError, type Entry, EntryType, type LogStorage } from "raft-ts";
import {
  ARRIVAL_RECOVERY_SCAN_ENTRIES_MAX,
  CHECKSUM_CHUNK_BYTES,
  READ_STORAGE_CHUNK_BYTES,
} from "../constants.js";
import { InvalidArgumentError } from "../errors.js";
import type { GroupId } from "../transport/transport.js";
import { decodeRecordBatchHeader, forEachRecord } from "./record-batch.js";
import type { ShardTailCache } from "./tail-cache.js";

/** One record returned by a read. `data` is a view of the log entry: never mutate it. */
export interface ReadRecord {
  /** The log index of the entry (batch) holding the record. */
  readonly index: number;
  /** The record's position in its batch, from 0. */
  readonly offset: number;
  readonly arrivalTimestampMs: number;
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Buffer;
}

export interface ReadResult {
  readonly records: ReadRecord[];
  /** Where the next read resumes: the entry index of the first record not returned… */
  readonly nextIndex: number;
  /** …and its offset in that entry's batch (0 when the read stopped at an entry boundary). */
  readonly nextOffset: number;
  /** The highest index this replica serves: committed and applied here. */
  readonly commitIndex: number;
  /** The first index still in the log (older records were removed by retention). */
  readonly firstIndex: number;
  /** The last index in this replica's log, committed or not. */
  readonly lastIndex: number;
}

export interface ReadLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/** Whether an entry carries a record batch (not a leader's no-op, not a membership change). */
export function isRecordEntry(entry: Entry): boolean {
  return entry.type === EntryType.Normal && entry.data.length > 0;
}

export class ShardState {
  readonly groupId: GroupId;
  private readonly storage: LogStorage;
  private readonly cache: ShardTailCache;
  private applied: number;
  private lastArrival: number;
  /** Records counted when applied (for metrics). */
  appliedRecords = 0;

  constructor(groupId: GroupId, storage: LogStorage, cache: ShardTailCache, appliedIndex: number) {
    this.groupId = groupId;
    this.storage = storage;
    this.cache = cache;
    this.applied = appliedIndex;
    this.lastArrival = recoverLastArrival(storage);
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get lastArrivalTimestampMs(): number {
    return this.lastArrival;
  }

  /** The leader's stamp for a new batch: never below any stamp already in the log. */
  stampArrival(nowMs: number): number {
    const stamp = Math.max(Math.floor(nowMs), this.lastArrival);
    this.lastArrival = stamp;
    return stamp;
  }

  /** Notes entries that reached this replica's log (from a Ready), to keep stamps monotonic. */
  noteAppended(entries: readonly Entry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i] as Entry;
      if (!isRecordEntry(entry)) continue;
      const stamp = tryArrival(entry.data);
      if (stamp !== null && stamp > this.lastArrival) this.lastArrival = stamp;
      return;
    }
  }

  /** Applies a committed entry, in log order. */
  apply(entry: Entry): void {
    if (entry.index <= this.applied) return;
    this.applied = entry.index;
    // Every entry goes in the cache, no-ops included, so that it covers a contiguous range.
    this.cache.push(entry);
    if (isRecordEntry(entry)) {
      const header = tryHeader(entry.data);
      if (header !== null) this.appliedRecords += header.recordCount;
    }
  }

  /** A snapshot replaced the log up to `index`: nothing before it can be read here any more. */
  restore(index: number): void {
    this.cache.clear();
    this.applied = Math.max(this.applied, index);
  }

  /** Releases the cache (the group is removed). */
  close(): void {
    this.cache.clear();
  }

  /**
   * Reads committed records from (fromIndex, fromOffset), at most `maxRecords` records and
   * `maxBytes` bytes (encoded size; at least one record when any is readable, so a large record
   * never stalls a reader). A position before the first index starts at the first index.
   * Throws CorruptBatchError if a committed entry does not decode (a bug, never bad input).
   */
  read(fromIndex: number, fromOffset: number, limits: ReadLimits, lastIndex: number): ReadResult {
    const upTo = this.applied;
    const firstIndex = this.storage.firstIndex();
    let index = Math.max(fromIndex, firstIndex);
    let offset = index === fromIndex ? fromOffset : 0;
    const records: ReadRecord[] = [];
    let bytes = 0;
    let fetched: Entry[] = [];
    let fetchedFrom = 0;
    const cacheFirst = this.cache.firstIndex();

    const entryAt = (at: number): Entry => {
      const cached = at >= cacheFirst ? this.cache.get(at) : undefined;
      if (cached !== undefined) return cached;
      const k = at - fetchedFrom;
      if (k >= 0 && k < fetched.length) return fetched[k] as Entry;
      const hi = Math.min(upTo + 1, cacheFirst);
      fetched = this.storage.entries(at, Math.max(hi, at + 1), READ_STORAGE_CHUNK_BYTES);
      fetchedFrom = at;
      return fetched[0] as Entry;
    };

    let full = false;
    while (index <= upTo && !full) {
      const entry = entryAt(index);
      if (isRecordEntry(entry)) {
        const header = decodeRecordBatchHeader(entry.data);
        let stoppedAt = -1;
        forEachRecord(entry.data, header.recordCount, offset, (at, record, encodedBytes) => {
          if (
            records.length >= limits.maxRecords ||
            (records.length > 0 && bytes + encodedBytes > limits.maxBytes)
          ) {
            stoppedAt = at;
            return false;
          }
          records.push({
            index,
            offset: at,
            arrivalTimestampMs: header.arrivalTimestampMs,
            partitionKey: record.partitionKey,
            explicitHashKey: record.explicitHashKey,
            data: record.data,
          });
          bytes += encodedBytes;
          return true;
        });
        if (stoppedAt >= 0) {
          return {
            records,
            nextIndex: index,
            nextOffset: stoppedAt,
            commitIndex: upTo,
            firstIndex,
            lastIndex,
          };
        }
        full = records.length >= limits.maxRecords || bytes >= limits.maxBytes;
      }
      index++;
      offset = 0;
    }
    return { records, nextIndex: index, nextOffset: 0, commitIndex: upTo, firstIndex, lastIndex };
  }

  /**
   * SHA-256 over the applied entries from the first index through `upToIndex`: for each, its
   * index and term (as two float64s), type (u8) and data. Replicas of one group must agree.
   */
  checksum(upToIndex: number): string {
    if (!Number.isSafeInteger(upToIndex) || upToIndex < 0 || upToIndex > this.applied) {
      throw new InvalidArgumentError(
        `group ${this.groupId}: checksum up to ${upToIndex} asks for more than the applied index ${this.applied}; wait until it is applied`,
      );
    }
    const hash = createHash("sha256");
    const header = Buffer.alloc(17);
    let index = this.storage.firstIndex();
    while (index <= upToIndex) {
      let entries: Entry[];
      try {
        entries = this.storage.entries(index, upToIndex + 1, CHECKSUM_CHUNK_BYTES);
      } catch (error) {
        if (error instanceof CompactedError) {
          index = this.storage.firstIndex();
          continue;
        }
        throw error;
      }
      for (const entry of entries) {
        header.writeDoubleLE(entry.index, 0);
        header.writeDoubleLE(entry.term, 8);
        header.writeUInt8(entry.type, 16);
        hash.update(header);
        hash.update(entry.data);
      }
      index += entries.length;
    }
    return hash.digest("hex");
  }
}

function tryHeader(data: Uint8Array): { arrivalTimestampMs: number; recordCount: number } | null {
  try {
    return decodeRecordBatchHeader(data);
  } catch {
    return null;
  }
}

function tryArrival(data: Uint8Array): number | null {
  return tryHeader(data)?.arrivalTimestampMs ?? null;
}

/** The stamp of the last record batch in the log (0 if none within the scan bound). */
function recoverLastArrival(storage: LogStorage): number {
  const first = storage.firstIndex();
  const last = storage.lastIndex();
  const lo = Math.max(first, last - ARRIVAL_RECOVERY_SCAN_ENTRIES_MAX + 1);
  for (let index = last; index >= lo; index--) {
    const entry = storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0];
    if (entry === undefined || !isRecordEntry(entry)) continue;
    const stamp = tryArrival(entry.data);
    if (stamp !== null) return stamp;
  }
  return 0;
}
