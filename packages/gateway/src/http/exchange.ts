/**
 * What the HTTP handler and a streaming operation (SubscribeToShard over event streams) share:
 * the request and response as both HTTP versions offer them, the authentication hook, and the
 * exchange a streaming handler is given. Types only, so handler.ts and the streaming handlers
 * import them without importing each other.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { StreamsOperations } from "../server/operations.js";
import type { WireCodec } from "./codec.js";

/** The parts of an HTTP/1.1 or HTTP/2 compatibility request the handler reads. */
export interface HttpRequestLike {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersionMajor: number;
  on(event: "data", listener: (chunk: Buffer) => void): unknown;
  on(event: "end" | "close", listener: () => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** The parts of an HTTP/1.1 or HTTP/2 compatibility response the handler writes. */
export interface HttpResponseLike {
  statusCode: number;
  readonly headersSent: boolean;
  readonly writableEnded: boolean;
  setHeader(name: string, value: string | number): unknown;
  write(chunk: Buffer): boolean;
  end(chunk?: Buffer): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "close" | "finish" | "drain", listener: () => void): unknown;
}

/** What the authentication hook sees of a request. */
export interface AuthenticationRequest {
  readonly operation: string;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body (a SigV4 verifier hashes it). */
  readonly body: Buffer;
}

/**
 * An extra verification of a request, run after the built-in SigV4 check of the handler's
 * `accessControl` (auth/access-control.ts, which verifies signatures against configured access
 * keys). Throw (or reject with) an AuthenticationError, a KinesisHttpError AUTHENTICATION_FAILED —
 * or any error whose Kinesis name you want sent — to refuse it. Without either, every request is
 * accepted, signed by anyone or not signed at all.
 */
export type Authenticator = (request: AuthenticationRequest) => void | Promise<void>;

/** Everything a streaming operation handler (SubscribeToShard over event streams) is given. */
export interface StreamingExchange {
  readonly operation: string;
  /** The generated request object (SubscribeToShardRequest), decoded through the operation's shape. */
  readonly request: unknown;
  /** The gateway's operations (ready: the handler is called only when they exist). */
  readonly operations: StreamsOperations;
  readonly codec: WireCodec;
  readonly requestId: string;
  readonly req: HttpRequestLike;
  /** The response, headers not sent yet; the handler owns it and must end it. */
  readonly res: HttpResponseLike;
}

/**
 * Serves a streaming operation. Reject before writing anything to answer with that error as
 * usual; once the handler has sent headers, it reports errors in its own framing.
 */
export type StreamingOperationHandler = (exchange: StreamingExchange) => Promise<void>;
