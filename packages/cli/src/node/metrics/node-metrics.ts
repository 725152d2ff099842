/**
 * The Prometheus registry of one node: process figures (collectDefaultMetrics: event-loop lag,
 * heap, GC), the broker, storage, Raft and transport collectors, the gateway's request latency
 * histogram and the per-stream / per-shard data-plane figures. Every series carries the node's
 * `node` and `zone` labels.
 */
import type { ShardMetricsSink } from "@sluice/gateway";
import { collectDefaultMetrics, Registry } from "prom-client";
import { EVENT_LOOP_MONITORING_PRECISION_MS } from "./constants.js";
import { type HostSources, registerHostCollectors } from "./host-collectors.js";
import { RequestMetrics } from "./request-metrics.js";
import { StreamMetrics } from "./stream-metrics.js";

export interface NodeMetricsOptions {
  readonly nodeId: number;
  readonly zone: string;
  /** The broker and transport to read at each scrape; absent in tests of the data plane alone. */
  readonly host?: HostSources;
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
    this.observe = new RequestMetrics(this.registry, options.clock ?? Date.now).observe;
    this.shardMetrics = new StreamMetrics(this.registry);
  }

  /** The text exposition format (what GET /metrics answers). */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
