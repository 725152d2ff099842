/**
 * What a destination must do for the delivery worker. The worker guarantees that each shard's
 * batches are written one at a time, in order, by the shard's current lease holder, and moves
 * the shard's checkpoint only after `deliver` resolved.
 *
 * Idempotence contract: `deliver` of the same batch (same shard and sequence range) twice leaves
 * the destination as once. Files and objects get there by a key made of the range, plus an
 * intent written before the object: `pendingBatch` returns the range a previous owner announced
 * and may not have finished, and the worker closes its first batch at exactly that range, so the
 * retry overwrites the same key. PostgreSQL keeps a ledger instead (see postgres-destination.ts)
 * and has no pending batch.
 */
import type { DeliveryBatch } from "./batch.js";

export interface PendingBatch {
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
}

export interface Destination {
  /** The batch of `shardId` announced last (it may be complete); undefined when none. */
  pendingBatch(shardId: string): Promise<PendingBatch | undefined>;
  /**
   * Records the batch's range as the shard's intent (files, S3), before the worker checks that it
   * still holds the lease and calls `deliver`. No-op where the destination deduplicates itself.
   */
  announce(batch: DeliveryBatch): Promise<void>;
  /** Writes the batch; rejects with DestinationError (retriable or permanent) when refused. */
  deliver(batch: DeliveryBatch): Promise<void>;
  /** Writes a batch that failed for good to the error output, with the reason. */
  deliverFailed(batch: DeliveryBatch, reason: string): Promise<void>;
  close(): Promise<void>;
}
