// Proves the unmodified AWS SDK for JavaScript v3 (SubscribeToShardCommand over NodeHttp2Handler) reads a real three-node cluster's shards through the Kinesis HTTP API's event streams: records arrive in order, the continuation sequence number resumes without gap or repeat, a later subscription takes over an earlier one, and a shard closed by a split ends its stream with ChildShards.
import {
  CreateStreamCommand,
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  PutRecordsCommand,
  RegisterStreamConsumerCommand,
  SplitShardCommand,
  type StartingPosition,
  SubscribeToShardCommand,
  type SubscribeToShardEvent,
  type SubscribeToShardEventStream,
} from "@aws-sdk/client-kinesis";
import { startCluster, type TestCluster, waitFor } from "@sluice/harness";
import { NodeHttp2Handler } from "@smithy/node-http-handler";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// This file uses ports 19560-19571.
const BASE_PORT = 19_560;
const SHARD = "shardId-000000000000";
const HALF = (2n ** 127n).toString();

let cluster: TestCluster;
let client: KinesisClient;
const aborts: AbortController[] = [];
let counter = 0;

beforeAll(async () => {
  cluster = await startCluster({ basePort: BASE_PORT });
  client = new KinesisClient({
    endpoint: `http://127.0.0.1:${cluster.ports(1).http}`,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "not-checked" },
    requestHandler: new NodeHttp2Handler(),
    maxAttempts: 1,
  });
}, 60_000);
afterAll(async () => {
  for (const abort of aborts) abort.abort();
  client?.destroy();
  await cluster?.stop();
}, 60_000);

/** A one-shard stream with an ACTIVE consumer; returns the stream name and the consumer ARN. */
async function streamWithConsumer(): Promise<{ streamName: string; consumerArn: string }> {
  counter += 1;
  const streamName = `subscribe-${process.pid}-${counter}`;
  await client.send(new CreateStreamCommand({ StreamName: streamName, ShardCount: 1 }));
  const streamArn = await waitFor(
    async () => {
      const { StreamDescriptionSummary: summary } = await client.send(
        new DescribeStreamSummaryCommand({ StreamName: streamName }),
      );
      return summary?.StreamStatus === "ACTIVE" ? summary.StreamARN : undefined;
    },
    { timeoutMs: 20_000, what: `stream ${streamName} to be ACTIVE` },
  );
  const { Consumer } = await client.send(
    new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: "reader" }),
  );
  const consumerArn = Consumer?.ConsumerARN as string;
  await waitFor(
    async () =>
      (await client.send(new DescribeStreamConsumerCommand({ ConsumerARN: consumerArn }))).ConsumerDescription
        ?.ConsumerStatus === "ACTIVE",
    { timeoutMs: 20_000, what: "the consumer to be ACTIVE" },
  );
  return { streamName, consumerArn };
}

async function put(streamName: string, first: number, count: number): Promise<void> {
  const response = await client.send(
    new PutRecordsCommand({
      StreamName: streamName,
      Records: Array.from({ length: count }, (_, k) => ({
        PartitionKey: `key-${first + k}`,
        Data: Buffer.from(`record-${first + k}`),
      })),
    }),
  );
  expect(response.FailedRecordCount).toBe(0);
}

interface Opened {
  readonly events: AsyncIterator<SubscribeToShardEventStream>;
  readonly abort: AbortController;
}

async function subscribe(consumerArn: string, position: StartingPosition, shardId = SHARD): Promise<Opened> {
  const abort = new AbortController();
  aborts.push(abort);
  const { EventStream } = await client.send(
    new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: position }),
    { abortSignal: abort.signal },
  );
  if (EventStream === undefined) throw new Error("no event stream");
  return { events: EventStream[Symbol.asyncIterator](), abort };
}

/** The next SubscribeToShardEvent, or undefined when the stream ended; throws what the stream throws. */
async function nextEvent(opened: Opened): Promise<SubscribeToShardEvent | undefined> {
  for (;;) {
    const { done, value } = await opened.events.next();
    if (done) return undefined;
    if (value.SubscribeToShardEvent !== undefined) return value.SubscribeToShardEvent;
  }
}

/** Reads events until `count` records arrived; returns their data and the last continuation. */
async function readRecords(opened: Opened, count: number): Promise<{ data: string[]; continuation: string }> {
  const data: string[] = [];
  let continuation = "";
  while (data.length < count) {
    const event = await nextEvent(opened);
    if (event === undefined) throw new Error(`the stream ended after ${data.length} records`);
    for (const record of event.Records ?? []) {
      data.push(Buffer.from(record.Data ?? new Uint8Array()).toString());
      expect(record.ApproximateArrivalTimestamp).toBeInstanceOf(Date);
    }
    continuation = event.ContinuationSequenceNumber ?? continuation;
  }
  return { data, continuation };
}

const names = (first: number, count: number) =>
  Array.from({ length: count }, (_, k) => `record-${first + k}`);

describe("SubscribeToShard over HTTP/2 event streams", () => {
  it("delivers records in order, live ones too, and resumes after the continuation sequence number", async () => {
    const { streamName, consumerArn } = await streamWithConsumer();
    await put(streamName, 0, 30);
    const first = await subscribe(consumerArn, { Type: "TRIM_HORIZON" });
    const early = await readRecords(first, 30);
    expect(early.data).toEqual(names(0, 30));
    await put(streamName, 30, 10); // arrive while subscribed
    const live = await readRecords(first, 10);
    expect(live.data).toEqual(names(30, 10));
    first.abort.abort();

    await put(streamName, 40, 5);
    await waitFor(
      async () => {
        const resumed = await subscribe(consumerArn, {
          Type: "AFTER_SEQUENCE_NUMBER",
          SequenceNumber: live.continuation,
        });
        const rest = await readRecords(resumed, 5);
        resumed.abort.abort();
        expect(rest.data).toEqual(names(40, 5));
        return true;
      },
      { timeoutMs: 20_000, what: "a resubscription from the continuation once the first one let go" },
    );
  }, 60_000);

  it("lets a later subscription take over: the earlier stream ends with ResourceInUseException", async () => {
    const { streamName, consumerArn } = await streamWithConsumer();
    await put(streamName, 0, 3);
    const older = await subscribe(consumerArn, { Type: "TRIM_HORIZON" });
    expect((await readRecords(older, 3)).data).toEqual(names(0, 3));
    // Within 5 s Kinesis refuses the second call; after that it takes over.
    const refused = await subscribe(consumerArn, { Type: "LATEST" }).catch((error: Error) => error);
    expect(refused).toMatchObject({ name: "ResourceInUseException" });
    const newer = await waitFor(() => subscribe(consumerArn, { Type: "LATEST" }).catch(() => undefined), {
      timeoutMs: 20_000,
      what: "the second subscription to take over",
      intervalMs: 250,
    });
    const ended = await (async () => {
      for (;;) await nextEvent(older);
    })().catch((error: Error) => error);
    expect(ended).toMatchObject({ name: "ResourceInUseException" });
    await put(streamName, 3, 2);
    expect((await readRecords(newer, 2)).data).toEqual(names(3, 2));
    newer.abort.abort();
  }, 60_000);

  it("ends a split shard's stream with ChildShards after its last record", async () => {
    const { streamName, consumerArn } = await streamWithConsumer();
    await put(streamName, 0, 10);
    await client.send(
      new SplitShardCommand({ StreamName: streamName, ShardToSplit: SHARD, NewStartingHashKey: HALF }),
    );
    const opened = await subscribe(consumerArn, { Type: "TRIM_HORIZON" });
    const data: string[] = [];
    let last: SubscribeToShardEvent | undefined;
    for (;;) {
      const event = await nextEvent(opened);
      if (event === undefined) break;
      for (const record of event.Records ?? [])
        data.push(Buffer.from(record.Data ?? new Uint8Array()).toString());
      last = event;
    }
    expect(data).toEqual(names(0, 10));
    expect((last?.ChildShards ?? []).map((child) => child.ShardId)).toEqual([
      "shardId-000000000001",
      "shardId-000000000002",
    ]);
    expect(last?.ChildShards?.[0]?.ParentShards).toEqual([SHARD]);
  }, 60_000);

  it("answers errors before the stream opens as ordinary Kinesis errors", async () => {
    const { consumerArn } = await streamWithConsumer();
    const missing = await subscribe(consumerArn.replace("/consumer/reader:", "/consumer/nobody:"), {
      Type: "LATEST",
    }).catch((error: Error) => error);
    expect(missing).toMatchObject({ name: "ResourceNotFoundException" });
    const badShard = await subscribe(consumerArn, { Type: "LATEST" }, "shardId-000000000009").catch(
      (error: Error) => error,
    );
    expect(badShard).toMatchObject({ name: "ResourceNotFoundException" });
  }, 60_000);
});
