/**
 * A delivery stream's definition: where records come from, where they go, and how they are
 * batched. Definitions are validated once, by `validateDefinition`, before they are stored;
 * every reader trusts a stored one.
 */
import {
  BUFFER_INTERVAL_MS_DEFAULT,
  BUFFER_INTERVAL_S_MAX,
  BUFFER_INTERVAL_S_MIN,
  BUFFER_SIZE_BYTES_DEFAULT,
  BUFFER_SIZE_MIB_MAX,
  BUFFER_SIZE_MIB_MIN,
  BYTES_PER_MIB,
  DELIVERY_GROUP_PREFIX,
  DELIVERY_RETRY_DURATION_MS_DEFAULT,
  DELIVERY_STREAM_NAME_LENGTH_MAX,
  DELIVERY_STREAM_NAME_PATTERN,
  DIRECT_PUT_SHARD_COUNT_DEFAULT,
  DIRECT_PUT_SHARD_COUNT_MAX,
  DIRECT_PUT_STREAM_PREFIX,
} from "./constants.js";
import { InvalidDefinitionError } from "./errors.js";

/** A Sluice stream read through a consumer group, or direct puts into a backing stream. */
export type DeliverySource =
  | { readonly kind: "stream"; readonly streamName: string }
  | { readonly kind: "direct-put"; readonly shardCount: number };

export type DeliveryDestination =
  | {
      readonly kind: "files";
      /** An absolute directory; objects go under `<directory>/<prefix>yyyy/MM/dd/HH/`. */
      readonly directory: string;
      readonly prefix: string;
      /** Where batches that failed for good go, with a `.error.json` giving the reason. */
      readonly errorPrefix: string;
    }
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly prefix: string;
      readonly errorPrefix: string;
      /** An S3-compatible endpoint ("http://127.0.0.1:9000"); AWS's when absent. */
      readonly endpoint?: string;
      /** @default "us-east-1" */
      readonly region?: string;
      /** Static credentials; the SDK's default chain when absent. Stored in the definition as given. */
      readonly accessKeyId?: string;
      readonly secretAccessKey?: string;
    }
  | {
      readonly kind: "postgres";
      /** `postgres://user:password@host:port/database` (or a socket host). */
      readonly connectionString: string;
      /** The table rows are copied into; created when missing. */
      readonly table: string;
      /** Where rows of batches that failed for good go, with the reason. @default `<table>_errors` */
      readonly errorTable: string;
    };

export type RecordFormat = "raw" | "json-lines";
export type Compression = "none" | "gzip";

export interface DeliveryStreamDefinition {
  readonly name: string;
  /** Unique per creation: a re-created delivery stream of the same name starts afresh. */
  readonly id: string;
  readonly createdAtMs: number;
  readonly source: DeliverySource;
  readonly destination: DeliveryDestination;
  /** A batch closes when its formatted records reach this many bytes (before compression). */
  readonly bufferSizeBytes: number;
  /** …or when its first record has waited this long; 0 closes a batch per read. */
  readonly bufferIntervalMs: number;
  readonly compression: Compression;
  /** raw: each record's bytes and a newline; json-lines: one JSON object per record. */
  readonly format: RecordFormat;
  /** How long a batch refused with a permanent error is retried before it goes to the error output. */
  readonly retryDurationMs: number;
}

/** What a caller gives to create one; the rest has defaults. */
export interface DeliveryStreamInput {
  readonly name: string;
  readonly source?: DeliverySource;
  readonly destination: DeliveryDestination;
  /** @default 5 MiB; 1–128 MiB */
  readonly bufferSizeBytes?: number;
  /** @default 300 000 ms; 0–900 s */
  readonly bufferIntervalMs?: number;
  /** @default "none" */
  readonly compression?: Compression;
  /** @default "raw" */
  readonly format?: RecordFormat;
  /** @default 300 000 ms */
  readonly retryDurationMs?: number;
}

/** The stream a delivery stream reads. */
export function sourceStreamName(definition: DeliveryStreamDefinition): string {
  return definition.source.kind === "stream"
    ? definition.source.streamName
    : `${DIRECT_PUT_STREAM_PREFIX}${definition.name}`;
}

/** The consumer group of a definition: its id in the name, so a re-created one has no old checkpoints. */
export function deliveryGroupName(definition: DeliveryStreamDefinition): string {
  return `${DELIVERY_GROUP_PREFIX}${definition.name}-${definition.id.slice(0, 8)}`;
}

export function validateDeliveryStreamName(name: string): void {
  if (
    typeof name !== "string" ||
    name.length < 1 ||
    name.length > DELIVERY_STREAM_NAME_LENGTH_MAX ||
    !DELIVERY_STREAM_NAME_PATTERN.test(name)
  ) {
    throw new InvalidDefinitionError(
      `delivery stream name ${JSON.stringify(name)} must be 1-${DELIVERY_STREAM_NAME_LENGTH_MAX} characters of a-z, A-Z, 0-9, _ . -`,
    );
  }
}

/** A complete, valid definition from `input`, or InvalidDefinitionError naming the first fault. */
export function validateDefinition(
  input: DeliveryStreamInput,
  identity: { readonly id: string; readonly createdAtMs: number },
): DeliveryStreamDefinition {
  validateDeliveryStreamName(input.name);
  const source = input.source ?? { kind: "direct-put", shardCount: DIRECT_PUT_SHARD_COUNT_DEFAULT };
  if (source.kind === "stream") {
    if (typeof source.streamName !== "string" || source.streamName === "") {
      throw new InvalidDefinitionError("source.streamName must name a Sluice stream");
    }
  } else if (source.kind === "direct-put") {
    if (
      !Number.isSafeInteger(source.shardCount) ||
      source.shardCount < 1 ||
      source.shardCount > DIRECT_PUT_SHARD_COUNT_MAX
    ) {
      throw new InvalidDefinitionError(
        `source.shardCount must be an integer from 1 to ${DIRECT_PUT_SHARD_COUNT_MAX}, got ${source.shardCount}`,
      );
    }
  } else {
    throw new InvalidDefinitionError('source.kind must be "stream" or "direct-put"');
  }
  const destination = validateDestination(input.destination);
  const bufferSizeBytes = input.bufferSizeBytes ?? BUFFER_SIZE_BYTES_DEFAULT;
  if (
    !Number.isSafeInteger(bufferSizeBytes) ||
    bufferSizeBytes < BUFFER_SIZE_MIB_MIN * BYTES_PER_MIB ||
    bufferSizeBytes > BUFFER_SIZE_MIB_MAX * BYTES_PER_MIB
  ) {
    throw new InvalidDefinitionError(
      `bufferSizeBytes must be ${BUFFER_SIZE_MIB_MIN}-${BUFFER_SIZE_MIB_MAX} MiB in bytes, got ${bufferSizeBytes}`,
    );
  }
  const bufferIntervalMs = input.bufferIntervalMs ?? BUFFER_INTERVAL_MS_DEFAULT;
  if (
    !Number.isSafeInteger(bufferIntervalMs) ||
    bufferIntervalMs < BUFFER_INTERVAL_S_MIN * 1_000 ||
    bufferIntervalMs > BUFFER_INTERVAL_S_MAX * 1_000
  ) {
    throw new InvalidDefinitionError(
      `bufferIntervalMs must be ${BUFFER_INTERVAL_S_MIN}-${BUFFER_INTERVAL_S_MAX} s in ms, got ${bufferIntervalMs}`,
    );
  }
  const compression = input.compression ?? "none";
  if (compression !== "none" && compression !== "gzip") {
    throw new InvalidDefinitionError(`compression must be "none" or "gzip", got ${String(compression)}`);
  }
  const format = input.format ?? "raw";
  if (format !== "raw" && format !== "json-lines") {
    throw new InvalidDefinitionError(`format must be "raw" or "json-lines", got ${String(format)}`);
  }
  const retryDurationMs = input.retryDurationMs ?? DELIVERY_RETRY_DURATION_MS_DEFAULT;
  if (!Number.isSafeInteger(retryDurationMs) || retryDurationMs < 0) {
    throw new InvalidDefinitionError(
      `retryDurationMs must be a non-negative integer, got ${retryDurationMs}`,
    );
  }
  return {
    name: input.name,
    id: identity.id,
    createdAtMs: identity.createdAtMs,
    source,
    destination,
    bufferSizeBytes,
    bufferIntervalMs,
    compression,
    format,
    retryDurationMs,
  };
}

const SQL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;

function validateDestination(destination: DeliveryDestination | undefined): DeliveryDestination {
  if (destination === undefined) throw new InvalidDefinitionError("a destination is required");
  switch (destination.kind) {
    case "files":
      if (typeof destination.directory !== "string" || !destination.directory.startsWith("/")) {
        throw new InvalidDefinitionError("destination.directory must be an absolute path");
      }
      checkPrefix(destination.prefix, "prefix");
      checkPrefix(destination.errorPrefix, "errorPrefix");
      return destination;
    case "s3":
      if (
        typeof destination.bucket !== "string" ||
        !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(destination.bucket)
      ) {
        throw new InvalidDefinitionError(
          "destination.bucket must be an S3 bucket name (3-63 of a-z 0-9 . -)",
        );
      }
      checkPrefix(destination.prefix, "prefix");
      checkPrefix(destination.errorPrefix, "errorPrefix");
      return destination;
    case "postgres":
      if (typeof destination.connectionString !== "string" || destination.connectionString === "") {
        throw new InvalidDefinitionError("destination.connectionString must be a PostgreSQL connection URL");
      }
      for (const [field, value] of [
        ["table", destination.table],
        ["errorTable", destination.errorTable],
      ] as const) {
        if (typeof value !== "string" || !SQL_NAME_PATTERN.test(value)) {
          throw new InvalidDefinitionError(
            `destination.${field} must be an unquoted SQL identifier (letters, digits, _; at most 63)`,
          );
        }
      }
      return destination;
    default:
      throw new InvalidDefinitionError('destination.kind must be "files", "s3" or "postgres"');
  }
}

function checkPrefix(prefix: string, field: string): void {
  if (typeof prefix !== "string" || prefix.startsWith("/") || prefix.split("/").includes("..")) {
    throw new InvalidDefinitionError(`destination.${field} must be a relative key prefix without ".." parts`);
  }
}
