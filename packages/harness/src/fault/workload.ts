/**
 * The campaign's workload: producers that put unique, self-describing records through the nodes'
 * gateways (plain PutRecords, one call at a time per producer, so a producer's acknowledgements
 * are in its sequence order), and a live reader that follows every shard's lineage while faults
 * happen. Every call is logged to the history: invoke, then ok (with each record's outcome),
 * fail (certainly not written) or unknown (may have been written).
 *
 * A record is sent once: a failed or unknown record is not sent again, so a record read twice is
 * a duplicate made inside the cluster (a forwarding retry), never by this workload.
 */
import { performance } from "node:perf_hooks";
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Producer } from "@sluice/client";
import { streams } from "@sluice/proto";
import { listAllShards } from "../lineage-reader.js";
import { StreamsCallError, type StreamsClient } from "../streams-client.js";
import {
  FAULT_BATCH_RECORDS_MAX,
  FAULT_IDEMPOTENT_LINGER_MS,
  FAULT_IDEMPOTENT_RECORD_TIMEOUT_MS,
  FAULT_PRODUCER_BACKOFF_MS,
  FAULT_PUT_TIMEOUT_MS,
  FAULT_READ_POLL_MS,
  FAULT_READ_TIMEOUT_MS,
} from "./constants.js";
import { encodeRecordData, type History, type RecordId, workloadPartitionKey } from "./history.js";
import type { SeededRandom } from "./random.js";

export interface WorkloadOptions {
  readonly streamName: string;
  /** One client per node, index = node id − 1; producer p starts on node p mod n. */
  readonly clients: readonly StreamsClient[];
  readonly history: History;
  readonly random: SeededRandom;
  readonly producers: number;
  readonly keys: number;
  /** Target rate of all producers together. */
  readonly recordsPerSecond: number;
  /**
   * Write through @sluice/client's Producer with `idempotent: true` (retries deduplicated by the
   * shard leader; zero duplicates expected) instead of plain PutRecords calls. Each record is
   * then one operation in the history: invoke at send(), ok at its acknowledgement, unknown when
   * the producer gives it up (it may have been written). @default false
   */
  readonly idempotent?: boolean;
}

/** A whole-call error after which the records certainly were not written. */
function certainlyNotWritten(error: unknown): boolean {
  if (!(error instanceof StreamsCallError)) return false;
  if (error.grpcCode === GrpcStatus.INVALID_ARGUMENT || error.grpcCode === GrpcStatus.NOT_FOUND) return true;
  // The channel never reached the node: nothing was sent.
  return (
    error.grpcCode === GrpcStatus.UNAVAILABLE &&
    /ECONNREFUSED|No connection established|failed to connect/i.test(error.message)
  );
}

function describeError(error: unknown): string {
  if (error instanceof StreamsCallError) return `${error.code}: ${error.details}`.slice(0, 300);
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

export class Workload {
  readonly #options: WorkloadOptions;
  #running = false;
  #loops: Promise<void>[] = [];
  #calls = 0;

  constructor(options: WorkloadOptions) {
    if (options.clients.length === 0) throw new Error("Workload needs at least one client");
    if (!(options.producers >= 1 && options.keys >= 1 && options.recordsPerSecond > 0)) {
      throw new Error("Workload needs producers ≥ 1, keys ≥ 1 and recordsPerSecond > 0");
    }
    this.#options = options;
  }

  start(): void {
    if (this.#running) throw new Error("Workload already started");
    this.#running = true;
    for (let producer = 0; producer < this.#options.producers; producer++) {
      const random = this.#options.random.fork();
      this.#loops.push(
        this.#options.idempotent === true
          ? this.#produceIdempotent(producer, random)
          : this.#produce(producer, random),
      );
    }
  }

  /** Stops sending and waits until every call in flight has its outcome logged. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }

  async #produce(producer: number, random: SeededRandom): Promise<void> {
    const { clients, history, streamName, keys, producers, recordsPerSecond } = this.#options;
    const ratePerMs = recordsPerSecond / producers / 1_000;
    const startedAt = performance.now();
    const sent = { value: 0 };
    let seq = 0;
    let node = producer % clients.length;
    while (this.#running) {
      const count = recordsDue(startedAt, ratePerMs, sent);
      if (count <= 0) {
        await sleep(Math.max(5, 1 / ratePerMs / 2));
        continue;
      }
      sent.value += count;
      const records: RecordId[] = [];
      for (let i = 0; i < count; i++) records.push({ producer, seq: seq++, key: random.int(0, keys - 1) });
      const call = this.#calls++;
      history.log({ type: "invoke", f: "put", process: producer, call, node: node + 1, records });
      const client = clients[node] as StreamsClient;
      try {
        const response = await client.putRecords(
          {
            streamName,
            records: records.map((id) => ({
              partitionKey: workloadPartitionKey(id.key),
              data: encodeRecordData(id),
              explicitHashKey: "",
            })),
          },
          FAULT_PUT_TIMEOUT_MS,
        );
        history.log({
          type: "ok",
          f: "put",
          process: producer,
          call,
          results: response.records.map((entry, position) => {
            const id = records[position] as RecordId;
            return entry.errorCode === ""
              ? { seq: id.seq, shardId: entry.shardId, sequenceNumber: entry.sequenceNumber }
              : { seq: id.seq, error: entry.errorCode };
          }),
        });
        if (response.failedRecordCount > 0) await sleep(FAULT_PRODUCER_BACKOFF_MS);
      } catch (error) {
        history.log({
          type: certainlyNotWritten(error) ? "fail" : "unknown",
          f: "put",
          process: producer,
          call,
          error: describeError(error),
        });
        node = (node + 1) % clients.length;
        await sleep(FAULT_PRODUCER_BACKOFF_MS);
      }
    }
  }

  /** One idempotent Producer per workload producer, its endpoints starting at node p mod n. */
  async #produceIdempotent(producer: number, random: SeededRandom): Promise<void> {
    const { clients, history, streamName, keys, producers, recordsPerSecond } = this.#options;
    const addresses = clients.map((client) => client.address);
    const first = producer % addresses.length;
    // Loaded only in this mode, so plain campaigns do not depend on the SDK's build.
    const { SluiceClient } = await import("@sluice/client");
    const client = new SluiceClient({
      endpoints: [...addresses.slice(first), ...addresses.slice(0, first)],
      deadlineMs: FAULT_PUT_TIMEOUT_MS,
    });
    const writer: Producer = client.producer({
      streamName,
      idempotent: true,
      requestDeadlineMs: FAULT_PUT_TIMEOUT_MS,
      recordTimeoutMs: FAULT_IDEMPOTENT_RECORD_TIMEOUT_MS,
      lingerMs: FAULT_IDEMPOTENT_LINGER_MS,
    });
    const ratePerMs = recordsPerSecond / producers / 1_000;
    const startedAt = performance.now();
    const sent = { value: 0 };
    const pending = new Set<Promise<void>>();
    let seq = 0;
    try {
      while (this.#running) {
        const count = recordsDue(startedAt, ratePerMs, sent);
        if (count <= 0) {
          await sleep(Math.max(5, 1 / ratePerMs / 2));
          continue;
        }
        sent.value += count;
        for (let i = 0; i < count; i++) {
          const id: RecordId = { producer, seq: seq++, key: random.int(0, keys - 1) };
          const call = this.#calls++;
          history.log({ type: "invoke", f: "put", process: producer, call, node: first + 1, records: [id] });
          const outcome = writer
            .send({ partitionKey: workloadPartitionKey(id.key), data: encodeRecordData(id) })
            .then(
              (result) => {
                history.log({
                  type: "ok",
                  f: "put",
                  process: producer,
                  call,
                  results: [{ seq: id.seq, shardId: result.shardId, sequenceNumber: result.sequenceNumber }],
                });
              },
              (error: unknown) => {
                history.log({
                  type: "unknown",
                  f: "put",
                  process: producer,
                  call,
                  error: describeError(error),
                });
              },
            )
            .finally(() => pending.delete(outcome));
          pending.add(outcome);
        }
        await writer.waitForSpace();
      }
      await Promise.all(pending);
    } finally {
      await writer.close().catch(() => {});
      client.close();
    }
  }
}

/** How many records the pacing loop of a producer owes at `now`, the backlog capped. */
function recordsDue(startedAt: number, ratePerMs: number, sent: { value: number }): number {
  const due = Math.floor((performance.now() - startedAt) * ratePerMs);
  // After a long outage, do not try to catch up with a burst: the backlog is dropped.
  if (due - sent.value > FAULT_BATCH_RECORDS_MAX) sent.value = due - FAULT_BATCH_RECORDS_MAX;
  return Math.min(due - sent.value, FAULT_BATCH_RECORDS_MAX);
}

interface TailState {
  readonly shard: streams.Shard;
  lastSequenceNumber: string;
  iterator: string;
  finished: boolean;
}

/**
 * A reader following every shard's lineage while the campaign runs: each shard from TRIM_HORIZON,
 * children only once their parents are read to their end; after an error it moves to the next
 * node and asks for an iterator after the last record it saw. What it reads is logged as `read`
 * events, so the checker can prove no record it saw was later taken back.
 */
export class LiveReader {
  readonly #streamName: string;
  readonly #clients: readonly StreamsClient[];
  readonly #history: History;
  readonly #tails = new Map<string, TailState>();
  #node = 0;
  #running = false;
  #loop: Promise<void> | undefined;
  /** Records read so far. */
  records = 0;
  errors = 0;

  constructor(options: { streamName: string; clients: readonly StreamsClient[]; history: History }) {
    this.#streamName = options.streamName;
    this.#clients = options.clients;
    this.#history = options.history;
  }

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (this.#running) {
      try {
        await this.#discover();
        for (const tail of this.#tails.values()) {
          if (!this.#running) break;
          if (!tail.finished && this.#parentsDone(tail.shard)) await this.#poll(tail);
        }
      } catch {
        this.errors += 1;
        this.#node = (this.#node + 1) % this.#clients.length;
        for (const tail of this.#tails.values()) tail.iterator = "";
      }
      await sleep(FAULT_READ_POLL_MS);
    }
  }

  #client(): StreamsClient {
    return this.#clients[this.#node] as StreamsClient;
  }

  #parentsDone(shard: streams.Shard): boolean {
    return [shard.parentShardId, shard.adjacentParentShardId].every(
      (parent) => parent === "" || this.#tails.get(parent)?.finished !== false,
    );
  }

  async #discover(): Promise<void> {
    const shards = await listAllShards(this.#client(), this.#streamName);
    for (const shard of shards) {
      if (!this.#tails.has(shard.shardId)) {
        this.#tails.set(shard.shardId, { shard, lastSequenceNumber: "", iterator: "", finished: false });
      }
    }
  }

  async #poll(tail: TailState): Promise<void> {
    const client = this.#client();
    if (tail.iterator === "") {
      tail.iterator = (
        await client.getShardIterator(
          {
            streamName: this.#streamName,
            shardId: tail.shard.shardId,
            ...(tail.lastSequenceNumber === ""
              ? { shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON }
              : {
                  shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_AFTER_SEQUENCE_NUMBER,
                  startingSequenceNumber: tail.lastSequenceNumber,
                }),
          },
          FAULT_READ_TIMEOUT_MS,
        )
      ).shardIterator;
    }
    for (let page = 0; page < 10 && this.#running; page++) {
      let response: streams.GetRecordsResponse;
      try {
        response = await client.getRecords(
          { shardIterator: tail.iterator, limit: 10_000 },
          FAULT_READ_TIMEOUT_MS,
        );
      } catch (error) {
        if (error instanceof StreamsCallError && error.errorName === "ProvisionedThroughputExceededException")
          return;
        throw error;
      }
      if (response.records.length > 0) {
        this.records += response.records.length;
        tail.lastSequenceNumber = response.records[response.records.length - 1]?.sequenceNumber ?? "";
        this.#history.log({
          type: "ok",
          f: "read",
          shardId: tail.shard.shardId,
          records: response.records.map(
            (record) => [record.sequenceNumber, record.data.toString("latin1")] as const,
          ),
        });
      }
      if (response.nextShardIterator === "") {
        tail.finished = true;
        return;
      }
      tail.iterator = response.nextShardIterator;
      if (response.records.length === 0) return;
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
