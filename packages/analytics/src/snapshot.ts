/**
 * Snapshots of a running application, kept in its one-shard state stream. A snapshot is the
 * input position of every input shard, the engine's window state, the output sequence of every
 * output shard, and the output rows it numbered but has not confirmed written (`pending`). It is
 * JSON, gzip-compressed and cut into at most SNAPSHOT_CHUNKS_MAX records written by one
 * PutRecords (one key, one shard, in order). The consumer group's checkpoint of the state
 * stream's shard names a snapshot's first chunk; a checkpoint is fenced by the lease epoch, so
 * only the node holding the application's lease can make a snapshot current.
 *
 * Chunk layout: "SLAS" magic, 16-byte snapshot id, u16 index, u16 count, then the bytes.
 */
import { randomBytes } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import type { SluiceClient } from "@sluice/client";
import { streams } from "@sluice/proto";
import { SNAPSHOT_CHUNK_BYTES, SNAPSHOT_CHUNKS_MAX } from "./constants.js";
import type { EngineState } from "./engine.js";
import { AnalyticsUnavailableError, CorruptSnapshotError } from "./errors.js";

/** One output batch: records numbered from `firstSequence` for one output shard. */
export interface PendingBatch {
  readonly shardId: string;
  readonly firstSequence: number;
  /** [partition key, data as base64]. */
  readonly records: readonly (readonly [string, string])[];
}

export interface InputShardState {
  /** The last sequence number folded into the state; "" when none yet. */
  readonly position: string;
  /** True once the (closed) shard was read to its end. */
  readonly ended: boolean;
  /** The newest record time seen on the shard (for the watermark); null before any. */
  readonly maxTimeMs: number | null;
}

export interface Snapshot {
  readonly version: 1;
  readonly applicationId: string;
  readonly leaseEpoch: number;
  readonly writtenAtMs: number;
  readonly inputShards: Readonly<Record<string, InputShardState>>;
  readonly engine: EngineState;
  /** The next output sequence per output shard under this application's producer id. */
  readonly nextSequence: Readonly<Record<string, number>>;
  readonly pending: readonly PendingBatch[];
}

const MAGIC = Buffer.from("SLAS");
const HEADER_BYTES = 4 + 16 + 2 + 2;
const STATE_PARTITION_KEY = "state";

export function encodeSnapshot(snapshot: Snapshot): Buffer[] {
  const body = gzipSync(Buffer.from(JSON.stringify(snapshot)), { level: 1 });
  const count = Math.max(1, Math.ceil(body.length / SNAPSHOT_CHUNK_BYTES));
  if (count > SNAPSHOT_CHUNKS_MAX) {
    throw new AnalyticsUnavailableError(
      `the application's state is ${body.length} bytes compressed, over the ${SNAPSHOT_CHUNK_BYTES * SNAPSHOT_CHUNKS_MAX} a snapshot holds; use fewer keys or shorter windows`,
    );
  }
  const id = randomBytes(16);
  const chunks: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    id.copy(header, 4);
    header.writeUInt16BE(i, 20);
    header.writeUInt16BE(count, 22);
    chunks.push(
      Buffer.concat([header, body.subarray(i * SNAPSHOT_CHUNK_BYTES, (i + 1) * SNAPSHOT_CHUNK_BYTES)]),
    );
  }
  return chunks;
}

/** Decodes the chunks of one snapshot (in order, first first); CorruptSnapshotError when they are not one whole snapshot. */
export function decodeSnapshot(chunks: readonly Buffer[]): Snapshot {
  const first = chunks[0];
  if (first === undefined || first.length < HEADER_BYTES || !first.subarray(0, 4).equals(MAGIC))
    throw new CorruptSnapshotError("the checkpointed state record is not a snapshot");
  const id = first.subarray(4, 20);
  const count = first.readUInt16BE(22);
  if (chunks.length !== count)
    throw new CorruptSnapshotError(`snapshot has ${chunks.length} of ${count} chunks`);
  const parts: Buffer[] = [];
  for (const [i, chunk] of chunks.entries()) {
    if (!chunk.subarray(4, 20).equals(id) || chunk.readUInt16BE(20) !== i)
      throw new CorruptSnapshotError(`snapshot chunk ${i} is out of place`);
    parts.push(chunk.subarray(HEADER_BYTES));
  }
  const snapshot = JSON.parse(gunzipSync(Buffer.concat(parts)).toString("utf8")) as Snapshot;
  if (snapshot.version !== 1)
    throw new CorruptSnapshotError(`snapshot version ${String(snapshot.version)} is not known`);
  return snapshot;
}

/** Writes a snapshot; returns the sequence number of its first chunk (what the checkpoint names). */
export async function writeSnapshot(
  client: SluiceClient,
  streamName: string,
  snapshot: Snapshot,
): Promise<string> {
  const chunks = encodeSnapshot(snapshot);
  const response = await client.putRecords(
    streams.PutRecordsRequest.fromPartial({
      streamName,
      records: chunks.map((data) => ({ partitionKey: STATE_PARTITION_KEY, data })),
    }),
  );
  const failed = response.records.find((entry) => entry.errorCode !== "");
  if (failed !== undefined || response.records.length !== chunks.length) {
    throw new AnalyticsUnavailableError(
      `writing the snapshot failed (${failed?.errorCode ?? "short answer"}: ${failed?.errorMessage ?? ""}); retrying`,
    );
  }
  return (response.records[0] as streams.PutRecordsResultEntry).sequenceNumber;
}

/**
 * Reads the snapshot whose first chunk is at `sequenceNumber`. The record is acknowledged, so a
 * replica that has not applied it yet answers with fewer records: read again until whole.
 */
export async function readSnapshot(
  client: SluiceClient,
  streamName: string,
  shardId: string,
  sequenceNumber: string,
): Promise<Snapshot> {
  const { shardIterator } = await client.getShardIterator({
    streamName,
    shardId,
    shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AT_SEQUENCE_NUMBER,
    startingSequenceNumber: sequenceNumber,
  });
  const chunks: Buffer[] = [];
  let iterator = shardIterator;
  let count = 1;
  while (chunks.length < count) {
    if (iterator === "") throw new CorruptSnapshotError("the state stream ended inside a snapshot");
    const page = await client.getRecords({ shardIterator: iterator, limit: SNAPSHOT_CHUNKS_MAX });
    for (const record of page.records) {
      if (chunks.length === count) break;
      const data = Buffer.from(record.data);
      if (chunks.length === 0) {
        if (record.sequenceNumber !== sequenceNumber)
          throw new CorruptSnapshotError(`the checkpointed snapshot ${sequenceNumber} is gone (retention?)`);
        count = data.length >= HEADER_BYTES ? data.readUInt16BE(22) : 1;
      }
      chunks.push(data);
    }
    iterator = page.nextShardIterator;
    if (page.records.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return decodeSnapshot(chunks);
}
