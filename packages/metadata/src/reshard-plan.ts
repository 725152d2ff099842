/**
 * Round planning for UpdateShardCount (UNIFORM_SCALING): from a stream's open shards, the next
 * round of splits and merges toward the even split of the hash key space into `target` ranges
 * (the ranges CreateStream would give a stream of `target` shards, `splitHashKeySpace`).
 *
 * A round is a set of operations on distinct open shards, each Kinesis-shaped:
 * - a shard with a target boundary strictly inside it is split in two at the first such boundary
 *   (one split per parent per round; the child is split again in a later round if needed);
 * - two adjacent shards that lie inside the same target range are merged (pairwise in hash
 *   order: a1+a2, a3+a4, …), in the same round as the splits of other shards.
 * So every child has one parent (split) or two adjacent parents (merge), and every parent has
 * one or two children. Rounds repeat until every open shard is exactly one target range; the
 * planner returns no operation then. It is pure and deterministic (apply calls it on every
 * replica), and BigInt is fine here: it runs once per round, never per record.
 */
import { HASH_KEY_MAX, splitHashKeySpace } from "./hash-range.js";

/** An open shard as the planner sees it. Bounds are inclusive decimal strings. */
export interface PlannedShard {
  readonly shardId: string;
  readonly hashKeyStart: string;
  readonly hashKeyEnd: string;
}

export type ReshardOperation =
  /** Split `parent` so that the upper child starts at `newStartingHashKey` (decimal). */
  | { readonly kind: "split"; readonly parent: string; readonly newStartingHashKey: string }
  /** Merge two adjacent shards: `lower` ends right before `upper` starts. */
  | { readonly kind: "merge"; readonly lower: string; readonly upper: string };

/**
 * The operations of the next round, in hash order; empty when the open shards already are the
 * even split into `targetShardCount` ranges. `openShards` must tile [0, 2^128 − 1] without gap
 * or overlap (any order); anything else is a bug of the caller and throws.
 */
export function planScaleRound(
  openShards: readonly PlannedShard[],
  targetShardCount: number,
): ReshardOperation[] {
  const shards = sortedTiling(openShards);
  const targetStarts = splitHashKeySpace(targetShardCount).map((range) => BigInt(range.start));
  const operations: ReshardOperation[] = [];
  // The target range index holding each shard, or -1 for a shard a boundary cuts.
  const owner: number[] = [];
  for (const shard of shards) {
    const inside = firstBoundaryInside(targetStarts, shard.start, shard.end);
    owner.push(inside === undefined ? rangeIndexOf(targetStarts, shard.start) : -1);
  }
  for (let i = 0; i < shards.length; i++) {
    const shard = shards[i] as SortedShard;
    const index = owner[i] as number;
    if (index < 0) {
      const at = firstBoundaryInside(targetStarts, shard.start, shard.end) as bigint;
      operations.push({ kind: "split", parent: shard.shardId, newStartingHashKey: at.toString() });
      continue;
    }
    const next = shards[i + 1];
    if (next !== undefined && owner[i + 1] === index) {
      operations.push({ kind: "merge", lower: shard.shardId, upper: next.shardId });
      i++;
    }
  }
  return operations;
}

/**
 * Every round UpdateShardCount would run from `openShards`, applying each round's operations to
 * a copy (for tests, the CLI's preview and documentation). Stops at `roundsMax` (a bug guard).
 */
export function planScale(
  openShards: readonly PlannedShard[],
  targetShardCount: number,
  roundsMax = 64,
): ReshardOperation[][] {
  const rounds: ReshardOperation[][] = [];
  let shards: PlannedShard[] = [...openShards];
  let nextId = 0;
  for (;;) {
    const operations = planScaleRound(shards, targetShardCount);
    if (operations.length === 0) return rounds;
    if (rounds.length >= roundsMax) throw new Error(`planScale: no fixed point after ${roundsMax} rounds`);
    rounds.push(operations);
    const next = applyOperations(shards, operations, () => `planned-${nextId++}`);
    shards = next.map(({ shard }) => shard);
  }
}

/** A child made by a round: its range and its parents (one for a split, two for a merge). */
export interface PlannedChild {
  readonly shard: PlannedShard;
  /** Parent shard ids: [parent] for a split child, [lower, upper] for a merged child. */
  readonly parents: readonly string[];
}

/**
 * The open shards after a round: the untouched shards (no parents) and the children, in hash
 * order. `newId` names each child in hash order.
 */
export function applyOperations(
  openShards: readonly PlannedShard[],
  operations: readonly ReshardOperation[],
  newId: () => string,
): PlannedChild[] {
  const byId = new Map(openShards.map((shard) => [shard.shardId, shard]));
  const replaced = new Map<string, PlannedChild[]>();
  for (const operation of operations) {
    if (operation.kind === "split") {
      const parent = byId.get(operation.parent);
      if (parent === undefined) throw new Error(`applyOperations: no open shard ${operation.parent}`);
      const at = BigInt(operation.newStartingHashKey);
      const lower = { start: parent.hashKeyStart, end: (at - 1n).toString() };
      const upper = { start: operation.newStartingHashKey, end: parent.hashKeyEnd };
      replaced.set(parent.shardId, [
        {
          shard: { shardId: newId(), hashKeyStart: lower.start, hashKeyEnd: lower.end },
          parents: [parent.shardId],
        },
        {
          shard: { shardId: newId(), hashKeyStart: upper.start, hashKeyEnd: upper.end },
          parents: [parent.shardId],
        },
      ]);
    } else {
      const lower = byId.get(operation.lower);
      const upper = byId.get(operation.upper);
      if (lower === undefined || upper === undefined) {
        throw new Error(`applyOperations: no open shards ${operation.lower} and ${operation.upper}`);
      }
      replaced.set(lower.shardId, [
        {
          shard: { shardId: newId(), hashKeyStart: lower.hashKeyStart, hashKeyEnd: upper.hashKeyEnd },
          parents: [lower.shardId, upper.shardId],
        },
      ]);
      replaced.set(upper.shardId, []);
    }
  }
  const result: PlannedChild[] = [];
  for (const shard of sortedTiling(openShards)) {
    const children = replaced.get(shard.shardId);
    if (children === undefined) result.push({ shard: byId.get(shard.shardId) as PlannedShard, parents: [] });
    else result.push(...children);
  }
  return result;
}

// ---- helpers -------------------------------------------------------------------------------------

interface SortedShard {
  readonly shardId: string;
  readonly start: bigint;
  readonly end: bigint;
}

/** The shards sorted by start, checked to tile the whole hash key space. */
function sortedTiling(openShards: readonly PlannedShard[]): SortedShard[] {
  const shards = openShards
    .map((shard) => ({
      shardId: shard.shardId,
      start: BigInt(shard.hashKeyStart),
      end: BigInt(shard.hashKeyEnd),
    }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  let expected = 0n;
  for (const shard of shards) {
    if (shard.start !== expected || shard.end < shard.start) {
      throw new Error(
        `the open shards do not tile the hash key space at ${shard.shardId} (expected start ${expected})`,
      );
    }
    expected = shard.end + 1n;
  }
  if (expected !== HASH_KEY_MAX + 1n)
    throw new Error("the open shards do not reach the end of the hash key space");
  return shards;
}

/** The first target range start `b` with `start < b <= end`, if any. */
function firstBoundaryInside(
  targetStarts: readonly bigint[],
  start: bigint,
  end: bigint,
): bigint | undefined {
  // The first range start above `start`: binary search over the ascending starts.
  let low = 0;
  let high = targetStarts.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((targetStarts[middle] as bigint) <= start) low = middle + 1;
    else high = middle;
  }
  const candidate = targetStarts[low];
  return candidate !== undefined && candidate <= end ? candidate : undefined;
}

/** The index of the target range holding `key`. */
function rangeIndexOf(targetStarts: readonly bigint[], key: bigint): number {
  let low = 0;
  let high = targetStarts.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >>> 1;
    if ((targetStarts[middle] as bigint) <= key) low = middle;
    else high = middle - 1;
  }
  return low;
}
