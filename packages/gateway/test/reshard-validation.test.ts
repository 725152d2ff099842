// Proves the SplitShard, MergeShards and UpdateShardCount validators follow the Kinesis model: a broken pattern, length or range or a missing member is a ValidationException, a value the model allows but the service refuses is an InvalidArgumentException or LimitExceededException.
import { describe, expect, it } from "vitest";
import { validateMergeShards, validateSplitShard, validateUpdateShardCount } from "../src/index.js";

const MAX = "340282366920938463463374607431768211455";

function kinesisNameOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return (error as { kinesisName?: string }).kinesisName;
  }
}

describe("validateSplitShard", () => {
  const ok = { streamName: "s", shardToSplit: "shardId-000000000000", newStartingHashKey: "12345" };

  it("accepts a stream, a shard id and a decimal hash key", () => {
    expect(validateSplitShard(ok)).toEqual(ok);
    expect(validateSplitShard({ ...ok, newStartingHashKey: MAX }).newStartingHashKey).toBe(MAX);
    expect(validateSplitShard({ ...ok, newStartingHashKey: "0" }).newStartingHashKey).toBe("0");
  });

  it("answers the model's pattern and required members with ValidationException", () => {
    for (const key of ["", "01", "-1", "1.5", "1".repeat(40), "abc"]) {
      expect(
        kinesisNameOf(() => validateSplitShard({ ...ok, newStartingHashKey: key })),
        key,
      ).toBe("ValidationException");
    }
    expect(kinesisNameOf(() => validateSplitShard({ ...ok, shardToSplit: "" }))).toBe("ValidationException");
    expect(kinesisNameOf(() => validateSplitShard({ ...ok, shardToSplit: "shard/0" }))).toBe(
      "ValidationException",
    );
  });

  it("answers a key above 2^128 - 1 and a missing stream with InvalidArgumentException", () => {
    expect(
      kinesisNameOf(() =>
        validateSplitShard({ ...ok, newStartingHashKey: "340282366920938463463374607431768211456" }),
      ),
    ).toBe("InvalidArgumentException");
    expect(kinesisNameOf(() => validateSplitShard({ ...ok, streamName: "" }))).toBe(
      "InvalidArgumentException",
    );
  });
});

describe("validateMergeShards", () => {
  const ok = {
    streamName: "s",
    shardToMerge: "shardId-000000000000",
    adjacentShardToMerge: "shardId-000000000001",
  };

  it("accepts two shard ids", () => {
    expect(validateMergeShards(ok)).toEqual(ok);
  });

  it("answers a missing or malformed id with ValidationException", () => {
    expect(kinesisNameOf(() => validateMergeShards({ ...ok, adjacentShardToMerge: "" }))).toBe(
      "ValidationException",
    );
    expect(kinesisNameOf(() => validateMergeShards({ ...ok, shardToMerge: "a b" }))).toBe(
      "ValidationException",
    );
  });

  it("answers the same shard twice, in any of its forms, with InvalidArgumentException", () => {
    expect(kinesisNameOf(() => validateMergeShards({ ...ok, adjacentShardToMerge: ok.shardToMerge }))).toBe(
      "InvalidArgumentException",
    );
    expect(kinesisNameOf(() => validateMergeShards({ ...ok, adjacentShardToMerge: "0" }))).toBe(
      "InvalidArgumentException",
    );
  });
});

describe("validateUpdateShardCount", () => {
  const ok = { streamName: "s", targetShardCount: 8, scalingType: 1 };

  it("accepts a target and UNIFORM_SCALING by enum value or name", () => {
    expect(validateUpdateShardCount(ok)).toEqual({
      streamName: "s",
      targetShardCount: 8,
      scalingType: "UNIFORM_SCALING",
    });
    expect(validateUpdateShardCount({ ...ok, scalingType: "UNIFORM_SCALING" }).scalingType).toBe(
      "UNIFORM_SCALING",
    );
  });

  it("answers a target below 1 and a missing or unknown ScalingType with ValidationException", () => {
    for (const targetShardCount of [0, -1, 1.5]) {
      expect(kinesisNameOf(() => validateUpdateShardCount({ ...ok, targetShardCount }))).toBe(
        "ValidationException",
      );
    }
    for (const scalingType of [0, "", 2, "NON_UNIFORM"]) {
      expect(kinesisNameOf(() => validateUpdateShardCount({ ...ok, scalingType }))).toBe(
        "ValidationException",
      );
    }
  });

  it("answers a target above the per-stream shard limit with LimitExceededException", () => {
    expect(kinesisNameOf(() => validateUpdateShardCount({ ...ok, targetShardCount: 10_001 }))).toBe(
      "LimitExceededException",
    );
  });
});
