/**
 * Definitions kept in the cluster: an internal one-shard stream (`__sluice-delivery-definitions`,
 * retention one year) of JSON events — `create` with the whole definition, `delete` with the name
 * and id. Every node folds the same events in the same order (the shard's), so every node sees
 * the same definitions: a `create` counts only when no live definition has its name, a `delete`
 * only when its id is the live one. A creator learns whether it won by reading up to its own
 * event. Replicated and durable like any stream; no change to the metadata service. A definition
 * older than DEFINITIONS_REFRESH_AGE_MS is put again (a `create` of the same id reads as a no-op)
 * so retention never drops a live one.
 */
import { randomUUID } from "node:crypto";
import { ShardReader, SluiceCallError, type SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import {
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
  DEFINITIONS_STREAM_NAME,
} from "./constants.js";
import {
  type DeliveryStreamDefinition,
  type DeliveryStreamInput,
  sourceStreamName,
  validateDefinition,
  validateDeliveryStreamName,
} from "./definition.js";
import { DeliveryStreamInUseError, DeliveryStreamNotFoundError, DeliveryUnavailableError } from "./errors.js";
import { compareSequenceNumbers } from "./sequence.js";

type DefinitionEvent =
  | { readonly type: "create"; readonly definition: DeliveryStreamDefinition; readonly writtenAtMs: number }
  | { readonly type: "delete"; readonly name: string; readonly id: string };

/** How long a create or delete waits to read its own event back. */
const READ_BACK_TIMEOUT_MS = 10_000;

export interface DefinitionStoreOptions {
  readonly client: SluiceClient;
  /** @default Date.now */
  readonly clock?: () => number;
}

export class DefinitionStore {
  private readonly client: SluiceClient;
  private readonly clock: () => number;
  private readonly live = new Map<string, { definition: DeliveryStreamDefinition; writtenAtMs: number }>();
  private position = "";
  private shardId = "";
  private ready = false;
  private reading: Promise<void> = Promise.resolve();

  constructor(options: DefinitionStoreOptions) {
    this.client = options.client;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Finds the definitions stream; creates it when `create` (the first CreateDeliveryStream) and
   * waits until it is readable. Returns false when it does not exist (no definition yet). It is
   * never created when a node starts: a stream created before every node has registered would be
   * placed on the nodes registered so far only.
   */
  async open(create = false): Promise<boolean> {
    if (this.ready) return true;
    if (create) {
      try {
        await this.client.createStream({
          streamName: DEFINITIONS_STREAM_NAME,
          shardCount: 1,
          streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
        });
      } catch (error) {
        if (!(error instanceof SluiceCallError && error.errorName === "ResourceInUseException")) throw error;
      }
    }
    let summary: streams.StreamDescriptionSummary;
    try {
      summary = await this.client.waitForStreamStatus(DEFINITIONS_STREAM_NAME);
    } catch (error) {
      if (!create && error instanceof SluiceCallError && error.errorName === "ResourceNotFoundException")
        return false;
      throw error;
    }
    if (summary.retentionPeriodHours < DEFINITIONS_RETENTION_HOURS) {
      await this.client
        .increaseStreamRetentionPeriod({
          streamName: DEFINITIONS_STREAM_NAME,
          retentionPeriodHours: DEFINITIONS_RETENTION_HOURS,
        })
        .catch(() => {});
    }
    const shards = await this.client.listAllShards(DEFINITIONS_STREAM_NAME);
    this.shardId = shards[0]?.shardId ?? "";
    if (this.shardId === "")
      throw new DeliveryUnavailableError("the definitions stream has no shard yet; retry");
    this.ready = true;
    return true;
  }

  /** Reads the events written since the last call; returns the live definitions by name. One read at a time. */
  refresh(): Promise<ReadonlyMap<string, DeliveryStreamDefinition>> {
    const run = this.reading.then(() => this.readNew());
    this.reading = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async readNew(): Promise<ReadonlyMap<string, DeliveryStreamDefinition>> {
    if (!(await this.open())) return this.definitions();
    // Up to the end of what the answering replica has (ShardReader with follow: false ends at the
    // first empty page); the whole stream is a few small records.
    const reader = new ShardReader(this.client, {
      streamName: DEFINITIONS_STREAM_NAME,
      shardId: this.shardId,
      start:
        this.position === ""
          ? { type: "TRIM_HORIZON" }
          : { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: this.position },
      limit: DEFINITIONS_READ_LIMIT_RECORDS,
      follow: false,
    });
    for await (const record of reader) {
      this.apply(JSON.parse(Buffer.from(record.data).toString("utf8")) as DefinitionEvent);
      this.position = record.sequenceNumber;
    }
    return this.definitions();
  }

  definitions(): ReadonlyMap<string, DeliveryStreamDefinition> {
    return new Map([...this.live].map(([name, entry]) => [name, entry.definition]));
  }

  /** Validates, stores and returns a new definition; DeliveryStreamInUseError when the name is taken. */
  async create(input: DeliveryStreamInput): Promise<DeliveryStreamDefinition> {
    const definition = validateDefinition(input, { id: randomUUID(), createdAtMs: this.clock() });
    await this.open(true);
    await this.refresh();
    if (this.live.has(definition.name)) throw new DeliveryStreamInUseError(definition.name);
    if (definition.source.kind === "direct-put") {
      try {
        // ON_DEMAND: a Firehose put is not throttled per shard as a Kinesis put is.
        await this.client.createStream({
          streamName: sourceStreamName(definition),
          shardCount: definition.source.shardCount,
          streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
        });
      } catch (error) {
        if (!(error instanceof SluiceCallError && error.errorName === "ResourceInUseException")) throw error;
      }
      await this.client.waitForStreamStatus(sourceStreamName(definition));
    }
    await this.write({ type: "create", definition, writtenAtMs: this.clock() });
    if (this.live.get(definition.name)?.definition.id !== definition.id) {
      throw new DeliveryStreamInUseError(definition.name);
    }
    return definition;
  }

  /** Deletes a definition (and the backing stream of a direct-put one). */
  async delete(name: string): Promise<void> {
    validateDeliveryStreamName(name);
    const definition = await this.describe(name);
    await this.write({ type: "delete", name, id: definition.id });
    if (definition.source.kind === "direct-put") {
      await this.client.deleteStream({ streamName: sourceStreamName(definition) }).catch(() => {});
    }
  }

  /** The live definition of `name`, read fresh; DeliveryStreamNotFoundError when none. */
  async describe(name: string): Promise<DeliveryStreamDefinition> {
    const definition = (await this.refresh()).get(name);
    if (definition === undefined) throw new DeliveryStreamNotFoundError(name);
    return definition;
  }

  /** Puts again the definitions that will otherwise age out of the stream's retention. */
  async refreshAged(): Promise<void> {
    const now = this.clock();
    for (const entry of this.live.values()) {
      if (now - entry.writtenAtMs >= DEFINITIONS_REFRESH_AGE_MS) {
        await this.write({ type: "create", definition: entry.definition, writtenAtMs: now });
      }
    }
  }

  private async write(event: DefinitionEvent): Promise<void> {
    const response = await this.client.putRecords(
      streams.PutRecordsRequest.fromPartial({
        streamName: DEFINITIONS_STREAM_NAME,
        records: [{ partitionKey: "definitions", data: Buffer.from(JSON.stringify(event)) }],
      }),
    );
    const entry = response.records[0];
    if (entry === undefined || entry.errorCode !== "") {
      throw new DeliveryUnavailableError(
        `storing the definition failed (${entry?.errorCode ?? "no answer"}: ${entry?.errorMessage ?? ""}); retry`,
      );
    }
    const deadline = this.clock() + READ_BACK_TIMEOUT_MS;
    while (this.position === "" || compareSequenceNumbers(this.position, entry.sequenceNumber) < 0) {
      if (this.clock() > deadline) {
        throw new DeliveryUnavailableError(
          "the definition was stored but could not be read back in time; describe it to check",
        );
      }
      await this.refresh();
    }
  }

  private apply(event: DefinitionEvent): void {
    if (event.type === "create") {
      const current = this.live.get(event.definition.name);
      if (current === undefined) {
        this.live.set(event.definition.name, {
          definition: event.definition,
          writtenAtMs: event.writtenAtMs,
        });
      } else if (current.definition.id === event.definition.id) {
        current.writtenAtMs = event.writtenAtMs;
      }
    } else if (this.live.get(event.name)?.definition.id === event.id) {
      this.live.delete(event.name);
    }
  }
}
