import type * as grpc from "@grpc/grpc-js";
import type { NodeId } from "raft-ts";
import {
  CLUSTER_ID_BYTES_MAX,
  LIVENESS_INTERVAL_MS,
  LIVENESS_TIMEOUT_MS,
  PEER_FRAME_BYTES_MAX,
  PEER_QUEUE_BYTES_MAX,
  RECONNECT_BACKOFF_MS_MAX,
  RECONNECT_BACKOFF_MS_MIN,
} from "./constants.js";
import { InvalidTransportOptionsError } from "./errors.js";
import type { PeerHttp2Server } from "./peer-server.js";
import type { PeerTlsOptions } from "./tls.js";

/** Fields are structured so the node's JSON logger fits; `msg` is one clear sentence. */
export interface TransportLogger {
  info(msg: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(msg: string, fields?: Readonly<Record<string, unknown>>): void;
}

export interface GrpcPeerTransportOptions {
  /** This node's id (a positive integer). */
  readonly nodeId: NodeId;
  /** Streams from a node of another cluster are refused. */
  readonly clusterId: string;
  /**
   * `host:port` to bind the peer service on, such as "127.0.0.1:7401". Required unless `server`
   * is given (the owner of that server binds it).
   */
  readonly listenAddress?: string;
  /** Every peer's `host:port`. An entry for `nodeId` itself is ignored. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /**
   * An existing server to add the peer service to; the transport then neither binds nor shuts it
   * down. A PeerHttp2Server (node:http2, no copy of received frames) is what a node should use;
   * a grpc-js server still works (its `grpc.max_receive_message_length` must admit frames: see
   * `peerServerChannelOptions`). Without one, the transport binds its own PeerHttp2Server, or a
   * grpc-js server when `serverCredentials` are given.
   */
  readonly server?: grpc.Server | PeerHttp2Server;
  /** Bytes queued for one peer before `send` returns false. @default PEER_QUEUE_BYTES_MAX */
  readonly maxQueuedBytesPerPeer?: number;
  /** Largest frame; a single message larger than this is refused. @default PEER_FRAME_BYTES_MAX */
  readonly maxFrameBytes?: number;
  /** Ping period on an otherwise quiet stream, in ms. @default LIVENESS_INTERVAL_MS */
  readonly livenessIntervalMs?: number;
  /** A peer silent for this long is Down and its stream is reopened, in ms. @default LIVENESS_TIMEOUT_MS */
  readonly livenessTimeoutMs?: number;
  /** First reconnect delay, in ms; doubled per failure, jittered. @default RECONNECT_BACKOFF_MS_MIN */
  readonly reconnectBackoffMsMin?: number;
  /** Largest reconnect delay, in ms. @default RECONNECT_BACKOFF_MS_MAX */
  readonly reconnectBackoffMsMax?: number;
  /**
   * Credentials of the streams to peers (TLS). Given, grpc-js's client opens them; absent, they
   * are insecure and written to HTTP/2 directly, without grpc-js's copy of every message.
   * @default undefined (insecure)
   */
  readonly channelCredentials?: grpc.ChannelCredentials;
  /**
   * Used only when the transport binds its own server; given, that server is grpc-js's (TLS).
   * @default undefined (insecure, node:http2)
   */
  readonly serverCredentials?: grpc.ServerCredentials;
  /**
   * Mutual TLS on the streams this transport opens (node:http2, no copy of frames) and on the
   * PeerHttp2Server it binds itself; a server passed in `server` must have been given the same
   * (see PeerHttp2ServerOptions.tls). Streams from a peer are then accepted only when the node id
   * they claim is the one its certificate names. Not combinable with grpc-js credentials.
   * @default undefined (plaintext)
   */
  readonly tls?: PeerTlsOptions;
  /** @default warnings to stderr, info dropped */
  readonly logger?: TransportLogger;
  /** Uniform in [0, 1), for backoff jitter. @default Math.random */
  readonly random?: () => number;
}

export interface ResolvedTransportOptions {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly listenAddress: string | undefined;
  readonly peers: ReadonlyMap<NodeId, string>;
  readonly server: grpc.Server | PeerHttp2Server | undefined;
  readonly maxQueuedBytesPerPeer: number;
  readonly maxFrameBytes: number;
  readonly livenessIntervalMs: number;
  readonly livenessTimeoutMs: number;
  readonly reconnectBackoffMsMin: number;
  readonly reconnectBackoffMsMax: number;
  readonly channelCredentials: grpc.ChannelCredentials | undefined;
  readonly serverCredentials: grpc.ServerCredentials | undefined;
  readonly tls: PeerTlsOptions | undefined;
  readonly logger: TransportLogger;
  readonly random: () => number;
}

export function defaultTransportOptions(): Pick<
  ResolvedTransportOptions,
  | "maxQueuedBytesPerPeer"
  | "maxFrameBytes"
  | "livenessIntervalMs"
  | "livenessTimeoutMs"
  | "reconnectBackoffMsMin"
  | "reconnectBackoffMsMax"
> {
  return {
    maxQueuedBytesPerPeer: PEER_QUEUE_BYTES_MAX,
    maxFrameBytes: PEER_FRAME_BYTES_MAX,
    livenessIntervalMs: LIVENESS_INTERVAL_MS,
    livenessTimeoutMs: LIVENESS_TIMEOUT_MS,
    reconnectBackoffMsMin: RECONNECT_BACKOFF_MS_MIN,
    reconnectBackoffMsMax: RECONNECT_BACKOFF_MS_MAX,
  };
}

const stderrLogger: TransportLogger = {
  info() {},
  warn(msg, fields) {
    console.warn(`peer transport: ${msg}${fields === undefined ? "" : ` ${JSON.stringify(fields)}`}`);
  },
};

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[^\s:/]+):(\d{1,5})$/;

function positiveInteger(name: string, value: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new InvalidTransportOptionsError(`${name} must be an integer in [1, ${max}], got ${value}`);
  }
  return value;
}

function address(name: string, value: string): string {
  const match = HOST_PORT.exec(value);
  const port = Number(match?.[2]);
  if (match === null || port > 65_535) {
    throw new InvalidTransportOptionsError(`${name} must be host:port, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Applies defaults and checks every field once; throws InvalidTransportOptionsError. */
export function resolveTransportOptions(options: GrpcPeerTransportOptions): ResolvedTransportOptions {
  const defaults = defaultTransportOptions();
  const nodeId = positiveInteger("nodeId", options.nodeId);
  const clusterId = options.clusterId;
  if (clusterId.length === 0 || Buffer.byteLength(clusterId) > CLUSTER_ID_BYTES_MAX) {
    throw new InvalidTransportOptionsError(`clusterId must be 1 to ${CLUSTER_ID_BYTES_MAX} bytes`);
  }
  if (options.server === undefined && options.listenAddress === undefined) {
    throw new InvalidTransportOptionsError("listenAddress is required when no server is given");
  }
  const listenAddress =
    options.listenAddress === undefined ? undefined : address("listenAddress", options.listenAddress);
  const peers = new Map<NodeId, string>();
  for (const [id, peerAddress] of options.peers) {
    positiveInteger("peer id", id);
    if (id !== nodeId) peers.set(id, address(`address of peer ${id}`, peerAddress));
  }
  const maxFrameBytes = positiveInteger(
    "maxFrameBytes",
    options.maxFrameBytes ?? defaults.maxFrameBytes,
    2 ** 31 - 1,
  );
  const maxQueuedBytesPerPeer = positiveInteger(
    "maxQueuedBytesPerPeer",
    options.maxQueuedBytesPerPeer ?? defaults.maxQueuedBytesPerPeer,
  );
  if (maxQueuedBytesPerPeer < maxFrameBytes) {
    throw new InvalidTransportOptionsError(
      `maxQueuedBytesPerPeer (${maxQueuedBytesPerPeer}) must hold at least one frame (maxFrameBytes ${maxFrameBytes})`,
    );
  }
  const livenessIntervalMs = positiveInteger(
    "livenessIntervalMs",
    options.livenessIntervalMs ?? defaults.livenessIntervalMs,
  );
  const livenessTimeoutMs = positiveInteger(
    "livenessTimeoutMs",
    options.livenessTimeoutMs ?? defaults.livenessTimeoutMs,
  );
  if (livenessTimeoutMs < 2 * livenessIntervalMs) {
    throw new InvalidTransportOptionsError(
      `livenessTimeoutMs (${livenessTimeoutMs}) must be at least twice livenessIntervalMs (${livenessIntervalMs})`,
    );
  }
  const reconnectBackoffMsMin = positiveInteger(
    "reconnectBackoffMsMin",
    options.reconnectBackoffMsMin ?? defaults.reconnectBackoffMsMin,
  );
  const reconnectBackoffMsMax = positiveInteger(
    "reconnectBackoffMsMax",
    options.reconnectBackoffMsMax ?? defaults.reconnectBackoffMsMax,
  );
  if (reconnectBackoffMsMax < reconnectBackoffMsMin) {
    throw new InvalidTransportOptionsError("reconnectBackoffMsMax must not be below reconnectBackoffMsMin");
  }
  if (
    options.tls !== undefined &&
    (options.channelCredentials !== undefined || options.serverCredentials !== undefined)
  ) {
    throw new InvalidTransportOptionsError(
      "give either tls (node:http2 mutual TLS) or grpc-js channelCredentials/serverCredentials, not both",
    );
  }
  return {
    nodeId,
    clusterId,
    listenAddress,
    peers,
    server: options.server,
    maxQueuedBytesPerPeer,
    maxFrameBytes,
    livenessIntervalMs,
    livenessTimeoutMs,
    reconnectBackoffMsMin,
    reconnectBackoffMsMax,
    channelCredentials: options.channelCredentials,
    serverCredentials: options.serverCredentials,
    tls: options.tls,
    logger: options.logger ?? stderrLogger,
    random: options.random ?? Math.random,
  };
}
