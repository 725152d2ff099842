/**
 * The part of SluiceClient that the producer, the readers and subscriptions use: an interface,
 * so that they do not import the client that constructs them (no import cycle).
 */
import type { Metadata } from "@grpc/grpc-js";
import type { streams } from "@sluice/proto";
import type { Endpoint } from "./endpoint-pool.js";

export interface CallOptions {
  /** This call's deadline, from now, covering failover. @default the client's deadlineMs */
  readonly deadlineMs?: number;
  /** Cancels the call; it then rejects with AbortedError. */
  readonly signal?: AbortSignal;
}

export interface StreamsApi {
  putRecords(request: streams.PutRecordsRequest, options?: CallOptions): Promise<streams.PutRecordsResponse>;
  getShardIterator(
    request: Partial<streams.GetShardIteratorRequest>,
    options?: CallOptions,
  ): Promise<streams.GetShardIteratorResponse>;
  getRecords(
    request: Partial<streams.GetRecordsRequest>,
    options?: CallOptions,
  ): Promise<streams.GetRecordsResponse>;
  listAllShards(streamName: string, options?: CallOptions): Promise<streams.Shard[]>;
  /** The metadata of a call (the credentials' bearer token); absent: empty metadata. */
  callMetadata?(): Metadata;
  /** The next endpoint for a streaming call. */
  pickEndpoint(): Endpoint;
  /** Marks an endpoint whose streaming call could not connect, so round robin skips it a while. */
  markEndpointDown(endpoint: Endpoint): void;
}
