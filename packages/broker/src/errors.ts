/**
 * Typed errors of the broker (kafkajs style): one class per condition, each with a stable `code`
 * from `BrokerErrorCode`, `retriable` (whether the same call can succeed later or elsewhere), a
 * `cause` when another error is behind it, and a message that says what to do. The gateway maps
 * the codes to gRPC statuses and Kinesis error names in one table.
 *
 * Assertion failures are not here: they are bugs and throw plain `Error`s.
 */
import type { NodeId } from "raft-ts";
import type { GroupId } from "./transport/transport.js";

export const BrokerErrorCode = {
  /** This replica does not lead the group; `leaderHint` names the leader when known (0 = none). */
  NotLeader: "NOT_LEADER",
  /** The append was in the log but leadership changed before it committed: it may or may not be in the log. */
  LeadershipLost: "LEADERSHIP_LOST",
  /** The append did not commit within the append timeout: it may or may not commit later. */
  AppendTimeout: "APPEND_TIMEOUT",
  /** The group's leader has too much in flight (uncommitted bytes or pending appends); back off. */
  Busy: "BUSY",
  /** No replica of this group on this node. */
  GroupNotFound: "GROUP_NOT_FOUND",
  /** `ensureGroup` named other voters than the group's replica on this node has. */
  GroupVotersMismatch: "GROUP_VOTERS_MISMATCH",
  /** The broker is shutting down or closed. */
  BrokerClosed: "BROKER_CLOSED",
  /** The append's encoded batch is larger than APPEND_BYTES_MAX or holds too many records. */
  AppendTooLarge: "APPEND_TOO_LARGE",
  /** A record is invalid (empty or too long partition key, data too large, bad explicit hash key). */
  InvalidRecord: "INVALID_RECORD",
  /** An argument is out of range (a group id, voters, read limits, an index). */
  InvalidArgument: "INVALID_ARGUMENT",
  /** The options given to `Broker.open` are invalid; the message says which and why. */
  InvalidOptions: "INVALID_OPTIONS",
  /** A committed entry does not decode as a record batch: a bug or corruption, never bad input. */
  CorruptBatch: "CORRUPT_BATCH",
  /** Storage failed (a write or fsync error); the broker stopped and the process must restart. */
  StorageFailed: "STORAGE_FAILED",
  /** A group's state machine threw while applying an entry (a bug); the group stopped on this node. */
  StateMachineFailed: "STATE_MACHINE_FAILED",
  /** The node's data filesystem is (nearly) full: nothing was written; retry (another node may lead by then). */
  DiskFull: "DISK_FULL",
  /** The shard group is sealed (being resharded): nothing of the append was written; route it again. */
  ShardSealed: "SHARD_SEALED",
} as const;
export type BrokerErrorCode = (typeof BrokerErrorCode)[keyof typeof BrokerErrorCode];

export class BrokerError extends Error {
  override readonly name: string = "BrokerError";
  readonly code: BrokerErrorCode;
  readonly retriable: boolean;
  constructor(code: BrokerErrorCode, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = retriable;
  }
}

export class NotLeaderError extends BrokerError {
  override readonly name = "NotLeaderError";
  readonly groupId: GroupId;
  /** The leader this replica knows of, or 0 when it knows none (retry after an election). */
  readonly leaderHint: NodeId;
  constructor(groupId: GroupId, leaderHint: NodeId, options?: { cause?: unknown; reason?: string }) {
    super(
      BrokerErrorCode.NotLeader,
      `${options?.reason ?? "this node does not lead"} group ${groupId}; ${
        leaderHint === 0
          ? "no leader is known: retry after a short backoff (an election is under way)"
          : `retry at node ${leaderHint}`
      }`,
      true,
      options,
    );
    this.groupId = groupId;
    this.leaderHint = leaderHint;
  }
}

export class LeadershipLostError extends BrokerError {
  override readonly name = "LeadershipLostError";
  constructor(groupId: GroupId, term: number, index: number, options?: { cause?: unknown }) {
    super(
      BrokerErrorCode.LeadershipLost,
      `group ${groupId}: leadership changed before the append at term ${term} index ${index} committed; ` +
        "it may or may not be in the log: retry at the new leader (the records may then appear twice)",
      true,
      options,
    );
  }
}

export class AppendTimeoutError extends BrokerError {
  override readonly name = "AppendTimeoutError";
  /** `what` names a read barrier (index 0: its read index was never learned) instead of an append. */
  constructor(
    groupId: GroupId,
    timeoutMs: number,
    index: number,
    what: "append" | "proposal" | "seal" | "read" = "append",
  ) {
    super(
      BrokerErrorCode.AppendTimeout,
      what === "read"
        ? `group ${groupId}: the read barrier did not complete within ${timeoutMs} ms ` +
            "(no quorum reachable, or leadership changed?); retry after a backoff"
        : what === "seal"
          ? `group ${groupId}: the seal at index ${index} did not commit within ${timeoutMs} ms ` +
            "(no quorum reachable?); it may still commit: call seal again after a backoff (it is idempotent)"
          : `group ${groupId}: the ${what} at index ${index} did not commit within ${timeoutMs} ms ` +
            `(no quorum reachable?); it may still commit: retry after a backoff (${
              what === "append" ? "the records may then appear twice" : "it may then be applied twice"
            })`,
      true,
    );
  }
}

export class BrokerBusyError extends BrokerError {
  override readonly name = "BrokerBusyError";
  constructor(groupId: GroupId, reason: string, options?: { cause?: unknown }) {
    super(BrokerErrorCode.Busy, `group ${groupId} is busy: ${reason}; retry after a backoff`, true, options);
  }
}

export class GroupNotFoundError extends BrokerError {
  override readonly name = "GroupNotFoundError";
  readonly groupId: GroupId;
  constructor(groupId: GroupId) {
    super(
      BrokerErrorCode.GroupNotFound,
      `group ${groupId} has no replica on this node; ask the metadata service where it lives`,
      false,
    );
    this.groupId = groupId;
  }
}

export class GroupVotersMismatchError extends BrokerError {
  override readonly name = "GroupVotersMismatchError";
  constructor(groupId: GroupId, existing: readonly NodeId[], requested: readonly NodeId[]) {
    super(
      BrokerErrorCode.GroupVotersMismatch,
      `group ${groupId} already exists here with voters [${existing.join(", ")}], not [${requested.join(", ")}]; ` +
        "membership changes are not supported: remove the group first",
      false,
    );
  }
}

export class BrokerClosedError extends BrokerError {
  override readonly name = "BrokerClosedError";
  constructor(options?: { cause?: unknown }) {
    super(
      BrokerErrorCode.BrokerClosed,
      "the broker is shutting down or closed; retry at another node",
      true,
      options,
    );
  }
}

export class AppendTooLargeError extends BrokerError {
  override readonly name = "AppendTooLargeError";
  constructor(what: string, size: number, limit: number) {
    super(
      BrokerErrorCode.AppendTooLarge,
      `append ${what} is ${size}, above the limit of ${limit}; split it into smaller appends`,
      false,
    );
  }
}

export class InvalidRecordError extends BrokerError {
  override readonly name = "InvalidRecordError";
  /** Position of the offending record in the append. */
  readonly recordIndex: number;
  constructor(recordIndex: number, problem: string) {
    super(BrokerErrorCode.InvalidRecord, `record ${recordIndex}: ${problem}`, false);
    this.recordIndex = recordIndex;
  }
}

export class InvalidArgumentError extends BrokerError {
  override readonly name = "InvalidArgumentError";
  constructor(message: string) {
    super(BrokerErrorCode.InvalidArgument, message, false);
  }
}

export class InvalidBrokerOptionsError extends BrokerError {
  override readonly name = "InvalidBrokerOptionsError";
  constructor(message: string) {
    super(BrokerErrorCode.InvalidOptions, `invalid broker options: ${message}`, false);
  }
}

export class CorruptBatchError extends BrokerError {
  override readonly name = "CorruptBatchError";
  constructor(message: string) {
    super(BrokerErrorCode.CorruptBatch, `corrupt record batch: ${message}`, false);
  }
}

export class StorageFailedError extends BrokerError {
  override readonly name = "StorageFailedError";
  constructor(options?: { cause?: unknown }) {
    super(
      BrokerErrorCode.StorageFailed,
      "the node's storage failed and the broker stopped; restart the node process (it recovers from disk)",
      false,
      options,
    );
  }
}

export class StateMachineFailedError extends BrokerError {
  override readonly name = "StateMachineFailedError";
  readonly groupId: GroupId;
  constructor(groupId: GroupId, index: number, options?: { cause?: unknown }) {
    super(
      BrokerErrorCode.StateMachineFailed,
      `group ${groupId}: its state machine threw applying entry ${index} (a bug); the group stopped on this node: ` +
        "fix the state machine and restart the node (it re-applies from its last snapshot)",
      false,
      options,
    );
    this.groupId = groupId;
  }
}

/**
 * The shard group's log holds a seal entry (Broker.seal): it takes no more records. Nothing of
 * the refused append was written (an append that reached the log after the seal is never
 * acknowledged and never read). Retriable: the stream's new shards take the writes.
 */
export class DiskFullError extends BrokerError {
  override readonly name = "DiskFullError";
  constructor(nodeId: NodeId, freeBytes: number, reserveBytes: number) {
    super(
      BrokerErrorCode.DiskFull,
      `node ${nodeId}'s data filesystem is full (${Math.max(0, Math.floor(freeBytes / 1_048_576))} MiB free, below its ${Math.floor(reserveBytes / 1_048_576)} MiB reserve): nothing was written; free disk space on that node — it resumes by itself — or retry, as the other nodes take over its shards`,
      true,
    );
  }
}

export class ShardSealedError extends BrokerError {
  override readonly name = "ShardSealedError";
  readonly groupId: GroupId;
  constructor(groupId: GroupId) {
    super(
      BrokerErrorCode.ShardSealed,
      `shard group ${groupId} is sealed (being resharded): retry; the stream's new shards take the writes`,
      true,
    );
    this.groupId = groupId;
  }
}
