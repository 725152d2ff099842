// Proves two ways a retried idempotent batch used to be written twice are closed, on three real
// node processes: copies of one batch that reach a new leader together (all waiting for its dedup
// table to load) are appended once and all answered with the same sequence numbers; and a batch
// written to a shard just before a reshard sealed it is answered from the sealed shard's final log
// when retried (through every node), while a retry reaching past it and a new batch are refused
// with StaleShardMapException (not written, safe to number again for a child).
import { randomBytes } from "node:crypto";
import { Metadata } from "@grpc/grpc-js";
import {
  readShard,
  readStreamByLineage,
  type StreamsClient,
  shardGroupIds,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 21060-21071.
const BASE_PORT = 21_060;
const STREAM_NAME = "idempotent-reshard";
const PARENT = "shardId-000000000000";
/** 2^127: the split point, the middle of the hash key space. */
const HALF = (1n << 127n).toString();

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  await cluster.streams(1).createActiveStream({ streamName: STREAM_NAME, shardCount: 1 });
}, 90_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

function request(
  producerId: Buffer,
  shardId: string,
  firstSequence: number,
  tags: readonly string[],
  streamName = STREAM_NAME,
) {
  return {
    streamName,
    records: tags.map((tag) => ({ partitionKey: tag, data: Buffer.from(tag), explicitHashKey: "" })),
    producerId,
    producerShardId: shardId,
    producerSequence: firstSequence,
  };
}

/** Retries while records fail retriably (InternalFailure during a leader change); same numbers. */
async function put(nodeId: number, body: ReturnType<typeof request>): Promise<streams.PutRecordsResponse> {
  let last = "";
  return waitFor(
    async () => {
      const response = await cluster.streams(nodeId).putRecords(body, 10_000);
      if (response.records.every((record) => record.errorCode !== "InternalFailure")) return response;
      last = response.records.find((record) => record.errorCode !== "")?.errorMessage ?? "";
      return undefined;
    },
    { timeoutMs: 40_000, what: `an idempotent PutRecords through node ${nodeId} to be answered (${last})` },
  );
}

function splitShard(client: StreamsClient, shardToSplit: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.raw.splitShard(
      streams.SplitShardRequest.fromPartial({
        streamName: STREAM_NAME,
        shardToSplit,
        newStartingHashKey: HALF,
      }),
      new Metadata(),
      { deadline: Date.now() + 30_000 },
      (error) => (error === null ? resolve() : reject(error)),
    );
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

describe("idempotent PutRecords, copies of one batch at once", () => {
  it("appends copies that wait together for a new leader's table once", async () => {
    const streamName = "idempotent-copies";
    await cluster.streams(1).createActiveStream({ streamName, shardCount: 1 });
    const producerId = randomBytes(8);
    const first = await put(1, request(producerId, PARENT, 0, ["c-0"], streamName));
    expect(first.failedRecordCount).toBe(0);
    const groupId = await groupHolding("c-0");
    const leader = await cluster.leaderOf(groupId);
    const target = cluster.nodeIds.find((nodeId) => nodeId !== leader) as number;
    // A new term on `target`: it has no dedup table for the group until it rebuilds one.
    await waitFor(
      async () => {
        await cluster
          .admin(leader)
          .transferLeader(groupId, target)
          .catch(() => undefined);
        return (await cluster.leaderOf(groupId)) === target;
      },
      { timeoutMs: 30_000, what: `node ${target} to lead group ${groupId}` },
    );
    const copies = await Promise.all(
      Array.from({ length: 4 }, () =>
        put(target, request(producerId, PARENT, 1, ["c-1", "c-2"], streamName)),
      ),
    );
    const answers = copies.map((response) => response.records.map((record) => record.sequenceNumber));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect(copies.every((response) => response.failedRecordCount === 0)).toBe(true);
    const records = await readShard(cluster.streams(1), { streamName, shardId: PARENT });
    expect(records.map((record) => Buffer.from(record.data).toString())).toEqual(["c-0", "c-1", "c-2"]);
  }, 90_000);
});

describe("idempotent PutRecords across a reshard", () => {
  it("answers a retry to a sealed shard from its final log, and refuses what is not there", async () => {
    const producerId = randomBytes(8);
    const tags = ["r-0", "r-1", "r-2"];
    const first = await put(1, request(producerId, PARENT, 0, tags));
    expect(first.failedRecordCount).toBe(0);

    await splitShard(cluster.streams(1), PARENT);
    for (const nodeId of cluster.nodeIds) {
      await waitFor(
        async () => {
          const shards = await cluster.streams(nodeId).listShards({ streamName: STREAM_NAME });
          const parent = shards.shards.find((shard) => shard.shardId === PARENT);
          return parent !== undefined && parent.sequenceNumberRange?.endingSequenceNumber !== "";
        },
        { timeoutMs: 30_000, what: `node ${nodeId} to see ${PARENT} closed` },
      );
    }

    // The retry of a batch written before the seal: the original sequence numbers, whoever serves it.
    for (const nodeId of cluster.nodeIds) {
      const retry = await put(nodeId, request(producerId, PARENT, 0, tags));
      expect(retry.records.map((record) => record.errorCode)).toEqual(["", "", ""]);
      expect(retry.records.map((record) => record.sequenceNumber)).toEqual(
        first.records.map((record) => record.sequenceNumber),
      );
    }
    // Reaching past it: the covered records are answered, the rest is not in the sealed log.
    const past = await put(2, request(producerId, PARENT, 2, ["r-2", "r-3"]));
    expect(past.records.map((record) => record.errorCode)).toEqual(["", "StaleShardMapException"]);
    expect(past.records[0]?.sequenceNumber).toBe(first.records[2]?.sequenceNumber);
    // A new batch for the sealed shard, and a gap in it: certainly not written.
    for (const sequence of [3, 7]) {
      const fresh = await put(3, request(producerId, PARENT, sequence, ["r-new"]));
      expect(fresh.records[0]?.errorCode).toBe("StaleShardMapException");
    }

    const lineage = await readStreamByLineage(cluster.streams(1), STREAM_NAME, { timeoutMs: 30_000 });
    const copies = new Map<string, number>();
    for (const shard of lineage) {
      for (const record of shard.records) {
        const tag = Buffer.from(record.data).toString();
        copies.set(tag, (copies.get(tag) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(copies)).toEqual({ "r-0": 1, "r-1": 1, "r-2": 1 });
  }, 120_000);
});
