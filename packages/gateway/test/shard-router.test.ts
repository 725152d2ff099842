// Proves the router sends every hash key to the one shard whose range holds it (against a linear BigInt reference) and refuses shard maps with gaps or overlaps.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GatewayErrorCode, InternalFailureError, type RoutableShard, ShardRouter } from "../src/index.js";

const MAX = (1n << 128n) - 1n;

/** Kinesis's CreateStream split: h = floor(2^128 / n), shard i covers [i·h, (i+1)·h − 1], the last ends at 2^128 − 1. */
function evenShards(n: number): RoutableShard[] {
  const width = (MAX + 1n) / BigInt(n);
  return Array.from({ length: n }, (_, i) => ({
    shardId: `shardId-${String(i).padStart(12, "0")}`,
    shardNumber: i,
    groupId: 100 + i,
    hashKeyStart: (BigInt(i) * width).toString(),
    hashKeyEnd: (i === n - 1 ? MAX : BigInt(i + 1) * width - 1n).toString(),
  }));
}

function reference(shards: readonly RoutableShard[], hash: Buffer): number {
  const value = BigInt(`0x${hash.toString("hex")}`);
  return shards.findIndex((s) => BigInt(s.hashKeyStart) <= value && value <= BigInt(s.hashKeyEnd));
}

const toBytes = (value: bigint): Buffer => Buffer.from(value.toString(16).padStart(32, "0"), "hex");

describe("ShardRouter", () => {
  it("routes like a linear search, for shuffled maps of 1 to 64 shards", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 64 }),
        fc.array(fc.uint8Array({ minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 50 }),
        fc.integer(),
        (n, hashes, seed) => {
          const shards = evenShards(n);
          const shuffled = [...shards].sort(
            (a, b) => ((a.shardNumber * 7919 + seed) % 101) - ((b.shardNumber * 7919 + seed) % 101),
          );
          const router = new ShardRouter(shuffled);
          for (const raw of hashes) {
            const hash = Buffer.from(raw);
            expect(router.route(hash)).toBe(reference(shuffled, hash));
          }
        },
      ),
    );
  });

  it("routes range bounds to the shard they belong to", () => {
    const shards = evenShards(5);
    const router = new ShardRouter(shards);
    shards.forEach((shard, i) => {
      expect(router.route(toBytes(BigInt(shard.hashKeyStart)))).toBe(i);
      expect(router.route(toBytes(BigInt(shard.hashKeyEnd)))).toBe(i);
    });
    expect(router.size).toBe(5);
  });

  it("refuses maps that do not tile the hash key space", () => {
    const shards = evenShards(3);
    const broken: RoutableShard[][] = [
      [],
      shards.slice(1), // gap at 0
      shards.slice(0, 2), // gap at the top
      [
        shards[0] as RoutableShard,
        { ...(shards[1] as RoutableShard), hashKeyStart: "1" },
        shards[2] as RoutableShard,
      ], // overlap
      [
        shards[0] as RoutableShard,
        {
          ...(shards[1] as RoutableShard),
          hashKeyStart: (BigInt((shards[1] as RoutableShard).hashKeyStart) + 1n).toString(),
        },
        shards[2] as RoutableShard,
      ], // gap
      [...shards, { ...(shards[2] as RoutableShard), shardId: "shardId-000000000009" }], // duplicate range
      [{ ...(shards[0] as RoutableShard), hashKeyEnd: "01" }, ...shards.slice(1)], // malformed
      [{ ...(shards[0] as RoutableShard), hashKeyStart: "5", hashKeyEnd: "4" }, ...shards.slice(1)], // empty range
    ];
    for (const map of broken) {
      let caught: unknown;
      try {
        new ShardRouter(map);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(InternalFailureError);
      expect((caught as InternalFailureError).code).toBe(GatewayErrorCode.ShardMapInvalid);
      expect((caught as InternalFailureError).retriable).toBe(true);
    }
  });
});
