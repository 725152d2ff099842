// Proves the lineage rules of reshards: pending children are neither routed nor listed, a closed shard's ChildShards are its listed children with their parents, and each ListShards ShardFilter returns the shards the Kinesis documentation describes for a stream that was split, then merged, with retention expiring old shards.
import { describe, expect, it } from "vitest";
import {
  childShardsOf,
  filterShardsByLineage,
  isListed,
  isRoutable,
  type LineageShard,
  openedAtMs,
} from "../src/index.js";

const MAX = "340282366920938463463374607431768211455";
const HALF = "170141183460469231731687303715884105728";
const QUARTER = "85070591730234615865843651857942052864";

function shard(n: number, start: string, end: string, extra: Partial<LineageShard> = {}): LineageShard {
  return {
    shardId: `shardId-${String(n).padStart(12, "0")}`,
    shardNumber: n,
    hashKeyStart: start,
    hashKeyEnd: end,
    createdAtMs: 0,
    ...extra,
  };
}

const id = (n: number) => `shardId-${String(n).padStart(12, "0")}`;
const ids = (shards: readonly LineageShard[]) => shards.map((s) => s.shardNumber);

/**
 * Stream created at 0 with shards 0 and 1; at 1,000 shard 0 split into 2 and 3 (closed at 2,000
 * when the round completed); at 5,000 shards 3 and 1 merged into 4 (closed at 6,000); at 9,000 a
 * split of 2 is pending (children 5 and 6).
 */
function history(): LineageShard[] {
  const bigMinusOne = (s: string) => (BigInt(s) - 1n).toString();
  return [
    shard(0, "0", bigMinusOne(HALF), { closedAtMs: 2_000 }),
    shard(1, HALF, MAX, { closedAtMs: 6_000 }),
    shard(2, "0", bigMinusOne(QUARTER), { parentShardId: id(0), createdAtMs: 1_000 }),
    shard(3, QUARTER, bigMinusOne(HALF), { parentShardId: id(0), createdAtMs: 1_000, closedAtMs: 6_000 }),
    shard(4, QUARTER, MAX, { parentShardId: id(3), adjacentParentShardId: id(1), createdAtMs: 5_000 }),
    shard(5, "0", "1000", { parentShardId: id(2), createdAtMs: 9_000, pending: true }),
    shard(6, "1001", bigMinusOne(QUARTER), { parentShardId: id(2), createdAtMs: 9_000, pending: true }),
  ];
}

describe("routing and listing", () => {
  it("routes only open shards that are not pending, and lists every shard but pending ones", () => {
    const shards = history();
    expect(ids(shards.filter(isRoutable))).toEqual([2, 4]);
    expect(ids(shards.filter(isListed))).toEqual([0, 1, 2, 3, 4]);
  });

  it("opens a child when its last parent closes, and a shard without parent since the stream began", () => {
    const shards = history();
    const byId = new Map(shards.map((s) => [s.shardId, s] as const));
    expect(openedAtMs(shards[0] as LineageShard, byId)).toBe(Number.NEGATIVE_INFINITY);
    expect(openedAtMs(shards[2] as LineageShard, byId)).toBe(2_000);
    expect(openedAtMs(shards[4] as LineageShard, byId)).toBe(6_000);
    // A parent that is gone from the list: the child's creation time.
    expect(openedAtMs(shards[4] as LineageShard, new Map())).toBe(5_000);
  });
});

describe("childShardsOf", () => {
  it("names a split's two children, each with its one parent and its range", () => {
    expect(childShardsOf(history(), id(0))).toEqual([
      {
        shardId: id(2),
        parentShards: [id(0)],
        hashKeyRange: { startingHashKey: "0", endingHashKey: (BigInt(QUARTER) - 1n).toString() },
      },
      {
        shardId: id(3),
        parentShards: [id(0)],
        hashKeyRange: { startingHashKey: QUARTER, endingHashKey: (BigInt(HALF) - 1n).toString() },
      },
    ]);
  });

  it("names a merge's child from both parents, with both parents listed", () => {
    const expected = [
      {
        shardId: id(4),
        parentShards: [id(3), id(1)],
        hashKeyRange: { startingHashKey: QUARTER, endingHashKey: MAX },
      },
    ];
    expect(childShardsOf(history(), id(1))).toEqual(expected);
    expect(childShardsOf(history(), id(3))).toEqual(expected);
  });

  it("names no pending child, and none for an open shard", () => {
    expect(childShardsOf(history(), id(2))).toEqual([]);
    expect(childShardsOf(history(), id(4))).toEqual([]);
  });
});

describe("filterShardsByLineage", () => {
  const day = 86_400_000;
  const within = { nowMs: 10_000, retentionMs: day };

  it("AT_LATEST: the open shards", () => {
    expect(ids(filterShardsByLineage(history(), { type: "AT_LATEST" }, within))).toEqual([2, 4]);
  });

  it("AFTER_SHARD_ID: the listed shards after the id", () => {
    expect(ids(filterShardsByLineage(history(), { type: "AFTER_SHARD_ID", shardId: id(2) }, within))).toEqual(
      [3, 4],
    );
  });

  it("AT_TRIM_HORIZON and FROM_TRIM_HORIZON while nothing has expired: the roots, and everything", () => {
    expect(ids(filterShardsByLineage(history(), { type: "AT_TRIM_HORIZON" }, within))).toEqual([0, 1]);
    expect(ids(filterShardsByLineage(history(), { type: "FROM_TRIM_HORIZON" }, within))).toEqual([
      0, 1, 2, 3, 4,
    ]);
  });

  it("AT_TRIM_HORIZON once retention expired the first generation: the shards open at the horizon", () => {
    // Horizon at 3,000: shards 0 (closed 2,000) expired; 1, 2 and 3 were open then.
    const clock = { nowMs: 3_000 + day, retentionMs: day };
    expect(ids(filterShardsByLineage(history(), { type: "AT_TRIM_HORIZON" }, clock))).toEqual([1, 2, 3]);
    expect(ids(filterShardsByLineage(history(), { type: "FROM_TRIM_HORIZON" }, clock))).toEqual([1, 2, 3, 4]);
    // Horizon at 7,000: only the current generation holds data.
    const later = { nowMs: 7_000 + day, retentionMs: day };
    expect(ids(filterShardsByLineage(history(), { type: "AT_TRIM_HORIZON" }, later))).toEqual([2, 4]);
  });

  it("AT_TIMESTAMP: the shards open at that time (both sides at a reshard's instant, as Kinesis's inclusive bounds)", () => {
    const at = (timestampMs: number) =>
      ids(filterShardsByLineage(history(), { type: "AT_TIMESTAMP", timestampMs }, within));
    expect(at(500)).toEqual([0, 1]);
    expect(at(3_000)).toEqual([1, 2, 3]);
    expect(at(6_000)).toEqual([1, 2, 3, 4]);
    expect(at(8_000)).toEqual([2, 4]);
  });

  it("FROM_TIMESTAMP: the shards open at that time and all their descendants", () => {
    const from = (timestampMs: number) =>
      ids(filterShardsByLineage(history(), { type: "FROM_TIMESTAMP", timestampMs }, within));
    expect(from(500)).toEqual([0, 1, 2, 3, 4]);
    expect(from(3_000)).toEqual([1, 2, 3, 4]);
    expect(from(8_000)).toEqual([2, 4]);
  });

  it("never lists a pending child, whatever the filter", () => {
    for (const filter of [
      { type: "AT_LATEST" },
      { type: "FROM_TRIM_HORIZON" },
      { type: "FROM_TIMESTAMP", timestampMs: 9_500 },
      { type: "AFTER_SHARD_ID", shardId: id(4) },
    ] as const) {
      expect(ids(filterShardsByLineage(history(), filter, within)).filter((n) => n >= 5)).toEqual([]);
    }
  });
});
