/**
 * The public gRPC service `sluice.v1.StreamsService`: thin wrappers over the operations
 * (operations.ts), which hold the semantics and validation of every unary call and are shared
 * with the Kinesis HTTP API. Each wrapper counts the call and turns a rejection into the gRPC
 * status of the gateway's one error table (errors.ts, status-details.ts): a gRPC status, the
 * Kinesis error name in the status details, and a message that says what to do.
 * SubscribeToShard, a server stream, validates its request and runs on the subscriptions.
 */
import type { handleServerStreamingCall, handleUnaryCall, ServerWritableStream } from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import * as validate from "../validation.js";
import { type CallContext, type CallObserver, finishCall, unaryCall } from "./grpc-calls.js";
import type { StreamsOperations, UnaryOperationName } from "./operations.js";
import type { Subscriptions } from "./subscriptions.js";

export interface StreamsServiceParts {
  readonly operations: StreamsOperations;
  readonly subscriptions: Subscriptions;
  readonly clock: () => number;
  /** Counts each call by operation and outcome (for metrics). */
  readonly observe?: CallObserver;
}

/** The Kinesis operation name of a camelCase operation ("putRecords" → "PutRecords"). */
export function kinesisOperationName(operation: string): string {
  return operation.charAt(0).toUpperCase() + operation.slice(1);
}

export function createStreamsService(parts: StreamsServiceParts): streams.StreamsServiceServer {
  const { operations, subscriptions, clock } = parts;

  function unary<K extends UnaryOperationName>(name: K): handleUnaryCall<unknown, unknown> {
    const run = operations[name] as (request: unknown, context: CallContext) => Promise<unknown>;
    return unaryCall(kinesisOperationName(name), run, clock, parts.observe);
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
      () => finishCall(parts.observe, "SubscribeToShard", startedAtMs),
      (error: unknown) =>
        call.emit("error", finishCall(parts.observe, "SubscribeToShard", startedAtMs, error)),
    );
  };

  const service: Record<string, unknown> = { subscribeToShard };
  for (const name of Object.keys(operations) as UnaryOperationName[]) service[name] = unary(name);
  return service as unknown as streams.StreamsServiceServer;
}
