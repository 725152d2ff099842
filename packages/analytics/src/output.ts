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
 *
 * Reshards of the output stream: a batch answered StaleShardMapException (every record of the
 * request, nothing written: the shard was closed and its final log does not hold the batch, see
 * the gateway's sendProducerWrite) is certainly not in the output and never will be. `send()`
 * hands it back unsent, with every later batch of that shard, and the caller numbers those
 * records again for the new shards (`renumber()`, after `reopen()`), records the new numbers in
 * a current snapshot, and only then sends them. A batch whose outcome is unknown (a timeout, a
 * lost answer) is never handed back: it is retried under its own numbers until answered.
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
import { pause } from "./pause.js";
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

  /** Reads the output stream's open shards (call before `number()`). */
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

  /**
   * Reads the open shards again after `send()` handed batches back, until none of `staleShardIds`
   * is open any more (the shard map this node reads may lag the gateway's answer), retrying with
   * backoff until `signal` aborts.
   */
  async reopen(staleShardIds: readonly string[], signal: AbortSignal): Promise<void> {
    let backoffMs = RETRY_BACKOFF_MS_MIN;
    for (;;) {
      if (signal.aborted)
        throw new AnalyticsUnavailableError("stopped while reading the resharded output's shards");
      try {
        await this.open();
        const open = new Set(this.shards.map((shard) => shard.shardId));
        if (!staleShardIds.some((shardId) => open.has(shardId))) return;
      } catch {
        // Retried below: the stream may be between shard maps.
      }
      await pause(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS_MAX);
    }
  }

  /** Numbers `rows` per output shard from `nextSequence` (updated in place), in batches within the PutRecords limits. */
  number(rows: readonly OutputRow[], nextSequence: Record<string, number>): PendingBatch[] {
    return this.numberRecords(
      rows.map((row) => [row.partitionKey, row.data.toString("base64")] as const),
      nextSequence,
      (record) => Buffer.byteLength(record[1], "base64"),
    );
  }

  /**
   * Numbers again, for the current shard map, the records of batches `send()` handed back
   * (certainly not written), in their order, from `nextSequence` (updated in place).
   */
  renumber(unsent: readonly PendingBatch[], nextSequence: Record<string, number>): PendingBatch[] {
    return this.numberRecords(
      unsent.flatMap((batch) => batch.records),
      nextSequence,
      (record) => Buffer.byteLength(record[1], "base64"),
    );
  }

  private numberRecords(
    records: readonly (readonly [string, string])[],
    nextSequence: Record<string, number>,
    dataBytesOf: (record: readonly [string, string]) => number,
  ): PendingBatch[] {
    const byShard = new Map<string, (readonly [string, string])[]>();
    for (const record of records) {
      const shardId = this.shardOf(record[0]);
      const list = byShard.get(shardId);
      if (list === undefined) byShard.set(shardId, [record]);
      else list.push(record);
    }
    const batches: PendingBatch[] = [];
    for (const [shardId, list] of byShard) {
      let batch: (readonly [string, string])[] = [];
      let bytes = 0;
      let first = nextSequence[shardId] ?? 0;
      const close = (): void => {
        if (batch.length === 0) return;
        batches.push({ shardId, firstSequence: first, records: batch });
        first += batch.length;
        batch = [];
        bytes = 0;
      };
      for (const record of list) {
        const size = dataBytesOf(record) + record[0].length;
        if (batch.length === OUTPUT_BATCH_RECORDS_MAX || bytes + size > OUTPUT_BATCH_BYTES_MAX) close();
        batch.push(record);
        bytes += size;
      }
      close();
      nextSequence[shardId] = first;
    }
    return batches;
  }

  /**
   * Writes `batches` (each shard's in order, shards in parallel), retrying until written or
   * `signal` aborts. Returns what was certainly not written because a reshard closed its shard:
   * for each such shard, the rest of the batch answered StaleShardMapException (its first
   * sequence moved past the records an earlier attempt wrote) and every later batch of the
   * shard; empty when everything was written.
   */
  async send(batches: readonly PendingBatch[], signal: AbortSignal): Promise<PendingBatch[]> {
    const byShard = new Map<string, PendingBatch[]>();
    for (const batch of batches) {
      const list = byShard.get(batch.shardId);
      if (list === undefined) byShard.set(batch.shardId, [batch]);
      else list.push(batch);
    }
    const unsent = await Promise.all(
      [...byShard.values()].map(async (list): Promise<PendingBatch[]> => {
        for (const [i, batch] of list.entries()) {
          const stale = await this.sendBatch(batch, signal);
          if (stale !== undefined) return [stale, ...list.slice(i + 1)];
        }
        return [];
      }),
    );
    return unsent.flat();
  }

  /** Writes one batch; returns its unwritten rest when its shard was closed (StaleShardMapException). */
  private async sendBatch(batch: PendingBatch, signal: AbortSignal): Promise<PendingBatch | undefined> {
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
        if (failedAt < 0) return undefined;
        const failed = response.records[failedAt] as streams.PutRecordsResultEntry;
        // Records before the first failure are written; resend from it with its own sequence.
        from += failedAt;
        if (failed.errorCode === "StaleShardMapException") {
          // Nothing from `from` on is in the closed shard, nor ever will be: hand it back.
          return {
            shardId: batch.shardId,
            firstSequence: batch.firstSequence + from,
            records: batch.records.slice(from),
          };
        }
      } catch (error) {
        if (error instanceof AnalyticsUnavailableError) throw error;
      }
      await pause(backoffMs, signal);
      backoffMs = Math.min(backoffMs * 2, RETRY_BACKOFF_MS_MAX);
    }
    return undefined;
  }
}
