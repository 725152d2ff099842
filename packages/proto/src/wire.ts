/**
 * The pieces of the protobuf wire format that Sluice's hand codecs share (the gateway's
 * PutRecord(s) and ForwardStream codecs, the client's PutRecord(s) codecs): wire types, unsigned
 * varints up to 2^53 written without BigInt, one bounds-checked reader, and the field tags of the
 * write calls' messages. The hand codecs exist
 * for the hot calls only, where the generated code's per-message writer, chunk copies and 64-bit
 * path cost more than the record's own work; everything else uses the generated code.
 */

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

/** Longest varint protobuf writes (a negative int64 or int32). */
export const VARINT_BYTES_MAX = 10;
/** Bytes of a varint that carry the bits of a uint32. */
const UINT32_VARINT_BYTES = 5;
const UINT32_RANGE = 4_294_967_296;
const UINT32_MAX = UINT32_RANGE - 1;

/** Bytes the varint encoding of a non-negative safe integer takes. */
export function varintBytes(value: number): number {
  let bytes = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    bytes++;
  }
  return bytes;
}

/** Writes `value` (a non-negative safe integer) as a varint at `at`; returns the offset after it. */
export function writeVarint(out: Uint8Array, value: number, at: number): number {
  while (value >= 128) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** Bytes a length-delimited field of `length` bytes takes with a one-byte tag. */
export function lengthDelimitedFieldBytes(length: number): number {
  return 1 + varintBytes(length) + length;
}

/**
 * Bytes an optional length-delimited field of `length` bytes takes with a one-byte tag: 0 when
 * `length` is 0, since proto3 leaves an empty string or bytes field out.
 */
export function optionalFieldBytes(length: number): number {
  return length === 0 ? 0 : lengthDelimitedFieldBytes(length);
}

/**
 * Writes a string field (tag, length, UTF-8 bytes) whose UTF-8 length the caller measured as
 * `bytes`; nothing when `bytes` is 0. Returns the offset after it.
 */
export function writeStringField(out: Buffer, at: number, tag: number, value: string, bytes: number): number {
  if (bytes === 0) return at;
  out[at++] = tag;
  at = writeVarint(out, bytes, at);
  return at + out.write(value, at, bytes, "utf8");
}

/** Writes a bytes field (tag, length, bytes); nothing for an empty one. Returns the offset after it. */
export function writeBytesField(out: Uint8Array, at: number, tag: number, value: Uint8Array): number {
  if (value.length === 0) return at;
  out[at++] = tag;
  at = writeVarint(out, value.length, at);
  out.set(value, at);
  return at + value.length;
}

/**
 * Makes the error a reader throws for malformed bytes: `problem` says what is wrong,
 * `position` is the byte offset where it was found.
 */
export type MalformedWireError = (problem: string, position: number) => Error;

const EMPTY_BYTES = Buffer.alloc(0);

/**
 * A cursor over one message's bytes. Every read takes the end of the enclosing message and
 * throws the reader's error (never reads past it) for a varint longer than VARINT_BYTES_MAX, a
 * length past the end, a field number 0 or a wire type proto3 does not use.
 */
export class WireReader {
  position = 0;

  constructor(
    readonly buffer: Buffer,
    private readonly malformedError: MalformedWireError,
  ) {}

  /** An unsigned varint summed in a double: exact up to 2^53. */
  varint(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.position >= end) throw this.malformed("a varint runs past the end of its message");
      const byte = this.buffer[this.position++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw this.malformed(`a varint is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /**
   * A varint read as protobuf reads a uint32: its low 32 bits, exactly, whatever its length (up
   * to VARINT_BYTES_MAX). `varint` sums in a double, which loses the low bits past 2^53.
   */
  varint32(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < VARINT_BYTES_MAX; i++) {
      if (this.position >= end) throw this.malformed("a varint runs past the end of its message");
      const byte = this.buffer[this.position++] as number;
      // Five bytes carry bits 0 to 34: exact in a double; the bits above do not reach a uint32.
      if (i < UINT32_VARINT_BYTES) value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value % UINT32_RANGE;
      scale *= 128;
    }
    throw this.malformed(`a varint is longer than ${VARINT_BYTES_MAX} bytes`);
  }

  /** An int32 field: the low 32 bits of its varint, as a signed number (protobuf's reading). */
  int32(end: number): number {
    return this.varint32(end) | 0;
  }

  /** A uint32 field whose value must fit (a larger varint is refused, not truncated). */
  uint32(end: number): number {
    const value = this.varint(end);
    if (value > UINT32_MAX) throw this.malformed(`a uint32 field holds ${value}`);
    return value;
  }

  /** A uint64 field read as a number: refused above 2^53 − 1, as the generated decoder refuses it. */
  uint64(end: number): number {
    const value = this.varint(end);
    if (!Number.isSafeInteger(value)) throw this.malformed("a uint64 field exceeds 2^53 - 1");
    return value;
  }

  /** A field tag: its number must be ≥ 1 and its wire type one a proto3 message may carry. */
  tag(end: number): number {
    const tag = this.varint32(end);
    const wireType = tag & 7;
    if (tag >>> 3 === 0) throw this.malformed("a field has number 0");
    if (
      wireType !== WIRE_VARINT &&
      wireType !== WIRE_FIXED64 &&
      wireType !== WIRE_LENGTH_DELIMITED &&
      wireType !== WIRE_FIXED32
    ) {
      throw this.malformed(`field ${tag >>> 3} has wire type ${wireType}, which proto3 does not use`);
    }
    return tag;
  }

  /** Reads a length prefix; returns where the field's bytes end (they start at `position`). */
  lengthDelimited(end: number): number {
    const length = this.varint(end);
    if (length > end - this.position) throw this.malformed("a length runs past the end of its message");
    return this.position + length;
  }

  string(end: number): string {
    const fieldEnd = this.lengthDelimited(end);
    const value = this.buffer.toString("utf8", this.position, fieldEnd);
    this.position = fieldEnd;
    return value;
  }

  /** A view of the field's bytes (no copy): valid as long as the buffer is not reused. */
  bytes(end: number): Buffer {
    const fieldEnd = this.lengthDelimited(end);
    const value = fieldEnd === this.position ? EMPTY_BYTES : this.buffer.subarray(this.position, fieldEnd);
    this.position = fieldEnd;
    return value;
  }

  /** Skips a field of an unknown number, whatever its (valid) wire type. */
  skip(tag: number, end: number): void {
    const wireType = tag & 7;
    if (wireType === WIRE_VARINT) this.varint(end);
    else if (wireType === WIRE_LENGTH_DELIMITED) this.position = this.lengthDelimited(end);
    else {
      this.position += wireType === WIRE_FIXED64 ? 8 : 4;
      if (this.position > end) throw this.malformed("a fixed-size field runs past the end of its message");
    }
  }

  malformed(problem: string): Error {
    return this.malformedError(problem, this.position);
  }
}

// ---- Tags (field number << 3 | wire type) of the write calls' messages, from streams.proto ----

export const TAG_PUT_RECORDS_STREAM_NAME = (1 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_RECORD = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_STREAM_ARN = (3 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_PRODUCER_ID = (4 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_PRODUCER_SHARD_ID = (5 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_PRODUCER_SEQUENCE = (6 << 3) | WIRE_VARINT;
/** PutRecordsRequestEntry. */
export const TAG_ENTRY_DATA = (1 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_ENTRY_EXPLICIT_HASH_KEY = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_ENTRY_PARTITION_KEY = (3 << 3) | WIRE_LENGTH_DELIMITED;

export const TAG_PUT_RECORD_STREAM_NAME = (1 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_DATA = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_PARTITION_KEY = (3 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_EXPLICIT_HASH_KEY = (4 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_SEQUENCE_NUMBER_FOR_ORDERING = (5 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_STREAM_ARN = (6 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_PRODUCER_ID = (7 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_PRODUCER_SHARD_ID = (8 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORD_PRODUCER_SEQUENCE = (9 << 3) | WIRE_VARINT;

export const TAG_PUT_RECORDS_RESPONSE_FAILED_RECORD_COUNT = (1 << 3) | WIRE_VARINT;
export const TAG_PUT_RECORDS_RESPONSE_RECORD = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_PUT_RECORDS_RESPONSE_ENCRYPTION_TYPE = (3 << 3) | WIRE_LENGTH_DELIMITED;
/** PutRecordsResultEntry. */
export const TAG_RESULT_SEQUENCE_NUMBER = (1 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_RESULT_SHARD_ID = (2 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_RESULT_ERROR_CODE = (3 << 3) | WIRE_LENGTH_DELIMITED;
export const TAG_RESULT_ERROR_MESSAGE = (4 << 3) | WIRE_LENGTH_DELIMITED;
