/**
 * The split of the 128-bit hash key space into a new stream's shards, as Kinesis does it:
 * h = floor(2^128 / N); shard i covers [i·h, (i+1)·h − 1]; the last shard ends at 2^128 − 1.
 * Bounds are decimal strings (the form Kinesis prints). BigInt is fine here: this runs once per
 * CreateStream, never per record.
 */

/** 2^128 − 1, the largest hash key. */
export const HASH_KEY_MAX = (1n << 128n) - 1n;

export interface HashKeyRange {
  /** Inclusive, decimal. */
  readonly start: string;
  /** Inclusive, decimal. */
  readonly end: string;
}

/** The N ranges of a new stream with `shardCount` shards (an integer ≥ 1), in shard order. */
export function splitHashKeySpace(shardCount: number): HashKeyRange[] {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1) {
    throw new Error(`splitHashKeySpace: shardCount must be a positive integer, got ${shardCount}`);
  }
  const n = BigInt(shardCount);
  const width = (HASH_KEY_MAX + 1n) / n;
  const ranges: HashKeyRange[] = [];
  for (let i = 0n; i < n; i++) {
    const start = i * width;
    const end = i === n - 1n ? HASH_KEY_MAX : (i + 1n) * width - 1n;
    ranges.push({ start: start.toString(), end: end.toString() });
  }
  return ranges;
}
