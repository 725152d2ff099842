/**
 * The metadata state (pure data) and the read-only view of it. The state is immutable: apply
 * builds a new state that shares every unchanged node, stream and shard with the previous one
 * (copy-on-write), so a reader may hold a view for as long as it likes while applies go on.
 * Every object reachable from a state is frozen.
 */
import { ARN_ACCOUNT, ARN_REGION, FIRST_SHARD_GROUP_ID } from "./constants.js";
import type { ConsumerGroupInfo } from "./groups/state.js";

export type StreamStatus = "CREATING" | "ACTIVE" | "UPDATING" | "DELETING";
export type StreamMode = "PROVISIONED" | "ON_DEMAND";
export type ConsumerStatus = "CREATING" | "ACTIVE" | "DELETING";

export const STREAM_STATUSES: readonly StreamStatus[] = ["CREATING", "ACTIVE", "UPDATING", "DELETING"];
export const STREAM_MODES: readonly StreamMode[] = ["PROVISIONED", "ON_DEMAND"];
export const CONSUMER_STATUSES: readonly ConsumerStatus[] = ["CREATING", "ACTIVE", "DELETING"];

export interface NodeInfo {
  readonly nodeId: number;
  /** Availability zone; replicas of a shard go to distinct zones. */
  readonly zone: string;
  /** host:port of the peer (Raft and forwarding) listener. */
  readonly peerAddress: string;
  /** host:port of the public gRPC API. */
  readonly gatewayAddress: string;
  /** host:port of the Kinesis HTTP/JSON API, when served. */
  readonly httpAddress?: string;
  /**
   * Set while the controller (group 0's leader) cannot reach the node: when it saw it go. Absent
   * means live. See SetNodeLiveness.
   */
  readonly downSinceMs?: number;
}

export interface ShardInfo {
  /** "shardId-" + the shard number zero-padded to 12 digits. */
  readonly shardId: string;
  readonly shardNumber: number;
  /** The Raft group that holds this shard's log. */
  readonly groupId: number;
  /** Inclusive bounds of the hash key range, decimal strings. */
  readonly hashKeyStart: string;
  readonly hashKeyEnd: string;
  readonly parentShardId?: string;
  readonly adjacentParentShardId?: string;
  /** Node ids of the replicas, ascending. */
  readonly replicas: readonly number[];
  readonly createdAtMs: number;
  /** Set when the shard is closed by a reshard (no more writes); absent while open. */
  readonly closedAtMs?: number;
  /**
   * The log index of the parent group's applied seal entry, set with `closedAtMs`: the shard's
   * records are the entries below it (its last sequence number is the one before the seal).
   */
  readonly endingIndex?: number;
  /**
   * Added to this shard's log indexes in its sequence numbers, so every record of a child is
   * above every record of its parents: 0 for a shard made by CreateStream; for a child, the
   * largest `parent.sequenceIndexBase + parent.endingIndex` over its parents (set when the
   * reshard round completes; 0 while pending).
   */
  readonly sequenceIndexBase: number;
  /**
   * A child of a reshard round under way: its group exists (or is being created) but it takes
   * no writes yet. Not routed, not listed, not described; removed when the round completes.
   */
  readonly pending?: true;
}

export type ReshardKind = "split" | "merge" | "scale";
export type ReshardPhase = "children" | "sealing";

/**
 * A reshard under way (the stream is UPDATING while it is set). Each round: the children are
 * created pending (phase "children"); once every child group has a leader the controller moves
 * to "sealing" and every parent's group commits a seal entry; once every parent's seal is
 * applied the round completes (parents closed, children open). A scale may have more rounds.
 */
export interface ReshardInfo {
  readonly kind: ReshardKind;
  /** UpdateShardCount's target; only for kind "scale". */
  readonly targetShardCount?: number;
  /** 1 for the first round. */
  readonly round: number;
  readonly phase: ReshardPhase;
  /** Shard ids closing in this round. */
  readonly parents: readonly string[];
  /** Shard ids (pending) opening in this round, in shard-number order. */
  readonly children: readonly string[];
  /** When the reshard (its first round) was asked for. */
  readonly startedAtMs: number;
}

export interface ConsumerInfo {
  readonly consumerName: string;
  /** streamArn + "/consumer/" + name + ":" + creation time in whole seconds. */
  readonly consumerArn: string;
  readonly status: ConsumerStatus;
  readonly createdAtMs: number;
  /**
   * The live SubscribeToShard of this consumer, at most one per shard (sorted by shard id),
   * wherever in the cluster it runs; absent when there is none. See AcquireSubscription.
   */
  readonly subscriptions?: readonly SubscriptionHolder[];
}

/** Who holds a consumer's subscription to a shard, and since when. */
export interface SubscriptionHolder {
  readonly shardId: string;
  /** Unique per subscription call (the node that runs it makes it up). */
  readonly holderId: string;
  /** The node whose gateway runs the subscription. */
  readonly nodeId: number;
  /** When the holder acquired it, by the clock of the node that proposed it. */
  readonly startedAtMs: number;
}

export interface StreamInfo {
  readonly streamName: string;
  readonly streamArn: string;
  /** Never reused, so a re-created stream of the same name is told apart from the old one. */
  readonly streamId: number;
  readonly status: StreamStatus;
  readonly mode: StreamMode;
  readonly retentionHours: number;
  readonly createdAtMs: number;
  readonly tags: ReadonlyMap<string, string>;
  /** In shard-number order. */
  readonly shards: readonly ShardInfo[];
  readonly nextShardNumber: number;
  /** In registration order. */
  readonly consumers: readonly ConsumerInfo[];
  /** The reshard under way; absent when none (then the stream is not UPDATING by a reshard). */
  readonly reshard?: ReshardInfo;
  /**
   * Start times of the reshard operations of the last RESHARD_WINDOW_MS (oldest first, at most
   * RESHARDS_PER_WINDOW_MAX): the per-stream rate limit. Absent until the first reshard.
   */
  readonly reshardsAtMs?: readonly number[];
  /**
   * The shard-level metrics enabled by EnableEnhancedMonitoring (Kinesis names, sorted, never
   * "ALL"): a node exports these per shard for this stream. Absent when none is enabled.
   */
  readonly shardLevelMetrics?: readonly ShardLevelMetric[];
  /**
   * Encryption at rest (StartStreamEncryption): present while new records are encrypted
   * (EncryptionType KMS), absent while they are not (NONE).
   */
  readonly encryption?: StreamEncryption;
  /**
   * Every data key the stream has had, oldest first (versions 1, 2, …): records keep the version
   * that sealed them, so a key stays here after StopStreamEncryption. Absent until the first.
   */
  readonly dataKeys?: readonly StreamDataKey[];
}

/** What seals a stream's new records. */
export interface StreamEncryption {
  /** The KeyId as the caller gave it (a key id, an alias or an ARN), reported by DescribeStream. */
  readonly keyId: string;
  /** The version of the data key in `dataKeys` that seals new records. */
  readonly keyVersion: number;
}

/**
 * One data key of a stream, wrapped by a master key (the node's key file): the metadata never
 * holds a key in the clear. What the wrapping is, is the gateway's (packages/gateway/src/encryption).
 */
export interface StreamDataKey {
  /** 1, 2, …: the version written in the header of every batch it sealed. */
  readonly version: number;
  /** The id (in the key file) of the master key that wrapped it. */
  readonly masterKeyId: string;
  /** The wrapped key, base64. */
  readonly wrappedKey: string;
}

/** The shard-level metrics of Kinesis enhanced monitoring, in Kinesis's order. */
export const SHARD_LEVEL_METRICS = [
  "IncomingBytes",
  "IncomingRecords",
  "OutgoingBytes",
  "OutgoingRecords",
  "WriteProvisionedThroughputExceeded",
  "ReadProvisionedThroughputExceeded",
  "IteratorAgeMilliseconds",
] as const;
export type ShardLevelMetric = (typeof SHARD_LEVEL_METRICS)[number];
/** The name that stands for every shard-level metric in Enable/DisableEnhancedMonitoring. */
export const SHARD_LEVEL_METRICS_ALL = "ALL";

export interface MetadataState {
  /** 32 bytes, hex; empty until InitCluster. */
  readonly clusterSecretHex: string;
  readonly nextGroupId: number;
  readonly nextStreamId: number;
  readonly nodes: ReadonlyMap<number, NodeInfo>;
  readonly streams: ReadonlyMap<string, StreamInfo>;
  /** Consumer groups by `groupKey(streamName, groupName)` (groups/state.ts); absent means none. */
  readonly groups?: ReadonlyMap<string, ConsumerGroupInfo>;
}

export function emptyState(): MetadataState {
  return Object.freeze({
    clusterSecretHex: "",
    nextGroupId: FIRST_SHARD_GROUP_ID,
    nextStreamId: 1,
    nodes: new Map<number, NodeInfo>(),
    streams: new Map<string, StreamInfo>(),
  });
}

export function streamArn(streamName: string): string {
  return `arn:aws:kinesis:${ARN_REGION}:${ARN_ACCOUNT}:stream/${streamName}`;
}

export function consumerArn(streamArnValue: string, consumerName: string, createdAtMs: number): string {
  return `${streamArnValue}/consumer/${consumerName}:${Math.floor(createdAtMs / 1000)}`;
}

/** True for a shard that takes writes: not closed by a reshard and not a pending child. */
export function isOpenShard(shard: ShardInfo): boolean {
  return shard.closedAtMs === undefined && shard.pending !== true;
}

export function shardIdFor(shardNumber: number): string {
  return `shardId-${String(shardNumber).padStart(12, "0")}`;
}

/** Where a shard group lives: its stream and shard. */
export interface GroupOwner {
  readonly stream: StreamInfo;
  readonly shard: ShardInfo;
}

const NO_GROUPS: ReadonlyMap<string, ConsumerGroupInfo> = new Map();

/**
 * A read-only, immutable view of the metadata at one applied index. Cheap to take; lookups by
 * ARN and group id build their index on first use.
 */
export class MetadataView {
  /** The last log index applied into this view (0 before any). */
  readonly appliedIndex: number;
  /** The cluster secret (empty before InitCluster). Shared between views: do not mutate. */
  readonly clusterSecret: Buffer;
  readonly nodes: ReadonlyMap<number, NodeInfo>;
  /** Streams by name. */
  readonly streams: ReadonlyMap<string, StreamInfo>;
  /** The next group id apply will allocate; every shard group id is below it. */
  readonly nextGroupId: number;
  readonly nextStreamId: number;
  /** Consumer groups by `groupKey(streamName, groupName)`; a group whose streamId is not its stream's is stale. */
  readonly groups: ReadonlyMap<string, ConsumerGroupInfo>;
  private byArn: Map<string, StreamInfo> | undefined;
  private byGroup: Map<number, GroupOwner> | undefined;

  constructor(state: MetadataState, appliedIndex: number, clusterSecret: Buffer) {
    this.appliedIndex = appliedIndex;
    this.clusterSecret = clusterSecret;
    this.nodes = state.nodes;
    this.streams = state.streams;
    this.nextGroupId = state.nextGroupId;
    this.nextStreamId = state.nextStreamId;
    this.groups = state.groups ?? NO_GROUPS;
  }

  stream(streamName: string): StreamInfo | undefined {
    return this.streams.get(streamName);
  }

  streamByArn(arn: string): StreamInfo | undefined {
    if (this.byArn === undefined) {
      this.byArn = new Map();
      for (const stream of this.streams.values()) this.byArn.set(stream.streamArn, stream);
    }
    return this.byArn.get(arn);
  }

  /** The stream named by `nameOrArn`: an ARN when it starts with "arn:", a name otherwise. */
  resolveStream(nameOrArn: string): StreamInfo | undefined {
    return nameOrArn.startsWith("arn:") ? this.streamByArn(nameOrArn) : this.streams.get(nameOrArn);
  }

  /** The consumer with this ARN and its stream. */
  consumerByArn(arn: string): { stream: StreamInfo; consumer: ConsumerInfo } | undefined {
    const marker = arn.indexOf("/consumer/");
    if (marker < 0) return undefined;
    const stream = this.streamByArn(arn.slice(0, marker));
    const consumer = stream?.consumers.find((c) => c.consumerArn === arn);
    return stream === undefined || consumer === undefined ? undefined : { stream, consumer };
  }

  /** The stream and shard whose log group `groupId` holds. */
  groupOwner(groupId: number): GroupOwner | undefined {
    if (this.byGroup === undefined) {
      this.byGroup = new Map();
      for (const stream of this.streams.values()) {
        for (const shard of stream.shards) this.byGroup.set(shard.groupId, { stream, shard });
      }
    }
    return this.byGroup.get(groupId);
  }
}
