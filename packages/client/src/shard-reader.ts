/**
 * ShardReader: one shard's records as an async iterator, through GetShardIterator and a
 * GetRecords loop. Throttled reads back off (doubling, READ_THROTTLE_BACKOFF_MS_BASE up to _MAX);
 * an expired iterator is renewed after the last record read. On a closed shard the iteration
 * ends after its last record and `childShards` holds the children; on an open shard it waits at
 * the tip for more (`follow: true`, the default) or ends there (`follow: false`).
 *
 * "The tip" is the end of the data the answering replica has: a page with no records (the read
 * path returns records whenever any is committed past the position). MillisBehindLatest is not
 * consulted: a replica that lags, or a server that reports lag on an empty page as Kinesis may,
 * would otherwise never let a non-following read end, and would have a following one poll
 * without pause.
 */
import type { streams } from "@sluice/proto";
import {
  READ_IDLE_POLL_MS,
  READ_LIMIT_RECORDS_DEFAULT,
  READ_LIMIT_RECORDS_MAX,
  READ_THROTTLE_BACKOFF_MS_BASE,
  READ_THROTTLE_BACKOFF_MS_MAX,
} from "./constants.js";
import { InvalidOptionsError, SluiceCallError } from "./errors.js";
import { backoffMs, sleep } from "./sleep.js";
import { type StartPosition, toProtoStart } from "./start-position.js";
import type { StreamsApi } from "./streams-api.js";

export interface ShardReaderOptions {
  readonly streamName: string;
  readonly shardId: string;
  readonly start: StartPosition;
  /** Records per GetRecords call, 1 to 10000. @default 10000 */
  readonly limit?: number;
  /**
   * At the tip of an open shard (a page with no records: the end of the data the replica that
   * answered has), wait for more (true) or end (false). @default true
   */
  readonly follow?: boolean;
  /** Pause between two calls that found nothing at the tip. @default 200 */
  readonly idlePollMs?: number;
  /** Ends the iteration (it then throws AbortedError). */
  readonly signal?: AbortSignal;
}

/** A record as read, with the shard it came from. */
export interface ReadRecord extends streams.Record {
  readonly shardId: string;
}

/** One GetRecords page as the reader saw it. */
export interface ShardPage {
  readonly shardId: string;
  readonly records: ReadRecord[];
  readonly millisBehindLatest: number;
  /** Set on the page that ended a closed shard. */
  readonly childShards: streams.ChildShard[];
  /** True when the shard is closed and fully read. */
  readonly shardEnded: boolean;
  /** True when this page reached the tip of an open shard: no records, the shard not ended. */
  readonly atTip: boolean;
}

export class ShardReader implements AsyncIterable<ReadRecord> {
  readonly shardId: string;
  /** The children of the shard once its end was read; empty before. */
  childShards: streams.ChildShard[] = [];
  /** True once a closed shard was read to its end. */
  ended = false;
  /** MillisBehindLatest of the last page. */
  millisBehindLatest = 0;
  /** The last record's sequence number read, "" before the first. */
  lastSequenceNumber = "";
  readonly #client: StreamsApi;
  readonly #options: ShardReaderOptions;
  readonly #limit: number;

  constructor(client: StreamsApi, options: ShardReaderOptions) {
    if (!options.streamName) throw new InvalidOptionsError("shardReader: streamName is required");
    if (!options.shardId) throw new InvalidOptionsError("shardReader: shardId is required");
    toProtoStart(options.start);
    const limit = options.limit ?? READ_LIMIT_RECORDS_DEFAULT;
    if (!Number.isInteger(limit) || limit < 1 || limit > READ_LIMIT_RECORDS_MAX) {
      throw new InvalidOptionsError(
        `shardReader: limit must be an integer from 1 to ${READ_LIMIT_RECORDS_MAX}, not ${limit}`,
      );
    }
    this.#client = client;
    this.#options = options;
    this.#limit = limit;
    this.shardId = options.shardId;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReadRecord> {
    for await (const page of this.pages()) yield* page.records;
  }

  /** The pages as read (for consumers that work in batches); ends as the record iterator does. */
  async *pages(): AsyncGenerator<ShardPage> {
    const { shardId, signal } = this.#options;
    const follow = this.#options.follow ?? true;
    const idlePollMs = this.#options.idlePollMs ?? READ_IDLE_POLL_MS;
    let iterator = await this.#iterator(this.#options.start);
    let throttled = 0;
    for (;;) {
      let page: streams.GetRecordsResponse;
      try {
        page = await this.#client.getRecords(
          { shardIterator: iterator, limit: this.#limit },
          signal === undefined ? {} : { signal },
        );
        throttled = 0;
      } catch (error) {
        if (!(error instanceof SluiceCallError)) throw error;
        if (
          error.errorName === "ProvisionedThroughputExceededException" ||
          (error.retriable && error.errorName !== "ExpiredIteratorException")
        ) {
          await sleep(
            backoffMs(throttled++, READ_THROTTLE_BACKOFF_MS_BASE, READ_THROTTLE_BACKOFF_MS_MAX),
            signal,
          );
          continue;
        }
        if (error.errorName === "ExpiredIteratorException") {
          iterator = await this.#iterator(
            this.lastSequenceNumber === ""
              ? this.#options.start
              : { type: "AFTER_SEQUENCE_NUMBER", sequenceNumber: this.lastSequenceNumber },
          );
          continue;
        }
        throw error;
      }
      const records = page.records as ReadRecord[];
      for (const record of records) (record as { shardId: string }).shardId = shardId;
      const last = records[records.length - 1];
      if (last !== undefined) this.lastSequenceNumber = last.sequenceNumber;
      this.millisBehindLatest = page.millisBehindLatest;
      const shardEnded = page.nextShardIterator === "";
      const atTip = !shardEnded && records.length === 0;
      if (shardEnded) {
        this.ended = true;
        this.childShards = page.childShards;
      }
      yield {
        shardId,
        records,
        millisBehindLatest: page.millisBehindLatest,
        childShards: page.childShards,
        shardEnded,
        atTip,
      };
      if (shardEnded) return;
      iterator = page.nextShardIterator;
      if (atTip) {
        if (!follow) return;
        await sleep(idlePollMs, signal);
      }
    }
  }

  async #iterator(start: StartPosition): Promise<string> {
    const { type, sequenceNumber, timestamp } = toProtoStart(start);
    const { signal } = this.#options;
    const response = await this.#client.getShardIterator(
      {
        streamName: this.#options.streamName,
        shardId: this.#options.shardId,
        shardIteratorType: type,
        startingSequenceNumber: sequenceNumber,
        ...(timestamp === undefined ? {} : { timestamp }),
      },
      signal === undefined ? {} : { signal },
    );
    return response.shardIterator;
  }
}
