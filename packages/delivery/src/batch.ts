/**
 * A batch: the records of one shard from `firstSequenceNumber` to `lastSequenceNumber`, in
 * order, each already encoded in the definition's format. Its key at the destination is a
 * function of the shard and that range (and the first record's arrival time), so writing it
 * again overwrites the same object.
 */
import { gzipSync } from "node:zlib";
import type { Compression, DeliveryStreamDefinition } from "./definition.js";
import type { SourceRecord } from "./record-format.js";

export interface DeliveryBatch {
  readonly shardId: string;
  readonly firstSequenceNumber: string;
  readonly lastSequenceNumber: string;
  /** Arrival time of the first record (the broker's clock); names the yyyy/MM/dd/HH folder. */
  readonly firstArrivalMs: number;
  readonly records: readonly SourceRecord[];
  /** One encoded line per record, in order. */
  readonly lines: readonly Buffer[];
  /** Sum of the lines' lengths. */
  readonly bytes: number;
}

/** The object's body: the lines, gzipped when asked. */
export function batchBody(batch: DeliveryBatch, compression: Compression): Buffer {
  const body = Buffer.concat(batch.lines as Buffer[], batch.bytes);
  return compression === "gzip" ? gzipSync(body) : body;
}

function pad(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

/** `<prefix>yyyy/MM/dd/HH/<delivery>-<shard>-<first>-<last>[.gz]`, the hour in UTC. */
export function batchKey(definition: DeliveryStreamDefinition, batch: DeliveryBatch, prefix: string): string {
  const at = new Date(batch.firstArrivalMs);
  const folder = `${at.getUTCFullYear()}/${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}/${pad(at.getUTCHours())}`;
  const extension = definition.compression === "gzip" ? ".gz" : "";
  return `${prefix}${folder}/${definition.name}-${batch.shardId}-${batch.firstSequenceNumber}-${batch.lastSequenceNumber}${extension}`;
}

/** The reason document written beside a batch that went to the error output. */
export function errorDocument(
  definition: DeliveryStreamDefinition,
  batch: DeliveryBatch,
  reason: string,
): Buffer {
  return Buffer.from(
    `${JSON.stringify({
      deliveryStreamName: definition.name,
      shardId: batch.shardId,
      firstSequenceNumber: batch.firstSequenceNumber,
      lastSequenceNumber: batch.lastSequenceNumber,
      records: batch.records.length,
      reason,
    })}\n`,
  );
}
