/**
 * Counters of one delivery stream on one node: records and bytes delivered, batches, failures,
 * delivery latency (from a batch's first record entering the buffer to the destination's
 * acknowledgement; p50/p99 over the last LATENCY_SAMPLES_MAX batches), and freshness — the age
 * of the oldest record read and not yet delivered.
 */
import { LATENCY_SAMPLES_MAX } from "./constants.js";

export interface DeliveryMetricsSnapshot {
  readonly recordsDelivered: number;
  readonly bytesDelivered: number;
  readonly batchesDelivered: number;
  readonly failures: number;
  readonly recordsFailed: number;
  readonly deliveryLatencyMsP50: number;
  readonly deliveryLatencyMsP99: number;
  /** Age in ms of the oldest record buffered here; 0 when nothing waits. */
  readonly freshnessMs: number;
  readonly bufferedRecords: number;
  readonly shards: number;
}

export class DeliveryMetrics {
  recordsDelivered = 0;
  bytesDelivered = 0;
  batchesDelivered = 0;
  failures = 0;
  recordsFailed = 0;
  private readonly latencies: number[] = [];
  private next = 0;

  observeLatency(latencyMs: number): void {
    if (this.latencies.length < LATENCY_SAMPLES_MAX) this.latencies.push(latencyMs);
    else this.latencies[this.next] = latencyMs;
    this.next = (this.next + 1) % LATENCY_SAMPLES_MAX;
  }

  snapshot(buffered: {
    freshnessMs: number;
    bufferedRecords: number;
    shards: number;
  }): DeliveryMetricsSnapshot {
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const at = (q: number) =>
      sorted.length === 0
        ? 0
        : (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number);
    return {
      recordsDelivered: this.recordsDelivered,
      bytesDelivered: this.bytesDelivered,
      batchesDelivered: this.batchesDelivered,
      failures: this.failures,
      recordsFailed: this.recordsFailed,
      deliveryLatencyMsP50: at(0.5),
      deliveryLatencyMsP99: at(0.99),
      ...buffered,
    };
  }
}
