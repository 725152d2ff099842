/**
 * Where a reader starts, in Kinesis's words. A friendlier form of the proto's ShardIteratorType
 * plus sequence number / timestamp, validated once.
 */
import { streams } from "@sluice/proto";
import { InvalidOptionsError } from "./errors.js";

export type StartType =
  | "TRIM_HORIZON"
  | "LATEST"
  | "AT_SEQUENCE_NUMBER"
  | "AFTER_SEQUENCE_NUMBER"
  | "AT_TIMESTAMP";

export interface StartPosition {
  readonly type: StartType;
  /** Required for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER. */
  readonly sequenceNumber?: string;
  /** Required for AT_TIMESTAMP: milliseconds since the epoch, or a Date. */
  readonly timestamp?: number | Date;
}

const TYPES: Record<StartType, streams.ShardIteratorType> = {
  TRIM_HORIZON: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
  LATEST: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST,
  AT_SEQUENCE_NUMBER: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER,
  AFTER_SEQUENCE_NUMBER: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
  AT_TIMESTAMP: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AT_TIMESTAMP,
};

/** The proto fields of a start position; throws InvalidOptionsError naming what is missing. */
export function toProtoStart(start: StartPosition): {
  type: streams.ShardIteratorType;
  sequenceNumber: string;
  timestamp?: number;
} {
  const type = TYPES[start.type];
  if (type === undefined) {
    throw new InvalidOptionsError(
      `start.type must be one of ${Object.keys(TYPES).join(", ")}, not ${JSON.stringify(start.type)}`,
    );
  }
  if (
    (start.type === "AT_SEQUENCE_NUMBER" || start.type === "AFTER_SEQUENCE_NUMBER") &&
    !start.sequenceNumber
  ) {
    throw new InvalidOptionsError(`start.sequenceNumber is required with start.type ${start.type}`);
  }
  if (start.type === "AT_TIMESTAMP") {
    const timestamp = start.timestamp instanceof Date ? start.timestamp.getTime() : start.timestamp;
    if (timestamp === undefined || !Number.isFinite(timestamp)) {
      throw new InvalidOptionsError(
        "start.timestamp (ms since the epoch, or a Date) is required with AT_TIMESTAMP",
      );
    }
    return { type, sequenceNumber: "", timestamp };
  }
  return { type, sequenceNumber: start.sequenceNumber ?? "" };
}
