/**
 * SubscribeToShard (enhanced fan-out): pushes a shard's records to a registered consumer as this
 * replica applies them. Each event carries the records, ContinuationSequenceNumber (resume with
 * AFTER_SEQUENCE_NUMBER from it for no gap and no repeat) and MillisBehindLatest; an idle
 * subscription still gets an event every SUBSCRIBE_IDLE_EVENT_INTERVAL_MS. As in Kinesis, one
 * subscription per (consumer, shard) at a time (another gets ResourceInUseException), and a
 * subscription ends after SUBSCRIPTION_DURATION_MS; the client subscribes again from the
 * continuation sequence number. A slow reader is paced by gRPC flow control: the loop waits for
 * 'drain' and never buffers more than one event.
 *
 * At the end of a shard closed by a reshard the last event carries ChildShards and the stream
 * ends, as in Kinesis; the client subscribes to the children next. While the shard is sealed but
 * the metadata has not closed it yet, the loop waits for a metadata change rather than the
 * shard's applied index (which no longer moves).
 *
 * One subscription per (consumer, shard) in the whole cluster, as in Kinesis: before its first
 * event a subscription acquires the pair in the metadata service (AcquireSubscription, one Raft
 * write), which refuses it with ResourceInUseException while another holder is younger than
 * SUBSCRIPTION_TAKEOVER_AFTER_MS, and otherwise takes the pair over. The gateway whose holder was
 * taken over sees the change in its metadata view and ends that subscription with
 * ResourceInUseException; a subscription that ends releases the pair. A holder whose node died
 * is taken over by the next subscriber after the same 5 seconds (or dropped when stale).
 */

import { randomBytes } from "node:crypto";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { Broker } from "@sluice/broker";
import type { MetadataService, MetadataView, ShardInfo, StreamInfo } from "@sluice/metadata";
import type { streams } from "@sluice/proto";
import { ResourceInUseError } from "../errors.js";
import {
  SEALED_SHARD_WAIT_MS_MAX,
  SUBSCRIBE_EVENT_BYTES_MAX,
  SUBSCRIBE_EVENT_RECORDS_MAX,
  SUBSCRIBE_IDLE_EVENT_INTERVAL_MS,
  SUBSCRIPTION_DURATION_MS,
} from "./constants.js";
import type { MetadataChanges } from "./metadata-changes.js";
import type { ReadPath, ShardPosition } from "./read-records.js";
import type { StreamLookup } from "./stream-lookup.js";

export interface SubscriptionsOptions {
  readonly broker: Broker;
  readonly lookup: StreamLookup;
  readonly read: ReadPath;
  /** Wakes a subscription waiting at a sealed shard's end when the metadata changes. */
  readonly changes: MetadataChanges;
  /** Where a subscription acquires and releases its (consumer, shard) pair. */
  readonly registry: Pick<MetadataService, "acquireSubscription" | "releaseSubscription" | "view">;
  readonly clock: () => number;
}

/** A subscription of this gateway, watched for a takeover by another one. */
interface Held {
  readonly consumerArn: string;
  readonly shardId: string;
  readonly groupId: number;
  lost: boolean;
}

type Call = ServerWritableStream<streams.SubscribeToShardRequest, streams.SubscribeToShardResponse>;

export class Subscriptions {
  private readonly options: SubscriptionsOptions;
  /** Wake-ups waiting for a group's applied index to move. */
  private readonly waiters = new Map<number, Set<() => void>>();
  /** This gateway's live subscriptions by holder id. */
  private readonly held = new Map<string, Held>();
  private readonly unsubscribe: () => void;
  private readonly unlisten: () => void;
  private closed = false;

  constructor(options: SubscriptionsOptions) {
    this.options = options;
    this.unsubscribe = options.broker.onApplied((groupId) => {
      const waiting = this.waiters.get(groupId);
      if (waiting === undefined) return;
      this.waiters.delete(groupId);
      for (const wake of waiting) wake();
    });
    this.unlisten = options.changes.listen(() => this.checkHolders());
  }

  get count(): number {
    return this.held.size;
  }

  /**
   * Validates the request (the caller did the field checks), then streams events until the
   * client cancels, the subscription's time is up, or the gateway closes. Errors before the
   * first event reject (the handler turns them into a status); later ones reject too, with the
   * call left open for the caller to end with that error (a gRPC status, an exception event).
   */
  async run(call: Call): Promise<void> {
    const { lookup, read, clock, changes } = this.options;
    const request = call.request;
    const { stream } = await lookup.activeConsumer(request.consumerArn);
    const shard = lookup.shard(stream, request.shardId);
    const start = request.startingPosition;
    let position: ShardPosition = read.startPosition(
      stream,
      shard,
      start?.type ?? 0,
      start?.sequenceNumber ?? "",
      start?.timestamp,
    );
    const holderId = randomBytes(HOLDER_ID_BYTES).toString("hex");
    await this.options.registry.acquireSubscription({
      consumerArn: request.consumerArn,
      shardId: shard.shardId,
      holderId,
    });
    const held: Held = {
      consumerArn: request.consumerArn,
      shardId: shard.shardId,
      groupId: shard.groupId,
      lost: false,
    };
    this.held.set(holderId, held);
    let cancelled = false;
    let failed = false;
    const onCancel = () => {
      cancelled = true;
      this.wakeAll(shard.groupId);
    };
    call.on("cancelled", onCancel);
    call.on("close", onCancel);
    try {
      const endAtMs = clock() + SUBSCRIPTION_DURATION_MS;
      let lastEventAtMs = Number.NEGATIVE_INFINITY;
      let current: { stream: StreamInfo; shard: ShardInfo } = { stream, shard };
      while (!cancelled && !this.closed && clock() < endAtMs) {
        if (held.lost) {
          throw new ResourceInUseError(
            `a newer SubscribeToShard for consumer ${request.consumerArn} and ${shard.shardId} took over this subscription`,
          );
        }
        // The latest view of the shard: a reshard may have closed it (endingIndex, children).
        const fresh = lookup.streamById(stream.streamId, stream.streamName);
        const freshShard = fresh?.shards.find((s) => s.shardId === shard.shardId);
        if (fresh !== undefined && freshShard !== undefined) current = { stream: fresh, shard: freshShard };
        const page = read.readPage(
          current.stream,
          current.shard,
          position,
          SUBSCRIBE_EVENT_RECORDS_MAX,
          SUBSCRIBE_EVENT_BYTES_MAX,
        );
        position = page.next;
        const now = clock();
        if (
          page.drained ||
          page.records.length > 0 ||
          now - lastEventAtMs >= SUBSCRIBE_IDLE_EVENT_INTERVAL_MS
        ) {
          lastEventAtMs = now;
          const event: streams.SubscribeToShardResponse = {
            subscribeToShardEvent: {
              records: page.records,
              continuationSequenceNumber: page.continuationSequenceNumber,
              millisBehindLatest: page.millisBehindLatest,
              childShards: page.childShards,
            },
          };
          if (!call.write(event)) await this.drained(call, () => cancelled);
          if (page.drained) break;
          if (page.records.length > 0) continue;
        }
        const waitMs = Math.max(
          1,
          Math.min(SUBSCRIBE_IDLE_EVENT_INTERVAL_MS - (clock() - lastEventAtMs), endAtMs - clock()),
        );
        if (page.awaitingClose) await changes.wait(Math.min(waitMs, SEALED_SHARD_WAIT_MS_MAX));
        else await this.applied(shard.groupId, waitMs);
      }
    } catch (error) {
      // The caller ends the call with the error (a status, or an exception event).
      failed = true;
      throw error;
    } finally {
      this.held.delete(holderId);
      if (!held.lost) {
        // Best effort: a pair left held is taken over by the next subscriber after 5 seconds.
        this.options.registry
          .releaseSubscription({ consumerArn: request.consumerArn, shardId: shard.shardId, holderId })
          .catch(() => {});
      }
      call.off("cancelled", onCancel);
      call.off("close", onCancel);
      if (!cancelled && !failed) call.end();
    }
  }

  /** Ends every subscription's wait (the gateway is closing). */
  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.unlisten();
    for (const groupId of [...this.waiters.keys()]) this.wakeAll(groupId);
  }

  /** Marks (and wakes) every subscription of this gateway whose pair another holder took over. */
  private checkHolders(): void {
    if (this.held.size === 0) return;
    const view = this.options.registry.view();
    for (const [holderId, held] of this.held) {
      if (held.lost || !takenOver(view, held, holderId)) continue;
      held.lost = true;
      this.wakeAll(held.groupId);
    }
  }

  private wakeAll(groupId: number): void {
    const waiting = this.waiters.get(groupId);
    if (waiting === undefined) return;
    this.waiters.delete(groupId);
    for (const wake of waiting) wake();
  }

  /** Resolves when the group's applied index moves, or after `timeoutMs`. */
  private applied(groupId: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.waiters.get(groupId);
      if (waiting === undefined) {
        waiting = new Set();
        this.waiters.set(groupId, waiting);
      }
      const set = waiting;
      const wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      set.add(wake);
    });
  }

  private drained(call: Call, cancelled: () => boolean): Promise<void> {
    if (cancelled()) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        call.off("drain", done);
        call.off("close", done);
        resolve();
      };
      call.on("drain", done);
      call.on("close", done);
    });
  }
}

/** Bytes of randomness in a holder id (hex in the metadata). */
const HOLDER_ID_BYTES = 12;

/** True when the view shows the pair held by another subscription, or the consumer gone. */
function takenOver(view: MetadataView, held: Held, holderId: string): boolean {
  const consumer = view.consumerByArn(held.consumerArn)?.consumer;
  if (consumer === undefined || consumer.status !== "ACTIVE") return true;
  const holder = consumer.subscriptions?.find((h) => h.shardId === held.shardId);
  return holder !== undefined && holder.holderId !== holderId;
}
