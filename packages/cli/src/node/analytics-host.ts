/**
 * Stream analytics inside a node: the analytics runner, a client of this node's own public gRPC
 * port (TLS and the internal principal `sluice:internal` on a secure node, exactly as the
 * delivery runner: see in-node-clients.ts). Every node follows every application; the
 * application's consumer group picks the one node that runs it. Starts once the public API is
 * ready. Off when SLUICE_ANALYTICS=off.
 *
 * Environment: SLUICE_ANALYTICS_SESSION_TIMEOUT_MS (the application groups' session timeout:
 * how soon a dead node's applications move).
 */
import { type AnalyticsMetricsSnapshot, AnalyticsRunner } from "@sluice/analytics";
import type { NodeConfig } from "./config.js";
import { openInNodeClients } from "./in-node-clients.js";
import type { Logger } from "./logger.js";
import { type PrometheusFamily, type RunnerHost, runnerHost, sessionTimeoutOf } from "./runner-host.js";

/** How long a stopping node waits for its applications to reach a safe point and leave their groups. */
const ANALYTICS_STOP_TIMEOUT_MS = 5_000;

/**
 * Flat metrics `analytics_<name>_<metric>`; in the Prometheus text format
 * `sluice_analytics_<metric>{application="<name>"}`.
 */
export type AnalyticsHost = RunnerHost;

/** Prometheus families of the analytics metrics: field, name, type, help. */
const PROMETHEUS_FAMILIES: readonly PrometheusFamily<AnalyticsMetricsSnapshot>[] = [
  ["running", "running", "gauge", "1 on the node that runs the application"],
  ["recordsIn", "records_in_total", "counter", "Input records processed"],
  [
    "lateRecordsDropped",
    "late_records_dropped_total",
    "counter",
    "Records dropped because every window that would hold them had closed",
  ],
  ["windowsEmitted", "windows_emitted_total", "counter", "Windows closed and written to the output"],
  ["rowsEmitted", "rows_emitted_total", "counter", "Output rows"],
  ["snapshotsWritten", "snapshots_written_total", "counter", "Snapshots made current"],
  ["inputLagMs", "input_lag_ms", "gauge", "MillisBehindLatest of the input, the largest over its shards"],
  ["watermarkLagMs", "watermark_lag_ms", "gauge", "Wall clock minus the watermark"],
  ["failures", "failures_total", "counter", "Failed calls (each retried)"],
  [
    "outputBatchesRenumbered",
    "output_batches_renumbered_total",
    "counter",
    "Output batches numbered again for new shards after a reshard of the output stream",
  ],
] as const;

export function openAnalyticsHost(config: NodeConfig, log: Logger): AnalyticsHost | undefined {
  const env = process.env;
  if (env.SLUICE_ANALYTICS === "off") return undefined;
  const clients = openInNodeClients(config);
  const runner = new AnalyticsRunner({
    client: clients.client,
    transport: clients.transport,
    memberIdPrefix: `node-${config.nodeId}`,
    ...sessionTimeoutOf(env.SLUICE_ANALYTICS_SESSION_TIMEOUT_MS),
    onError: (error, context) => log.warn("analytics", { ...context, error: String(error) }),
  });
  return runnerHost({
    runner,
    clients,
    metricPrefix: "analytics",
    label: "application",
    families: PROMETHEUS_FAMILIES,
    stopTimeoutMs: ANALYTICS_STOP_TIMEOUT_MS,
  });
}
