/**
 * The Kinesis API's request and response shapes, written once, as the AWS API model names them
 * (PascalCase members, Kinesis enum strings, blobs, timestamps), and the table of operations that
 * names each operation's shapes and the function (../server/operations.ts) that serves it.
 *
 * A member's protobuf field is derived from its Kinesis name by one rule (`fieldOf`): "ARN"
 * becomes "Arn" and the first letter is lowered (StreamARN → streamArn, ShardId → shardId), the
 * same rule that gave the protobuf its snake_case names. Enum members carry the Kinesis names in
 * the order of the protobuf enum (value = position + 1; 0 is "unspecified"). A test checks that
 * every member names a field of the generated message.
 */
import { streams } from "@sluice/proto";
import type { UnaryOperationName } from "../server/operations.js";
import { SCALING_TYPES, SHARD_FILTER_TYPES, SHARD_ITERATOR_TYPES, STREAM_MODES } from "../validation.js";

export type ScalarKind = "string" | "integer" | "long" | "boolean" | "blob" | "timestamp" | "stringMap";

export type Shape =
  | { readonly kind: ScalarKind }
  | { readonly kind: "enum"; readonly names: readonly string[] }
  | { readonly kind: "list"; readonly member: Shape }
  | StructureShape;

export interface StructureShape {
  readonly kind: "structure";
  readonly members: readonly Member[];
}

export interface Member {
  /** The Kinesis member name (the JSON key). */
  readonly wire: string;
  /** The generated protobuf field (camelCase). */
  readonly field: string;
  readonly shape: Shape;
  /** Leave the member out of a response when the list is empty (Kinesis sends ChildShards only when set). */
  readonly omitEmpty?: boolean;
}

/** The protobuf field of a Kinesis member name: StreamARN → streamArn, ShardId → shardId. */
export function fieldOf(wire: string): string {
  const arn = wire.replace(/ARN/g, "Arn");
  return arn.charAt(0).toLowerCase() + arn.slice(1);
}

const STRING: Shape = { kind: "string" };
const INTEGER: Shape = { kind: "integer" };
const LONG: Shape = { kind: "long" };
const BOOLEAN: Shape = { kind: "boolean" };
const BLOB: Shape = { kind: "blob" };
const TIMESTAMP: Shape = { kind: "timestamp" };
const STRING_MAP: Shape = { kind: "stringMap" };
const list = (member: Shape): Shape => ({ kind: "list", member });
const enumOf = (names: readonly string[]): Shape => ({ kind: "enum", names });
/** A list member left out of responses when empty. */
const OMIT_EMPTY = Symbol("omitEmpty");
type MemberSpec = Shape | readonly [Shape, typeof OMIT_EMPTY];

function struct(members: Readonly<Record<string, MemberSpec>>): StructureShape {
  return {
    kind: "structure",
    members: Object.entries(members).map(([wire, spec]): Member => {
      const [shape, omit] = Array.isArray(spec)
        ? (spec as readonly [Shape, symbol])
        : [spec as Shape, undefined];
      return omit === OMIT_EMPTY
        ? { wire, field: fieldOf(wire), shape, omitEmpty: true }
        : { wire, field: fieldOf(wire), shape };
    }),
  };
}

/** Kinesis StreamStatus names in protobuf order. */
export const STREAM_STATUSES = ["CREATING", "DELETING", "ACTIVE", "UPDATING"] as const;
/** Kinesis ConsumerStatus names in protobuf order. */
export const CONSUMER_STATUSES = ["CREATING", "DELETING", "ACTIVE"] as const;

const EMPTY = struct({});
const STREAM_MODE_DETAILS = struct({ StreamMode: enumOf(STREAM_MODES) });
const HASH_KEY_RANGE = struct({ StartingHashKey: STRING, EndingHashKey: STRING });
const SHARD = struct({
  ShardId: STRING,
  ParentShardId: STRING,
  AdjacentParentShardId: STRING,
  HashKeyRange: HASH_KEY_RANGE,
  SequenceNumberRange: struct({ StartingSequenceNumber: STRING, EndingSequenceNumber: STRING }),
});
const CHILD_SHARD = struct({ ShardId: STRING, ParentShards: list(STRING), HashKeyRange: HASH_KEY_RANGE });
const ENHANCED_METRICS = struct({ ShardLevelMetrics: list(STRING) });
const ENHANCED_MONITORING_OUTPUT = struct({
  StreamName: STRING,
  CurrentShardLevelMetrics: list(STRING),
  DesiredShardLevelMetrics: list(STRING),
  StreamARN: STRING,
});
const RECORD = struct({
  SequenceNumber: STRING,
  ApproximateArrivalTimestamp: TIMESTAMP,
  Data: BLOB,
  PartitionKey: STRING,
  EncryptionType: STRING,
});
const CONSUMER_FIELDS = {
  ConsumerName: STRING,
  ConsumerARN: STRING,
  ConsumerStatus: enumOf(CONSUMER_STATUSES),
  ConsumerCreationTimestamp: TIMESTAMP,
} as const;
const STREAM_REF = { StreamName: STRING, StreamARN: STRING } as const;
const STREAM_STATUS = enumOf(STREAM_STATUSES);

/** One operation of the HTTP API: its shapes and the function that serves it. */
export interface OperationSpec {
  /** The Kinesis name, as in `X-Amz-Target: Kinesis_20131202.<name>`. */
  readonly name: string;
  readonly input: StructureShape;
  /** Builds the generated request object (defaults filled) from the decoded members. */
  readonly create: (partial: Record<string, unknown>) => unknown;
  readonly output: StructureShape;
  /** The unary function in StreamsOperations; undefined for a streaming operation. */
  readonly method: UnaryOperationName | undefined;
}

function op(
  name: string,
  method: UnaryOperationName | undefined,
  message: { fromPartial(object: never): unknown },
  input: StructureShape,
  output: StructureShape = EMPTY,
): OperationSpec {
  return {
    name,
    input,
    create: (partial) => message.fromPartial(partial as never),
    output,
    method,
  };
}

const S = streams;

/** Every Kinesis operation the HTTP API knows, by Kinesis name. */
export const OPERATIONS: ReadonlyMap<string, OperationSpec> = new Map(
  [
    op(
      "CreateStream",
      "createStream",
      S.CreateStreamRequest,
      struct({
        StreamName: STRING,
        ShardCount: INTEGER,
        StreamModeDetails: STREAM_MODE_DETAILS,
        Tags: STRING_MAP,
      }),
    ),
    op(
      "DeleteStream",
      "deleteStream",
      S.DeleteStreamRequest,
      struct({ ...STREAM_REF, EnforceConsumerDeletion: BOOLEAN }),
    ),
    op(
      "DescribeStream",
      "describeStream",
      S.DescribeStreamRequest,
      struct({ ...STREAM_REF, Limit: INTEGER, ExclusiveStartShardId: STRING }),
      struct({
        StreamDescription: struct({
          StreamName: STRING,
          StreamARN: STRING,
          StreamStatus: STREAM_STATUS,
          StreamModeDetails: STREAM_MODE_DETAILS,
          Shards: list(SHARD),
          HasMoreShards: BOOLEAN,
          RetentionPeriodHours: INTEGER,
          StreamCreationTimestamp: TIMESTAMP,
          EnhancedMonitoring: list(ENHANCED_METRICS),
          EncryptionType: STRING,
          KeyId: STRING,
        }),
      }),
    ),
    op(
      "DescribeStreamSummary",
      "describeStreamSummary",
      S.DescribeStreamSummaryRequest,
      struct(STREAM_REF),
      struct({
        StreamDescriptionSummary: struct({
          StreamName: STRING,
          StreamARN: STRING,
          StreamStatus: STREAM_STATUS,
          StreamModeDetails: STREAM_MODE_DETAILS,
          RetentionPeriodHours: INTEGER,
          StreamCreationTimestamp: TIMESTAMP,
          EnhancedMonitoring: list(ENHANCED_METRICS),
          EncryptionType: STRING,
          KeyId: STRING,
          OpenShardCount: INTEGER,
          ConsumerCount: INTEGER,
        }),
      }),
    ),
    op(
      "ListStreams",
      "listStreams",
      S.ListStreamsRequest,
      struct({ Limit: INTEGER, ExclusiveStartStreamName: STRING, NextToken: STRING }),
      struct({
        StreamNames: list(STRING),
        HasMoreStreams: BOOLEAN,
        NextToken: STRING,
        StreamSummaries: list(
          struct({
            StreamName: STRING,
            StreamARN: STRING,
            StreamStatus: STREAM_STATUS,
            StreamModeDetails: STREAM_MODE_DETAILS,
            StreamCreationTimestamp: TIMESTAMP,
          }),
        ),
      }),
    ),
    op(
      "ListShards",
      "listShards",
      S.ListShardsRequest,
      struct({
        ...STREAM_REF,
        NextToken: STRING,
        ExclusiveStartShardId: STRING,
        MaxResults: INTEGER,
        ShardFilter: struct({ Type: enumOf(SHARD_FILTER_TYPES), ShardId: STRING, Timestamp: TIMESTAMP }),
        StreamCreationTimestamp: TIMESTAMP,
      }),
      struct({ Shards: list(SHARD), NextToken: STRING }),
    ),
    op(
      "PutRecord",
      "putRecord",
      S.PutRecordRequest,
      struct({
        ...STREAM_REF,
        Data: BLOB,
        PartitionKey: STRING,
        ExplicitHashKey: STRING,
        SequenceNumberForOrdering: STRING,
      }),
      struct({ ShardId: STRING, SequenceNumber: STRING, EncryptionType: STRING }),
    ),
    op(
      "PutRecords",
      "putRecords",
      S.PutRecordsRequest,
      struct({
        ...STREAM_REF,
        Records: list(struct({ Data: BLOB, ExplicitHashKey: STRING, PartitionKey: STRING })),
      }),
      struct({
        FailedRecordCount: INTEGER,
        Records: list(
          struct({ SequenceNumber: STRING, ShardId: STRING, ErrorCode: STRING, ErrorMessage: STRING }),
        ),
        EncryptionType: STRING,
      }),
    ),
    op(
      "GetShardIterator",
      "getShardIterator",
      S.GetShardIteratorRequest,
      struct({
        ...STREAM_REF,
        ShardId: STRING,
        ShardIteratorType: enumOf(SHARD_ITERATOR_TYPES),
        StartingSequenceNumber: STRING,
        Timestamp: TIMESTAMP,
      }),
      struct({ ShardIterator: STRING }),
    ),
    op(
      "GetRecords",
      "getRecords",
      S.GetRecordsRequest,
      struct({ ShardIterator: STRING, Limit: INTEGER, StreamARN: STRING }),
      struct({
        Records: list(RECORD),
        NextShardIterator: STRING,
        MillisBehindLatest: LONG,
        ChildShards: [list(CHILD_SHARD), OMIT_EMPTY],
      }),
    ),
    op(
      "IncreaseStreamRetentionPeriod",
      "increaseStreamRetentionPeriod",
      S.IncreaseStreamRetentionPeriodRequest,
      struct({ ...STREAM_REF, RetentionPeriodHours: INTEGER }),
    ),
    op(
      "DecreaseStreamRetentionPeriod",
      "decreaseStreamRetentionPeriod",
      S.DecreaseStreamRetentionPeriodRequest,
      struct({ ...STREAM_REF, RetentionPeriodHours: INTEGER }),
    ),
    op(
      "AddTagsToStream",
      "addTagsToStream",
      S.AddTagsToStreamRequest,
      struct({ ...STREAM_REF, Tags: STRING_MAP }),
    ),
    op(
      "RemoveTagsFromStream",
      "removeTagsFromStream",
      S.RemoveTagsFromStreamRequest,
      struct({ ...STREAM_REF, TagKeys: list(STRING) }),
    ),
    op(
      "ListTagsForStream",
      "listTagsForStream",
      S.ListTagsForStreamRequest,
      struct({ ...STREAM_REF, ExclusiveStartTagKey: STRING, Limit: INTEGER }),
      struct({ Tags: list(struct({ Key: STRING, Value: STRING })), HasMoreTags: BOOLEAN }),
    ),
    op(
      "RegisterStreamConsumer",
      "registerStreamConsumer",
      S.RegisterStreamConsumerRequest,
      struct({ StreamARN: STRING, ConsumerName: STRING }),
      struct({ Consumer: struct(CONSUMER_FIELDS) }),
    ),
    op(
      "DescribeStreamConsumer",
      "describeStreamConsumer",
      S.DescribeStreamConsumerRequest,
      struct({ StreamARN: STRING, ConsumerName: STRING, ConsumerARN: STRING }),
      struct({ ConsumerDescription: struct({ ...CONSUMER_FIELDS, StreamARN: STRING }) }),
    ),
    op(
      "ListStreamConsumers",
      "listStreamConsumers",
      S.ListStreamConsumersRequest,
      struct({
        StreamARN: STRING,
        NextToken: STRING,
        MaxResults: INTEGER,
        StreamCreationTimestamp: TIMESTAMP,
      }),
      struct({ Consumers: list(struct(CONSUMER_FIELDS)), NextToken: STRING }),
    ),
    op(
      "DeregisterStreamConsumer",
      "deregisterStreamConsumer",
      S.DeregisterStreamConsumerRequest,
      struct({ StreamARN: STRING, ConsumerName: STRING, ConsumerARN: STRING }),
    ),
    op(
      "UpdateStreamMode",
      "updateStreamMode",
      S.UpdateStreamModeRequest,
      struct({ StreamARN: STRING, StreamModeDetails: STREAM_MODE_DETAILS }),
    ),
    op(
      "DescribeLimits",
      "describeLimits",
      S.DescribeLimitsRequest,
      EMPTY,
      struct({
        ShardLimit: INTEGER,
        OpenShardCount: INTEGER,
        OnDemandStreamCount: INTEGER,
        OnDemandStreamCountLimit: INTEGER,
      }),
    ),
    op(
      "EnableEnhancedMonitoring",
      "enableEnhancedMonitoring",
      S.EnableEnhancedMonitoringRequest,
      struct({ ...STREAM_REF, ShardLevelMetrics: list(STRING) }),
      ENHANCED_MONITORING_OUTPUT,
    ),
    op(
      "DisableEnhancedMonitoring",
      "disableEnhancedMonitoring",
      S.DisableEnhancedMonitoringRequest,
      struct({ ...STREAM_REF, ShardLevelMetrics: list(STRING) }),
      ENHANCED_MONITORING_OUTPUT,
    ),
    op(
      "StartStreamEncryption",
      "startStreamEncryption",
      S.StartStreamEncryptionRequest,
      struct({ ...STREAM_REF, EncryptionType: STRING, KeyId: STRING }),
    ),
    op(
      "StopStreamEncryption",
      "stopStreamEncryption",
      S.StopStreamEncryptionRequest,
      struct({ ...STREAM_REF, EncryptionType: STRING, KeyId: STRING }),
    ),
    op(
      "SplitShard",
      "splitShard",
      S.SplitShardRequest,
      struct({ ...STREAM_REF, ShardToSplit: STRING, NewStartingHashKey: STRING }),
    ),
    op(
      "MergeShards",
      "mergeShards",
      S.MergeShardsRequest,
      struct({ ...STREAM_REF, ShardToMerge: STRING, AdjacentShardToMerge: STRING }),
    ),
    op(
      "UpdateShardCount",
      "updateShardCount",
      S.UpdateShardCountRequest,
      struct({ ...STREAM_REF, TargetShardCount: INTEGER, ScalingType: enumOf(SCALING_TYPES) }),
      struct({ ...STREAM_REF, CurrentShardCount: INTEGER, TargetShardCount: INTEGER }),
    ),
    // Streaming: served only by a plugged-in StreamingOperationHandler (see README.md).
    op(
      "SubscribeToShard",
      undefined,
      S.SubscribeToShardRequest,
      struct({
        ConsumerARN: STRING,
        ShardId: STRING,
        StartingPosition: struct({
          Type: enumOf(SHARD_ITERATOR_TYPES),
          SequenceNumber: STRING,
          Timestamp: TIMESTAMP,
        }),
      }),
      struct({
        Records: list(RECORD),
        ContinuationSequenceNumber: STRING,
        MillisBehindLatest: LONG,
        ChildShards: [list(CHILD_SHARD), OMIT_EMPTY],
      }),
    ),
  ].map((spec) => [spec.name, spec]),
);
