/**
 * The delivery runner of one node: follows the definitions and runs a `DeliveryWorker` for each
 * (every node runs one per definition; the consumer group shares the shards among them, and
 * moves a dead node's shards to the others). A deleted definition's worker is stopped.
 */
import { randomUUID } from "node:crypto";
import type { GroupTransport, SluiceClient } from "@sluice/client";
import { DEFINITIONS_POLL_INTERVAL_MS } from "./constants.js";
import type { DeliveryStreamDefinition } from "./definition.js";
import { DefinitionStore } from "./definition-store.js";
import { DeliveryWorker } from "./delivery-worker.js";
import type { Destination } from "./destination.js";
import { FileDestination } from "./file-destination.js";
import type { DeliveryMetricsSnapshot } from "./metrics.js";
import { PostgresDestination } from "./postgres-destination.js";
import { S3Destination } from "./s3-destination.js";

export interface DeliveryRunnerOptions {
  /** The cluster: definitions and direct puts. The runner does not close it. */
  readonly client: SluiceClient;
  /** The cluster for the consumer groups. The runner does not close it. */
  readonly transport: GroupTransport;
  /** Prefix of this node's member ids in the groups (made unique per start). @default "node" */
  readonly memberIdPrefix?: string;
  /** Session timeout of the groups, in ms. @default the cluster's */
  readonly sessionTimeoutMs?: number;
  /** @default DEFINITIONS_POLL_INTERVAL_MS */
  readonly pollIntervalMs?: number;
  /** The destination of a definition. @default files, S3 or PostgreSQL by its kind */
  readonly destinationFor?: (definition: DeliveryStreamDefinition) => Destination;
  /** Errors the runner survives. @default ignored */
  readonly onError?: (error: unknown, context: { deliveryStreamName?: string; shardId?: string }) => void;
  /** @default Date.now */
  readonly clock?: () => number;
}

export function destinationFor(definition: DeliveryStreamDefinition): Destination {
  switch (definition.destination.kind) {
    case "files":
      return new FileDestination(definition);
    case "s3":
      return new S3Destination(definition);
    case "postgres":
      return new PostgresDestination(definition);
  }
}

export class DeliveryRunner {
  readonly store: DefinitionStore;
  private readonly options: DeliveryRunnerOptions;
  private readonly workers = new Map<string, { worker: DeliveryWorker; destination: Destination }>();
  private readonly memberId: string;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(options: DeliveryRunnerOptions) {
    this.options = options;
    this.store = new DefinitionStore({
      client: options.client,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    this.memberId = `${options.memberIdPrefix ?? "node"}-${randomUUID().slice(0, 8)}`;
  }

  /** Starts following the definitions (in the background: a cluster not ready yet is retried). */
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

  /** Stops every worker (each delivers what it buffered, within its bound) and the polling. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.polling;
    const all = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(all.map((entry) => this.stopWorker(entry)));
  }

  /** Metrics of every delivery stream this node works on, by name. */
  metrics(): Record<string, DeliveryMetricsSnapshot> {
    const out: Record<string, DeliveryMetricsSnapshot> = {};
    for (const [name, { worker }] of this.workers) out[name] = worker.metricsSnapshot();
    return out;
  }

  private async poll(): Promise<void> {
    try {
      const definitions = await this.store.refresh();
      await this.store.refreshAged();
      for (const [name, entry] of this.workers) {
        if (definitions.get(name)?.id !== entry.worker.definition.id) {
          this.workers.delete(name);
          await this.stopWorker(entry);
        }
      }
      for (const definition of definitions.values()) {
        if (!this.running) return;
        if (this.workers.has(definition.name)) continue;
        const destination = (this.options.destinationFor ?? destinationFor)(definition);
        const worker = new DeliveryWorker({
          definition,
          destination,
          transport: this.options.transport,
          memberId: this.memberId,
          ...(this.options.sessionTimeoutMs === undefined
            ? {}
            : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
          ...(this.options.clock === undefined ? {} : { clock: this.options.clock }),
          onError: (error, shardId) =>
            this.options.onError?.(error, {
              deliveryStreamName: definition.name,
              ...(shardId === undefined ? {} : { shardId }),
            }),
        });
        try {
          await worker.start();
          this.workers.set(definition.name, { worker, destination });
        } catch (error) {
          // Joining failed (the source stream is not there yet, no quorum): the next poll tries again.
          await destination.close();
          this.options.onError?.(error, { deliveryStreamName: definition.name });
        }
      }
    } catch (error) {
      this.options.onError?.(error, {});
    }
  }

  private async stopWorker(entry: { worker: DeliveryWorker; destination: Destination }): Promise<void> {
    await entry.worker
      .stop()
      .catch((error) => this.options.onError?.(error, { deliveryStreamName: entry.worker.definition.name }));
    await entry.destination.close();
  }
}
