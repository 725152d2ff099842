/**
 * PostgreSQL (the Redshift analogue): each batch is one transaction that locks the shard's row
 * of a ledger table (`sluice_delivery_ledger`: delivery stream, shard, last sequence number
 * delivered), drops the records at or below that number, `COPY`s the rest (CSV, in chunks of
 * POSTGRES_COPY_ROWS_MAX rows) into the table, and moves the ledger to the batch's last record.
 * A retried batch, whatever its boundaries, therefore adds each record at most once: delivery
 * into PostgreSQL is exactly once, and needs no intent.
 *
 * The table gets the columns (delivery_stream text, shard_id text, sequence_number numeric,
 * partition_key text, arrival_time timestamptz, data bytea); it and the error table are
 * created when missing.
 */
import type pg from "pg";
import type { DeliveryBatch } from "./batch.js";
import { POSTGRES_COPY_ROWS_MAX, POSTGRES_LEDGER_TABLE } from "./constants.js";
import type { DeliveryStreamDefinition } from "./definition.js";
import type { Destination, PendingBatch } from "./destination.js";
import { DestinationError } from "./errors.js";
import { postgresLibraries } from "./lazy-sdk.js";
import type { SourceRecord } from "./record-format.js";
import { compareSequenceNumbers } from "./sequence.js";

/** SQLSTATE classes no retry fixes: data exceptions, integrity violations, syntax or access rules. */
const PERMANENT_SQLSTATE_CLASSES = new Set(["22", "23", "42"]);

export class PostgresDestination implements Destination {
  private client: pg.Client | undefined;
  private readonly table: string;
  private readonly errorTable: string;
  private readonly connectionString: string;

  constructor(private readonly definition: DeliveryStreamDefinition) {
    const destination = definition.destination;
    if (destination.kind !== "postgres")
      throw new TypeError("PostgresDestination needs a postgres destination");
    this.table = destination.table;
    this.errorTable = destination.errorTable;
    this.connectionString = destination.connectionString;
  }

  async pendingBatch(): Promise<PendingBatch | undefined> {
    return undefined;
  }

  async announce(): Promise<void> {}

  async deliver(batch: DeliveryBatch): Promise<void> {
    await this.transaction(batch, async (client, fresh) => {
      for (let start = 0; start < fresh.length; start += POSTGRES_COPY_ROWS_MAX) {
        await this.copy(client, batch.shardId, fresh.slice(start, start + POSTGRES_COPY_ROWS_MAX));
      }
    });
  }

  async deliverFailed(batch: DeliveryBatch, reason: string): Promise<void> {
    await this.transaction(batch, async (client, fresh) => {
      await client.query(
        `INSERT INTO ${this.errorTable} (delivery_stream, shard_id, first_sequence_number, last_sequence_number, reason, records) VALUES ($1, $2, $3, $4, $5, $6)`,
        [
          this.definition.name,
          batch.shardId,
          batch.firstSequenceNumber,
          batch.lastSequenceNumber,
          reason,
          fresh.map((record) => record.data.toString("base64")).join("\n"),
        ],
      );
    });
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  /** Runs `write` with the batch's records above the ledger's mark, then moves the mark, in one transaction. */
  private async transaction(
    batch: DeliveryBatch,
    write: (client: pg.Client, fresh: readonly SourceRecord[]) => Promise<void>,
  ): Promise<void> {
    let client: pg.Client;
    try {
      client = await this.connect();
    } catch (error) {
      // Unreachable, or two nodes creating the tables at once: both pass on a later attempt.
      throw new DestinationError(`connecting to PostgreSQL: ${String(error)}`, {
        permanent: false,
        cause: error,
      });
    }
    try {
      await client.query("BEGIN");
      await client.query(
        `INSERT INTO ${POSTGRES_LEDGER_TABLE} (delivery_stream, shard_id, last_sequence_number) VALUES ($1, $2, '') ON CONFLICT DO NOTHING`,
        [this.definition.name, batch.shardId],
      );
      const ledger = await client.query<{ last_sequence_number: string }>(
        `SELECT last_sequence_number FROM ${POSTGRES_LEDGER_TABLE} WHERE delivery_stream = $1 AND shard_id = $2 FOR UPDATE`,
        [this.definition.name, batch.shardId],
      );
      const mark = ledger.rows[0]?.last_sequence_number ?? "";
      const fresh =
        mark === ""
          ? batch.records
          : batch.records.filter((record) => compareSequenceNumbers(record.sequenceNumber, mark) > 0);
      if (fresh.length > 0) {
        await write(client, fresh);
        await client.query(
          `UPDATE ${POSTGRES_LEDGER_TABLE} SET last_sequence_number = $3 WHERE delivery_stream = $1 AND shard_id = $2`,
          [this.definition.name, batch.shardId, batch.lastSequenceNumber],
        );
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => this.drop(client));
      const sqlState = (error as { code?: unknown }).code;
      const permanent = typeof sqlState === "string" && PERMANENT_SQLSTATE_CLASSES.has(sqlState.slice(0, 2));
      throw new DestinationError(
        `writing batch of shard ${batch.shardId} to ${this.table}: ${String(error)}`,
        {
          permanent,
          cause: error,
        },
      );
    }
  }

  private async copy(client: pg.Client, shardId: string, records: readonly SourceRecord[]): Promise<void> {
    const stream = client.query(
      postgresLibraries().copyStreams.from(
        `COPY ${this.table} (delivery_stream, shard_id, sequence_number, partition_key, arrival_time, data) FROM STDIN WITH (FORMAT csv)`,
      ),
    );
    const prefix = `${csv(this.definition.name)},${csv(shardId)},`;
    const chunks: string[] = [];
    for (const record of records) {
      chunks.push(
        `${prefix}${record.sequenceNumber},${csv(record.partitionKey)},${new Date(record.approximateArrivalTimestampMs).toISOString()},\\x${record.data.toString("hex")}\n`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      stream.on("error", reject);
      stream.on("finish", () => resolve());
      stream.end(chunks.join(""));
    });
  }

  private drop(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    client.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    if (this.client !== undefined) return this.client;
    const client = new (postgresLibraries().pg.Client)({ connectionString: this.connectionString });
    // A server that goes away emits an error on an idle client: forget it, connect again next batch.
    client.on("error", () => this.drop(client));
    try {
      await client.connect();
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${POSTGRES_LEDGER_TABLE} (delivery_stream text NOT NULL, shard_id text NOT NULL, last_sequence_number text NOT NULL, PRIMARY KEY (delivery_stream, shard_id))`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (delivery_stream text NOT NULL, shard_id text NOT NULL, sequence_number numeric NOT NULL, partition_key text NOT NULL, arrival_time timestamptz NOT NULL, data bytea NOT NULL)`,
      );
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.errorTable} (delivery_stream text NOT NULL, shard_id text NOT NULL, first_sequence_number text NOT NULL, last_sequence_number text NOT NULL, reason text NOT NULL, records text NOT NULL, failed_at timestamptz NOT NULL DEFAULT now())`,
      );
    } catch (error) {
      await client.end().catch(() => {});
      throw error;
    }
    this.client = client;
    return client;
  }
}

/** A CSV field: quoted, with quotes doubled. */
function csv(value: string): string {
  return `"${value.replaceAll('"', '""')}"`;
}
