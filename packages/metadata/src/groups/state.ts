/**
 * Consumer-group state (part of the metadata state, Raft group 0): a group of members sharing
 * the shards of one stream. Every shard of the stream the group has seen has one entry with its
 * lease (owner and fencing epoch) and its checkpoint. Immutable and frozen like the rest of the
 * metadata state.
 */

export interface GroupMemberInfo {
  readonly memberId: string;
  /** The group's join counter at this member's last join: a re-joined member is told apart. */
  readonly memberEpoch: number;
  readonly joinedAtMs: number;
  /** Proposer-stamped time of the last heartbeat, join or checkpoint. */
  readonly heartbeatAtMs: number;
}

export interface GroupShardInfo {
  readonly shardId: string;
  /**
   * Fencing epoch: incremented every time the shard is assigned to a member. A checkpoint must
   * carry the current epoch of a lease its member holds, so a member that lost the lease (even
   * one that got it back later) can never write a checkpoint.
   */
  readonly leaseEpoch: number;
  /** The member that holds the lease; absent while unleased. */
  readonly owner?: string;
  /** When the lease was last assigned. */
  readonly leasedAtMs?: number;
  /** Sequence number of the last processed record; never moves backwards. */
  readonly checkpoint?: string;
  readonly checkpointedAtMs?: number;
  /** The shard was read to its end: never leased again; its children may be leased. */
  readonly shardEnd?: true;
}

export interface ConsumerGroupInfo {
  readonly streamName: string;
  /** The stream's id when the group was made: a group of a deleted and re-created stream is stale. */
  readonly streamId: number;
  readonly groupName: string;
  readonly sessionTimeoutMs: number;
  readonly createdAtMs: number;
  /** The last member epoch handed out. */
  readonly memberEpochs: number;
  /** By member id (ascending). */
  readonly members: readonly GroupMemberInfo[];
  /** By shard id (ascending, which is shard-number order). */
  readonly shards: readonly GroupShardInfo[];
}

/** The key of a group in `MetadataState.groups`: names never contain "/". */
export function groupKey(streamName: string, groupName: string): string {
  return `${streamName}/${groupName}`;
}

/** Compares two canonical decimal strings (no leading zeros) as numbers. */
export function compareSequenceNumbers(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
