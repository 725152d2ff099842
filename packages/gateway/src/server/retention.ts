/**
 * Retention: each node trims its own shard replicas of records older than their stream's
 * retention period, every RETENTION_SWEEP_INTERVAL_MS. Every replica applies the same rule to
 * the same committed log, so all of them drop the same prefix (a lagging one catches up later);
 * TRIM_HORIZON iterators start at the first index still present, so they move with it.
 */
import type { Broker } from "@sluice/broker";
import type { MetadataService } from "@sluice/metadata";

const HOUR_MS = 3_600_000;

export class RetentionSweeper {
  private readonly broker: Broker;
  private readonly metadata: MetadataService;
  private running: Promise<number> | null = null;

  constructor(broker: Broker, metadata: MetadataService) {
    this.broker = broker;
    this.metadata = metadata;
  }

  /**
   * Trims every local shard replica up to the first record younger than its stream's retention
   * at `nowMs`. Resolves with the number of replicas whose first index moved. One sweep at a time.
   */
  sweep(nowMs: number): Promise<number> {
    this.running ??= this.run(nowMs).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async run(nowMs: number): Promise<number> {
    const local = new Set(this.broker.groupIds());
    let trimmed = 0;
    for (const stream of this.metadata.view().streams.values()) {
      const cutoffMs = nowMs - stream.retentionHours * HOUR_MS;
      for (const shard of stream.shards) {
        if (!local.has(shard.groupId)) continue;
        try {
          const status = this.broker.groupStatus(shard.groupId);
          const keepFrom = this.broker.indexAtTimestamp(shard.groupId, cutoffMs);
          if (keepFrom <= status.firstIndex) continue;
          const first = await this.broker.trimLog(shard.groupId, keepFrom);
          if (first > status.firstIndex) trimmed++;
        } catch {
          // The group went away or the broker is closing: the next sweep tries again.
        }
      }
    }
    return trimmed;
  }
}
