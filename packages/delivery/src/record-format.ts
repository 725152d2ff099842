/**
 * How one record becomes bytes of a file or object. raw: the record's data and "\n". json-lines:
 * `{"partitionKey":…,"sequenceNumber":…,"arrivalTimestampMs":…,"data":"<base64>"}` and "\n".
 * Each record is encoded once, as it enters a batch, so the batch size is exact.
 */
import type { RecordFormat } from "./definition.js";

const NEWLINE = Buffer.from("\n");

export interface SourceRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly approximateArrivalTimestampMs: number;
}

export function encodeRecord(record: SourceRecord, format: RecordFormat): Buffer {
  if (format === "raw") return Buffer.concat([record.data, NEWLINE], record.data.length + 1);
  return Buffer.from(
    `{"partitionKey":${JSON.stringify(record.partitionKey)},"sequenceNumber":"${record.sequenceNumber}","arrivalTimestampMs":${record.approximateArrivalTimestampMs},"data":"${record.data.toString("base64")}"}\n`,
  );
}
