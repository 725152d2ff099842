/**
 * Hand decoders for the two write requests, PutRecordsRequest and PutRecordRequest, plugged into
 * the StreamsService definition the node registers. The generated decoder builds a reader per
 * message and copies every record's data (`Buffer.from`); these read the protobuf wire format in
 * one pass and hand each record's data over as a VIEW of the received buffer (the gRPC message,
 * owned by this call: the gateway only reads it, and copies the bytes once, into the record batch
 * it appends).
 *
 * They accept what the generated decoder accepts for these messages (unknown fields skipped, the
 * last of a repeated scalar wins, records in order) and are stricter about garbage: a field
 * number 0, an end-group or reserved wire type, a varint longer than 10 bytes or a length past
 * the message's end throws ValidationError. grpc-js turns a throwing deserializer into a bare
 * INTERNAL status, so the definition below does not throw: it hands the handler a request marked
 * malformed, and `rejectMalformedRequests` answers it with the error's Kinesis status
 * (ValidationException, not retriable). Without that wrapper a marked request is an empty one,
 * which validation refuses all the same.
 */
import type { handleUnaryCall } from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import { ValidationError } from "../errors.js";
import { toServiceError } from "../status-details.js";

/** The wire types a decoder skips (varint, 64-bit, length-delimited, 32-bit). */
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;
const VARINT_BYTES_MAX = 10;
const UINT32_RANGE = 4_294_967_296;

/** Tags (field number << 3 | wire type) of the fields read. */
const TAG_PUT_RECORDS_STREAM_NAME = (1 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORDS_RECORD = (2 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORDS_STREAM_ARN = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_ENTRY_DATA = (1 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_ENTRY_EXPLICIT_HASH_KEY = (2 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_ENTRY_PARTITION_KEY = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_STREAM_NAME = (1 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_DATA = (2 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_PARTITION_KEY = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_EXPLICIT_HASH_KEY = (4 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_SEQUENCE_NUMBER_FOR_ORDERING = (5 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_PUT_RECORD_STREAM_ARN = (6 << 3) | WIRE_LENGTH_DELIMITED;

const EMPTY_DATA = Buffer.alloc(0);

/** A cursor over one message's bytes; every read checks the bound it is given. */
class WireReader {
  position = 0;
  constructor(
    readonly buffer: Buffer,
    private readonly message: string,
  ) {}

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

  /** A field tag: its number must be ≥ 1 and its wire type one a proto3 message may carry. */
  tag(end: number): number {
    const tag = this.varint(end) % UINT32_RANGE;
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

  /** A view of the field's bytes (no copy). */
  bytes(end: number): Buffer {
    const fieldEnd = this.lengthDelimited(end);
    const value = fieldEnd === this.position ? EMPTY_DATA : this.buffer.subarray(this.position, fieldEnd);
    this.position = fieldEnd;
    return value;
  }

  skip(tag: number, end: number): void {
    const wireType = tag & 7;
    if (wireType === WIRE_VARINT) this.varint(end);
    else if (wireType === WIRE_LENGTH_DELIMITED) this.position = this.lengthDelimited(end);
    else {
      this.position += wireType === WIRE_FIXED64 ? 8 : 4;
      if (this.position > end) throw this.malformed("a fixed-size field runs past the end of its message");
    }
  }

  malformed(problem: string): ValidationError {
    return new ValidationError(
      `the ${this.message} is not a valid protobuf message (${problem}, near byte ${this.position}); send it as a protobuf library encodes it`,
    );
  }
}

/**
 * Decodes a PutRecordsRequest; each record's `data` is a view of `buffer` (never mutate it).
 * ValidationError when the bytes are not a well-formed message.
 */
export function decodePutRecordsRequest(buffer: Buffer): streams.PutRecordsRequest {
  const reader = new WireReader(buffer, "PutRecordsRequest");
  const request: streams.PutRecordsRequest = { streamName: "", records: [], streamArn: "" };
  const end = buffer.length;
  while (reader.position < end) {
    const tag = reader.tag(end);
    if (tag === TAG_PUT_RECORDS_RECORD) {
      const recordEnd = reader.lengthDelimited(end);
      const record: streams.PutRecordsRequestEntry = {
        data: EMPTY_DATA,
        explicitHashKey: "",
        partitionKey: "",
      };
      while (reader.position < recordEnd) {
        const recordTag = reader.tag(recordEnd);
        if (recordTag === TAG_ENTRY_DATA) record.data = reader.bytes(recordEnd);
        else if (recordTag === TAG_ENTRY_PARTITION_KEY) record.partitionKey = reader.string(recordEnd);
        else if (recordTag === TAG_ENTRY_EXPLICIT_HASH_KEY) record.explicitHashKey = reader.string(recordEnd);
        else reader.skip(recordTag, recordEnd);
      }
      request.records.push(record);
    } else if (tag === TAG_PUT_RECORDS_STREAM_NAME) request.streamName = reader.string(end);
    else if (tag === TAG_PUT_RECORDS_STREAM_ARN) request.streamArn = reader.string(end);
    else reader.skip(tag, end);
  }
  return request;
}

/**
 * Decodes a PutRecordRequest; `data` is a view of `buffer` (never mutate it). ValidationError
 * when the bytes are not a well-formed message.
 */
export function decodePutRecordRequest(buffer: Buffer): streams.PutRecordRequest {
  const reader = new WireReader(buffer, "PutRecordRequest");
  const request: streams.PutRecordRequest = {
    streamName: "",
    data: EMPTY_DATA,
    partitionKey: "",
    explicitHashKey: "",
    sequenceNumberForOrdering: "",
    streamArn: "",
  };
  const end = buffer.length;
  while (reader.position < end) {
    const tag = reader.tag(end);
    switch (tag) {
      case TAG_PUT_RECORD_STREAM_NAME:
        request.streamName = reader.string(end);
        break;
      case TAG_PUT_RECORD_DATA:
        request.data = reader.bytes(end);
        break;
      case TAG_PUT_RECORD_PARTITION_KEY:
        request.partitionKey = reader.string(end);
        break;
      case TAG_PUT_RECORD_EXPLICIT_HASH_KEY:
        request.explicitHashKey = reader.string(end);
        break;
      case TAG_PUT_RECORD_SEQUENCE_NUMBER_FOR_ORDERING:
        request.sequenceNumberForOrdering = reader.string(end);
        break;
      case TAG_PUT_RECORD_STREAM_ARN:
        request.streamArn = reader.string(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return request;
}

/** Where a request that failed to decode keeps its error (see `malformedRequestError`). */
const MALFORMED = Symbol("sluice.malformedRequest");

/**
 * The error a request object carries when the definition's deserializer could not decode it, or
 * undefined for a decoded request.
 */
export function malformedRequestError(request: unknown): ValidationError | undefined {
  if (typeof request !== "object" || request === null) return undefined;
  return (request as { [MALFORMED]?: ValidationError })[MALFORMED];
}

function orMalformed<T extends object>(decode: (buffer: Buffer) => T, empty: () => T) {
  return (buffer: Buffer): T => {
    try {
      return decode(buffer);
    } catch (error) {
      const request = empty();
      const reason =
        error instanceof ValidationError
          ? error
          : new ValidationError(`the request could not be decoded (${String(error)})`);
      Object.defineProperty(request, MALFORMED, { value: reason, enumerable: false });
      return request;
    }
  };
}

/**
 * The StreamsService definition for grpc-js: the generated one, with the hand decoders for
 * PutRecords and PutRecord. Register it rather than streams.StreamsServiceService, with an
 * implementation wrapped by `rejectMalformedRequests`.
 */
export const streamsServiceDefinition: typeof streams.StreamsServiceService = {
  ...streams.StreamsServiceService,
  putRecords: {
    ...streams.StreamsServiceService.putRecords,
    requestDeserialize: orMalformed(decodePutRecordsRequest, () => ({
      streamName: "",
      records: [],
      streamArn: "",
    })),
  },
  putRecord: {
    ...streams.StreamsServiceService.putRecord,
    requestDeserialize: orMalformed(decodePutRecordRequest, () => ({
      streamName: "",
      data: EMPTY_DATA,
      partitionKey: "",
      explicitHashKey: "",
      sequenceNumberForOrdering: "",
      streamArn: "",
    })),
  },
};

/**
 * Wraps a StreamsService implementation so that a PutRecords or PutRecord request the
 * definition could not decode is answered at once with its ValidationError's status
 * (ValidationException) instead of reaching the handler.
 */
export function rejectMalformedRequests(
  implementation: streams.StreamsServiceServer,
): streams.StreamsServiceServer {
  const guard =
    <Req, Res>(name: "putRecords" | "putRecord"): handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const error = malformedRequestError(call.request);
      if (error !== undefined) {
        callback(toServiceError(error));
        return;
      }
      (implementation[name] as unknown as handleUnaryCall<Req, Res>)(call, callback);
    };
  return {
    ...implementation,
    putRecords: guard<streams.PutRecordsRequest, streams.PutRecordsResponse>("putRecords"),
    putRecord: guard<streams.PutRecordRequest, streams.PutRecordResponse>("putRecord"),
  };
}
