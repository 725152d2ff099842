/**
 * A one-shard ON_DEMAND stream for benchmarks and tests that need to know which node leads the
 * shard (to send through the leader's gateway, or through a follower's).
 */
import { streams } from "@sluice/proto";
import type { TestCluster } from "./cluster.js";
import { shardGroupIds } from "./read-shard.js";

const STREAM_ACTIVE_TIMEOUT_MS = 120_000;

export interface SingleShardStream {
  /** The Raft group of the stream's shard. */
  readonly groupId: number;
  /** The node that leads it now. */
  readonly leader: number;
}

/**
 * Creates the one-shard ON_DEMAND stream `streamName`, waits until every node of `cluster`
 * describes it ACTIVE, and returns its shard's Raft group and that group's leader.
 */
export async function createSingleShardStream(
  cluster: TestCluster,
  streamName: string,
): Promise<SingleShardStream> {
  const before = new Set(await shardGroupIds(cluster));
  await cluster.streams(cluster.nodeIds[0] ?? 1).createActiveStream(
    {
      streamName,
      shardCount: 1,
      streamModeDetails: { streamMode: streams.StreamMode.STREAM_MODE_ON_DEMAND },
    },
    STREAM_ACTIVE_TIMEOUT_MS,
  );
  for (const nodeId of cluster.nodeIds) {
    await cluster
      .streams(nodeId)
      .waitStreamStatus(streamName, streams.StreamStatus.STREAM_STATUS_ACTIVE, STREAM_ACTIVE_TIMEOUT_MS);
  }
  const groupId = (await shardGroupIds(cluster)).find((group) => !before.has(group));
  if (groupId === undefined) throw new Error(`the shard group of ${streamName} was not found`);
  return { groupId, leader: await cluster.leaderOf(groupId) };
}
