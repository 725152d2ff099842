/**
 * Stream analytics inside a node: the analytics runner, a client of this node's own public gRPC
 * port (TLS and the internal principal `sluice:internal` on a secure node, exactly as the
 * delivery runner: see delivery-host.ts). Every node follows every application; the
 * application's consumer group picks the one node that runs it. Starts once the public API is
 * ready. Off when SLUICE_ANALYTICS=off.
 *
 * Environment: SLUICE_ANALYTICS_SESSION_TIMEOUT_MS (the application groups' session timeout:
 * how soon a dead node's applications move).
 */
import { AnalyticsRunner } from "@sluice/analytics";
import { grpcGroupTransport, SluiceClient } from "@sluice/client";
import { internalCredentialsOf } from "./auth.js";
import type { NodeConfig } from "./config.js";
import { inNodeEndpoint } from "./delivery-host.js";
import type { Logger } from "./logger.js";

/** How long a stopping node waits for its applications to reach a safe point and leave their groups. */
const ANALYTICS_STOP_TIMEOUT_MS = 5_000;

export interface AnalyticsHost {
  start(): void;
  stop(): Promise<void>;
  /** Flat metrics: analytics_<name>_<metric>. */
  metrics(): Record<string, number>;
  /** The same in the Prometheus text format, `sluice_analytics_<metric>{application="<name>"}`. */
  prometheusText(): string;
}

/** Prometheus families of the analytics metrics: field, name, type, help. */
const PROMETHEUS_FAMILIES = [
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
] as const;

export function openAnalyticsHost(config: NodeConfig, log: Logger): AnalyticsHost | undefined {
  const env = process.env;
  if (env.SLUICE_ANALYTICS === "off") return undefined;
  const { endpoint, tls } = inNodeEndpoint(config);
  const credentials = internalCredentialsOf(config.auth);
  const security = {
    ...(tls === undefined ? {} : { tls }),
    ...(credentials === undefined ? {} : { credentials }),
  };
  const client = new SluiceClient({ endpoints: [endpoint], ...security });
  const transport = grpcGroupTransport([endpoint], security);
  const sessionTimeoutMs = Number(env.SLUICE_ANALYTICS_SESSION_TIMEOUT_MS ?? "");
  const runner = new AnalyticsRunner({
    client,
    transport,
    memberIdPrefix: `node-${config.nodeId}`,
    ...(Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0 ? { sessionTimeoutMs } : {}),
    onError: (error, context) => log.warn("analytics", { ...context, error: String(error) }),
  });
  return {
    start: () => runner.start(),
    stop: async () => {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        runner.stop(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, ANALYTICS_STOP_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      transport.close();
      client.close();
    },
    prometheusText: () => {
      const snapshots = Object.entries(runner.metrics());
      if (snapshots.length === 0) return "";
      const lines: string[] = [];
      for (const [field, name, type, help] of PROMETHEUS_FAMILIES) {
        lines.push(`# HELP sluice_analytics_${name} ${help}`, `# TYPE sluice_analytics_${name} ${type}`);
        for (const [application, snapshot] of snapshots) {
          lines.push(`sluice_analytics_${name}{application="${application}"} ${snapshot[field]}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
    metrics: () => {
      const out: Record<string, number> = {};
      for (const [name, snapshot] of Object.entries(runner.metrics())) {
        for (const [metric, value] of Object.entries(snapshot)) {
          out[`analytics_${name}_${metric.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`] = value;
        }
      }
      return out;
    },
  };
}
