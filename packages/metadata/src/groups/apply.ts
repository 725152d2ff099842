/**
 * Apply of the consumer-group commands (commands.ts): pure and deterministic like every metadata
 * apply. Bad input never throws: a refusal is a failed CommandResult and the state is unchanged.
 * Membership changes, heartbeats and SHARD_END checkpoints run the lease assignment (assign.ts).
 */
import type { ApplyOutcome } from "../apply-outcome.js";
import type { CommandResult } from "../commands.js";
import { MetadataErrorCode } from "../errors.js";
import type { MetadataState, StreamInfo } from "../state.js";
import { rebalance } from "./assign.js";
import type { GroupHeartbeat, GroupLease } from "./commands.js";
import {
  GROUP_MEMBER_ID_LENGTH_MAX,
  GROUP_MEMBERS_MAX,
  GROUP_NAME_LENGTH_MAX,
  GROUP_SESSION_TIMEOUT_MS_DEFAULT,
  GROUP_SESSION_TIMEOUT_MS_MAX,
  GROUP_SESSION_TIMEOUT_MS_MIN,
  GROUPS_PER_STREAM_MAX,
  SEQUENCE_NUMBER_DIGITS_MAX,
} from "./constants.js";
import { type ConsumerGroupInfo, compareSequenceNumbers, type GroupMemberInfo, groupKey } from "./state.js";

type Input = Readonly<Record<string, unknown>>;

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
const SEQUENCE_PATTERN = /^(0|[1-9][0-9]*)$/;

class Refusal {
  constructor(
    readonly code: MetadataErrorCode,
    readonly message: string,
  ) {}
}

function refuse(code: MetadataErrorCode, message: string): never {
  throw new Refusal(code, message);
}

/** The groups of a state (an empty map for states made before groups existed). */
export function groupsOf(state: MetadataState): ReadonlyMap<string, ConsumerGroupInfo> {
  return state.groups ?? EMPTY_GROUPS;
}

const EMPTY_GROUPS: ReadonlyMap<string, ConsumerGroupInfo> = new Map();

/** Applies one group command (its `type` is one of GROUP_COMMAND_TYPES). */
export function applyGroupCommand(state: MetadataState, input: Input): ApplyOutcome {
  try {
    switch (input.type) {
      case "JoinGroup":
        return join(state, input);
      case "GroupHeartbeat":
        return heartbeat(state, input);
      case "GroupCheckpoint":
        return checkpoint(state, input);
      case "LeaveGroup":
        return leave(state, input);
      case "ExpireGroupMembers":
        return expire(state, input);
      default:
        return refuse(MetadataErrorCode.InvalidArgument, `unknown group command ${String(input.type)}`);
    }
  } catch (error) {
    if (error instanceof Refusal) {
      return { state, result: { ok: false, code: error.code, message: error.message }, changedStreams: [] };
    }
    throw error;
  }
}

function join(state: MetadataState, input: Input): ApplyOutcome {
  const stream = activeStream(state, input.streamName);
  const groupName = name(input.groupName, "groupName", GROUP_NAME_LENGTH_MAX);
  const memberId = name(input.memberId, "memberId", GROUP_MEMBER_ID_LENGTH_MAX);
  const nowMs = time(input.nowMs);
  const timeout =
    input.sessionTimeoutMs === undefined
      ? undefined
      : integer(
          input.sessionTimeoutMs,
          "sessionTimeoutMs",
          GROUP_SESSION_TIMEOUT_MS_MIN,
          GROUP_SESSION_TIMEOUT_MS_MAX,
        );
  const key = groupKey(stream.streamName, groupName);
  let group = groupsOf(state).get(key);
  if (group === undefined || group.streamId !== stream.streamId) {
    const perStream = [...groupsOf(state).values()].filter(
      (g) => g.streamName === stream.streamName && g.streamId === stream.streamId,
    ).length;
    if (perStream >= GROUPS_PER_STREAM_MAX) {
      refuse(
        MetadataErrorCode.LimitExceeded,
        `stream ${stream.streamName} has ${perStream} consumer groups, GROUPS_PER_STREAM_MAX (${GROUPS_PER_STREAM_MAX}): reuse or remove one`,
      );
    }
    group = {
      streamName: stream.streamName,
      streamId: stream.streamId,
      groupName,
      sessionTimeoutMs: timeout ?? GROUP_SESSION_TIMEOUT_MS_DEFAULT,
      createdAtMs: nowMs,
      memberEpochs: 0,
      members: [],
      shards: [],
    };
  }
  const others = group.members.filter((member) => member.memberId !== memberId);
  if (others.length >= GROUP_MEMBERS_MAX) {
    refuse(
      MetadataErrorCode.LimitExceeded,
      `group ${groupName} has GROUP_MEMBERS_MAX (${GROUP_MEMBERS_MAX}) members: run fewer workers`,
    );
  }
  const memberEpoch = group.memberEpochs + 1;
  const member: GroupMemberInfo = Object.freeze({
    memberId,
    memberEpoch,
    joinedAtMs: nowMs,
    heartbeatAtMs: nowMs,
  });
  // A re-join is a new incarnation: the old one's leases are released (their epochs fence it).
  const released = group.shards.map((shard) => {
    if (shard.owner !== memberId) return shard;
    const { owner: _owner, ...rest } = shard;
    return Object.freeze(rest);
  });
  const members = [...others, member].sort((a, b) => compare(a.memberId, b.memberId));
  const next = rebalance(
    { ...group, memberEpochs: memberEpoch, members: Object.freeze(members), shards: Object.freeze(released) },
    stream,
    nowMs,
  );
  return withGroup(state, key, next, { memberEpoch, sessionTimeoutMs: next.sessionTimeoutMs });
}

function heartbeat(state: MetadataState, input: Input): ApplyOutcome {
  const { stream, key, group } = existingGroup(state, input);
  const memberId = string(input.memberId, "memberId");
  const nowMs = time(input.nowMs);
  const member = group.members.find((m) => m.memberId === memberId);
  if (member === undefined || overdue(group, member, nowMs)) {
    // An overdue member is not revived: the controller is about to expire it and move its leases.
    refuse(
      MetadataErrorCode.GroupMemberNotFound,
      `member ${memberId} is not in group ${group.groupName} (silent for over ${group.sessionTimeoutMs} ms, or left): join again`,
    );
  }
  const members = group.members.map((m) =>
    m === member ? Object.freeze({ ...m, heartbeatAtMs: nowMs }) : m,
  );
  const next = expireOverdue({ ...group, members: Object.freeze(members) }, stream, nowMs);
  return withGroup(state, key, next, heartbeatValue(next, stream, memberId));
}

function checkpoint(state: MetadataState, input: Input): ApplyOutcome {
  const { stream, key, group } = existingGroup(state, input);
  const memberId = string(input.memberId, "memberId");
  const shardId = string(input.shardId, "shardId");
  const leaseEpoch = integer(input.leaseEpoch, "leaseEpoch", 0, Number.MAX_SAFE_INTEGER);
  const sequenceNumber = string(input.sequenceNumber, "sequenceNumber");
  const shardEnd = boolean(input.shardEnd, "shardEnd");
  const nowMs = time(input.nowMs);
  if (
    sequenceNumber === ""
      ? !shardEnd
      : !SEQUENCE_PATTERN.test(sequenceNumber) || sequenceNumber.length > SEQUENCE_NUMBER_DIGITS_MAX
  ) {
    refuse(
      MetadataErrorCode.InvalidArgument,
      `sequenceNumber ${JSON.stringify(sequenceNumber)} is not a sequence number`,
    );
  }
  const index = group.shards.findIndex((s) => s.shardId === shardId);
  const shard = group.shards[index];
  const member = group.members.find((m) => m.memberId === memberId);
  if (
    shard === undefined ||
    member === undefined ||
    shard.owner !== memberId ||
    shard.leaseEpoch !== leaseEpoch
  ) {
    refuse(
      MetadataErrorCode.LeaseLost,
      `member ${memberId} does not hold shard ${shardId} of group ${group.groupName} at lease epoch ${leaseEpoch}` +
        ` (now ${shard === undefined ? "unknown shard" : `epoch ${shard.leaseEpoch}, owner ${shard.owner ?? "none"}`}): stop processing the shard`,
    );
  }
  if (
    sequenceNumber !== "" &&
    shard.checkpoint !== undefined &&
    compareSequenceNumbers(sequenceNumber, shard.checkpoint) < 0
  ) {
    refuse(
      MetadataErrorCode.InvalidArgument,
      `checkpoint ${sequenceNumber} of shard ${shardId} is below the stored ${shard.checkpoint}: checkpoints never move backwards`,
    );
  }
  let updated = { ...shard, checkpointedAtMs: nowMs };
  if (sequenceNumber !== "") updated.checkpoint = sequenceNumber;
  if (shardEnd) {
    const { owner: _owner, ...rest } = updated;
    updated = { ...rest, shardEnd: true };
  }
  const shards = [...group.shards];
  shards[index] = Object.freeze(updated);
  const members = group.members.map((m) =>
    m === member ? Object.freeze({ ...m, heartbeatAtMs: nowMs }) : m,
  );
  let next: ConsumerGroupInfo = { ...group, members: Object.freeze(members), shards: Object.freeze(shards) };
  if (shardEnd) next = rebalance(next, stream, nowMs);
  return withGroup(state, key, next);
}

function leave(state: MetadataState, input: Input): ApplyOutcome {
  const { stream, key, group } = existingGroup(state, input);
  const memberId = string(input.memberId, "memberId");
  const nowMs = time(input.nowMs);
  if (!group.members.some((m) => m.memberId === memberId)) return { state, result: OK, changedStreams: [] };
  const members = group.members.filter((m) => m.memberId !== memberId);
  return withGroup(state, key, rebalance({ ...group, members: Object.freeze(members) }, stream, nowMs));
}

function expire(state: MetadataState, input: Input): ApplyOutcome {
  const { stream, key, group } = existingGroup(state, input);
  const nowMs = time(input.nowMs);
  const next = expireOverdue(group, stream, nowMs);
  const expired = group.members.filter((m) => !next.members.includes(m)).map((m) => m.memberId);
  if (next === group) return { state, result: { ok: true, value: { expired } }, changedStreams: [] };
  return withGroup(state, key, next, { expired });
}

/** Removes overdue members and rebalances (always, so stream changes reach the leases). */
function expireOverdue(group: ConsumerGroupInfo, stream: StreamInfo, nowMs: number): ConsumerGroupInfo {
  const alive = group.members.filter((m) => !overdue(group, m, nowMs));
  const base = alive.length === group.members.length ? group : { ...group, members: Object.freeze(alive) };
  return rebalance(base, stream, nowMs);
}

/** True when the member's last heartbeat is older than the session timeout at `nowMs`. */
export function overdue(group: ConsumerGroupInfo, member: GroupMemberInfo, nowMs: number): boolean {
  return nowMs - member.heartbeatAtMs > group.sessionTimeoutMs;
}

function heartbeatValue(group: ConsumerGroupInfo, stream: StreamInfo, memberId: string): GroupHeartbeat {
  const member = group.members.find((m) => m.memberId === memberId) as GroupMemberInfo;
  const withParents = new Set(
    stream.shards
      .filter((s) => s.parentShardId !== undefined || s.adjacentParentShardId !== undefined)
      .map((s) => s.shardId),
  );
  const leases: GroupLease[] = group.shards
    .filter((s) => s.owner === memberId)
    .map((s) => ({
      shardId: s.shardId,
      leaseEpoch: s.leaseEpoch,
      ...(s.checkpoint === undefined ? {} : { checkpoint: s.checkpoint }),
      fromTrimHorizon: withParents.has(s.shardId),
    }));
  return { memberEpoch: member.memberEpoch, leases };
}

const OK: CommandResult = Object.freeze({ ok: true });

function withGroup(
  state: MetadataState,
  key: string,
  group: ConsumerGroupInfo,
  value?: unknown,
): ApplyOutcome {
  const groups = new Map(groupsOf(state));
  groups.set(key, Object.freeze(group));
  return {
    state: Object.freeze({ ...state, groups }),
    result: value === undefined ? OK : { ok: true, value },
    changedStreams: [],
  };
}

function activeStream(state: MetadataState, ref: unknown): StreamInfo {
  const nameOrArn = string(ref, "streamName");
  const stream = nameOrArn.startsWith("arn:")
    ? [...state.streams.values()].find((s) => s.streamArn === nameOrArn)
    : state.streams.get(nameOrArn);
  if (stream === undefined || stream.status === "DELETING") {
    refuse(MetadataErrorCode.StreamNotFound, `stream ${nameOrArn} not found: create it first`);
  }
  return stream;
}

function existingGroup(
  state: MetadataState,
  input: Input,
): { stream: StreamInfo; key: string; group: ConsumerGroupInfo } {
  const stream = activeStream(state, input.streamName);
  const groupName = string(input.groupName, "groupName");
  const key = groupKey(stream.streamName, groupName);
  const group = groupsOf(state).get(key);
  if (group === undefined || group.streamId !== stream.streamId) {
    refuse(
      MetadataErrorCode.ConsumerGroupNotFound,
      `consumer group ${groupName} of stream ${stream.streamName} not found: a member must join it first`,
    );
  }
  return { stream, key, group };
}

function string(value: unknown, field: string): string {
  if (typeof value !== "string") refuse(MetadataErrorCode.InvalidArgument, `${field} must be a string`);
  return value;
}

function name(value: unknown, field: string, max: number): string {
  const text = string(value, field);
  if (text.length < 1 || text.length > max || !NAME_PATTERN.test(text)) {
    refuse(MetadataErrorCode.InvalidArgument, `${field} must be 1 to ${max} characters of [a-zA-Z0-9_.-]`);
  }
  return text;
}

function integer(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    refuse(MetadataErrorCode.InvalidArgument, `${field} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function time(value: unknown): number {
  return integer(value, "nowMs", 0, Number.MAX_SAFE_INTEGER);
}

function boolean(value: unknown, field: string): boolean {
  if (typeof value !== "boolean") refuse(MetadataErrorCode.InvalidArgument, `${field} must be a boolean`);
  return value;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
