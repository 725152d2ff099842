// Proves the consumer-group commands: leases spread evenly and move on join, leave and expiry with a growing fencing epoch, a stale-epoch or backward checkpoint is refused and changes nothing, children are leased only after every parent reached SHARD_END, and groups survive a snapshot round trip byte for byte.
import { describe, expect, it } from "vitest";
import { type ApplyOutcome, applyCommand } from "../src/apply.js";
import type { MetadataCommand } from "../src/commands.js";
import type { GroupHeartbeat } from "../src/groups/commands.js";
import { type ConsumerGroupInfo, groupKey } from "../src/groups/state.js";
import { decodeSnapshot, encodeSnapshot } from "../src/snapshot.js";
import { emptyState, type MetadataState, type StreamInfo } from "../src/state.js";

const NOW_MS = 1_700_000_000_000;
const G = { streamName: "s", groupName: "g" };

function run(state: MetadataState, command: MetadataCommand | Record<string, unknown>): ApplyOutcome {
  return applyCommand(state, command);
}

function ok(state: MetadataState, command: MetadataCommand | Record<string, unknown>): MetadataState {
  const outcome = run(state, command);
  if (!outcome.result.ok)
    throw new Error(`${String(command.type)}: ${outcome.result.code} ${outcome.result.message}`);
  return outcome.state;
}

function refused(state: MetadataState, command: MetadataCommand | Record<string, unknown>): string {
  const outcome = run(state, command);
  expect(outcome.state).toBe(state);
  return outcome.result.ok ? "OK" : outcome.result.code;
}

function withStream(shardCount: number): MetadataState {
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
  state = ok(state, {
    type: "CreateStream",
    streamName: "s",
    shardCount,
    mode: "PROVISIONED",
    nowMs: NOW_MS,
  });
  const streamId = (state.streams.get("s") as StreamInfo).streamId;
  return ok(state, { type: "SetStreamStatus", streamName: "s", streamId, from: "CREATING", to: "ACTIVE" });
}

function group(state: MetadataState): ConsumerGroupInfo {
  return state.groups?.get(groupKey("s", "g")) as ConsumerGroupInfo;
}

function counts(state: MetadataState): Record<string, number> {
  const result: Record<string, number> = {};
  for (const shard of group(state).shards)
    if (shard.owner !== undefined) result[shard.owner] = (result[shard.owner] ?? 0) + 1;
  return result;
}

function heartbeat(state: MetadataState, memberId: string, nowMs = NOW_MS): GroupHeartbeat {
  const outcome = run(state, { type: "GroupHeartbeat", ...G, memberId, nowMs });
  if (!outcome.result.ok) throw new Error(outcome.result.message);
  return outcome.result.value as GroupHeartbeat;
}

function join(state: MetadataState, memberId: string, nowMs = NOW_MS): MetadataState {
  return ok(state, { type: "JoinGroup", ...G, memberId, nowMs });
}

describe("consumer groups", () => {
  it("spreads leases evenly and rebalances on join and leave with a new epoch per move", () => {
    let state = join(withStream(16), "a");
    expect(counts(state)).toEqual({ a: 16 });
    state = join(join(state, "b"), "c");
    expect(Object.values(counts(state)).sort()).toEqual([5, 5, 6]);
    const before = new Map(group(state).shards.map((s) => [s.shardId, s]));
    state = join(state, "d");
    expect(counts(state)).toEqual({ a: 4, b: 4, c: 4, d: 4 });
    for (const shard of group(state).shards) {
      const old = before.get(shard.shardId);
      // Only moved shards get a new epoch; the others keep theirs.
      expect(shard.leaseEpoch).toBe(
        old?.owner === shard.owner ? old?.leaseEpoch : (old?.leaseEpoch ?? 0) + 1,
      );
    }
    state = ok(state, { type: "LeaveGroup", ...G, memberId: "d", nowMs: NOW_MS });
    expect(Object.values(counts(state)).sort()).toEqual([5, 5, 6]);
    expect(heartbeat(state, "a").leases.length + heartbeat(state, "b").leases.length).toBeGreaterThanOrEqual(
      10,
    );
  });

  it("refuses a checkpoint with a stale lease epoch or one that moves backwards, and changes nothing", () => {
    let state = join(withStream(2), "a");
    const [lease] = heartbeat(state, "a").leases;
    if (lease === undefined) throw new Error("no lease");
    const base = {
      type: "GroupCheckpoint",
      ...G,
      memberId: "a",
      shardId: lease.shardId,
      shardEnd: false,
      nowMs: NOW_MS,
    };
    state = ok(state, { ...base, leaseEpoch: lease.leaseEpoch, sequenceNumber: "500" });
    expect(refused(state, { ...base, leaseEpoch: lease.leaseEpoch, sequenceNumber: "499" })).toBe(
      "INVALID_ARGUMENT",
    );
    expect(refused(state, { ...base, leaseEpoch: lease.leaseEpoch - 1, sequenceNumber: "600" })).toBe(
      "LEASE_LOST",
    );
    // The shard moves to b (a leaves and re-joins: a new incarnation); a's old epoch is fenced.
    state = join(state, "b");
    state = join(state, "a");
    const holder = group(state).shards.find((s) => s.shardId === lease.shardId);
    expect(holder?.leaseEpoch).toBeGreaterThan(lease.leaseEpoch);
    expect(refused(state, { ...base, leaseEpoch: lease.leaseEpoch, sequenceNumber: "600" })).toBe(
      "LEASE_LOST",
    );
    expect(holder?.checkpoint).toBe("500");
    expect(refused(state, { type: "GroupHeartbeat", ...G, memberId: "zz", nowMs: NOW_MS })).toBe(
      "GROUP_MEMBER_NOT_FOUND",
    );
    expect(
      refused(state, {
        type: "GroupHeartbeat",
        streamName: "s",
        groupName: "nope",
        memberId: "a",
        nowMs: NOW_MS,
      }),
    ).toBe("CONSUMER_GROUP_NOT_FOUND");
  });

  it("expires a silent member after the session timeout and gives its leases to the others", () => {
    let state = ok(withStream(4), {
      type: "JoinGroup",
      ...G,
      memberId: "a",
      sessionTimeoutMs: 3_000,
      nowMs: NOW_MS,
    });
    state = join(state, "b");
    expect(counts(state)).toEqual({ a: 2, b: 2 });
    state = ok(state, { type: "GroupHeartbeat", ...G, memberId: "b", nowMs: NOW_MS + 2_000 });
    state = ok(state, { type: "ExpireGroupMembers", ...G, nowMs: NOW_MS + 3_000 });
    expect(counts(state)).toEqual({ a: 2, b: 2 });
    state = ok(state, { type: "ExpireGroupMembers", ...G, nowMs: NOW_MS + 3_001 });
    expect(counts(state)).toEqual({ b: 4 });
    expect(refused(state, { type: "GroupHeartbeat", ...G, memberId: "a", nowMs: NOW_MS + 3_002 })).toBe(
      "GROUP_MEMBER_NOT_FOUND",
    );
  });

  it("leases a child only after every parent reached SHARD_END", () => {
    let state = join(withStream(2), "a");
    const s = state.streams.get("s") as StreamInfo;
    const [first, second] = s.shards;
    if (first === undefined || second === undefined) throw new Error("shards");
    state = ok(state, {
      type: "MergeShards",
      streamName: "s",
      shardToMerge: first.shardId,
      adjacentShardToMerge: second.shardId,
      nowMs: NOW_MS,
    });
    const reshard = (state.streams.get("s") as StreamInfo).reshard;
    const ref = { streamName: "s", streamId: s.streamId, round: 1 };
    state = ok(state, { type: "SealReshardParents", ...ref });
    state = ok(state, {
      type: "CompleteReshardRound",
      ...ref,
      endingIndexes: { [first.shardId]: 5, [second.shardId]: 5 },
      nowMs: NOW_MS,
    });
    const child = reshard?.children[0] as string;
    const leases = () => heartbeat(state, "a").leases.map((l) => l.shardId);
    state = ok(state, { type: "GroupHeartbeat", ...G, memberId: "a", nowMs: NOW_MS });
    expect(leases()).toEqual([first.shardId, second.shardId]);
    const end = (shardId: string) => {
      const lease = heartbeat(state, "a").leases.find((l) => l.shardId === shardId);
      state = ok(state, {
        type: "GroupCheckpoint",
        ...G,
        memberId: "a",
        shardId,
        leaseEpoch: lease?.leaseEpoch ?? -1,
        sequenceNumber: "",
        shardEnd: true,
        nowMs: NOW_MS,
      });
    };
    end(first.shardId);
    expect(leases()).toEqual([second.shardId]);
    end(second.shardId);
    const childLease = heartbeat(state, "a").leases;
    expect(childLease.map((l) => l.shardId)).toEqual([child]);
    expect(childLease[0]?.fromTrimHorizon).toBe(true);
  });

  it("survives a snapshot round trip byte for byte", () => {
    let state = join(join(withStream(3), "a"), "b");
    const lease = heartbeat(state, "a").leases[0];
    state = ok(state, {
      type: "GroupCheckpoint",
      ...G,
      memberId: "a",
      shardId: lease?.shardId ?? "",
      leaseEpoch: lease?.leaseEpoch ?? -1,
      sequenceNumber: "42",
      shardEnd: false,
      nowMs: NOW_MS,
    });
    const bytes = encodeSnapshot(state);
    const restored = decodeSnapshot(bytes);
    expect(Buffer.from(encodeSnapshot(restored)).equals(Buffer.from(bytes))).toBe(true);
    expect(group(restored)).toEqual(group(state));
    expect(Buffer.from(encodeSnapshot(withStream(1))).toString()).not.toContain("groups");
  });
});
