/**
 * SluiceClient: a typed client of sluice.v1.StreamsService over a list of node endpoints. Calls
 * are spread round robin; a call that fails with UNAVAILABLE (connection refused or dropped, or a
 * node that cannot serve yet) is tried on the next endpoint until every endpoint was tried twice
 * or its deadline passed. Every call has a deadline (`deadlineMs`, per client or per call) and
 * may be cancelled with an AbortSignal. Failures are SluiceCallError with the Kinesis error name.
 *
 * Methods take the proto request (all fields optional: `Partial<…Request>`) and return the proto
 * response, named as the Kinesis operations in camelCase. A retried PutRecord(s) after a dropped
 * connection may write a record twice, as any Kinesis producer's retry may.
 */
import type { ClientUnaryCall, Metadata as GrpcMetadata, ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import { CALL_DEADLINE_MS_DEFAULT, FAILOVER_ROUND_PAUSE_MS } from "./constants.js";
import { type Endpoint, EndpointPool } from "./endpoint-pool.js";
import {
  AbortedError,
  ClientClosedError,
  callErrorOf,
  InvalidOptionsError,
  isFailoverError,
  SluiceCallError,
} from "./errors.js";
import { Producer, type ProducerOptions } from "./producer.js";
import { ShardReader, type ShardReaderOptions } from "./shard-reader.js";
import { sleep } from "./sleep.js";
import { StreamReader, type StreamReaderOptions } from "./stream-reader.js";
import type { CallOptions, StreamsApi } from "./streams-api.js";
import { Subscription, type SubscriptionOptions } from "./subscription.js";

export interface SluiceClientOptions {
  /** "host:port" of the nodes' public gRPC ports; at least one. */
  readonly endpoints: readonly string[];
  /** Deadline of a call that is given none. @default 10000 */
  readonly deadlineMs?: number;
  /**
   * TLS to the nodes (a node started with --tls-*): `true` trusts the system's CAs; an object
   * gives the CA that signed the nodes' certificates (PEM) and optionally a client certificate.
   * @default undefined (plaintext)
   */
  readonly tls?: true | SluiceClientTls;
  /**
   * An access key of the cluster (a node started with --auth-keys), sent with every call as
   * `authorization: Bearer <accessKeyId>:<secretAccessKey>` metadata. Send it over TLS only: the
   * secret itself travels. @default undefined (no credentials: for nodes without authentication)
   */
  readonly credentials?: SluiceClientCredentials;
}

/** An access key id and its secret, as in the node's access-key file. */
export interface SluiceClientCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** TLS material of a client, PEM. */
export interface SluiceClientTls {
  /** The CA that signed the nodes' certificates (`certs/ca.crt`); absent, the system's CAs. */
  readonly ca?: Buffer | string;
  /** A client certificate and its key, for nodes that ask for one. Give both or neither. */
  readonly cert?: Buffer | string;
  readonly key?: Buffer | string;
  /**
   * The name the nodes' certificates must carry, when it is not the host dialed (a node dialed
   * by an address its certificate does not name). @default the endpoint's host
   */
  readonly serverName?: string;
}

type UnaryFunction = (
  request: unknown,
  metadata: GrpcMetadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: unknown) => void,
) => ClientUnaryCall;

type UnaryName = {
  [K in keyof streams.StreamsServiceClient]: streams.StreamsServiceClient[K] extends (
    ...args: never[]
  ) => ClientUnaryCall
    ? K
    : never;
}[keyof streams.StreamsServiceClient];

const HOST_PORT = /^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/;

export type { CallOptions } from "./streams-api.js";

export class SluiceClient implements StreamsApi {
  readonly endpoints: readonly string[];
  readonly #pool: EndpointPool;
  readonly #deadlineMs: number;
  readonly #authorization: string | undefined;
  #closed = false;

  constructor(options: SluiceClientOptions) {
    if (!Array.isArray(options?.endpoints) || options.endpoints.length === 0) {
      throw new InvalidOptionsError('endpoints must list at least one "host:port", e.g. ["127.0.0.1:50051"]');
    }
    for (const endpoint of options.endpoints) {
      if (typeof endpoint !== "string" || !HOST_PORT.test(endpoint)) {
        throw new InvalidOptionsError(
          `endpoint ${JSON.stringify(endpoint)} is not "host:port", e.g. "127.0.0.1:50051"`,
        );
      }
    }
    const deadlineMs = options.deadlineMs ?? CALL_DEADLINE_MS_DEFAULT;
    if (!(Number.isFinite(deadlineMs) && deadlineMs > 0)) {
      throw new InvalidOptionsError(
        `deadlineMs must be a positive number of milliseconds, not ${deadlineMs}`,
      );
    }
    this.endpoints = [...options.endpoints];
    this.#deadlineMs = deadlineMs;
    const given = options.credentials;
    if (given !== undefined) {
      if (
        typeof given.accessKeyId !== "string" ||
        !/^[^:\s]+$/.test(given.accessKeyId) ||
        typeof given.secretAccessKey !== "string" ||
        !/^\S+$/.test(given.secretAccessKey)
      ) {
        throw new InvalidOptionsError(
          "credentials need an accessKeyId (no spaces or colons) and a secretAccessKey (no spaces), as in the node's access-key file",
        );
      }
      this.#authorization = `Bearer ${given.accessKeyId}:${given.secretAccessKey}`;
    }
    const tls = options.tls;
    if (tls !== undefined && tls !== true && (tls.cert === undefined) !== (tls.key === undefined)) {
      throw new InvalidOptionsError("tls.cert and tls.key go together: give both or neither");
    }
    this.#pool = new EndpointPool(this.endpoints, tls === undefined ? undefined : tls === true ? {} : tls);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes every channel; calls made afterwards reject with ClientClosedError. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pool.close();
  }

  /** The metadata every call carries: the credentials' bearer token, when the client has credentials. */
  callMetadata(): GrpcMetadata {
    const metadata = new Metadata();
    if (this.#authorization !== undefined) metadata.set("authorization", this.#authorization);
    return metadata;
  }

  /** The next endpoint for a streaming call (used by subscriptions); see EndpointPool. */
  pickEndpoint(): Endpoint {
    this.#assertOpen();
    return this.#pool.pick();
  }

  /** Marks an endpoint whose streaming call could not connect, so round robin skips it a while. */
  markEndpointDown(endpoint: Endpoint): void {
    this.#pool.markDown(endpoint);
  }

  #assertOpen(): void {
    if (this.#closed) throw new ClientClosedError("this SluiceClient is closed; create a new one");
  }

  async #unary<Res>(
    operation: string,
    method: UnaryName,
    request: unknown,
    options: CallOptions = {},
  ): Promise<Res> {
    this.#assertOpen();
    const deadline = Date.now() + (options.deadlineMs ?? this.#deadlineMs);
    const { signal } = options;
    if (signal?.aborted === true) throw new AbortedError(`${operation} was aborted before it started`);
    const attemptsMax = this.#pool.endpoints.length * 2;
    for (let attempt = 1; ; attempt++) {
      const endpoint = this.#pool.pick();
      try {
        return await this.#callOnce<Res>(operation, endpoint, method, request, deadline, signal);
      } catch (error) {
        if (!(error instanceof SluiceCallError) || !isFailoverError(error)) throw error;
        this.#pool.markDown(endpoint);
        if (attempt >= attemptsMax || Date.now() >= deadline || this.#closed) throw error;
        if (attempt % this.#pool.endpoints.length === 0) {
          await sleep(Math.min(FAILOVER_ROUND_PAUSE_MS, Math.max(0, deadline - Date.now())), signal);
        }
      }
    }
  }

  #callOnce<Res>(
    operation: string,
    endpoint: Endpoint,
    method: UnaryName,
    request: unknown,
    deadline: number,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      // A signal that fired while the previous attempt failed over: never start this one.
      if (signal?.aborted === true) {
        reject(new AbortedError(`${operation} was aborted by its AbortSignal`));
        return;
      }
      let aborted = false;
      const onAbort = () => {
        aborted = true;
        call.cancel();
      };
      const call = (endpoint.channel[method] as unknown as UnaryFunction).call(
        endpoint.channel,
        request,
        this.callMetadata(),
        { deadline },
        (error, response) => {
          signal?.removeEventListener("abort", onAbort);
          if (error === null) resolve(response as Res);
          else if (aborted)
            reject(new AbortedError(`${operation} was aborted by its AbortSignal`, { cause: error }));
          else reject(callErrorOf(operation, endpoint.address, error));
        },
      );
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  createStream(
    request: Partial<streams.CreateStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.CreateStreamResponse> {
    return this.#unary(
      "CreateStream",
      "createStream",
      streams.CreateStreamRequest.fromPartial(request),
      options,
    );
  }
  deleteStream(
    request: Partial<streams.DeleteStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.DeleteStreamResponse> {
    return this.#unary(
      "DeleteStream",
      "deleteStream",
      streams.DeleteStreamRequest.fromPartial(request),
      options,
    );
  }
  describeStream(
    request: Partial<streams.DescribeStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.DescribeStreamResponse> {
    return this.#unary(
      "DescribeStream",
      "describeStream",
      streams.DescribeStreamRequest.fromPartial(request),
      options,
    );
  }
  describeStreamSummary(
    request: Partial<streams.DescribeStreamSummaryRequest>,
    options?: CallOptions,
  ): Promise<streams.DescribeStreamSummaryResponse> {
    return this.#unary(
      "DescribeStreamSummary",
      "describeStreamSummary",
      streams.DescribeStreamSummaryRequest.fromPartial(request),
      options,
    );
  }
  listStreams(
    request: Partial<streams.ListStreamsRequest> = {},
    options?: CallOptions,
  ): Promise<streams.ListStreamsResponse> {
    return this.#unary(
      "ListStreams",
      "listStreams",
      streams.ListStreamsRequest.fromPartial(request),
      options,
    );
  }
  listShards(
    request: Partial<streams.ListShardsRequest>,
    options?: CallOptions,
  ): Promise<streams.ListShardsResponse> {
    return this.#unary("ListShards", "listShards", streams.ListShardsRequest.fromPartial(request), options);
  }
  putRecord(
    request: Partial<streams.PutRecordRequest>,
    options?: CallOptions,
  ): Promise<streams.PutRecordResponse> {
    // The hand encoder (put-codec.ts) takes a partial request as fromPartial does.
    return this.#unary("PutRecord", "putRecord", request, options);
  }
  /** PutRecords as it is: per-record failures are in the response (see `producer()` for retries). */
  putRecords(request: streams.PutRecordsRequest, options?: CallOptions): Promise<streams.PutRecordsResponse> {
    return this.#unary("PutRecords", "putRecords", request, options);
  }
  getShardIterator(
    request: Partial<streams.GetShardIteratorRequest>,
    options?: CallOptions,
  ): Promise<streams.GetShardIteratorResponse> {
    return this.#unary(
      "GetShardIterator",
      "getShardIterator",
      streams.GetShardIteratorRequest.fromPartial(request),
      options,
    );
  }
  getRecords(
    request: Partial<streams.GetRecordsRequest>,
    options?: CallOptions,
  ): Promise<streams.GetRecordsResponse> {
    return this.#unary("GetRecords", "getRecords", streams.GetRecordsRequest.fromPartial(request), options);
  }
  increaseStreamRetentionPeriod(
    request: Partial<streams.IncreaseStreamRetentionPeriodRequest>,
    options?: CallOptions,
  ): Promise<streams.IncreaseStreamRetentionPeriodResponse> {
    return this.#unary(
      "IncreaseStreamRetentionPeriod",
      "increaseStreamRetentionPeriod",
      streams.IncreaseStreamRetentionPeriodRequest.fromPartial(request),
      options,
    );
  }
  decreaseStreamRetentionPeriod(
    request: Partial<streams.DecreaseStreamRetentionPeriodRequest>,
    options?: CallOptions,
  ): Promise<streams.DecreaseStreamRetentionPeriodResponse> {
    return this.#unary(
      "DecreaseStreamRetentionPeriod",
      "decreaseStreamRetentionPeriod",
      streams.DecreaseStreamRetentionPeriodRequest.fromPartial(request),
      options,
    );
  }
  enableEnhancedMonitoring(
    request: Partial<streams.EnableEnhancedMonitoringRequest>,
    options?: CallOptions,
  ): Promise<streams.EnableEnhancedMonitoringResponse> {
    return this.#unary(
      "EnableEnhancedMonitoring",
      "enableEnhancedMonitoring",
      streams.EnableEnhancedMonitoringRequest.fromPartial(request),
      options,
    );
  }
  disableEnhancedMonitoring(
    request: Partial<streams.DisableEnhancedMonitoringRequest>,
    options?: CallOptions,
  ): Promise<streams.DisableEnhancedMonitoringResponse> {
    return this.#unary(
      "DisableEnhancedMonitoring",
      "disableEnhancedMonitoring",
      streams.DisableEnhancedMonitoringRequest.fromPartial(request),
      options,
    );
  }
  addTagsToStream(
    request: Partial<streams.AddTagsToStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.AddTagsToStreamResponse> {
    return this.#unary(
      "AddTagsToStream",
      "addTagsToStream",
      streams.AddTagsToStreamRequest.fromPartial(request),
      options,
    );
  }
  removeTagsFromStream(
    request: Partial<streams.RemoveTagsFromStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.RemoveTagsFromStreamResponse> {
    return this.#unary(
      "RemoveTagsFromStream",
      "removeTagsFromStream",
      streams.RemoveTagsFromStreamRequest.fromPartial(request),
      options,
    );
  }
  listTagsForStream(
    request: Partial<streams.ListTagsForStreamRequest>,
    options?: CallOptions,
  ): Promise<streams.ListTagsForStreamResponse> {
    return this.#unary(
      "ListTagsForStream",
      "listTagsForStream",
      streams.ListTagsForStreamRequest.fromPartial(request),
      options,
    );
  }
  registerStreamConsumer(
    request: Partial<streams.RegisterStreamConsumerRequest>,
    options?: CallOptions,
  ): Promise<streams.RegisterStreamConsumerResponse> {
    return this.#unary(
      "RegisterStreamConsumer",
      "registerStreamConsumer",
      streams.RegisterStreamConsumerRequest.fromPartial(request),
      options,
    );
  }
  describeStreamConsumer(
    request: Partial<streams.DescribeStreamConsumerRequest>,
    options?: CallOptions,
  ): Promise<streams.DescribeStreamConsumerResponse> {
    return this.#unary(
      "DescribeStreamConsumer",
      "describeStreamConsumer",
      streams.DescribeStreamConsumerRequest.fromPartial(request),
      options,
    );
  }
  listStreamConsumers(
    request: Partial<streams.ListStreamConsumersRequest>,
    options?: CallOptions,
  ): Promise<streams.ListStreamConsumersResponse> {
    return this.#unary(
      "ListStreamConsumers",
      "listStreamConsumers",
      streams.ListStreamConsumersRequest.fromPartial(request),
      options,
    );
  }
  deregisterStreamConsumer(
    request: Partial<streams.DeregisterStreamConsumerRequest>,
    options?: CallOptions,
  ): Promise<streams.DeregisterStreamConsumerResponse> {
    return this.#unary(
      "DeregisterStreamConsumer",
      "deregisterStreamConsumer",
      streams.DeregisterStreamConsumerRequest.fromPartial(request),
      options,
    );
  }
  updateStreamMode(
    request: Partial<streams.UpdateStreamModeRequest>,
    options?: CallOptions,
  ): Promise<streams.UpdateStreamModeResponse> {
    return this.#unary(
      "UpdateStreamMode",
      "updateStreamMode",
      streams.UpdateStreamModeRequest.fromPartial(request),
      options,
    );
  }
  describeLimits(options?: CallOptions): Promise<streams.DescribeLimitsResponse> {
    return this.#unary(
      "DescribeLimits",
      "describeLimits",
      streams.DescribeLimitsRequest.fromPartial({}),
      options,
    );
  }
  splitShard(
    request: Partial<streams.SplitShardRequest>,
    options?: CallOptions,
  ): Promise<streams.SplitShardResponse> {
    return this.#unary("SplitShard", "splitShard", streams.SplitShardRequest.fromPartial(request), options);
  }
  mergeShards(
    request: Partial<streams.MergeShardsRequest>,
    options?: CallOptions,
  ): Promise<streams.MergeShardsResponse> {
    return this.#unary(
      "MergeShards",
      "mergeShards",
      streams.MergeShardsRequest.fromPartial(request),
      options,
    );
  }
  updateShardCount(
    request: Partial<streams.UpdateShardCountRequest>,
    options?: CallOptions,
  ): Promise<streams.UpdateShardCountResponse> {
    return this.#unary(
      "UpdateShardCount",
      "updateShardCount",
      streams.UpdateShardCountRequest.fromPartial(request),
      options,
    );
  }

  /** Every shard of the stream (open and closed), following ListShards' NextToken. */
  async listAllShards(streamName: string, options?: CallOptions): Promise<streams.Shard[]> {
    const shards: streams.Shard[] = [];
    let response = await this.listShards({ streamName }, options);
    shards.push(...response.shards);
    while (response.nextToken !== "") {
      response = await this.listShards({ nextToken: response.nextToken }, options);
      shards.push(...response.shards);
    }
    return shards;
  }

  /**
   * Polls DescribeStreamSummary until the stream has `status` (ACTIVE by default) and returns
   * the summary; rejects with the last call's error, or a SluiceCallError "RequestTimeout", at
   * `timeoutMs`.
   */
  async waitForStreamStatus(
    streamName: string,
    options: { status?: streams.StreamStatus; timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<streams.StreamDescriptionSummary> {
    const status = options.status ?? streams.StreamStatus.STREAM_STATUS_ACTIVE;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let last = "";
    for (;;) {
      const { streamDescriptionSummary } = await this.describeStreamSummary(
        { streamName },
        options.signal === undefined ? {} : { signal: options.signal },
      );
      if (streamDescriptionSummary !== undefined) {
        if (streamDescriptionSummary.streamStatus === status) return streamDescriptionSummary;
        last = streams.streamStatusToJSON(streamDescriptionSummary.streamStatus);
      }
      if (Date.now() >= deadline) {
        throw new SluiceCallError(
          `stream ${streamName} is still ${last} after ${options.timeoutMs ?? 60_000} ms; check the cluster's logs`,
          {
            code: "DEADLINE_EXCEEDED",
            retriable: true,
            errorName: "RequestTimeout",
            grpcStatus: 4,
            operation: "DescribeStreamSummary",
            endpoint: "",
          },
        );
      }
      await sleep(100, options.signal);
    }
  }

  /** A batching producer into one stream (see ProducerOptions). */
  producer(options: ProducerOptions): Producer {
    this.#assertOpen();
    return new Producer(this, options);
  }

  /** An async iterator over one shard's records through GetRecords (see ShardReaderOptions). */
  shardReader(options: ShardReaderOptions): ShardReader {
    this.#assertOpen();
    return new ShardReader(this, options);
  }

  /** An async iterator over a whole stream, parents before children (see StreamReaderOptions). */
  streamReader(options: StreamReaderOptions): StreamReader {
    this.#assertOpen();
    return new StreamReader(this, options);
  }

  /** An async iterator over SubscribeToShard events that resubscribes by itself (see SubscriptionOptions). */
  subscribe(options: SubscriptionOptions): Subscription {
    this.#assertOpen();
    return new Subscription(this, options);
  }
}
