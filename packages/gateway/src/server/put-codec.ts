/**
 * Hand decoders for the two write requests, PutRecordsRequest and PutRecordRequest, and a hand
 * encoder for PutRecordsResponse, plugged into the StreamsService definition the node registers. The generated decoder builds a reader per
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
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import { streams } from "@sluice/proto";
import {
  TAG_ENTRY_DATA,
  TAG_ENTRY_EXPLICIT_HASH_KEY,
  TAG_ENTRY_PARTITION_KEY,
  TAG_PUT_RECORD_DATA,
  TAG_PUT_RECORD_EXPLICIT_HASH_KEY,
  TAG_PUT_RECORD_PARTITION_KEY,
  TAG_PUT_RECORD_PRODUCER_ID,
  TAG_PUT_RECORD_PRODUCER_SEQUENCE,
  TAG_PUT_RECORD_PRODUCER_SHARD_ID,
  TAG_PUT_RECORD_SEQUENCE_NUMBER_FOR_ORDERING,
  TAG_PUT_RECORD_STREAM_ARN,
  TAG_PUT_RECORD_STREAM_NAME,
  TAG_PUT_RECORDS_PRODUCER_ID,
  TAG_PUT_RECORDS_PRODUCER_SEQUENCE,
  TAG_PUT_RECORDS_PRODUCER_SHARD_ID,
  TAG_PUT_RECORDS_RECORD,
  TAG_PUT_RECORDS_RESPONSE_ENCRYPTION_TYPE,
  TAG_PUT_RECORDS_RESPONSE_FAILED_RECORD_COUNT,
  TAG_PUT_RECORDS_RESPONSE_RECORD,
  TAG_PUT_RECORDS_STREAM_ARN,
  TAG_PUT_RECORDS_STREAM_NAME,
  TAG_RESULT_ERROR_CODE,
  TAG_RESULT_ERROR_MESSAGE,
  TAG_RESULT_SEQUENCE_NUMBER,
  TAG_RESULT_SHARD_ID,
  varintBytes,
  WireReader,
  writeVarint,
} from "@sluice/proto/wire";
import { ValidationError } from "../errors.js";
import { toServiceError } from "../status-details.js";

const EMPTY_DATA = Buffer.alloc(0);

/** A reader whose malformed bytes are the client's fault: ValidationError, naming the message. */
function requestReader(buffer: Buffer, message: string): WireReader {
  return new WireReader(
    buffer,
    (problem, position) =>
      new ValidationError(
        `the ${message} is not a valid protobuf message (${problem}, near byte ${position}); send it as a protobuf library encodes it`,
      ),
  );
}

function emptyPutRecordsRequest(): streams.PutRecordsRequest {
  return {
    streamName: "",
    records: [],
    streamArn: "",
    producerId: EMPTY_DATA,
    producerShardId: "",
    producerSequence: 0,
  };
}

function emptyPutRecordRequest(): streams.PutRecordRequest {
  return {
    streamName: "",
    data: EMPTY_DATA,
    partitionKey: "",
    explicitHashKey: "",
    sequenceNumberForOrdering: "",
    streamArn: "",
    producerId: EMPTY_DATA,
    producerShardId: "",
    producerSequence: 0,
  };
}

/**
 * Decodes a PutRecordsRequest; each record's `data` (and `producerId`) is a view of `buffer` (never mutate it).
 * ValidationError when the bytes are not a well-formed message.
 */
export function decodePutRecordsRequest(buffer: Buffer): streams.PutRecordsRequest {
  const reader = requestReader(buffer, "PutRecordsRequest");
  const request = emptyPutRecordsRequest();
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
    else if (tag === TAG_PUT_RECORDS_PRODUCER_ID) request.producerId = reader.bytes(end);
    else if (tag === TAG_PUT_RECORDS_PRODUCER_SHARD_ID) request.producerShardId = reader.string(end);
    else if (tag === TAG_PUT_RECORDS_PRODUCER_SEQUENCE) request.producerSequence = reader.uint64(end);
    else reader.skip(tag, end);
  }
  return request;
}

/**
 * Decodes a PutRecordRequest; `data` is a view of `buffer` (never mutate it). ValidationError
 * when the bytes are not a well-formed message.
 */
export function decodePutRecordRequest(buffer: Buffer): streams.PutRecordRequest {
  const reader = requestReader(buffer, "PutRecordRequest");
  const request = emptyPutRecordRequest();
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
      case TAG_PUT_RECORD_PRODUCER_ID:
        request.producerId = reader.bytes(end);
        break;
      case TAG_PUT_RECORD_PRODUCER_SHARD_ID:
        request.producerShardId = reader.string(end);
        break;
      case TAG_PUT_RECORD_PRODUCER_SEQUENCE:
        request.producerSequence = reader.uint64(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return request;
}

/** String fields of a PutRecordsResultEntry, in field order. */
const RESULT_STRING_FIELDS = 4;

/**
 * Encodes a PutRecordsResponse into one exact-size buffer, byte for byte what the generated
 * encoder writes (fields in order, defaults left out): the 500 results of a full PutRecords are
 * sized in one pass and written in a second, with no writer chunks, forks or copies.
 */
export function encodePutRecordsResponse(response: streams.PutRecordsResponse): Buffer {
  const { records, failedRecordCount, encryptionType } = response;
  if (!Number.isInteger(failedRecordCount) || failedRecordCount < 0) {
    // Not a count a gateway answers; the generated encoder knows negative int32s.
    return Buffer.from(streams.PutRecordsResponse.encode(response).finish());
  }
  // Per result: its body's size, then each string field's UTF-8 size.
  const sizes = new Uint32Array(records.length * (RESULT_STRING_FIELDS + 1));
  let total = failedRecordCount === 0 ? 0 : 1 + varintBytes(failedRecordCount);
  for (let i = 0; i < records.length; i++) {
    const entry = records[i] as streams.PutRecordsResultEntry;
    const base = i * (RESULT_STRING_FIELDS + 1);
    let body = 0;
    for (let field = 0; field < RESULT_STRING_FIELDS; field++) {
      const value = resultField(entry, field);
      if (value === "") continue;
      const bytes = Buffer.byteLength(value, "utf8");
      sizes[base + 1 + field] = bytes;
      body += 1 + varintBytes(bytes) + bytes;
    }
    sizes[base] = body;
    total += 1 + varintBytes(body) + body;
  }
  const encryptionBytes = Buffer.byteLength(encryptionType, "utf8");
  if (encryptionBytes > 0) total += 1 + varintBytes(encryptionBytes) + encryptionBytes;

  const out = Buffer.allocUnsafe(total);
  let at = 0;
  if (failedRecordCount !== 0) {
    out[at++] = TAG_PUT_RECORDS_RESPONSE_FAILED_RECORD_COUNT;
    at = writeVarint(out, failedRecordCount, at);
  }
  for (let i = 0; i < records.length; i++) {
    const entry = records[i] as streams.PutRecordsResultEntry;
    const base = i * (RESULT_STRING_FIELDS + 1);
    out[at++] = TAG_PUT_RECORDS_RESPONSE_RECORD;
    at = writeVarint(out, sizes[base] as number, at);
    for (let field = 0; field < RESULT_STRING_FIELDS; field++) {
      const value = resultField(entry, field);
      if (value === "") continue;
      const bytes = sizes[base + 1 + field] as number;
      out[at++] = RESULT_FIELD_TAGS[field] as number;
      at = writeVarint(out, bytes, at);
      at += out.write(value, at, bytes, "utf8");
    }
  }
  if (encryptionBytes > 0) {
    out[at++] = TAG_PUT_RECORDS_RESPONSE_ENCRYPTION_TYPE;
    at = writeVarint(out, encryptionBytes, at);
    at += out.write(encryptionType, at, encryptionBytes, "utf8");
  }
  if (at !== total) throw new Error(`PutRecordsResponse encoder wrote ${at} bytes, expected ${total}`);
  return out;
}

const RESULT_FIELD_TAGS = [
  TAG_RESULT_SEQUENCE_NUMBER,
  TAG_RESULT_SHARD_ID,
  TAG_RESULT_ERROR_CODE,
  TAG_RESULT_ERROR_MESSAGE,
] as const;

function resultField(entry: streams.PutRecordsResultEntry, field: number): string {
  switch (field) {
    case 0:
      return entry.sequenceNumber;
    case 1:
      return entry.shardId;
    case 2:
      return entry.errorCode;
    default:
      return entry.errorMessage;
  }
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
 * The generated definition with every method's decoder wrapped by `orMalformed`: a request that
 * fails to decode reaches `rejectMalformedRequests` marked, instead of making grpc-js answer
 * INTERNAL ("Error deserializing request"), which would not say the request was at fault.
 */
function guardDecoders(
  definition: typeof streams.StreamsServiceService,
): typeof streams.StreamsServiceService {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(definition)) {
    guarded[name] = {
      ...method,
      requestDeserialize: orMalformed(method.requestDeserialize as (buffer: Buffer) => object, () => ({})),
    };
  }
  return guarded as typeof streams.StreamsServiceService;
}

/**
 * The StreamsService definition for grpc-js: the generated one, with the hand decoders for
 * PutRecords and PutRecord and the hand encoder of PutRecords' response, and every decoder
 * marking an undecodable request instead of throwing. Register it rather than
 * streams.StreamsServiceService, with an implementation wrapped by `rejectMalformedRequests`.
 */
export const streamsServiceDefinition: typeof streams.StreamsServiceService = {
  ...guardDecoders(streams.StreamsServiceService),
  putRecords: {
    ...streams.StreamsServiceService.putRecords,
    requestDeserialize: orMalformed(decodePutRecordsRequest, emptyPutRecordsRequest),
    responseSerialize: encodePutRecordsResponse,
  },
  putRecord: {
    ...streams.StreamsServiceService.putRecord,
    requestDeserialize: orMalformed(decodePutRecordRequest, emptyPutRecordRequest),
  },
};

/**
 * Wraps a StreamsService implementation so that a request the definition could not decode is
 * answered at once with its ValidationError's status (INVALID_ARGUMENT, ValidationException)
 * instead of reaching the handler; on the server-streaming SubscribeToShard the status ends the
 * stream. Handlers keep their implementation object as `this`.
 */
export function rejectMalformedRequests(
  implementation: streams.StreamsServiceServer,
): streams.StreamsServiceServer {
  const guarded: Record<string, unknown> = { ...implementation };
  for (const [name, method] of Object.entries(streams.StreamsServiceService)) {
    const handler = (implementation as unknown as Record<string, unknown>)[name];
    if (typeof handler !== "function") continue;
    guarded[name] = method.responseStream
      ? (call: ServerWritableStream<unknown, unknown>) => {
          const error = malformedRequestError(call.request);
          if (error !== undefined) {
            call.emit("error", toServiceError(error));
            return;
          }
          handler.call(implementation, call);
        }
      : (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const error = malformedRequestError(call.request);
          if (error !== undefined) {
            callback(toServiceError(error));
            return;
          }
          handler.call(implementation, call, callback);
        };
  }
  return guarded as unknown as streams.StreamsServiceServer;
}
