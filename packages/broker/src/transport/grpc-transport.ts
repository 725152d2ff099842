import * as grpc from "@grpc/grpc-js";
import { peer } from "@sluice/proto";
import type { NodeId } from "raft-ts";
import { decodeFrame, encodedMessageBytes, FrameEncoder, type SealedFrame } from "./codec.js";
import {
  ACK_DELAY_MS,
  ACK_EVERY_REQUESTS,
  FRAMES_IN_FLIGHT_MAX,
  GRPC_KEEPALIVE_TIME_MS,
  GRPC_KEEPALIVE_TIMEOUT_MS,
  GRPC_MESSAGE_OVERHEAD_BYTES,
  PEER_STREAM_WINDOW_BYTES,
} from "./constants.js";
import { TransportClosedError } from "./errors.js";
import { Http2PeerCall, type PeerCall, type PeerCallError } from "./http2-peer-call.js";
import { widenServerReceiveWindow } from "./http2-window.js";
import { emptyPeerMetrics, type PeerMetrics, type TransportMetrics } from "./metrics.js";
import {
  type GrpcPeerTransportOptions,
  type ResolvedTransportOptions,
  resolveTransportOptions,
} from "./options.js";
import { PeerHttp2Server, type PeerServerCall } from "./peer-server.js";
import { type GroupMessage, PeerState, type PeerTransport } from "./transport.js";
import {
  deserializeRequest,
  envelopeFrame,
  FRAME_HEADROOM_BYTES,
  type InboundRequest,
  type OutboundRequest,
  peerServerChannelOptions,
  peerServiceDefinition,
  raftStreamMethod,
} from "./wire.js";

/**
 * The PeerTransport over gRPC: one long-lived bidirectional stream from this node to each peer
 * (the peer opens its own stream back), carrying frames of the peer codec. Without channel
 * credentials the client side writes HTTP/2 itself (Http2PeerCall: no copy of a frame between
 * the encoder and the socket); with them it is grpc-js's client. The server side is a
 * PeerHttp2Server (node:http2 speaking gRPC: frames arrive as views of the received chunks, no
 * grpc-js reassembly copy), or grpc-js's server when the transport is given one or server
 * credentials (TLS).
 *
 * Sending: `send` encodes the messages at once into the peer's current frame (so the caller may
 * reuse its buffers) and schedules a flush with setImmediate, so everything every group sends to
 * a peer in one turn of the event loop leaves as one frame and one gRPC message. The peer's queue
 * (frames not yet written plus the frame being built) is bounded in bytes; a full queue, a
 * message larger than a frame, or a peer with no stream (between a failure and the reconnect)
 * make `send` return false and drop: Raft resends. At most FRAMES_IN_FLIGHT_MAX requests may be
 * unacknowledged, and grpc-js's own buffer is respected ('drain'), so a slow peer fills the queue
 * and pushes back instead of growing memory.
 *
 * Liveness: the receiver acknowledges requests (delayed: see ACK_DELAY_MS); the sender
 * pings a stream that wrote nothing for livenessIntervalMs. The peer is Up from the first
 * acknowledgement on a stream and Down when its stream fails or nothing came back within
 * livenessTimeoutMs; then the stream is cancelled, the queue dropped, and a new stream is opened
 * after a jittered exponential backoff.
 *
 * Receiving: the first request of a stream must name this cluster and a known peer; anything
 * else is refused with FAILED_PRECONDITION and a warning. A frame that fails to decode, or that
 * names other nodes than the stream's, closes the stream with INVALID_ARGUMENT (the sender
 * reconnects); it never reaches the handler and never throws out of the transport.
 */

type ServerStream = grpc.ServerDuplexStream<InboundRequest, peer.RaftStreamResponse>;

/** The receiving end of one RaftStream, whichever server accepted it. */
interface InboundCall {
  readonly peer: string;
  /** The node id the sender's certificate names (mutual TLS); undefined on a plaintext port. */
  readonly peerNodeId?: NodeId | undefined;
  onRequest(handler: (request: InboundRequest) => void): void;
  /** The sender half-closed its side. */
  onEnd(handler: () => void): void;
  /** The stream failed or was cancelled by the sender. */
  onGone(handler: () => void): void;
  acknowledge(frames: number): void;
  /** Ends the call with a status (OK: a clean end); nothing is delivered afterwards. */
  finish(code: grpc.status, details: string): void;
}

function grpcInboundCall(call: ServerStream): InboundCall {
  return {
    peer: call.getPeer(),
    onRequest: (handler) => call.on("data", handler),
    onEnd: (handler) => call.on("end", handler),
    onGone: (handler) => {
      call.on("error", handler);
      call.on("cancelled", handler);
    },
    acknowledge: (frames) => call.write({ acknowledgedFrames: frames }),
    finish: (code, details) => {
      if (code === grpc.status.OK) call.end();
      else call.emit("error", { code, details });
    },
  };
}

function http2InboundCall(call: PeerServerCall): InboundCall {
  return {
    peer: call.peer,
    peerNodeId: call.peerNodeId,
    onRequest: (handler) => call.onMessage((message) => handler(deserializeRequest(message))),
    onEnd: (handler) => call.onEnd(handler),
    onGone: (handler) => call.onCancelled(handler),
    acknowledge: (frames) =>
      call.write(peer.RaftStreamResponse.encode({ acknowledgedFrames: frames }).finish()),
    finish: (code, details) => call.finish({ code, details }),
  };
}

interface ReadyFrame {
  readonly frame: SealedFrame;
  readonly messages: number;
  readonly messageBytes: number;
}

class PeerLink {
  readonly metrics: PeerMetrics = emptyPeerMetrics();
  readonly encoder: FrameEncoder;
  call: PeerCall | null = null;
  /** Incremented per stream; events of an older stream are ignored. */
  generation = 0;
  ready: ReadyFrame[] = [];
  /** Message bytes in the frame being built. */
  buildingBytes = 0;
  flushScheduled = false;
  writable = true;
  requestsWritten = 0;
  requestsAcknowledged = 0;
  lastHeardAtMs = 0;
  lastWrittenAtMs = 0;
  state: PeerState = PeerState.Down;
  consecutiveFailures = 0;
  reconnectTimer: NodeJS.Timeout | null = null;
  lastFailure = "";

  readonly nodeId: NodeId;
  readonly address: string;
  /** grpc-js's client, only when the transport has channel credentials (TLS); else null and
   * streams are written to HTTP/2 directly (Http2PeerCall). */
  readonly client: grpc.Client | null;

  constructor(
    nodeId: NodeId,
    address: string,
    client: grpc.Client | null,
    from: NodeId,
    maxFrameBytes: number,
  ) {
    this.nodeId = nodeId;
    this.address = address;
    this.client = client;
    this.encoder = new FrameEncoder(from, nodeId, maxFrameBytes, FRAME_HEADROOM_BYTES);
  }
}

export class GrpcPeerTransport implements PeerTransport {
  private readonly options: ResolvedTransportOptions;
  private readonly links = new Map<NodeId, PeerLink>();
  /** The server receiving peers' streams: node:http2 (PeerHttp2Server), or grpc-js's. */
  private readonly server: grpc.Server | PeerHttp2Server;
  private readonly ownsServer: boolean;
  /** Inbound streams by sending node: the newest one is kept, older ones are cancelled. */
  private readonly inbound = new Map<NodeId, InboundCall>();
  private readonly pendingStreams = new Set<InboundCall>();
  private readonly receiveHandlers: ((from: NodeId, messages: readonly GroupMessage[]) => void)[] = [];
  private readonly stateHandlers: ((peer: NodeId, state: PeerState) => void)[] = [];
  private livenessTimer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;
  private boundPort = 0;

  constructor(options: GrpcPeerTransportOptions) {
    this.options = resolveTransportOptions(options);
    const o = this.options;
    const channelOptions: grpc.ChannelOptions = {
      "grpc.max_send_message_length": o.maxFrameBytes + GRPC_MESSAGE_OVERHEAD_BYTES,
      "grpc.enable_channelz": 0,
      "grpc.keepalive_time_ms": GRPC_KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": GRPC_KEEPALIVE_TIMEOUT_MS,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.initial_reconnect_backoff_ms": o.reconnectBackoffMsMin,
      "grpc.max_reconnect_backoff_ms": o.reconnectBackoffMsMax,
      // Each peer gets its own connection even when two peers share an address in tests.
      "grpc.use_local_subchannel_pool": 1,
      // Acknowledgements are tiny; the window matters for any other service on the connection.
      "grpc-node.flow_control_window": PEER_STREAM_WINDOW_BYTES,
    };
    const credentials = o.channelCredentials;
    for (const [id, address] of o.peers) {
      const client = credentials === undefined ? null : new grpc.Client(address, credentials, channelOptions);
      this.links.set(id, new PeerLink(id, address, client, o.nodeId, o.maxFrameBytes));
    }
    this.ownsServer = o.server === undefined;
    if (o.server instanceof PeerHttp2Server) {
      this.server = o.server;
    } else if (o.server !== undefined || o.serverCredentials !== undefined) {
      // grpc-js owns TLS: a transport with server credentials keeps grpc-js's server.
      this.server =
        o.server ??
        new grpc.Server({
          ...peerServerChannelOptions(o.maxFrameBytes),
          "grpc.keepalive_time_ms": GRPC_KEEPALIVE_TIME_MS,
          "grpc.keepalive_timeout_ms": GRPC_KEEPALIVE_TIMEOUT_MS,
        });
    } else {
      this.server = new PeerHttp2Server({
        maxMessageBytes: o.maxFrameBytes + GRPC_MESSAGE_OVERHEAD_BYTES,
        streamWindowBytes: PEER_STREAM_WINDOW_BYTES,
        ...(o.tls === undefined
          ? {}
          : { tls: { ...o.tls, clusterId: o.clusterId, members: new Set([o.nodeId, ...o.peers.keys()]) } }),
      });
    }
    if (this.server instanceof PeerHttp2Server) {
      this.server.handleStream(raftStreamMethod.path, (call) => this.acceptStream(http2InboundCall(call)));
    } else {
      this.server.addService(peerServiceDefinition, {
        raftStream: (call: ServerStream) => {
          widenServerReceiveWindow(call, PEER_STREAM_WINDOW_BYTES, 2 * PEER_STREAM_WINDOW_BYTES);
          this.acceptStream(grpcInboundCall(call));
        },
      });
    }
  }

  /** The port the transport's own server is bound to (useful with port 0); 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  send(to: NodeId, messages: readonly GroupMessage[]): boolean {
    const link = this.links.get(to);
    if (link === undefined) return false;
    const metrics = link.metrics;
    if (!this.running || link.call === null) {
      metrics.messagesDropped += messages.length;
      return false;
    }
    const sizes: number[] = new Array(messages.length);
    let total = 0;
    for (let i = 0; i < messages.length; i++) {
      const size = encodedMessageBytes(messages[i] as GroupMessage, this.options.nodeId, to);
      if (size > link.encoder.messageBytesMax) {
        metrics.messagesDropped += messages.length;
        this.options.logger.warn("dropped a message larger than a frame", {
          peer: to,
          groupId: messages[i]?.groupId,
          messageBytes: size,
          maxFrameBytes: this.options.maxFrameBytes,
        });
        return false;
      }
      sizes[i] = size;
      total += size;
    }
    if (metrics.queuedBytes + total > this.options.maxQueuedBytesPerPeer) {
      metrics.messagesDropped += messages.length;
      return false;
    }
    for (let i = 0; i < messages.length; i++) {
      const size = sizes[i] as number;
      if (!link.encoder.fits(size)) this.sealFrame(link);
      link.encoder.append(messages[i] as GroupMessage, size);
      link.buildingBytes += size;
    }
    metrics.queuedBytes += total;
    metrics.queuedMessages += messages.length;
    if (!link.flushScheduled) {
      link.flushScheduled = true;
      setImmediate(() => {
        link.flushScheduled = false;
        if (link.encoder.messageCount > 0) this.sealFrame(link);
        this.pump(link);
      });
    }
    return true;
  }

  onReceive(handler: (from: NodeId, messages: readonly GroupMessage[]) => void): void {
    this.receiveHandlers.push(handler);
  }

  onPeerState(handler: (peer: NodeId, state: PeerState) => void): void {
    this.stateHandlers.push(handler);
  }

  peerStates(): ReadonlyMap<NodeId, PeerState> {
    const states = new Map<NodeId, PeerState>();
    for (const [id, link] of this.links) states.set(id, link.state);
    return states;
  }

  /** A copy of every peer's counters. */
  metrics(): TransportMetrics {
    const snapshot = new Map<NodeId, Readonly<PeerMetrics>>();
    for (const [id, link] of this.links) snapshot.set(id, { ...link.metrics });
    return snapshot;
  }

  async start(): Promise<void> {
    if (this.closed) throw new TransportClosedError();
    if (this.running) return;
    const o = this.options;
    const server = this.server;
    if (this.ownsServer && o.listenAddress !== undefined) {
      const listenAddress = o.listenAddress;
      if (server instanceof PeerHttp2Server) {
        this.boundPort = await server.listen(listenAddress);
      } else {
        const credentials = o.serverCredentials ?? grpc.ServerCredentials.createInsecure();
        this.boundPort = await new Promise<number>((resolve, reject) => {
          server.bindAsync(listenAddress, credentials, (error, port) => {
            if (error === null) resolve(port);
            else reject(error);
          });
        });
      }
    }
    this.running = true;
    for (const link of this.links.values()) this.connect(link);
    this.livenessTimer = setInterval(() => this.checkLiveness(), o.livenessIntervalMs);
    this.livenessTimer.unref();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.running = false;
    if (this.livenessTimer !== null) clearInterval(this.livenessTimer);
    for (const link of this.links.values()) {
      if (link.reconnectTimer !== null) clearTimeout(link.reconnectTimer);
      this.dropStream(link, false);
      link.client?.close();
    }
    for (const stream of [...this.inbound.values(), ...this.pendingStreams]) {
      stream.finish(grpc.status.UNAVAILABLE, "peer transport closing");
    }
    this.inbound.clear();
    this.pendingStreams.clear();
    const server = this.server;
    if (server instanceof PeerHttp2Server) {
      if (this.ownsServer) await server.close();
      else server.removeStreamHandler(raftStreamMethod.path);
    } else if (this.ownsServer) {
      await new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // Streams still open after a short grace are cut.
        setTimeout(() => server.forceShutdown(), 200).unref();
      });
    } else {
      server.removeService(peerServiceDefinition);
    }
  }

  // ---- outbound ----

  private connect(link: PeerLink): void {
    link.reconnectTimer = null;
    if (!this.running) return;
    const generation = ++link.generation;
    const call: PeerCall =
      link.client === null
        ? new Http2PeerCall(
            link.address,
            raftStreamMethod.path,
            PEER_STREAM_WINDOW_BYTES,
            this.options.tls === undefined
              ? undefined
              : {
                  material: this.options.tls.material(),
                  clusterId: this.options.clusterId,
                  expectedNodeId: link.nodeId,
                },
          )
        : // grpc-js's duplex stream has these methods and events; its overloads are wider.
          (link.client.makeBidiStreamRequest(
            raftStreamMethod.path,
            raftStreamMethod.requestSerialize,
            raftStreamMethod.responseDeserialize,
            new grpc.Metadata(),
            {},
          ) as unknown as PeerCall);
    link.call = call;
    link.writable = true;
    link.requestsWritten = 0;
    link.requestsAcknowledged = 0;
    link.lastHeardAtMs = Date.now();
    link.metrics.connects += 1;
    call.on("data", (response: peer.RaftStreamResponse) => {
      if (generation !== link.generation) return;
      link.lastHeardAtMs = Date.now();
      link.metrics.acknowledgementsReceived += 1;
      link.requestsAcknowledged = Math.max(link.requestsAcknowledged, response.acknowledgedFrames);
      if (link.state !== PeerState.Up) {
        link.consecutiveFailures = 0;
        link.lastFailure = "";
        this.options.logger.info("peer stream up", { peer: link.nodeId, address: link.address });
        this.setState(link, PeerState.Up);
      }
      this.pump(link);
    });
    call.on("drain", () => {
      if (generation !== link.generation) return;
      link.writable = true;
      this.pump(link);
    });
    call.on("error", (error: PeerCallError) => {
      if (generation !== link.generation) return;
      this.streamFailed(link, error.code, error.details || error.message);
    });
    call.on("end", () => {
      if (generation !== link.generation) return;
      this.streamFailed(link, grpc.status.UNAVAILABLE, "peer ended the stream");
    });
    this.write(link, { kind: "hello", fromNodeId: this.options.nodeId, clusterId: this.options.clusterId });
  }

  private streamFailed(link: PeerLink, code: grpc.status, details: string): void {
    link.consecutiveFailures += 1;
    const failure = `${grpc.status[code] ?? code}: ${details}`;
    // Refusals are configuration errors: say so every time; transient failures once per run.
    const refused = code === grpc.status.FAILED_PRECONDITION || code === grpc.status.INVALID_ARGUMENT;
    if (refused || failure !== link.lastFailure) {
      this.options.logger.warn(refused ? "peer refused our stream" : "peer stream failed", {
        peer: link.nodeId,
        address: link.address,
        error: failure,
        consecutiveFailures: link.consecutiveFailures,
      });
    }
    link.lastFailure = failure;
    this.dropStream(link, true);
    if (refused) link.consecutiveFailures = Math.max(link.consecutiveFailures, 32);
    this.scheduleReconnect(link);
  }

  /** Ends the current stream (if any), dropping what was queued; `down` tells the handlers. */
  private dropStream(link: PeerLink, down: boolean): void {
    const call = link.call;
    link.generation += 1;
    link.call = null;
    if (call !== null) {
      call.removeAllListeners("data");
      call.removeAllListeners("drain");
      call.on("error", () => {}); // a late error of the cancelled call is expected
      call.cancel();
    }
    const metrics = link.metrics;
    metrics.messagesDropped += metrics.queuedMessages;
    metrics.queuedBytes = 0;
    metrics.queuedMessages = 0;
    link.ready = [];
    link.buildingBytes = 0;
    if (link.encoder.messageCount > 0) link.encoder.sealChunks();
    // On close the state goes Down without telling handlers: the host is shutting down too.
    if (down) this.setState(link, PeerState.Down);
    else link.state = PeerState.Down;
  }

  private scheduleReconnect(link: PeerLink): void {
    if (!this.running || link.reconnectTimer !== null) return;
    const o = this.options;
    const exponent = Math.min(link.consecutiveFailures - 1, 30);
    const ceiling = Math.min(o.reconnectBackoffMsMax, o.reconnectBackoffMsMin * 2 ** exponent);
    // "Equal jitter": half the delay is fixed, half random, so peers that failed together spread out.
    const delay = Math.round(ceiling / 2 + (ceiling / 2) * o.random());
    link.reconnectTimer = setTimeout(() => this.connect(link), delay);
  }

  private sealFrame(link: PeerLink): void {
    const messages = link.encoder.messageCount;
    const frame = link.encoder.sealChunks();
    envelopeFrame(frame.chunks[0] as Buffer, frame.length);
    link.ready.push({ frame, messages, messageBytes: link.buildingBytes });
    link.buildingBytes = 0;
  }

  /** Writes ready frames while the stream accepts them and the in-flight bound allows. */
  private pump(link: PeerLink): void {
    const metrics = link.metrics;
    while (
      link.call !== null &&
      link.writable &&
      link.ready.length > 0 &&
      link.requestsWritten - link.requestsAcknowledged < FRAMES_IN_FLIGHT_MAX
    ) {
      const { frame, messages, messageBytes } = link.ready.shift() as ReadyFrame;
      metrics.queuedBytes -= messageBytes;
      metrics.queuedMessages -= messages;
      metrics.framesSent += 1;
      metrics.messagesSent += messages;
      metrics.bytesSent += frame.length - FRAME_HEADROOM_BYTES;
      this.write(link, { kind: "frame", chunks: frame.chunks, length: frame.length });
    }
  }

  private write(link: PeerLink, request: OutboundRequest): void {
    const call = link.call;
    if (call === null) return;
    link.requestsWritten += 1;
    link.lastWrittenAtMs = Date.now();
    if (!call.write(request)) link.writable = false;
  }

  private checkLiveness(): void {
    if (!this.running) return;
    const now = Date.now();
    const o = this.options;
    for (const link of this.links.values()) {
      if (link.call === null) continue;
      if (now - link.lastHeardAtMs > o.livenessTimeoutMs) {
        this.streamFailed(link, grpc.status.DEADLINE_EXCEEDED, `no answer within ${o.livenessTimeoutMs} ms`);
      } else if (now - link.lastWrittenAtMs >= o.livenessIntervalMs) {
        // Pings bypass the in-flight bound: they are tiny and are what detects a stuck peer.
        this.write(link, { kind: "ping" });
      }
    }
  }

  private setState(link: PeerLink, state: PeerState): void {
    if (link.state === state) return;
    link.state = state;
    for (const handler of this.stateHandlers) handler(link.nodeId, state);
  }

  // ---- inbound ----

  private acceptStream(call: InboundCall): void {
    if (!this.running) {
      call.finish(grpc.status.UNAVAILABLE, "peer transport not running");
      return;
    }
    this.pendingStreams.add(call);
    let from: NodeId = 0;
    let received = 0;
    let acknowledged = 0;
    let ackImmediate = false;
    let ackTimer: NodeJS.Timeout | null = null;
    let finished = false;
    const sendAck = (): void => {
      ackImmediate = false;
      if (ackTimer !== null) {
        clearTimeout(ackTimer);
        ackTimer = null;
      }
      if (finished || received === acknowledged) return;
      acknowledged = received;
      call.acknowledge(received);
    };
    const finish = (code: grpc.status, details: string): void => {
      if (finished) return;
      finished = true;
      if (ackTimer !== null) clearTimeout(ackTimer);
      this.pendingStreams.delete(call);
      if (from !== 0 && this.inbound.get(from) === call) this.inbound.delete(from);
      call.finish(code, details);
    };
    const refuse = (code: grpc.status, details: string, fields: Record<string, unknown>): void => {
      this.options.logger.warn(`refused a peer stream: ${details}`, { peer: from || undefined, ...fields });
      finish(code, details);
    };
    call.onRequest((request: InboundRequest) => {
      if (finished) return;
      if (request.error !== null) {
        refuse(grpc.status.INVALID_ARGUMENT, `malformed request: ${request.error}`, {
          remote: call.peer,
        });
        return;
      }
      if (from === 0) {
        if (request.clusterId !== this.options.clusterId) {
          refuse(grpc.status.FAILED_PRECONDITION, "wrong cluster id", {
            remote: call.peer,
            theirClusterId: request.clusterId,
            ourClusterId: this.options.clusterId,
            theirNodeId: request.fromNodeId,
          });
          return;
        }
        if (call.peerNodeId !== undefined && call.peerNodeId !== request.fromNodeId) {
          refuse(
            grpc.status.PERMISSION_DENIED,
            `node id ${request.fromNodeId} claimed over a connection whose certificate names node ${call.peerNodeId}`,
            { remote: call.peer },
          );
          return;
        }
        if (!this.links.has(request.fromNodeId)) {
          refuse(grpc.status.FAILED_PRECONDITION, `unknown node id ${request.fromNodeId}`, {
            remote: call.peer,
            knownPeers: [...this.links.keys()],
          });
          return;
        }
        from = request.fromNodeId;
        this.pendingStreams.delete(call);
        const previous = this.inbound.get(from);
        this.inbound.set(from, call);
        // The sender reconnected: its old stream is dead or about to be.
        previous?.finish(grpc.status.CANCELLED, "superseded by a newer stream");
      } else if (request.fromNodeId !== 0 && request.fromNodeId !== from) {
        refuse(grpc.status.INVALID_ARGUMENT, "node id changed within a stream", {
          theirNodeId: request.fromNodeId,
        });
        return;
      }
      const link = this.links.get(from) as PeerLink;
      for (const frame of request.frames) {
        let messages: GroupMessage[];
        try {
          const decoded = decodeFrame(frame, this.options.maxFrameBytes);
          if (decoded.from !== from || decoded.to !== this.options.nodeId) {
            refuse(grpc.status.INVALID_ARGUMENT, "frame addressed between other nodes", {
              frameFrom: decoded.from,
              frameTo: decoded.to,
            });
            return;
          }
          messages = decoded.messages;
        } catch (error) {
          refuse(grpc.status.INVALID_ARGUMENT, `undecodable frame: ${(error as Error).message}`, {
            frameBytes: frame.length,
          });
          return;
        }
        link.metrics.framesReceived += 1;
        link.metrics.messagesReceived += messages.length;
        link.metrics.bytesReceived += frame.length;
        for (const handler of this.receiveHandlers) handler(from, messages);
      }
      received += 1;
      // Delayed acknowledgement: an answer per request would double the messages on the peer
      // connections (every Raft frame, one back), so at once only for what the sender waits on
      // (a stream's first request, which makes the peer Up; a ping; a quarter of its in-flight
      // bound unanswered) and otherwise within ACK_DELAY_MS, well inside the liveness timeout.
      if (
        acknowledged === 0 ||
        request.frames.length === 0 ||
        received - acknowledged >= ACK_EVERY_REQUESTS
      ) {
        if (!ackImmediate) {
          ackImmediate = true;
          setImmediate(sendAck);
        }
      } else if (ackTimer === null && !ackImmediate) {
        ackTimer = setTimeout(sendAck, ACK_DELAY_MS);
      }
    });
    call.onGone(() => finish(grpc.status.CANCELLED, "stream error or cancelled"));
    call.onEnd(() => finish(grpc.status.OK, "sender ended the stream"));
  }
}
