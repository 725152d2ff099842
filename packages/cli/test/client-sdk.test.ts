// Proves @sluice/client against a real three-node cluster: the producer keeps every key's order
// and loses nothing while a 1-shard PROVISIONED stream throttles it, its buffer stays within
// bufferBytes (sends wait), the stream reader reads parents before children across a split, a
// subscription resumes from its continuation without gaps or repeats, errors carry the Kinesis
// name, and calls continue through the other endpoints after SIGKILL of the node the first
// endpoint names.

import { type ProducerResult, SluiceCallError, SluiceClient } from "@sluice/client";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19000-19011.
const BASE_PORT = 19_000;

let cluster: TestCluster;
let client: SluiceClient;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
  });
}, 60_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
}, 60_000);

async function createStream(streamName: string, shardCount: number, onDemand: boolean): Promise<void> {
  await client.createStream({
    streamName,
    shardCount,
    streamModeDetails: {
      streamMode: onDemand
        ? streams.StreamMode.STREAM_MODE_ON_DEMAND
        : streams.StreamMode.STREAM_MODE_PROVISIONED,
    },
  });
  await client.waitForStreamStatus(streamName, { timeoutMs: 30_000 });
}

/** Record data "key:index" for checking order per key. */
function parse(data: Buffer): { key: string; index: number } {
  const [key, index] = data.toString("utf8").split(":");
  return { key: key ?? "", index: Number(index) };
}

function expectKeyOrder(records: readonly { data: Buffer }[], keys: number, perKey: number): void {
  const next = new Map<string, number>();
  for (const record of records) {
    const { key, index } = parse(record.data);
    expect(index, `order of key ${key}`).toBe(next.get(key) ?? 0);
    next.set(key, index + 1);
  }
  expect(next.size).toBe(keys);
  for (const count of next.values()) expect(count).toBe(perKey);
}

describe("SluiceClient", () => {
  it("reports a missing stream as ResourceNotFoundException, not retriable", async () => {
    const error = await client
      .describeStreamSummary({ streamName: "no-such-stream" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SluiceCallError);
    expect((error as SluiceCallError).errorName).toBe("ResourceNotFoundException");
    expect((error as SluiceCallError).retriable).toBe(false);
  });

  it("producer: per-key order and no loss while a 1-shard PROVISIONED stream throttles", async () => {
    const streamName = "sdk-throttled";
    await createStream(streamName, 1, false);
    const producer = client.producer({ streamName, lingerMs: 5 });
    const keys = 300;
    const perKey = 10;
    const payload = "x".repeat(200);
    const sends: Promise<ProducerResult>[] = [];
    for (let index = 0; index < perKey; index++) {
      for (let key = 0; key < keys; key++) {
        sends.push(producer.send({ partitionKey: `key-${key}`, data: `key-${key}:${index}:${payload}` }));
      }
    }
    const results = await Promise.all(sends);
    await producer.close();
    const stats = producer.stats();
    expect(stats.acknowledged).toBe(keys * perKey);
    expect(stats.failed).toBe(0);
    expect(stats.throttled).toBeGreaterThan(0);
    const perShard = Object.values(stats.throttledByShard).reduce((sum, count) => sum + count, 0);
    expect(perShard).toBe(stats.throttled);
    expect(new Set(results.map((result) => result.sequenceNumber)).size).toBe(keys * perKey);
    const records = [];
    for await (const record of client.shardReader({
      streamName,
      shardId: "shardId-000000000000",
      start: { type: "TRIM_HORIZON" },
      follow: false,
    })) {
      records.push(record);
    }
    expect(records.length).toBe(keys * perKey);
    expectKeyOrder(records, keys, perKey);
  }, 60_000);

  it("producer: the buffer never holds more than bufferBytes; sends wait for room", async () => {
    const streamName = "sdk-backpressure";
    await createStream(streamName, 2, true);
    const bufferBytes = 32 * 1_024;
    const producer = client.producer({ streamName, bufferBytes, maxInFlightRequests: 1, lingerMs: 1 });
    const data = Buffer.alloc(1_000, 7);
    let maxBuffered = 0;
    let maxWaiting = 0;
    const sends: Promise<ProducerResult>[] = [];
    for (let index = 0; index < 400; index++) {
      sends.push(producer.send({ partitionKey: `k${index}`, data }));
      const stats = producer.stats();
      maxBuffered = Math.max(maxBuffered, stats.bufferedBytes);
      maxWaiting = Math.max(maxWaiting, stats.waitingSends);
    }
    const watcher = setInterval(() => {
      maxBuffered = Math.max(maxBuffered, producer.stats().bufferedBytes);
    }, 1);
    await Promise.all(sends);
    clearInterval(watcher);
    await producer.close();
    expect(maxBuffered).toBeLessThanOrEqual(bufferBytes);
    expect(maxWaiting).toBeGreaterThan(300);
    expect(producer.stats().acknowledged).toBe(400);
  }, 30_000);

  it("streamReader: reads every record once, parents before children, across a split", async () => {
    const streamName = "sdk-lineage";
    await createStream(streamName, 1, false);
    const producer = client.producer({ streamName });
    const keys = 30;
    const send = (from: number, to: number) =>
      Promise.all(
        Array.from({ length: (to - from) * keys }, (_, position) => {
          const index = from + Math.floor(position / keys);
          const key = position % keys;
          return producer.send({ partitionKey: `key-${key}`, data: `key-${key}:${index}` });
        }),
      );
    await send(0, 10);
    await client.splitShard({
      streamName,
      shardToSplit: "shardId-000000000000",
      newStartingHashKey: (1n << 127n).toString(),
    });
    await client.waitForStreamStatus(streamName, { timeoutMs: 30_000 });
    await send(10, 20);
    await producer.close();
    const reader = client.streamReader({ streamName, start: { type: "TRIM_HORIZON" }, follow: false });
    const records = [];
    for await (const record of reader) records.push(record);
    expect(records.length).toBe(keys * 20);
    expectKeyOrder(records, keys, 20);
    expect(reader.endedShards).toContain("shardId-000000000000");
    const firstChild = records.findIndex((record) => record.shardId !== "shardId-000000000000");
    expect(records.slice(firstChild).every((record) => record.shardId !== "shardId-000000000000")).toBe(true);
  }, 60_000);

  it("subscribe: resubscribes from the continuation when a session ends; no gap, no repeat", async () => {
    const streamName = "sdk-subscribe";
    await createStream(streamName, 1, true);
    const { streamDescriptionSummary } = await client.describeStreamSummary({ streamName });
    const { consumer } = await client.registerStreamConsumer({
      streamArn: streamDescriptionSummary?.streamArn ?? "",
      consumerName: "sdk-test",
    });
    const consumerArn = consumer?.consumerArn ?? "";
    // Every node must know the consumer before a subscription may land on it.
    for (const nodeId of cluster.nodeIds) {
      await waitFor(
        async () =>
          (await cluster.streams(nodeId).describeStreamConsumer({ consumerArn })).consumerDescription
            ?.consumerStatus === streams.ConsumerStatus.CONSUMER_STATUS_ACTIVE,
        { timeoutMs: 15_000, what: `node ${nodeId} to see the consumer ACTIVE` },
      );
    }
    const total = 300;
    const subscription = client.subscribe({
      consumerArn,
      shardId: "shardId-000000000000",
      start: { type: "TRIM_HORIZON" },
      sessionMs: 700,
    });
    const received: number[] = [];
    const reading = (async () => {
      for await (const event of subscription) {
        for (const record of event.records) received.push(Number(record.data.toString("utf8")));
        if (received.length >= total) return;
      }
    })();
    const producer = client.producer({ streamName, lingerMs: 1 });
    for (let index = 0; index < total; index++) {
      await producer.send({ partitionKey: "one-key", data: String(index) });
      if (index % 100 === 99 && index < total - 1) {
        // Let a session end between two parts of the writes, so records span sessions.
        const sessions = subscription.sessions;
        await waitFor(() => subscription.sessions > sessions, { timeoutMs: 10_000, what: "a new session" });
      }
    }
    await producer.close();
    await reading;
    expect(subscription.sessions).toBeGreaterThanOrEqual(3);
    expect(received).toEqual(Array.from({ length: total }, (_, index) => index));
  }, 60_000);

  it("fails over: after SIGKILL of the node the first endpoint names, calls go on through the others", async () => {
    const streamName = "sdk-failover";
    await createStream(streamName, 2, true);
    const first = new SluiceClient({
      endpoints: [
        `127.0.0.1:${cluster.ports(1).grpc}`,
        `127.0.0.1:${cluster.ports(2).grpc}`,
        `127.0.0.1:${cluster.ports(3).grpc}`,
      ],
    });
    try {
      await first.describeStreamSummary({ streamName });
      await cluster.kill(1);
      for (let call = 0; call < 12; call++) {
        const { streamDescriptionSummary } = await first.describeStreamSummary(
          { streamName },
          { deadlineMs: 20_000 },
        );
        expect(streamDescriptionSummary?.streamName).toBe(streamName);
      }
      const producer = first.producer({ streamName });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, index) =>
          producer.send({ partitionKey: `k${index}`, data: "after-kill" }),
        ),
      );
      await producer.close();
      expect(results.length).toBe(200);
    } finally {
      first.close();
    }
  }, 60_000);
});
