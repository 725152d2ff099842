// Proves the metadata service on three real brokers: proposals from followers, the controller making streams ACTIVE, every node's reconciler creating and removing shard replicas, group-0 failover, and a restarted node converging to the same state.
import { afterEach, describe, expect, it } from "vitest";
import { encodeCommand } from "../src/commands.js";
import {
  ConsumerNotFoundError,
  MetadataError,
  MetadataUnavailableError,
  StreamExistsError,
  StreamNotFoundError,
} from "../src/errors.js";
import { MetadataCluster, type TestNode, waitFor } from "./metadata-cluster.js";

let cluster: MetadataCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

function hasGroups(node: TestNode, groupIds: readonly number[]): boolean {
  const local = new Set(node.broker.groupIds());
  return groupIds.every((g) => local.has(g));
}

function hasNoneOf(node: TestNode, groupIds: readonly number[]): boolean {
  const local = new Set(node.broker.groupIds());
  return groupIds.every((g) => !local.has(g));
}

async function activeEverywhere(c: MetadataCluster, streamName: string): Promise<void> {
  await waitFor(
    () => c.running().every((n) => n.service.view().stream(streamName)?.status === "ACTIVE"),
    `stream ${streamName} ACTIVE on every node`,
  );
}

describe("MetadataService on three brokers", () => {
  it("initializes the cluster once and registers every node", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    const view = await c.node(1).service.consistentView();
    expect(view.clusterSecret.length).toBe(32);
    expect([...view.nodes.keys()].sort()).toEqual([1, 2, 3]);
    for (const node of c.running()) {
      const v = await node.service.consistentView();
      expect(v.clusterSecret.equals(view.clusterSecret)).toBe(true);
    }
    await waitFor(() => c.running().filter((n) => n.service.controllerActive).length === 1, "one controller");
    expect(c.metadataLeader()?.service.controllerActive).toBe(true);
  });

  it("creates a stream from a follower; it turns ACTIVE and every node holds its shard groups; delete removes them", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    const follower = await c.follower();
    const created = await follower.service.createStream({
      streamName: "orders",
      shardCount: 3,
      mode: "PROVISIONED",
      tags: { team: "a" },
    });
    expect(created).toEqual({
      streamName: "orders",
      streamArn: "arn:aws:kinesis:local:000000000000:stream/orders",
      streamId: 1,
    });
    // Applied on the proposer's node before the call returned.
    const stream = follower.service.view().stream("orders");
    expect(stream?.shards).toHaveLength(3);
    const groups = stream?.shards.map((s) => s.groupId) ?? [];
    await activeEverywhere(c, "orders");
    await waitFor(
      () => c.running().every((n) => hasGroups(n, groups)),
      "every node to hold the shard groups",
    );
    for (const groupId of groups) {
      await waitFor(
        () => c.running().some((n) => n.broker.groupStatus(groupId).role === "leader"),
        `group ${groupId} leader`,
      );
    }

    await expect(
      follower.service.createStream({ streamName: "orders", shardCount: 1, mode: "PROVISIONED" }),
    ).rejects.toBeInstanceOf(StreamExistsError);

    await follower.service.deleteStream({ streamName: "orders" });
    await waitFor(
      () => c.running().every((n) => n.service.view().stream("orders") === undefined),
      "the stream removed everywhere",
    );
    await waitFor(
      () => c.running().every((n) => hasNoneOf(n, groups)),
      "every node to remove the shard groups",
    );
    await expect(follower.service.deleteStream({ streamName: "orders" })).rejects.toBeInstanceOf(
      StreamNotFoundError,
    );
  });

  it("runs stream and consumer commands from any node", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    const follower = await c.follower();
    await c.node(1).service.createStream({ streamName: "s", mode: "ON_DEMAND" });
    await activeEverywhere(c, "s");
    await follower.service.increaseRetention({ streamName: "s", hours: 48 });
    await follower.service.decreaseRetention({ streamName: "s", hours: 36 });
    await follower.service.addTags({ streamName: "s", tags: { a: "1", b: "2" } });
    await follower.service.removeTags({ streamName: "s", tagKeys: ["a"] });
    await follower.service.updateStreamMode({ streamName: "s", mode: "PROVISIONED" });
    const consumer = await follower.service.registerConsumer({ streamName: "s", consumerName: "app" });
    expect(consumer.consumerArn).toMatch(/^arn:aws:kinesis:local:000000000000:stream\/s\/consumer\/app:\d+$/);
    const view = follower.service.view().stream("s");
    expect(view).toMatchObject({ retentionHours: 36, mode: "PROVISIONED" });
    expect([...(view?.tags ?? [])]).toEqual([["b", "2"]]);
    await waitFor(
      () => c.running().every((n) => n.service.view().stream("s")?.consumers[0]?.status === "ACTIVE"),
      "the consumer ACTIVE",
    );
    await follower.service.deregisterConsumer({ consumerArn: consumer.consumerArn });
    await waitFor(
      () => c.running().every((n) => n.service.view().stream("s")?.consumers.length === 0),
      "the consumer removed",
    );
    await expect(
      follower.service.deregisterConsumer({ consumerArn: consumer.consumerArn }),
    ).rejects.toBeInstanceOf(ConsumerNotFoundError);
  });

  it("survives the loss of group 0's leader: the controller moves and streams still turn ACTIVE", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    const oldLeader = await c.waitForMetadataLeader();
    await oldLeader.service.createStream({ streamName: "before", shardCount: 2, mode: "PROVISIONED" });
    await activeEverywhere(c, "before");
    await c.kill(oldLeader.nodeId);
    const newLeader = await c.waitForMetadataLeader();
    expect(newLeader.nodeId).not.toBe(oldLeader.nodeId);
    await waitFor(() => newLeader.service.controllerActive, "the controller on the new leader");
    const survivor = c.running().find((n) => n !== newLeader) as TestNode;
    await survivor.service.createStream({ streamName: "after", shardCount: 2, mode: "PROVISIONED" });
    await activeEverywhere(c, "after");
    await survivor.service.deleteStream({ streamName: "before" });
    await waitFor(
      () => c.running().every((n) => n.service.view().stream("before") === undefined),
      "before removed",
    );
  });

  it("a restarted node restores its snapshot, replays, catches up and converges to the same state", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    const leader = await c.waitForMetadataLeader();
    await leader.service.createStream({ streamName: "kept", shardCount: 2, mode: "PROVISIONED" });
    // Enough entries for every replica to take a snapshot and compact its log (refused no-ops are entries too).
    const noop = encodeCommand({
      type: "DeleteStream",
      streamName: "missing",
      enforceConsumerDeletion: false,
    });
    for (let batch = 0; batch < 6; batch++) {
      await Promise.all(Array.from({ length: 200 }, () => leader.broker.propose(0, noop)));
    }
    await waitFor(
      () => c.running().every((n) => n.broker.groupStatus(0).firstIndex > 1),
      "every replica of group 0 to compact behind a snapshot",
    );
    const restarted = c.running().find((n) => n !== leader) as TestNode;
    await c.kill(restarted.nodeId);
    await leader.service.createStream({ streamName: "while-down", shardCount: 1, mode: "PROVISIONED" });
    await leader.service.deleteStream({ streamName: "kept" });
    const back = await c.open(restarted.nodeId);
    await waitFor(
      () =>
        back.stateMachine.appliedIndex >= leader.stateMachine.appliedIndex &&
        leader.service.view().stream("kept") === undefined,
      "the restarted node to catch up",
    );
    await activeEverywhere(c, "while-down");
    await waitFor(
      () => back.stateMachine.appliedIndex === leader.stateMachine.appliedIndex,
      "both replicas at the same applied index",
    );
    expect(
      Buffer.from(back.stateMachine.snapshot()).equals(Buffer.from(leader.stateMachine.snapshot())),
    ).toBe(true);
    const groups =
      back.service
        .view()
        .stream("while-down")
        ?.shards.map((s) => s.groupId) ?? [];
    await waitFor(() => hasGroups(back, groups), "the restarted node to hold the new stream's group");
    await waitFor(
      () => back.broker.groupIds().every((g) => g === 0 || groups.includes(g)),
      "the deleted stream's groups gone",
    );
  });

  it("refuses to create shards until enough members registered to give each shard three replicas", async () => {
    const c = new MetadataCluster();
    cluster = c;
    await Promise.all([c.open(1), c.open(2)]);
    const early = await c
      .node(1)
      .service.createStream({ streamName: "early", shardCount: 1, mode: "PROVISIONED" })
      .catch((error: unknown) => error);
    expect(early).toBeInstanceOf(MetadataUnavailableError);
    expect((early as MetadataUnavailableError).retriable).toBe(true);
    expect((early as Error).message).toMatch(/2 of the cluster's 3 nodes have registered/);
    expect(c.node(1).service.view().stream("early")).toBeUndefined();
    await c.open(3);
    await c.node(1).service.createStream({ streamName: "early", shardCount: 2, mode: "PROVISIONED" });
    const shards = c.node(1).service.view().stream("early")?.shards ?? [];
    expect(shards.map((shard) => [...shard.replicas].sort())).toEqual([
      [1, 2, 3],
      [1, 2, 3],
    ]);
  });

  it("fails a proposal with a retriable error when group 0 has no quorum", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await c.kill(3);
    const node = await c.open(3, { proposeTimeoutMs: 300 });
    await c.kill(1);
    await c.kill(2);
    const error = await node.service
      .createStream({ streamName: "s", shardCount: 1, mode: "PROVISIONED" })
      .catch((e) => e);
    expect(error).toBeInstanceOf(MetadataError);
    expect(error.retriable).toBe(true);
    expect(["METADATA_UNAVAILABLE", "METADATA_TIMEOUT"]).toContain(error.code);
  });
});
