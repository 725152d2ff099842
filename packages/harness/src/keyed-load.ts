/**
 * A paced load of keyed, numbered records for tests and benchmarks of ordering: several producers
 * put records (partition key `key-K`, data = K and the key's counter, two big-endian u32) over a
 * fixed set of keys, each producer owning the keys K ≡ p (mod producers). A key has at most one
 * record in flight: its counter moves on only when that record is acknowledged, and a record that
 * failed (or whose call failed) is sent again with the same counter. So each key's acknowledged
 * records are 0, 1, 2, … in acknowledgement order, and `checkKeyedRecords` can tell a lost, a
 * duplicated or a reordered record from what a reader finds.
 */
import { performance } from "node:perf_hooks";
import {
  KEYED_LOAD_BATCH_RECORDS_MAX,
  KEYED_LOAD_CALL_TIMEOUT_MS,
  KEYED_LOAD_PACE_INTERVAL_MS,
  KEYED_RECORD_BYTES,
} from "./constants.js";
import { LatencyRecorder, type LatencySummary } from "./latency.js";
import type { StreamsClient } from "./streams-client.js";

export interface KeyedLoadOptions {
  readonly streamName: string;
  /** Producer p sends through clients[p % clients.length] first, and moves to the next client after a failed call. */
  readonly clients: readonly StreamsClient[];
  readonly producers: number;
  readonly keys: number;
  /** Target rate of all producers together (open loop: a slow call makes the next batch bigger). */
  readonly recordsPerSecond: number;
  /** Records per PutRecords at most. @default 500 */
  readonly batchRecordsMax?: number;
  /** Deadline of one PutRecords call. @default 15000 */
  readonly callTimeoutMs?: number;
}

/** What one producer saw. */
export interface KeyedProducerStats {
  readonly acknowledged: number;
  /** Records that came back with an ErrorCode (sent again). */
  readonly failedRecords: number;
  /** PutRecords calls that failed as a whole (their records sent again). */
  readonly failedCalls: number;
  /** Longest time between two successive acknowledgements (or from the start to the first). */
  readonly longestAckGapMs: number;
}

export interface KeyedLoadResult {
  readonly acknowledged: number;
  readonly failedRecords: number;
  readonly failedCalls: number;
  readonly elapsedMs: number;
  /** Acknowledged records per second over the whole run. */
  readonly recordsPerSecond: number;
  /** Per key: how many of its records were acknowledged (counters 0 … n−1). */
  readonly acknowledgedCounters: Uint32Array;
  /** Per key: 1 when the record with counter `acknowledgedCounters[k]` was sent and never acknowledged (it may be stored). */
  readonly unconfirmed: Uint8Array;
  readonly producers: readonly KeyedProducerStats[];
  /** Acknowledged records per shard id. */
  readonly shards: ReadonlyMap<string, number>;
  /** The ErrorCode / error name of failures, counted. */
  readonly errors: ReadonlyMap<string, number>;
}

/** The partition key of key number `key`. */
export function keyedPartitionKey(key: number): string {
  return `key-${key}`;
}

/** Encodes (key, counter) as a record's data. */
export function encodeKeyedRecord(key: number, counter: number): Buffer {
  const data = Buffer.allocUnsafe(KEYED_RECORD_BYTES);
  data.writeUInt32BE(key, 0);
  data.writeUInt32BE(counter, 4);
  return data;
}

/** Decodes a record's data written by KeyedLoad; throws on anything else. */
export function decodeKeyedRecord(data: Uint8Array): { key: number; counter: number } {
  if (data.length !== KEYED_RECORD_BYTES) {
    throw new Error(`not a keyed record: ${data.length} bytes, expected ${KEYED_RECORD_BYTES}`);
  }
  const view = Buffer.from(data.buffer, data.byteOffset, data.length);
  return { key: view.readUInt32BE(0), counter: view.readUInt32BE(4) };
}

interface ProducerState {
  acknowledged: number;
  failedRecords: number;
  failedCalls: number;
  longestAckGapMs: number;
  lastAckAt: number;
  client: number;
  /** Next position in this producer's keys (round robin). */
  cursor: number;
  sent: number;
}

export class KeyedLoad {
  readonly #options: Required<KeyedLoadOptions>;
  readonly #counters: Uint32Array;
  readonly #unconfirmed: Uint8Array;
  readonly #producers: ProducerState[] = [];
  readonly #shards = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #ackListeners = new Set<(shardId: string, atMs: number) => void>();
  #callLatency = new LatencyRecorder();
  #running = false;
  #startedAt = 0;
  #loops: Promise<void>[] = [];

  constructor(options: KeyedLoadOptions) {
    if (options.clients.length === 0) throw new Error("KeyedLoad needs at least one client");
    if (!(options.producers >= 1 && options.keys >= options.producers)) {
      throw new Error(`KeyedLoad needs 1 ≤ producers ≤ keys, got ${options.producers} and ${options.keys}`);
    }
    if (!(options.recordsPerSecond > 0)) throw new Error("KeyedLoad: recordsPerSecond must be > 0");
    this.#options = {
      batchRecordsMax: KEYED_LOAD_BATCH_RECORDS_MAX,
      callTimeoutMs: KEYED_LOAD_CALL_TIMEOUT_MS,
      ...options,
    };
    this.#counters = new Uint32Array(options.keys);
    this.#unconfirmed = new Uint8Array(options.keys);
  }

  /** Records acknowledged so far. */
  get acknowledged(): number {
    let total = 0;
    for (const producer of this.#producers) total += producer.acknowledged;
    return total;
  }

  /** Calls `listener(shardId, performance.now())` for every acknowledged record until removed. */
  onAck(listener: (shardId: string, atMs: number) => void): () => void {
    this.#ackListeners.add(listener);
    return () => this.#ackListeners.delete(listener);
  }

  /** Resets every producer's longest acknowledgement gap (to measure one phase of a run). */
  resetAckGaps(): void {
    const now = performance.now();
    for (const producer of this.#producers) {
      producer.longestAckGapMs = 0;
      producer.lastAckAt = now;
    }
  }

  /** The producers' longest acknowledgement gaps, in ms, since the start or the last reset. */
  ackGapsMs(): number[] {
    const now = performance.now();
    return this.#producers.map((p) => Math.max(p.longestAckGapMs, now - p.lastAckAt));
  }

  /** The latency (ms) of every PutRecords call since the start or the last take, and starts anew. */
  takeCallLatency(): LatencySummary {
    const summary = this.#callLatency.summary();
    this.#callLatency = new LatencyRecorder();
    return summary;
  }

  start(): void {
    if (this.#running) throw new Error("KeyedLoad already started");
    this.#running = true;
    this.#startedAt = performance.now();
    for (let p = 0; p < this.#options.producers; p++) {
      const state: ProducerState = {
        acknowledged: 0,
        failedRecords: 0,
        failedCalls: 0,
        longestAckGapMs: 0,
        lastAckAt: this.#startedAt,
        client: p % this.#options.clients.length,
        cursor: 0,
        sent: 0,
      };
      this.#producers.push(state);
      this.#loops.push(this.#run(p, state));
    }
  }

  /** Stops sending, waits for the calls in flight, and returns what was acknowledged. */
  async stop(): Promise<KeyedLoadResult> {
    this.#running = false;
    await Promise.all(this.#loops);
    const elapsedMs = performance.now() - this.#startedAt;
    const acknowledged = this.acknowledged;
    return {
      acknowledged,
      failedRecords: this.#producers.reduce((n, p) => n + p.failedRecords, 0),
      failedCalls: this.#producers.reduce((n, p) => n + p.failedCalls, 0),
      elapsedMs,
      recordsPerSecond: (acknowledged * 1_000) / elapsedMs,
      acknowledgedCounters: this.#counters,
      unconfirmed: this.#unconfirmed,
      producers: this.#producers.map((p) => ({
        acknowledged: p.acknowledged,
        failedRecords: p.failedRecords,
        failedCalls: p.failedCalls,
        longestAckGapMs: p.longestAckGapMs,
      })),
      shards: this.#shards,
      errors: this.#errors,
    };
  }

  async #run(index: number, state: ProducerState): Promise<void> {
    const { producers, keys, recordsPerSecond, batchRecordsMax, clients, streamName, callTimeoutMs } =
      this.#options;
    const ownKeys = Math.floor((keys - 1 - index) / producers) + 1;
    const ratePerMs = recordsPerSecond / producers / 1_000;
    while (this.#running) {
      const due = Math.floor((performance.now() - this.#startedAt) * ratePerMs) - state.sent;
      const count = Math.min(due, batchRecordsMax, ownKeys);
      if (count <= 0) {
        await new Promise((resolve) => setTimeout(resolve, KEYED_LOAD_PACE_INTERVAL_MS));
        continue;
      }
      const batchKeys: number[] = [];
      for (let i = 0; i < count; i++) {
        batchKeys.push(index + producers * state.cursor);
        state.cursor = (state.cursor + 1) % ownKeys;
      }
      state.sent += count;
      const client = clients[state.client] as StreamsClient;
      const callStartedAt = performance.now();
      try {
        const response = await client.putRecords(
          {
            streamName,
            records: batchKeys.map((key) => ({
              partitionKey: keyedPartitionKey(key),
              data: encodeKeyedRecord(key, this.#counters[key] as number),
              explicitHashKey: "",
            })),
          },
          callTimeoutMs,
        );
        const now = performance.now();
        this.#callLatency.record(now - callStartedAt);
        let acked = 0;
        response.records.forEach((entry, position) => {
          const key = batchKeys[position] as number;
          if (entry.errorCode === "") {
            this.#counters[key] = (this.#counters[key] as number) + 1;
            this.#unconfirmed[key] = 0;
            acked += 1;
            this.#shards.set(entry.shardId, (this.#shards.get(entry.shardId) ?? 0) + 1);
            for (const listener of this.#ackListeners) listener(entry.shardId, now);
          } else {
            this.#unconfirmed[key] = 1;
            state.failedRecords += 1;
            this.#errors.set(entry.errorCode, (this.#errors.get(entry.errorCode) ?? 0) + 1);
          }
        });
        if (acked > 0) {
          state.longestAckGapMs = Math.max(state.longestAckGapMs, now - state.lastAckAt);
          state.lastAckAt = now;
          state.acknowledged += acked;
        }
      } catch (error) {
        for (const key of batchKeys) this.#unconfirmed[key] = 1;
        state.failedCalls += 1;
        const name =
          (error as { errorName?: string }).errorName || (error as { code?: string }).code || "error";
        this.#errors.set(name, (this.#errors.get(name) ?? 0) + 1);
        state.client = (state.client + 1) % clients.length;
      }
    }
  }
}

/** What `checkKeyedRecords` found. */
export interface KeyedCheck {
  readonly records: number;
  /** Acknowledged records that the reader did not find. */
  readonly missing: number;
  /** A record equal to the one just before it of the same key (a resent record stored twice). */
  readonly adjacentDuplicates: number;
  /** Records out of counter order, duplicates that are not adjacent, or counters never sent. */
  readonly outOfOrder: number;
  /** The unconfirmed last records (sent, never acknowledged) that were stored anyway. */
  readonly unconfirmedStored: number;
  /** Up to 10 descriptions of problems, for the failure message. */
  readonly problems: readonly string[];
}

/**
 * Checks records read in stream order (lineage order across shards) against what a KeyedLoad
 * acknowledged: for each key, with adjacent duplicates removed, the counters must be exactly
 * 0 … acknowledged−1, optionally followed by the one unconfirmed counter.
 */
export function checkKeyedRecords(
  data: Iterable<Uint8Array>,
  load: Pick<KeyedLoadResult, "acknowledgedCounters" | "unconfirmed">,
): KeyedCheck {
  const keys = load.acknowledgedCounters.length;
  const next = new Uint32Array(keys);
  const last = new Int32Array(keys).fill(-1);
  const problems: string[] = [];
  let records = 0;
  let adjacentDuplicates = 0;
  let outOfOrder = 0;
  const note = (text: string): void => {
    if (problems.length < 10) problems.push(text);
  };
  for (const bytes of data) {
    records += 1;
    const { key, counter } = decodeKeyedRecord(bytes);
    if (key >= keys) {
      outOfOrder += 1;
      note(`a record of unknown key ${key}`);
      continue;
    }
    if (counter === last[key]) {
      adjacentDuplicates += 1;
      continue;
    }
    if (counter !== next[key]) {
      outOfOrder += 1;
      note(`key ${key}: counter ${counter} where ${next[key]} was expected (previous ${last[key]})`);
      continue;
    }
    next[key] = counter + 1;
    last[key] = counter;
  }
  let missing = 0;
  let unconfirmedStored = 0;
  for (let key = 0; key < keys; key++) {
    const acked = load.acknowledgedCounters[key] as number;
    const found = next[key] as number;
    if (found < acked) {
      missing += acked - found;
      note(`key ${key}: ${acked} acknowledged, read only up to counter ${found - 1}`);
    } else if (found === acked + 1 && load.unconfirmed[key] === 1) {
      unconfirmedStored += 1;
    } else if (found > acked) {
      outOfOrder += found - acked;
      note(`key ${key}: read counter ${found - 1}, but only ${acked} acknowledged`);
    }
  }
  return { records, missing, adjacentDuplicates, outOfOrder, unconfirmedStored, problems };
}
