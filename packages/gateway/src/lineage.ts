/**
 * Shard lineage after reshards: which shards route writes, which are listed, a closed shard's
 * children (the ChildShards of GetRecords and SubscribeToShard), and ListShards' ShardFilter.
 * Pure functions over the metadata's shard list (any order), so the rules are tested without a
 * cluster.
 *
 * Time model. A shard made by CreateStream (no parent) is open from the start of the stream; a
 * child opens when its parents close (the reshard round completes: every parent's `closedAtMs` is
 * the child's opening time); a closed shard's records are all older than its `closedAtMs`, so a
 * shard closed at or before the trim horizon (now − retention) holds no record any more and is
 * "expired". Pending children (being created by a reshard) are invisible: not routed, not
 * listed, not anyone's ChildShards yet.
 */
import type { ValidatedShardFilter } from "./validation.js";

/** What lineage needs of a shard (metadata's ShardInfo has these fields). */
export interface LineageShard {
  readonly shardId: string;
  readonly shardNumber: number;
  readonly hashKeyStart: string;
  readonly hashKeyEnd: string;
  readonly parentShardId?: string | undefined;
  readonly adjacentParentShardId?: string | undefined;
  readonly createdAtMs: number;
  /** Set when a reshard closed the shard. */
  readonly closedAtMs?: number | undefined;
  /** A reshard's child that is not open yet. */
  readonly pending?: boolean | undefined;
}

/** One entry of ChildShards. */
export interface ChildShardView {
  readonly shardId: string;
  /** The child's parents: ParentShardId, then AdjacentParentShardId after a merge. */
  readonly parentShards: string[];
  readonly hashKeyRange: { readonly startingHashKey: string; readonly endingHashKey: string };
}

/** True for a shard that takes writes: open and not pending. */
export function isRoutable(shard: LineageShard): boolean {
  return shard.closedAtMs === undefined && shard.pending !== true;
}

/** True for a shard that ListShards, DescribeStream and the read calls show: not pending. */
export function isListed(shard: LineageShard): boolean {
  return shard.pending !== true;
}

/** The parents of a shard, as ids: none, one (split) or two (merge). */
export function parentsOf(shard: LineageShard): string[] {
  const parents: string[] = [];
  if (shard.parentShardId !== undefined && shard.parentShardId !== "") parents.push(shard.parentShardId);
  if (shard.adjacentParentShardId !== undefined && shard.adjacentParentShardId !== "") {
    parents.push(shard.adjacentParentShardId);
  }
  return parents;
}

/**
 * The ChildShards of `shardId`: the listed shards that name it as ParentShardId or
 * AdjacentParentShardId, in shard-number order. Empty for an open shard (and for a closed one
 * whose children are still pending: the caller must then not report the shard as drained).
 */
export function childShardsOf(shards: readonly LineageShard[], shardId: string): ChildShardView[] {
  return shards
    .filter(
      (shard) =>
        isListed(shard) && (shard.parentShardId === shardId || shard.adjacentParentShardId === shardId),
    )
    .sort((a, b) => a.shardNumber - b.shardNumber)
    .map((shard) => ({
      shardId: shard.shardId,
      parentShards: parentsOf(shard),
      hashKeyRange: { startingHashKey: shard.hashKeyStart, endingHashKey: shard.hashKeyEnd },
    }));
}

/**
 * When the shard opened: −∞ for a shard with no parent (open since the stream began); for a
 * child, the latest closing time of its parents that are still in `byId` (its creation time when
 * none is).
 */
export function openedAtMs(shard: LineageShard, byId: ReadonlyMap<string, LineageShard>): number {
  const parents = parentsOf(shard);
  if (parents.length === 0) return Number.NEGATIVE_INFINITY;
  let opened = Number.NEGATIVE_INFINITY;
  for (const id of parents) {
    const closed = byId.get(id)?.closedAtMs;
    if (closed !== undefined && closed > opened) opened = closed;
  }
  return opened === Number.NEGATIVE_INFINITY ? shard.createdAtMs : opened;
}

/** What the ShardFilter needs besides the shards: the time and the stream's retention. */
export interface LineageClock {
  readonly nowMs: number;
  readonly retentionMs: number;
}

/**
 * ListShards' ShardFilter, per the Kinesis documentation, over the listed shards (pending ones
 * never appear), returned in shard-number order:
 * - AFTER_SHARD_ID: the shards whose id sorts after the given one;
 * - AT_LATEST: the open shards (where a consumer starting at the tip reads);
 * - AT_TRIM_HORIZON: the shards open at the trim horizon (now − retention): where a consumer
 *   that starts at the oldest data begins; their descendants come after them;
 * - FROM_TRIM_HORIZON: every shard that still holds data (not closed at or before the horizon);
 * - AT_TIMESTAMP t: the shards open at t (created at or before t, and open or closed at or after
 *   t), taking t no earlier than the trim horizon;
 * - FROM_TIMESTAMP t: the shards open at t and all their descendants: every shard open, or closed
 *   at or after t (again no earlier than the horizon).
 */
export function filterShardsByLineage(
  shards: readonly LineageShard[],
  filter: ValidatedShardFilter,
  clock: LineageClock,
): LineageShard[] {
  const listed = shards.filter(isListed).sort((a, b) => a.shardNumber - b.shardNumber);
  const byId = new Map(listed.map((shard) => [shard.shardId, shard] as const));
  const horizonMs = clock.nowMs - clock.retentionMs;
  const openAt = (shard: LineageShard, atMs: number) =>
    openedAtMs(shard, byId) <= atMs && (shard.closedAtMs === undefined || shard.closedAtMs >= atMs);
  const notClosedBefore = (shard: LineageShard, atMs: number) =>
    shard.closedAtMs === undefined || shard.closedAtMs >= atMs;
  switch (filter.type) {
    case "AFTER_SHARD_ID":
      return listed.filter((shard) => shard.shardId > filter.shardId);
    case "AT_LATEST":
      return listed.filter((shard) => shard.closedAtMs === undefined);
    case "AT_TRIM_HORIZON":
      return listed.filter((shard) => openAt(shard, horizonMs) && notExpired(shard, horizonMs));
    case "FROM_TRIM_HORIZON":
      return listed.filter((shard) => notExpired(shard, horizonMs));
    case "AT_TIMESTAMP": {
      const atMs = Math.max(filter.timestampMs, horizonMs);
      return listed.filter((shard) => openAt(shard, atMs) && notExpired(shard, horizonMs));
    }
    case "FROM_TIMESTAMP": {
      const atMs = Math.max(filter.timestampMs, horizonMs);
      return listed.filter((shard) => notClosedBefore(shard, atMs) && notExpired(shard, horizonMs));
    }
  }
}

function notExpired(shard: LineageShard, horizonMs: number): boolean {
  return shard.closedAtMs === undefined || shard.closedAtMs > horizonMs;
}
