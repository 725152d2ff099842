/**
 * The gateway of one node: the public `sluice.v1.StreamsService` and the internal
 * `sluice.peer.v1.ForwardService`, over this node's broker and metadata service. Stateless apart
 * from caches (routing tables, throttle buckets, live subscriptions): everything it knows comes
 * from the metadata view and the local replicas. The node process registers the two services on
 * its public and peer gRPC servers, calls `start()` once the metadata service is ready, and
 * `close()` before it shuts the broker down.
 */
import type { Broker } from "@sluice/broker";
import type { MetadataService } from "@sluice/metadata";
import type { streams } from "@sluice/proto";
import type { MasterKeys } from "../encryption/master-keys.js";
import { StreamKeys } from "../encryption/stream-keys.js";
import { registerEventStreamSubscriptions } from "../http/subscribe-to-shard.js";
import { defaultThrottleLimits, type ThrottleLimits, ThrottleRegistry } from "../throttle.js";
import { RETENTION_SWEEP_INTERVAL_MS } from "./constants.js";
import { ControlPlane } from "./control-plane.js";
import type { ForwardTargets } from "./forward-service.js";
import { type MetadataChangeSource, MetadataChanges } from "./metadata-changes.js";
import type { ShardMetricsSink } from "./monitoring.js";
import { createOperations, type StreamsOperations } from "./operations.js";
import type { PeerForwarder } from "./peer-forwarder.js";
import { PutPath } from "./put-records.js";
import { ReadPath } from "./read-records.js";
import { RetentionSweeper } from "./retention.js";
import { StreamLookup } from "./stream-lookup.js";
import { createStreamsService } from "./streams-service.js";
import { Subscriptions } from "./subscriptions.js";

export interface GatewayOptions {
  readonly nodeId: number;
  readonly broker: Broker;
  readonly metadata: MetadataService;
  /** Reaches the other nodes' ForwardService; the gateway closes it in `close()`. */
  readonly forwarder: PeerForwarder;
  /** Per-shard limits of PROVISIONED streams. @default Kinesis's (1 MiB/s and 1,000 records/s in, 2 MiB/s and 5 calls/s out) */
  readonly throttleLimits?: ThrottleLimits;
  /** Wall clock in ms. @default Date.now */
  readonly clock?: () => number;
  /** Period of the retention sweep, in ms. @default RETENTION_SWEEP_INTERVAL_MS */
  readonly retentionSweepIntervalMs?: number;
  /** Called once per finished call with the operation, "ok" or the Kinesis error name, and its start. */
  readonly observe?: (operation: string, outcome: string, startedAtMs: number) => void;
  /** Receives per-stream and per-shard data-plane figures (enhanced monitoring). @default none */
  readonly shardMetrics?: ShardMetricsSink;
  /**
   * Calls a listener after every change of the metadata state (the node's MetadataStateMachine
   * fits): wakes puts re-routed by a reshard and readers at a sealed shard's end at once.
   * @default the metadata service's own `onChange` when it has one, else the view is polled every METADATA_CHANGE_POLL_MS while someone waits
   */
  readonly metadataChanges?: MetadataChangeSource;
  /**
   * This node's master keys (the key file, --kms-key-file): needed to encrypt streams and to read
   * and write encrypted ones. @default none
   */
  readonly masterKeys?: MasterKeys | undefined;
}

export class Gateway {
  readonly streamsService: streams.StreamsServiceServer;
  /**
   * Every unary operation as a plain function of the generated request (validation included):
   * what the Kinesis HTTP API calls, so both front ends share one implementation.
   */
  readonly operations: StreamsOperations;
  /** What the node's ForwardService (createForwardService) calls; empty once the gateway closed. */
  readonly forwardTargets: () => ForwardTargets;
  private readonly options: GatewayOptions;
  private readonly subscriptions: Subscriptions;
  private readonly retention: RetentionSweeper;
  private readonly throttles: ThrottleRegistry;
  private readonly changes: MetadataChanges;
  private sweepTimer: NodeJS.Timeout | null = null;
  private open = true;

  constructor(options: GatewayOptions) {
    this.options = options;
    const clock = options.clock ?? Date.now;
    const { broker, metadata, forwarder, nodeId } = options;
    this.throttles = new ThrottleRegistry({ limits: options.throttleLimits ?? defaultThrottleLimits() });
    const lookup = new StreamLookup(metadata);
    this.changes = new MetadataChanges(metadata, options.metadataChanges);
    const changes = this.changes;
    const keys = new StreamKeys({ masterKeys: options.masterKeys, metadata });
    const put = new PutPath({
      keys,
      nodeId,
      broker,
      metadata,
      lookup,
      forwarder,
      throttles: this.throttles,
      changes,
      clock,
      metrics: options.shardMetrics,
    });
    const read = new ReadPath({
      keys,
      broker,
      metadata,
      lookup,
      throttles: this.throttles,
      clock,
      metrics: options.shardMetrics,
    });
    this.subscriptions = new Subscriptions({ broker, lookup, read, changes, registry: metadata, clock });
    this.retention = new RetentionSweeper(broker, metadata);
    const control = new ControlPlane(metadata, lookup, clock);
    this.operations = createOperations({
      lookup,
      put,
      read,
      control,
      clock,
      monitoring: { lookup, metadata },
      encryption: { lookup, metadata, keys },
    });
    // SubscribeToShard over the Kinesis HTTP API (event streams) runs on these same subscriptions.
    registerEventStreamSubscriptions(this.operations, this.subscriptions, clock);
    this.streamsService = createStreamsService({
      operations: this.operations,
      subscriptions: this.subscriptions,
      clock,
      ...(options.observe === undefined ? {} : { observe: options.observe }),
    });
    this.forwardTargets = () =>
      this.open ? { put, metadataCommand: (command) => metadata.handleForwarded(command) } : {};
  }

  /** Starts the background work: the retention sweep and the throttle buckets' cleanup. */
  start(): void {
    if (this.sweepTimer !== null || !this.open) return;
    const clock = this.options.clock ?? Date.now;
    this.sweepTimer = setInterval(() => {
      const now = clock();
      this.throttles.sweep(now);
      void this.retention.sweep(now);
    }, this.options.retentionSweepIntervalMs ?? RETENTION_SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  /** Trims every local replica past its stream's retention as of `nowMs` (tests and operators). */
  sweepRetention(nowMs: number): Promise<number> {
    return this.retention.sweep(nowMs);
  }

  /** Live SubscribeToShard streams on this node. */
  get subscriptionCount(): number {
    return this.subscriptions.count;
  }

  /** Stops the background work, ends subscriptions, refuses forwarded calls, closes peer channels. */
  close(): void {
    if (!this.open) return;
    this.open = false;
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.subscriptions.close();
    this.changes.close();
    this.options.forwarder.close();
  }
}
