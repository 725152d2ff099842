/**
 * The public gRPC service `sluice.v1.StreamsService`: thin wrappers over the operations
 * (operations.ts), which hold the semantics and validation of every unary call and are shared
 * with the Kinesis HTTP API. Each wrapper counts the call and turns a rejection into the gRPC
 * status of the gateway's one error table (errors.ts, status-details.ts): a gRPC status, the
 * Kinesis error name in the status details, and a message that says what to do.
 * SubscribeToShard, a server stream, validates its request and runs on the subscriptions.
 */
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerUnaryCall,
  ServerWritableStream,
  sendUnaryData,
} from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import { toServiceError } from "../status-details.js";
import * as validate from "../validation.js";
import type { StreamsOperations, UnaryOperationName } from "./operations.js";
import type { Subscriptions } from "./subscriptions.js";

export interface StreamsServiceParts {
  readonly operations: StreamsOperations;
  readonly subscriptions: Subscriptions;
  readonly clock: () => number;
  /** Counts each call by operation and outcome (for metrics). */
  readonly observe?: (operation: string, outcome: "ok" | string, startedAtMs: number) => void;
}

/** The Kinesis operation name of a camelCase operation ("putRecords" → "PutRecords"). */
export function kinesisOperationName(operation: string): string {
  return operation.charAt(0).toUpperCase() + operation.slice(1);
}

export function createStreamsService(parts: StreamsServiceParts): streams.StreamsServiceServer {
  const { operations, subscriptions, clock } = parts;

  function finished(
    operation: string,
    startedAtMs: number,
    error?: unknown,
  ): ReturnType<typeof toServiceError> | undefined {
    if (error === undefined) {
      parts.observe?.(operation, "ok", startedAtMs);
      return undefined;
    }
    const status = toServiceError(error);
    parts.observe?.(
      operation,
      status.metadata?.get("sluice-error-name")[0]?.toString() ?? "error",
      startedAtMs,
    );
    return status;
  }

  function unary<K extends UnaryOperationName>(name: K): handleUnaryCall<unknown, unknown> {
    const operation = kinesisOperationName(name);
    const run = operations[name] as (request: unknown) => Promise<unknown>;
    return (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
      const startedAtMs = clock();
      let result: Promise<unknown>;
      try {
        result = run(call.request);
      } catch (error) {
        result = Promise.reject(error);
      }
      result.then(
        (response) => {
          finished(operation, startedAtMs);
          callback(null, response);
        },
        (error: unknown) => callback(finished(operation, startedAtMs, error) ?? null),
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
      () => finished("SubscribeToShard", startedAtMs),
      (error: unknown) => call.emit("error", finished("SubscribeToShard", startedAtMs, error)),
    );
  };

  const service: Record<string, unknown> = { subscribeToShard };
  for (const name of Object.keys(operations) as UnaryOperationName[]) service[name] = unary(name);
  return service as unknown as streams.StreamsServiceServer;
}
