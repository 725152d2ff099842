/**
 * A promise-based client of one node's admin service and gRPC health, with a deadline on every
 * call and the node's stable error code lifted out of the status (`AdminCallError.errorCode`,
 * `leaderHint` for NOT_LEADER).
 */
import { type CallOptions, status as GrpcStatus, type Metadata, type ServiceError } from "@grpc/grpc-js";
import { admin, health } from "@sluice/proto";
import { type ConnectionOptions, callMetadataOf, channelCredentialsOf } from "./connection.js";
import {
  ADMIN_CALL_TIMEOUT_MS_DEFAULT,
  GRPC_MESSAGE_BYTES_MAX,
  GRPC_STREAM_WINDOW_BYTES,
  RECONNECT_BACKOFF_MS_MAX,
} from "./constants.js";

export class AdminCallError extends Error {
  override readonly name = "AdminCallError";
  /** The gRPC status code. */
  readonly grpcCode: GrpcStatus;
  /** The node's stable error code (NOT_LEADER, UNKNOWN_GROUP, …), or the gRPC status name. */
  readonly code: string;
  /** For NOT_LEADER: the leader this node knows, 0 when none. */
  readonly leaderHint: number;
  /** True for errors after which the same call may succeed (no leader yet, node down). */
  readonly retriable: boolean;
  constructor(method: string, address: string, error: ServiceError) {
    const code = String(error.metadata?.get("sluice-error-code")[0] ?? GrpcStatus[error.code] ?? error.code);
    super(`${method} on ${address}: ${error.details || error.message}`, { cause: error });
    this.grpcCode = error.code;
    this.code = code;
    this.leaderHint = Number(error.metadata?.get("sluice-leader-hint")[0] ?? 0);
    this.retriable =
      error.code === GrpcStatus.UNAVAILABLE ||
      error.code === GrpcStatus.DEADLINE_EXCEEDED ||
      error.code === GrpcStatus.FAILED_PRECONDITION ||
      error.code === GrpcStatus.RESOURCE_EXHAUSTED;
  }
}

export interface AppendRecord {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly explicitHashKey?: string;
}

type Callback<T> = (error: ServiceError | null, response: T) => void;

export class AdminClient {
  readonly address: string;
  readonly #client: admin.AdminServiceClient;
  readonly #health: health.HealthClient;
  readonly #timeoutMs: number;
  /** Each call's metadata (the bearer key, when the client has one). */
  readonly #metadata: () => Metadata;

  /**
   * `tls.ca`: the CA of a node started with TLS (PEM); absent, plaintext. `credentials`: an access
   * key allowed sluice:Admin, sent with every admin call (a node with --auth-keys refuses admin
   * calls without one); health is open and ignores it.
   */
  constructor(address: string, options: ConnectionOptions & { timeoutMs?: number } = {}) {
    this.address = address;
    this.#metadata = callMetadataOf(options);
    this.#timeoutMs = options.timeoutMs ?? ADMIN_CALL_TIMEOUT_MS_DEFAULT;
    const channelOptions = {
      "grpc.max_receive_message_length": GRPC_MESSAGE_BYTES_MAX,
      "grpc.max_send_message_length": GRPC_MESSAGE_BYTES_MAX,
      "grpc.enable_channelz": 0,
      // Reads return megabytes; HTTP/2's default 64 KiB window would cost a round trip per 64 KiB.
      "grpc-node.flow_control_window": GRPC_STREAM_WINDOW_BYTES,
      // A killed and restarted node is found again quickly.
      "grpc.initial_reconnect_backoff_ms": 50,
      "grpc.min_reconnect_backoff_ms": 50,
      "grpc.max_reconnect_backoff_ms": RECONNECT_BACKOFF_MS_MAX,
    };
    const channelCredentials = channelCredentialsOf(options);
    this.#client = new admin.AdminServiceClient(address, channelCredentials, channelOptions);
    this.#health = new health.HealthClient(address, channelCredentials, channelOptions);
  }

  #call<Req, Res>(
    method: string,
    invoke: (
      request: Req,
      metadata: Metadata,
      options: Partial<CallOptions>,
      callback: Callback<Res>,
    ) => unknown,
    request: Req,
    timeoutMs?: number,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      invoke(
        request,
        this.#metadata(),
        { deadline: Date.now() + (timeoutMs ?? this.#timeoutMs) },
        (error, response) => {
          if (error === null) resolve(response);
          else reject(new AdminCallError(method, this.address, error));
        },
      );
    });
  }

  ensureGroup(
    groupId: number,
    voters: readonly number[],
    timeoutMs?: number,
  ): Promise<admin.EnsureGroupResponse> {
    return this.#call(
      "EnsureGroup",
      this.#client.ensureGroup.bind(this.#client),
      { groupId, voters: [...voters] },
      timeoutMs,
    );
  }

  append(
    groupId: number,
    records: readonly AppendRecord[],
    timeoutMs?: number,
  ): Promise<admin.AppendResponse> {
    return this.#call(
      "Append",
      this.#client.append.bind(this.#client),
      {
        groupId,
        records: records.map((record) => ({
          partitionKey: record.partitionKey,
          data: record.data,
          explicitHashKey: record.explicitHashKey ?? "",
        })),
      },
      timeoutMs,
    );
  }

  read(
    groupId: number,
    fromIndex: number,
    limits: { maxRecords?: number; maxBytes?: number; fromOffset?: number } = {},
    timeoutMs?: number,
  ): Promise<admin.ReadResponse> {
    return this.#call(
      "Read",
      this.#client.read.bind(this.#client),
      {
        groupId,
        fromIndex,
        fromOffset: limits.fromOffset ?? 0,
        maxRecords: limits.maxRecords ?? 0,
        maxBytes: limits.maxBytes ?? 0,
      },
      timeoutMs,
    );
  }

  /** Every committed record of the group on this replica from `fromIndex` on, page by page. */
  async readAll(groupId: number, fromIndex = 1, timeoutMs?: number): Promise<admin.ReadRecord[]> {
    const records: admin.ReadRecord[] = [];
    let index = fromIndex;
    let offset = 0;
    for (;;) {
      const page = await this.read(groupId, index, { fromOffset: offset }, timeoutMs);
      records.push(...page.records);
      if (page.records.length === 0) return records;
      index = page.nextIndex;
      offset = page.nextOffset;
    }
  }

  groupStatus(groupId: number, timeoutMs?: number): Promise<admin.GroupStatusResponse> {
    return this.#call("GroupStatus", this.#client.groupStatus.bind(this.#client), { groupId }, timeoutMs);
  }

  logChecksum(groupId: number, upToIndex: number, timeoutMs?: number): Promise<admin.LogChecksumResponse> {
    return this.#call(
      "LogChecksum",
      this.#client.logChecksum.bind(this.#client),
      { groupId, upToIndex },
      timeoutMs,
    );
  }

  nodeStatus(timeoutMs?: number): Promise<admin.NodeStatusResponse> {
    return this.#call("NodeStatus", this.#client.nodeStatus.bind(this.#client), {}, timeoutMs);
  }

  transferLeader(
    groupId: number,
    toNodeId: number,
    timeoutMs?: number,
  ): Promise<admin.TransferLeaderResponse> {
    return this.#call(
      "TransferLeader",
      this.#client.transferLeader.bind(this.#client),
      { groupId, toNodeId },
      timeoutMs,
    );
  }

  /**
   * "SERVING", "NOT_SERVING", … from grpc.health.v1 for `service` ("" is the whole node, which
   * serves once its storage is open; "sluice.v1.StreamsService" serves once the metadata service
   * has a quorum); rejects when the node does not answer.
   */
  async health(timeoutMs = 1_000, service = ""): Promise<string> {
    const response = await this.#call<health.HealthCheckRequest, health.HealthCheckResponse>(
      "Health.Check",
      this.#health.check.bind(this.#health),
      { service },
      timeoutMs,
    );
    return health.healthCheckResponse_ServingStatusToJSON(response.status);
  }

  close(): void {
    this.#client.close();
    this.#health.close();
  }
}
