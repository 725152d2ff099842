/**
 * NodeStorage: the disk of one node, shared by every Raft group it hosts.
 *
 * Layout (see README.md for the measurements behind it): one node-wide journal of append-only
 * segment files holds the entries of all groups, interleaved, one frame per flush; LevelDB holds
 * the small state (hard state, conf state, snapshot, where each group's log starts). The index
 * from (group, log index) to (segment, offset, length) lives in memory and is rebuilt on open by
 * scanning the segments, which every record describes fully.
 *
 * Concurrency: one flush at a time (the node's persist loop awaits each commit); reads through
 * `group(id)` are synchronous and see a flush's effects once its entries are durable.
 */
import {
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  statfsSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import { ClassicLevel } from "classic-level";
import type { Entry, HardState } from "raft-ts";
import {
  FRAME_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  RECORD_KIND_APPEND,
  RECORD_KIND_REWRITE,
  SEGMENT_HEADER_BYTES,
} from "./constants.js";
import {
  FlushInProgressError,
  RecoveryFailedError,
  StorageClosedError,
  type StorageError,
  StorageFailedError,
  StorageLockedError,
  UnknownGroupError,
} from "./errors.js";
import { FlushBatch, type FlushHost, type FlushResult } from "./flush-batch.js";
import { GroupLogStorage } from "./group-log-storage.js";
import { assert } from "./internal/assert.js";
import type { FlushOp, GroupShadow } from "./internal/flush-ops.js";
import { encodeFrameHeader, encodeRecordHeader } from "./internal/format.js";
import { GroupState } from "./internal/group-state.js";
import { scanSegment } from "./internal/journal-scan.js";
import {
  appendOpenFlags,
  parseSegmentFileName,
  Segment,
  SegmentFiles,
  writesSyncedBy,
} from "./internal/segments.js";
import {
  decodeConfState,
  decodeHardState,
  decodeMeta,
  decodeSnapshot,
  encodeConfState,
  encodeHardState,
  encodeMeta,
  encodeSnapshot,
  type GroupMeta,
  parseStateKey,
  StateKind,
  stateKey,
} from "./internal/state-codec.js";
import {
  type NodeStorageOptions,
  type ResolvedNodeStorageOptions,
  resolveNodeStorageOptions,
  type SyncKind,
} from "./options.js";

/** Counters since open; cheap to read, meant for metrics. */
export interface StorageMetrics {
  readonly flushes: number;
  /** Synced appends to segments, O_DSYNC writes or write + fdatasync (one per flush that carried
   * entries, when sync is on). */
  readonly segmentSyncs: number;
  /** LevelDB batches written with sync. */
  readonly stateSyncs: number;
  /** LevelDB batches written without sync (commit indexes only: the owed ones, together). */
  readonly stateWrites: number;
  /** Journal appends written on the flushing thread (frames up to `inlineWriteBytesMax`). */
  readonly inlineAppends: number;
  /** Groups whose commit index moved since it was last written to LevelDB. */
  readonly commitIndexesOwed: number;
  readonly entriesAppended: number;
  /** Bytes appended to segments: frame and record headers, entry data, rewrites. */
  readonly segmentBytesWritten: number;
  readonly entryDataBytesAppended: number;
  readonly rewrittenEntries: number;
  readonly rewrittenBytes: number;
  readonly segmentsCreated: number;
  readonly segmentsDeleted: number;
  readonly segmentCount: number;
  readonly groupCount: number;
  readonly tailCacheBytes: number;
  /** Bytes of LevelDB's files (hard state, index, snapshots), read from the directory. */
  readonly stateBytes: number;
}

/** What open() found and did, for logs and the restart-time figures. */
export interface RecoveryReport {
  readonly segmentsScanned: number;
  readonly framesScanned: number;
  readonly bytesScanned: number;
  /** Bytes cut from the end of the last segment (a torn tail), or 0. */
  readonly tornBytesCut: number;
  readonly tornReason: string | null;
  readonly groups: number;
  readonly durationMs: number;
}

const SEGMENTS_DIR = "segments";
const STATE_DIR = "state";

interface Touched {
  meta: boolean;
  hardState: boolean;
  hardStateMustSync: boolean;
  confState: boolean;
  snapshot: boolean;
  deleted: boolean;
}

interface PlannedRecord {
  readonly kind: typeof RECORD_KIND_APPEND | typeof RECORD_KIND_REWRITE;
  readonly groupId: number;
  readonly entry: Entry;
  /** Where the record lands, filled once the frame is laid out. */
  segmentId: number;
  offset: number;
}

export class NodeStorage implements FlushHost {
  readonly dir: string;
  readonly options: ResolvedNodeStorageOptions;
  readonly recovery: RecoveryReport;
  private readonly db: ClassicLevel<Buffer, Buffer>;
  private readonly segments: SegmentFiles;
  private readonly groups = new Map<number, GroupState>();
  private readonly views = new Map<number, GroupLogStorage>();
  /** Groups with cached entries, least recently appended first (Map keeps insertion order). */
  private readonly cacheOrder = new Map<number, GroupState>();
  private cacheBytes = 0;
  private nextSeq: number;
  private openBatch: FlushBatch | null = null;
  private committing: Promise<unknown> | null = null;
  /** The last flush's LevelDB batch while it is written unwaited (commit indexes only), or null. */
  private stateWriting: Promise<void> | null = null;
  /**
   * Groups whose commit index moved without being written to LevelDB yet (a flush that changes
   * nothing else of a group's state leaves it owed; see COMMIT_INDEX_WRITE_INTERVAL_MS_DEFAULT).
   */
  private readonly commitsOwed = new Set<number>();
  /** When the owed commit indexes were last written (performance.now() ms). */
  private commitsWrittenAtMs = performance.now();
  private failure: StorageError | null = null;
  private closed = false;
  private readonly counters = {
    flushes: 0,
    segmentSyncs: 0,
    stateSyncs: 0,
    stateWrites: 0,
    inlineAppends: 0,
    entriesAppended: 0,
    segmentBytesWritten: 0,
    entryDataBytesAppended: 0,
    rewrittenEntries: 0,
    rewrittenBytes: 0,
    segmentsCreated: 0,
    segmentsDeleted: 0,
  };

  private constructor(
    dir: string,
    options: ResolvedNodeStorageOptions,
    db: ClassicLevel<Buffer, Buffer>,
    segments: SegmentFiles,
    groups: Map<number, GroupState>,
    nextSeq: number,
    recovery: RecoveryReport,
  ) {
    this.dir = dir;
    this.options = options;
    this.db = db;
    this.segments = segments;
    this.groups = groups;
    this.nextSeq = nextSeq;
    this.recovery = recovery;
  }

  /**
   * Opens (creating if needed) the storage in `dir`: loads the small state from LevelDB, scans
   * the segments to rebuild every group's index, cuts a torn tail off the last segment, and
   * deletes segments nothing points into. Throws InvalidOptionsError, CorruptSegmentError (damage
   * that is not a torn tail) or RecoveryFailedError.
   */
  static async open(dir: string, options: NodeStorageOptions = {}): Promise<NodeStorage> {
    const resolved = resolveNodeStorageOptions(options);
    const started = performance.now();
    const segmentsDir = join(dir, SEGMENTS_DIR);
    mkdirSync(segmentsDir, { recursive: true });
    const db = new ClassicLevel<Buffer, Buffer>(join(dir, STATE_DIR), {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause;
      if (cause?.code === "LEVEL_LOCKED") throw new StorageLockedError(dir, { cause: error });
      throw error;
    }
    const segments = new SegmentFiles(segmentsDir, resolved.sync);
    try {
      const groups = await loadGroups(db, segments);
      const scan = recoverSegments(segments, groups);
      let maxSeq = scan.lastSeq;
      for (const group of groups.values()) {
        const hole = group.index.firstHole();
        if (hole >= 0) {
          throw new RecoveryFailedError(
            `group ${group.id}: entry ${hole} is missing from the journal (its segment was lost)`,
          );
        }
        maxSeq = Math.max(maxSeq, group.logStartSeq);
      }
      const recovery: RecoveryReport = {
        ...scan.report,
        groups: groups.size,
        durationMs: performance.now() - started,
      };
      const storage = new NodeStorage(dir, resolved, db, segments, groups, maxSeq + 1, recovery);
      if (segments.count === 0 || segments.active.size >= resolved.segmentSizeBytes) {
        await segments.create();
        storage.counters.segmentsCreated += 1;
      }
      storage.counters.segmentsDeleted += segments.deleteDeadPrefix();
      return storage;
    } catch (error) {
      segments.closeAll();
      await db.close();
      throw error;
    }
  }

  /** The LogStorage view of a group. Throws UnknownGroupError when the group does not exist. */
  group(groupId: number): GroupLogStorage {
    const state = this.groups.get(groupId);
    if (state === undefined) throw new UnknownGroupError(groupId);
    let view = this.views.get(groupId);
    if (view === undefined) {
      view = new GroupLogStorage(state, this.segments);
      this.views.set(groupId, view);
    }
    return view;
  }

  hasGroup(groupId: number): boolean {
    return this.groups.has(groupId);
  }

  /** Ids of the groups on this node, ascending. */
  groupIds(): number[] {
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  /**
   * Lets the cache of `groupId` drop entries up to `appliedIndex` (durable and applied: raft reads
   * them back only to catch up a lagging follower) beyond the newest `keepBytes` of them, so the
   * cache holds what is still to be sent and applied rather than the per-group bound of history.
   * A group that does not exist is ignored.
   */
  releaseApplied(groupId: number, appliedIndex: number, keepBytes: number): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    const freed = group.cache.evictAppliedTo(appliedIndex, keepBytes);
    if (freed === 0) return;
    this.cacheBytes -= freed;
    if (group.cache.size === 0) this.cacheOrder.delete(groupId);
  }

  /** Starts the next flush. Throws FlushInProgressError while another is open or committing. */
  beginFlush(): FlushBatch {
    this.checkUsable();
    if (this.openBatch !== null) throw new FlushInProgressError();
    const batch = new FlushBatch(this);
    this.openBatch = batch;
    return batch;
  }

  /** Creates a group with an empty log (a flush of its own). */
  async createGroup(groupId: number): Promise<GroupLogStorage> {
    await this.beginFlush().createGroup(groupId).commit();
    return this.group(groupId);
  }

  /** Deletes a group and its state (a flush of its own); its entries become garbage. */
  async deleteGroup(groupId: number): Promise<void> {
    await this.beginFlush().deleteGroup(groupId).commit();
  }

  metrics(): StorageMetrics {
    return {
      ...this.counters,
      commitIndexesOwed: this.commitsOwed.size,
      segmentCount: this.segments.count,
      groupCount: this.groups.size,
      tailCacheBytes: this.cacheBytes,
      stateBytes: this.stateBytes(),
    };
  }

  /**
   * Bytes an unprivileged writer may still use on the filesystem holding the data directory (one
   * statfs call, a few microseconds). The broker holds its flushes while this is below its reserve.
   */
  freeBytes(): number {
    const stats = statfsSync(this.dir);
    return stats.bavail * stats.bsize;
  }

  /** Tells the onSync observer; its failure is its own, never the flush's. */
  private reportSync(kind: SyncKind, durationMs: number): void {
    try {
      this.options.onSync(kind, durationMs);
    } catch {
      // An observer's bug must not fail a durable flush.
    }
  }

  /** Bytes of the LevelDB files (the small state: hard state, index, snapshots), for metrics. */
  private stateBytes(): number {
    let bytes = 0;
    try {
      const stateDir = join(this.dir, STATE_DIR);
      for (const name of readdirSync(stateDir)) bytes += statSync(join(stateDir, name)).size;
    } catch {
      // Closed or being compacted: report what was counted.
    }
    return bytes;
  }

  /** Waits for a committing flush, then closes the files and LevelDB. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.committing !== null) await this.committing.catch(() => undefined);
    if (this.stateWriting !== null) await this.stateWriting;
    // A clean close leaves no commit index behind.
    if (this.failure === null && this.commitsOwed.size > 0) {
      try {
        await this.db.batch(this.owedCommitPuts(), { sync: this.options.sync });
      } catch {
        // Only commit indexes: Raft learns them again after the restart.
      }
    }
    this.openBatch = null;
    this.segments.closeAll();
    await this.db.close();
  }

  // ---- FlushHost ----

  /** @internal */
  shadowOf(groupId: number): GroupShadow {
    const state = this.groups.get(groupId);
    if (state === undefined) return { exists: false, first: 1, last: 0, snapshotIndex: 0 };
    return {
      exists: true,
      first: state.firstIndex,
      last: state.lastIndex,
      snapshotIndex: state.snapshot.metadata.index,
    };
  }

  /** @internal */
  releaseBatch(batch: FlushBatch): void {
    if (this.openBatch === batch) this.openBatch = null;
  }

  /** @internal */
  commitBatch(batch: FlushBatch, ops: readonly FlushOp[]): Promise<FlushResult> {
    assert(this.openBatch === batch, "the committed batch is the open one");
    const run = this.runCommit(ops);
    this.committing = run;
    return run.finally(() => {
      this.committing = null;
    });
  }

  private async runCommit(ops: readonly FlushOp[]): Promise<FlushResult> {
    this.checkUsable();
    const seq = this.nextSeq++;
    const records: PlannedRecord[] = this.planRewrites(ops);
    const rewrittenEntries = records.length;
    for (const op of ops) {
      if (op.kind === "append" && !op.dropped) {
        for (const entry of op.entries) {
          records.push({ kind: RECORD_KIND_APPEND, groupId: op.groupId, entry, segmentId: 0, offset: 0 });
        }
      }
    }

    // 1. The journal: one frame, one vectored write, one fdatasync.
    let segmentBytes = 0;
    let segmentSynced = false;
    if (records.length > 0) {
      const startedAtMs = performance.now();
      try {
        segmentBytes = await this.writeFrame(seq, records);
      } catch (error) {
        throw this.fail("writing the journal failed", error);
      }
      segmentSynced = this.options.sync;
      if (segmentSynced) {
        this.counters.segmentSyncs += 1;
        this.reportSync("segment", performance.now() - startedAtMs);
      }
    }

    // 2. Memory: the entries are durable, so the groups' views may show them.
    const touched = this.applyInMemory(seq, ops, records, rewrittenEntries);

    // 3. LevelDB: the small state, in one batch, synced when anything but commit indexes changed.
    //    Commit indexes alone are owed rather than written (stateBatch), until a batch goes
    //    anyway or their interval passed; such a batch is not waited for (the flush resolves
    //    while LevelDB writes it). Every later batch is written after it, and a failure fails
    //    the storage.
    let stateSynced = false;
    const { operations, mustSync } =
      touched.size > 0 ? this.stateBatch(touched) : { operations: [], mustSync: false };
    if (operations.length > 0) {
      stateSynced = mustSync && this.options.sync;
      const stateStartedAtMs = performance.now();
      const written = this.writeState(operations, stateSynced);
      if (mustSync) {
        try {
          await written;
        } catch (error) {
          throw this.failure ?? this.fail("writing the state batch to LevelDB failed", error);
        }
        if (stateSynced) {
          this.counters.stateSyncs += 1;
          this.reportSync("state", performance.now() - stateStartedAtMs);
        } else this.counters.stateWrites += 1;
      } else {
        const pending: Promise<void> = written.then(
          () => {
            this.counters.stateWrites += 1;
            if (this.stateWriting === pending) this.stateWriting = null;
          },
          (error: unknown) => {
            if (this.failure === null) this.fail("writing the state batch to LevelDB failed", error);
            if (this.stateWriting === pending) this.stateWriting = null;
          },
        );
        this.stateWriting = pending;
      }
    }

    // 4. Garbage: segments nothing points into, now that the state that made them dead is durable.
    let segmentsDeleted = 0;
    try {
      segmentsDeleted = this.segments.deleteDeadPrefix();
    } catch (error) {
      throw this.fail("deleting a dead segment failed", error);
    }
    this.counters.segmentsDeleted += segmentsDeleted;
    this.counters.flushes += 1;
    this.counters.segmentBytesWritten += segmentBytes;
    this.counters.rewrittenEntries += rewrittenEntries;
    const entries = records.length - rewrittenEntries;
    this.counters.entriesAppended += entries;
    return { seq, entries, segmentBytes, segmentSynced, stateSynced, rewrittenEntries, segmentsDeleted };
  }

  /**
   * Writes a LevelDB batch after the one still being written (if any), so batches reach LevelDB
   * in flush order. Rejects when this one fails or an earlier one failed the storage.
   */
  private writeState(
    operations: Array<{ type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer }>,
    sync: boolean,
  ): Promise<void> {
    const previous = this.stateWriting;
    if (previous === null) return this.db.batch(operations, { sync });
    return previous.then(() => {
      if (this.failure !== null) throw this.failure;
      return this.db.batch(operations, { sync });
    });
  }

  /** Lays out the frame, rotates the segment if it would overflow, writes and syncs. Returns bytes written. */
  private async writeFrame(seq: number, records: PlannedRecord[]): Promise<number> {
    const headers = Buffer.allocUnsafe(FRAME_HEADER_BYTES + records.length * RECORD_HEADER_BYTES);
    const chunks: Uint8Array[] = [headers.subarray(0, FRAME_HEADER_BYTES)];
    let bodyBytes = 0;
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      const header = headers.subarray(
        FRAME_HEADER_BYTES + r * RECORD_HEADER_BYTES,
        FRAME_HEADER_BYTES + (r + 1) * RECORD_HEADER_BYTES,
      );
      encodeRecordHeader(
        header,
        {
          kind: record.kind,
          entryType: record.entry.type,
          groupId: record.groupId,
          index: record.entry.index,
          term: record.entry.term,
          dataBytes: record.entry.data.length,
        },
        record.entry.data,
      );
      chunks.push(header);
      if (record.entry.data.length > 0) chunks.push(record.entry.data);
      record.offset = FRAME_HEADER_BYTES + bodyBytes;
      bodyBytes += RECORD_HEADER_BYTES + record.entry.data.length;
    }
    encodeFrameHeader(headers, seq, records.length, bodyBytes);
    const frameBytes = FRAME_HEADER_BYTES + bodyBytes;
    let active = this.segments.active;
    if (active.size > SEGMENT_HEADER_BYTES && active.size + frameBytes > this.options.segmentSizeBytes) {
      active = await this.segments.create();
      this.counters.segmentsCreated += 1;
    }
    let start: number;
    if (frameBytes <= this.options.inlineWriteBytesMax) {
      start = this.segments.appendSync(chunks, frameBytes);
      this.counters.inlineAppends += 1;
    } else {
      start = await this.segments.append(chunks, frameBytes);
    }
    for (const record of records) {
      record.segmentId = active.id;
      record.offset += start;
    }
    return frameBytes;
  }

  /** Applies the committed operations to the groups, in the order the journal replays them. */
  private applyInMemory(
    seq: number,
    ops: readonly FlushOp[],
    records: readonly PlannedRecord[],
    rewrites: number,
  ): Map<number, Touched> {
    const touched = new Map<number, Touched>();
    const touch = (groupId: number): Touched => {
      let t = touched.get(groupId);
      if (t === undefined) {
        t = {
          meta: false,
          hardState: false,
          hardStateMustSync: false,
          confState: false,
          snapshot: false,
          deleted: false,
        };
        touched.set(groupId, t);
      }
      return t;
    };
    for (let r = 0; r < rewrites; r++) {
      const record = records[r]!;
      const group = this.groups.get(record.groupId)!;
      const bytes = RECORD_HEADER_BYTES + record.entry.data.length;
      group.applyRewrite(
        record.entry.index,
        record.entry.term,
        record.entry.type,
        record.segmentId,
        record.offset,
        bytes,
      );
      this.counters.rewrittenBytes += bytes;
    }
    let next = rewrites;
    for (const op of ops) {
      switch (op.kind) {
        case "create": {
          const group = new GroupState(
            op.groupId,
            { firstIndex: 1, prevTerm: 0, logStartSeq: seq },
            this.segments,
          );
          this.groups.set(op.groupId, group);
          this.views.delete(op.groupId);
          Object.assign(touch(op.groupId), { meta: true, deleted: false });
          break;
        }
        case "delete": {
          const group = this.groups.get(op.groupId)!;
          this.dropCache(group);
          group.dropAll();
          this.groups.delete(op.groupId);
          this.views.delete(op.groupId);
          Object.assign(touch(op.groupId), {
            deleted: true,
            meta: false,
            hardState: false,
            confState: false,
            snapshot: false,
          });
          break;
        }
        case "append": {
          if (op.dropped) break;
          const group = this.groups.get(op.groupId)!;
          const cachedBefore = group.cache.bytes;
          for (const entry of op.entries) {
            const record = records[next++]!;
            assert(record.entry === entry, "records follow the batch's append order");
            group.applyAppend(
              entry.index,
              entry.term,
              entry.type,
              record.segmentId,
              record.offset,
              RECORD_HEADER_BYTES + entry.data.length,
              entry,
            );
            this.counters.entryDataBytesAppended += entry.data.length;
          }
          this.noteCached(group, cachedBefore);
          break;
        }
        case "hardState": {
          const group = this.groups.get(op.groupId)!;
          const t = touch(op.groupId);
          const before: HardState = group.hardState;
          if (before.term !== op.hardState.term || before.vote !== op.hardState.vote)
            t.hardStateMustSync = true;
          if (before.commit !== op.hardState.commit || t.hardStateMustSync) t.hardState = true;
          group.hardState = op.hardState;
          break;
        }
        case "confState": {
          this.groups.get(op.groupId)!.confState = op.confState;
          touch(op.groupId).confState = true;
          break;
        }
        case "applySnapshot": {
          const group = this.groups.get(op.groupId)!;
          this.dropCache(group);
          group.resetToSnapshot(op.snapshot, seq);
          Object.assign(touch(op.groupId), { meta: true, snapshot: true, confState: true });
          break;
        }
        case "setSnapshot": {
          this.groups.get(op.groupId)!.snapshot = op.snapshot;
          touch(op.groupId).snapshot = true;
          break;
        }
        case "compact": {
          const group = this.groups.get(op.groupId)!;
          const before = group.cache.bytes;
          group.compact(op.index);
          this.cacheBytes -= before - group.cache.bytes;
          touch(op.groupId).meta = true;
          break;
        }
      }
    }
    assert(next === records.length, "every record was applied");
    return touched;
  }

  private stateBatch(touched: Map<number, Touched>): {
    operations: Array<{ type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer }>;
    mustSync: boolean;
  } {
    const operations: Array<{ type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer }> = [];
    let mustSync = false;
    for (const [groupId, t] of touched) {
      const group = this.groups.get(groupId);
      if (group === undefined) {
        // Deleted (and not re-created) in this flush.
        this.commitsOwed.delete(groupId);
        for (const kind of Object.values(StateKind))
          operations.push({ type: "del", key: stateKey(groupId, kind) });
        mustSync = true;
        continue;
      }
      if (t.deleted) {
        // Deleted, then created again in the same flush: clear what the old incarnation left.
        for (const kind of [StateKind.HardState, StateKind.ConfState, StateKind.Snapshot]) {
          operations.push({ type: "del", key: stateKey(groupId, kind) });
        }
      }
      if (t.meta)
        operations.push({
          type: "put",
          key: stateKey(groupId, StateKind.Meta),
          value: encodeMeta(group.meta()),
        });
      if (t.hardState) {
        if (t.hardStateMustSync) {
          operations.push(this.hardStatePut(groupId, group));
          this.commitsOwed.delete(groupId);
        } else {
          // With an interval of 0 the owed index goes below, in this same batch.
          this.commitsOwed.add(groupId);
        }
      }
      if (t.confState && group.confState !== null) {
        operations.push({
          type: "put",
          key: stateKey(groupId, StateKind.ConfState),
          value: encodeConfState(group.confState),
        });
      }
      if (t.snapshot)
        operations.push({
          type: "put",
          key: stateKey(groupId, StateKind.Snapshot),
          value: encodeSnapshot(group.snapshot),
        });
      if (t.meta || t.hardStateMustSync || t.confState || t.snapshot || t.deleted) mustSync = true;
    }
    // Owed commit indexes ride along with a batch written anyway, or go once the interval passed.
    if (this.commitsOwed.size > 0) {
      const now = performance.now();
      if (operations.length > 0 || now - this.commitsWrittenAtMs >= this.options.commitIndexWriteIntervalMs) {
        operations.push(...this.owedCommitPuts());
        this.commitsWrittenAtMs = now;
      }
    }
    return { operations, mustSync };
  }

  private hardStatePut(groupId: number, group: GroupState): { type: "put"; key: Buffer; value: Buffer } {
    return {
      type: "put",
      key: stateKey(groupId, StateKind.HardState),
      value: encodeHardState(group.hardState),
    };
  }

  /** The hard states of the groups that owe their commit index (now no longer owed). */
  private owedCommitPuts(): Array<{ type: "put"; key: Buffer; value: Buffer }> {
    const puts: Array<{ type: "put"; key: Buffer; value: Buffer }> = [];
    for (const groupId of this.commitsOwed) {
      const group = this.groups.get(groupId);
      if (group !== undefined) puts.push(this.hardStatePut(groupId, group));
    }
    this.commitsOwed.clear();
    return puts;
  }

  /**
   * Raft-engine's rewrite: when the oldest sealed segment is mostly garbage, copy its few live
   * entries into this flush (ahead of the batch's own records) so it can be deleted, and with it
   * every dead segment behind it. Groups the batch resets (snapshot, delete, create) are left
   * out: their old entries are about to stop counting anyway.
   */
  private planRewrites(ops: readonly FlushOp[]): PlannedRecord[] {
    const planned: PlannedRecord[] = [];
    if (this.options.rewriteLiveRatioMax === 0 || this.segments.count < 2) return planned;
    const oldest = this.segments.all[0]!;
    if (oldest === this.segments.active || oldest.liveEntries === 0) return planned;
    if (oldest.liveBytes > this.options.rewriteLiveRatioMax * oldest.size) return planned;
    const excluded = new Set<number>();
    for (const op of ops) {
      if (op.kind === "applySnapshot" || op.kind === "delete" || op.kind === "create")
        excluded.add(op.groupId);
    }
    let budget = this.options.rewriteBytesPerFlushMax;
    for (const groupId of oldest.liveByGroup.keys()) {
      if (excluded.has(groupId) || budget <= 0) continue;
      const group = this.groups.get(groupId)!;
      const view = this.group(groupId);
      group.index.forEachInSegment(oldest.id, (index) => {
        if (budget <= 0) return;
        const [entry] = view.entries(index, index + 1, Number.MAX_SAFE_INTEGER);
        assert(entry !== undefined && entry.index === index, "a live entry reads back");
        planned.push({ kind: RECORD_KIND_REWRITE, groupId, entry, segmentId: 0, offset: 0 });
        budget -= RECORD_HEADER_BYTES + entry.data.length;
      });
    }
    return planned;
  }

  /**
   * Accounts for a group's cache after appends (`bytesBefore` is its size before them), keeps it
   * within the per-group bound, and evicts whole caches of the least recently appended groups
   * while the node-wide bound is exceeded.
   */
  private noteCached(group: GroupState, bytesBefore: number): void {
    group.cache.evictTo(this.options.tailCacheBytesPerGroup);
    this.cacheBytes += group.cache.bytes - bytesBefore;
    this.cacheOrder.delete(group.id);
    if (group.cache.size > 0) this.cacheOrder.set(group.id, group);
    for (const [groupId, other] of this.cacheOrder) {
      if (this.cacheBytes <= this.options.tailCacheBytesPerNode) break;
      if (groupId === group.id) continue;
      this.dropCache(other);
    }
    if (this.cacheBytes > this.options.tailCacheBytesPerNode) {
      const before = group.cache.bytes;
      group.cache.evictTo(group.cache.bytes - (this.cacheBytes - this.options.tailCacheBytesPerNode));
      this.cacheBytes -= before - group.cache.bytes;
    }
  }

  private dropCache(group: GroupState): void {
    this.cacheBytes -= group.cache.bytes;
    group.cache.clear();
    this.cacheOrder.delete(group.id);
  }

  private checkUsable(): void {
    if (this.closed) throw new StorageClosedError();
    if (this.failure !== null) throw this.failure;
  }

  private fail(message: string, cause: unknown): StorageFailedError {
    const error = new StorageFailedError(message, { cause });
    this.failure = error;
    return error;
  }
}

/** Loads every group's small state from LevelDB. */
async function loadGroups(
  db: ClassicLevel<Buffer, Buffer>,
  segments: SegmentFiles,
): Promise<Map<number, GroupState>> {
  const metas = new Map<number, GroupMeta>();
  const others: Array<{ groupId: number; kind: number; value: Buffer }> = [];
  for await (const [key, value] of db.iterator()) {
    const parsed = parseStateKey(key);
    if (parsed === null) continue;
    if (parsed.kind === StateKind.Meta) metas.set(parsed.groupId, decodeMeta(value));
    else others.push({ groupId: parsed.groupId, kind: parsed.kind, value });
  }
  const groups = new Map<number, GroupState>();
  for (const [groupId, meta] of metas) groups.set(groupId, new GroupState(groupId, meta, segments));
  for (const { groupId, kind, value } of others) {
    const group = groups.get(groupId);
    if (group === undefined)
      throw new RecoveryFailedError(`group ${groupId} has state in LevelDB but no log metadata`);
    if (kind === StateKind.HardState) group.hardState = decodeHardState(value);
    else if (kind === StateKind.ConfState) group.confState = decodeConfState(value);
    else if (kind === StateKind.Snapshot) group.snapshot = decodeSnapshot(value);
  }
  return groups;
}

/** Scans every segment in order, replaying records into the groups; cuts a torn tail. */
function recoverSegments(
  segments: SegmentFiles,
  groups: Map<number, GroupState>,
): { lastSeq: number; report: Omit<RecoveryReport, "groups" | "durationMs"> } {
  const ids: number[] = [];
  for (const name of readdirSync(segments.dir)) {
    const id = parseSegmentFileName(name);
    if (id !== null) ids.push(id);
  }
  ids.sort((a, b) => a - b);
  for (let i = 1; i < ids.length; i++) {
    if (ids[i] !== ids[i - 1]! + 1) {
      throw new RecoveryFailedError(
        `segment ${ids[i - 1]! + 1} is missing between ${ids[i - 1]} and ${ids[i]}; segments are only deleted oldest first`,
      );
    }
  }
  let lastSeq = 0;
  let framesScanned = 0;
  let bytesScanned = 0;
  let tornBytesCut = 0;
  let tornReason: string | null = null;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    const isLast = i === ids.length - 1;
    const path = join(segments.dir, `${String(id).padStart(20, "0")}.seg`);
    // The last segment takes appends again (O_DSYNC with sync on, see segments.ts).
    const fd = openSync(path, isLast ? appendOpenFlags(segments.syncWrites) : "r");
    const segment = new Segment(id, path, fd, 0);
    if (isLast) segment.writesSynced = writesSyncedBy(segments.syncWrites);
    segments.adopt(segment);
    const result = scanSegment(fd, path, id, isLast, lastSeq, (seq, records) => {
      for (const { header, offset, recordBytes } of records) {
        const group = groups.get(header.groupId);
        if (group === undefined || seq < group.logStartSeq) continue;
        if (header.kind === RECORD_KIND_APPEND) {
          group.applyAppend(header.index, header.term, header.entryType, id, offset, recordBytes, null);
        } else {
          group.applyRewrite(header.index, header.term, header.entryType, id, offset, recordBytes);
        }
      }
    });
    framesScanned += result.frames;
    bytesScanned += result.fileBytes;
    lastSeq = result.lastSeq;
    if (result.tornReason !== null) {
      tornReason = result.tornReason;
      tornBytesCut = result.fileBytes - result.validBytes;
      if (result.headerTorn) {
        // An interrupted segment creation: nothing in it was ever acknowledged.
        segments.discardLast();
        unlinkSync(path);
        continue;
      }
      ftruncateSync(fd, result.validBytes);
      fsyncSync(fd);
    }
    segment.size = result.validBytes;
  }
  return {
    lastSeq,
    report: { segmentsScanned: ids.length, framesScanned, bytesScanned, tornBytesCut, tornReason },
  };
}
