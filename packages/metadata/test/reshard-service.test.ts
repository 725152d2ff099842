// Proves resharding end to end on three real brokers: SplitShard, MergeShards and UpdateShardCount 4 → 8 → 4 → 3 reach their target with Kinesis lineage, parents closed at their groups' applied seal index and children's sequenceIndexBase above it; a controller killed mid-reshard is replaced and the round completes; refused requests change nothing.
import { afterEach, describe, expect, it } from "vitest";
import {
  InvalidArgumentError,
  ShardClosedError,
  ShardNotFoundError,
  StreamInUseError,
} from "../src/errors.js";
import { splitHashKeySpace } from "../src/hash-range.js";
import { encodeSnapshot } from "../src/snapshot.js";
import { isOpenShard, type ShardInfo, type StreamInfo } from "../src/state.js";
import { MetadataCluster, type TestNode, waitFor } from "./metadata-cluster.js";

let cluster: MetadataCluster | undefined;

afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const RESHARD_TIMEOUT_MS = 20_000;

async function activeEverywhere(c: MetadataCluster, streamName: string): Promise<void> {
  await waitFor(
    () => c.running().every((n) => n.service.view().stream(streamName)?.status === "ACTIVE"),
    `stream ${streamName} ACTIVE on every node`,
    RESHARD_TIMEOUT_MS,
  );
}

async function createActive(c: MetadataCluster, streamName: string, shardCount: number): Promise<void> {
  await c.node(1).service.createStream({ streamName, shardCount, mode: "PROVISIONED" });
  await activeEverywhere(c, streamName);
}

function streamOn(node: TestNode, streamName: string): StreamInfo {
  const stream = node.service.view().stream(streamName);
  if (stream === undefined) throw new Error(`no stream ${streamName} on node ${node.nodeId}`);
  return stream;
}

function shard(stream: StreamInfo, shardId: string): ShardInfo {
  const found = stream.shards.find((s) => s.shardId === shardId);
  if (found === undefined) throw new Error(`no shard ${shardId}`);
  return found;
}

function openRanges(stream: StreamInfo): { start: string; end: string }[] {
  return stream.shards
    .filter(isOpenShard)
    .map((s) => ({ start: s.hashKeyStart, end: s.hashKeyEnd }))
    .sort((a, b) => (BigInt(a.start) < BigInt(b.start) ? -1 : 1));
}

/**
 * Lineage checks on every running node: each closed shard's endingIndex is its group's applied
 * seal index there, every child's sequenceIndexBase is the largest parent base + ending index,
 * no shard is pending, and every shard's group is held.
 */
function checkLineage(c: MetadataCluster, streamName: string): void {
  for (const node of c.running()) {
    const stream = streamOn(node, streamName);
    expect(stream.reshard).toBeUndefined();
    const local = new Set(node.broker.groupIds());
    for (const s of stream.shards) {
      expect(s.pending).toBeUndefined();
      expect(local.has(s.groupId)).toBe(true);
      if (s.closedAtMs !== undefined) {
        expect(s.endingIndex).toBe(node.broker.groupStatus(s.groupId).sealedIndex);
        expect(s.endingIndex).toBeGreaterThan(0);
      } else {
        expect(node.broker.groupStatus(s.groupId).sealedIndex).toBe(0);
      }
      const parents = [s.parentShardId, s.adjacentParentShardId].filter((p) => p !== undefined);
      const base = Math.max(
        0,
        ...parents.map((p) => {
          const parent = shard(stream, p);
          return parent.sequenceIndexBase + (parent.endingIndex as number);
        }),
      );
      expect(s.sequenceIndexBase).toBe(base);
    }
  }
}

describe("resharding on three brokers", () => {
  it("splits a shard, then merges the two children", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await createActive(c, "orders", 2);
    const follower = await c.follower();
    const [first] = splitHashKeySpace(2) as [{ start: string; end: string }];
    const middle = ((BigInt(first.start) + BigInt(first.end) + 1n) / 2n).toString();
    await follower.service.splitShard({
      streamName: "orders",
      shardToSplit: "shardId-000000000000",
      newStartingHashKey: middle,
    });
    const updating = streamOn(follower, "orders");
    expect(updating.status).toBe("UPDATING");
    expect(updating.reshard).toMatchObject({ kind: "split", round: 1, parents: ["shardId-000000000000"] });
    await activeEverywhere(c, "orders");
    checkLineage(c, "orders");
    let stream = streamOn(follower, "orders");
    expect(shard(stream, "shardId-000000000000").closedAtMs).toBeDefined();
    expect(shard(stream, "shardId-000000000002")).toMatchObject({
      parentShardId: "shardId-000000000000",
      hashKeyStart: first.start,
      hashKeyEnd: (BigInt(middle) - 1n).toString(),
    });
    expect(shard(stream, "shardId-000000000003")).toMatchObject({
      parentShardId: "shardId-000000000000",
      hashKeyStart: middle,
      hashKeyEnd: first.end,
    });
    expect(shard(stream, "shardId-000000000002").sequenceIndexBase).toBeGreaterThan(0);

    await follower.service.mergeShards({
      streamName: "orders",
      shardToMerge: "shardId-000000000003",
      adjacentShardToMerge: "shardId-000000000002",
    });
    await activeEverywhere(c, "orders");
    checkLineage(c, "orders");
    stream = streamOn(follower, "orders");
    expect(shard(stream, "shardId-000000000004")).toMatchObject({
      parentShardId: "shardId-000000000003",
      adjacentParentShardId: "shardId-000000000002",
      hashKeyStart: first.start,
      hashKeyEnd: first.end,
    });
    expect(openRanges(stream)).toEqual(splitHashKeySpace(2));
  });

  it("scales 4 → 8 → 4 → 3 (8 → 3 is below half and refused)", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await createActive(c, "scaled", 4);
    const service = c.node(2).service;
    expect(await service.updateShardCount({ streamName: "scaled", targetShardCount: 8 })).toEqual({
      currentShardCount: 4,
      targetShardCount: 8,
    });
    await activeEverywhere(c, "scaled");
    checkLineage(c, "scaled");
    expect(openRanges(streamOn(c.node(2), "scaled"))).toEqual(splitHashKeySpace(8));

    await expect(
      service.updateShardCount({ streamName: "scaled", targetShardCount: 3 }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await service.updateShardCount({ streamName: "scaled", targetShardCount: 4 });
    await activeEverywhere(c, "scaled");
    expect(openRanges(streamOn(c.node(2), "scaled"))).toEqual(splitHashKeySpace(4));
    await service.updateShardCount({ streamName: "scaled", targetShardCount: 3 });
    await activeEverywhere(c, "scaled");
    checkLineage(c, "scaled");
    expect(openRanges(streamOn(c.node(2), "scaled"))).toEqual(splitHashKeySpace(3));
    // The current count is a no-op that leaves the stream ACTIVE.
    expect(await service.updateShardCount({ streamName: "scaled", targetShardCount: 3 })).toEqual({
      currentShardCount: 3,
      targetShardCount: 3,
    });
    expect(streamOn(c.node(2), "scaled").status).toBe("ACTIVE");
  });

  it("a controller killed during a split is replaced and the round completes", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await createActive(c, "killed", 2);
    const leader = await c.waitForMetadataLeader();
    const proposer = c.running().find((n) => n !== leader) as TestNode;
    await proposer.service.splitShard({
      streamName: "killed",
      shardToSplit: "shardId-000000000001",
      newStartingHashKey: (BigInt((splitHashKeySpace(2)[1] as { start: string }).start) + 12_345n).toString(),
    });
    // Usually still in phase "children" here (the children's groups are electing leaders).
    await c.kill(leader.nodeId);
    await activeEverywhere(c, "killed");
    checkLineage(c, "killed");
    const stream = streamOn(proposer, "killed");
    expect(stream.shards.filter(isOpenShard).map((s) => s.shardId)).toEqual([
      "shardId-000000000000",
      "shardId-000000000002",
      "shardId-000000000003",
    ]);
    // The killed node comes back and converges to the same state.
    const back = await c.open(leader.nodeId);
    await waitFor(
      () => Buffer.from(encodeSnapshot(stateOf(back))).equals(Buffer.from(encodeSnapshot(stateOf(proposer)))),
      "the restarted node to converge",
      RESHARD_TIMEOUT_MS,
    );
  });

  it("a controller killed in phase sealing is replaced and the round completes", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await createActive(c, "sealing", 2);
    // Hold every node's seal back (the real seal runs once released) so the round waits in "sealing".
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    for (const node of c.running()) {
      const seal = node.broker.seal.bind(node.broker);
      node.broker.seal = async (groupId) => {
        await gate;
        return seal(groupId);
      };
    }
    const leader = await c.waitForMetadataLeader();
    const proposer = c.running().find((n) => n !== leader) as TestNode;
    await proposer.service.mergeShards({
      streamName: "sealing",
      shardToMerge: "shardId-000000000000",
      adjacentShardToMerge: "shardId-000000000001",
    });
    await waitFor(
      () => streamOn(leader, "sealing").reshard?.phase === "sealing",
      "the merge to reach phase sealing",
      RESHARD_TIMEOUT_MS,
    );
    await c.kill(leader.nodeId);
    release();
    await activeEverywhere(c, "sealing");
    checkLineage(c, "sealing");
    expect(streamOn(proposer, "sealing").shards.filter(isOpenShard)).toMatchObject([
      {
        shardId: "shardId-000000000002",
        parentShardId: "shardId-000000000000",
        adjacentParentShardId: "shardId-000000000001",
      },
    ]);
  });

  it("refused reshard requests change nothing and carry their typed errors", async () => {
    cluster = await MetadataCluster.start();
    const c = cluster;
    await createActive(c, "bad", 2);
    const service = (await c.follower()).service;
    const [first, second] = splitHashKeySpace(2) as [
      { start: string; end: string },
      { start: string; end: string },
    ];
    await service.splitShard({
      streamName: "bad",
      shardToSplit: "shardId-000000000000",
      newStartingHashKey: first.end,
    });
    // While the split runs the stream is UPDATING: a second reshard is refused.
    await expect(
      service.mergeShards({
        streamName: "bad",
        shardToMerge: "shardId-000000000000",
        adjacentShardToMerge: "shardId-000000000001",
      }),
    ).rejects.toBeInstanceOf(StreamInUseError);
    await activeEverywhere(c, "bad");
    const before = encodeSnapshot(stateOf(c.node(1)));
    const attempts: [Promise<unknown>, new (...args: never[]) => Error][] = [
      [
        service.splitShard({
          streamName: "bad",
          shardToSplit: "shardId-000000000000",
          newStartingHashKey: "1",
        }),
        ShardClosedError,
      ],
      [
        service.splitShard({
          streamName: "bad",
          shardToSplit: "shardId-000000000099",
          newStartingHashKey: "1",
        }),
        ShardNotFoundError,
      ],
      [
        service.splitShard({
          streamName: "bad",
          shardToSplit: "shardId-000000000001",
          newStartingHashKey: second.start,
        }),
        InvalidArgumentError,
      ],
      [
        service.mergeShards({
          streamName: "bad",
          shardToMerge: "shardId-000000000002",
          adjacentShardToMerge: "shardId-000000000001",
        }),
        InvalidArgumentError,
      ],
      [service.updateShardCount({ streamName: "bad", targetShardCount: 7 }), InvalidArgumentError],
    ];
    for (const [attempt, errorClass] of attempts) await expect(attempt).rejects.toBeInstanceOf(errorClass);
    await waitFor(
      () => c.running().every((n) => n.service.view().appliedIndex >= service.view().appliedIndex),
      "every node to apply the refused commands",
    );
    for (const node of c.running()) {
      expect(Buffer.from(encodeSnapshot(stateOf(node))).equals(Buffer.from(before))).toBe(true);
    }
  });
});

/** The state behind a node's current view (the snapshot encoder takes a state; a view has the same fields). */
function stateOf(node: TestNode): Parameters<typeof encodeSnapshot>[0] {
  const view = node.service.view();
  return {
    clusterSecretHex: view.clusterSecret.toString("hex"),
    nextGroupId: view.nextGroupId,
    nextStreamId: view.nextStreamId,
    nodes: view.nodes,
    streams: view.streams,
  };
}
