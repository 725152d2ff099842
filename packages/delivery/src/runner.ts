/**
 * The delivery runner of one node: follows the definitions and runs a `DeliveryWorker` for each
 * (every node runs one per definition; the consumer group shares the shards among them, and
 * moves a dead node's shards to the others). A deleted definition's worker is stopped, then its
 * destination closed. The polling and the starting and stopping are the SDK's DefinitionRunner.
 */
import {
  DefinitionRunner,
  type DefinitionWorker,
  type GroupTransport,
  type SluiceClient,
} from "@sluice/client";
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
  private readonly runner: DefinitionRunner<DeliveryStreamDefinition, HostedDelivery>;

  constructor(options: DeliveryRunnerOptions) {
    this.store = new DefinitionStore({
      client: options.client,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    const onError = options.onError;
    this.runner = new DefinitionRunner({
      source: this.store,
      memberIdPrefix: options.memberIdPrefix,
      pollIntervalMs: options.pollIntervalMs,
      onError: (error, name) => onError?.(error, name === undefined ? {} : { deliveryStreamName: name }),
      createWorker: (definition, memberId) => {
        const destination = (options.destinationFor ?? destinationFor)(definition);
        const worker = new DeliveryWorker({
          definition,
          destination,
          transport: options.transport,
          memberId,
          ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
          ...(options.clock === undefined ? {} : { clock: options.clock }),
          onError: (error, shardId) =>
            onError?.(error, {
              deliveryStreamName: definition.name,
              ...(shardId === undefined ? {} : { shardId }),
            }),
        });
        return {
          worker,
          start: () => worker.start(),
          stop: () => worker.stop(),
          // The destination is the runner's: closed once its worker stopped, or failed to start.
          close: () => destination.close(),
        };
      },
    });
  }

  /** Starts following the definitions (in the background: a cluster not ready yet is retried). */
  start(): void {
    this.runner.start();
  }

  /** Stops every worker (each delivers what it buffered, within its bound) and the polling. */
  stop(): Promise<void> {
    return this.runner.stop();
  }

  /** Metrics of every delivery stream this node works on, by name. */
  metrics(): Record<string, DeliveryMetricsSnapshot> {
    const out: Record<string, DeliveryMetricsSnapshot> = {};
    for (const [name, { worker }] of this.runner.workers()) out[name] = worker.metricsSnapshot();
    return out;
  }
}

/** A delivery worker with the destination it writes to. */
interface HostedDelivery extends DefinitionWorker {
  readonly worker: DeliveryWorker;
}
