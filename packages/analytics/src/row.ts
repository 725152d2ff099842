/**
 * The row an input record becomes: its JSON fields (when its data is a JSON object) and the
 * columns every record has — `partition_key`, `sequence_number`, `approximate_arrival_time`
 * (ms since the epoch; `ROWTIME` is its alias) and `data` (the record's bytes as UTF-8 text).
 */
export interface Row {
  /** The parsed JSON object, or an empty object when the data is not one. */
  readonly fields: Readonly<Record<string, unknown>>;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly arrivalMs: number;
  /** The record's data; decoded to text only when a query reads the `data` column. */
  readonly data: Buffer;
}

const EMPTY: Readonly<Record<string, unknown>> = Object.freeze({});

/** Builds the row of one record; `data` not holding a JSON object gives no fields (only the built-in columns). */
export function rowOf(record: {
  readonly data: Uint8Array;
  readonly partitionKey: string;
  readonly sequenceNumber: string;
  readonly approximateArrivalTimestampMs: number;
}): Row {
  const data = Buffer.isBuffer(record.data)
    ? record.data
    : Buffer.from(record.data.buffer, record.data.byteOffset, record.data.byteLength);
  let fields = EMPTY;
  // 0x7b is "{": only an object can carry fields; anything else is read through `data`.
  if (data.length > 0 && data[0] === 0x7b) {
    try {
      const parsed: unknown = JSON.parse(data.toString("utf8"));
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed))
        fields = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: only the built-in columns.
    }
  }
  return {
    fields,
    partitionKey: record.partitionKey,
    sequenceNumber: record.sequenceNumber,
    arrivalMs: record.approximateArrivalTimestampMs,
    data,
  };
}

/** Names of the built-in columns, lower case. */
export const BUILTIN_COLUMNS = [
  "partition_key",
  "sequence_number",
  "approximate_arrival_time",
  "rowtime",
  "data",
] as const;
