/**
 * The reconciler (every node): makes this node's shard replicas match the metadata. After every
 * change it ensures a replica of each shard group, of each stream that is not DELETING, whose
 * replicas include this node, and removes every local group other than 0 that belongs to no
 * such shard. One pass at a time; changes during a pass coalesce into one more pass; a failed
 * pass is logged and retried.
 *
 * Safety against a stale view (a restarted node replaying its log): a group id at or above the
 * view's `nextGroupId` was allocated by a command this node has not applied yet, so it is never
 * removed; a group below it is removed only when its stream is DELETING or gone, which never
 * reverts (stream and group ids are not reused).
 */
import type { Broker } from "@sluice/broker";
import { FIRST_SHARD_GROUP_ID, RECONCILE_RETRY_MS } from "./constants.js";
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
}

export class Reconciler {
  private readonly runner: SerialRunner;

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
    const failures = (await Promise.allSettled(work)).filter((r) => r.status === "rejected");
    if (failures.length > 0) {
      throw new AggregateError(
        failures.map((f) => (f as PromiseRejectedResult).reason),
        `${failures.length} of ${work.length} replica changes failed`,
      );
    }
  }
}

export function describe(error: unknown): string {
  if (error instanceof AggregateError) return `${error.message}: ${error.errors.map(describe).join("; ")}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
