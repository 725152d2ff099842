/**
 * Reading a whole shard through the public API (GetShardIterator TRIM_HORIZON, then GetRecords
 * until caught up), and finding the Raft groups that hold a cluster's shards; for tests that
 * check what was acknowledged against what is readable.
 */
import { streams } from "@sluice/proto";
import type { TestCluster } from "./cluster.js";
import {
  READ_SHARD_PAGE_RECORDS_MAX,
  READ_SHARD_THROTTLE_BACKOFF_MS,
  SHARD_GROUP_ID_MIN,
} from "./constants.js";
import { StreamsCallError, type StreamsClient } from "./streams-client.js";

export interface ReadShardOptions {
  readonly streamName: string;
  readonly shardId: string;
  /** Give up (throw) when the shard is not read to its end by then. @default 30000 */
  readonly timeoutMs?: number;
}

/**
 * Every record of the shard that `client`'s node can serve now, in shard order: pages of
 * GetRecords from TRIM_HORIZON until a page comes back empty with MillisBehindLatest 0 (or a
 * closed shard ends). Records committed after that are not included, so call it once writes
 * have stopped, or inside `waitFor` until the expected records are all there. A throttled call
 * (ProvisionedThroughputExceededException) is tried again after a short pause.
 */
export async function readShard(client: StreamsClient, options: ReadShardOptions): Promise<streams.Record[]> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  const remaining = (): number => Math.max(1, deadline - Date.now());
  const records: streams.Record[] = [];
  let iterator = (
    await client.getShardIterator(
      {
        streamName: options.streamName,
        shardId: options.shardId,
        shardIteratorType: streams.ShardIteratorType.SHARD_ITERATOR_TYPE_TRIM_HORIZON,
      },
      remaining(),
    )
  ).shardIterator;
  for (;;) {
    if (Date.now() > deadline) {
      throw new Error(
        `reading ${options.streamName}/${options.shardId} on ${client.address} did not reach the end within ${options.timeoutMs ?? 30_000} ms (${records.length} records so far)`,
      );
    }
    let page: streams.GetRecordsResponse;
    try {
      page = await client.getRecords(
        { shardIterator: iterator, limit: READ_SHARD_PAGE_RECORDS_MAX },
        remaining(),
      );
    } catch (error) {
      if (error instanceof StreamsCallError && error.errorName === "ProvisionedThroughputExceededException") {
        await new Promise((resolve) => setTimeout(resolve, READ_SHARD_THROTTLE_BACKOFF_MS));
        continue;
      }
      throw error;
    }
    records.push(...page.records);
    if (page.nextShardIterator === "") return records;
    iterator = page.nextShardIterator;
    if (page.records.length === 0 && page.millisBehindLatest === 0) return records;
  }
}

/**
 * The ids of the shard groups (≥ SHARD_GROUP_ID_MIN) that any running node of the cluster hosts,
 * ascending. In a fresh cluster with one stream, element i holds shard i.
 */
export async function shardGroupIds(cluster: TestCluster): Promise<number[]> {
  const ids = new Set<number>();
  for (const nodeId of cluster.runningNodeIds()) {
    const status = await cluster.admin(nodeId).nodeStatus();
    for (const id of status.groupIds) if (id >= SHARD_GROUP_ID_MIN) ids.add(id);
  }
  return [...ids].sort((a, b) => a - b);
}
