// Proves that a fresh cluster holds no one-replica shard group (finding 6 of docs/fault-injection.md):
// starting the nodes creates no stream (the delivery definitions stream once was, on the only node
// registered yet), and a stream created as soon as every node serves has each shard group on all
// three nodes, with the three of them as voters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCluster, type TestCluster } from "../src/cluster.js";
import { SHARD_GROUP_ID_MIN } from "../src/constants.js";

const BASE_PORT = 21_280;

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

describe("a fresh cluster's Raft groups", () => {
  it("hosts only the metadata group, then three-replica groups for a new stream", async () => {
    for (const nodeId of cluster.nodeIds) {
      expect((await cluster.admin(nodeId).nodeStatus()).groupIds).toEqual([0]);
    }
    expect((await cluster.streams(1).listStreams({})).streamNames).toEqual([]);

    await cluster.streams(1).createActiveStream({ streamName: "fresh", shardCount: 2 });
    const expected = [SHARD_GROUP_ID_MIN, SHARD_GROUP_ID_MIN + 1];
    for (const nodeId of cluster.nodeIds) {
      const admin = cluster.admin(nodeId);
      expect((await admin.nodeStatus()).groupIds.filter((id) => id !== 0).sort()).toEqual(expected);
      for (const groupId of expected) {
        expect([...(await admin.groupStatus(groupId)).voters].sort()).toEqual([1, 2, 3]);
      }
    }
  });
});
