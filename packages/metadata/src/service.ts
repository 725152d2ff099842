/**
 * `MetadataService`: one node's handle on the cluster metadata (Raft group 0). It joins group 0,
 * initializes the cluster and registers this node, answers reads from the local replica
 * (`view`) or after a read barrier (`consistentView`), proposes commands through the group's
 * leader (locally, or forwarded with `MetadataForwarder`), and runs the reconciler (every node)
 * and the controller (while this node leads group 0).
 *
 * Every command method resolves once the command is applied on THIS node (so `view()` shows its
 * effect) and throws the typed error of a refused command (errors.ts). MetadataUnavailableError
 * means nothing was applied; MetadataTimeoutError means the outcome is unknown. Both are
 * retriable.
 */
import { randomBytes } from "node:crypto";
import { type Broker, BrokerErrorCode } from "@sluice/broker";
import { type CommandResult, encodeCommand, type MetadataCommand } from "./commands.js";
import {
  CLUSTER_SECRET_BYTES,
  COMMAND_BYTES_MAX,
  METADATA_GROUP_ID,
  METADATA_LEADER_WAIT_MS,
  METADATA_PROPOSE_TIMEOUT_MS,
  PROPOSE_BACKOFF_MS_MAX,
  PROPOSE_BACKOFF_MS_MIN,
  REPLICAS_PER_SHARD_MAX,
} from "./constants.js";
import { Controller } from "./controller.js";
import {
  InvalidMetadataOptionsError,
  MetadataErrorCode,
  MetadataTimeoutError,
  MetadataUnavailableError,
  metadataErrorFor,
} from "./errors.js";
import {
  decodeForwardedReply,
  encodeForwardedReply,
  type ForwardedReply,
  type MetadataForwarder,
} from "./forwarding.js";
import { type MetadataLogger, SILENT_LOGGER } from "./logger.js";
import { describe, Reconciler } from "./reconciler.js";
import type { MetadataView, NodeInfo, StreamMode } from "./state.js";
import type { MetadataStateMachine } from "./state-machine.js";

export interface MetadataServiceOptions {
  /** This node's broker, opened with `stateMachineFor: (g) => (g === 0 ? stateMachine : undefined)`. */
  readonly broker: Broker;
  /** The state machine given to the broker for group 0. */
  readonly stateMachine: MetadataStateMachine;
  /** This node's id (the broker's). */
  readonly nodeId: number;
  /** What this node registers (nodeId must equal `nodeId`). */
  readonly self: NodeInfo;
  /** Every node id of the cluster, from config: the voters of group 0. */
  readonly members: readonly number[];
  /** Carries proposals to the leader when this node does not lead group 0. */
  readonly forwarder: MetadataForwarder;
  /** Wall clock in ms: stamps commands and counts deadlines. @default Date.now */
  readonly clock?: () => number;
  /** `n` random bytes (the cluster secret, backoff jitter). @default crypto.randomBytes */
  readonly random?: (n: number) => Buffer;
  /** @default silent */
  readonly logger?: MetadataLogger;
  /** How long a proposal keeps retrying, in ms. @default METADATA_PROPOSE_TIMEOUT_MS */
  readonly proposeTimeoutMs?: number;
  /** How long `start` waits for group 0 to have a leader, in ms. @default METADATA_LEADER_WAIT_MS */
  readonly leaderWaitMs?: number;
}

export interface CreateStreamRequest {
  readonly streamName: string;
  /** Required for PROVISIONED; ON_DEMAND defaults to ON_DEMAND_SHARD_COUNT_DEFAULT. */
  readonly shardCount?: number | undefined;
  readonly mode: StreamMode;
  readonly tags?: Readonly<Record<string, string>> | undefined;
}

export interface CreatedStream {
  readonly streamName: string;
  readonly streamArn: string;
  readonly streamId: number;
}

export interface RegisteredConsumer {
  readonly consumerName: string;
  readonly consumerArn: string;
  readonly createdAtMs: number;
}

export interface ShardCountUpdate {
  /** Open shards when the request was applied. */
  readonly currentShardCount: number;
  readonly targetShardCount: number;
}

type Resolved = Required<Omit<MetadataServiceOptions, "logger">> & { readonly logger: MetadataLogger };

export class MetadataService {
  readonly nodeId: number;
  private readonly options: Resolved;
  private readonly broker: Broker;
  private readonly stateMachine: MetadataStateMachine;
  private readonly reconciler: Reconciler;
  private readonly controller: Controller;
  private readonly unsubscribe: (() => void)[] = [];
  private stopped = false;

  private constructor(options: Resolved) {
    this.options = options;
    this.nodeId = options.nodeId;
    this.broker = options.broker;
    this.stateMachine = options.stateMachine;
    const view = () => this.stateMachine.view();
    this.reconciler = new Reconciler({
      broker: this.broker,
      nodeId: this.nodeId,
      view,
      logger: options.logger,
    });
    this.controller = new Controller({
      broker: this.broker,
      nodeId: this.nodeId,
      view,
      propose: (command) => this.propose(command),
      logger: options.logger,
      clock: () => this.now(),
    });
  }

  /**
   * Joins group 0 with `members` as voters, waits (at most leaderWaitMs) for it to have a leader
   * (MetadataUnavailableError otherwise), initializes the cluster secret once, registers `self`,
   * and starts the reconciler and the controller. InvalidMetadataOptionsError for bad options.
   */
  static async start(options: MetadataServiceOptions): Promise<MetadataService> {
    const service = new MetadataService(resolveOptions(options));
    try {
      await service.begin();
    } catch (error) {
      await service.stop();
      throw error;
    }
    return service;
  }

  private async begin(): Promise<void> {
    const { broker, members, logger } = this.options;
    await broker.ensureGroup(METADATA_GROUP_ID, members);
    this.unsubscribe.push(
      this.stateMachine.onChange(() => {
        this.reconciler.schedule();
        this.controller.schedule();
      }),
    );
    broker.onLeaderChange((groupId, leader) => {
      if (this.stopped) return;
      if (groupId === METADATA_GROUP_ID) {
        this.controller.setLeading(leader === this.nodeId);
        return;
      }
      this.controller.schedule();
      // A parent of a reshard may have a new leader here that has to propose its seal.
      if (leader === this.nodeId) this.reconciler.schedule();
    });
    await this.waitForLeader();
    if (this.view().clusterSecret.length === 0) {
      const secretHex = this.options.random(CLUSTER_SECRET_BYTES).toString("hex");
      this.check(await this.propose({ type: "InitCluster", secretHex }));
    }
    const registered = this.view().nodes.get(this.nodeId);
    if (registered === undefined || !sameNode(registered, this.options.self)) {
      this.check(await this.propose({ type: "RegisterNode", node: this.options.self }));
    }
    this.reconciler.schedule();
    this.controller.setLeading(this.leadsGroupZero());
    logger.info("metadata service started", { node: this.nodeId, appliedIndex: this.view().appliedIndex });
  }

  /** Stops the reconciler and the controller (waiting for a pass under way). Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    await Promise.all([this.controller.stop(), this.reconciler.stop()]);
  }

  // ---- reads -------------------------------------------------------------------------------------

  /** The local replica's view: immediate, possibly slightly behind the leader. */
  view(): MetadataView {
    return this.stateMachine.view();
  }

  /**
   * A view that includes every command committed before the call (a read barrier on group 0).
   * MetadataUnavailableError when group 0 has no leader within the propose timeout.
   */
  async consistentView(): Promise<MetadataView> {
    await this.retrying("read barrier", () => this.broker.readBarrier(METADATA_GROUP_ID));
    return this.view();
  }

  /** True while this node runs the controller (leads group 0). */
  get controllerActive(): boolean {
    return this.controller.active;
  }

  /** Resolves when the reconciler has no pass running or pending (tests, diagnostics). */
  reconcilerIdle(): Promise<void> {
    return this.reconciler.idle();
  }

  // ---- commands ----------------------------------------------------------------------------------

  async createStream(request: CreateStreamRequest): Promise<CreatedStream> {
    await this.requireReplicaNodes();
    return this.run({
      type: "CreateStream",
      streamName: request.streamName,
      mode: request.mode,
      nowMs: this.now(),
      ...(request.shardCount === undefined ? {} : { shardCount: request.shardCount }),
      ...(request.tags === undefined ? {} : { tags: request.tags }),
    }) as Promise<CreatedStream>;
  }

  /** Moves the stream to DELETING; the controller removes it and every node its replicas. */
  async deleteStream(request: {
    readonly streamName: string;
    readonly enforceConsumerDeletion?: boolean | undefined;
  }): Promise<void> {
    await this.run({
      type: "DeleteStream",
      streamName: request.streamName,
      enforceConsumerDeletion: request.enforceConsumerDeletion ?? false,
    });
  }

  async increaseRetention(request: { readonly streamName: string; readonly hours: number }): Promise<void> {
    await this.run({ type: "IncreaseRetention", streamName: request.streamName, hours: request.hours });
  }

  async decreaseRetention(request: { readonly streamName: string; readonly hours: number }): Promise<void> {
    await this.run({ type: "DecreaseRetention", streamName: request.streamName, hours: request.hours });
  }

  async addTags(request: {
    readonly streamName: string;
    readonly tags: Readonly<Record<string, string>>;
  }): Promise<void> {
    await this.run({ type: "AddTags", streamName: request.streamName, tags: request.tags });
  }

  async removeTags(request: {
    readonly streamName: string;
    readonly tagKeys: readonly string[];
  }): Promise<void> {
    await this.run({ type: "RemoveTags", streamName: request.streamName, tagKeys: request.tagKeys });
  }

  /**
   * Enables or disables shard-level metrics of a stream (Enable/DisableEnhancedMonitoring):
   * Kinesis metric names or "ALL". Resolves with the metrics enabled before and after, sorted
   * in Kinesis's order. INVALID_ARGUMENT for an unknown name; STREAM_NOT_FOUND; STREAM_IN_USE
   * while the stream is DELETING.
   */
  async setShardLevelMetrics(request: {
    readonly streamName: string;
    readonly enable: boolean;
    readonly metrics: readonly string[];
  }): Promise<{ readonly current: readonly string[]; readonly desired: readonly string[] }> {
    return (await this.run({
      type: "SetShardLevelMetrics",
      streamName: request.streamName,
      enable: request.enable,
      metrics: request.metrics,
    })) as { current: string[]; desired: string[] };
  }

  /**
   * Encryption at rest of a stream's new records. With `enable`, `wrappedKey` (base64) is a fresh
   * data key wrapped by master key `masterKeyId` — the caller (the gateway) makes it — and becomes
   * the stream's next key version, reported under `keyId`; without, new records are plaintext
   * again. Resolves with the version now sealing new records (0 when none). STREAM_NOT_FOUND;
   * STREAM_IN_USE unless ACTIVE; LIMIT_EXCEEDED past STREAM_DATA_KEYS_MAX; INVALID_ARGUMENT.
   */
  async setStreamEncryption(
    request:
      | {
          readonly streamName: string;
          readonly enable: true;
          readonly keyId: string;
          readonly masterKeyId: string;
          readonly wrappedKey: string;
        }
      | { readonly streamName: string; readonly enable: false },
  ): Promise<{ readonly keyVersion: number }> {
    return (await this.run(
      request.enable
        ? {
            type: "SetStreamEncryption",
            streamName: request.streamName,
            enable: true,
            keyId: request.keyId,
            masterKeyId: request.masterKeyId,
            wrappedKey: request.wrappedKey,
          }
        : { type: "SetStreamEncryption", streamName: request.streamName, enable: false },
    )) as { keyVersion: number };
  }

  /** Registers a consumer (CREATING; the controller makes it ACTIVE). `streamName` may be the stream's ARN. */
  async registerConsumer(request: {
    readonly streamName: string;
    readonly consumerName: string;
  }): Promise<RegisteredConsumer> {
    return this.run({
      type: "RegisterConsumer",
      streamName: request.streamName,
      consumerName: request.consumerName,
      nowMs: this.now(),
    }) as Promise<RegisteredConsumer>;
  }

  /**
   * Makes `holderId` (a subscription run by this node) the one SubscribeToShard of the consumer
   * to the shard, cluster-wide. Throws StreamInUse (→ ResourceInUseException) while another is
   * younger than SUBSCRIPTION_TAKEOVER_AFTER_MS; takes an older one over (its node ends it when
   * it sees the change).
   */
  async acquireSubscription(request: {
    readonly consumerArn: string;
    readonly shardId: string;
    readonly holderId: string;
  }): Promise<void> {
    await this.run({
      type: "AcquireSubscription",
      consumerArn: request.consumerArn,
      shardId: request.shardId,
      holderId: request.holderId,
      nodeId: this.nodeId,
      nowMs: this.now(),
    });
  }

  /** Lets go of a subscription acquired by `acquireSubscription` (no change if it was taken over). */
  async releaseSubscription(request: {
    readonly consumerArn: string;
    readonly shardId: string;
    readonly holderId: string;
  }): Promise<void> {
    await this.run({ type: "ReleaseSubscription", ...request });
  }

  /** Moves a consumer to DELETING (the controller removes it): by ARN, or by stream and consumer name. */
  async deregisterConsumer(request: {
    readonly streamName?: string | undefined;
    readonly consumerName?: string | undefined;
    readonly consumerArn?: string | undefined;
  }): Promise<void> {
    await this.run({
      type: "DeregisterConsumer",
      ...(request.streamName === undefined ? {} : { streamName: request.streamName }),
      ...(request.consumerName === undefined ? {} : { consumerName: request.consumerName }),
      ...(request.consumerArn === undefined ? {} : { consumerArn: request.consumerArn }),
    });
  }

  async updateStreamMode(request: { readonly streamName: string; readonly mode: StreamMode }): Promise<void> {
    await this.run({ type: "UpdateStreamMode", streamName: request.streamName, mode: request.mode });
  }

  /**
   * SplitShard: starts splitting an open shard at `newStartingHashKey` (decimal, above the
   * shard's start and at most its end). Resolves once the stream is UPDATING with the pending
   * children; the controller finishes the split. ShardNotFoundError, ShardClosedError,
   * StreamInUseError (not ACTIVE), InvalidArgumentError (key), LimitExceededError.
   */
  async splitShard(request: {
    readonly streamName: string;
    readonly shardToSplit: string;
    readonly newStartingHashKey: string;
  }): Promise<void> {
    await this.requireReplicaNodes();
    await this.run({
      type: "SplitShard",
      streamName: request.streamName,
      shardToSplit: request.shardToSplit,
      newStartingHashKey: request.newStartingHashKey,
      nowMs: this.now(),
    });
  }

  /**
   * MergeShards: starts merging two adjacent open shards (either order). Errors as splitShard;
   * InvalidArgumentError when they are not adjacent.
   */
  async mergeShards(request: {
    readonly streamName: string;
    readonly shardToMerge: string;
    readonly adjacentShardToMerge: string;
  }): Promise<void> {
    await this.requireReplicaNodes();
    await this.run({
      type: "MergeShards",
      streamName: request.streamName,
      shardToMerge: request.shardToMerge,
      adjacentShardToMerge: request.adjacentShardToMerge,
      nowMs: this.now(),
    });
  }

  /**
   * UpdateShardCount (uniform scaling): starts scaling to `targetShardCount` open shards, the
   * even split of the hash key space, through rounds of splits and merges. The current count is
   * a no-op. InvalidArgumentError outside [ceil(open / 2), 2 · open]; LimitExceededError above
   * SHARDS_PER_STREAM_MAX or the reshard rate limit; StreamInUseError when not ACTIVE.
   */
  async updateShardCount(request: {
    readonly streamName: string;
    readonly targetShardCount: number;
  }): Promise<ShardCountUpdate> {
    await this.requireReplicaNodes();
    return (await this.run({
      type: "UpdateShardCount",
      streamName: request.streamName,
      targetShardCount: request.targetShardCount,
      nowMs: this.now(),
    })) as ShardCountUpdate;
  }

  // ---- proposals ---------------------------------------------------------------------------------

  /**
   * New shards are placed on the registered nodes, from the state alone: before enough members
   * of the cluster have registered (just after start), a shard would get fewer replicas than the
   * cluster can give it, for good. So commands that create shards wait for min(members,
   * REPLICAS_PER_SHARD_MAX) registered members (this node's view, then a consistent one) and
   * otherwise fail with the retriable MetadataUnavailableError.
   */
  private async requireReplicaNodes(): Promise<void> {
    const { members } = this.options;
    const needed = Math.min(members.length, REPLICAS_PER_SHARD_MAX);
    const registered = (view: MetadataView) => members.filter((id) => view.nodes.has(id)).length;
    if (registered(this.view()) >= needed) return;
    const count = registered(await this.consistentView());
    if (count >= needed) return;
    throw new MetadataUnavailableError(
      `only ${count} of the cluster's ${members.length} nodes have registered, and a new shard needs ${needed} replicas: retry once the nodes are up`,
    );
  }

  /**
   * Proposes a command and returns its result once applied here; retries with jittered backoff
   * while group 0 has no leader or the leader moves, until proposeTimeoutMs. Throws
   * MetadataUnavailableError (nothing applied) or MetadataTimeoutError (outcome unknown); a
   * refused command is a failed result, not a throw.
   */
  async propose(command: MetadataCommand): Promise<CommandResult> {
    const data = encodeCommand(command);
    if (data.length > COMMAND_BYTES_MAX) {
      return {
        ok: false,
        code: MetadataErrorCode.InvalidArgument,
        message: `the ${command.type} command is ${data.length} bytes; at most COMMAND_BYTES_MAX (${COMMAND_BYTES_MAX})`,
      };
    }
    const deadlineMs = this.now() + this.options.proposeTimeoutMs;
    let backoffMs = PROPOSE_BACKOFF_MS_MIN;
    let outcomeUnknown = false;
    let last = "no leader of group 0 is known";
    for (;;) {
      if (this.stopped) throw new MetadataUnavailableError("the metadata service is stopped on this node");
      const leader = this.knownLeader();
      try {
        if (leader === this.nodeId) {
          return (await this.broker.propose(METADATA_GROUP_ID, data)).result as CommandResult;
        }
        if (leader !== 0) {
          let bytes: Buffer;
          try {
            bytes = await this.options.forwarder.propose(leader, data, deadlineMs);
          } catch (error) {
            outcomeUnknown = true;
            throw error;
          }
          const reply = decodeForwardedReply(bytes);
          if (reply.kind === "applied") {
            await this.waitApplied(reply.index, deadlineMs);
            return reply.result;
          }
          last = `node ${leader} answered: ${reply.reason}`;
        }
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === BrokerErrorCode.LeadershipLost || code === BrokerErrorCode.AppendTimeout) {
          throw new MetadataTimeoutError(
            `the ${command.type} command may or may not have been applied (${describe(error)}): check the state, then retry`,
            { cause: error },
          );
        }
        if (typeof code === "string" && (error as { retriable?: unknown }).retriable === false) {
          // A broker error that retrying cannot fix here (closed, group missing): nothing was applied.
          throw new MetadataUnavailableError(
            `the ${command.type} command cannot be proposed on node ${this.nodeId} (${describe(error)}): retry on another node`,
            { cause: error },
          );
        }
        last = describe(error);
      }
      const remainingMs = deadlineMs - this.now();
      if (remainingMs <= 0) break;
      await sleep(Math.min(remainingMs, this.jitter(backoffMs)));
      backoffMs = Math.min(backoffMs * 2, PROPOSE_BACKOFF_MS_MAX);
    }
    const message = `the ${command.type} command did not reach a metadata leader within ${this.options.proposeTimeoutMs} ms (last: ${last})`;
    throw outcomeUnknown
      ? new MetadataTimeoutError(
          `${message}; it may or may not have been applied: check the state, then retry`,
        )
      : new MetadataUnavailableError(`${message}; nothing was applied: retry after a backoff`);
  }

  /**
   * Serves a proposal forwarded by another node (the node's internal gRPC service calls this on
   * the node it believes leads group 0). Always resolves with a reply for `decodeForwardedReply`:
   * the result and index when applied, or "retry" (with the leader known here) when this node
   * does not lead or is busy. Proposes once; never forwards again.
   */
  async handleForwarded(command: Buffer): Promise<Buffer> {
    const retry = (reason: string, leaderHint = 0): Buffer =>
      encodeForwardedReply({ kind: "retry", leaderHint, reason });
    if (this.stopped) return retry("the metadata service is stopped on this node");
    if (command.length > COMMAND_BYTES_MAX) {
      const result: CommandResult = {
        ok: false,
        code: MetadataErrorCode.InvalidArgument,
        message: `a command is at most COMMAND_BYTES_MAX (${COMMAND_BYTES_MAX}) bytes`,
      };
      return encodeForwardedReply({ kind: "applied", index: 0, result });
    }
    const leader = this.knownLeader();
    if (leader !== this.nodeId) return retry(`node ${this.nodeId} does not lead group 0`, leader);
    let reply: ForwardedReply;
    try {
      const { index, result } = await this.broker.propose(METADATA_GROUP_ID, command);
      reply = { kind: "applied", index, result: result as CommandResult };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === BrokerErrorCode.LeadershipLost || code === BrokerErrorCode.AppendTimeout) {
        reply = {
          kind: "applied",
          index: 0,
          result: {
            ok: false,
            code: MetadataErrorCode.MetadataTimeout,
            message: `the command may or may not have been applied (${describe(error)}): check the state, then retry`,
          },
        };
      } else {
        const hint = (error as { leaderHint?: unknown }).leaderHint;
        reply = { kind: "retry", leaderHint: typeof hint === "number" ? hint : 0, reason: describe(error) };
      }
    }
    return encodeForwardedReply(reply);
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private async run(command: MetadataCommand): Promise<unknown> {
    return this.check(await this.propose(command));
  }

  /** The value of a successful result; throws the typed error of a failed one. */
  private check(result: CommandResult): unknown {
    if (!result.ok) throw metadataErrorFor(result.code, result.message);
    return result.value;
  }

  private now(): number {
    return Math.floor(this.options.clock());
  }

  /** Group 0's leader as this node knows it (0: none known). */
  private knownLeader(): number {
    try {
      const status = this.broker.groupStatus(METADATA_GROUP_ID);
      return status.role === "leader" ? this.nodeId : status.leader === this.nodeId ? 0 : status.leader;
    } catch {
      return 0;
    }
  }

  private leadsGroupZero(): boolean {
    return this.knownLeader() === this.nodeId;
  }

  private async waitForLeader(): Promise<void> {
    const deadlineMs = this.now() + this.options.leaderWaitMs;
    while (this.knownLeader() === 0) {
      if (this.stopped) throw new MetadataUnavailableError("the metadata service is stopped on this node");
      if (this.now() >= deadlineMs) {
        throw new MetadataUnavailableError(
          `group 0 elected no leader within ${this.options.leaderWaitMs} ms: are a majority of members (${this.options.members.join(", ")}) up and reachable?`,
        );
      }
      await sleep(PROPOSE_BACKOFF_MS_MIN);
    }
  }

  /** Waits until this replica has applied `index`; gives up quietly at the deadline (the result is known). */
  private waitApplied(index: number, deadlineMs: number): Promise<void> {
    if (this.stateMachine.appliedIndex >= index) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        off();
        clearTimeout(timer);
        resolve();
      };
      const off = this.stateMachine.onApplied((applied) => {
        if (applied >= index) done();
      });
      const timer = setTimeout(
        () => {
          this.options.logger.warn("metadata command applied on the leader but not yet here", {
            index,
            appliedIndex: this.stateMachine.appliedIndex,
          });
          done();
        },
        Math.max(0, deadlineMs - this.now()),
      );
    });
  }

  /** Runs `attempt` until it succeeds, retrying retriable broker errors until the propose timeout. */
  private async retrying(what: string, attempt: () => Promise<void>): Promise<void> {
    const deadlineMs = this.now() + this.options.proposeTimeoutMs;
    let backoffMs = PROPOSE_BACKOFF_MS_MIN;
    for (;;) {
      if (this.stopped) throw new MetadataUnavailableError("the metadata service is stopped on this node");
      try {
        await attempt();
        return;
      } catch (error) {
        const retriable = (error as { retriable?: unknown }).retriable === true;
        const remainingMs = deadlineMs - this.now();
        if (!retriable || remainingMs <= 0) {
          throw new MetadataUnavailableError(
            `the metadata ${what} failed (${describe(error)}): retry after a backoff`,
            {
              cause: error,
            },
          );
        }
        await sleep(Math.min(remainingMs, this.jitter(backoffMs)));
        backoffMs = Math.min(backoffMs * 2, PROPOSE_BACKOFF_MS_MAX);
      }
    }
  }

  /** Uniform in [PROPOSE_BACKOFF_MS_MIN, ceilingMs]. */
  private jitter(ceilingMs: number): number {
    const unit = this.options.random(4).readUInt32LE(0) / 0x1_0000_0000;
    return PROPOSE_BACKOFF_MS_MIN + unit * Math.max(0, ceilingMs - PROPOSE_BACKOFF_MS_MIN);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sameNode(a: NodeInfo, b: NodeInfo): boolean {
  return (
    a.nodeId === b.nodeId &&
    a.zone === b.zone &&
    a.peerAddress === b.peerAddress &&
    a.gatewayAddress === b.gatewayAddress &&
    a.httpAddress === b.httpAddress
  );
}

function resolveOptions(options: MetadataServiceOptions): Resolved {
  const fail = (message: string): never => {
    throw new InvalidMetadataOptionsError(`MetadataService options: ${message}`);
  };
  if (typeof options !== "object" || options === null) fail("options must be an object");
  const positiveInteger = (value: unknown): boolean =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
  if (typeof options.broker?.propose !== "function") fail("broker must be a Broker");
  if (typeof options.stateMachine?.view !== "function") fail("stateMachine must be a MetadataStateMachine");
  if (!positiveInteger(options.nodeId))
    fail(`nodeId must be a positive integer, got ${String(options.nodeId)}`);
  if (options.broker.nodeId !== options.nodeId)
    fail(`nodeId ${options.nodeId} is not the broker's (${options.broker.nodeId})`);
  if (options.self?.nodeId !== options.nodeId) fail("self.nodeId must equal nodeId");
  if (!Array.isArray(options.members) || !options.members.every(positiveInteger)) {
    fail("members must be an array of node ids");
  }
  if (!options.members.includes(options.nodeId))
    fail(`members [${options.members.join(", ")}] must include nodeId ${options.nodeId}`);
  if (typeof options.forwarder?.propose !== "function")
    fail("forwarder must implement propose(leader, command, deadlineMs)");
  for (const [name, value] of [
    ["proposeTimeoutMs", options.proposeTimeoutMs],
    ["leaderWaitMs", options.leaderWaitMs],
  ] as const) {
    if (value !== undefined && !positiveInteger(value)) fail(`${name} must be a positive integer of ms`);
  }
  return {
    broker: options.broker,
    stateMachine: options.stateMachine,
    nodeId: options.nodeId,
    self: options.self,
    members: [...options.members],
    forwarder: options.forwarder,
    clock: options.clock ?? Date.now,
    random: options.random ?? randomBytes,
    logger: options.logger ?? SILENT_LOGGER,
    proposeTimeoutMs: options.proposeTimeoutMs ?? METADATA_PROPOSE_TIMEOUT_MS,
    leaderWaitMs: options.leaderWaitMs ?? METADATA_LEADER_WAIT_MS,
  };
}
