/**
 * The commands of the metadata log and their results. Metadata is off the data path, so a
 * command is JSON in a Buffer. Every value that must be the same on every replica (time, random
 * bytes) is in the command, stamped by the proposer; apply reads nothing else.
 *
 * A `CommandResult` travels back to a proposer on another node, so it is plain JSON.
 */
import { COMMAND_BYTES_MAX } from "./constants.js";
import { MetadataErrorCode } from "./errors.js";
import type { GroupCommand } from "./groups/commands.js";
import type { ConsumerStatus, NodeInfo, StreamMode, StreamStatus } from "./state.js";

export type MetadataCommand =
  /** Sets the cluster secret (32 bytes, hex) unless it is set: then a no-op. */
  | { readonly type: "InitCluster"; readonly secretHex: string }
  /** Adds or replaces a node's registration. */
  | { readonly type: "RegisterNode"; readonly node: NodeInfo }
  /**
   * Controller: records whether a node is reachable from group 0's leader (`live: false` sets
   * its `downSinceMs` to `nowMs`; `live: true` clears it). No change when it already says so.
   */
  | {
      readonly type: "SetNodeLiveness";
      readonly nodeId: number;
      readonly live: boolean;
      readonly nowMs: number;
    }
  /** A new stream in CREATING with its shards placed. `shardCount` may be left out for ON_DEMAND. */
  | {
      readonly type: "CreateStream";
      readonly streamName: string;
      readonly shardCount?: number;
      readonly mode: StreamMode;
      readonly tags?: Readonly<Record<string, string>>;
      readonly nowMs: number;
    }
  /** Controller: moves a stream from `from` to `to` if it is still that stream in that status. */
  | {
      readonly type: "SetStreamStatus";
      readonly streamName: string;
      readonly streamId: number;
      readonly from: StreamStatus;
      readonly to: StreamStatus;
    }
  /** Moves a stream to DELETING (its groups are removed and the controller then removes it). */
  | { readonly type: "DeleteStream"; readonly streamName: string; readonly enforceConsumerDeletion: boolean }
  /** Controller: forgets a DELETING stream. */
  | { readonly type: "RemoveStream"; readonly streamName: string; readonly streamId: number }
  | { readonly type: "IncreaseRetention"; readonly streamName: string; readonly hours: number }
  | { readonly type: "DecreaseRetention"; readonly streamName: string; readonly hours: number }
  | { readonly type: "AddTags"; readonly streamName: string; readonly tags: Readonly<Record<string, string>> }
  | { readonly type: "RemoveTags"; readonly streamName: string; readonly tagKeys: readonly string[] }
  /**
   * Enables (or disables) shard-level metrics for a stream (Enable/DisableEnhancedMonitoring):
   * Kinesis metric names or "ALL". The result's value is { current, desired }, both sorted.
   */
  | {
      readonly type: "SetShardLevelMetrics";
      readonly streamName: string;
      readonly enable: boolean;
      readonly metrics: readonly string[];
    }
  /** A consumer in CREATING; the controller makes it ACTIVE. `streamName` may be the stream's ARN. */
  | {
      readonly type: "RegisterConsumer";
      readonly streamName: string;
      readonly consumerName: string;
      readonly nowMs: number;
    }
  /** Controller: moves a consumer from `from` to `to` if it is still that consumer in that status. */
  | {
      readonly type: "SetConsumerStatus";
      readonly streamName: string;
      readonly streamId: number;
      readonly consumerArn: string;
      readonly from: ConsumerStatus;
      readonly to: ConsumerStatus;
    }
  /**
   * SubscribeToShard starts: `holderId` (on node `nodeId`) becomes the one subscription of the
   * consumer to the shard. Refused (StreamInUse → ResourceInUseException) while another holder is
   * younger than SUBSCRIPTION_TAKEOVER_AFTER_MS; an older one is taken over (its node sees the
   * change and ends it). The value is `{ takenOver: holderId }` when one was.
   */
  | {
      readonly type: "AcquireSubscription";
      readonly consumerArn: string;
      readonly shardId: string;
      readonly holderId: string;
      readonly nodeId: number;
      readonly nowMs: number;
    }
  /** The subscription `holderId` ended; removes it if it still holds the shard (else no change). */
  | {
      readonly type: "ReleaseSubscription";
      readonly consumerArn: string;
      readonly shardId: string;
      readonly holderId: string;
    }
  /** Moves a consumer to DELETING; named by ARN, or by stream (name or ARN) and consumer name. */
  | {
      readonly type: "DeregisterConsumer";
      readonly streamName?: string;
      readonly consumerName?: string;
      readonly consumerArn?: string;
    }
  /** Controller: forgets a DELETING consumer. */
  | {
      readonly type: "RemoveConsumer";
      readonly streamName: string;
      readonly streamId: number;
      readonly consumerArn: string;
    }
  | { readonly type: "UpdateStreamMode"; readonly streamName: string; readonly mode: StreamMode }
  /**
   * StartStreamEncryption (`enable` true): adds the data key `wrappedKey` (base64, wrapped by the
   * master key `masterKeyId`) as the stream's next version and seals new records with it, under
   * the caller's `keyId`. StopStreamEncryption (`enable` false, no key): new records are plaintext
   * again; the data keys stay. The stream must be ACTIVE (STREAM_IN_USE); LIMIT_EXCEEDED past
   * STREAM_DATA_KEYS_MAX. Value: `{ keyVersion }` (0 after a stop).
   */
  | {
      readonly type: "SetStreamEncryption";
      readonly streamName: string;
      readonly enable: boolean;
      readonly keyId?: string;
      readonly masterKeyId?: string;
      readonly wrappedKey?: string;
    }
  /**
   * Splits an open shard of an ACTIVE stream at `newStartingHashKey` (decimal, inside the shard:
   * start < key <= end): two pending children, the stream UPDATING. Refusals: STREAM_IN_USE (not
   * ACTIVE), SHARD_NOT_FOUND, SHARD_CLOSED, INVALID_ARGUMENT (key), LIMIT_EXCEEDED.
   */
  | {
      readonly type: "SplitShard";
      readonly streamName: string;
      readonly shardToSplit: string;
      readonly newStartingHashKey: string;
      readonly nowMs: number;
    }
  /**
   * Merges two adjacent open shards (either order) into one pending child whose parentShardId is
   * `shardToMerge` and adjacentParentShardId `adjacentShardToMerge`. Refusals as SplitShard;
   * INVALID_ARGUMENT when they are not adjacent.
   */
  | {
      readonly type: "MergeShards";
      readonly streamName: string;
      readonly shardToMerge: string;
      readonly adjacentShardToMerge: string;
      readonly nowMs: number;
    }
  /**
   * Scales to `targetShardCount` open shards, the even split of the hash key space, in rounds of
   * splits and merges (reshard-plan.ts). Value: `{ currentShardCount, targetShardCount }`; the
   * current count is a no-op. INVALID_ARGUMENT outside [ceil(open / 2), 2 · open];
   * LIMIT_EXCEEDED above SHARDS_PER_STREAM_MAX.
   */
  | {
      readonly type: "UpdateShardCount";
      readonly streamName: string;
      readonly targetShardCount: number;
      readonly nowMs: number;
    }
  /** Controller: every child group of the round has a leader; the parents are to be sealed. */
  | {
      readonly type: "SealReshardParents";
      readonly streamName: string;
      readonly streamId: number;
      readonly round: number;
    }
  /**
   * Controller: every parent's seal is applied, at these log indexes (by parent shard id). The
   * parents close, the children open; a scale starts its next round or the stream turns ACTIVE.
   */
  | {
      readonly type: "CompleteReshardRound";
      readonly streamName: string;
      readonly streamId: number;
      readonly round: number;
      readonly endingIndexes: Readonly<Record<string, number>>;
      readonly nowMs: number;
    }
  /** Consumer groups: JoinGroup, GroupHeartbeat, GroupCheckpoint, LeaveGroup, ExpireGroupMembers. */
  | GroupCommand;

export type MetadataCommandType = MetadataCommand["type"];

export type CommandResult =
  | { readonly ok: true; readonly value?: unknown }
  | { readonly ok: false; readonly code: MetadataErrorCode; readonly message: string };

export function encodeCommand(command: MetadataCommand): Buffer {
  return Buffer.from(JSON.stringify(command), "utf8");
}

/**
 * Parses a command's bytes. Returns the parsed object (its fields are checked by apply) or a
 * failed result for bytes that are not a JSON object with a string `type`.
 */
export function decodeCommand(data: Uint8Array): { command: unknown } | { failure: CommandResult } {
  if (data.length > COMMAND_BYTES_MAX) {
    return failure(
      MetadataErrorCode.InvalidArgument,
      `command of ${data.length} bytes exceeds COMMAND_BYTES_MAX (${COMMAND_BYTES_MAX})`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
  } catch {
    return failure(
      MetadataErrorCode.InvalidArgument,
      "command is not valid JSON: send an encodeCommand() buffer",
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return failure(MetadataErrorCode.InvalidArgument, "command must be a JSON object with a type");
  }
  return { command: parsed };
}

function failure(code: MetadataErrorCode, message: string): { failure: CommandResult } {
  return { failure: { ok: false, code, message } };
}
