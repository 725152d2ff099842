/**
 * Request validation, one function per request shape or member, run before a request touches
 * metadata or a shard. Each throws a typed error whose message names the member, the problem and
 * the rule ("PartitionKey must be 1 to 256 characters, got 257"):
 *
 * - ValidationError (ValidationException) when a member breaks the Kinesis API model: its length,
 *   pattern or range, or a required member is missing;
 * - InvalidArgumentError (InvalidArgumentException) when the model allows the value but Kinesis
 *   refuses it: a hash key above 2^128 − 1, a record over 1 MiB with its key, a batch over 5 MiB,
 *   a retention period outside 24–8,760 hours, members that exclude or require each other;
 * - LimitExceededError for a shard count above the per-stream limit.
 *
 * Inputs are structural, so the generated protobuf requests and the Kinesis HTTP API's JSON both
 * fit. Protobuf cannot tell an empty string from a missing one: an empty string counts as absent.
 * An optional number is absent when undefined; a Timestamp is also absent when 0.
 */
import {
  CONSUMER_NAME_CHARS_MAX,
  DESCRIBE_STREAM_LIMIT_MAX,
  GET_RECORDS_LIMIT_MAX,
  HASH_KEY_DECIMAL_DIGITS_MAX,
  LIST_SHARDS_LIMIT_MAX,
  LIST_STREAM_CONSUMERS_LIMIT_MAX,
  LIST_STREAMS_LIMIT_MAX,
  LIST_TAGS_LIMIT_MAX,
  NEXT_TOKEN_CHARS_MAX,
  ON_DEMAND_SHARD_COUNT_DEFAULT,
  PARTITION_KEY_CHARS_MAX,
  PUT_RECORDS_BYTES_MAX,
  PUT_RECORDS_COUNT_MAX,
  RECORD_DATA_BYTES_MAX,
  RETENTION_HOURS_MAX,
  RETENTION_HOURS_MIN,
  SEQUENCE_NUMBER_DIGITS_MAX,
  SHARD_COUNT_PER_STREAM_MAX,
  SHARD_ID_CHARS_MAX,
  SHARD_ID_DIGITS,
  SHARD_ITERATOR_CHARS_MAX,
  STREAM_ARN_CHARS_MAX,
  STREAM_NAME_CHARS_MAX,
  TAG_KEY_CHARS_MAX,
  TAG_KEYS_PER_REMOVE_CALL_MAX,
  TAG_VALUE_CHARS_MAX,
  TAGS_PER_ADD_CALL_MAX,
  TAGS_PER_CALL_MAX,
} from "./constants.js";
import {
  GatewayErrorCode,
  InvalidArgumentError,
  LimitExceededError,
  ResourceNotFoundError,
  ValidationError,
} from "./errors.js";
import { isCanonicalDecimal, parseHashKey, partitionKeyHash } from "./hash-key.js";
import { decodeSequenceNumber, type SequencePosition } from "./sequence-number.js";

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
const STREAM_ARN_PATTERN = /^arn:aws.*:kinesis:.*:\d{12}:stream\/\S+$/;
const CONSUMER_ARN_PATTERN =
  /^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+$/;
const SHARD_ID_FORM = /^(?:shardId-)?(\d{1,12})$/;
/** Kinesis's tag characters: Unicode letters, digits, white space and _ . / = + - % @ (and :). */
const TAG_CHARACTERS = /^[\p{L}\p{Z}\p{N}_.:/=+\-%@]*$/u;
/** Longest piece of a bad value quoted back in a message. */
const QUOTED_CHARS_MAX = 64;

// ---- Helpers ------------------------------------------------------------------------------------

/** `value` quoted for a message, cut to QUOTED_CHARS_MAX characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > QUOTED_CHARS_MAX ? `${value.slice(0, QUOTED_CHARS_MAX)}…` : value);
}

/** Unicode code points in `s` (the unit of the model's string lengths), counting only up to `limit` + 1. */
function codePoints(s: string, limit: number): number {
  if (s.length <= limit) {
    // Fast path: no more code points than UTF-16 units; count exactly only if surrogates exist.
    let count = 0;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0xdc00 && c <= 0xdfff && i > 0) {
        const previous = s.charCodeAt(i - 1);
        if (previous >= 0xd800 && previous <= 0xdbff) continue;
      }
      count++;
    }
    return count;
  }
  let count = 0;
  for (const _ of s) {
    if (++count > limit) break;
  }
  return count;
}

function lengthBetween(field: string, value: string, min: number, max: number, unit = "characters"): void {
  const n = codePoints(value, max);
  if (n < min || n > max) {
    throw new ValidationError(
      min === max
        ? `${field} must be ${min} ${unit}, got ${n}`
        : `${field} must be ${min} to ${max} ${unit}, got ${n > max ? `more than ${max}` : n}`,
    );
  }
}

function required(field: string, value: string | undefined): string {
  if (value === undefined || value === "")
    throw new ValidationError(`${field} is required and must not be empty`);
  return value;
}

/** An optional integer member with a model range: undefined when absent. */
function optionalIntegerInRange(
  field: string,
  value: number | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${field} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function present(timestamp: number | undefined): timestamp is number {
  return timestamp !== undefined && timestamp !== 0;
}

// ---- Names, ARNs, ids ---------------------------------------------------------------------------

/** StreamName: 1–128 characters of `[a-zA-Z0-9_.-]`. Returns it. */
export function validateStreamName(value: string, field = "StreamName"): string {
  required(field, value);
  lengthBetween(field, value, 1, STREAM_NAME_CHARS_MAX);
  if (!NAME_PATTERN.test(value)) {
    throw new ValidationError(`${field} ${quote(value)} may contain only letters, digits, "_", "." and "-"`);
  }
  return value;
}

/** The stream name in a stream ARN (`arn:aws:kinesis:<region>:<account>:stream/<name>`), validated. */
export function streamNameFromArn(arn: string, field = "StreamARN"): string {
  required(field, arn);
  lengthBetween(field, arn, 1, STREAM_ARN_CHARS_MAX);
  if (!STREAM_ARN_PATTERN.test(arn)) {
    throw new ValidationError(
      `${field} ${quote(arn)} must look like arn:aws:kinesis:<region>:<12-digit account>:stream/<name>`,
    );
  }
  const name = arn.slice(arn.indexOf(":stream/") + ":stream/".length);
  return validateStreamName(name, `the stream name in ${field}`);
}

/**
 * The stream a request names, by StreamName, StreamARN or both (which must then agree). Neither
 * is model-required, so naming none is an InvalidArgumentError.
 */
export function validateStreamRef(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
}): string {
  const name = request.streamName ?? "";
  const arn = request.streamArn ?? "";
  if (name === "" && arn === "") {
    throw new InvalidArgumentError("the request must name a stream: give StreamName or StreamARN");
  }
  const fromName = name === "" ? undefined : validateStreamName(name);
  const fromArn = arn === "" ? undefined : streamNameFromArn(arn);
  if (fromName !== undefined && fromArn !== undefined && fromName !== fromArn) {
    throw new InvalidArgumentError(
      `StreamName ${quote(fromName)} and StreamARN ${quote(arn)} name different streams; give one, or both for the same stream`,
    );
  }
  return (fromName ?? fromArn) as string;
}

/** ConsumerName: 1–128 characters of `[a-zA-Z0-9_.-]`. */
export function validateConsumerName(value: string, field = "ConsumerName"): string {
  required(field, value);
  lengthBetween(field, value, 1, CONSUMER_NAME_CHARS_MAX);
  if (!NAME_PATTERN.test(value)) {
    throw new ValidationError(`${field} ${quote(value)} may contain only letters, digits, "_", "." and "-"`);
  }
  return value;
}

/** ConsumerARN: 1–2048 characters in the model's consumer ARN pattern. */
export function validateConsumerArn(value: string, field = "ConsumerARN"): string {
  required(field, value);
  lengthBetween(field, value, 1, STREAM_ARN_CHARS_MAX);
  if (!CONSUMER_ARN_PATTERN.test(value)) {
    throw new ValidationError(
      `${field} ${quote(value)} must look like arn:aws:kinesis:<region>:<account>:stream/<name>/consumer/<name>:<creation time>`,
    );
  }
  return value;
}

/** `shardId-` followed by the shard number in 12 digits. */
export function formatShardId(shardNumber: number): string {
  return `shardId-${String(shardNumber).padStart(SHARD_ID_DIGITS, "0")}`;
}

/**
 * The shard number a shard id names, or null when it is not one of our forms. Like Kinesis,
 * `shardId-000000000007`, `shardId-7` and the bare `7` all name shard 7.
 */
export function parseShardId(shardId: string): number | null {
  const match = SHARD_ID_FORM.exec(shardId);
  return match === null ? null : Number(match[1]);
}

/** ShardId (model: 1–128 characters of `[a-zA-Z0-9_.-]`). Returns it. */
export function validateShardId(value: string, field = "ShardId"): string {
  required(field, value);
  lengthBetween(field, value, 1, SHARD_ID_CHARS_MAX);
  if (!NAME_PATTERN.test(value)) {
    throw new ValidationError(`${field} ${quote(value)} may contain only letters, digits, "_", "." and "-"`);
  }
  return value;
}

/**
 * The shard number of a valid shard id; a well-formed id that is not of our form names no shard:
 * ResourceNotFoundError (SHARD_NOT_FOUND), as Kinesis answers for an unknown shard.
 */
export function shardNumberOf(shardId: string, streamName: string): number {
  const shardNumber = parseShardId(shardId);
  if (shardNumber === null) {
    throw new ResourceNotFoundError(
      `shard ${quote(shardId)} does not exist in stream ${quote(streamName)}; list its shards with ListShards`,
      GatewayErrorCode.ShardNotFound,
    );
  }
  return shardNumber;
}

// ---- Records -----------------------------------------------------------------------------------

/** A record that passed validation, with what routing and throttling need. */
export interface ValidatedRecord {
  /** 16 bytes big-endian: the MD5 of the partition key, or the ExplicitHashKey. */
  readonly hashKey: Buffer;
  /** Data bytes plus the partition key's UTF-8 bytes (what counts toward every byte limit). */
  readonly bytes: number;
}

/** PartitionKey: 1–256 Unicode characters. */
export function validatePartitionKey(value: string, field = "PartitionKey"): string {
  required(field, value);
  lengthBetween(field, value, 1, PARTITION_KEY_CHARS_MAX);
  return value;
}

/**
 * ExplicitHashKey: the model's pattern (a decimal of at most 39 digits, no leading zero) is a
 * ValidationError; a value above 2^128 − 1 an InvalidArgumentError. Returns its 16 bytes.
 */
export function validateExplicitHashKey(value: string, field = "ExplicitHashKey"): Buffer {
  if (!isCanonicalDecimal(value, HASH_KEY_DECIMAL_DIGITS_MAX)) {
    throw new ValidationError(
      `${field} ${quote(value)} must be a decimal integer of at most ${HASH_KEY_DECIMAL_DIGITS_MAX} digits without leading zeros`,
    );
  }
  const bytes = parseHashKey(value);
  if (bytes === null) {
    throw new InvalidArgumentError(
      `${field} ${quote(value)} is out of range: hash keys go from 0 to 2^128 - 1`,
    );
  }
  return bytes;
}

/** One record: key, optional explicit hash key, data + key ≤ 1 MiB. `field` prefixes the member names. */
export function validateRecord(
  record: { readonly data: Uint8Array; readonly partitionKey: string; readonly explicitHashKey?: string },
  field = "",
): ValidatedRecord {
  const partitionKey = validatePartitionKey(record.partitionKey, `${field}PartitionKey`);
  const bytes = record.data.length + Buffer.byteLength(partitionKey, "utf8");
  if (bytes > RECORD_DATA_BYTES_MAX) {
    throw new InvalidArgumentError(
      `${field}Data and PartitionKey together must be at most ${RECORD_DATA_BYTES_MAX} bytes, got ${bytes}`,
    );
  }
  const explicit = record.explicitHashKey ?? "";
  const hashKey =
    explicit === ""
      ? partitionKeyHash(partitionKey)
      : validateExplicitHashKey(explicit, `${field}ExplicitHashKey`);
  return { hashKey, bytes };
}

/** A sequence number a client sends: the model's `0|[1-9]\d{0,128}`. Returns it. */
export function validateSequenceNumber(value: string, field: string): string {
  if (!isCanonicalDecimal(value, SEQUENCE_NUMBER_DIGITS_MAX)) {
    throw new ValidationError(
      `${field} ${quote(value)} must be a decimal integer of at most ${SEQUENCE_NUMBER_DIGITS_MAX} digits without leading zeros`,
    );
  }
  return value;
}

/** PutRecord: the stream, the record, and SequenceNumberForOrdering when given. */
export function validatePutRecord(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly explicitHashKey?: string;
  readonly sequenceNumberForOrdering?: string;
}): ValidatedRecord & {
  readonly streamName: string;
  readonly sequenceNumberForOrdering: string | undefined;
} {
  const streamName = validateStreamRef(request);
  const record = validateRecord(request);
  const ordering = request.sequenceNumberForOrdering ?? "";
  return {
    ...record,
    streamName,
    sequenceNumberForOrdering:
      ordering === "" ? undefined : validateSequenceNumber(ordering, "SequenceNumberForOrdering"),
  };
}

/** PutRecords: the stream, 1–500 records, each valid, ≤ 5 MiB in all (data and keys). */
export function validatePutRecords(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly records: readonly {
    readonly data: Uint8Array;
    readonly partitionKey: string;
    readonly explicitHashKey?: string;
  }[];
}): { readonly streamName: string; readonly records: ValidatedRecord[]; readonly totalBytes: number } {
  const streamName = validateStreamRef(request);
  const count = request.records.length;
  if (count < 1 || count > PUT_RECORDS_COUNT_MAX) {
    throw new ValidationError(`Records must hold 1 to ${PUT_RECORDS_COUNT_MAX} records, got ${count}`);
  }
  const records = new Array<ValidatedRecord>(count);
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const record = validateRecord(request.records[i] as (typeof request.records)[number], `Records[${i}].`);
    totalBytes += record.bytes;
    records[i] = record;
  }
  if (totalBytes > PUT_RECORDS_BYTES_MAX) {
    throw new InvalidArgumentError(
      `the records of one PutRecords call, data and partition keys together, must be at most ${PUT_RECORDS_BYTES_MAX} bytes, got ${totalBytes}; split the batch`,
    );
  }
  return { streamName, records, totalBytes };
}

// ---- Reads ----------------------------------------------------------------------------------------

/** The Kinesis shard iterator types, in the order of the protobuf enum (value = position + 1). */
export const SHARD_ITERATOR_TYPES = [
  "AT_SEQUENCE_NUMBER",
  "AFTER_SEQUENCE_NUMBER",
  "TRIM_HORIZON",
  "LATEST",
  "AT_TIMESTAMP",
] as const;
export type ShardIteratorTypeName = (typeof SHARD_ITERATOR_TYPES)[number];

/** A GetShardIterator request that passed validation: where to start. */
export type ShardIteratorStart =
  | {
      readonly type: "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER";
      readonly sequenceNumber: string;
      /** The position the sequence number names (its shard is the request's). */
      readonly position: SequencePosition;
    }
  | { readonly type: "TRIM_HORIZON" | "LATEST" }
  | { readonly type: "AT_TIMESTAMP"; readonly timestampMs: number };

function enumName<T extends string>(field: string, value: number | string, names: readonly T[]): T {
  const name = typeof value === "number" ? names[value - 1] : names.find((candidate) => candidate === value);
  if (name === undefined) {
    throw new ValidationError(`${field} must be one of ${names.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return name;
}

/**
 * GetShardIterator: stream, shard id and type, and the members the type needs:
 * StartingSequenceNumber for AT_ and AFTER_SEQUENCE_NUMBER (one of ours, of this shard),
 * Timestamp for AT_TIMESTAMP (not in the future of `nowMs`); the others must be absent.
 * `shardIteratorType` is the protobuf enum value or the Kinesis name. `nowMs` defaults to the
 * wall clock (the future-timestamp check is the only use of time).
 */
export function validateGetShardIterator(
  request: {
    readonly streamName?: string;
    readonly streamArn?: string;
    readonly shardId: string;
    readonly shardIteratorType: number | string;
    readonly startingSequenceNumber?: string;
    readonly timestamp?: number | undefined;
  },
  nowMs: number = Date.now(),
): {
  readonly streamName: string;
  readonly shardId: string;
  readonly shardNumber: number;
  readonly start: ShardIteratorStart;
} {
  const streamName = validateStreamRef(request);
  const shardId = validateShardId(request.shardId);
  const type = enumName("ShardIteratorType", request.shardIteratorType, SHARD_ITERATOR_TYPES);
  const shardNumber = shardNumberOf(shardId, streamName);
  const sequenceNumber = request.startingSequenceNumber ?? "";
  const timestamp = request.timestamp;
  const usesSequence = type === "AT_SEQUENCE_NUMBER" || type === "AFTER_SEQUENCE_NUMBER";
  if (!usesSequence && sequenceNumber !== "") {
    throw new InvalidArgumentError(`StartingSequenceNumber must not be given with ShardIteratorType ${type}`);
  }
  if (type !== "AT_TIMESTAMP" && present(timestamp)) {
    throw new InvalidArgumentError(`Timestamp must not be given with ShardIteratorType ${type}`);
  }
  let start: ShardIteratorStart;
  if (usesSequence) {
    if (sequenceNumber === "") {
      throw new InvalidArgumentError(`StartingSequenceNumber is required with ShardIteratorType ${type}`);
    }
    validateSequenceNumber(sequenceNumber, "StartingSequenceNumber");
    const position = decodeSequenceNumber(sequenceNumber);
    if (position === null || position.shardNumber !== shardNumber) {
      throw new InvalidArgumentError(
        `StartingSequenceNumber ${quote(sequenceNumber)} is not a sequence number of shard ${shardId} in stream ${quote(streamName)}`,
      );
    }
    start = { type, sequenceNumber, position };
  } else if (type === "AT_TIMESTAMP") {
    if (!present(timestamp))
      throw new InvalidArgumentError("Timestamp is required with ShardIteratorType AT_TIMESTAMP");
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new ValidationError(`Timestamp must be milliseconds since the epoch, got ${timestamp}`);
    }
    if (timestamp > nowMs) {
      throw new InvalidArgumentError(
        `Timestamp ${new Date(timestamp).toISOString()} is in the future (now is ${new Date(nowMs).toISOString()}); AT_TIMESTAMP needs a time that has passed`,
      );
    }
    start = { type, timestampMs: timestamp };
  } else {
    start = { type };
  }
  return { streamName, shardId, shardNumber, start };
}

/** GetRecords: ShardIterator of 1–512 characters, Limit 1–10,000 (default 10,000). */
export function validateGetRecords(request: {
  readonly shardIterator: string;
  readonly limit?: number | undefined;
}): {
  readonly shardIterator: string;
  readonly limit: number;
} {
  const shardIterator = required("ShardIterator", request.shardIterator);
  lengthBetween("ShardIterator", shardIterator, 1, SHARD_ITERATOR_CHARS_MAX);
  const limit =
    optionalIntegerInRange("Limit", request.limit, 1, GET_RECORDS_LIMIT_MAX) ?? GET_RECORDS_LIMIT_MAX;
  return { shardIterator, limit };
}

// ---- Listing ----------------------------------------------------------------------------------------

/** NextToken when given: 1–1,048,576 characters. */
function optionalNextToken(value: string | undefined): string | undefined {
  if (value === undefined || value === "") return undefined;
  lengthBetween("NextToken", value, 1, NEXT_TOKEN_CHARS_MAX);
  return value;
}

/** ListStreams: Limit 1–10,000 (undefined when absent), ExclusiveStartStreamName, NextToken. */
export function validateListStreams(request: {
  readonly limit?: number | undefined;
  readonly exclusiveStartStreamName?: string;
  readonly nextToken?: string;
}): {
  readonly limit: number | undefined;
  readonly exclusiveStartStreamName: string | undefined;
  readonly nextToken: string | undefined;
} {
  const limit = optionalIntegerInRange("Limit", request.limit, 1, LIST_STREAMS_LIMIT_MAX);
  const start = request.exclusiveStartStreamName ?? "";
  return {
    limit,
    exclusiveStartStreamName:
      start === "" ? undefined : validateStreamName(start, "ExclusiveStartStreamName"),
    nextToken: optionalNextToken(request.nextToken),
  };
}

/** The ListShards ShardFilter types, in the order of the protobuf enum (value = position + 1). */
export const SHARD_FILTER_TYPES = [
  "AFTER_SHARD_ID",
  "AT_TRIM_HORIZON",
  "FROM_TRIM_HORIZON",
  "AT_LATEST",
  "AT_TIMESTAMP",
  "FROM_TIMESTAMP",
] as const;
export type ShardFilterTypeName = (typeof SHARD_FILTER_TYPES)[number];

/** A ShardFilter that passed validation. */
export type ValidatedShardFilter =
  | { readonly type: "AFTER_SHARD_ID"; readonly shardId: string }
  | { readonly type: "AT_TRIM_HORIZON" | "FROM_TRIM_HORIZON" | "AT_LATEST" }
  | { readonly type: "AT_TIMESTAMP" | "FROM_TIMESTAMP"; readonly timestampMs: number };

/**
 * ShardFilter: Type is required; AFTER_SHARD_ID needs ShardId, AT_ and FROM_TIMESTAMP need
 * Timestamp, and a member the type does not use must be absent.
 */
export function validateShardFilter(filter: {
  readonly type: number | string;
  readonly shardId?: string;
  readonly timestamp?: number | undefined;
}): ValidatedShardFilter {
  if (filter.type === "" || filter.type === 0) throw new ValidationError("ShardFilter.Type is required");
  const type = enumName("ShardFilter.Type", filter.type, SHARD_FILTER_TYPES);
  const shardId = filter.shardId ?? "";
  const timestamp = filter.timestamp;
  if (type !== "AFTER_SHARD_ID" && shardId !== "") {
    throw new InvalidArgumentError(
      `ShardFilter.ShardId may be given only with type AFTER_SHARD_ID, not ${type}`,
    );
  }
  const usesTime = type === "AT_TIMESTAMP" || type === "FROM_TIMESTAMP";
  if (!usesTime && present(timestamp)) {
    throw new InvalidArgumentError(
      `ShardFilter.Timestamp may be given only with types AT_TIMESTAMP and FROM_TIMESTAMP, not ${type}`,
    );
  }
  if (type === "AFTER_SHARD_ID") {
    if (shardId === "")
      throw new InvalidArgumentError("ShardFilter.ShardId is required with type AFTER_SHARD_ID");
    return { type, shardId: validateShardId(shardId, "ShardFilter.ShardId") };
  }
  if (usesTime) {
    if (!present(timestamp))
      throw new InvalidArgumentError(`ShardFilter.Timestamp is required with type ${type}`);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new ValidationError(
        `ShardFilter.Timestamp must be milliseconds since the epoch, got ${timestamp}`,
      );
    }
    return { type, timestampMs: timestamp };
  }
  return { type };
}

/**
 * ListShards: either a NextToken alone (it names the stream; StreamName, StreamARN,
 * ExclusiveStartShardId and ShardFilter must then be absent, as in Kinesis) or a stream with
 * optional ExclusiveStartShardId and ShardFilter; MaxResults 1–10,000 either way.
 */
export function validateListShards(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly nextToken?: string;
  readonly exclusiveStartShardId?: string;
  readonly maxResults?: number | undefined;
  readonly shardFilter?:
    | { readonly type: number | string; readonly shardId?: string; readonly timestamp?: number | undefined }
    | undefined;
}):
  | { readonly nextToken: string; readonly maxResults: number | undefined }
  | {
      readonly nextToken: undefined;
      readonly streamName: string;
      readonly exclusiveStartShardId: string | undefined;
      readonly shardFilter: ValidatedShardFilter | undefined;
      readonly maxResults: number | undefined;
    } {
  const maxResults = optionalIntegerInRange("MaxResults", request.maxResults, 1, LIST_SHARDS_LIMIT_MAX);
  const nextToken = optionalNextToken(request.nextToken);
  const startShardId = request.exclusiveStartShardId ?? "";
  if (nextToken !== undefined) {
    const conflicting = [
      (request.streamName ?? "") !== "" ? "StreamName" : undefined,
      (request.streamArn ?? "") !== "" ? "StreamARN" : undefined,
      startShardId !== "" ? "ExclusiveStartShardId" : undefined,
      request.shardFilter !== undefined ? "ShardFilter" : undefined,
    ].filter((name) => name !== undefined);
    if (conflicting.length > 0) {
      throw new InvalidArgumentError(
        `NextToken already names the stream and the position; do not also give ${conflicting.join(", ")}`,
      );
    }
    return { nextToken, maxResults };
  }
  const streamName = validateStreamRef(request);
  return {
    nextToken: undefined,
    streamName,
    exclusiveStartShardId:
      startShardId === "" ? undefined : validateShardId(startShardId, "ExclusiveStartShardId"),
    shardFilter: request.shardFilter === undefined ? undefined : validateShardFilter(request.shardFilter),
    maxResults,
  };
}

// ---- Streams ------------------------------------------------------------------------------------------

/** RetentionPeriodHours: 24–8,760 (the model gives no range, so a value outside is InvalidArgumentError). */
export function validateRetentionHours(hours: number, field = "RetentionPeriodHours"): number {
  if (!Number.isInteger(hours)) throw new ValidationError(`${field} must be an integer, got ${hours}`);
  if (hours < RETENTION_HOURS_MIN || hours > RETENTION_HOURS_MAX) {
    throw new InvalidArgumentError(
      `${field} must be from ${RETENTION_HOURS_MIN} to ${RETENTION_HOURS_MAX} hours, got ${hours}`,
    );
  }
  return hours;
}

/** ShardCount: ≥ 1 (model range), ≤ SHARD_COUNT_PER_STREAM_MAX (LimitExceededError). */
export function validateShardCount(count: number, field = "ShardCount"): number {
  if (!Number.isInteger(count) || count < 1) {
    throw new ValidationError(`${field} must be an integer of at least 1, got ${count}`);
  }
  if (count > SHARD_COUNT_PER_STREAM_MAX) {
    throw new LimitExceededError(
      `${field} ${count} is above the limit of ${SHARD_COUNT_PER_STREAM_MAX} shards per stream`,
    );
  }
  return count;
}

/** The stream modes, in the order of the protobuf enum (value = position + 1). */
export const STREAM_MODES = ["PROVISIONED", "ON_DEMAND"] as const;
export type StreamModeName = (typeof STREAM_MODES)[number];

/**
 * CreateStream: name, mode (PROVISIONED when absent), ShardCount (required for PROVISIONED; for
 * ON_DEMAND it defaults to 4), tags (at most 200).
 */
export function validateCreateStream(request: {
  readonly streamName: string;
  readonly shardCount?: number | undefined;
  readonly streamModeDetails?: { readonly streamMode: number | string } | undefined;
  readonly tags?: Readonly<Record<string, string>>;
}): {
  readonly streamName: string;
  readonly shardCount: number;
  readonly mode: StreamModeName;
  readonly tags: Readonly<Record<string, string>>;
} {
  const streamName = validateStreamName(request.streamName);
  const modeValue = request.streamModeDetails?.streamMode;
  const mode: StreamModeName =
    modeValue === undefined || modeValue === 0 || modeValue === ""
      ? "PROVISIONED"
      : enumName("StreamModeDetails.StreamMode", modeValue, STREAM_MODES);
  let shardCount: number;
  if (request.shardCount === undefined) {
    if (mode === "PROVISIONED") {
      throw new InvalidArgumentError(
        "ShardCount is required for a PROVISIONED stream (give 1 or more, or use ON_DEMAND)",
      );
    }
    shardCount = ON_DEMAND_SHARD_COUNT_DEFAULT;
  } else {
    shardCount = validateShardCount(request.shardCount);
  }
  const tags = request.tags ?? {};
  if (Object.keys(tags).length > 0) validateTags(tags, TAGS_PER_CALL_MAX);
  return { streamName, shardCount, mode, tags };
}

// ---- Tags -------------------------------------------------------------------------------------------

/** A tag key: 1–128 characters of letters, digits, white space and `_ . : / = + - % @`. */
export function validateTagKey(key: string, field = "TagKey"): string {
  lengthBetween(field, key, 1, TAG_KEY_CHARS_MAX);
  if (!TAG_CHARACTERS.test(key)) {
    throw new InvalidArgumentError(
      `${field} ${quote(key)} may contain only letters, digits, white space and _ . : / = + - % @`,
    );
  }
  return key;
}

/** A tag value: 0–256 characters of letters, digits, white space and `_ . : / = + - % @`. */
export function validateTagValue(value: string, field = "TagValue"): string {
  lengthBetween(field, value, 0, TAG_VALUE_CHARS_MAX);
  if (!TAG_CHARACTERS.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${quote(value)} may contain only letters, digits, white space and _ . : / = + - % @`,
    );
  }
  return value;
}

/**
 * Tags of one call: 1 to `maxCount` (AddTagsToStream: 10), each key and value valid. Too few is a
 * ValidationError (the model's length); too many an InvalidArgumentError (the service's limit).
 */
export function validateTags(
  tags: Readonly<Record<string, string>>,
  maxCount = TAGS_PER_ADD_CALL_MAX,
): Readonly<Record<string, string>> {
  const keys = Object.keys(tags);
  if (keys.length === 0) throw new ValidationError("Tags must hold at least 1 tag, got 0");
  if (keys.length > maxCount) {
    throw new InvalidArgumentError(
      `one call may add at most ${maxCount} tags, got ${keys.length}; split the call`,
    );
  }
  for (const key of keys) {
    validateTagKey(key, "Tags key");
    validateTagValue(tags[key] as string, `Tags[${quote(key)}]`);
  }
  return tags;
}

/** RemoveTagsFromStream TagKeys: 1–50 keys, each valid. */
export function validateTagKeys(keys: readonly string[]): readonly string[] {
  if (keys.length < 1 || keys.length > TAG_KEYS_PER_REMOVE_CALL_MAX) {
    throw new ValidationError(
      `TagKeys must hold 1 to ${TAG_KEYS_PER_REMOVE_CALL_MAX} keys, got ${keys.length}`,
    );
  }
  for (const key of keys) validateTagKey(key, "TagKeys entry");
  return keys;
}

// ---- Whole requests of the control plane -----------------------------------------------------------

/** DeleteStream: the stream. */
export function validateDeleteStream(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
}): {
  readonly streamName: string;
} {
  return { streamName: validateStreamRef(request) };
}

/** DescribeStream: the stream, Limit 1–10,000, ExclusiveStartShardId. */
export function validateDescribeStream(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly limit?: number | undefined;
  readonly exclusiveStartShardId?: string;
}): {
  readonly streamName: string;
  readonly limit: number | undefined;
  readonly exclusiveStartShardId: string | undefined;
} {
  const streamName = validateStreamRef(request);
  const limit = optionalIntegerInRange("Limit", request.limit, 1, DESCRIBE_STREAM_LIMIT_MAX);
  const start = request.exclusiveStartShardId ?? "";
  return {
    streamName,
    limit,
    exclusiveStartShardId: start === "" ? undefined : validateShardId(start, "ExclusiveStartShardId"),
  };
}

/** Increase/DecreaseStreamRetentionPeriod: the stream and RetentionPeriodHours 24–8,760. */
export function validateRetentionChange(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly retentionPeriodHours: number;
}): { readonly streamName: string; readonly retentionPeriodHours: number } {
  const streamName = validateStreamRef(request);
  return { streamName, retentionPeriodHours: validateRetentionHours(request.retentionPeriodHours) };
}

/** AddTagsToStream: the stream and 1–10 valid tags. */
export function validateAddTags(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly tags: Readonly<Record<string, string>>;
}): { readonly streamName: string; readonly tags: Readonly<Record<string, string>> } {
  const streamName = validateStreamRef(request);
  return { streamName, tags: validateTags(request.tags, TAGS_PER_ADD_CALL_MAX) };
}

/** RemoveTagsFromStream: the stream and 1–50 valid keys. */
export function validateRemoveTags(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly tagKeys: readonly string[];
}): { readonly streamName: string; readonly tagKeys: readonly string[] } {
  const streamName = validateStreamRef(request);
  return { streamName, tagKeys: validateTagKeys(request.tagKeys) };
}

/** ListTagsForStream: the stream, ExclusiveStartTagKey, Limit 1–50. */
export function validateListTags(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly exclusiveStartTagKey?: string;
  readonly limit?: number | undefined;
}): {
  readonly streamName: string;
  readonly exclusiveStartTagKey: string | undefined;
  readonly limit: number | undefined;
} {
  const streamName = validateStreamRef(request);
  const start = request.exclusiveStartTagKey ?? "";
  return {
    streamName,
    exclusiveStartTagKey: start === "" ? undefined : validateTagKey(start, "ExclusiveStartTagKey"),
    limit: optionalIntegerInRange("Limit", request.limit, 1, LIST_TAGS_LIMIT_MAX),
  };
}

/** RegisterStreamConsumer: StreamARN and ConsumerName, both required. */
export function validateRegisterConsumer(request: {
  readonly streamArn: string;
  readonly consumerName: string;
}): {
  readonly streamName: string;
  readonly consumerName: string;
} {
  return {
    streamName: streamNameFromArn(request.streamArn),
    consumerName: validateConsumerName(request.consumerName),
  };
}

/**
 * Describe/DeregisterStreamConsumer: a ConsumerARN, or a StreamARN with a ConsumerName (or all
 * three). Naming neither form is an InvalidArgumentError.
 */
export function validateConsumerRef(request: {
  readonly streamArn?: string;
  readonly consumerName?: string;
  readonly consumerArn?: string;
}): {
  readonly consumerArn: string | undefined;
  readonly streamName: string | undefined;
  readonly consumerName: string | undefined;
} {
  const consumerArn =
    (request.consumerArn ?? "") === "" ? undefined : validateConsumerArn(request.consumerArn as string);
  const streamName =
    (request.streamArn ?? "") === "" ? undefined : streamNameFromArn(request.streamArn as string);
  const consumerName =
    (request.consumerName ?? "") === "" ? undefined : validateConsumerName(request.consumerName as string);
  if (consumerArn === undefined && (streamName === undefined || consumerName === undefined)) {
    throw new InvalidArgumentError("name the consumer: give ConsumerARN, or StreamARN and ConsumerName");
  }
  return { consumerArn, streamName, consumerName };
}

/** ListStreamConsumers: StreamARN (required), NextToken, MaxResults 1–10,000. */
export function validateListConsumers(request: {
  readonly streamArn: string;
  readonly nextToken?: string;
  readonly maxResults?: number | undefined;
}): {
  readonly streamName: string;
  readonly nextToken: string | undefined;
  readonly maxResults: number | undefined;
} {
  return {
    streamName: streamNameFromArn(request.streamArn),
    nextToken: optionalNextToken(request.nextToken),
    maxResults: optionalIntegerInRange("MaxResults", request.maxResults, 1, LIST_STREAM_CONSUMERS_LIMIT_MAX),
  };
}

/** UpdateStreamMode: StreamARN and StreamModeDetails.StreamMode, both required. */
export function validateUpdateStreamMode(request: {
  readonly streamArn: string;
  readonly streamModeDetails?: { readonly streamMode: number | string } | undefined;
}): { readonly streamName: string; readonly mode: StreamModeName } {
  const streamName = streamNameFromArn(request.streamArn);
  const mode = request.streamModeDetails?.streamMode;
  if (mode === undefined || mode === 0 || mode === "") {
    throw new ValidationError("StreamModeDetails.StreamMode is required: PROVISIONED or ON_DEMAND");
  }
  return { streamName, mode: enumName("StreamModeDetails.StreamMode", mode, STREAM_MODES) };
}

/**
 * SubscribeToShard: ConsumerARN, ShardId and StartingPosition (Type, with SequenceNumber for AT_
 * and AFTER_SEQUENCE_NUMBER, Timestamp for AT_TIMESTAMP). The sequence number must be one of
 * ours and of this shard.
 */
export function validateSubscribeToShard(
  request: {
    readonly consumerArn: string;
    readonly shardId: string;
    readonly startingPosition?:
      | {
          readonly type: number | string;
          readonly sequenceNumber?: string;
          readonly timestamp?: number | undefined;
        }
      | undefined;
  },
  nowMs: number = Date.now(),
): {
  readonly consumerArn: string;
  readonly streamName: string;
  readonly shardId: string;
  readonly shardNumber: number;
  readonly start: ShardIteratorStart;
} {
  const consumerArn = validateConsumerArn(request.consumerArn);
  const position = request.startingPosition;
  if (position === undefined) throw new ValidationError("StartingPosition is required");
  const streamName = consumerArn.slice(
    consumerArn.indexOf(":stream/") + ":stream/".length,
    consumerArn.indexOf("/consumer/"),
  );
  const validated = validateGetShardIterator(
    {
      streamName,
      shardId: request.shardId,
      shardIteratorType: position.type,
      ...(position.sequenceNumber === undefined ? {} : { startingSequenceNumber: position.sequenceNumber }),
      timestamp: position.timestamp,
    },
    nowMs,
  );
  return { consumerArn, ...validated };
}

// ---- Resharding ---------------------------------------------------------------------------------------

/** The UpdateShardCount ScalingType values, in the order of the protobuf enum (value = position + 1). */
export const SCALING_TYPES = ["UNIFORM_SCALING"] as const;
export type ScalingTypeName = (typeof SCALING_TYPES)[number];

/**
 * SplitShard: the stream, ShardToSplit (a shard id) and NewStartingHashKey (the model's
 * `0|([1-9]\d{0,38})`: a ValidationError otherwise; above 2^128 − 1 an InvalidArgumentError).
 * Whether the key lies strictly inside the shard's range depends on state: the metadata checks it.
 */
export function validateSplitShard(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly shardToSplit: string;
  readonly newStartingHashKey: string;
}): { readonly streamName: string; readonly shardToSplit: string; readonly newStartingHashKey: string } {
  const streamName = validateStreamRef(request);
  const shardToSplit = validateShardId(request.shardToSplit, "ShardToSplit");
  required("NewStartingHashKey", request.newStartingHashKey);
  validateExplicitHashKey(request.newStartingHashKey, "NewStartingHashKey");
  return { streamName, shardToSplit, newStartingHashKey: request.newStartingHashKey };
}

/**
 * MergeShards: the stream and two shard ids (ShardToMerge, AdjacentShardToMerge), which must
 * differ. Whether they are open and adjacent depends on state: the metadata checks it.
 */
export function validateMergeShards(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly shardToMerge: string;
  readonly adjacentShardToMerge: string;
}): { readonly streamName: string; readonly shardToMerge: string; readonly adjacentShardToMerge: string } {
  const streamName = validateStreamRef(request);
  const shardToMerge = validateShardId(request.shardToMerge, "ShardToMerge");
  const adjacentShardToMerge = validateShardId(request.adjacentShardToMerge, "AdjacentShardToMerge");
  const first = parseShardId(shardToMerge);
  if (
    shardToMerge === adjacentShardToMerge ||
    (first !== null && first === parseShardId(adjacentShardToMerge))
  ) {
    throw new InvalidArgumentError(
      `ShardToMerge and AdjacentShardToMerge both name ${quote(shardToMerge)}; give two adjacent open shards`,
    );
  }
  return { streamName, shardToMerge, adjacentShardToMerge };
}

/**
 * UpdateShardCount: the stream, TargetShardCount (model: an integer ≥ 1; above
 * SHARD_COUNT_PER_STREAM_MAX a LimitExceededError) and ScalingType (required; UNIFORM_SCALING is
 * the only one). The range relative to the open shard count (½× … 2×) depends on state: the
 * metadata checks it. `scalingType` is the protobuf enum value or the Kinesis name.
 */
export function validateUpdateShardCount(request: {
  readonly streamName?: string;
  readonly streamArn?: string;
  readonly targetShardCount: number;
  readonly scalingType: number | string;
}): {
  readonly streamName: string;
  readonly targetShardCount: number;
  readonly scalingType: ScalingTypeName;
} {
  const streamName = validateStreamRef(request);
  const targetShardCount = validateShardCount(request.targetShardCount, "TargetShardCount");
  if (request.scalingType === "" || request.scalingType === 0) {
    throw new ValidationError("ScalingType is required: UNIFORM_SCALING");
  }
  const scalingType = enumName("ScalingType", request.scalingType, SCALING_TYPES);
  return { streamName, targetShardCount, scalingType };
}
