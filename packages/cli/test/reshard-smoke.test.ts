// Proves a split through the public API on three real node processes: while a producer keeps
// writing, SplitShard closes the parent (EndingSequenceNumber set, every write acknowledged — the
// gateway re-routes the sealed parent's records), new writes land in the two children above the
// parent's ending sequence number, and reading the parent from TRIM_HORIZON ends with an empty
// NextShardIterator and ChildShards naming both children.
import { createHash } from "node:crypto";
import { Metadata } from "@grpc/grpc-js";
import { type StreamsClient, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19500-19511.
const BASE_PORT = 19_500;
const STREAM_NAME = "reshard-smoke";
const KEYS = 40;
/** 2^127: the split point, the middle of the hash key space. */
const HALF = (1n << 127n).toString();
const PARENT = "shardId-000000000000";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function splitShard(client: StreamsClient, request: Partial<streams.SplitShardRequest>): Promise<void> {
  return new Promise((resolve, reject) => {
    client.raw.splitShard(
      streams.SplitShardRequest.fromPartial(request),
      new Metadata(),
      { deadline: Date.now() + 30_000 },
      (error) => (error === null ? resolve() : reject(error)),
    );
  });
}

function hashOf(key: string): bigint {
  return BigInt(`0x${createHash("md5").update(key).digest("hex")}`);
}

/** One PutRecords of every key; throws unless every record is acknowledged. */
async function putAll(client: StreamsClient, round: number): Promise<streams.PutRecordsResultEntry[]> {
  const response = await client.putRecords({
    streamName: STREAM_NAME,
    records: Array.from({ length: KEYS }, (_, k) => ({
      partitionKey: `key-${k}`,
      data: Buffer.from(`key-${k}#${round}`),
      explicitHashKey: "",
    })),
  });
  const failed = response.records.filter((record) => record.errorCode !== "");
  if (failed.length > 0)
    throw new Error(`round ${round}: ${failed.length} failed: ${failed[0]?.errorMessage}`);
  return response.records;
}

describe("SplitShard through the public API", () => {
  it("moves writes to the children without failing any, and drains the parent into ChildShards", async () => {
    const client = cluster.streams(1);
    await client.createActiveStream({ streamName: STREAM_NAME, shardCount: 1 });
    for (const nodeId of cluster.nodeIds) {
      await cluster.streams(nodeId).waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE);
    }
    const before = await putAll(client, 0);
    expect(new Set(before.map((record) => record.shardId))).toEqual(new Set([PARENT]));

    // A producer on another node keeps writing through the split: none of its records may fail.
    let producing = true;
    let rounds = 0;
    const producer = (async () => {
      const other = cluster.streams(2);
      while (producing) await putAll(other, 1000 + rounds++);
    })();

    await splitShard(client, { streamName: STREAM_NAME, shardToSplit: PARENT, newStartingHashKey: HALF });
    await client.waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE, 30_000);
    producing = false;
    await producer;

    const shards = (await client.listShards({ streamName: STREAM_NAME })).shards;
    expect(shards.map((shard) => shard.shardId)).toEqual([
      PARENT,
      "shardId-000000000001",
      "shardId-000000000002",
    ]);
    const [parent, low, high] = shards as [streams.Shard, streams.Shard, streams.Shard];
    const ending = parent.sequenceNumberRange?.endingSequenceNumber ?? "";
    expect(ending).not.toBe("");
    expect(low.parentShardId).toBe(PARENT);
    expect(high.parentShardId).toBe(PARENT);
    expect(high.hashKeyRange?.startingHashKey).toBe(HALF);
    expect(low.sequenceNumberRange?.endingSequenceNumber).toBe("");

    // Every gateway sees the new map before we check routing through node 3.
    await waitFor(
      async () =>
        (await cluster.streams(3).listShards({ streamName: STREAM_NAME })).shards.length === 3 || undefined,
      { timeoutMs: 10_000, what: "node 3 to list the children" },
    );
    const after = await putAll(cluster.streams(3), 1);
    after.forEach((record, k) => {
      const expected = hashOf(`key-${k}`) >= BigInt(HALF) ? high.shardId : low.shardId;
      expect(record.shardId, `key-${k}`).toBe(expected);
      expect(BigInt(record.sequenceNumber) > BigInt(ending)).toBe(true);
    });

    // Read the parent from TRIM_HORIZON to its end.
    let iterator = (
      await client.getShardIterator({
        streamName: STREAM_NAME,
        shardId: PARENT,
        shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
      })
    ).shardIterator;
    const read: streams.Record[] = [];
    const last = await waitFor(
      async () => {
        const page = await client.getRecords({ shardIterator: iterator });
        read.push(...page.records);
        if (page.nextShardIterator === "") return page;
        iterator = page.nextShardIterator;
        return undefined;
      },
      { timeoutMs: 15_000, intervalMs: 20, what: "the parent's read to reach its end" },
    );
    expect(read.length).toBeGreaterThanOrEqual(KEYS);
    for (const record of read) expect(BigInt(record.sequenceNumber) < BigInt(ending)).toBe(true);
    expect(last.childShards.map((child) => child.shardId)).toEqual([low.shardId, high.shardId]);
    for (const child of last.childShards) expect(child.parentShards).toEqual([PARENT]);

    const atLatest = await client.listShards({
      streamName: STREAM_NAME,
      shardFilter: { type: streams.ShardFilterType.SHARD_FILTER_TYPE_AT_LATEST, shardId: "" },
    });
    expect(atLatest.shards.map((shard) => shard.shardId)).toEqual([low.shardId, high.shardId]);
    const atTrimHorizon = await client.listShards({
      streamName: STREAM_NAME,
      shardFilter: { type: streams.ShardFilterType.SHARD_FILTER_TYPE_AT_TRIM_HORIZON, shardId: "" },
    });
    expect(atTrimHorizon.shards.map((shard) => shard.shardId)).toEqual([PARENT]);
    console.log(`reshard smoke: ${rounds} PutRecords of ${KEYS} records during the split, none failed`);
  }, 90_000);

  it("ends a SubscribeToShard of the closed parent with a last event naming the children", async () => {
    const client = cluster.streams(1);
    const summary = (await client.describeStreamSummary({ streamName: STREAM_NAME }))
      .streamDescriptionSummary;
    const streamArn = summary?.streamArn ?? "";
    const { consumer } = await client.registerStreamConsumer({ streamArn, consumerName: "smoke" });
    const consumerArn = consumer?.consumerArn ?? "";
    await waitFor(
      async () =>
        (await client.describeStreamConsumer({ consumerArn })).consumerDescription?.consumerStatus ===
        streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
      { timeoutMs: 10_000, what: "the consumer to be ACTIVE" },
    );
    const events: streams.SubscribeToShardEvent[] = [];
    await new Promise<void>((resolve, reject) => {
      const call = client.subscribeToShard({
        consumerArn,
        shardId: PARENT,
        startingPosition: {
          type: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
          sequenceNumber: "",
        },
      });
      call.on("data", (response: streams.SubscribeToShardResponse) => {
        if (response.subscribeToShardEvent !== undefined) events.push(response.subscribeToShardEvent);
      });
      call.on("error", reject);
      call.on("end", () => resolve());
    });
    const last = events[events.length - 1];
    expect(last?.childShards.map((child) => child.shardId)).toEqual([
      "shardId-000000000001",
      "shardId-000000000002",
    ]);
    expect(events.slice(0, -1).every((event) => event.childShards.length === 0)).toBe(true);
    expect(events.reduce((n, event) => n + event.records.length, 0)).toBeGreaterThanOrEqual(KEYS);
  }, 30_000);
});
