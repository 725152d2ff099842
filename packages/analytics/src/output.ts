/**
 * The output of an application, written exactly once with the cluster's idempotent producer
 * protocol (PutRecords with producer id, producer shard and first sequence) used directly: the
 * SDK Producer draws a random id, and exactly-once across nodes needs one that a new owner
 * knows. The id is derived from the application id, so every node running the application
 * writes as the same producer, and the sequences are kept in the snapshot.
 *
 * `number()` assigns each output row its shard (the MD5 routing of its partition key, as the
 * gateway does) and its sequence there, in batches; `send()` writes batches, each shard's in
 * order. A batch answered with OutOfOrderSequenceException is older than what the shard's
 * leader expects next — only possible when it was written before (its snapshot was current, so
 * nothing after it was numbered without it being sent first) — and counts as written.
 */
import { createHash } from "node:crypto";
import type { SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import {
  OUTPUT_BATCH_BYTES_MAX,
  OUTPUT_BATCH_RECORDS_MAX,
  RETRY_BACKOFF_MS_MAX,
  RETRY_BACKOFF_MS_MIN,
} from "./constants.js";
import type { OutputRow } from "./engine.js";
import { AnalyticsUnavailableError } from "./errors.js";
import type { PendingBatch } from "./snapshot.js";

/** An open output shard: its id and its hash range as 16-byte big-endian bounds. */
interface OutputShard {
  readonly shardId: string;
  readonly start: Buffer;
  readonly end: Buffer;
}

/** The 8-byte producer id of an application: the same on every node. */
export function producerIdOf(applicationId: string): Buffer {
  return createHash("sha256").update(`sluice-analytics:${applicationId}`).digest().subarray(0, 8);
}

function hashKeyBytes(decimal: string): Buffer {
  return Buffer.from(BigInt(decimal).toString(16).padStart(32, "0"), "hex");
}

export class OutputWriter {
  private readonly client: SluiceClient;
  private readonly streamName: string;
  private readonly producerId: Buffer;
  private shards: OutputShard[] = [];

  constructor(options: { client: SluiceClient; streamName: string; applicationId: string }) {
    this.client = options.client;
    this.streamName = options.streamName;
    this.producerId = producerIdOf(options.applicationId);
  }

  /** Reads the output stream's open shards (call before `number()`, and after a reshard). */
  async open(): Promise<void> {
    const all = await this.client.listAllShards(this.streamName);
    this.shards = all
      .filter((shard) => (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "")
      .map((shard) => ({
        shardId: shard.shardId,
        start: hashKeyBytes(shard.hashKeyRange?.startingHashKey ?? "0"),
        end: hashKeyBytes(shard.hashKeyRange?.endingHashKey ?? "0"),
      }))
      .sort((a, b) => Buffer.compare(a.start, b.start));
    if (this.shards.length === 0)
      throw new AnalyticsUnavailableError(`output stream ${this.streamName} has no open shard yet`);
  }

  private shardOf(partitionKey: string): string {
    const hash = createHash("md5").update(partitionKey, "utf8").digest();
    let low = 0;
    let high = this.shards.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (Buffer.compare((this.shards[mid] as OutputShard).start, hash) <= 0) low = mid;
      else high = mid - 1;
    }
    return (this.shards[low] as OutputShard).shardId;
  }

  /** Numbers `rows` per output shard from `nextSequence` (updated in place), in batches within the PutRecords limits. */
  number(rows: readonly OutputRow[], nextSequence: Record<string, number>): PendingBatch[] {
    const byShard = new Map<string, OutputRow[]>();
    for (const row of rows) {
      const shardId = this.shardOf(row.partitionKey);
      const list = byShard.get(shardId);
      if (list === undefined) byShard.set(shardId, [row]);
      else list.push(row);
    }
    const batches: PendingBatch[] = [];
    for (const [shardId, list] of byShard) {
      let records: [string, string][] = [];
      let bytes = 0;
      let first = nextSequence[shardId] ?? 0;
      const close = (): void => {
        if (records.length === 0) return;
        batches.push({ shardId, firstSequence: first, records });
        first += records.length;
        records = [];
        bytes = 0;
      };
      for (const row of list) {
        const size = row.data.length + row.partitionKey.length;
        if (records.length === OUTPUT_BATCH_RECORDS_MAX || bytes + size > OUTPUT_BATCH_BYTES_MAX) close();
        records.push([row.partitionKey, row.data.toString("base64")]);
        bytes += size;
      }
      close();
      nextSequence[shardId] = first;
    }
    return batches;
  }

  /** Writes `batches` (each shard's in order, shards in parallel), retrying until written or `signal` aborts. */
  async send(batches: readonly PendingBatch[], signal: AbortSignal): Promise<void> {
    const byShard = new Map<string, PendingBatch[]>();
    for (const batch of batches) {
      const list = byShard.get(batch.shardId);
      if (list === undefined) byShard.set(batch.shardId, [batch]);
      else list.push(batch);
    }
    await Promise.all(
      [...byShard.values()].map(async (list) => {
        for (const batch of list) await this.sendBatch(batch, signal);
      }),
    );
  }

  private async sendBatch(batch: PendingBatch, signal: AbortSignal): Promise<void> {
    let from = 0;
    let backoffMs = RETRY_BACKOFF_MS_MIN;
    while (from < batch.records.length) {
      if (signal.aborted)
        throw new AnalyticsUnavailableError("stopped while writing output; the next owner re-sends it");
      try {
        const records = batch.records.slice(from);
        const response = await this.client.putRecords(
          streams.PutRecordsRequest.fromPartial({
            streamName: this.streamName,
            records: records.map(([partitionKey, data]) => ({
              partitionKey,
              data: Buffer.from(data, "base64"),
            })),
            producerId: this.producerId,
            producerShardId: batch.shardId,
            producerSequence: batch.firstSequence + from,
          }),
        );
        const failedAt = response.records.findIndex(
          (entry) => entry.errorCode !== "" && entry.errorCode !== "OutOfOrderSequenceException",
        );
        if (failedAt < 0) return;
        const failed = response.records[failedAt] as streams.PutRecordsResultEntry;
        if (failed.errorCode === "StaleShardMapException") {
          throw new AnalyticsUnavailableError(
            `output stream ${this.streamName} was resharded while the application wrote to it; output is paused (see docs/analytics.md, limits)`,
          );
        }
        // Records before the first failure are written; resend from it with its own sequence.
        from += failedAt;
      } catch (error) {
        if (error instanceof AnalyticsUnavailableError) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS_MAX);
    }
  }
}
