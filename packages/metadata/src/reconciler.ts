/**
 * The reconciler (every node): makes this node's shard replicas match the metadata. After every
 * change it ensures a replica of each shard group, of each stream that is not DELETING, whose
 * replicas include this node, and removes every local group other than 0 that belongs to no
 * such shard. One pass at a time; changes during a pass coalesce into one more pass; a failed
 * pass is logged and retried.
 *
 * Sealing (resharding): while a stream's reshard is in phase "sealing", every node asks its
 * broker to seal each parent group it leads (`broker.seal`, idempotent), in the background so a
 * slow seal never holds up replica changes. A failed seal, a parent without a leader here yet,
 * or one whose seal is not applied here yet is looked at again after SEAL_RETRY_MS and on every
 * leader change (the service schedules a pass), so the seal is proposed wherever the leader
 * moves; the controller then completes the round.
 *
 * Safety against a stale view (a restarted node replaying its log): a group id at or above the
 * view's `nextGroupId` was allocated by a command this node has not applied yet, so it is never
 * removed; a group below it is removed only when its stream is DELETING or gone, which never
 * reverts (stream and group ids are not reused).
 */
import type { Broker } from "@sluice/broker";
import { FIRST_SHARD_GROUP_ID, RECONCILE_RETRY_MS, SEAL_RETRY_MS } from "./constants.js";
import type { MetadataLogger } from "./logger.js";
import { SerialRunner } from "./serial-runner.js";
import type { MetadataView } from "./state.js";

export interface ReconcilerOptions {
  readonly broker: Broker;
  readonly nodeId: number;
  readonly view: () => MetadataView;
  readonly logger: MetadataLogger;
  /** @default RECONCILE_RETRY_MS */
  readonly retryMs?: number;
  /** How soon a parent still to be sealed is looked at again, in ms. @default SEAL_RETRY_MS */
  readonly sealRetryMs?: number;
}

export class Reconciler {
  private readonly runner: SerialRunner;
  /** Parent groups whose `seal` call is under way here. */
  private readonly sealsInFlight = new Set<number>();
  private sealRetryTimer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(private readonly options: ReconcilerOptions) {
    this.runner = new SerialRunner(
      () => this.pass(),
      (error) => options.logger.warn("metadata reconciler pass failed; retrying", { error: describe(error) }),
      options.retryMs ?? RECONCILE_RETRY_MS,
    );
  }

  schedule(): void {
    this.runner.schedule();
  }

  idle(): Promise<void> {
    return this.runner.idle();
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.sealRetryTimer !== null) clearTimeout(this.sealRetryTimer);
    this.sealRetryTimer = null;
    return this.runner.stop();
  }

  /** The shard groups this node should hold, by group id, with their voters. */
  static desiredGroups(view: MetadataView, nodeId: number): Map<number, readonly number[]> {
    const desired = new Map<number, readonly number[]>();
    for (const stream of view.streams.values()) {
      if (stream.status === "DELETING") continue;
      for (const shard of stream.shards) {
        if (shard.replicas.includes(nodeId)) desired.set(shard.groupId, shard.replicas);
      }
    }
    return desired;
  }

  private async pass(): Promise<void> {
    const { broker, nodeId, logger } = this.options;
    const view = this.options.view();
    const desired = Reconciler.desiredGroups(view, nodeId);
    const local = new Set(broker.groupIds());
    const work: Promise<void>[] = [];
    for (const [groupId, voters] of desired) {
      if (local.has(groupId)) continue;
      work.push(
        broker
          .ensureGroup(groupId, voters)
          .then(() => logger.info("shard replica started", { groupId, voters })),
      );
    }
    for (const groupId of local) {
      if (groupId < FIRST_SHARD_GROUP_ID || desired.has(groupId) || groupId >= view.nextGroupId) continue;
      work.push(broker.removeGroup(groupId).then(() => logger.info("shard replica removed", { groupId })));
    }
    this.sealParents(view, local);
    const failures = (await Promise.allSettled(work)).filter((r) => r.status === "rejected");
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map((f) => (f as PromiseRejectedResult).reason),
        `${failures.length} of ${work.length} replica changes failed`,
      );
    }
  }

  /**
   * Starts `broker.seal` for every parent of a round in phase "sealing" that this node leads and
   * has not sealed; re-arms the retry timer while any local parent replica has no applied seal.
   */
  private sealParents(view: MetadataView, local: ReadonlySet<number>): void {
    const { broker, logger } = this.options;
    let outstanding = false;
    for (const stream of view.streams.values()) {
      const reshard = stream.reshard;
      if (stream.status !== "UPDATING" || reshard === undefined || reshard.phase !== "sealing") continue;
      for (const parentId of reshard.parents) {
        const shard = stream.shards.find((s) => s.shardId === parentId);
        if (shard === undefined || !local.has(shard.groupId)) continue;
        const groupId = shard.groupId;
        const status = broker.groupStatus(groupId);
        if (status.sealedIndex > 0) continue;
        outstanding = true;
        if (status.role !== "leader" || this.sealsInFlight.has(groupId)) continue;
        this.sealsInFlight.add(groupId);
        broker
          .seal(groupId)
          .then(
            ({ index }) => logger.info("shard sealed for resharding", { groupId, index, shardId: parentId }),
            (error: unknown) =>
              logger.warn("shard seal failed; retrying", {
                groupId,
                shardId: parentId,
                error: describe(error),
              }),
          )
          .finally(() => {
            this.sealsInFlight.delete(groupId);
            this.schedule();
          });
      }
    }
    if (outstanding && !this.stopped && this.sealRetryTimer === null) {
      this.sealRetryTimer = setTimeout(() => {
        this.sealRetryTimer = null;
        this.schedule();
      }, this.options.sealRetryMs ?? SEAL_RETRY_MS);
      this.sealRetryTimer.unref();
    }
  }
}

export function describe(error: unknown): string {
  if (error instanceof AggregateError) return `${error.message}: ${error.errors.map(describe).join("; ")}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
