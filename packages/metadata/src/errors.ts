/**
 * Typed errors of the metadata service (kafkajs style): one class per condition, a stable `code`
 * from `MetadataErrorCode` (the gateway maps codes to Kinesis error names in one table),
 * `retriable`, and a message that says what to do.
 *
 * Apply never throws for bad input: it returns a failed `CommandResult` with one of these codes,
 * and `errorFromResult` turns it into the matching class on the proposer's node.
 */
export const MetadataErrorCode = {
  /** No stream (or no stream in a usable state) by that name or ARN. Kinesis: ResourceNotFoundException. */
  StreamNotFound: "STREAM_NOT_FOUND",
  /** A stream with that name exists. Kinesis: ResourceInUseException. */
  StreamExists: "STREAM_EXISTS",
  /** The stream's status does not allow the operation (not ACTIVE, has consumers). Kinesis: ResourceInUseException. */
  StreamInUse: "STREAM_IN_USE",
  /** No such registered consumer. Kinesis: ResourceNotFoundException. */
  ConsumerNotFound: "CONSUMER_NOT_FOUND",
  /** A consumer with that name is registered. Kinesis: ResourceInUseException. */
  ConsumerExists: "CONSUMER_EXISTS",
  /** No open or closed shard by that id in the stream (pending children are not visible). Kinesis: ResourceNotFoundException. */
  ShardNotFound: "SHARD_NOT_FOUND",
  /**
   * The shard was already split or merged (closed), so it cannot be split or merged again.
   * Kinesis: InvalidArgumentException ("... has already been merged or split, and thus is not
   * eligible for merging or splitting").
   */
  ShardClosed: "SHARD_CLOSED",
  /** A limit of the cluster or stream would be passed. Kinesis: LimitExceededException. */
  LimitExceeded: "LIMIT_EXCEEDED",
  /** A malformed or out-of-range argument. Kinesis: InvalidArgumentException. */
  InvalidArgument: "INVALID_ARGUMENT",
  /** No metadata leader, or the cluster is not ready; nothing was applied. Retriable. */
  MetadataUnavailable: "METADATA_UNAVAILABLE",
  /** The proposal may or may not have been applied (leader lost, deadline passed). Retriable. */
  MetadataTimeout: "METADATA_TIMEOUT",
  /** No consumer group by that name for the stream (a member must join first). */
  ConsumerGroupNotFound: "CONSUMER_GROUP_NOT_FOUND",
  /** The member is not in the group (expired after its session timeout, or left): join again. */
  GroupMemberNotFound: "GROUP_MEMBER_NOT_FOUND",
  /** The member does not hold the shard's lease at that epoch: stop processing the shard. */
  LeaseLost: "LEASE_LOST",
} as const;
export type MetadataErrorCode = (typeof MetadataErrorCode)[keyof typeof MetadataErrorCode];

const ALL_CODES: ReadonlySet<string> = new Set(Object.values(MetadataErrorCode));

/** True when `code` is one of MetadataErrorCode's values. */
export function isMetadataErrorCode(code: unknown): code is MetadataErrorCode {
  return typeof code === "string" && ALL_CODES.has(code);
}

export class MetadataError extends Error {
  override readonly name: string = "MetadataError";
  readonly code: MetadataErrorCode;
  readonly retriable: boolean;
  constructor(code: MetadataErrorCode, message: string, retriable: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retriable = retriable;
  }
}

export class StreamNotFoundError extends MetadataError {
  override readonly name = "StreamNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.StreamNotFound, message, false, options);
  }
}

export class StreamExistsError extends MetadataError {
  override readonly name = "StreamExistsError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.StreamExists, message, false, options);
  }
}

export class StreamInUseError extends MetadataError {
  override readonly name = "StreamInUseError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.StreamInUse, message, false, options);
  }
}

export class ConsumerNotFoundError extends MetadataError {
  override readonly name = "ConsumerNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.ConsumerNotFound, message, false, options);
  }
}

export class ConsumerExistsError extends MetadataError {
  override readonly name = "ConsumerExistsError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.ConsumerExists, message, false, options);
  }
}

export class ShardNotFoundError extends MetadataError {
  override readonly name = "ShardNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.ShardNotFound, message, false, options);
  }
}

export class ShardClosedError extends MetadataError {
  override readonly name = "ShardClosedError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.ShardClosed, message, false, options);
  }
}

export class LimitExceededError extends MetadataError {
  override readonly name = "LimitExceededError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.LimitExceeded, message, false, options);
  }
}

export class InvalidArgumentError extends MetadataError {
  override readonly name = "InvalidArgumentError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.InvalidArgument, message, false, options);
  }
}

export class MetadataUnavailableError extends MetadataError {
  override readonly name = "MetadataUnavailableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.MetadataUnavailable, message, true, options);
  }
}

export class MetadataTimeoutError extends MetadataError {
  override readonly name = "MetadataTimeoutError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.MetadataTimeout, message, true, options);
  }
}

export class ConsumerGroupNotFoundError extends MetadataError {
  override readonly name = "ConsumerGroupNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.ConsumerGroupNotFound, message, false, options);
  }
}

export class GroupMemberNotFoundError extends MetadataError {
  override readonly name = "GroupMemberNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.GroupMemberNotFound, message, false, options);
  }
}

/** A checkpoint's lease epoch is stale (the shard moved to another member, or back): stop the shard. */
export class LeaseLostError extends MetadataError {
  override readonly name = "LeaseLostError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(MetadataErrorCode.LeaseLost, message, false, options);
  }
}

/** Options given to `MetadataService.start` are invalid; the message names the field. A bug of the caller. */
export class InvalidMetadataOptionsError extends Error {
  override readonly name = "InvalidMetadataOptionsError";
  readonly code = "INVALID_OPTIONS";
  readonly retriable = false;
}

const CLASSES: Record<
  MetadataErrorCode,
  new (
    message: string,
    options?: { cause?: unknown },
  ) => MetadataError
> = {
  STREAM_NOT_FOUND: StreamNotFoundError,
  STREAM_EXISTS: StreamExistsError,
  STREAM_IN_USE: StreamInUseError,
  CONSUMER_NOT_FOUND: ConsumerNotFoundError,
  CONSUMER_EXISTS: ConsumerExistsError,
  SHARD_NOT_FOUND: ShardNotFoundError,
  SHARD_CLOSED: ShardClosedError,
  LIMIT_EXCEEDED: LimitExceededError,
  INVALID_ARGUMENT: InvalidArgumentError,
  METADATA_UNAVAILABLE: MetadataUnavailableError,
  METADATA_TIMEOUT: MetadataTimeoutError,
  CONSUMER_GROUP_NOT_FOUND: ConsumerGroupNotFoundError,
  GROUP_MEMBER_NOT_FOUND: GroupMemberNotFoundError,
  LEASE_LOST: LeaseLostError,
};

/** The typed error for a failed command result's code and message. */
export function metadataErrorFor(code: MetadataErrorCode, message: string): MetadataError {
  return new CLASSES[code](message);
}
