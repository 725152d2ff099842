/**
 * The SDK's typed errors (as kafkajs's): one class per condition, a stable `code` from
 * ClientErrorCode (or, for a failed call, the gateway's own code), and `retriable`. A failed call
 * carries the Kinesis error name the gateway put in the `sluice-error-name` trailer, so code
 * written for the AWS SDK can switch on `error.errorName === "ResourceNotFoundException"`.
 */
import { status as GrpcStatus, Metadata, type ServiceError } from "@grpc/grpc-js";

export const ClientErrorCode = {
  InvalidOptions: "INVALID_OPTIONS",
  ClientClosed: "CLIENT_CLOSED",
  ProducerClosed: "PRODUCER_CLOSED",
  Aborted: "ABORTED",
  RecordTooLarge: "RECORD_TOO_LARGE",
  RecordFailed: "RECORD_FAILED",
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** The trailers the gateway sets on every failed call (see the gateway's status-details.ts). */
export const ERROR_NAME_TRAILER = "sluice-error-name";
export const ERROR_CODE_TRAILER = "sluice-error-code";
export const ERROR_RETRIABLE_TRAILER = "sluice-error-retriable";

/** Base of every error this package throws. */
export abstract class SluiceClientError extends Error {
  abstract readonly code: string;
  abstract readonly retriable: boolean;
}

/** Options given to a constructor or a method are invalid; the message names the field. */
export class InvalidOptionsError extends SluiceClientError {
  override readonly name = "InvalidOptionsError";
  readonly code = ClientErrorCode.InvalidOptions;
  readonly retriable = false;
}

/** The client (or the producer) was closed; create a new one. */
export class ClientClosedError extends SluiceClientError {
  override readonly name = "ClientClosedError";
  readonly code = ClientErrorCode.ClientClosed;
  readonly retriable = false;
}

export class ProducerClosedError extends SluiceClientError {
  override readonly name = "ProducerClosedError";
  readonly code = ClientErrorCode.ProducerClosed;
  readonly retriable = false;
}

/** The caller's AbortSignal fired; the call was cancelled (a write may still have happened). */
export class AbortedError extends SluiceClientError {
  override readonly name = "AbortedError";
  readonly code = ClientErrorCode.Aborted;
  readonly retriable = false;
}

/** A record is larger than Kinesis allows (1 MiB with its partition key) or its key is invalid. */
export class RecordTooLargeError extends SluiceClientError {
  override readonly name = "RecordTooLargeError";
  readonly code = ClientErrorCode.RecordTooLarge;
  readonly retriable = false;
}

/**
 * The producer gave a record up: a non-retriable error, or retriable ones until the record's
 * timeout. `errorName` is the last Kinesis error it got (ProvisionedThroughputExceededException,
 * InternalFailure, or a call's error name).
 */
export class RecordFailedError extends SluiceClientError {
  override readonly name = "RecordFailedError";
  readonly code = ClientErrorCode.RecordFailed;
  readonly retriable: boolean;
  readonly errorName: string;
  readonly attempts: number;
  constructor(
    message: string,
    options: { errorName: string; retriable: boolean; attempts: number; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.errorName = options.errorName;
    this.retriable = options.retriable;
    this.attempts = options.attempts;
  }
}

/**
 * A call the gateway (or the connection) failed. `errorName` is the Kinesis error name
 * ("ResourceNotFoundException", …; "ServiceUnavailable" when no node could be reached), `code`
 * Sluice's stable code (or the gRPC status name when the gateway gave none), `retriable` whether
 * the same call may succeed later.
 */
export class SluiceCallError extends SluiceClientError {
  override readonly name = "SluiceCallError";
  readonly code: string;
  readonly retriable: boolean;
  readonly errorName: string;
  readonly grpcStatus: GrpcStatus;
  readonly operation: string;
  readonly endpoint: string;
  constructor(
    message: string,
    fields: {
      code: string;
      retriable: boolean;
      errorName: string;
      grpcStatus: GrpcStatus;
      operation: string;
      endpoint: string;
      cause?: unknown;
    },
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.code = fields.code;
    this.retriable = fields.retriable;
    this.errorName = fields.errorName;
    this.grpcStatus = fields.grpcStatus;
    this.operation = fields.operation;
    this.endpoint = fields.endpoint;
  }
}

/** gRPC statuses that mean "try again", when the gateway did not say. */
const RETRIABLE_STATUSES: ReadonlySet<GrpcStatus> = new Set([
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.DEADLINE_EXCEEDED,
]);

/** Reads the gateway's trailers off a grpc-js error. */
export function callErrorOf(operation: string, endpoint: string, error: ServiceError): SluiceCallError {
  const metadata = error.metadata instanceof Metadata ? error.metadata : undefined;
  const name = metadata?.get(ERROR_NAME_TRAILER)[0];
  const code = metadata?.get(ERROR_CODE_TRAILER)[0];
  const retriable = metadata?.get(ERROR_RETRIABLE_TRAILER)[0];
  const fromGateway = typeof name === "string" && typeof code === "string";
  const statusName = GrpcStatus[error.code] ?? String(error.code);
  const details = error.details || error.message;
  return new SluiceCallError(`${operation} on ${endpoint}: ${details}`, {
    code: fromGateway ? code : statusName,
    retriable: fromGateway ? retriable === "true" : RETRIABLE_STATUSES.has(error.code),
    errorName: fromGateway ? name : kinesisNameOfStatus(error.code),
    grpcStatus: error.code,
    operation,
    endpoint,
    cause: error,
  });
}

function kinesisNameOfStatus(code: GrpcStatus): string {
  switch (code) {
    case GrpcStatus.UNAVAILABLE:
      return "ServiceUnavailable";
    case GrpcStatus.DEADLINE_EXCEEDED:
      return "RequestTimeout";
    case GrpcStatus.CANCELLED:
      return "RequestCancelled";
    default:
      return "InternalFailure";
  }
}

/**
 * True when the call never reached a gateway that could answer it: the connection failed or
 * dropped, or the node said it cannot serve now. Such a call is tried on the next endpoint.
 */
export function isFailoverError(error: SluiceCallError): boolean {
  return error.grpcStatus === GrpcStatus.UNAVAILABLE;
}
