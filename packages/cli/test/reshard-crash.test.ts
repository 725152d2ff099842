// Proves that a split survives the SIGKILL of the controller's node (group 0's leader) right
// after SplitShard returns: the new controller finishes it, the stream is ACTIVE with the parent
// closed (EndingSequenceNumber) and both children open, the killed node rejoins, and every record
// acknowledged before, during and after is read once, in each key's order, by following lineage.
import {
  checkKeyedRecords,
  KeyedLoad,
  listAllShards,
  readStreamByLineage,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19420-19431.
const BASE_PORT = 19_420;
const STREAM_NAME = "reshard-crash";
const KEYS = 10_000;
/** Below the two shards' 2,000 records/s write limit, so that throttling does not dominate. */
const RECORDS_PER_SECOND = 1_500;
const PRODUCERS = 6;
const RECORDS_PER_PHASE = 2_000;
const PARENT = "shardId-000000000000";
const ACTIVE = streams.StreamStatus.STREAM_STATUS_ACTIVE;

let cluster: TestCluster;
let load: KeyedLoad | undefined;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  await load?.stop();
  await cluster?.stop();
}, 60_000);

async function moreAcknowledged(what: string): Promise<void> {
  const target = (load?.acknowledged ?? 0) + RECORDS_PER_PHASE;
  await waitFor(() => (load?.acknowledged ?? 0) >= target, {
    timeoutMs: 45_000,
    intervalMs: 50,
    what: `${RECORDS_PER_PHASE} more acknowledged records ${what}`,
  });
}

describe("a split interrupted by the controller's crash", () => {
  it("completes on the new controller and keeps every acknowledged record in key order", async () => {
    await cluster.streams(1).createActiveStream({ streamName: STREAM_NAME, shardCount: 2 });
    for (const nodeId of cluster.nodeIds) {
      await cluster.streams(nodeId).waitStreamStatus(STREAM_NAME, ACTIVE);
    }
    load = new KeyedLoad({
      streamName: STREAM_NAME,
      clients: cluster.nodeIds.map((nodeId) => cluster.streams(nodeId)),
      producers: PRODUCERS,
      keys: KEYS,
      recordsPerSecond: RECORDS_PER_SECOND,
    });
    load.start();
    await moreAcknowledged("before the split");

    const controller = await cluster.metadataLeader();
    const survivor = cluster.nodeIds.find((nodeId) => nodeId !== controller) as number;
    const parent = (await listAllShards(cluster.streams(survivor), STREAM_NAME)).find(
      (shard) => shard.shardId === PARENT,
    ) as streams.Shard;
    const start = BigInt(parent.hashKeyRange?.startingHashKey ?? "");
    const end = BigInt(parent.hashKeyRange?.endingHashKey ?? "");
    await cluster.streams(controller).splitShard({
      streamName: STREAM_NAME,
      shardToSplit: PARENT,
      newStartingHashKey: ((start + end + 1n) / 2n).toString(),
    });
    // The controller's own view, one local call later: the split is under way (UPDATING).
    const statusAtKill = (
      await cluster.streams(controller).describeStreamSummary({ streamName: STREAM_NAME })
    ).streamDescriptionSummary?.streamStatus;
    await cluster.kill(controller, "SIGKILL");
    expect(statusAtKill).toBe(streams.StreamStatus.STREAM_STATUS_UPDATING);
    console.log(
      `reshard-crash: killed node ${controller} (the controller) right after SplitShard, while UPDATING`,
    );
    // A survivor's DescribeStreamSummary may fail (retriable) until a new metadata leader serves
    // its read barrier; retry until the stream is ACTIVE.
    const killedAt = Date.now();
    await waitFor(
      async () =>
        (await cluster.streams(survivor).describeStreamSummary({ streamName: STREAM_NAME }, 5_000))
          .streamDescriptionSummary?.streamStatus === ACTIVE,
      { timeoutMs: 60_000, intervalMs: 100, what: `node ${survivor} to describe the stream ACTIVE` },
    );
    console.log(
      `reshard-crash: node ${survivor} describes the stream ACTIVE ${Date.now() - killedAt} ms after the kill`,
    );
    await moreAcknowledged("with the controller's node down");

    await cluster.restart(controller);
    for (const nodeId of cluster.nodeIds) {
      await cluster.streams(nodeId).waitStreamStatus(STREAM_NAME, ACTIVE, 60_000);
    }
    await moreAcknowledged("after the restart");
    const result = await load.stop();
    load = undefined;
    console.log(
      `reshard-crash: ${result.acknowledged} records acknowledged at ${Math.round(result.recordsPerSecond)} records/s; ${result.failedRecords} failed records and ${result.failedCalls} failed calls sent again (${[...result.errors].map(([name, n]) => `${name} ×${n}`).join(", ") || "none"})`,
    );

    // The split is done, the same on every node: parent closed, both children open.
    for (const nodeId of cluster.nodeIds) {
      const shards = await waitFor(
        async () => {
          const listed = await listAllShards(cluster.streams(nodeId), STREAM_NAME);
          return listed.length === 4 ? listed : undefined;
        },
        { timeoutMs: 15_000, what: `node ${nodeId} to list the parent, its sibling and two children` },
      );
      const closed = shards.filter((shard) => shard.sequenceNumberRange?.endingSequenceNumber !== "");
      expect(closed.map((shard) => shard.shardId)).toEqual([PARENT]);
      const children = shards.filter((shard) => shard.parentShardId === PARENT);
      expect(children).toHaveLength(2);
      expect(children.map((child) => child.hashKeyRange?.startingHashKey)).toEqual([
        start.toString(),
        ((start + end + 1n) / 2n).toString(),
      ]);
    }
    // Acknowledged in the parent (before the seal), its sibling and both children.
    expect(result.shards.size).toBe(4);

    const read = await readStreamByLineage(cluster.streams(survivor), STREAM_NAME, { timeoutMs: 60_000 });
    expect(read.find((shard) => shard.shard.shardId === PARENT)?.childShards).toHaveLength(2);
    // Adjacent duplicates are tolerated (see reshard-load.test.ts): a record whose call failed
    // when the node died may have been stored before it is sent again with the same counter.
    const check = checkKeyedRecords(
      read.flatMap((shard) => shard.records.map((record) => record.data)),
      result,
    );
    console.log(
      `reshard-crash: read ${check.records} records by lineage: ${check.missing} missing, ${check.outOfOrder} out of order, ${check.adjacentDuplicates} adjacent duplicates, ${check.unconfirmedStored} unconfirmed records stored`,
    );
    expect(check.problems).toEqual([]);
    expect(check.missing).toBe(0);
    expect(check.outOfOrder).toBe(0);
    expect(check.records).toBe(result.acknowledged + check.adjacentDuplicates + check.unconfirmedStored);
  }, 150_000);
});
