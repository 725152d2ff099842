/**
 * The peer port served by `node:http2` directly, speaking gRPC's wire protocol itself: the
 * receiving half of the peer transport (RaftStream) and any unary gRPC service the node hosts on
 * the same port (the gateway's ForwardService), for grpc-js clients and for Http2PeerCall alike.
 *
 * Why not grpc-js's server: it copies every received message into a new buffer (Buffer.concat of
 * its chunks, even a message that arrived in one chunk) and passes it through a promise-based
 * interceptor stack, and it pins the HTTP/2 receive window at 64 KiB. Here a message that arrives
 * within one DATA chunk is handed on as a view of that chunk (no copy); one spread over several
 * chunks is copied once into a buffer of its exact size, allocated when its length prefix
 * arrives; and every stream gets `streamWindowBytes` of receive window from the start (its
 * connection twice that), so a sender of large frames never waits a round trip for a window
 * update.
 *
 * With `tls` the port speaks only mutual TLS (tls.ts): a client without a certificate signed by
 * the cluster CA fails the handshake, one whose certificate names no member is cut at once, and
 * each call carries the node id its certificate names (`peerNodeId`). Both count as refusals
 * (`tlsRejections`).
 *
 * What is not implemented, because peers do not use it: compression (a compressed message fails
 * the call with UNIMPLEMENTED), request metadata (unary handlers get an empty `metadata`), streaming methods of a service. A
 * unary call's `grpc-timeout` is offered to its handler as `getDeadline()`; the client enforces
 * it (it cancels, and the handler's late answer is dropped).
 *
 * Buffer ownership: a message handed to a handler may be a view of Node's socket read buffer;
 * whoever keeps a part of it (Raft entries decoded from a frame) keeps that buffer alive, and
 * must not modify it.
 */
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { status as GrpcStatus, Metadata, type ServiceDefinition } from "@grpc/grpc-js";
import type { NodeId } from "raft-ts";
import { GRPC_MESSAGE_OVERHEAD_BYTES, PEER_FRAME_BYTES_MAX, PEER_STREAM_WINDOW_BYTES } from "./constants.js";
import { TransportClosedError } from "./errors.js";
import { nodeIdOfCertificate, type PeerTlsOptions, PeerTlsRejection } from "./tls.js";
import { GRPC_MESSAGE_PREFIX_BYTES } from "./wire.js";

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_STATUS, HTTP2_HEADER_CONTENT_TYPE } =
  http2.constants;

/** Bytes of HTTP/2 state (buffered outbound data, headers) a session may hold, in MiB. */
const SESSION_MEMORY_MIB_MAX = 256;
/** How long `close` waits for open calls to finish before cutting their connections, in ms. */
const CLOSE_GRACE_MS = 200;

export interface PeerHttp2ServerOptions {
  /** Largest gRPC message accepted, in bytes. @default PEER_FRAME_BYTES_MAX + GRPC_MESSAGE_OVERHEAD_BYTES */
  readonly maxMessageBytes?: number;
  /** Receive window of each stream, in bytes; its connection gets twice as much. @default PEER_STREAM_WINDOW_BYTES */
  readonly streamWindowBytes?: number;
  /**
   * Mutual TLS: only clients whose certificate the CA signed and whose identity names a node of
   * `members` in `clusterId` are served. @default undefined (plaintext h2c)
   */
  readonly tls?: PeerServerTlsOptions;
}

export interface PeerServerTlsOptions extends PeerTlsOptions {
  readonly clusterId: string;
  /** Node ids allowed to connect (the cluster's members, this node included). */
  readonly members: ReadonlySet<NodeId>;
}

/** A status to end a call with: gRPC's code and a sentence for the other side. */
export interface CallStatus {
  readonly code: GrpcStatus;
  readonly details: string;
}

/**
 * One server call on a gRPC stream: the messages as they arrive, responses, and its end. Events:
 * 'message' (Buffer: one message's bytes, without the gRPC prefix), 'end' (the client half-closed),
 * 'cancelled' (the client reset the stream or the connection went away). Nothing is emitted after
 * `finish` or 'cancelled'.
 */
export class PeerServerCall {
  readonly path: string;
  /** `address:port` of the client. */
  readonly peer: string;
  /** The node id the client's certificate names (mutual TLS), or undefined on a plaintext port. */
  readonly peerNodeId: NodeId | undefined;
  private readonly stream: http2.ServerHttp2Stream;
  private readonly maxMessageBytes: number;
  private headersSent = false;
  private finished = false;
  private finalStatus: CallStatus | null = null;
  private messageHandler: (message: Buffer) => void = () => {};
  private endHandler: () => void = () => {};
  private cancelHandler: () => void = () => {};
  /** The message being reassembled from several chunks (exact size), and its bytes so far. */
  private partial: Buffer | null = null;
  private partialFilled = 0;
  /** A length prefix split across chunks. */
  private prefix = Buffer.alloc(GRPC_MESSAGE_PREFIX_BYTES);
  private prefixFilled = 0;

  constructor(
    stream: http2.ServerHttp2Stream,
    path: string,
    peer: string,
    maxMessageBytes: number,
    peerNodeId?: NodeId,
  ) {
    this.stream = stream;
    this.path = path;
    this.peer = peer;
    this.peerNodeId = peerNodeId;
    this.maxMessageBytes = maxMessageBytes;
    stream.on("data", (chunk: Buffer) => this.receive(chunk));
    stream.on("end", () => {
      if (this.finished) return;
      if (this.partial !== null || this.prefixFilled > 0) {
        this.finish({ code: GrpcStatus.INTERNAL, details: "the request ended inside a message" });
        return;
      }
      this.endHandler();
    });
    stream.on("wantTrailers", () => {
      const status = this.finalStatus ?? { code: GrpcStatus.OK, details: "" };
      stream.sendTrailers(statusHeaders(status));
    });
    stream.on("error", () => {}); // a reset arrives as 'close' too
    stream.on("close", () => {
      if (this.finished) return;
      this.finished = true;
      this.cancelHandler();
    });
  }

  get isFinished(): boolean {
    return this.finished;
  }

  onMessage(handler: (message: Buffer) => void): void {
    this.messageHandler = handler;
  }

  onEnd(handler: () => void): void {
    this.endHandler = handler;
  }

  onCancelled(handler: () => void): void {
    this.cancelHandler = handler;
  }

  /**
   * Writes one response message (`body` is its protobuf bytes); returns false when the stream's
   * buffer is full (the caller may wait for nothing: responses here are small and few).
   */
  write(body: Uint8Array): boolean {
    if (this.finished || this.stream.destroyed) return false;
    this.sendHeaders();
    const message = Buffer.allocUnsafe(GRPC_MESSAGE_PREFIX_BYTES + body.byteLength);
    message[0] = 0;
    message.writeUInt32BE(body.byteLength, 1);
    message.set(body, GRPC_MESSAGE_PREFIX_BYTES);
    return this.stream.write(message);
  }

  /** Ends the call with `status` (trailers; a trailers-only response when nothing was sent). */
  finish(status: CallStatus): void {
    if (this.finished) return;
    this.finished = true;
    this.partial = null;
    if (this.stream.destroyed) return;
    if (!this.headersSent) {
      this.headersSent = true;
      this.stream.respond(
        {
          [HTTP2_HEADER_STATUS]: 200,
          [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
          ...statusHeaders(status),
        },
        { endStream: true },
      );
    } else {
      this.finalStatus = status;
      this.stream.end();
    }
    // Whatever the client still sends is not wanted: stop reading so its window does not matter.
    this.stream.removeAllListeners("data");
    this.stream.resume();
  }

  private sendHeaders(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    this.stream.respond(
      { [HTTP2_HEADER_STATUS]: 200, [HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto" },
      { waitForTrailers: true },
    );
  }

  /** Splits `chunk` into messages: views where a message lies within it, copies otherwise. */
  private receive(chunk: Buffer): void {
    let position = 0;
    while (position < chunk.length && !this.finished) {
      const partial = this.partial;
      if (partial !== null) {
        const take = Math.min(partial.length - this.partialFilled, chunk.length - position);
        chunk.copy(partial, this.partialFilled, position, position + take);
        this.partialFilled += take;
        position += take;
        if (this.partialFilled === partial.length) {
          this.partial = null;
          this.messageHandler(partial);
        }
        continue;
      }
      let length: number;
      if (this.prefixFilled === 0 && chunk.length - position >= GRPC_MESSAGE_PREFIX_BYTES) {
        if (!this.checkPrefix(chunk[position] as number, chunk.readUInt32BE(position + 1))) return;
        length = chunk.readUInt32BE(position + 1);
        position += GRPC_MESSAGE_PREFIX_BYTES;
      } else {
        const take = Math.min(GRPC_MESSAGE_PREFIX_BYTES - this.prefixFilled, chunk.length - position);
        chunk.copy(this.prefix, this.prefixFilled, position, position + take);
        this.prefixFilled += take;
        position += take;
        if (this.prefixFilled < GRPC_MESSAGE_PREFIX_BYTES) return;
        this.prefixFilled = 0;
        if (!this.checkPrefix(this.prefix[0] as number, this.prefix.readUInt32BE(1))) return;
        length = this.prefix.readUInt32BE(1);
      }
      if (chunk.length - position >= length) {
        const message = chunk.subarray(position, position + length);
        position += length;
        this.messageHandler(message);
      } else {
        this.partial = Buffer.allocUnsafe(length);
        this.partialFilled = 0;
      }
    }
  }

  private checkPrefix(flags: number, length: number): boolean {
    if (flags !== 0) {
      this.finish({ code: GrpcStatus.UNIMPLEMENTED, details: "compressed messages are not supported here" });
      return false;
    }
    if (length > this.maxMessageBytes) {
      this.finish({
        code: GrpcStatus.RESOURCE_EXHAUSTED,
        details: `message of ${length} bytes exceeds the limit of ${this.maxMessageBytes}`,
      });
      return false;
    }
    return true;
  }
}

function statusHeaders(status: CallStatus): http2.OutgoingHttpHeaders {
  return { "grpc-status": String(status.code), "grpc-message": percentEncode(status.details) };
}

/** gRPC's encoding of grpc-message: UTF-8, with '%' and bytes outside 0x20-0x7E as %XX. */
function percentEncode(text: string): string {
  if (/^[\x20-\x24\x26-\x7e]*$/.test(text)) return text;
  let encoded = "";
  for (const byte of Buffer.from(text, "utf8")) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/**
 * What a unary handler gets as its call: the request and the few members of grpc-js's
 * ServerUnaryCall a handler may ask for.
 */
export interface PeerUnaryCall {
  readonly request: unknown;
  readonly metadata: Metadata;
  /** True once the client cancelled or went away. */
  readonly cancelled: boolean;
  getPeer(): string;
  /** When the client stops waiting (from `grpc-timeout`); Infinity when it sent none. */
  getDeadline(): Date | number;
}

/** `grpc-timeout`: up to 8 digits and a unit (Hours, Minutes, Seconds, milli, micro, nano). */
const GRPC_TIMEOUT = /^(\d{1,8})([HMSmun])$/;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

function deadlineOf(header: string | string[] | undefined, nowMs: number): Date | number {
  const match = typeof header === "string" ? GRPC_TIMEOUT.exec(header) : null;
  if (match === null) return Number.POSITIVE_INFINITY;
  return new Date(nowMs + Number(match[1]) * (TIMEOUT_UNIT_MS[match[2] as string] as number));
}

/** A unary handler as grpc-js declares them: called with the call and a callback. */
type UnaryHandler = (
  call: PeerUnaryCall,
  callback: (error: { code?: number; details?: string; message?: string } | null, value?: unknown) => void,
) => void;

interface UnaryMethod {
  readonly deserialize: (bytes: Buffer) => unknown;
  readonly serialize: (value: unknown) => Buffer;
  readonly handler: UnaryHandler;
}

export class PeerHttp2Server {
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly tls: PeerServerTlsOptions | undefined;
  /** The node id each mutual-TLS session's certificate names. */
  private readonly sessionNodeIds = new WeakMap<http2.Http2Session, NodeId>();
  private readonly rejections = { handshake: 0, identity: 0 };
  private readonly maxMessageBytes: number;
  private readonly streamWindowBytes: number;
  private readonly streamHandlers = new Map<string, (call: PeerServerCall) => void>();
  private readonly unaryMethods = new Map<string, UnaryMethod>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private listening = false;
  private closed = false;
  private boundPort = 0;

  constructor(options: PeerHttp2ServerOptions = {}) {
    this.maxMessageBytes = options.maxMessageBytes ?? PEER_FRAME_BYTES_MAX + GRPC_MESSAGE_OVERHEAD_BYTES;
    this.streamWindowBytes = options.streamWindowBytes ?? PEER_STREAM_WINDOW_BYTES;
    if (!Number.isSafeInteger(this.maxMessageBytes) || this.maxMessageBytes <= 0) {
      throw new RangeError(`maxMessageBytes must be a positive integer, got ${this.maxMessageBytes}`);
    }
    if (
      !Number.isSafeInteger(this.streamWindowBytes) ||
      this.streamWindowBytes < 65_535 ||
      this.streamWindowBytes * 2 >= 2 ** 31
    ) {
      throw new RangeError(`streamWindowBytes must be in [65535, 2^30), got ${this.streamWindowBytes}`);
    }
    const http2Options = {
      settings: { initialWindowSize: this.streamWindowBytes, enablePush: false },
      maxSessionMemory: SESSION_MEMORY_MIB_MAX,
    };
    const tls = options.tls;
    this.tls = tls;
    if (tls === undefined) {
      this.server = http2.createServer(http2Options);
    } else {
      const material = tls.material();
      const secure = http2.createSecureServer({
        ...http2Options,
        ca: material.ca,
        cert: material.cert,
        key: material.key,
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ["h2"],
      });
      secure.on("tlsClientError", (_error, socket) => {
        this.reject(PeerTlsRejection.Handshake, socket.remoteAddress ?? "unknown");
      });
      this.server = secure;
    }
    this.server.on("session", (session) => {
      if (tls !== undefined && !this.admit(session, tls)) return;
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => {}); // its streams report what matters
      try {
        session.setLocalWindowSize(2 * this.streamWindowBytes);
      } catch {
        // A session closing already.
      }
    });
    this.server.on("stream", (stream, headers) => this.dispatch(stream, headers));
  }

  /** The bound port (useful with port 0); 0 before `listen`. */
  get port(): number {
    return this.boundPort;
  }

  /** Peer connections refused since start, by reason (always 0 on a plaintext port). */
  get tlsRejections(): Readonly<Record<PeerTlsRejection, number>> {
    return { ...this.rejections };
  }

  /**
   * Reads the TLS material again (`tls.material()`), for handshakes from now on; open
   * connections keep theirs. Nothing to do on a plaintext port.
   */
  reloadTls(): void {
    if (this.tls === undefined) return;
    const material = this.tls.material();
    (this.server as http2.Http2SecureServer).setSecureContext({
      ca: material.ca,
      cert: material.cert,
      key: material.key,
    });
  }

  /** Keeps a mutual-TLS session whose certificate names a member; cuts it otherwise. */
  private admit(session: http2.ServerHttp2Session, tls: PeerServerTlsOptions): boolean {
    const socket = session.socket as TLSSocket;
    const nodeId = nodeIdOfCertificate(socket.getPeerCertificate?.(), tls.clusterId);
    if (nodeId === undefined || !tls.members.has(nodeId)) {
      session.on("error", () => {});
      session.destroy();
      this.reject(PeerTlsRejection.Identity, socket.remoteAddress ?? "unknown");
      return false;
    }
    this.sessionNodeIds.set(session, nodeId);
    return true;
  }

  private reject(reason: PeerTlsRejection, remoteAddress: string): void {
    this.rejections[reason] += 1;
    this.tls?.onRejected?.(reason, remoteAddress);
  }

  /** Serves the bidirectional stream method at `path` with `handler` (one call per stream). */
  handleStream(path: string, handler: (call: PeerServerCall) => void): void {
    this.streamHandlers.set(path, handler);
  }

  removeStreamHandler(path: string): void {
    this.streamHandlers.delete(path);
  }

  /**
   * Serves the unary methods of a grpc-js service definition (such as a ts-proto generated
   * `forward.ForwardServiceService`) with an implementation object of the same shape grpc-js
   * takes; each handler is called with `{ request }` and a callback. Streaming methods of the
   * definition are not served (UNIMPLEMENTED).
   */
  addUnaryService(definition: ServiceDefinition, implementation: object): void {
    const handlers = implementation as Record<string, unknown>;
    for (const [name, method] of Object.entries(definition)) {
      if (method.requestStream || method.responseStream) continue;
      const handler = handlers[name] ?? handlers[method.originalName ?? ""];
      if (typeof handler !== "function") throw new TypeError(`no handler for ${method.path}`);
      this.unaryMethods.set(method.path, {
        deserialize: method.requestDeserialize as (bytes: Buffer) => unknown,
        serialize: method.responseSerialize as (value: unknown) => Buffer,
        handler: handler as UnaryHandler,
      });
    }
  }

  /** Binds `host:port`; resolves with the port bound. */
  async listen(address: string): Promise<number> {
    if (this.closed) throw new TransportClosedError();
    if (this.listening) throw new Error("the peer server is already listening");
    const separator = address.lastIndexOf(":");
    const host = address.slice(0, separator).replace(/^\[(.*)\]$/, "$1");
    const port = Number(address.slice(separator + 1));
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    this.listening = true;
    // Failures of accepted connections arrive on their sessions and streams (handled there); a
    // server-level error after binding (accept failing for lack of descriptors) must not throw
    // out of the process: libuv keeps accepting once descriptors free up.
    this.server.on("error", () => {});
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this.boundPort;
  }

  /** Stops accepting, gives open calls a short grace, then cuts every connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const session of this.sessions) session.close();
    const timer = setTimeout(() => {
      for (const session of this.sessions) session.destroy();
    }, CLOSE_GRACE_MS);
    await closed;
    clearTimeout(timer);
  }

  private dispatch(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = String(headers[HTTP2_HEADER_PATH] ?? "");
    const socket = stream.session?.socket;
    const peer = socket === undefined ? "unknown" : `${socket.remoteAddress}:${socket.remotePort}`;
    const session = stream.session;
    const peerNodeId = session === undefined ? undefined : this.sessionNodeIds.get(session);
    const call = new PeerServerCall(stream, path, peer, this.maxMessageBytes, peerNodeId);
    if (this.tls !== undefined && peerNodeId === undefined) {
      call.finish({ code: GrpcStatus.UNAUTHENTICATED, details: "no cluster identity on this connection" });
      return;
    }
    const contentType = String(headers[HTTP2_HEADER_CONTENT_TYPE] ?? "");
    if (headers[HTTP2_HEADER_METHOD] !== "POST" || !contentType.startsWith("application/grpc")) {
      stream.respond({ [HTTP2_HEADER_STATUS]: 415 }, { endStream: true });
      return;
    }
    if (this.closed) {
      call.finish({ code: GrpcStatus.UNAVAILABLE, details: "the peer server is closing" });
      return;
    }
    const streamHandler = this.streamHandlers.get(path);
    if (streamHandler !== undefined) {
      streamHandler(call);
      return;
    }
    const unary = this.unaryMethods.get(path);
    if (unary === undefined) {
      call.finish({ code: GrpcStatus.UNIMPLEMENTED, details: `no method ${path} on the peer port` });
      return;
    }
    this.serveUnary(call, unary, deadlineOf(headers["grpc-timeout"], Date.now()));
  }

  private serveUnary(call: PeerServerCall, method: UnaryMethod, deadline: Date | number): void {
    let request: Buffer | null = null;
    call.onMessage((message) => {
      if (request !== null) {
        call.finish({ code: GrpcStatus.UNIMPLEMENTED, details: "a unary method takes one request" });
        return;
      }
      request = message;
    });
    call.onEnd(() => {
      if (request === null) {
        call.finish({ code: GrpcStatus.UNIMPLEMENTED, details: "a unary method takes one request" });
        return;
      }
      let decoded: unknown;
      try {
        decoded = method.deserialize(request);
      } catch (error) {
        call.finish({
          code: GrpcStatus.INTERNAL,
          details: `undecodable request: ${(error as Error).message}`,
        });
        return;
      }
      try {
        const unaryCall: PeerUnaryCall = {
          request: decoded,
          metadata: new Metadata(),
          get cancelled() {
            return call.isFinished;
          },
          getPeer: () => call.peer,
          getDeadline: () => deadline,
        };
        method.handler(unaryCall, (error, value) => {
          if (call.isFinished) return; // cancelled meanwhile
          if (error !== null && error !== undefined) {
            call.finish({
              code: typeof error.code === "number" ? error.code : GrpcStatus.UNKNOWN,
              details: error.details ?? error.message ?? "",
            });
            return;
          }
          let body: Buffer;
          try {
            body = method.serialize(value);
          } catch (serializeError) {
            call.finish({
              code: GrpcStatus.INTERNAL,
              details: `unserializable response: ${(serializeError as Error).message}`,
            });
            return;
          }
          call.write(body);
          call.finish({ code: GrpcStatus.OK, details: "" });
        });
      } catch (error) {
        call.finish({ code: GrpcStatus.UNKNOWN, details: `handler threw: ${(error as Error).message}` });
      }
    });
  }
}
