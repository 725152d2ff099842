/**
 * The client side of the internal ForwardService: sends shards' record batches to the nodes that
 * lead their Raft groups, and metadata commands to group 0's leader, over the peers' peer port.
 *
 * Batches for one node travel together: every `putRecords` call made for a node during one turn
 * of the event loop (all the shards of a PutRecords request, and those of the other requests
 * handled in the same turn) is sent as ONE request, flushed by setImmediate, split only when the
 * message would pass FORWARD_BATCHES_BYTES_MAX. Each caller gets its own batch's result. A
 * request that cannot reach the peer (down, refused, past its deadline, too many outstanding)
 * rejects every batch in it with PeerUnavailableError (code PEER_UNAVAILABLE, retriable); the
 * caller picks the next leader and retries within its own deadline.
 *
 * The requests travel on one long-lived ForwardStream per peer, written to node:http2 directly
 * (forward-stream.ts): a request and its answer on an open stream cost a fraction of a unary
 * gRPC call's CPU. Metadata commands, and batches for a peer that does not serve ForwardStream
 * (an older version answers UNIMPLEMENTED), go as unary ForwardService calls on a grpc-js
 * channel per peer, opened on first use.
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
import { ForwardRefusedError, PeerUnavailableError } from "./forward-errors.js";
import { ForwardStream, type ForwardStreamTls } from "./forward-stream.js";
import type { LeaderAppendReply } from "./leader-append.js";

/**
 * grpc-js's details when a call failed before any byte of it left: the channel had no connection
 * and could not make one (refused, unresolvable, timed out connecting).
 */
const NOT_CONNECTED_DETAILS =
  /No connection established|ECONNREFUSED|Failed to connect|EHOSTUNREACH|ENETUNREACH/;

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

export interface GrpcPeerForwarderOptions {
  /** Node id → "host:port" of its peer port. */
  readonly addresses: ReadonlyMap<number, string>;
  /** ms since the epoch, for deadlines. @default Date.now */
  readonly clock?: () => number;
  /**
   * The grpc-js channel credentials to reach a node for unary calls (mutual TLS on the peer
   * port), asked once per node when its client is created. @default insecure
   */
  readonly credentialsFor?: (nodeId: number) => ChannelCredentials;
  /**
   * Mutual TLS of the ForwardStreams, as the peer port requires it (the same material as
   * `credentialsFor`'s). @default undefined (plaintext)
   */
  readonly streamTls?: ForwardStreamTls | undefined;
  /**
   * Forward batches on a ForwardStream per peer; false sends every batch as a unary
   * ForwardPutRecords call (what nodes of the previous version do). @default true
   */
  readonly useStreams?: boolean;
}

export class GrpcPeerForwarder implements PeerForwarder {
  private readonly addresses: ReadonlyMap<number, string>;
  private readonly clients = new Map<number, forward.ForwardServiceClient>();
  private readonly streams = new Map<number, ForwardStream>();
  private readonly clock: () => number;
  private readonly credentialsFor: (nodeId: number) => ChannelCredentials;
  private readonly streamTls: ForwardStreamTls | undefined;
  private readonly useStreams: boolean;
  private readonly outgoing = new Map<number, Outgoing>();
  private flushScheduled = false;
  private closed = false;

  constructor(options: GrpcPeerForwarderOptions) {
    this.addresses = options.addresses;
    this.clock = options.clock ?? Date.now;
    this.credentialsFor = options.credentialsFor ?? (() => credentials.createInsecure());
    this.streamTls = options.streamTls;
    this.useStreams = options.useStreams ?? true;
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

  /** One request with every batch of `queue`; settles each batch's promise. */
  private send(nodeId: number, queue: Outgoing): void {
    const stream = this.useStreams ? this.stream(nodeId) : undefined;
    if (stream !== undefined && !stream.unsupported) {
      this.sendOnStream(nodeId, stream, queue);
      return;
    }
    this.sendUnary(nodeId, queue);
  }

  private sendOnStream(nodeId: number, stream: ForwardStream, queue: Outgoing): void {
    const { pending } = queue;
    const batches = new Array<forward.ForwardShardBatch>(pending.length);
    for (let i = 0; i < pending.length; i++) batches[i] = (pending[i] as PendingBatch).batch;
    stream.send(batches, queue.bytes, this.callDeadline(queue.deadlineAtMs), (error, results) => {
      if (error !== null) {
        for (const item of pending) item.reject(error);
        return;
      }
      for (let i = 0; i < pending.length; i++) {
        const result = results[i];
        if (result === undefined) {
          (pending[i] as PendingBatch).reject(new PeerUnavailableError(nodeId, "it sent too few results"));
        } else {
          (pending[i] as PendingBatch).resolve(result);
        }
      }
    });
  }

  /** One unary ForwardPutRecords call with every batch of `queue`; settles each batch's promise. */
  private sendUnary(nodeId: number, queue: Outgoing): void {
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
    this.closed = true;
    for (const [nodeId, queue] of this.outgoing) {
      for (const item of queue.pending)
        item.reject(new PeerUnavailableError(nodeId, "this node is stopping", { sent: false }));
    }
    this.outgoing.clear();
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    for (const stream of this.streams.values()) stream.close();
    this.streams.clear();
  }

  /** The ForwardStream to `nodeId`, created on first use; undefined for an unknown node or once closed. */
  private stream(nodeId: number): ForwardStream | undefined {
    let stream = this.streams.get(nodeId);
    if (stream === undefined) {
      const address = this.addresses.get(nodeId);
      if (address === undefined || this.closed) return undefined;
      stream = new ForwardStream({ nodeId, address, clock: this.clock, tls: this.streamTls });
      this.streams.set(nodeId, stream);
    }
    return stream;
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
        "grpc.enable_channelz": 0,
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
