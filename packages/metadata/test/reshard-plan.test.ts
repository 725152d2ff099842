// Proves UpdateShardCount's round planning through the real apply: from any even N-split (and from seeded uneven splits), scaling to any valid M reaches exactly the even M-split, and every round is Kinesis-shaped (a child has one parent, or two adjacent parents; children tile their parents' range; a child's sequenceIndexBase is above every parent record).
import { describe, expect, it } from "vitest";
import { applyCommand } from "../src/apply.js";
import type { MetadataCommand } from "../src/commands.js";
import { splitHashKeySpace } from "../src/hash-range.js";
import { planScale, planScaleRound } from "../src/reshard-plan.js";
import {
  emptyState,
  isOpenShard,
  type MetadataState,
  type ShardInfo,
  type StreamInfo,
} from "../src/state.js";

const NOW_MS = 1_700_000_000_000;

function run(state: MetadataState, command: MetadataCommand): MetadataState {
  const outcome = applyCommand(state, command);
  if (!outcome.result.ok) {
    throw new Error(`${command.type} refused: ${outcome.result.code} ${outcome.result.message}`);
  }
  return outcome.state;
}

function clusterWithStream(shardCount: number): MetadataState {
  let state = run(emptyState(), { type: "InitCluster", secretHex: "ab".repeat(32) });
  for (const [nodeId, zone] of [
    [1, "a"],
    [2, "b"],
    [3, "c"],
  ] as const) {
    state = run(state, {
      type: "RegisterNode",
      node: { nodeId, zone, peerAddress: `n${nodeId}:1`, gatewayAddress: `n${nodeId}:2` },
    });
  }
  state = run(state, {
    type: "CreateStream",
    streamName: "s",
    shardCount,
    mode: "PROVISIONED",
    nowMs: NOW_MS,
  });
  const streamId = (state.streams.get("s") as StreamInfo).streamId;
  return run(state, { type: "SetStreamStatus", streamName: "s", streamId, from: "CREATING", to: "ACTIVE" });
}

function stream(state: MetadataState): StreamInfo {
  return state.streams.get("s") as StreamInfo;
}

/** A deterministic pseudo-random source (mulberry32): failures replay from the seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Plays the controller: seals each round's parents at a made-up index and completes it, until
 * the stream is ACTIVE; checks each round's shape. Returns the final state and the round count.
 */
function driveToActive(start: MetadataState, random: () => number): { state: MetadataState; rounds: number } {
  let state = start;
  let rounds = 0;
  for (;;) {
    const s = stream(state);
    if (s.status === "ACTIVE") return { state, rounds };
    const reshard = s.reshard;
    if (reshard === undefined) throw new Error("UPDATING without a reshard");
    rounds++;
    expect(reshard.round).toBe(rounds);
    checkRoundShape(s);
    state = run(state, {
      type: "SealReshardParents",
      streamName: "s",
      streamId: s.streamId,
      round: reshard.round,
    });
    const endingIndexes: Record<string, number> = {};
    for (const parent of reshard.parents) endingIndexes[parent] = 1 + Math.floor(random() * 1000);
    state = run(state, {
      type: "CompleteReshardRound",
      streamName: "s",
      streamId: s.streamId,
      round: reshard.round,
      endingIndexes,
      nowMs: NOW_MS + rounds,
    });
    checkCompleted(stream(state), reshard.parents, reshard.children, endingIndexes);
  }
}

/** The round's children are pending, each with one parent or two adjacent ones, and tile the parents. */
function checkRoundShape(s: StreamInfo): void {
  const reshard = s.reshard as NonNullable<StreamInfo["reshard"]>;
  const byId = new Map(s.shards.map((shard) => [shard.shardId, shard]));
  const children = reshard.children.map((id) => byId.get(id) as ShardInfo);
  const childrenOf = new Map<string, ShardInfo[]>();
  for (const child of children) {
    expect(child.pending).toBe(true);
    const parents = [child.parentShardId, child.adjacentParentShardId].filter((p) => p !== undefined);
    expect(parents.length).toBeGreaterThanOrEqual(1);
    expect(parents.length).toBeLessThanOrEqual(2);
    for (const parent of parents) {
      expect(reshard.parents).toContain(parent);
      childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), child]);
    }
    if (parents.length === 2) {
      const [a, b] = parents.map((id) => byId.get(id) as ShardInfo) as [ShardInfo, ShardInfo];
      const [lower, upper] = BigInt(a.hashKeyStart) < BigInt(b.hashKeyStart) ? [a, b] : [b, a];
      expect(BigInt(lower.hashKeyEnd) + 1n).toBe(BigInt(upper.hashKeyStart));
      expect([child.hashKeyStart, child.hashKeyEnd]).toEqual([lower.hashKeyStart, upper.hashKeyEnd]);
    }
  }
  for (const parentId of reshard.parents) {
    const parent = byId.get(parentId) as ShardInfo;
    expect(isOpenShard(parent)).toBe(true);
    const kids = childrenOf.get(parentId) ?? [];
    expect(kids.length).toBeGreaterThanOrEqual(1);
    expect(kids.length).toBeLessThanOrEqual(2);
    if (kids.length === 2) {
      // A split: the two children tile the parent exactly.
      const [low, high] = kids.sort((x, y) => (BigInt(x.hashKeyStart) < BigInt(y.hashKeyStart) ? -1 : 1)) as [
        ShardInfo,
        ShardInfo,
      ];
      expect(low.hashKeyStart).toBe(parent.hashKeyStart);
      expect(BigInt(low.hashKeyEnd) + 1n).toBe(BigInt(high.hashKeyStart));
      expect(high.hashKeyEnd).toBe(parent.hashKeyEnd);
    }
  }
}

function checkCompleted(
  s: StreamInfo,
  parents: readonly string[],
  children: readonly string[],
  endingIndexes: Record<string, number>,
): void {
  const byId = new Map(s.shards.map((shard) => [shard.shardId, shard]));
  for (const id of parents) {
    const parent = byId.get(id) as ShardInfo;
    expect(parent.endingIndex).toBe(endingIndexes[id]);
    expect(parent.closedAtMs).toBeDefined();
  }
  for (const id of children) {
    const child = byId.get(id) as ShardInfo;
    expect(child.pending).toBeUndefined();
    let base = 0;
    for (const parentId of [child.parentShardId, child.adjacentParentShardId]) {
      if (parentId === undefined) continue;
      const parent = byId.get(parentId) as ShardInfo;
      base = Math.max(base, parent.sequenceIndexBase + (parent.endingIndex as number));
    }
    expect(child.sequenceIndexBase).toBe(base);
  }
}

function openRanges(s: StreamInfo): { start: string; end: string }[] {
  return s.shards
    .filter(isOpenShard)
    .map((shard) => ({ start: shard.hashKeyStart, end: shard.hashKeyEnd }))
    .sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
}

describe("UpdateShardCount round planning", () => {
  it("from every even N-split (N ≤ 16) reaches exactly the even M-split for every valid M", () => {
    const random = seeded(1);
    let maxRounds = 0;
    for (let n = 1; n <= 16; n++) {
      const created = clusterWithStream(n);
      for (let m = Math.ceil(n / 2); m <= 2 * n; m++) {
        const state = run(created, {
          type: "UpdateShardCount",
          streamName: "s",
          targetShardCount: m,
          nowMs: NOW_MS,
        });
        const { state: done, rounds } = driveToActive(state, random);
        expect(openRanges(stream(done)), `${n} → ${m}`).toEqual(splitHashKeySpace(m));
        expect(stream(done).reshard).toBeUndefined();
        maxRounds = Math.max(maxRounds, rounds);
      }
    }
    // Between even splits at most 2x apart, a scale takes a few rounds, never many.
    expect(maxRounds).toBeLessThanOrEqual(4);
  });

  it("from seeded sizes up to SHARDS_PER_STREAM_MAX reaches the even split", () => {
    const random = seeded(2);
    for (let trial = 0; trial < 12; trial++) {
      const n = 1 + Math.floor(random() * 100);
      const low = Math.ceil(n / 2);
      const m = low + Math.floor(random() * (2 * n - low + 1));
      const open = splitHashKeySpace(n).map((r, i) => ({
        shardId: `s${i}`,
        hashKeyStart: r.start,
        hashKeyEnd: r.end,
      }));
      const rounds = planScale(open, m);
      expect(rounds.length, `${n} → ${m}`).toBeLessThanOrEqual(4);
    }
    const state = run(clusterWithStream(100), {
      type: "UpdateShardCount",
      streamName: "s",
      targetShardCount: 200,
      nowMs: NOW_MS,
    });
    const { state: done } = driveToActive(state, random);
    expect(openRanges(stream(done))).toEqual(splitHashKeySpace(200));
  });

  it("from seeded uneven splits (manual SplitShard and MergeShards first) reaches the even split", () => {
    const random = seeded(3);
    for (let trial = 0; trial < 30; trial++) {
      let state = clusterWithStream(1 + Math.floor(random() * 6));
      // A few random splits and merges make an uneven map.
      for (let step = 0; step < 4; step++) {
        const open = stream(state).shards.filter(isOpenShard);
        const pick = open[Math.floor(random() * open.length)] as ShardInfo;
        const start = BigInt(pick.hashKeyStart);
        const width = BigInt(pick.hashKeyEnd) - start;
        if (random() < 0.7 && width > 2n) {
          const key = start + 1n + (width * BigInt(Math.floor(random() * 1000))) / 1000n;
          state = run(state, {
            type: "SplitShard",
            streamName: "s",
            shardToSplit: pick.shardId,
            newStartingHashKey: (key > BigInt(pick.hashKeyEnd) ? BigInt(pick.hashKeyEnd) : key).toString(),
            nowMs: NOW_MS,
          });
        } else {
          const next = open.find((o) => BigInt(o.hashKeyStart) === BigInt(pick.hashKeyEnd) + 1n);
          if (next === undefined) continue;
          state = run(state, {
            type: "MergeShards",
            streamName: "s",
            shardToMerge: next.shardId,
            adjacentShardToMerge: pick.shardId,
            nowMs: NOW_MS,
          });
        }
        state = driveToActive(state, random).state;
      }
      const current = stream(state).shards.filter(isOpenShard).length;
      const low = Math.ceil(current / 2);
      const m = low + Math.floor(random() * (2 * current - low + 1));
      if (m === current) continue;
      state = run(state, { type: "UpdateShardCount", streamName: "s", targetShardCount: m, nowMs: NOW_MS });
      const { state: done } = driveToActive(state, random);
      expect(openRanges(stream(done))).toEqual(splitHashKeySpace(m));
    }
  });

  it("plans nothing when the open shards are already the target split", () => {
    const open = splitHashKeySpace(7).map((r, i) => ({
      shardId: `s${i}`,
      hashKeyStart: r.start,
      hashKeyEnd: r.end,
    }));
    expect(planScaleRound(open, 7)).toEqual([]);
    expect(() => planScaleRound(open.slice(1), 7)).toThrow(/tile/);
  });
});
