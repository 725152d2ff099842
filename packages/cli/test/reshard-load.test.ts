// Proves that resharding under a steady keyed load (several producers on the three nodes, 10,000
// keys, each record carrying its key's counter) loses nothing and reorders nothing: after a
// split, a merge and UpdateShardCount 4 → 8 → 4 → 3 (8 → 3 refused, changing nothing), a reader
// that drains parents before children finds every acknowledged record, each key's in
// acknowledgement order across parent → child boundaries.
import {
  checkKeyedRecords,
  evenHashKeyRanges,
  KeyedLoad,
  type KeyedLoadResult,
  listAllShards,
  readStreamByLineage,
  StreamsCallError,
  startCluster,
  type TestCluster,
  waitFor,
} from "@sluice/harness";
import { streams } from "@sluice/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19400-19411.
const BASE_PORT = 19_400;
const STREAM_NAME = "reshard-load";
const KEYS = 10_000;
/** The issue's rate; the achieved rate is printed (the 2-core machine may not sustain it). */
const RECORDS_PER_SECOND = 5_000;
/** Two producers per node. */
const PRODUCERS = 6;
/** Records that must be acknowledged between two reshards, so that each one runs under load. */
const RECORDS_BETWEEN_RESHARDS = 2_000;
const ACTIVE_TIMEOUT_MS = 60_000;
const UNIFORM = streams.ScalingType.SCALING_TYPE_UNIFORM_SCALING;
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

function isOpen(shard: streams.Shard): boolean {
  return (shard.sequenceNumberRange?.endingSequenceNumber ?? "") === "";
}

function rangeOf(shard: streams.Shard): { start: bigint; end: bigint } {
  return {
    start: BigInt(shard.hashKeyRange?.startingHashKey ?? "-1"),
    end: BigInt(shard.hashKeyRange?.endingHashKey ?? "-1"),
  };
}

/** The open shards' ranges, ascending: they must tile the hash key space. */
function openRanges(shards: readonly streams.Shard[]): { start: bigint; end: bigint }[] {
  return shards
    .filter(isOpen)
    .map(rangeOf)
    .sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** Waits until the load has acknowledged `count` more records than now. */
async function moreAcknowledged(what: string, count = RECORDS_BETWEEN_RESHARDS): Promise<void> {
  const target = (load?.acknowledged ?? 0) + count;
  await waitFor(() => (load?.acknowledged ?? 0) >= target, {
    timeoutMs: 30_000,
    intervalMs: 50,
    what: `${count} more acknowledged records ${what}`,
  });
}

/** Runs one reshard call, waits for ACTIVE on the node it was sent to, and returns the shards. */
async function reshard(what: string, call: () => Promise<unknown>): Promise<streams.Shard[]> {
  const client = cluster.streams(1);
  const startedAt = Date.now();
  await call();
  await client.waitStreamStatus(STREAM_NAME, ACTIVE, ACTIVE_TIMEOUT_MS);
  const shards = await listAllShards(client, STREAM_NAME);
  console.log(
    `reshard-load: ${what} ACTIVE after ${Date.now() - startedAt} ms, ${shards.filter(isOpen).length} open of ${shards.length} shards, ${load?.acknowledged ?? 0} acknowledged so far`,
  );
  return shards;
}

describe("resharding under a steady keyed load", () => {
  it("keeps every acknowledged record, once, in each key's acknowledgement order", async () => {
    const client = cluster.streams(1);
    await client.createActiveStream({ streamName: STREAM_NAME, shardCount: 4 });
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
    await moreAcknowledged("before the first reshard");

    // Split the first shard in the middle of its range.
    const first = (await listAllShards(client, STREAM_NAME))[0] as streams.Shard;
    const firstRange = rangeOf(first);
    let shards = await reshard("SplitShard", () =>
      client.splitShard({
        streamName: STREAM_NAME,
        shardToSplit: first.shardId,
        newStartingHashKey: ((firstRange.start + firstRange.end + 1n) / 2n).toString(),
      }),
    );
    expect(shards.filter(isOpen)).toHaveLength(5);
    await moreAcknowledged("after the split");

    // Merge the two original shards after it (1 and 2 are adjacent).
    shards = await reshard("MergeShards", () =>
      client.mergeShards({
        streamName: STREAM_NAME,
        shardToMerge: "shardId-000000000001",
        adjacentShardToMerge: "shardId-000000000002",
      }),
    );
    expect(shards.filter(isOpen)).toHaveLength(4);
    await moreAcknowledged("after the merge");

    shards = await reshard("UpdateShardCount 4 → 8", () =>
      client.updateShardCount({ streamName: STREAM_NAME, targetShardCount: 8, scalingType: UNIFORM }),
    );
    expect(openRanges(shards)).toEqual(evenHashKeyRanges(8));
    await moreAcknowledged("at 8 shards");

    // 8 → 3 is below half the open shards: refused, and nothing changes.
    const before = await client.describeStream({ streamName: STREAM_NAME });
    const refused = await client
      .updateShardCount({ streamName: STREAM_NAME, targetShardCount: 3, scalingType: UNIFORM })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(StreamsCallError);
    expect((refused as StreamsCallError).errorName).toBe("InvalidArgumentException");
    const after = await client.describeStream({ streamName: STREAM_NAME });
    expect(after.streamDescription?.streamStatus).toBe(ACTIVE);
    expect(after).toEqual(before);

    shards = await reshard("UpdateShardCount 8 → 4", () =>
      client.updateShardCount({ streamName: STREAM_NAME, targetShardCount: 4, scalingType: UNIFORM }),
    );
    expect(openRanges(shards)).toEqual(evenHashKeyRanges(4));
    await moreAcknowledged("at 4 shards");
    shards = await reshard("UpdateShardCount 4 → 3", () =>
      client.updateShardCount({ streamName: STREAM_NAME, targetShardCount: 3, scalingType: UNIFORM }),
    );
    expect(openRanges(shards)).toEqual(evenHashKeyRanges(3));
    await moreAcknowledged("at 3 shards");

    const result: KeyedLoadResult = await load.stop();
    load = undefined;
    console.log(
      `reshard-load: ${result.acknowledged} records acknowledged in ${(result.elapsedMs / 1_000).toFixed(1)} s = ${Math.round(result.recordsPerSecond)} records/s (target ${RECORDS_PER_SECOND}); ${result.failedRecords} failed records and ${result.failedCalls} failed calls sent again (${[...result.errors].map(([name, n]) => `${name} ×${n}`).join(", ") || "none"}); longest ack gap per producer ${result.producers.map((p) => Math.round(p.longestAckGapMs)).join("/")} ms`,
    );

    const read = await readStreamByLineage(client, STREAM_NAME, { timeoutMs: 60_000 });
    const listed = await listAllShards(client, STREAM_NAME);
    expect(read.map((shard) => shard.shard.shardId).sort()).toEqual(
      listed.map((shard) => shard.shardId).sort(),
    );
    // Every closed shard ends with ChildShards naming exactly the shards listed as its children,
    // and every record of a child is above its parents' EndingSequenceNumber.
    const endingOf = new Map(
      listed.map((shard) => [shard.shardId, BigInt(shard.sequenceNumberRange?.endingSequenceNumber || "0")]),
    );
    for (const shard of read) {
      const children = listed
        .filter(
          (s) => s.parentShardId === shard.shard.shardId || s.adjacentParentShardId === shard.shard.shardId,
        )
        .map((s) => s.shardId);
      expect(shard.childShards.map((child) => child.shardId).sort(), shard.shard.shardId).toEqual(
        children.sort(),
      );
      expect(shard.closed, shard.shard.shardId).toBe(children.length > 0);
      const ending = endingOf.get(shard.shard.shardId) ?? 0n;
      for (const record of shard.records) {
        const sequence = BigInt(record.sequenceNumber);
        if (shard.closed) expect(sequence < ending).toBe(true);
        for (const parent of [shard.shard.parentShardId, shard.shard.adjacentParentShardId]) {
          if (parent !== "") expect(sequence > (endingOf.get(parent) ?? 0n)).toBe(true);
        }
      }
    }

    // A producer sends a key's next record only after the previous one is acknowledged, and
    // sends a failed record again with the same counter. A record whose first attempt was stored
    // although its call failed (a deadline, a node that dropped the connection) is therefore
    // stored twice, right after itself: an adjacent duplicate, which at-least-once Kinesis
    // producers see too. Any other repetition or gap is a lost or reordered record: a failure.
    const check = checkKeyedRecords(
      read.flatMap((shard) => shard.records.map((record) => record.data)),
      result,
    );
    console.log(
      `reshard-load: read ${check.records} records over ${read.length} shards by lineage: ${check.missing} missing, ${check.outOfOrder} out of order, ${check.adjacentDuplicates} adjacent duplicates, ${check.unconfirmedStored} unconfirmed records stored`,
    );
    expect(check.problems).toEqual([]);
    expect(check.missing).toBe(0);
    expect(check.outOfOrder).toBe(0);
    expect(check.records).toBe(result.acknowledged + check.adjacentDuplicates + check.unconfirmedStored);
  }, 150_000);
});
