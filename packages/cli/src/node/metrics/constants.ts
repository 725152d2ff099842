/** Limits and defaults of the node's Prometheus metrics. */

/** Buckets of the gateway's request latency histogram, in seconds (0.5 ms … 10 s). */
export const REQUEST_DURATION_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
/** Precision of the event-loop lag figures of collectDefaultMetrics, in ms. */
export const EVENT_LOOP_MONITORING_PRECISION_MS = 10;
/** Every metric of Sluice starts with this. */
export const METRIC_PREFIX = "sluice_";

/** Buckets of the synced-write latency histogram, in seconds (0.25 ms to 1 s). */
export const SYNC_DURATION_BUCKETS_SECONDS = [
  0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
] as const;
