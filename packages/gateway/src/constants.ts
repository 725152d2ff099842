/**
 * Limits and defaults of the gateway, each a named constant with its unit in its name. Most are
 * Kinesis's own (the member constraints of its API model, or its documented service limits);
 * where Sluice picks its own, the comment says so. Relations between them are asserted when this
 * module loads, so a bad edit fails at once.
 */

const KIB = 1024;
const MIB = 1024 * KIB;

// ---- Hash keys -----------------------------------------------------------------------------------

/** Bytes of a hash key: an unsigned 128-bit integer, big-endian. */
export const HASH_KEY_BYTES = 16;
/** Decimal digits of the largest hash key, 2^128 − 1 (39 digits). */
export const HASH_KEY_DECIMAL_DIGITS_MAX = 39;
/** 2^128 − 1 in decimal, the largest hash key. */
export const HASH_KEY_MAX_DECIMAL = "340282366920938463463374607431768211455";

// ---- Names and identifiers ---------------------------------------------------------------------

/** Characters of a stream name (model: length 1–128, pattern `[a-zA-Z0-9_.-]+`). */
export const STREAM_NAME_CHARS_MAX = 128;
/** Characters of a stream ARN (model: length 1–2048). */
export const STREAM_ARN_CHARS_MAX = 2048;
/** Characters of a shard id (model: length 1–128, pattern `[a-zA-Z0-9_.-]+`). */
export const SHARD_ID_CHARS_MAX = 128;
/** Digits of the number in a shard id (`shardId-000000000000`): a shard number is below 10^12. */
export const SHARD_ID_DIGITS = 12;
/** Characters of a consumer name (model: length 1–128, pattern `[a-zA-Z0-9_.-]+`). */
export const CONSUMER_NAME_CHARS_MAX = 128;
/** Characters of a consumer ARN (model: length 1–2048). */
export const CONSUMER_ARN_CHARS_MAX = 2048;
/** Characters of a pagination token (model NextToken: length 1–1,048,576). */
export const NEXT_TOKEN_CHARS_MAX = 1_048_576;
/** Digits of a sequence number a client may send (model: `0|[1-9]\d{0,128}`). */
export const SEQUENCE_NUMBER_DIGITS_MAX = 129;

// ---- Records --------------------------------------------------------------------------------------

/** Unicode characters (code points) of a partition key (model: length 1–256). */
export const PARTITION_KEY_CHARS_MAX = 256;
/** Bytes of one record: its data plus the UTF-8 bytes of its partition key (Kinesis: 1 MiB). */
export const RECORD_DATA_BYTES_MAX = 1 * MIB;
/** Records in one PutRecords call (model: length 1–500). */
export const PUT_RECORDS_COUNT_MAX = 500;
/** Bytes of one PutRecords call: every record's data and partition key (Kinesis: 5 MiB). */
export const PUT_RECORDS_BYTES_MAX = 5 * MIB;

// ---- Reads ----------------------------------------------------------------------------------------

/** Records one GetRecords call returns at most (model Limit: range 1–10,000; also the default). */
export const GET_RECORDS_LIMIT_MAX = 10_000;
/** Bytes one GetRecords call returns at most (Kinesis: 10 MiB). */
export const GET_RECORDS_BYTES_MAX = 10 * MIB;
/** A shard iterator is valid for this long after it was issued (Kinesis: five minutes). */
export const ITERATOR_TTL_MS = 300_000;
/** Characters of a shard iterator (model: length 1–512). */
export const SHARD_ITERATOR_CHARS_MAX = 512;
/** Bytes of the secret that signs shard iterators (the HMAC-SHA256 key). */
export const ITERATOR_SECRET_BYTES = 32;
/** Largest record offset within a log entry that a shard iterator carries (a u16). */
export const ITERATOR_OFFSET_MAX = 0xffff;
/** Bytes of the truncated HMAC-SHA256 that ends every shard iterator. */
export const ITERATOR_MAC_BYTES = 16;

// ---- Listing --------------------------------------------------------------------------------------

/** DescribeStream Limit (model: range 1–10,000). */
export const DESCRIBE_STREAM_LIMIT_MAX = 10_000;
/** ListStreams Limit (model: range 1–10,000). */
export const LIST_STREAMS_LIMIT_MAX = 10_000;
/** ListShards MaxResults (model: range 1–10,000). */
export const LIST_SHARDS_LIMIT_MAX = 10_000;
/** ListStreamConsumers MaxResults (model: range 1–10,000). */
export const LIST_STREAM_CONSUMERS_LIMIT_MAX = 10_000;
/** ListTagsForStream Limit (model: range 1–50). */
export const LIST_TAGS_LIMIT_MAX = 50;

// ---- Streams ----------------------------------------------------------------------------------------

/** Shortest retention period (Kinesis: 24 hours; also the default). */
export const RETENTION_HOURS_MIN = 24;
/** Longest retention period (Kinesis: 8,760 hours, 365 days). */
export const RETENTION_HOURS_MAX = 8_760;
/** Shards of one stream at most (Sluice's limit; Kinesis's default per-stream limit is 10,000). */
export const SHARD_COUNT_PER_STREAM_MAX = 10_000;
/** Shards of a new ON_DEMAND stream when the request names none (Kinesis: 4). */
export const ON_DEMAND_SHARD_COUNT_DEFAULT = 4;

// ---- Tags -----------------------------------------------------------------------------------------

/** Characters of a tag key (model: length 1–128). */
export const TAG_KEY_CHARS_MAX = 128;
/** Characters of a tag value (model: length 0–256). */
export const TAG_VALUE_CHARS_MAX = 256;
/** Tags in one AddTagsToStream call (Kinesis's per-call limit). */
export const TAGS_PER_ADD_CALL_MAX = 10;
/** Tag keys in one RemoveTagsFromStream call (model TagKeyList: length 1–50). */
export const TAG_KEYS_PER_REMOVE_CALL_MAX = 50;
/** Tags in one CreateStream or RegisterStreamConsumer call (model TagMap: length 1–200). */
export const TAGS_PER_CALL_MAX = 200;

// ---- Sequence numbers -------------------------------------------------------------------------------

/** Digits of a Sluice sequence number: version (1) + entry index (16) + offset (5) + shard (12). */
export const SEQUENCE_NUMBER_DIGITS = 34;
/** Digits of the log entry index in a sequence number. */
export const SEQUENCE_INDEX_DIGITS = 16;
/** Digits of the record's offset within its log entry in a sequence number. */
export const SEQUENCE_OFFSET_DIGITS = 5;
/** Digits of the shard number in a sequence number (the same as in a shard id). */
export const SEQUENCE_SHARD_DIGITS = SHARD_ID_DIGITS;
/** Largest record offset within one log entry that a sequence number can carry. */
export const SEQUENCE_OFFSET_MAX = 99_999;
/** Largest shard number (a shard id and a sequence number carry 12 digits). */
export const SHARD_NUMBER_MAX = 999_999_999_999;

// ---- Throttling -----------------------------------------------------------------------------------

/** Default write bytes per second per shard (Kinesis: 1 MiB/s). */
export const WRITE_BYTES_PER_SECOND_DEFAULT = 1 * MIB;
/** Default records written per second per shard (Kinesis: 1,000/s). */
export const WRITE_RECORDS_PER_SECOND_DEFAULT = 1_000;
/** Default read bytes per second per shard (Kinesis: 2 MiB/s). */
export const READ_BYTES_PER_SECOND_DEFAULT = 2 * MIB;
/** Default GetRecords calls per second per shard (Kinesis: 5/s). */
export const READ_CALLS_PER_SECOND_DEFAULT = 5;
/** Shards whose throttle state one node keeps at most; the least recently used is forgotten first. */
export const THROTTLED_SHARDS_MAX = 100_000;
/** Throttles looked at for an idle one before the least recently used one is evicted anyway. */
export const THROTTLE_EVICTION_SCAN_MAX = 16;

function assertConstant(condition: boolean, message: string): void {
  if (!condition) throw new Error(`@sluice/gateway constants: ${message}`);
}

assertConstant(HASH_KEY_MAX_DECIMAL.length === HASH_KEY_DECIMAL_DIGITS_MAX, "2^128 − 1 has 39 digits");
assertConstant(
  1 + SEQUENCE_INDEX_DIGITS + SEQUENCE_OFFSET_DIGITS + SEQUENCE_SHARD_DIGITS === SEQUENCE_NUMBER_DIGITS,
  "the sequence number's fields fill its digits",
);
assertConstant(
  Number.MAX_SAFE_INTEGER < 10 ** SEQUENCE_INDEX_DIGITS,
  "every safe-integer entry index fits in the sequence number's index digits",
);
assertConstant(SEQUENCE_OFFSET_MAX === 10 ** SEQUENCE_OFFSET_DIGITS - 1, "offset bound matches its digits");
assertConstant(SHARD_NUMBER_MAX === 10 ** SHARD_ID_DIGITS - 1, "shard number bound matches its digits");
assertConstant(PUT_RECORDS_COUNT_MAX <= SEQUENCE_OFFSET_MAX, "a PutRecords batch's offsets fit");
assertConstant(
  ITERATOR_OFFSET_MAX >= PUT_RECORDS_COUNT_MAX,
  "an iterator can point past the last record of a batch",
);
assertConstant(
  SEQUENCE_NUMBER_DIGITS <= SEQUENCE_NUMBER_DIGITS_MAX,
  "our sequence numbers pass the model's pattern",
);
assertConstant(RECORD_DATA_BYTES_MAX <= PUT_RECORDS_BYTES_MAX, "one record fits in a PutRecords call");
assertConstant(RECORD_DATA_BYTES_MAX <= GET_RECORDS_BYTES_MAX, "a read can return the largest record");
assertConstant(RETENTION_HOURS_MIN <= RETENTION_HOURS_MAX, "retention range is not empty");
assertConstant(
  ON_DEMAND_SHARD_COUNT_DEFAULT <= SHARD_COUNT_PER_STREAM_MAX,
  "default shard count within limit",
);
assertConstant(TAGS_PER_ADD_CALL_MAX <= TAGS_PER_CALL_MAX, "per-call tag limits agree");
assertConstant(
  WRITE_BYTES_PER_SECOND_DEFAULT >= RECORD_DATA_BYTES_MAX,
  "a full write bucket admits the largest record",
);
assertConstant(ITERATOR_MAC_BYTES <= 32, "the MAC is a truncated SHA-256");
