/**
 * Shard iterators: opaque, tamper-proof tokens naming a position in a shard, valid for
 * ITERATOR_TTL_MS and reusable until then. The token is the URL-safe base64 (no padding) of
 *
 *     version u8 (1) | streamId u32 | shardNumber u32 | groupId u32 | index u64 (≤ 2^53 − 1)
 *     | offset u16 | expiresAtMs u64 (≤ 2^53 − 1) | streamName length u8 | streamName UTF-8
 *     | HMAC-SHA256(secret, everything before), first 16 bytes
 *
 * all big-endian: at most 176 bytes, 236 characters, well under the model's 512. The position is
 * already resolved when the iterator is made (LATEST, TRIM_HORIZON, AT_TIMESTAMP and the sequence
 * number types all become an (index, offset)); a reader starts at record `offset` of entry
 * `index`, and an offset past the entry's last record means the next entry. The secret is the
 * cluster's, so any node can read any node's iterators; a token signed with another secret,
 * altered in any byte, or not produced by this code fails with InvalidArgumentError
 * (INVALID_ITERATOR), and only then is the expiry checked (ExpiredIteratorError).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  ITERATOR_MAC_BYTES,
  ITERATOR_OFFSET_MAX,
  ITERATOR_SECRET_BYTES,
  SHARD_ITERATOR_CHARS_MAX,
  STREAM_NAME_CHARS_MAX,
} from "./constants.js";
import { ExpiredIteratorError, GatewayErrorCode, InvalidArgumentError } from "./errors.js";

/** What an iterator names. */
export interface ShardIteratorFields {
  /** The stream's id (unique per stream incarnation, so a recreated stream's iterators are not the old one's). */
  readonly streamId: number;
  readonly streamName: string;
  readonly shardNumber: number;
  /** The shard's Raft group. */
  readonly groupId: number;
  /** Log index of the entry to read from (a safe integer ≥ 0). */
  readonly index: number;
  /** Record offset within that entry, 0 … 65,535. */
  readonly offset: number;
  /** Milliseconds since the epoch after which the iterator is expired (issue time + ITERATOR_TTL_MS). */
  readonly expiresAtMs: number;
}

/** The payload format version. */
export const SHARD_ITERATOR_VERSION = 1;

const U32_MAX = 0xffff_ffff;
const TWO_POW_32 = 0x1_0000_0000;
/** Bytes before the stream name: version, streamId, shardNumber, groupId, index, offset, expiresAtMs, name length. */
const FIXED_BYTES = 1 + 4 + 4 + 4 + 8 + 2 + 8 + 1;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Makes the token for `fields`, signed with the cluster's 32-byte `secret`. */
export function createShardIterator(fields: ShardIteratorFields, secret: Buffer): string {
  checkSecret(secret);
  checkU32("streamId", fields.streamId);
  checkU32("shardNumber", fields.shardNumber);
  checkU32("groupId", fields.groupId);
  checkSafe("index", fields.index);
  checkSafe("expiresAtMs", fields.expiresAtMs);
  if (!Number.isInteger(fields.offset) || fields.offset < 0 || fields.offset > ITERATOR_OFFSET_MAX) {
    throw new RangeError(
      `createShardIterator: offset must be an integer 0 … ${ITERATOR_OFFSET_MAX}, got ${fields.offset}`,
    );
  }
  const nameBytes = Buffer.byteLength(fields.streamName, "utf8");
  if (nameBytes === 0 || nameBytes > STREAM_NAME_CHARS_MAX) {
    throw new RangeError(
      `createShardIterator: streamName must be 1 … ${STREAM_NAME_CHARS_MAX} bytes, got ${nameBytes}`,
    );
  }
  const payloadBytes = FIXED_BYTES + nameBytes;
  const token = Buffer.allocUnsafe(payloadBytes + ITERATOR_MAC_BYTES);
  let at = token.writeUInt8(SHARD_ITERATOR_VERSION, 0);
  at = token.writeUInt32BE(fields.streamId, at);
  at = token.writeUInt32BE(fields.shardNumber, at);
  at = token.writeUInt32BE(fields.groupId, at);
  at = writeU64(token, fields.index, at);
  at = token.writeUInt16BE(fields.offset, at);
  at = writeU64(token, fields.expiresAtMs, at);
  at = token.writeUInt8(nameBytes, at);
  at += token.write(fields.streamName, at, "utf8");
  mac(secret, token.subarray(0, payloadBytes)).copy(token, payloadBytes);
  return token.toString("base64url");
}

/**
 * The fields of `token` if it verifies against `secret` and has not expired at `nowMs`.
 * Throws InvalidArgumentError (code INVALID_ITERATOR) for anything that is not a token this
 * cluster made, then ExpiredIteratorError once `nowMs` is past its expiry.
 */
export function readShardIterator(token: string, secret: Buffer, nowMs: number): ShardIteratorFields {
  checkSecret(secret);
  if (token.length === 0 || token.length > SHARD_ITERATOR_CHARS_MAX || !BASE64URL.test(token)) {
    throw invalid("it is not a shard iterator issued by this cluster");
  }
  const bytes = Buffer.from(token, "base64url");
  // Reject non-canonical encodings, so that exactly one string stands for each token.
  if (bytes.length < FIXED_BYTES + 1 + ITERATOR_MAC_BYTES || bytes.toString("base64url") !== token) {
    throw invalid("it is not a shard iterator issued by this cluster");
  }
  const payloadBytes = bytes.length - ITERATOR_MAC_BYTES;
  const expected = mac(secret, bytes.subarray(0, payloadBytes));
  if (!timingSafeEqual(expected, bytes.subarray(payloadBytes))) {
    throw invalid("its signature does not verify (altered, or issued by another cluster)");
  }
  // Signed by us: the layout below is ours, but check it anyway so a version change fails cleanly.
  if (bytes.readUInt8(0) !== SHARD_ITERATOR_VERSION) throw invalid("its format version is unknown");
  let at = 1;
  const streamId = bytes.readUInt32BE(at);
  at += 4;
  const shardNumber = bytes.readUInt32BE(at);
  at += 4;
  const groupId = bytes.readUInt32BE(at);
  at += 4;
  const index = readU64(bytes, at);
  at += 8;
  const offset = bytes.readUInt16BE(at);
  at += 2;
  const expiresAtMs = readU64(bytes, at);
  at += 8;
  const nameBytes = bytes.readUInt8(at);
  at += 1;
  if (at + nameBytes !== payloadBytes || index === null || expiresAtMs === null) {
    throw invalid("its payload is malformed");
  }
  const streamName = bytes.toString("utf8", at, payloadBytes);
  if (nowMs > expiresAtMs) {
    throw new ExpiredIteratorError(
      `the shard iterator expired at ${new Date(expiresAtMs).toISOString()} (iterators last five minutes); ` +
        "get a new one with GetShardIterator",
    );
  }
  return { streamId, streamName, shardNumber, groupId, index, offset, expiresAtMs };
}

function invalid(reason: string): InvalidArgumentError {
  return new InvalidArgumentError(
    `ShardIterator is invalid: ${reason}; get one from GetShardIterator or a GetRecords response`,
    GatewayErrorCode.InvalidIterator,
  );
}

function mac(secret: Buffer, payload: Buffer): Buffer {
  return createHmac("sha256", secret).update(payload).digest().subarray(0, ITERATOR_MAC_BYTES);
}

function checkSecret(secret: Buffer): void {
  if (!Buffer.isBuffer(secret) || secret.length !== ITERATOR_SECRET_BYTES) {
    throw new RangeError(`shard iterator secret must be a Buffer of ${ITERATOR_SECRET_BYTES} bytes`);
  }
}

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) {
    throw new RangeError(`createShardIterator: ${name} must be a u32, got ${value}`);
  }
}

function checkSafe(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`createShardIterator: ${name} must be a safe integer ≥ 0, got ${value}`);
  }
}

function writeU64(buffer: Buffer, value: number, at: number): number {
  const high = Math.floor(value / TWO_POW_32);
  buffer.writeUInt32BE(high, at);
  buffer.writeUInt32BE(value - high * TWO_POW_32, at + 4);
  return at + 8;
}

/** The u64 at `at`, or null when it exceeds 2^53 − 1. */
function readU64(buffer: Buffer, at: number): number | null {
  const value = buffer.readUInt32BE(at) * TWO_POW_32 + buffer.readUInt32BE(at + 4);
  return Number.isSafeInteger(value) ? value : null;
}
