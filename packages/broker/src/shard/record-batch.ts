/**
 * The record batch: the data of one shard log entry, as the leader encodes it for an append. The
 * Raft log *is* the shard log, so this is the only copy of a record. Binary, little-endian, no
 * JSON, no BigInt; the storage already CRCs every entry, so the batch carries no checksum of its
 * own, but the decoder checks every length so a damaged or foreign buffer is rejected, never
 * read past its end.
 *
 * ```
 * header (16 bytes):
 *   format version u8 (1) | flags u8 (0, or RECORD_BATCH_FLAG_SEAL) | key version u16 (0 unless
 *   RECORD_BATCH_FLAG_ENCRYPTED)
 *   | record count u32 | arrival timestamp f64 (ms since the epoch, an integer, stamped by the leader)
 * each record (8-byte header, then its bytes):
 *   partition key bytes u16 | explicit hash key bytes u8 (0 = none) | reserved u8 (0)
 *   | data bytes u32 | partition key (UTF-8) | explicit hash key (ASCII digits) | data
 * ```
 *
 * A record's position in the shard is (entry index, offset in the batch).
 *
 * A **seal batch** (`encodeSealBatch`) is the header alone, with flag RECORD_BATCH_FLAG_SEAL and
 * record count 0: the entry that closes a shard for resharding (see Broker.seal). Every other
 * batch has flags 0 (or RECORD_BATCH_FLAG_PRODUCER) and 1 to APPEND_RECORDS_MAX records.
 *
 * A **producer batch** (flag RECORD_BATCH_FLAG_PRODUCER) is the write of an idempotent producer:
 * after its last record comes a 16-byte trailer, `producer id (8 bytes) | first sequence f64 (a
 * non-negative safe integer)`; its records carry the producer's per-shard sequences first … first
 * + count - 1. The records start at the same offset as in any batch, so readers skip the trailer;
 * the gateway's dedup table is rebuilt from it on every leader (see `recordBatchProducer`).
 *
 * An **encrypted batch** (flag RECORD_BATCH_FLAG_ENCRYPTED, alone or with the producer flag) is
 * a batch of an encrypted stream: the header's key version (1 … 65535) names the stream's data
 * key, and each record's data is sealed by a `RecordDataSealer` — RECORD_DATA_SEAL_OVERHEAD_BYTES
 * more than the plaintext (the gateway's AES-256-GCM: nonce, ciphertext, tag). Partition keys,
 * explicit hash keys and the producer trailer stay in the clear (routing and dedup need them).
 * The broker never decrypts: readers get the sealed bytes and the key version (DecodedRecord).
 */
import {
  APPEND_BYTES_MAX,
  APPEND_RECORDS_MAX,
  EXPLICIT_HASH_KEY_CHARS_MAX,
  PARTITION_KEY_BYTES_MAX,
  PARTITION_KEY_CHARS_MAX,
  RECORD_DATA_BYTES_MAX,
} from "../constants.js";
import { AppendTooLargeError, CorruptBatchError, InvalidRecordError } from "../errors.js";

export const RECORD_BATCH_FORMAT_VERSION = 1;
export const RECORD_BATCH_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 8;
/** Flag bit of a seal batch (header only, 0 records): the shard takes no records after it. */
export const RECORD_BATCH_FLAG_SEAL = 0x01;
/** Flag bit of a producer batch: records, then a RECORD_BATCH_PRODUCER_TRAILER_BYTES trailer. */
export const RECORD_BATCH_FLAG_PRODUCER = 0x02;
/** Bytes of a producer batch's trailer: producer id (8) and first sequence (f64). */
export const RECORD_BATCH_PRODUCER_TRAILER_BYTES = 16;
/** Bytes of a producer id. */
export const PRODUCER_ID_BYTES = 8;
/** Flag bit of an encrypted batch: the header's u16 at byte 2 is the key version, data is sealed. */
export const RECORD_BATCH_FLAG_ENCRYPTED = 0x04;
/** What sealing adds to a record's data: a 12-byte nonce and a 16-byte tag (AES-GCM). */
export const RECORD_DATA_SEAL_OVERHEAD_BYTES = 28;
/** The largest key version a batch header holds (u16; 0 means not encrypted). */
export const RECORD_BATCH_KEY_VERSION_MAX = 0xffff;

const KNOWN_FLAGS = RECORD_BATCH_FLAG_PRODUCER | RECORD_BATCH_FLAG_ENCRYPTED;

/**
 * Seals each record's data as a batch is encoded (encodeRecordBatchOf): the encoder sizes each
 * record as its plaintext plus RECORD_DATA_SEAL_OVERHEAD_BYTES and hands over the place to write.
 * Implemented by the gateway (the broker knows no keys).
 */
export interface RecordDataSealer {
  /** The key version written in the header: 1 … RECORD_BATCH_KEY_VERSION_MAX. */
  readonly keyVersion: number;
  /**
   * Writes exactly `plaintext.length + RECORD_DATA_SEAL_OVERHEAD_BYTES` bytes sealing `plaintext`
   * into `out` at `at`. Must not keep `out` or `plaintext`.
   */
  sealInto(plaintext: Uint8Array, out: Buffer, at: number): void;
}

/** The idempotent producer that wrote a batch, from its trailer. */
export interface RecordBatchProducer {
  /** PRODUCER_ID_BYTES bytes, a view of the batch: never mutate it. */
  readonly producerId: Buffer;
  /** The sequence of the batch's first record; the others follow one by one. */
  readonly firstSequence: number;
}

/** One record to append. */
export interface AppendRecord {
  /** 1 to 256 characters; routes the record to its shard (the gateway's job) and is stored with it. */
  readonly partitionKey: string;
  /** The payload, at most RECORD_DATA_BYTES_MAX bytes; copied into the batch. */
  readonly data: Uint8Array;
  /** A decimal 128-bit hash key that overrode the partition key's hash, if the producer gave one. */
  readonly explicitHashKey?: string;
}

/** The fixed header of a batch. */
export interface RecordBatchHeader {
  readonly version: number;
  /**
   * 0 for a batch of records, RECORD_BATCH_FLAG_SEAL for a seal batch (recordCount 0), else
   * RECORD_BATCH_FLAG_PRODUCER and/or RECORD_BATCH_FLAG_ENCRYPTED.
   */
  readonly flags: number;
  /** The data key's version for an encrypted batch (1 … 65535); 0 when the data is plaintext. */
  readonly keyVersion: number;
  readonly arrivalTimestampMs: number;
  readonly recordCount: number;
}

/** One decoded record. `data` is a view of the entry's buffer: never mutate it. */
export interface DecodedRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** The plaintext, or when `keyVersion` > 0 the sealed data (see RecordDataSealer). */
  readonly data: Buffer;
  /** The batch's key version: 0 for plaintext data, else the data key that sealed it. */
  readonly keyVersion: number;
}

const DIGITS = /^[0-9]+$/;

/**
 * Validates `records` (InvalidRecordError, AppendTooLargeError, nothing encoded) and encodes them
 * with the arrival timestamp into one buffer: one allocation, one copy of each record's data.
 */
export function encodeRecordBatch(records: readonly AppendRecord[], arrivalTimestampMs: number): Buffer {
  if (!Array.isArray(records)) throw new InvalidRecordError(0, "an append needs at least one record");
  return encodeSelected(records, null, records.length, arrivalTimestampMs, false);
}

/** A record as a request decoder hands it over: an empty explicit hash key means none. */
export interface SelectableRecord {
  readonly partitionKey: string;
  readonly data: Uint8Array;
  readonly explicitHashKey?: string | undefined;
}

/**
 * Like encodeRecordBatch, for the records at `positions` (in that order) of `records`, without
 * building an array of them: the gateway encodes each shard's share of a request this way, once.
 * An `explicitHashKey` of "" (protobuf's default) or undefined means none. Same validation and
 * errors as encodeRecordBatch; the InvalidRecordError's index is the position in the batch.
 */
export function encodeRecordBatchOf(
  records: readonly SelectableRecord[],
  positions: ArrayLike<number>,
  arrivalTimestampMs: number,
  producer?: RecordBatchProducer,
  sealer?: RecordDataSealer,
): Buffer {
  return encodeSelected(records, positions, positions.length, arrivalTimestampMs, true, producer, sealer);
}

function encodeSelected(
  records: readonly SelectableRecord[],
  positions: ArrayLike<number> | null,
  count: number,
  arrivalTimestampMs: number,
  emptyHashKeyIsNone: boolean,
  producer?: RecordBatchProducer,
  sealer?: RecordDataSealer,
): Buffer {
  if (producer !== undefined) checkProducer(producer);
  if (
    sealer !== undefined &&
    (!Number.isInteger(sealer.keyVersion) ||
      sealer.keyVersion < 1 ||
      sealer.keyVersion > RECORD_BATCH_KEY_VERSION_MAX)
  ) {
    throw new RangeError(`a key version is 1 to ${RECORD_BATCH_KEY_VERSION_MAX}, not ${sealer.keyVersion}`);
  }
  const overhead = sealer === undefined ? 0 : RECORD_DATA_SEAL_OVERHEAD_BYTES;
  if (count === 0) throw new InvalidRecordError(0, "an append needs at least one record");
  if (count > APPEND_RECORDS_MAX) throw new AppendTooLargeError("record count", count, APPEND_RECORDS_MAX);
  if (!isTimestamp(arrivalTimestampMs)) {
    throw new RangeError(`arrival timestamp must be a non-negative integer of ms, got ${arrivalTimestampMs}`);
  }
  const keyBytes = new Uint32Array(count);
  let total = RECORD_BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const record = records[positions === null ? i : (positions[i] as number)] as SelectableRecord;
    if (typeof record !== "object" || record === null) throw new InvalidRecordError(i, "not a record object");
    const key = record.partitionKey;
    if (typeof key !== "string" || key.length === 0 || key.length > PARTITION_KEY_CHARS_MAX) {
      throw new InvalidRecordError(
        i,
        `the partition key must be a string of 1 to ${PARTITION_KEY_CHARS_MAX} characters`,
      );
    }
    const bytes = Buffer.byteLength(key, "utf8");
    if (bytes > PARTITION_KEY_BYTES_MAX) {
      throw new InvalidRecordError(
        i,
        `the partition key is ${bytes} UTF-8 bytes, above ${PARTITION_KEY_BYTES_MAX}`,
      );
    }
    keyBytes[i] = bytes;
    if (!(record.data instanceof Uint8Array))
      throw new InvalidRecordError(i, "data must be a Buffer or Uint8Array");
    if (record.data.length > RECORD_DATA_BYTES_MAX) {
      throw new InvalidRecordError(
        i,
        `data is ${record.data.length} bytes, above the limit of ${RECORD_DATA_BYTES_MAX}`,
      );
    }
    const hashKey = record.explicitHashKey;
    if (hashKey !== undefined && !(emptyHashKeyIsNone && hashKey === "")) {
      if (
        typeof hashKey !== "string" ||
        hashKey.length > EXPLICIT_HASH_KEY_CHARS_MAX ||
        !DIGITS.test(hashKey)
      ) {
        throw new InvalidRecordError(
          i,
          `the explicit hash key must be a decimal integer of 1 to ${EXPLICIT_HASH_KEY_CHARS_MAX} digits`,
        );
      }
      total += hashKey.length;
    }
    total += RECORD_HEADER_BYTES + bytes + record.data.length + overhead;
  }
  const recordsEnd = total;
  if (producer !== undefined) total += RECORD_BATCH_PRODUCER_TRAILER_BYTES;
  if (total > APPEND_BYTES_MAX) throw new AppendTooLargeError("size in bytes", total, APPEND_BYTES_MAX);

  const out = Buffer.allocUnsafe(total);
  out.writeUInt8(RECORD_BATCH_FORMAT_VERSION, 0);
  out.writeUInt8(
    (producer === undefined ? 0 : RECORD_BATCH_FLAG_PRODUCER) |
      (sealer === undefined ? 0 : RECORD_BATCH_FLAG_ENCRYPTED),
    1,
  );
  out.writeUInt16LE(sealer === undefined ? 0 : sealer.keyVersion, 2);
  out.writeUInt32LE(count, 4);
  out.writeDoubleLE(arrivalTimestampMs, 8);
  let at = RECORD_BATCH_HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const record = records[positions === null ? i : (positions[i] as number)] as SelectableRecord;
    const hashKey = record.explicitHashKey ?? "";
    const bytes = keyBytes[i] as number;
    out.writeUInt16LE(bytes, at);
    out.writeUInt8(hashKey.length, at + 2);
    out.writeUInt8(0, at + 3);
    out.writeUInt32LE(record.data.length + overhead, at + 4);
    at += RECORD_HEADER_BYTES;
    at += out.write(record.partitionKey, at, bytes, "utf8");
    if (hashKey.length > 0) at += out.write(hashKey, at, hashKey.length, "latin1");
    if (sealer === undefined) out.set(record.data, at);
    else sealer.sealInto(record.data, out, at);
    at += record.data.length + overhead;
  }
  if (at !== recordsEnd) throw new Error(`record batch encoder wrote ${at} bytes, expected ${recordsEnd}`);
  if (producer !== undefined) writeProducerTrailer(out, producer);
  return out;
}

function checkProducer(producer: RecordBatchProducer): void {
  if (!(producer.producerId instanceof Uint8Array) || producer.producerId.length !== PRODUCER_ID_BYTES) {
    throw new RangeError(`a producer id is ${PRODUCER_ID_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(producer.firstSequence) || producer.firstSequence < 0) {
    throw new RangeError(`a producer sequence is a non-negative safe integer, not ${producer.firstSequence}`);
  }
}

/** Writes the trailer into the last RECORD_BATCH_PRODUCER_TRAILER_BYTES of `out`. */
function writeProducerTrailer(out: Buffer, producer: RecordBatchProducer): void {
  const at = out.length - RECORD_BATCH_PRODUCER_TRAILER_BYTES;
  out.set(producer.producerId, at);
  out.writeDoubleLE(producer.firstSequence, at + PRODUCER_ID_BYTES);
}

/**
 * The producer of a checked producer batch (a view of its trailer), or undefined for any other
 * batch. O(1); CorruptBatchError when the trailer's sequence is not a safe integer.
 */
export function recordBatchProducer(batch: Uint8Array): RecordBatchProducer | undefined {
  if (batch.length < RECORD_BATCH_HEADER_BYTES || !isProducerFlags(batch[1] as number)) return undefined;
  const buffer = asBuffer(batch);
  const at = buffer.length - RECORD_BATCH_PRODUCER_TRAILER_BYTES;
  const firstSequence = buffer.readDoubleLE(at + PRODUCER_ID_BYTES);
  if (!Number.isSafeInteger(firstSequence) || firstSequence < 0) {
    throw new CorruptBatchError(`producer batch sequence ${firstSequence} is not a non-negative integer`);
  }
  return { producerId: buffer.subarray(at, at + PRODUCER_ID_BYTES), firstSequence };
}

/** Where a batch's records end: before the trailer of a producer batch, else at its end. */
function recordsEndOf(buffer: Uint8Array): number {
  return isProducerFlags(buffer[1] as number)
    ? buffer.length - RECORD_BATCH_PRODUCER_TRAILER_BYTES
    : buffer.length;
}

/** Whether a record batch's flags byte (not a seal's) marks a producer batch. */
function isProducerFlags(flags: number): boolean {
  return flags !== RECORD_BATCH_FLAG_SEAL && (flags & RECORD_BATCH_FLAG_PRODUCER) !== 0;
}

/** The smallest and largest data length a record of a batch with these flags may have. */
function dataBytesBounds(flags: number): { min: number; max: number } {
  return (flags & RECORD_BATCH_FLAG_ENCRYPTED) === 0 || flags === RECORD_BATCH_FLAG_SEAL
    ? PLAIN_DATA_BOUNDS
    : SEALED_DATA_BOUNDS;
}
const PLAIN_DATA_BOUNDS = Object.freeze({ min: 0, max: RECORD_DATA_BYTES_MAX });
const SEALED_DATA_BOUNDS = Object.freeze({
  min: RECORD_DATA_SEAL_OVERHEAD_BYTES,
  max: RECORD_DATA_BYTES_MAX + RECORD_DATA_SEAL_OVERHEAD_BYTES,
});

/**
 * What each record of a batch counts against its shard's write throughput — its data plus its
 * partition key bytes — read from the record headers alone (no string decoded). Checks the
 * header and every length as forEachRecord does (CorruptBatchError); a seal batch has none. The
 * data of an encrypted batch counts as its plaintext (the seal's overhead is the cluster's).
 */
export function recordBatchPayloadBytes(batch: Uint8Array): Uint32Array {
  const { recordCount, keyVersion } = decodeRecordBatchHeader(batch);
  const sizes = new Uint32Array(recordCount);
  const overhead = keyVersion === 0 ? 0 : RECORD_DATA_SEAL_OVERHEAD_BYTES;
  walkRecordHeaders(batch, recordCount, (i, keyBytes, dataBytes) => {
    sizes[i] = keyBytes + dataBytes - overhead;
  });
  return sizes;
}

/**
 * The first `count` records of a checked record batch as a new batch (a copy: header with the
 * count patched, then those records' bytes); `batch` itself is left as it was, so a caller may
 * still retry it whole. `count` must be 1 … the batch's record count (RangeError otherwise);
 * CorruptBatchError as forEachRecord. Returns `batch` itself when `count` is its record count.
 */
export function recordBatchPrefix(batch: Buffer, count: number): Buffer {
  const { recordCount, flags } = decodeRecordBatchHeader(batch);
  if (flags === RECORD_BATCH_FLAG_SEAL || !Number.isInteger(count) || count < 1 || count > recordCount) {
    throw new RangeError(
      `a prefix of a ${recordCount}-record batch has 1 to ${recordCount} records, not ${count}`,
    );
  }
  let end = RECORD_BATCH_HEADER_BYTES;
  walkRecordHeaders(batch, recordCount, (i, _keyBytes, _dataBytes, recordEnd) => {
    if (i === count - 1) end = recordEnd;
  });
  if (count === recordCount) return batch;
  const trailer = isProducerFlags(flags) ? RECORD_BATCH_PRODUCER_TRAILER_BYTES : 0;
  const prefix = Buffer.allocUnsafe(end + trailer);
  batch.copy(prefix, 0, 0, end);
  // A producer prefix keeps the trailer: same producer, same first sequence, fewer records.
  if (trailer > 0) batch.copy(prefix, end, batch.length - trailer);
  prefix.writeUInt32LE(count, 4);
  return prefix;
}

/**
 * Walks the record headers of a batch whose header was checked, checking every length as
 * forEachRecord does (CorruptBatchError, trailing bytes included), decoding nothing.
 */
function walkRecordHeaders(
  data: Uint8Array,
  recordCount: number,
  visit: (index: number, keyBytes: number, dataBytes: number, recordEnd: number) => void,
): void {
  const buffer = asBuffer(data);
  const end = recordsEndOf(buffer);
  const bounds = dataBytesBounds(buffer[1] as number);
  let at = RECORD_BATCH_HEADER_BYTES;
  for (let i = 0; i < recordCount; i++) {
    const next = checkedRecordEnd(buffer, at, end, i, bounds);
    visit(i, buffer.readUInt16LE(at), buffer.readUInt32LE(at + 4), next);
    at = next;
  }
  if (at !== end) throw new CorruptBatchError(`${end - at} trailing bytes after the last record`);
}

/**
 * Encodes the seal batch stamped `arrivalTimestampMs`: the 16-byte header with flag
 * RECORD_BATCH_FLAG_SEAL and no records (RangeError for a bad stamp).
 */
export function encodeSealBatch(arrivalTimestampMs: number): Buffer {
  if (!isTimestamp(arrivalTimestampMs)) {
    throw new RangeError(`arrival timestamp must be a non-negative integer of ms, got ${arrivalTimestampMs}`);
  }
  const out = Buffer.alloc(RECORD_BATCH_HEADER_BYTES);
  out.writeUInt8(RECORD_BATCH_FORMAT_VERSION, 0);
  out.writeUInt8(RECORD_BATCH_FLAG_SEAL, 1);
  out.writeDoubleLE(arrivalTimestampMs, 8);
  return out;
}

/** Whether `data` is a well-formed seal batch; O(1) (a record batch is never 16 bytes long). */
export function isSealBatch(data: Uint8Array): boolean {
  if (data.length !== RECORD_BATCH_HEADER_BYTES || data[1] !== RECORD_BATCH_FLAG_SEAL) return false;
  try {
    decodeRecordBatchHeader(data);
    return true;
  } catch {
    return false;
  }
}

/**
 * Reads and checks the fixed header (CorruptBatchError); O(1), used on every apply. A seal batch
 * decodes with `flags` RECORD_BATCH_FLAG_SEAL and `recordCount` 0.
 */
export function decodeRecordBatchHeader(data: Uint8Array): RecordBatchHeader {
  if (data.length < RECORD_BATCH_HEADER_BYTES) {
    throw new CorruptBatchError(
      `${data.length} bytes is shorter than the ${RECORD_BATCH_HEADER_BYTES}-byte header`,
    );
  }
  const buffer = asBuffer(data);
  const version = buffer.readUInt8(0);
  if (version !== RECORD_BATCH_FORMAT_VERSION) {
    throw new CorruptBatchError(`format version ${version} is not ${RECORD_BATCH_FORMAT_VERSION}`);
  }
  const flags = buffer.readUInt8(1);
  const keyVersion = buffer.readUInt16LE(2);
  const encrypted = flags !== RECORD_BATCH_FLAG_SEAL && (flags & RECORD_BATCH_FLAG_ENCRYPTED) !== 0;
  if (
    (flags !== RECORD_BATCH_FLAG_SEAL && (flags & ~KNOWN_FLAGS) !== 0) ||
    (encrypted ? keyVersion === 0 : keyVersion !== 0)
  ) {
    throw new CorruptBatchError("unknown flags, or a key version that does not match the encrypted flag");
  }
  const recordCount = buffer.readUInt32LE(4);
  const arrivalTimestampMs = buffer.readDoubleLE(8);
  if (!isTimestamp(arrivalTimestampMs))
    throw new CorruptBatchError(`bad arrival timestamp ${arrivalTimestampMs}`);
  if (flags === RECORD_BATCH_FLAG_SEAL) {
    if (recordCount !== 0 || data.length !== RECORD_BATCH_HEADER_BYTES) {
      throw new CorruptBatchError("a seal batch must be the header alone, with 0 records");
    }
    return { version, flags, keyVersion, arrivalTimestampMs, recordCount };
  }
  if (recordCount === 0 || recordCount > APPEND_RECORDS_MAX) {
    throw new CorruptBatchError(`record count ${recordCount} is outside [1, ${APPEND_RECORDS_MAX}]`);
  }
  const trailer = isProducerFlags(flags) ? RECORD_BATCH_PRODUCER_TRAILER_BYTES : 0;
  if (recordCount * RECORD_HEADER_BYTES > data.length - RECORD_BATCH_HEADER_BYTES - trailer) {
    throw new CorruptBatchError(`${recordCount} records cannot fit in ${data.length} bytes`);
  }
  return { version, flags, keyVersion, arrivalTimestampMs, recordCount };
}

/**
 * Decodes every record of a batch, checking every length and that the records end exactly at the
 * end of the buffer (CorruptBatchError otherwise). Records are views of `data` (no copy).
 */
export function decodeRecordBatch(data: Uint8Array): { header: RecordBatchHeader; records: DecodedRecord[] } {
  const header = decodeRecordBatchHeader(data);
  const records: DecodedRecord[] = new Array(header.recordCount);
  forEachRecord(data, header.recordCount, 0, (i, record) => {
    records[i] = record;
    return true;
  });
  return { header, records };
}

/**
 * Visits records `from` … recordCount-1 of a batch whose header was checked, in order, until
 * `visit` returns false. Records before `from` are skipped without decoding their strings.
 * Throws CorruptBatchError on any length that runs past the buffer, or on trailing bytes when
 * the walk reaches the last record.
 */
export function forEachRecord(
  data: Uint8Array,
  recordCount: number,
  from: number,
  visit: (offset: number, record: DecodedRecord, encodedBytes: number) => boolean,
): void {
  const buffer = asBuffer(data);
  const end = recordsEndOf(buffer);
  const flags = buffer[1] as number;
  const bounds = dataBytesBounds(flags);
  const keyVersion = (flags & RECORD_BATCH_FLAG_ENCRYPTED) === 0 ? 0 : buffer.readUInt16LE(2);
  let at = RECORD_BATCH_HEADER_BYTES;
  for (let i = 0; i < recordCount; i++) {
    const next = checkedRecordEnd(buffer, at, end, i, bounds);
    const keyStart = at + RECORD_HEADER_BYTES;
    const hashKeyStart = keyStart + buffer.readUInt16LE(at);
    const dataStart = hashKeyStart + buffer.readUInt8(at + 2);
    if (i >= from) {
      const record: DecodedRecord = {
        partitionKey: buffer.toString("utf8", keyStart, hashKeyStart),
        explicitHashKey:
          dataStart === hashKeyStart ? undefined : buffer.toString("latin1", hashKeyStart, dataStart),
        data: buffer.subarray(dataStart, next),
        keyVersion,
      };
      if (!visit(i, record, next - at)) return;
    }
    at = next;
  }
  if (at !== end) throw new CorruptBatchError(`${end - at} trailing bytes after the last record`);
}

/**
 * Checks the header of record `i` at `at` against the batch's `end` (lengths within their bounds,
 * reserved byte zero, the record inside the batch) and returns where the record ends; the one
 * check every walk over a batch's records makes (CorruptBatchError otherwise).
 */
function checkedRecordEnd(
  buffer: Buffer,
  at: number,
  end: number,
  i: number,
  bounds: { readonly min: number; readonly max: number },
): number {
  if (at + RECORD_HEADER_BYTES > end) throw new CorruptBatchError(`record ${i} header runs past the end`);
  const keyBytes = buffer.readUInt16LE(at);
  const hashKeyBytes = buffer.readUInt8(at + 2);
  const dataBytes = buffer.readUInt32LE(at + 4);
  if (buffer.readUInt8(at + 3) !== 0) throw new CorruptBatchError(`record ${i} reserved byte is not zero`);
  if (keyBytes === 0 || keyBytes > PARTITION_KEY_BYTES_MAX) {
    throw new CorruptBatchError(`record ${i} partition key length ${keyBytes}`);
  }
  if (hashKeyBytes > EXPLICIT_HASH_KEY_CHARS_MAX) {
    throw new CorruptBatchError(`record ${i} explicit hash key length ${hashKeyBytes}`);
  }
  if (dataBytes > bounds.max || dataBytes < bounds.min) {
    throw new CorruptBatchError(`record ${i} data length ${dataBytes}`);
  }
  const next = at + RECORD_HEADER_BYTES + keyBytes + hashKeyBytes + dataBytes;
  if (next > end) throw new CorruptBatchError(`record ${i} runs past the end (${next} > ${end})`);
  return next;
}

function isTimestamp(value: number): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
