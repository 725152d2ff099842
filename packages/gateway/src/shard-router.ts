/**
 * Routing a hash key to the open shard whose range holds it. Built once per version of a
 * stream's shard map; `route` is a binary search over the ranges' lower bounds, held as four
 * 32-bit words each in one Uint32Array and compared in JavaScript (a native Buffer.compare per
 * step cost more than the search), with no allocation and no BigInt per call.
 */
import { HASH_KEY_BYTES } from "./constants.js";
import { GatewayErrorCode, InternalFailureError } from "./errors.js";
import { formatHashKey, HASH_KEY_MAX, HASH_KEY_MIN, parseHashKey } from "./hash-key.js";

/** 32-bit words of a hash key. */
const HASH_KEY_WORDS = HASH_KEY_BYTES / 4;

/** One open shard of a stream, as the metadata describes it. */
export interface RoutableShard {
  /** `shardId-000000000000` style. */
  readonly shardId: string;
  readonly shardNumber: number;
  /** The shard's Raft group. */
  readonly groupId: number;
  /** Inclusive lower bound, decimal. */
  readonly hashKeyStart: string;
  /** Inclusive upper bound, decimal. */
  readonly hashKeyEnd: string;
}

export class ShardRouter {
  /** The shards as given; `route` returns an index into this array. */
  readonly shards: readonly RoutableShard[];
  /** Lower bounds in ascending order, HASH_KEY_WORDS big-endian 32-bit words each. */
  private readonly starts: Uint32Array;
  /** `order[i]` is the index in `shards` of the i-th range in ascending order. */
  private readonly order: Uint32Array;

  /**
   * Throws InternalFailureError (code SHARD_MAP_INVALID, retriable) unless the shards' ranges
   * tile 0 … 2^128 − 1 exactly: no gap, no overlap, every bound a canonical decimal, start ≤ end.
   * The shards may come in any order.
   */
  constructor(shards: readonly RoutableShard[]) {
    if (shards.length === 0) throw invalidMap("the stream has no open shard");
    const parsed = shards.map((shard) => {
      const start = parseHashKey(shard.hashKeyStart);
      const end = parseHashKey(shard.hashKeyEnd);
      if (start === null || end === null) {
        throw invalidMap(
          `${shard.shardId} has a malformed hash key range [${shard.hashKeyStart}, ${shard.hashKeyEnd}]`,
        );
      }
      if (Buffer.compare(start, end) > 0) {
        throw invalidMap(
          `${shard.shardId} has an empty hash key range [${shard.hashKeyStart}, ${shard.hashKeyEnd}]`,
        );
      }
      return { start, end };
    });
    const order = Array.from(shards.keys()).sort((a, b) =>
      Buffer.compare((parsed[a] as { start: Buffer }).start, (parsed[b] as { start: Buffer }).start),
    );
    const starts = new Uint32Array(shards.length * HASH_KEY_WORDS);
    let expected: Buffer | null = HASH_KEY_MIN; // the next start that tiles; null after 2^128 − 1
    for (let i = 0; i < order.length; i++) {
      const index = order[i] as number;
      const range = parsed[index] as { start: Buffer; end: Buffer };
      const shard = shards[index] as RoutableShard;
      if (expected === null) {
        throw invalidMap(`${shard.shardId} starts after another shard already reached 2^128 − 1 (overlap)`);
      }
      const cmp = Buffer.compare(range.start, expected);
      if (cmp !== 0) {
        throw invalidMap(
          `${cmp > 0 ? "gap" : "overlap"} at hash key ${formatHashKey(expected)}: ${shard.shardId} starts at ${shard.hashKeyStart}`,
        );
      }
      for (let word = 0; word < HASH_KEY_WORDS; word++) {
        starts[i * HASH_KEY_WORDS + word] = range.start.readUInt32BE(word * 4);
      }
      expected = Buffer.compare(range.end, HASH_KEY_MAX) === 0 ? null : increment(range.end);
    }
    if (expected !== null) throw invalidMap(`no shard covers hash keys from ${formatHashKey(expected)} up`);
    this.shards = shards;
    this.starts = starts;
    this.order = Uint32Array.from(order);
  }

  /** Number of shards. */
  get size(): number {
    return this.shards.length;
  }

  /** Index into `shards` of the shard holding `hash` (16 bytes big-endian). */
  route(hash: Buffer): number {
    const h0 = hash.readUInt32BE(0);
    const h1 = hash.readUInt32BE(4);
    const h2 = hash.readUInt32BE(8);
    const h3 = hash.readUInt32BE(12);
    const starts = this.starts;
    // The last range whose start is ≤ hash; range 0 starts at 0, so one always exists.
    let low = 0;
    let high = this.order.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      const at = mid * HASH_KEY_WORDS;
      const s0 = starts[at] as number;
      const s1 = starts[at + 1] as number;
      const s2 = starts[at + 2] as number;
      const startAtMostHash =
        s0 !== h0 ? s0 < h0 : s1 !== h1 ? s1 < h1 : s2 !== h2 ? s2 < h2 : (starts[at + 3] as number) <= h3;
      if (startAtMostHash) low = mid;
      else high = mid - 1;
    }
    return this.order[low] as number;
  }
}

function invalidMap(problem: string): InternalFailureError {
  return new InternalFailureError(
    `the stream's open shards do not tile the hash key space (${problem}); retry once the shard map settles`,
    { code: GatewayErrorCode.ShardMapInvalid },
  );
}

/** `key + 1` as a new Buffer; the caller ensures key < 2^128 − 1. */
function increment(key: Buffer): Buffer {
  const out = Buffer.from(key);
  for (let i = HASH_KEY_BYTES - 1; i >= 0; i--) {
    const byte = out[i] as number;
    if (byte !== 0xff) {
      out[i] = byte + 1;
      return out;
    }
    out[i] = 0;
  }
  return out;
}
