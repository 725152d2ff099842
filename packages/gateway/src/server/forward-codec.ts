/**
 * A hand encoder for ForwardPutRecordsRequest, the forwarder's one large message (its batch
 * field is shared with ForwardStreamRequest's, forward-stream-codec.ts). The generated
 * encoder copies each shard batch three times (into its sub-message, into the message, into a
 * Buffer); this one sizes the message, allocates it once and copies each batch once. The bytes
 * are ordinary protobuf: any ForwardService (the generated decoder included) reads them.
 */
import * as grpc from "@grpc/grpc-js";
import { forward } from "@sluice/proto";
import { varintBytes, WIRE_LENGTH_DELIMITED, WIRE_VARINT, writeVarint } from "@sluice/proto/wire";

const TAG_DEADLINE_UNIX_MS = (4 << 3) | WIRE_VARINT;
const TAG_BATCH = (5 << 3) | WIRE_LENGTH_DELIMITED;
const TAG_STREAM_ID = (1 << 3) | WIRE_VARINT;
const TAG_GROUP_ID = (2 << 3) | WIRE_VARINT;
const TAG_RECORDS = (3 << 3) | WIRE_LENGTH_DELIMITED;

function batchBodyBytes(batch: forward.ForwardShardBatch): number {
  let bytes = 0;
  if (batch.streamId !== 0) bytes += 1 + varintBytes(batch.streamId);
  if (batch.groupId !== 0) bytes += 1 + varintBytes(batch.groupId);
  if (batch.records.length !== 0) bytes += 1 + varintBytes(batch.records.length) + batch.records.length;
  return bytes;
}

/**
 * Sizes `batches` as a repeated ForwardShardBatch field (one byte of tag each): fills `bodies`
 * with each batch's body size and returns the field's total bytes. Ids must be uint32
 * (RangeError otherwise).
 */
export function sizeShardBatches(batches: readonly forward.ForwardShardBatch[], bodies: Uint32Array): number {
  let total = 0;
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i] as forward.ForwardShardBatch;
    if (!isUint32(batch.streamId) || !isUint32(batch.groupId)) {
      throw new RangeError(
        `batch ${i}: stream id ${batch.streamId} and group id ${batch.groupId} must be uint32`,
      );
    }
    const body = batchBodyBytes(batch);
    bodies[i] = body;
    total += 1 + varintBytes(body) + body;
  }
  return total;
}

/** Writes `batches` (sized by sizeShardBatches into `bodies`) as field `tag` at `at`; returns the end. */
export function writeShardBatches(
  out: Buffer,
  at: number,
  tag: number,
  batches: readonly forward.ForwardShardBatch[],
  bodies: Uint32Array,
): number {
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i] as forward.ForwardShardBatch;
    out[at++] = tag;
    at = writeVarint(out, bodies[i] as number, at);
    if (batch.streamId !== 0) {
      out[at++] = TAG_STREAM_ID;
      at = writeVarint(out, batch.streamId, at);
    }
    if (batch.groupId !== 0) {
      out[at++] = TAG_GROUP_ID;
      at = writeVarint(out, batch.groupId, at);
    }
    if (batch.records.length !== 0) {
      out[at++] = TAG_RECORDS;
      at = writeVarint(out, batch.records.length, at);
      out.set(batch.records, at);
      at += batch.records.length;
    }
  }
  return at;
}

/**
 * Encodes a ForwardPutRecordsRequest into one exact-size buffer. Ids and the deadline must be
 * non-negative safe integers (RangeError otherwise; the forwarder only sends such).
 */
export function encodeForwardPutRecordsRequest(request: forward.ForwardPutRecordsRequest): Buffer {
  const { batches, deadlineUnixMs } = request;
  if (!Number.isSafeInteger(deadlineUnixMs) || deadlineUnixMs < 0) {
    throw new RangeError(`deadline ${deadlineUnixMs} is not a non-negative safe integer of ms`);
  }
  const bodies = new Uint32Array(batches.length);
  const total =
    (deadlineUnixMs === 0 ? 0 : 1 + varintBytes(deadlineUnixMs)) + sizeShardBatches(batches, bodies);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  if (deadlineUnixMs !== 0) {
    out[at++] = TAG_DEADLINE_UNIX_MS;
    at = writeVarint(out, deadlineUnixMs, at);
  }
  at = writeShardBatches(out, at, TAG_BATCH, batches, bodies);
  if (at !== total) throw new Error(`ForwardPutRecordsRequest encoder wrote ${at} bytes, expected ${total}`);
  return out;
}

function isUint32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

/** The ForwardService client with the hand encoder for ForwardPutRecords requests. */
export const ForwardServiceClient = grpc.makeGenericClientConstructor(
  {
    ...forward.ForwardServiceService,
    forwardPutRecords: {
      ...forward.ForwardServiceService.forwardPutRecords,
      requestSerialize: encodeForwardPutRecordsRequest,
    },
  },
  "sluice.peer.v1.ForwardService",
) as unknown as typeof forward.ForwardServiceClient;
