/**
 * The Prometheus registry of one node: process figures (collectDefaultMetrics: event-loop lag,
 * heap, GC), the broker, storage, Raft and transport collectors, the gateway's request latency
 * histogram and the per-stream / per-shard data-plane figures. Every series carries the node's
 * `node` and `zone` labels.
 */
import type { ShardMetricsSink } from "@sluice/gateway";
import type { SyncKind } from "@sluice/storage";
import { collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { EVENT_LOOP_MONITORING_PRECISION_MS, SYNC_DURATION_BUCKETS_SECONDS } from "./constants.js";
import { type HostSources, registerHostCollectors } from "./host-collectors.js";
import { RequestMetrics } from "./request-metrics.js";
import { StreamMetrics } from "./stream-metrics.js";

export interface NodeMetricsOptions {
  readonly nodeId: number;
  readonly zone: string;
  /** The broker and transport to read at each scrape; absent in tests of the data plane alone. */
  readonly host?: HostSources;
  /** The cluster's nodes as this node's metadata view records them (liveness by the controller). */
  readonly clusterNodes?: () => Iterable<{
    readonly nodeId: number;
    readonly zone: string;
    readonly downSinceMs?: number;
  }>;
  /** Collects process metrics (event loop, heap, GC). @default true */
  readonly processMetrics?: boolean;
  /** Wall clock in ms (request durations). @default Date.now */
  readonly clock?: () => number;
}

export class NodeMetrics {
  readonly registry: Registry;
  /** The gateway's `observe` callback (request latency by operation and outcome). */
  readonly observe: (operation: string, outcome: string, startedAtMs: number) => void;
  /** The gateway's data-plane hooks (per stream, and per shard with enhanced monitoring). */
  readonly shardMetrics: ShardMetricsSink;
  /** The storage's `onSync` observer: synced write latency by kind (segment, LevelDB state). */
  readonly observeSync: (kind: SyncKind, durationMs: number) => void;

  constructor(options: NodeMetricsOptions) {
    this.registry = new Registry();
    this.registry.setDefaultLabels({ node: String(options.nodeId), zone: options.zone });
    if (options.processMetrics !== false) {
      collectDefaultMetrics({
        register: this.registry,
        eventLoopMonitoringPrecision: EVENT_LOOP_MONITORING_PRECISION_MS,
      });
    }
    if (options.host !== undefined) registerHostCollectors(this.registry, options.host);
    const clusterNodes = options.clusterNodes;
    if (clusterNodes !== undefined) {
      new Gauge({
        name: "sluice_cluster_node_up",
        help: "1 while the metadata service records the node as live, 0 once the controller has recorded it down (unreachable from group 0's leader); labels peer and peer_zone name the node.",
        labelNames: ["peer", "peer_zone"],
        registers: [this.registry],
        collect() {
          this.reset();
          for (const node of clusterNodes()) {
            this.set(
              { peer: String(node.nodeId), peer_zone: node.zone },
              node.downSinceMs === undefined ? 1 : 0,
            );
          }
        },
      });
    }
    this.observe = new RequestMetrics(this.registry, options.clock ?? Date.now).observe;
    this.shardMetrics = new StreamMetrics(this.registry);
    const syncs = new Histogram({
      name: "sluice_storage_sync_duration_seconds",
      help: "Duration of synced writes: the journal's synced append (kind=segment) and synced LevelDB batches (kind=state).",
      labelNames: ["kind"],
      buckets: [...SYNC_DURATION_BUCKETS_SECONDS],
      registers: [this.registry],
    });
    const segment = syncs.labels("segment");
    const state = syncs.labels("state");
    this.observeSync = (kind, durationMs) =>
      (kind === "segment" ? segment : state).observe(durationMs / 1000);
  }

  /** The text exposition format (what GET /metrics answers). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
