/**
 * Lease assignment (pure, deterministic, run inside apply): which member holds which shard.
 *
 * 1. The group's shard list follows the stream's (not pending) shards; entries of shards the
 *    stream no longer has are dropped.
 * 2. A shard is leasable when it has not reached SHARD_END and every parent it has in the stream
 *    has (so a child is read only after its parents are finished, as the KCL does).
 * 3. Leases held by a non-member or on a shard no longer leasable are released.
 * 4. Unleased leasable shards go, in shard order, to the member holding the fewest (ties: member
 *    id order); then, while the fullest member holds two more than the emptiest, the fullest's
 *    highest shard moves to the emptiest. So counts differ by at most one, and a join moves only
 *    as many leases as the new member's share.
 *
 * Every assignment increments the shard's lease epoch (the fence) and stamps `leasedAtMs`.
 */
import type { StreamInfo } from "../state.js";
import type { ConsumerGroupInfo, GroupShardInfo } from "./state.js";

export function rebalance(group: ConsumerGroupInfo, stream: StreamInfo, nowMs: number): ConsumerGroupInfo {
  const existing = new Map(group.shards.map((shard) => [shard.shardId, shard]));
  const memberIds = new Set(group.members.map((member) => member.memberId));
  const visible = stream.shards.filter((shard) => shard.pending !== true);
  const inStream = new Set(visible.map((shard) => shard.shardId));
  const ended = new Set(
    group.shards.filter((shard) => shard.shardEnd === true).map((shard) => shard.shardId),
  );

  const shards: GroupShardInfo[] = [];
  const leasableIds = new Set<string>();
  for (const info of visible) {
    let entry: GroupShardInfo = existing.get(info.shardId) ?? { shardId: info.shardId, leaseEpoch: 0 };
    const parents = [info.parentShardId, info.adjacentParentShardId].filter(
      (id): id is string => id !== undefined && inStream.has(id),
    );
    const canLease = entry.shardEnd !== true && parents.every((id) => ended.has(id));
    if (entry.owner !== undefined && (!canLease || !memberIds.has(entry.owner))) entry = release(entry);
    if (canLease) leasableIds.add(info.shardId);
    shards.push(entry);
  }
  // Shard ids are zero-padded shard numbers, so stream order is id order; sort to be sure.
  shards.sort((a, b) => (a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0));

  const order = group.members.map((member) => member.memberId);
  const held = new Map<string, number[]>(order.map((id) => [id, []]));
  shards.forEach((entry, index) => {
    if (entry.owner !== undefined) held.get(entry.owner)?.push(index);
  });
  const fewest = (): string | undefined => {
    let best: string | undefined;
    for (const id of order)
      if (best === undefined || (held.get(id)?.length ?? 0) < (held.get(best)?.length ?? 0)) best = id;
    return best;
  };
  const most = (): string | undefined => {
    let best: string | undefined;
    for (const id of order)
      if (best === undefined || (held.get(id)?.length ?? 0) > (held.get(best)?.length ?? 0)) best = id;
    return best;
  };
  const assign = (index: number, owner: string): void => {
    const entry = shards[index] as GroupShardInfo;
    shards[index] = { ...entry, owner, leaseEpoch: entry.leaseEpoch + 1, leasedAtMs: nowMs };
    held.get(owner)?.push(index);
  };

  if (order.length > 0) {
    shards.forEach((entry, index) => {
      if (entry.owner === undefined && leasableIds.has(entry.shardId)) assign(index, fewest() as string);
    });
    for (;;) {
      const from = most() as string;
      const to = fewest() as string;
      const fromHeld = held.get(from) as number[];
      const toHeld = held.get(to) as number[];
      if (fromHeld.length - toHeld.length <= 1) break;
      fromHeld.sort((a, b) => a - b);
      const index = fromHeld.pop() as number;
      assign(index, to);
    }
  }

  const changed =
    shards.length !== group.shards.length || shards.some((entry, index) => entry !== group.shards[index]);
  if (!changed) return group;
  return Object.freeze({ ...group, shards: Object.freeze(shards.map((entry) => Object.freeze(entry))) });
}

function release(entry: GroupShardInfo): GroupShardInfo {
  const { owner: _owner, ...rest } = entry;
  return rest;
}
