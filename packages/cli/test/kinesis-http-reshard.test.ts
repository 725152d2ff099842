// Proves resharding through the AWS SDK v3 against a real three-node cluster's Kinesis HTTP API:
// SplitShard, MergeShards and UpdateShardCount succeed; ListShards shows the lineage
// (ParentShardId, AdjacentParentShardId, EndingSequenceNumber of closed shards) and filters it;
// reading a drained parent ends without NextShardIterator and with ChildShards naming its children.
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
  UpdateShardCountCommand,
} from "@aws-sdk/client-kinesis";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19148-19159.
const BASE_PORT = 19_148;
const STREAM = `sdk-reshard-${process.pid}`;
const HALF = (1n << 127n).toString();
const PARENT = "shardId-000000000000";

let cluster: TestCluster;
let client: KinesisClient;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new KinesisClient({
    endpoint: `http://127.0.0.1:${cluster.ports(1).http}`,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
    requestHandler: new NodeHttp2Handler(),
  });
}, 60_000);
afterAll(async () => {
  client?.destroy();
  await cluster?.stop();
}, 60_000);

async function waitActive(): Promise<void> {
  await waitFor(
    async () =>
      (await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }))).StreamDescriptionSummary
        ?.StreamStatus === "ACTIVE",
    { timeoutMs: 30_000, what: `stream ${STREAM} to be ACTIVE` },
  );
}

describe("resharding through the Kinesis HTTP API", () => {
  it("splits, merges and scales with the lineage visible to ListShards and GetRecords", async () => {
    await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
    await waitActive();
    const put = await client.send(
      new PutRecordsCommand({
        StreamName: STREAM,
        Records: Array.from({ length: 20 }, (_, k) => ({
          PartitionKey: `key-${k}`,
          Data: Buffer.from(`r${k}`),
        })),
      }),
    );
    expect(put.FailedRecordCount).toBe(0);

    await client.send(
      new SplitShardCommand({ StreamName: STREAM, ShardToSplit: PARENT, NewStartingHashKey: HALF }),
    );
    await waitActive();
    const afterSplit = (await client.send(new ListShardsCommand({ StreamName: STREAM }))).Shards ?? [];
    expect(afterSplit.map((shard) => shard.ShardId)).toEqual([
      PARENT,
      "shardId-000000000001",
      "shardId-000000000002",
    ]);
    expect(afterSplit[0]?.SequenceNumberRange?.EndingSequenceNumber).toMatch(/^\d+$/);
    expect(afterSplit[1]).toMatchObject({ ParentShardId: PARENT, HashKeyRange: { StartingHashKey: "0" } });
    expect(afterSplit[2]).toMatchObject({ ParentShardId: PARENT, HashKeyRange: { StartingHashKey: HALF } });
    expect(afterSplit[1]).not.toHaveProperty("AdjacentParentShardId");

    // The parent, read to its end: every record, then no NextShardIterator and the children.
    let iterator = (
      await client.send(
        new GetShardIteratorCommand({
          StreamName: STREAM,
          ShardId: PARENT,
          ShardIteratorType: "TRIM_HORIZON",
        }),
      )
    ).ShardIterator;
    let count = 0;
    let last: GetRecordsCommandOutput | undefined;
    for (let guard = 0; iterator !== undefined && guard < 100; guard++) {
      last = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
      count += last.Records?.length ?? 0;
      iterator = last.NextShardIterator;
    }
    expect(count).toBe(20);
    expect(last).not.toHaveProperty("NextShardIterator");
    expect(last?.ChildShards?.map((child) => child.ShardId).sort()).toEqual([
      "shardId-000000000001",
      "shardId-000000000002",
    ]);
    expect(last?.ChildShards?.[0]?.ParentShards).toEqual([PARENT]);

    await client.send(
      new MergeShardsCommand({
        StreamName: STREAM,
        ShardToMerge: "shardId-000000000001",
        AdjacentShardToMerge: "shardId-000000000002",
      }),
    );
    await waitActive();
    const latest = (
      await client.send(new ListShardsCommand({ StreamName: STREAM, ShardFilter: { Type: "AT_LATEST" } }))
    ).Shards;
    expect(latest).toHaveLength(1);
    expect(latest?.[0]).toMatchObject({
      ShardId: "shardId-000000000003",
      ParentShardId: "shardId-000000000001",
      AdjacentParentShardId: "shardId-000000000002",
      HashKeyRange: { StartingHashKey: "0", EndingHashKey: ((1n << 128n) - 1n).toString() },
    });

    const scaled = await client.send(
      new UpdateShardCountCommand({
        StreamName: STREAM,
        TargetShardCount: 2,
        ScalingType: "UNIFORM_SCALING",
      }),
    );
    expect(scaled).toMatchObject({ StreamName: STREAM, CurrentShardCount: 1, TargetShardCount: 2 });
    expect(scaled.StreamARN).toContain(`:stream/${STREAM}`);
    await waitActive();
    const open = (
      await client.send(new ListShardsCommand({ StreamName: STREAM, ShardFilter: { Type: "AT_LATEST" } }))
    ).Shards;
    expect(open).toHaveLength(2);

    const closed = await client
      .send(new SplitShardCommand({ StreamName: STREAM, ShardToSplit: PARENT, NewStartingHashKey: HALF }))
      .then(
        () => undefined,
        (error: Error) => error.name,
      );
    expect(closed).toBe("InvalidArgumentException");
  }, 90_000);
});
