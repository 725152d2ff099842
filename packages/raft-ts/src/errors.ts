import type { NodeId } from "./types.js";

/**
 * Typed errors of raft-ts. Each has a stable `code` and says whether retrying (at the leader it
 * names, or after a backoff) can succeed. Assertion failures are not here: they are bugs and throw
 * plain `Error`s from `assert`.
 */
export const RaftErrorCode = {
  /** This node is not the leader; `leaderHint` names the leader if known. */
  NotLeader: "NOT_LEADER",
  /** The proposal was appended but the node lost leadership before it committed; it may or may not commit later. */
  LeadershipLost: "LEADERSHIP_LOST",
  /** The leader is handing over leadership and accepts no proposals until it finishes or aborts. */
  TransferInProgress: "TRANSFER_IN_PROGRESS",
  /** The entry (or batch) is larger than the configured limit; it will never be accepted. */
  ProposalTooLarge: "PROPOSAL_TOO_LARGE",
  /** The leader's uncommitted tail is full; retry after some entries commit. */
  ProposalDropped: "PROPOSAL_DROPPED",
  /** A configuration change is already pending, or the leader has not committed in its term yet. */
  ConfChangePending: "CONF_CHANGE_PENDING",
  /** The requested entries were compacted away. */
  Compacted: "COMPACTED",
  /** The requested entries are not (yet) in storage. */
  Unavailable: "UNAVAILABLE",
  /** A snapshot older than the one the storage already holds. */
  SnapshotOutOfDate: "SNAPSHOT_OUT_OF_DATE",
  /** The options given to the constructor are invalid; the message says which and why. */
  InvalidOptions: "INVALID_OPTIONS",
  /** A configuration change that can never be applied (bad encoding, bad node id, no voter left). */
  InvalidConfChange: "INVALID_CONF_CHANGE",
} as const;
export type RaftErrorCode = (typeof RaftErrorCode)[keyof typeof RaftErrorCode];

export class RaftError extends Error {
  override readonly name: string = "RaftError";
  readonly code: RaftErrorCode;
  readonly retriable: boolean;
  constructor(code: RaftErrorCode, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = retriable;
  }
}

export class NotLeaderError extends RaftError {
  override readonly name = "NotLeaderError";
  /** The leader this node knows of, or 0 (NONE) when it knows none. */
  readonly leaderHint: NodeId;
  constructor(leaderHint: NodeId) {
    super(
      RaftErrorCode.NotLeader,
      leaderHint === 0
        ? "not the leader and no leader is known; retry after an election"
        : `not the leader; retry at node ${leaderHint}`,
      true,
    );
    this.leaderHint = leaderHint;
  }
}

export class LeadershipLostError extends RaftError {
  override readonly name = "LeadershipLostError";
  constructor(term: number, index: number) {
    super(
      RaftErrorCode.LeadershipLost,
      `leadership was lost before the entry at term ${term} index ${index} committed; its outcome is unknown`,
      true,
    );
  }
}

export class TransferInProgressError extends RaftError {
  override readonly name = "TransferInProgressError";
  constructor(transferee: NodeId) {
    super(
      RaftErrorCode.TransferInProgress,
      `leadership is being transferred to node ${transferee}; retry there shortly`,
      true,
    );
  }
}

export class ProposalTooLargeError extends RaftError {
  override readonly name = "ProposalTooLargeError";
  constructor(bytes: number, limitBytes: number) {
    super(
      RaftErrorCode.ProposalTooLarge,
      `proposal of ${bytes} bytes exceeds the limit of ${limitBytes} bytes; split it`,
      false,
    );
  }
}

export class ProposalDroppedError extends RaftError {
  override readonly name = "ProposalDroppedError";
  constructor(reason: string) {
    super(RaftErrorCode.ProposalDropped, `proposal dropped: ${reason}; retry after a backoff`, true);
  }
}

export class ConfChangePendingError extends RaftError {
  override readonly name = "ConfChangePendingError";
  constructor(reason: string) {
    super(
      RaftErrorCode.ConfChangePending,
      `configuration change refused: ${reason}; retry once it is applied`,
      true,
    );
  }
}

export class CompactedError extends RaftError {
  override readonly name = "CompactedError";
  constructor(index: number, firstIndex: number) {
    super(RaftErrorCode.Compacted, `index ${index} is compacted (first index is ${firstIndex})`, false);
  }
}

export class UnavailableError extends RaftError {
  override readonly name = "UnavailableError";
  constructor(index: number, lastIndex: number) {
    super(RaftErrorCode.Unavailable, `index ${index} is past the last index ${lastIndex}`, false);
  }
}

export class SnapshotOutOfDateError extends RaftError {
  override readonly name = "SnapshotOutOfDateError";
  constructor(index: number, currentIndex: number) {
    super(
      RaftErrorCode.SnapshotOutOfDate,
      `snapshot at ${index} is older than the stored one at ${currentIndex}`,
      false,
    );
  }
}

export class InvalidOptionsError extends RaftError {
  override readonly name = "InvalidOptionsError";
  constructor(message: string) {
    super(RaftErrorCode.InvalidOptions, message, false);
  }
}

export class InvalidConfChangeError extends RaftError {
  override readonly name = "InvalidConfChangeError";
  constructor(message: string) {
    super(RaftErrorCode.InvalidConfChange, `invalid configuration change: ${message}`, false);
  }
}
