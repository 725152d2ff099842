/**
 * The analytics runner of one node: follows the application definitions and runs an
 * `ApplicationWorker` for each (every node runs one per application; the application's consumer
 * group gives its single lease to one of them and moves it when that node dies). A deleted
 * application's worker is stopped. The polling and the starting and stopping are the SDK's
 * DefinitionRunner.
 */
import { DefinitionRunner, type GroupTransport, type SluiceClient } from "@sluice/client";
import { ApplicationWorker } from "./application-worker.js";
import type { ApplicationDefinition } from "./definition.js";
import { ApplicationStore } from "./definition-store.js";
import type { AnalyticsMetricsSnapshot } from "./metrics.js";

export interface AnalyticsRunnerOptions {
  /** The cluster: definitions, input, output and state. The runner does not close it. */
  readonly client: SluiceClient;
  /** The cluster's consumer groups. The runner does not close it. */
  readonly transport: GroupTransport;
  /** Prefix of this node's member ids (made unique per start). @default "node" */
  readonly memberIdPrefix?: string;
  /** Session timeout of the application groups, in ms. @default the cluster's */
  readonly sessionTimeoutMs?: number;
  /** @default DEFINITIONS_POLL_INTERVAL_MS */
  readonly pollIntervalMs?: number;
  /** Errors the runner survives. @default ignored */
  readonly onError?: (error: unknown, context: { applicationName?: string }) => void;
  /** @default Date.now */
  readonly clock?: () => number;
}

export class AnalyticsRunner {
  readonly store: ApplicationStore;
  private readonly runner: DefinitionRunner<ApplicationDefinition, ApplicationWorker>;

  constructor(options: AnalyticsRunnerOptions) {
    this.store = new ApplicationStore({
      client: options.client,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    const onError = options.onError;
    this.runner = new DefinitionRunner({
      source: this.store,
      memberIdPrefix: options.memberIdPrefix,
      pollIntervalMs: options.pollIntervalMs,
      onError: (error, name) => onError?.(error, name === undefined ? {} : { applicationName: name }),
      createWorker: (definition, memberId) =>
        new ApplicationWorker({
          definition,
          client: options.client,
          transport: options.transport,
          memberId,
          ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
          ...(options.clock === undefined ? {} : { clock: options.clock }),
          onError: (error) => onError?.(error, { applicationName: definition.name }),
        }),
    });
  }

  /** Starts following the definitions (in the background; a cluster not ready yet is retried). */
  start(): void {
    this.runner.start();
  }

  /** Stops every worker (each reaches a safe point and leaves its group) and the polling. */
  stop(): Promise<void> {
    return this.runner.stop();
  }

  /** Metrics of every application this node follows, by name. */
  metrics(): Record<string, AnalyticsMetricsSnapshot> {
    const out: Record<string, AnalyticsMetricsSnapshot> = {};
    for (const [name, worker] of this.runner.workers()) out[name] = worker.metricsSnapshot();
    return out;
  }
}
