// Proves that every invalid SplitShard, MergeShards and UpdateShardCount request of issue #6 gets
// its typed Kinesis error through the public API and changes nothing (DescribeStream is the same
// before and after), including a second reshard while one is under way and any reshard of an
// ON_DEMAND stream.
import { listAllShards, StreamsCallError, startCluster, type TestCluster } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19440-19451.
const BASE_PORT = 19_440;
const STREAM_NAME = "reshard-invalid";
const ON_DEMAND_STREAM = "reshard-invalid-on-demand";
const UNIFORM = streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING;
const ACTIVE = streams.StreamStatus.STREAM_STATUS_ACTIVE;
const HASH_KEY_SPACE = 1n << 128n;
/** 4 shards: shard i covers [i·2^126, (i+1)·2^126 − 1]. */
const QUARTER = 1n << 126n;
const shardId = (n: number): string => `shardId-${String(n).padStart(12, "0")}`;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  const client = cluster.streams(1);
  await client.createActiveStream({ streamName: STREAM_NAME, shardCount: 4 });
  // Close shard 3 with a valid split (children 4 and 5), so that requests on a closed shard can be tried.
  await client.splitShard({
    streamName: STREAM_NAME,
    shardToSplit: shardId(3),
    newStartingHashKey: (3n * QUARTER + QUARTER / 2n).toString(),
  });
  await client.waitStreamStatus(STREAM_NAME, ACTIVE, 60_000);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function errorOf(call: Promise<unknown>): Promise<StreamsCallError> {
  const outcome = await call.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof StreamsCallError)) {
    throw new Error(`expected a refusal, got ${outcome === undefined ? "success" : String(outcome)}`);
  }
  return outcome;
}

function describeStream(streamName = STREAM_NAME): Promise<streams.DescribeStreamResponse> {
  return cluster.streams(1).describeStream({ streamName });
}

type Case = readonly [what: string, errorName: string, call: () => Promise<unknown>];

const split =
  (shardToSplit: string, newStartingHashKey: string, streamName = STREAM_NAME) =>
  () =>
    cluster.streams(2).splitShard({ streamName, shardToSplit, newStartingHashKey });
const merge =
  (shardToMerge: string, adjacentShardToMerge: string, streamName = STREAM_NAME) =>
  () =>
    cluster.streams(3).mergeShards({ streamName, shardToMerge, adjacentShardToMerge });
const scale =
  (targetShardCount: number, scalingType: streams.ScalingType = UNIFORM, streamName = STREAM_NAME) =>
  () =>
    cluster.streams(1).updateShardCount({ streamName, targetShardCount, scalingType });

const CASES: readonly Case[] = [
  [
    "split at the parent's starting hash key",
    "InvalidArgumentException",
    split(shardId(1), QUARTER.toString()),
  ],
  [
    "split at a key in another shard's range",
    "InvalidArgumentException",
    split(shardId(0), (2n * QUARTER).toString()),
  ],
  ["split at a key below the parent's range", "InvalidArgumentException", split(shardId(1), "5")],
  [
    "split at 2^128, outside the hash key space",
    "InvalidArgumentException",
    split(shardId(0), HASH_KEY_SPACE.toString()),
  ],
  ["split at a non-decimal key", "ValidationException", split(shardId(0), "0x1000")],
  ["split at a key with a leading zero", "ValidationException", split(shardId(0), "0100")],
  ["split at a negative key", "ValidationException", split(shardId(0), "-1")],
  ["split without a key", "ValidationException", split(shardId(0), "")],
  ["split of a closed shard", "InvalidArgumentException", split(shardId(3), (3n * QUARTER + 7n).toString())],
  ["merge of a closed shard", "InvalidArgumentException", merge(shardId(2), shardId(3))],
  ["merge of a closed shard (second)", "InvalidArgumentException", merge(shardId(3), shardId(4))],
  ["merge of non-adjacent shards", "InvalidArgumentException", merge(shardId(0), shardId(2))],
  ["merge of non-adjacent shards (reversed)", "InvalidArgumentException", merge(shardId(5), shardId(1))],
  ["merge of a shard with itself", "InvalidArgumentException", merge(shardId(1), shardId(1))],
  ["split of an unknown shard", "ResourceNotFoundException", split(shardId(99), "1")],
  ["merge with an unknown shard", "ResourceNotFoundException", merge(shardId(0), shardId(99))],
  ["split in an unknown stream", "ResourceNotFoundException", split(shardId(0), "1", "no-such-stream")],
  [
    "merge in an unknown stream",
    "ResourceNotFoundException",
    merge(shardId(0), shardId(1), "no-such-stream"),
  ],
  ["UpdateShardCount of an unknown stream", "ResourceNotFoundException", scale(4, UNIFORM, "no-such-stream")],
  // 5 open shards (0, 1, 2, 4, 5): the target must be within [3, 10].
  ["UpdateShardCount above 2× the open shards", "InvalidArgumentException", scale(11)],
  ["UpdateShardCount below ½× the open shards", "InvalidArgumentException", scale(2)],
  ["UpdateShardCount to 0", "ValidationException", scale(0)],
  [
    "UpdateShardCount without ScalingType",
    "ValidationException",
    scale(6, streams.ScalingType.SCALING_TYPE_UNSPECIFIED),
  ],
];

describe("invalid reshard requests", () => {
  it.each(CASES)("%s: %s, nothing changes", async (_what, errorName, call) => {
    const before = await describeStream();
    expect(before.streamDescription?.streamStatus).toBe(ACTIVE);
    const error = await errorOf(call());
    expect(error.errorName, error.message).toBe(errorName);
    expect(await describeStream()).toEqual(before);
  });

  it("refuses a second reshard while one is under way (ResourceInUseException), then finishes the first alone", async () => {
    const client = cluster.streams(1);
    const before = await listAllShards(client, STREAM_NAME);
    await client.splitShard({
      streamName: STREAM_NAME,
      shardToSplit: shardId(0),
      newStartingHashKey: (QUARTER / 2n).toString(),
    });
    // Sent at once, while the split's children are still being created (the stream is UPDATING).
    const refusals = await Promise.all([
      errorOf(split(shardId(1), (QUARTER + QUARTER / 2n).toString())()),
      errorOf(merge(shardId(1), shardId(2))()),
      errorOf(scale(6)()),
    ]);
    expect(refusals.map((error) => error.errorName)).toEqual([
      "ResourceInUseException",
      "ResourceInUseException",
      "ResourceInUseException",
    ]);
    await client.waitStreamStatus(STREAM_NAME, ACTIVE, 60_000);
    // Exactly the split happened: shard 0 closed, two new children of it, nothing else changed.
    const after = await listAllShards(client, STREAM_NAME);
    expect(after).toHaveLength(before.length + 2);
    const added = after.slice(before.length);
    expect(added.map((shard) => shard.parentShardId)).toEqual([shardId(0), shardId(0)]);
    expect(
      after.filter((shard) => shard.sequenceNumberRange?.endingSequenceNumber !== "").map((s) => s.shardId),
    ).toEqual([shardId(0), shardId(3)]);
    for (const shard of before.filter((s) => s.shardId !== shardId(0))) {
      expect(after.find((s) => s.shardId === shard.shardId)).toEqual(shard);
    }
  }, 90_000);

  // Kinesis resizes ON_DEMAND streams itself: resharding one by hand is a ValidationException.
  it("refuses resharding an ON_DEMAND stream (ValidationException) and changes nothing", async () => {
    const client = cluster.streams(1);
    await client.createActiveStream({
      streamName: ON_DEMAND_STREAM,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
    const before = await describeStream(ON_DEMAND_STREAM);
    for (const call of [
      split(shardId(0), (QUARTER / 2n).toString(), ON_DEMAND_STREAM),
      merge(shardId(0), shardId(1), ON_DEMAND_STREAM),
      scale(8, UNIFORM, ON_DEMAND_STREAM),
    ]) {
      const error = await errorOf(call());
      expect(error.errorName, error.message).toBe("ValidationException");
      expect(await describeStream(ON_DEMAND_STREAM)).toEqual(before);
    }
  }, 60_000);
});
