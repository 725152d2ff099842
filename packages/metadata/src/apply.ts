/**
 * The metadata state transition: `applyCommand(state, command)` → the next state, the result,
 * and the names of the streams it changed. Pure and deterministic: it reads only the state and
 * the command (time and random bytes come in the command), so every replica computes the same.
 *
 * Bad input never throws: every check fails with a `CommandResult` carrying a MetadataErrorCode
 * and leaves the state unchanged. A thrown error here is a bug.
 */
import type { ApplyOutcome } from "./apply-outcome.js";
import { type CommandResult, decodeCommand } from "./commands.js";
import {
  ADDRESS_LENGTH_MAX,
  CLUSTER_SECRET_BYTES,
  CONSUMER_NAME_LENGTH_MAX,
  CONSUMERS_PER_STREAM_MAX,
  ENCRYPTION_KEY_ID_LENGTH_MAX,
  NODES_MAX,
  ON_DEMAND_SHARD_COUNT_DEFAULT,
  OPEN_SHARDS_PER_CLUSTER_MAX,
  RESHARD_WINDOW_MS,
  RESHARDS_PER_WINDOW_MAX,
  RETENTION_HOURS_DEFAULT,
  RETENTION_HOURS_MAX,
  RETENTION_HOURS_MIN,
  SHARD_GROUP_ID_MAX,
  SHARD_ID_LENGTH_MAX,
  SHARDS_PER_CREATE_MAX,
  SHARDS_PER_STREAM_MAX,
  STREAM_DATA_KEYS_MAX,
  STREAM_NAME_LENGTH_MAX,
  STREAMS_MAX,
  SUBSCRIPTION_HOLD_MS_MAX,
  SUBSCRIPTION_HOLDER_ID_LENGTH_MAX,
  SUBSCRIPTION_TAKEOVER_AFTER_MS,
  TAG_KEY_LENGTH_MAX,
  TAG_VALUE_LENGTH_MAX,
  TAGS_PER_CALL_MAX,
  TAGS_PER_STREAM_MAX,
  WRAPPED_DATA_KEY_LENGTH_MAX,
  ZONE_LENGTH_MAX,
} from "./constants.js";
import { MetadataErrorCode } from "./errors.js";
import { applyGroupCommand } from "./groups/apply.js";
import { GROUP_COMMAND_TYPES } from "./groups/commands.js";
import { HASH_KEY_MAX, splitHashKeySpace } from "./hash-range.js";
import { placeReplicas } from "./placement.js";
import { applyOperations, planScaleRound, type ReshardOperation } from "./reshard-plan.js";
import {
  CONSUMER_STATUSES,
  type ConsumerInfo,
  consumerArn,
  isOpenShard,
  type MetadataState,
  type NodeInfo,
  type ReshardInfo,
  type ReshardKind,
  SHARD_LEVEL_METRICS,
  SHARD_LEVEL_METRICS_ALL,
  type ShardInfo,
  type ShardLevelMetric,
  STREAM_MODES,
  STREAM_STATUSES,
  type StreamInfo,
  type SubscriptionHolder,
  shardIdFor,
  streamArn,
} from "./state.js";

export type { ApplyOutcome } from "./apply-outcome.js";

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
/** Kinesis HashKey: a decimal integer without leading zeros, at most 39 digits. */
const HASH_KEY_PATTERN = /^(0|[1-9][0-9]{0,38})$/;
const HEX_PATTERN = /^[0-9a-f]*$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** A rejected command: caught in applyCommand and turned into a failed result. */
class Rejection {
  constructor(
    readonly code: MetadataErrorCode,
    readonly message: string,
  ) {}
}

function reject(code: MetadataErrorCode, message: string): never {
  throw new Rejection(code, message);
}

function invalid(message: string): never {
  return reject(MetadataErrorCode.InvalidArgument, message);
}

/** Applies an encoded command (see `encodeCommand`). */
export function applyEncoded(state: MetadataState, data: Uint8Array): ApplyOutcome {
  const decoded = decodeCommand(data);
  if ("failure" in decoded) return { state, result: decoded.failure, changedStreams: [] };
  return applyCommand(state, decoded.command);
}

/** Applies a parsed command (any JSON value; its shape is checked here). */
export function applyCommand(state: MetadataState, command: unknown): ApplyOutcome {
  try {
    const input = record(command, "command");
    const type = input.type;
    if (typeof type === "string" && GROUP_COMMAND_TYPES.has(type)) return applyGroupCommand(state, input);
    const handler = typeof type === "string" && Object.hasOwn(HANDLERS, type) ? HANDLERS[type] : undefined;
    if (handler === undefined) invalid(`unknown command type ${JSON.stringify(type)}`);
    return handler(state, input);
  } catch (error) {
    if (error instanceof Rejection) {
      return { state, result: { ok: false, code: error.code, message: error.message }, changedStreams: [] };
    }
    throw error;
  }
}

type Input = Readonly<Record<string, unknown>>;
type Handler = (state: MetadataState, input: Input) => ApplyOutcome;

const OK: CommandResult = Object.freeze({ ok: true });

const HANDLERS: Readonly<Record<string, Handler>> = {
  InitCluster(state, input) {
    const secretHex = string(input.secretHex, "secretHex");
    if (secretHex.length !== CLUSTER_SECRET_BYTES * 2 || !HEX_PATTERN.test(secretHex)) {
      invalid(
        `secretHex must be ${CLUSTER_SECRET_BYTES} bytes as ${CLUSTER_SECRET_BYTES * 2} lowercase hex digits`,
      );
    }
    if (state.clusterSecretHex !== "") return unchanged(state);
    return changed({ ...state, clusterSecretHex: secretHex }, []);
  },

  RegisterNode(state, input) {
    const raw = record(input.node, "node");
    const nodeId = integer(raw.nodeId, "node.nodeId", 1, Number.MAX_SAFE_INTEGER);
    const node: NodeInfo = {
      nodeId,
      zone: boundedString(raw.zone, "node.zone", 1, ZONE_LENGTH_MAX),
      peerAddress: boundedString(raw.peerAddress, "node.peerAddress", 1, ADDRESS_LENGTH_MAX),
      gatewayAddress: boundedString(raw.gatewayAddress, "node.gatewayAddress", 1, ADDRESS_LENGTH_MAX),
      ...(raw.httpAddress === undefined
        ? {}
        : { httpAddress: boundedString(raw.httpAddress, "node.httpAddress", 1, ADDRESS_LENGTH_MAX) }),
    };
    if (!state.nodes.has(nodeId) && state.nodes.size >= NODES_MAX) {
      reject(MetadataErrorCode.LimitExceeded, `the cluster has ${NODES_MAX} nodes (NODES_MAX)`);
    }
    const nodes = new Map(state.nodes);
    nodes.set(nodeId, Object.freeze(node));
    return changed({ ...state, nodes }, []);
  },

  SetNodeLiveness(state, input) {
    const nodeId = integer(input.nodeId, "nodeId", 1, Number.MAX_SAFE_INTEGER);
    const live = boolean(input.live, "live");
    const nowMs = timestamp(input.nowMs, "nowMs");
    const node = state.nodes.get(nodeId);
    if (node === undefined) invalid(`node ${nodeId} is not registered`);
    if (live === (node.downSinceMs === undefined)) return unchanged(state);
    const { downSinceMs: _was, ...rest } = node;
    const nodes = new Map(state.nodes);
    nodes.set(nodeId, Object.freeze(live ? rest : { ...rest, downSinceMs: nowMs }));
    return changed({ ...state, nodes }, []);
  },

  CreateStream(state, input) {
    const streamName = name(input.streamName, "streamName", STREAM_NAME_LENGTH_MAX);
    const mode = oneOf(input.mode, "mode", STREAM_MODES);
    const nowMs = timestamp(input.nowMs, "nowMs");
    let shardCount: number;
    if (input.shardCount === undefined) {
      if (mode !== "ON_DEMAND") invalid("shardCount is required for a PROVISIONED stream");
      shardCount = ON_DEMAND_SHARD_COUNT_DEFAULT;
    } else {
      shardCount = integer(input.shardCount, "shardCount", 1, Number.MAX_SAFE_INTEGER);
    }
    const tags =
      input.tags === undefined ? new Map<string, string>() : tagMap(input.tags, TAGS_PER_STREAM_MAX);
    if (state.streams.has(streamName)) {
      reject(
        MetadataErrorCode.StreamExists,
        `stream ${streamName} already exists: pick another name or delete it first`,
      );
    }
    if (shardCount > SHARDS_PER_CREATE_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `shardCount ${shardCount} exceeds SHARDS_PER_CREATE_MAX (${SHARDS_PER_CREATE_MAX})`,
      );
    }
    if (state.streams.size >= STREAMS_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `the cluster has ${STREAMS_MAX} streams (STREAMS_MAX): delete one first`,
      );
    }
    const open = openShardCount(state);
    if (open + shardCount > OPEN_SHARDS_PER_CLUSTER_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `the cluster has ${open} open shards; ${shardCount} more would pass OPEN_SHARDS_PER_CLUSTER_MAX (${OPEN_SHARDS_PER_CLUSTER_MAX})`,
      );
    }
    if (state.nextGroupId + shardCount - 1 > SHARD_GROUP_ID_MAX) {
      reject(MetadataErrorCode.LimitExceeded, "the cluster has used every shard group id");
    }
    if (state.nodes.size === 0) {
      reject(
        MetadataErrorCode.MetadataUnavailable,
        "no node has registered yet: retry once the cluster is up",
      );
    }
    const arn = streamArn(streamName);
    const shards: ShardInfo[] = splitHashKeySpace(shardCount).map((range, i) => {
      const groupId = state.nextGroupId + i;
      return Object.freeze({
        shardId: shardIdFor(i),
        shardNumber: i,
        groupId,
        hashKeyStart: range.start,
        hashKeyEnd: range.end,
        replicas: Object.freeze(placeReplicas(state.nodes, groupId)),
        createdAtMs: nowMs,
        sequenceIndexBase: 0,
      });
    });
    const stream: StreamInfo = {
      streamName,
      streamArn: arn,
      streamId: state.nextStreamId,
      status: "CREATING",
      mode,
      retentionHours: RETENTION_HOURS_DEFAULT,
      createdAtMs: nowMs,
      tags,
      shards: Object.freeze(shards),
      nextShardNumber: shardCount,
      consumers: Object.freeze([]),
    };
    const streams = new Map(state.streams);
    streams.set(streamName, Object.freeze(stream));
    return changed(
      {
        ...state,
        streams,
        nextGroupId: state.nextGroupId + shardCount,
        nextStreamId: state.nextStreamId + 1,
      },
      [streamName],
      { streamName, streamArn: arn, streamId: stream.streamId },
    );
  },

  SetStreamStatus(state, input) {
    const stream = streamById(state, input);
    const from = oneOf(input.from, "from", STREAM_STATUSES);
    const to = oneOf(input.to, "to", STREAM_STATUSES);
    if (stream.status !== from) {
      reject(MetadataErrorCode.StreamInUse, `stream ${stream.streamName} is ${stream.status}, not ${from}`);
    }
    if (from === to) return unchanged(state);
    return withStream(state, { ...stream, status: to });
  },

  DeleteStream(state, input) {
    const enforce = boolean(input.enforceConsumerDeletion, "enforceConsumerDeletion");
    const stream = streamByRef(state, input.streamName);
    if (stream.status === "DELETING") return unchanged(state);
    if (stream.consumers.length > 0 && !enforce) {
      reject(
        MetadataErrorCode.StreamInUse,
        `stream ${stream.streamName} has ${stream.consumers.length} registered consumers: deregister them or set EnforceConsumerDeletion`,
      );
    }
    return withStream(state, { ...stream, status: "DELETING" });
  },

  RemoveStream(state, input) {
    const stream = streamById(state, input);
    if (stream.status !== "DELETING") {
      reject(MetadataErrorCode.StreamInUse, `stream ${stream.streamName} is ${stream.status}, not DELETING`);
    }
    const streams = new Map(state.streams);
    streams.delete(stream.streamName);
    return changed({ ...state, streams }, [stream.streamName]);
  },

  IncreaseRetention(state, input) {
    return changeRetention(state, input, "increase");
  },

  DecreaseRetention(state, input) {
    return changeRetention(state, input, "decrease");
  },

  AddTags(state, input) {
    const stream = streamByRef(state, input.streamName);
    const added = tagMap(input.tags, TAGS_PER_CALL_MAX);
    if (added.size === 0) invalid("tags must hold at least one tag");
    notDeleting(stream);
    const tags = new Map(stream.tags);
    for (const [key, value] of added) tags.set(key, value);
    if (tags.size > TAGS_PER_STREAM_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `stream ${stream.streamName} would have ${tags.size} tags; at most ${TAGS_PER_STREAM_MAX} (TAGS_PER_STREAM_MAX)`,
      );
    }
    return withStream(state, { ...stream, tags: sortedMap(tags) });
  },

  RemoveTags(state, input) {
    const stream = streamByRef(state, input.streamName);
    if (!Array.isArray(input.tagKeys)) invalid("tagKeys must be an array of tag keys");
    const keys = input.tagKeys as unknown[];
    if (keys.length < 1 || keys.length > TAGS_PER_CALL_MAX) {
      invalid(`tagKeys must hold 1 to ${TAGS_PER_CALL_MAX} keys, got ${keys.length}`);
    }
    for (const key of keys) boundedString(key, "tag key", 1, TAG_KEY_LENGTH_MAX);
    notDeleting(stream);
    const tags = new Map(stream.tags);
    for (const key of keys as string[]) tags.delete(key);
    if (tags.size === stream.tags.size) return unchanged(state);
    return withStream(state, { ...stream, tags });
  },

  SetShardLevelMetrics(state, input) {
    const stream = streamByRef(state, input.streamName);
    if (typeof input.enable !== "boolean") invalid("enable must be true or false");
    if (!Array.isArray(input.metrics)) invalid("ShardLevelMetrics must be an array of metric names");
    const names = input.metrics as unknown[];
    if (names.length < 1 || names.length > SHARD_LEVEL_METRICS.length + 1) {
      invalid(
        `ShardLevelMetrics must hold 1 to ${SHARD_LEVEL_METRICS.length + 1} names, got ${names.length}`,
      );
    }
    const asked = new Set<ShardLevelMetric>();
    for (const name of names) {
      if (name === SHARD_LEVEL_METRICS_ALL) {
        for (const metric of SHARD_LEVEL_METRICS) asked.add(metric);
      } else if ((SHARD_LEVEL_METRICS as readonly unknown[]).includes(name)) {
        asked.add(name as ShardLevelMetric);
      } else {
        invalid(
          `ShardLevelMetrics: ${JSON.stringify(name)} is not one of ${SHARD_LEVEL_METRICS_ALL}, ${SHARD_LEVEL_METRICS.join(", ")}`,
        );
      }
    }
    notDeleting(stream);
    const current = stream.shardLevelMetrics ?? [];
    const next = new Set(current);
    for (const metric of asked) {
      if (input.enable === true) next.add(metric);
      else next.delete(metric);
    }
    const desired = SHARD_LEVEL_METRICS.filter((metric) => next.has(metric));
    const value = { current: [...current], desired: [...desired] };
    if (desired.length === current.length && desired.every((metric, i) => metric === current[i])) {
      return { ...unchanged(state), result: { ok: true, value } };
    }
    const { shardLevelMetrics: _dropped, ...rest } = stream;
    return withStream(
      state,
      desired.length === 0 ? rest : { ...rest, shardLevelMetrics: Object.freeze(desired) },
      value,
    );
  },

  RegisterConsumer(state, input) {
    const stream = streamByRef(state, input.streamName);
    const consumerName = name(input.consumerName, "consumerName", CONSUMER_NAME_LENGTH_MAX);
    const nowMs = timestamp(input.nowMs, "nowMs");
    if (stream.status !== "ACTIVE") {
      reject(
        MetadataErrorCode.StreamInUse,
        `stream ${stream.streamName} is ${stream.status}: wait until it is ACTIVE`,
      );
    }
    if (stream.consumers.some((c) => c.consumerName === consumerName)) {
      reject(
        MetadataErrorCode.ConsumerExists,
        `consumer ${consumerName} is already registered on stream ${stream.streamName}`,
      );
    }
    if (stream.consumers.length >= CONSUMERS_PER_STREAM_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `stream ${stream.streamName} has ${CONSUMERS_PER_STREAM_MAX} consumers (CONSUMERS_PER_STREAM_MAX): deregister one first`,
      );
    }
    const consumer: ConsumerInfo = Object.freeze({
      consumerName,
      consumerArn: consumerArn(stream.streamArn, consumerName, nowMs),
      status: "CREATING",
      createdAtMs: nowMs,
    });
    return withStream(
      state,
      { ...stream, consumers: Object.freeze([...stream.consumers, consumer]) },
      {
        consumerName,
        consumerArn: consumer.consumerArn,
        createdAtMs: nowMs,
      },
    );
  },

  AcquireSubscription(state, input) {
    const arn = string(input.consumerArn, "consumerArn");
    const shardId = boundedString(input.shardId, "shardId", 1, SHARD_ID_LENGTH_MAX);
    const holderId = boundedString(input.holderId, "holderId", 1, SUBSCRIPTION_HOLDER_ID_LENGTH_MAX);
    const nodeId = integer(input.nodeId, "nodeId", 1, Number.MAX_SAFE_INTEGER);
    const nowMs = timestamp(input.nowMs, "nowMs");
    const stream = consumerOwner(state, arn);
    const consumer = consumerIn(stream, arn);
    if (consumer.status !== "ACTIVE") {
      reject(
        MetadataErrorCode.StreamInUse,
        `consumer ${consumer.consumerName} is ${consumer.status}, not ACTIVE: wait until DescribeStreamConsumer reports ACTIVE`,
      );
    }
    if (!stream.shards.some((shard) => shard.shardId === shardId)) {
      reject(MetadataErrorCode.ShardNotFound, `stream ${stream.streamName} has no shard ${shardId}`);
    }
    const holders = consumer.subscriptions ?? [];
    const held = holders.find((holder) => holder.shardId === shardId);
    if (held !== undefined && held.holderId === holderId) return unchanged(state);
    if (held !== undefined) {
      const ageMs = nowMs - held.startedAtMs;
      if (ageMs < SUBSCRIPTION_TAKEOVER_AFTER_MS) {
        reject(
          MetadataErrorCode.StreamInUse,
          `consumer ${consumer.consumerArn} subscribed to ${shardId} ${Math.max(0, ageMs)} ms ago; a new subscription takes over after ${SUBSCRIPTION_TAKEOVER_AFTER_MS} ms, so retry then`,
        );
      }
    }
    const holder: SubscriptionHolder = Object.freeze({ shardId, holderId, nodeId, startedAtMs: nowMs });
    // Stale holders (their node died without a release) are dropped on the way.
    const kept = holders.filter(
      (other) => other.shardId !== shardId && nowMs - other.startedAtMs < SUBSCRIPTION_HOLD_MS_MAX,
    );
    const subscriptions = Object.freeze(
      [...kept, holder].sort((a, b) => (a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0)),
    );
    const outcome = withConsumer(state, stream, { ...consumer, subscriptions });
    return held === undefined
      ? outcome
      : { ...outcome, result: { ok: true, value: { takenOver: held.holderId } } };
  },

  ReleaseSubscription(state, input) {
    const arn = string(input.consumerArn, "consumerArn");
    const shardId = boundedString(input.shardId, "shardId", 1, SHARD_ID_LENGTH_MAX);
    const holderId = boundedString(input.holderId, "holderId", 1, SUBSCRIPTION_HOLDER_ID_LENGTH_MAX);
    const stream = findConsumerOwner(state, arn);
    if (stream === undefined) return unchanged(state);
    const consumer = stream.consumers.find((c) => c.consumerArn === arn);
    const holders = consumer?.subscriptions;
    if (consumer === undefined || holders === undefined) return unchanged(state);
    if (!holders.some((holder) => holder.shardId === shardId && holder.holderId === holderId)) {
      return unchanged(state);
    }
    const kept = holders.filter((holder) => holder.shardId !== shardId);
    const { subscriptions: _dropped, ...rest } = consumer;
    return withConsumer(
      state,
      stream,
      kept.length === 0 ? rest : { ...rest, subscriptions: Object.freeze(kept) },
    );
  },

  SetConsumerStatus(state, input) {
    const stream = streamById(state, input);
    const arn = string(input.consumerArn, "consumerArn");
    const from = oneOf(input.from, "from", CONSUMER_STATUSES);
    const to = oneOf(input.to, "to", CONSUMER_STATUSES);
    const consumer = consumerIn(stream, arn);
    if (consumer.status !== from) {
      reject(
        MetadataErrorCode.StreamInUse,
        `consumer ${consumer.consumerName} is ${consumer.status}, not ${from}`,
      );
    }
    if (from === to) return unchanged(state);
    return withConsumer(state, stream, { ...consumer, status: to });
  },

  DeregisterConsumer(state, input) {
    let stream: StreamInfo;
    let consumer: ConsumerInfo;
    if (input.consumerArn !== undefined) {
      const arn = string(input.consumerArn, "consumerArn");
      stream = consumerOwner(state, arn);
      consumer = consumerIn(stream, arn);
    } else {
      stream = streamByRef(state, input.streamName);
      const consumerName = name(input.consumerName, "consumerName", CONSUMER_NAME_LENGTH_MAX);
      const found = stream.consumers.find((c) => c.consumerName === consumerName);
      if (found === undefined) {
        reject(
          MetadataErrorCode.ConsumerNotFound,
          `no consumer ${consumerName} on stream ${stream.streamName}`,
        );
      }
      consumer = found;
    }
    if (consumer.status === "DELETING") return unchanged(state);
    return withConsumer(state, stream, { ...consumer, status: "DELETING" });
  },

  RemoveConsumer(state, input) {
    const stream = streamById(state, input);
    const consumer = consumerIn(stream, string(input.consumerArn, "consumerArn"));
    if (consumer.status !== "DELETING") {
      reject(
        MetadataErrorCode.StreamInUse,
        `consumer ${consumer.consumerName} is ${consumer.status}, not DELETING`,
      );
    }
    const consumers = Object.freeze(stream.consumers.filter((c) => c !== consumer));
    return withStream(state, { ...stream, consumers });
  },

  SplitShard(state, input) {
    const stream = streamByRef(state, input.streamName);
    const shardId = boundedString(input.shardToSplit, "shardToSplit", 1, SHARD_ID_LENGTH_MAX);
    const keyText = string(input.newStartingHashKey, "newStartingHashKey");
    const nowMs = timestamp(input.nowMs, "nowMs");
    if (!HASH_KEY_PATTERN.test(keyText) || BigInt(keyText) > HASH_KEY_MAX) {
      invalid(
        `newStartingHashKey ${JSON.stringify(keyText)} must be a decimal integer in [0, 2^128 - 1] without leading zeros`,
      );
    }
    reshardable(stream);
    const shard = reshardableShard(stream, shardId);
    const key = BigInt(keyText);
    if (key <= BigInt(shard.hashKeyStart) || key > BigInt(shard.hashKeyEnd)) {
      invalid(
        `newStartingHashKey ${keyText} is not inside shard ${shardId}: it must be above its StartingHashKey ${shard.hashKeyStart} and at most its EndingHashKey ${shard.hashKeyEnd}`,
      );
    }
    const open = stream.shards.filter(isOpenShard).length;
    if (open + 1 > SHARDS_PER_STREAM_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `stream ${stream.streamName} has ${open} open shards; a split would pass SHARDS_PER_STREAM_MAX (${SHARDS_PER_STREAM_MAX}): merge shards first`,
      );
    }
    clusterRoom(state, 2);
    return startReshard(
      state,
      stream,
      "split",
      [{ kind: "split", parent: shardId, newStartingHashKey: keyText }],
      nowMs,
    );
  },

  MergeShards(state, input) {
    const stream = streamByRef(state, input.streamName);
    const first = boundedString(input.shardToMerge, "shardToMerge", 1, SHARD_ID_LENGTH_MAX);
    const second = boundedString(input.adjacentShardToMerge, "adjacentShardToMerge", 1, SHARD_ID_LENGTH_MAX);
    const nowMs = timestamp(input.nowMs, "nowMs");
    if (first === second)
      invalid(`shardToMerge and adjacentShardToMerge are both ${first}: name two adjacent shards`);
    reshardable(stream);
    const a = reshardableShard(stream, first);
    const b = reshardableShard(stream, second);
    let lower: ShardInfo;
    let upper: ShardInfo;
    if (BigInt(a.hashKeyEnd) + 1n === BigInt(b.hashKeyStart)) [lower, upper] = [a, b];
    else if (BigInt(b.hashKeyEnd) + 1n === BigInt(a.hashKeyStart)) [lower, upper] = [b, a];
    else {
      invalid(
        `shards ${first} [${a.hashKeyStart}, ${a.hashKeyEnd}] and ${second} [${b.hashKeyStart}, ${b.hashKeyEnd}] are not adjacent: one must end right before the other starts`,
      );
    }
    clusterRoom(state, 1);
    return startReshard(
      state,
      stream,
      "merge",
      [{ kind: "merge", lower: lower.shardId, upper: upper.shardId }],
      nowMs,
      {
        mergeParents: [first, second],
      },
    );
  },

  UpdateShardCount(state, input) {
    const stream = streamByRef(state, input.streamName);
    const target = integer(input.targetShardCount, "targetShardCount", 1, Number.MAX_SAFE_INTEGER);
    const nowMs = timestamp(input.nowMs, "nowMs");
    reshardable(stream);
    const open = stream.shards.filter(isOpenShard);
    const current = open.length;
    const result = { currentShardCount: current, targetShardCount: target };
    if (target > 2 * current) {
      invalid(
        `targetShardCount ${target} is more than double the current open shard count ${current}: scale in steps of at most 2x`,
      );
    }
    if (target < Math.ceil(current / 2)) {
      invalid(
        `targetShardCount ${target} is below half the current open shard count ${current}: scale in steps of at most 2x`,
      );
    }
    if (target > SHARDS_PER_STREAM_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `targetShardCount ${target} exceeds SHARDS_PER_STREAM_MAX (${SHARDS_PER_STREAM_MAX})`,
      );
    }
    if (target === current) return { state, result: { ok: true, value: result }, changedStreams: [] };
    // Bound on the shards open at once in any round: parents and children together.
    clusterRoom(state, 2 * Math.max(current, target));
    const operations = planScaleRound(open, target);
    if (operations.length === 0) return { state, result: { ok: true, value: result }, changedStreams: [] };
    return startReshard(state, stream, "scale", operations, nowMs, {
      targetShardCount: target,
      value: result,
    });
  },

  SealReshardParents(state, input) {
    const stream = streamById(state, input);
    const reshard = reshardRound(stream, input, "children");
    return withStream(state, { ...stream, reshard: Object.freeze({ ...reshard, phase: "sealing" }) });
  },

  CompleteReshardRound(state, input) {
    const stream = streamById(state, input);
    const reshard = reshardRound(stream, input, "sealing");
    const nowMs = timestamp(input.nowMs, "nowMs");
    const given = record(input.endingIndexes, "endingIndexes");
    const endingIndexes = new Map<string, number>();
    for (const parent of reshard.parents) {
      endingIndexes.set(
        parent,
        integer(given[parent], `endingIndexes[${parent}]`, 1, Number.MAX_SAFE_INTEGER),
      );
    }
    const closed = new Map<string, ShardInfo>();
    const children = new Set(reshard.children);
    const shards = stream.shards.map((shard) => {
      const endingIndex = endingIndexes.get(shard.shardId);
      if (endingIndex === undefined) return shard;
      const parent = Object.freeze({ ...shard, closedAtMs: nowMs, endingIndex });
      closed.set(shard.shardId, parent);
      return parent;
    });
    const opened = shards.map((shard) => {
      if (!children.has(shard.shardId)) return shard;
      const { pending: _pending, ...rest } = shard;
      let base = 0;
      for (const parentId of [shard.parentShardId, shard.adjacentParentShardId]) {
        const parent = parentId === undefined ? undefined : closed.get(parentId);
        if (parent !== undefined)
          base = Math.max(base, parent.sequenceIndexBase + (parent.endingIndex as number));
      }
      return Object.freeze({ ...rest, sequenceIndexBase: base });
    });
    const next: StreamInfo = { ...stream, shards: Object.freeze(opened) };
    if (reshard.kind === "scale" && reshard.targetShardCount !== undefined) {
      const operations = planScaleRound(opened.filter(isOpenShard), reshard.targetShardCount);
      if (operations.length > 0 && state.nextGroupId + 2 * operations.length - 1 <= SHARD_GROUP_ID_MAX) {
        return startRound(state, next, operations, nowMs, { ...reshard, round: reshard.round + 1 });
      }
    }
    const { reshard: _done, ...rest } = next;
    return withStream(state, { ...rest, status: "ACTIVE" });
  },

  UpdateStreamMode(state, input) {
    const stream = streamByRef(state, input.streamName);
    const mode = oneOf(input.mode, "mode", STREAM_MODES);
    if (stream.status !== "ACTIVE") {
      reject(
        MetadataErrorCode.StreamInUse,
        `stream ${stream.streamName} is ${stream.status}: wait until it is ACTIVE`,
      );
    }
    if (stream.mode === mode) return unchanged(state);
    return withStream(state, { ...stream, mode });
  },

  SetStreamEncryption(state, input) {
    const stream = streamByRef(state, input.streamName);
    const enable = boolean(input.enable, "enable");
    if (stream.status !== "ACTIVE") {
      reject(
        MetadataErrorCode.StreamInUse,
        `stream ${stream.streamName} is ${stream.status}: wait until it is ACTIVE`,
      );
    }
    if (!enable) {
      if (stream.encryption === undefined)
        return { ...unchanged(state), result: { ok: true, value: { keyVersion: 0 } } };
      const { encryption: _dropped, ...rest } = stream;
      return withStream(state, rest, { keyVersion: 0 });
    }
    const keyId = boundedString(input.keyId, "keyId", 1, ENCRYPTION_KEY_ID_LENGTH_MAX);
    const masterKeyId = boundedString(input.masterKeyId, "masterKeyId", 1, ENCRYPTION_KEY_ID_LENGTH_MAX);
    const wrappedKey = boundedString(input.wrappedKey, "wrappedKey", 4, WRAPPED_DATA_KEY_LENGTH_MAX);
    if (!BASE64_PATTERN.test(wrappedKey)) invalid("wrappedKey must be base64");
    const dataKeys = stream.dataKeys ?? [];
    if (dataKeys.length >= STREAM_DATA_KEYS_MAX) {
      reject(
        MetadataErrorCode.LimitExceeded,
        `stream ${stream.streamName} has had ${dataKeys.length} data keys; at most ${STREAM_DATA_KEYS_MAX} (STREAM_DATA_KEYS_MAX): re-create the stream to start over`,
      );
    }
    const keyVersion = dataKeys.length + 1;
    const dataKey = Object.freeze({ version: keyVersion, masterKeyId, wrappedKey });
    return withStream(
      state,
      {
        ...stream,
        encryption: Object.freeze({ keyId, keyVersion }),
        dataKeys: Object.freeze([...dataKeys, dataKey]),
      },
      { keyVersion },
    );
  },
};

// ---- transitions ---------------------------------------------------------------------------------

function changeRetention(
  state: MetadataState,
  input: Input,
  direction: "increase" | "decrease",
): ApplyOutcome {
  const stream = streamByRef(state, input.streamName);
  const hours = integer(input.hours, "hours", RETENTION_HOURS_MIN, RETENTION_HOURS_MAX);
  if (direction === "increase" && hours < stream.retentionHours) {
    invalid(
      `retention ${hours} h is below the current ${stream.retentionHours} h: use DecreaseStreamRetentionPeriod to lower it`,
    );
  }
  if (direction === "decrease" && hours > stream.retentionHours) {
    invalid(
      `retention ${hours} h is above the current ${stream.retentionHours} h: use IncreaseStreamRetentionPeriod to raise it`,
    );
  }
  if (stream.status !== "ACTIVE") {
    reject(
      MetadataErrorCode.StreamInUse,
      `stream ${stream.streamName} is ${stream.status}: wait until it is ACTIVE`,
    );
  }
  if (hours === stream.retentionHours) return unchanged(state);
  return withStream(state, { ...stream, retentionHours: hours });
}

function withStream(state: MetadataState, stream: StreamInfo, value?: unknown): ApplyOutcome {
  const streams = new Map(state.streams);
  streams.set(stream.streamName, Object.freeze(stream));
  return changed({ ...state, streams }, [stream.streamName], value);
}

function withConsumer(state: MetadataState, stream: StreamInfo, consumer: ConsumerInfo): ApplyOutcome {
  const consumers = Object.freeze(
    stream.consumers.map((c) => (c.consumerArn === consumer.consumerArn ? Object.freeze(consumer) : c)),
  );
  return withStream(state, { ...stream, consumers });
}

function changed(state: MetadataState, changedStreams: readonly string[], value?: unknown): ApplyOutcome {
  return {
    state: Object.freeze(state),
    result: value === undefined ? OK : { ok: true, value },
    changedStreams,
  };
}

function unchanged(state: MetadataState): ApplyOutcome {
  return { state, result: OK, changedStreams: [] };
}

function openShardCount(state: MetadataState): number {
  let open = 0;
  for (const stream of state.streams.values()) {
    for (const shard of stream.shards) if (shard.closedAtMs === undefined) open++;
  }
  return open;
}

// ---- resharding ----------------------------------------------------------------------------------

/** A reshard may start only on an ACTIVE stream (one reshard at a time: it is UPDATING meanwhile). */
function reshardable(stream: StreamInfo): void {
  if (stream.status !== "ACTIVE") {
    reject(
      MetadataErrorCode.StreamInUse,
      `stream ${stream.streamName} is ${stream.status}: wait until it is ACTIVE (one reshard at a time)`,
    );
  }
}

/** The named shard, which must exist (not pending) and be open. */
function reshardableShard(stream: StreamInfo, shardId: string): ShardInfo {
  const shard = stream.shards.find((s) => s.shardId === shardId && s.pending !== true);
  if (shard === undefined) {
    reject(MetadataErrorCode.ShardNotFound, `shard ${shardId} not found in stream ${stream.streamName}`);
  }
  if (shard.closedAtMs !== undefined) {
    reject(
      MetadataErrorCode.ShardClosed,
      `shard ${shardId} in stream ${stream.streamName} has already been merged or split, and thus is not eligible for merging or splitting: use its child shards`,
    );
  }
  return shard;
}

/** LIMIT_EXCEEDED unless `more` shards fit under OPEN_SHARDS_PER_CLUSTER_MAX (pending ones count). */
function clusterRoom(state: MetadataState, more: number): void {
  const open = openShardCount(state);
  if (open + more > OPEN_SHARDS_PER_CLUSTER_MAX) {
    reject(
      MetadataErrorCode.LimitExceeded,
      `the cluster has ${open} open shards; this reshard needs room for ${more} more under OPEN_SHARDS_PER_CLUSTER_MAX (${OPEN_SHARDS_PER_CLUSTER_MAX})`,
    );
  }
  if (state.nextGroupId + more - 1 > SHARD_GROUP_ID_MAX) {
    reject(MetadataErrorCode.LimitExceeded, "the cluster has used every shard group id");
  }
}

/** Starts a reshard: checks and records the rate limit, then the first round's children. */
function startReshard(
  state: MetadataState,
  stream: StreamInfo,
  kind: ReshardKind,
  operations: readonly ReshardOperation[],
  nowMs: number,
  options: { targetShardCount?: number; mergeParents?: readonly [string, string]; value?: unknown } = {},
): ApplyOutcome {
  const recent = (stream.reshardsAtMs ?? []).filter((atMs) => atMs > nowMs - RESHARD_WINDOW_MS);
  if (recent.length >= RESHARDS_PER_WINDOW_MAX) {
    reject(
      MetadataErrorCode.LimitExceeded,
      `stream ${stream.streamName} was resharded ${recent.length} times in the last ${RESHARD_WINDOW_MS} ms (RESHARDS_PER_WINDOW_MAX ${RESHARDS_PER_WINDOW_MAX}): retry later`,
    );
  }
  const counted: StreamInfo = { ...stream, reshardsAtMs: Object.freeze([...recent, nowMs]) };
  const reshard: Omit<ReshardInfo, "phase" | "parents" | "children"> = {
    kind,
    round: 1,
    startedAtMs: nowMs,
    ...(options.targetShardCount === undefined ? {} : { targetShardCount: options.targetShardCount }),
  };
  return startRound(state, counted, operations, nowMs, reshard, options.mergeParents, options.value);
}

/**
 * Creates a round's children (pending, new groups placed, shard numbers in hash order) and puts
 * the stream in UPDATING with the round in phase "children". `mergeParents` names a merged
 * child's parents in the order the request gave them (parentShardId first).
 */
function startRound(
  state: MetadataState,
  stream: StreamInfo,
  operations: readonly ReshardOperation[],
  nowMs: number,
  reshard: Omit<ReshardInfo, "phase" | "parents" | "children">,
  mergeParents?: readonly [string, string],
  value?: unknown,
): ApplyOutcome {
  let temporary = 0;
  const planned = applyOperations(stream.shards.filter(isOpenShard), operations, () => `#${temporary++}`);
  const children: ShardInfo[] = [];
  const parents: string[] = [];
  for (const { shard, parents: from } of planned) {
    if (from.length === 0) continue;
    for (const parent of from) if (!parents.includes(parent)) parents.push(parent);
    const [parentShardId, adjacentParentShardId] =
      from.length === 2 && mergeParents !== undefined ? mergeParents : from;
    const shardNumber = stream.nextShardNumber + children.length;
    const groupId = state.nextGroupId + children.length;
    children.push(
      Object.freeze({
        shardId: shardIdFor(shardNumber),
        shardNumber,
        groupId,
        hashKeyStart: shard.hashKeyStart,
        hashKeyEnd: shard.hashKeyEnd,
        ...(parentShardId === undefined ? {} : { parentShardId }),
        ...(adjacentParentShardId === undefined ? {} : { adjacentParentShardId }),
        replicas: Object.freeze(placeReplicas(state.nodes, groupId)),
        createdAtMs: nowMs,
        sequenceIndexBase: 0,
        pending: true,
      }),
    );
  }
  const round: ReshardInfo = Object.freeze({
    ...reshard,
    phase: "children",
    parents: Object.freeze(parents),
    children: Object.freeze(children.map((c) => c.shardId)),
  });
  const next: StreamInfo = {
    ...stream,
    status: "UPDATING",
    shards: Object.freeze([...stream.shards, ...children]),
    nextShardNumber: stream.nextShardNumber + children.length,
    reshard: round,
  };
  const streams = new Map(state.streams);
  streams.set(next.streamName, Object.freeze(next));
  return changed(
    { ...state, streams, nextGroupId: state.nextGroupId + children.length },
    [next.streamName],
    value,
  );
}

/** The stream's reshard, which must be in `round` (from the input) and `phase`: STREAM_IN_USE otherwise. */
function reshardRound(stream: StreamInfo, input: Input, phase: ReshardInfo["phase"]): ReshardInfo {
  const round = integer(input.round, "round", 1, Number.MAX_SAFE_INTEGER);
  const reshard = stream.reshard;
  if (stream.status !== "UPDATING" || reshard === undefined) {
    reject(MetadataErrorCode.StreamInUse, `stream ${stream.streamName} has no reshard under way`);
  }
  if (reshard.round !== round || reshard.phase !== phase) {
    reject(
      MetadataErrorCode.StreamInUse,
      `stream ${stream.streamName} is in reshard round ${reshard.round} phase ${reshard.phase}, not round ${round} phase ${phase}`,
    );
  }
  return reshard;
}

// ---- lookups -------------------------------------------------------------------------------------

function streamByRef(state: MetadataState, ref: unknown): StreamInfo {
  const nameOrArn = boundedString(ref, "streamName", 1, 2 * STREAM_NAME_LENGTH_MAX + 64);
  let stream: StreamInfo | undefined;
  if (nameOrArn.startsWith("arn:")) {
    const marker = nameOrArn.lastIndexOf(":stream/");
    const found = marker < 0 ? undefined : state.streams.get(nameOrArn.slice(marker + ":stream/".length));
    stream = found?.streamArn === nameOrArn ? found : undefined;
  } else {
    stream = state.streams.get(nameOrArn);
  }
  if (stream === undefined) reject(MetadataErrorCode.StreamNotFound, `stream ${nameOrArn} not found`);
  return stream;
}

/** The stream named in `input.streamName` if it still is the one with `input.streamId`. */
function streamById(state: MetadataState, input: Input): StreamInfo {
  const stream = streamByRef(state, input.streamName);
  const streamId = integer(input.streamId, "streamId", 1, Number.MAX_SAFE_INTEGER);
  if (stream.streamId !== streamId) {
    reject(MetadataErrorCode.StreamNotFound, `stream ${stream.streamName} with id ${streamId} was removed`);
  }
  return stream;
}

/** The stream that has the consumer with this ARN, if any. */
function findConsumerOwner(state: MetadataState, arn: string): StreamInfo | undefined {
  const marker = arn.indexOf("/consumer/");
  if (marker < 0) return undefined;
  const streamArn = arn.slice(0, marker);
  for (const stream of state.streams.values()) if (stream.streamArn === streamArn) return stream;
  return undefined;
}

function consumerOwner(state: MetadataState, arn: string): StreamInfo {
  if (!arn.includes("/consumer/")) invalid(`consumerArn ${arn} is not a consumer ARN`);
  const stream = findConsumerOwner(state, arn);
  if (stream === undefined) reject(MetadataErrorCode.ConsumerNotFound, `no consumer with ARN ${arn}`);
  return stream;
}

function consumerIn(stream: StreamInfo, arn: string): ConsumerInfo {
  const consumer = stream.consumers.find((c) => c.consumerArn === arn);
  if (consumer === undefined) reject(MetadataErrorCode.ConsumerNotFound, `no consumer with ARN ${arn}`);
  return consumer;
}

function notDeleting(stream: StreamInfo): void {
  if (stream.status === "DELETING") {
    reject(MetadataErrorCode.StreamInUse, `stream ${stream.streamName} is being deleted`);
  }
}

// ---- field checks --------------------------------------------------------------------------------

function record(value: unknown, field: string): Input {
  if (typeof value !== "object" || value === null || Array.isArray(value))
    invalid(`${field} must be an object`);
  return value as Input;
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  return value;
}

function boundedString(value: unknown, field: string, min: number, max: number): string {
  const text = string(value, field);
  if (text.length < min || text.length > max) {
    invalid(`${field} must be ${min} to ${max} characters, got ${text.length}`);
  }
  return text;
}

function name(value: unknown, field: string, max: number): string {
  const text = boundedString(value, field, 1, max);
  if (!NAME_PATTERN.test(text))
    invalid(`${field} ${JSON.stringify(text)} may hold only a-z, A-Z, 0-9, _ . -`);
  return text;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    invalid(`${field} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return value;
}

function timestamp(value: unknown, field: string): number {
  return integer(value, field, 0, Number.MAX_SAFE_INTEGER);
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") invalid(`${field} must be true or false`);
  return value;
}

function oneOf<T extends string>(value: unknown, field: string, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    invalid(`${field} must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** Checks a tags object (at most `max` tags) and returns its entries as a key-sorted map. */
function tagMap(value: unknown, max: number): Map<string, string> {
  const entries = Object.entries(record(value, "tags"));
  if (entries.length > max) {
    invalid(`${entries.length} tags given; at most ${max} per call`);
  }
  const tags = new Map<string, string>();
  for (const [key, tagValue] of entries) {
    if (key.length < 1 || key.length > TAG_KEY_LENGTH_MAX) {
      invalid(`tag key must be 1 to ${TAG_KEY_LENGTH_MAX} characters, got ${key.length}`);
    }
    tags.set(key, boundedString(tagValue, `tag ${key}`, 0, TAG_VALUE_LENGTH_MAX));
  }
  return sortedMap(tags);
}

function sortedMap(map: ReadonlyMap<string, string>): Map<string, string> {
  return new Map([...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
