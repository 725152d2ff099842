// Proves invariant 3 through the public API on three real node processes: 8 concurrent producers
// (spread over the three nodes' gateways) write 1,000 partition keys into a 4-shard stream, and
// reading every shard from TRIM_HORIZON returns every key's records in the order they were
// acknowledged, with no acknowledged record missing.
import {
  readShard,
  StreamsCallError,
  type StreamsClient,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19800-19811.
const BASE_PORT = 19_800;
const STREAM_NAME = "ordering";
const SHARD_COUNT = 4;
const PRODUCERS = 8;
const KEYS_PER_PRODUCER = 125;
/** Records acknowledged per key; each round sends one record per key that still needs one. */
const RECORDS_PER_KEY = 25;
/** The whole write phase must finish by then, retries included. */
const WRITE_TIMEOUT_MS = 60_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function keyName(producer: number, slot: number): string {
  return `p${producer}-k${slot}`;
}

/** A record's data: its key and its counter, so a reader can check both. */
function recordData(key: string, counter: number): Buffer {
  return Buffer.from(`${key}#${counter}`);
}

function parseData(data: Uint8Array): { key: string; counter: number } {
  const text = Buffer.from(data).toString();
  const hash = text.lastIndexOf("#");
  return { key: text.slice(0, hash), counter: Number(text.slice(hash + 1)) };
}

interface Ack {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

interface ProducerStats {
  /** Where each key's counter was acknowledged: acks.get(key)[counter]. */
  readonly acks: Map<string, Ack[]>;
  requests: number;
  /** Records that failed with an ErrorCode (throttled or InternalFailure) and were sent again. */
  failedRecords: number;
  /** Requests that failed as a whole (every record in them may or may not have been written). */
  failedRequests: number;
  lastError: string;
}

/**
 * One producer: in each round, one PutRecords with the next unacknowledged counter of every one of
 * its keys that is not done. A key's counter c + 1 is sent only after c was acknowledged, so a
 * record that failed (or whose request failed) is sent again before anything newer of its key;
 * that keeps per-key order whatever fails, and a retried record that had in fact been written
 * shows up as a repeat right next to itself.
 */
async function produce(client: StreamsClient, producer: number, deadline: number): Promise<ProducerStats> {
  const keys = Array.from({ length: KEYS_PER_PRODUCER }, (_, slot) => keyName(producer, slot));
  const stats: ProducerStats = {
    acks: new Map(),
    requests: 0,
    failedRecords: 0,
    failedRequests: 0,
    lastError: "",
  };
  for (const key of keys) stats.acks.set(key, []);
  for (;;) {
    const pending = keys.filter((key) => (stats.acks.get(key)?.length ?? 0) < RECORDS_PER_KEY);
    if (pending.length === 0) return stats;
    if (Date.now() > deadline) {
      throw new Error(
        `producer ${producer}: ${pending.length} keys still unacknowledged at the deadline (last error: ${stats.lastError || "none"})`,
      );
    }
    const batch = pending.map((key) => ({
      key,
      counter: stats.acks.get(key)?.length ?? 0,
    }));
    stats.requests += 1;
    let response: streams.PutRecordsResponse;
    try {
      response = await client.putRecords({
        streamName: STREAM_NAME,
        records: batch.map(({ key, counter }) => ({
          partitionKey: key,
          data: recordData(key, counter),
          explicitHashKey: "",
        })),
      });
    } catch (error) {
      if (!(error instanceof StreamsCallError)) throw error;
      stats.failedRequests += 1;
      stats.lastError = error.message;
      continue;
    }
    expect(response.records).toHaveLength(batch.length);
    let failedHere = 0;
    response.records.forEach((result, position) => {
      const sent = batch[position];
      if (sent === undefined) return;
      if (result.errorCode !== "") {
        expect(["ProvisionedThroughputExceededException", "InternalFailure"]).toContain(result.errorCode);
        failedHere += 1;
        stats.lastError = `${result.errorCode}: ${result.errorMessage}`;
        return;
      }
      stats.acks.get(sent.key)?.push({ shardId: result.shardId, sequenceNumber: result.sequenceNumber });
    });
    expect(response.failedRecordCount).toBe(failedHere);
    stats.failedRecords += failedHere;
    // Everything throttled: let the shard's bucket refill a little before the next round.
    if (failedHere === batch.length) await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("ordering through the public API", () => {
  it("reads every key's records in acknowledgement order, none missing, with 8 concurrent producers", async () => {
    await cluster.streams(1).createActiveStream({ streamName: STREAM_NAME, shardCount: SHARD_COUNT });
    // Every gateway must know the stream before producers spread over them start.
    for (const nodeId of cluster.nodeIds) {
      await waitFor(
        async () =>
          (await cluster.streams(nodeId).describeStreamSummary({ streamName: STREAM_NAME }))
            .streamDescriptionSummary?.streamStatus === streams.StreamStatus.STREAM_STATUS_ACTIVE,
        { timeoutMs: 30_000, what: `node ${nodeId} to see stream ${STREAM_NAME} ACTIVE` },
      );
    }

    const deadline = Date.now() + WRITE_TIMEOUT_MS;
    const results = await Promise.all(
      Array.from({ length: PRODUCERS }, (_, producer) =>
        produce(cluster.streams(cluster.nodeIds[producer % cluster.nodeIds.length] ?? 1), producer, deadline),
      ),
    );
    const acks = new Map<string, Ack[]>();
    for (const result of results) for (const [key, keyAcks] of result.acks) acks.set(key, keyAcks);
    expect(acks.size).toBe(PRODUCERS * KEYS_PER_PRODUCER);
    const sum = (pick: (stats: ProducerStats) => number): number =>
      results.reduce((total, stats) => total + pick(stats), 0);
    console.log(
      `ordering: ${acks.size * RECORDS_PER_KEY} records acknowledged in ${sum((s) => s.requests)} PutRecords; ${sum((s) => s.failedRecords)} records failed and were sent again; ${sum((s) => s.failedRequests)} whole requests failed`,
    );

    const shards = (await cluster.streams(1).listShards({ streamName: STREAM_NAME })).shards;
    expect(shards).toHaveLength(SHARD_COUNT);
    // Read each shard through a different node; every record must be there once writes are done.
    const readByKey = new Map<string, { counter: number; sequenceNumber: string; shardId: string }[]>();
    let duplicates = 0;
    for (const [position, shard] of shards.entries()) {
      const nodeId = cluster.nodeIds[position % cluster.nodeIds.length] ?? 1;
      // A follower's gateway may serve up to the commit index it knows a moment behind the leader;
      // wait until its read holds the shard's last acknowledged record.
      const lastAcknowledged = lastAcknowledgedIn(acks, shard.shardId);
      const records = await waitFor(
        async () => {
          const read = await readShard(cluster.streams(nodeId), {
            streamName: STREAM_NAME,
            shardId: shard.shardId,
          });
          const complete =
            lastAcknowledged === "" || read.some((record) => record.sequenceNumber === lastAcknowledged);
          return complete ? read : undefined;
        },
        { timeoutMs: 30_000, what: `node ${nodeId} to serve ${shard.shardId} up to ${lastAcknowledged}` },
      );
      let previous = -1n;
      for (const record of records) {
        // Sequence numbers strictly increase within a shard.
        const sequence = BigInt(record.sequenceNumber);
        expect(sequence > previous).toBe(true);
        previous = sequence;
        const { key, counter } = parseData(record.data);
        expect(record.partitionKey).toBe(key);
        let list = readByKey.get(key);
        if (list === undefined) {
          list = [];
          readByKey.set(key, list);
        }
        list.push({ counter, sequenceNumber: record.sequenceNumber, shardId: shard.shardId });
      }
    }

    const problems: string[] = [];
    for (const [key, acknowledged] of acks) {
      const read = readByKey.get(key) ?? [];
      // All records of a key are in one shard.
      const owners = new Set(read.map((entry) => entry.shardId));
      if (owners.size > 1) problems.push(`${key} appears in shards ${[...owners].join(", ")}`);
      // Duplicates are allowed only as adjacent repeats: a producer resends a record whose
      // request failed ambiguously (or the gateway retries a sub-batch after a lost leadership)
      // before it sends anything newer of that key, so a written-twice record sits right after
      // itself. Collapse those; what remains must be exactly 0, 1, …, RECORDS_PER_KEY - 1.
      const collapsed: number[] = [];
      for (const entry of read) {
        if (collapsed[collapsed.length - 1] === entry.counter) {
          duplicates += 1;
          continue;
        }
        collapsed.push(entry.counter);
      }
      const expected = Array.from({ length: RECORDS_PER_KEY }, (_, counter) => counter);
      if (collapsed.join(",") !== expected.join(",")) {
        problems.push(`${key} reads as [${collapsed.join(",")}], acknowledged [${expected.join(",")}]`);
        continue;
      }
      // Each acknowledged sequence number is read back holding that very counter.
      const counterOf = new Map(read.map((entry) => [entry.sequenceNumber, entry.counter]));
      acknowledged.forEach(({ sequenceNumber, shardId }, counter) => {
        if (!owners.has(shardId))
          problems.push(`${key}#${counter} was acknowledged in ${shardId} but read elsewhere`);
        if (counterOf.get(sequenceNumber) !== counter) {
          problems.push(
            `${key}#${counter} was acknowledged as ${sequenceNumber}, which reads as ${counterOf.get(sequenceNumber)}`,
          );
        }
      });
    }
    console.log(`ordering: ${duplicates} adjacent duplicates read back`);
    expect(problems.slice(0, 20)).toEqual([]);
  }, 90_000);
});

/** The highest sequence number acknowledged into `shardId` ("" when none). */
function lastAcknowledgedIn(acks: ReadonlyMap<string, readonly Ack[]>, shardId: string): string {
  let last = "";
  let lastValue = -1n;
  for (const keyAcks of acks.values()) {
    for (const ack of keyAcks) {
      if (ack.shardId !== shardId) continue;
      const value = BigInt(ack.sequenceNumber);
      if (value > lastValue) {
        lastValue = value;
        last = ack.sequenceNumber;
      }
    }
  }
  return last;
}
