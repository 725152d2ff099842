// Proves that shard groups a reshard creates while one node is dead converge to identical logs
// once it returns: node 2 is SIGKILLed, a split and a merge run (their children are created on
// nodes 1 and 3 only and take writes), node 2 restarts, creates its replicas of the children and
// catches up; every shard group's committed log then has the same checksum on all three nodes,
// from the same first index. (The fault campaign once reported such groups as divergent on the
// restarted node; this pins the case down on its own.)
import { listAllShards, shardGroupIds, startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 20620-20631.
const BASE_PORT = 20_620;
const STREAM_NAME = "reshard-node-down";
const DEAD_NODE = 2;
const ALIVE_NODE = 1;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
}, 60_000);

async function put(count: number, tag: string): Promise<void> {
  const client = cluster.streams(ALIVE_NODE);
  for (let i = 0; i < count; i += 50) {
    const records = Array.from({ length: 50 }, (_, j) => ({
      partitionKey: `key-${i + j}`,
      data: Buffer.from(`${tag}-${i + j}`),
      explicitHashKey: "",
    }));
    const response = await client.putRecords({ streamName: STREAM_NAME, records });
    expect(response.failedRecordCount).toBe(0);
  }
}

async function commitIndexes(groupId: number): Promise<Map<number, number>> {
  const found = new Map<number, number>();
  for (const nodeId of cluster.nodeIds) {
    const status = await cluster.admin(nodeId).groupStatus(groupId, 2_000);
    found.set(nodeId, Number(status.appliedIndex));
  }
  return found;
}

describe("a reshard while a node is dead", () => {
  it("leaves every shard group with identical committed logs on all three nodes after it returns", async () => {
    const client = cluster.streams(ALIVE_NODE);
    await client.createActiveStream({ streamName: STREAM_NAME, shardCount: 2 });
    await put(200, "before");
    await cluster.kill(DEAD_NODE, "SIGKILL");

    const shards = await listAllShards(client, STREAM_NAME);
    const first = shards[0] as streams.Shard;
    await client.splitShard({
      streamName: STREAM_NAME,
      shardToSplit: first.shardId,
      newStartingHashKey: (
        (BigInt(first.hashKeyRange?.startingHashKey ?? "0") +
          BigInt(first.hashKeyRange?.endingHashKey ?? "0")) /
        2n
      ).toString(),
    });
    await client.waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE, 60_000);
    await put(300, "split");
    const open = (await listAllShards(client, STREAM_NAME))
      .filter((shard) => shard.sequenceNumberRange?.endingSequenceNumber === "")
      .sort((a, b) =>
        BigInt(a.hashKeyRange?.startingHashKey ?? "0") < BigInt(b.hashKeyRange?.startingHashKey ?? "0")
          ? -1
          : 1,
      );
    await client.mergeShards({
      streamName: STREAM_NAME,
      shardToMerge: (open[0] as streams.Shard).shardId,
      adjacentShardToMerge: (open[1] as streams.Shard).shardId,
    });
    await client.waitStreamStatus(STREAM_NAME, streams.StreamStatus.STREAM_STATUS_ACTIVE, 60_000);
    await put(300, "merge");

    await cluster.restart(DEAD_NODE);
    const groups = await shardGroupIds(cluster);
    // 2 original shards, 2 split children, 1 merge child (and no others: a fresh cluster).
    expect(groups.length).toBeGreaterThanOrEqual(5);
    for (const groupId of groups) {
      const indexes = await waitFor(
        async () => {
          const found = await commitIndexes(groupId).catch(() => undefined);
          return found !== undefined && new Set(found.values()).size === 1 ? found : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 200, what: `group ${groupId} applied to one index on all nodes` },
      );
      const upTo = indexes.get(ALIVE_NODE) ?? 0;
      const firsts = new Set<number>();
      const sums = new Set<string>();
      for (const nodeId of cluster.nodeIds) {
        firsts.add(Number((await cluster.admin(nodeId).groupStatus(groupId)).firstIndex));
        sums.add((await cluster.admin(nodeId).logChecksum(groupId, upTo)).checksum);
      }
      expect({ groupId, firstIndexes: [...firsts], checksums: sums.size }).toEqual({
        groupId,
        firstIndexes: [1],
        checksums: 1,
      });
    }
  }, 240_000);
});
