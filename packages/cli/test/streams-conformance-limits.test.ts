// Proves that throughput limits and retention on a real three-node cluster follow Kinesis: a
// PROVISIONED shard takes about 1 MiB/s of writes, so a 2 MiB PutRecords batch has some records
// fail with ProvisionedThroughputExceededException (counted in FailedRecordCount) while the rest
// are written, an ON_DEMAND shard takes the same batch whole, more than 5 GetRecords calls per
// second on a shard are refused; and once every node's clock is 25 hours ahead, the retention
// sweep trims the 24-hour stream on every replica, so TRIM_HORIZON no longer returns old records.
import {
  getRecordsUnthrottled,
  readShardFromTrimHorizon,
  startCluster,
  type TestCluster,
  uniqueStreamName,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19680-19691.
const BASE_PORT = 19_680;
const PROVISIONED = { streamMode: streams.StreamMode.STREAM_MODE_PROVISIONED };
const ON_DEMAND = { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND };
const T = streams.ShardIteratorType;
const SHARD_0 = "shardId-000000000000";
const RECORD_BYTES = 4_096;
const HOUR_MS = 3_600_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function freshName(prefix: string): string {
  return uniqueStreamName(`lim-${prefix}`);
}

/** 500 records of 4 KiB each (2 MiB in all), every one routed to shard 0 by ExplicitHashKey 0. */
function twoMiBBatch(tag: string): streams.PutRecordsRequestEntry[] {
  return Array.from({ length: 500 }, (_, i) => ({
    partitionKey: `${tag}-${i}`,
    explicitHashKey: "0",
    data: Buffer.alloc(RECORD_BYTES, i % 256),
  }));
}

describe("write throttling", () => {
  it("fails part of a 2 MiB batch on a PROVISIONED shard with ProvisionedThroughputExceededException and writes the rest", async () => {
    const streamName = freshName("prov");
    await cluster
      .streams(1)
      .createActiveStream({ streamName, shardCount: 1, streamModeDetails: PROVISIONED });
    const batch = twoMiBBatch("prov");
    const response = await cluster.streams(2).putRecords({ streamName, records: batch });
    expect(response.records).toHaveLength(500);
    const failed = response.records.filter((result) => result.errorCode !== "");
    const written = response.records.filter((result) => result.errorCode === "");
    expect(failed.length).toBeGreaterThan(0);
    expect(written.length).toBeGreaterThan(0);
    expect(response.failedRecordCount).toBe(failed.length);
    for (const result of failed) {
      expect(result.errorCode).toBe("ProvisionedThroughputExceededException");
      expect(result.errorMessage).not.toBe("");
      expect(result.sequenceNumber).toBe("");
    }
    for (const result of written) {
      expect(result.shardId).toBe(SHARD_0);
      expect(result.sequenceNumber).toMatch(/^[1-9]\d*$/);
    }
    // Exactly the acknowledged records are in the shard, in request order.
    const read = await readShardFromTrimHorizon(cluster.streams(3), streamName, SHARD_0);
    expect(read.map((record) => record.partitionKey)).toEqual(
      response.records.flatMap((result, i) => (result.errorCode === "" ? [batch[i]?.partitionKey] : [])),
    );
    expect(read.map((record) => record.sequenceNumber)).toEqual(
      written.map((result) => result.sequenceNumber),
    );
  });

  it("does not throttle an ON_DEMAND shard", async () => {
    const streamName = freshName("ondemand");
    await cluster.streams(1).createActiveStream({ streamName, streamModeDetails: ON_DEMAND });
    const response = await cluster.streams(3).putRecords({ streamName, records: twoMiBBatch("od") });
    expect(response.failedRecordCount).toBe(0);
    expect(response.records.every((result) => result.shardId === SHARD_0 && result.errorCode === "")).toBe(
      true,
    );
  });
});

describe("read throttling", () => {
  it("refuses GetRecords beyond 5 calls per second on a PROVISIONED shard with ProvisionedThroughputExceededException", async () => {
    const streamName = freshName("reads");
    await cluster
      .streams(1)
      .createActiveStream({ streamName, shardCount: 1, streamModeDetails: PROVISIONED });
    await cluster.streams(1).putRecord({ streamName, partitionKey: "p", data: Buffer.from("x") });
    const { shardIterator } = await cluster.streams(2).getShardIterator({
      streamName,
      shardId: SHARD_0,
      shardIteratorType: T.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
    });
    // Twenty calls at once: a bucket of 5 calls per second cannot admit them all.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 20 }, () => cluster.streams(2).getRecords({ shardIterator })),
    );
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(refused.length).toBeGreaterThan(0);
    for (const outcome of refused) {
      expect((outcome as PromiseRejectedResult).reason).toMatchObject({
        errorName: "ProvisionedThroughputExceededException",
      });
    }
    expect(outcomes.some((outcome) => outcome.status === "fulfilled")).toBe(true);
    // The refusal is retriable: once the bucket refills, the same iterator reads.
    expect((await getRecordsUnthrottled(cluster.streams(2), { shardIterator })).records).toHaveLength(1);
  });
});

describe("retention", () => {
  it("trims records older than the retention period from every replica once the clocks pass it", async () => {
    const streamName = freshName("retention");
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1, streamModeDetails: ON_DEMAND });
    const old = await cluster.streams(1).putRecords({
      streamName,
      records: Array.from({ length: 20 }, (_, i) => ({
        partitionKey: `old-${i}`,
        explicitHashKey: "",
        data: Buffer.from(`old-${i}`),
      })),
    });
    expect(old.failedRecordCount).toBe(0);
    for (const nodeId of cluster.nodeIds) {
      await waitFor(
        async () =>
          (await readShardFromTrimHorizon(cluster.streams(nodeId), streamName, SHARD_0)).length === 20,
        { timeoutMs: 10_000, what: `node ${nodeId} to serve the 20 old records` },
      );
    }

    const env = { SLUICE_CLOCK_OFFSET_MS: String(25 * HOUR_MS), SLUICE_RETENTION_SWEEP_INTERVAL_MS: "200" };
    for (const nodeId of cluster.nodeIds) await cluster.restartWithEnv(nodeId, env);

    for (const nodeId of cluster.nodeIds) {
      await waitFor(
        async () => {
          const records = await readShardFromTrimHorizon(cluster.streams(nodeId), streamName, SHARD_0);
          return records.every((record) => !record.partitionKey.startsWith("old-"));
        },
        {
          timeoutMs: 20_000,
          what: `node ${nodeId} to trim the records older than 24 hours`,
          intervalMs: 250,
        },
      );
    }

    // New records are kept: TRIM_HORIZON now starts at them on every node.
    const fresh = await waitFor(
      () =>
        cluster
          .streams(2)
          .putRecord({ streamName, partitionKey: "new", data: Buffer.from("new") })
          .catch(() => undefined),
      { timeoutMs: 15_000, what: "a put after the restart to succeed" },
    );
    for (const nodeId of cluster.nodeIds) {
      const records = await waitFor(
        async () => {
          const read = await readShardFromTrimHorizon(cluster.streams(nodeId), streamName, SHARD_0);
          return read.length > 0 ? read : undefined;
        },
        { timeoutMs: 10_000, what: `node ${nodeId} to serve the new record` },
      );
      expect(records.map((record) => record.sequenceNumber)).toEqual([fresh.sequenceNumber]);
    }
  });
});
