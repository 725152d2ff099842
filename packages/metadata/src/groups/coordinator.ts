/**
 * `ConsumerGroupCoordinator`: one node's handle on consumer groups. Every change is a command of
 * the metadata group (proposed through the MetadataService, so any node serves any group), and
 * while this node leads group 0 (runs the controller) it expires silent members every
 * GROUP_EXPIRY_POLL_MS. Each method resolves once its command is applied on this node and throws
 * the typed error of a refusal (LeaseLostError, GroupMemberNotFoundError,
 * ConsumerGroupNotFoundError, StreamNotFoundError, InvalidArgumentError, LimitExceededError) or a
 * retriable MetadataUnavailableError / MetadataTimeoutError.
 */
import type { CommandResult, MetadataCommand } from "../commands.js";
import { metadataErrorFor } from "../errors.js";
import type { MetadataLogger } from "../logger.js";
import type { MetadataView } from "../state.js";
import { overdue } from "./apply.js";
import type { GroupHeartbeat } from "./commands.js";
import { GROUP_EXPIRY_POLL_MS, GROUP_HEARTBEAT_INTERVAL_MS } from "./constants.js";
import { type ConsumerGroupInfo, groupKey } from "./state.js";

/** What the coordinator needs of the MetadataService (which has all of it). */
export interface GroupMetadataPort {
  propose(command: MetadataCommand): Promise<CommandResult>;
  view(): MetadataView;
  consistentView(): Promise<MetadataView>;
  /** True while this node leads group 0. */
  readonly controllerActive: boolean;
}

export interface ConsumerGroupCoordinatorOptions {
  readonly metadata: GroupMetadataPort;
  /** Wall clock in ms; stamps commands. @default Date.now */
  readonly clock?: () => number;
  /** Period of the expiry check on group 0's leader, in ms. @default GROUP_EXPIRY_POLL_MS */
  readonly expiryPollMs?: number;
  readonly logger?: MetadataLogger;
}

export interface JoinedGroup {
  readonly memberEpoch: number;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
}

export interface GroupMemberRef {
  readonly streamName: string;
  readonly groupName: string;
  readonly memberId: string;
}

export interface GroupCheckpointRequest extends GroupMemberRef {
  readonly shardId: string;
  readonly leaseEpoch: number;
  /** Empty only with shardEnd. */
  readonly sequenceNumber: string;
  readonly shardEnd: boolean;
}

export class ConsumerGroupCoordinator {
  private readonly metadata: GroupMetadataPort;
  private readonly clock: () => number;
  private readonly expiryPollMs: number;
  private readonly logger: MetadataLogger | undefined;
  private timer: NodeJS.Timeout | null = null;
  private expiring = false;

  constructor(options: ConsumerGroupCoordinatorOptions) {
    this.metadata = options.metadata;
    this.clock = options.clock ?? Date.now;
    this.expiryPollMs = options.expiryPollMs ?? GROUP_EXPIRY_POLL_MS;
    if (!Number.isSafeInteger(this.expiryPollMs) || this.expiryPollMs < 1) {
      throw new RangeError(`expiryPollMs must be a positive integer, not ${this.expiryPollMs}`);
    }
    this.logger = options.logger;
  }

  /** Starts the expiry check (it acts only while this node leads group 0). Idempotent. */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.expireOnce(), this.expiryPollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  async join(
    request: GroupMemberRef & { readonly sessionTimeoutMs?: number | undefined },
  ): Promise<JoinedGroup> {
    const value = (await this.run({
      type: "JoinGroup",
      streamName: request.streamName,
      groupName: request.groupName,
      memberId: request.memberId,
      ...(request.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: request.sessionTimeoutMs }),
      nowMs: this.clock(),
    })) as { memberEpoch: number; sessionTimeoutMs: number };
    return { ...value, heartbeatIntervalMs: GROUP_HEARTBEAT_INTERVAL_MS };
  }

  async heartbeat(request: GroupMemberRef): Promise<GroupHeartbeat> {
    return (await this.run({
      type: "GroupHeartbeat",
      ...memberRef(request),
      nowMs: this.clock(),
    })) as GroupHeartbeat;
  }

  async checkpoint(request: GroupCheckpointRequest): Promise<void> {
    await this.run({
      type: "GroupCheckpoint",
      ...memberRef(request),
      shardId: request.shardId,
      leaseEpoch: request.leaseEpoch,
      sequenceNumber: request.sequenceNumber,
      shardEnd: request.shardEnd,
      nowMs: this.clock(),
    });
  }

  async leave(request: GroupMemberRef): Promise<void> {
    await this.run({ type: "LeaveGroup", ...memberRef(request), nowMs: this.clock() });
  }

  /**
   * The group as of a read barrier (every command committed before the call), or undefined when
   * the stream has no such group. `streamName` may be the stream's ARN.
   */
  async describe(streamName: string, groupName: string): Promise<ConsumerGroupInfo | undefined> {
    const view = await this.metadata.consistentView();
    const stream = view.resolveStream(streamName);
    if (stream === undefined) return undefined;
    const group = view.groups.get(groupKey(stream.streamName, groupName));
    return group === undefined || group.streamId !== stream.streamId ? undefined : group;
  }

  /** One expiry pass (tests call it directly): proposes ExpireGroupMembers for each group with an overdue member. */
  async expireOnce(): Promise<void> {
    if (this.expiring || !this.metadata.controllerActive) return;
    this.expiring = true;
    try {
      const view = this.metadata.view();
      const nowMs = this.clock();
      for (const group of view.groups.values()) {
        const stream = view.streams.get(group.streamName);
        if (stream === undefined || stream.streamId !== group.streamId) continue;
        if (!group.members.some((member) => overdue(group, member, nowMs))) continue;
        const result = await this.metadata.propose({
          type: "ExpireGroupMembers",
          streamName: group.streamName,
          groupName: group.groupName,
          nowMs,
        });
        this.logger?.info("consumer group members expired", {
          stream: group.streamName,
          group: group.groupName,
          result: result.ok ? result.value : result.message,
        });
      }
    } catch (error) {
      this.logger?.warn("consumer group expiry failed; retrying on the next poll", { error: String(error) });
    } finally {
      this.expiring = false;
    }
  }

  private async run(command: MetadataCommand): Promise<unknown> {
    const result = await this.metadata.propose(command);
    if (!result.ok) throw metadataErrorFor(result.code, result.message);
    return result.value;
  }
}

function memberRef(request: GroupMemberRef): GroupMemberRef {
  return { streamName: request.streamName, groupName: request.groupName, memberId: request.memberId };
}
