/**
 * The per-node runner of definitions kept in a definitions stream: polls the live definitions
 * and keeps one worker running for each (every node runs one per definition; the consumer
 * groups inside the workers decide which node does the work, and move it when a node dies). A
 * worker whose definition was deleted, or replaced by a new one of the same name, is stopped.
 * What a worker is and does is the owner's (`createWorker`); the runner only starts and stops.
 */
import { randomUUID } from "node:crypto";
import { DEFINITIONS_POLL_INTERVAL_MS } from "./constants.js";
import type { StoredDefinition } from "./definition-fold.js";

/** Where the runner reads the definitions (a DefinitionsStream). */
export interface DefinitionSource<D extends StoredDefinition> {
  /** The live definitions by name, read fresh. */
  refresh(): Promise<ReadonlyMap<string, D>>;
  /** Puts again the definitions that would age out of retention. */
  refreshAged(): Promise<void>;
}

/** One definition's work on this node. */
export interface DefinitionWorker {
  /** Joins and starts working; a rejection leaves it unstarted, and the next poll builds a new one. */
  start(): Promise<void>;
  /** Finishes within its own bound; a rejection is reported and the worker counts as stopped. */
  stop(): Promise<void>;
  /** Releases what the worker was given, after `stop` or after a failed `start`; a rejection reaches the runner's caller. */
  close?(): Promise<void>;
}

export interface DefinitionRunnerOptions<D extends StoredDefinition, W extends DefinitionWorker> {
  readonly source: DefinitionSource<D>;
  /** Builds (does not start) the worker of a definition; `memberId` is this node's member id in the groups. */
  readonly createWorker: (definition: D, memberId: string) => W;
  /** Prefix of this node's member id (made unique per runner). @default "node" */
  readonly memberIdPrefix?: string | undefined;
  /** Pause between the end of one poll and the start of the next, in ms. @default DEFINITIONS_POLL_INTERVAL_MS */
  readonly pollIntervalMs?: number | undefined;
  /** Errors the runner survives, with the definition's name when one is concerned. @default ignored */
  readonly onError?: (error: unknown, definitionName: string | undefined) => void;
}

export class DefinitionRunner<D extends StoredDefinition, W extends DefinitionWorker> {
  /** This node's member id in every definition's groups: the prefix and 8 random hex digits. */
  readonly memberId: string;
  private readonly options: DefinitionRunnerOptions<D, W>;
  private readonly running = new Map<string, { readonly id: string; readonly worker: W }>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  private polling: Promise<void> = Promise.resolve();

  constructor(options: DefinitionRunnerOptions<D, W>) {
    this.options = options;
    this.memberId = `${options.memberIdPrefix ?? "node"}-${randomUUID().slice(0, 8)}`;
  }

  /** Starts polling (in the background: a cluster not ready yet is retried at the next poll). */
  start(): void {
    if (this.started) return;
    this.started = true;
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        if (this.started)
          this.timer = setTimeout(tick, this.options.pollIntervalMs ?? DEFINITIONS_POLL_INTERVAL_MS);
      });
    };
    tick();
  }

  /** Stops polling, waits for the poll under way, then stops and closes every worker. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer !== null) clearTimeout(this.timer);
    await this.polling;
    const all = [...this.running.entries()];
    this.running.clear();
    await Promise.all(all.map(([name, entry]) => this.stopWorker(name, entry.worker)));
  }

  /** The started workers by definition name (a copy). */
  workers(): ReadonlyMap<string, W> {
    return new Map([...this.running].map(([name, entry]) => [name, entry.worker]));
  }

  private async poll(): Promise<void> {
    try {
      const definitions = await this.options.source.refresh();
      await this.options.source.refreshAged();
      for (const [name, entry] of this.running) {
        if (definitions.get(name)?.id !== entry.id) {
          this.running.delete(name);
          await this.stopWorker(name, entry.worker);
        }
      }
      for (const definition of definitions.values()) {
        if (!this.started) return;
        if (this.running.has(definition.name)) continue;
        const worker = this.options.createWorker(definition, this.memberId);
        try {
          await worker.start();
          this.running.set(definition.name, { id: definition.id, worker });
        } catch (error) {
          // Joining failed (a stream is not there yet, no quorum): the next poll tries again.
          await worker.close?.();
          this.options.onError?.(error, definition.name);
        }
      }
    } catch (error) {
      this.options.onError?.(error, undefined);
    }
  }

  private async stopWorker(name: string, worker: W): Promise<void> {
    await worker.stop().catch((error) => this.options.onError?.(error, name));
    await worker.close?.();
  }
}
