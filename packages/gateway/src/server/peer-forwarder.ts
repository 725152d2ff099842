/**
 * The client side of the internal ForwardService: sends shards' record batches to the nodes that
 * lead their Raft groups, and metadata commands to group 0's leader, over the peers' peer port.
 * One grpc-js channel per peer, opened on first use.
 *
 * Batches for one node travel together: every `putRecords` call made for a node during one turn
 * of the event loop (all the shards of a PutRecords request, and those of the other requests
 * handled in the same turn) is sent in ONE ForwardPutRecords call, flushed by setImmediate, split
 * only when the message would pass FORWARD_BATCHES_BYTES_MAX. Each caller gets its own batch's
 * result. A call that cannot reach the peer (down, refused, past its deadline) rejects every
 * batch in it with PeerUnavailableError (code PEER_UNAVAILABLE, retriable); the caller picks the
 * next leader and retries within its own deadline.
 */
import {
  type ChannelCredentials,
  credentials,
  status as GrpcStatus,
  Metadata,
  type ServiceError,
} from "@grpc/grpc-js";
import type { forward } from "@sluice/proto";
import {
  FORWARD_BATCH_OVERHEAD_BYTES,
  FORWARD_BATCHES_BYTES_MAX,
  FORWARD_CALL_TIMEOUT_MS,
  FORWARD_MESSAGE_BYTES_MAX,
} from "./constants.js";
import { ForwardServiceClient } from "./forward-codec.js";
import type { LeaderAppendReply } from "./leader-append.js";

/** A peer could not be reached or did not answer in time; retry, perhaps on another node. */
export class PeerUnavailableError extends Error {
  override readonly name = "PeerUnavailableError";
  readonly code = "PEER_UNAVAILABLE";
  readonly retriable = true;
  readonly nodeId: number;
  /**
   * False when the request certainly never reached the peer (no connection could be made, no
   * address, this node stopping before sending): nothing was written. True when it may have
   * reached it (cut mid-call, deadline passed): the outcome is unknown.
   */
  readonly sent: boolean;

  constructor(nodeId: number, message: string, options?: { cause?: unknown; sent?: boolean }) {
    super(
      `node ${nodeId} is unreachable (${message}); retry, the cluster elects another leader if it is down`,
      options,
    );
    this.nodeId = nodeId;
    this.sent = options?.sent ?? true;
  }
}

/**
 * grpc-js's details when a call failed before any byte of it left: the channel had no connection
 * and could not make one (refused, unresolvable, timed out connecting).
 */
const NOT_CONNECTED_DETAILS =
  /No connection established|ECONNREFUSED|Failed to connect|EHOSTUNREACH|ENETUNREACH/;

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
  /**
   * Has node `nodeId` append `batch` — one shard's records encoded by encodeRecordBatchOf, arrival
   * stamp 0; read (copied into the call) before the returned promise settles, never kept — to the
   * shard of group `groupId` in stream instance `streamId`. Resolves with what the leader did;
   * rejects PeerUnavailableError. A call gathering several batches runs to the latest of their
   * deadlines (and at most FORWARD_CALL_TIMEOUT_MS).
   */
  putRecords(
    nodeId: number,
    streamId: number,
    groupId: number,
    batch: Buffer,
    deadlineAtMs: number,
  ): Promise<LeaderAppendReply>;
  /** Resolves with the encoded command result; rejects ForwardRefusedError or PeerUnavailableError. */
  metadataCommand(nodeId: number, command: Buffer, deadlineAtMs: number): Promise<Buffer>;
  close(): void;
}

/** One batch waiting for its node's next ForwardPutRecords call. */
interface PendingBatch {
  readonly batch: forward.ForwardShardBatch;
  readonly resolve: (reply: LeaderAppendReply) => void;
  readonly reject: (error: Error) => void;
}

/** The batches gathered for one node during this turn of the event loop. */
interface Outgoing {
  pending: PendingBatch[];
  bytes: number;
  deadlineAtMs: number;
}

export class GrpcPeerForwarder implements PeerForwarder {
  private readonly addresses: ReadonlyMap<number, string>;
  private readonly clients = new Map<number, forward.ForwardServiceClient>();
  private readonly clock: () => number;
  private readonly credentialsFor: (nodeId: number) => ChannelCredentials;
  private readonly outgoing = new Map<number, Outgoing>();
  private flushScheduled = false;

  /**
   * `addresses`: node id → "host:port" of its peer port. `credentialsFor`: the channel
   * credentials to reach a node (mutual TLS on the peer port), asked once per node when its
   * client is created; insecure by default.
   */
  constructor(
    addresses: ReadonlyMap<number, string>,
    clock: () => number = Date.now,
    credentialsFor: (nodeId: number) => ChannelCredentials = () => credentials.createInsecure(),
  ) {
    this.addresses = addresses;
    this.clock = clock;
    this.credentialsFor = credentialsFor;
  }

  putRecords(
    nodeId: number,
    streamId: number,
    groupId: number,
    batch: Buffer,
    deadlineAtMs: number,
  ): Promise<LeaderAppendReply> {
    if (!this.addresses.has(nodeId)) {
      return Promise.reject(
        new PeerUnavailableError(nodeId, "no peer address is configured for it", { sent: false }),
      );
    }
    return new Promise((resolve, reject) => {
      let queue = this.outgoing.get(nodeId);
      const bytes = batch.length + FORWARD_BATCH_OVERHEAD_BYTES;
      if (queue !== undefined && queue.bytes + bytes > FORWARD_BATCHES_BYTES_MAX) {
        // This one would make the message too large: send what is gathered, start another.
        this.outgoing.delete(nodeId);
        this.send(nodeId, queue);
        queue = undefined;
      }
      if (queue === undefined) {
        queue = { pending: [], bytes: 0, deadlineAtMs };
        this.outgoing.set(nodeId, queue);
      }
      queue.pending.push({ batch: { streamId, groupId, records: batch }, resolve, reject });
      queue.bytes += bytes;
      queue.deadlineAtMs = Math.max(queue.deadlineAtMs, deadlineAtMs);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const [nodeId, queue] of this.outgoing) this.send(nodeId, queue);
    this.outgoing.clear();
  }

  /** One ForwardPutRecords call with every batch of `queue`; settles each batch's promise. */
  private send(nodeId: number, queue: Outgoing): void {
    const { pending } = queue;
    let client: forward.ForwardServiceClient;
    try {
      client = this.client(nodeId);
    } catch (error) {
      for (const item of pending) item.reject(error as Error);
      return;
    }
    const batches = new Array<forward.ForwardShardBatch>(pending.length);
    for (let i = 0; i < pending.length; i++) batches[i] = (pending[i] as PendingBatch).batch;
    client.forwardPutRecords(
      { batches, deadlineUnixMs: queue.deadlineAtMs },
      new Metadata(),
      { deadline: this.callDeadline(queue.deadlineAtMs) },
      (error, response) => {
        if (error !== null) {
          const mapped = this.mapError(nodeId, error);
          for (const item of pending) item.reject(mapped);
          return;
        }
        for (let i = 0; i < pending.length; i++) {
          const item = pending[i] as PendingBatch;
          const result = response.results[i];
          if (result === undefined) {
            item.reject(
              new PeerUnavailableError(
                nodeId,
                `it answered ${response.results.length} results for ${pending.length} batches (another version?)`,
              ),
            );
            continue;
          }
          item.resolve({
            accepted: result.acceptedCount,
            index: result.index,
            errorCode: result.errorCode,
            errorMessage: result.errorMessage,
            leaderHint: result.leaderHint,
            firstOffset: result.firstOffset,
          });
        }
      },
    );
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
    for (const [nodeId, queue] of this.outgoing) {
      for (const item of queue.pending)
        item.reject(new PeerUnavailableError(nodeId, "this node is stopping", { sent: false }));
    }
    this.outgoing.clear();
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
        throw new PeerUnavailableError(nodeId, "no peer address is configured for it", { sent: false });
      client = new ForwardServiceClient(address, this.credentialsFor(nodeId), {
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
      const sent = !(error.code === GrpcStatus.UNAVAILABLE && NOT_CONNECTED_DETAILS.test(error.details));
      return new PeerUnavailableError(nodeId, error.details, { cause: error, sent });
    }
    return new PeerUnavailableError(nodeId, `${GrpcStatus[error.code]}: ${error.details}`, { cause: error });
  }
}
