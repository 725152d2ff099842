/**
 * Typed errors of delivery streams: one class per condition, a stable `code`, `retriable`, and
 * the Firehose error name (`errorName`) the HTTP API answers with.
 */
export const DeliveryErrorCode = {
  InvalidDefinition: "INVALID_DEFINITION",
  NotFound: "DELIVERY_STREAM_NOT_FOUND",
  InUse: "DELIVERY_STREAM_IN_USE",
  InvalidArgument: "INVALID_ARGUMENT",
  UnknownOperation: "UNKNOWN_OPERATION",
  DestinationFailed: "DESTINATION_FAILED",
  ServiceUnavailable: "SERVICE_UNAVAILABLE",
} as const;
export type DeliveryErrorCode = (typeof DeliveryErrorCode)[keyof typeof DeliveryErrorCode];

export abstract class DeliveryError extends Error {
  abstract readonly code: DeliveryErrorCode;
  abstract readonly retriable: boolean;
  /** The Firehose exception name of this condition. */
  abstract readonly errorName: string;
}

/** A definition or its options break a rule; the message names the field and the rule. */
export class InvalidDefinitionError extends DeliveryError {
  override readonly name = "InvalidDefinitionError";
  readonly code = DeliveryErrorCode.InvalidDefinition;
  readonly retriable = false;
  readonly errorName = "InvalidArgumentException";
}

/** A request argument breaks a rule (record too large, too many records). */
export class InvalidArgumentError extends DeliveryError {
  override readonly name = "InvalidArgumentError";
  readonly code = DeliveryErrorCode.InvalidArgument;
  readonly retriable = false;
  readonly errorName = "InvalidArgumentException";
}

/** The Firehose API was asked for an operation it does not serve. */
export class UnknownOperationError extends DeliveryError {
  override readonly name = "UnknownOperationError";
  readonly code = DeliveryErrorCode.UnknownOperation;
  readonly retriable = false;
  readonly errorName = "UnknownOperationException";
}

export class DeliveryStreamNotFoundError extends DeliveryError {
  override readonly name = "DeliveryStreamNotFoundError";
  readonly code = DeliveryErrorCode.NotFound;
  readonly retriable = false;
  readonly errorName = "ResourceNotFoundException";
  constructor(deliveryStreamName: string) {
    super(`delivery stream ${deliveryStreamName} does not exist; list them with ListDeliveryStreams`);
  }
}

export class DeliveryStreamInUseError extends DeliveryError {
  override readonly name = "DeliveryStreamInUseError";
  readonly code = DeliveryErrorCode.InUse;
  readonly retriable = false;
  readonly errorName = "ResourceInUseException";
  constructor(deliveryStreamName: string) {
    super(`delivery stream ${deliveryStreamName} already exists; delete it first or pick another name`);
  }
}

/**
 * The destination refused a batch. `permanent` ones (a bad row for PostgreSQL, access denied)
 * go to the error output once the retry duration has passed; the others are retried forever.
 */
export class DestinationError extends DeliveryError {
  override readonly name = "DestinationError";
  readonly code = DeliveryErrorCode.DestinationFailed;
  readonly retriable: boolean;
  readonly errorName = "ServiceUnavailableException";
  constructor(message: string, options: { permanent: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = !options.permanent;
  }
}

/** The cluster did not answer (the node is starting, or has no quorum); retry. */
export class DeliveryUnavailableError extends DeliveryError {
  override readonly name = "DeliveryUnavailableError";
  readonly code = DeliveryErrorCode.ServiceUnavailable;
  readonly retriable = true;
  readonly errorName = "ServiceUnavailableException";
}
