/**
 * `ConsumerGroup`: the consumer-group worker (the KCL equivalent). It joins the group, heartbeats
 * (every interval the cluster names, about 1 s), and reads each shard it leases from the shard's
 * last checkpoint with a GetRecords loop, handing every batch to the handler. Delivery is at
 * least once: a batch is handed again after a crash or a lease move until a checkpoint covers it.
 *
 * Contracts:
 * - Every checkpoint carries the lease's fencing epoch; a LEASE_LOST answer stops the shard at
 *   once (another member owns it now), and so does a heartbeat that no longer lists it.
 * - A shard read to its end (no next iterator) is checkpointed with `shardEnd`, which lets the
 *   cluster lease its children (parents are always finished before children).
 * - The handler of one shard is never called concurrently with itself; shards run in parallel.
 * - `stop()` stops reading, waits for running handlers, checkpoints what they finished and
 *   leaves the group, so the leases move at once instead of after the session timeout.
 */
import { randomUUID } from "node:crypto";
import { streams } from "@sluice/proto";
import type { SluiceClientCredentials, SluiceClientTls } from "../client.js";
import {
  GROUP_GET_RECORDS_LIMIT,
  GROUP_IDLE_POLL_MS,
  GROUP_RETRY_BACKOFF_MS_MAX,
  GROUP_RETRY_BACKOFF_MS_MIN,
} from "./constants.js";
import { GroupErrorCode, groupErrorOf, InvalidGroupOptionsError, LeaseLostError } from "./errors.js";
import { type GroupTransport, grpcGroupTransport } from "./transport.js";

export type GroupStartPosition =
  | { readonly type: "TRIM_HORIZON" }
  | { readonly type: "LATEST" }
  | { readonly type: "AT_TIMESTAMP"; readonly timestampMs: number };

export const TRIM_HORIZON: GroupStartPosition = Object.freeze({ type: "TRIM_HORIZON" });
export const LATEST: GroupStartPosition = Object.freeze({ type: "LATEST" });
export function atTimestamp(timestampMs: number): GroupStartPosition {
  return Object.freeze({ type: "AT_TIMESTAMP", timestampMs });
}

export interface ConsumerGroupOptions {
  readonly streamName: string;
  readonly groupName: string;
  /** Unique in the group. @default a random UUID */
  readonly memberId?: string;
  /** Node endpoints ("host:port"); tried in order. Give this or `transport`. */
  readonly endpoints?: readonly string[];
  /** The cluster, when not `endpoints` (tests, another SDK client). */
  readonly transport?: GroupTransport;
  /** TLS to `endpoints`, as SluiceClientOptions.tls. @default undefined (plaintext) */
  readonly tls?: true | SluiceClientTls;
  /**
   * An access key of a cluster with authentication on, sent with every call to `endpoints`, as
   * SluiceClientOptions.credentials. @default undefined (no credentials)
   */
  readonly credentials?: SluiceClientCredentials;
  /** Session timeout of a group this member creates, in ms. @default the cluster's (10 s) */
  readonly sessionTimeoutMs?: number;
  /** Called with errors the worker survives (retried calls, a handler that threw). @default ignored */
  readonly onError?: (error: unknown, shardId?: string) => void;
}

export interface RunOptions {
  /** Where a shard without a checkpoint starts (reshard children always start at TRIM_HORIZON). @default TRIM_HORIZON */
  readonly start?: GroupStartPosition;
}

export interface GroupRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly approximateArrivalTimestampMs: number;
}

export interface ShardContext {
  readonly shardId: string;
  readonly leaseEpoch: number;
  /**
   * Checkpoints this shard at `sequenceNumber` (default: the last record of the batch). Throws
   * LeaseLostError when the lease moved; the shard then stops after the handler returns.
   */
  checkpoint(sequenceNumber?: string): Promise<void>;
  /** Aborted when the lease is lost or the worker stops. */
  readonly signal: AbortSignal;
}

export type RecordHandler = (records: readonly GroupRecord[], context: ShardContext) => Promise<void>;

interface Lease {
  readonly shardId: string;
  readonly leaseEpoch: number;
  readonly checkpoint: string;
  readonly fromTrimHorizon: boolean;
}

class ShardTask {
  readonly abort = new AbortController();
  /** The last record a handler finished with, and the last checkpoint stored. */
  processed = "";
  checkpointed: string;
  done: Promise<void> = Promise.resolve();
  constructor(readonly lease: Lease) {
    this.checkpointed = lease.checkpoint;
  }
}

export class ConsumerGroup {
  readonly memberId: string;
  private readonly options: ConsumerGroupOptions;
  private readonly transport: GroupTransport;
  private readonly ownsTransport: boolean;
  private readonly tasks = new Map<string, ShardTask>();
  private running = false;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private heartbeatIntervalMs = 1_000;
  private handler: RecordHandler | undefined;
  private start: GroupStartPosition = TRIM_HORIZON;
  private heartbeating = false;

  constructor(options: ConsumerGroupOptions) {
    if (
      options.transport === undefined &&
      (options.endpoints === undefined || options.endpoints.length === 0)
    ) {
      throw new InvalidGroupOptionsError("ConsumerGroup needs endpoints or a transport");
    }
    if (options.streamName === "" || options.groupName === "") {
      throw new InvalidGroupOptionsError("ConsumerGroup needs a streamName and a groupName");
    }
    this.options = options;
    this.memberId = options.memberId ?? randomUUID();
    this.ownsTransport = options.transport === undefined;
    if (options.transport !== undefined && (options.tls !== undefined || options.credentials !== undefined)) {
      throw new InvalidGroupOptionsError(
        "tls and credentials apply to endpoints; a given transport carries its own (grpcGroupTransport options)",
      );
    }
    this.transport =
      options.transport ??
      grpcGroupTransport(options.endpoints ?? [], {
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      });
  }

  /** Shard ids this worker is processing now. */
  get shardIds(): readonly string[] {
    return [...this.tasks.keys()].sort();
  }

  /**
   * Joins the group and processes leased shards with `handler` until `stop()`. Resolves once
   * joined (processing goes on in the background).
   */
  async run(handler: RecordHandler, options: RunOptions = {}): Promise<void> {
    if (this.running) throw new InvalidGroupOptionsError("run() was already called on this ConsumerGroup");
    this.running = true;
    this.handler = handler;
    this.start = options.start ?? TRIM_HORIZON;
    await this.join();
    await this.heartbeat();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
  }

  /** Stops reading, checkpoints what the handlers finished, and leaves the group. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.heartbeatTimer !== null) clearInterval(this.heartbeatTimer);
    const tasks = [...this.tasks.values()];
    for (const task of tasks) task.abort.abort();
    await Promise.all(tasks.map((task) => task.done));
    await Promise.all(
      tasks.map(async (task) => {
        if (task.processed === "" || task.processed === task.checkpointed) return;
        await this.checkpointTask(task, task.processed, false).catch((error) =>
          this.report(error, task.lease.shardId),
        );
      }),
    );
    this.tasks.clear();
    if (this.running) {
      await this.transport
        .leaveGroup({
          streamName: this.options.streamName,
          groupName: this.options.groupName,
          memberId: this.memberId,
        })
        .catch((error) => this.report(error));
    }
    if (this.ownsTransport) this.transport.close();
  }

  private async join(): Promise<void> {
    const joined = await this.transport.joinGroup({
      streamName: this.options.streamName,
      groupName: this.options.groupName,
      memberId: this.memberId,
      ...(this.options.sessionTimeoutMs === undefined
        ? {}
        : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
    });
    if (joined.heartbeatIntervalMs > 0) this.heartbeatIntervalMs = joined.heartbeatIntervalMs;
  }

  private async heartbeat(): Promise<void> {
    if (this.stopping || this.heartbeating) return;
    this.heartbeating = true;
    try {
      const response = await this.transport.heartbeat({
        streamName: this.options.streamName,
        groupName: this.options.groupName,
        memberId: this.memberId,
      });
      if (!this.stopping) {
        this.reconcile(
          response.leases.map((lease) => ({
            shardId: lease.shardId,
            leaseEpoch: lease.leaseEpoch,
            checkpoint: lease.checkpointSequenceNumber,
            fromTrimHorizon: lease.fromTrimHorizon,
          })),
        );
      }
    } catch (error) {
      const typed = groupErrorOf(error);
      if (typed.code === GroupErrorCode.MemberNotFound) {
        // Expired (we were silent too long): every lease is gone; join again as a new incarnation.
        for (const task of this.tasks.values()) task.abort.abort();
        this.tasks.clear();
        await this.join().catch((joinError) => this.report(joinError));
      } else {
        this.report(typed);
      }
    } finally {
      this.heartbeating = false;
    }
  }

  /** Starts tasks for new leases (or a new epoch of one), stops those no longer leased. */
  private reconcile(leases: readonly Lease[]): void {
    const leased = new Map(leases.map((lease) => [lease.shardId, lease]));
    for (const [shardId, task] of this.tasks) {
      const lease = leased.get(shardId);
      if (lease === undefined || lease.leaseEpoch !== task.lease.leaseEpoch) {
        task.abort.abort();
        this.tasks.delete(shardId);
      }
    }
    for (const lease of leased.values()) {
      if (this.tasks.has(lease.shardId)) continue;
      const task = new ShardTask(lease);
      this.tasks.set(lease.shardId, task);
      task.done = this.process(task).catch((error) => this.report(error, lease.shardId));
    }
  }

  private async process(task: ShardTask): Promise<void> {
    const { shardId, leaseEpoch } = task.lease;
    const signal = task.abort.signal;
    let iterator = "";
    let backoffMs = GROUP_RETRY_BACKOFF_MS_MIN;
    while (!signal.aborted) {
      try {
        if (iterator === "") iterator = await this.iteratorFor(task);
        const page = await this.transport.getRecords({
          shardIterator: iterator,
          limit: GROUP_GET_RECORDS_LIMIT,
        });
        backoffMs = GROUP_RETRY_BACKOFF_MS_MIN;
        if (signal.aborted) return;
        if (page.records.length > 0) {
          const records: GroupRecord[] = page.records.map((r) => ({
            sequenceNumber: r.sequenceNumber,
            partitionKey: r.partitionKey,
            data: Buffer.from(r.data),
            approximateArrivalTimestampMs: r.approximateArrivalTimestamp,
          }));
          const last = (records[records.length - 1] as GroupRecord).sequenceNumber;
          let lost = false;
          const context: ShardContext = {
            shardId,
            leaseEpoch,
            signal,
            checkpoint: async (sequenceNumber = last) => {
              try {
                await this.checkpointTask(task, sequenceNumber, false);
              } catch (error) {
                if (error instanceof LeaseLostError) lost = true;
                throw error;
              }
            },
          };
          await (this.handler as RecordHandler)(records, context);
          task.processed = last;
          if (lost) return this.lose(task);
        }
        if (page.nextShardIterator === "") {
          // The shard is closed and read to its end: finish it so its children can be leased.
          await this.checkpointTask(task, task.processed, true);
          this.tasks.delete(shardId);
          return;
        }
        iterator = page.nextShardIterator;
        if (page.records.length === 0) await sleep(GROUP_IDLE_POLL_MS, signal);
      } catch (error) {
        if (error instanceof LeaseLostError) return this.lose(task);
        const typed = groupErrorOf(error);
        this.report(typed, shardId);
        // An expired or unusable iterator is fetched again from the last processed record.
        if (!typed.retriable || typed.code === "EXPIRED_ITERATOR") iterator = "";
        await sleep(backoffMs, signal);
        backoffMs = Math.min(backoffMs * 2, GROUP_RETRY_BACKOFF_MS_MAX);
      }
    }
  }

  private lose(task: ShardTask): void {
    task.abort.abort();
    if (this.tasks.get(task.lease.shardId) === task) this.tasks.delete(task.lease.shardId);
  }

  private async iteratorFor(task: ShardTask): Promise<string> {
    const after = task.processed !== "" ? task.processed : task.lease.checkpoint;
    const { Type } = ITERATOR_TYPES;
    let request: Partial<streams.GetShardIteratorRequest>;
    if (after !== "") request = { shardIteratorType: Type.AFTER, startingSequenceNumber: after };
    else if (task.lease.fromTrimHorizon || this.start.type === "TRIM_HORIZON")
      request = { shardIteratorType: Type.TRIM_HORIZON };
    else if (this.start.type === "LATEST") request = { shardIteratorType: Type.LATEST };
    else request = { shardIteratorType: Type.AT_TIMESTAMP, timestamp: this.start.timestampMs };
    const response = await this.transport.getShardIterator({
      streamName: this.options.streamName,
      shardId: task.lease.shardId,
      ...request,
    });
    return response.shardIterator;
  }

  private async checkpointTask(task: ShardTask, sequenceNumber: string, shardEnd: boolean): Promise<void> {
    try {
      await this.transport.checkpoint({
        streamName: this.options.streamName,
        groupName: this.options.groupName,
        memberId: this.memberId,
        shardId: task.lease.shardId,
        leaseEpoch: task.lease.leaseEpoch,
        sequenceNumber,
        shardEnd,
      });
      if (sequenceNumber !== "") task.checkpointed = sequenceNumber;
    } catch (error) {
      throw groupErrorOf(error);
    }
  }

  private report(error: unknown, shardId?: string): void {
    this.options.onError?.(error, shardId);
  }
}

const ITERATOR_TYPES = {
  Type: {
    AFTER: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
    TRIM_HORIZON: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    LATEST: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_LATEST,
    AT_TIMESTAMP: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AT_TIMESTAMP,
  },
} as const;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
