// Proves the SDK Producer's idempotent mode end to end on three real node processes: with a short
// request deadline and the leader of a shard frozen (SIGSTOP) until the producer has had to retry,
// then resumed, the stream ends up holding every acknowledged record exactly once and no record
// twice. The same workload without idempotence is run too and its duplicates are counted (reported,
// not asserted: a retry after a lost answer may write twice there, as with Kinesis).
import { type Producer, type ProducerResult, SluiceClient } from "@sluice/client";
import { shardGroupIds, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20060-20071.
const BASE_PORT = 20_060;
const RECORDS = 3_000;
/** Records handed to the producer before it waits for them all to settle (keeps sends paced). */
const WAVE_RECORDS = 100;
const KEYS = 64;
/** Short, so calls into the frozen leader time out and are retried while it sleeps. */
const REQUEST_DEADLINE_MS = 400;

let cluster: TestCluster;
let client: SluiceClient;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new SluiceClient({
    endpoints: cluster.nodeIds.map((nodeId) => `127.0.0.1:${cluster.ports(nodeId).grpc}`),
  });
}, 90_000);
afterAll(async () => {
  client?.close();
  await cluster?.stop();
}, 60_000);

/** The shard group whose log holds a record with this data, read through the admin API. */
async function groupHolding(data: string): Promise<number> {
  for (const groupId of await shardGroupIds(cluster)) {
    for (const nodeId of cluster.runningNodeIds()) {
      const page = await cluster
        .admin(nodeId)
        .read(groupId, 1, { maxRecords: 10_000 })
        .catch(() => undefined);
      if (page?.records.some((record) => Buffer.from(record.data).toString() === data) === true)
        return groupId;
    }
  }
  throw new Error(`no shard group holds a record "${data}"`);
}

interface Outcome {
  readonly acknowledged: Set<string>;
  readonly failed: number;
  /** How many times each record's data is in the stream. */
  readonly copies: Map<string, number>;
  readonly retried: number;
}

/**
 * Sends RECORDS records in waves; once a few waves are acknowledged, freezes the leader of the
 * shard holding them until the producer has retried, then resumes it; reads the whole stream back.
 */
async function runWorkload(streamName: string, producer: Producer): Promise<Outcome> {
  const acknowledged = new Set<string>();
  let failed = 0;
  let paused = 0;
  const sending = (async () => {
    for (let wave = 0; wave * WAVE_RECORDS < RECORDS; wave++) {
      const sends: Promise<ProducerResult>[] = [];
      const names: string[] = [];
      for (let k = 0; k < WAVE_RECORDS; k++) {
        const index = wave * WAVE_RECORDS + k;
        const data = `${streamName}-${index}`;
        names.push(data);
        sends.push(producer.send({ partitionKey: `key-${index % KEYS}`, data }));
      }
      const settled = await Promise.allSettled(sends);
      settled.forEach((result, k) => {
        if (result.status === "fulfilled") acknowledged.add(names[k] as string);
        else failed++;
      });
    }
  })();
  await waitFor(() => acknowledged.size >= 5 * WAVE_RECORDS, {
    timeoutMs: 60_000,
    what: "five waves acknowledged before the fault",
  });
  const groupId = await groupHolding(`${streamName}-0`);
  paused = await cluster.leaderOf(groupId);
  const retriedBefore = producer.stats().retried;
  cluster.pause(paused);
  try {
    await waitFor(() => producer.stats().retried > retriedBefore, {
      timeoutMs: 30_000,
      what: "the producer to retry while the shard's leader is frozen",
    });
  } finally {
    cluster.resume(paused);
  }
  await sending;
  await producer.close();

  const copies = new Map<string, number>();
  for await (const record of client.streamReader({
    streamName,
    start: { type: "TRIM_HORIZON" },
    follow: false,
  })) {
    const data = record.data.toString("utf8");
    copies.set(data, (copies.get(data) ?? 0) + 1);
  }
  return { acknowledged, failed, copies, retried: producer.stats().retried };
}

describe("Producer, idempotent", () => {
  it("writes every acknowledged record exactly once through timeouts and a frozen leader", async () => {
    const streamName = "idem-producer";
    await client.createStream({ streamName, shardCount: 2 });
    await client.waitForStreamStatus(streamName);
    const producer = client.producer({
      streamName,
      idempotent: true,
      requestDeadlineMs: REQUEST_DEADLINE_MS,
    });
    const outcome = await runWorkload(streamName, producer);
    const duplicates = [...outcome.copies].filter(([, count]) => count > 1);
    console.log(
      `idempotent producer: ${outcome.acknowledged.size} acknowledged, ${outcome.failed} given up, ${outcome.retried} record retries, ${duplicates.length} duplicated records`,
    );
    expect(duplicates).toEqual([]);
    for (const data of outcome.acknowledged) expect(outcome.copies.get(data), data).toBe(1);
    expect(outcome.retried).toBeGreaterThan(0);
  }, 180_000);

  it("counts the duplicates of the same workload without idempotence (reported, not asserted)", async () => {
    const streamName = "plain-producer";
    await client.createStream({ streamName, shardCount: 2 });
    await client.waitForStreamStatus(streamName);
    const producer = client.producer({ streamName, requestDeadlineMs: REQUEST_DEADLINE_MS });
    const outcome = await runWorkload(streamName, producer);
    const duplicates = [...outcome.copies].filter(([, count]) => count > 1).length;
    console.log(
      `plain producer: ${outcome.acknowledged.size} acknowledged, ${outcome.failed} given up, ${outcome.retried} record retries, ${duplicates} duplicated records`,
    );
    for (const data of outcome.acknowledged) expect(outcome.copies.get(data) ?? 0, data).toBeGreaterThan(0);
  }, 180_000);
});
