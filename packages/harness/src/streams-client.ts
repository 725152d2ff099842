/**
 * A promise-based client of one node's public API (sluice.v1.StreamsService) for tests and
 * benchmarks: one method per Kinesis operation, a deadline on every call, and failures as
 * StreamsCallError carrying the Kinesis error name and Sluice's code from the status (the
 * `sluice-error-name` / `sluice-error-code` trailers the gateway sets next to the status details).
 */
import {
  type ClientReadableStream,
  status as GrpcStatus,
  type Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import { StreamsServiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import { type ConnectionOptions, callMetadataOf, channelCredentialsOf } from "./connection.js";
import { GRPC_MESSAGE_BYTES_MAX, STREAMS_CALL_TIMEOUT_MS_DEFAULT } from "./constants.js";

export class StreamsCallError extends Error {
  override readonly name = "StreamsCallError";
  readonly grpcCode: GrpcStatus;
  /** The Kinesis error name (ResourceNotFoundException, …), or "" when the gateway gave none. */
  readonly errorName: string;
  /** Sluice's stable error code, or the gRPC status name. */
  readonly code: string;
  readonly details: string;
  constructor(method: string, address: string, error: ServiceError) {
    super(`${method} on ${address}: ${error.details || error.message}`, { cause: error });
    this.grpcCode = error.code;
    this.errorName = String(error.metadata?.get("sluice-error-name")[0] ?? "");
    this.code = String(error.metadata?.get("sluice-error-code")[0] ?? GrpcStatus[error.code] ?? error.code);
    this.details = error.details;
  }
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

export class StreamsClient {
  readonly address: string;
  readonly raw: streams.StreamsServiceClient;
  readonly #timeoutMs: number;
  /** Each call's metadata (the bearer key, when the client has one). */
  readonly #metadata: () => Metadata;

  /**
   * `tls.ca`: the CA of a node started with TLS (PEM); absent, plaintext. `credentials`: an access
   * key of a node started with --auth-keys, sent as a bearer token on every call (over TLS only,
   * in production); absent, calls are anonymous.
   */
  constructor(address: string, options: ConnectionOptions & { timeoutMs?: number } = {}) {
    this.address = address;
    this.#timeoutMs = options.timeoutMs ?? STREAMS_CALL_TIMEOUT_MS_DEFAULT;
    this.#metadata = callMetadataOf(options);
    this.raw = new StreamsServiceClient(address, channelCredentialsOf(options), {
      "grpc.max_receive_message_length": GRPC_MESSAGE_BYTES_MAX,
      "grpc.max_send_message_length": GRPC_MESSAGE_BYTES_MAX,
      "grpc.enable_channelz": 0,
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": 500,
    });
  }

  #unary<Req, Res>(name: string, method: Unary<Req, Res>, request: Req, timeoutMs?: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      method.call(
        this.raw,
        request,
        this.#metadata(),
        { deadline: Date.now() + (timeoutMs ?? this.#timeoutMs) },
        (error, response) => {
          if (error !== null) reject(new StreamsCallError(name, this.address, error));
          else resolve(response);
        },
      );
    });
  }

  createStream(
    request: Partial<streams.CreateStreamRequest>,
    timeoutMs?: number,
  ): Promise<streams.CreateStreamResponse> {
    return this.#unary(
      "CreateStream",
      this.raw.createStream as never,
      streams.CreateStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  deleteStream(
    request: Partial<streams.DeleteStreamRequest>,
    timeoutMs?: number,
  ): Promise<streams.DeleteStreamResponse> {
    return this.#unary(
      "DeleteStream",
      this.raw.deleteStream as never,
      streams.DeleteStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  describeStream(
    request: Partial<streams.DescribeStreamRequest>,
    timeoutMs?: number,
  ): Promise<streams.DescribeStreamResponse> {
    return this.#unary(
      "DescribeStream",
      this.raw.describeStream as never,
      streams.DescribeStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  describeStreamSummary(
    request: Partial<streams.DescribeStreamSummaryRequest>,
    timeoutMs?: number,
  ): Promise<streams.DescribeStreamSummaryResponse> {
    return this.#unary(
      "DescribeStreamSummary",
      this.raw.describeStreamSummary as never,
      streams.DescribeStreamSummaryRequest.fromPartial(request),
      timeoutMs,
    );
  }
  listStreams(
    request: Partial<streams.ListStreamsRequest>,
    timeoutMs?: number,
  ): Promise<streams.ListStreamsResponse> {
    return this.#unary(
      "ListStreams",
      this.raw.listStreams as never,
      streams.ListStreamsRequest.fromPartial(request),
      timeoutMs,
    );
  }
  listShards(
    request: Partial<streams.ListShardsRequest>,
    timeoutMs?: number,
  ): Promise<streams.ListShardsResponse> {
    return this.#unary(
      "ListShards",
      this.raw.listShards as never,
      streams.ListShardsRequest.fromPartial(request),
      timeoutMs,
    );
  }
  putRecord(
    request: Partial<streams.PutRecordRequest>,
    timeoutMs?: number,
  ): Promise<streams.PutRecordResponse> {
    return this.#unary(
      "PutRecord",
      this.raw.putRecord as never,
      request, // the client's hand encoder takes a partial request as fromPartial does
      timeoutMs,
    );
  }
  putRecords(
    request: Partial<streams.PutRecordsRequest>,
    timeoutMs?: number,
  ): Promise<streams.PutRecordsResponse> {
    return this.#unary("PutRecords", this.raw.putRecords as never, request, timeoutMs);
  }
  getShardIterator(
    request: Partial<streams.GetShardIteratorRequest>,
    timeoutMs?: number,
  ): Promise<streams.GetShardIteratorResponse> {
    return this.#unary(
      "GetShardIterator",
      this.raw.getShardIterator as never,
      streams.GetShardIteratorRequest.fromPartial(request),
      timeoutMs,
    );
  }
  getRecords(
    request: Partial<streams.GetRecordsRequest>,
    timeoutMs?: number,
  ): Promise<streams.GetRecordsResponse> {
    return this.#unary(
      "GetRecords",
      this.raw.getRecords as never,
      streams.GetRecordsRequest.fromPartial(request),
      timeoutMs,
    );
  }
  increaseStreamRetentionPeriod(
    request: Partial<streams.IncreaseStreamRetentionPeriodRequest>,
    timeoutMs?: number,
  ) {
    return this.#unary<
      streams.IncreaseStreamRetentionPeriodRequest,
      streams.IncreaseStreamRetentionPeriodResponse
    >(
      "IncreaseStreamRetentionPeriod",
      this.raw.increaseStreamRetentionPeriod as never,
      streams.IncreaseStreamRetentionPeriodRequest.fromPartial(request),
      timeoutMs,
    );
  }
  decreaseStreamRetentionPeriod(
    request: Partial<streams.DecreaseStreamRetentionPeriodRequest>,
    timeoutMs?: number,
  ) {
    return this.#unary<
      streams.DecreaseStreamRetentionPeriodRequest,
      streams.DecreaseStreamRetentionPeriodResponse
    >(
      "DecreaseStreamRetentionPeriod",
      this.raw.decreaseStreamRetentionPeriod as never,
      streams.DecreaseStreamRetentionPeriodRequest.fromPartial(request),
      timeoutMs,
    );
  }
  addTagsToStream(request: Partial<streams.AddTagsToStreamRequest>, timeoutMs?: number) {
    return this.#unary<streams.AddTagsToStreamRequest, streams.AddTagsToStreamResponse>(
      "AddTagsToStream",
      this.raw.addTagsToStream as never,
      streams.AddTagsToStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  removeTagsFromStream(request: Partial<streams.RemoveTagsFromStreamRequest>, timeoutMs?: number) {
    return this.#unary<streams.RemoveTagsFromStreamRequest, streams.RemoveTagsFromStreamResponse>(
      "RemoveTagsFromStream",
      this.raw.removeTagsFromStream as never,
      streams.RemoveTagsFromStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  listTagsForStream(request: Partial<streams.ListTagsForStreamRequest>, timeoutMs?: number) {
    return this.#unary<streams.ListTagsForStreamRequest, streams.ListTagsForStreamResponse>(
      "ListTagsForStream",
      this.raw.listTagsForStream as never,
      streams.ListTagsForStreamRequest.fromPartial(request),
      timeoutMs,
    );
  }
  registerStreamConsumer(request: Partial<streams.RegisterStreamConsumerRequest>, timeoutMs?: number) {
    return this.#unary<streams.RegisterStreamConsumerRequest, streams.RegisterStreamConsumerResponse>(
      "RegisterStreamConsumer",
      this.raw.registerStreamConsumer as never,
      streams.RegisterStreamConsumerRequest.fromPartial(request),
      timeoutMs,
    );
  }
  describeStreamConsumer(request: Partial<streams.DescribeStreamConsumerRequest>, timeoutMs?: number) {
    return this.#unary<streams.DescribeStreamConsumerRequest, streams.DescribeStreamConsumerResponse>(
      "DescribeStreamConsumer",
      this.raw.describeStreamConsumer as never,
      streams.DescribeStreamConsumerRequest.fromPartial(request),
      timeoutMs,
    );
  }
  listStreamConsumers(request: Partial<streams.ListStreamConsumersRequest>, timeoutMs?: number) {
    return this.#unary<streams.ListStreamConsumersRequest, streams.ListStreamConsumersResponse>(
      "ListStreamConsumers",
      this.raw.listStreamConsumers as never,
      streams.ListStreamConsumersRequest.fromPartial(request),
      timeoutMs,
    );
  }
  deregisterStreamConsumer(request: Partial<streams.DeregisterStreamConsumerRequest>, timeoutMs?: number) {
    return this.#unary<streams.DeregisterStreamConsumerRequest, streams.DeregisterStreamConsumerResponse>(
      "DeregisterStreamConsumer",
      this.raw.deregisterStreamConsumer as never,
      streams.DeregisterStreamConsumerRequest.fromPartial(request),
      timeoutMs,
    );
  }
  updateStreamMode(request: Partial<streams.UpdateStreamModeRequest>, timeoutMs?: number) {
    return this.#unary<streams.UpdateStreamModeRequest, streams.UpdateStreamModeResponse>(
      "UpdateStreamMode",
      this.raw.updateStreamMode as never,
      streams.UpdateStreamModeRequest.fromPartial(request),
      timeoutMs,
    );
  }
  splitShard(request: Partial<streams.SplitShardRequest>, timeoutMs?: number) {
    return this.#unary<streams.SplitShardRequest, streams.SplitShardResponse>(
      "SplitShard",
      this.raw.splitShard as never,
      streams.SplitShardRequest.fromPartial(request),
      timeoutMs,
    );
  }
  mergeShards(request: Partial<streams.MergeShardsRequest>, timeoutMs?: number) {
    return this.#unary<streams.MergeShardsRequest, streams.MergeShardsResponse>(
      "MergeShards",
      this.raw.mergeShards as never,
      streams.MergeShardsRequest.fromPartial(request),
      timeoutMs,
    );
  }
  /** UpdateShardCount; `scalingType` defaults to nothing (give UNIFORM_SCALING, as Kinesis requires). */
  updateShardCount(request: Partial<streams.UpdateShardCountRequest>, timeoutMs?: number) {
    return this.#unary<streams.UpdateShardCountRequest, streams.UpdateShardCountResponse>(
      "UpdateShardCount",
      this.raw.updateShardCount as never,
      streams.UpdateShardCountRequest.fromPartial(request),
      timeoutMs,
    );
  }
  describeLimits(timeoutMs?: number) {
    return this.#unary<streams.DescribeLimitsRequest, streams.DescribeLimitsResponse>(
      "DescribeLimits",
      this.raw.describeLimits as never,
      {},
      timeoutMs,
    );
  }

  /** Opens a SubscribeToShard stream (no deadline: it ends after 5 minutes, or when cancelled). */
  subscribeToShard(
    request: Partial<streams.SubscribeToShardRequest>,
  ): ClientReadableStream<streams.SubscribeToShardResponse> {
    return this.raw.subscribeToShard(streams.SubscribeToShardRequest.fromPartial(request), this.#metadata());
  }

  /** Creates a stream and waits until it is ACTIVE (the Kinesis "stream exists" waiter). */
  async createActiveStream(
    request: Partial<streams.CreateStreamRequest>,
    timeoutMs = 30_000,
  ): Promise<streams.StreamDescriptionSummary> {
    await this.createStream(request);
    return this.waitStreamStatus(
      request.streamName ?? "",
      streams.StreamStatus.STREAM_STATUS_ACTIVE,
      timeoutMs,
    );
  }

  /** Polls DescribeStreamSummary until the stream has `status`. */
  async waitStreamStatus(
    streamName: string,
    status: streams.StreamStatus,
    timeoutMs = 30_000,
  ): Promise<streams.StreamDescriptionSummary> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const summary = (await this.describeStreamSummary({ streamName })).streamDescriptionSummary;
      if (summary !== undefined && summary.streamStatus === status) return summary;
      if (Date.now() > deadline) {
        throw new Error(
          `stream ${streamName} did not become ${streams.StreamStatus[status]} within ${timeoutMs} ms (it is ${summary === undefined ? "?" : streams.StreamStatus[summary.streamStatus]})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  close(): void {
    this.raw.close();
  }
}
