/**
 * The write path (DESIGN.md, "The write path"): route each record by the MD5 of its partition key
 * (or its ExplicitHashKey) to the open shard whose range holds it, group the records per shard in
 * request order, and send each group to its shard's Raft leader — a local call when this node
 * leads, otherwise one forwarded request to the node that does. The leader checks the shard's
 * throttle, appends the accepted prefix as one log entry, and answers once it commits.
 *
 * Leader changes are invisible beyond latency: a group that meets NOT_LEADER, no leader, an
 * unreachable peer or a leadership lost mid-append is retried on the (new) leader until the
 * request's deadline; only then do its records fail, each with InternalFailure. An outcome that
 * leaves the records possibly written (leadership lost, append timeout, unreachable peer) is
 * sent again at most AMBIGUOUS_RESENDS_MAX times for a plain put (put-retry.ts), so a request
 * writes a record at most twice, as a Kinesis producer's retry may; it never loses one that was
 * acknowledged. Throttled records are not retried: they fail at once with
 * ProvisionedThroughputExceededException, as in Kinesis, and the rest of the request succeeds.
 *
 * Reshards are invisible too: a group whose shard is sealed (the broker answers SHARD_SEALED, or
 * the view shows the shard closed) wrote nothing, so it waits for the metadata view that opens
 * the children (woken by the metadata change listener, MetadataChanges) and is routed again as a
 * whole through the new router — to one child or split between two — within the same deadline.
 * Records of one key keep their order: every record of the parent was committed before its seal,
 * every re-routed record goes to the child after it.
 *
 * Cost per record is the point of this file's shape: a record's hash comes from validation when
 * the caller has it (one MD5 per record), records are grouped per shard by a counting sort into
 * one Int32Array of request positions, and each shard's group is encoded ONCE into a record batch
 * (the broker's log format) that travels as is — to the local broker (`appendEncoded`) or, in
 * one ForwardPutRecords call per leader node, to the others. A batch handed to the local broker
 * is the broker's (it stamps the arrival in place, and the log keeps it): a later local attempt
 * for the same group, after a retry or a seal taken back, appends a copy (EncodedGroup).
 */
import {
  type Broker,
  BrokerError,
  BrokerErrorCode,
  CorruptBatchError,
  decodeRecordBatchHeader,
  encodeRecordBatchOf,
  GroupNotFoundError,
  NotLeaderError,
  PRODUCER_ID_BYTES,
  RECORD_BATCH_FLAG_SEAL,
  type RecordBatchProducer,
  type RecordDataSealer,
  recordBatchPayloadBytes,
  recordBatchPrefix,
  recordBatchProducer,
} from "@sluice/broker";
import type { MetadataService, ShardInfo, StreamInfo } from "@sluice/metadata";
import { KmsKeyUnavailableError } from "../encryption/errors.js";
import type { StreamKeys } from "../encryption/stream-keys.js";
import { InvalidArgumentError } from "../errors.js";
import { parseHashKey, partitionKeyHash } from "../hash-key.js";
import { isListed, isRoutable } from "../lineage.js";
import { shardSequenceNumber } from "../shard-sequence.js";
import type { ThrottleRegistry } from "../throttle.js";
import {
  PRODUCER_DUPLICATE_WAIT_MS_MAX,
  PUT_REROUTE_WAIT_MS_MAX,
  PUT_RETRY_BACKOFF_MS_MAX,
  PUT_RETRY_BACKOFF_MS_MIN,
} from "./constants.js";
import { PeerUnavailableError } from "./forward-errors.js";
import type { LeaderAppendReply } from "./leader-append.js";
import type { MetadataChanges } from "./metadata-changes.js";
import type { ShardMetricsSink } from "./monitoring.js";
import type { PeerForwarder } from "./peer-forwarder.js";
import type { DedupHandle, ProducerDedupTable } from "./producer-dedup.js";
import {
  OUT_OF_ORDER_SEQUENCE_CODE,
  PRODUCER_STATE_LOADING_CODE,
  ProducerDedupRegistry,
} from "./producer-dedup-registry.js";
import { isRetriableCode, PEER_NOT_REACHED_CODE, ShardRetryBudget } from "./put-retry.js";
import type { StreamLookup } from "./stream-lookup.js";

/** One record of a PutRecord(s) request, validated. */
export interface PutEntry {
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly explicitHashKey?: string | undefined;
}

/** The per-record error codes of PutRecords (Kinesis's two, and the idempotent producer's two). */
export type PutErrorCode =
  | "ProvisionedThroughputExceededException"
  | "InternalFailure"
  | "OutOfOrderSequenceException"
  | "StaleShardMapException";

/** The outcome of one record, in request order. */
export type PutOutcome =
  | { readonly ok: true; readonly shardId: string; readonly sequenceNumber: string }
  | { readonly ok: false; readonly errorCode: PutErrorCode; readonly errorMessage: string };

/**
 * An idempotent producer's request (see streams.proto): every record must route to `shardId`;
 * record i carries sequence firstSequence + i in that shard.
 */
export interface ProducerWrite {
  /** PRODUCER_ID_BYTES bytes. */
  readonly producerId: Buffer;
  readonly shardId: string;
  readonly firstSequence: number;
}

/**
 * The producer fields of a PutRecord(s) request: undefined for a plain put (no producer id),
 * InvalidArgumentError when they are set but malformed.
 */
export function producerWriteOf(request: {
  readonly producerId: Uint8Array;
  readonly producerShardId: string;
  readonly producerSequence: number;
}): ProducerWrite | undefined {
  const { producerId, producerShardId, producerSequence } = request;
  if (producerId.length === 0) {
    if (producerShardId !== "" || producerSequence !== 0) {
      throw new InvalidArgumentError(
        "producer_shard_id and producer_sequence need a producer_id; send all three or none",
      );
    }
    return undefined;
  }
  if (producerId.length !== PRODUCER_ID_BYTES) {
    throw new InvalidArgumentError(
      `producer_id is ${producerId.length} bytes; an idempotent producer's id is ${PRODUCER_ID_BYTES} bytes`,
    );
  }
  if (producerShardId === "") {
    throw new InvalidArgumentError(
      "an idempotent write needs producer_shard_id: the shard its records were numbered for",
    );
  }
  if (!Number.isSafeInteger(producerSequence) || producerSequence < 0) {
    throw new InvalidArgumentError(`producer_sequence ${producerSequence} is above 2^53 - 1`);
  }
  const id = Buffer.isBuffer(producerId)
    ? producerId
    : Buffer.from(producerId.buffer, producerId.byteOffset, producerId.byteLength);
  return { producerId: id, shardId: producerShardId, firstSequence: producerSequence };
}

export type { LeaderAppendReply } from "./leader-append.js";

export const THROUGHPUT_EXCEEDED_CODE = "THROUGHPUT_EXCEEDED";
export const NOT_LEADER_CODE = BrokerErrorCode.NotLeader;
/**
 * The broker's code for an append to a sealed shard (ShardSealedError), also what a leader
 * answers when its view shows the shard closed: nothing was written; route the records again.
 */
export const SHARD_SEALED_CODE = "SHARD_SEALED";

export interface PutPathOptions {
  readonly nodeId: number;
  readonly broker: Broker;
  readonly metadata: MetadataService;
  readonly lookup: StreamLookup;
  readonly forwarder: PeerForwarder;
  readonly throttles: ThrottleRegistry;
  /** Wakes a sealed shard's records when the metadata view changes. */
  readonly changes: MetadataChanges;
  readonly clock: () => number;
  /** Receives what this node commits as a leader and what its throttles refuse. @default none */
  readonly metrics?: ShardMetricsSink | undefined;
  /**
   * Seals the records of encrypted streams as their batches are encoded (on the node that takes
   * the request, so they travel to the leader sealed). @default none: a write to an encrypted stream fails
   */
  readonly keys?: StreamKeys | undefined;
}

/**
 * One shard's group of records, encoded once for all its attempts. The first local append hands
 * `bytes` to the broker (which stamps them in place and keeps them in its log); from then on a
 * local attempt appends a copy, while forwarding only reads them.
 */
interface EncodedGroup {
  readonly bytes: Buffer;
  handedOver: boolean;
}

/** How one shard's group of records ended: settled (outcomes written) or sealed (nothing written). */
type SendResult = "settled" | "sealed";

export class PutPath {
  private readonly options: PutPathOptions;
  /** The last leader learned for a group that has no replica here. */
  private readonly leaderHints = new Map<number, number>();
  /** The idempotent producers of the shards this node leads. */
  private readonly dedup: ProducerDedupRegistry;

  constructor(options: PutPathOptions) {
    this.options = options;
    this.dedup = new ProducerDedupRegistry(options.broker);
  }

  /**
   * Writes the records of one request to `stream` and resolves with one outcome per record, in
   * request order. Never rejects for a record's failure; rejects only for a request-level error
   * (an ExplicitHashKey that names no shard is InvalidArgumentError, before anything is written).
   * `hashKeys`, when given, holds each record's 16-byte hash key as validation computed it (the
   * MD5 of its partition key, or its ExplicitHashKey), so nothing is hashed twice. `producer`
   * makes it an idempotent producer's write (see ProducerWrite and producer-dedup-registry.ts).
   */
  async putRecords(
    stream: StreamInfo,
    entries: readonly PutEntry[],
    deadlineAtMs: number,
    hashKeys?: readonly { readonly hashKey: Buffer }[],
    producer?: ProducerWrite,
  ): Promise<PutOutcome[]> {
    const hashes = new Array<Buffer>(entries.length);
    if (hashKeys !== undefined && hashKeys.length === entries.length) {
      for (let i = 0; i < entries.length; i++) hashes[i] = (hashKeys[i] as { hashKey: Buffer }).hashKey;
    } else {
      for (let i = 0; i < entries.length; i++) hashes[i] = hashKeyOf(entries[i] as PutEntry, i);
    }
    // A stream whose key this node cannot use fails the whole request, before anything is written.
    if (stream.encryption !== undefined) this.sealerOf(stream);
    const outcomes = new Array<PutOutcome>(entries.length);
    const all = new Int32Array(entries.length);
    for (let i = 0; i < entries.length; i++) all[i] = i;
    if (producer !== undefined) {
      await this.sendProducerWrite(stream, entries, hashes, all, outcomes, deadlineAtMs, producer);
      return outcomes;
    }
    await this.routeAndSend(stream, entries, hashes, all, outcomes, deadlineAtMs);
    return outcomes;
  }

  /**
   * An idempotent producer's write: all its records go to the shard it numbered them for, as one
   * group, never re-routed (a sequence belongs to one shard). StaleShardMapException (every
   * record, nothing written) means the records are certainly not in that shard and never will be,
   * so the producer may number them again for their new shard:
   * - a shard this node's view does not know, after a catch-up with the metadata leader's view
   *   (a gateway that lags the producer must not send it renumbering a batch it may hold), or an
   *   open shard that does not hold all the records' keys;
   * - a shard closed by a reshard whose leader found the batch nowhere in its final log. A closed
   *   shard is still asked (here and on every retry): a batch an earlier attempt wrote before the
   *   seal is answered with its original sequence numbers instead.
   */
  private async sendProducerWrite(
    stream: StreamInfo,
    entries: readonly PutEntry[],
    hashes: readonly Buffer[],
    positions: Int32Array,
    outcomes: PutOutcome[],
    deadlineAtMs: number,
    producer: ProducerWrite,
  ): Promise<void> {
    let current = stream;
    let shard = current.shards.find(
      (candidate) => candidate.shardId === producer.shardId && isListed(candidate),
    );
    if (shard === undefined) {
      try {
        const fresh = (await this.options.metadata.consistentView()).streams.get(stream.streamName);
        if (fresh !== undefined && fresh.streamId === stream.streamId) {
          current = fresh;
          shard = fresh.shards.find(
            (candidate) => candidate.shardId === producer.shardId && isListed(candidate),
          );
        }
      } catch (error) {
        fail(outcomes, positions, 0, "InternalFailure", `Internal service failure: ${errorMessageOf(error)}`);
        return;
      }
    }
    let routed = shard !== undefined;
    if (shard !== undefined && isRoutable(shard)) {
      const routes = this.options.lookup.routesOf(current);
      const at = routes.openShards.indexOf(shard);
      for (let k = 0; routed && k < positions.length; k++) {
        routed = at >= 0 && routes.router.route(hashes[positions[k] as number] as Buffer) === at;
      }
    }
    if (shard === undefined || !routed) {
      fail(outcomes, positions, 0, "StaleShardMapException", staleShardMapMessage(stream, producer.shardId));
      return;
    }
    let batch: EncodedGroup;
    try {
      const trailer: RecordBatchProducer = {
        producerId: producer.producerId,
        firstSequence: producer.firstSequence,
      };
      batch = {
        bytes: encodeRecordBatchOf(entries, positions, 0, trailer, this.sealerOf(stream)),
        handedOver: false,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fail(outcomes, positions, 0, "InternalFailure", `Internal service failure: ${message}`);
      return;
    }
    const result = await this.sendToShard(current, shard, batch, positions, outcomes, deadlineAtMs, true);
    if (result === "sealed") {
      fail(outcomes, positions, 0, "StaleShardMapException", staleShardMapMessage(stream, producer.shardId));
    }
  }

  /**
   * Routes the records at `positions` (request order) through the stream's current router and
   * sends each shard's group; resolves once every one of them has an outcome. The groups are
   * views of one Int32Array, filled by a counting sort (request order kept within a shard).
   */
  private async routeAndSend(
    stream: StreamInfo,
    entries: readonly PutEntry[],
    hashes: readonly Buffer[],
    positions: Int32Array,
    outcomes: PutOutcome[],
    deadlineAtMs: number,
  ): Promise<void> {
    const routes = this.options.lookup.routesOf(stream);
    const shardCount = routes.openShards.length;
    const shardOfRecord = new Int32Array(positions.length);
    // starts[at] … starts[at + 1] - 1: where shard `at`'s records go in `grouped`.
    const starts = new Int32Array(shardCount + 1);
    for (let k = 0; k < positions.length; k++) {
      const at = routes.router.route(hashes[positions[k] as number] as Buffer);
      shardOfRecord[k] = at;
      starts[at + 1] = (starts[at + 1] as number) + 1;
    }
    for (let at = 0; at < shardCount; at++)
      starts[at + 1] = (starts[at + 1] as number) + (starts[at] as number);
    const grouped = new Int32Array(positions.length);
    const next = starts.slice(0, shardCount);
    for (let k = 0; k < positions.length; k++) {
      const at = shardOfRecord[k] as number;
      const slot = next[at] as number;
      grouped[slot] = positions[k] as number;
      next[at] = slot + 1;
    }
    const sends: Promise<void>[] = [];
    for (let at = 0; at < shardCount; at++) {
      const from = starts[at] as number;
      const to = starts[at + 1] as number;
      if (from === to) continue;
      const shard = routes.openShards[at] as ShardInfo;
      sends.push(
        this.sendGroup(stream, shard, entries, hashes, grouped.subarray(from, to), outcomes, deadlineAtMs),
      );
    }
    await Promise.all(sends);
  }

  /**
   * Sends one shard's group; when the shard turns out sealed, waits for the view that closes it
   * and routes the group again (a seal that is taken back before it commits leaves the shard
   * open: after a quiet wait the same shard is tried again).
   */
  private async sendGroup(
    stream: StreamInfo,
    shard: ShardInfo,
    entries: readonly PutEntry[],
    hashes: readonly Buffer[],
    positions: Int32Array,
    outcomes: PutOutcome[],
    deadlineAtMs: number,
  ): Promise<void> {
    const { lookup, changes, clock } = this.options;
    let batch: EncodedGroup;
    try {
      // The arrival stamp is the leader's to write.
      batch = {
        bytes: encodeRecordBatchOf(entries, positions, 0, undefined, this.sealerOf(stream)),
        handedOver: false,
      };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      fail(outcomes, positions, 0, "InternalFailure", `Internal service failure: ${message}`);
      return;
    }
    for (;;) {
      if ((await this.sendToShard(stream, shard, batch, positions, outcomes, deadlineAtMs)) === "settled") {
        return;
      }
      for (;;) {
        const fresh = lookup.streamById(stream.streamId, stream.streamName);
        if (fresh === undefined) {
          fail(
            outcomes,
            positions,
            0,
            "InternalFailure",
            `Internal service failure: stream ${stream.streamName} was deleted`,
          );
          return;
        }
        const current = fresh.shards.find((s) => s.shardId === shard.shardId);
        if (current === undefined || !isRoutable(current)) {
          try {
            await this.routeAndSend(fresh, entries, hashes, positions, outcomes, deadlineAtMs);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            fail(outcomes, positions, 0, "InternalFailure", `Internal service failure: ${message}`);
          }
          return;
        }
        const remainingMs = deadlineAtMs - clock();
        if (remainingMs <= 0) {
          fail(
            outcomes,
            positions,
            0,
            "InternalFailure",
            `Internal service failure: shard ${shard.shardId} is sealed by a reshard and its children did not open before the deadline; retry`,
          );
          return;
        }
        await changes.wait(Math.min(remainingMs, PUT_REROUTE_WAIT_MS_MAX));
        // No change of this stream during the wait: try the shard again (its seal may have been taken back).
        if (lookup.streamById(stream.streamId, stream.streamName) === fresh) break;
      }
    }
  }

  /**
   * The sealer of `stream`'s new records, or undefined when they are plaintext. Throws
   * KmsKeyUnavailableError when the stream is encrypted and this node cannot use its key.
   */
  private sealerOf(stream: StreamInfo): RecordDataSealer | undefined {
    if (stream.encryption === undefined) return undefined;
    const keys = this.options.keys;
    if (keys === undefined) {
      throw new KmsKeyUnavailableError(
        `stream ${stream.streamName} is encrypted and this node's gateway has no keys`,
      );
    }
    return keys.sealerFor(stream);
  }

  /**
   * The leader's side: checks that the stream instance still has this shard, takes the prefix of
   * the records the shard's throttle allows (all of them in ON_DEMAND mode), appends it as one
   * entry and resolves once it commits. `batch` is a record batch (encodeRecordBatchOf, stamp 0)
   * that the caller hands over: the broker stamps it in place and keeps it in the log. A throttled
   * prefix is appended as a copy. Broker errors (NotLeaderError, CorruptBatchError, …) reject.
   */
  async appendAsLeader(streamId: number, groupId: number, batch: Buffer): Promise<LeaderAppendReply> {
    const { broker, throttles, clock } = this.options;
    const found = await this.findShardByGroup(streamId, groupId);
    if (found === undefined) {
      return reply(0, 0, "STREAM_NOT_FOUND", `no shard with group ${groupId} in stream instance ${streamId}`);
    }
    const header = decodeRecordBatchHeader(batch);
    if (header.flags === RECORD_BATCH_FLAG_SEAL) {
      throw new CorruptBatchError("a seal batch is not a batch of records to append");
    }
    const recordCount = header.recordCount;
    const producer = recordBatchProducer(batch);
    if (found.shard.closedAtMs !== undefined) {
      const sealed = reply(
        0,
        0,
        SHARD_SEALED_CODE,
        `shard ${found.shard.shardId} is closed by a reshard; its children take the writes`,
      );
      if (producer === undefined) return sealed;
      // The log before the seal is final: a retry of a batch written there is answered from it;
      // anything else is certainly not written, and never will be.
      // (endingIndex is set with closedAtMs; without it, every index counts as before the seal.)
      const checked = await this.checkProducerBatch(
        groupId,
        producer,
        recordCount,
        found.shard.endingIndex ?? Number.MAX_SAFE_INTEGER,
      );
      if ("reply" in checked) return checked.reply;
      // Not reached (a sealed check always answers); never leave a batch in flight all the same.
      if (!checked.table.abort(checked.handle)) this.dedup.invalidate(groupId);
      return sealed;
    }
    const metrics = this.options.metrics;
    const provisioned = found.stream.mode === "PROVISIONED";
    // An idempotent write: answered from the dedup table when it is a retry; when new, the table
    // holds it in flight from the check on (`begin` in the same synchronous step), so a copy of it
    // arriving meanwhile waits for it instead of passing the check too.
    let dedup: { table: ProducerDedupTable; handle: DedupHandle } | undefined;
    if (producer !== undefined) {
      const checked = await this.checkProducerBatch(groupId, producer, recordCount);
      if ("reply" in checked) return checked.reply;
      dedup = checked;
    }
    let accepted = recordCount;
    let sizes: ReturnType<typeof recordBatchPayloadBytes> | undefined;
    let result: Awaited<ReturnType<Broker["appendEncoded"]>>;
    // From here the begun batch is committed or taken back on every path (a copy waits for it).
    try {
      // Data + partition key bytes of each record, from the record headers (no string decoded).
      sizes = provisioned || metrics !== undefined ? recordBatchPayloadBytes(batch) : undefined;
      if (provisioned && sizes !== undefined) {
        const now = clock();
        const payload = sizes;
        accepted = throttles.get(groupId, now).tryWrite(recordCount, (at) => payload[at] as number, now);
      }
      if (accepted < recordCount) metrics?.writesThrottled(found.stream, found.shard, recordCount - accepted);
      if (accepted === 0) {
        if (dedup !== undefined && !dedup.table.abort(dedup.handle)) this.dedup.invalidate(groupId);
        return reply(0, 0, THROUGHPUT_EXCEEDED_CODE, throughputMessage(found.stream, found.shard));
      }
      if (accepted < recordCount && dedup !== undefined && !dedup.table.shrink(dedup.handle, accepted)) {
        this.dedup.invalidate(groupId);
      }
      result = await broker.appendEncoded(
        groupId,
        accepted === recordCount ? batch : recordBatchPrefix(batch, accepted),
      );
    } catch (error) {
      if (dedup !== undefined) this.abortProducerBatch(groupId, dedup.table, dedup.handle, error);
      throw error;
    }
    if (dedup !== undefined) dedup.table.commit(dedup.handle, result.index);
    if (metrics !== undefined && sizes !== undefined) {
      let bytes = 0;
      for (let at = 0; at < accepted; at++) bytes += sizes[at] as number;
      metrics.recordsWritten(found.stream, found.shard, accepted, bytes);
    }
    return accepted === recordCount
      ? reply(accepted, result.index, "", "")
      : reply(accepted, result.index, THROUGHPUT_EXCEEDED_CODE, throughputMessage(found.stream, found.shard));
  }

  /**
   * Checks an idempotent batch against its shard's dedup table: `reply` answers it (a duplicate
   * with its original position, a gap, a table not loadable now), otherwise it is new and already
   * begun in the table (in flight): the caller must append it, then `commit`, or take it back.
   * With `sealedAtIndex`, the shard is sealed at that index (its log below is final) and the
   * answer is always a `reply`: a batch that is not there — new, or past a gap — is answered
   * SHARD_SEALED, and so are the records of a retry past the original batch's end.
   */
  private async checkProducerBatch(
    groupId: number,
    producer: RecordBatchProducer,
    recordCount: number,
    sealedAtIndex?: number,
  ): Promise<
    { reply: LeaderAppendReply; table?: never } | { table: ProducerDedupTable; handle: DedupHandle }
  > {
    const sealedMessage = `shard group ${groupId} is closed by a reshard and does not hold this batch: number its records for their new shard`;
    const key = producer.producerId.toString("latin1");
    for (;;) {
      let found: Awaited<ReturnType<ProducerDedupRegistry["tableFor"]>>;
      try {
        found = await this.dedup.tableFor(groupId);
      } catch (error) {
        return { reply: reply(0, 0, PRODUCER_STATE_LOADING_CODE, errorMessageOf(error)) };
      }
      if (found === undefined) {
        const leader = this.options.broker.groupStatus(groupId).leader;
        return {
          reply: reply(0, 0, NOT_LEADER_CODE, `this node does not lead group ${groupId}`, leader),
        };
      }
      const verdict = found.table.check(key, producer.firstSequence, recordCount);
      if (sealedAtIndex !== undefined && verdict.kind === "duplicate" && verdict.index >= sealedAtIndex) {
        // Past the seal: never applied as records (the broker refused it), so not written.
        return { reply: reply(0, 0, SHARD_SEALED_CODE, sealedMessage) };
      }
      switch (verdict.kind) {
        case "new":
          if (sealedAtIndex !== undefined) return { reply: reply(0, 0, SHARD_SEALED_CODE, sealedMessage) };
          // Taken in flight now, with no await since the check: the caller appends it or aborts it.
          return {
            table: found.table,
            handle: found.table.begin(key, producer.firstSequence, recordCount),
          };
        case "in-flight":
          await verdict.settled;
          continue;
        case "duplicate": {
          const committed = await this.dedup.waitApplied(
            groupId,
            verdict.index,
            found.term,
            PRODUCER_DUPLICATE_WAIT_MS_MAX,
          );
          if (!committed) {
            return {
              reply: reply(
                0,
                0,
                PRODUCER_STATE_LOADING_CODE,
                `the original of this retried batch (entry ${verdict.index}) did not commit in this term yet; retry`,
              ),
            };
          }
          const rest = verdict.covered < recordCount;
          return {
            reply: {
              accepted: verdict.covered,
              index: verdict.index,
              firstOffset: verdict.firstOffset,
              errorCode: !rest
                ? ""
                : sealedAtIndex !== undefined
                  ? SHARD_SEALED_CODE
                  : PRODUCER_STATE_LOADING_CODE,
              errorMessage: !rest
                ? ""
                : sealedAtIndex !== undefined
                  ? sealedMessage
                  : "the rest of this retried batch was not in the original one; send those records again",
              leaderHint: 0,
            },
          };
        }
        case "out-of-order":
          // A gap: the batch is not in the log. In a sealed log it never will be.
          if (sealedAtIndex !== undefined) return { reply: reply(0, 0, SHARD_SEALED_CODE, sealedMessage) };
          return {
            reply: reply(
              0,
              0,
              OUT_OF_ORDER_SEQUENCE_CODE,
              `sequence ${producer.firstSequence} came while ${verdict.expected} was expected for this producer in this shard: records were lost between; the producer must not go on as if they were written (start a new producer)`,
            ),
          };
        case "too-old":
          return {
            reply: reply(
              0,
              0,
              OUT_OF_ORDER_SEQUENCE_CODE,
              `sequence ${producer.firstSequence} was written before, but is older than the batches this shard remembers (from ${verdict.oldestKept}): its position is unknown; do not retry it`,
            ),
          };
      }
    }
  }

  /**
   * An idempotent append failed: refused before the log (the table takes it back), or with an
   * unknown outcome (the table is dropped, rebuilt from the log by the next write).
   */
  private abortProducerBatch(
    groupId: number,
    table: ProducerDedupTable,
    handle: DedupHandle,
    error: unknown,
  ): void {
    const code = errorCode(error);
    const notInLog =
      code === BrokerErrorCode.NotLeader ||
      code === BrokerErrorCode.Busy ||
      code === BrokerErrorCode.GroupNotFound ||
      code === BrokerErrorCode.BrokerClosed ||
      code === SHARD_SEALED_CODE ||
      error instanceof CorruptBatchError;
    if (!notInLog || !table.abort(handle)) this.dedup.invalidate(groupId);
  }

  private async findShardByGroup(
    streamId: number,
    groupId: number,
  ): Promise<{ stream: StreamInfo; shard: ShardInfo } | undefined> {
    const search = (streams: Iterable<StreamInfo>) => {
      for (const stream of streams) {
        if (stream.streamId !== streamId) continue;
        const shard = stream.shards.find((s) => s.groupId === groupId);
        return shard === undefined ? undefined : { stream, shard };
      }
      return undefined;
    };
    return (
      search(this.options.metadata.view().streams.values()) ??
      search((await this.options.metadata.consistentView()).streams.values())
    );
  }

  private async sendToShard(
    stream: StreamInfo,
    shard: ShardInfo,
    batch: EncodedGroup,
    positions: Int32Array,
    outcomes: PutOutcome[],
    deadlineAtMs: number,
    idempotent = false,
  ): Promise<SendResult> {
    const { nodeId, forwarder, clock, lookup } = this.options;
    let backoffMs = PUT_RETRY_BACKOFF_MS_MIN;
    let attempt = 0;
    let lastError = "no leader was found for the shard";
    const budget = new ShardRetryBudget(idempotent);
    const failUnknown = () =>
      fail(
        outcomes,
        positions,
        0,
        "InternalFailure",
        budget.outcomeUnknown
          ? `Internal service failure: ${lastError} (the records may have been written; retry them if a duplicate is acceptable)`
          : `Internal service failure: ${lastError}`,
      );
    for (;;) {
      // An idempotent batch goes to the leader even then: an earlier attempt may have written it
      // before the seal, and only the leader can tell (see appendAsLeader).
      if (attempt > 0 && !idempotent) {
        // The map may have moved on while we retried: a closed shard takes no more writes.
        const current = lookup
          .streamById(stream.streamId, stream.streamName)
          ?.shards.find((s) => s.shardId === shard.shardId);
        if (current !== undefined && current.closedAtMs !== undefined) return "sealed";
      }
      const leader = this.leaderOf(shard, attempt);
      let answer: LeaderAppendReply | undefined;
      try {
        if (leader === nodeId) {
          // Once the local broker has had the bytes (stamped, maybe in its log), send it a copy.
          const owned = batch.handedOver ? Buffer.from(batch.bytes) : batch.bytes;
          batch.handedOver = true;
          answer = await this.appendAsLeader(stream.streamId, shard.groupId, owned);
        } else if (leader !== 0) {
          answer = await forwarder.putRecords(
            leader,
            stream.streamId,
            shard.groupId,
            batch.bytes,
            deadlineAtMs,
          );
        }
      } catch (error) {
        const code =
          error instanceof PeerUnavailableError && !error.sent ? PEER_NOT_REACHED_CODE : errorCode(error);
        if (code === SHARD_SEALED_CODE) return "sealed";
        lastError = error instanceof Error ? error.message : String(error);
        if (error instanceof NotLeaderError && error.leaderHint !== 0)
          this.leaderHints.set(shard.groupId, error.leaderHint);
        if (budget.verdict(code) === "fail") {
          failUnknown();
          return "settled";
        }
      }
      if (answer !== undefined) {
        if (answer.accepted === 0 && answer.errorCode === SHARD_SEALED_CODE) return "sealed";
        if (answer.accepted > 0 || !isRetriableCode(answer.errorCode)) {
          this.settle(answer, stream, shard, positions, outcomes);
          return "settled";
        }
        lastError = answer.errorMessage;
        if (answer.errorCode === NOT_LEADER_CODE && answer.leaderHint !== 0) {
          this.leaderHints.set(shard.groupId, answer.leaderHint);
        }
        if (budget.verdict(answer.errorCode) === "fail") {
          failUnknown();
          return "settled";
        }
      }
      attempt++;
      const now = clock();
      if (now + backoffMs >= deadlineAtMs) {
        failUnknown();
        return "settled";
      }
      await delay(backoffMs * (0.5 + Math.random() / 2));
      backoffMs = Math.min(backoffMs * 2, PUT_RETRY_BACKOFF_MS_MAX);
    }
  }

  private settle(
    answer: LeaderAppendReply,
    stream: StreamInfo,
    shard: ShardInfo,
    positions: Int32Array,
    outcomes: PutOutcome[],
  ): void {
    for (let k = 0; k < answer.accepted; k++) {
      outcomes[positions[k] as number] = {
        ok: true,
        shardId: shard.shardId,
        sequenceNumber: shardSequenceNumber(shard, answer.index, (answer.firstOffset ?? 0) + k),
      };
    }
    if (answer.accepted < positions.length) {
      const throttled = answer.errorCode === THROUGHPUT_EXCEEDED_CODE;
      if (answer.errorCode === OUT_OF_ORDER_SEQUENCE_CODE) {
        fail(outcomes, positions, answer.accepted, "OutOfOrderSequenceException", answer.errorMessage);
        return;
      }
      if (answer.errorCode === SHARD_SEALED_CODE) {
        // An idempotent retry that a sealed shard holds in part: the rest is certainly not there.
        fail(outcomes, positions, answer.accepted, "StaleShardMapException", answer.errorMessage);
        return;
      }
      fail(
        outcomes,
        positions,
        answer.accepted,
        throttled ? "ProvisionedThroughputExceededException" : "InternalFailure",
        throttled
          ? answer.errorMessage || throughputMessage(stream, shard)
          : `Internal service failure: ${answer.errorMessage}`,
      );
    }
  }

  /** The node to send a shard's records to: the leader this node knows, else a replica in turn. */
  private leaderOf(shard: ShardInfo, attempt: number): number {
    try {
      const leader = this.options.broker.groupStatus(shard.groupId).leader;
      if (leader !== 0) return leader;
      return 0;
    } catch (error) {
      if (!(error instanceof GroupNotFoundError)) throw error;
    }
    const hint = this.leaderHints.get(shard.groupId);
    if (hint !== undefined && attempt === 0) return hint;
    if (shard.replicas.length === 0) return 0;
    return shard.replicas[attempt % shard.replicas.length] as number;
  }
}

/** A record's 16-byte hash key: its ExplicitHashKey when it has one, else the MD5 of its partition key. */
function hashKeyOf(entry: PutEntry, position: number): Buffer {
  if (entry.explicitHashKey === undefined || entry.explicitHashKey === "") {
    return partitionKeyHash(entry.partitionKey);
  }
  const parsed = parseHashKey(entry.explicitHashKey);
  if (parsed === null) {
    throw new InvalidArgumentError(
      `ExplicitHashKey ${entry.explicitHashKey} of record ${position} is not a decimal integer in [0, 2^128 - 1]`,
    );
  }
  return parsed;
}

function reply(
  accepted: number,
  index: number,
  errorCode: string,
  errorMessage: string,
  leaderHint = 0,
): LeaderAppendReply {
  return { accepted, index, firstOffset: 0, errorCode, errorMessage, leaderHint };
}

function errorMessageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function staleShardMapMessage(stream: StreamInfo, shardId: string): string {
  return `the records were numbered for shard ${shardId} of stream ${stream.streamName}, which is closed or does not hold all their keys in this node's shard map: refresh the shard map and number them for their new shard`;
}

function fail(
  outcomes: PutOutcome[],
  positions: Int32Array,
  from: number,
  errorCode: PutErrorCode,
  errorMessage: string,
): void {
  for (let k = from; k < positions.length; k++) {
    outcomes[positions[k] as number] = { ok: false, errorCode, errorMessage };
  }
}

function throughputMessage(stream: StreamInfo, shard: ShardInfo): string {
  return `Rate exceeded for shard ${shard.shardId} in stream ${stream.streamName} under account 000000000000; back off and retry, or switch the stream to ON_DEMAND`;
}

/** The stable code of a typed error (broker, metadata, gateway), or "" for anything else. */
export function errorCode(error: unknown): string {
  if (error instanceof BrokerError) return error.code;
  if (typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string") {
    return (error as { code: string }).code;
  }
  return "";
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
