/**
 * The public gRPC service `sluice.v1.StreamsService`: one handler per Kinesis operation. Each
 * validates its request first (bad input gets a typed error and changes nothing), then calls the
 * write path, the read path, the subscriptions or the control plane. Every error leaves through
 * the gateway's one error table (errors.ts, status-details.ts): a gRPC status, the Kinesis error
 * name in the status details, and a message that says what to do.
 */
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
} from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import { InternalFailureError, ProvisionedThroughputExceededError } from "../errors.js";
import { toServiceError } from "../status-details.js";
import * as validate from "../validation.js";
import { PUT_DEADLINE_MS } from "./constants.js";
import type { ControlPlane } from "./control-plane.js";
import type { PutPath } from "./put-records.js";
import type { ReadPath } from "./read-records.js";
import type { StreamLookup } from "./stream-lookup.js";
import type { Subscriptions } from "./subscriptions.js";

export interface StreamsServiceParts {
  readonly lookup: StreamLookup;
  readonly put: PutPath;
  readonly read: ReadPath;
  readonly subscriptions: Subscriptions;
  readonly control: ControlPlane;
  readonly clock: () => number;
  /** Counts each call by operation and outcome (for metrics). */
  readonly observe?: (operation: string, outcome: "ok" | string, startedAtMs: number) => void;
}

type Unary<Req, Res> = (request: Req) => Promise<Res> | Res;

export function createStreamsService(parts: StreamsServiceParts): streams.StreamsServiceServer {
  const { lookup, put, read, subscriptions, control, clock } = parts;

  function unary<Req, Res>(operation: string, handler: Unary<Req, Res>): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const startedAtMs = clock();
      let result: Promise<Res>;
      try {
        result = Promise.resolve(handler(call.request));
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => {
          parts.observe?.(operation, "ok", startedAtMs);
          callback(null, response);
        },
        (error: unknown) => {
          const status = toServiceError(error);
          parts.observe?.(
            operation,
            status.metadata?.get("sluice-error-name")[0]?.toString() ?? "error",
            startedAtMs,
          );
          callback(status);
        },
      );
    };
  }

  const subscribeToShard: handleServerStreamingCall<
    streams.SubscribeToShardRequest,
    streams.SubscribeToShardResponse
  > = (call: ServerWritableStream<streams.SubscribeToShardRequest, streams.SubscribeToShardResponse>) => {
    const startedAtMs = clock();
    (async () => {
      validate.validateSubscribeToShard(call.request);
      await subscriptions.run(call);
    })().then(
      () => parts.observe?.("SubscribeToShard", "ok", startedAtMs),
      (error: unknown) => {
        const status = toServiceError(error);
        parts.observe?.(
          "SubscribeToShard",
          status.metadata?.get("sluice-error-name")[0]?.toString() ?? "error",
          startedAtMs,
        );
        call.emit("error", status);
      },
    );
  };

  return {
    createStream: unary("CreateStream", async (request: streams.CreateStreamRequest) => {
      validate.validateCreateStream(request);
      return control.createStream(request);
    }),
    deleteStream: unary("DeleteStream", async (request: streams.DeleteStreamRequest) => {
      validate.validateDeleteStream(request);
      return control.deleteStream(request);
    }),
    describeStream: unary("DescribeStream", async (request: streams.DescribeStreamRequest) => {
      validate.validateDescribeStream(request);
      return control.describeStream(request);
    }),
    describeStreamSummary: unary(
      "DescribeStreamSummary",
      async (request: streams.DescribeStreamSummaryRequest) => {
        validate.validateStreamRef(request);
        return control.describeStreamSummary(request);
      },
    ),
    listStreams: unary("ListStreams", async (request: streams.ListStreamsRequest) => {
      validate.validateListStreams(request);
      return control.listStreams(request);
    }),
    listShards: unary("ListShards", async (request: streams.ListShardsRequest) => {
      validate.validateListShards(request);
      return control.listShards(request);
    }),
    putRecord: unary(
      "PutRecord",
      async (request: streams.PutRecordRequest): Promise<streams.PutRecordResponse> => {
        validate.validatePutRecord(request);
        const stream = await lookup.writableStream(request);
        const [outcome] = await put.putRecords(
          stream,
          [
            {
              partitionKey: request.partitionKey,
              data: request.data,
              explicitHashKey: request.explicitHashKey,
            },
          ],
          clock() + PUT_DEADLINE_MS,
        );
        if (outcome === undefined) throw new InternalFailureError("the record got no outcome; retry");
        if (!outcome.ok) {
          if (outcome.errorCode === "ProvisionedThroughputExceededException") {
            throw new ProvisionedThroughputExceededError(outcome.errorMessage);
          }
          throw new InternalFailureError(outcome.errorMessage);
        }
        return { shardId: outcome.shardId, sequenceNumber: outcome.sequenceNumber, encryptionType: "NONE" };
      },
    ),
    putRecords: unary(
      "PutRecords",
      async (request: streams.PutRecordsRequest): Promise<streams.PutRecordsResponse> => {
        validate.validatePutRecords(request);
        const stream = await lookup.writableStream(request);
        const outcomes = await put.putRecords(stream, request.records, clock() + PUT_DEADLINE_MS);
        let failed = 0;
        const records = outcomes.map((outcome): streams.PutRecordsResultEntry => {
          if (outcome.ok) {
            return {
              sequenceNumber: outcome.sequenceNumber,
              shardId: outcome.shardId,
              errorCode: "",
              errorMessage: "",
            };
          }
          failed++;
          return {
            sequenceNumber: "",
            shardId: "",
            errorCode: outcome.errorCode,
            errorMessage: outcome.errorMessage,
          };
        });
        return { failedRecordCount: failed, records, encryptionType: "NONE" };
      },
    ),
    getShardIterator: unary(
      "GetShardIterator",
      async (request: streams.GetShardIteratorRequest): Promise<streams.GetShardIteratorResponse> => {
        validate.validateGetShardIterator(request);
        const stream = await lookup.writableStream(request);
        const shard = lookup.shard(stream, request.shardId);
        const position = read.startPosition(
          stream,
          shard,
          request.shardIteratorType,
          request.startingSequenceNumber,
          request.timestamp,
        );
        return { shardIterator: read.iterator(stream, shard, position) };
      },
    ),
    getRecords: unary("GetRecords", (request: streams.GetRecordsRequest) => {
      validate.validateGetRecords(request);
      return read.getRecords(request.shardIterator, request.limit);
    }),
    subscribeToShard,
    increaseStreamRetentionPeriod: unary(
      "IncreaseStreamRetentionPeriod",
      async (request: streams.IncreaseStreamRetentionPeriodRequest) => {
        validate.validateRetentionChange(request);
        return control.increaseRetention(request);
      },
    ),
    decreaseStreamRetentionPeriod: unary(
      "DecreaseStreamRetentionPeriod",
      async (request: streams.DecreaseStreamRetentionPeriodRequest) => {
        validate.validateRetentionChange(request);
        return control.decreaseRetention(request);
      },
    ),
    addTagsToStream: unary("AddTagsToStream", async (request: streams.AddTagsToStreamRequest) => {
      validate.validateAddTags(request);
      return control.addTags(request);
    }),
    removeTagsFromStream: unary(
      "RemoveTagsFromStream",
      async (request: streams.RemoveTagsFromStreamRequest) => {
        validate.validateRemoveTags(request);
        return control.removeTags(request);
      },
    ),
    listTagsForStream: unary("ListTagsForStream", async (request: streams.ListTagsForStreamRequest) => {
      validate.validateListTags(request);
      return control.listTags(request);
    }),
    registerStreamConsumer: unary(
      "RegisterStreamConsumer",
      async (request: streams.RegisterStreamConsumerRequest) => {
        validate.validateRegisterConsumer(request);
        return control.registerConsumer(request);
      },
    ),
    describeStreamConsumer: unary(
      "DescribeStreamConsumer",
      async (request: streams.DescribeStreamConsumerRequest) => {
        validate.validateConsumerRef(request);
        return control.describeConsumer(request);
      },
    ),
    listStreamConsumers: unary("ListStreamConsumers", async (request: streams.ListStreamConsumersRequest) => {
      validate.validateListConsumers(request);
      return control.listConsumers(request);
    }),
    deregisterStreamConsumer: unary(
      "DeregisterStreamConsumer",
      async (request: streams.DeregisterStreamConsumerRequest) => {
        validate.validateConsumerRef(request);
        return control.deregisterConsumer(request);
      },
    ),
    updateStreamMode: unary("UpdateStreamMode", async (request: streams.UpdateStreamModeRequest) => {
      validate.validateUpdateStreamMode(request);
      return control.updateStreamMode(request);
    }),
    describeLimits: unary("DescribeLimits", () => control.describeLimits()),
    splitShard: unary("SplitShard", async (request: streams.SplitShardRequest) => {
      validate.validateSplitShard(request);
      return control.splitShard(request);
    }),
    mergeShards: unary("MergeShards", async (request: streams.MergeShardsRequest) => {
      validate.validateMergeShards(request);
      return control.mergeShards(request);
    }),
    updateShardCount: unary("UpdateShardCount", async (request: streams.UpdateShardCountRequest) => {
      validate.validateUpdateShardCount(request);
      return control.updateShardCount(request);
    }),
  };
}
