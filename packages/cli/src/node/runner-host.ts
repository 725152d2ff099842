/**
 * A definitions runner (delivery streams, analytics applications) inside a node: started once the
 * public API is ready, stopped within a bound, its clients closed after it, and its per-definition
 * metrics served flat (`<prefix>_<name>_<metric in snake case>`) and in the Prometheus text format
 * (`sluice_<prefix>_<metric>{<label>="<name>"}`, one family per metric that has a row).
 */
import type { InNodeClients } from "./in-node-clients.js";

export interface RunnerHost {
  /** Starts the runner (call when the public API is ready). */
  start(): void;
  /** Stops the runner, waiting at most the host's stop bound, then closes its clients. */
  stop(): Promise<void>;
  /** Flat metrics: <prefix>_<name>_<metric>. */
  metrics(): Record<string, number>;
  /** The same in the Prometheus text format; "" while no definition runs here. */
  prometheusText(): string;
}

/** One Prometheus family: the snapshot's field, the metric's name after `sluice_<prefix>_`, its type and help. */
export type PrometheusFamily<M> = readonly [
  field: keyof M & string,
  name: string,
  type: "counter" | "gauge",
  help: string,
];

export interface RunnerHostOptions<M extends Record<keyof M, number>> {
  readonly runner: {
    start(): void;
    stop(): Promise<void>;
    metrics(): Record<string, M>;
  };
  /** Closed after the runner stopped (or the stop bound passed). */
  readonly clients: InNodeClients;
  /** `delivery`, `analytics`: the metric names' prefix. */
  readonly metricPrefix: string;
  /** The Prometheus label carrying the definition's name (`delivery`, `application`). */
  readonly label: string;
  readonly families: readonly PrometheusFamily<M>[];
  /**
   * How long `stop` waits for the runner, in ms. Bounded: with the cluster stopping too, leaving
   * the groups may wait for a quorum that is gone.
   */
  readonly stopTimeoutMs: number;
  /** Runs first in `stop` (unregistering what the host serves besides the runner). */
  readonly beforeStop?: () => void;
}

export function runnerHost<M extends Record<keyof M, number>>(options: RunnerHostOptions<M>): RunnerHost {
  const { runner, clients, metricPrefix, label, families } = options;
  return {
    start: () => runner.start(),
    stop: async () => {
      options.beforeStop?.();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        runner.stop(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, options.stopTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      clients.transport.close();
      clients.client.close();
    },
    prometheusText: () => {
      const snapshots = Object.entries(runner.metrics());
      if (snapshots.length === 0) return "";
      const lines: string[] = [];
      for (const [field, name, type, help] of families) {
        lines.push(
          `# HELP sluice_${metricPrefix}_${name} ${help}`,
          `# TYPE sluice_${metricPrefix}_${name} ${type}`,
        );
        for (const [definition, snapshot] of snapshots) {
          lines.push(`sluice_${metricPrefix}_${name}{${label}="${definition}"} ${snapshot[field]}`);
        }
      }
      return `${lines.join("\n")}\n`;
    },
    metrics: () => {
      const out: Record<string, number> = {};
      for (const [name, snapshot] of Object.entries(runner.metrics())) {
        for (const [metric, value] of Object.entries<number>(snapshot)) {
          out[`${metricPrefix}_${name}_${metric.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`] = value;
        }
      }
      return out;
    },
  };
}

/** A session timeout in ms from an environment variable: the option when a positive integer, else none. */
export function sessionTimeoutOf(value: string | undefined): { sessionTimeoutMs?: number } {
  const sessionTimeoutMs = Number(value ?? "");
  return Number.isSafeInteger(sessionTimeoutMs) && sessionTimeoutMs > 0 ? { sessionTimeoutMs } : {};
}
