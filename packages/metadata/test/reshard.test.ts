// Proves the reshard commands of the metadata state machine: every refusal (codes as the README maps them to Kinesis) leaves the state untouched, the per-stream limits hold, the controller's phase commands are conditional, and a state mid-reshard survives a snapshot round trip byte for byte.
import { describe, expect, it } from "vitest";
import { type ApplyOutcome, applyCommand } from "../src/apply.js";
import type { MetadataCommand } from "../src/commands.js";
import { RESHARD_WINDOW_MS, RESHARDS_PER_WINDOW_MAX, SHARDS_PER_STREAM_MAX } from "../src/constants.js";
import { HASH_KEY_MAX, splitHashKeySpace } from "../src/hash-range.js";
import { decodeSnapshot, encodeSnapshot } from "../src/snapshot.js";
import { emptyState, isOpenShard, type MetadataState, type StreamInfo } from "../src/state.js";

const NOW_MS = 1_700_000_000_000;

function run(state: MetadataState, command: MetadataCommand | Record<string, unknown>): ApplyOutcome {
  return applyCommand(state, command);
}

function ok(state: MetadataState, command: MetadataCommand | Record<string, unknown>): MetadataState {
  const outcome = run(state, command);
  if (!outcome.result.ok)
    throw new Error(`${String(command.type)}: ${outcome.result.code} ${outcome.result.message}`);
  return outcome.state;
}

/** The refusal code of `command`, after checking that it left the state as it was. */
function refused(state: MetadataState, command: MetadataCommand | Record<string, unknown>): string {
  const outcome = run(state, command);
  expect(outcome.state).toBe(state);
  expect(outcome.changedStreams).toEqual([]);
  return outcome.result.ok ? "OK" : outcome.result.code;
}

function withStream(shardCount: number, streamName = "s"): MetadataState {
  let state = ok(emptyState(), { type: "InitCluster", secretHex: "ab".repeat(32) });
  for (const [nodeId, zone] of [
    [1, "a"],
    [2, "b"],
    [3, "c"],
  ] as const) {
    state = ok(state, {
      type: "RegisterNode",
      node: { nodeId, zone, peerAddress: `n${nodeId}:1`, gatewayAddress: `n${nodeId}:2` },
    });
  }
  state = ok(state, { type: "CreateStream", streamName, shardCount, mode: "PROVISIONED", nowMs: NOW_MS });
  const streamId = (state.streams.get(streamName) as StreamInfo).streamId;
  return ok(state, { type: "SetStreamStatus", streamName, streamId, from: "CREATING", to: "ACTIVE" });
}

function stream(state: MetadataState, streamName = "s"): StreamInfo {
  return state.streams.get(streamName) as StreamInfo;
}

/** Plays the controller for one round: seal, then complete with ending index `endingIndex`. */
function completeRound(state: MetadataState, endingIndex = 10, nowMs = NOW_MS): MetadataState {
  const s = stream(state);
  const reshard = s.reshard as NonNullable<StreamInfo["reshard"]>;
  const ref = { streamName: s.streamName, streamId: s.streamId, round: reshard.round };
  let next = ok(state, { type: "SealReshardParents", ...ref });
  const endingIndexes = Object.fromEntries(reshard.parents.map((p) => [p, endingIndex]));
  next = ok(next, { type: "CompleteReshardRound", ...ref, endingIndexes, nowMs });
  return next;
}

const [FIRST, SECOND] = splitHashKeySpace(2) as [
  { start: string; end: string },
  { start: string; end: string },
];

function split(shardToSplit: string, newStartingHashKey: string, nowMs = NOW_MS): Record<string, unknown> {
  return { type: "SplitShard", streamName: "s", shardToSplit, newStartingHashKey, nowMs };
}

describe("SplitShard", () => {
  it("creates two pending children, the stream UPDATING, and opens them on completion", () => {
    let state = ok(withStream(2), split("shardId-000000000000", "1000"));
    const s = stream(state);
    expect(s.status).toBe("UPDATING");
    expect(s.reshard).toEqual({
      kind: "split",
      round: 1,
      phase: "children",
      parents: ["shardId-000000000000"],
      children: ["shardId-000000000002", "shardId-000000000003"],
      startedAtMs: NOW_MS,
    });
    const [low, high] = s.shards.slice(2);
    expect(low).toMatchObject({ hashKeyStart: "0", hashKeyEnd: "999", pending: true, sequenceIndexBase: 0 });
    expect(high).toMatchObject({ hashKeyStart: "1000", hashKeyEnd: FIRST.end, pending: true });
    expect(low?.groupId).toBe((s.shards[1]?.groupId as number) + 1);
    expect(low?.replicas).toHaveLength(3);
    state = completeRound(state, 42);
    const done = stream(state);
    expect(done.status).toBe("ACTIVE");
    expect(done.reshard).toBeUndefined();
    expect(done.shards[0]).toMatchObject({ endingIndex: 42, closedAtMs: NOW_MS });
    expect(done.shards[2]).toMatchObject({ sequenceIndexBase: 42, parentShardId: "shardId-000000000000" });
    expect(done.shards[2]?.pending).toBeUndefined();
  });

  it("refuses bad keys, unknown, pending and closed shards, a busy stream, and the shard limit", () => {
    const state = withStream(2);
    for (const key of [
      "0",
      FIRST.start,
      "01",
      "-1",
      "1e5",
      " 5",
      "",
      (HASH_KEY_MAX + 1n).toString(),
      SECOND.start,
    ]) {
      expect(refused(state, split("shardId-000000000000", key)), key).toBe("INVALID_ARGUMENT");
    }
    expect(refused(state, split("shardId-000000000000", 5 as unknown as string))).toBe("INVALID_ARGUMENT");
    expect(refused(state, split("shardId-000000000009", "5"))).toBe("SHARD_NOT_FOUND");
    expect(refused(state, split("", "5"))).toBe("INVALID_ARGUMENT");
    expect(refused(state, { ...split("shardId-000000000000", "5"), streamName: "nope" })).toBe(
      "STREAM_NOT_FOUND",
    );
    const updating = ok(state, split("shardId-000000000000", FIRST.end));
    // UPDATING first: a second reshard (even on the pending child) is refused as in use.
    expect(refused(updating, split("shardId-000000000001", "5"))).toBe("STREAM_IN_USE");
    expect(refused(updating, split("shardId-000000000002", "5"))).toBe("STREAM_IN_USE");
    const done = completeRound(updating);
    expect(refused(done, split("shardId-000000000000", "5"))).toBe("SHARD_CLOSED");
    // The last key of a shard is a valid split point: the upper child holds one key.
    expect(stream(done).shards[3]).toMatchObject({ hashKeyStart: FIRST.end, hashKeyEnd: FIRST.end });

    const full = withStream(SHARDS_PER_STREAM_MAX, "full");
    const shard = stream(full, "full").shards[0];
    expect(
      refused(full, {
        type: "SplitShard",
        streamName: "full",
        shardToSplit: shard?.shardId as string,
        newStartingHashKey: "1",
        nowMs: NOW_MS,
      }),
    ).toBe("LIMIT_EXCEEDED");
  });

  it(`allows RESHARDS_PER_WINDOW_MAX (${RESHARDS_PER_WINDOW_MAX}) reshards per RESHARD_WINDOW_MS, then LIMIT_EXCEEDED until the window moves`, () => {
    let state = withStream(1);
    for (let i = 0; i < RESHARDS_PER_WINDOW_MAX; i++) {
      const open = stream(state).shards.filter(isOpenShard);
      if (open.length === 1)
        state = ok(state, split((open[0] as { shardId: string }).shardId, "1000", NOW_MS + i));
      else {
        state = ok(state, {
          type: "MergeShards",
          streamName: "s",
          shardToMerge: open[0]?.shardId as string,
          adjacentShardToMerge: open[1]?.shardId as string,
          nowMs: NOW_MS + i,
        });
      }
      state = completeRound(state);
    }
    const shardId = (stream(state).shards.find(isOpenShard) as { shardId: string }).shardId;
    expect(refused(state, split(shardId, "1000", NOW_MS + RESHARDS_PER_WINDOW_MAX))).toBe("LIMIT_EXCEEDED");
    state = ok(state, split(shardId, "1000", NOW_MS + RESHARD_WINDOW_MS));
    expect(stream(state).reshardsAtMs?.length).toBeLessThanOrEqual(RESHARDS_PER_WINDOW_MAX);
  });
});

describe("MergeShards", () => {
  it("merges two adjacent shards in either order; parentShardId is shardToMerge", () => {
    let state = ok(withStream(3), {
      type: "MergeShards",
      streamName: "s",
      shardToMerge: "shardId-000000000002",
      adjacentShardToMerge: "shardId-000000000001",
      nowMs: NOW_MS,
    });
    const child = stream(state).shards[3];
    const ranges = splitHashKeySpace(3);
    expect(child).toMatchObject({
      shardId: "shardId-000000000003",
      parentShardId: "shardId-000000000002",
      adjacentParentShardId: "shardId-000000000001",
      hashKeyStart: ranges[1]?.start,
      hashKeyEnd: ranges[2]?.end,
      pending: true,
    });
    const s = stream(state);
    const ref = { streamName: "s", streamId: s.streamId, round: 1 };
    state = ok(state, { type: "SealReshardParents", ...ref });
    state = ok(state, {
      type: "CompleteReshardRound",
      ...ref,
      endingIndexes: { "shardId-000000000001": 7, "shardId-000000000002": 30 },
      nowMs: NOW_MS,
    });
    expect(stream(state).shards[3]?.sequenceIndexBase).toBe(30);
  });

  it("refuses the same shard twice, non-adjacent, unknown and closed shards", () => {
    const state = withStream(3);
    const merge = (a: string, b: string) => ({
      type: "MergeShards",
      streamName: "s",
      shardToMerge: a,
      adjacentShardToMerge: b,
      nowMs: NOW_MS,
    });
    expect(refused(state, merge("shardId-000000000000", "shardId-000000000000"))).toBe("INVALID_ARGUMENT");
    expect(refused(state, merge("shardId-000000000000", "shardId-000000000002"))).toBe("INVALID_ARGUMENT");
    expect(refused(state, merge("shardId-000000000000", "shardId-000000000007"))).toBe("SHARD_NOT_FOUND");
    const done = completeRound(ok(state, merge("shardId-000000000000", "shardId-000000000001")));
    expect(refused(done, merge("shardId-000000000001", "shardId-000000000002"))).toBe("SHARD_CLOSED");
  });
});

describe("UpdateShardCount", () => {
  it("refuses targets outside [ceil(open / 2), 2 · open] and above SHARDS_PER_STREAM_MAX; the current count is a no-op", () => {
    const state = withStream(5);
    const scale = (targetShardCount: unknown) => ({
      type: "UpdateShardCount",
      streamName: "s",
      targetShardCount,
      nowMs: NOW_MS,
    });
    for (const target of [0, -1, 1.5, "4", 2, 11])
      expect(refused(state, scale(target)), String(target)).toBe("INVALID_ARGUMENT");
    const same = run(state, scale(5));
    expect(same.state).toBe(state);
    expect(same.result).toEqual({ ok: true, value: { currentShardCount: 5, targetShardCount: 5 } });
    const started = run(state, scale(3));
    expect(started.result).toEqual({ ok: true, value: { currentShardCount: 5, targetShardCount: 3 } });
    expect(stream(started.state).reshard).toMatchObject({ kind: "scale", targetShardCount: 3, round: 1 });
    const big = withStream(150, "big");
    expect(refused(big, { ...scale(SHARDS_PER_STREAM_MAX + 1), streamName: "big" })).toBe("LIMIT_EXCEEDED");
  });
});

describe("the controller's phase commands", () => {
  it("apply only in their round and phase, for the same stream id, with every parent's ending index", () => {
    const state = ok(withStream(2), split("shardId-000000000000", "1000"));
    const s = stream(state);
    const ref = { streamName: "s", streamId: s.streamId, round: 1 };
    expect(refused(state, { ...ref, type: "SealReshardParents", round: 2 })).toBe("STREAM_IN_USE");
    expect(refused(state, { ...ref, type: "SealReshardParents", streamId: 99 })).toBe("STREAM_NOT_FOUND");
    const complete = {
      ...ref,
      type: "CompleteReshardRound",
      endingIndexes: { "shardId-000000000000": 3 },
      nowMs: NOW_MS,
    };
    expect(refused(state, complete)).toBe("STREAM_IN_USE");
    const sealing = ok(state, { ...ref, type: "SealReshardParents" });
    expect(refused(sealing, { ...ref, type: "SealReshardParents" })).toBe("STREAM_IN_USE");
    expect(refused(sealing, { ...complete, endingIndexes: {} })).toBe("INVALID_ARGUMENT");
    expect(refused(sealing, { ...complete, endingIndexes: { "shardId-000000000000": 0 } })).toBe(
      "INVALID_ARGUMENT",
    );
    const done = ok(sealing, complete);
    expect(refused(done, complete)).toBe("STREAM_IN_USE");
  });

  it("a state mid-reshard survives a snapshot round trip byte for byte", () => {
    const state = ok(
      ok(withStream(4), { type: "UpdateShardCount", streamName: "s", targetShardCount: 7, nowMs: NOW_MS }),
      {
        type: "SealReshardParents",
        streamName: "s",
        streamId: 1,
        round: 1,
      },
    );
    const bytes = encodeSnapshot(state);
    const restored = decodeSnapshot(bytes);
    expect(Buffer.from(encodeSnapshot(restored)).equals(Buffer.from(bytes))).toBe(true);
    expect(stream(restored).reshard).toEqual(stream(state).reshard);
    expect(Object.isFrozen(stream(restored).reshard?.parents)).toBe(true);
  });
});
