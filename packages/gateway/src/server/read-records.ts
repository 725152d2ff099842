/**
 * The read path (DESIGN.md, "The read path"): shard iterators name a position (entry index,
 * offset in the entry's batch) of one shard of one stream instance; GetRecords reads committed
 * records from this node's replica — any replica serves reads, up to what it has applied — and
 * hands back the next iterator. Iterators are signed with the cluster's secret, so any node can
 * check one another node issued, and expire after ITERATOR_TTL_MS; one may be reused until then.
 *
 * A shard closed by a reshard stays readable until retention; a page that reaches its seal
 * (`endingIndex`) is "drained": no next iterator, and ChildShards names the shards to read next.
 * A page at a seal the metadata has not closed yet (the reshard is completing) is not drained:
 * the reader gets an empty page and the same position, never a null iterator without children.
 */
import type { Broker, ReadRecord } from "@sluice/broker";
import type { MetadataService, ShardInfo, StreamInfo } from "@sluice/metadata";
import type { streams } from "@sluice/proto";
import {
  GET_RECORDS_BYTES_MAX,
  GET_RECORDS_LIMIT_MAX,
  ITERATOR_OFFSET_MAX,
  ITERATOR_TTL_MS,
  SEQUENCE_OFFSET_MAX,
} from "../constants.js";
import { KmsKeyUnavailableError } from "../encryption/errors.js";
import type { StreamKeys } from "../encryption/stream-keys.js";
import {
  InvalidArgumentError,
  ProvisionedThroughputExceededError,
  ResourceNotFoundError,
} from "../errors.js";
import { childShardsOf } from "../lineage.js";
import { createShardIterator, readShardIterator, type ShardIteratorFields } from "../shard-iterator.js";
import { type SequencedShard, shardPositionOf, shardSequenceNumber } from "../shard-sequence.js";
import type { ThrottleRegistry } from "../throttle.js";
import { AT_TIMESTAMP_FUTURE_SKEW_MS } from "./constants.js";
import type { ShardMetricsSink } from "./monitoring.js";
import type { StreamLookup } from "./stream-lookup.js";

/** Kinesis's iterator types, as the proto enum numbers them. */
export const IteratorType = {
  AT_SEQUENCE_NUMBER: 1,
  AFTER_SEQUENCE_NUMBER: 2,
  TRIM_HORIZON: 3,
  LATEST: 4,
  AT_TIMESTAMP: 5,
} as const;

/** A position in a shard: the entry index and the record's offset in the entry. */
export interface ShardPosition {
  readonly index: number;
  readonly offset: number;
}

export interface ReadPathOptions {
  readonly broker: Broker;
  readonly metadata: MetadataService;
  readonly lookup: StreamLookup;
  readonly throttles: ThrottleRegistry;
  readonly clock: () => number;
  /** Receives what this node serves to readers and what its read throttles refuse. @default none */
  readonly metrics?: ShardMetricsSink | undefined;
  /** Opens encrypted records. @default none: reading one fails with KmsKeyUnavailableError */
  readonly keys?: StreamKeys | undefined;
}

/** One page of records read from a position. */
export interface ReadPage {
  readonly records: streams.Record[];
  readonly next: ShardPosition;
  readonly millisBehindLatest: number;
  /** The sequence number of the last record returned, or of the position before `next`. */
  readonly continuationSequenceNumber: string;
  /** The page reached the end of a closed shard: no next position; read `childShards` next. */
  readonly drained: boolean;
  /** With `drained`, the shard's children (Kinesis ChildShards); empty otherwise. */
  readonly childShards: streams.ChildShard[];
  /** The page reached a seal the metadata view does not show closed yet: look again after a change. */
  readonly awaitingClose: boolean;
}

export class ReadPath {
  private readonly options: ReadPathOptions;

  constructor(options: ReadPathOptions) {
    this.options = options;
  }

  /**
   * The position a starting point names in `shard`. TRIM_HORIZON is the shard's oldest record
   * (wherever retention has moved it: index 0 reads from the first index present); LATEST is
   * just after the newest record this replica has applied; AT/AFTER_SEQUENCE_NUMBER must name a
   * sequence number of this shard; AT_TIMESTAMP is the first record stamped at or after it.
   */
  startPosition(
    stream: StreamInfo,
    shard: ShardInfo,
    type: number,
    sequenceNumber: string,
    timestampMs: number | undefined,
  ): ShardPosition {
    const { broker, clock } = this.options;
    switch (type) {
      case IteratorType.TRIM_HORIZON:
        return { index: 0, offset: 0 };
      case IteratorType.LATEST:
        return { index: broker.groupStatus(shard.groupId).appliedIndex + 1, offset: 0 };
      case IteratorType.AT_SEQUENCE_NUMBER:
      case IteratorType.AFTER_SEQUENCE_NUMBER: {
        const decoded = shardPositionOf(shard, sequenceNumber);
        if (decoded === null) {
          throw new InvalidArgumentError(
            `StartingSequenceNumber ${sequenceNumber} used in GetShardIterator on shard ${shard.shardId} in stream ${stream.streamName} under account 000000000000 is invalid because it did not come from this stream and shard`,
          );
        }
        // No batch holds more than ITERATOR_OFFSET_MAX records, so a larger offset (the
        // continuation sequence number of a subscription names offset SEQUENCE_OFFSET_MAX) is
        // past its entry: the next record is the next entry's first.
        if (type === IteratorType.AT_SEQUENCE_NUMBER) {
          return decoded.offset > ITERATOR_OFFSET_MAX
            ? { index: decoded.index + 1, offset: 0 }
            : { index: decoded.index, offset: decoded.offset };
        }
        return decoded.offset >= ITERATOR_OFFSET_MAX
          ? { index: decoded.index + 1, offset: 0 }
          : { index: decoded.index, offset: decoded.offset + 1 };
      }
      case IteratorType.AT_TIMESTAMP: {
        if (timestampMs === undefined) {
          throw new InvalidArgumentError("Timestamp is required with ShardIteratorType AT_TIMESTAMP");
        }
        if (timestampMs > clock() + AT_TIMESTAMP_FUTURE_SKEW_MS) {
          throw new InvalidArgumentError(
            `Timestamp ${timestampMs} is in the future (now ${clock()}); AT_TIMESTAMP needs a time at or before now, LATEST reads new records`,
          );
        }
        return { index: broker.indexAtTimestamp(shard.groupId, timestampMs), offset: 0 };
      }
      default:
        throw new InvalidArgumentError(
          `ShardIteratorType ${type} is not one of AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP`,
        );
    }
  }

  /** A signed iterator for a position, valid for ITERATOR_TTL_MS. */
  iterator(stream: StreamInfo, shard: ShardInfo, position: ShardPosition): string {
    const fields: ShardIteratorFields = {
      streamId: stream.streamId,
      streamName: stream.streamName,
      shardNumber: shard.shardNumber,
      groupId: shard.groupId,
      index: position.index,
      offset: position.offset,
      expiresAtMs: this.options.clock() + ITERATOR_TTL_MS,
    };
    return createShardIterator(fields, this.secret());
  }

  /**
   * GetRecords: checks the iterator (InvalidArgumentError forged, ExpiredIteratorError expired,
   * ResourceNotFoundError when its stream or shard is gone), the shard's read throttle, and reads.
   */
  getRecords(token: string, limit: number | undefined): streams.GetRecordsResponse {
    const { clock, throttles, lookup } = this.options;
    const now = clock();
    const fields = readShardIterator(token, this.secret(), now);
    const stream = lookup.streamById(fields.streamId, fields.streamName);
    if (stream === undefined) {
      throw new ResourceNotFoundError(
        `Stream ${fields.streamName} of this iterator no longer exists (deleted or recreated); get a new iterator`,
      );
    }
    const shard = stream.shards.find((s) => s.shardNumber === fields.shardNumber);
    if (shard === undefined) {
      throw new ResourceNotFoundError(
        `The shard of this iterator is no longer in stream ${stream.streamName}`,
      );
    }
    const throttle = throttles.get(shard.groupId, now);
    if (stream.mode === "PROVISIONED" && !throttle.tryRead(now)) {
      this.options.metrics?.readsThrottled(stream, shard);
      throw new ProvisionedThroughputExceededError(
        `Rate exceeded for shard ${shard.shardId} in stream ${stream.streamName} under account 000000000000: at most 5 GetRecords calls and 2 MiB per second per shard; back off and retry`,
      );
    }
    const page = this.readPage(
      stream,
      shard,
      { index: fields.index, offset: fields.offset },
      limit ?? GET_RECORDS_LIMIT_MAX,
      GET_RECORDS_BYTES_MAX,
    );
    if (stream.mode === "PROVISIONED") {
      let bytes = 0;
      for (const record of page.records) bytes += record.data.length + Buffer.byteLength(record.partitionKey);
      throttle.chargeRead(bytes, now);
    }
    return {
      records: page.records,
      nextShardIterator: page.drained ? "" : this.iterator(stream, shard, page.next),
      millisBehindLatest: page.millisBehindLatest,
      childShards: page.childShards,
    };
  }

  /**
   * Reads up to `maxRecords` / `maxBytes` committed records of a shard of `stream` (the view the
   * shard came from: its children are found there) from a position.
   */
  readPage(
    stream: StreamInfo,
    shard: ShardInfo,
    from: ShardPosition,
    maxRecords: number,
    maxBytes: number,
  ): ReadPage {
    const result = this.options.broker.read(shard.groupId, from.index, { maxRecords, maxBytes }, from.offset);
    const records = new Array<streams.Record>(result.records.length);
    let last: ReadRecord | undefined;
    let bytes = 0;
    for (let i = 0; i < result.records.length; i++) {
      const record = result.records[i] as ReadRecord;
      const keyVersion = record.keyVersion ?? 0;
      const data = keyVersion === 0 ? record.data : this.openRecord(stream, keyVersion, record.data);
      bytes += data.length + Buffer.byteLength(record.partitionKey);
      records[i] = {
        sequenceNumber: shardSequenceNumber(shard, record.index, record.offset),
        approximateArrivalTimestamp: record.arrivalTimestampMs,
        data,
        partitionKey: record.partitionKey,
        encryptionType: keyVersion === 0 ? "NONE" : "KMS",
      };
      last = record;
    }
    const next = { index: result.nextIndex, offset: result.nextOffset };
    const endingIndex = shard.endingIndex;
    const sealedIndex = endingIndex ?? (result.sealedIndex > 0 ? result.sealedIndex : undefined);
    const atSeal = sealedIndex !== undefined && next.index >= sealedIndex;
    const childShards =
      atSeal && endingIndex !== undefined ? childShardsOf(stream.shards, shard.shardId) : [];
    const drained = childShards.length > 0;
    const caughtUp = atSeal || result.nextIndex > result.commitIndex;
    const behind =
      caughtUp || last === undefined
        ? 0
        : Math.max(0, result.tipArrivalTimestampMs - last.arrivalTimestampMs);
    this.options.metrics?.recordsRead(
      stream,
      shard,
      records.length,
      bytes,
      last === undefined ? 0 : Math.max(0, this.options.clock() - last.arrivalTimestampMs),
    );
    const continuationSequenceNumber =
      last !== undefined
        ? (records[records.length - 1] as streams.Record).sequenceNumber
        : positionBefore(next, shard);
    return {
      records,
      next,
      millisBehindLatest: behind,
      continuationSequenceNumber,
      drained,
      childShards,
      awaitingClose: atSeal && !drained,
    };
  }

  /** The plaintext of an encrypted record (KmsKeyUnavailableError, RecordDecryptionError). */
  private openRecord(stream: StreamInfo, keyVersion: number, sealed: Buffer): Buffer {
    const keys = this.options.keys;
    if (keys === undefined) {
      throw new KmsKeyUnavailableError(
        `stream ${stream.streamName} holds encrypted records and this node's gateway has no keys`,
      );
    }
    return keys.open(stream, keyVersion, sealed);
  }

  private secret(): Buffer {
    return this.options.metadata.view().clusterSecret;
  }
}

/**
 * The sequence number of the position just before `position` in `shard` (AFTER it resumes at
 * `position`).
 */
export function positionBefore(position: ShardPosition, shard: SequencedShard): string {
  if (position.offset > 0) return shardSequenceNumber(shard, position.index, position.offset - 1);
  if (position.index <= 0) return shardSequenceNumber(shard, 0, 0);
  return shardSequenceNumber(shard, position.index - 1, SEQUENCE_OFFSET_MAX);
}
