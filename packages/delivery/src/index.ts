/**
 * @sluice/delivery — delivery streams (the Firehose part): a Sluice stream, or direct puts into
 * a backing stream, read through a consumer group, buffered per shard and written to files,
 * S3-compatible objects or PostgreSQL, idempotently per batch, checkpointed after the
 * destination acknowledged. See README.md for the design.
 */
export const PACKAGE_NAME = "@sluice/delivery";

export { batchBody, batchKey, type DeliveryBatch } from "./batch.js";
export * as constants from "./constants.js";
export {
  type Compression,
  type DeliveryDestination,
  type DeliverySource,
  type DeliveryStreamDefinition,
  type DeliveryStreamInput,
  deliveryGroupName,
  type RecordFormat,
  sourceStreamName,
  validateDefinition,
} from "./definition.js";
export { DefinitionStore, type DefinitionStoreOptions } from "./definition-store.js";
export { DeliveryWorker, type DeliveryWorkerOptions } from "./delivery-worker.js";
export type { Destination, PendingBatch } from "./destination.js";
export {
  DeliveryError,
  DeliveryErrorCode,
  DeliveryStreamInUseError,
  DeliveryStreamNotFoundError,
  DeliveryUnavailableError,
  DestinationError,
  InvalidArgumentError,
  InvalidDefinitionError,
  UnknownOperationError,
} from "./errors.js";
export { FileDestination } from "./file-destination.js";
export {
  FIREHOSE_TARGET_PREFIX,
  FirehoseApi,
  type FirehoseApiOptions,
  type FirehoseCallContext,
} from "./firehose-api.js";
export type { DeliveryMetricsSnapshot } from "./metrics.js";
export { PostgresDestination } from "./postgres-destination.js";
export { encodeRecord, type SourceRecord } from "./record-format.js";
export { DeliveryRunner, type DeliveryRunnerOptions, destinationFor } from "./runner.js";
export { S3Destination } from "./s3-destination.js";
export { compareSequenceNumbers } from "./sequence.js";
