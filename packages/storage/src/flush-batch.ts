/**
 * One flush of the node's persist loop: the entries and small state of every group with work,
 * collected here and made durable together by `commit()` (one segment write, one fdatasync, one
 * LevelDB batch). Every operation is validated when it is added, against the group's state as the
 * earlier operations of this batch leave it, so commit never fails on bad input — only on I/O.
 *
 * Operations take effect in call order, as Raft's Ready asks: `applySnapshot` before `append`
 * before `setHardState` for one group.
 */
import {
  CompactedError,
  type ConfState,
  type Entry,
  type HardState,
  type Snapshot,
  SnapshotOutOfDateError,
} from "raft-ts";
import {
  ENTRY_DATA_BYTES_MAX,
  FLUSH_BYTES_MAX,
  FLUSH_RECORDS_MAX,
  GROUP_ID_MAX,
  RECORD_HEADER_BYTES,
} from "./constants.js";
import { GroupExistsError, InvalidRequestError, TooLargeError, UnknownGroupError } from "./errors.js";
import type { FlushOp, GroupShadow } from "./internal/flush-ops.js";

/** What a committed flush did. */
export interface FlushResult {
  /** The flush's sequence number in the journal. */
  readonly seq: number;
  /** Entries appended (rewritten copies not included). */
  readonly entries: number;
  /** Bytes appended to the segment (frame headers, record headers and data, rewrites included). */
  readonly segmentBytes: number;
  /** Whether the segment was fdatasync'ed (false when the flush carried no entries, or sync is off). */
  readonly segmentSynced: boolean;
  /** Whether the LevelDB batch was written with sync (a term, vote, snapshot, compaction or group change). */
  readonly stateSynced: boolean;
  /** Live entries copied forward from an old segment so it can be deleted. */
  readonly rewrittenEntries: number;
  /** Segment files deleted after this flush. */
  readonly segmentsDeleted: number;
}

/** @internal What a batch needs from the storage that created it. */
export interface FlushHost {
  shadowOf(groupId: number): GroupShadow;
  commitBatch(batch: FlushBatch, ops: readonly FlushOp[]): Promise<FlushResult>;
  releaseBatch(batch: FlushBatch): void;
}

function checkGroupId(groupId: number): void {
  if (!Number.isSafeInteger(groupId) || groupId < 0 || groupId > GROUP_ID_MAX) {
    throw new InvalidRequestError(`group id must be an integer in [0, ${GROUP_ID_MAX}], got ${groupId}`);
  }
}

function checkLogNumber(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidRequestError(`${what} must be a non-negative integer, got ${value}`);
}

export class FlushBatch {
  private readonly host: FlushHost;
  private readonly ops: FlushOp[] = [];
  private readonly shadows = new Map<number, GroupShadow>();
  private state: "open" | "committing" | "done" = "open";
  private records = 0;
  private bytes = 0;

  /** @internal Created by NodeStorage.beginFlush(). */
  constructor(host: FlushHost) {
    this.host = host;
  }

  /** True when nothing was added. Committing an empty batch is allowed and cheap (no I/O). */
  get isEmpty(): boolean {
    return this.ops.length === 0;
  }

  /** Entry data and record header bytes this batch will append. */
  get pendingBytes(): number {
    return this.bytes;
  }

  createGroup(groupId: number): this {
    const shadow = this.shadow(groupId, false);
    if (shadow.exists) throw new GroupExistsError(groupId);
    Object.assign(shadow, { exists: true, first: 1, last: 0, snapshotIndex: 0 });
    this.ops.push({ kind: "create", groupId });
    return this;
  }

  deleteGroup(groupId: number): this {
    const shadow = this.shadow(groupId, true);
    this.dropAppends(groupId);
    shadow.exists = false;
    this.ops.push({ kind: "delete", groupId });
    return this;
  }

  /**
   * Appends entries (consecutive indexes) to the group's log. An entry at an index the log
   * already holds replaces it and everything after it (Raft's conflict rule); entries below the
   * first index (already compacted) are ignored. The first entry may not leave a gap after the
   * last index. The batch keeps references to the entries: do not mutate them.
   */
  append(groupId: number, entries: readonly Entry[]): this {
    const shadow = this.shadow(groupId, true);
    if (entries.length === 0) return this;
    let previous = -1;
    for (const entry of entries) {
      checkLogNumber("entry index", entry.index);
      checkLogNumber("entry term", entry.term);
      if (previous >= 0 && entry.index !== previous + 1) {
        throw new InvalidRequestError(
          `group ${groupId}: entries must have consecutive indexes (${previous} then ${entry.index})`,
        );
      }
      if (!(entry.data instanceof Uint8Array))
        throw new InvalidRequestError(`group ${groupId}: entry ${entry.index} data is not bytes`);
      if (entry.data.length > ENTRY_DATA_BYTES_MAX)
        throw new TooLargeError("entry data", entry.data.length, ENTRY_DATA_BYTES_MAX);
      if (!Number.isInteger(entry.type) || entry.type < 0 || entry.type > 255) {
        throw new InvalidRequestError(
          `group ${groupId}: entry ${entry.index} has invalid type ${entry.type}`,
        );
      }
      previous = entry.index;
    }
    const first = entries[0]!.index;
    if (first > shadow.last + 1) {
      throw new InvalidRequestError(
        `group ${groupId}: append at ${first} leaves a gap after the last index ${shadow.last}`,
      );
    }
    const kept = first >= shadow.first ? entries : entries.filter((entry) => entry.index >= shadow.first);
    if (kept.length === 0) return this;
    let addedBytes = 0;
    for (const entry of kept) addedBytes += RECORD_HEADER_BYTES + entry.data.length;
    if (this.records + kept.length > FLUSH_RECORDS_MAX)
      throw new TooLargeError("flush record count", this.records + kept.length, FLUSH_RECORDS_MAX);
    if (this.bytes + addedBytes > FLUSH_BYTES_MAX)
      throw new TooLargeError("flush", this.bytes + addedBytes, FLUSH_BYTES_MAX);
    this.records += kept.length;
    this.bytes += addedBytes;
    shadow.last = kept[kept.length - 1]!.index;
    this.ops.push({ kind: "append", groupId, entries: kept, dropped: false });
    return this;
  }

  /** Records the group's hard state. Synced only when term or vote changed (a commit-only change is an optimisation). */
  setHardState(groupId: number, hardState: HardState): this {
    this.shadow(groupId, true);
    checkLogNumber("hard state term", hardState.term);
    checkLogNumber("hard state vote", hardState.vote);
    checkLogNumber("hard state commit", hardState.commit);
    this.ops.push({
      kind: "hardState",
      groupId,
      hardState: { term: hardState.term, vote: hardState.vote, commit: hardState.commit },
    });
    return this;
  }

  /** Records the group's membership (reported by initialState() after a restart). */
  setConfState(groupId: number, confState: ConfState): this {
    this.shadow(groupId, true);
    for (const id of [...confState.voters, ...confState.learners]) checkLogNumber("node id", id);
    this.ops.push({
      kind: "confState",
      groupId,
      confState: { voters: [...confState.voters], learners: [...confState.learners] },
    });
    return this;
  }

  /**
   * Installs a snapshot received from the leader: the log is discarded and restarts after the
   * snapshot's index, whose term becomes the term of firstIndex - 1. Appends to this group
   * earlier in this batch are void. Throws SnapshotOutOfDateError for a snapshot older than the
   * stored one.
   */
  applySnapshot(groupId: number, snapshot: Snapshot): this {
    const shadow = this.shadow(groupId, true);
    this.checkSnapshot(snapshot);
    if (snapshot.metadata.index <= shadow.snapshotIndex) {
      throw new SnapshotOutOfDateError(snapshot.metadata.index, shadow.snapshotIndex);
    }
    this.dropAppends(groupId);
    Object.assign(shadow, {
      first: snapshot.metadata.index + 1,
      last: snapshot.metadata.index,
      snapshotIndex: snapshot.metadata.index,
    });
    this.ops.push({ kind: "applySnapshot", groupId, snapshot });
    return this;
  }

  /**
   * Records a snapshot this node took of its own state machine (etcd's CreateSnapshot); the log
   * is kept (use `compact` to drop its prefix). The index must be in the log and newer than the
   * stored snapshot.
   */
  setSnapshot(groupId: number, snapshot: Snapshot): this {
    const shadow = this.shadow(groupId, true);
    this.checkSnapshot(snapshot);
    if (snapshot.metadata.index <= shadow.snapshotIndex) {
      throw new SnapshotOutOfDateError(snapshot.metadata.index, shadow.snapshotIndex);
    }
    if (snapshot.metadata.index > shadow.last) {
      throw new InvalidRequestError(
        `group ${groupId}: snapshot at ${snapshot.metadata.index} is past the last index ${shadow.last}`,
      );
    }
    shadow.snapshotIndex = snapshot.metadata.index;
    this.ops.push({ kind: "setSnapshot", groupId, snapshot });
    return this;
  }

  /**
   * Drops the log prefix up to and including `index`: firstIndex becomes index + 1 and the term
   * of `index` is kept for term(firstIndex - 1). An index already compacted (below firstIndex)
   * throws raft-ts's CompactedError, as etcd's Compact does; one past the last index is an
   * InvalidRequestError. Segments are deleted once nothing live is in them.
   */
  compact(groupId: number, index: number): this {
    const shadow = this.shadow(groupId, true);
    checkLogNumber("compaction index", index);
    if (index > shadow.last) {
      throw new InvalidRequestError(
        `group ${groupId}: cannot compact to ${index}, past the last index ${shadow.last}`,
      );
    }
    if (index < shadow.first) throw new CompactedError(index, shadow.first);
    shadow.first = index + 1;
    this.ops.push({ kind: "compact", groupId, index });
    return this;
  }

  /**
   * Makes everything in the batch durable: one append to the current segment and one fdatasync,
   * then one LevelDB batch (synced when term, vote, membership, snapshots, compaction or groups
   * changed). Resolves once it is all on disk and visible to the groups' LogStorage views. A
   * rejection is a StorageFailedError: the storage then refuses further flushes.
   */
  commit(): Promise<FlushResult> {
    if (this.state !== "open")
      return Promise.reject(new InvalidRequestError("this flush was already committed or abandoned"));
    this.state = "committing";
    return this.host.commitBatch(this, this.ops).finally(() => {
      this.state = "done";
      this.host.releaseBatch(this);
    });
  }

  /** Discards the batch without writing anything, so another flush can begin. */
  abandon(): void {
    if (this.state !== "open") return;
    this.state = "done";
    this.host.releaseBatch(this);
  }

  private shadow(groupId: number, mustExist: boolean): GroupShadow {
    if (this.state !== "open") throw new InvalidRequestError("this flush was already committed or abandoned");
    checkGroupId(groupId);
    let shadow = this.shadows.get(groupId);
    if (shadow === undefined) {
      shadow = { ...this.host.shadowOf(groupId) };
      this.shadows.set(groupId, shadow);
    }
    if (mustExist && !shadow.exists) throw new UnknownGroupError(groupId);
    return shadow;
  }

  private dropAppends(groupId: number): void {
    for (const op of this.ops) {
      if (op.kind === "append" && op.groupId === groupId && !op.dropped) {
        op.dropped = true;
        this.records -= op.entries.length;
        for (const entry of op.entries) this.bytes -= RECORD_HEADER_BYTES + entry.data.length;
      }
    }
  }

  private checkSnapshot(snapshot: Snapshot): void {
    checkLogNumber("snapshot index", snapshot.metadata.index);
    checkLogNumber("snapshot term", snapshot.metadata.term);
    if (!(snapshot.data instanceof Uint8Array)) throw new InvalidRequestError("snapshot data is not bytes");
  }
}
