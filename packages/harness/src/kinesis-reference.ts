/**
 * Kinesis's routing rules computed the slow, obvious way (node:crypto and BigInt), for tests to
 * check the gateway against an implementation that shares no code with it: the MD5 of a
 * partition key as an unsigned 128-bit number, and the even split of the hash key space that
 * CreateStream makes. Never on a hot path.
 */
import { createHash } from "node:crypto";

/** 2^128: one past the largest hash key. */
export const HASH_KEY_SPACE = 1n << 128n;

/** The hash key Kinesis gives a partition key: the MD5 of its UTF-8 bytes, big-endian, unsigned. */
export function partitionKeyHashKey(partitionKey: string): bigint {
  return BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`);
}

/** An inclusive hash key range, as decimal BigInts. */
export interface ReferenceHashRange {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * The ranges CreateStream gives `shardCount` shards: h = floor(2^128 / N), shard i covers
 * [i·h, (i+1)·h − 1], and the last one ends at 2^128 − 1.
 */
export function evenHashKeyRanges(shardCount: number): ReferenceHashRange[] {
  const count = BigInt(shardCount);
  const width = HASH_KEY_SPACE / count;
  return Array.from({ length: shardCount }, (_, position) => {
    const index = BigInt(position);
    const last = position === shardCount - 1;
    return { start: index * width, end: last ? HASH_KEY_SPACE - 1n : (index + 1n) * width - 1n };
  });
}

/** The position in `ranges` of the range that holds `hashKey`, or -1. */
export function rangeIndexOf(ranges: readonly ReferenceHashRange[], hashKey: bigint): number {
  return ranges.findIndex((range) => range.start <= hashKey && hashKey <= range.end);
}
