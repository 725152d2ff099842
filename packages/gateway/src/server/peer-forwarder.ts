/**
 * The client side of the internal ForwardService: sends a shard's records to the node that leads
 * its Raft group, and metadata commands to group 0's leader, over the peers' peer port. One
 * grpc-js channel per peer, opened on first use. A call that cannot reach the peer (down,
 * refused, past its deadline) rejects with PeerUnavailableError (code PEER_UNAVAILABLE,
 * retriable); the caller picks the next leader and retries within its own deadline.
 */
import { credentials, status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";
import type { AppendRecord } from "@sluice/broker";
import { forward } from "@sluice/proto";
import { FORWARD_CALL_TIMEOUT_MS, FORWARD_MESSAGE_BYTES_MAX } from "./constants.js";
import type { LeaderAppendReply } from "./put-records.js";

/** A peer could not be reached or did not answer in time; retry, perhaps on another node. */
export class PeerUnavailableError extends Error {
  override readonly name = "PeerUnavailableError";
  readonly code = "PEER_UNAVAILABLE";
  readonly retriable = true;
  readonly nodeId: number;

  constructor(nodeId: number, message: string, options?: { cause?: unknown }) {
    super(
      `node ${nodeId} is unreachable (${message}); retry, the cluster elects another leader if it is down`,
      options,
    );
    this.nodeId = nodeId;
  }
}

/** A forwarded metadata command the leader refused (not leader, not ready, …). */
export class ForwardRefusedError extends Error {
  override readonly name = "ForwardRefusedError";
  readonly code: string;
  readonly retriable = true;
  readonly leaderHint: number;

  constructor(code: string, message: string, leaderHint: number) {
    super(message);
    this.code = code;
    this.leaderHint = leaderHint;
  }
}

export interface PeerForwarder {
  putRecords(
    nodeId: number,
    streamId: number,
    groupId: number,
    records: readonly AppendRecord[],
    deadlineAtMs: number,
  ): Promise<LeaderAppendReply>;
  /** Resolves with the encoded command result; rejects ForwardRefusedError or PeerUnavailableError. */
  metadataCommand(nodeId: number, command: Buffer, deadlineAtMs: number): Promise<Buffer>;
  close(): void;
}

export class GrpcPeerForwarder implements PeerForwarder {
  private readonly addresses: ReadonlyMap<number, string>;
  private readonly clients = new Map<number, forward.ForwardServiceClient>();
  private readonly clock: () => number;

  /** `addresses`: node id → "host:port" of its peer port. */
  constructor(addresses: ReadonlyMap<number, string>, clock: () => number = Date.now) {
    this.addresses = addresses;
    this.clock = clock;
  }

  putRecords(
    nodeId: number,
    streamId: number,
    groupId: number,
    records: readonly AppendRecord[],
    deadlineAtMs: number,
  ): Promise<LeaderAppendReply> {
    const request: forward.ForwardPutRecordsRequest = {
      streamId,
      groupId,
      records: records.map((record) => ({
        partitionKey: record.partitionKey,
        data: record.data as Buffer,
        explicitHashKey: record.explicitHashKey ?? "",
      })),
      deadlineUnixMs: deadlineAtMs,
    };
    const client = this.client(nodeId);
    return new Promise((resolve, reject) => {
      client.forwardPutRecords(
        request,
        new Metadata(),
        { deadline: this.callDeadline(deadlineAtMs) },
        (error, response) => {
          if (error !== null) {
            reject(this.mapError(nodeId, error));
            return;
          }
          resolve({
            accepted: response.acceptedCount,
            index: response.index,
            errorCode: response.errorCode,
            errorMessage: response.errorMessage,
            leaderHint: response.leaderHint,
          });
        },
      );
    });
  }

  metadataCommand(nodeId: number, command: Buffer, deadlineAtMs: number): Promise<Buffer> {
    const client = this.client(nodeId);
    return new Promise((resolve, reject) => {
      client.forwardMetadataCommand(
        { command, deadlineUnixMs: deadlineAtMs },
        new Metadata(),
        { deadline: this.callDeadline(deadlineAtMs) },
        (error, response) => {
          if (error !== null) {
            reject(this.mapError(nodeId, error));
            return;
          }
          if (response.errorCode !== "") {
            reject(new ForwardRefusedError(response.errorCode, response.errorMessage, response.leaderHint));
            return;
          }
          resolve(response.result);
        },
      );
    });
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }

  private callDeadline(deadlineAtMs: number): number {
    return Math.min(deadlineAtMs, this.clock() + FORWARD_CALL_TIMEOUT_MS);
  }

  private client(nodeId: number): forward.ForwardServiceClient {
    let client = this.clients.get(nodeId);
    if (client === undefined) {
      const address = this.addresses.get(nodeId);
      if (address === undefined)
        throw new PeerUnavailableError(nodeId, "no peer address is configured for it");
      client = new forward.ForwardServiceClient(address, credentials.createInsecure(), {
        "grpc.max_send_message_length": FORWARD_MESSAGE_BYTES_MAX,
        "grpc.max_receive_message_length": FORWARD_MESSAGE_BYTES_MAX,
        "grpc.initial_reconnect_backoff_ms": 100,
        "grpc.max_reconnect_backoff_ms": 1_000,
      });
      this.clients.set(nodeId, client);
    }
    return client;
  }

  private mapError(nodeId: number, error: ServiceError): Error {
    if (
      error.code === GrpcStatus.UNAVAILABLE ||
      error.code === GrpcStatus.DEADLINE_EXCEEDED ||
      error.code === GrpcStatus.CANCELLED
    ) {
      return new PeerUnavailableError(nodeId, error.details, { cause: error });
    }
    return new PeerUnavailableError(nodeId, `${GrpcStatus[error.code]}: ${error.details}`, { cause: error });
  }
}
