/**
 * Errors of the HTTP protocol itself — what happens before a request reaches an operation: a
 * missing or unknown `X-Amz-Target`, a body that is not JSON or does not fit the operation's
 * shape, an unsupported content type, a body over the limit, a node not ready yet. Each has the
 * name and HTTP status Kinesis answers with. Errors of the operations go through the gateway's
 * one error table (../errors.ts); `httpStatusOf` gives their HTTP status.
 */
import type { ErrorTableEntry } from "../errors.js";

/** Stable codes of the protocol errors. */
export const HttpErrorCode = {
  /** The body is not valid JSON, or a member has the wrong JSON type. */
  Serialization: "SERIALIZATION",
  /** `X-Amz-Target` is missing, names another service, or an operation Kinesis does not have. */
  UnknownOperation: "UNKNOWN_OPERATION",
  /** The content type is neither AWS JSON 1.1 nor one a plugged-in codec serves. */
  UnsupportedContentType: "UNSUPPORTED_CONTENT_TYPE",
  /** The body is longer than HTTP_REQUEST_BODY_BYTES_MAX. */
  BodyTooLarge: "BODY_TOO_LARGE",
  /** Not a POST: Kinesis cannot tell which operation to authorize. */
  MethodNotAllowed: "METHOD_NOT_ALLOWED",
  /** The request failed authentication (the verification hook refused it). */
  AuthenticationFailed: "AUTHENTICATION_FAILED",
  /** The node's gateway is not ready (no metadata quorum yet) or is shutting down. */
  NotReady: "NOT_READY",
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

interface HttpErrorEntry {
  readonly kinesisName: string;
  readonly httpStatus: number;
  readonly retriable: boolean;
}

/** Protocol error code → the Kinesis `__type`, the HTTP status and whether a retry can succeed. */
export const HTTP_ERROR_TABLE: Readonly<Record<HttpErrorCode, HttpErrorEntry>> = Object.freeze({
  SERIALIZATION: { kinesisName: "SerializationException", httpStatus: 400, retriable: false },
  UNKNOWN_OPERATION: { kinesisName: "UnknownOperationException", httpStatus: 400, retriable: false },
  UNSUPPORTED_CONTENT_TYPE: { kinesisName: "UnknownOperationException", httpStatus: 404, retriable: false },
  BODY_TOO_LARGE: { kinesisName: "SerializationException", httpStatus: 413, retriable: false },
  METHOD_NOT_ALLOWED: { kinesisName: "AccessDeniedException", httpStatus: 403, retriable: false },
  AUTHENTICATION_FAILED: { kinesisName: "UnrecognizedClientException", httpStatus: 400, retriable: false },
  NOT_READY: { kinesisName: "ServiceUnavailable", httpStatus: 503, retriable: true },
});

/** A request the HTTP layer refuses before any operation runs. */
export class KinesisHttpError extends Error {
  override readonly name = "KinesisHttpError";
  readonly code: HttpErrorCode;
  readonly kinesisName: string;
  readonly httpStatus: number;
  readonly retriable: boolean;
  constructor(code: HttpErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    const entry = HTTP_ERROR_TABLE[code];
    this.code = code;
    this.kinesisName = entry.kinesisName;
    this.httpStatus = entry.httpStatus;
    this.retriable = entry.retriable;
  }
}

/**
 * The HTTP status of an operation's error, as Kinesis answers: 500 for InternalFailure, 503 when
 * the table marks that failure retriable (no leader yet, node going down: a passing fault), 400
 * for everything else (throttling included, as Kinesis does).
 */
export function httpStatusOf(entry: ErrorTableEntry): number {
  if (entry.kinesisName !== "InternalFailure") return 400;
  return entry.retriable ? 503 : 500;
}
