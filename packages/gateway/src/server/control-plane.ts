/**
 * The control-plane operations: stream and consumer lifecycle, retention, tags, modes, and the
 * describe/list calls with Kinesis's pagination. Writes go through the metadata service (Raft
 * group 0, forwarded to its leader from any node); reads use a consistent view of the metadata
 * (a read barrier on group 0), so a stream created through one node is described by every node.
 * Requests arrive validated (validation.ts); what depends on state (exists? ACTIVE?) is checked
 * here or by the metadata state machine, with the same typed errors.
 *
 * Reshards (SplitShard, MergeShards, UpdateShardCount) are metadata commands; the controller runs
 * them. Lists and describes never show a reshard's pending children; a closed shard shows its
 * EndingSequenceNumber; ListShards' ShardFilter follows lineage (lineage.ts).
 */
import type {
  ConsumerInfo,
  MetadataService,
  ShardInfo,
  StreamInfo,
  StreamMode,
  StreamStatus,
} from "@sluice/metadata";
import { streams } from "@sluice/proto";
import { ON_DEMAND_SHARD_COUNT_DEFAULT } from "../constants.js";
import { InvalidArgumentError, ResourceNotFoundError, ValidationError } from "../errors.js";
import { filterShardsByLineage, isListed, isRoutable } from "../lineage.js";
import { endingSequenceNumberOf, startingSequenceNumberOf } from "../shard-sequence.js";
import { formatShardId, parseShardId, validateShardFilter } from "../validation.js";
import {
  CLUSTER_SHARD_LIMIT,
  DESCRIBE_STREAM_LIMIT_DEFAULT,
  INTERNAL_STREAM_NAME_PREFIXES,
  LIST_SHARDS_LIMIT_DEFAULT,
  LIST_STREAM_CONSUMERS_LIMIT_DEFAULT,
  LIST_STREAMS_LIMIT_DEFAULT,
  ON_DEMAND_STREAM_COUNT_LIMIT,
} from "./constants.js";
import type { StreamLookup, StreamRef } from "./stream-lookup.js";

const STATUS: Record<StreamStatus, streams.StreamStatus> = {
  CREATING: streams.StreamStatus.STREAM_STATUS_CREATING,
  ACTIVE: streams.StreamStatus.STREAM_STATUS_ACTIVE,
  UPDATING: streams.StreamStatus.STREAM_STATUS_UPDATING,
  DELETING: streams.StreamStatus.STREAM_STATUS_DELETING,
};

const CONSUMER_STATUS: Record<ConsumerInfo["status"], streams.ConsumerStatus> = {
  CREATING: streams.ConsumerStatus.CONSUMER_STATUS_CREATING,
  ACTIVE: streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
  DELETING: streams.ConsumerStatus.CONSUMER_STATUS_DELETING,
};

export function modeFromProto(mode: streams.StreamMode | undefined, fallback: StreamMode): StreamMode {
  if (mode === streams.StreamMode.STREAM_MODE_ON_DEMAND) return "ON_DEMAND";
  if (mode === streams.StreamMode.STREAM_MODE_PROVISIONED) return "PROVISIONED";
  return fallback;
}

function modeToProto(mode: StreamMode): streams.StreamModeDetails {
  return {
    streamMode:
      mode === "ON_DEMAND"
        ? streams.StreamMode.STREAM_MODE_ON_DEMAND
        : streams.StreamMode.STREAM_MODE_PROVISIONED,
  };
}

/** Kinesis's EncryptionType and KeyId of a stream: KMS and the caller's KeyId while encrypted. */
function encryptionOf(stream: StreamInfo): { encryptionType: string; keyId: string } {
  return stream.encryption === undefined
    ? { encryptionType: "NONE", keyId: "" }
    : { encryptionType: "KMS", keyId: stream.encryption.keyId };
}

export function shardToProto(shard: ShardInfo): streams.Shard {
  return {
    shardId: shard.shardId,
    parentShardId: shard.parentShardId ?? "",
    adjacentParentShardId: shard.adjacentParentShardId ?? "",
    hashKeyRange: { startingHashKey: shard.hashKeyStart, endingHashKey: shard.hashKeyEnd },
    sequenceNumberRange: {
      startingSequenceNumber: startingSequenceNumberOf(shard),
      endingSequenceNumber: endingSequenceNumberOf(shard),
    },
  };
}

function consumerToProto(consumer: ConsumerInfo): streams.Consumer {
  return {
    consumerName: consumer.consumerName,
    consumerArn: consumer.consumerArn,
    consumerStatus: CONSUMER_STATUS[consumer.status],
    consumerCreationTimestamp: consumer.createdAtMs,
  };
}

/** Pagination tokens: opaque to clients, base64url of the list they continue and where. */
interface PageToken {
  readonly list: "streams" | "shards" | "consumers";
  readonly stream?: string;
  readonly after: string;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64url");
}

function decodeToken(text: string, list: PageToken["list"]): PageToken {
  try {
    const token = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as PageToken;
    if (token.list === list && typeof token.after === "string") return token;
  } catch {
    // falls through to the typed error
  }
  throw new InvalidArgumentError(
    `NextToken ${text.slice(0, 64)} is not a token this operation returned; start the listing again without it`,
  );
}

function ref(streamName: string, streamArn: string): StreamRef {
  return { streamName: streamName || undefined, streamArn: streamArn || undefined };
}

/** A shard id in our canonical form (`7` and `shardId-7` name `shardId-000000000007`); others as given. */
function canonicalShardId(shardId: string): string {
  const shardNumber = parseShardId(shardId);
  return shardNumber === null ? shardId : formatShardId(shardNumber);
}

const MS_PER_HOUR = 3_600_000;

export class ControlPlane {
  private readonly metadata: MetadataService;
  private readonly lookup: StreamLookup;
  private readonly clock: () => number;

  /** `clock`: wall clock in ms (ListShards' trim horizon). @default Date.now */
  constructor(metadata: MetadataService, lookup: StreamLookup, clock: () => number = Date.now) {
    this.metadata = metadata;
    this.lookup = lookup;
    this.clock = clock;
  }

  async createStream(request: streams.CreateStreamRequest): Promise<streams.CreateStreamResponse> {
    const mode = modeFromProto(request.streamModeDetails?.streamMode, "PROVISIONED");
    const shardCount =
      request.shardCount ?? (mode === "ON_DEMAND" ? ON_DEMAND_SHARD_COUNT_DEFAULT : undefined);
    if (shardCount === undefined) {
      throw new InvalidArgumentError("ShardCount is required for a PROVISIONED stream");
    }
    await this.metadata.createStream({
      streamName: request.streamName,
      shardCount,
      mode,
      tags: request.tags,
    });
    return {};
  }

  async deleteStream(request: streams.DeleteStreamRequest): Promise<streams.DeleteStreamResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    await this.metadata.deleteStream({
      streamName: stream.streamName,
      enforceConsumerDeletion: request.enforceConsumerDeletion,
    });
    return {};
  }

  async describeStream(request: streams.DescribeStreamRequest): Promise<streams.DescribeStreamResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    const limit = request.limit ?? DESCRIBE_STREAM_LIMIT_DEFAULT;
    const ordered = stream.shards.filter(isListed).sort((a, b) => a.shardNumber - b.shardNumber);
    const after = request.exclusiveStartShardId;
    const from = after === "" ? 0 : ordered.findIndex((shard) => shard.shardId > after);
    const page = from < 0 ? [] : ordered.slice(from, from + limit);
    return {
      streamDescription: {
        streamName: stream.streamName,
        streamArn: stream.streamArn,
        streamStatus: STATUS[stream.status],
        streamModeDetails: modeToProto(stream.mode),
        shards: page.map(shardToProto),
        hasMoreShards: from >= 0 && from + limit < ordered.length,
        retentionPeriodHours: stream.retentionHours,
        streamCreationTimestamp: stream.createdAtMs,
        enhancedMonitoring: [{ shardLevelMetrics: [...(stream.shardLevelMetrics ?? [])] }],
        ...encryptionOf(stream),
      },
    };
  }

  async describeStreamSummary(
    request: streams.DescribeStreamSummaryRequest,
  ): Promise<streams.DescribeStreamSummaryResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    return {
      streamDescriptionSummary: {
        streamName: stream.streamName,
        streamArn: stream.streamArn,
        streamStatus: STATUS[stream.status],
        streamModeDetails: modeToProto(stream.mode),
        retentionPeriodHours: stream.retentionHours,
        streamCreationTimestamp: stream.createdAtMs,
        openShardCount: stream.shards.filter(isRoutable).length,
        consumerCount: stream.consumers.length,
        enhancedMonitoring: [{ shardLevelMetrics: [...(stream.shardLevelMetrics ?? [])] }],
        ...encryptionOf(stream),
      },
    };
  }

  async listStreams(request: streams.ListStreamsRequest): Promise<streams.ListStreamsResponse> {
    const view = await this.metadata.consistentView();
    const limit = request.limit ?? LIST_STREAMS_LIMIT_DEFAULT;
    const after =
      request.nextToken !== ""
        ? decodeToken(request.nextToken, "streams").after
        : request.exclusiveStartStreamName;
    const names = [...view.streams.keys()].filter((name) => !isInternalStreamName(name)).sort();
    const from = after === "" ? 0 : names.findIndex((name) => name > after);
    const page = from < 0 ? [] : names.slice(from, from + limit);
    const more = from >= 0 && from + limit < names.length;
    return {
      streamNames: page,
      hasMoreStreams: more,
      nextToken: more ? encodeToken({ list: "streams", after: page[page.length - 1] as string }) : "",
      streamSummaries: page.map((name) => {
        const stream = view.streams.get(name) as StreamInfo;
        return {
          streamName: stream.streamName,
          streamArn: stream.streamArn,
          streamStatus: STATUS[stream.status],
          streamModeDetails: modeToProto(stream.mode),
          streamCreationTimestamp: stream.createdAtMs,
        };
      }),
    };
  }

  async listShards(request: streams.ListShardsRequest): Promise<streams.ListShardsResponse> {
    let streamRef = ref(request.streamName, request.streamArn);
    let after = request.exclusiveStartShardId;
    if (request.nextToken !== "") {
      const token = decodeToken(request.nextToken, "shards");
      streamRef = { streamName: token.stream };
      after = token.after;
    }
    const stream = await this.lookup.stream(streamRef, { consistent: true });
    const filter = request.shardFilter;
    let shards: readonly ShardInfo[] = stream.shards
      .filter(isListed)
      .sort((a, b) => a.shardNumber - b.shardNumber);
    if (filter !== undefined && filter.type !== streams.ShardFilterType.SHARD_FILTER_TYPE_UNSPECIFIED) {
      shards = filterShardsByLineage(shards, validateShardFilter(filter), {
        nowMs: this.clock(),
        retentionMs: stream.retentionHours * MS_PER_HOUR,
      }) as ShardInfo[];
    }
    if (after !== "") shards = shards.filter((shard) => shard.shardId > after);
    const limit = request.maxResults ?? LIST_SHARDS_LIMIT_DEFAULT;
    const page = shards.slice(0, limit);
    const more = shards.length > limit;
    return {
      shards: page.map(shardToProto),
      nextToken: more
        ? encodeToken({
            list: "shards",
            stream: stream.streamName,
            after: (page[page.length - 1] as ShardInfo).shardId,
          })
        : "",
    };
  }

  async increaseRetention(
    request: streams.IncreaseStreamRetentionPeriodRequest,
  ): Promise<streams.IncreaseStreamRetentionPeriodResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    await this.metadata.increaseRetention({
      streamName: stream.streamName,
      hours: request.retentionPeriodHours,
    });
    return {};
  }

  async decreaseRetention(
    request: streams.DecreaseStreamRetentionPeriodRequest,
  ): Promise<streams.DecreaseStreamRetentionPeriodResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    await this.metadata.decreaseRetention({
      streamName: stream.streamName,
      hours: request.retentionPeriodHours,
    });
    return {};
  }

  async addTags(request: streams.AddTagsToStreamRequest): Promise<streams.AddTagsToStreamResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    await this.metadata.addTags({ streamName: stream.streamName, tags: request.tags });
    return {};
  }

  async removeTags(
    request: streams.RemoveTagsFromStreamRequest,
  ): Promise<streams.RemoveTagsFromStreamResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    await this.metadata.removeTags({ streamName: stream.streamName, tagKeys: request.tagKeys });
    return {};
  }

  async listTags(request: streams.ListTagsForStreamRequest): Promise<streams.ListTagsForStreamResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    const keys = [...stream.tags.keys()].sort();
    const after = request.exclusiveStartTagKey;
    const from = after === "" ? 0 : keys.findIndex((key) => key > after);
    const limit = request.limit ?? keys.length;
    const page = from < 0 ? [] : keys.slice(from, from + limit);
    return {
      tags: page.map((key) => ({ key, value: stream.tags.get(key) ?? "" })),
      hasMoreTags: from >= 0 && from + limit < keys.length,
    };
  }

  async registerConsumer(
    request: streams.RegisterStreamConsumerRequest,
  ): Promise<streams.RegisterStreamConsumerResponse> {
    const stream = await this.lookup.stream({ streamArn: request.streamArn }, { consistent: true });
    await this.metadata.registerConsumer({
      streamName: stream.streamName,
      consumerName: request.consumerName,
    });
    const consumer = this.findConsumer(
      await this.lookup.stream({ streamArn: request.streamArn }),
      request.consumerName,
      "",
    );
    return { consumer: consumerToProto(consumer) };
  }

  async describeConsumer(
    request: streams.DescribeStreamConsumerRequest,
  ): Promise<streams.DescribeStreamConsumerResponse> {
    const { stream, consumer } = await this.consumerOf(
      request.streamArn,
      request.consumerName,
      request.consumerArn,
    );
    return { consumerDescription: { ...consumerToProto(consumer), streamArn: stream.streamArn } };
  }

  async listConsumers(
    request: streams.ListStreamConsumersRequest,
  ): Promise<streams.ListStreamConsumersResponse> {
    const stream = await this.lookup.stream({ streamArn: request.streamArn }, { consistent: true });
    const after = request.nextToken !== "" ? decodeToken(request.nextToken, "consumers").after : "";
    const consumers = [...stream.consumers]
      .sort((a, b) => (a.consumerName < b.consumerName ? -1 : 1))
      .filter((consumer) => after === "" || consumer.consumerName > after);
    const limit = request.maxResults ?? LIST_STREAM_CONSUMERS_LIMIT_DEFAULT;
    const page = consumers.slice(0, limit);
    const more = consumers.length > limit;
    return {
      consumers: page.map(consumerToProto),
      nextToken: more
        ? encodeToken({ list: "consumers", after: (page[page.length - 1] as ConsumerInfo).consumerName })
        : "",
    };
  }

  async deregisterConsumer(
    request: streams.DeregisterStreamConsumerRequest,
  ): Promise<streams.DeregisterStreamConsumerResponse> {
    const { stream, consumer } = await this.consumerOf(
      request.streamArn,
      request.consumerName,
      request.consumerArn,
    );
    await this.metadata.deregisterConsumer({
      streamName: stream.streamName,
      consumerArn: consumer.consumerArn,
    });
    return {};
  }

  async updateStreamMode(
    request: streams.UpdateStreamModeRequest,
  ): Promise<streams.UpdateStreamModeResponse> {
    const stream = await this.lookup.stream({ streamArn: request.streamArn }, { consistent: true });
    const mode = modeFromProto(request.streamModeDetails?.streamMode, stream.mode);
    await this.metadata.updateStreamMode({ streamName: stream.streamName, mode });
    return {};
  }

  /** SplitShard: the metadata checks the shard (exists, open) and the key (strictly inside its range). */
  async splitShard(request: streams.SplitShardRequest): Promise<streams.SplitShardResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    refuseOnDemand(stream, "SplitShard");
    await this.metadata.splitShard({
      streamName: stream.streamName,
      shardToSplit: canonicalShardId(request.shardToSplit),
      newStartingHashKey: request.newStartingHashKey,
    });
    return {};
  }

  /** MergeShards: the metadata checks that both shards exist, are open and adjacent. */
  async mergeShards(request: streams.MergeShardsRequest): Promise<streams.MergeShardsResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    refuseOnDemand(stream, "MergeShards");
    await this.metadata.mergeShards({
      streamName: stream.streamName,
      shardToMerge: canonicalShardId(request.shardToMerge),
      adjacentShardToMerge: canonicalShardId(request.adjacentShardToMerge),
    });
    return {};
  }

  /** UpdateShardCount (UNIFORM_SCALING): the metadata checks the target against the open shard count. */
  async updateShardCount(
    request: streams.UpdateShardCountRequest,
  ): Promise<streams.UpdateShardCountResponse> {
    const stream = await this.lookup.stream(ref(request.streamName, request.streamArn), { consistent: true });
    refuseOnDemand(stream, "UpdateShardCount");
    const { currentShardCount, targetShardCount } = await this.metadata.updateShardCount({
      streamName: stream.streamName,
      targetShardCount: request.targetShardCount,
    });
    return {
      streamName: stream.streamName,
      streamArn: stream.streamArn,
      currentShardCount,
      targetShardCount,
    };
  }

  async describeLimits(): Promise<streams.DescribeLimitsResponse> {
    const view = await this.metadata.consistentView();
    let open = 0;
    let onDemand = 0;
    for (const stream of view.streams.values()) {
      if (stream.mode === "ON_DEMAND") onDemand++;
      for (const shard of stream.shards) if (isRoutable(shard)) open++;
    }
    return {
      shardLimit: CLUSTER_SHARD_LIMIT,
      openShardCount: open,
      onDemandStreamCount: onDemand,
      onDemandStreamCountLimit: ON_DEMAND_STREAM_COUNT_LIMIT,
    };
  }

  private async consumerOf(
    streamArn: string,
    consumerName: string,
    consumerArn: string,
  ): Promise<{ stream: StreamInfo; consumer: ConsumerInfo }> {
    if (consumerArn !== "") {
      const view = await this.metadata.consistentView();
      for (const stream of view.streams.values()) {
        const consumer = stream.consumers.find((c) => c.consumerArn === consumerArn);
        if (consumer !== undefined) return { stream, consumer };
      }
      throw new ResourceNotFoundError(
        `Consumer ${consumerArn} is not registered; ListStreamConsumers shows the stream's consumers`,
      );
    }
    const stream = await this.lookup.stream({ streamArn }, { consistent: true });
    return { stream, consumer: this.findConsumer(stream, consumerName, streamArn) };
  }

  private findConsumer(stream: StreamInfo, consumerName: string, streamArn: string): ConsumerInfo {
    const consumer = stream.consumers.find((c) => c.consumerName === consumerName);
    if (consumer === undefined) {
      throw new ResourceNotFoundError(
        `Consumer ${consumerName} is not registered on stream ${streamArn || stream.streamArn}; RegisterStreamConsumer creates it`,
      );
    }
    return consumer;
  }
}

/** Kinesis resizes ON_DEMAND streams itself: resharding one by hand is a ValidationException. */
function refuseOnDemand(stream: StreamInfo, operation: string): void {
  if (stream.mode === "ON_DEMAND") {
    throw new ValidationError(
      `${operation} is not supported for stream ${stream.streamName} in ON_DEMAND capacity mode; switch it to PROVISIONED with UpdateStreamMode first`,
    );
  }
}

/** Whether a stream is one the cluster keeps for itself (left out of ListStreams). */
export function isInternalStreamName(name: string): boolean {
  for (const prefix of INTERNAL_STREAM_NAME_PREFIXES) if (name.startsWith(prefix)) return true;
  return false;
}
