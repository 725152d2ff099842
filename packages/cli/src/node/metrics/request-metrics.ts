/**
 * The gateway's request latency histogram by operation and outcome, fed by the `observe`
 * callback of GatewayOptions (called once per finished call with its start time).
 */
import { Histogram, type Registry } from "prom-client";
import { REQUEST_DURATION_SECONDS_BUCKETS } from "./constants.js";

export class RequestMetrics {
  private readonly duration: Histogram<"operation" | "outcome">;
  private readonly clock: () => number;

  constructor(registry: Registry, clock: () => number) {
    this.clock = clock;
    this.duration = new Histogram({
      name: "sluice_gateway_request_duration_seconds",
      help: 'Duration of each public API call by operation (Kinesis name) and outcome ("ok" or the Kinesis error name): PutRecord(s).Latency, GetRecords.Latency and their Success counts.',
      labelNames: ["operation", "outcome"],
      buckets: [...REQUEST_DURATION_SECONDS_BUCKETS],
      registers: [registry],
    });
  }

  /** The `observe` callback of GatewayOptions. */
  readonly observe = (operation: string, outcome: string, startedAtMs: number): void => {
    const seconds = Math.max(0, this.clock() - startedAtMs) / 1000;
    this.duration.labels(operation, outcome).observe(seconds);
  };
}
