/**
 * raft-ts — Raft consensus as a pure, deterministic state machine, in the style of etcd-io/raft.
 * See the package README for the API and a worked example of driving a node.
 */

export type { ConfChange, ConfChangeType } from "./conf-change.js";
export { decodeConfChange, encodeConfChange } from "./conf-change.js";
export * as constants from "./constants.js";
export {
  DEFAULT_ELECTION_TICKS,
  DEFAULT_HEARTBEAT_TICKS,
  DEFAULT_MAX_APPEND_BYTES,
  MAX_INFLIGHT_APPENDS,
} from "./constants.js";
export {
  CompactedError,
  ConfChangePendingError,
  InvalidConfChangeError,
  InvalidOptionsError,
  LeadershipLostError,
  NotLeaderError,
  ProposalDroppedError,
  ProposalTooLargeError,
  RaftError,
  RaftErrorCode,
  SnapshotOutOfDateError,
  TransferInProgressError,
  UnavailableError,
} from "./errors.js";
export { ProgressState } from "./internal/progress.js";
export { MemoryStorage } from "./memory-storage.js";
export type { PeerProgress, RaftStatus } from "./node.js";
export { RaftNode } from "./node.js";
export type { RaftOptions } from "./options.js";
export { defaultOptions, RaftBug, ReadOnlyOption } from "./options.js";
export type { CommittedPosition, ProposalCallbacks } from "./proposal-tracker.js";
export { ProposalTracker } from "./proposal-tracker.js";
export { SeededRandom } from "./random.js";
export type { LogStorage } from "./storage.js";
export type {
  ConfState,
  Entry,
  HardState,
  Message,
  NodeId,
  RandomSource,
  ReadState,
  Ready,
  Snapshot,
  SnapshotMetadata,
  SoftState,
} from "./types.js";
export { EntryType, MessageType, NONE, StateRole } from "./types.js";
