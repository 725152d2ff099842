/**
 * raft-ts — Raft consensus as a pure, deterministic state machine, in the style of etcd-io/raft.
 * See the package README for the API and a worked example of driving a node.
 */

export {
  CompactedError,
  ConfChangePendingError,
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
export type { RaftOptions } from "./options.js";
export { RaftBug, ReadOnlyOption } from "./options.js";
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
