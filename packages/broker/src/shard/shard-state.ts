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
 * recovered at start-up from the log's last batch. The stamp of the last *applied* batch (the tip
 * readers see) is kept apart, for MillisBehindLatest.
 *
 * Local retention (`Broker.trimLog`) compacts the log behind a snapshot that carries no records:
 * its data is the arrival stamp of the tip when it was taken (little-endian float64), so a replica
 * that installs it keeps its stamps monotonic, then the index of the applied seal entry if the
 * snapshot covers it (float64; absent or 0: none). Older snapshots may be 8 bytes, or empty.
 *
 * The seal (resharding; see `Broker.seal`): a seal batch in the log closes the shard. Two indexes
 * are kept. `logSealIndex` is the seal entry in this replica's log, committed or not — appends
 * are refused from then on — noted where the log grows (`noteSealProposed` for the leader's own
 * proposal, `noteAppended` for every Ready's entries) and forgotten when a Ready's entries or
 * snapshot replace the log from at or before it (a seal never committed, taken back). A leader
 * proposes a seal only when its log holds none, and a follower's log is a prefix of some leader's
 * log, so a log holds at most one seal (the first is kept, defensively). `sealedIndex` is the
 * seal once applied here: reads stop before it. At start-up both are found again by scanning the
 * log back from its last index over the entries that carry no records (no-ops and membership
 * changes: no record batch follows a seal in a log), and from the snapshot.
 */
import { createHash } from "node:crypto";
import { CompactedError, type Entry, EntryType, type LogStorage, type Snapshot } from "raft-ts";
import {
  ARRIVAL_RECOVERY_SCAN_ENTRIES_MAX,
  CHECKSUM_CHUNK_BYTES,
  READ_STORAGE_CHUNK_BYTES,
} from "../constants.js";
import { InvalidArgumentError } from "../errors.js";
import type { GroupId } from "../transport/transport.js";
import { decodeRecordBatchHeader, forEachRecord, isSealBatch } from "./record-batch.js";
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
  /**
   * 0 when `data` is the plaintext; else the version of the stream's data key that sealed it
   * (an encrypted batch, record-batch.ts): the gateway opens it. Absent means 0.
   */
  readonly keyVersion?: number;
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
  /** The arrival stamp of the last record batch applied here (0 if none known): the tip's age. */
  readonly tipArrivalTimestampMs: number;
  /**
   * The index of the seal entry applied here, 0 when the shard is not sealed (here). Reads never
   * return records at or after it: a read that returns `nextIndex >= sealedIndex` drained it.
   */
  readonly sealedIndex: number;
}

export interface ReadLimits {
  readonly maxRecords: number;
  readonly maxBytes: number;
}

/** Whether an entry carries a record batch (not a leader's no-op, a membership change or a seal). */
export function isRecordEntry(entry: Entry): boolean {
  return entry.type === EntryType.Normal && entry.data.length > 0 && !isSealBatch(entry.data);
}

/** Whether an entry of a shard log is a seal (see Broker.seal). */
export function isSealEntry(entry: Entry): boolean {
  return entry.type === EntryType.Normal && isSealBatch(entry.data);
}

export class ShardState {
  readonly groupId: GroupId;
  private readonly storage: LogStorage;
  private readonly cache: ShardTailCache;
  private applied: number;
  private lastArrival: number;
  private tipArrival: number;
  /** False for a state-machine group's replica: its entries are not record batches (no seal). */
  private readonly isShard: boolean;
  /** The seal entry in this replica's log (committed or not), 0 when none; its term (0: unknown). */
  private logSeal = 0;
  private logSealTermValue = 0;
  /** The seal entry applied here, 0 when none. */
  private sealed = 0;
  /** Records counted when applied (for metrics). */
  appliedRecords = 0;

  constructor(
    groupId: GroupId,
    storage: LogStorage,
    cache: ShardTailCache,
    appliedIndex: number,
    isShard = true,
  ) {
    this.groupId = groupId;
    this.storage = storage;
    this.cache = cache;
    this.applied = appliedIndex;
    this.isShard = isShard;
    this.lastArrival = recoverArrival(storage, storage.lastIndex());
    this.tipArrival = recoverArrival(storage, Math.min(appliedIndex, storage.lastIndex()));
    const snapshotData = storage.snapshot().data;
    if (this.tipArrival === 0) this.tipArrival = snapshotArrival(snapshotData);
    if (this.tipArrival > this.lastArrival) this.lastArrival = this.tipArrival;
    if (isShard) {
      const found = recoverSeal(storage);
      const fromSnapshot = snapshotSeal(snapshotData);
      if (fromSnapshot > 0) {
        this.logSeal = fromSnapshot;
        this.sealed = fromSnapshot;
      } else if (found !== null) {
        this.logSeal = found.index;
        this.logSealTermValue = found.term;
        if (found.index <= appliedIndex) this.sealed = found.index;
      }
    }
  }

  /** The seal entry applied here (0: not sealed here). */
  get sealedIndex(): number {
    return this.sealed;
  }

  /** The seal entry in this replica's log, committed or not (0: none): appends are refused. */
  get logSealIndex(): number {
    return this.logSeal;
  }

  /** The term of the seal entry in the log (0 when none, or when it came with a snapshot). */
  get logSealTerm(): number {
    return this.logSealTermValue;
  }

  /** The leader proposed a seal at (term, index): it is in the log from now on. */
  noteSealProposed(term: number, index: number): void {
    if (this.logSeal === 0) {
      this.logSeal = index;
      this.logSealTermValue = term;
    }
  }

  /** The arrival stamp of the last record batch applied here (0 if none known). */
  get tipArrivalTimestampMs(): number {
    return this.tipArrival;
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

  /**
   * Notes what reached this replica's log from a Ready, in Ready order: a snapshot replaces the
   * whole log, then `entries` replace the log from their first index on. Keeps arrival stamps
   * monotonic and the log's seal current (see the module comment).
   */
  noteAppended(entries: readonly Entry[], snapshot: Snapshot | null = null): void {
    if (this.isShard && this.logSeal > this.sealed) {
      // An uncommitted seal may be replaced (an applied one never is).
      const from =
        snapshot !== null ? snapshot.metadata.index + 1 : (entries[0]?.index ?? Number.MAX_SAFE_INTEGER);
      if (this.logSeal >= from) {
        this.logSeal = 0;
        this.logSealTermValue = 0;
      }
    }
    if (this.isShard && this.logSeal === 0) {
      const fromSnapshot = snapshot === null ? 0 : snapshotSeal(snapshot.data);
      if (fromSnapshot > 0 && fromSnapshot <= (snapshot as Snapshot).metadata.index) {
        this.logSeal = fromSnapshot;
      } else {
        for (const entry of entries) {
          if (isSealEntry(entry)) {
            this.logSeal = entry.index;
            this.logSealTermValue = entry.term;
            break;
          }
        }
      }
    }
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
    if (this.isShard && this.sealed === 0 && isSealEntry(entry)) {
      this.sealed = entry.index;
      if (this.logSeal === 0 || this.logSeal > entry.index) {
        this.logSeal = entry.index;
        this.logSealTermValue = entry.term;
      }
      return;
    }
    if (isRecordEntry(entry)) {
      const header = tryHeader(entry.data);
      if (header !== null) {
        this.appliedRecords += header.recordCount;
        this.tipArrival = header.arrivalTimestampMs;
      }
    }
  }

  /**
   * A snapshot replaced the log up to `index`: nothing before it can be read here any more.
   * `data` is a shard snapshot's (see the module comment) or a state machine's (ignored).
   */
  restore(index: number, data: Uint8Array, isShard: boolean): void {
    this.cache.clear();
    this.applied = Math.max(this.applied, index);
    if (!isShard) return;
    const stamp = snapshotArrival(data);
    if (stamp > this.tipArrival) this.tipArrival = stamp;
    if (stamp > this.lastArrival) this.lastArrival = stamp;
    const seal = snapshotSeal(data);
    if (this.isShard && seal > 0 && seal <= index && this.sealed === 0) {
      this.sealed = seal;
      this.logSeal = seal;
    }
  }

  /** The data of a retention snapshot taken now at `snapshotIndex` (see the module comment). */
  snapshotData(snapshotIndex: number): Uint8Array {
    const data = Buffer.alloc(SHARD_SNAPSHOT_BYTES);
    data.writeDoubleLE(this.tipArrival, 0);
    data.writeDoubleLE(this.sealed > 0 && this.sealed <= snapshotIndex ? this.sealed : 0, 8);
    return data;
  }

  /**
   * Whether an applied record batch lies before `index` in this replica's log (from its first
   * index). Local retention trims only then (see `Broker.trimLog`). Linear in the entries before
   * the first record: only no-op, membership and seal entries are stepped over.
   */
  holdsRecordBefore(index: number): boolean {
    const end = Math.min(index, this.applied + 1);
    for (let at = this.storage.firstIndex(); at < end; at++) {
      if (isRecordEntry(this.entryAt(at))) return true;
    }
    return false;
  }

  /**
   * The first index, among applied entries, whose record batch has arrivalTimestampMs >=
   * `timestampMs`; appliedIndex + 1 when none. Stamps never decrease along the log, so this is a
   * binary search (O(log n) entry reads; no-op and membership entries are stepped over).
   */
  indexAtTimestamp(timestampMs: number): number {
    const end = this.applied + 1;
    // The first record entry at or after `index` (before `end`) and its stamp, or null.
    const recordFrom = (index: number): { index: number; stamp: number } | null => {
      for (let at = index; at < end; at++) {
        const entry = this.entryAt(at);
        if (!isRecordEntry(entry)) continue;
        const stamp = tryArrival(entry.data);
        if (stamp !== null) return { index: at, stamp };
      }
      return null;
    };
    let lo = Math.min(this.storage.firstIndex(), end);
    let hi = end;
    // Invariant: the answer's search position is in [lo, hi]; positions >= hi qualify.
    while (lo < hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const found = recordFrom(mid);
      if (found === null || found.stamp >= timestampMs) hi = mid;
      else lo = found.index + 1;
    }
    return recordFrom(lo)?.index ?? end;
  }

  /** One applied entry, from the tail cache or storage. */
  private entryAt(index: number): Entry {
    const cached = this.cache.get(index);
    if (cached !== undefined) return cached;
    return this.storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0] as Entry;
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
    const sealedIndex = this.sealed;
    // Nothing at or after the seal is ever served (there are no records there; defensive).
    const upTo = sealedIndex > 0 ? Math.min(this.applied, sealedIndex - 1) : this.applied;
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
            keyVersion: record.keyVersion,
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
            tipArrivalTimestampMs: this.tipArrival,
            sealedIndex,
          };
        }
        full = records.length >= limits.maxRecords || bytes >= limits.maxBytes;
      }
      index++;
      offset = 0;
    }
    return {
      records,
      nextIndex: index,
      nextOffset: 0,
      commitIndex: upTo,
      firstIndex,
      lastIndex,
      tipArrivalTimestampMs: this.tipArrival,
      sealedIndex,
    };
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

/** Bytes of a shard group's retention snapshot: the tip's arrival stamp, the applied seal's index. */
const SHARD_SNAPSHOT_BYTES = 16;
/** Bytes of a retention snapshot written before seals existed: the stamp alone. */
const SHARD_SNAPSHOT_BYTES_V1 = 8;

/** The arrival stamp a shard snapshot carries (0 for an empty one). */
function snapshotArrival(data: Uint8Array): number {
  if (data.length !== SHARD_SNAPSHOT_BYTES && data.length !== SHARD_SNAPSHOT_BYTES_V1) return 0;
  const stamp = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readDoubleLE(0);
  return Number.isSafeInteger(stamp) && stamp > 0 ? stamp : 0;
}

/** The applied seal's index a shard snapshot carries (0: none, or an older snapshot). */
function snapshotSeal(data: Uint8Array): number {
  if (data.length !== SHARD_SNAPSHOT_BYTES) return 0;
  const index = Buffer.from(data.buffer, data.byteOffset, data.byteLength).readDoubleLE(8);
  return Number.isSafeInteger(index) && index > 0 ? index : 0;
}

/**
 * The seal entry of the log, found scanning back from the last index over entries without
 * records (no record batch follows a seal); null when a record batch or the first index comes
 * first. Costs one entry read per entry after the last record batch.
 */
function recoverSeal(storage: LogStorage): { index: number; term: number } | null {
  const first = storage.firstIndex();
  for (let index = storage.lastIndex(); index >= first; index--) {
    const entry = storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0];
    if (entry === undefined) return null;
    if (isSealEntry(entry)) return { index: entry.index, term: entry.term };
    if (isRecordEntry(entry)) return null;
  }
  return null;
}

/** The stamp of the last record batch at or before `last` (0 if none within the scan bound). */
function recoverArrival(storage: LogStorage, last: number): number {
  const first = storage.firstIndex();
  const lo = Math.max(first, last - ARRIVAL_RECOVERY_SCAN_ENTRIES_MAX + 1);
  for (let index = last; index >= lo; index--) {
    const entry = storage.entries(index, index + 1, Number.MAX_SAFE_INTEGER)[0];
    if (entry === undefined || !isRecordEntry(entry)) continue;
    const stamp = tryArrival(entry.data);
    if (stamp !== null) return stamp;
  }
  return 0;
}
