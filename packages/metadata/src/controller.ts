/**
 * The controller: runs on the node that leads group 0, and only while it does. It drives the
 * state toward what the commands asked for:
 * - a CREATING stream becomes ACTIVE once every shard group has a leader (checked where the
 *   group has a replica here; with three nodes every group does);
 * - a DELETING stream is removed (each node's reconciler removes its replicas on DELETING);
 * - a CREATING consumer becomes ACTIVE; a DELETING consumer is removed;
 * - a reshard round in phase "children" moves to "sealing" once every child group has a leader
 *   (SealReshardParents); in phase "sealing" (every node's reconciler seals the parents it
 *   leads) it completes once every parent's seal is applied on this node's replica, with those
 *   seal indexes as the parents' ending indexes (CompleteReshardRound). Nothing is rolled back:
 *   the seal is the only irreversible step and completion always follows it, so a new
 *   controller continues from the persisted phase.
 * - node liveness: a node whose peer link this node's transport has reported Down for
 *   NODE_DOWN_AFTER_MS is recorded down (SetNodeLiveness), and live again as soon as it is Up.
 * Every step is a conditional command (from-status and stream id), so it is idempotent against
 * the state: a new leader picks up where the old one stopped, and a step that lost a race fails
 * harmlessly.
 */
import { type Broker, PeerState } from "@sluice/broker";
import type { CommandResult, MetadataCommand } from "./commands.js";
import {
  CONTROLLER_POLL_INTERVAL_MS,
  CONTROLLER_RETRY_MS,
  METADATA_GROUP_ID,
  NODE_DOWN_AFTER_MS,
} from "./constants.js";
import type { MetadataLogger } from "./logger.js";
import { describe } from "./reconciler.js";
import { SerialRunner } from "./serial-runner.js";
import type { MetadataView, ReshardInfo, ShardInfo, StreamInfo } from "./state.js";

export interface ControllerOptions {
  readonly broker: Broker;
  readonly nodeId: number;
  readonly view: () => MetadataView;
  /** Proposes a command to group 0 and resolves with its result once applied here. */
  readonly propose: (command: MetadataCommand) => Promise<CommandResult>;
  readonly logger: MetadataLogger;
  /** @default CONTROLLER_POLL_INTERVAL_MS */
  readonly pollIntervalMs?: number;
  /** Wall clock in ms: stamps the time a reshard round completes. @default Date.now */
  readonly clock?: () => number;
}

export class Controller {
  private readonly runner: SerialRunner;
  private pollTimer: NodeJS.Timeout | null = null;
  private leading = false;
  /** When this node became the controller (liveness waits NODE_DOWN_AFTER_MS after it). */
  private leadingSinceMs = 0;
  /** Per peer: since when the transport has reported it Down without a break. */
  private readonly downSeenAtMs = new Map<number, number>();

  constructor(private readonly options: ControllerOptions) {
    this.runner = new SerialRunner(
      () => this.pass(),
      (error) => options.logger.warn("metadata controller pass failed; retrying", { error: describe(error) }),
      CONTROLLER_RETRY_MS,
    );
  }

  /** True while this node runs the controller. */
  get active(): boolean {
    return this.leading;
  }

  /** Starts or stops the controller as this node gains or loses group 0's leadership. */
  setLeading(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    this.options.logger.info(leading ? "metadata controller started" : "metadata controller stopped", {
      node: this.options.nodeId,
    });
    if (leading) {
      this.leadingSinceMs = this.now();
      this.downSeenAtMs.clear();
      this.pollTimer = setInterval(
        () => this.runner.schedule(),
        this.options.pollIntervalMs ?? CONTROLLER_POLL_INTERVAL_MS,
      );
      this.pollTimer.unref();
      this.runner.schedule();
    } else if (this.pollTimer !== null) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  }

  schedule(): void {
    if (this.leading) this.runner.schedule();
  }

  async stop(): Promise<void> {
    this.setLeading(false);
    await this.runner.stop();
  }

  private stillLeading(): boolean {
    if (!this.leading) return false;
    try {
      return this.options.broker.groupStatus(METADATA_GROUP_ID).role === "leader";
    } catch {
      return false;
    }
  }

  private now(): number {
    return Math.floor((this.options.clock ?? Date.now)());
  }

  /** Records nodes down after NODE_DOWN_AFTER_MS unreachable, and live again once reachable. */
  private async trackLiveness(): Promise<void> {
    const now = this.now();
    for (const node of this.options.view().nodes.values()) {
      if (!this.stillLeading()) return;
      const { nodeId } = node;
      const up = nodeId === this.options.nodeId || this.options.broker.peerState(nodeId) === PeerState.Up;
      if (up) {
        this.downSeenAtMs.delete(nodeId);
        if (node.downSinceMs !== undefined) {
          await this.step({ type: "SetNodeLiveness", nodeId, live: true, nowMs: now });
        }
        continue;
      }
      const since = this.downSeenAtMs.get(nodeId) ?? now;
      this.downSeenAtMs.set(nodeId, since);
      if (
        node.downSinceMs === undefined &&
        now - since >= NODE_DOWN_AFTER_MS &&
        now - this.leadingSinceMs >= NODE_DOWN_AFTER_MS
      ) {
        await this.step({ type: "SetNodeLiveness", nodeId, live: false, nowMs: since });
      }
    }
  }

  private async pass(): Promise<void> {
    if (!this.stillLeading()) return;
    await this.trackLiveness();
    const view = this.options.view();
    for (const stream of view.streams.values()) {
      if (!this.stillLeading()) return;
      if (stream.status === "CREATING" && this.shardsLed(stream.shards)) {
        await this.step({
          type: "SetStreamStatus",
          streamName: stream.streamName,
          streamId: stream.streamId,
          from: "CREATING",
          to: "ACTIVE",
        });
      } else if (stream.status === "DELETING") {
        await this.step({ type: "RemoveStream", streamName: stream.streamName, streamId: stream.streamId });
        continue;
      } else if (stream.status === "UPDATING" && stream.reshard !== undefined) {
        await this.driveReshard(stream, stream.reshard);
      }
      for (const consumer of stream.consumers) {
        const ref = {
          streamName: stream.streamName,
          streamId: stream.streamId,
          consumerArn: consumer.consumerArn,
        };
        if (consumer.status === "CREATING") {
          await this.step({ type: "SetConsumerStatus", ...ref, from: "CREATING", to: "ACTIVE" });
        } else if (consumer.status === "DELETING") {
          await this.step({ type: "RemoveConsumer", ...ref });
        }
      }
    }
  }

  /** Moves a reshard round on by one phase when its condition holds on this node. */
  private async driveReshard(stream: StreamInfo, reshard: ReshardInfo): Promise<void> {
    const ref = { streamName: stream.streamName, streamId: stream.streamId, round: reshard.round };
    const byId = new Map(stream.shards.map((shard) => [shard.shardId, shard]));
    const pick = (ids: readonly string[]): ShardInfo[] =>
      ids.map((id) => byId.get(id)).filter((shard): shard is ShardInfo => shard !== undefined);
    if (reshard.phase === "children") {
      if (this.shardsLed(pick(reshard.children))) await this.step({ type: "SealReshardParents", ...ref });
      return;
    }
    const { broker } = this.options;
    const local = new Set(broker.groupIds());
    const endingIndexes: Record<string, number> = {};
    for (const parent of pick(reshard.parents)) {
      // A parent without a replica here cannot be observed here (only with more than three nodes).
      if (!local.has(parent.groupId)) return;
      const sealedIndex = broker.groupStatus(parent.groupId).sealedIndex;
      if (sealedIndex <= 0) return;
      endingIndexes[parent.shardId] = sealedIndex;
    }
    await this.step({
      type: "CompleteReshardRound",
      ...ref,
      endingIndexes,
      nowMs: this.now(),
    });
  }

  /** Every shard group with a replica here knows a leader; groups without one here are not checked. */
  private shardsLed(shards: readonly ShardInfo[]): boolean {
    const { broker, nodeId } = this.options;
    const local = new Set(broker.groupIds());
    return shards.every((shard) => {
      if (!local.has(shard.groupId)) return !shard.replicas.includes(nodeId);
      return broker.groupStatus(shard.groupId).leader !== 0;
    });
  }

  private async step(command: MetadataCommand): Promise<void> {
    const result = await this.options.propose(command);
    if (result.ok) this.options.logger.info("metadata controller step", { ...command });
    else
      this.options.logger.info("metadata controller step refused", { type: command.type, code: result.code });
  }
}
