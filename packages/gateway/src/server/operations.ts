/**
 * The semantics of every unary Kinesis operation, once: each is a plain async function from the
 * generated request object to the generated response object, validation included. The gRPC
 * handlers (streams-service.ts) and the Kinesis HTTP API (../http/) are thin wrappers over these
 * functions, so both front ends share validation, errors and behaviour.
 *
 * Contract: a function either resolves with the response or rejects with a typed error that the
 * gateway's one error table (../errors.ts) resolves; bad input rejects before anything changes.
 * SubscribeToShard is a stream, not a function of a request, and is not here.
 */
import type { handleUnaryCall } from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import {
  type EncryptionParts,
  startStreamEncryption,
  stopStreamEncryption,
} from "../encryption/operations.js";
import { InternalFailureError, InvalidArgumentError, ProvisionedThroughputExceededError } from "../errors.js";
import * as validate from "../validation.js";
import { PUT_DEADLINE_MS } from "./constants.js";
import type { ControlPlane } from "./control-plane.js";
import type { CallContext } from "./grpc-calls.js";
import { disableEnhancedMonitoring, enableEnhancedMonitoring, type MonitoringParts } from "./monitoring.js";
import { type PutPath, producerWriteOf } from "./put-records.js";
import type { ReadPath } from "./read-records.js";
import type { StreamLookup } from "./stream-lookup.js";

/** The generated service without its index signature (it extends UntypedServiceImplementation). */
type KnownMethods = {
  [K in keyof streams.StreamsServiceServer as string extends K ? never : K]: streams.StreamsServiceServer[K];
};

/** The name (camelCase, as in the generated service) of every unary operation. */
export type UnaryOperationName = {
  [K in keyof KnownMethods]: KnownMethods[K] extends handleUnaryCall<infer _Req, infer _Res> ? K : never;
}[keyof KnownMethods];

/** The request type of operation `K`. */
export type OperationRequest<K extends UnaryOperationName> = KnownMethods[K] extends handleUnaryCall<
  infer Req,
  infer _Res
>
  ? Req
  : never;

/** The response type of operation `K`. */
export type OperationResponse<K extends UnaryOperationName> = KnownMethods[K] extends handleUnaryCall<
  infer _Req,
  infer Res
>
  ? Res
  : never;

/** Every unary operation as `(request, context?) => Promise<response>`. */
export type StreamsOperations = {
  readonly [K in UnaryOperationName]: (
    request: OperationRequest<K>,
    context?: CallContext,
  ) => Promise<OperationResponse<K>>;
};

/**
 * When a put stops retrying: PUT_DEADLINE_MS after its arrival, or the caller's own deadline
 * when that comes first (records still pending then fail with InternalFailure; a caller that
 * gave up would not see them succeed anyway).
 */
export function putDeadlineAtMs(nowMs: number, context: CallContext | undefined): number {
  const own = nowMs + PUT_DEADLINE_MS;
  const caller = context?.deadlineAtMs;
  return caller === undefined || !Number.isFinite(caller) ? own : Math.min(own, caller);
}

/** What the operations are built from (the same parts the gateway builds once per node). */
export interface OperationsParts {
  readonly lookup: StreamLookup;
  readonly put: PutPath;
  readonly read: ReadPath;
  readonly control: ControlPlane;
  /** Enable/DisableEnhancedMonitoring. */
  readonly monitoring: MonitoringParts;
  /** Start/StopStreamEncryption. */
  readonly encryption: EncryptionParts;
  /** Wall clock in ms (the put deadline). */
  readonly clock: () => number;
}

export function createOperations(parts: OperationsParts): StreamsOperations {
  const { lookup, put, read, control, clock } = parts;
  return {
    createStream: async (request) => {
      validate.validateCreateStream(request);
      return control.createStream(request);
    },
    deleteStream: async (request) => {
      validate.validateDeleteStream(request);
      return control.deleteStream(request);
    },
    describeStream: async (request) => {
      validate.validateDescribeStream(request);
      return control.describeStream(request);
    },
    describeStreamSummary: async (request) => {
      validate.validateStreamRef(request);
      return control.describeStreamSummary(request);
    },
    listStreams: async (request) => {
      validate.validateListStreams(request);
      return control.listStreams(request);
    },
    listShards: async (request) => {
      validate.validateListShards(request);
      return control.listShards(request);
    },
    putRecord: async (request, context): Promise<streams.PutRecordResponse> => {
      const validated = validate.validatePutRecord(request);
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
        putDeadlineAtMs(clock(), context),
        [validated],
        producerWriteOf(request),
      );
      if (outcome === undefined) throw new InternalFailureError("the record got no outcome; retry");
      if (!outcome.ok) {
        if (outcome.errorCode === "ProvisionedThroughputExceededException") {
          throw new ProvisionedThroughputExceededError(outcome.errorMessage);
        }
        if (
          outcome.errorCode === "OutOfOrderSequenceException" ||
          outcome.errorCode === "StaleShardMapException"
        ) {
          throw new InvalidArgumentError(`${outcome.errorCode}: ${outcome.errorMessage}`);
        }
        throw new InternalFailureError(outcome.errorMessage);
      }
      return {
        shardId: outcome.shardId,
        sequenceNumber: outcome.sequenceNumber,
        encryptionType: encryptionTypeOf(stream),
      };
    },
    putRecords: async (request, context): Promise<streams.PutRecordsResponse> => {
      const validated = validate.validatePutRecords(request);
      const stream = await lookup.writableStream(request);
      const outcomes = await put.putRecords(
        stream,
        request.records,
        putDeadlineAtMs(clock(), context),
        validated.records,
        producerWriteOf(request),
      );
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
      return { failedRecordCount: failed, records, encryptionType: encryptionTypeOf(stream) };
    },
    getShardIterator: async (request): Promise<streams.GetShardIteratorResponse> => {
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
    getRecords: async (request) => {
      validate.validateGetRecords(request);
      return read.getRecords(request.shardIterator, request.limit);
    },
    increaseStreamRetentionPeriod: async (request) => {
      validate.validateRetentionChange(request);
      return control.increaseRetention(request);
    },
    decreaseStreamRetentionPeriod: async (request) => {
      validate.validateRetentionChange(request);
      return control.decreaseRetention(request);
    },
    enableEnhancedMonitoring: (request) => enableEnhancedMonitoring(parts.monitoring, request),
    disableEnhancedMonitoring: (request) => disableEnhancedMonitoring(parts.monitoring, request),
    addTagsToStream: async (request) => {
      validate.validateAddTags(request);
      return control.addTags(request);
    },
    removeTagsFromStream: async (request) => {
      validate.validateRemoveTags(request);
      return control.removeTags(request);
    },
    listTagsForStream: async (request) => {
      validate.validateListTags(request);
      return control.listTags(request);
    },
    registerStreamConsumer: async (request) => {
      validate.validateRegisterConsumer(request);
      return control.registerConsumer(request);
    },
    describeStreamConsumer: async (request) => {
      validate.validateConsumerRef(request);
      return control.describeConsumer(request);
    },
    listStreamConsumers: async (request) => {
      validate.validateListConsumers(request);
      return control.listConsumers(request);
    },
    deregisterStreamConsumer: async (request) => {
      validate.validateConsumerRef(request);
      return control.deregisterConsumer(request);
    },
    updateStreamMode: async (request) => {
      validate.validateUpdateStreamMode(request);
      return control.updateStreamMode(request);
    },
    describeLimits: async () => control.describeLimits(),
    splitShard: async (request) => {
      validate.validateSplitShard(request);
      return control.splitShard(request);
    },
    mergeShards: async (request) => {
      validate.validateMergeShards(request);
      return control.mergeShards(request);
    },
    updateShardCount: async (request) => {
      validate.validateUpdateShardCount(request);
      return control.updateShardCount(request);
    },
    startStreamEncryption: (request) => startStreamEncryption(parts.encryption, request),
    stopStreamEncryption: (request) => stopStreamEncryption(parts.encryption, request),
  };
}

/** What PutRecord(s) reports: KMS when the stream's new records are encrypted (as this view has it). */
function encryptionTypeOf(stream: { readonly encryption?: unknown }): string {
  return stream.encryption === undefined ? "NONE" : "KMS";
}
