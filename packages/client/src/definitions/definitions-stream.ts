/**
 * Definitions kept in the cluster as records of an internal one-shard stream: JSON events,
 * `create` with the whole definition and `delete` with the name and id, folded in the shard's
 * order by every reader (DefinitionFold), so every node sees the same definitions. A creator
 * learns whether it won a race for a name by reading up to its own event. Replicated and durable
 * like any stream; nothing in the metadata service. A definition older than `refreshAgeMs` is
 * put again (a `create` of the same id reads as a no-op) so retention never drops a live one.
 *
 * Generic over the definition (D) and what a caller gives to create one (I): the owner (delivery
 * streams, analytics applications) supplies the stream's name and limits, validation, the typed
 * errors to throw, and hooks for the resources a definition owns besides its record.
 */
import { randomUUID } from "node:crypto";
import { streams } from "@sluice/proto";
import type { SluiceClient } from "../client.js";
import { SluiceCallError } from "../errors.js";
import { compareSequenceNumbers } from "../sequence-number.js";
import { ShardReader } from "../shard-reader.js";
import {
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
} from "./constants.js";
import { createStreamIfMissing } from "./create-stream-if-missing.js";
import { type DefinitionEvent, DefinitionFold, type StoredDefinition } from "./definition-fold.js";

/** The typed errors of the owner, so its callers see the same classes as before. */
export interface DefinitionsStreamErrors {
  /** The cluster could not store or read back an event in time (retriable). */
  unavailable(message: string): Error;
  /** `create` of a name that has a live definition. */
  inUse(name: string): Error;
  /** `describe` or `delete` of a name that has none. */
  notFound(name: string): Error;
}

export interface DefinitionsStreamOptions<D extends StoredDefinition, I> {
  /** The cluster. The store does not close it. */
  readonly client: SluiceClient;
  /** The internal stream of the events. */
  readonly streamName: string;
  /** Retention the stream is raised to when it has less, in hours. @default DEFINITIONS_RETENTION_HOURS */
  readonly retentionHours?: number;
  /** A live definition last written this long ago is written again, in ms. @default DEFINITIONS_REFRESH_AGE_MS */
  readonly refreshAgeMs?: number;
  /** Records per GetRecords call reading the stream. @default DEFINITIONS_READ_LIMIT_RECORDS */
  readonly readLimitRecords?: number;
  /** How long `create` and `delete` wait to read their own event back, in ms. @default DEFINITIONS_READ_BACK_TIMEOUT_MS */
  readonly readBackTimeoutMs?: number;
  /** What a definition is called in messages ("definition", "application"). */
  readonly noun: string;
  /** Validates an input into a definition with the given id and creation time; throws the owner's typed error. */
  readonly validate: (input: I, identity: { readonly id: string; readonly createdAtMs: number }) => D;
  /** Validates a name given to `delete`; throws the owner's typed error. */
  readonly validateName: (name: string) => void;
  readonly errors: DefinitionsStreamErrors;
  /**
   * Makes what a new definition needs besides its record (its streams), after its name was found
   * free and before its `create` is stored. A rejection stores nothing and reaches the caller.
   */
  readonly prepare?: (definition: D) => Promise<void>;
  /** Removes what `prepare` made, after the `delete` is stored. Its failures are the hook's to handle. */
  readonly release?: (definition: D) => Promise<void>;
  /** @default Date.now */
  readonly clock?: () => number;
}

export class DefinitionsStream<D extends StoredDefinition, I> {
  protected readonly client: SluiceClient;
  private readonly options: DefinitionsStreamOptions<D, I>;
  private readonly clock: () => number;
  private readonly retentionHours: number;
  private readonly refreshAgeMs: number;
  private readonly readLimitRecords: number;
  private readonly readBackTimeoutMs: number;
  private readonly fold = new DefinitionFold<D>();
  private position = "";
  private shardId = "";
  private ready = false;
  private reading: Promise<void> = Promise.resolve();

  constructor(options: DefinitionsStreamOptions<D, I>) {
    this.options = options;
    this.client = options.client;
    this.clock = options.clock ?? Date.now;
    this.retentionHours = options.retentionHours ?? DEFINITIONS_RETENTION_HOURS;
    this.refreshAgeMs = options.refreshAgeMs ?? DEFINITIONS_REFRESH_AGE_MS;
    this.readLimitRecords = options.readLimitRecords ?? DEFINITIONS_READ_LIMIT_RECORDS;
    this.readBackTimeoutMs = options.readBackTimeoutMs ?? DEFINITIONS_READ_BACK_TIMEOUT_MS;
  }

  /**
   * Finds the definitions stream; creates it when `create` (the first definition) and waits until
   * it is readable. Returns false when it does not exist (no definition yet). Never create it when
   * a node starts: a stream created before every node has registered is placed on the nodes
   * registered so far only.
   */
  async open(create = false): Promise<boolean> {
    if (this.ready) return true;
    const { streamName } = this.options;
    let summary: streams.StreamDescriptionSummary;
    try {
      summary = create
        ? await createStreamIfMissing(this.client, streamName, 1)
        : await this.client.waitForStreamStatus(streamName);
    } catch (error) {
      if (!create && error instanceof SluiceCallError && error.errorName === "ResourceNotFoundException")
        return false;
      throw error;
    }
    if (summary.retentionPeriodHours < this.retentionHours) {
      await this.client
        .increaseStreamRetentionPeriod({ streamName, retentionPeriodHours: this.retentionHours })
        .catch(() => {});
    }
    const shards = await this.client.listAllShards(streamName);
    this.shardId = shards[0]?.shardId ?? "";
    if (this.shardId === "")
      throw this.options.errors.unavailable("the definitions stream has no shard yet; retry");
    this.ready = true;
    return true;
  }

  /** Reads the events written since the last call; returns the live definitions by name. One read at a time. */
  refresh(): Promise<ReadonlyMap<string, D>> {
    const run = this.reading.then(() => this.readNew());
    this.reading = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  /** The live definitions as of the last refresh, without reading. */
  definitions(): ReadonlyMap<string, D> {
    return this.fold.definitions();
  }

  /**
   * Validates, prepares, stores and returns a new definition. The owner's in-use error when the
   * name has a live definition, or when a concurrent create of that name was stored first.
   */
  async create(input: I): Promise<D> {
    const definition = this.options.validate(input, { id: randomUUID(), createdAtMs: this.clock() });
    await this.open(true);
    await this.refresh();
    if (this.fold.get(definition.name) !== undefined) throw this.options.errors.inUse(definition.name);
    await this.options.prepare?.(definition);
    await this.write({ type: "create", definition, writtenAtMs: this.clock() });
    if (this.fold.get(definition.name)?.id !== definition.id)
      throw this.options.errors.inUse(definition.name);
    return definition;
  }

  /** Deletes the live definition of `name`, then releases what it owned; the owner's not-found error when none. */
  async delete(name: string): Promise<void> {
    this.options.validateName(name);
    const definition = await this.describe(name);
    await this.write({ type: "delete", name, id: definition.id });
    await this.options.release?.(definition);
  }

  /** The live definition of `name`, read fresh; the owner's not-found error when none. */
  async describe(name: string): Promise<D> {
    const definition = (await this.refresh()).get(name);
    if (definition === undefined) throw this.options.errors.notFound(name);
    return definition;
  }

  /** Puts again the definitions that would otherwise age out of the stream's retention. */
  async refreshAged(): Promise<void> {
    const now = this.clock();
    for (const definition of this.fold.writtenBefore(now, this.refreshAgeMs)) {
      await this.write({ type: "create", definition, writtenAtMs: now });
    }
  }

  private async readNew(): Promise<ReadonlyMap<string, D>> {
    if (!(await this.open())) return this.definitions();
    // Up to the end of what the answering replica has (ShardReader with follow: false ends at the
    // first empty page); the whole stream is a few small records.
    const reader = new ShardReader(this.client, {
      streamName: this.options.streamName,
      shardId: this.shardId,
      start:
        this.position === ""
          ? { type: "TRIM_HORIZON" }
          : { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: this.position },
      limit: this.readLimitRecords,
      follow: false,
    });
    for await (const record of reader) {
      this.fold.apply(JSON.parse(Buffer.from(record.data).toString("utf8")) as DefinitionEvent<D>);
      this.position = record.sequenceNumber;
    }
    return this.definitions();
  }

  /** Stores one event and reads the stream up to it, so the fold reflects it on return. */
  private async write(event: DefinitionEvent<D>): Promise<void> {
    const { noun } = this.options;
    const response = await this.client.putRecords(
      streams.PutRecordsRequest.fromPartial({
        streamName: this.options.streamName,
        records: [{ partitionKey: "definitions", data: Buffer.from(JSON.stringify(event)) }],
      }),
    );
    const entry = response.records[0];
    if (entry === undefined || entry.errorCode !== "") {
      throw this.options.errors.unavailable(
        `storing the ${noun} failed (${entry?.errorCode ?? "no answer"}: ${entry?.errorMessage ?? ""}); retry`,
      );
    }
    const deadline = this.clock() + this.readBackTimeoutMs;
    while (this.position === "" || compareSequenceNumbers(this.position, entry.sequenceNumber) < 0) {
      if (this.clock() > deadline) {
        throw this.options.errors.unavailable(
          `the ${noun} was stored but could not be read back in time; describe it to check`,
        );
      }
      await this.refresh();
    }
  }
}
