/**
 * Sequence numbers. The format is fixed: a decimal string of exactly 34 digits,
 *
 *     "1" | entry index (16 digits) | offset in the entry (5 digits) | shard number (12 digits)
 *
 * all zero-padded. The leading "1" is the format version and keeps the string free of leading
 * zeros (so it passes the API model's `0|[1-9]\d{0,128}`). Because every number has the same
 * length, string order is numeric order, and within a shard it is (index, offset) order: strictly
 * increasing in the order records were appended. The shard number at the end makes it unique in
 * the stream. Decoding is O(1): fixed slices, no BigInt.
 *
 * Entry index 0 is never a record (Raft's log starts at 1), so `startingSequenceNumber` — index 0,
 * offset 0 — sorts before every record of its shard.
 */
import {
  SEQUENCE_INDEX_DIGITS,
  SEQUENCE_NUMBER_DIGITS,
  SEQUENCE_OFFSET_DIGITS,
  SEQUENCE_OFFSET_MAX,
  SHARD_NUMBER_MAX,
} from "./constants.js";

/** The log position a sequence number names. */
export interface SequencePosition {
  /** The Raft log index of the entry holding the record (a safe integer ≥ 0). */
  readonly index: number;
  /** The record's position within the entry's batch, 0 … 99,999. */
  readonly offset: number;
  /** The shard's number (the digits of its shard id), 0 … 10^12 − 1. */
  readonly shardNumber: number;
}

/** The format version digit. */
export const SEQUENCE_NUMBER_VERSION = "1";

const INDEX_START = 1;
const OFFSET_START = INDEX_START + SEQUENCE_INDEX_DIGITS;
const SHARD_START = OFFSET_START + SEQUENCE_OFFSET_DIGITS;
const DIGIT_0 = 48;
const DIGIT_9 = 57;

/** PAD[n] is n zeros, for zero-padding without padStart's allocation of a filler. */
const PAD: readonly string[] = Array.from({ length: SEQUENCE_INDEX_DIGITS + 1 }, (_, n) => "0".repeat(n));

function padded(value: number, digits: number): string {
  const s = String(value);
  return (PAD[digits - s.length] as string) + s;
}

/**
 * The sequence number of the record at (`index`, `offset`) in shard `shardNumber`. Throws
 * RangeError for arguments outside the format (a caller's bug, never the world's).
 */
export function encodeSequenceNumber(index: number, offset: number, shardNumber: number): string {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`encodeSequenceNumber: index must be a safe integer ≥ 0, got ${index}`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset > SEQUENCE_OFFSET_MAX) {
    throw new RangeError(
      `encodeSequenceNumber: offset must be an integer 0 … ${SEQUENCE_OFFSET_MAX}, got ${offset}`,
    );
  }
  if (!Number.isInteger(shardNumber) || shardNumber < 0 || shardNumber > SHARD_NUMBER_MAX) {
    throw new RangeError(
      `encodeSequenceNumber: shardNumber must be an integer 0 … ${SHARD_NUMBER_MAX}, got ${shardNumber}`,
    );
  }
  return (
    SEQUENCE_NUMBER_VERSION +
    padded(index, SEQUENCE_INDEX_DIGITS) +
    padded(offset, SEQUENCE_OFFSET_DIGITS) +
    padded(shardNumber, SEQUENCE_NUMBER_DIGITS - SHARD_START)
  );
}

/**
 * The position a sequence number names, or null when `s` is not one of ours: not 34 digits, a
 * version other than "1", or an index beyond 2^53 − 1.
 */
export function decodeSequenceNumber(s: string): SequencePosition | null {
  if (s.length !== SEQUENCE_NUMBER_DIGITS || s[0] !== SEQUENCE_NUMBER_VERSION) return null;
  for (let i = 1; i < SEQUENCE_NUMBER_DIGITS; i++) {
    const c = s.charCodeAt(i);
    if (c < DIGIT_0 || c > DIGIT_9) return null;
  }
  const index = Number(s.slice(INDEX_START, OFFSET_START));
  if (!Number.isSafeInteger(index)) return null;
  return {
    index,
    offset: Number(s.slice(OFFSET_START, SHARD_START)),
    shardNumber: Number(s.slice(SHARD_START)),
  };
}

/** The sequence number that sorts before every record of the shard: index 0, offset 0. */
export function startingSequenceNumber(shardNumber: number): string {
  return encodeSequenceNumber(0, 0, shardNumber);
}
