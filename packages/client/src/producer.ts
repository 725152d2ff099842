/**
 * Producer: a batching writer into one stream over PutRecords, as the KPL or a Kafka producer.
 *
 * - `send()` resolves with the record's shard and sequence number once acknowledged, or rejects
 *   with RecordFailedError once given up. Records are gathered into PutRecords requests of at
 *   most `maxBatchRecords` / `maxBatchBytes`; a partial batch leaves after `lingerMs`; at most
 *   `maxInFlightRequests` requests are outstanding.
 * - Only the records that failed are retried (ProvisionedThroughputExceededException,
 *   InternalFailure, or a request that failed retriably as a whole), after a jittered
 *   exponential backoff, until `recordTimeoutMs` after send.
 * - Per-key order: a partition key has at most one record between "handed to the producer" and
 *   "acknowledged or given up"; its next records wait, in order, in a per-key queue. A retry can
 *   therefore never overtake anything. The cost: one hot key gets at most one record per round
 *   trip (spread keys for throughput, as Kinesis asks anyway).
 * - Backpressure: accepted but unfinished records hold at most `bufferBytes`; a `send()` beyond
 *   that waits (FIFO) until acknowledgements free room. Callers that do not await `send()` should
 *   await `waitForSpace()` first, so their own queue of pending calls stays bounded too.
 *
 * - Idempotence (`idempotent: true`, off by default): the producer draws a random 8-byte producer
 *   id, numbers each record in the shard its shard map routes it to (one sequence per shard, from
 *   0), and sends one PutRecords per shard carrying (id, shard, first sequence). A retry resends
 *   the same numbers, so the shard leader drops a copy it already holds and answers the original
 *   sequence number: a retry after a timeout never writes twice. To keep each shard's sequences
 *   in order it has one batch in flight (fanned out to its shards at once) and retries a shard's
 *   failed records before anything newer. A record given up (timeout, OutOfOrderSequenceException)
 *   breaks the chain: the producer then draws a new id and numbers the rest again — all but the
 *   records an earlier attempt may have written (an unknown outcome): those are only ever sent
 *   again under their first numbers, since under new ones a copy in the log would go unnoticed.
 *   Records numbered for a shard that a reshard closed are numbered again for their new shard
 *   after a shard-map refresh once the gateway answers StaleShardMapException, which it does only
 *   when the closed shard's final log does not hold them (a retry of a batch written before the
 *   seal is answered with its original sequence numbers).
 *
 * Without idempotence a retry after a lost response may write a record twice, as with Kinesis.
 *
 * - Cancellation: `send(record, { signal })` rejects with AbortedError as soon as the signal
 *   fires. A record not yet in a request (waiting for room, behind its key, or batched but not
 *   sent) is dropped and never sent. One already sent may still be written: without idempotence
 *   it is not retried; in idempotent mode it keeps its place in its shard's sequence and is
 *   retried in the background until acknowledged or `recordTimeoutMs` (dropping it would leave a
 *   hole that fails the records numbered after it).
 *   `flush({ signal })` and `waitForSpace({ signal })` stop waiting; the records go on.
 */
import { randomBytes } from "node:crypto";
import type { streams } from "@sluice/proto";
import {
  LINGER_MS_MAX,
  PARTITION_KEY_LENGTH_MAX,
  PRODUCER_BATCH_BYTES_DEFAULT,
  PRODUCER_BATCH_RECORDS_DEFAULT,
  PRODUCER_BUFFER_BYTES_DEFAULT,
  PRODUCER_IN_FLIGHT_REQUESTS_DEFAULT,
  PRODUCER_LINGER_MS_DEFAULT,
  PRODUCER_RECORD_TIMEOUT_MS_DEFAULT,
  PRODUCER_REQUEST_DEADLINE_MS,
  PRODUCER_RETRY_BACKOFF_MS_BASE,
  PRODUCER_RETRY_BACKOFF_MS_MAX,
  PRODUCER_SHARD_MAP_REFRESH_MS,
  PUT_RECORDS_BYTES_MAX,
  PUT_RECORDS_RECORDS_MAX,
  RECORD_BYTES_MAX,
} from "./constants.js";
import {
  AbortedError,
  InvalidOptionsError,
  ProducerClosedError,
  RecordFailedError,
  RecordTooLargeError,
  SluiceCallError,
} from "./errors.js";
import { ShardMap } from "./shard-map.js";
import { backoffMs } from "./sleep.js";
import type { StreamsApi } from "./streams-api.js";

export interface ProducerOptions {
  readonly streamName: string;
  /** Records per PutRecords request, 1 to 500. @default 500 */
  readonly maxBatchRecords?: number;
  /** Bytes (data + partition keys) per request, up to 5 MiB. @default 5242880 */
  readonly maxBatchBytes?: number;
  /** How long a partial batch waits for more records, in ms (0 to 10000). @default 10 */
  readonly lingerMs?: number;
  /** PutRecords requests outstanding at once. @default 8 */
  readonly maxInFlightRequests?: number;
  /** Bytes of records accepted and not yet finished; `send()` waits beyond. @default 8388608 */
  readonly bufferBytes?: number;
  /** A record not acknowledged this long after `send()` is given up. @default 120000 */
  readonly recordTimeoutMs?: number;
  /**
   * Deduplicated retries (see the class comment): one batch in flight, so `maxInFlightRequests`
   * is not used. @default false
   */
  readonly idempotent?: boolean;
  /** Deadline of one PutRecords call, in ms (a call past it is retried). @default 30000 */
  readonly requestDeadlineMs?: number;
}

export interface ProducerRecord {
  readonly partitionKey: string;
  /** A string is sent as its UTF-8 bytes. */
  readonly data: Uint8Array | string;
  /** A decimal 128-bit hash key that overrides the key's MD5 for routing. */
  readonly explicitHashKey?: string;
}

/** Options of one `send`, `flush` or `waitForSpace` call. */
export interface ProducerCallOptions {
  /** Cancels the call: it rejects with AbortedError (see the class comment for the record). */
  readonly signal?: AbortSignal;
}

export interface ProducerResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface ProducerStats {
  /** Records handed to `send()` and accepted into the buffer. */
  readonly accepted: number;
  readonly acknowledged: number;
  /** Records given up (their `send()` rejected), aborted ones included. */
  readonly failed: number;
  /** Records whose `send()` was aborted by its signal. */
  readonly aborted: number;
  /** Record sends that were retries. */
  readonly retried: number;
  readonly requests: number;
  readonly inFlightRequests: number;
  readonly bufferedRecords: number;
  readonly bufferedBytes: number;
  /** Sends waiting for room in the buffer. */
  readonly waitingSends: number;
  /** Records refused with ProvisionedThroughputExceededException, total and per shard ("unknown" before the shard map loads). */
  readonly throttled: number;
  readonly throttledByShard: Readonly<Record<string, number>>;
  /** Records refused with InternalFailure or in a request that failed retriably. */
  readonly internalFailures: number;
}

interface Entry {
  readonly record: streams.PutRecordsRequestEntry;
  readonly bytes: number;
  readonly acceptedAtMs: number;
  readonly resolve: (result: ProducerResult) => void;
  readonly reject: (error: Error) => void;
  attempts: number;
  /** Idempotent mode: the shard the record was numbered for and its sequence there. */
  shardId: string;
  sequence: number;
  identity: ProducerIdentity | undefined;
  /**
   * Idempotent mode: an attempt under (identity, shardId, sequence) ended without a certain
   * "not written" (a lost answer, InternalFailure, a timeout). The record then keeps those numbers
   * until it is acknowledged or given up: sent under any other numbers, a copy already in the log
   * would not be recognised and it would be written twice.
   */
  maybeWritten: boolean;
  /** Where the record is, for an abort: waiting for room, behind its key, ready, or sent. */
  stage: EntryStage;
  /** Its signal fired: the caller has its AbortedError; the record is dropped or left alone. */
  aborted: boolean;
  /** Removes the abort listener (once the record is finished). */
  unlisten: (() => void) | undefined;
}

type EntryStage = "waiting" | "queued" | "ready" | "sent";

/** Idempotent mode: the next sequence of each shard under the current producer id. */
interface ProducerIdentity {
  readonly id: Buffer;
  readonly nextSequence: Map<string, number>;
}

const EMPTY_BUFFER = Buffer.alloc(0);

const RETRIED_RECORD_ERRORS: ReadonlySet<string> = new Set([
  "ProvisionedThroughputExceededException",
  "InternalFailure",
  "ServiceUnavailable",
]);

export class Producer {
  readonly streamName: string;
  readonly #client: StreamsApi;
  readonly #maxBatchRecords: number;
  readonly #maxBatchBytes: number;
  readonly #lingerMs: number;
  #maxInFlight: number;
  readonly #bufferBytes: number;
  readonly #recordTimeoutMs: number;
  readonly #idempotent: boolean;
  readonly #requestDeadlineMs: number;
  #identity: ProducerIdentity = newIdentity();

  /** Records whose key is free, in send order (a FIFO over an array with a moving head). */
  #ready: Entry[] = [];
  #readyHead = 0;
  #readyBytes = 0;
  /** A key is busy while present; its value holds the records waiting behind the busy one. */
  readonly #keys = new Map<string, Entry[] | null>();
  readonly #spaceWaiters: Entry[] = [];
  #spaceWaitersHead = 0;
  readonly #spaceListeners: (() => void)[] = [];
  #bufferedRecords = 0;
  #bufferedBytes = 0;
  #inFlight = 0;
  #lingerTimer: NodeJS.Timeout | undefined;
  #lingerExpired = false;
  #flushing = 0;
  readonly #flushWaiters: (() => void)[] = [];
  #closed = false;
  #retryTimers = new Set<NodeJS.Timeout>();
  #shardMap: ShardMap | undefined;
  #shardMapLoadedAtMs = 0;
  #shardMapLoading = false;

  #accepted = 0;
  #acknowledged = 0;
  #failed = 0;
  #aborted = 0;
  #retried = 0;
  #requests = 0;
  #throttled = 0;
  #internalFailures = 0;
  readonly #throttledByShard: Record<string, number> = {};

  constructor(client: StreamsApi, options: ProducerOptions) {
    if (typeof options.streamName !== "string" || options.streamName === "") {
      throw new InvalidOptionsError("producer: streamName is required");
    }
    this.streamName = options.streamName;
    this.#client = client;
    this.#maxBatchRecords = integerOption(
      "maxBatchRecords",
      options.maxBatchRecords,
      PRODUCER_BATCH_RECORDS_DEFAULT,
      1,
      PUT_RECORDS_RECORDS_MAX,
    );
    this.#maxBatchBytes = integerOption(
      "maxBatchBytes",
      options.maxBatchBytes,
      PRODUCER_BATCH_BYTES_DEFAULT,
      1,
      PUT_RECORDS_BYTES_MAX,
    );
    this.#lingerMs = integerOption(
      "lingerMs",
      options.lingerMs,
      PRODUCER_LINGER_MS_DEFAULT,
      0,
      LINGER_MS_MAX,
    );
    this.#maxInFlight = integerOption(
      "maxInFlightRequests",
      options.maxInFlightRequests,
      PRODUCER_IN_FLIGHT_REQUESTS_DEFAULT,
      1,
      1_024,
    );
    this.#bufferBytes = integerOption(
      "bufferBytes",
      options.bufferBytes,
      PRODUCER_BUFFER_BYTES_DEFAULT,
      1,
      2 ** 40,
    );
    this.#recordTimeoutMs = integerOption(
      "recordTimeoutMs",
      options.recordTimeoutMs,
      PRODUCER_RECORD_TIMEOUT_MS_DEFAULT,
      1,
      2 ** 31,
    );
    if (options.idempotent !== undefined && typeof options.idempotent !== "boolean") {
      throw new InvalidOptionsError("producer: idempotent must be a boolean");
    }
    this.#idempotent = options.idempotent ?? false;
    if (this.#idempotent) this.#maxInFlight = 1;
    this.#requestDeadlineMs = integerOption(
      "requestDeadlineMs",
      options.requestDeadlineMs,
      PRODUCER_REQUEST_DEADLINE_MS,
      1,
      2 ** 31,
    );
  }

  /** Idempotent mode: the current producer id (hex), which changes when a record is given up. */
  get producerId(): string | undefined {
    return this.#idempotent ? this.#identity.id.toString("hex") : undefined;
  }

  /**
   * Hands one record to the producer. Resolves once it is acknowledged; rejects with
   * RecordFailedError when given up, RecordTooLargeError / InvalidOptionsError at once for a
   * record Kinesis would refuse, ProducerClosedError after `close()`.
   */
  send(record: ProducerRecord, options: ProducerCallOptions = {}): Promise<ProducerResult> {
    if (this.#closed)
      return Promise.reject(new ProducerClosedError("this producer is closed; create a new one"));
    const { signal } = options;
    if (signal?.aborted === true)
      return Promise.reject(new AbortedError("send was aborted before the record was accepted"));
    const { partitionKey } = record;
    if (
      typeof partitionKey !== "string" ||
      partitionKey.length === 0 ||
      partitionKey.length > PARTITION_KEY_LENGTH_MAX
    ) {
      return Promise.reject(
        new RecordTooLargeError(`partitionKey must be 1 to ${PARTITION_KEY_LENGTH_MAX} characters`),
      );
    }
    const data = typeof record.data === "string" ? Buffer.from(record.data, "utf8") : toBuffer(record.data);
    const bytes = data.length + Buffer.byteLength(partitionKey, "utf8");
    if (bytes > RECORD_BYTES_MAX) {
      return Promise.reject(
        new RecordTooLargeError(
          `a record's data and partition key are ${bytes} bytes; Kinesis allows ${RECORD_BYTES_MAX}: split it`,
        ),
      );
    }
    return new Promise<ProducerResult>((resolve, reject) => {
      const entry: Entry = {
        record: { data, partitionKey, explicitHashKey: record.explicitHashKey ?? "" },
        bytes,
        acceptedAtMs: 0,
        resolve,
        reject,
        attempts: 0,
        shardId: "",
        sequence: -1,
        identity: undefined,
        maybeWritten: false,
        stage: "waiting",
        aborted: false,
        unlisten: undefined,
      };
      if (signal !== undefined) {
        const onAbort = () => this.#abort(entry);
        signal.addEventListener("abort", onAbort, { once: true });
        entry.unlisten = () => signal.removeEventListener("abort", onAbort);
      }
      if (this.#spaceWaitersHead === this.#spaceWaiters.length && this.#fits(bytes)) this.#accept(entry);
      else this.#spaceWaiters.push(entry);
    });
  }

  /**
   * Resolves once the buffer has room for another record (no send is waiting for room); rejects
   * with AbortedError when `signal` fires first.
   */
  waitForSpace(options: ProducerCallOptions = {}): Promise<void> {
    if (this.#spaceWaitersHead === this.#spaceWaiters.length && this.#bufferedBytes < this.#bufferBytes) {
      return Promise.resolve();
    }
    return this.#waitAbortably(this.#spaceListeners, "waitForSpace", options.signal);
  }

  /**
   * Sends every buffered record now (no linger) and resolves once each is finished; rejects with
   * AbortedError when `signal` fires first (the records go on).
   */
  async flush(options: ProducerCallOptions = {}): Promise<void> {
    if (options.signal?.aborted === true) throw new AbortedError("flush was aborted before it started");
    if (this.#bufferedRecords === 0 && this.#spaceWaitersHead === this.#spaceWaiters.length) return;
    this.#flushing++;
    try {
      const done = this.#waitAbortably(this.#flushWaiters, "flush", options.signal);
      this.#dispatch();
      await done;
    } finally {
      this.#flushing--;
    }
  }

  /** A promise resolved through `waiters`; an abort rejects it and takes its resolver back out. */
  #waitAbortably(waiters: (() => void)[], operation: string, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal === undefined) {
        waiters.push(resolve);
        return;
      }
      if (signal.aborted) {
        reject(new AbortedError(`${operation} was aborted by its AbortSignal`));
        return;
      }
      const onAbort = () => {
        const at = waiters.indexOf(waiter);
        if (at >= 0) waiters.splice(at, 1);
        reject(new AbortedError(`${operation} was aborted by its AbortSignal`));
      };
      const waiter = () => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      };
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.push(waiter);
    });
  }

  /**
   * A send's signal fired: reject it now; drop the record where it is not yet sent (so it never
   * is), or leave a sent one to its request and stop retrying it (see `#settleAborted`).
   */
  #abort(entry: Entry): void {
    if (entry.aborted) return;
    entry.aborted = true;
    this.#aborted++;
    entry.reject(new AbortedError(abortMessage(entry)));
    switch (entry.stage) {
      case "waiting": {
        const at = this.#spaceWaiters.indexOf(entry, this.#spaceWaitersHead);
        if (at >= 0) this.#spaceWaiters.splice(at, 1);
        this.#failed++;
        entry.unlisten?.();
        this.#admitWaiting();
        this.#checkFlushed();
        return;
      }
      case "queued": {
        const waiting = this.#keys.get(entry.record.partitionKey);
        const at = waiting?.indexOf(entry) ?? -1;
        if (waiting !== undefined && waiting !== null && at >= 0) {
          waiting.splice(at, 1);
          if (waiting.length === 0) this.#keys.set(entry.record.partitionKey, null);
        }
        this.#release(entry);
        this.#failed++;
        this.#admitWaiting();
        this.#checkFlushed();
        return;
      }
      case "ready":
        // Left in the ready queue, skipped by #takeBatch; its bytes and key are freed now.
        this.#readyBytes -= entry.bytes;
        this.#failed++;
        this.#finish(entry);
        this.#checkFlushed();
        return;
      case "sent":
        // Its request settles it (#settleAborted): nothing more is sent for it.
        return;
    }
  }

  /** Refuses new records, then flushes what was accepted. The client stays open. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
  }

  stats(): ProducerStats {
    return {
      accepted: this.#accepted,
      acknowledged: this.#acknowledged,
      failed: this.#failed,
      aborted: this.#aborted,
      retried: this.#retried,
      requests: this.#requests,
      inFlightRequests: this.#inFlight,
      bufferedRecords: this.#bufferedRecords,
      bufferedBytes: this.#bufferedBytes,
      waitingSends: this.#spaceWaiters.length - this.#spaceWaitersHead,
      throttled: this.#throttled,
      throttledByShard: { ...this.#throttledByShard },
      internalFailures: this.#internalFailures,
    };
  }

  #fits(bytes: number): boolean {
    return this.#bufferedBytes === 0 || this.#bufferedBytes + bytes <= this.#bufferBytes;
  }

  #accept(entry: Entry): void {
    (entry as { acceptedAtMs: number }).acceptedAtMs = Date.now();
    this.#accepted++;
    this.#bufferedRecords++;
    this.#bufferedBytes += entry.bytes;
    const key = entry.record.partitionKey;
    const waiting = this.#keys.get(key);
    entry.stage = "queued";
    if (waiting === undefined) {
      this.#keys.set(key, null);
      this.#pushReady(entry);
    } else if (waiting === null) {
      this.#keys.set(key, [entry]);
    } else {
      waiting.push(entry);
    }
  }

  #pushReady(entry: Entry): void {
    entry.stage = "ready";
    this.#ready.push(entry);
    this.#readyBytes += entry.bytes;
    this.#dispatch();
  }

  #readyCount(): number {
    return this.#ready.length - this.#readyHead;
  }

  /** Sends what is due: full batches at once, a partial one after the linger or while flushing. */
  #dispatch(): void {
    while (this.#inFlight < this.#maxInFlight && this.#readyCount() > 0) {
      const full = this.#readyCount() >= this.#maxBatchRecords || this.#readyBytes >= this.#maxBatchBytes;
      if (!full && !this.#lingerExpired && this.#flushing === 0 && this.#lingerMs > 0) break;
      const batch = this.#takeBatch();
      // Empty when every ready record was aborted.
      if (batch.length > 0) this.#sendBatch(batch);
      if (!full) this.#lingerExpired = false;
    }
    if (this.#readyCount() > 0 && this.#lingerTimer === undefined && !this.#lingerExpired) {
      this.#lingerTimer = setTimeout(() => {
        this.#lingerTimer = undefined;
        this.#lingerExpired = true;
        this.#dispatch();
      }, this.#lingerMs);
    }
  }

  #takeBatch(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    while (this.#readyHead < this.#ready.length && batch.length < this.#maxBatchRecords) {
      const entry = this.#ready[this.#readyHead] as Entry;
      if (entry.aborted) {
        // Aborted while ready: already finished and its bytes taken out of #readyBytes.
        this.#readyHead++;
        continue;
      }
      if (batch.length > 0 && bytes + entry.bytes > this.#maxBatchBytes) break;
      entry.stage = "sent";
      batch.push(entry);
      bytes += entry.bytes;
      this.#readyHead++;
    }
    this.#readyBytes -= bytes;
    if (this.#readyHead === this.#ready.length) {
      this.#ready = [];
      this.#readyHead = 0;
    } else if (this.#readyHead > 4_096 && this.#readyHead * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#readyHead);
      this.#readyHead = 0;
    }
    return batch;
  }

  #sendBatch(batch: Entry[]): void {
    if (this.#idempotent) {
      this.#inFlight++;
      this.#sendIdempotent(batch).finally(() => {
        this.#inFlight--;
        this.#dispatch();
        this.#checkFlushed();
      });
      return;
    }
    this.#inFlight++;
    this.#requests++;
    const records = new Array<streams.PutRecordsRequestEntry>(batch.length);
    for (let index = 0; index < batch.length; index++) records[index] = (batch[index] as Entry).record;
    this.#client
      .putRecords(
        {
          streamName: this.streamName,
          records,
          streamArn: "",
          producerId: EMPTY_BUFFER,
          producerShardId: "",
          producerSequence: 0,
        },
        { deadlineMs: this.#requestDeadlineMs },
      )
      .then(
        (response) => this.#onResponse(batch, response),
        (error: unknown) => this.#onRequestError(batch, error),
      )
      .finally(() => {
        this.#inFlight--;
        this.#dispatch();
        this.#checkFlushed();
      });
  }

  /**
   * Idempotent mode: numbers the batch's new records per shard, sends one request per shard (all
   * at once) and settles every record of the batch before resolving: a shard's failed records are
   * retried here, ahead of anything newer, so its sequences reach the leader in order.
   */
  async #sendIdempotent(batch: Entry[]): Promise<void> {
    let pending = batch;
    for (let round = 0; pending.length > 0; round++) {
      if (this.#shardMap === undefined || round > 0) {
        try {
          await this.#loadShardMap();
        } catch (error) {
          if (round > 0 || this.#shardMap === undefined) {
            pending = this.#keepOrGiveUp(pending, "ServiceUnavailable", error);
            if (pending.length > 0)
              await delay(backoffMs(round, PRODUCER_RETRY_BACKOFF_MS_BASE, PRODUCER_RETRY_BACKOFF_MS_MAX));
            continue;
          }
        }
      }
      const identity = this.#identity;
      // One request per (producer id, shard): records that may be written keep an older id.
      const groups = new Map<ProducerIdentity, Map<string, Entry[]>>();
      const unrouted: Entry[] = [];
      for (const entry of pending) {
        // A new producer id since the record was numbered: its old number means nothing now,
        // unless an attempt with it may have written the record (then only that number is safe).
        if (entry.identity !== identity && !entry.maybeWritten) entry.sequence = -1;
        if (entry.sequence < 0) {
          const shardId = this.#shardMap?.shardOf(entry.record.partitionKey, entry.record.explicitHashKey);
          if (shardId === undefined) {
            unrouted.push(entry);
            continue;
          }
          entry.identity = identity;
          entry.shardId = shardId;
          entry.sequence = identity.nextSequence.get(shardId) ?? 0;
          entry.maybeWritten = false;
          identity.nextSequence.set(shardId, entry.sequence + 1);
        }
        const owner = entry.identity ?? identity;
        let byShard = groups.get(owner);
        if (byShard === undefined) {
          byShard = new Map();
          groups.set(owner, byShard);
        }
        const group = byShard.get(entry.shardId);
        if (group === undefined) byShard.set(entry.shardId, [entry]);
        else group.push(entry);
      }
      const sends: Promise<Entry[]>[] = [];
      for (const [owner, byShard] of groups) {
        for (const [shardId, entries] of byShard) sends.push(this.#sendShard(owner, shardId, entries));
      }
      const failed = await Promise.all(sends);
      pending = failed.flat();
      if (unrouted.length > 0) pending.push(...this.#keepOrGiveUp(unrouted, "StaleShardMapException"));
      if (pending.length > 0) {
        this.#retried += pending.length;
        await delay(backoffMs(round, PRODUCER_RETRY_BACKOFF_MS_BASE, PRODUCER_RETRY_BACKOFF_MS_MAX));
      }
    }
  }

  /** Sends one shard's records in sequence order; resolves with those to send again. */
  async #sendShard(identity: ProducerIdentity, shardId: string, entries: Entry[]): Promise<Entry[]> {
    entries.sort((a, b) => a.sequence - b.sequence);
    // A request names its first sequence only (record i is first + i): records kept under an old
    // id after others between them were given up go as several requests, one per run, in order.
    const again: Entry[] = [];
    let from = 0;
    for (let k = 1; k <= entries.length; k++) {
      const previous = entries[k - 1] as Entry;
      if (k < entries.length && (entries[k] as Entry).sequence === previous.sequence + 1) continue;
      const failed = await this.#sendRun(identity, shardId, entries.slice(from, k));
      from = k;
      if (failed.length > 0) {
        // The next runs would meet a gap: they wait for the next round, behind this one.
        again.push(...failed, ...entries.slice(from));
        break;
      }
    }
    return again;
  }

  /** Sends records of one shard with consecutive sequences; resolves with those to send again. */
  async #sendRun(identity: ProducerIdentity, shardId: string, entries: Entry[]): Promise<Entry[]> {
    this.#requests++;
    let response: streams.PutRecordsResponse;
    try {
      response = await this.#client.putRecords(
        {
          streamName: this.streamName,
          records: entries.map((entry) => entry.record),
          streamArn: "",
          producerId: identity.id,
          producerShardId: shardId,
          producerSequence: (entries[0] as Entry).sequence,
        },
        { deadlineMs: this.#requestDeadlineMs },
      );
    } catch (error) {
      if (error instanceof SluiceCallError && error.retriable) {
        this.#internalFailures += entries.length;
        // The request may have reached the leader (a lost answer, a deadline): same numbers again.
        for (const entry of entries) entry.maybeWritten = true;
        return this.#keepOrGiveUp(entries, error.errorName, error);
      }
      const errorName = error instanceof SluiceCallError ? error.errorName : "InternalFailure";
      for (const entry of entries) this.#giveUp(entry, errorName, false, errorMessage(error), error);
      this.#resetIdentity();
      return [];
    }
    const again: Entry[] = [];
    for (let index = 0; index < entries.length; index++) {
      const entry = entries[index] as Entry;
      const result = response.records[index];
      if (result !== undefined && result.errorCode === "") {
        this.#acknowledged++;
        this.#finish(entry);
        entry.resolve({ shardId: result.shardId, sequenceNumber: result.sequenceNumber });
        continue;
      }
      const errorName = result?.errorCode ?? "InternalFailure";
      if (errorName === "StaleShardMapException") {
        // The shard is closed (or unknown to the gateway) and certainly does not hold the record,
        // nor ever will: number it again for the shard that now holds its key.
        entry.sequence = -1;
        entry.maybeWritten = false;
        again.push(entry);
      } else if (RETRIED_RECORD_ERRORS.has(errorName)) {
        if (errorName === "ProvisionedThroughputExceededException") this.#countThrottled(entry);
        else {
          // InternalFailure: the gateway gave up on an append whose outcome it does not know.
          this.#internalFailures++;
          entry.maybeWritten = true;
        }
        again.push(...this.#keepOrGiveUp([entry], errorName));
      } else {
        this.#giveUp(entry, errorName, false, result?.errorMessage ?? "no result for the record");
        this.#resetIdentity();
      }
    }
    return again;
  }

  /** The records still within their timeout; the others are given up (and the sequence chain restarts). */
  #keepOrGiveUp(entries: Entry[], errorName: string, cause?: unknown): Entry[] {
    const now = Date.now();
    const kept: Entry[] = [];
    for (const entry of entries) {
      entry.attempts++;
      if (now - entry.acceptedAtMs > this.#recordTimeoutMs) {
        this.#giveUp(
          entry,
          errorName,
          true,
          `still failing after ${entry.attempts} attempts and ${this.#recordTimeoutMs} ms`,
          cause,
        );
        this.#resetIdentity();
      } else kept.push(entry);
    }
    return kept;
  }

  /**
   * A record was given up, so its shard's sequence chain has a hole: draw a new producer id; the
   * records not yet acknowledged are numbered again under it when next sent, except those that
   * may already be written (`maybeWritten`), which keep their numbers under the old id.
   */
  #resetIdentity(): void {
    this.#identity = newIdentity();
  }

  async #loadShardMap(): Promise<void> {
    const shards = await this.#client.listAllShards(this.streamName, { deadlineMs: this.#requestDeadlineMs });
    this.#shardMap = new ShardMap(shards);
    this.#shardMapLoadedAtMs = Date.now();
  }

  #onResponse(batch: Entry[], response: streams.PutRecordsResponse): void {
    let retry: Entry[] | undefined;
    let lastError = "";
    for (let index = 0; index < batch.length; index++) {
      const entry = batch[index] as Entry;
      const result = response.records[index];
      if (result !== undefined && result.errorCode === "") {
        this.#acknowledged++;
        this.#finish(entry);
        entry.resolve({ shardId: result.shardId, sequenceNumber: result.sequenceNumber });
        continue;
      }
      const errorName = result?.errorCode ?? "InternalFailure";
      if (errorName === "ProvisionedThroughputExceededException") this.#countThrottled(entry);
      else this.#internalFailures++;
      if (RETRIED_RECORD_ERRORS.has(errorName)) {
        lastError = errorName;
        if (retry === undefined) retry = [entry];
        else retry.push(entry);
      } else {
        this.#giveUp(entry, errorName, false, result?.errorMessage ?? "no result for the record");
      }
    }
    if (retry !== undefined) this.#retryLater(retry, lastError);
  }

  #onRequestError(batch: Entry[], error: unknown): void {
    if (error instanceof SluiceCallError && error.retriable) {
      this.#internalFailures += batch.length;
      this.#retryLater(batch, error.errorName, error);
      return;
    }
    const errorName = error instanceof SluiceCallError ? error.errorName : "InternalFailure";
    const message = error instanceof Error ? error.message : String(error);
    for (const entry of batch) this.#giveUp(entry, errorName, false, message, error);
  }

  /** Puts the records back in the ready queue after one backoff; their keys stay busy meanwhile. */
  #retryLater(entries: Entry[], errorName: string, cause?: unknown): void {
    let attempts = 0;
    for (const entry of entries) {
      entry.attempts++;
      if (entry.attempts > attempts) attempts = entry.attempts;
    }
    const delayMs = backoffMs(attempts - 1, PRODUCER_RETRY_BACKOFF_MS_BASE, PRODUCER_RETRY_BACKOFF_MS_MAX);
    const now = Date.now();
    const kept: Entry[] = [];
    for (const entry of entries) {
      if (now + delayMs - entry.acceptedAtMs > this.#recordTimeoutMs) {
        this.#giveUp(
          entry,
          errorName,
          true,
          `still failing after ${entry.attempts} attempts and ${this.#recordTimeoutMs} ms`,
          cause,
        );
      } else kept.push(entry);
    }
    if (kept.length === 0) return;
    this.#retried += kept.length;
    const timer = setTimeout(() => {
      this.#retryTimers.delete(timer);
      for (const entry of kept) {
        if (entry.aborted) {
          // Its caller gave up on it: not sent again (its last attempt may have written it).
          this.#failed++;
          this.#finish(entry);
          continue;
        }
        this.#ready.push(entry);
        this.#readyBytes += entry.bytes;
      }
      this.#dispatch();
      this.#checkFlushed();
    }, delayMs);
    this.#retryTimers.add(timer);
  }

  #giveUp(entry: Entry, errorName: string, retriable: boolean, message: string, cause?: unknown): void {
    this.#failed++;
    this.#finish(entry);
    entry.reject(
      new RecordFailedError(
        `record with partition key ${JSON.stringify(entry.record.partitionKey)} was given up: ${errorName}: ${message}`,
        {
          errorName,
          retriable,
          attempts: entry.attempts + 1,
          cause,
        },
      ),
    );
  }

  /** A record is acknowledged or given up: free its bytes and its key, admit waiting sends. */
  #finish(entry: Entry): void {
    this.#release(entry);
    const key = entry.record.partitionKey;
    const waiting = this.#keys.get(key);
    if (waiting === null || waiting === undefined) this.#keys.delete(key);
    else {
      const next = waiting.shift() as Entry;
      if (waiting.length === 0) this.#keys.set(key, null);
      next.stage = "ready";
      this.#ready.push(next);
      this.#readyBytes += next.bytes;
    }
    this.#admitWaiting();
  }

  /** Frees a record's place in the buffer and drops its abort listener. */
  #release(entry: Entry): void {
    this.#bufferedRecords--;
    this.#bufferedBytes -= entry.bytes;
    entry.unlisten?.();
    entry.unlisten = undefined;
  }

  /** Accepts the sends waiting for room that now fit, in order, and wakes `waitForSpace` callers. */
  #admitWaiting(): void {
    while (this.#spaceWaitersHead < this.#spaceWaiters.length) {
      const head = this.#spaceWaiters[this.#spaceWaitersHead] as Entry;
      if (!this.#fits(head.bytes)) break;
      this.#spaceWaiters[this.#spaceWaitersHead] = undefined as never;
      this.#spaceWaitersHead++;
      this.#accept(head);
    }
    if (this.#spaceWaitersHead === this.#spaceWaiters.length && this.#spaceWaitersHead > 0) {
      this.#spaceWaiters.length = 0;
      this.#spaceWaitersHead = 0;
    }
    if (
      this.#spaceListeners.length > 0 &&
      this.#spaceWaiters.length === 0 &&
      this.#bufferedBytes < this.#bufferBytes
    ) {
      for (const listener of this.#spaceListeners.splice(0)) listener();
    }
  }

  #checkFlushed(): void {
    if (this.#bufferedRecords === 0 && this.#spaceWaiters.length === 0) {
      for (const resolve of this.#flushWaiters.splice(0)) resolve();
    }
  }

  #countThrottled(entry: Entry): void {
    this.#throttled++;
    const now = Date.now();
    if (
      !this.#shardMapLoading &&
      (this.#shardMap === undefined || now - this.#shardMapLoadedAtMs > PRODUCER_SHARD_MAP_REFRESH_MS)
    ) {
      this.#shardMapLoading = true;
      this.#client
        .listAllShards(this.streamName)
        .then(
          (shards) => {
            this.#shardMap = new ShardMap(shards);
            this.#shardMapLoadedAtMs = Date.now();
          },
          () => {},
        )
        .finally(() => {
          this.#shardMapLoading = false;
        });
    }
    const shardId =
      this.#shardMap?.shardOf(entry.record.partitionKey, entry.record.explicitHashKey) ?? "unknown";
    this.#throttledByShard[shardId] = (this.#throttledByShard[shardId] ?? 0) + 1;
  }
}

function newIdentity(): ProducerIdentity {
  return { id: randomBytes(8), nextSequence: new Map() };
}

function abortMessage(entry: Entry): string {
  const key = JSON.stringify(entry.record.partitionKey);
  return entry.stage === "sent"
    ? `send of the record with partition key ${key} was aborted by its AbortSignal after it was sent: it may have been written`
    : `send of the record with partition key ${key} was aborted by its AbortSignal before it was sent: it was not written`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function integerOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const chosen = value ?? fallback;
  if (!Number.isInteger(chosen) || chosen < min || chosen > max) {
    throw new InvalidOptionsError(`producer: ${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
  return chosen;
}
