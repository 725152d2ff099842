/**
 * Application definitions kept in the cluster, as delivery streams keep theirs: an internal
 * one-shard stream (`__sluice-analytics-definitions`, retention one year) of JSON events —
 * `create` with the whole definition, `delete` with the name and id. Every node folds the same
 * events in the shard's order, so every node sees the same applications: a `create` counts only
 * when no live application has its name, a `delete` only when its id is the live one. A creator
 * reads up to its own event to learn whether it won. A definition older than
 * DEFINITIONS_REFRESH_AGE_MS is put again (same id: a no-op) so retention never drops it.
 */
import { randomUUID } from "node:crypto";
import { ShardReader, SluiceCallError, type SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import {
  DEFINITIONS_READ_BACK_TIMEOUT_MS,
  DEFINITIONS_READ_LIMIT_RECORDS,
  DEFINITIONS_REFRESH_AGE_MS,
  DEFINITIONS_RETENTION_HOURS,
  DEFINITIONS_STREAM_NAME,
  STATE_RETENTION_HOURS,
} from "./constants.js";
import {
  type ApplicationDefinition,
  type ApplicationInput,
  stateStreamName,
  validateApplication,
  validateApplicationName,
} from "./definition.js";
import { AnalyticsUnavailableError, ApplicationInUseError, ApplicationNotFoundError } from "./errors.js";
import { compareSequenceNumbers } from "./sequence.js";

type DefinitionEvent =
  | { readonly type: "create"; readonly definition: ApplicationDefinition; readonly writtenAtMs: number }
  | { readonly type: "delete"; readonly name: string; readonly id: string };

export interface ApplicationStoreOptions {
  readonly client: SluiceClient;
  /** @default Date.now */
  readonly clock?: () => number;
}

export class ApplicationStore {
  private readonly client: SluiceClient;
  private readonly clock: () => number;
  private readonly live = new Map<string, { definition: ApplicationDefinition; writtenAtMs: number }>();
  private position = "";
  private shardId = "";
  private ready = false;
  private reading: Promise<void> = Promise.resolve();

  constructor(options: ApplicationStoreOptions) {
    this.client = options.client;
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Finds the definitions stream; creates it when `create` (the first application). Returns false
   * when it does not exist. Never created at node start (placement knows only the nodes registered then).
   */
  async open(create = false): Promise<boolean> {
    if (this.ready) return true;
    if (create) await createStreamIfMissing(this.client, DEFINITIONS_STREAM_NAME, 1);
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
      throw new AnalyticsUnavailableError("the definitions stream has no shard yet; retry");
    this.ready = true;
    return true;
  }

  /** Reads the events written since the last call; returns the live applications by name. One read at a time. */
  refresh(): Promise<ReadonlyMap<string, ApplicationDefinition>> {
    const run = this.reading.then(() => this.readNew());
    this.reading = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  private async readNew(): Promise<ReadonlyMap<string, ApplicationDefinition>> {
    if (!(await this.open())) return this.definitions();
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

  definitions(): ReadonlyMap<string, ApplicationDefinition> {
    return new Map([...this.live].map(([name, entry]) => [name, entry.definition]));
  }

  /**
   * Validates (plans the SQL), creates the output stream (ON_DEMAND) when missing and the
   * application's state stream, stores and returns the definition. ApplicationInUseError when
   * the name is taken; UnsupportedSqlError / InvalidSqlError for bad SQL.
   */
  async create(input: ApplicationInput): Promise<ApplicationDefinition> {
    const definition = validateApplication(input, { id: randomUUID(), createdAtMs: this.clock() });
    await this.open(true);
    await this.refresh();
    if (this.live.has(definition.name)) throw new ApplicationInUseError(definition.name);
    await this.client.waitForStreamStatus(definition.inputStream);
    await createStreamIfMissing(this.client, definition.outputStream, 2);
    await createStreamIfMissing(this.client, stateStreamName(definition), 1);
    await this.client
      .increaseStreamRetentionPeriod({
        streamName: stateStreamName(definition),
        retentionPeriodHours: STATE_RETENTION_HOURS,
      })
      .catch(() => {});
    await this.write({ type: "create", definition, writtenAtMs: this.clock() });
    if (this.live.get(definition.name)?.definition.id !== definition.id)
      throw new ApplicationInUseError(definition.name);
    return definition;
  }

  /** Deletes an application and its state stream (the output stream stays: it is the user's). */
  async delete(name: string): Promise<void> {
    validateApplicationName(name);
    const definition = await this.describe(name);
    await this.write({ type: "delete", name, id: definition.id });
    await this.client.deleteStream({ streamName: stateStreamName(definition) }).catch(() => {});
  }

  /** The live definition of `name`, read fresh; ApplicationNotFoundError when none. */
  async describe(name: string): Promise<ApplicationDefinition> {
    const definition = (await this.refresh()).get(name);
    if (definition === undefined) throw new ApplicationNotFoundError(name);
    return definition;
  }

  /** Puts again the definitions that would otherwise age out of the stream's retention. */
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
      throw new AnalyticsUnavailableError(
        `storing the application failed (${entry?.errorCode ?? "no answer"}: ${entry?.errorMessage ?? ""}); retry`,
      );
    }
    const deadline = this.clock() + DEFINITIONS_READ_BACK_TIMEOUT_MS;
    while (this.position === "" || compareSequenceNumbers(this.position, entry.sequenceNumber) < 0) {
      if (this.clock() > deadline)
        throw new AnalyticsUnavailableError(
          "the application was stored but could not be read back in time; describe it to check",
        );
      await this.refresh();
    }
  }

  private apply(event: DefinitionEvent): void {
    if (event.type === "create") {
      const current = this.live.get(event.definition.name);
      if (current === undefined)
        this.live.set(event.definition.name, {
          definition: event.definition,
          writtenAtMs: event.writtenAtMs,
        });
      else if (current.definition.id === event.definition.id) current.writtenAtMs = event.writtenAtMs;
    } else if (this.live.get(event.name)?.definition.id === event.id) {
      this.live.delete(event.name);
    }
  }
}

/** Creates an ON_DEMAND stream unless it exists, then waits until it is ACTIVE. */
export async function createStreamIfMissing(
  client: SluiceClient,
  streamName: string,
  shardCount: number,
): Promise<void> {
  try {
    await client.createStream({
      streamName,
      shardCount,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    });
  } catch (error) {
    if (!(error instanceof SluiceCallError && error.errorName === "ResourceInUseException")) throw error;
  }
  await client.waitForStreamStatus(streamName);
}
