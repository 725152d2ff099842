// Proves that the unmodified AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis) works against a
// real three-node cluster's Kinesis HTTP API, over HTTP/1.1 and over h2c: every data-plane and
// control-plane operation answers with the shapes the SDK expects (blobs, timestamps as Dates,
// enums as Kinesis strings, absent members left out), pagination works, and errors reach the
// SDK with the Kinesis error name as `error.name`.
import {
  type _Record,
  AddTagsToStreamCommand,
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteStreamCommand,
  DeregisterStreamConsumerCommand,
  DescribeLimitsCommand,
  DescribeStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  IncreaseStreamRetentionPeriodCommand,
  KinesisClient,
  ListShardsCommand,
  ListStreamConsumersCommand,
  ListStreamsCommand,
  ListTagsForStreamCommand,
  PutRecordCommand,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  RemoveTagsFromStreamCommand,
  UpdateStreamModeCommand,
} from "@aws-sdk/client-kinesis";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19100-19111.
const BASE_PORT = 19_100;

let cluster: TestCluster;
const clients: KinesisClient[] = [];
let counter = 0;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
}, 60_000);
afterAll(async () => {
  for (const client of clients) client.destroy();
  await cluster?.stop();
}, 60_000);

/** An SDK client of node `nodeId`'s Kinesis port, over HTTP/1.1 or h2c (prior knowledge). */
function kinesis(nodeId: number, protocol: "http1" | "h2c"): KinesisClient {
  const client = new KinesisClient({
    endpoint: `http://127.0.0.1:${cluster.ports(nodeId).http}`,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
    requestHandler: protocol === "h2c" ? new NodeHttp2Handler() : new NodeHttpHandler(),
    maxAttempts: 3,
  });
  clients.push(client);
  return client;
}

function freshName(prefix: string): string {
  counter += 1;
  return `sdk-${prefix}-${process.pid}-${counter}`;
}

async function waitActive(client: KinesisClient, streamName: string): Promise<void> {
  await waitFor(
    async () => {
      const { StreamDescriptionSummary } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: streamName }),
      );
      return StreamDescriptionSummary?.StreamStatus === "ACTIVE";
    },
    { timeoutMs: 20_000, what: `stream ${streamName} to be ACTIVE` },
  );
}

/** Every record of a shard from TRIM_HORIZON up to the tip. */
async function readShard(client: KinesisClient, streamName: string, shardId: string): Promise<_Record[]> {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: "TRIM_HORIZON",
    }),
  );
  let iterator = ShardIterator;
  const records: _Record[] = [];
  while (iterator !== undefined) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator }));
    records.push(...(page.Records ?? []));
    if ((page.Records ?? []).length === 0 && page.MillisBehindLatest === 0) break;
    iterator = page.NextShardIterator;
  }
  return records;
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error("expected the call to fail");
}

describe.each([
  ["HTTP/1.1", "http1"],
  ["h2c", "h2c"],
] as const)("the data plane over %s", (_label, protocol) => {
  it("creates a stream, puts records and reads them back with every iterator type", async () => {
    const writer = kinesis(1, protocol);
    const reader = kinesis(2, protocol);
    const streamName = freshName(`data-${protocol}`);
    await writer.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 2 }));
    await waitActive(writer, streamName);

    const before = Date.now();
    const one = await writer.send(
      new PutRecordCommand({
        StreamName: streamName,
        PartitionKey: "alpha",
        Data: Buffer.from([0, 1, 2, 255]),
      }),
    );
    expect(one.ShardId).toMatch(/^shardId-\d{12}$/);
    expect(one.SequenceNumber).toMatch(/^\d+$/);
    expect(one.EncryptionType).toBe("NONE");

    const many = await writer.send(
      new PutRecordsCommand({
        StreamName: streamName,
        Records: [
          { PartitionKey: "alpha", Data: Buffer.from("second") },
          { PartitionKey: "beta", Data: Buffer.from("third"), ExplicitHashKey: "0" },
          { PartitionKey: "gamma", Data: new Uint8Array(0) },
        ],
      }),
    );
    expect(many.FailedRecordCount).toBe(0);
    expect(many.Records).toHaveLength(3);
    for (const entry of many.Records ?? []) {
      expect(entry.SequenceNumber).toMatch(/^\d+$/);
      expect(entry).not.toHaveProperty("ErrorCode");
      expect(entry).not.toHaveProperty("ErrorMessage");
    }
    expect(many.Records?.[1]?.ShardId).toBe("shardId-000000000000");

    // Read on another node (its own replica); records of "alpha" come back in order, bytes intact.
    const shardOfAlpha = one.ShardId as string;
    const records = await waitFor(
      async () => {
        const found = await readShard(reader, streamName, shardOfAlpha);
        return found.filter((record) => record.PartitionKey === "alpha").length === 2 ? found : undefined;
      },
      { timeoutMs: 10_000, what: "both alpha records on node 2" },
    );
    const alpha = records.filter((record) => record.PartitionKey === "alpha");
    expect(Buffer.from(alpha[0]?.Data ?? []).equals(Buffer.from([0, 1, 2, 255]))).toBe(true);
    expect(Buffer.from(alpha[1]?.Data ?? []).toString()).toBe("second");
    expect(alpha[0]?.SequenceNumber).toBe(one.SequenceNumber);
    const arrival = alpha[0]?.ApproximateArrivalTimestamp;
    expect(arrival).toBeInstanceOf(Date);
    expect((arrival as Date).getTime()).toBeGreaterThan(before - 60_000);

    // AT_SEQUENCE_NUMBER / AFTER_SEQUENCE_NUMBER / AT_TIMESTAMP / LATEST.
    const at = await reader.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardOfAlpha,
        ShardIteratorType: "AT_SEQUENCE_NUMBER",
        StartingSequenceNumber: one.SequenceNumber,
      }),
    );
    const atPage = await reader.send(new GetRecordsCommand({ ShardIterator: at.ShardIterator, Limit: 1 }));
    expect(atPage.Records?.map((record) => record.SequenceNumber)).toEqual([one.SequenceNumber]);
    expect(atPage.NextShardIterator).toBeTypeOf("string");
    expect(atPage).not.toHaveProperty("ChildShards");
    const after = await reader.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardOfAlpha,
        ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber: one.SequenceNumber,
      }),
    );
    const afterPage = await reader.send(new GetRecordsCommand({ ShardIterator: after.ShardIterator }));
    expect(afterPage.Records?.[0]?.SequenceNumber).not.toBe(one.SequenceNumber);
    const byTime = await reader.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardOfAlpha,
        ShardIteratorType: "AT_TIMESTAMP",
        Timestamp: new Date(before - 60_000),
      }),
    );
    const byTimePage = await reader.send(new GetRecordsCommand({ ShardIterator: byTime.ShardIterator }));
    expect(byTimePage.Records?.[0]?.SequenceNumber).toBe(records[0]?.SequenceNumber);
    const latest = await reader.send(
      new GetShardIteratorCommand({
        StreamName: streamName,
        ShardId: shardOfAlpha,
        ShardIteratorType: "LATEST",
      }),
    );
    const latestPage = await reader.send(new GetRecordsCommand({ ShardIterator: latest.ShardIterator }));
    expect(latestPage.Records).toEqual([]);
    expect(latestPage.MillisBehindLatest).toBe(0);
  }, 60_000);

  it("reports errors with the Kinesis name and status", async () => {
    const client = kinesis(3, protocol);
    const missing = await errorOf(
      client.send(new DescribeStreamCommand({ StreamName: "no-such-stream-http" })),
    );
    expect(missing).toMatchObject({ name: "ResourceNotFoundException", status: 400 });
    const badName = await errorOf(
      client.send(new DescribeStreamSummaryCommand({ StreamName: "not a name!" })),
    );
    expect(badName).toMatchObject({ name: "ValidationException", status: 400 });
    expect(badName.message).toContain("StreamName");
    const badIterator = await errorOf(
      client.send(new GetRecordsCommand({ ShardIterator: "AAAAnot-an-iterator" })),
    );
    expect(badIterator).toMatchObject({ name: "InvalidArgumentException", status: 400 });
    const noSequence = await errorOf(
      client.send(
        new GetShardIteratorCommand({
          StreamName: "whatever",
          ShardId: "shardId-000000000000",
          ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
        }),
      ),
    );
    expect(noSequence).toMatchObject({ name: "InvalidArgumentException", status: 400 });
    const noShards = await errorOf(client.send(new CreateStreamCommand({ StreamName: freshName("bad") })));
    expect(noShards).toMatchObject({ name: "InvalidArgumentException" });
    const tooMany = await errorOf(
      client.send(
        new PutRecordsCommand({
          StreamName: "whatever",
          Records: Array.from({ length: 501 }, () => ({ PartitionKey: "k", Data: Buffer.from("x") })),
        }),
      ),
    );
    expect(tooMany.name).toMatch(/ValidationException|InvalidArgumentException/);
  }, 30_000);
});

describe("the control plane", () => {
  it("lists streams, shards and pages of both with NextToken / ExclusiveStart*", async () => {
    const client = kinesis(1, "h2c");
    const prefix = freshName("page");
    const names = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const name of names) await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: 3 }));
    for (const name of names) await waitActive(client, name);

    const seen: string[] = [];
    let page = await client.send(new ListStreamsCommand({ Limit: 1 }));
    expect(page.HasMoreStreams).toBe(true);
    expect(page.StreamSummaries?.[0]?.StreamStatus).toBeDefined();
    seen.push(...(page.StreamNames ?? []));
    for (let guard = 0; page.NextToken !== undefined && guard < 100; guard++) {
      page = await client.send(new ListStreamsCommand({ NextToken: page.NextToken }));
      seen.push(...(page.StreamNames ?? []));
    }
    expect(seen).toEqual(expect.arrayContaining(names));
    expect(page.HasMoreStreams).toBe(false);

    const first = await client.send(new DescribeStreamCommand({ StreamName: names[0], Limit: 2 }));
    const description = first.StreamDescription;
    expect(description?.StreamStatus).toBe("ACTIVE");
    expect(description?.StreamModeDetails?.StreamMode).toBe("PROVISIONED");
    expect(description?.HasMoreShards).toBe(true);
    expect(description?.Shards).toHaveLength(2);
    expect(description?.StreamCreationTimestamp).toBeInstanceOf(Date);
    expect(description?.StreamARN).toMatch(/^arn:aws:kinesis:.*:stream\//);
    const open = description?.Shards?.[0];
    expect(open?.HashKeyRange?.StartingHashKey).toBe("0");
    expect(open?.SequenceNumberRange?.StartingSequenceNumber).toMatch(/^\d+$/);
    expect(open?.SequenceNumberRange).not.toHaveProperty("EndingSequenceNumber");
    expect(open).not.toHaveProperty("ParentShardId");
    const rest = await client.send(
      new DescribeStreamCommand({
        StreamName: names[0],
        ExclusiveStartShardId: description?.Shards?.[1]?.ShardId,
      }),
    );
    expect(rest.StreamDescription?.Shards?.map((shard) => shard.ShardId)).toEqual(["shardId-000000000002"]);
    expect(rest.StreamDescription?.HasMoreShards).toBe(false);

    const shards: string[] = [];
    let shardPage = await client.send(new ListShardsCommand({ StreamName: names[1], MaxResults: 2 }));
    shards.push(...(shardPage.Shards ?? []).map((shard) => shard.ShardId as string));
    expect(shardPage.NextToken).toBeTypeOf("string");
    while (shardPage.NextToken !== undefined) {
      shardPage = await client.send(new ListShardsCommand({ NextToken: shardPage.NextToken, MaxResults: 2 }));
      shards.push(...(shardPage.Shards ?? []).map((shard) => shard.ShardId as string));
    }
    expect(shards).toEqual(["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]);

    const limits = await client.send(new DescribeLimitsCommand({}));
    expect(limits.ShardLimit).toBeGreaterThan(0);
    expect(limits.OpenShardCount).toBeGreaterThanOrEqual(9);
    expect(limits.OnDemandStreamCountLimit).toBeGreaterThan(0);
  }, 60_000);

  it("tags, retention, stream mode, consumers and deletion", async () => {
    const client = kinesis(2, "http1");
    const streamName = freshName("admin");
    await client.send(
      new CreateStreamCommand({ StreamName: streamName, ShardCount: 1, Tags: { team: "data" } }),
    );
    await waitActive(client, streamName);

    await client.send(
      new AddTagsToStreamCommand({ StreamName: streamName, Tags: { env: "test", tier: "gold" } }),
    );
    const tags = await client.send(new ListTagsForStreamCommand({ StreamName: streamName }));
    expect(tags.Tags).toEqual([
      { Key: "env", Value: "test" },
      { Key: "team", Value: "data" },
      { Key: "tier", Value: "gold" },
    ]);
    expect(tags.HasMoreTags).toBe(false);
    const firstTag = await client.send(new ListTagsForStreamCommand({ StreamName: streamName, Limit: 1 }));
    expect(firstTag.HasMoreTags).toBe(true);
    await client.send(new RemoveTagsFromStreamCommand({ StreamName: streamName, TagKeys: ["env", "tier"] }));
    const left = await client.send(new ListTagsForStreamCommand({ StreamName: streamName }));
    expect(left.Tags).toEqual([{ Key: "team", Value: "data" }]);

    await client.send(
      new IncreaseStreamRetentionPeriodCommand({ StreamName: streamName, RetentionPeriodHours: 48 }),
    );
    let summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    expect(summary.StreamDescriptionSummary?.RetentionPeriodHours).toBe(48);
    await client.send(
      new DecreaseStreamRetentionPeriodCommand({ StreamName: streamName, RetentionPeriodHours: 24 }),
    );
    summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
    expect(summary.StreamDescriptionSummary?.RetentionPeriodHours).toBe(24);
    const tooShort = await errorOf(
      client.send(
        new DecreaseStreamRetentionPeriodCommand({ StreamName: streamName, RetentionPeriodHours: 1 }),
      ),
    );
    expect(tooShort.name).toMatch(/InvalidArgumentException|ValidationException/);

    const streamArn = summary.StreamDescriptionSummary?.StreamARN as string;
    await client.send(
      new UpdateStreamModeCommand({ StreamARN: streamArn, StreamModeDetails: { StreamMode: "ON_DEMAND" } }),
    );
    await waitFor(
      async () => {
        const { StreamDescriptionSummary } = await client.send(
          new DescribeStreamSummaryCommand({ StreamARN: streamArn }),
        );
        return (
          StreamDescriptionSummary?.StreamStatus === "ACTIVE" &&
          StreamDescriptionSummary.StreamModeDetails?.StreamMode === "ON_DEMAND"
        );
      },
      { timeoutMs: 20_000, what: "the stream to be ACTIVE in ON_DEMAND mode" },
    );

    const registered = await client.send(
      new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: "reader-1" }),
    );
    const consumerArn = registered.Consumer?.ConsumerARN as string;
    expect(consumerArn).toContain(`${streamName}/consumer/reader-1:`);
    expect(registered.Consumer?.ConsumerCreationTimestamp).toBeInstanceOf(Date);
    expect(["CREATING", "ACTIVE"]).toContain(registered.Consumer?.ConsumerStatus);
    const described = await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }));
    expect(described.ConsumerDescription).toMatchObject({ ConsumerName: "reader-1", StreamARN: streamArn });
    const listed = await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn }));
    expect(listed.Consumers?.map((consumer) => consumer.ConsumerName)).toEqual(["reader-1"]);
    const twice = await errorOf(
      client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: "reader-1" })),
    );
    expect(twice.name).toBe("ResourceInUseException");
    await client.send(new DeregisterStreamConsumerCommand({ ConsumerARN: consumerArn }));
    await waitFor(
      async () =>
        (await client.send(new ListStreamConsumersCommand({ StreamARN: streamArn }))).Consumers?.length === 0,
      { timeoutMs: 20_000, what: "the consumer to be gone" },
    );

    await client.send(new DeleteStreamCommand({ StreamName: streamName }));
    await waitFor(
      async () =>
        (await errorOf(client.send(new DescribeStreamSummaryCommand({ StreamName: streamName })))).name ===
        "ResourceNotFoundException",
      { timeoutMs: 20_000, what: "the stream to be deleted" },
    );
  }, 90_000);
});
