/**
 * The worker of one delivery stream on one node: a member of the definition's consumer group
 * over the source stream. Each leased shard gets a `ShardBuffer`; records are encoded into it as
 * they are read, and a batch closes when its bytes reach the size hint (so no batch is larger
 * than the hint plus one record), when its first record has waited the interval, or at the range
 * of the shard's pending intent. A closed batch is written to the destination (retried with
 * backoff until it is acknowledged or the lease is lost) and only then checkpointed.
 *
 * Contracts:
 * - Reading waits while a batch is being written (backpressure): a shard holds at most one batch.
 * - A shard's first batch after a lease move ends exactly at the previous owner's intent, when
 *   that intent is not checkpointed yet, so a crash between "object written" and "checkpoint"
 *   rewrites the same key rather than a second, differently cut object.
 * - The consumer-group worker checkpoints what its handler was given when it stops, and a closed
 *   shard at its end; this worker's transport clamps every checkpoint to what was delivered and
 *   delivers a closed shard's buffer before its end is checkpointed. A checkpoint never passes
 *   an undelivered record.
 */
import {
  ConsumerGroup,
  type GroupRecord,
  type GroupTransport,
  type ShardContext,
  TRIM_HORIZON,
} from "@sluice/client";
import { groups } from "@sluice/proto";
import type { DeliveryBatch } from "./batch.js";
import {
  DELIVERY_RETRY_BACKOFF_MS_MAX,
  DELIVERY_RETRY_BACKOFF_MS_MIN,
  STOP_FLUSH_TIMEOUT_MS,
} from "./constants.js";
import { type DeliveryStreamDefinition, deliveryGroupName, sourceStreamName } from "./definition.js";
import type { Destination, PendingBatch } from "./destination.js";
import { DeliveryUnavailableError, DestinationError } from "./errors.js";
import { DeliveryMetrics, type DeliveryMetricsSnapshot } from "./metrics.js";
import { encodeRecord, type SourceRecord } from "./record-format.js";
import { compareSequenceNumbers } from "./sequence.js";

export interface DeliveryWorkerOptions {
  readonly definition: DeliveryStreamDefinition;
  readonly destination: Destination;
  /** The cluster (consumer groups and reads); the worker does not close it. */
  readonly transport: GroupTransport;
  /** Unique in the group. @default a random UUID */
  readonly memberId?: string;
  /** Session timeout of the group, in ms. @default the cluster's */
  readonly sessionTimeoutMs?: number;
  /** Errors the worker survives (a refused batch, a failed call). @default ignored */
  readonly onError?: (error: unknown, shardId?: string) => void;
  /** Wall clock in ms. @default Date.now */
  readonly clock?: () => number;
}

class ShardBuffer {
  records: SourceRecord[] = [];
  lines: Buffer[] = [];
  bytes = 0;
  /** When the first buffered record entered (local clock), for the interval and the latency. */
  firstAddedAtMs = 0;
  /** The last record added (duplicates from a re-read are dropped) and the last delivered. */
  lastAdded = "";
  delivered = "";
  pending: PendingBatch | undefined;
  recovered = false;
  /** Set when a lease check found the shard leased elsewhere (before the group's heartbeat says so). */
  revoked = false;
  timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    readonly shardId: string,
    public context: ShardContext,
  ) {}

  /** Runs `task` after every task queued before it: a shard's buffer is changed by one task at a time. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  get lost(): boolean {
    return this.revoked || this.context.signal.aborted;
  }
}

export class DeliveryWorker {
  readonly definition: DeliveryStreamDefinition;
  private readonly options: DeliveryWorkerOptions;
  private readonly group: ConsumerGroup;
  private readonly shards = new Map<string, ShardBuffer>();
  private readonly metrics = new DeliveryMetrics();
  private readonly clock: () => number;
  /** Aborted by stop(): ends retries that wait for a destination. */
  private readonly stopping = new AbortController();
  private stopped: Promise<void> | undefined;

  constructor(options: DeliveryWorkerOptions) {
    this.options = options;
    this.definition = options.definition;
    this.clock = options.clock ?? Date.now;
    this.group = new ConsumerGroup({
      streamName: sourceStreamName(options.definition),
      groupName: deliveryGroupName(options.definition),
      transport: this.clampingTransport(options.transport),
      ...(options.memberId === undefined ? {} : { memberId: options.memberId }),
      ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
      onError: (error, shardId) => this.report(error, shardId),
    });
  }

  /** Joins the group; delivery goes on in the background until stop(). */
  async start(): Promise<void> {
    await this.group.run((records, context) => this.handle(records, context), { start: TRIM_HORIZON });
  }

  /**
   * Delivers what is buffered (trying for at most STOP_FLUSH_TIMEOUT_MS), then leaves the group.
   * What could not be delivered is left to the next owner, from the last checkpoint.
   */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      const deadline = setTimeout(() => this.stopping.abort(), STOP_FLUSH_TIMEOUT_MS);
      try {
        await Promise.all(
          [...this.shards.values()].map((shard) =>
            shard
              .exclusive(async () => {
                // A batch bound to an intent is only written whole, at the intent's range.
                if (shard.pending === undefined) await this.flush(shard);
              })
              .catch((error) => this.report(error, shard.shardId)),
          ),
        );
      } finally {
        clearTimeout(deadline);
        this.stopping.abort();
        for (const shard of this.shards.values()) if (shard.timer !== null) clearTimeout(shard.timer);
        await this.group.stop();
      }
    })();
    return this.stopped;
  }

  metricsSnapshot(): DeliveryMetricsSnapshot {
    const now = this.clock();
    let oldest = Number.POSITIVE_INFINITY;
    let bufferedRecords = 0;
    for (const shard of this.shards.values()) {
      if (shard.lost) continue;
      bufferedRecords += shard.records.length;
      const first = shard.records[0];
      if (first !== undefined) oldest = Math.min(oldest, first.approximateArrivalTimestampMs);
    }
    return this.metrics.snapshot({
      freshnessMs: oldest === Number.POSITIVE_INFINITY ? 0 : Math.max(0, now - oldest),
      bufferedRecords,
      shards: this.shards.size,
    });
  }

  /** The consumer group's handler: encodes records into the shard's buffer, closing batches as they fill. */
  private async handle(records: readonly GroupRecord[], context: ShardContext): Promise<void> {
    let shard = this.shards.get(context.shardId);
    if (shard === undefined || shard.context.leaseEpoch !== context.leaseEpoch || shard.lost) {
      if (shard?.timer) clearTimeout(shard.timer);
      shard = new ShardBuffer(context.shardId, context);
      this.shards.set(context.shardId, shard);
    } else {
      shard.context = context;
    }
    const current = shard;
    await current.exclusive(async () => {
      if (!current.recovered) await this.recover(current, records);
      const format = this.definition.format;
      const sizeBytes = this.definition.bufferSizeBytes;
      for (const record of records) {
        if (current.lost || this.stopping.signal.aborted) return;
        if (current.lastAdded !== "" && compareSequenceNumbers(record.sequenceNumber, current.lastAdded) <= 0)
          continue;
        const pending = current.pending;
        if (
          pending !== undefined &&
          compareSequenceNumbers(record.sequenceNumber, pending.lastSequenceNumber) > 0
        ) {
          // The intent's last record is gone (trimmed): close the batch at what remains of it.
          await this.flush(current);
          current.pending = undefined;
        }
        const line = encodeRecord(record, format);
        if (current.records.length === 0) current.firstAddedAtMs = this.clock();
        current.records.push(record);
        current.lines.push(line);
        current.bytes += line.length;
        current.lastAdded = record.sequenceNumber;
        if (current.pending !== undefined) {
          if (record.sequenceNumber === current.pending.lastSequenceNumber) {
            await this.flush(current);
            current.pending = undefined;
          }
        } else if (current.bytes >= sizeBytes) {
          await this.flush(current);
        }
      }
      if (current.records.length > 0 && current.pending === undefined) {
        if (this.definition.bufferIntervalMs === 0) await this.flush(current);
        else this.armTimer(current);
      }
    });
  }

  /** Reads the shard's intent; it binds the first batch when it is not checkpointed yet. */
  private async recover(shard: ShardBuffer, records: readonly GroupRecord[]): Promise<void> {
    const first = records[0];
    const pending = await this.retry(shard, () => this.options.destination.pendingBatch(shard.shardId));
    shard.recovered = true;
    if (pending === undefined || first === undefined) return;
    if (compareSequenceNumbers(pending.lastSequenceNumber, first.sequenceNumber) >= 0)
      shard.pending = pending;
  }

  private armTimer(shard: ShardBuffer): void {
    if (shard.timer !== null) return;
    const dueInMs = Math.max(0, shard.firstAddedAtMs + this.definition.bufferIntervalMs - this.clock());
    shard.timer = setTimeout(() => {
      shard.timer = null;
      if (shard.lost) return;
      void shard
        .exclusive(async () => {
          if (shard.pending === undefined) await this.flush(shard);
        })
        .catch((error) => this.report(error, shard.shardId));
    }, dueInMs);
  }

  /** Writes the buffered batch (retrying), then checkpoints it. Call inside `shard.exclusive`. */
  private async flush(shard: ShardBuffer): Promise<void> {
    if (shard.timer !== null) {
      clearTimeout(shard.timer);
      shard.timer = null;
    }
    const records = shard.records;
    if (records.length === 0 || shard.lost) return;
    const first = records[0] as SourceRecord;
    const last = records[records.length - 1] as SourceRecord;
    const batch: DeliveryBatch = {
      shardId: shard.shardId,
      firstSequenceNumber: first.sequenceNumber,
      lastSequenceNumber: last.sequenceNumber,
      firstArrivalMs: first.approximateArrivalTimestampMs,
      records,
      lines: shard.lines,
      bytes: shard.bytes,
    };
    const startedAtMs = this.clock();
    let failedAs = "";
    const delivered = await this.retry(
      shard,
      async () => {
        const destination = this.options.destination;
        // Intent first, then a fenced check that this member still holds the lease, then the
        // object: a new owner either reads this intent (and rewrites exactly this batch) or
        // this member learns it lost the lease and writes nothing.
        await destination.announce(batch);
        await this.checkLease(shard);
        if (failedAs !== "") await destination.deliverFailed(batch, failedAs);
        else await destination.deliver(batch);
        return true;
      },
      (error) => {
        // A permanent refusal that outlasted the retry duration goes to the error output.
        if (
          error instanceof DestinationError &&
          !error.retriable &&
          this.clock() - startedAtMs >= this.definition.retryDurationMs
        ) {
          failedAs = error.message;
        }
      },
    );
    if (delivered !== true) return;
    if (failedAs !== "") this.metrics.recordsFailed += records.length;
    else {
      this.metrics.recordsDelivered += records.length;
      this.metrics.bytesDelivered += batch.bytes;
    }
    this.metrics.batchesDelivered += 1;
    this.metrics.observeLatency(this.clock() - shard.firstAddedAtMs);
    shard.records = [];
    shard.lines = [];
    shard.bytes = 0;
    shard.delivered = last.sequenceNumber;
    try {
      await shard.context.checkpoint(last.sequenceNumber);
    } catch (error) {
      // Lease lost: the next owner re-reads from the previous checkpoint and rewrites this batch's key.
      this.report(error, shard.shardId);
    }
  }

  /**
   * Asks the cluster (a heartbeat: a metadata command, so ordered with lease moves) whether this
   * member still holds the shard at its epoch; marks the shard revoked when not.
   */
  private async checkLease(shard: ShardBuffer): Promise<void> {
    const response = await this.options.transport.heartbeat({
      streamName: sourceStreamName(this.definition),
      groupName: deliveryGroupName(this.definition),
      memberId: this.group.memberId,
    });
    const held = response.leases.some(
      (lease) => lease.shardId === shard.shardId && lease.leaseEpoch === shard.context.leaseEpoch,
    );
    if (!held) {
      shard.revoked = true;
      throw new DeliveryUnavailableError(
        `shard ${shard.shardId} is leased to another member now; stopping it here`,
      );
    }
  }

  /**
   * Runs `attempt` until it resolves, backing off after each failure; undefined when the lease
   * was lost or the worker stopped first.
   */
  private async retry<T>(
    shard: ShardBuffer,
    attempt: () => Promise<T>,
    onFailure?: (error: unknown) => void,
  ): Promise<T | undefined> {
    let backoffMs = DELIVERY_RETRY_BACKOFF_MS_MIN;
    for (;;) {
      if (shard.lost || this.stopping.signal.aborted) return undefined;
      try {
        return await attempt();
      } catch (error) {
        this.metrics.failures += 1;
        this.report(error, shard.shardId);
        onFailure?.(error);
        await sleep(backoffMs, shard.context.signal, this.stopping.signal);
        backoffMs = Math.min(backoffMs * 2, DELIVERY_RETRY_BACKOFF_MS_MAX);
      }
    }
  }

  /**
   * The cluster as the consumer group sees it, with checkpoints clamped to what was delivered,
   * and a closed shard's buffer delivered before its end is checkpointed.
   */
  private clampingTransport(transport: GroupTransport): GroupTransport {
    return {
      ...transport,
      joinGroup: (request) => transport.joinGroup(request),
      heartbeat: (request) => transport.heartbeat(request),
      leaveGroup: (request) => transport.leaveGroup(request),
      describeGroup: (request) => transport.describeGroup(request),
      getShardIterator: (request) => transport.getShardIterator(request),
      getRecords: (request) => transport.getRecords(request),
      close: () => {},
      checkpoint: async (request) => {
        const shard = this.shards.get(request.shardId);
        if (request.shardEnd) {
          if (shard !== undefined && !shard.lost) {
            await shard.exclusive(async () => {
              shard.pending = undefined;
              await this.flush(shard);
            });
            if (shard.records.length > 0) {
              throw new DeliveryUnavailableError(
                `shard ${request.shardId} ends but its last batch is not delivered yet; retrying`,
              );
            }
          }
          return transport.checkpoint(request);
        }
        const delivered = shard === undefined || shard.lost ? "" : shard.delivered;
        if (delivered === "") return groups.CheckpointResponse.fromPartial({});
        const sequenceNumber =
          compareSequenceNumbers(request.sequenceNumber, delivered) <= 0 ? request.sequenceNumber : delivered;
        return transport.checkpoint({ ...request, sequenceNumber });
      },
    };
  }

  private report(error: unknown, shardId?: string): void {
    this.options.onError?.(error, shardId);
  }
}

function sleep(ms: number, ...signals: AbortSignal[]): Promise<void> {
  return new Promise((resolve) => {
    if (signals.some((signal) => signal.aborted)) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      for (const signal of signals) signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    for (const signal of signals) signal.addEventListener("abort", done, { once: true });
  });
}
