/**
 * The sending half of one peer's ForwardStream: a long-lived bidirectional gRPC stream to the
 * peer port of one node, written straight to node:http2 (no grpc-js), on which this node's
 * gateway forwards shard batches to that node's leaders. Each request carries an id and its
 * deadline; each answer names the request it answers, in whatever order the appends finish.
 *
 * Contract of `send`: `answer` is called exactly once — with the leader's results, one per batch
 * in the request's order, or with a PeerUnavailableError (retriable) when the request was
 * refused (too many outstanding, the stream is waiting to reconnect, the node is stopping: `sent`
 * false), when its deadline passed first (a later answer is dropped), or when the stream failed
 * before the answer came (every outstanding request is rejected at once; `sent` false only when
 * the stream's connection was never made, or the peer refused the stream as UNIMPLEMENTED).
 *
 * Connection: the stream is opened on first use, with its own HTTP/2 session (mutual TLS when
 * `tls` is given, as the Raft stream dials: http2-peer-session.ts), and kept. When it fails
 * (refused, reset, the peer ended it, or a request's deadline passed with nothing at all heard on
 * the stream since it was written: a silent connection) it is closed, and the next one is opened
 * by the first request after a jittered, doubling backoff; requests meanwhile are refused at
 * once, so callers fail over instead of queueing behind a dead peer. A peer that answers
 * UNIMPLEMENTED (an older version without ForwardStream) is flagged `unsupported` for
 * FORWARD_STREAM_UNSUPPORTED_RETRY_MS, for the forwarder to use the unary call instead.
 *
 * Bounds: at most `requestsInFlightMax` requests and `bytesInFlightMax` bytes outstanding; a
 * request past either is refused (backpressure), never queued.
 */
import type * as http2 from "node:http2";
import { constants as http2Constants } from "node:http2";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { connectPeerSession, type PeerTlsMaterial } from "@sluice/broker";
import type { forward } from "@sluice/proto";
import {
  FORWARD_MESSAGE_BYTES_MAX,
  FORWARD_STREAM_BYTES_IN_FLIGHT_MAX,
  FORWARD_STREAM_RECONNECT_BACKOFF_MS_MAX,
  FORWARD_STREAM_RECONNECT_BACKOFF_MS_MIN,
  FORWARD_STREAM_REQUESTS_IN_FLIGHT_MAX,
  FORWARD_STREAM_SESSION_MEMORY_MIB,
  FORWARD_STREAM_UNSUPPORTED_RETRY_MS,
  FORWARD_STREAM_WINDOW_BYTES,
} from "./constants.js";
import { PeerUnavailableError } from "./forward-errors.js";
import {
  decodeForwardStreamResponse,
  encodeForwardStreamRequest,
  type ForwardStreamAnswer,
  GRPC_PREFIX_BYTES,
} from "./forward-stream-codec.js";
import type { LeaderAppendReply } from "./leader-append.js";

/** The gRPC path of ForwardStream (forward.proto). */
export const FORWARD_STREAM_PATH = "/sluice.peer.v1.ForwardService/ForwardStream";

/** Mutual TLS on the peer port: the material of the moment (read at each connection) and the cluster. */
export interface ForwardStreamTls {
  readonly material: () => PeerTlsMaterial;
  readonly clusterId: string;
}

export interface ForwardStreamOptions {
  /** The node at the other end; its certificate must name it (with `tls`). */
  readonly nodeId: number;
  /** "host:port" of its peer port. */
  readonly address: string;
  /** ms since the epoch; deadlines are in this clock. @default Date.now */
  readonly clock?: () => number;
  /** @default undefined (plaintext h2c) */
  readonly tls?: ForwardStreamTls | undefined;
  /** In [0, 1), for the backoff's jitter. @default Math.random */
  readonly random?: () => number;
  /** @default FORWARD_STREAM_REQUESTS_IN_FLIGHT_MAX */
  readonly requestsInFlightMax?: number;
  /** @default FORWARD_STREAM_BYTES_IN_FLIGHT_MAX */
  readonly bytesInFlightMax?: number;
}

/** Called once per request: results (one per batch, in order) or the error. */
export type ForwardAnswer = (
  error: PeerUnavailableError | null,
  results: readonly LeaderAppendReply[],
) => void;

interface Outstanding {
  readonly deadlineAtMs: number;
  readonly bytes: number;
  readonly batchCount: number;
  /** `answersReceived` when it was written: equal at its deadline means the stream went silent. */
  readonly answersBefore: number;
  readonly answer: ForwardAnswer;
}

const NO_RESULTS: readonly LeaderAppendReply[] = [];

export class ForwardStream {
  private readonly nodeId: number;
  private readonly address: string;
  private readonly clock: () => number;
  private readonly tls: ForwardStreamTls | undefined;
  private readonly random: () => number;
  private readonly requestsInFlightMax: number;
  private readonly bytesInFlightMax: number;
  private readonly outstanding = new Map<number, Outstanding>();
  private bytesInFlight = 0;
  private nextRequestId = 1;
  private answersReceived = 0;
  private session: http2.ClientHttp2Session | null = null;
  private stream: http2.ClientHttp2Stream | null = null;
  /** Incremented per stream; events of an older stream are ignored. */
  private generation = 0;
  /** Answer bytes received and not yet a whole message. */
  private received: Buffer = Buffer.alloc(0);
  private consecutiveFailures = 0;
  private reconnectAtMs = 0;
  private lastFailure = "";
  private unsupportedUntilMs = 0;
  /** Whether the current stream's session ever connected (so that what was written may have left). */
  private connected = false;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private deadlineTimerAtMs = 0;
  private closed = false;

  constructor(options: ForwardStreamOptions) {
    this.nodeId = options.nodeId;
    this.address = options.address;
    this.clock = options.clock ?? Date.now;
    this.tls = options.tls;
    this.random = options.random ?? Math.random;
    this.requestsInFlightMax = options.requestsInFlightMax ?? FORWARD_STREAM_REQUESTS_IN_FLIGHT_MAX;
    this.bytesInFlightMax = options.bytesInFlightMax ?? FORWARD_STREAM_BYTES_IN_FLIGHT_MAX;
    if (!Number.isSafeInteger(this.requestsInFlightMax) || this.requestsInFlightMax < 1) {
      throw new RangeError(`requestsInFlightMax must be a positive integer, got ${this.requestsInFlightMax}`);
    }
    if (!Number.isSafeInteger(this.bytesInFlightMax) || this.bytesInFlightMax < 1) {
      throw new RangeError(`bytesInFlightMax must be a positive integer, got ${this.bytesInFlightMax}`);
    }
  }

  /** True while the peer is known not to serve ForwardStream (it answered UNIMPLEMENTED). */
  get unsupported(): boolean {
    return this.unsupportedUntilMs > this.clock();
  }

  /** Requests written and not yet answered, expired or failed. */
  get inFlight(): number {
    return this.outstanding.size;
  }

  /**
   * Sends one request with `batches` (read before this returns, never kept), `bytes` their size
   * as the forwarder counts it, due by `deadlineAtMs`; `answer` is called once (see above).
   */
  send(
    batches: readonly forward.ForwardShardBatch[],
    bytes: number,
    deadlineAtMs: number,
    answer: ForwardAnswer,
  ): void {
    if (this.closed) {
      answer(this.unavailable("this node is stopping", false), NO_RESULTS);
      return;
    }
    if (
      this.outstanding.size >= this.requestsInFlightMax ||
      this.bytesInFlight + bytes > this.bytesInFlightMax
    ) {
      answer(
        this.unavailable(
          `${this.outstanding.size} forwards (${this.bytesInFlight} bytes) are outstanding to it already`,
          false,
        ),
        NO_RESULTS,
      );
      return;
    }
    const stream = this.open();
    if (stream === null) {
      answer(
        this.unavailable(
          `${this.lastFailure}; the forward stream reconnects in ${Math.max(0, this.reconnectAtMs - this.clock())} ms`,
          false,
        ),
        NO_RESULTS,
      );
      return;
    }
    const requestId = this.nextRequestId++;
    let message: Buffer;
    try {
      message = encodeForwardStreamRequest(requestId, deadlineAtMs, batches);
    } catch (error) {
      answer(
        this.unavailable(`the request could not be encoded: ${(error as Error).message}`, false),
        NO_RESULTS,
      );
      return;
    }
    this.outstanding.set(requestId, {
      deadlineAtMs,
      bytes,
      batchCount: batches.length,
      answersBefore: this.answersReceived,
      answer,
    });
    this.bytesInFlight += bytes;
    this.armDeadline(deadlineAtMs);
    // HTTP/2 flow control may hold it in the stream's buffer; the bounds above limit how much.
    stream.write(message);
  }

  /** Rejects every outstanding request and closes the stream; `send` refuses from now on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fail(this.generation, GrpcStatus.UNAVAILABLE, "this node is stopping");
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
  }

  /**
   * `sent`: whether the request may have reached the peer (PeerUnavailableError.sent); false only
   * when it certainly did not (refused here before writing, or no connection was ever made).
   */
  private unavailable(reason: string, sent: boolean): PeerUnavailableError {
    return new PeerUnavailableError(this.nodeId, reason, { sent });
  }

  /** The open stream, opening one if the backoff allows; null while waiting to reconnect. */
  private open(): http2.ClientHttp2Stream | null {
    if (this.stream !== null) return this.stream;
    if (this.clock() < this.reconnectAtMs) return null;
    const generation = ++this.generation;
    this.received = Buffer.alloc(0);
    let session: http2.ClientHttp2Session;
    try {
      session = connectPeerSession(this.address, {
        windowBytes: FORWARD_STREAM_WINDOW_BYTES,
        maxSessionMemoryMib: FORWARD_STREAM_SESSION_MEMORY_MIB,
        tls:
          this.tls === undefined
            ? undefined
            : { material: this.tls.material(), clusterId: this.tls.clusterId, expectedNodeId: this.nodeId },
      });
    } catch (error) {
      // Unreadable TLS material, a bad address: a failure like any other, retried after backoff.
      this.failed(`it could not be dialed: ${(error as Error).message}`);
      return null;
    }
    // Session errors fail its stream too, which reports them; this only keeps them from throwing.
    session.on("error", () => {});
    // Until then nothing written has left this process (a refused or failed connection).
    this.connected = false;
    session.once("connect", () => {
      if (generation === this.generation) this.connected = true;
    });
    const stream = session.request(
      {
        [http2Constants.HTTP2_HEADER_METHOD]: "POST",
        [http2Constants.HTTP2_HEADER_PATH]: FORWARD_STREAM_PATH,
        [http2Constants.HTTP2_HEADER_CONTENT_TYPE]: "application/grpc+proto",
        [http2Constants.HTTP2_HEADER_TE]: "trailers",
        "user-agent": "sluice-forward-stream",
      },
      { endStream: false },
    );
    this.session = session;
    this.stream = stream;
    stream.on("response", (headers) => {
      const httpStatus = Number(headers[http2Constants.HTTP2_HEADER_STATUS]);
      if (httpStatus !== 200) {
        this.fail(generation, GrpcStatus.UNAVAILABLE, `it answered HTTP status ${httpStatus}`);
        return;
      }
      // A trailers-only response: the server refused the call (UNIMPLEMENTED on an older node).
      if (headers["grpc-status"] !== undefined) this.ended(generation, headers);
    });
    stream.on("trailers", (trailers) => this.ended(generation, trailers));
    stream.on("data", (chunk: Buffer) => this.receive(generation, chunk));
    stream.on("error", (error: Error) => this.fail(generation, GrpcStatus.UNAVAILABLE, error.message));
    stream.on("close", () => {
      const code = stream.rstCode ?? 0;
      this.fail(
        generation,
        GrpcStatus.UNAVAILABLE,
        code === http2Constants.NGHTTP2_NO_ERROR
          ? "the forward stream closed without a status"
          : `the forward stream was reset (HTTP/2 error ${code})`,
      );
    });
    return stream;
  }

  /** Splits received bytes into gRPC messages and settles the requests they answer. */
  private receive(generation: number, chunk: Buffer): void {
    if (generation !== this.generation || this.stream === null) return;
    this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
    while (this.received.length >= GRPC_PREFIX_BYTES) {
      const compressed = this.received[0] !== 0;
      const length = this.received.readUInt32BE(1);
      if (compressed || length > FORWARD_MESSAGE_BYTES_MAX) {
        this.fail(generation, GrpcStatus.INTERNAL, "it sent a compressed or oversized answer");
        return;
      }
      if (this.received.length < GRPC_PREFIX_BYTES + length) return;
      const body = this.received.subarray(GRPC_PREFIX_BYTES, GRPC_PREFIX_BYTES + length);
      this.received = this.received.subarray(GRPC_PREFIX_BYTES + length);
      let answer: ForwardStreamAnswer;
      try {
        answer = decodeForwardStreamResponse(body);
      } catch (error) {
        this.fail(generation, GrpcStatus.INTERNAL, `undecodable answer: ${(error as Error).message}`);
        return;
      }
      this.answersReceived += 1;
      this.consecutiveFailures = 0;
      const request = this.outstanding.get(answer.requestId);
      // Unknown: the request's deadline passed and it was settled already; the answer is dropped.
      if (request === undefined) continue;
      this.outstanding.delete(answer.requestId);
      this.bytesInFlight -= request.bytes;
      if (answer.results.length !== request.batchCount) {
        request.answer(
          this.unavailable(
            `it answered ${answer.results.length} results for ${request.batchCount} batches (another version?)`,
            true,
          ),
          NO_RESULTS,
        );
        continue;
      }
      request.answer(null, answer.results);
    }
  }

  private ended(generation: number, headers: http2.IncomingHttpHeaders): void {
    const code = Number(headers["grpc-status"] ?? GrpcStatus.UNKNOWN);
    const raw = headers["grpc-message"];
    let details = typeof raw === "string" ? raw : "";
    try {
      details = decodeURIComponent(details); // grpc-message is percent-encoded
    } catch {
      // Not valid percent-encoding: keep it as it came.
    }
    this.fail(
      generation,
      Number.isInteger(code) ? (code as GrpcStatus) : GrpcStatus.UNKNOWN,
      `the forward stream ended with ${GrpcStatus[code] ?? code}${details === "" ? "" : `: ${details}`}`,
    );
  }

  /** Ends stream `generation` (if it is the current one) and rejects every outstanding request. */
  private fail(generation: number, code: GrpcStatus, reason: string): void {
    if (generation !== this.generation || this.stream === null) {
      if (this.closed) this.rejectAll(reason, true);
      return;
    }
    // Written requests never left without a connection; UNIMPLEMENTED means the peer served none.
    const sent = this.connected && code !== GrpcStatus.UNIMPLEMENTED;
    const stream = this.stream;
    const session = this.session;
    this.stream = null;
    this.session = null;
    if (!stream.destroyed) stream.close(http2Constants.NGHTTP2_CANCEL);
    if (session !== null && !session.destroyed) session.destroy();
    if (code === GrpcStatus.UNIMPLEMENTED) {
      this.unsupportedUntilMs = this.clock() + FORWARD_STREAM_UNSUPPORTED_RETRY_MS;
    }
    if (!this.closed) this.failed(reason);
    this.rejectAll(reason, sent);
  }

  /** Counts a failure and sets when the next stream may be opened. */
  private failed(reason: string): void {
    this.lastFailure = reason;
    this.consecutiveFailures += 1;
    const ceiling = Math.min(
      FORWARD_STREAM_RECONNECT_BACKOFF_MS_MAX,
      FORWARD_STREAM_RECONNECT_BACKOFF_MS_MIN * 2 ** Math.min(this.consecutiveFailures - 1, 16),
    );
    // Half to all of the ceiling: nodes that lost the same peer do not come back in step.
    this.reconnectAtMs = this.clock() + Math.round(ceiling * (0.5 + this.random() / 2));
  }

  private rejectAll(reason: string, sent: boolean): void {
    if (this.outstanding.size === 0) return;
    const requests = [...this.outstanding.values()];
    this.outstanding.clear();
    this.bytesInFlight = 0;
    const error = this.unavailable(reason, sent);
    for (const request of requests) request.answer(error, NO_RESULTS);
  }

  /** Makes sure the deadline timer fires by `deadlineAtMs`. */
  private armDeadline(deadlineAtMs: number): void {
    if (this.deadlineTimer !== null && this.deadlineTimerAtMs <= deadlineAtMs) return;
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimerAtMs = deadlineAtMs;
    this.deadlineTimer = setTimeout(() => this.expire(), Math.max(0, deadlineAtMs - this.clock()));
    this.deadlineTimer.unref();
  }

  /** Rejects the requests past their deadline; a stream that went silent meanwhile is failed. */
  private expire(): void {
    this.deadlineTimer = null;
    const now = this.clock();
    let next = Number.POSITIVE_INFINITY;
    let silent = false;
    const expired: Outstanding[] = [];
    for (const [requestId, request] of this.outstanding) {
      if (request.deadlineAtMs > now) {
        next = Math.min(next, request.deadlineAtMs);
        continue;
      }
      this.outstanding.delete(requestId);
      this.bytesInFlight -= request.bytes;
      expired.push(request);
      if (request.answersBefore === this.answersReceived) silent = true;
    }
    for (const request of expired) {
      request.answer(
        this.unavailable(
          `no answer to a forward within its deadline${silent ? " (the forward stream is silent)" : ""}`,
          this.connected,
        ),
        NO_RESULTS,
      );
    }
    if (silent) {
      this.fail(
        this.generation,
        GrpcStatus.DEADLINE_EXCEEDED,
        "nothing came back on the forward stream before a deadline",
      );
      return;
    }
    if (next !== Number.POSITIVE_INFINITY) this.armDeadline(next);
  }
}
