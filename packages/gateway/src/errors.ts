/**
 * Typed errors of the gateway and the one table that maps every error code the gateway can meet
 * — its own, the metadata service's and the broker's — to a gRPC status, a Kinesis error name and
 * whether a retry can succeed. Handlers throw these classes (or let the metadata and broker errors
 * through); `toServiceError` in status-details.ts turns any of them into the gRPC status a client
 * sees. Nothing else decides what a client is told.
 *
 * Which Kinesis name a bad request gets follows Kinesis: a value that breaks a constraint of the
 * API model (a member's length, pattern or range, a required member missing) is a
 * ValidationException; a value the model allows but the service refuses (a hash key above
 * 2^128 − 1, a record over 1 MiB with its key, a retention period under 24 hours, fields that
 * exclude each other) is an InvalidArgumentException.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";

/** The error names a Kinesis client knows (the `__type` of the HTTP API, the ErrorDetail's `error_name`). */
export const KinesisErrorName = {
  Validation: "ValidationException",
  InvalidArgument: "InvalidArgumentException",
  ResourceNotFound: "ResourceNotFoundException",
  ResourceInUse: "ResourceInUseException",
  LimitExceeded: "LimitExceededException",
  ExpiredIterator: "ExpiredIteratorException",
  ProvisionedThroughputExceeded: "ProvisionedThroughputExceededException",
  /** The name PutRecords puts in a failed record's ErrorCode and Kinesis returns for server faults. */
  InternalFailure: "InternalFailure",
  /** The access key id is not one of the configured keys (or a bearer token names none). */
  UnrecognizedClient: "UnrecognizedClientException",
  /** The SigV4 signature does not verify, is expired, or its scope is wrong. */
  InvalidSignature: "InvalidSignatureException",
  /** The Authorization header is not a complete SigV4 header. */
  IncompleteSignature: "IncompleteSignature",
  /** The request carries no credentials at all. */
  MissingAuthenticationToken: "MissingAuthenticationTokenException",
  /** The principal is not allowed the action on the resource by the policy. */
  AccessDenied: "AccessDeniedException",
  /** The KeyId of StartStreamEncryption names no master key of the nodes' key file. */
  KmsNotFound: "KMSNotFoundException",
  /** This node cannot use the stream's master key (no key file, or the key is not in it). */
  KmsAccessDenied: "KMSAccessDeniedException",
} as const;
export type KinesisErrorName = (typeof KinesisErrorName)[keyof typeof KinesisErrorName];

/** The gateway's own error codes. */
export const GatewayErrorCode = {
  /** A request member breaks a constraint of the Kinesis API model. */
  Validation: "VALIDATION_FAILED",
  /** A request member is allowed by the model but refused (out of range, conflicting fields). */
  InvalidArgument: "INVALID_ARGUMENT",
  /** A shard iterator is malformed, forged, or signed with another cluster's secret. */
  InvalidIterator: "INVALID_ITERATOR",
  /** A shard iterator is older than ITERATOR_TTL_MS: get a new one. */
  ExpiredIterator: "EXPIRED_ITERATOR",
  /** No such shard in the stream. */
  ShardNotFound: "SHARD_NOT_FOUND",
  /** No such resource (used where no more specific code fits). */
  ResourceNotFound: "RESOURCE_NOT_FOUND",
  /** The resource is not in a state that allows the operation (for example a closed shard for writes). */
  ResourceInUse: "RESOURCE_IN_USE",
  /** A limit of the cluster or stream would be passed. */
  LimitExceeded: "LIMIT_EXCEEDED",
  /** The shard's throughput limit is used up: back off and retry. */
  ThroughputExceeded: "THROUGHPUT_EXCEEDED",
  /** A fault of the server that a retry will not fix. */
  InternalFailure: "INTERNAL_FAILURE",
  /** A passing fault of the server (no leader, node going down): retry after a backoff. */
  Unavailable: "UNAVAILABLE",
  /** The metadata's open shards do not tile the hash key space: a bug or a map caught mid-change. */
  ShardMapInvalid: "SHARD_MAP_INVALID",
  /** The access key id (SigV4 or bearer token) is not a configured key. */
  UnrecognizedClient: "UNRECOGNIZED_CLIENT",
  /** The SigV4 signature or the bearer secret does not verify, or the request is outside the clock-skew window. */
  InvalidSignature: "INVALID_SIGNATURE",
  /** The Authorization header is malformed or misses a part (Credential, SignedHeaders, Signature). */
  IncompleteSignature: "INCOMPLETE_SIGNATURE",
  /** Authentication is on and the request carries no credentials. */
  MissingAuthenticationToken: "MISSING_AUTHENTICATION_TOKEN",
  /** The principal's policy does not allow the action on the stream (default deny, or an explicit Deny). */
  AccessDenied: "ACCESS_DENIED",
  /** StartStreamEncryption's KeyId names no master key of the key file (--kms-key-file). */
  KmsNotFound: "KMS_NOT_FOUND",
  /** The stream is encrypted and this node lacks its master key (no key file, or not in it). */
  KmsKeyUnavailable: "KMS_KEY_UNAVAILABLE",
  /** An encrypted record did not authenticate: damaged or tampered data, or a different key file. */
  RecordDecryptionFailed: "RECORD_DECRYPTION_FAILED",
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/**
 * The metadata service's codes (packages/metadata `MetadataErrorCode`), listed here by value so
 * the table covers them without reaching into that package's internals; the test checks the two
 * agree.
 */
export const METADATA_ERROR_CODES = [
  "STREAM_NOT_FOUND",
  "STREAM_EXISTS",
  "STREAM_IN_USE",
  "CONSUMER_NOT_FOUND",
  "CONSUMER_EXISTS",
  "LIMIT_EXCEEDED",
  "INVALID_ARGUMENT",
  "METADATA_UNAVAILABLE",
  "METADATA_TIMEOUT",
  "SHARD_NOT_FOUND",
  "SHARD_CLOSED",
  "CONSUMER_GROUP_NOT_FOUND",
  "GROUP_MEMBER_NOT_FOUND",
  "LEASE_LOST",
] as const;

/** The broker's codes (packages/broker `BrokerErrorCode`); the test checks the two agree. */
export const BROKER_ERROR_CODES = [
  "NOT_LEADER",
  "LEADERSHIP_LOST",
  "APPEND_TIMEOUT",
  "BUSY",
  "GROUP_NOT_FOUND",
  "GROUP_VOTERS_MISMATCH",
  "BROKER_CLOSED",
  "APPEND_TOO_LARGE",
  "INVALID_RECORD",
  "INVALID_ARGUMENT",
  "INVALID_OPTIONS",
  "CORRUPT_BATCH",
  "STORAGE_FAILED",
  "STATE_MACHINE_FAILED",
  "SHARD_SEALED",
  "DISK_FULL",
] as const;

/** What a client is told for one error code. */
export interface ErrorTableEntry {
  readonly grpcStatus: GrpcStatus;
  readonly kinesisName: KinesisErrorName;
  /** True when the same request may succeed after a backoff (here or at another node). */
  readonly retriable: boolean;
  /** One sentence for the README's table: what happened. */
  readonly meaning: string;
}

function entry(
  grpcStatus: GrpcStatus,
  kinesisName: KinesisErrorName,
  retriable: boolean,
  meaning: string,
): ErrorTableEntry {
  return Object.freeze({ grpcStatus, kinesisName, retriable, meaning });
}

const K = KinesisErrorName;
const S = GrpcStatus;

/**
 * Every error code the gateway can meet → gRPC status, Kinesis name, retriable. A code shared by
 * several packages (INVALID_ARGUMENT, LIMIT_EXCEEDED) means the same thing in each. Errors the
 * gateway normally absorbs by retrying (NOT_LEADER, LEADERSHIP_LOST) are here too, for when the
 * request deadline passes first.
 */
export const ERROR_TABLE: Readonly<Record<string, ErrorTableEntry>> = Object.freeze({
  // The gateway's own.
  VALIDATION_FAILED: entry(
    S.INVALID_ARGUMENT,
    K.Validation,
    false,
    "A request member breaks the API model's length, pattern or range.",
  ),
  INVALID_ARGUMENT: entry(
    S.INVALID_ARGUMENT,
    K.InvalidArgument,
    false,
    "A request member is out of range or conflicts with another.",
  ),
  INVALID_ITERATOR: entry(
    S.INVALID_ARGUMENT,
    K.InvalidArgument,
    false,
    "The shard iterator is malformed, forged or from another cluster.",
  ),
  EXPIRED_ITERATOR: entry(
    S.FAILED_PRECONDITION,
    K.ExpiredIterator,
    false,
    "The shard iterator is older than five minutes; get a new one.",
  ),
  SHARD_NOT_FOUND: entry(S.NOT_FOUND, K.ResourceNotFound, false, "The stream has no shard with that id."),
  RESOURCE_NOT_FOUND: entry(S.NOT_FOUND, K.ResourceNotFound, false, "The named resource does not exist."),
  RESOURCE_IN_USE: entry(
    S.FAILED_PRECONDITION,
    K.ResourceInUse,
    false,
    "The resource's state does not allow the operation.",
  ),
  LIMIT_EXCEEDED: entry(
    S.RESOURCE_EXHAUSTED,
    K.LimitExceeded,
    false,
    "A limit of the cluster or the stream would be passed.",
  ),
  THROUGHPUT_EXCEEDED: entry(
    S.RESOURCE_EXHAUSTED,
    K.ProvisionedThroughputExceeded,
    true,
    "The shard's read or write throughput is used up; back off.",
  ),
  INTERNAL_FAILURE: entry(
    S.INTERNAL,
    K.InternalFailure,
    false,
    "A fault of the server that a retry will not fix.",
  ),
  UNAVAILABLE: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "A passing fault of the server; retry after a backoff.",
  ),
  SHARD_MAP_INVALID: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The stream's shard map is being changed or is inconsistent; retry.",
  ),
  UNRECOGNIZED_CLIENT: entry(
    S.UNAUTHENTICATED,
    K.UnrecognizedClient,
    false,
    "The access key id is not configured on the cluster; check the key or ask for one.",
  ),
  INVALID_SIGNATURE: entry(
    S.UNAUTHENTICATED,
    K.InvalidSignature,
    false,
    "The signature or secret does not verify, or the request time is more than five minutes off.",
  ),
  INCOMPLETE_SIGNATURE: entry(
    S.UNAUTHENTICATED,
    K.IncompleteSignature,
    false,
    "The Authorization header is not a complete AWS4-HMAC-SHA256 signature.",
  ),
  MISSING_AUTHENTICATION_TOKEN: entry(
    S.UNAUTHENTICATED,
    K.MissingAuthenticationToken,
    false,
    "Authentication is on and the request carries no credentials.",
  ),
  ACCESS_DENIED: entry(
    S.PERMISSION_DENIED,
    K.AccessDenied,
    false,
    "The policy does not allow the principal this action on this stream.",
  ),
  KMS_NOT_FOUND: entry(
    S.NOT_FOUND,
    K.KmsNotFound,
    false,
    "The KeyId names no master key in the nodes' key file; check the id or the --kms-key-file.",
  ),
  KMS_KEY_UNAVAILABLE: entry(
    S.FAILED_PRECONDITION,
    K.KmsAccessDenied,
    false,
    "The stream is encrypted and this node has no key file or lacks the stream's master key.",
  ),
  RECORD_DECRYPTION_FAILED: entry(
    S.INTERNAL,
    K.InternalFailure,
    false,
    "An encrypted record failed authentication: damaged data, or a key file unlike the writer's.",
  ),
  // The metadata service's.
  STREAM_NOT_FOUND: entry(S.NOT_FOUND, K.ResourceNotFound, false, "No stream by that name or ARN."),
  STREAM_EXISTS: entry(S.ALREADY_EXISTS, K.ResourceInUse, false, "A stream by that name exists."),
  STREAM_IN_USE: entry(
    S.FAILED_PRECONDITION,
    K.ResourceInUse,
    false,
    "The stream's status (not ACTIVE, has consumers) does not allow it.",
  ),
  CONSUMER_NOT_FOUND: entry(
    S.NOT_FOUND,
    K.ResourceNotFound,
    false,
    "No registered consumer by that name or ARN.",
  ),
  CONSUMER_EXISTS: entry(S.ALREADY_EXISTS, K.ResourceInUse, false, "A consumer by that name is registered."),
  METADATA_UNAVAILABLE: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "No metadata leader yet; nothing was applied.",
  ),
  METADATA_TIMEOUT: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The change may or may not have been applied; check, then retry.",
  ),
  SHARD_CLOSED: entry(
    S.INVALID_ARGUMENT,
    K.InvalidArgument,
    false,
    "The shard was already split or merged (it is closed); only open shards can be resharded.",
  ),
  CONSUMER_GROUP_NOT_FOUND: entry(
    S.NOT_FOUND,
    K.ResourceNotFound,
    false,
    "No consumer group by that name for the stream; a member must join it first.",
  ),
  GROUP_MEMBER_NOT_FOUND: entry(
    S.NOT_FOUND,
    K.ResourceNotFound,
    false,
    "The member is not in the group (expired after its session timeout, or left); join again.",
  ),
  LEASE_LOST: entry(
    S.FAILED_PRECONDITION,
    K.ResourceInUse,
    false,
    "The member no longer holds the shard's lease at that epoch; stop processing the shard.",
  ),
  // The broker's.
  NOT_LEADER: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The shard's leader moved and the request deadline passed.",
  ),
  LEADERSHIP_LOST: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "Leadership changed mid-append; the records may or may not be in the shard.",
  ),
  APPEND_TIMEOUT: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The append did not commit in time; it may still commit.",
  ),
  BUSY: entry(
    S.RESOURCE_EXHAUSTED,
    K.ProvisionedThroughputExceeded,
    true,
    "The shard's leader has too much in flight; back off.",
  ),
  GROUP_NOT_FOUND: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The shard has no replica where the request went; the map is catching up.",
  ),
  GROUP_VOTERS_MISMATCH: entry(
    S.INTERNAL,
    K.InternalFailure,
    false,
    "Replica placement disagrees with the metadata: a bug.",
  ),
  BROKER_CLOSED: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The node is shutting down; retry at another node.",
  ),
  APPEND_TOO_LARGE: entry(
    S.INVALID_ARGUMENT,
    K.InvalidArgument,
    false,
    "The records are larger than one append may be.",
  ),
  INVALID_RECORD: entry(
    S.INVALID_ARGUMENT,
    K.InvalidArgument,
    false,
    "A record's key, hash key or data is invalid.",
  ),
  INVALID_OPTIONS: entry(S.INTERNAL, K.InternalFailure, false, "The node is misconfigured."),
  CORRUPT_BATCH: entry(
    S.INTERNAL,
    K.InternalFailure,
    false,
    "Stored records failed to decode: corruption or a bug.",
  ),
  STORAGE_FAILED: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "A node's disk failed; another replica will take over.",
  ),
  STATE_MACHINE_FAILED: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "A replica's state machine failed and stopped; another replica will take over.",
  ),
  SHARD_SEALED: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "The shard is sealed by a reshard; the gateway sends its records to the new shards, so retry.",
  ),
  DISK_FULL: entry(
    S.UNAVAILABLE,
    K.InternalFailure,
    true,
    "A node's data filesystem is full; it refuses writes until space returns and its shards move to the other nodes, so retry.",
  ),
} satisfies Record<
  GatewayErrorCode | (typeof METADATA_ERROR_CODES)[number] | (typeof BROKER_ERROR_CODES)[number],
  ErrorTableEntry
>);

/** The table's entry for `code`, or undefined when the code is not in it. */
export function errorTableEntry(code: unknown): ErrorTableEntry | undefined {
  if (typeof code !== "string" || !Object.hasOwn(ERROR_TABLE, code)) return undefined;
  return ERROR_TABLE[code];
}

/** Base of the gateway's errors: a stable `code`, and what the table says for it. */
export class GatewayError extends Error {
  override readonly name: string = "GatewayError";
  readonly code: GatewayErrorCode;
  readonly kinesisName: KinesisErrorName;
  readonly retriable: boolean;
  readonly grpcStatus: GrpcStatus;
  constructor(code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    const found = ERROR_TABLE[code];
    if (found === undefined) throw new Error(`GatewayError: code ${code} is missing from ERROR_TABLE`);
    this.code = code;
    this.kinesisName = found.kinesisName;
    this.retriable = found.retriable;
    this.grpcStatus = found.grpcStatus;
  }
}

/** A request member breaks a constraint of the API model (length, pattern, range, required). */
export class ValidationError extends GatewayError {
  override readonly name = "ValidationError";
  constructor(message: string) {
    super(GatewayErrorCode.Validation, message);
  }
}

/**
 * A request member is allowed by the model but refused. `code` is INVALID_ARGUMENT, or
 * INVALID_ITERATOR for a shard iterator that does not verify.
 */
export class InvalidArgumentError extends GatewayError {
  override readonly name = "InvalidArgumentError";
  constructor(
    message: string,
    code:
      | typeof GatewayErrorCode.InvalidArgument
      | typeof GatewayErrorCode.InvalidIterator = GatewayErrorCode.InvalidArgument,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** The named stream, shard or consumer does not exist. */
export class ResourceNotFoundError extends GatewayError {
  override readonly name = "ResourceNotFoundError";
  constructor(
    message: string,
    code:
      | typeof GatewayErrorCode.ResourceNotFound
      | typeof GatewayErrorCode.ShardNotFound = GatewayErrorCode.ResourceNotFound,
  ) {
    super(code, message);
  }
}

/** The resource exists but its state does not allow the operation. */
export class ResourceInUseError extends GatewayError {
  override readonly name = "ResourceInUseError";
  constructor(message: string) {
    super(GatewayErrorCode.ResourceInUse, message);
  }
}

/** A limit of the cluster or stream would be passed. */
export class LimitExceededError extends GatewayError {
  override readonly name = "LimitExceededError";
  constructor(message: string) {
    super(GatewayErrorCode.LimitExceeded, message);
  }
}

/** The shard iterator is older than ITERATOR_TTL_MS. Not retriable as is: get a new iterator. */
export class ExpiredIteratorError extends GatewayError {
  override readonly name = "ExpiredIteratorError";
  constructor(message: string) {
    super(GatewayErrorCode.ExpiredIterator, message);
  }
}

/** The shard's throughput limit is used up. Retriable after a backoff. */
export class ProvisionedThroughputExceededError extends GatewayError {
  override readonly name = "ProvisionedThroughputExceededError";
  constructor(message: string) {
    super(GatewayErrorCode.ThroughputExceeded, message);
  }
}

/**
 * A fault of the server. With `retriable` (a passing fault: no leader, node going down) the code
 * is UNAVAILABLE (gRPC UNAVAILABLE), otherwise INTERNAL_FAILURE (gRPC INTERNAL). `code` may also
 * name SHARD_MAP_INVALID.
 */
export class InternalFailureError extends GatewayError {
  override readonly name = "InternalFailureError";
  constructor(
    message: string,
    options?: { retriable?: boolean; cause?: unknown; code?: typeof GatewayErrorCode.ShardMapInvalid },
  ) {
    super(
      options?.code ??
        (options?.retriable === true ? GatewayErrorCode.Unavailable : GatewayErrorCode.InternalFailure),
      message,
      options,
    );
  }
}

/** The code of an authentication failure (each is a Kinesis error a client of AWS knows). */
export type AuthenticationErrorCode =
  | typeof GatewayErrorCode.UnrecognizedClient
  | typeof GatewayErrorCode.InvalidSignature
  | typeof GatewayErrorCode.IncompleteSignature
  | typeof GatewayErrorCode.MissingAuthenticationToken;

/**
 * The request's credentials are missing, unknown or do not verify (gRPC UNAUTHENTICATED; over
 * HTTP the Kinesis name of `code`, status 400). Not retriable as is: fix the credentials or the clock.
 */
export class AuthenticationError extends GatewayError {
  override readonly name = "AuthenticationError";
  // biome-ignore lint/complexity/noUselessConstructor: it narrows `code` to the authentication codes
  constructor(code: AuthenticationErrorCode, message: string) {
    super(code, message);
  }
}

/** The principal is authenticated but its policy does not allow the action (gRPC PERMISSION_DENIED). */
export class AccessDeniedError extends GatewayError {
  override readonly name = "AccessDeniedError";
  constructor(message: string) {
    super(GatewayErrorCode.AccessDenied, message);
  }
}
