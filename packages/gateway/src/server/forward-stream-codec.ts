/**
 * Hand codecs for the ForwardStream messages (forward.proto): the sender's request is written
 * into one exact-size buffer that already holds gRPC's 5-byte message prefix, so it goes to the
 * HTTP/2 stream as it is (each shard batch copied once, as for ForwardPutRecords); the leader's
 * decoder copies each batch's records out of the received bytes (the broker stamps them in place
 * and keeps them, and the received bytes may be a view of the socket's buffer); answers are read
 * and written without the generated code's 64-bit integer path. The bytes are ordinary protobuf:
 * the generated codecs read and write the same messages (the tests compare them).
 */
import type { forward } from "@sluice/proto";
import {
  optionalFieldBytes,
  varintBytes,
  WIRE_LENGTH_DELIMITED,
  WIRE_VARINT,
  WireReader,
  writeStringField,
  writeVarint,
} from "@sluice/proto/wire";
import { sizeShardBatches, writeShardBatches } from "./forward-codec.js";
import type { LeaderAppendReply } from "./leader-append.js";

/** gRPC's length prefix of a message: a compressed flag (u8) and the length (u32 big-endian). */
export const GRPC_PREFIX_BYTES = 5;

const TAG_REQUEST_ID = (1 << 3) | WIRE_VARINT;
const TAG_REQUEST_DEADLINE = (2 << 3) | WIRE_VARINT;
const TAG_REQUEST_BATCH = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_RESPONSE_RESULT = (2 << 3) | WIRE_LENGTH_DELIMITED;

const TAG_BATCH_STREAM_ID = (1 << 3) | WIRE_VARINT;
const TAG_BATCH_GROUP_ID = (2 << 3) | WIRE_VARINT;
const TAG_BATCH_RECORDS = (3 << 3) | WIRE_LENGTH_DELIMITED;

const TAG_RESULT_ACCEPTED = (1 << 3) | WIRE_VARINT;
const TAG_RESULT_INDEX = (2 << 3) | WIRE_VARINT;
const TAG_RESULT_ERROR_CODE = (3 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_RESULT_ERROR_MESSAGE = (4 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_RESULT_LEADER_HINT = (5 << 3) | WIRE_VARINT;
const TAG_RESULT_FIRST_OFFSET = (6 << 3) | WIRE_VARINT;

const EMPTY = Buffer.alloc(0);

/** A ForwardStream message that is not valid protobuf of its type, or holds values out of range. */
export class MalformedForwardMessageError extends Error {
  override readonly name = "MalformedForwardMessageError";
  readonly code = "MALFORMED_FORWARD_MESSAGE";
  readonly retriable = false;
}

/** A decoded ForwardStreamRequest; each batch's records are its own copy. */
export interface ForwardStreamRequestFields {
  readonly requestId: number;
  readonly deadlineUnixMs: number;
  readonly batches: forward.ForwardShardBatch[];
}

/** A decoded ForwardStreamResponse. */
export interface ForwardStreamAnswer {
  readonly requestId: number;
  readonly results: LeaderAppendReply[];
}

/**
 * Encodes a ForwardStreamRequest as one whole gRPC message (prefix included). `requestId` and
 * `deadlineUnixMs` must be non-negative safe integers, the batches' ids uint32 (RangeError).
 */
export function encodeForwardStreamRequest(
  requestId: number,
  deadlineUnixMs: number,
  batches: readonly forward.ForwardShardBatch[],
): Buffer {
  if (!Number.isSafeInteger(requestId) || requestId < 0) {
    throw new RangeError(`request id ${requestId} is not a non-negative safe integer`);
  }
  if (!Number.isSafeInteger(deadlineUnixMs) || deadlineUnixMs < 0) {
    throw new RangeError(`deadline ${deadlineUnixMs} is not a non-negative safe integer of ms`);
  }
  const bodies = new Uint32Array(batches.length);
  const bodyBytes =
    (requestId === 0 ? 0 : 1 + varintBytes(requestId)) +
    (deadlineUnixMs === 0 ? 0 : 1 + varintBytes(deadlineUnixMs)) +
    sizeShardBatches(batches, bodies);
  const out = Buffer.allocUnsafe(GRPC_PREFIX_BYTES + bodyBytes);
  out[0] = 0; // not compressed
  out.writeUInt32BE(bodyBytes, 1);
  let at = GRPC_PREFIX_BYTES;
  if (requestId !== 0) {
    out[at++] = TAG_REQUEST_ID;
    at = writeVarint(out, requestId, at);
  }
  if (deadlineUnixMs !== 0) {
    out[at++] = TAG_REQUEST_DEADLINE;
    at = writeVarint(out, deadlineUnixMs, at);
  }
  at = writeShardBatches(out, at, TAG_REQUEST_BATCH, batches, bodies);
  if (at !== out.length) {
    throw new Error(`ForwardStreamRequest encoder wrote ${at} bytes, expected ${out.length}`);
  }
  return out;
}

/** Decodes a ForwardStreamRequest (protobuf bytes, no gRPC prefix); throws MalformedForwardMessageError. */
export function decodeForwardStreamRequest(buffer: Buffer): ForwardStreamRequestFields {
  const reader = forwardReader(buffer);
  let requestId = 0;
  let deadlineUnixMs = 0;
  const batches: forward.ForwardShardBatch[] = [];
  const end = buffer.length;
  while (reader.position < end) {
    const tag = reader.tag(end);
    if (tag === TAG_REQUEST_ID) requestId = reader.uint64(end);
    else if (tag === TAG_REQUEST_DEADLINE) deadlineUnixMs = reader.uint64(end);
    else if (tag === TAG_REQUEST_BATCH) batches.push(decodeBatch(reader, reader.lengthDelimited(end)));
    else reader.skip(tag, end);
  }
  return { requestId, deadlineUnixMs, batches };
}

function decodeBatch(reader: WireReader, end: number): forward.ForwardShardBatch {
  let streamId = 0;
  let groupId = 0;
  let records = EMPTY;
  while (reader.position < end) {
    const tag = reader.tag(end);
    if (tag === TAG_BATCH_STREAM_ID) streamId = reader.uint32(end);
    else if (tag === TAG_BATCH_GROUP_ID) groupId = reader.uint32(end);
    else if (tag === TAG_BATCH_RECORDS) {
      // Copied, so the broker owns what it stamps and keeps.
      const recordsEnd = reader.lengthDelimited(end);
      records = Buffer.from(reader.buffer.subarray(reader.position, recordsEnd));
      reader.position = recordsEnd;
    } else reader.skip(tag, end);
  }
  return { streamId, groupId, records };
}

/** Encodes a ForwardStreamResponse (protobuf bytes, without the gRPC prefix). */
export function encodeForwardStreamResponse(
  requestId: number,
  results: readonly forward.ForwardShardResult[],
): Buffer {
  const bodies = new Uint32Array(results.length);
  let total = requestId === 0 ? 0 : 1 + varintBytes(requestId);
  for (let i = 0; i < results.length; i++) {
    const body = resultBodyBytes(results[i] as forward.ForwardShardResult);
    bodies[i] = body;
    total += 1 + varintBytes(body) + body;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  if (requestId !== 0) {
    out[at++] = TAG_REQUEST_ID;
    at = writeVarint(out, requestId, at);
  }
  for (let i = 0; i < results.length; i++) {
    const result = results[i] as forward.ForwardShardResult;
    out[at++] = TAG_RESPONSE_RESULT;
    at = writeVarint(out, bodies[i] as number, at);
    at = writeUint(out, at, TAG_RESULT_ACCEPTED, result.acceptedCount);
    at = writeUint(out, at, TAG_RESULT_INDEX, result.index);
    at = writeString(out, at, TAG_RESULT_ERROR_CODE, result.errorCode);
    at = writeString(out, at, TAG_RESULT_ERROR_MESSAGE, result.errorMessage);
    at = writeUint(out, at, TAG_RESULT_LEADER_HINT, result.leaderHint);
    at = writeUint(out, at, TAG_RESULT_FIRST_OFFSET, result.firstOffset);
  }
  if (at !== total) throw new Error(`ForwardStreamResponse encoder wrote ${at} bytes, expected ${total}`);
  return out;
}

function resultBodyBytes(result: forward.ForwardShardResult): number {
  return (
    uintBytes(result.acceptedCount) +
    uintBytes(result.index) +
    stringBytes(result.errorCode) +
    stringBytes(result.errorMessage) +
    uintBytes(result.leaderHint) +
    uintBytes(result.firstOffset)
  );
}

function uintBytes(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${value} is not a non-negative safe integer`);
  }
  return value === 0 ? 0 : 1 + varintBytes(value);
}

function stringBytes(value: string): number {
  return optionalFieldBytes(Buffer.byteLength(value, "utf8"));
}

function writeUint(out: Buffer, at: number, tag: number, value: number): number {
  if (value === 0) return at;
  out[at++] = tag;
  return writeVarint(out, value, at);
}

function writeString(out: Buffer, at: number, tag: number, value: string): number {
  return writeStringField(out, at, tag, value, Buffer.byteLength(value, "utf8"));
}

/** Decodes a ForwardStreamResponse (protobuf bytes, no gRPC prefix); throws MalformedForwardMessageError. */
export function decodeForwardStreamResponse(buffer: Buffer): ForwardStreamAnswer {
  const reader = forwardReader(buffer);
  let requestId = 0;
  const results: LeaderAppendReply[] = [];
  const end = buffer.length;
  while (reader.position < end) {
    const tag = reader.tag(end);
    if (tag === TAG_REQUEST_ID) requestId = reader.uint64(end);
    else if (tag === TAG_RESPONSE_RESULT) results.push(decodeResult(reader, reader.lengthDelimited(end)));
    else reader.skip(tag, end);
  }
  return { requestId, results };
}

function decodeResult(reader: WireReader, end: number): LeaderAppendReply {
  let accepted = 0;
  let index = 0;
  let errorCode = "";
  let errorMessage = "";
  let leaderHint = 0;
  let firstOffset = 0;
  while (reader.position < end) {
    const tag = reader.tag(end);
    switch (tag) {
      case TAG_RESULT_ACCEPTED:
        accepted = reader.uint32(end);
        break;
      case TAG_RESULT_INDEX:
        index = reader.uint64(end);
        break;
      case TAG_RESULT_ERROR_CODE:
        errorCode = reader.string(end);
        break;
      case TAG_RESULT_ERROR_MESSAGE:
        errorMessage = reader.string(end);
        break;
      case TAG_RESULT_LEADER_HINT:
        leaderHint = reader.uint32(end);
        break;
      case TAG_RESULT_FIRST_OFFSET:
        firstOffset = reader.uint32(end);
        break;
      default:
        reader.skip(tag, end);
    }
  }
  return { accepted, index, errorCode, errorMessage, leaderHint, firstOffset };
}

/** A reader whose malformed bytes fail the message with MalformedForwardMessageError. */
function forwardReader(buffer: Buffer): WireReader {
  return new WireReader(buffer, (problem, position) => malformed(`${problem}, near byte ${position}`));
}

function malformed(problem: string): MalformedForwardMessageError {
  return new MalformedForwardMessageError(`malformed ForwardStream message: ${problem}`);
}
