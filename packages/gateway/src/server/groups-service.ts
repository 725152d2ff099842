/**
 * The public gRPC service `sluice.v1.ConsumerGroupService` (groups.proto): consumer groups kept
 * in the metadata group, served by every node. Each call is validated here and becomes one
 * metadata command through the node's ConsumerGroupCoordinator (which also expires silent
 * members while this node leads group 0); DescribeGroup reads after a metadata read barrier and
 * adds each shard's lag, in log entries, from this node's replica of the shard. Errors go through
 * the gateway's one error table (LEASE_LOST, GROUP_MEMBER_NOT_FOUND, CONSUMER_GROUP_NOT_FOUND,
 * …), like StreamsService's.
 */
import type { handleUnaryCall } from "@grpc/grpc-js";
import type { Broker } from "@sluice/broker";
import {
  ConsumerGroupCoordinator,
  ConsumerGroupNotFoundError,
  type GroupMetadataPort,
  groupConstants,
  type MetadataView,
} from "@sluice/metadata";
import type { groups } from "@sluice/proto";
import { ValidationError } from "../errors.js";
import { shardPositionOf } from "../shard-sequence.js";
import { validateStreamName } from "../validation.js";
import { unaryCall } from "./grpc-calls.js";

const NAME_PATTERN = /^[a-zA-Z0-9_.-]+$/;
const SEQUENCE_PATTERN = /^(0|[1-9][0-9]*)$/;

export interface ConsumerGroupGatewayOptions {
  /** The node's MetadataService (it has everything GroupMetadataPort asks for). */
  readonly metadata: GroupMetadataPort;
  /** For each shard's tip in DescribeGroup; absent: lag is -1 (unknown). */
  readonly broker?: Pick<Broker, "groupStatus">;
  /** Wall clock in ms. @default Date.now */
  readonly clock?: () => number;
  /** Counts each call by operation and outcome (for metrics). */
  readonly observe?: (operation: string, outcome: string, startedAtMs: number) => void;
}

export class ConsumerGroupGateway {
  readonly service: groups.ConsumerGroupServiceServer;
  readonly coordinator: ConsumerGroupCoordinator;
  private readonly options: ConsumerGroupGatewayOptions;

  constructor(options: ConsumerGroupGatewayOptions) {
    this.options = options;
    const clock = options.clock ?? Date.now;
    const coordinator = new ConsumerGroupCoordinator({ metadata: options.metadata, clock });
    this.coordinator = coordinator;
    const unary = <Req, Res>(
      operation: string,
      run: (request: Req) => Promise<Res>,
    ): handleUnaryCall<Req, Res> => unaryCall(operation, run, clock, options.observe);
    this.service = {
      joinGroup: unary("JoinGroup", async (request: groups.JoinGroupRequest) => {
        const ref = memberRef(request);
        const timeout = request.sessionTimeoutMs;
        if (
          timeout !== undefined &&
          (timeout < groupConstants.GROUP_SESSION_TIMEOUT_MS_MIN ||
            timeout > groupConstants.GROUP_SESSION_TIMEOUT_MS_MAX)
        ) {
          throw new ValidationError(
            `SessionTimeoutMs ${timeout} must be from ${groupConstants.GROUP_SESSION_TIMEOUT_MS_MIN} to ${groupConstants.GROUP_SESSION_TIMEOUT_MS_MAX}`,
          );
        }
        const joined = await coordinator.join({ ...ref, sessionTimeoutMs: timeout });
        return {
          memberEpoch: joined.memberEpoch,
          sessionTimeoutMs: joined.sessionTimeoutMs,
          heartbeatIntervalMs: joined.heartbeatIntervalMs,
        };
      }),
      heartbeat: unary("Heartbeat", async (request: groups.HeartbeatRequest) => {
        const beat = await coordinator.heartbeat(memberRef(request));
        return {
          memberEpoch: beat.memberEpoch,
          leases: beat.leases.map((lease) => ({
            shardId: lease.shardId,
            leaseEpoch: lease.leaseEpoch,
            checkpointSequenceNumber: lease.checkpoint ?? "",
            fromTrimHorizon: lease.fromTrimHorizon,
            owner: request.memberId,
            shardEnd: false,
            lagEntries: -1,
            leasedAt: 0,
          })),
        };
      }),
      checkpoint: unary("Checkpoint", async (request: groups.CheckpointRequest) => {
        const ref = memberRef(request);
        name(request.shardId, "ShardId");
        if (
          request.sequenceNumber === "" ? !request.shardEnd : !SEQUENCE_PATTERN.test(request.sequenceNumber)
        ) {
          throw new ValidationError(
            `SequenceNumber ${JSON.stringify(request.sequenceNumber)} must be a decimal sequence number (empty only with ShardEnd)`,
          );
        }
        await coordinator.checkpoint({
          ...ref,
          shardId: request.shardId,
          leaseEpoch: request.leaseEpoch,
          sequenceNumber: request.sequenceNumber,
          shardEnd: request.shardEnd,
        });
        return {};
      }),
      leaveGroup: unary("LeaveGroup", async (request: groups.LeaveGroupRequest) => {
        await coordinator.leave(memberRef(request));
        return {};
      }),
      describeGroup: unary("DescribeGroup", async (request: groups.DescribeGroupRequest) => {
        const streamName = validateStreamName(request.streamName);
        const groupName = name(request.groupName, "GroupName");
        const group = await coordinator.describe(streamName, groupName);
        if (group === undefined) {
          throw new ConsumerGroupNotFoundError(
            `consumer group ${groupName} of stream ${streamName} not found: a member must join it first`,
          );
        }
        const view = options.metadata.view();
        const held = new Map<string, number>();
        for (const shard of group.shards) {
          if (shard.owner !== undefined) held.set(shard.owner, (held.get(shard.owner) ?? 0) + 1);
        }
        return {
          streamName: group.streamName,
          groupName: group.groupName,
          sessionTimeoutMs: group.sessionTimeoutMs,
          members: group.members.map((member) => ({
            memberId: member.memberId,
            memberEpoch: member.memberEpoch,
            joinedAt: member.joinedAtMs,
            lastHeartbeat: member.heartbeatAtMs,
            leaseCount: held.get(member.memberId) ?? 0,
          })),
          shards: group.shards.map((shard) => ({
            shardId: shard.shardId,
            leaseEpoch: shard.leaseEpoch,
            checkpointSequenceNumber: shard.checkpoint ?? "",
            fromTrimHorizon: false,
            owner: shard.owner ?? "",
            shardEnd: shard.shardEnd === true,
            lagEntries: this.lagOf(
              view,
              group.streamName,
              shard.shardId,
              shard.checkpoint,
              shard.shardEnd === true,
            ),
            leasedAt: shard.leasedAtMs ?? 0,
          })),
        };
      }),
    };
  }

  /** Starts expiring silent members (acts only while this node leads group 0). */
  start(): void {
    this.coordinator.start();
  }

  close(): void {
    this.coordinator.stop();
  }

  /** Log entries between the checkpoint and the shard's tip on this node's replica; -1 when unknown. */
  private lagOf(
    view: MetadataView,
    streamName: string,
    shardId: string,
    checkpoint: string | undefined,
    shardEnd: boolean,
  ): number {
    if (shardEnd) return 0;
    const shard = view.stream(streamName)?.shards.find((s) => s.shardId === shardId);
    const broker = this.options.broker;
    if (shard === undefined || broker === undefined) return -1;
    let tip: number;
    if (shard.endingIndex !== undefined) {
      tip = shard.endingIndex - 1;
    } else {
      try {
        tip = broker.groupStatus(shard.groupId).appliedIndex;
      } catch {
        return -1;
      }
    }
    const at = checkpoint === undefined ? 0 : (shardPositionOf(shard, checkpoint)?.index ?? 0);
    return Math.max(0, tip - at);
  }
}

function memberRef(request: { streamName: string; groupName: string; memberId: string }): {
  streamName: string;
  groupName: string;
  memberId: string;
} {
  return {
    streamName: validateStreamName(request.streamName),
    groupName: name(request.groupName, "GroupName"),
    memberId: name(request.memberId, "MemberId"),
  };
}

function name(value: string, field: string): string {
  if (value.length < 1 || value.length > groupConstants.GROUP_NAME_LENGTH_MAX || !NAME_PATTERN.test(value)) {
    throw new ValidationError(
      `${field} ${JSON.stringify(value)} must be 1 to ${groupConstants.GROUP_NAME_LENGTH_MAX} characters of [a-zA-Z0-9_.-]`,
    );
  }
  return value;
}
