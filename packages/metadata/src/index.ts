/**
 * @sluice/metadata — Raft group 0: streams, shards, placement, nodes, consumers; its leader runs
 * the controller, and every node's reconciler starts and stops its shard replicas to match.
 */
export const PACKAGE_NAME = "@sluice/metadata";

export type { ApplyOutcome } from "./apply.js";
export { applyCommand, applyEncoded } from "./apply.js";
export type { CommandResult, MetadataCommand, MetadataCommandType } from "./commands.js";
export { decodeCommand, encodeCommand } from "./commands.js";
export * as constants from "./constants.js";
export type { ControllerOptions } from "./controller.js";
export { Controller } from "./controller.js";
export {
  ConsumerExistsError,
  ConsumerGroupNotFoundError,
  ConsumerNotFoundError,
  GroupMemberNotFoundError,
  InvalidArgumentError,
  InvalidMetadataOptionsError,
  isMetadataErrorCode,
  LeaseLostError,
  LimitExceededError,
  MetadataError,
  MetadataErrorCode,
  MetadataTimeoutError,
  MetadataUnavailableError,
  metadataErrorFor,
  ShardClosedError,
  ShardNotFoundError,
  StreamExistsError,
  StreamInUseError,
  StreamNotFoundError,
} from "./errors.js";
export type { ForwardedReply, MetadataForwarder } from "./forwarding.js";
export { decodeForwardedReply, encodeForwardedReply } from "./forwarding.js";
// Consumer groups (groups/): members, leases with fencing epochs, checkpoints.
export { applyGroupCommand, groupsOf, overdue } from "./groups/apply.js";
export { rebalance } from "./groups/assign.js";
export type { GroupCommand, GroupCommandType, GroupHeartbeat, GroupLease } from "./groups/commands.js";
export { GROUP_COMMAND_TYPES } from "./groups/commands.js";
export * as groupConstants from "./groups/constants.js";
export type {
  ConsumerGroupCoordinatorOptions,
  GroupCheckpointRequest,
  GroupMemberRef,
  GroupMetadataPort,
  JoinedGroup,
} from "./groups/coordinator.js";
export { ConsumerGroupCoordinator } from "./groups/coordinator.js";
export type { ConsumerGroupInfo, GroupMemberInfo, GroupShardInfo } from "./groups/state.js";
export { compareSequenceNumbers, groupKey } from "./groups/state.js";
export type { HashKeyRange } from "./hash-range.js";
export { HASH_KEY_MAX, splitHashKeySpace } from "./hash-range.js";
export type { MetadataLogger } from "./logger.js";
export { placeReplicas } from "./placement.js";
export type { ReconcilerOptions } from "./reconciler.js";
export { Reconciler } from "./reconciler.js";
export type { PlannedChild, PlannedShard, ReshardOperation } from "./reshard-plan.js";
export { applyOperations, planScale, planScaleRound } from "./reshard-plan.js";
export type {
  CreatedStream,
  CreateStreamRequest,
  MetadataServiceOptions,
  RegisteredConsumer,
  ShardCountUpdate,
} from "./service.js";
export { MetadataService } from "./service.js";
export { canonicalJson, decodeSnapshot, encodeSnapshot } from "./snapshot.js";
export type {
  ConsumerInfo,
  ConsumerStatus,
  GroupOwner,
  MetadataState,
  NodeInfo,
  ReshardInfo,
  ReshardKind,
  ReshardPhase,
  ShardInfo,
  ShardLevelMetric,
  StreamDataKey,
  StreamEncryption,
  StreamInfo,
  StreamMode,
  StreamStatus,
  SubscriptionHolder,
} from "./state.js";
export {
  CONSUMER_STATUSES,
  consumerArn,
  emptyState,
  isOpenShard,
  MetadataView,
  SHARD_LEVEL_METRICS,
  SHARD_LEVEL_METRICS_ALL,
  STREAM_MODES,
  STREAM_STATUSES,
  shardIdFor,
  streamArn,
} from "./state.js";
export type { MetadataChangeListener, MetadataStateMachineOptions } from "./state-machine.js";
export { MetadataStateMachine } from "./state-machine.js";
