/**
 * The consumer-group commands of the metadata log (JSON, like every metadata command). Time is
 * stamped by the proposer (`nowMs`); apply reads nothing else, so every replica agrees on who
 * expired and who holds which lease.
 */

export type GroupCommand =
  /**
   * Joins (or re-joins) a member, creating the group on first use with `sessionTimeoutMs`
   * (GROUP_SESSION_TIMEOUT_MS_DEFAULT when absent). A re-join releases the member's leases (a
   * new epoch fences its previous incarnation). Value: `{ memberEpoch, sessionTimeoutMs }`.
   */
  | {
      readonly type: "JoinGroup";
      readonly streamName: string;
      readonly groupName: string;
      readonly memberId: string;
      readonly sessionTimeoutMs?: number;
      readonly nowMs: number;
    }
  /**
   * Keeps a member alive, expires overdue members and rebalances. Value: `GroupHeartbeat`.
   * GROUP_MEMBER_NOT_FOUND when the member expired or left (join again).
   */
  | {
      readonly type: "GroupHeartbeat";
      readonly streamName: string;
      readonly groupName: string;
      readonly memberId: string;
      readonly nowMs: number;
    }
  /**
   * Stores a checkpoint for a shard the member leases at `leaseEpoch`; LEASE_LOST otherwise.
   * `shardEnd` finishes the shard (released, never leased again) and may make children leasable.
   * A sequence number below the stored checkpoint is INVALID_ARGUMENT (checkpoints never move
   * backwards); an equal one is accepted.
   */
  | {
      readonly type: "GroupCheckpoint";
      readonly streamName: string;
      readonly groupName: string;
      readonly memberId: string;
      readonly shardId: string;
      readonly leaseEpoch: number;
      /** Empty only with shardEnd (nothing new since the last checkpoint). */
      readonly sequenceNumber: string;
      readonly shardEnd: boolean;
      readonly nowMs: number;
    }
  /** Removes a member (idempotent); its leases are reassigned at once. */
  | {
      readonly type: "LeaveGroup";
      readonly streamName: string;
      readonly groupName: string;
      readonly memberId: string;
      readonly nowMs: number;
    }
  /** Controller: removes every member silent for longer than the session timeout at `nowMs`. */
  | {
      readonly type: "ExpireGroupMembers";
      readonly streamName: string;
      readonly groupName: string;
      readonly nowMs: number;
    };

export type GroupCommandType = GroupCommand["type"];

export const GROUP_COMMAND_TYPES: ReadonlySet<string> = new Set<GroupCommandType>([
  "JoinGroup",
  "GroupHeartbeat",
  "GroupCheckpoint",
  "LeaveGroup",
  "ExpireGroupMembers",
]);

/** One lease as a heartbeat returns it. */
export interface GroupLease {
  readonly shardId: string;
  readonly leaseEpoch: number;
  /** Absent when the shard has no checkpoint yet. */
  readonly checkpoint?: string;
  /** The shard is a reshard's child: with no checkpoint, read it from TRIM_HORIZON. */
  readonly fromTrimHorizon: boolean;
}

/** The value of a GroupHeartbeat command. */
export interface GroupHeartbeat {
  readonly memberEpoch: number;
  readonly leases: readonly GroupLease[];
}
