// Proves the idempotent producer on three real node processes: a PutRecords retried with the same
// producer id and sequences is answered with the original sequence numbers and written once, also
// after the shard's leader is SIGKILLed and another elected, and after all nodes are killed and
// started again; a gap in the sequence fails the records with OutOfOrderSequenceException.
import { randomBytes } from "node:crypto";
import { readShard, shardGroupIds, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20000-20011.
const BASE_PORT = 20_000;
const STREAM_NAME = "idempotent";
const SHARD_ID = "shardId-000000000000";

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  await cluster.streams(1).createActiveStream({
    streamName: STREAM_NAME,
    shardCount: 1,
    streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
  });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function request(producerId: Buffer, firstSequence: number, tags: readonly string[]) {
  return {
    streamName: STREAM_NAME,
    records: tags.map((tag) => ({ partitionKey: tag, data: Buffer.from(tag), explicitHashKey: "" })),
    producerId,
    producerShardId: SHARD_ID,
    producerSequence: firstSequence,
  };
}

let lastFailure: string | undefined;

async function put(nodeId: number, body: ReturnType<typeof request>): Promise<streams.PutRecordsResponse> {
  return waitFor(
    async () => {
      const response = await cluster.streams(nodeId).putRecords(body, 10_000);
      // Failover may leave records failed with InternalFailure for a while: try again, same numbers.
      if (
        response.records.every((r) => r.errorCode === "" || r.errorCode === "OutOfOrderSequenceException")
      ) {
        return response;
      }
      lastFailure = response.records.find((r) => r.errorCode !== "")?.errorMessage;
      return undefined;
    },
    { timeoutMs: 40_000, what: "an idempotent PutRecords to be answered" },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; last record error: ${lastFailure}`);
  });
}

/** The shard group whose log holds a record with this data, read through the admin API. */
async function groupHolding(tag: string): Promise<number> {
  for (const groupId of await shardGroupIds(cluster)) {
    for (const nodeId of cluster.runningNodeIds()) {
      const page = await cluster
        .admin(nodeId)
        .read(groupId, 1, { maxRecords: 10_000 })
        .catch(() => undefined);
      if (page?.records.some((record) => Buffer.from(record.data).toString() === tag) === true)
        return groupId;
    }
  }
  throw new Error(`no shard group holds a record "${tag}"`);
}

async function countOf(nodeId: number, tags: readonly string[]): Promise<number[]> {
  const records = await readShard(cluster.streams(nodeId), { streamName: STREAM_NAME, shardId: SHARD_ID });
  return tags.map((tag) => records.filter((record) => Buffer.from(record.data).toString() === tag).length);
}

describe("idempotent PutRecords", () => {
  it("answers a retry with the original sequence numbers and writes each record once", async () => {
    const producerId = randomBytes(8);
    const tags = ["a-0", "a-1", "a-2"];
    const first = await put(1, request(producerId, 0, tags));
    expect(first.failedRecordCount).toBe(0);
    const retry = await put(2, request(producerId, 0, tags));
    expect(retry.records.map((r) => r.sequenceNumber)).toEqual(first.records.map((r) => r.sequenceNumber));
    // A retry of the tail alone maps to the same records too.
    const tail = await put(3, request(producerId, 1, tags.slice(1)));
    expect(tail.records.map((r) => r.sequenceNumber)).toEqual(
      first.records.slice(1).map((r) => r.sequenceNumber),
    );
    expect(await countOf(1, tags)).toEqual([1, 1, 1]);
  }, 60_000);

  it("fails a gap with OutOfOrderSequenceException and writes nothing", async () => {
    const producerId = randomBytes(8);
    await put(1, request(producerId, 0, ["g-0"]));
    const gap = await put(1, request(producerId, 5, ["g-5"]));
    expect(gap.records[0]?.errorCode).toBe("OutOfOrderSequenceException");
    expect(await countOf(1, ["g-5"])).toEqual([0]);
  }, 60_000);

  // The shard's group is found by the record it holds, not by position: the node also creates an
  // internal stream (the delivery definitions) whose group may take the first shard group id.
  it("drops duplicates after the shard's leader is SIGKILLed, and after a full restart", async () => {
    const producerId = randomBytes(8);
    const tags = ["k-0", "k-1"];
    const first = await put(1, request(producerId, 0, tags));
    expect(first.failedRecordCount).toBe(0);
    const groupId = await groupHolding("k-0");
    const victim = await cluster.leaderOf(groupId);
    const writer = cluster.nodeIds.find((nodeId) => nodeId !== victim) ?? 1;
    await cluster.kill(victim);
    const newLeader = await cluster.leaderOf(groupId, 30_000);
    expect(newLeader).not.toBe(victim);
    const afterKill = await put(writer, request(producerId, 0, tags));
    expect(afterKill.records.map((r) => r.sequenceNumber)).toEqual(
      first.records.map((r) => r.sequenceNumber),
    );
    await cluster.restart(victim);

    // A full restart: every node killed at once, so the dedup table survives only in the log.
    await Promise.all(cluster.nodeIds.map((nodeId) => cluster.kill(nodeId)));
    await cluster.start();
    const afterRestart = await put(victim, request(producerId, 0, tags));
    expect(afterRestart.records.map((r) => r.sequenceNumber)).toEqual(
      first.records.map((r) => r.sequenceNumber),
    );
    // The producer goes on where it was.
    const next = await put(victim, request(producerId, 2, ["k-2"]));
    expect(next.failedRecordCount).toBe(0);
    expect(await countOf(victim, [...tags, "k-2"])).toEqual([1, 1, 1]);
  }, 150_000);
});
