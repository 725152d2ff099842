/**
 * The analytics runner of one node: follows the application definitions and runs an
 * `ApplicationWorker` for each (every node runs one per application; the application's consumer
 * group gives its single lease to one of them and moves it when that node dies). A deleted
 * application's worker is stopped.
 */
import { randomUUID } from "node:crypto";
import type { GroupTransport, SluiceClient } from "@sluice/client";
import { ApplicationWorker } from "./application-worker.js";
import { DEFINITIONS_POLL_INTERVAL_MS } from "./constants.js";
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
  private readonly options: AnalyticsRunnerOptions;
  private readonly workers = new Map<string, ApplicationWorker>();
  private readonly memberId: string;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(options: AnalyticsRunnerOptions) {
    this.options = options;
    this.store = new ApplicationStore({
      client: options.client,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.memberId = `${options.memberIdPrefix ?? "node"}-${randomUUID().slice(0, 8)}`;
  }

  /** Starts following the definitions (in the background; a cluster not ready yet is retried). */
  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        if (this.running)
          this.timer = setTimeout(tick, this.options.pollIntervalMs ?? DEFINITIONS_POLL_INTERVAL_MS);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.polling;
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(all.map((worker) => this.stopWorker(worker)));
  }

  /** Metrics of every application this node follows, by name. */
  metrics(): Record<string, AnalyticsMetricsSnapshot> {
    const out: Record<string, AnalyticsMetricsSnapshot> = {};
    for (const [name, worker] of this.workers) out[name] = worker.metricsSnapshot();
    return out;
  }

  private async poll(): Promise<void> {
    try {
      const definitions = await this.store.refresh();
      await this.store.refreshAged();
      for (const [name, worker] of this.workers) {
        if (definitions.get(name)?.id !== worker.definition.id) {
          this.workers.delete(name);
          await this.stopWorker(worker);
        }
      }
      for (const definition of definitions.values()) {
        if (!this.running) return;
        if (this.workers.has(definition.name)) continue;
        const worker = new ApplicationWorker({
          definition,
          client: this.options.client,
          transport: this.options.transport,
          memberId: this.memberId,
          ...(this.options.sessionTimeoutMs === undefined
            ? {}
            : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
          ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
          onError: (error) => this.options.onError?.(error, { applicationName: definition.name }),
        });
        try {
          await worker.start();
          this.workers.set(definition.name, worker);
        } catch (error) {
          // Joining failed (the state stream is not there yet, no quorum): the next poll tries again.
          this.options.onError?.(error, { applicationName: definition.name });
        }
      }
    } catch (error) {
      this.options.onError?.(error, {});
    }
  }

  private async stopWorker(worker: ApplicationWorker): Promise<void> {
    await worker
      .stop()
      .catch((error) => this.options.onError?.(error, { applicationName: worker.definition.name }));
  }
}
