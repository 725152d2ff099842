/**
 * The sending half of a peer stream written straight to HTTP/2, speaking gRPC's wire protocol to
 * the peer's ordinary grpc-js server (same path, headers, length-prefixed messages and trailers).
 *
 * Why not grpc-js's client: it copies every message into a new buffer to prepend the 5-byte gRPC
 * prefix, and passes it through a promise-based filter stack and a retry buffer first. For a
 * leader that sends each 64 KiB entry to two peers, that was two more 64 KiB allocations and
 * copies per entry (and the GC they cost) plus the call stack, on the hottest path of the node.
 * Here a sealed frame already carries its gRPC prefix in its headroom (wire.ts) and goes to the
 * HTTP/2 stream as it is, large entries as views of their own buffers: no copy in JavaScript.
 *
 * Used for plaintext channels and for mutual TLS (`tls`: the material of the moment, and the node
 * the server's certificate must name; see tls.ts); a transport given grpc-js `channelCredentials`
 * keeps grpc-js's client instead. Each call has its own
 * HTTP/2 session, closed with the call, so a call that failed (or went silent) never leaves a
 * half-dead connection for the next one; calls are opened once per stream failure, not per send.
 *
 * Events mirror grpc-js's ClientDuplexStream, so the transport drives both the same way: 'data'
 * (a RaftStreamResponse), 'drain', 'error' ({ code, details, message }) and 'end' (the server
 * closed with status OK); after 'error' or 'end', or `cancel()`, nothing more is emitted.
 */
import { EventEmitter } from "node:events";
import * as http2 from "node:http2";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { peer } from "@sluice/proto";
import { GRPC_MESSAGE_OVERHEAD_BYTES } from "./constants.js";
import { connectPeerSession, type PeerCallTls } from "./http2-peer-session.js";
import { GRPC_MESSAGE_PREFIX_BYTES, grpcMessageOf, type OutboundRequest } from "./wire.js";

/** What the transport needs of a client stream; grpc-js's ClientDuplexStream has the same. */
export interface PeerCall {
  write(request: OutboundRequest): boolean;
  on(event: "data", listener: (response: peer.RaftStreamResponse) => void): this;
  on(event: "drain" | "end", listener: () => void): this;
  on(event: "error", listener: (error: PeerCallError) => void): this;
  removeAllListeners(event: "data" | "drain" | "error" | "end"): this;
  cancel(): void;
}

export interface PeerCallError {
  readonly code: GrpcStatus;
  readonly details: string;
  readonly message: string;
}

/** Largest response message accepted (responses are a few bytes; anything big is garbage). */
const RESPONSE_BYTES_MAX = GRPC_MESSAGE_OVERHEAD_BYTES;

export class Http2PeerCall extends EventEmitter implements PeerCall {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private finished = false;
  /** Response bytes received and not yet a whole message. */
  private pending: Buffer = Buffer.alloc(0);

  /**
   * Opens the session and the stream at once; failures (refused connection, reset) arrive as an
   * 'error' event. `windowBytes` is this end's receive window (responses are small; it matters
   * little).
   */
  constructor(address: string, path: string, windowBytes: number, tls?: PeerCallTls) {
    super();
    this.session = connectPeerSession(address, { windowBytes, tls });
    // Session errors also fail the stream, which reports them; this only keeps them from throwing.
    this.session.on("error", () => {});
    this.stream = this.session.request(
      {
        [http2.constants.HTTP2_HEADER_METHOD]: "POST",
        [http2.constants.HTTP2_HEADER_PATH]: path,
        [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
        [http2.constants.HTTP2_HEADER_TE]: "trailers",
        "user-agent": "sluice-peer-transport",
      },
      { endStream: false },
    );
    const stream = this.stream;
    stream.on("response", (headers) => {
      const httpStatus = Number(headers[http2.constants.HTTP2_HEADER_STATUS]);
      if (httpStatus !== 200) {
        this.finish(GrpcStatus.UNAVAILABLE, `peer answered HTTP status ${httpStatus}`);
        return;
      }
      // A trailers-only response: the server refused or ended the call at once.
      if (headers["grpc-status"] !== undefined) this.finishWith(headers);
    });
    stream.on("trailers", (trailers) => this.finishWith(trailers));
    stream.on("data", (chunk: Buffer) => this.receive(chunk));
    stream.on("drain", () => {
      if (!this.finished) this.emit("drain");
    });
    stream.on("error", (error: Error) => this.finish(GrpcStatus.UNAVAILABLE, error.message));
    stream.on("close", () => {
      const code = stream.rstCode ?? 0;
      this.finish(
        GrpcStatus.UNAVAILABLE,
        code === http2.constants.NGHTTP2_NO_ERROR
          ? "stream closed without a status"
          : `stream reset (HTTP/2 error ${code})`,
      );
    });
  }

  /**
   * Writes one request as one gRPC message: its chunks in one vectored write, not copied. Returns
   * false when the caller should wait for 'drain'.
   */
  write(request: OutboundRequest): boolean {
    if (this.finished || this.stream.destroyed) return false;
    const chunks = grpcMessageOf(request);
    if (chunks.length === 1) return this.stream.write(chunks[0]);
    this.stream.cork();
    let accepted = true;
    for (const chunk of chunks) accepted = this.stream.write(chunk);
    this.stream.uncork();
    return accepted;
  }

  /** Ends the call and its connection; no event follows. */
  cancel(): void {
    if (this.finished) return;
    this.finished = true;
    this.close();
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= GRPC_MESSAGE_PREFIX_BYTES) {
      const compressed = this.pending[0] !== 0;
      const length = this.pending.readUInt32BE(1);
      if (compressed || length > RESPONSE_BYTES_MAX) {
        this.finish(GrpcStatus.INTERNAL, "peer sent a compressed or oversized response");
        return;
      }
      if (this.pending.length < GRPC_MESSAGE_PREFIX_BYTES + length) return;
      const body = this.pending.subarray(GRPC_MESSAGE_PREFIX_BYTES, GRPC_MESSAGE_PREFIX_BYTES + length);
      this.pending = this.pending.subarray(GRPC_MESSAGE_PREFIX_BYTES + length);
      let response: peer.RaftStreamResponse;
      try {
        response = peer.RaftStreamResponse.decode(body);
      } catch (error) {
        this.finish(GrpcStatus.INTERNAL, `undecodable response: ${(error as Error).message}`);
        return;
      }
      this.emit("data", response);
      if (this.finished) return;
    }
  }

  private finishWith(headers: http2.IncomingHttpHeaders): void {
    const code = Number(headers["grpc-status"] ?? GrpcStatus.UNKNOWN);
    const raw = headers["grpc-message"];
    let details = typeof raw === "string" ? raw : "";
    try {
      details = decodeURIComponent(details); // grpc-message is percent-encoded
    } catch {
      // Not valid percent-encoding: keep it as it came.
    }
    this.finish(Number.isInteger(code) ? (code as GrpcStatus) : GrpcStatus.UNKNOWN, details);
  }

  private finish(code: GrpcStatus, details: string): void {
    if (this.finished) return;
    this.finished = true;
    this.close();
    if (code === GrpcStatus.OK) this.emit("end");
    else this.emit("error", { code, details, message: `${code} ${GrpcStatus[code] ?? ""}: ${details}` });
  }

  private close(): void {
    if (!this.stream.destroyed) this.stream.close(http2.constants.NGHTTP2_CANCEL);
    if (!this.session.destroyed) this.session.destroy();
  }
}
